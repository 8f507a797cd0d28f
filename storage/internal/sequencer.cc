#include "storage/internal/sequencer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "rocksdb/write_batch.h"

#include "storage/record.h"

namespace carelog::storage::internal {

namespace {

std::string DescribeExpected(const ExpectedVersion& e) {
  switch (e.kind) {
    case ExpectedKind::kAny:
      return "any";
    case ExpectedKind::kNoStream:
      return "no stream";
    case ExpectedKind::kExact:
      return absl::StrCat("version ", e.version);
    case ExpectedKind::kStreamExists:
      return "an existing stream";
  }
  return "unknown";
}

bool Satisfies(const ExpectedVersion& e, uint64_t current) {
  switch (e.kind) {
    case ExpectedKind::kAny:
      return true;
    case ExpectedKind::kNoStream:
      return current == 0;
    case ExpectedKind::kExact:
      return current == e.version;
    case ExpectedKind::kStreamExists:
      return current > 0;
  }
  return false;
}

// What the group commit decided for one command.
struct Outcome {
  enum Kind { kWrite, kDuplicateInGroup, kFinal } kind = kFinal;
  absl::StatusOr<AppendResult> result = absl::UnknownError("unset");
  size_t original = 0;  // for kDuplicateInGroup: index of the command written
};

}  // namespace

Sequencer::Sequencer(Db* db, SequencerOptions options, const Clock* clock,
                     Head head, int64_t last_recorded_micros,
                     MerkleHook* merkle)
    : db_(db),
      options_(options),
      clock_(clock),
      merkle_(merkle),
      writer_head_(head),
      last_recorded_micros_(last_recorded_micros),
      head_(head) {
  writer_ = std::thread([this] { Run(); });
}

Sequencer::~Sequencer() {
  Stop();
}

absl::Status Sequencer::Submit(std::unique_ptr<PendingCommand>* cmd) {
  {
    absl::MutexLock l(&queue_mu_);
    if (stopping_)
      return absl::UnavailableError("ledger is shutting down");
    if (queue_.size() >= options_.queue_capacity) {
      commands_rejected_.fetch_add(1, std::memory_order_relaxed);
      return absl::ResourceExhaustedError(absl::StrCat(
          "append queue full (", options_.queue_capacity, " commands)"));
    }
    queue_.push_back(std::move(*cmd));
    queue_depth_.store(queue_.size(), std::memory_order_relaxed);
  }
  queue_cv_.Signal();
  return absl::OkStatus();
}

void Sequencer::Stop() {
  {
    absl::MutexLock l(&queue_mu_);
    stopping_ = true;
  }
  queue_cv_.SignalAll();
  if (writer_.joinable())
    writer_.join();
  absl::MutexLock l(&head_mu_);
  stopped_ = true;
}

Head Sequencer::head() const {
  absl::MutexLock l(&head_mu_);
  return head_;
}

absl::Status Sequencer::WaitForPosition(uint64_t position,
                                        absl::Time deadline) const {
  absl::MutexLock l(&head_mu_);
  auto reached = [this, position]() ABSL_SHARED_LOCKS_REQUIRED(head_mu_) {
    return head_.position >= position || stopped_;
  };
  head_mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
  if (head_.position >= position)
    return absl::OkStatus();
  if (stopped_)
    return absl::CancelledError("ledger stopped");
  return absl::DeadlineExceededError(absl::StrCat(
      "position ", position, " not reached (head ", head_.position, ")"));
}

uint64_t Sequencer::AddListener(CommitListener listener) {
  absl::MutexLock l(&listeners_mu_);
  uint64_t id = next_listener_id_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void Sequencer::RemoveListener(uint64_t id) {
  absl::MutexLock l(&listeners_mu_);
  listeners_.erase(
      std::remove_if(listeners_.begin(), listeners_.end(),
                     [id](const auto& p) { return p.first == id; }),
      listeners_.end());
}

void Sequencer::FillStats(LedgerStats* stats) const {
  stats->batches = batches_.load(std::memory_order_relaxed);
  stats->commands_committed =
      commands_committed_.load(std::memory_order_relaxed);
  stats->events_committed = events_committed_.load(std::memory_order_relaxed);
  stats->commands_rejected = commands_rejected_.load(std::memory_order_relaxed);
  stats->write_failures = write_failures_.load(std::memory_order_relaxed);
  stats->queue_depth = queue_depth_.load(std::memory_order_relaxed);
  stats->head = head();
}

void Sequencer::Run() {
  std::vector<std::unique_ptr<PendingCommand>> group;
  for (;;) {
    group.clear();
    {
      absl::MutexLock l(&queue_mu_);
      while (queue_.empty() && !stopping_)
        queue_cv_.Wait(&queue_mu_);
      if (queue_.empty() && stopping_)
        return;
      size_t bytes = 0;
      while (!queue_.empty() && group.size() < options_.max_batch_commands) {
        const size_t b = queue_.front()->bytes;
        if (!group.empty() && bytes + b > options_.max_batch_bytes)
          break;
        bytes += b;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queue_depth_.store(queue_.size(), std::memory_order_relaxed);
    }
    CommitGroup(&group);
  }
}

absl::StatusOr<uint64_t> Sequencer::CurrentVersion(
    const std::string& stream_id) {
  auto it = stream_versions_.find(stream_id);
  if (it != stream_versions_.end())
    return it->second;
  std::string v;
  rocksdb::Status s = db_->db->Get(rocksdb::ReadOptions(), db_->streams,
                                   StreamHeadKey(stream_id), &v);
  uint64_t version = 0;
  if (s.ok()) {
    if (v.size() != 8)
      return absl::DataLossError(
          absl::StrCat("stream head of ", stream_id, " malformed"));
    version = GetU64(v.data());
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading stream head");
  }
  // A bounded cache: dropping everything at the limit is O(1) amortised and
  // only costs re-reads, which the bloom-filtered column family makes cheap.
  if (stream_versions_.size() >= options_.stream_cache_entries)
    stream_versions_.clear();
  stream_versions_.emplace(stream_id, version);
  return version;
}

void Sequencer::RecoverAfterWriteFailure() {
  stream_versions_.clear();
  std::string v;
  rocksdb::Status s =
      db_->db->Get(rocksdb::ReadOptions(), db_->meta, kMetaHead, &v);
  if (s.ok()) {
    if (auto h = DecodeHead(v); h.ok())
      writer_head_ = *h;
  }
  absl::MutexLock l(&head_mu_);
  head_ = writer_head_;
}

void Sequencer::CommitGroup(
    std::vector<std::unique_ptr<PendingCommand>>* group_ptr) {
  auto& group = *group_ptr;
  // The Merkle tree must match the head before anything is appended to it;
  // after a failed write it is reloaded from disk here.
  if (merkle_ != nullptr) {
    if (absl::Status ms = merkle_->Begin(writer_head_.position); !ms.ok()) {
      write_failures_.fetch_add(1, std::memory_order_relaxed);
      commands_rejected_.fetch_add(group.size(), std::memory_order_relaxed);
      const absl::Status failed = absl::UnavailableError(
          absl::StrCat("ledger cannot append: ", ms.message()));
      for (auto& cmd : group)
        cmd->done(failed);
      return;
    }
  }
  std::vector<Outcome> outcomes(group.size());
  rocksdb::WriteBatch wb;
  absl::flat_hash_map<std::string, uint64_t>
      tentative;  // stream versions within this group
  absl::flat_hash_map<std::string, size_t>
      written;  // command id → index, this group
  uint64_t seq = writer_head_.position;
  Digest hash = writer_head_.chain_hash;
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  const int64_t recorded = std::max(now, last_recorded_micros_);
  const uint64_t first_position = seq + 1;
  size_t events = 0;
  size_t writes = 0;

  for (size_t i = 0; i < group.size(); ++i) {
    PendingCommand& cmd = *group[i];
    Outcome& out = outcomes[i];
    if (auto it = written.find(cmd.command_id); it != written.end()) {
      if (crypto::DigestEquals(group[it->second]->fingerprint,
                               cmd.fingerprint)) {
        out.kind = Outcome::kDuplicateInGroup;
        out.original = it->second;
      } else {
        out.result = absl::AlreadyExistsError(
            absl::StrCat("command id ", cmd.command_id,
                         " was already used for a different command"));
      }
      continue;
    }
    std::string stored;
    rocksdb::Status s = db_->db->Get(rocksdb::ReadOptions(), db_->commands,
                                     cmd.command_id, &stored);
    if (s.ok()) {
      Digest fp{};
      auto prior = DecodeCommandRecord(stored, &fp);
      if (!prior.ok()) {
        out.result = prior.status();
      } else if (!crypto::DigestEquals(fp, cmd.fingerprint)) {
        out.result = absl::AlreadyExistsError(
            absl::StrCat("command id ", cmd.command_id,
                         " was already used for a different command"));
      } else {
        prior->duplicate = true;
        out.result = std::move(*prior);
      }
      continue;
    }
    if (!s.IsNotFound()) {
      out.result = FromRocks(s, "reading command record");
      continue;
    }

    // Check every expected version before assigning anything: a command is
    // all or nothing.
    std::vector<uint64_t> current(cmd.streams.size());
    absl::Status check;
    for (size_t k = 0; k < cmd.streams.size() && check.ok(); ++k) {
      const SealedStream& st = cmd.streams[k];
      if (auto t = tentative.find(st.stream_id); t != tentative.end()) {
        current[k] = t->second;
      } else {
        auto v = CurrentVersion(st.stream_id);
        if (!v.ok()) {
          check = v.status();
          break;
        }
        current[k] = *v;
      }
      if (!Satisfies(st.expected, current[k])) {
        check = absl::AbortedError(absl::StrCat(
            "stream ", st.stream_id, ": expected ",
            DescribeExpected(st.expected), ", actual version ", current[k]));
      }
    }
    if (!check.ok()) {
      out.result = check;
      continue;
    }

    AppendResult result;
    result.first_position = seq + 1;
    for (size_t k = 0; k < cmd.streams.size(); ++k) {
      SealedStream& st = cmd.streams[k];
      uint64_t version = current[k];
      StreamAppendResult sr{st.stream_id, version + 1,
                            version + st.events.size()};
      for (SealedEvent& ev : st.events) {
        ++seq;
        ++version;
        ev.header.position = seq;
        ev.header.stream_version = version;
        ev.header.recorded_at_micros = recorded;
        const std::string header = EncodeHeader(
            ev.header, static_cast<uint32_t>(ev.ciphertext.size()));
        hash = crypto::ChainHash(hash, header, ev.ciphertext);
        const std::string record = EncodeRecord(header, ev.ciphertext, hash);
        if (merkle_ != nullptr)
          merkle_->AddEvent(record, &wb);
        wb.Put(db_->events, PositionKey(seq), record);
        wb.Put(db_->streams, StreamEntryKey(st.stream_id, version),
               PositionKey(seq));
        ++events;
      }
      std::string head_version;
      PutU64(&head_version, version);
      wb.Put(db_->streams, StreamHeadKey(st.stream_id), head_version);
      tentative[st.stream_id] = version;
      result.streams.push_back(std::move(sr));
    }
    result.last_position = seq;
    wb.Put(db_->commands, cmd.command_id,
           EncodeCommandRecord(cmd.fingerprint, result));
    written.emplace(cmd.command_id, i);
    out.kind = Outcome::kWrite;
    out.result = std::move(result);
    ++writes;
  }

  absl::Duration write_duration;
  absl::Status write_status;
  if (writes > 0) {
    wb.Put(db_->meta, kMetaHead, EncodeHead(Head{seq, hash}));
    if (merkle_ != nullptr)
      merkle_->Finish(&wb);
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync;
    const absl::Time t0 = absl::Now();
    const WriteFault fault =
        options_.write_fault ? options_.write_fault() : WriteFault::kNone;
    if (fault == WriteFault::kFailUnwritten) {
      write_status = absl::UnavailableError("injected write fault (unwritten)");
    } else {
      write_status = db_->Write(wo, &wb, "committing batch");
      if (write_status.ok() && fault == WriteFault::kFailWritten)
        write_status = absl::UnavailableError("injected write fault (written)");
    }
    write_duration = absl::Now() - t0;
  }

  if (writes > 0 && !write_status.ok()) {
    write_failures_.fetch_add(1, std::memory_order_relaxed);
    // A full disk stays RESOURCE_EXHAUSTED; every other failure UNAVAILABLE.
    const absl::Status failed(
        absl::IsResourceExhausted(write_status)
            ? absl::StatusCode::kResourceExhausted
            : absl::StatusCode::kUnavailable,
        absl::StrCat(
            "ledger write failed; no command of this batch was acknowledged: ",
            write_status.message()));
    for (auto& out : outcomes) {
      if (out.kind != Outcome::kFinal)
        out.result = failed;
      out.kind = Outcome::kFinal;
    }
    if (merkle_ != nullptr)
      merkle_->Failed();
    RecoverAfterWriteFailure();
  } else if (writes > 0) {
    if (merkle_ != nullptr)
      merkle_->Committed();
    writer_head_ = Head{seq, hash};
    last_recorded_micros_ = recorded;
    for (auto& [stream, version] : tentative) {
      if (stream_versions_.size() >= options_.stream_cache_entries)
        stream_versions_.clear();
      stream_versions_[stream] = version;
    }
    {
      absl::MutexLock l(&head_mu_);
      head_ = writer_head_;
    }
    batches_.fetch_add(1, std::memory_order_relaxed);
    events_committed_.fetch_add(events, std::memory_order_relaxed);
  }

  for (auto& out : outcomes) {
    if (out.kind == Outcome::kDuplicateInGroup) {
      absl::StatusOr<AppendResult> r = outcomes[out.original].result;
      if (r.ok())
        r->duplicate = true;
      out.result = std::move(r);
    }
  }
  size_t acknowledged = 0;
  for (auto& out : outcomes) {
    if (out.result.ok()) {
      ++acknowledged;
    } else {
      commands_rejected_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  commands_committed_.fetch_add(acknowledged, std::memory_order_relaxed);

  if (writes > 0 && write_status.ok()) {
    CommitInfo info;
    info.head = writer_head_;
    info.first_position = first_position;
    info.commands = acknowledged;
    info.events = events;
    info.write_duration = write_duration;
    absl::MutexLock l(&listeners_mu_);
    for (auto& [id, fn] : listeners_)
      fn(info);
  }
  for (size_t i = 0; i < group.size(); ++i) {
    group[i]->done(std::move(outcomes[i].result));
  }
}

}  // namespace carelog::storage::internal
