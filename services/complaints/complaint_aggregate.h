// services/complaints/complaint_aggregate.h — a complaint, folded from stream
// complaint/<complaint_id>, and the rules its commands check, as pure
// functions (no I/O; thread-compatible). Time comes in as an argument.
//
// States: filed → acknowledged → resolved → reopened → acknowledged … Assign
// and escalate need an open (not resolved) complaint; notes are accepted in
// every state; resolve refuses a resolved complaint; reopen accepts only a
// resolved one. Refusals are FAILED_PRECONDITION naming the state; a
// complaint of another patient is NOT_FOUND.
#ifndef CARELOG_SERVICES_COMPLAINTS_COMPLAINT_AGGREGATE_H_
#define CARELOG_SERVICES_COMPLAINTS_COMPLAINT_AGGREGATE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "carelog/v1/complaints.pb.h"
#include "services/domain/event_codec.h"

namespace carelog::services {

inline std::string ComplaintStream(const std::string& complaint_id) {
  return "complaint/" + complaint_id;
}

struct ComplaintState {
  bool exists = false;
  std::string patient_id;
  std::string complaint_id;
  carelog::v1::ComplaintStatus status =
      carelog::v1::COMPLAINT_STATUS_UNSPECIFIED;
  carelog::v1::ComplaintPriority priority =
      carelog::v1::COMPLAINT_PRIORITY_UNSPECIFIED;
  int64_t filed_at_micros = 0;
  int64_t response_due_at_micros = 0;
  std::string assignee_id;
  int escalation_level = 0;
  int notes = 0;
};

// Errors: DATA_LOSS for an event type the aggregate does not know.
absl::Status FoldComplaint(ComplaintState* state, const DecodedEvent& event);

// How long staff have to respond to a complaint of `priority`: urgent 4 h,
// high 24 h, normal 72 h, low 7 days.
absl::Duration ResponseTime(carelog::v1::ComplaintPriority priority);

// Request validation (INVALID_ARGUMENT naming the field).
absl::Status ValidateFileComplaint(const carelog::v1::FileComplaintRequest& r);
absl::Status ValidateAcknowledgeComplaint(
    const carelog::v1::AcknowledgeComplaintRequest& r);
absl::Status ValidateAssignComplaint(
    const carelog::v1::AssignComplaintRequest& r);
absl::Status ValidateAddComplaintNote(
    const carelog::v1::AddComplaintNoteRequest& r);
absl::Status ValidateEscalateComplaint(
    const carelog::v1::EscalateComplaintRequest& r);
absl::Status ValidateResolveComplaint(
    const carelog::v1::ResolveComplaintRequest& r);
absl::Status ValidateReopenComplaint(
    const carelog::v1::ReopenComplaintRequest& r);

enum class ComplaintCommand {
  kAcknowledge,
  kAssign,
  kAddNote,
  kEscalate,
  kResolve,
  kReopen
};
// OK when `command` is allowed in state `from`; FAILED_PRECONDITION otherwise.
absl::Status CheckComplaintTransition(carelog::v1::ComplaintStatus from,
                                      ComplaintCommand command);

// Filed at `now`; the response is due ResponseTime(priority) later.
carelog::v1::ComplaintFiled DecideFileComplaint(
    const carelog::v1::FileComplaintRequest& r, const std::string& complaint_id,
    absl::Time now);
// Decisions on an existing complaint: NOT_FOUND for an unknown one;
// FAILED_PRECONDITION for a refused transition (and for assigning the
// current assignee again).
absl::StatusOr<carelog::v1::ComplaintAcknowledged> DecideAcknowledgeComplaint(
    const ComplaintState& s, const carelog::v1::AcknowledgeComplaintRequest& r,
    absl::Time now);
absl::StatusOr<carelog::v1::ComplaintAssigned> DecideAssignComplaint(
    const ComplaintState& s, const carelog::v1::AssignComplaintRequest& r);
absl::StatusOr<carelog::v1::ComplaintNoteAdded> DecideAddComplaintNote(
    const ComplaintState& s, const carelog::v1::AddComplaintNoteRequest& r,
    const std::string& note_id);
absl::StatusOr<carelog::v1::ComplaintEscalated> DecideEscalateComplaint(
    const ComplaintState& s, const carelog::v1::EscalateComplaintRequest& r);
absl::StatusOr<carelog::v1::ComplaintResolved> DecideResolveComplaint(
    const ComplaintState& s, const carelog::v1::ResolveComplaintRequest& r);
absl::StatusOr<carelog::v1::ComplaintReopened> DecideReopenComplaint(
    const ComplaintState& s, const carelog::v1::ReopenComplaintRequest& r);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_COMPLAINTS_COMPLAINT_AGGREGATE_H_
