// MessagingService end to end over a real channel: sending each kind,
// delivery and acknowledgement, validation, state rules, idempotent retries,
// enforcement by kind with audit.
#include "services/messaging/messaging_service.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "carelog/v1/messaging.grpc.pb.h"
#include "carelog/v1/patients.grpc.pb.h"
#include "crypto/jwt.h"
#include "services/domain/event_codec.h"
#include "services/server/policy_access.h"
#include "services/server/server.h"
#include "tests/services/service_fixture.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::services {
namespace {

using Who = carelog::testing::Caller;

using ::carelog::testing::IsOk;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

const Who kClinician{"clinician", "TREAT", "dr-0001"};

// The in-process server of tests/services/service_fixture.h and this
// service's stub.
class MessagingServiceTest : public carelog::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure())
      return;
    stub_ = MessagingService::NewStub(channel_);
  }

  template <typename Req, typename Rep>
  grpc::Status Call(grpc::Status (MessagingService::Stub::*method)(
                        grpc::ClientContext*, const Req&, Rep*),
                    const Req& req, Rep* reply, const Who& who) {
    grpc::ClientContext ctx;
    Prepare(&ctx, who);
    return (stub_.get()->*method)(&ctx, req, reply);
  }
  template <typename Req>
  grpc::Status Call(grpc::Status (MessagingService::Stub::*method)(
                        grpc::ClientContext*, const Req&, MessageCommandReply*),
                    const Req& req, const Who& who) {
    MessageCommandReply reply;
    return Call(method, req, &reply, who);
  }

  // Registers a patient with dr-0001 on the care team.
  std::string Register(const std::string& command_id) {
    const std::string id = RegisterPatient(SampleRegistration(command_id));
    AssignCareTeamMemberRequest as;
    as.set_command_id(command_id + "-team");
    as.set_patient_id(id);
    as.set_member_id("dr-0001");
    as.set_role(CARE_TEAM_ROLE_PRIMARY_CLINICIAN);
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r2;
    grpc::Status s = patients_->AssignCareTeamMember(&ctx, as, &r2);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return id;
  }

  static SendMessageRequest TestResult(const std::string& command_id,
                                       const std::string& patient_id) {
    SendMessageRequest r;
    r.set_command_id(command_id);
    r.set_patient_id(patient_id);
    r.set_provider_id("dr-0001");
    r.set_direction(MESSAGE_DIRECTION_TO_PATIENT);
    r.set_kind(MESSAGE_KIND_TEST_RESULT);
    r.set_subject("Lipid panel");
    r.set_body("Synthetic result: within the reference range.");
    r.set_released_by("dr-0001");
    return r;
  }

  std::string Send(const SendMessageRequest& req, const Who& who = kClinician) {
    SendMessageReply reply;
    grpc::Status s =
        Call(&MessagingService::Stub::SendMessage, req, &reply, who);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return reply.message_id();
  }

  AccessAudited LastAudit(const std::string& patient_id) {
    AccessAudited a;
    auto audit = StreamEvents("audit/" + patient_id);
    EXPECT_FALSE(audit.empty());
    if (!audit.empty()) {
      EXPECT_TRUE(audit.back().As(&a));
    }
    return a;
  }

  std::unique_ptr<MessagingService::Stub> stub_;
};

using Stub = MessagingService::Stub;

TEST_F(MessagingServiceTest,
       TestResultIsSentDeliveredAndAcknowledgedByThePatient) {
  const std::string pt = Register("reg-1");
  SendMessageReply sent;
  ASSERT_TRUE(
      Call(&Stub::SendMessage, TestResult("m-1", pt), &sent, kClinician).ok());
  ASSERT_FALSE(sent.message_id().empty());
  EXPECT_EQ(sent.result().position(), Head());
  AccessAudited a = LastAudit(pt);
  EXPECT_EQ(a.resource(), "clinical.test_results");
  EXPECT_EQ(a.outcome(), ACCESS_OUTCOME_ALLOWED);

  RecordMessageDeliveryRequest deliver;
  deliver.set_command_id("d-1");
  deliver.set_message_id(sent.message_id());
  deliver.set_channel(DELIVERY_CHANNEL_PORTAL);
  ASSERT_TRUE(Call(&Stub::RecordMessageDelivery, deliver, kClinician).ok());

  AcknowledgeMessageRequest ack;
  ack.set_command_id("a-1");
  ack.set_message_id(sent.message_id());
  const Who self{"patient", "PATRQT", pt};
  MessageCommandReply acked;
  grpc::Status s = Call(&Stub::AcknowledgeMessage, ack, &acked, self);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(acked.result().position(), Head());
  EXPECT_EQ(LastAudit(pt).resource(), "clinical.messages");

  auto events = StreamEvents(MessageStream(sent.message_id()));
  ASSERT_EQ(events.size(), 3u);
  MessageSent ev;
  ASSERT_TRUE(events[0].As(&ev));
  EXPECT_EQ(ev.released_by(), "dr-0001");
  EXPECT_EQ(ev.kind(), MESSAGE_KIND_TEST_RESULT);
  EXPECT_EQ(events[0].header.subject_id, pt);
  EXPECT_EQ(events[0].header.key_class, crypto::KeyClass::kSubject);
  EXPECT_EQ(events[0].meta.actor(), "dr-0001");
  EXPECT_EQ(events[1].header.event_type, "carelog.v1.MessageDeliveryRecorded");
  EXPECT_EQ(events[2].header.event_type, "carelog.v1.MessageAcknowledged");
  EXPECT_EQ(events[2].meta.actor(), pt);
}

TEST_F(MessagingServiceTest, EachKindIsAuthorizedOnItsResource) {
  const std::string pt = Register("reg-1");
  const std::string result = Send(TestResult("m-1", pt));
  EXPECT_EQ(LastAudit(pt).resource(), "clinical.test_results");

  SendMessageRequest care = TestResult("m-2", pt);
  care.set_kind(MESSAGE_KIND_CARE_INSTRUCTIONS);
  care.set_subject("After your procedure");
  Send(care);
  EXPECT_EQ(LastAudit(pt).resource(), "clinical.care_instructions");

  // The patient writes to the provider, in reply to the result.
  SendMessageRequest question;
  question.set_command_id("m-3");
  question.set_patient_id(pt);
  question.set_provider_id("dr-0001");
  question.set_direction(MESSAGE_DIRECTION_FROM_PATIENT);
  question.set_kind(MESSAGE_KIND_GENERAL);
  question.set_subject("Question about my result");
  question.set_body("Should I repeat the test?");
  question.set_in_reply_to(result);
  Send(question, Who{"patient", "PATRQT", pt});
  EXPECT_EQ(LastAudit(pt).resource(), "clinical.messages");

  // A patient may not release a test result.
  SendMessageReply reply;
  EXPECT_EQ(Call(&Stub::SendMessage, TestResult("m-4", pt), &reply,
                 Who{"patient", "PATRQT", pt})
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  AccessAudited denied = LastAudit(pt);
  EXPECT_EQ(denied.resource(), "clinical.test_results");
  EXPECT_EQ(denied.outcome(), ACCESS_OUTCOME_DENIED);
}

TEST_F(MessagingServiceTest, DeniedRolesAreAuditedAndAppendNothingElse) {
  const std::string pt = Register("reg-1");
  uint64_t head = Head();
  SendMessageReply reply;
  // Billing staff are forbidden clinical content outright.
  grpc::Status s = Call(&Stub::SendMessage, TestResult("m-1", pt), &reply,
                        Who{"billing_clerk", "HPAYMT", "bill-1"});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), head + 1);  // the denial alone
  AccessAudited denied = LastAudit(pt);
  EXPECT_EQ(denied.outcome(), ACCESS_OUTCOME_DENIED);
  EXPECT_EQ(denied.actor(), "bill-1");

  // A clinician outside the care team is not permitted.
  head = Head();
  EXPECT_EQ(Call(&Stub::SendMessage, TestResult("m-2", pt), &reply,
                 Who{"clinician", "TREAT", "dr-0002"})
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), head + 1);

  // Delivery on someone else's message: denied before its state is revealed.
  const std::string id = Send(TestResult("m-3", pt));
  head = Head();
  RecordMessageDeliveryRequest deliver;
  deliver.set_command_id("d-1");
  deliver.set_message_id(id);
  deliver.set_channel(DELIVERY_CHANNEL_EMAIL);
  const std::string other = Register("reg-2");
  head = Head();
  EXPECT_EQ(Call(&Stub::RecordMessageDelivery, deliver,
                 Who{"patient", "PATRQT", other})
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), head + 1);
  EXPECT_EQ(StreamEvents(MessageStream(id)).size(), 1u);
}

TEST_F(MessagingServiceTest, StateRulesGiveNotFoundAndFailedPrecondition) {
  const std::string pt = Register("reg-1");
  const std::string id = Send(TestResult("m-1", pt));
  const uint64_t head = Head();

  AcknowledgeMessageRequest ack;
  ack.set_command_id("a-1");
  ack.set_message_id(id);
  grpc::Status s = Call(&Stub::AcknowledgeMessage, ack, kClinician);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("has not been delivered"));
  EXPECT_EQ(Head(), head);

  RecordMessageDeliveryRequest deliver;
  deliver.set_command_id("d-1");
  deliver.set_message_id(id);
  deliver.set_channel(DELIVERY_CHANNEL_SMS);
  ASSERT_TRUE(Call(&Stub::RecordMessageDelivery, deliver, kClinician).ok());
  deliver.set_command_id("d-2");
  s = Call(&Stub::RecordMessageDelivery, deliver, kClinician);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("already delivered"));
  ack.set_command_id("a-2");
  ASSERT_TRUE(Call(&Stub::AcknowledgeMessage, ack, kClinician).ok());
  ack.set_command_id("a-3");
  s = Call(&Stub::AcknowledgeMessage, ack, kClinician);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("already acknowledged"));
  deliver.set_command_id("d-3");
  EXPECT_EQ(
      Call(&Stub::RecordMessageDelivery, deliver, kClinician).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  const uint64_t head2 = Head();
  deliver.set_command_id("d-4");
  deliver.set_message_id("msg-unknown");
  EXPECT_EQ(
      Call(&Stub::RecordMessageDelivery, deliver, kClinician).error_code(),
      grpc::StatusCode::NOT_FOUND);
  ack.set_command_id("a-4");
  ack.set_message_id("msg-unknown");
  EXPECT_EQ(Call(&Stub::AcknowledgeMessage, ack, kClinician).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Head(), head2);
  // An unknown patient is authorized first, like any other: nobody has a
  // relationship to it, so the answer is PERMISSION_DENIED (audited), never
  // a hint that the id is unused.
  SendMessageReply reply;
  EXPECT_EQ(Call(&Stub::SendMessage, TestResult("m-2", "pt-unknown"), &reply,
                 kClinician)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), head2 + 1);

  // A reply must name an earlier message of the same patient.
  const std::string other = Register("reg-2");
  const std::string foreign = Send(TestResult("m-4", other));
  const uint64_t head4 = Head();
  SendMessageRequest r = TestResult("m-5", pt);
  r.set_in_reply_to(foreign);
  s = Call(&Stub::SendMessage, r, &reply, kClinician);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  r.set_command_id("m-6");
  r.set_in_reply_to("msg-unknown");
  EXPECT_EQ(Call(&Stub::SendMessage, r, &reply, kClinician).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Head(), head4);
}

void ExpectInvalid(const grpc::Status& s, const std::string& field) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
  EXPECT_THAT(s.error_message(), HasSubstr(field + ":"));
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("Synthetic result")));
}

TEST_F(MessagingServiceTest, InvalidFieldsAreRejectedByNameAndAppendNothing) {
  const std::string pt = Register("reg-1");
  const std::string id = Send(TestResult("m-1", pt));
  const uint64_t head = Head();

  const SendMessageRequest base = TestResult("bad-1", pt);
  std::vector<std::pair<std::string, SendMessageRequest>> cases;
  cases.push_back({"command_id", base});
  cases.back().second.clear_command_id();
  cases.push_back({"patient_id", base});
  cases.back().second.set_patient_id("pt 1");
  cases.push_back({"provider_id", base});
  cases.back().second.clear_provider_id();
  cases.push_back({"direction", base});
  cases.back().second.clear_direction();
  cases.push_back({"direction", base});
  cases.back().second.set_direction(
      MESSAGE_DIRECTION_FROM_PATIENT);  // results go to the patient
  cases.push_back({"kind", base});
  cases.back().second.set_kind(static_cast<MessageKind>(7));
  cases.push_back({"subject", base});
  cases.back().second.set_subject(std::string(201, 's'));
  cases.push_back({"body", base});
  cases.back().second.clear_body();
  cases.push_back({"body", base});
  cases.back().second.set_body(
      "Synthetic result \x7f");  // DEL; proto3 itself refuses bad UTF-8
  cases.push_back({"released_by", base});
  cases.back().second.clear_released_by();
  cases.push_back({"released_by", base});
  cases.back().second.set_kind(
      MESSAGE_KIND_GENERAL);  // general messages are not "released"
  cases.push_back({"in_reply_to", base});
  cases.back().second.set_in_reply_to(std::string(65, 'm'));
  for (const auto& [field, req] : cases) {
    SCOPED_TRACE(field);
    SendMessageReply reply;
    ExpectInvalid(Call(&Stub::SendMessage, req, &reply, kClinician), field);
  }

  RecordMessageDeliveryRequest deliver;
  deliver.set_command_id("bad-2");
  deliver.set_message_id(id);
  ExpectInvalid(Call(&Stub::RecordMessageDelivery, deliver, kClinician),
                "channel");
  deliver.set_channel(static_cast<DeliveryChannel>(42));
  ExpectInvalid(Call(&Stub::RecordMessageDelivery, deliver, kClinician),
                "channel");
  deliver.set_channel(DELIVERY_CHANNEL_MAIL);
  deliver.clear_message_id();
  ExpectInvalid(Call(&Stub::RecordMessageDelivery, deliver, kClinician),
                "message_id");

  AcknowledgeMessageRequest ack;
  ack.set_command_id("bad-3");
  ack.set_message_id("msg:\n1");
  ExpectInvalid(Call(&Stub::AcknowledgeMessage, ack, kClinician), "message_id");
  ack.set_message_id(id);
  ack.set_command_id("bad command");
  ExpectInvalid(Call(&Stub::AcknowledgeMessage, ack, kClinician), "command_id");

  EXPECT_EQ(Head(), head);
}

TEST_F(MessagingServiceTest, RetryReturnsTheFirstReplyAndAppendsNothing) {
  const std::string pt = Register("reg-1");
  SendMessageReply first;
  ASSERT_TRUE(
      Call(&Stub::SendMessage, TestResult("m-retry", pt), &first, kClinician)
          .ok());
  const uint64_t head = Head();
  SendMessageReply again;
  ASSERT_TRUE(
      Call(&Stub::SendMessage, TestResult("m-retry", pt), &again, kClinician)
          .ok());
  EXPECT_EQ(again.message_id(), first.message_id());
  EXPECT_TRUE(again.result().duplicate());
  EXPECT_EQ(again.result().position(), first.result().position());
  EXPECT_EQ(Head(), head);

  RecordMessageDeliveryRequest deliver;
  deliver.set_command_id("d-retry");
  deliver.set_message_id(first.message_id());
  deliver.set_channel(DELIVERY_CHANNEL_PHONE);
  MessageCommandReply d1;
  MessageCommandReply d2;
  ASSERT_TRUE(
      Call(&Stub::RecordMessageDelivery, deliver, &d1, kClinician).ok());
  const uint64_t head2 = Head();
  // Retried after success: the first reply, not "already delivered".
  ASSERT_TRUE(
      Call(&Stub::RecordMessageDelivery, deliver, &d2, kClinician).ok());
  EXPECT_TRUE(d2.result().duplicate());
  EXPECT_EQ(d2.result().position(), d1.result().position());
  EXPECT_EQ(Head(), head2);
  EXPECT_EQ(StreamEvents(MessageStream(first.message_id())).size(), 2u);
}

}  // namespace
}  // namespace carelog::services
