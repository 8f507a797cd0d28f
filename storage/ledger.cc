#include "storage/ledger.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

#include "crypto/aead.h"
#include "storage/internal/checkpointer.h"
#include "storage/internal/db.h"
#include "storage/internal/key_store.h"
#include "storage/internal/ledger_access.h"
#include "storage/internal/merkle_tree.h"
#include "storage/internal/sequencer.h"
#include "storage/internal/verifier.h"
#include "storage/record.h"
#include "storage/validation.h"

namespace carelog::storage {

using internal::Db;
using internal::FromRocks;

const char* VerifyProblemName(VerifyProblem p) {
  switch (p) {
    case VerifyProblem::kNone:
      return "none";
    case VerifyProblem::kMalformedRecord:
      return "malformed record";
    case VerifyProblem::kPositionMismatch:
      return "position mismatch";
    case VerifyProblem::kGap:
      return "gap";
    case VerifyProblem::kHashMismatch:
      return "hash mismatch";
    case VerifyProblem::kMissingStreamIndex:
      return "missing stream index entry";
    case VerifyProblem::kStreamIndexMismatch:
      return "stream index mismatch";
    case VerifyProblem::kHeadMismatch:
      return "head mismatch";
  }
  return "unknown";
}

class Ledger::Impl {
 public:
  LedgerLimits limits;
  std::string data_dir;
  std::unique_ptr<Db> db;
  std::unique_ptr<internal::RocksKeyStore> key_store;
  std::unique_ptr<crypto::KeyRing> ring;
  std::unique_ptr<internal::MerkleHook> merkle;  // null: maintenance off
  std::unique_ptr<internal::Sequencer> sequencer;
  std::unique_ptr<internal::Checkpointer> checkpointer;  // null: merkle off

  ~Impl() {
    // Order matters: the writer uses the DB; the ring uses the key store; the
    // checkpointer listens to the writer, which uses the Merkle hook.
    if (sequencer)
      sequencer->Stop();
    checkpointer.reset();
    sequencer.reset();
    merkle.reset();
    ring.reset();
    key_store.reset();
    db.reset();
  }

  absl::StatusOr<StoredEvent> ReadAt(const rocksdb::ReadOptions& ro,
                                     uint64_t position) const {
    std::string v;
    rocksdb::Status s = db->db->Get(ro, db->events, PositionKey(position), &v);
    if (s.IsNotFound())
      return absl::NotFoundError(
          absl::StrCat("no event at position ", position));
    if (!s.ok())
      return FromRocks(s, "reading event");
    auto ev = DecodeRecord(v);
    if (!ev.ok()) {
      return absl::DataLossError(absl::StrCat("event at position ", position,
                                              ": ", ev.status().message()));
    }
    if (ev->header.position != position) {
      return absl::DataLossError(absl::StrCat("event stored at position ",
                                              position, " claims position ",
                                              ev->header.position));
    }
    return ev;
  }
};

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Ledger::~Ledger() {
  Stop();
}

void Ledger::Stop() {
  if (impl_ && impl_->sequencer)
    impl_->sequencer->Stop();
  if (impl_ && impl_->checkpointer)
    impl_->checkpointer->Stop();  // after the writer: it signs the final head
}

absl::StatusOr<std::unique_ptr<Ledger>> Ledger::Open(LedgerOptions options) {
  if (options.data_dir.empty())
    return absl::InvalidArgumentError("data_dir: required");
  if (options.kek == nullptr)
    return absl::InvalidArgumentError("kek: required");
  if (options.queue_capacity == 0)
    return absl::InvalidArgumentError("queue_capacity: must be > 0");
  if (options.max_batch_commands == 0)
    return absl::InvalidArgumentError("max_batch_commands: must be > 0");
  if (options.max_events_per_command == 0) {
    return absl::InvalidArgumentError("max_events_per_command: must be > 0");
  }
  if (options.checkpoints.key != nullptr) {
    if (!options.merkle)
      return absl::InvalidArgumentError("checkpoints: need merkle on");
    if (!crypto::IsValidNoteKeyName(options.checkpoints.origin)) {
      return absl::InvalidArgumentError(
          "checkpoints.origin: non-empty, no whitespace or '+'");
    }
  }
  if (auto s = crypto::EnsureSodium(); !s.ok())
    return s;

  auto impl = std::make_unique<Impl>();
  impl->data_dir = options.data_dir;
  impl->limits.max_events_per_command = options.max_events_per_command;
  impl->limits.max_payload_bytes = options.max_payload_bytes;
  impl->limits.max_command_bytes = options.max_command_bytes;

  internal::DbOpenOptions dbo;
  dbo.extra_column_families = options.extra_column_families;
  auto db = internal::OpenDb(options.data_dir, dbo);
  if (!db.ok())
    return db.status();
  impl->db = std::move(*db);
  Db& d = *impl->db;

  // Format marker: written once when the ledger is created.
  std::string format;
  rocksdb::Status fs =
      d.db->Get(rocksdb::ReadOptions(), d.meta, internal::kMetaFormat, &format);
  if (fs.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it(
        d.db->NewIterator(rocksdb::ReadOptions(), d.events));
    it->SeekToFirst();
    if (it->Valid())
      return absl::DataLossError("ledger has events but no format marker");
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (auto s = d.Put(wo, d.meta, internal::kMetaFormat,
                       internal::kFormatValue, "writing format marker");
        !s.ok()) {
      return s;
    }
  } else if (!fs.ok()) {
    return FromRocks(fs, "reading format marker");
  } else if (format != internal::kFormatValue) {
    return absl::FailedPreconditionError(
        absl::StrCat("unsupported ledger format in ", options.data_dir));
  }

  impl->key_store = std::make_unique<internal::RocksKeyStore>(&d);
  crypto::KeyRingOptions kro;
  kro.cache_capacity = options.key_cache_entries;
  auto ring =
      crypto::KeyRing::Open(std::move(options.kek), impl->key_store.get(), kro);
  if (!ring.ok())
    return ring.status();
  impl->ring = std::move(*ring);

  // Tail check: refuse to serve from a ledger whose recent chain is broken.
  Head head;
  std::string hv;
  rocksdb::Status hs =
      d.db->Get(rocksdb::ReadOptions(), d.meta, internal::kMetaHead, &hv);
  if (hs.ok()) {
    auto h = DecodeHead(hv);
    if (!h.ok())
      return absl::DataLossError("ledger head record malformed");
    head = *h;
  } else if (!hs.IsNotFound()) {
    return FromRocks(hs, "reading head record");
  }
  const uint64_t tail = std::max<uint64_t>(1, options.tail_check_events);
  const uint64_t from = head.position > tail ? head.position - tail + 1 : 1;
  VerifyReport report = internal::VerifyRange(d, from, 0, nullptr);
  if (!report.status.ok()) {
    return absl::Status(report.status.code(),
                        absl::StrCat("refusing to open ", options.data_dir,
                                     ": ", report.status.message()));
  }
  int64_t last_micros = 0;
  if (head.position > 0) {
    auto last = impl->ReadAt(rocksdb::ReadOptions(), head.position);
    if (!last.ok())
      return last.status();
    last_micros = last->header.recorded_at_micros;
  }

  internal::SequencerOptions so;
  so.sync = options.sync;
  so.queue_capacity = options.queue_capacity;
  so.max_batch_commands = options.max_batch_commands;
  so.max_batch_bytes = options.max_batch_bytes;
  so.stream_cache_entries = std::max<size_t>(1, options.stream_cache_entries);
  const Clock* clock =
      options.clock != nullptr ? options.clock : SystemClock::Get();
  if (options.merkle) {
    // Ledgers created before the tree existed, or written with maintenance
    // off, get the missing leaves before serving.
    if (auto s = internal::BackfillMerkle(d, head.position); !s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("refusing to open ", options.data_dir, ": ",
                                 s.message()));
    }
    auto frontier = internal::MerkleFrontier::Load(d, head.position);
    if (!frontier.ok())
      return frontier.status();
    impl->merkle = std::make_unique<internal::MerkleHook>(&d, *frontier);
  }
  impl->sequencer = std::make_unique<internal::Sequencer>(
      &d, so, clock, head, last_micros, impl->merkle.get());
  if (impl->merkle) {
    impl->checkpointer = std::make_unique<internal::Checkpointer>(
        &d, impl->sequencer.get(), impl->merkle.get(),
        std::move(options.checkpoints), clock);
  }
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

absl::Status Ledger::Validate(const AppendRequest& request) const {
  return ValidateAppendRequest(request, impl_->limits);
}

namespace {

Digest Fingerprint(crypto::KeyRing& ring, const AppendRequest& request) {
  if (!request.fingerprint_material.empty()) {
    return ring.Mac("command-fingerprint/material",
                    request.fingerprint_material);
  }
  return ring.Mac("command-fingerprint", CanonicalCommandBytes(request));
}

absl::StatusOr<AppendResult> FindCommittedWith(const Ledger::Impl& impl,
                                               const std::string& command_id,
                                               const Digest& fingerprint);

}  // namespace

void Ledger::AppendAsync(const AppendRequest& request, AppendCallback done) {
  if (auto s = Validate(request); !s.ok()) {
    done(s);
    return;
  }
  const Digest fingerprint = Fingerprint(*impl_->ring, request);
  // Fast path for retries: the stored result, without sealing anything. The
  // writer checks again authoritatively.
  auto prior = FindCommittedWith(*impl_, request.command_id, fingerprint);
  if (!absl::IsNotFound(prior.status())) {
    done(std::move(prior));
    return;
  }

  auto cmd = std::make_unique<internal::PendingCommand>();
  cmd->command_id = request.command_id;
  cmd->fingerprint = fingerprint;
  cmd->streams.reserve(request.streams.size());
  for (const StreamAppend& sa : request.streams) {
    internal::SealedStream st;
    st.stream_id = sa.stream_id;
    st.expected = sa.expected;
    st.events.reserve(sa.events.size());
    for (const NewEvent& ne : sa.events) {
      auto key = impl_->ring->KeyForSeal(ne.key_class, ne.subject_id);
      if (!key.ok()) {
        done(key.status());
        return;
      }
      internal::SealedEvent ev;
      ev.header.key_class = ne.key_class;
      crypto::RandomBytes(ev.header.event_id.data(), ev.header.event_id.size());
      ev.header.nonce = crypto::RandomNonce();
      ev.header.stream_id = sa.stream_id;
      ev.header.event_type = ne.event_type;
      ev.header.subject_id = ne.subject_id;
      ev.header.command_id = request.command_id;
      ev.ciphertext = crypto::Seal(**key, ev.header.nonce, ne.payload,
                                   SealedHeaderBytes(ev.header));
      cmd->bytes += ev.ciphertext.size() + 128;
      st.events.push_back(std::move(ev));
    }
    cmd->streams.push_back(std::move(st));
  }
  cmd->done = std::move(done);
  // A refused submit leaves the command (and its callback) with us.
  if (auto st = impl_->sequencer->Submit(&cmd); !st.ok())
    cmd->done(st);
}

absl::StatusOr<AppendResult> Ledger::Append(const AppendRequest& request) {
  absl::Notification done;
  absl::StatusOr<AppendResult> result = absl::UnknownError("not completed");
  AppendAsync(request, [&](absl::StatusOr<AppendResult> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

Head Ledger::GetHead() const {
  return impl_->sequencer->head();
}

absl::Status Ledger::WaitForPosition(uint64_t position,
                                     absl::Time deadline) const {
  return impl_->sequencer->WaitForPosition(position, deadline);
}

uint64_t Ledger::AddCommitListener(CommitListener listener) {
  return impl_->sequencer->AddListener(std::move(listener));
}

void Ledger::RemoveCommitListener(uint64_t id) {
  impl_->sequencer->RemoveListener(id);
}

absl::StatusOr<StoredEvent> Ledger::ReadAt(uint64_t position) const {
  if (position == 0)
    return absl::NotFoundError("position 0 holds no event");
  return impl_->ReadAt(rocksdb::ReadOptions(), position);
}

absl::StatusOr<ReadPage> Ledger::ReadAll(uint64_t from, size_t max_count,
                                         Direction direction) const {
  if (max_count == 0)
    return absl::InvalidArgumentError("max_count: must be > 0");
  const Head head = GetHead();
  ReadPage page;
  if (head.position == 0)
    return page;
  if (direction == Direction::kForward) {
    if (from == 0)
      from = 1;
    if (from > head.position)
      return page;
  } else {
    if (from == 0 || from > head.position)
      from = head.position;
  }
  rocksdb::ReadOptions ro;
  const rocksdb::Snapshot* snap = impl_->db->db->GetSnapshot();
  ro.snapshot = snap;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->db->NewIterator(ro, impl_->db->events));
  uint64_t expect = from;
  absl::Status error;
  const bool fwd = direction == Direction::kForward;
  for (fwd ? it->Seek(PositionKey(from)) : it->SeekForPrev(PositionKey(from));
       it->Valid() && page.events.size() < max_count;
       fwd ? it->Next() : it->Prev()) {
    if (expect == 0 || expect > head.position)
      break;
    auto ev =
        DecodeRecord(absl::string_view(it->value().data(), it->value().size()));
    // Size before GetU64: a short stray key must not be read past its end.
    if (!ev.ok() || ev->header.position != expect || it->key().size() != 8 ||
        GetU64(it->key().data()) != expect) {
      error = absl::DataLossError(absl::StrCat("event at position ", expect,
                                               " is missing or malformed"));
      break;
    }
    page.events.push_back(std::move(*ev));
    expect = fwd ? expect + 1 : expect - 1;
  }
  if (error.ok() && !it->status().ok())
    error = FromRocks(it->status(), "scanning events");
  if (error.ok() && page.events.size() < max_count && fwd &&
      expect <= head.position) {
    error = absl::DataLossError(
        absl::StrCat("event at position ", expect, " is missing"));
  }
  // Check the chain links inside the page (and to the event before it).
  if (error.ok() && !page.events.empty()) {
    std::vector<const StoredEvent*> ordered;
    for (const auto& e : page.events)
      ordered.push_back(&e);
    if (!fwd)
      std::reverse(ordered.begin(), ordered.end());
    Digest prev{};
    const uint64_t lowest = ordered.front()->header.position;
    if (lowest > 1) {
      auto before = impl_->ReadAt(ro, lowest - 1);
      if (!before.ok()) {
        error = before.status();
      } else {
        prev = before->chain_hash;
      }
    }
    for (size_t i = 0; error.ok() && i < ordered.size(); ++i) {
      const StoredEvent& e = *ordered[i];
      absl::string_view header(
          e.stored_bytes.data(),
          e.stored_bytes.size() - e.ciphertext.size() - crypto::kDigestBytes);
      if (!crypto::DigestEquals(crypto::ChainHash(prev, header, e.ciphertext),
                                e.chain_hash)) {
        error = absl::DataLossError(absl::StrCat(
            "chain hash mismatch at position ", e.header.position));
      }
      prev = e.chain_hash;
    }
  }
  impl_->db->db->ReleaseSnapshot(snap);
  if (!error.ok())
    return error;
  if (fwd) {
    page.next = (expect <= head.position) ? expect : 0;
  } else {
    page.next = expect;  // 0 once position 1 was returned
  }
  return page;
}

absl::StatusOr<ReadPage> Ledger::ReadStream(const std::string& stream_id,
                                            uint64_t from_version,
                                            size_t max_count,
                                            Direction direction) const {
  if (auto s = ValidateStreamId(stream_id, "stream_id"); !s.ok())
    return s;
  if (max_count == 0)
    return absl::InvalidArgumentError("max_count: must be > 0");
  rocksdb::ReadOptions ro;
  const rocksdb::Snapshot* snap = impl_->db->db->GetSnapshot();
  ro.snapshot = snap;
  const std::string prefix = StreamEntryPrefix(stream_id);
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->db->NewIterator(ro, impl_->db->streams));
  const bool fwd = direction == Direction::kForward;
  if (fwd) {
    it->Seek(StreamEntryKey(stream_id, from_version == 0 ? 1 : from_version));
  } else {
    it->SeekForPrev(StreamEntryKey(
        stream_id, from_version == 0 ? UINT64_MAX : from_version));
  }
  ReadPage page;
  absl::Status error;
  uint64_t last_version = 0;
  bool more = false;
  for (; it->Valid(); fwd ? it->Next() : it->Prev()) {
    absl::string_view key(it->key().data(), it->key().size());
    if (key.size() != prefix.size() + 8 ||
        key.substr(0, prefix.size()) != prefix)
      break;
    if (page.events.size() >= max_count) {
      more = true;
      break;
    }
    const uint64_t version = GetU64(key.data() + prefix.size());
    if (it->value().size() != 8) {
      error = absl::DataLossError(absl::StrCat("stream index entry ", stream_id,
                                               "@", version, " malformed"));
      break;
    }
    auto ev = impl_->ReadAt(ro, GetU64(it->value().data()));
    if (!ev.ok()) {
      error = ev.status();
      break;
    }
    if (ev->header.stream_id != stream_id ||
        ev->header.stream_version != version) {
      error = absl::DataLossError(
          absl::StrCat("stream index entry ", stream_id, "@", version,
                       " points at an event of another stream or version"));
      break;
    }
    last_version = version;
    page.events.push_back(std::move(*ev));
  }
  if (error.ok() && !it->status().ok())
    error = FromRocks(it->status(), "scanning stream");
  impl_->db->db->ReleaseSnapshot(snap);
  if (!error.ok())
    return error;
  if (more)
    page.next = fwd ? last_version + 1 : last_version - 1;
  return page;
}

namespace {
absl::StatusOr<AppendResult> FindCommittedWith(const Ledger::Impl& impl,
                                               const std::string& command_id,
                                               const Digest& fingerprint) {
  std::string stored;
  rocksdb::Status s = impl.db->db->Get(rocksdb::ReadOptions(),
                                       impl.db->commands, command_id, &stored);
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("no command ", command_id));
  }
  if (!s.ok())
    return FromRocks(s, "reading command record");
  Digest fp{};
  auto prior = DecodeCommandRecord(stored, &fp);
  if (!prior.ok())
    return prior.status();
  if (!crypto::DigestEquals(fp, fingerprint)) {
    return absl::AlreadyExistsError(
        absl::StrCat("command id ", command_id,
                     " was already used for a different command"));
  }
  prior->duplicate = true;
  return prior;
}
}  // namespace

absl::StatusOr<AppendResult> Ledger::FindCommitted(
    const AppendRequest& request) const {
  if (request.fingerprint_material.empty()) {
    if (auto s = ValidateAppendRequest(request, impl_->limits); !s.ok()) {
      return s;
    }
  } else if (request.command_id.empty() ||
             request.command_id.size() > kMaxCommandIdBytes) {
    return absl::InvalidArgumentError("command_id: 1..128 bytes required");
  }
  return FindCommittedWith(*impl_, request.command_id,
                           Fingerprint(*impl_->ring, request));
}

absl::StatusOr<uint64_t> Ledger::StreamVersion(
    const std::string& stream_id) const {
  if (auto s = ValidateStreamId(stream_id, "stream_id"); !s.ok())
    return s;
  std::string v;
  rocksdb::Status s = impl_->db->db->Get(
      rocksdb::ReadOptions(), impl_->db->streams, StreamHeadKey(stream_id), &v);
  if (s.IsNotFound())
    return 0;
  if (!s.ok())
    return FromRocks(s, "reading stream head");
  if (v.size() != 8)
    return absl::DataLossError(
        absl::StrCat("stream head of ", stream_id, " malformed"));
  return GetU64(v.data());
}

absl::StatusOr<AppendResult> Ledger::LookupCommand(
    const std::string& command_id) const {
  std::string stored;
  rocksdb::Status s = impl_->db->db->Get(
      rocksdb::ReadOptions(), impl_->db->commands, command_id, &stored);
  if (s.IsNotFound())
    return absl::NotFoundError(absl::StrCat("no command ", command_id));
  if (!s.ok())
    return FromRocks(s, "reading command record");
  auto r = DecodeCommandRecord(stored, nullptr);
  if (r.ok())
    r->duplicate = true;
  return r;
}

absl::StatusOr<std::string> Ledger::Decrypt(const StoredEvent& event) const {
  auto key =
      impl_->ring->KeyForOpen(event.header.key_class, event.header.subject_id);
  if (!key.ok())
    return key.status();
  auto plain = crypto::Open(**key, event.header.nonce, event.ciphertext,
                            SealedHeaderBytes(event.header));
  if (!plain.ok()) {
    return absl::DataLossError(absl::StrCat("event at position ",
                                            event.header.position,
                                            " failed to authenticate"));
  }
  return plain;
}

VerifyReport Ledger::Verify(uint64_t from, uint64_t to) const {
  if (to != 0 && to >= GetHead().position)
    to = 0;  // through the head record
  const rocksdb::Snapshot* snap = impl_->db->db->GetSnapshot();
  VerifyReport r = internal::VerifyRange(*impl_->db, from, to, snap);
  impl_->db->db->ReleaseSnapshot(snap);
  return r;
}

absl::Status Ledger::DestroySubjectKey(const std::string& subject_id) {
  if (auto s = ValidateSubjectId(subject_id, "subject_id", /*required=*/true);
      !s.ok())
    return s;
  return impl_->ring->DestroySubjectKey(subject_id);
}

namespace {
absl::Status MerkleOff() {
  return absl::FailedPreconditionError(
      "the Merkle tree is not maintained (LedgerOptions.merkle is off)");
}
}  // namespace

absl::StatusOr<crypto::Digest> Ledger::MerkleRoot(uint64_t tree_size) const {
  if (!impl_->merkle)
    return MerkleOff();
  const uint64_t head = GetHead().position;
  if (tree_size > head) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tree_size: ", tree_size, " is beyond the head (", head, ")"));
  }
  internal::MerkleReader reader(*impl_->db, nullptr);
  return reader.Root(tree_size);
}

absl::StatusOr<std::vector<crypto::Digest>> Ledger::InclusionProof(
    uint64_t position, uint64_t tree_size) const {
  if (!impl_->merkle)
    return MerkleOff();
  const uint64_t head = GetHead().position;
  if (tree_size > head) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tree_size: ", tree_size, " is beyond the head (", head, ")"));
  }
  if (position == 0 || position > tree_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "position: ", position, " is not in the tree of size ", tree_size));
  }
  internal::MerkleReader reader(*impl_->db, nullptr);
  return reader.InclusionProof(position - 1, tree_size);
}

absl::StatusOr<std::vector<crypto::Digest>> Ledger::ConsistencyProof(
    uint64_t old_size, uint64_t new_size) const {
  if (!impl_->merkle)
    return MerkleOff();
  const uint64_t head = GetHead().position;
  if (new_size > head) {
    return absl::InvalidArgumentError(absl::StrCat(
        "new_size: ", new_size, " is beyond the head (", head, ")"));
  }
  if (old_size > new_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "old_size: ", old_size, " is larger than new_size ", new_size));
  }
  internal::MerkleReader reader(*impl_->db, nullptr);
  return reader.ConsistencyProof(old_size, new_size);
}

absl::StatusOr<SignedCheckpoint> Ledger::MakeCheckpoint() {
  if (!impl_->checkpointer)
    return MerkleOff();
  return impl_->checkpointer->Make();
}

absl::StatusOr<SignedCheckpoint> Ledger::LatestCheckpoint() const {
  return internal::ReadLatestCheckpoint(*impl_->db, nullptr);
}

absl::StatusOr<SignedCheckpoint> Ledger::CheckpointAt(
    uint64_t tree_size) const {
  return internal::ReadCheckpoint(*impl_->db, nullptr, tree_size);
}

absl::StatusOr<std::vector<SignedCheckpoint>> Ledger::ListCheckpoints(
    uint64_t from_size, size_t max_count) const {
  return internal::ListCheckpoints(*impl_->db, nullptr, from_size, max_count);
}

absl::Status Ledger::WaitForCheckpoint(uint64_t tree_size,
                                       absl::Time deadline) const {
  if (!impl_->checkpointer)
    return MerkleOff();
  return impl_->checkpointer->WaitFor(tree_size, deadline);
}

std::string Ledger::CheckpointVerifierKey() const {
  if (!impl_->checkpointer)
    return "";
  return impl_->checkpointer->VerifierKey();
}

LedgerStats Ledger::Stats() const {
  LedgerStats s;
  impl_->sequencer->FillStats(&s);
  return s;
}

absl::Status Ledger::WritesStopped() const {
  return impl_->db->WritesStopped();
}

crypto::KeyRing& Ledger::key_ring() {
  return *impl_->ring;
}

const std::string& Ledger::data_dir() const {
  return impl_->data_dir;
}

internal::Db& internal::LedgerAccess::GetDb(const Ledger& ledger) {
  return *ledger.impl_->db;
}

VerifyReport VerifyDataDir(const std::string& data_dir, uint64_t from,
                           uint64_t to) {
  internal::DbOpenOptions o;
  o.read_only = true;
  o.create = false;
  auto db = internal::OpenDb(data_dir, o);
  if (!db.ok()) {
    VerifyReport r;
    // Corruption that stops RocksDB from opening the directory (a damaged
    // table or manifest) is data loss, as Ledger::Open reports it.
    r.status = absl::IsDataLoss(db.status())
                   ? db.status()
                   : absl::FailedPreconditionError(db.status().message());
    return r;
  }
  VerifyReport r = internal::VerifyRange(**db, from, to, nullptr);
  if (!r.status.ok() || from > 1 || to != 0)
    return r;
  // A whole-directory check also reads every block of every table file
  // (views, indexes, keys included) against its checksum: damage the chain
  // walk does not read would otherwise pass.
  if (auto s = internal::FromRocks((*db)->db->VerifyChecksum(),
                                   "table file checksums");
      !s.ok()) {
    r.status = absl::DataLossError(s.message());
  }
  return r;
}

}  // namespace carelog::storage
