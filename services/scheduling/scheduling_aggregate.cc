#include "services/scheduling/scheduling_aggregate.h"

#include "absl/strings/str_cat.h"

#include "services/domain/validate.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace): event
                              // names read better unqualified

namespace {

constexpr int kMaxWhatToBring = 20;
constexpr int32_t kMaxFastingHours = 72;
constexpr int32_t kMaxArriveEarlyMinutes = 240;
constexpr size_t kMaxInstructionNotesBytes = 2000;

absl::string_view StatusName(AppointmentStatus s) {
  switch (s) {
    case APPOINTMENT_STATUS_SCHEDULED:
      return "scheduled";
    case APPOINTMENT_STATUS_CONFIRMED:
      return "confirmed";
    case APPOINTMENT_STATUS_CANCELLED:
      return "cancelled";
    case APPOINTMENT_STATUS_NO_SHOW:
      return "marked no-show";
    case APPOINTMENT_STATUS_COMPLETED:
      return "completed";
    default:
      return "in an unknown state";
  }
}

bool IsOpen(AppointmentStatus s) {
  return s == APPOINTMENT_STATUS_SCHEDULED || s == APPOINTMENT_STATUS_CONFIRMED;
}

}  // namespace

absl::Status FoldAppointment(AppointmentState* s, const DecodedEvent& e) {
  if (AppointmentScheduled ev; e.As(&ev)) {
    s->exists = true;
    s->appointment_id = ev.appointment_id();
    s->patient_id = ev.patient_id();
    s->provider_id = ev.provider_id();
    s->location_id = ev.location_id();
    s->slot = ev.slot();
    s->status = APPOINTMENT_STATUS_SCHEDULED;
    s->instructions = ev.instructions();
  } else if (AppointmentRescheduled ev; e.As(&ev)) {
    s->provider_id = ev.provider_id();
    s->location_id = ev.location_id();
    s->slot = ev.slot();
    s->status = APPOINTMENT_STATUS_SCHEDULED;
  } else if (AppointmentConfirmed ev; e.As(&ev)) {
    s->status = APPOINTMENT_STATUS_CONFIRMED;
  } else if (AppointmentCancelled ev; e.As(&ev)) {
    s->status = APPOINTMENT_STATUS_CANCELLED;
  } else if (AppointmentNoShowRecorded ev; e.As(&ev)) {
    s->status = APPOINTMENT_STATUS_NO_SHOW;
  } else if (AppointmentCompleted ev; e.As(&ev)) {
    s->status = APPOINTMENT_STATUS_COMPLETED;
  } else if (PreAppointmentInstructionsUpdated ev; e.As(&ev)) {
    s->instructions = ev.instructions();
  } else {
    return absl::DataLossError(absl::StrCat(
        "appointment aggregate cannot apply event type ", e.header.event_type));
  }
  return absl::OkStatus();
}

absl::Status FoldSchedule(ScheduleState* s, const DecodedEvent& e) {
  if (ProviderSlotBooked ev; e.As(&ev)) {
    s->booked[ev.appointment_id()] = ev.slot();
  } else if (ProviderSlotReleased ev; e.As(&ev)) {
    s->booked.erase(ev.appointment_id());
  } else {
    return absl::DataLossError(absl::StrCat(
        "schedule aggregate cannot apply event type ", e.header.event_type));
  }
  return absl::OkStatus();
}

absl::string_view AppointmentActionName(AppointmentAction a) {
  switch (a) {
    case AppointmentAction::kConfirm:
      return "confirm";
    case AppointmentAction::kReschedule:
      return "reschedule";
    case AppointmentAction::kCancel:
      return "cancel";
    case AppointmentAction::kMarkNoShow:
      return "mark no-show";
    case AppointmentAction::kComplete:
      return "complete";
    case AppointmentAction::kUpdateInstructions:
      return "update instructions";
  }
  return "unknown action";
}

absl::Status CheckAppointmentTransition(const AppointmentState& s,
                                        AppointmentAction a,
                                        int64_t now_micros) {
  if (!s.exists)
    return absl::NotFoundError("appointment not found");
  if (!IsOpen(s.status)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot ", AppointmentActionName(a), ": appointment ",
                     s.appointment_id, " is ", StatusName(s.status)));
  }
  switch (a) {
    case AppointmentAction::kConfirm:
      if (s.status == APPOINTMENT_STATUS_CONFIRMED) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot confirm: appointment ", s.appointment_id,
                         " is already confirmed"));
      }
      return absl::OkStatus();
    case AppointmentAction::kMarkNoShow:
    case AppointmentAction::kComplete:
      // Nobody can be absent from, or have attended, a visit that has not
      // begun.
      if (now_micros < s.slot.start_micros()) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot ", AppointmentActionName(a), ": appointment ",
                         s.appointment_id, " has not started yet"));
      }
      return absl::OkStatus();
    case AppointmentAction::kReschedule:
    case AppointmentAction::kCancel:
    case AppointmentAction::kUpdateInstructions:
      return absl::OkStatus();
  }
  return absl::InternalError("unknown appointment action");
}

AppointmentStatus StatusAfter(const AppointmentState& s, AppointmentAction a) {
  switch (a) {
    case AppointmentAction::kConfirm:
      return APPOINTMENT_STATUS_CONFIRMED;
    case AppointmentAction::kReschedule:
      return APPOINTMENT_STATUS_SCHEDULED;
    case AppointmentAction::kCancel:
      return APPOINTMENT_STATUS_CANCELLED;
    case AppointmentAction::kMarkNoShow:
      return APPOINTMENT_STATUS_NO_SHOW;
    case AppointmentAction::kComplete:
      return APPOINTMENT_STATUS_COMPLETED;
    case AppointmentAction::kUpdateInstructions:
      return s.status;
  }
  return s.status;
}

bool SlotsOverlap(const TimeSlot& a, const TimeSlot& b) {
  return a.start_micros() < b.end_micros() && b.start_micros() < a.end_micros();
}

absl::Status CheckSlotFree(const ScheduleState& schedule,
                           const std::string& provider_id, const TimeSlot& slot,
                           const std::string& except_appointment_id) {
  for (const auto& [appointment_id, booked] : schedule.booked) {
    if (appointment_id == except_appointment_id)
      continue;
    if (SlotsOverlap(booked, slot)) {
      // The other booking's id is not named: it would link two patients'
      // visits.
      return absl::FailedPreconditionError(absl::StrCat(
          "slot taken: provider ", provider_id, " has an overlapping booking"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRescheduleTarget(const AppointmentState& s,
                                   const std::string& provider_id,
                                   const std::string& location_id,
                                   const TimeSlot& slot) {
  if (provider_id == s.provider_id && location_id == s.location_id &&
      slot.start_micros() == s.slot.start_micros() &&
      slot.end_micros() == s.slot.end_micros()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot reschedule: appointment ", s.appointment_id,
                     " already has that provider, location and slot"));
  }
  return absl::OkStatus();
}

absl::Status ValidateSlot(const TimeSlot& slot, const std::string& f) {
  if (auto st = CheckTimeMicros(slot.start_micros(), f + ".start_micros");
      !st.ok())
    return st;
  if (auto st = CheckTimeMicros(slot.end_micros(), f + ".end_micros"); !st.ok())
    return st;
  if (slot.end_micros() <= slot.start_micros()) {
    return absl::InvalidArgumentError(f + ".end_micros: must be after " + f +
                                      ".start_micros");
  }
  if (slot.end_micros() - slot.start_micros() > kMaxSlotMicros) {
    return absl::InvalidArgumentError(f + ": longer than 12 hours");
  }
  return absl::OkStatus();
}

absl::Status ValidateInstructions(const PreAppointmentInstructions& in,
                                  const std::string& f) {
  if (in.what_to_bring_size() > kMaxWhatToBring) {
    return absl::InvalidArgumentError(
        absl::StrCat(f, ".what_to_bring: at most ", kMaxWhatToBring, " items"));
  }
  for (int i = 0; i < in.what_to_bring_size(); ++i) {
    if (auto st = CheckText(in.what_to_bring(i),
                            absl::StrCat(f, ".what_to_bring[", i, "]"),
                            kMaxShortTextBytes, true);
        !st.ok()) {
      return st;
    }
  }
  if (in.fasting_hours() < 0 || in.fasting_hours() > kMaxFastingHours) {
    return absl::InvalidArgumentError(
        absl::StrCat(f, ".fasting_hours: out of range 0..", kMaxFastingHours));
  }
  if (in.arrive_early_minutes() < 0 ||
      in.arrive_early_minutes() > kMaxArriveEarlyMinutes) {
    return absl::InvalidArgumentError(absl::StrCat(
        f, ".arrive_early_minutes: out of range 0..", kMaxArriveEarlyMinutes));
  }
  return CheckText(in.notes(), f + ".notes", kMaxInstructionNotesBytes, false);
}

}  // namespace carelog::services
