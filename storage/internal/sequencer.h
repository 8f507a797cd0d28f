// storage/internal/sequencer.h — the single writer: group commit of sealed
// commands into one synced RocksDB WriteBatch.
//
// Operation. Callers Submit() sealed commands into a bounded queue. One thread
// takes everything queued (up to the batch limits), resolves command-id
// duplicates, checks expected versions against a cache of stream heads (the
// writer is the only writer, so the cache is exact), assigns positions and
// stream versions, extends the hash chain, writes events + stream index +
// command results + head in one WriteBatch with sync, publishes the new head,
// runs commit listeners, and only then completes the commands' callbacks.
//
// Concurrency. Submit/head/wait/listener methods are thread-safe. Callbacks and
// listeners run on the writer thread, outside the queue and head locks.
//
// Limitations. One fsync per group: latency is at least one fsync. After a
// failed write the writer re-reads the head from disk before going on, since
// RocksDB may or may not have applied the failed batch; commands reported
// failed may therefore exist after all — clients retry with the same command
// id and get the stored result.
#ifndef CARELOG_STORAGE_INTERNAL_SEQUENCER_H_
#define CARELOG_STORAGE_INTERNAL_SEQUENCER_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

#include "storage/clock.h"
#include "storage/internal/db.h"
#include "storage/internal/merkle_tree.h"
#include "storage/ledger.h"

namespace carelog::storage::internal {

struct SealedEvent {
  EventHeader
      header;  // position, stream_version and recorded_at set by the writer
  std::string ciphertext;
};

struct SealedStream {
  std::string stream_id;
  ExpectedVersion expected;
  std::vector<SealedEvent> events;
};

struct PendingCommand {
  std::string command_id;
  Digest fingerprint{};
  std::vector<SealedStream> streams;
  size_t bytes = 0;
  AppendCallback done;
};

// Fault injection (tests only): what the writer does with a group's
// WriteBatch.
enum class WriteFault {
  kNone,           // write it
  kFailUnwritten,  // report a failed write without writing anything
  kFailWritten,    // write it, then report a failure — as RocksDB may when
                   // the WAL append landed but the sync failed
};

struct SequencerOptions {
  bool sync = true;
  size_t queue_capacity = 16384;
  size_t max_batch_commands = 2048;
  size_t max_batch_bytes = 16 << 20;
  size_t stream_cache_entries = 1 << 20;
  // Tests only (null in production): called before each group's write; its
  // answer may fail that write. The failed group's commands are answered
  // UNAVAILABLE and the writer reloads the head and the Merkle frontier.
  std::function<WriteFault()> write_fault;
};

class Sequencer {
 public:
  // `db` must outlive the sequencer. Starts the writer thread. `merkle`
  // (may be null: no tree maintenance; must outlive the sequencer) adds each
  // event's Merkle leaf and completed nodes to the group's WriteBatch.
  Sequencer(Db* db, SequencerOptions options, const Clock* clock, Head head,
            int64_t last_recorded_micros, MerkleHook* merkle = nullptr);
  ~Sequencer();

  // Queues a command, taking ownership of *cmd on success. Errors:
  // RESOURCE_EXHAUSTED when the queue is full; UNAVAILABLE when stopping. On
  // error *cmd is left with the caller and its callback has not run.
  absl::Status Submit(std::unique_ptr<PendingCommand>* cmd);

  // Stops accepting, commits what is queued, joins the writer. Idempotent.
  void Stop();

  Head head() const;
  absl::Status WaitForPosition(uint64_t position, absl::Time deadline) const;
  uint64_t AddListener(CommitListener listener);
  void RemoveListener(uint64_t id);
  void FillStats(LedgerStats* stats) const;

 private:
  void Run();
  void CommitGroup(std::vector<std::unique_ptr<PendingCommand>>* group);
  absl::StatusOr<uint64_t> CurrentVersion(const std::string& stream_id);
  void RecoverAfterWriteFailure();

  Db* const db_;
  const SequencerOptions options_;
  const Clock* const clock_;
  MerkleHook* const merkle_;

  // Writer-thread state (no lock: only the writer touches it).
  absl::flat_hash_map<std::string, uint64_t> stream_versions_;
  Head writer_head_;
  int64_t last_recorded_micros_;

  mutable absl::Mutex queue_mu_;
  absl::CondVar queue_cv_;
  std::deque<std::unique_ptr<PendingCommand>> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  mutable absl::Mutex head_mu_;
  Head head_ ABSL_GUARDED_BY(head_mu_);
  bool stopped_ ABSL_GUARDED_BY(head_mu_) = false;

  // Held while listeners run so that RemoveListener returns only once the
  // listener can no longer be running (listeners must not call RemoveListener).
  absl::Mutex listeners_mu_;
  std::vector<std::pair<uint64_t, CommitListener>> listeners_
      ABSL_GUARDED_BY(listeners_mu_);
  uint64_t next_listener_id_ ABSL_GUARDED_BY(listeners_mu_) = 1;

  std::atomic<uint64_t> batches_{0}, commands_committed_{0},
      events_committed_{0}, commands_rejected_{0}, write_failures_{0},
      queue_depth_{0};

  std::thread writer_;
};

}  // namespace carelog::storage::internal

#endif  // CARELOG_STORAGE_INTERNAL_SEQUENCER_H_
