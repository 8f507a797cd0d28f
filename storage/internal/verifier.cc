#include "storage/internal/verifier.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

#include "crypto/hash.h"
#include "storage/record.h"

namespace carelog::storage::internal {

namespace {

constexpr size_t kIndexBatch = 512;

VerifyReport Bad(VerifyReport r, uint64_t position, VerifyProblem problem,
                 absl::string_view detail) {
  r.first_bad_position = position;
  r.problem = problem;
  r.status = absl::DataLossError(
      absl::StrCat("ledger verification failed at position ", position, ": ",
                   VerifyProblemName(problem), " (", detail, ")"));
  return r;
}

// Pending stream-index checks, resolved in batches with MultiGet: a point
// lookup per event would dominate the cost of verification.
class IndexChecker {
 public:
  IndexChecker(const Db& db, const rocksdb::ReadOptions& ro)
      : db_(db), ro_(ro) {}

  void Add(absl::string_view stream_id, uint64_t version, uint64_t position) {
    keys_.push_back(StreamEntryKey(stream_id, version));
    positions_.push_back(position);
  }
  bool Full() const { return keys_.size() >= kIndexBatch; }

  // Checks every pending entry; returns the first failure in position order.
  // Sets *bad_position/*problem and returns false on the first failure.
  bool Flush(uint64_t* bad_position, VerifyProblem* problem,
             std::string* detail) {
    if (keys_.empty())
      return true;
    std::vector<rocksdb::Slice> slices(keys_.begin(), keys_.end());
    std::vector<rocksdb::PinnableSlice> values(keys_.size());
    std::vector<rocksdb::Status> statuses(keys_.size());
    db_.db->MultiGet(ro_, db_.streams, slices.size(), slices.data(),
                     values.data(), statuses.data(), /*sorted_input=*/false);
    bool ok = true;
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (statuses[i].IsNotFound()) {
        *bad_position = positions_[i];
        *problem = VerifyProblem::kMissingStreamIndex;
        *detail = "no stream index entry for this event";
        ok = false;
        break;
      }
      if (!statuses[i].ok()) {
        *bad_position = positions_[i];
        *problem = VerifyProblem::kMissingStreamIndex;
        *detail = statuses[i].ToString();
        ok = false;
        break;
      }
      if (values[i].size() != 8 || GetU64(values[i].data()) != positions_[i]) {
        *bad_position = positions_[i];
        *problem = VerifyProblem::kStreamIndexMismatch;
        *detail = "stream index entry points at another position";
        ok = false;
        break;
      }
    }
    keys_.clear();
    positions_.clear();
    return ok;
  }

 private:
  const Db& db_;
  const rocksdb::ReadOptions& ro_;
  std::vector<std::string> keys_;
  std::vector<uint64_t> positions_;
};

}  // namespace

VerifyReport VerifyRange(const Db& db, uint64_t from, uint64_t to,
                         const rocksdb::Snapshot* snapshot) {
  VerifyReport report;
  if (from == 0)
    from = 1;
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.fill_cache = false;
  ro.readahead_size = 4 << 20;
  ro.verify_checksums = true;

  // The head record tells where the log should end.
  std::string head_value;
  Head head;
  bool have_head = false;
  rocksdb::Status hs = db.db->Get(ro, db.meta, kMetaHead, &head_value);
  if (hs.ok()) {
    auto h = DecodeHead(head_value);
    if (!h.ok())
      return Bad(report, 1, VerifyProblem::kHeadMismatch,
                 "head record malformed");
    head = *h;
    have_head = true;
  } else if (!hs.IsNotFound()) {
    report.status = FromRocks(hs, "reading head record");
    return report;
  }
  const bool to_head = (to == 0);
  if (to_head)
    to = have_head ? head.position : UINT64_MAX;

  Digest prev{};  // genesis: 32 zero bytes
  if (from > 1) {
    std::string v;
    rocksdb::Status s = db.db->Get(ro, db.events, PositionKey(from - 1), &v);
    if (s.IsNotFound())
      return Bad(report, from - 1, VerifyProblem::kGap, "anchor event missing");
    if (!s.ok()) {
      report.status = FromRocks(s, "reading anchor event");
      return report;
    }
    auto rv = ParseRecordView(v);
    if (!rv.ok())
      return Bad(report, from - 1, VerifyProblem::kMalformedRecord,
                 rv.status().message());
    prev = rv->chain_hash;
  }
  report.verified_head = Head{from - 1, prev};

  IndexChecker index(db, ro);
  uint64_t bad = 0;
  VerifyProblem problem = VerifyProblem::kNone;
  std::string detail;
  uint64_t expect = from;

  std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(ro, db.events));
  for (it->Seek(PositionKey(from)); it->Valid(); it->Next()) {
    auto pos = DecodePositionKey(
        absl::string_view(it->key().data(), it->key().size()));
    if (!pos.ok()) {
      if (!index.Flush(&bad, &problem, &detail))
        return Bad(report, bad, problem, detail);
      return Bad(report, expect, VerifyProblem::kMalformedRecord,
                 "event key malformed");
    }
    if (*pos > to)
      break;
    if (*pos != expect) {
      if (!index.Flush(&bad, &problem, &detail))
        return Bad(report, bad, problem, detail);
      return Bad(report, expect, VerifyProblem::kGap,
                 absl::StrCat("next stored position is ", *pos));
    }
    auto rv = ParseRecordView(
        absl::string_view(it->value().data(), it->value().size()));
    VerifyProblem chain_problem = VerifyProblem::kNone;
    std::string chain_detail;
    if (!rv.ok()) {
      chain_problem = VerifyProblem::kMalformedRecord;
      chain_detail = std::string(rv.status().message());
    } else if (rv->position != expect) {
      chain_problem = VerifyProblem::kPositionMismatch;
      chain_detail = absl::StrCat("record claims position ", rv->position);
    } else if (!crypto::DigestEquals(
                   crypto::ChainHash(prev, rv->header, rv->ciphertext),
                   rv->chain_hash)) {
      chain_problem = VerifyProblem::kHashMismatch;
      chain_detail = "stored hash does not recompute";
    }
    if (chain_problem != VerifyProblem::kNone) {
      if (!index.Flush(&bad, &problem, &detail))
        return Bad(report, bad, problem, detail);
      return Bad(report, expect, chain_problem, chain_detail);
    }
    index.Add(rv->stream_id, rv->stream_version, expect);
    if (index.Full() && !index.Flush(&bad, &problem, &detail)) {
      return Bad(report, bad, problem, detail);
    }
    prev = rv->chain_hash;
    report.verified_head = Head{expect, prev};
    ++report.events_checked;
    ++expect;
  }
  if (!it->status().ok()) {
    report.status = FromRocks(it->status(), "scanning events");
    return report;
  }
  if (!index.Flush(&bad, &problem, &detail))
    return Bad(report, bad, problem, detail);

  const uint64_t last = expect - 1;
  if (to_head) {
    if (!have_head) {
      if (last > 0)
        return Bad(report, last, VerifyProblem::kHeadMismatch,
                   "head record missing");
    } else if (last < head.position) {
      return Bad(report, last + 1, VerifyProblem::kHeadMismatch,
                 absl::StrCat("head record says ", head.position,
                              " but events end at ", last));
    } else if (last == head.position && last >= from &&
               !crypto::DigestEquals(head.chain_hash, prev)) {
      return Bad(report, last, VerifyProblem::kHeadMismatch,
                 "head record hash differs");
    }
    // Events stored beyond the recorded head were never acknowledged.
    if (have_head) {
      std::unique_ptr<rocksdb::Iterator> extra(
          db.db->NewIterator(ro, db.events));
      extra->Seek(PositionKey(head.position + 1));
      if (extra->Valid()) {
        return Bad(report, head.position + 1, VerifyProblem::kHeadMismatch,
                   "events stored beyond the head record");
      }
    }
  } else if (last < to) {
    return Bad(report, last + 1, VerifyProblem::kGap,
               "range ends before the requested position");
  }
  report.status = absl::OkStatus();
  return report;
}

}  // namespace carelog::storage::internal
