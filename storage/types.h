// storage/types.h — the ledger's value types: what a command appends, what an
// append returns, what a read returns. Plain structs; no thread-safety needed.
#ifndef CARELOG_STORAGE_TYPES_H_
#define CARELOG_STORAGE_TYPES_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/key_ring.h"

namespace carelog::storage {

using crypto::Digest;
using crypto::KeyClass;

// Limits enforced by validation (see Ledger::Validate).
inline constexpr size_t kMaxStreamIdBytes = 128;
inline constexpr size_t kMaxEventTypeBytes = 128;
inline constexpr size_t kMaxSubjectIdBytes = 64;
inline constexpr size_t kMaxCommandIdBytes = 128;
inline constexpr size_t kEventIdBytes = 16;

// The expected version a stream append is conditional on.
enum class ExpectedKind : uint8_t {
  kAny = 0,       // no check
  kNoStream = 1,  // the stream must not exist yet
  kExact =
      2,  // the stream's current version must equal `version` (0 = no stream)
  kStreamExists = 3,  // the stream must have at least one event
};

struct ExpectedVersion {
  ExpectedKind kind = ExpectedKind::kAny;
  uint64_t version = 0;

  static ExpectedVersion Any() { return {ExpectedKind::kAny, 0}; }
  static ExpectedVersion NoStream() { return {ExpectedKind::kNoStream, 0}; }
  static ExpectedVersion Exact(uint64_t v) { return {ExpectedKind::kExact, v}; }
  static ExpectedVersion StreamExists() {
    return {ExpectedKind::kStreamExists, 0};
  }
};

// One event to append. `payload` is plaintext: it is sealed before it reaches
// the sequencer and never stored as is.
struct NewEvent {
  std::string event_type;  // [A-Za-z0-9._-], 1..128 bytes, e.g.
                           // "carelog.v1.PatientRegistered"
  std::string payload;  // serialized event body (PHI allowed: it is encrypted)
  KeyClass key_class = KeyClass::kSubject;
  std::string subject_id;  // opaque patient id; required for kSubject, optional
                           // otherwise
};

struct StreamAppend {
  std::string stream_id;  // "<kind>/<id>": [A-Za-z0-9._:/@-], 1..128 bytes
  ExpectedVersion expected;
  std::vector<NewEvent> events;  // at least one
};

// A command: one or more stream appends committed atomically.
struct AppendRequest {
  std::string command_id;  // client-chosen idempotency key:
                           // [A-Za-z0-9._:-], 1..128 bytes
  std::vector<StreamAppend> streams;
  // What makes two commands "the same" for idempotency. Empty: the canonical
  // bytes of `streams` (every stream, version, type and payload). Domain
  // handlers pass the client's request bytes instead, because their payloads
  // carry per-attempt metadata (request id, time) that differs on a retry.
  std::string fingerprint_material;
};

struct StreamAppendResult {
  std::string stream_id;
  uint64_t first_version = 0;
  uint64_t last_version = 0;
};

struct AppendResult {
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  std::vector<StreamAppendResult> streams;  // in request order
  bool duplicate = false;  // true when this is the stored result of an earlier
                           // identical command
};

// The clear header of a stored event. Holds no patient data.
struct EventHeader {
  uint64_t position = 0;
  uint64_t stream_version = 0;
  int64_t recorded_at_micros = 0;
  KeyClass key_class = KeyClass::kSystem;
  std::array<uint8_t, kEventIdBytes> event_id{};
  crypto::Nonce nonce{};
  std::string stream_id;
  std::string event_type;
  std::string subject_id;
  std::string command_id;
};

// An event as stored: header, ciphertext and chain hash, plus the exact stored
// bytes (what the chain and the Merkle tree commit to).
struct StoredEvent {
  EventHeader header;
  std::string ciphertext;
  Digest chain_hash{};
  std::string stored_bytes;
};

struct Head {
  uint64_t position = 0;  // 0 = empty ledger
  Digest chain_hash{};    // genesis (all zero) for an empty ledger
};

enum class Direction { kForward, kBackward };

struct ReadPage {
  std::vector<StoredEvent> events;
  // Where the next page starts (position or stream version); 0 when the end was
  // reached.
  uint64_t next = 0;
};

}  // namespace carelog::storage

#endif  // CARELOG_STORAGE_TYPES_H_
