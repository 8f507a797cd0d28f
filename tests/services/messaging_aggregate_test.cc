// The message aggregate without gRPC: folding message/<id>, every allowed
// and every refused transition, the resource of each kind, and the request
// shape checks.
#include "services/messaging/messaging_aggregate.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/patients.pb.h"
#include "services/messaging/messaging_service.h"
#include "tests/testing/status_matchers.h"

namespace carelog::services {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

DecodedEvent Event(const google::protobuf::Message& body) {
  DecodedEvent e;
  e.header.event_type = body.GetDescriptor()->full_name();
  e.body.PackFrom(body);
  return e;
}

MessageSent SentEvent() {
  MessageSent ev;
  ev.set_message_id("msg-1");
  ev.set_patient_id("pt-1");
  ev.set_provider_id("dr-1");
  ev.set_direction(MESSAGE_DIRECTION_TO_PATIENT);
  ev.set_kind(MESSAGE_KIND_TEST_RESULT);
  ev.set_subject("Your lab result is ready");
  ev.set_body("Synthetic result text.");
  ev.set_released_by("dr-1");
  return ev;
}

MessageDeliveryRecorded DeliveredEvent() {
  MessageDeliveryRecorded ev;
  ev.set_message_id("msg-1");
  ev.set_patient_id("pt-1");
  ev.set_channel(DELIVERY_CHANNEL_PORTAL);
  return ev;
}

MessageAcknowledged AcknowledgedEvent() {
  MessageAcknowledged ev;
  ev.set_message_id("msg-1");
  ev.set_patient_id("pt-1");
  return ev;
}

enum class From { kNone, kSent, kDelivered, kAcknowledged };

MessageState StateOf(From from) {
  std::vector<DecodedEvent> events;
  if (from != From::kNone)
    events.push_back(Event(SentEvent()));
  if (from == From::kDelivered || from == From::kAcknowledged)
    events.push_back(Event(DeliveredEvent()));
  if (from == From::kAcknowledged)
    events.push_back(Event(AcknowledgedEvent()));
  MessageState s;
  for (const auto& e : events)
    EXPECT_THAT(FoldMessage(&s, e), IsOk());
  return s;
}

struct TransitionCase {
  From from;
  MessageAction action;
  absl::StatusCode code;
  const char* reason;
};

class MessageTransitionTest : public ::testing::TestWithParam<TransitionCase> {
};

TEST_P(MessageTransitionTest, AllowsOrRefusesWithTheReason) {
  const TransitionCase& c = GetParam();
  const MessageState s = StateOf(c.from);
  absl::Status st = CheckMessageTransition(s, c.action);
  EXPECT_EQ(st.code(), c.code) << st;
  if (st.ok()) {
    // Applying the allowed transition's event lands in the status StatusAfter
    // names.
    MessageState next = s;
    ASSERT_THAT(FoldMessage(&next, c.action == MessageAction::kRecordDelivery
                                       ? Event(DeliveredEvent())
                                       : Event(AcknowledgedEvent())),
                IsOk());
    EXPECT_EQ(next.status, StatusAfter(c.action));
  } else {
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.reason));
  }
}

using absl::StatusCode;
using M = MessageAction;

INSTANTIATE_TEST_SUITE_P(
    EveryStateAndAction, MessageTransitionTest,
    ::testing::Values(
        TransitionCase{From::kNone, M::kRecordDelivery, StatusCode::kNotFound,
                       "not found"},
        TransitionCase{From::kNone, M::kAcknowledge, StatusCode::kNotFound,
                       "not found"},
        TransitionCase{From::kSent, M::kRecordDelivery, StatusCode::kOk, ""},
        TransitionCase{From::kSent, M::kAcknowledge,
                       StatusCode::kFailedPrecondition,
                       "has not been delivered"},
        TransitionCase{From::kDelivered, M::kRecordDelivery,
                       StatusCode::kFailedPrecondition, "already delivered"},
        TransitionCase{From::kDelivered, M::kAcknowledge, StatusCode::kOk, ""},
        TransitionCase{From::kAcknowledged, M::kRecordDelivery,
                       StatusCode::kFailedPrecondition, "already acknowledged"},
        TransitionCase{From::kAcknowledged, M::kAcknowledge,
                       StatusCode::kFailedPrecondition,
                       "already acknowledged"}));

TEST(FoldMessageTest, KeepsTheEnvelope) {
  const MessageState s = StateOf(From::kDelivered);
  EXPECT_TRUE(s.exists);
  EXPECT_EQ(s.message_id, "msg-1");
  EXPECT_EQ(s.patient_id, "pt-1");
  EXPECT_EQ(s.kind, MESSAGE_KIND_TEST_RESULT);
  EXPECT_EQ(s.released_by, "dr-1");
  EXPECT_EQ(s.status, MESSAGE_STATUS_DELIVERED);
  EXPECT_EQ(s.delivery_channel, DELIVERY_CHANNEL_PORTAL);
}

TEST(FoldMessageTest, ForeignEventIsDataLoss) {
  MessageState s;
  EXPECT_THAT(FoldMessage(&s, Event(PatientFlagsSet())),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ResourceForMessageKindTest, EachKindHasItsResource) {
  EXPECT_STREQ(ResourceForMessageKind(MESSAGE_KIND_GENERAL),
               "clinical.messages");
  EXPECT_STREQ(ResourceForMessageKind(MESSAGE_KIND_TEST_RESULT),
               "clinical.test_results");
  EXPECT_STREQ(ResourceForMessageKind(MESSAGE_KIND_CARE_INSTRUCTIONS),
               "clinical.care_instructions");
}

SendMessageRequest ValidSend() {
  SendMessageRequest r;
  r.set_command_id("c1");
  r.set_patient_id("pt-1");
  r.set_provider_id("dr-1");
  r.set_direction(MESSAGE_DIRECTION_TO_PATIENT);
  r.set_kind(MESSAGE_KIND_CARE_INSTRUCTIONS);
  r.set_subject("After your visit");
  r.set_body("Rest and drink fluids.");
  r.set_released_by("dr-1");
  return r;
}

TEST(ValidateSendMessageTest, KindRulesAndFieldsAreNamed) {
  EXPECT_THAT(ValidateSendMessage(ValidSend()), IsOk());
  SendMessageRequest general = ValidSend();
  general.set_kind(MESSAGE_KIND_GENERAL);
  general.set_direction(MESSAGE_DIRECTION_FROM_PATIENT);
  general.clear_released_by();
  EXPECT_THAT(ValidateSendMessage(general), IsOk());

  struct Case {
    const char* field;
    SendMessageRequest req;
  };
  std::vector<Case> cases;
  cases.push_back({"patient_id:", ValidSend()});
  cases.back().req.clear_patient_id();
  cases.push_back({"provider_id:", ValidSend()});
  cases.back().req.set_provider_id("dr 1");
  cases.push_back({"direction:", ValidSend()});
  cases.back().req.set_direction(static_cast<MessageDirection>(9));
  cases.push_back({"kind:", ValidSend()});
  cases.back().req.set_kind(MESSAGE_KIND_UNSPECIFIED);
  cases.push_back({"subject:", ValidSend()});
  cases.back().req.clear_subject();
  cases.push_back({"body:", ValidSend()});
  cases.back().req.set_body(std::string(8001, 'x'));
  cases.push_back({"released_by:", ValidSend()});
  cases.back().req.clear_released_by();
  cases.push_back({"direction:", ValidSend()});
  cases.back().req.set_direction(MESSAGE_DIRECTION_FROM_PATIENT);
  cases.push_back({"released_by:", general});
  cases.back().req.set_released_by("dr-1");
  cases.push_back({"in_reply_to:", ValidSend()});
  cases.back().req.set_in_reply_to("msg/1");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    EXPECT_THAT(
        ValidateSendMessage(c.req),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)));
  }
}

}  // namespace
}  // namespace carelog::services
