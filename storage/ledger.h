// storage/ledger.h — the ledger engine: a durable, encrypted, hash-chained
// event log on RocksDB.
//
// Operation. Append() validates a command, checks its command id against the
// stored results (idempotency), seals each payload under its key class's key
// on the caller's thread, then queues the command for the single writer. The
// writer takes every queued command (group commit), checks expected versions,
// assigns global positions 1, 2, 3, … with no gaps, extends the BLAKE2b hash
// chain, and commits the whole group — events, stream index, command results
// and the new head — in one RocksDB WriteBatch with the WAL synced. Only then
// is any command of the group acknowledged; a write error fails them all.
//
// Concurrency. All public methods are thread-safe. Appends from any number of
// threads; reads never block the writer (RocksDB snapshots per read). Commit
// listeners run on the writer thread after each durable batch and must not
// block.
//
// Limitations. One process opens a data directory at a time (RocksDB's LOCK).
// Positions are dense but the writer is a single thread: throughput is bounded
// by one fsync per group. Verification of the whole log is O(n).
#ifndef CARELOG_STORAGE_LEDGER_H_
#define CARELOG_STORAGE_LEDGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "crypto/key_ring.h"
#include "crypto/secret_key.h"
#include "storage/clock.h"
#include "storage/merkle.h"
#include "storage/types.h"

namespace carelog::storage {

struct LedgerOptions {
  std::string data_dir;                    // created (mode 0700) if missing
  std::unique_ptr<crypto::SecretKey> kek;  // required; never stored in data_dir
  bool sync = true;  // fsync the WAL on every commit (never off in production)
  size_t queue_capacity =
      16384;  // commands waiting for the writer; beyond → RESOURCE_EXHAUSTED
  size_t max_batch_commands = 2048;   // commands per group commit
  size_t max_batch_bytes = 16 << 20;  // bytes per group commit (a larger single
                                      // command still goes alone)
  size_t max_events_per_command = 1000;
  size_t max_payload_bytes = 1 << 20;  // per event
  size_t max_command_bytes = 8 << 20;  // sum of payloads in one command
  uint64_t tail_check_events = 1024;   // verified on open
  size_t stream_cache_entries =
      1 << 20;  // writer's cache of stream head versions
  size_t key_cache_entries =
      4096;  // unwrapped subject keys kept in locked memory
  std::vector<std::string> extra_column_families;  // e.g. projections
  const Clock* clock = nullptr;                    // nullptr → SystemClock
  // Maintain the RFC 9162 Merkle tree in each commit's WriteBatch (see
  // storage/merkle.h). Off only for benchmarks: proofs and checkpoints then
  // fail with FAILED_PRECONDITION; the next open with it on backfills.
  bool merkle = true;
  CheckpointOptions checkpoints;  // signed checkpoints (need merkle)
};

// Details of one durable group commit, passed to commit listeners.
struct CommitInfo {
  Head head;
  uint64_t first_position =
      0;  // first position written by this batch (0 if none)
  size_t commands =
      0;              // commands acknowledged by this batch (incl. duplicates)
  size_t events = 0;  // events written
  absl::Duration write_duration;  // RocksDB write + WAL sync
};

// Counters for metrics. Monotonic except queue_depth and head.
struct LedgerStats {
  uint64_t batches = 0;
  uint64_t commands_committed = 0;
  uint64_t events_committed = 0;
  uint64_t commands_rejected =
      0;  // validation, version conflicts, duplicates with other content
  uint64_t write_failures = 0;
  uint64_t queue_depth = 0;
  Head head;
};

enum class VerifyProblem {
  kNone = 0,
  kMalformedRecord,      // bytes do not decode
  kPositionMismatch,     // record claims another position than its key
  kGap,                  // a position is missing
  kHashMismatch,         // chain hash does not recompute
  kMissingStreamIndex,   // no stream index entry for (stream, version)
  kStreamIndexMismatch,  // stream index points at another position
  kHeadMismatch,  // head record disagrees with the last event (truncation)
};

const char* VerifyProblemName(VerifyProblem p);

struct VerifyReport {
  absl::Status
      status;  // OK, or DATA_LOSS naming position and problem, or an I/O error
  uint64_t first_bad_position = 0;  // 0 when the range verified
  VerifyProblem problem = VerifyProblem::kNone;
  uint64_t events_checked = 0;
  Head verified_head;  // the last position checked and its hash
};

namespace internal {
class LedgerAccess;  // storage/internal/ledger_access.h (backup, maintenance)
}  // namespace internal

using AppendCallback = std::function<void(absl::StatusOr<AppendResult>)>;
using CommitListener = std::function<void(const CommitInfo&)>;

class Ledger {
 public:
  // Opens (or creates) the ledger in options.data_dir, checks the tail of the
  // chain and starts the writer. Blocks on I/O.
  // Errors: INVALID_ARGUMENT for bad options (naming them); FAILED_PRECONDITION
  // if the directory is locked by another process or the KEK does not match;
  // DATA_LOSS if the tail does not verify (the message names the first bad
  // position and the problem); UNAVAILABLE/INTERNAL for I/O errors.
  static absl::StatusOr<std::unique_ptr<Ledger>> Open(LedgerOptions options);

  // Drains queued commands (they commit or fail), stops the writer and closes
  // the database. Idempotent; also run by the destructor. Blocks.
  ~Ledger();
  void Stop();

  // Appends a command and blocks until it is durable or failed.
  // Errors: INVALID_ARGUMENT naming the field (nothing written); ABORTED when
  // an expected version does not hold (message names stream, expected and
  // actual version; nothing of the command written); ALREADY_EXISTS when the
  // command id was used for a different command; FAILED_PRECONDITION when a
  // subject's key was destroyed; RESOURCE_EXHAUSTED when the queue is full;
  // UNAVAILABLE when stopping or the write failed (nothing acknowledged).
  // A retry of an identical command returns the first result with
  // duplicate=true.
  absl::StatusOr<AppendResult> Append(const AppendRequest& request);

  // As Append, but never blocks on the commit: `done` runs exactly once, inline
  // on this thread for early outcomes (validation, duplicates, full queue) or
  // on the writer thread once the batch is durable. `done` must not block.
  // Sealing happens on this thread before queueing.
  void AppendAsync(const AppendRequest& request, AppendCallback done);

  // Checks a request against the limits without touching storage.
  absl::Status Validate(const AppendRequest& request) const;

  // The latest durable position and chain hash.
  Head GetHead() const;

  // Blocks until the head reaches `position` or `deadline` passes.
  // Errors: DEADLINE_EXCEEDED; CANCELLED if the ledger stops first.
  absl::Status WaitForPosition(uint64_t position, absl::Time deadline) const;

  // Registers `listener` to run after every durable batch (on the writer
  // thread; it must not block or call Append synchronously). Returns an id.
  uint64_t AddCommitListener(CommitListener listener);
  void RemoveCommitListener(uint64_t id);

  // The event at `position`. Errors: NOT_FOUND past the head or for 0;
  // DATA_LOSS if the stored bytes are malformed or claim another position.
  absl::StatusOr<StoredEvent> ReadAt(uint64_t position) const;

  // Up to `max_count` events of the global log starting at `from` (inclusive),
  // forwards or backwards; the chain links between consecutive events of the
  // page are checked. `next` in the page is where to continue (0 = end).
  // Errors: INVALID_ARGUMENT for max_count 0; DATA_LOSS on corruption.
  absl::StatusOr<ReadPage> ReadAll(
      uint64_t from, size_t max_count,
      Direction direction = Direction::kForward) const;

  // Up to `max_count` events of one stream from stream version `from_version`
  // (inclusive; 0 means the first/last depending on direction).
  // Errors: INVALID_ARGUMENT for a malformed stream id; DATA_LOSS on
  // corruption.
  absl::StatusOr<ReadPage> ReadStream(
      const std::string& stream_id, uint64_t from_version, size_t max_count,
      Direction direction = Direction::kForward) const;

  // The current version of a stream (0 if it does not exist).
  absl::StatusOr<uint64_t> StreamVersion(const std::string& stream_id) const;

  // The stored result of a command id. Errors: NOT_FOUND.
  absl::StatusOr<AppendResult> LookupCommand(
      const std::string& command_id) const;

  // Whether `request` was already committed: its stored result (duplicate =
  // true) if a command with this id and the same fingerprint exists.
  // Errors: NOT_FOUND if the id is unused; ALREADY_EXISTS if it was used for
  // a different command; INVALID_ARGUMENT for a malformed command id.
  absl::StatusOr<AppendResult> FindCommitted(
      const AppendRequest& request) const;

  // Opens an event's payload with its key. Errors: DATA_LOSS if it fails to
  // authenticate (tampered or moved); FAILED_PRECONDITION if the subject's key
  // was destroyed (erased); NOT_FOUND if the key never existed.
  absl::StatusOr<std::string> Decrypt(const StoredEvent& event) const;

  // Recomputes the chain over [from, to] (to = 0: the head) and checks each
  // event's stream index entry and, when reaching the head, the head record.
  // Reads a consistent snapshot. Never modifies anything.
  VerifyReport Verify(uint64_t from = 1, uint64_t to = 0) const;

  // Crypto-shredding of one subject's data key (see KeyRing). Events stay and
  // still verify; their payloads no longer open.
  absl::Status DestroySubjectKey(const std::string& subject_id);

  // --- Verifiable ledger (storage/merkle.h): tree size n covers positions
  // 1 … n; leaf index = position - 1. All may block on reads (O(log n)).
  // Common errors: FAILED_PRECONDITION when Merkle maintenance is off;
  // INVALID_ARGUMENT naming a size beyond the head or a position outside the
  // tree; DATA_LOSS when the stored tree is damaged.

  // The root of the tree of `tree_size` leaves (0: the empty root).
  absl::StatusOr<crypto::Digest> MerkleRoot(uint64_t tree_size) const;
  // The RFC 9162 inclusion proof of the event at `position` in the tree of
  // `tree_size` (position <= tree_size <= head).
  absl::StatusOr<std::vector<crypto::Digest>> InclusionProof(
      uint64_t position, uint64_t tree_size) const;
  // The RFC 9162 consistency proof from `old_size` to `new_size`
  // (old_size <= new_size <= head).
  absl::StatusOr<std::vector<crypto::Digest>> ConsistencyProof(
      uint64_t old_size, uint64_t new_size) const;

  // Signs and stores a checkpoint of the head (or returns the stored one of
  // that size). Errors: FAILED_PRECONDITION without a checkpoint key. Blocks on
  // a synced write.
  absl::StatusOr<SignedCheckpoint> MakeCheckpoint();
  // Stored checkpoints. Errors: NOT_FOUND (none yet / none of that size).
  absl::StatusOr<SignedCheckpoint> LatestCheckpoint() const;
  absl::StatusOr<SignedCheckpoint> CheckpointAt(uint64_t tree_size) const;
  // Up to `max_count` checkpoints of size >= from_size, ascending.
  absl::StatusOr<std::vector<SignedCheckpoint>> ListCheckpoints(
      uint64_t from_size, size_t max_count) const;
  // Blocks until a checkpoint of size >= tree_size exists or the deadline
  // passes (DEADLINE_EXCEEDED; FAILED_PRECONDITION without a key).
  absl::Status WaitForCheckpoint(uint64_t tree_size, absl::Time deadline) const;
  // The checkpoint verifier key "<origin>+<key hash>+<base64 key>" (note
  // format); empty without a key.
  std::string CheckpointVerifierKey() const;

  LedgerStats Stats() const;
  // OK while writes are accepted; after a storage write failure, the
  // UNAVAILABLE status every write now gets (see internal::Db::Write).
  absl::Status WritesStopped() const;
  crypto::KeyRing& key_ring();
  const std::string& data_dir() const;

  class Impl;

 private:
  friend class internal::LedgerAccess;
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Verifies a stopped data directory read-only (no writer, no KEK needed: the
// chain covers ciphertext). Errors as Ledger::Verify; FAILED_PRECONDITION if it
// cannot be opened (no ledger there, locked); DATA_LOSS if RocksDB finds it
// corrupt while opening, or — when the whole log is verified (from 1, to 0) —
// if any block of any table file fails its checksum (first_bad_position 0).
VerifyReport VerifyDataDir(const std::string& data_dir, uint64_t from = 1,
                           uint64_t to = 0);

}  // namespace carelog::storage

#endif  // CARELOG_STORAGE_LEDGER_H_
