// services/projections/projection_worker.h — keeps one View up to date by
// tailing the ledger.
//
// Operation. One thread per worker. It reads the global log from the live
// generation's checkpoint + 1 in pages (Ledger::ReadAll), decodes the events
// the view wants (others are ignored), applies them through one ViewTxn per
// page and commits the page's rows with the new checkpoint in one WriteBatch
// (ProjectionStore::Commit) — so a crash never applies an event twice or
// skips one. When caught up it sleeps until a commit listener reports a new
// head (no polling). An erasure event (carelog.ops.SubjectErased) or an event
// whose subject key was destroyed (FAILED_PRECONDITION) removes the subject
// from the view; after a page with an erasure event the store is flushed and
// compacted (ProjectionStore::Purge). An event that does not decode or that the
// view cannot apply stops the worker in the FAILED state naming its position;
// nothing of that page is committed, and a restart retries from the checkpoint.
// Rebuild() fills a fresh generation from position 1 on the same thread,
// interleaving its pages with live pages (live first), while queries keep
// reading the old generation; once the rebuild reaches the live position the
// store swaps generations atomically.
//
// Concurrency. All public methods are thread-safe. WaitForPosition blocks the
// caller (not the worker). The view is only touched by the worker thread.
//
// Limitations. One worker per view and store. Decoding a page runs on
// decode_threads threads, applying on one: throughput is bounded by the
// view's per-record work (open, parse, seal) on that thread.
#ifndef CARELOG_SERVICES_PROJECTIONS_PROJECTION_WORKER_H_
#define CARELOG_SERVICES_PROJECTIONS_PROJECTION_WORKER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "services/projections/view.h"
#include "storage/ledger.h"
#include "storage/projection_store.h"

namespace carelog::services::projections {

struct WorkerStatus;

struct WorkerOptions {
  size_t batch_events = 2048;  // events per page near the head
  // Events per page when far behind and for rebuilds (nobody waits on a
  // rebuild's rows; fewer, larger batches touch each record once per page).
  size_t catchup_batch_events = 32768;
  int decode_threads = 2;  // threads decrypting and parsing a page
  // Called on the worker thread after each committed live page and when the
  // worker fails (for metrics); must not block. May be empty.
  std::function<void(const WorkerStatus&)> on_progress;
};

struct WorkerStatus {
  enum class State { kRunning, kFailed, kStopped };
  std::string name;
  State state = State::kStopped;
  uint64_t position = 0;  // last applied (live generation)
  uint64_t head = 0;      // ledger head last seen
  uint64_t generation = 0;
  bool rebuilding = false;
  uint64_t rebuild_position = 0;
  uint64_t rebuilds_completed = 0;
  uint64_t failed_position = 0;
  std::string error;  // codes and ids only
  uint64_t events_applied = 0;
};

class ProjectionWorker {
 public:
  // `ledger` and `store` must outlive the worker. Reads the checkpoint.
  // Errors: those of ProjectionStore::ReadCheckpoint.
  static absl::StatusOr<std::unique_ptr<ProjectionWorker>> Create(
      storage::Ledger* ledger, storage::ProjectionStore* store,
      std::unique_ptr<View> view, WorkerOptions options = {});
  ~ProjectionWorker();  // Stop()

  // Starts the thread and the commit listener. Idempotent.
  void Start();
  // Finishes the page in progress (committed or discarded whole), then joins.
  // Idempotent. Blocks.
  void Stop();

  // Blocks until the view has applied `position` or `deadline` passes.
  // Errors: DEADLINE_EXCEEDED; FAILED_PRECONDITION if the worker failed
  // (naming the position); UNAVAILABLE if it stops before reaching it.
  absl::Status WaitForPosition(uint64_t position, absl::Time deadline) const;

  // Starts a rebuild into a fresh generation (returns at once).
  // Errors: FAILED_PRECONDITION if one is running or the worker failed or
  // is stopped; store errors.
  absl::Status Rebuild();
  // Blocks until no rebuild is running or `deadline`; DEADLINE_EXCEEDED, or
  // FAILED_PRECONDITION if the worker failed.
  absl::Status WaitForRebuild(absl::Time deadline) const;

  WorkerStatus status() const;
  const std::string& name() const { return name_; }
  storage::ProjectionStore* store() const { return store_; }

  // Test hook: called after each committed page with its checkpoint; a
  // false return stops the worker as if the process had died there.
  void SetAfterCommitHookForTest(std::function<bool(uint64_t)> hook);

 private:
  ProjectionWorker(storage::Ledger* ledger, storage::ProjectionStore* store,
                   std::unique_ptr<View> view, WorkerOptions options,
                   uint64_t position);
  void Run();
  // Applies [from, from + count) (bounded by `limit` when nonzero) into
  // `generation`; returns the new checkpoint.
  absl::StatusOr<uint64_t> ApplyPage(uint64_t from, size_t count,
                                     uint64_t limit, uint64_t generation,
                                     uint64_t* applied, uint64_t* failed_at);
  void Fail(uint64_t position, const absl::Status& s);
  bool SubjectErased(const std::string& subject_id) const;

  storage::Ledger* const ledger_;
  storage::ProjectionStore* const store_;
  const std::unique_ptr<View> view_;
  const WorkerOptions options_;
  const std::string name_;

  mutable absl::Mutex mu_;
  uint64_t position_ ABSL_GUARDED_BY(mu_);
  uint64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t failed_position_ ABSL_GUARDED_BY(mu_) = 0;
  std::string error_ ABSL_GUARDED_BY(mu_);
  uint64_t rebuild_generation_ ABSL_GUARDED_BY(mu_) = 0;  // 0: none
  uint64_t rebuild_position_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rebuilds_completed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t events_applied_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<bool(uint64_t)> hook_ ABSL_GUARDED_BY(mu_);
  uint64_t listener_ = 0;
  std::thread thread_;
};

}  // namespace carelog::services::projections

#endif  // CARELOG_SERVICES_PROJECTIONS_PROJECTION_WORKER_H_
