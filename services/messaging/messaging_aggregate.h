// services/messaging/messaging_aggregate.h — a message's state, folded from
// stream message/<id>, and the rules messaging commands check against it.
// Pure code (no I/O); thread-compatible.
#ifndef CARELOG_SERVICES_MESSAGING_MESSAGING_AGGREGATE_H_
#define CARELOG_SERVICES_MESSAGING_MESSAGING_AGGREGATE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "carelog/v1/messaging.pb.h"
#include "services/domain/event_codec.h"

namespace carelog::services {

inline std::string MessageStream(const std::string& message_id) {
  return "message/" + message_id;
}

struct MessageState {
  bool exists = false;
  std::string message_id;
  std::string patient_id;
  std::string provider_id;
  carelog::v1::MessageKind kind = carelog::v1::MESSAGE_KIND_UNSPECIFIED;
  carelog::v1::MessageDirection direction =
      carelog::v1::MESSAGE_DIRECTION_UNSPECIFIED;
  carelog::v1::MessageStatus status = carelog::v1::MESSAGE_STATUS_UNSPECIFIED;
  std::string released_by;
  carelog::v1::DeliveryChannel delivery_channel =
      carelog::v1::DELIVERY_CHANNEL_UNSPECIFIED;
};

// Applies one event. Errors: DATA_LOSS for an event type the aggregate does
// not know (never silently skipped).
absl::Status FoldMessage(MessageState* state, const DecodedEvent& event);

// The commands that act on an existing message.
enum class MessageAction { kRecordDelivery, kAcknowledge };
absl::string_view MessageActionName(MessageAction action);

// OK when `action` may run on `state`; NOT_FOUND if the message does not
// exist; FAILED_PRECONDITION with the reason otherwise (delivery only from
// SENT, acknowledgement only from DELIVERED).
absl::Status CheckMessageTransition(const MessageState& state,
                                    MessageAction action);

// The status an allowed action leads to.
carelog::v1::MessageStatus StatusAfter(MessageAction action);

// The access-policy resource a message of `kind` is: clinical.messages,
// clinical.test_results or clinical.care_instructions.
const char* ResourceForMessageKind(carelog::v1::MessageKind kind);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_MESSAGING_MESSAGING_AGGREGATE_H_
