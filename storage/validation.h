// storage/validation.h — checks an append request against the ledger's rules
// before anything is sealed or written, and its canonical bytes for the
// idempotency fingerprint. Pure functions; thread-safe.
#ifndef CARELOG_STORAGE_VALIDATION_H_
#define CARELOG_STORAGE_VALIDATION_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "storage/types.h"

namespace carelog::storage {

struct LedgerLimits {
  size_t max_events_per_command = 1000;
  size_t max_payload_bytes = 1 << 20;
  size_t max_command_bytes = 8 << 20;
};

// OK, or INVALID_ARGUMENT whose message names the offending field (e.g.
// "streams[1].events[0].payload: 1048577 bytes exceeds the limit of 1048576").
// Messages carry sizes and positions, never field contents.
absl::Status ValidateAppendRequest(const AppendRequest& request,
                                   const LedgerLimits& limits);

// "<kind>/<id>" ids: 1..128 bytes of [A-Za-z0-9._:/@-].
absl::Status ValidateStreamId(absl::string_view id, absl::string_view field);
// Opaque subject ids: up to 64 bytes of [A-Za-z0-9._:-]; empty allowed unless
// required.
absl::Status ValidateSubjectId(absl::string_view id, absl::string_view field,
                               bool required);

// An unambiguous encoding of everything the command asks for (streams,
// expected versions, event types, key classes, subjects, payloads): two
// requests are the same command iff these bytes are equal.
std::string CanonicalCommandBytes(const AppendRequest& request);

}  // namespace carelog::storage

#endif  // CARELOG_STORAGE_VALIDATION_H_
