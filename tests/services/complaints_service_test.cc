// ComplaintService end to end over a real channel: every RPC's happy path,
// invalid inputs named and appending nothing, idempotent retries, state rules
// and enforcement with audit.
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "carelog/v1/complaints.grpc.pb.h"
#include "carelog/v1/patients.grpc.pb.h"
#include "crypto/jwt.h"
#include "services/complaints/complaint_service.h"
#include "services/domain/event_codec.h"
#include "services/server/policy_access.h"
#include "services/server/server.h"
#include "tests/services/service_fixture.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::services {
namespace {

using carelog::testing::Caller;

using ::carelog::testing::IsOk;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

const Caller kHandler{"complaint_handler", "HOPERAT", "ch-0001"};
const Caller kFrontDesk{"front_desk", "HOPERAT", "fd-0001"};
const Caller kClerk{"billing_clerk", "HPAYMT", "bill-0001"};

class ComplaintServiceTest : public carelog::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure())
      return;
    stub_ = ComplaintService::NewStub(channel_);
  }

  template <typename Req>
  grpc::Status Call(grpc::Status (ComplaintService::Stub::*method)(
                        grpc::ClientContext*, const Req&,
                        ComplaintCommandReply*),
                    const Req& req, ComplaintCommandReply* reply,
                    const Caller& who = kHandler) {
    grpc::ClientContext ctx;
    Prepare(&ctx, who);
    return (stub_.get()->*method)(&ctx, req, reply);
  }

  static FileComplaintRequest File(
      const std::string& command_id, const std::string& patient_id,
      ComplaintPriority priority = COMPLAINT_PRIORITY_HIGH) {
    FileComplaintRequest r;
    r.set_command_id(command_id);
    r.set_patient_id(patient_id);
    r.set_category(COMPLAINT_CATEGORY_BILLING);
    r.set_description("Charged twice for one synthetic visit.");
    r.set_related_charge_id("chg-0001");
    r.set_priority(priority);
    return r;
  }

  template <typename Req>
  static Req On(const std::string& command_id, const std::string& patient_id,
                const std::string& complaint_id) {
    Req r;
    r.set_command_id(command_id);
    r.set_patient_id(patient_id);
    r.set_complaint_id(complaint_id);
    return r;
  }

  std::unique_ptr<ComplaintService::Stub> stub_;
};

TEST_F(ComplaintServiceTest, ComplaintLifecycleEndToEnd) {
  const std::string id = Register("reg-1");
  ComplaintCommandReply r;
  const absl::Time before = absl::Now();
  grpc::Status s =
      Call(&ComplaintService::Stub::FileComplaint, File("file-1", id), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string cid = r.complaint_id();
  ASSERT_FALSE(cid.empty());
  EXPECT_EQ(r.result().position(), Head());
  auto events = StreamEvents(ComplaintStream(cid));
  ASSERT_EQ(events.size(), 1u);
  ComplaintFiled filed;
  ASSERT_TRUE(events[0].As(&filed));
  EXPECT_EQ(events[0].header.subject_id, id);
  EXPECT_EQ(events[0].meta.actor(), kHandler.sub);
  EXPECT_GE(filed.filed_at_micros(), absl::ToUnixMicros(before) - 1'000'000);
  EXPECT_EQ(filed.response_due_at_micros() - filed.filed_at_micros(),
            absl::ToInt64Microseconds(absl::Hours(24)));
  EXPECT_EQ(r.response_due_at_micros(), filed.response_due_at_micros());

  ASSERT_TRUE(Call(&ComplaintService::Stub::AcknowledgeComplaint,
                   On<AcknowledgeComplaintRequest>("ack-1", id, cid), &r)
                  .ok());
  auto assign = On<AssignComplaintRequest>("assign-1", id, cid);
  assign.set_assignee_id(kHandler.sub);
  ASSERT_TRUE(Call(&ComplaintService::Stub::AssignComplaint, assign, &r).ok());
  auto note = On<AddComplaintNoteRequest>("note-1", id, cid);
  note.set_text("Called billing; duplicate charge confirmed.");
  ASSERT_TRUE(Call(&ComplaintService::Stub::AddComplaintNote, note, &r).ok());
  EXPECT_FALSE(r.note_id().empty());
  auto escalate = On<EscalateComplaintRequest>("esc-1", id, cid);
  escalate.set_reason("refund needs a manager");
  escalate.set_escalated_to("billing-managers");
  ASSERT_TRUE(
      Call(&ComplaintService::Stub::EscalateComplaint, escalate, &r).ok());
  auto resolve = On<ResolveComplaintRequest>("res-1", id, cid);
  resolve.set_resolution("Duplicate charge reversed.");
  ASSERT_TRUE(
      Call(&ComplaintService::Stub::ResolveComplaint, resolve, &r).ok());
  // Resolving a resolved complaint is refused; reopening works only from
  // resolved.
  resolve.set_command_id("res-2");
  EXPECT_EQ(
      Call(&ComplaintService::Stub::ResolveComplaint, resolve, &r).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  auto reopen = On<ReopenComplaintRequest>("reopen-1", id, cid);
  reopen.set_reason("charge is back on the statement");
  ASSERT_TRUE(Call(&ComplaintService::Stub::ReopenComplaint, reopen, &r).ok());
  reopen.set_command_id("reopen-2");
  EXPECT_EQ(
      Call(&ComplaintService::Stub::ReopenComplaint, reopen, &r).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(StreamEvents(ComplaintStream(cid)).size(), 7u);
  EXPECT_EQ(Call(&ComplaintService::Stub::AcknowledgeComplaint,
                 On<AcknowledgeComplaintRequest>("ack-x", id, "cmp-404"), &r)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ComplaintServiceTest, PatientFilesAnnotatesAndReopensButDoesNotResolve) {
  const std::string id = Register("reg-1");
  const Caller self{"patient", "PATRQT", id};
  ComplaintCommandReply r;
  grpc::Status s =
      Call(&ComplaintService::Stub::FileComplaint,
           File("file-1", id, COMPLAINT_PRIORITY_URGENT), &r, self);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string cid = r.complaint_id();
  auto note = On<AddComplaintNoteRequest>("note-1", id, cid);
  note.set_text("Still waiting.");
  ASSERT_TRUE(
      Call(&ComplaintService::Stub::AddComplaintNote, note, &r, self).ok());
  auto resolve = On<ResolveComplaintRequest>("res-self", id, cid);
  resolve.set_resolution("never mind");
  const uint64_t head = Head();
  EXPECT_EQ(Call(&ComplaintService::Stub::ResolveComplaint, resolve, &r, self)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), head + 1);
}

TEST_F(ComplaintServiceTest, InvalidFieldsAreRejectedByNameAndAppendNothing) {
  const std::string id = Register("reg-1");
  ComplaintCommandReply r;
  ASSERT_TRUE(
      Call(&ComplaintService::Stub::FileComplaint, File("file-1", id), &r)
          .ok());
  const std::string cid = r.complaint_id();
  const uint64_t head = Head();
  struct Case {
    std::string field;
    std::function<grpc::Status(ComplaintCommandReply*)> call;
  };
  std::vector<Case> cases;
  auto file = [&](const std::string& field,
                  std::function<void(FileComplaintRequest*)> mutate) {
    auto req = File("bad", id);
    mutate(&req);
    cases.push_back({field, [this, req](ComplaintCommandReply* rep) {
                       return Call(&ComplaintService::Stub::FileComplaint, req,
                                   rep);
                     }});
  };
  file("command_id", [](FileComplaintRequest* q) { q->clear_command_id(); });
  file("patient_id", [](FileComplaintRequest* q) {
    q->set_patient_id(std::string(65, 'p'));
  });
  file("category", [](FileComplaintRequest* q) {
    q->set_category(static_cast<ComplaintCategory>(99));
  });
  file("description", [](FileComplaintRequest* q) { q->clear_description(); });
  file("related_appointment_id", [](FileComplaintRequest* q) {
    q->set_related_appointment_id("appt#1");
  });
  file("related_charge_id",
       [](FileComplaintRequest* q) { q->set_related_charge_id("chg 1"); });
  file("priority", [](FileComplaintRequest* q) {
    q->set_priority(COMPLAINT_PRIORITY_UNSPECIFIED);
  });
  {
    auto req = On<AcknowledgeComplaintRequest>("bad", id, "");
    cases.push_back(
        {"complaint_id", [this, req](ComplaintCommandReply* rep) {
           return Call(&ComplaintService::Stub::AcknowledgeComplaint, req, rep);
         }});
  }
  {
    auto req = On<AssignComplaintRequest>("bad", id, cid);
    cases.push_back({"assignee_id", [this, req](ComplaintCommandReply* rep) {
                       return Call(&ComplaintService::Stub::AssignComplaint,
                                   req, rep);
                     }});
  }
  {
    auto req = On<AddComplaintNoteRequest>("bad", id, cid);
    req.set_text(std::string(8001, 'n'));
    cases.push_back({"text", [this, req](ComplaintCommandReply* rep) {
                       return Call(&ComplaintService::Stub::AddComplaintNote,
                                   req, rep);
                     }});
  }
  {
    auto req = On<EscalateComplaintRequest>("bad", id, cid);
    cases.push_back({"reason", [this, req](ComplaintCommandReply* rep) {
                       return Call(&ComplaintService::Stub::EscalateComplaint,
                                   req, rep);
                     }});
  }
  {
    auto req = On<ResolveComplaintRequest>("bad", id, cid);
    req.set_resolution("bad\x01resolution");  // a control character
    cases.push_back({"resolution", [this, req](ComplaintCommandReply* rep) {
                       return Call(&ComplaintService::Stub::ResolveComplaint,
                                   req, rep);
                     }});
  }
  {
    auto req = On<ReopenComplaintRequest>("bad", id, cid);
    cases.push_back({"reason", [this, req](ComplaintCommandReply* rep) {
                       return Call(&ComplaintService::Stub::ReopenComplaint,
                                   req, rep);
                     }});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    ComplaintCommandReply rep;
    grpc::Status s = c.call(&rep);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.field + ":"));
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("Charged twice")));
  }
  EXPECT_EQ(Head(), head);
}

TEST_F(ComplaintServiceTest, RetryReturnsTheFirstReplyAndAppendsNothing) {
  const std::string id = Register("reg-1");
  ComplaintCommandReply first, again;
  ASSERT_TRUE(Call(&ComplaintService::Stub::FileComplaint,
                   File("file-retry", id), &first)
                  .ok());
  const uint64_t head = Head();
  ASSERT_TRUE(Call(&ComplaintService::Stub::FileComplaint,
                   File("file-retry", id), &again)
                  .ok());
  EXPECT_TRUE(again.result().duplicate());
  EXPECT_EQ(again.complaint_id(), first.complaint_id());
  EXPECT_EQ(again.response_due_at_micros(), first.response_due_at_micros());
  EXPECT_EQ(again.result().position(), first.result().position());
  EXPECT_EQ(Head(), head);
  auto note =
      On<AddComplaintNoteRequest>("note-retry", id, first.complaint_id());
  note.set_text("first note");
  ASSERT_TRUE(
      Call(&ComplaintService::Stub::AddComplaintNote, note, &first).ok());
  ASSERT_TRUE(
      Call(&ComplaintService::Stub::AddComplaintNote, note, &again).ok());
  EXPECT_TRUE(again.result().duplicate());
  EXPECT_EQ(again.note_id(), first.note_id());
  EXPECT_EQ(Head(), head + 2);  // the note and its audit event, once
}

TEST_F(ComplaintServiceTest, DeniedRoleIsAuditedAndChangesNothingElse) {
  const std::string id = Register("reg-1");
  const uint64_t head = Head();
  ComplaintCommandReply r;
  EXPECT_EQ(Call(&ComplaintService::Stub::FileComplaint,
                 File("file-denied", id), &r, kClerk)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), head + 1);
  auto audit = StreamEvents("audit/" + id);
  ASSERT_FALSE(audit.empty());
  AccessAudited denied;
  ASSERT_TRUE(audit.back().As(&denied));
  EXPECT_EQ(denied.outcome(), ACCESS_OUTCOME_DENIED);
  EXPECT_EQ(denied.actor(), kClerk.sub);
  EXPECT_EQ(denied.resource(), "complaints");
}

}  // namespace
}  // namespace carelog::services
