#include "storage/internal/verifier.h"

#include <algorithm>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

#include "crypto/hash.h"
#include "storage/record.h"

namespace carelog::storage::internal {

namespace {

constexpr size_t kIndexBatch = 512;
constexpr uint64_t kParallelVerifyMinEvents = 65536;
constexpr uint64_t kMaxVerifyThreads = 4;

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

struct SpanResult {
  absl::Status io;   // an I/O error (not corruption)
  uint64_t bad = 0;  // first bad position, 0 if none
  VerifyProblem problem = VerifyProblem::kNone;
  std::string detail;
  uint64_t last = 0;  // last position checked
  Digest last_hash{};
  uint64_t count = 0;
};

// Checks the chain and stream index over [from, to] (stops early at a gap or
// at the end of the log), starting from `prev`, the hash of from-1.
SpanResult ScanSpan(const Db& db, const rocksdb::ReadOptions& ro, uint64_t from,
                    uint64_t to, Digest prev) {
  SpanResult out;
  auto fail = [&out](uint64_t pos, VerifyProblem p, absl::string_view d) {
    out.bad = pos;
    out.problem = p;
    out.detail = std::string(d);
    return out;
  };
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
        return fail(bad, problem, detail);
      return fail(expect, VerifyProblem::kMalformedRecord,
                  "event key malformed");
    }
    if (*pos > to)
      break;
    if (*pos != expect) {
      if (!index.Flush(&bad, &problem, &detail))
        return fail(bad, problem, detail);
      return fail(expect, VerifyProblem::kGap,
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
        return fail(bad, problem, detail);
      return fail(expect, chain_problem, chain_detail);
    }
    index.Add(rv->stream_id, rv->stream_version, expect);
    if (index.Full() && !index.Flush(&bad, &problem, &detail)) {
      return fail(bad, problem, detail);
    }
    prev = rv->chain_hash;
    out.last = expect;
    out.last_hash = prev;
    ++out.count;
    ++expect;
  }
  if (!it->status().ok()) {
    out.io = FromRocks(it->status(), "scanning events");
    return out;
  }
  if (!index.Flush(&bad, &problem, &detail))
    return fail(bad, problem, detail);

  return out;
}

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

  // Large ranges are checked in parallel spans: each span starts from the
  // stored hash of the event before it, which the previous span recomputes
  // and compares — so the split checks exactly what one pass would.
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  const uint64_t hw = std::max(1u, std::thread::hardware_concurrency());
  if (to != UINT64_MAX && to >= from &&
      to - from + 1 >= kParallelVerifyMinEvents && hw > 1) {
    const uint64_t n = std::min<uint64_t>(hw, kMaxVerifyThreads);
    const uint64_t per = (to - from + 1) / n;
    uint64_t s0 = from;
    for (uint64_t k = 0; k < n; ++k) {
      const uint64_t e = (k + 1 == n) ? to : s0 + per - 1;
      spans.emplace_back(s0, e);
      s0 = e + 1;
    }
  } else {
    spans.emplace_back(from, to);
  }
  std::vector<SpanResult> results(spans.size());
  std::vector<std::thread> workers;
  for (size_t k = 1; k < spans.size(); ++k) {
    workers.emplace_back([&, k] {
      Digest anchor{};
      SpanResult& r = results[k];
      std::string v;
      rocksdb::Status s =
          db.db->Get(ro, db.events, PositionKey(spans[k].first - 1), &v);
      if (!s.ok()) {
        r.bad = spans[k].first - 1;
        r.problem = s.IsNotFound() ? VerifyProblem::kGap
                                   : VerifyProblem::kMalformedRecord;
        r.detail = "span anchor unreadable";
        return;
      }
      auto rv = ParseRecordView(v);
      if (!rv.ok()) {
        r.bad = spans[k].first - 1;
        r.problem = VerifyProblem::kMalformedRecord;
        r.detail = std::string(rv.status().message());
        return;
      }
      anchor = rv->chain_hash;
      r = ScanSpan(db, ro, spans[k].first, spans[k].second, anchor);
    });
  }
  results[0] = ScanSpan(db, ro, spans[0].first, spans[0].second, prev);
  for (auto& w : workers)
    w.join();

  uint64_t expect = from;
  for (size_t k = 0; k < results.size(); ++k) {
    const SpanResult& r = results[k];
    if (!r.io.ok()) {
      report.status = r.io;
      return report;
    }
    if (r.bad != 0)
      return Bad(report, r.bad, r.problem, r.detail);
    report.events_checked += r.count;
    if (r.count > 0) {
      prev = r.last_hash;
      report.verified_head = Head{r.last, prev};
      expect = r.last + 1;
    }
    // A span that ended early: either a hole (events follow — a gap, as one
    // pass would report it) or the log ends here (the head checks below
    // report the truncation, as one pass would).
    if (k + 1 < results.size() && expect != spans[k + 1].first) {
      std::unique_ptr<rocksdb::Iterator> next(
          db.db->NewIterator(ro, db.events));
      next->Seek(PositionKey(expect));
      if (next->Valid()) {
        return Bad(report, expect, VerifyProblem::kGap,
                   "events missing inside the range");
      }
      break;
    }
  }

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
