#include "services/projections/projection_worker.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

#include "storage/maintenance.h"

namespace carelog::services::projections {

ProjectionWorker::ProjectionWorker(storage::Ledger* ledger,
                                   storage::ProjectionStore* store,
                                   std::unique_ptr<View> view,
                                   WorkerOptions options, uint64_t position)
    : ledger_(ledger),
      store_(store),
      view_(std::move(view)),
      options_(options),
      name_(view_->name()),
      position_(position) {}

absl::StatusOr<std::unique_ptr<ProjectionWorker>> ProjectionWorker::Create(
    storage::Ledger* ledger, storage::ProjectionStore* store,
    std::unique_ptr<View> view, WorkerOptions options) {
  if (options.batch_events == 0 || options.catchup_batch_events == 0)
    return absl::InvalidArgumentError(
        "batch_events, catchup_batch_events: must be positive");
  auto cp = store->ReadCheckpoint();
  if (!cp.ok())
    return cp.status();
  return std::unique_ptr<ProjectionWorker>(
      new ProjectionWorker(ledger, store, std::move(view), options, *cp));
}

ProjectionWorker::~ProjectionWorker() {
  Stop();
}

void ProjectionWorker::Start() {
  {
    absl::MutexLock l(&mu_);
    if (running_ || stopping_)
      return;
    running_ = true;
  }
  // Listen first, then read the head: no commit falls between the two.
  listener_ = ledger_->AddCommitListener([this](const storage::CommitInfo& i) {
    absl::MutexLock l(&mu_);
    head_ = std::max(head_, i.head.position);
  });
  {
    const uint64_t head = ledger_->GetHead().position;
    absl::MutexLock l(&mu_);
    head_ = std::max(head_, head);
  }
  thread_ = std::thread([this] { Run(); });
}

void ProjectionWorker::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (!running_)
      return;
    stopping_ = true;
  }
  if (thread_.joinable())
    thread_.join();
  if (listener_ != 0)
    ledger_->RemoveCommitListener(listener_);
  listener_ = 0;
  absl::MutexLock l(&mu_);
  running_ = false;
}

void ProjectionWorker::SetAfterCommitHookForTest(
    std::function<bool(uint64_t)> hook) {
  absl::MutexLock l(&mu_);
  hook_ = std::move(hook);
}

void ProjectionWorker::Fail(uint64_t position, const absl::Status& s) {
  {
    absl::MutexLock l(&mu_);
    failed_ = true;
    failed_position_ = position;
    error_ = absl::StrCat("position ", position, ": ", s.ToString());
  }
  if (options_.on_progress)
    options_.on_progress(status());
}

bool ProjectionWorker::SubjectErased(const std::string& subject_id) const {
  auto destroyed = ledger_->key_ring().IsDestroyed(subject_id);
  return destroyed.ok() && *destroyed;
}

absl::StatusOr<uint64_t> ProjectionWorker::ApplyPage(
    uint64_t from, size_t count, uint64_t limit, uint64_t generation,
    uint64_t* applied, uint64_t* failed_at) {
  if (limit != 0)
    count = std::min<uint64_t>(count, limit - from + 1);
  auto page = ledger_->ReadAll(from, count);
  if (!page.ok()) {
    *failed_at = from;
    return page.status();
  }
  const std::vector<storage::StoredEvent>& events = page->events;
  // Decrypting and parsing is the bulk of the per-event work and needs no
  // order: it runs on decode_threads threads; applying stays sequential.
  std::vector<char> wanted(events.size(), 0);
  for (size_t i = 0; i < events.size(); ++i) {
    const storage::EventHeader& h = events[i].header;
    wanted[i] = h.event_type != storage::kErasureEventType && view_->Wants(h);
  }
  std::vector<absl::StatusOr<DecodedEvent>> decoded(
      events.size(), absl::StatusOr<DecodedEvent>(absl::CancelledError("")));
  auto decode = [&](size_t first, size_t step) {
    for (size_t i = first; i < events.size(); i += step) {
      if (wanted[i])
        decoded[i] = DecodeEvent(*ledger_, events[i]);
    }
  };
  const size_t threads =
      events.size() >= 256 ? std::max(1, options_.decode_threads) : 1;
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t)
    helpers.emplace_back(decode, t, threads);
  decode(0, threads);
  for (auto& th : helpers)
    th.join();

  ViewTxn txn(store_, generation);
  uint64_t last = from - 1;
  bool erased = false;
  for (size_t i = 0; i < events.size(); ++i) {
    const storage::EventHeader& h = events[i].header;
    if (limit != 0 && h.position > limit)
      break;
    absl::Status s;
    if (h.event_type == storage::kErasureEventType) {
      erased = true;
      s = h.subject_id.empty() ? absl::OkStatus()
                               : view_->Erase(h.subject_id, txn);
    } else if (wanted[i]) {
      s = decoded[i].ok() ? view_->Apply(*decoded[i], txn)
                          : decoded[i].status();
      // A crypto-shredded subject (its key may also be destroyed between
      // decoding and sealing the row) leaves the view; any other failure is
      // an event the view cannot apply.
      if (absl::IsFailedPrecondition(s) && !h.subject_id.empty() &&
          SubjectErased(h.subject_id))
        s = view_->Erase(h.subject_id, txn);
      ++*applied;
    }
    if (!s.ok()) {
      view_->Discard();
      *failed_at = h.position;
      return s;
    }
    last = h.position;
  }
  if (last < from)
    return last;  // nothing new
  if (auto s = view_->Flush(txn); !s.ok()) {
    view_->Discard();
    *failed_at = last;
    return s;
  }
  if (auto s = store_->Commit(txn.Take(last), generation); !s.ok()) {
    *failed_at = from;
    return s;
  }
  if (erased) {
    // Unpin the WAL that held the erased subject's key record and drop the
    // sealed rows' older versions from table files.
    if (auto s = store_->Purge(); !s.ok()) {
      *failed_at = last;
      return s;
    }
  }
  return last;
}

void ProjectionWorker::Run() {
  // Named for top/perf: "proj-<view>" (15 bytes at most).
  pthread_setname_np(pthread_self(),
                     absl::StrCat("proj-", name_).substr(0, 15).c_str());
  for (;;) {
    uint64_t position = 0, head = 0, rebuild_gen = 0, rebuild_pos = 0;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ ||
               (!failed_ && (head_ > position_ || rebuild_generation_ != 0));
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_)
        return;
      position = position_;
      head = head_;
      rebuild_gen = rebuild_generation_;
      rebuild_pos = rebuild_position_;
    }
    uint64_t applied = 0, failed_at = 0;
    if (head > position) {
      // Live first: queries wait on it.
      // Far behind (start-up, after downtime): large pages; near the head:
      // small ones, so that queries waiting on min_position see rows soon.
      const size_t count = head - position > 4 * options_.batch_events
                               ? options_.catchup_batch_events
                               : options_.batch_events;
      auto next = ApplyPage(position + 1, count, 0, 0, &applied, &failed_at);
      if (!next.ok()) {
        Fail(failed_at, next.status());
        continue;
      }
      std::function<bool(uint64_t)> hook;
      {
        absl::MutexLock l(&mu_);
        position_ = std::max(position_, *next);
        // A page can end before the head we were told of if the head moved on
        // between reads; the loop simply continues.
        if (*next == position)
          head_ = std::max(head_, ledger_->GetHead().position);
        events_applied_ += applied;
        hook = hook_;
      }
      if (options_.on_progress)
        options_.on_progress(status());
      if (hook && !hook(*next)) {
        absl::MutexLock l(&mu_);
        stopping_ = true;
        return;
      }
      continue;
    }
    if (rebuild_gen != 0) {
      if (rebuild_pos < position) {
        auto next = ApplyPage(rebuild_pos + 1, options_.catchup_batch_events,
                              position, rebuild_gen, &applied, &failed_at);
        if (!next.ok()) {
          Fail(failed_at, next.status());
          continue;
        }
        absl::MutexLock l(&mu_);
        rebuild_position_ = *next;
        continue;
      }
      // Caught up with the live generation: swap. If the live generation
      // never committed (empty log) give the new one the same checkpoint.
      absl::Status s;
      if (position > 0) {
        auto cp = store_->ReadCheckpoint(rebuild_gen);
        if (cp.ok() && *cp < position) {
          storage::ProjectionBatch b;
          b.checkpoint = position;
          s = store_->Commit(b, rebuild_gen);
        } else if (!cp.ok()) {
          s = cp.status();
        }
      }
      if (s.ok())
        s = store_->Swap(rebuild_gen);
      absl::MutexLock l(&mu_);
      rebuild_generation_ = 0;
      rebuild_position_ = 0;
      if (!s.ok()) {
        failed_ = true;
        failed_position_ = position;
        error_ = absl::StrCat("rebuild swap: ", s.ToString());
      } else {
        ++rebuilds_completed_;
      }
    }
  }
}

absl::Status ProjectionWorker::WaitForPosition(uint64_t position,
                                               absl::Time deadline) const {
  absl::MutexLock l(&mu_);
  auto done = [this, position]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return position_ >= position || failed_ || stopping_;
  };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  if (position_ >= position)
    return absl::OkStatus();
  if (failed_)
    return absl::FailedPreconditionError(absl::StrCat(
        "projection ", name_, " failed at position ", failed_position_));
  if (stopping_)
    return absl::UnavailableError(
        absl::StrCat("projection ", name_, " is stopped"));
  return absl::DeadlineExceededError(
      absl::StrCat("projection ", name_, " at position ", position_,
                   " has not reached ", position));
}

absl::Status ProjectionWorker::Rebuild() {
  {
    absl::MutexLock l(&mu_);
    if (failed_ || stopping_ || !running_)
      return absl::FailedPreconditionError(
          absl::StrCat("projection ", name_, " is not running"));
    if (rebuild_generation_ != 0)
      return absl::FailedPreconditionError(
          absl::StrCat("projection ", name_, " is already rebuilding"));
  }
  auto gen = store_->CreateGeneration();
  if (!gen.ok())
    return gen.status();
  absl::MutexLock l(&mu_);
  rebuild_generation_ = *gen;
  rebuild_position_ = 0;
  return absl::OkStatus();
}

absl::Status ProjectionWorker::WaitForRebuild(absl::Time deadline) const {
  absl::MutexLock l(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return rebuild_generation_ == 0 || failed_ || stopping_;
  };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  if (failed_)
    return absl::FailedPreconditionError(error_);
  if (rebuild_generation_ != 0)
    return absl::DeadlineExceededError(
        absl::StrCat("projection ", name_, " rebuild at ", rebuild_position_));
  return absl::OkStatus();
}

WorkerStatus ProjectionWorker::status() const {
  WorkerStatus s;
  s.name = name_;
  s.generation = store_->live_generation();
  absl::MutexLock l(&mu_);
  s.state = failed_                    ? WorkerStatus::State::kFailed
            : (running_ && !stopping_) ? WorkerStatus::State::kRunning
                                       : WorkerStatus::State::kStopped;
  s.position = position_;
  s.head = std::max(head_, position_);
  s.rebuilding = rebuild_generation_ != 0;
  s.rebuild_position = rebuild_position_;
  s.rebuilds_completed = rebuilds_completed_;
  s.failed_position = failed_position_;
  s.error = error_;
  s.events_applied = events_applied_;
  return s;
}

}  // namespace carelog::services::projections
