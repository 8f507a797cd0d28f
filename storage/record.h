// storage/record.h — the on-disk encoding of events, command results and keys.
//
// Event record (format 1), integers big-endian:
//   header:  u8 format | u64 position | u64 stream_version | i64
//   recorded_at_micros
//            | u8 key_class | 16B event_id | 24B nonce | u8 len + stream_id
//            | u8 len + event_type | u8 len + subject_id | u8 len + command_id
//            | u32 ciphertext_len
//   body:    ciphertext (payload sealed with XChaCha20-Poly1305)
//   trailer: 32B chain hash = BLAKE2b-256(prev hash | header | ciphertext)
// The AEAD's associated data is the "sealed header": format, key class, event
// id, stream id, event type, subject id and command id — everything known
// before the sequencer assigns position, version and time (those are bound by
// the chain). See docs/ledger-format.md. Pure functions; thread-safe.
#ifndef CARELOG_STORAGE_RECORD_H_
#define CARELOG_STORAGE_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "storage/types.h"

namespace carelog::storage {

inline constexpr uint8_t kRecordFormat = 1;

// Associated data binding a ciphertext to its event's identity.
std::string SealedHeaderBytes(const EventHeader& h);

// Encodes the clear header (everything before the ciphertext).
std::string EncodeHeader(const EventHeader& h, uint32_t ciphertext_len);

// header | ciphertext | hash.
std::string EncodeRecord(absl::string_view header, absl::string_view ciphertext,
                         const Digest& chain_hash);

// A zero-copy view of a stored record (valid while `stored` lives).
struct RecordView {
  uint64_t position = 0;
  uint64_t stream_version = 0;
  absl::string_view stream_id;
  absl::string_view header;  // bytes the chain hashes before the ciphertext
  absl::string_view ciphertext;
  Digest chain_hash{};
};

// Parses the fields verification needs without copying.
// Errors: DATA_LOSS naming what is malformed.
absl::StatusOr<RecordView> ParseRecordView(absl::string_view stored);

// Parses a stored record. Errors: DATA_LOSS naming what is malformed.
// On success `header_bytes` and `ciphertext` (if non-null) view into `stored`.
absl::StatusOr<StoredEvent> DecodeRecord(
    absl::string_view stored, absl::string_view* header_bytes = nullptr);

// Big-endian key helpers.
std::string PositionKey(uint64_t position);
absl::StatusOr<uint64_t> DecodePositionKey(absl::string_view key);
void PutU64(std::string* out, uint64_t v);
uint64_t GetU64(const char* p);

// streams column family: 0x01 stream_id -> u64 head version;
//                        0x02 stream_id 0x00 u64 version -> u64 position.
std::string StreamHeadKey(absl::string_view stream_id);
std::string StreamEntryKey(absl::string_view stream_id, uint64_t version);
std::string StreamEntryPrefix(absl::string_view stream_id);

// commands column family: command id -> fingerprint | result.
std::string EncodeCommandRecord(const Digest& fingerprint,
                                const AppendResult& result);
absl::StatusOr<AppendResult> DecodeCommandRecord(absl::string_view stored,
                                                 Digest* fingerprint);

// meta ("default" column family): "head" -> u64 position | 32B hash.
std::string EncodeHead(const Head& head);
absl::StatusOr<Head> DecodeHead(absl::string_view stored);

}  // namespace carelog::storage

#endif  // CARELOG_STORAGE_RECORD_H_
