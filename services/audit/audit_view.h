// services/audit/audit_view.h — the audit projection ("audit"): every
// AccessAudited event, indexed for compliance queries, with anomaly flags and
// the break-the-glass review queue.
//
// Rows. Values are sealed under the AUDIT key (never a patient's key), so
// erasing a patient keeps the trail readable; Erase() removes nothing. Keys
// hold only opaque ids, enum numbers, purpose codes and times (fixed-width hex,
// so they sort by time); variable components are escaped ('%' → %25,
// '/' → %2F) so that a prefix never matches another id:
//   r/<pos>                       sealed AuditRecord (ad = "audit/<pos>")
//   p/<patient>/<time>/<pos>      the same sealed bytes: one patient's
//                                 accounting of disclosures is one range scan
//   a/<actor>/<time>/<pos>        by actor             (empty values: pointers
//   t/<time>/<pos>                by time               to r/<pos>)
//   o/<outcome>/<time>/<pos>      by outcome
//   u/<purpose>/<time>/<pos>      by purpose of use
//   b/<time>/<pos>                every break-the-glass access
//   q/<time>/<pos>                break-the-glass accesses not reviewed yet
//   d/<time>/<pos>                denied
//   n/<time>/<pos>                any anomaly; f/<anomaly>/<time>/<pos> by kind
//   x/<actor>, y/<actor>          sealed sliding windows (distinct patients
//                                 read; denial times) for the anomaly rules
// <pos> is the ledger position of the AccessAudited event (16 hex digits),
// <time> its decision time. A BreakGlassReviewed event updates r/ and p/ and
// removes the q/ row (the first review counts; later ones are ignored).
//
// Anomalies are computed when an access is applied, from the event and the
// view's own rows only (deterministic: a rebuild computes the same flags).
//
// Thread-safety: Apply/Erase/Flush/Discard on the worker thread only; the
// static readers are thread-safe.
#ifndef CARELOG_SERVICES_AUDIT_AUDIT_VIEW_H_
#define CARELOG_SERVICES_AUDIT_AUDIT_VIEW_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "carelog/v1/audit.pb.h"
#include "crypto/key_ring.h"
#include "services/projections/view.h"
#include "storage/projection_store.h"

namespace carelog::services::audit {

inline constexpr char kAuditView[] = "audit";

struct AuditViewOptions {
  // Bulk access: an actor reads at least this many distinct patients within
  // bulk_window (the access that reaches the count, and each later one while
  // it holds, is flagged).
  int bulk_distinct_patients = 20;
  absl::Duration bulk_window = absl::Minutes(10);
  // After hours: a decision outside [business_start_hour, business_end_hour)
  // local time in `zone` (and on Saturdays and Sundays when
  // weekends_after_hours).
  int business_start_hour = 7;
  int business_end_hour = 19;
  absl::TimeZone zone = absl::UTCTimeZone();
  bool weekends_after_hours = false;
  // Repeated denials: at least this many denials of one actor within
  // denial_window (the denial that reaches the count is flagged, and later
  // ones while it holds).
  int denial_threshold = 5;
  absl::Duration denial_window = absl::Minutes(15);
};

// Where a query scans: rows with keys under `prefix` after `first_after`,
// stopping at keys >= `stop_at` (when not empty).
struct ScanPlan {
  std::string prefix;
  std::string first_after;
  std::string stop_at;
};

struct RecordPage {
  std::vector<carelog::v1::AuditRecord> records;
  std::string last_key;  // the last index key read (resume after it)
  bool more = false;     // rows may remain under the plan
  uint64_t scanned = 0;
};

class AuditView final : public projections::View {
 public:
  // `keys` must outlive the view.
  explicit AuditView(crypto::KeyRing* keys, AuditViewOptions options = {});

  std::string name() const override { return kAuditView; }
  bool Wants(const storage::EventHeader& header) const override;
  absl::Status Apply(const DecodedEvent& event,
                     projections::ViewTxn& txn) override;
  // The trail outlives the patient: nothing is removed.
  absl::Status Erase(const std::string& subject_id,
                     projections::ViewTxn& txn) override;
  absl::Status Flush(projections::ViewTxn& txn) override;
  void Discard() override;

  // The scan that answers `filter` (most selective index first: patient,
  // actor, anomaly, outcome, purpose, else time), bounded by its time range.
  static ScanPlan PlanFor(const carelog::v1::AuditFilter& filter);
  // The break-the-glass queue (unreviewed, or every one).
  static ScanPlan BreakGlassPlan(bool include_reviewed);
  // Anomalies of one kind (UNSPECIFIED: any) in [from, to).
  static ScanPlan AnomalyPlan(carelog::v1::AuditAnomaly anomaly,
                              int64_t from_micros, int64_t to_micros);

  // Up to `page_size` records matching `filter`, scanning `plan` after
  // `after` (empty: plan.first_after) and reading at most `max_scan` index
  // rows. Errors: DATA_LOSS if a row does not open or parse; store errors.
  static absl::StatusOr<RecordPage> ReadPage(
      const storage::ProjectionStore& store, crypto::KeyRing& keys,
      const ScanPlan& plan, const carelog::v1::AuditFilter& filter,
      const std::string& after, size_t page_size, size_t max_scan);

  // The record of the AccessAudited event at `position`.
  // Errors: NOT_FOUND; DATA_LOSS; store errors.
  static absl::StatusOr<carelog::v1::AuditRecord> ReadRecord(
      const storage::ProjectionStore& store, crypto::KeyRing& keys,
      uint64_t position);

  // Whether `record` satisfies every set field of `filter`.
  static bool Matches(const carelog::v1::AuditFilter& filter,
                      const carelog::v1::AuditRecord& record);

  // The decision time of an access (its ledger time when absent).
  static int64_t TimeOf(const carelog::v1::AuditRecord& record);

 private:
  struct Window {
    bool loaded = false;
    bool dirty = false;
    std::map<std::string, int64_t> entries;  // id (patient or seq) → time
  };
  absl::Status ApplyAccess(const DecodedEvent& e,
                           const carelog::v1::AccessAudited& a,
                           projections::ViewTxn& txn);
  absl::Status ApplyReview(const carelog::v1::BreakGlassReviewed& r,
                           projections::ViewTxn& txn);
  absl::StatusOr<Window*> LoadWindow(const std::string& key,
                                     projections::ViewTxn& txn);
  absl::StatusOr<std::string> Seal(const std::string& ad,
                                   const std::string& plain) const;
  std::vector<carelog::v1::AuditAnomaly> Anomalies(
      const carelog::v1::AccessAudited& a, uint64_t pos, int64_t time,
      Window* reads, Window* denials) const;

  crypto::KeyRing* const keys_;
  const AuditViewOptions options_;
  std::map<std::string, Window> windows_;  // this batch's windows by row key
};

}  // namespace carelog::services::audit

#endif  // CARELOG_SERVICES_AUDIT_AUDIT_VIEW_H_
