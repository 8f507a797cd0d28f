// ops/bench/pg_chain.h — the PostgreSQL baseline of carelog-loadbench: what a
// team would build instead of carelog, a hash-chained event table.
//
// Schema (created by Setup, dropped first if present):
//   chain_head(id, position, hash)   one row: the head of the global chain
//   events(position PK, stream_id, version, event_type, recorded_at,
//          command_id UNIQUE, payload, prev_hash, hash, UNIQUE(stream_id,
//          version))
// append_event(stream, expected_version, type, command_id, payload) checks the
// stream's version optimistically (expected must equal the current version),
// then takes the head row FOR UPDATE, computes
// hash = sha256(prev_hash ‖ stream ‖ version ‖ type ‖ command_id ‖ payload),
// inserts the event and advances the head, in one transaction: one round
// trip per append, committed with synchronous_commit on (the server's
// setting; the script starts PostgreSQL with it on). Payloads are stored in
// the clear: no encryption, no policy, no audit — less work than carelog does.
//
// Thread-safety: a PgAppender owns one connection and is used by one thread.
#ifndef CARELOG_OPS_BENCH_PG_CHAIN_H_
#define CARELOG_OPS_BENCH_PG_CHAIN_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carelog::bench {

// Creates the schema and function on a fresh connection to `conninfo`.
// Errors: UNAVAILABLE if PostgreSQL cannot be reached; INTERNAL on SQL errors.
absl::Status PgSetup(const std::string& conninfo);

// Verifies the whole chain (recomputes every hash in order) and returns the
// number of events. Errors: DATA_LOSS naming the first bad position.
absl::StatusOr<uint64_t> PgVerifyChain(const std::string& conninfo);

// The server's value of a setting (e.g. "synchronous_commit").
absl::StatusOr<std::string> PgSetting(const std::string& conninfo,
                                      absl::string_view name);

class PgAppender {
 public:
  // Connects and prepares the append statement. Errors: UNAVAILABLE.
  static absl::StatusOr<std::unique_ptr<PgAppender>> Connect(
      const std::string& conninfo);
  ~PgAppender();
  PgAppender(const PgAppender&) = delete;
  PgAppender& operator=(const PgAppender&) = delete;

  // Appends one event to `stream` expecting version `expected`; blocks until
  // the commit is durable. Errors: ABORTED on a version conflict; INTERNAL
  // for any other failure (the message carries PostgreSQL's).
  absl::Status Append(absl::string_view stream, int64_t expected,
                      absl::string_view type, absl::string_view command_id,
                      absl::string_view payload);

 private:
  struct Conn;
  explicit PgAppender(std::unique_ptr<Conn> conn);
  std::unique_ptr<Conn> conn_;
};

}  // namespace carelog::bench

#endif  // CARELOG_OPS_BENCH_PG_CHAIN_H_
