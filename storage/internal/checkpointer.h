// storage/internal/checkpointer.h — signs and stores checkpoints of the
// ledger's Merkle tree in the `checkpoints` column family.
//
//   checkpoints CF: u64 tree size (big-endian) → signed checkpoint note
//
// Operation. Make() signs the current head: tree size = head position, the
// tree root at that size (read from the stored tree), the chain hash and the
// time, and stores the note with a synced write. A checkpoint of a size that
// already has one is returned as stored (one note per size). With a key and a
// policy (every N events or T seconds), a background thread makes checkpoints
// when due: a commit listener wakes it once N new events are durable, and it
// wakes by itself after T when the head has moved.
// Concurrency. All methods are thread-safe; Make() calls are serialised.
// Limitations. Checkpoints are only as frequent as the policy; a crash loses
// nothing (every stored note is durable) but the next one starts from the
// last stored size.
#ifndef CARELOG_STORAGE_INTERNAL_CHECKPOINTER_H_
#define CARELOG_STORAGE_INTERNAL_CHECKPOINTER_H_

#include <cstdint>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "storage/clock.h"
#include "storage/internal/db.h"
#include "storage/internal/merkle_tree.h"
#include "storage/internal/sequencer.h"
#include "storage/merkle.h"

namespace carelog::storage::internal {

// Reads of stored checkpoints (no key needed). Errors: NOT_FOUND; DATA_LOSS
// for a malformed note; I/O errors.
absl::StatusOr<SignedCheckpoint> ReadCheckpoint(const Db& db,
                                                const rocksdb::Snapshot* snap,
                                                uint64_t tree_size);
absl::StatusOr<SignedCheckpoint> ReadLatestCheckpoint(
    const Db& db, const rocksdb::Snapshot* snap);
// Checkpoints with tree size >= from, ascending, at most max_count.
absl::StatusOr<std::vector<SignedCheckpoint>> ListCheckpoints(
    const Db& db, const rocksdb::Snapshot* snap, uint64_t from,
    size_t max_count);

class Checkpointer {
 public:
  // All pointers must outlive the checkpointer. `merkle` is the writer's
  // tree (non-null). Starts the background thread when options.key is set and
  // a policy is on.
  Checkpointer(Db* db, Sequencer* sequencer, MerkleHook* merkle,
               CheckpointOptions options, const Clock* clock);
  ~Checkpointer();

  // Stops the thread (and, with options.on_stop, checkpoints the final head).
  // Idempotent. Blocks.
  void Stop();

  // Signs the current head. Errors: FAILED_PRECONDITION without a key;
  // DATA_LOSS if the tree is missing nodes; I/O errors. Blocks on a synced
  // write.
  absl::StatusOr<SignedCheckpoint> Make();

  // Blocks until a checkpoint of size >= tree_size is stored or the deadline
  // passes. Errors: DEADLINE_EXCEEDED.
  absl::Status WaitFor(uint64_t tree_size, absl::Time deadline) const;

  uint64_t latest_size() const;
  // The verifier key (note format) of the signing key; empty without one.
  std::string VerifierKey() const;

 private:
  void Run();

  Db* const db_;
  Sequencer* const sequencer_;
  MerkleHook* const merkle_;
  const CheckpointOptions options_;
  const Clock* const clock_;
  uint64_t listener_ = 0;

  absl::Mutex make_mu_;  // serialises Make()

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  bool have_latest_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t latest_size_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time latest_time_ ABSL_GUARDED_BY(mu_);
  bool poked_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace carelog::storage::internal

#endif  // CARELOG_STORAGE_INTERNAL_CHECKPOINTER_H_
