#include "services/audit/audit_view.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

#include "crypto/aead.h"
#include "services/projections/entity_views.h"

namespace carelog::services::audit {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)
using projections::TimeKey;
using projections::ViewTxn;

namespace {

constexpr char kAuditStreamPrefix[] = "audit/";

// A key component that never contains the separator.
std::string Esc(const std::string& s) {
  return absl::StrReplaceAll(s, {{"%", "%25"}, {"/", "%2F"}});
}

std::string PosKey(uint64_t pos) {
  return TimeKey(static_cast<int64_t>(pos));  // the same fixed-width hex
}

std::string RecordKey(uint64_t pos) {
  return absl::StrCat("r/", PosKey(pos));
}

// Associated data binding a sealed record to its event's position, so that a
// value moved under another position's key fails to open.
std::string RecordAd(uint64_t pos) {
  return absl::StrCat("audit/", PosKey(pos));
}

// The position at the end of an index key ("…/<pos>").
bool PosOfKey(const std::string& key, uint64_t* pos) {
  const size_t slash = key.rfind('/');
  if (slash == std::string::npos)
    return false;
  return absl::SimpleHexAtoi(absl::string_view(key).substr(slash + 1), pos);
}

bool Discloses(const AccessAudited& a) {
  return a.outcome() != ACCESS_OUTCOME_DENIED &&
         a.outcome() != ACCESS_OUTCOME_UNSPECIFIED &&
         (a.action() == "read" || a.action() == "export");
}

// Keeps the `cap` most recent entries of `w` whose time is after `since`.
void Prune(std::map<std::string, int64_t>* w, int64_t since, size_t cap) {
  for (auto it = w->begin(); it != w->end();) {
    if (it->second <= since)
      it = w->erase(it);
    else
      ++it;
  }
  while (w->size() > cap) {
    auto oldest = std::min_element(
        w->begin(), w->end(),
        [](const auto& a, const auto& b) { return a.second < b.second; });
    w->erase(oldest);
  }
}

std::string EncodeWindow(const std::map<std::string, int64_t>& w) {
  std::string out;
  for (const auto& [id, t] : w)
    absl::StrAppend(&out, t, " ", id, "\n");
  return out;
}

bool DecodeWindow(absl::string_view s, std::map<std::string, int64_t>* w) {
  for (absl::string_view line : absl::StrSplit(s, '\n', absl::SkipEmpty())) {
    const size_t sp = line.find(' ');
    int64_t t = 0;
    if (sp == absl::string_view::npos ||
        !absl::SimpleAtoi(line.substr(0, sp), &t))
      return false;
    (*w)[std::string(line.substr(sp + 1))] = t;
  }
  return true;
}

absl::StatusOr<std::string> OpenWith(crypto::KeyRing& keys,
                                     const std::string& ad,
                                     absl::string_view sealed) {
  if (sealed.size() < crypto::kNonceBytes)
    return absl::DataLossError(absl::StrCat("audit row ", ad, " too short"));
  auto key = keys.KeyForOpen(crypto::KeyClass::kAudit, "");
  if (!key.ok())
    return key.status();
  crypto::Nonce nonce;
  std::copy(sealed.begin(), sealed.begin() + crypto::kNonceBytes,
            nonce.begin());
  auto plain =
      crypto::Open(**key, nonce, sealed.substr(crypto::kNonceBytes), ad);
  if (!plain.ok())
    return absl::DataLossError(
        absl::StrCat("audit row ", ad, " does not authenticate"));
  return plain;
}

absl::StatusOr<AuditRecord> OpenRecord(crypto::KeyRing& keys, uint64_t pos,
                                       absl::string_view sealed) {
  auto plain = OpenWith(keys, RecordAd(pos), sealed);
  if (!plain.ok())
    return plain.status();
  AuditRecord r;
  if (!r.ParseFromString(*plain))
    return absl::DataLossError(
        absl::StrCat("audit record ", pos, " does not parse"));
  return r;
}

std::string TimeRangePrefix(const std::string& prefix, int64_t from) {
  return from > 0 ? absl::StrCat(prefix, TimeKey(from)) : std::string();
}

ScanPlan Ranged(std::string prefix, int64_t from, int64_t to) {
  ScanPlan p;
  p.first_after = TimeRangePrefix(prefix, from);
  if (to > 0)
    p.stop_at = absl::StrCat(prefix, TimeKey(to));
  p.prefix = std::move(prefix);
  return p;
}

}  // namespace

AuditView::AuditView(crypto::KeyRing* keys, AuditViewOptions options)
    : keys_(keys), options_(std::move(options)) {}

bool AuditView::Wants(const storage::EventHeader& h) const {
  return absl::StartsWith(h.stream_id, kAuditStreamPrefix) &&
         h.key_class == crypto::KeyClass::kAudit;
}

int64_t AuditView::TimeOf(const AuditRecord& r) {
  return r.access().decided_at_micros() > 0 ? r.access().decided_at_micros()
                                            : r.recorded_at_micros();
}

absl::StatusOr<std::string> AuditView::Seal(const std::string& ad,
                                            const std::string& plain) const {
  auto key = keys_->KeyForOpen(crypto::KeyClass::kAudit, "");
  if (!key.ok())
    return key.status();
  const crypto::Nonce nonce = crypto::RandomNonce();
  std::string out(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  out += crypto::Seal(**key, nonce, plain, ad);
  return out;
}

absl::Status AuditView::Apply(const DecodedEvent& e, ViewTxn& txn) {
  if (AccessAudited a; e.As(&a))
    return ApplyAccess(e, a, txn);
  if (BreakGlassReviewed r; e.As(&r))
    return ApplyReview(r, txn);
  return absl::OkStatus();  // another type on an audit stream: not ours
}

absl::StatusOr<AuditView::Window*> AuditView::LoadWindow(const std::string& key,
                                                         ViewTxn& txn) {
  Window& w = windows_[key];
  if (w.loaded)
    return &w;
  auto row = txn.Get(key);
  if (!row.ok())
    return row.status();
  if (row->has_value()) {
    auto plain = OpenWith(*keys_, key, **row);
    if (!plain.ok())
      return plain.status();
    if (!DecodeWindow(*plain, &w.entries))
      return absl::DataLossError(absl::StrCat("audit window ", key));
  }
  w.loaded = true;
  return &w;
}

std::vector<AuditAnomaly> AuditView::Anomalies(const AccessAudited& a,
                                               uint64_t pos, int64_t time,
                                               Window* reads,
                                               Window* denials) const {
  std::vector<AuditAnomaly> out;
  const bool about_patient = !a.patient_id().empty();
  if (about_patient &&
      (a.patient_vip() || a.patient_employee() || a.patient_restricted()))
    out.push_back(AUDIT_ANOMALY_FLAGGED_RECORD);
  if (reads != nullptr && Discloses(a)) {
    const size_t cap =
        static_cast<size_t>(std::max(1, options_.bulk_distinct_patients));
    reads->entries[a.patient_id()] = time;
    Prune(&reads->entries,
          time - absl::ToInt64Microseconds(options_.bulk_window), cap);
    reads->dirty = true;
    if (reads->entries.size() >= cap)
      out.push_back(AUDIT_ANOMALY_BULK_ACCESS);
  }
  if (about_patient) {
    const absl::TimeZone::CivilInfo ci =
        options_.zone.At(absl::FromUnixMicros(time));
    const int hour = ci.cs.hour();
    const absl::Weekday wd = absl::GetWeekday(ci.cs);
    const bool weekend =
        wd == absl::Weekday::saturday || wd == absl::Weekday::sunday;
    if (hour < options_.business_start_hour ||
        hour >= options_.business_end_hour ||
        (options_.weekends_after_hours && weekend))
      out.push_back(AUDIT_ANOMALY_AFTER_HOURS);
  }
  if (denials != nullptr) {
    const size_t cap =
        static_cast<size_t>(std::max(1, options_.denial_threshold));
    denials->entries[PosKey(pos)] = time;
    Prune(&denials->entries,
          time - absl::ToInt64Microseconds(options_.denial_window), cap);
    denials->dirty = true;
    if (denials->entries.size() >= cap)
      out.push_back(AUDIT_ANOMALY_REPEATED_DENIALS);
  }
  return out;
}

absl::Status AuditView::ApplyAccess(const DecodedEvent& e,
                                    const AccessAudited& a, ViewTxn& txn) {
  const uint64_t pos = e.header.position;
  AuditRecord rec;
  rec.set_position(pos);
  *rec.mutable_access() = a;
  rec.set_recorded_at_micros(e.header.recorded_at_micros);
  rec.set_break_glass(a.outcome() == ACCESS_OUTCOME_BREAK_THE_GLASS);
  const int64_t time = TimeOf(rec);

  Window* reads = nullptr;
  Window* denials = nullptr;
  if (!a.actor().empty() && !a.patient_id().empty() && Discloses(a)) {
    auto w = LoadWindow(absl::StrCat("x/", Esc(a.actor())), txn);
    if (!w.ok())
      return w.status();
    reads = *w;
  }
  if (!a.actor().empty() && a.outcome() == ACCESS_OUTCOME_DENIED) {
    auto w = LoadWindow(absl::StrCat("y/", Esc(a.actor())), txn);
    if (!w.ok())
      return w.status();
    denials = *w;
  }
  for (AuditAnomaly an : Anomalies(a, pos, time, reads, denials))
    rec.add_anomalies(an);

  auto sealed = Seal(RecordAd(pos), rec.SerializeAsString());
  if (!sealed.ok())
    return sealed.status();
  const std::string tail = absl::StrCat(TimeKey(time), "/", PosKey(pos));
  txn.Put(RecordKey(pos), *sealed);
  if (!a.patient_id().empty())
    txn.Put(absl::StrCat("p/", Esc(a.patient_id()), "/", tail), *sealed);
  if (!a.actor().empty())
    txn.Put(absl::StrCat("a/", Esc(a.actor()), "/", tail), "");
  txn.Put(absl::StrCat("t/", tail), "");
  txn.Put(absl::StrCat("o/", static_cast<int>(a.outcome()), "/", tail), "");
  if (!a.purpose().empty())
    txn.Put(absl::StrCat("u/", Esc(a.purpose()), "/", tail), "");
  if (rec.break_glass()) {
    txn.Put(absl::StrCat("b/", tail), "");
    txn.Put(absl::StrCat("q/", tail), "");
  }
  if (a.outcome() == ACCESS_OUTCOME_DENIED)
    txn.Put(absl::StrCat("d/", tail), "");
  if (rec.anomalies_size() > 0)
    txn.Put(absl::StrCat("n/", tail), "");
  for (int an : rec.anomalies())
    txn.Put(absl::StrCat("f/", an, "/", tail), "");
  return absl::OkStatus();
}

absl::Status AuditView::ApplyReview(const BreakGlassReviewed& r, ViewTxn& txn) {
  const std::string key = RecordKey(r.audit_position());
  auto row = txn.Get(key);
  if (!row.ok())
    return row.status();
  // The command checked the record; a review of something the view does not
  // hold (or holds as reviewed already) changes nothing.
  if (!row->has_value())
    return absl::OkStatus();
  auto rec = OpenRecord(*keys_, r.audit_position(), **row);
  if (!rec.ok())
    return rec.status();
  if (!rec->break_glass() || rec->has_review())
    return absl::OkStatus();
  *rec->mutable_review() = r;
  auto sealed = Seal(RecordAd(r.audit_position()), rec->SerializeAsString());
  if (!sealed.ok())
    return sealed.status();
  const std::string tail =
      absl::StrCat(TimeKey(TimeOf(*rec)), "/", PosKey(r.audit_position()));
  txn.Put(key, *sealed);
  if (!rec->access().patient_id().empty())
    txn.Put(absl::StrCat("p/", Esc(rec->access().patient_id()), "/", tail),
            *sealed);
  txn.Delete(absl::StrCat("q/", tail));
  return absl::OkStatus();
}

absl::Status AuditView::Erase(const std::string&, ViewTxn&) {
  return absl::OkStatus();
}

absl::Status AuditView::Flush(ViewTxn& txn) {
  for (auto& [key, w] : windows_) {
    if (!w.dirty)
      continue;
    auto sealed = Seal(key, EncodeWindow(w.entries));
    if (!sealed.ok())
      return sealed.status();
    txn.Put(key, std::move(*sealed));
  }
  windows_.clear();
  return absl::OkStatus();
}

void AuditView::Discard() {
  windows_.clear();
}

ScanPlan AuditView::PlanFor(const AuditFilter& f) {
  std::string prefix;
  if (!f.patient_id().empty())
    prefix = absl::StrCat("p/", Esc(f.patient_id()), "/");
  else if (!f.actor().empty())
    prefix = absl::StrCat("a/", Esc(f.actor()), "/");
  else if (f.anomaly() != AUDIT_ANOMALY_UNSPECIFIED)
    prefix = absl::StrCat("f/", static_cast<int>(f.anomaly()), "/");
  else if (f.outcome() != ACCESS_OUTCOME_UNSPECIFIED)
    prefix = absl::StrCat("o/", static_cast<int>(f.outcome()), "/");
  else if (!f.purpose().empty())
    prefix = absl::StrCat("u/", Esc(f.purpose()), "/");
  else
    prefix = "t/";
  return Ranged(std::move(prefix), f.from_micros(), f.to_micros());
}

ScanPlan AuditView::BreakGlassPlan(bool include_reviewed) {
  return Ranged(include_reviewed ? "b/" : "q/", 0, 0);
}

ScanPlan AuditView::AnomalyPlan(AuditAnomaly anomaly, int64_t from,
                                int64_t to) {
  return Ranged(anomaly == AUDIT_ANOMALY_UNSPECIFIED
                    ? std::string("n/")
                    : absl::StrCat("f/", static_cast<int>(anomaly), "/"),
                from, to);
}

bool AuditView::Matches(const AuditFilter& f, const AuditRecord& r) {
  const AccessAudited& a = r.access();
  if (!f.patient_id().empty() && a.patient_id() != f.patient_id())
    return false;
  if (!f.actor().empty() && a.actor() != f.actor())
    return false;
  if (f.outcome() != ACCESS_OUTCOME_UNSPECIFIED && a.outcome() != f.outcome())
    return false;
  if (!f.purpose().empty() && a.purpose() != f.purpose())
    return false;
  if (!f.resource().empty() && a.resource() != f.resource())
    return false;
  const int64_t t = TimeOf(r);
  if (f.from_micros() > 0 && t < f.from_micros())
    return false;
  if (f.to_micros() > 0 && t >= f.to_micros())
    return false;
  if (f.anomaly() != AUDIT_ANOMALY_UNSPECIFIED &&
      std::find(r.anomalies().begin(), r.anomalies().end(), f.anomaly()) ==
          r.anomalies().end())
    return false;
  return true;
}

absl::StatusOr<AuditRecord> AuditView::ReadRecord(
    const storage::ProjectionStore& store, crypto::KeyRing& keys,
    uint64_t position) {
  auto row = store.Get(RecordKey(position));
  if (!row.ok())
    return row.status();
  if (!row->has_value())
    return absl::NotFoundError(
        absl::StrCat("no access audited at position ", position));
  return OpenRecord(keys, position, **row);
}

absl::StatusOr<RecordPage> AuditView::ReadPage(
    const storage::ProjectionStore& store, crypto::KeyRing& keys,
    const ScanPlan& plan, const AuditFilter& filter, const std::string& after,
    size_t page_size, size_t max_scan) {
  RecordPage out;
  std::string cursor = after.empty() ? plan.first_after : after;
  const size_t chunk = std::max<size_t>(page_size, 64);
  while (out.records.size() < page_size && out.scanned < max_scan) {
    auto page = store.Scan(plan.prefix, cursor, chunk);
    if (!page.ok())
      return page.status();
    for (const auto& row : page->rows) {
      if (!plan.stop_at.empty() && row.key >= plan.stop_at) {
        out.more = false;
        return out;
      }
      ++out.scanned;
      cursor = row.key;
      out.last_key = row.key;
      uint64_t pos = 0;
      if (!PosOfKey(row.key, &pos))
        return absl::DataLossError("audit index key malformed");
      absl::StatusOr<AuditRecord> rec = row.value.empty()
                                            ? ReadRecord(store, keys, pos)
                                            : OpenRecord(keys, pos, row.value);
      if (!rec.ok())
        return rec.status();
      if (Matches(filter, *rec))
        out.records.push_back(std::move(*rec));
      if (out.records.size() >= page_size || out.scanned >= max_scan) {
        out.more = true;
        return out;
      }
    }
    if (!page->more) {
      out.more = false;
      return out;
    }
  }
  out.more = true;
  return out;
}

}  // namespace carelog::services::audit
