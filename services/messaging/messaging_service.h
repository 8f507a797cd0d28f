// services/messaging/messaging_service.h — carelog.v1.MessagingService: send
// a message between a patient and a provider (general message, test result,
// care instructions), record its delivery and its acknowledgement.
//
// Every RPC runs through the CommandRunner (authenticate, validate, idempotent
// retry, authorize at the enforcement point, decide on the aggregate, append
// with the aggregate's version + audit events atomically).
//
// Authorization. SendMessage authorizes "write" on the resource of the
// message's kind (clinical.messages, clinical.test_results,
// clinical.care_instructions): sending is what discloses the content.
// RecordMessageDelivery and AcknowledgeMessage authorize "write" on
// clinical.messages whatever the kind: they record the envelope's status
// (delivered, read by its recipient), neither change nor disclose the
// content, and the recipient of a test result — the patient, under the
// default policy — must be able to acknowledge it.
//
// An unknown message id is NOT_FOUND before any authorization: ids are
// random (128 bits), so the answer reveals nothing about any patient.
// Thread-safe.
#ifndef CARELOG_SERVICES_MESSAGING_MESSAGING_SERVICE_H_
#define CARELOG_SERVICES_MESSAGING_MESSAGING_SERVICE_H_

#include <string>

#include "carelog/v1/messaging.grpc.pb.h"
#include "services/domain/aggregate.h"
#include "services/domain/command_runner.h"
#include "services/messaging/messaging_aggregate.h"
#include "services/patients/patient_aggregate.h"

namespace carelog::services {

// Validation of each request (INVALID_ARGUMENT naming the field). Exposed for
// tests.
absl::Status ValidateSendMessage(const carelog::v1::SendMessageRequest& r);
absl::Status ValidateRecordMessageDelivery(
    const carelog::v1::RecordMessageDeliveryRequest& r);
absl::Status ValidateAcknowledgeMessage(
    const carelog::v1::AcknowledgeMessageRequest& r);

class MessagingServiceImpl final
    : public carelog::v1::MessagingService::CallbackService {
 public:
  // `runner` must outlive the service.
  explicit MessagingServiceImpl(CommandRunner* runner);

  grpc::ServerUnaryReactor* SendMessage(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::SendMessageRequest* req,
      carelog::v1::SendMessageReply* reply) override;
  grpc::ServerUnaryReactor* RecordMessageDelivery(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RecordMessageDeliveryRequest* req,
      carelog::v1::MessageCommandReply* reply) override;
  grpc::ServerUnaryReactor* AcknowledgeMessage(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::AcknowledgeMessageRequest* req,
      carelog::v1::MessageCommandReply* reply) override;

 private:
  using LoadedMessage = AggregateRepository<MessageState>::Loaded;

  // Loads the message (NOT_FOUND if unknown), authorizes clinical.messages /
  // write with the actor's facts about its patient, then checks `action` is
  // allowed in its state.
  absl::StatusOr<LoadedMessage> LoadForAction(CommandScope& scope,
                                              const std::string& message_id,
                                              MessageAction action);

  CommandRunner* const runner_;
  AggregateRepository<PatientState> patients_;
  AggregateRepository<MessageState> messages_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_MESSAGING_MESSAGING_SERVICE_H_
