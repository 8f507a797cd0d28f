// services/domain/event_codec.h — domain events to ledger events and back.
//
// A domain event is a protobuf message; the ledger's event_type is its full
// type name and the sealed payload is a StoredPayload {EventMeta, Any(body)},
// so actor, roles, calling service and request id are encrypted with the
// event, never in the clear header. Thread-safe (pure functions).
#ifndef CARELOG_SERVICES_DOMAIN_EVENT_CODEC_H_
#define CARELOG_SERVICES_DOMAIN_EVENT_CODEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/message.h"

#include "carelog/v1/common.pb.h"
#include "services/server/request_context.h"
#include "storage/ledger.h"

namespace carelog::services {

struct DecodedEvent {
  storage::EventHeader header;
  carelog::v1::EventMeta meta;
  google::protobuf::Any body;

  // Unpacks the body into `msg` if it has that type.
  template <typename T>
  bool As(T* msg) const {
    return body.Is<T>() && body.UnpackTo(msg);
  }
};

carelog::v1::EventMeta MetaFor(const RequestContext& ctx);

// A ledger event carrying `body` with `meta`.
storage::NewEvent ToLedgerEvent(const google::protobuf::Message& body,
                                const carelog::v1::EventMeta& meta,
                                crypto::KeyClass key_class,
                                const std::string& subject_id);

// Decrypts and parses a stored event. Errors: those of Ledger::Decrypt
// (DATA_LOSS, FAILED_PRECONDITION for an erased subject); DATA_LOSS if the
// payload does not parse or its body type differs from the header's type.
absl::StatusOr<DecodedEvent> DecodeEvent(const storage::Ledger& ledger,
                                         const storage::StoredEvent& event);

// Deterministic bytes of a message (for idempotency fingerprints).
std::string DeterministicBytes(const google::protobuf::Message& msg);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_DOMAIN_EVENT_CODEC_H_
