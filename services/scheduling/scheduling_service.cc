#include "services/scheduling/scheduling_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

#include "services/domain/validate.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)
using storage::ExpectedVersion;

namespace {

constexpr char kAppointments[] = "appointments";
constexpr char kWrite[] = "write";
constexpr size_t kMaxNotesBytes = 2000;

#define RETURN_IF_ERROR(expr) \
  do {                        \
    absl::Status _s = (expr); \
    if (!_s.ok())             \
      return _s;              \
  } while (0)

int64_t NowMicros(const CommandScope& scope) {
  return absl::ToUnixMicros(scope.ctx().received_at);
}

ProviderSlotBooked Booked(const std::string& provider_id,
                          const std::string& appointment_id,
                          const TimeSlot& slot) {
  ProviderSlotBooked ev;
  ev.set_provider_id(provider_id);
  ev.set_appointment_id(appointment_id);
  *ev.mutable_slot() = slot;
  return ev;
}

ProviderSlotReleased Released(const AppointmentState& s) {
  ProviderSlotReleased ev;
  ev.set_provider_id(s.provider_id);
  ev.set_appointment_id(s.appointment_id);
  *ev.mutable_slot() = s.slot;
  return ev;
}

}  // namespace

absl::Status ValidateScheduleAppointment(const ScheduleAppointmentRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckId(r.provider_id(), "provider_id"));
  RETURN_IF_ERROR(CheckId(r.location_id(), "location_id"));
  RETURN_IF_ERROR(
      CheckText(r.department(), "department", kMaxShortTextBytes, false));
  RETURN_IF_ERROR(ValidateSlot(r.slot(), "slot"));
  RETURN_IF_ERROR(
      CheckText(r.visit_type(), "visit_type", kMaxShortTextBytes, false));
  RETURN_IF_ERROR(CheckText(r.notes(), "notes", kMaxNotesBytes, false));
  return ValidateInstructions(r.instructions(), "instructions");
}

absl::Status ValidateRescheduleAppointment(
    const RescheduleAppointmentRequest& r) {
  RETURN_IF_ERROR(CheckId(r.appointment_id(), "appointment_id"));
  RETURN_IF_ERROR(CheckId(r.provider_id(), "provider_id", false));
  RETURN_IF_ERROR(CheckId(r.location_id(), "location_id", false));
  RETURN_IF_ERROR(ValidateSlot(r.slot(), "slot"));
  return CheckText(r.reason(), "reason", kMaxShortTextBytes, false);
}

absl::Status ValidateConfirmAppointment(const ConfirmAppointmentRequest& r) {
  RETURN_IF_ERROR(CheckId(r.appointment_id(), "appointment_id"));
  return CheckEnum(ConfirmationChannel_IsValid(r.channel()), r.channel(),
                   "channel");
}

absl::Status ValidateCancelAppointment(const CancelAppointmentRequest& r) {
  RETURN_IF_ERROR(CheckId(r.appointment_id(), "appointment_id"));
  RETURN_IF_ERROR(CheckEnum(CancellationInitiator_IsValid(r.initiator()),
                            r.initiator(), "initiator"));
  return CheckText(r.reason(), "reason", kMaxShortTextBytes, true);
}

absl::Status ValidateMarkNoShow(const MarkNoShowRequest& r) {
  return CheckId(r.appointment_id(), "appointment_id");
}

absl::Status ValidateCompleteAppointment(const CompleteAppointmentRequest& r) {
  return CheckId(r.appointment_id(), "appointment_id");
}

absl::Status ValidateUpdatePreAppointmentInstructions(
    const UpdatePreAppointmentInstructionsRequest& r) {
  RETURN_IF_ERROR(CheckId(r.appointment_id(), "appointment_id"));
  return ValidateInstructions(r.instructions(), "instructions");
}

SchedulingServiceImpl::SchedulingServiceImpl(CommandRunner* runner)
    : runner_(runner),
      patients_(runner->ledger(), FoldPatient),
      appointments_(runner->ledger(), FoldAppointment),
      schedules_(runner->ledger(), FoldSchedule) {}

absl::StatusOr<SchedulingServiceImpl::LoadedAppointment>
SchedulingServiceImpl::LoadForAction(CommandScope& scope,
                                     const std::string& appointment_id,
                                     AppointmentAction action) {
  auto appt = appointments_.Load(AppointmentStream(appointment_id));
  if (!appt.ok())
    return appt.status();
  if (!appt->state.exists)
    return absl::NotFoundError(
        absl::StrCat("appointment ", appointment_id, " not found"));
  const std::string& patient_id = appt->state.patient_id;
  auto patient = patients_.Load(PatientStream(patient_id));
  if (!patient.ok())
    return patient.status();
  // Authorize before revealing anything about the appointment's state.
  RETURN_IF_ERROR(
      scope.Authorize(kAppointments, kWrite, patient_id,
                      PatientFactsFor(patient->state, scope.ctx().actor)));
  RETURN_IF_ERROR(
      CheckAppointmentTransition(appt->state, action, NowMicros(scope)));
  return appt;
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::RunAction(
    grpc::CallbackServerContext* ctx, const char* method,
    const google::protobuf::Message& req, const std::string& command_id,
    const std::string& appointment_id, CommandRunner::Validate validate,
    AppointmentAction action, Plan plan, AppointmentCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  // `appointment_id` is a field of the gRPC request, which lives until the
  // reactor finishes: capturing it by reference is safe.
  runner_->Execute(
      ctx, reactor, method, command_id, req, std::move(validate),
      [this, &appointment_id, action,
       plan = std::move(plan)](CommandScope& scope) -> absl::Status {
        auto appt = LoadForAction(scope, appointment_id, action);
        if (!appt.ok())
          return appt.status();
        return plan(scope, *appt);
      },
      [reply](const storage::AppendResult& r, const auto&) {
        FillCommandResult(r, reply->mutable_result());
      });
  return reactor;
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::ScheduleAppointment(
    grpc::CallbackServerContext* ctx, const ScheduleAppointmentRequest* req,
    ScheduleAppointmentReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.SchedulingService/ScheduleAppointment",
      req->command_id(), *req,
      [req] { return ValidateScheduleAppointment(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        const std::string& patient_id = req->patient_id();
        auto patient = patients_.Load(PatientStream(patient_id));
        if (!patient.ok())
          return patient.status();
        RETURN_IF_ERROR(scope.Authorize(
            kAppointments, kWrite, patient_id,
            PatientFactsFor(patient->state, scope.ctx().actor)));
        RETURN_IF_ERROR(RequireExists(patient->state, patient_id));
        auto schedule = schedules_.Load(ScheduleStream(req->provider_id()));
        if (!schedule.ok())
          return schedule.status();
        RETURN_IF_ERROR(
            CheckSlotFree(schedule->state, req->provider_id(), req->slot()));

        const std::string id = NewId("appt-");
        AppointmentScheduled ev;
        ev.set_appointment_id(id);
        ev.set_patient_id(patient_id);
        ev.set_provider_id(req->provider_id());
        ev.set_location_id(req->location_id());
        ev.set_department(req->department());
        *ev.mutable_slot() = req->slot();
        ev.set_visit_type(req->visit_type());
        ev.set_notes(req->notes());
        *ev.mutable_instructions() = req->instructions();
        scope.Append(AppointmentStream(id), ExpectedVersion::NoStream(), ev,
                     patient_id);
        // The schedule is appended at the version the slot was checked at: a
        // concurrent overlapping booking makes this command ABORTED, and the
        // runner decides again on the schedule that now holds it.
        scope.AppendSystem(ScheduleStream(req->provider_id()),
                           ExpectedVersion::Exact(schedule->version),
                           Booked(req->provider_id(), id, req->slot()));
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r,
              const std::vector<google::protobuf::Any>& bodies) {
        FillCommandResult(r, reply->mutable_result());
        AppointmentScheduled ev;
        if (!bodies.empty() && bodies[0].UnpackTo(&ev))
          reply->set_appointment_id(ev.appointment_id());
      });
  return reactor;
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::RescheduleAppointment(
    grpc::CallbackServerContext* ctx, const RescheduleAppointmentRequest* req,
    AppointmentCommandReply* reply) {
  return RunAction(
      ctx, "carelog.v1.SchedulingService/RescheduleAppointment", *req,
      req->command_id(), req->appointment_id(),
      [req] { return ValidateRescheduleAppointment(*req); },
      AppointmentAction::kReschedule,
      [this, req](CommandScope& scope,
                  const LoadedAppointment& appt) -> absl::Status {
        const AppointmentState& s = appt.state;
        const std::string provider =
            req->provider_id().empty() ? s.provider_id : req->provider_id();
        const std::string location =
            req->location_id().empty() ? s.location_id : req->location_id();
        RETURN_IF_ERROR(
            CheckRescheduleTarget(s, provider, location, req->slot()));
        auto target = schedules_.Load(ScheduleStream(provider));
        if (!target.ok())
          return target.status();
        // On the same schedule the appointment's own booking does not count.
        RETURN_IF_ERROR(CheckSlotFree(target->state, provider, req->slot(),
                                      s.appointment_id));

        AppointmentRescheduled ev;
        ev.set_appointment_id(s.appointment_id);
        ev.set_patient_id(s.patient_id);
        ev.set_provider_id(provider);
        ev.set_location_id(location);
        *ev.mutable_slot() = req->slot();
        ev.set_previous_provider_id(s.provider_id);
        *ev.mutable_previous_slot() = s.slot;
        ev.set_reason(req->reason());
        scope.Append(AppointmentStream(s.appointment_id),
                     ExpectedVersion::Exact(appt.version), ev, s.patient_id);
        // Release and book in this one command. The booking side carries the
        // version it was checked at; the release needs no check of its own (the
        // appointment stream's version already orders moves of this booking).
        const ExpectedVersion target_version =
            ExpectedVersion::Exact(target->version);
        if (provider == s.provider_id) {
          scope.AppendSystem(ScheduleStream(provider), target_version,
                             Released(s));
        } else {
          scope.AppendSystem(ScheduleStream(s.provider_id),
                             ExpectedVersion::Any(), Released(s));
        }
        scope.AppendSystem(ScheduleStream(provider), target_version,
                           Booked(provider, s.appointment_id, req->slot()));
        return absl::OkStatus();
      },
      reply);
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::ConfirmAppointment(
    grpc::CallbackServerContext* ctx, const ConfirmAppointmentRequest* req,
    AppointmentCommandReply* reply) {
  return RunAction(
      ctx, "carelog.v1.SchedulingService/ConfirmAppointment", *req,
      req->command_id(), req->appointment_id(),
      [req] { return ValidateConfirmAppointment(*req); },
      AppointmentAction::kConfirm,
      [req](CommandScope& scope,
            const LoadedAppointment& appt) -> absl::Status {
        AppointmentConfirmed ev;
        ev.set_appointment_id(appt.state.appointment_id);
        ev.set_patient_id(appt.state.patient_id);
        ev.set_channel(req->channel());
        scope.Append(AppointmentStream(appt.state.appointment_id),
                     ExpectedVersion::Exact(appt.version), ev,
                     appt.state.patient_id);
        return absl::OkStatus();
      },
      reply);
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::CancelAppointment(
    grpc::CallbackServerContext* ctx, const CancelAppointmentRequest* req,
    AppointmentCommandReply* reply) {
  return RunAction(
      ctx, "carelog.v1.SchedulingService/CancelAppointment", *req,
      req->command_id(), req->appointment_id(),
      [req] { return ValidateCancelAppointment(*req); },
      AppointmentAction::kCancel,
      [req](CommandScope& scope,
            const LoadedAppointment& appt) -> absl::Status {
        AppointmentCancelled ev;
        ev.set_appointment_id(appt.state.appointment_id);
        ev.set_patient_id(appt.state.patient_id);
        ev.set_initiator(req->initiator());
        ev.set_reason(req->reason());
        scope.Append(AppointmentStream(appt.state.appointment_id),
                     ExpectedVersion::Exact(appt.version), ev,
                     appt.state.patient_id);
        // The freed slot can be booked again at once.
        scope.AppendSystem(ScheduleStream(appt.state.provider_id),
                           ExpectedVersion::Any(), Released(appt.state));
        return absl::OkStatus();
      },
      reply);
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::MarkNoShow(
    grpc::CallbackServerContext* ctx, const MarkNoShowRequest* req,
    AppointmentCommandReply* reply) {
  return RunAction(
      ctx, "carelog.v1.SchedulingService/MarkNoShow", *req, req->command_id(),
      req->appointment_id(), [req] { return ValidateMarkNoShow(*req); },
      AppointmentAction::kMarkNoShow,
      [](CommandScope& scope, const LoadedAppointment& appt) -> absl::Status {
        AppointmentNoShowRecorded ev;
        ev.set_appointment_id(appt.state.appointment_id);
        ev.set_patient_id(appt.state.patient_id);
        scope.Append(AppointmentStream(appt.state.appointment_id),
                     ExpectedVersion::Exact(appt.version), ev,
                     appt.state.patient_id);
        return absl::OkStatus();
      },
      reply);
}

grpc::ServerUnaryReactor* SchedulingServiceImpl::CompleteAppointment(
    grpc::CallbackServerContext* ctx, const CompleteAppointmentRequest* req,
    AppointmentCommandReply* reply) {
  return RunAction(
      ctx, "carelog.v1.SchedulingService/CompleteAppointment", *req,
      req->command_id(), req->appointment_id(),
      [req] { return ValidateCompleteAppointment(*req); },
      AppointmentAction::kComplete,
      [](CommandScope& scope, const LoadedAppointment& appt) -> absl::Status {
        AppointmentCompleted ev;
        ev.set_appointment_id(appt.state.appointment_id);
        ev.set_patient_id(appt.state.patient_id);
        scope.Append(AppointmentStream(appt.state.appointment_id),
                     ExpectedVersion::Exact(appt.version), ev,
                     appt.state.patient_id);
        return absl::OkStatus();
      },
      reply);
}

grpc::ServerUnaryReactor*
SchedulingServiceImpl::UpdatePreAppointmentInstructions(
    grpc::CallbackServerContext* ctx,
    const UpdatePreAppointmentInstructionsRequest* req,
    AppointmentCommandReply* reply) {
  return RunAction(
      ctx, "carelog.v1.SchedulingService/UpdatePreAppointmentInstructions",
      *req, req->command_id(), req->appointment_id(),
      [req] { return ValidateUpdatePreAppointmentInstructions(*req); },
      AppointmentAction::kUpdateInstructions,
      [req](CommandScope& scope,
            const LoadedAppointment& appt) -> absl::Status {
        PreAppointmentInstructionsUpdated ev;
        ev.set_appointment_id(appt.state.appointment_id);
        ev.set_patient_id(appt.state.patient_id);
        *ev.mutable_instructions() = req->instructions();
        scope.Append(AppointmentStream(appt.state.appointment_id),
                     ExpectedVersion::Exact(appt.version), ev,
                     appt.state.patient_id);
        return absl::OkStatus();
      },
      reply);
}

}  // namespace carelog::services
