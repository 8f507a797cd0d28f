// services/patients/patient_service.h — carelog.v1.PatientService: register
// patients, update demographics, record insurance and its verification,
// check in, manage the care team, record flags and record or lift the
// patient's restrictions on disclosure (forbids at the enforcement point).
//
// Every RPC runs through the CommandRunner (authenticate, validate, idempotent
// retry, authorize at the enforcement point, decide on the aggregate, append
// with the aggregate's version + audit events atomically). Thread-safe.
#ifndef CARELOG_SERVICES_PATIENTS_PATIENT_SERVICE_H_
#define CARELOG_SERVICES_PATIENTS_PATIENT_SERVICE_H_

#include <memory>

#include "carelog/v1/patients.grpc.pb.h"
#include "services/domain/aggregate.h"
#include "services/domain/command_runner.h"
#include "services/patients/patient_aggregate.h"

namespace carelog::services {

// Validation of each request (INVALID_ARGUMENT naming the field). Exposed for
// tests.
absl::Status ValidateRegisterPatient(
    const carelog::v1::RegisterPatientRequest& r);
absl::Status ValidateUpdateDemographics(
    const carelog::v1::UpdateDemographicsRequest& r);
absl::Status ValidateRecordInsurance(
    const carelog::v1::RecordInsuranceRequest& r);
absl::Status ValidateRecordInsuranceVerification(
    const carelog::v1::RecordInsuranceVerificationRequest& r);
absl::Status ValidateCheckIn(const carelog::v1::CheckInRequest& r);
absl::Status ValidateAssignCareTeamMember(
    const carelog::v1::AssignCareTeamMemberRequest& r);
absl::Status ValidateRemoveCareTeamMember(
    const carelog::v1::RemoveCareTeamMemberRequest& r);
absl::Status ValidateSetPatientFlags(
    const carelog::v1::SetPatientFlagsRequest& r);
absl::Status ValidateRecordDisclosureRestriction(
    const carelog::v1::RecordDisclosureRestrictionRequest& r);
absl::Status ValidateLiftDisclosureRestriction(
    const carelog::v1::LiftDisclosureRestrictionRequest& r);

class PatientServiceImpl final
    : public carelog::v1::PatientService::CallbackService {
 public:
  // `runner` must outlive the service.
  explicit PatientServiceImpl(CommandRunner* runner);

  grpc::ServerUnaryReactor* RegisterPatient(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RegisterPatientRequest* req,
      carelog::v1::RegisterPatientReply* reply) override;
  grpc::ServerUnaryReactor* UpdateDemographics(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::UpdateDemographicsRequest* req,
      carelog::v1::PatientCommandReply* reply) override;
  grpc::ServerUnaryReactor* RecordInsurance(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RecordInsuranceRequest* req,
      carelog::v1::RecordInsuranceReply* reply) override;
  grpc::ServerUnaryReactor* RecordInsuranceVerification(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RecordInsuranceVerificationRequest* req,
      carelog::v1::PatientCommandReply* reply) override;
  grpc::ServerUnaryReactor* CheckIn(grpc::CallbackServerContext* ctx,
                                    const carelog::v1::CheckInRequest* req,
                                    carelog::v1::CheckInReply* reply) override;
  grpc::ServerUnaryReactor* AssignCareTeamMember(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::AssignCareTeamMemberRequest* req,
      carelog::v1::PatientCommandReply* reply) override;
  grpc::ServerUnaryReactor* RemoveCareTeamMember(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RemoveCareTeamMemberRequest* req,
      carelog::v1::PatientCommandReply* reply) override;
  grpc::ServerUnaryReactor* SetPatientFlags(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::SetPatientFlagsRequest* req,
      carelog::v1::PatientCommandReply* reply) override;
  // Records a patient's restriction on disclosure to a party. Needs write on
  // patient.demographics. FAILED_PRECONDITION when the same party and
  // resources are already restricted, or at kMaxRestrictionsPerPatient.
  grpc::ServerUnaryReactor* RecordDisclosureRestriction(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RecordDisclosureRestrictionRequest* req,
      carelog::v1::RecordDisclosureRestrictionReply* reply) override;
  // Lifts one. NOT_FOUND when the patient has no restriction with that id.
  grpc::ServerUnaryReactor* LiftDisclosureRestriction(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::LiftDisclosureRestrictionRequest* req,
      carelog::v1::PatientCommandReply* reply) override;

  // Loads a patient (for other services that need patient facts).
  AggregateRepository<PatientState>& patients() { return patients_; }

 private:
  // Loads the patient, requires it to exist and authorizes `action` on
  // `resource` with the actor's relationship facts.
  absl::StatusOr<AggregateRepository<PatientState>::Loaded> LoadAuthorized(
      CommandScope& scope, const std::string& patient_id, const char* resource);

  CommandRunner* const runner_;
  AggregateRepository<PatientState> patients_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_PATIENTS_PATIENT_SERVICE_H_
