// Complaint rules on the pure fold + decide functions: response due times,
// validation and every allowed and refused transition.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "services/complaints/complaint_aggregate.h"
#include "tests/testing/status_matchers.h"

namespace carelog::services {
namespace {

using ::carelog::testing::IsOk;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

template <typename T>
DecodedEvent Ev(const T& body) {
  DecodedEvent e;
  e.header.event_type = body.GetTypeName();
  e.body.PackFrom(body);
  return e;
}

constexpr char kPatient[] = "pt-1";
constexpr char kId[] = "cmp-1";
const absl::Time kFiledAt = absl::FromUnixSeconds(1'790'000'000);

FileComplaintRequest File(
    ComplaintPriority priority = COMPLAINT_PRIORITY_NORMAL) {
  FileComplaintRequest r;
  r.set_patient_id(kPatient);
  r.set_category(COMPLAINT_CATEGORY_COMMUNICATION);
  r.set_description("Nobody called back about the synthetic test.");
  r.set_priority(priority);
  return r;
}

// A complaint driven to `status` through allowed commands.
ComplaintState At(ComplaintStatus status) {
  ComplaintState s;
  EXPECT_TRUE(
      FoldComplaint(&s, Ev(DecideFileComplaint(File(), kId, kFiledAt))).ok());
  auto step = [&](const auto& ev) {
    EXPECT_TRUE(FoldComplaint(&s, Ev(ev)).ok());
  };
  if (status == COMPLAINT_STATUS_ACKNOWLEDGED)
    step(ComplaintAcknowledged());
  if (status == COMPLAINT_STATUS_RESOLVED ||
      status == COMPLAINT_STATUS_REOPENED)
    step(ComplaintResolved());
  if (status == COMPLAINT_STATUS_REOPENED)
    step(ComplaintReopened());
  EXPECT_EQ(s.status, status);
  return s;
}

absl::Status RunCommand(const ComplaintState& s, ComplaintCommand c,
                        ComplaintState* next) {
  *next = s;
  auto apply = [&](const auto& ev) -> absl::Status {
    if (!ev.ok())
      return ev.status();
    return FoldComplaint(next, Ev(*ev));
  };
  switch (c) {
    case ComplaintCommand::kAcknowledge: {
      AcknowledgeComplaintRequest r;
      r.set_patient_id(kPatient);
      r.set_complaint_id(kId);
      return apply(DecideAcknowledgeComplaint(s, r, kFiledAt + absl::Hours(1)));
    }
    case ComplaintCommand::kAssign: {
      AssignComplaintRequest r;
      r.set_patient_id(kPatient);
      r.set_complaint_id(kId);
      r.set_assignee_id("ch-0001");
      return apply(DecideAssignComplaint(s, r));
    }
    case ComplaintCommand::kAddNote: {
      AddComplaintNoteRequest r;
      r.set_patient_id(kPatient);
      r.set_complaint_id(kId);
      r.set_text("called the patient");
      return apply(DecideAddComplaintNote(s, r, "note-1"));
    }
    case ComplaintCommand::kEscalate: {
      EscalateComplaintRequest r;
      r.set_patient_id(kPatient);
      r.set_complaint_id(kId);
      r.set_reason("no response from the department");
      return apply(DecideEscalateComplaint(s, r));
    }
    case ComplaintCommand::kResolve: {
      ResolveComplaintRequest r;
      r.set_patient_id(kPatient);
      r.set_complaint_id(kId);
      r.set_resolution("apologised and scheduled a call");
      return apply(DecideResolveComplaint(s, r));
    }
    case ComplaintCommand::kReopen: {
      ReopenComplaintRequest r;
      r.set_patient_id(kPatient);
      r.set_complaint_id(kId);
      r.set_reason("the call never happened");
      return apply(DecideReopenComplaint(s, r));
    }
  }
  return absl::InternalError("unreachable");
}

TEST(ComplaintStateMachineTest, EveryCommandFromEveryState) {
  const ComplaintStatus F = COMPLAINT_STATUS_FILED,
                        A = COMPLAINT_STATUS_ACKNOWLEDGED,
                        R = COMPLAINT_STATUS_RESOLVED,
                        O = COMPLAINT_STATUS_REOPENED;
  struct Row {
    ComplaintCommand command;
    const char* name;
    std::vector<ComplaintStatus> from;  // where it is allowed
    ComplaintStatus to;                 // UNSPECIFIED: the state is unchanged
  };
  const std::vector<Row> table = {
      {ComplaintCommand::kAcknowledge, "acknowledge", {F, O}, A},
      {ComplaintCommand::kAssign,
       "assign",
       {F, A, O},
       COMPLAINT_STATUS_UNSPECIFIED},
      {ComplaintCommand::kAddNote,
       "note",
       {F, A, R, O},
       COMPLAINT_STATUS_UNSPECIFIED},
      {ComplaintCommand::kEscalate,
       "escalate",
       {F, A, O},
       COMPLAINT_STATUS_UNSPECIFIED},
      {ComplaintCommand::kResolve, "resolve", {F, A, O}, R},
      {ComplaintCommand::kReopen, "reopen", {R}, O},
  };
  int allowed = 0, refused = 0;
  for (const auto& row : table) {
    for (ComplaintStatus from : {F, A, R, O}) {
      SCOPED_TRACE(
          absl::StrCat(row.name, " from ", ComplaintStatus_Name(from)));
      const bool ok =
          std::find(row.from.begin(), row.from.end(), from) != row.from.end();
      ComplaintState next;
      absl::Status s = RunCommand(At(from), row.command, &next);
      EXPECT_EQ(CheckComplaintTransition(from, row.command).ok(), ok);
      if (ok) {
        ++allowed;
        EXPECT_THAT(s, IsOk());
        EXPECT_EQ(next.status,
                  row.to == COMPLAINT_STATUS_UNSPECIFIED ? from : row.to);
      } else {
        ++refused;
        EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
        EXPECT_THAT(s.message(), HasSubstr(ComplaintStatus_Name(from)));
      }
    }
  }
  EXPECT_EQ(allowed, 16);
  EXPECT_EQ(refused, 8);
}

TEST(ComplaintStateMachineTest,
     ResolvingAResolvedComplaintIsFailedPrecondition) {
  ComplaintState next;
  EXPECT_EQ(RunCommand(At(COMPLAINT_STATUS_RESOLVED),
                       ComplaintCommand::kResolve, &next)
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ComplaintStateMachineTest, UnknownOrOtherPatientsComplaintIsNotFound) {
  ComplaintState next;
  EXPECT_EQ(
      RunCommand(ComplaintState{}, ComplaintCommand::kAddNote, &next).code(),
      absl::StatusCode::kNotFound);
  ComplaintState other = At(COMPLAINT_STATUS_FILED);
  other.patient_id = "pt-other";
  EXPECT_EQ(RunCommand(other, ComplaintCommand::kResolve, &next).code(),
            absl::StatusCode::kNotFound);
}

TEST(ComplaintStateMachineTest, AssignEscalateAndNotesUpdateTheState) {
  ComplaintState s = At(COMPLAINT_STATUS_FILED), next;
  ASSERT_THAT(RunCommand(s, ComplaintCommand::kAssign, &next), IsOk());
  EXPECT_EQ(next.assignee_id, "ch-0001");
  // The same assignee again is refused.
  EXPECT_EQ(RunCommand(next, ComplaintCommand::kAssign, &next).code(),
            absl::StatusCode::kFailedPrecondition);
  s = next;
  ASSERT_THAT(RunCommand(s, ComplaintCommand::kEscalate, &next), IsOk());
  EXPECT_EQ(next.escalation_level, 1);
  s = next;
  ASSERT_THAT(RunCommand(s, ComplaintCommand::kEscalate, &next), IsOk());
  EXPECT_EQ(next.escalation_level, 2);
  s = next;
  ASSERT_THAT(RunCommand(s, ComplaintCommand::kAddNote, &next), IsOk());
  EXPECT_EQ(next.notes, 1);
}

TEST(ComplaintResponseTimeTest, EachPriorityHasItsDueTimeFromFiling) {
  struct Case {
    ComplaintPriority priority;
    absl::Duration due;
  };
  for (const auto& c :
       std::vector<Case>{{COMPLAINT_PRIORITY_URGENT, absl::Hours(4)},
                         {COMPLAINT_PRIORITY_HIGH, absl::Hours(24)},
                         {COMPLAINT_PRIORITY_NORMAL, absl::Hours(72)},
                         {COMPLAINT_PRIORITY_LOW, absl::Hours(24 * 7)}}) {
    SCOPED_TRACE(ComplaintPriority_Name(c.priority));
    ComplaintFiled ev = DecideFileComplaint(File(c.priority), kId, kFiledAt);
    EXPECT_EQ(ev.filed_at_micros(), absl::ToUnixMicros(kFiledAt));
    EXPECT_EQ(ev.response_due_at_micros(),
              absl::ToUnixMicros(kFiledAt + c.due));
    EXPECT_EQ(ResponseTime(c.priority), c.due);
  }
}

TEST(ComplaintResponseTimeTest, AcknowledgingAfterTheDueTimeIsMarkedOverdue) {
  ComplaintState s;
  ASSERT_THAT(
      FoldComplaint(&s, Ev(DecideFileComplaint(File(COMPLAINT_PRIORITY_URGENT),
                                               kId, kFiledAt))),
      IsOk());
  AcknowledgeComplaintRequest r;
  r.set_patient_id(kPatient);
  r.set_complaint_id(kId);
  auto on_time = DecideAcknowledgeComplaint(s, r, kFiledAt + absl::Hours(4));
  ASSERT_THAT(on_time, IsOk());
  EXPECT_FALSE(on_time->overdue());
  auto late = DecideAcknowledgeComplaint(
      s, r, kFiledAt + absl::Hours(4) + absl::Seconds(1));
  ASSERT_THAT(late, IsOk());
  EXPECT_TRUE(late->overdue());
}

TEST(ComplaintValidationTest, EachInvalidFieldIsNamed) {
  EXPECT_THAT(ValidateFileComplaint(File()), IsOk());
  struct Case {
    std::string field;
    absl::Status status;
  };
  std::vector<Case> cases;
  auto file = [&](const std::string& field, auto mutate) {
    FileComplaintRequest r = File();
    mutate(&r);
    cases.push_back({field, ValidateFileComplaint(r)});
  };
  file("category", [](FileComplaintRequest* r) {
    r->set_category(COMPLAINT_CATEGORY_UNSPECIFIED);
  });
  file("priority", [](FileComplaintRequest* r) {
    r->set_priority(static_cast<ComplaintPriority>(9));
  });
  file("description", [](FileComplaintRequest* r) { r->clear_description(); });
  file("description",
       [](FileComplaintRequest* r) { r->set_description("bad \xff utf8"); });
  file("related_charge_id",
       [](FileComplaintRequest* r) { r->set_related_charge_id("chg 1"); });
  file("related_appointment_id", [](FileComplaintRequest* r) {
    r->set_related_appointment_id(std::string(65, 'a'));
  });
  {
    AssignComplaintRequest r;
    r.set_patient_id(kPatient);
    r.set_complaint_id(kId);
    cases.push_back({"assignee_id", ValidateAssignComplaint(r)});
  }
  {
    AddComplaintNoteRequest r;
    r.set_patient_id(kPatient);
    r.set_complaint_id(kId);
    r.set_text(std::string(8001, 'x'));
    cases.push_back({"text", ValidateAddComplaintNote(r)});
  }
  {
    ResolveComplaintRequest r;
    r.set_patient_id(kPatient);
    r.set_complaint_id(kId);
    cases.push_back({"resolution", ValidateResolveComplaint(r)});
  }
  {
    ReopenComplaintRequest r;
    r.set_patient_id(kPatient);
    cases.push_back({"complaint_id", ValidateReopenComplaint(r)});
  }
  {
    EscalateComplaintRequest r;
    r.set_patient_id(kPatient);
    r.set_complaint_id(kId);
    cases.push_back({"reason", ValidateEscalateComplaint(r)});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    EXPECT_EQ(c.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(c.status.message(), HasSubstr(c.field + ":"));
  }
}

TEST(ComplaintFoldTest, UnknownEventTypeIsDataLoss) {
  ComplaintState s;
  EXPECT_EQ(FoldComplaint(&s, Ev(File())).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace carelog::services
