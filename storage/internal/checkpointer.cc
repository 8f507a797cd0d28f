#include "storage/internal/checkpointer.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

#include "storage/record.h"

namespace carelog::storage::internal {

namespace {

absl::StatusOr<SignedCheckpoint> Decode(absl::string_view key,
                                        absl::string_view value) {
  auto cp = ParseSignedCheckpoint(value);
  if (!cp.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored checkpoint malformed: ", cp.status().message()));
  }
  if (key.size() != 8 || GetU64(key.data()) != cp->tree_size) {
    return absl::DataLossError(absl::StrCat(
        "checkpoint of size ", cp->tree_size, " stored under another size"));
  }
  return cp;
}

}  // namespace

absl::StatusOr<SignedCheckpoint> ReadCheckpoint(const Db& db,
                                                const rocksdb::Snapshot* snap,
                                                uint64_t tree_size) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::string v;
  const std::string key = PositionKey(tree_size);
  rocksdb::Status s = db.db->Get(ro, db.checkpoints, key, &v);
  if (s.IsNotFound()) {
    return absl::NotFoundError(
        absl::StrCat("no checkpoint of tree size ", tree_size));
  }
  if (!s.ok())
    return FromRocks(s, "reading checkpoint");
  return Decode(key, v);
}

absl::StatusOr<SignedCheckpoint> ReadLatestCheckpoint(
    const Db& db, const rocksdb::Snapshot* snap) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(ro, db.checkpoints));
  it->SeekToLast();
  if (!it->Valid()) {
    if (!it->status().ok())
      return FromRocks(it->status(), "reading checkpoints");
    return absl::NotFoundError("no checkpoint yet");
  }
  return Decode(absl::string_view(it->key().data(), it->key().size()),
                absl::string_view(it->value().data(), it->value().size()));
}

absl::StatusOr<std::vector<SignedCheckpoint>> ListCheckpoints(
    const Db& db, const rocksdb::Snapshot* snap, uint64_t from,
    size_t max_count) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(ro, db.checkpoints));
  std::vector<SignedCheckpoint> out;
  for (it->Seek(PositionKey(from)); it->Valid() && out.size() < max_count;
       it->Next()) {
    auto cp = Decode(absl::string_view(it->key().data(), it->key().size()),
                     absl::string_view(it->value().data(), it->value().size()));
    if (!cp.ok())
      return cp.status();
    out.push_back(std::move(*cp));
  }
  if (!it->status().ok())
    return FromRocks(it->status(), "listing checkpoints");
  return out;
}

Checkpointer::Checkpointer(Db* db, Sequencer* sequencer, MerkleHook* merkle,
                           CheckpointOptions options, const Clock* clock)
    : db_(db),
      sequencer_(sequencer),
      merkle_(merkle),
      options_(std::move(options)),
      clock_(clock) {
  auto latest = ReadLatestCheckpoint(*db_, nullptr);
  {
    absl::MutexLock l(&mu_);
    if (latest.ok()) {
      have_latest_ = true;
      latest_size_ = latest->tree_size;
    }
    latest_time_ = absl::Now();
  }
  const bool policy =
      options_.every_events > 0 || options_.interval > absl::ZeroDuration();
  if (options_.key != nullptr && policy) {
    if (options_.every_events > 0) {
      listener_ = sequencer_->AddListener([this](const CommitInfo& info) {
        absl::MutexLock l(&mu_);
        if (info.head.position >= latest_size_ + options_.every_events) {
          poked_ = true;
          cv_.Signal();
        }
      });
    }
    thread_ = std::thread([this] { Run(); });
  }
}

Checkpointer::~Checkpointer() {
  Stop();
}

void Checkpointer::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (stopped_)
      return;
    stopped_ = true;
    stopping_ = true;
    cv_.SignalAll();
  }
  if (listener_ != 0)
    sequencer_->RemoveListener(listener_);
  if (thread_.joinable())
    thread_.join();
  if (options_.key != nullptr && options_.on_stop) {
    // Best effort: a failure here leaves the previous checkpoint as latest.
    Make().status().IgnoreError();
  }
}

std::string Checkpointer::VerifierKey() const {
  if (options_.key == nullptr)
    return "";
  return crypto::NoteVerifierKey(options_.origin, options_.key->public_key());
}

uint64_t Checkpointer::latest_size() const {
  absl::MutexLock l(&mu_);
  return latest_size_;
}

absl::Status Checkpointer::WaitFor(uint64_t tree_size,
                                   absl::Time deadline) const {
  absl::MutexLock l(&mu_);
  auto reached = [this, tree_size]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return have_latest_ && latest_size_ >= tree_size;
  };
  mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
  if (reached())
    return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(
      "no checkpoint of size >= ", tree_size, " (latest ", latest_size_, ")"));
}

absl::StatusOr<SignedCheckpoint> Checkpointer::Make() {
  if (options_.key == nullptr) {
    return absl::FailedPreconditionError(
        "checkpoints are disabled: no signing key configured");
  }
  absl::MutexLock make(&make_mu_);
  const Head head = sequencer_->head();
  if (auto existing = ReadCheckpoint(*db_, nullptr, head.position);
      existing.ok() || !absl::IsNotFound(existing.status())) {
    return existing;
  }
  // The tree is committed before the head is published, so it covers `head`.
  if (merkle_->size() < head.position) {
    return absl::FailedPreconditionError(
        absl::StrCat("merkle tree (", merkle_->size(),
                     " leaves) is behind the head (", head.position, ")"));
  }
  MerkleReader reader(*db_, nullptr);
  auto root = reader.Root(head.position);
  if (!root.ok())
    return root.status();
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  auto body = CheckpointBody(options_.origin, head.position, *root,
                             head.chain_hash, now);
  if (!body.ok())
    return body.status();
  auto note = crypto::SignNote(*body, options_.origin, *options_.key);
  if (!note.ok())
    return note.status();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto s = db_->Put(wo, db_->checkpoints, PositionKey(head.position), *note,
                        "writing checkpoint");
      !s.ok()) {
    return s;
  }
  SignedCheckpoint cp;
  cp.tree_size = head.position;
  cp.root = *root;
  cp.chain_head = head.chain_hash;
  cp.time_micros = now;
  cp.origin = options_.origin;
  cp.note = std::move(*note);
  {
    absl::MutexLock l(&mu_);
    if (!have_latest_ || cp.tree_size > latest_size_)
      latest_size_ = cp.tree_size;
    have_latest_ = true;
    latest_time_ = absl::Now();
  }
  return cp;
}

void Checkpointer::Run() {
  absl::MutexLock l(&mu_);
  while (!stopping_) {
    const bool timed = options_.interval > absl::ZeroDuration();
    const absl::Time deadline =
        timed ? latest_time_ + options_.interval : absl::InfiniteFuture();
    while (!stopping_ && !poked_ && absl::Now() < deadline) {
      if (cv_.WaitWithDeadline(&mu_, deadline))
        break;  // timed out
    }
    poked_ = false;
    if (stopping_)
      break;
    const uint64_t head = sequencer_->head().position;
    const bool moved = !have_latest_ || head > latest_size_;
    const bool by_count = options_.every_events > 0 &&
                          head >= latest_size_ + options_.every_events;
    const bool by_time =
        timed && absl::Now() >= latest_time_ + options_.interval;
    if (moved && (by_count || by_time)) {
      mu_.Unlock();
      const bool made = Make().ok();
      mu_.Lock();
      // A failure is retried one interval (or N events) later; the stored
      // checkpoints stay valid.
      if (!made)
        latest_time_ = absl::Now();
    } else if (by_time) {
      latest_time_ = absl::Now();  // nothing new: wait another interval
    }
  }
}

}  // namespace carelog::storage::internal
