// services/complaints/complaint_service.h — carelog.v1.ComplaintService:
// file, acknowledge, assign, annotate, escalate, resolve and reopen patient
// complaints, each priority with its response due time.
//
// Every RPC runs through the CommandRunner (authenticate, validate, idempotent
// retry, authorize "complaints" write at the enforcement point, decide on the
// complaint, append with its version + audit events atomically). The actor is
// "assigned" when they are the complaint's assignee. A patient may file,
// annotate and reopen their own complaints; acknowledging, assigning,
// escalating and resolving are staff work (the "self" relationship is not
// offered to the policy for them). The filing time is the request's receipt
// time. Rules live in complaint_aggregate.h. Thread-safe.
#ifndef CARELOG_SERVICES_COMPLAINTS_COMPLAINT_SERVICE_H_
#define CARELOG_SERVICES_COMPLAINTS_COMPLAINT_SERVICE_H_

#include <functional>
#include <string>

#include "carelog/v1/complaints.grpc.pb.h"
#include "services/complaints/complaint_aggregate.h"
#include "services/domain/aggregate.h"
#include "services/domain/command_runner.h"
#include "services/patients/patient_aggregate.h"

namespace carelog::services {

class ComplaintServiceImpl final
    : public carelog::v1::ComplaintService::CallbackService {
 public:
  // `runner` must outlive the service.
  explicit ComplaintServiceImpl(CommandRunner* runner);

  grpc::ServerUnaryReactor* FileComplaint(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::FileComplaintRequest* req,
      carelog::v1::ComplaintCommandReply* reply) override;
  grpc::ServerUnaryReactor* AcknowledgeComplaint(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::AcknowledgeComplaintRequest* req,
      carelog::v1::ComplaintCommandReply* reply) override;
  grpc::ServerUnaryReactor* AssignComplaint(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::AssignComplaintRequest* req,
      carelog::v1::ComplaintCommandReply* reply) override;
  grpc::ServerUnaryReactor* AddComplaintNote(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::AddComplaintNoteRequest* req,
      carelog::v1::ComplaintCommandReply* reply) override;
  grpc::ServerUnaryReactor* EscalateComplaint(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::EscalateComplaintRequest* req,
      carelog::v1::ComplaintCommandReply* reply) override;
  grpc::ServerUnaryReactor* ResolveComplaint(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::ResolveComplaintRequest* req,
      carelog::v1::ComplaintCommandReply* reply) override;
  grpc::ServerUnaryReactor* ReopenComplaint(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::ReopenComplaintRequest* req,
      carelog::v1::ComplaintCommandReply* reply) override;

 private:
  // Loads the patient, authorizes a complaints write with the actor's
  // relationship facts (`assigned` added; "self" dropped unless
  // `self_may_act`), then requires the patient to exist.
  absl::Status AuthorizeWrite(CommandScope& scope,
                              const std::string& patient_id, bool assigned,
                              bool self_may_act);

  // Runs a command on an existing complaint: `decide` maps the loaded state
  // (and the scope, for time and ids) to the event, or an error.
  template <typename Req, typename Ev>
  void OnComplaint(grpc::CallbackServerContext* ctx,
                   grpc::ServerUnaryReactor* reactor, const char* method,
                   const Req* req, carelog::v1::ComplaintCommandReply* reply,
                   absl::Status (*validate)(const Req&),
                   std::function<absl::StatusOr<Ev>(const ComplaintState&,
                                                    const CommandScope&)>
                       decide,
                   bool self_may_act);

  CommandRunner* const runner_;
  AggregateRepository<PatientState> patients_;
  AggregateRepository<ComplaintState> complaints_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_COMPLAINTS_COMPLAINT_SERVICE_H_
