#include "services/complaints/complaint_aggregate.h"

#include "absl/strings/str_cat.h"

#include "services/domain/validate.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace): event
                              // names read better unqualified

#define RETURN_IF_ERROR(expr) \
  do {                        \
    absl::Status _s = (expr); \
    if (!_s.ok())             \
      return _s;              \
  } while (0)

namespace {

absl::Status CheckComplaintIds(const std::string& patient_id,
                               const std::string& complaint_id) {
  RETURN_IF_ERROR(CheckId(patient_id, "patient_id"));
  return CheckId(complaint_id, "complaint_id");
}

absl::Status RequireComplaint(const ComplaintState& s,
                              const std::string& patient_id,
                              const std::string& complaint_id) {
  if (!s.exists || s.patient_id != patient_id) {
    return absl::NotFoundError(absl::StrCat(
        "complaint ", complaint_id, " not found for patient ", patient_id));
  }
  return absl::OkStatus();
}

// Existence, then the state machine.
absl::Status Require(const ComplaintState& s, const std::string& patient_id,
                     const std::string& complaint_id,
                     ComplaintCommand command) {
  RETURN_IF_ERROR(RequireComplaint(s, patient_id, complaint_id));
  return CheckComplaintTransition(s.status, command);
}

const char* CommandName(ComplaintCommand c) {
  switch (c) {
    case ComplaintCommand::kAcknowledge:
      return "acknowledge";
    case ComplaintCommand::kAssign:
      return "assign";
    case ComplaintCommand::kAddNote:
      return "add a note to";
    case ComplaintCommand::kEscalate:
      return "escalate";
    case ComplaintCommand::kResolve:
      return "resolve";
    case ComplaintCommand::kReopen:
      return "reopen";
  }
  return "?";
}

}  // namespace

absl::Status FoldComplaint(ComplaintState* s, const DecodedEvent& e) {
  if (ComplaintFiled ev; e.As(&ev)) {
    s->exists = true;
    s->patient_id = ev.patient_id();
    s->complaint_id = ev.complaint_id();
    s->status = COMPLAINT_STATUS_FILED;
    s->priority = ev.priority();
    s->filed_at_micros = ev.filed_at_micros();
    s->response_due_at_micros = ev.response_due_at_micros();
  } else if (ComplaintAcknowledged ev; e.As(&ev)) {
    s->status = COMPLAINT_STATUS_ACKNOWLEDGED;
  } else if (ComplaintAssigned ev; e.As(&ev)) {
    s->assignee_id = ev.assignee_id();
  } else if (ComplaintNoteAdded ev; e.As(&ev)) {
    ++s->notes;
  } else if (ComplaintEscalated ev; e.As(&ev)) {
    s->escalation_level = ev.level();
  } else if (ComplaintResolved ev; e.As(&ev)) {
    s->status = COMPLAINT_STATUS_RESOLVED;
  } else if (ComplaintReopened ev; e.As(&ev)) {
    s->status = COMPLAINT_STATUS_REOPENED;
  } else {
    return absl::DataLossError(absl::StrCat(
        "complaint aggregate cannot apply event type ", e.header.event_type));
  }
  return absl::OkStatus();
}

absl::Duration ResponseTime(ComplaintPriority priority) {
  switch (priority) {
    case COMPLAINT_PRIORITY_URGENT:
      return absl::Hours(4);
    case COMPLAINT_PRIORITY_HIGH:
      return absl::Hours(24);
    case COMPLAINT_PRIORITY_NORMAL:
      return absl::Hours(72);
    default:  // LOW (validation admits no other value)
      return absl::Hours(7 * 24);
  }
}

absl::Status ValidateFileComplaint(const FileComplaintRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckEnum(ComplaintCategory_IsValid(r.category()),
                            r.category(), "category"));
  RETURN_IF_ERROR(
      CheckText(r.description(), "description", kMaxLongTextBytes, true));
  RETURN_IF_ERROR(
      CheckId(r.related_appointment_id(), "related_appointment_id", false));
  RETURN_IF_ERROR(CheckId(r.related_charge_id(), "related_charge_id", false));
  return CheckEnum(ComplaintPriority_IsValid(r.priority()), r.priority(),
                   "priority");
}

absl::Status ValidateAcknowledgeComplaint(
    const AcknowledgeComplaintRequest& r) {
  return CheckComplaintIds(r.patient_id(), r.complaint_id());
}

absl::Status ValidateAssignComplaint(const AssignComplaintRequest& r) {
  RETURN_IF_ERROR(CheckComplaintIds(r.patient_id(), r.complaint_id()));
  return CheckId(r.assignee_id(), "assignee_id");
}

absl::Status ValidateAddComplaintNote(const AddComplaintNoteRequest& r) {
  RETURN_IF_ERROR(CheckComplaintIds(r.patient_id(), r.complaint_id()));
  return CheckText(r.text(), "text", kMaxLongTextBytes, true);
}

absl::Status ValidateEscalateComplaint(const EscalateComplaintRequest& r) {
  RETURN_IF_ERROR(CheckComplaintIds(r.patient_id(), r.complaint_id()));
  RETURN_IF_ERROR(CheckText(r.reason(), "reason", kMaxShortTextBytes, true));
  return CheckId(r.escalated_to(), "escalated_to", false);
}

absl::Status ValidateResolveComplaint(const ResolveComplaintRequest& r) {
  RETURN_IF_ERROR(CheckComplaintIds(r.patient_id(), r.complaint_id()));
  return CheckText(r.resolution(), "resolution", kMaxLongTextBytes, true);
}

absl::Status ValidateReopenComplaint(const ReopenComplaintRequest& r) {
  RETURN_IF_ERROR(CheckComplaintIds(r.patient_id(), r.complaint_id()));
  return CheckText(r.reason(), "reason", kMaxShortTextBytes, true);
}

absl::Status CheckComplaintTransition(ComplaintStatus from,
                                      ComplaintCommand command) {
  const bool resolved = from == COMPLAINT_STATUS_RESOLVED;
  bool allowed = false;
  switch (command) {
    case ComplaintCommand::kAcknowledge:
      allowed =
          from == COMPLAINT_STATUS_FILED || from == COMPLAINT_STATUS_REOPENED;
      break;
    case ComplaintCommand::kAssign:
    case ComplaintCommand::kEscalate:
    case ComplaintCommand::kResolve:
      allowed = !resolved;
      break;
    case ComplaintCommand::kAddNote:
      allowed = true;
      break;
    case ComplaintCommand::kReopen:
      allowed = resolved;
      break;
  }
  if (!allowed) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot ", CommandName(command), " a complaint that is ",
                     ComplaintStatus_Name(from)));
  }
  return absl::OkStatus();
}

ComplaintFiled DecideFileComplaint(const FileComplaintRequest& r,
                                   const std::string& complaint_id,
                                   absl::Time now) {
  ComplaintFiled ev;
  ev.set_patient_id(r.patient_id());
  ev.set_complaint_id(complaint_id);
  ev.set_category(r.category());
  ev.set_description(r.description());
  ev.set_related_appointment_id(r.related_appointment_id());
  ev.set_related_charge_id(r.related_charge_id());
  ev.set_priority(r.priority());
  ev.set_filed_at_micros(absl::ToUnixMicros(now));
  ev.set_response_due_at_micros(
      absl::ToUnixMicros(now + ResponseTime(r.priority())));
  return ev;
}

absl::StatusOr<ComplaintAcknowledged> DecideAcknowledgeComplaint(
    const ComplaintState& s, const AcknowledgeComplaintRequest& r,
    absl::Time now) {
  RETURN_IF_ERROR(Require(s, r.patient_id(), r.complaint_id(),
                          ComplaintCommand::kAcknowledge));
  ComplaintAcknowledged ev;
  ev.set_patient_id(r.patient_id());
  ev.set_complaint_id(r.complaint_id());
  ev.set_overdue(absl::ToUnixMicros(now) > s.response_due_at_micros);
  return ev;
}

absl::StatusOr<ComplaintAssigned> DecideAssignComplaint(
    const ComplaintState& s, const AssignComplaintRequest& r) {
  RETURN_IF_ERROR(
      Require(s, r.patient_id(), r.complaint_id(), ComplaintCommand::kAssign));
  if (s.assignee_id == r.assignee_id()) {
    return absl::FailedPreconditionError(
        absl::StrCat("complaint ", r.complaint_id(), " is already assigned to ",
                     r.assignee_id()));
  }
  ComplaintAssigned ev;
  ev.set_patient_id(r.patient_id());
  ev.set_complaint_id(r.complaint_id());
  ev.set_assignee_id(r.assignee_id());
  return ev;
}

absl::StatusOr<ComplaintNoteAdded> DecideAddComplaintNote(
    const ComplaintState& s, const AddComplaintNoteRequest& r,
    const std::string& note_id) {
  RETURN_IF_ERROR(
      Require(s, r.patient_id(), r.complaint_id(), ComplaintCommand::kAddNote));
  ComplaintNoteAdded ev;
  ev.set_patient_id(r.patient_id());
  ev.set_complaint_id(r.complaint_id());
  ev.set_note_id(note_id);
  ev.set_text(r.text());
  return ev;
}

absl::StatusOr<ComplaintEscalated> DecideEscalateComplaint(
    const ComplaintState& s, const EscalateComplaintRequest& r) {
  RETURN_IF_ERROR(Require(s, r.patient_id(), r.complaint_id(),
                          ComplaintCommand::kEscalate));
  ComplaintEscalated ev;
  ev.set_patient_id(r.patient_id());
  ev.set_complaint_id(r.complaint_id());
  ev.set_reason(r.reason());
  ev.set_escalated_to(r.escalated_to());
  ev.set_level(s.escalation_level + 1);
  return ev;
}

absl::StatusOr<ComplaintResolved> DecideResolveComplaint(
    const ComplaintState& s, const ResolveComplaintRequest& r) {
  RETURN_IF_ERROR(
      Require(s, r.patient_id(), r.complaint_id(), ComplaintCommand::kResolve));
  ComplaintResolved ev;
  ev.set_patient_id(r.patient_id());
  ev.set_complaint_id(r.complaint_id());
  ev.set_resolution(r.resolution());
  return ev;
}

absl::StatusOr<ComplaintReopened> DecideReopenComplaint(
    const ComplaintState& s, const ReopenComplaintRequest& r) {
  RETURN_IF_ERROR(
      Require(s, r.patient_id(), r.complaint_id(), ComplaintCommand::kReopen));
  ComplaintReopened ev;
  ev.set_patient_id(r.patient_id());
  ev.set_complaint_id(r.complaint_id());
  ev.set_reason(r.reason());
  return ev;
}

}  // namespace carelog::services
