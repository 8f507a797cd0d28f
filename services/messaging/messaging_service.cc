#include "services/messaging/messaging_service.h"

#include "absl/strings/str_cat.h"

#include "services/domain/validate.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)
using storage::ExpectedVersion;

namespace {

constexpr char kMessages[] = "clinical.messages";
constexpr char kWrite[] = "write";

#define RETURN_IF_ERROR(expr) \
  do {                        \
    absl::Status _s = (expr); \
    if (!_s.ok())             \
      return _s;              \
  } while (0)

}  // namespace

absl::Status ValidateSendMessage(const SendMessageRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckId(r.provider_id(), "provider_id"));
  RETURN_IF_ERROR(CheckEnum(MessageDirection_IsValid(r.direction()),
                            r.direction(), "direction"));
  RETURN_IF_ERROR(CheckEnum(MessageKind_IsValid(r.kind()), r.kind(), "kind"));
  RETURN_IF_ERROR(CheckText(r.subject(), "subject", kMaxShortTextBytes, true));
  RETURN_IF_ERROR(CheckText(r.body(), "body", kMaxLongTextBytes, true));
  const bool released = r.kind() == MESSAGE_KIND_TEST_RESULT ||
                        r.kind() == MESSAGE_KIND_CARE_INSTRUCTIONS;
  if (released && r.direction() != MESSAGE_DIRECTION_TO_PATIENT) {
    return absl::InvalidArgumentError(
        "direction: test results and care instructions go to the patient");
  }
  RETURN_IF_ERROR(CheckId(r.released_by(), "released_by", released));
  if (!released && !r.released_by().empty()) {
    return absl::InvalidArgumentError(
        "released_by: only for test results and care instructions");
  }
  return CheckId(r.in_reply_to(), "in_reply_to", false);
}

absl::Status ValidateRecordMessageDelivery(
    const RecordMessageDeliveryRequest& r) {
  RETURN_IF_ERROR(CheckId(r.message_id(), "message_id"));
  return CheckEnum(DeliveryChannel_IsValid(r.channel()), r.channel(),
                   "channel");
}

absl::Status ValidateAcknowledgeMessage(const AcknowledgeMessageRequest& r) {
  return CheckId(r.message_id(), "message_id");
}

MessagingServiceImpl::MessagingServiceImpl(CommandRunner* runner)
    : runner_(runner),
      patients_(runner->ledger(), FoldPatient),
      messages_(runner->ledger(), FoldMessage) {}

absl::StatusOr<MessagingServiceImpl::LoadedMessage>
MessagingServiceImpl::LoadForAction(CommandScope& scope,
                                    const std::string& message_id,
                                    MessageAction action) {
  auto msg = messages_.Load(MessageStream(message_id));
  if (!msg.ok())
    return msg.status();
  if (!msg->state.exists)
    return absl::NotFoundError(
        absl::StrCat("message ", message_id, " not found"));
  const std::string& patient_id = msg->state.patient_id;
  auto patient = patients_.Load(PatientStream(patient_id));
  if (!patient.ok())
    return patient.status();
  // Authorize before revealing anything about the message's state.
  RETURN_IF_ERROR(
      scope.Authorize(kMessages, kWrite, patient_id,
                      PatientFactsFor(patient->state, scope.ctx().actor)));
  RETURN_IF_ERROR(CheckMessageTransition(msg->state, action));
  return msg;
}

grpc::ServerUnaryReactor* MessagingServiceImpl::SendMessage(
    grpc::CallbackServerContext* ctx, const SendMessageRequest* req,
    SendMessageReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.MessagingService/SendMessage",
      req->command_id(), *req, [req] { return ValidateSendMessage(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        const std::string& patient_id = req->patient_id();
        auto patient = patients_.Load(PatientStream(patient_id));
        if (!patient.ok())
          return patient.status();
        RETURN_IF_ERROR(scope.Authorize(
            ResourceForMessageKind(req->kind()), kWrite, patient_id,
            PatientFactsFor(patient->state, scope.ctx().actor)));
        RETURN_IF_ERROR(RequireExists(patient->state, patient_id));
        if (!req->in_reply_to().empty()) {
          auto earlier = messages_.Load(MessageStream(req->in_reply_to()));
          if (!earlier.ok())
            return earlier.status();
          // Another patient's message is "not found" for this one: a thread
          // never spans patients.
          if (!earlier->state.exists ||
              earlier->state.patient_id != patient_id) {
            return absl::NotFoundError(
                absl::StrCat("message ", req->in_reply_to(),
                             " not found for patient ", patient_id));
          }
        }
        const std::string id = NewId("msg-");
        MessageSent ev;
        ev.set_message_id(id);
        ev.set_patient_id(patient_id);
        ev.set_provider_id(req->provider_id());
        ev.set_direction(req->direction());
        ev.set_kind(req->kind());
        ev.set_subject(req->subject());
        ev.set_body(req->body());
        ev.set_released_by(req->released_by());
        ev.set_in_reply_to(req->in_reply_to());
        scope.Append(MessageStream(id), ExpectedVersion::NoStream(), ev,
                     patient_id);
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r,
              const std::vector<google::protobuf::Any>& bodies) {
        FillCommandResult(r, reply->mutable_result());
        MessageSent ev;
        if (!bodies.empty() && bodies[0].UnpackTo(&ev))
          reply->set_message_id(ev.message_id());
      });
  return reactor;
}

grpc::ServerUnaryReactor* MessagingServiceImpl::RecordMessageDelivery(
    grpc::CallbackServerContext* ctx, const RecordMessageDeliveryRequest* req,
    MessageCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.MessagingService/RecordMessageDelivery",
      req->command_id(), *req,
      [req] { return ValidateRecordMessageDelivery(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        auto msg = LoadForAction(scope, req->message_id(),
                                 MessageAction::kRecordDelivery);
        if (!msg.ok())
          return msg.status();
        MessageDeliveryRecorded ev;
        ev.set_message_id(msg->state.message_id);
        ev.set_patient_id(msg->state.patient_id);
        ev.set_channel(req->channel());
        scope.Append(MessageStream(msg->state.message_id),
                     ExpectedVersion::Exact(msg->version), ev,
                     msg->state.patient_id);
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r, const auto&) {
        FillCommandResult(r, reply->mutable_result());
      });
  return reactor;
}

grpc::ServerUnaryReactor* MessagingServiceImpl::AcknowledgeMessage(
    grpc::CallbackServerContext* ctx, const AcknowledgeMessageRequest* req,
    MessageCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.MessagingService/AcknowledgeMessage",
      req->command_id(), *req,
      [req] { return ValidateAcknowledgeMessage(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        auto msg = LoadForAction(scope, req->message_id(),
                                 MessageAction::kAcknowledge);
        if (!msg.ok())
          return msg.status();
        MessageAcknowledged ev;
        ev.set_message_id(msg->state.message_id);
        ev.set_patient_id(msg->state.patient_id);
        scope.Append(MessageStream(msg->state.message_id),
                     ExpectedVersion::Exact(msg->version), ev,
                     msg->state.patient_id);
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r, const auto&) {
        FillCommandResult(r, reply->mutable_result());
      });
  return reactor;
}

}  // namespace carelog::services
