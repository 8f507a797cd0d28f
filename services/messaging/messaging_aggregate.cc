#include "services/messaging/messaging_aggregate.h"

#include "absl/strings/str_cat.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace): event
                              // names read better unqualified

absl::Status FoldMessage(MessageState* s, const DecodedEvent& e) {
  if (MessageSent ev; e.As(&ev)) {
    s->exists = true;
    s->message_id = ev.message_id();
    s->patient_id = ev.patient_id();
    s->provider_id = ev.provider_id();
    s->kind = ev.kind();
    s->direction = ev.direction();
    s->released_by = ev.released_by();
    s->status = MESSAGE_STATUS_SENT;
  } else if (MessageDeliveryRecorded ev; e.As(&ev)) {
    s->status = MESSAGE_STATUS_DELIVERED;
    s->delivery_channel = ev.channel();
  } else if (MessageAcknowledged ev; e.As(&ev)) {
    s->status = MESSAGE_STATUS_ACKNOWLEDGED;
  } else {
    return absl::DataLossError(absl::StrCat(
        "message aggregate cannot apply event type ", e.header.event_type));
  }
  return absl::OkStatus();
}

absl::string_view MessageActionName(MessageAction a) {
  switch (a) {
    case MessageAction::kRecordDelivery:
      return "record delivery";
    case MessageAction::kAcknowledge:
      return "acknowledge";
  }
  return "unknown action";
}

absl::Status CheckMessageTransition(const MessageState& s, MessageAction a) {
  if (!s.exists)
    return absl::NotFoundError("message not found");
  const std::string prefix =
      absl::StrCat("cannot ", MessageActionName(a), ": message ", s.message_id);
  switch (a) {
    case MessageAction::kRecordDelivery:
      if (s.status == MESSAGE_STATUS_DELIVERED)
        return absl::FailedPreconditionError(prefix + " is already delivered");
      if (s.status == MESSAGE_STATUS_ACKNOWLEDGED) {
        return absl::FailedPreconditionError(prefix +
                                             " is already acknowledged");
      }
      if (s.status != MESSAGE_STATUS_SENT)
        return absl::FailedPreconditionError(prefix +
                                             " is in an unknown state");
      return absl::OkStatus();
    case MessageAction::kAcknowledge:
      if (s.status == MESSAGE_STATUS_SENT)
        return absl::FailedPreconditionError(prefix +
                                             " has not been delivered");
      if (s.status == MESSAGE_STATUS_ACKNOWLEDGED) {
        return absl::FailedPreconditionError(prefix +
                                             " is already acknowledged");
      }
      if (s.status != MESSAGE_STATUS_DELIVERED)
        return absl::FailedPreconditionError(prefix +
                                             " is in an unknown state");
      return absl::OkStatus();
  }
  return absl::InternalError("unknown message action");
}

MessageStatus StatusAfter(MessageAction a) {
  return a == MessageAction::kRecordDelivery ? MESSAGE_STATUS_DELIVERED
                                             : MESSAGE_STATUS_ACKNOWLEDGED;
}

const char* ResourceForMessageKind(MessageKind kind) {
  switch (kind) {
    case MESSAGE_KIND_TEST_RESULT:
      return "clinical.test_results";
    case MESSAGE_KIND_CARE_INSTRUCTIONS:
      return "clinical.care_instructions";
    default:
      return "clinical.messages";
  }
}

}  // namespace carelog::services
