#include "storage/merkle.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "crypto/merkle.h"
#include "storage/internal/checkpointer.h"
#include "storage/internal/db.h"
#include "storage/internal/ledger_access.h"
#include "storage/internal/merkle_tree.h"
#include "storage/maintenance.h"
#include "storage/record.h"

namespace carelog::storage {

using crypto::Digest;

namespace {

std::string B64(const Digest& d) {
  return crypto::Base64Encode(crypto::DigestToBytes(d));
}

absl::Status FillFromBody(absl::string_view text, SignedCheckpoint* out) {
  auto body = crypto::ParseCheckpoint(text);
  if (!body.ok())
    return body.status();
  out->origin = body->origin;
  out->tree_size = body->size;
  out->root = body->root;
  bool have_chain = false, have_time = false;
  for (const std::string& e : body->extensions) {
    absl::string_view line = e;
    const std::string chain_prefix =
        absl::StrCat(crypto::kChainHeadExtension, " ");
    const std::string time_prefix = absl::StrCat(crypto::kTimeExtension, " ");
    if (absl::StartsWith(line, chain_prefix)) {
      if (have_chain)
        return absl::InvalidArgumentError("checkpoint: two chain-head lines");
      auto raw = crypto::Base64Decode(line.substr(chain_prefix.size()));
      if (!raw.ok() || raw->size() != crypto::kDigestBytes)
        return absl::InvalidArgumentError(
            "checkpoint: chain head is not base64 of 32 bytes");
      std::copy(raw->begin(), raw->end(), out->chain_head.begin());
      have_chain = true;
    } else if (absl::StartsWith(line, time_prefix)) {
      if (have_time)
        return absl::InvalidArgumentError("checkpoint: two time lines");
      if (!absl::SimpleAtoi(line.substr(time_prefix.size()),
                            &out->time_micros)) {
        return absl::InvalidArgumentError("checkpoint: time is not an integer");
      }
      have_time = true;
    }
    // Other extension lines (e.g. a witness's) are allowed and ignored.
  }
  if (!have_chain)
    return absl::InvalidArgumentError("checkpoint: no chain-head line");
  if (!have_time)
    return absl::InvalidArgumentError("checkpoint: no time line");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> CheckpointBody(absl::string_view origin,
                                           uint64_t tree_size,
                                           const Digest& root,
                                           const Digest& chain_head,
                                           int64_t time_micros) {
  if (!crypto::IsValidNoteKeyName(origin)) {
    return absl::InvalidArgumentError(
        "checkpoint origin: must be non-empty, without whitespace or '+'");
  }
  crypto::Checkpoint c;
  c.origin = std::string(origin);
  c.size = tree_size;
  c.root = root;
  c.extensions = {
      absl::StrCat(crypto::kChainHeadExtension, " ", B64(chain_head)),
      absl::StrCat(crypto::kTimeExtension, " ", time_micros)};
  return crypto::FormatCheckpoint(c);
}

absl::StatusOr<SignedCheckpoint> ParseSignedCheckpoint(absl::string_view note) {
  auto n = crypto::ParseNote(note);
  if (!n.ok())
    return n.status();
  SignedCheckpoint cp;
  if (auto s = FillFromBody(n->text, &cp); !s.ok())
    return s;
  cp.note = std::string(note);
  return cp;
}

absl::StatusOr<SignedCheckpoint> OpenCheckpoint(
    absl::string_view note, const crypto::NoteVerifier& verifier) {
  auto text = crypto::OpenNote(note, verifier);
  if (!text.ok())
    return text.status();
  SignedCheckpoint cp;
  if (auto s = FillFromBody(*text, &cp); !s.ok())
    return s;
  if (cp.origin != verifier.name) {
    return absl::PermissionDeniedError(absl::StrCat(
        "checkpoint is for origin ", cp.origin, ", not ", verifier.name));
  }
  cp.note = std::string(note);
  return cp;
}

namespace {

// The checks of VerifyDataDirMerkle over `d` as of `snapshot` (null: latest).
MerkleVerifyReport VerifyMerkleOf(const internal::Db& d,
                                  const rocksdb::Snapshot* snapshot,
                                  const crypto::NoteVerifier* verifier) {
  MerkleVerifyReport r;
  if (d.merkle == nullptr || d.checkpoints == nullptr) {
    r.status = absl::FailedPreconditionError(
        "ledger has no merkle/checkpoints column family");
    return r;
  }
  rocksdb::ReadOptions snap_ro;
  snap_ro.snapshot = snapshot;
  auto size = internal::ReadMerkleSize(d, snapshot);
  if (!size.ok()) {
    r.status = size.status();
    return r;
  }
  r.tree_size = *size;
  Head head;
  {
    std::string hv;
    rocksdb::Status hs = d.db->Get(snap_ro, d.meta, internal::kMetaHead, &hv);
    if (hs.ok()) {
      auto h = DecodeHead(hv);
      if (!h.ok()) {
        r.status = absl::DataLossError("head record malformed");
        return r;
      }
      head = *h;
    }
  }
  if (r.tree_size > head.position) {
    r.first_bad_position = head.position + 1;
    r.status = absl::DataLossError(absl::StrCat(
        "merkle tree has ", r.tree_size, " leaves but the log ends at ",
        head.position, " (events removed?)"));
    return r;
  }
  auto cps = internal::ListCheckpoints(d, snapshot, 0, SIZE_MAX);
  if (!cps.ok()) {
    r.status = cps.status();
    return r;
  }
  // Signatures and origins first: they need no events.
  for (const SignedCheckpoint& cp : *cps) {
    if (verifier != nullptr) {
      auto opened = OpenCheckpoint(cp.note, *verifier);
      if (!opened.ok()) {
        r.bad_checkpoint_size = cp.tree_size;
        r.status = absl::Status(
            opened.status().code() == absl::StatusCode::kInvalidArgument
                ? absl::StatusCode::kDataLoss
                : opened.status().code(),
            absl::StrCat("checkpoint of tree size ", cp.tree_size, ": ",
                         opened.status().message()));
        return r;
      }
    }
    if (cp.tree_size > r.tree_size) {
      r.bad_checkpoint_size = cp.tree_size;
      r.first_bad_position = r.tree_size + 1;
      r.status = absl::DataLossError(absl::StrCat(
          "checkpoint of tree size ", cp.tree_size, " is beyond the tree (",
          r.tree_size, " leaves): signed events are missing"));
      return r;
    }
  }
  if (!cps->empty())
    r.latest_checkpoint = cps->back().tree_size;

  // One pass over the events: recompute every node and compare it with the
  // stored tree; check each checkpoint's root and chain head on the way.
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.fill_cache = false;
  ro.readahead_size = 4 << 20;
  std::unique_ptr<rocksdb::Iterator> it(d.db->NewIterator(ro, d.events));
  internal::MerkleFrontier frontier;
  size_t next_cp = 0;
  while (next_cp < cps->size() && (*cps)[next_cp].tree_size == 0) {
    if (!crypto::DigestEquals((*cps)[next_cp].root,
                              crypto::MerkleEmptyRoot())) {
      r.bad_checkpoint_size = 0;
      r.status = absl::DataLossError("checkpoint of size 0: root is not empty");
      return r;
    }
    ++next_cp;
  }
  absl::Status node_error;
  uint64_t bad_node_position = 0;
  const internal::MerkleFrontier::NodeVisitor visit =
      [&](int level, uint64_t index, const Digest& want) {
        if (!node_error.ok())
          return;
        std::string v;
        rocksdb::Status s =
            d.db->Get(ro, d.merkle, internal::MerkleNodeKey(level, index), &v);
        // The first position under this node: where the difference shows.
        const uint64_t position = (index << level) + 1;
        if (!s.ok() || v.size() != crypto::kDigestBytes ||
            !std::equal(v.begin(), v.end(),
                        reinterpret_cast<const char*>(want.data()))) {
          bad_node_position = position;
          node_error = absl::DataLossError(
              absl::StrCat("merkle verification failed at position ", position,
                           ": stored node (", level, ", ", index, ") ",
                           s.ok() ? "differs from the events" : "is missing"));
        }
      };
  it->Seek(PositionKey(1));
  for (uint64_t pos = 1; pos <= r.tree_size; ++pos, it->Next()) {
    if (!it->Valid() || it->key().size() != 8 ||
        GetU64(it->key().data()) != pos) {
      r.first_bad_position = pos;
      r.status = it->status().ok()
                     ? absl::DataLossError(absl::StrCat(
                           "merkle verification failed at position ", pos,
                           ": event missing"))
                     : internal::FromRocks(it->status(), "scanning events");
      return r;
    }
    const absl::string_view stored(it->value().data(), it->value().size());
    frontier.Append(crypto::MerkleLeafHash(stored), nullptr, nullptr, &visit);
    ++r.leaves_checked;
    if (!node_error.ok()) {
      r.first_bad_position = bad_node_position;
      r.status = node_error;
      return r;
    }
    while (next_cp < cps->size() && (*cps)[next_cp].tree_size == pos) {
      const SignedCheckpoint& cp = (*cps)[next_cp];
      auto rv = ParseRecordView(stored);
      if (!crypto::DigestEquals(frontier.Root(), cp.root)) {
        r.bad_checkpoint_size = cp.tree_size;
        r.first_bad_position = pos;
        r.status = absl::DataLossError(absl::StrCat(
            "checkpoint of tree size ", cp.tree_size,
            ": signed root differs from the root of the events (an event at "
            "or before position ",
            pos, " was changed after it was signed)"));
        return r;
      }
      if (!rv.ok() || !crypto::DigestEquals(rv->chain_hash, cp.chain_head)) {
        r.bad_checkpoint_size = cp.tree_size;
        r.first_bad_position = pos;
        r.status = absl::DataLossError(absl::StrCat(
            "checkpoint of tree size ", cp.tree_size,
            ": signed chain head differs from the chain hash at position ",
            pos));
        return r;
      }
      ++r.checkpoints_checked;
      ++next_cp;
    }
  }
  r.root = frontier.Root();
  // The peaks of the stored tree must give the same root (what proofs use).
  internal::MerkleReader reader(d, snapshot);
  auto stored_root = reader.Root(r.tree_size);
  if (!stored_root.ok() || !crypto::DigestEquals(*stored_root, r.root)) {
    r.status = absl::DataLossError(
        "stored merkle tree root differs from the root of the events");
    return r;
  }
  r.status = absl::OkStatus();
  return r;
}

}  // namespace

MerkleVerifyReport VerifyDataDirMerkle(const std::string& data_dir,
                                       const crypto::NoteVerifier* verifier) {
  internal::DbOpenOptions o;
  o.read_only = true;
  o.create = false;
  auto db = internal::OpenDb(data_dir, o);
  if (!db.ok()) {
    MerkleVerifyReport r;
    r.status = absl::FailedPreconditionError(db.status().message());
    return r;
  }
  return VerifyMerkleOf(**db, nullptr, verifier);
}

MerkleVerifyReport VerifyLedgerMerkle(const Ledger& ledger,
                                      const crypto::NoteVerifier* verifier) {
  const internal::Db& d = internal::LedgerAccess::GetDb(ledger);
  const rocksdb::Snapshot* snapshot = d.db->GetSnapshot();
  MerkleVerifyReport r = VerifyMerkleOf(d, snapshot, verifier);
  d.db->ReleaseSnapshot(snapshot);
  return r;
}

}  // namespace carelog::storage
