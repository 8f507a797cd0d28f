// services/scheduling/scheduling_service.h — carelog.v1.SchedulingService:
// schedule, reschedule, confirm, cancel, mark no-show and complete
// appointments, and update their pre-appointment instructions.
//
// Every RPC runs through the CommandRunner (authenticate, validate, idempotent
// retry, authorize "appointments"/"write" for the appointment's patient at the
// enforcement point, decide on the aggregates, append atomically with the
// audit events, re-decide on a version conflict).
//
// No double booking: a booking appends to appointment/<id> and to
// schedule/<provider> in one command, the schedule with the version it was
// checked at. Of two concurrent overlapping bookings one commits; the other's
// append is ABORTED, the runner re-decides on the fresh schedule and answers
// FAILED_PRECONDITION "slot taken". A reschedule releases the old slot and
// books the new one (on the same or another provider's schedule) in the same
// command. Cancel releases the slot; completed and no-show appointments keep
// theirs (that time was spent).
//
// An unknown appointment id is NOT_FOUND before any authorization: ids are
// random (128 bits), so the answer reveals nothing about any patient.
// Thread-safe.
#ifndef CARELOG_SERVICES_SCHEDULING_SCHEDULING_SERVICE_H_
#define CARELOG_SERVICES_SCHEDULING_SCHEDULING_SERVICE_H_

#include <functional>
#include <string>

#include "carelog/v1/scheduling.grpc.pb.h"
#include "services/domain/aggregate.h"
#include "services/domain/command_runner.h"
#include "services/patients/patient_aggregate.h"
#include "services/scheduling/scheduling_aggregate.h"

namespace carelog::services {

// Validation of each request (INVALID_ARGUMENT naming the field). Exposed for
// tests.
absl::Status ValidateScheduleAppointment(
    const carelog::v1::ScheduleAppointmentRequest& r);
absl::Status ValidateRescheduleAppointment(
    const carelog::v1::RescheduleAppointmentRequest& r);
absl::Status ValidateConfirmAppointment(
    const carelog::v1::ConfirmAppointmentRequest& r);
absl::Status ValidateCancelAppointment(
    const carelog::v1::CancelAppointmentRequest& r);
absl::Status ValidateMarkNoShow(const carelog::v1::MarkNoShowRequest& r);
absl::Status ValidateCompleteAppointment(
    const carelog::v1::CompleteAppointmentRequest& r);
absl::Status ValidateUpdatePreAppointmentInstructions(
    const carelog::v1::UpdatePreAppointmentInstructionsRequest& r);

class SchedulingServiceImpl final
    : public carelog::v1::SchedulingService::CallbackService {
 public:
  // `runner` must outlive the service.
  explicit SchedulingServiceImpl(CommandRunner* runner);

  grpc::ServerUnaryReactor* ScheduleAppointment(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::ScheduleAppointmentRequest* req,
      carelog::v1::ScheduleAppointmentReply* reply) override;
  grpc::ServerUnaryReactor* RescheduleAppointment(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RescheduleAppointmentRequest* req,
      carelog::v1::AppointmentCommandReply* reply) override;
  grpc::ServerUnaryReactor* ConfirmAppointment(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::ConfirmAppointmentRequest* req,
      carelog::v1::AppointmentCommandReply* reply) override;
  grpc::ServerUnaryReactor* CancelAppointment(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::CancelAppointmentRequest* req,
      carelog::v1::AppointmentCommandReply* reply) override;
  grpc::ServerUnaryReactor* MarkNoShow(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::MarkNoShowRequest* req,
      carelog::v1::AppointmentCommandReply* reply) override;
  grpc::ServerUnaryReactor* CompleteAppointment(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::CompleteAppointmentRequest* req,
      carelog::v1::AppointmentCommandReply* reply) override;
  grpc::ServerUnaryReactor* UpdatePreAppointmentInstructions(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::UpdatePreAppointmentInstructionsRequest* req,
      carelog::v1::AppointmentCommandReply* reply) override;

 private:
  using LoadedAppointment = AggregateRepository<AppointmentState>::Loaded;
  // Plans the events of an allowed action on a loaded appointment.
  using Plan =
      std::function<absl::Status(CommandScope&, const LoadedAppointment&)>;

  // Loads the appointment (NOT_FOUND if unknown), authorizes appointments/write
  // with the actor's facts about its patient, then checks `action` is allowed
  // in its state.
  absl::StatusOr<LoadedAppointment> LoadForAction(
      CommandScope& scope, const std::string& appointment_id,
      AppointmentAction action);

  // The shape every command on an existing appointment shares.
  grpc::ServerUnaryReactor* RunAction(
      grpc::CallbackServerContext* ctx, const char* method,
      const google::protobuf::Message& req, const std::string& command_id,
      const std::string& appointment_id, CommandRunner::Validate validate,
      AppointmentAction action, Plan plan,
      carelog::v1::AppointmentCommandReply* reply);

  CommandRunner* const runner_;
  AggregateRepository<PatientState> patients_;
  AggregateRepository<AppointmentState> appointments_;
  AggregateRepository<ScheduleState> schedules_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SCHEDULING_SCHEDULING_SERVICE_H_
