// services/scheduling/scheduling_aggregate.h — an appointment's state (folded
// from appointment/<id>), a provider's schedule (folded from
// schedule/<provider id>) and the rules scheduling commands check against
// them. Pure code (no I/O); thread-compatible.
#ifndef CARELOG_SERVICES_SCHEDULING_SCHEDULING_AGGREGATE_H_
#define CARELOG_SERVICES_SCHEDULING_SCHEDULING_AGGREGATE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "carelog/v1/scheduling.pb.h"
#include "services/domain/event_codec.h"

namespace carelog::services {

inline std::string AppointmentStream(const std::string& appointment_id) {
  return "appointment/" + appointment_id;
}
inline std::string ScheduleStream(const std::string& provider_id) {
  return "schedule/" + provider_id;
}

// The longest slot that can be booked.
inline constexpr int64_t kMaxSlotMicros = int64_t{12} * 3600 * 1000000;

struct AppointmentState {
  bool exists = false;
  std::string appointment_id;
  std::string patient_id;
  std::string provider_id;
  std::string location_id;
  carelog::v1::TimeSlot slot;
  carelog::v1::AppointmentStatus status =
      carelog::v1::APPOINTMENT_STATUS_UNSPECIFIED;
  carelog::v1::PreAppointmentInstructions instructions;
};

// A provider's booked slots: appointment id → slot. A slot leaves the map when
// released (cancel, reschedule); completed and no-show appointments keep
// theirs.
struct ScheduleState {
  std::map<std::string, carelog::v1::TimeSlot> booked;
};

// Applies one event. Errors: DATA_LOSS for an event type the aggregate does
// not know (never silently skipped).
absl::Status FoldAppointment(AppointmentState* state,
                             const DecodedEvent& event);
absl::Status FoldSchedule(ScheduleState* state, const DecodedEvent& event);

// The commands that act on an existing appointment.
enum class AppointmentAction {
  kConfirm,
  kReschedule,
  kCancel,
  kMarkNoShow,
  kComplete,
  kUpdateInstructions,
};
absl::string_view AppointmentActionName(AppointmentAction action);

// Whether `action` may run on `state` at `now_micros`. OK when allowed;
// NOT_FOUND if the appointment does not exist; FAILED_PRECONDITION with the
// reason otherwise (final states refuse everything; only SCHEDULED can be
// confirmed; no-show and completion need the slot to have started).
absl::Status CheckAppointmentTransition(const AppointmentState& state,
                                        AppointmentAction action,
                                        int64_t now_micros);

// The status an allowed action leads to (kUpdateInstructions keeps it).
carelog::v1::AppointmentStatus StatusAfter(const AppointmentState& state,
                                           AppointmentAction action);

// True when [a.start, a.end) and [b.start, b.end) intersect.
bool SlotsOverlap(const carelog::v1::TimeSlot& a,
                  const carelog::v1::TimeSlot& b);

// OK if `slot` overlaps no booking on the schedule other than
// `except_appointment_id` (the appointment being moved, if any);
// FAILED_PRECONDITION "slot taken" otherwise.
absl::Status CheckSlotFree(const ScheduleState& schedule,
                           const std::string& provider_id,
                           const carelog::v1::TimeSlot& slot,
                           const std::string& except_appointment_id = "");

// A reschedule must change something: FAILED_PRECONDITION when the target
// provider, location and slot equal the current ones.
absl::Status CheckRescheduleTarget(const AppointmentState& state,
                                   const std::string& provider_id,
                                   const std::string& location_id,
                                   const carelog::v1::TimeSlot& slot);

// Request shape checks (INVALID_ARGUMENT naming the field under `field`).
absl::Status ValidateSlot(const carelog::v1::TimeSlot& slot,
                          const std::string& field);
absl::Status ValidateInstructions(
    const carelog::v1::PreAppointmentInstructions& instructions,
    const std::string& field);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SCHEDULING_SCHEDULING_AGGREGATE_H_
