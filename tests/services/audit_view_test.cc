// The audit projection over a ledger in a temp dir: index queries return
// exactly the expected accesses, anomaly flags fire and don't fire at their
// boundaries, reviews leave the queue, erasing a patient keeps the trail,
// rebuild equals live, values are sealed; CSV and FHIR AuditEvent shapes.
#include "services/audit/audit_view.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "services/audit/audit_format.h"
#include "services/domain/event_codec.h"
#include "services/projections/entity_views.h"
#include "services/projections/projection_worker.h"
#include "storage/maintenance.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::services::audit {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace carelog::v1;  // NOLINT

constexpr char kSecretReason[] = "Zyxwquv emergency reason";

// 2026-03-02 (a Monday) 10:00 UTC: inside business hours.
const int64_t kMonday10 = absl::ToUnixMicros(
    absl::FromCivil(absl::CivilHour(2026, 3, 2, 10), absl::UTCTimeZone()));
int64_t Min(int64_t n) {
  return n * 60 * 1000000;
}

absl::Time Soon() {
  return absl::Now() + absl::Seconds(20);
}

class AuditViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = carelog::testing::OpenTestLedger(dir_.Sub("ledger"));
    ASSERT_THAT(l, IsOk());
    ledger_ = std::move(*l);
    auto s = storage::ProjectionStore::Open(ledger_.get(), kAuditView);
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
    options_.bulk_distinct_patients = 3;
    options_.bulk_window = absl::Minutes(10);
    options_.denial_threshold = 3;
    options_.denial_window = absl::Minutes(5);
  }
  void TearDown() override {
    worker_.reset();
    store_.reset();
    ledger_.reset();
  }
  void StartWorker(size_t batch = 2048) {
    projections::WorkerOptions o;
    o.batch_events = batch;
    o.catchup_batch_events = batch;
    auto w = projections::ProjectionWorker::Create(
        ledger_.get(), store_.get(),
        std::make_unique<AuditView>(&ledger_->key_ring(), options_), o);
    ASSERT_THAT(w, IsOk());
    worker_ = std::move(*w);
    worker_->Start();
  }

  static AccessAudited Access(const std::string& actor,
                              const std::string& patient, int64_t at,
                              AccessOutcome outcome = ACCESS_OUTCOME_ALLOWED,
                              const std::string& purpose = "TREAT") {
    AccessAudited a;
    a.set_actor(actor);
    a.add_roles("clinician");
    a.set_purpose(purpose);
    a.set_patient_id(patient);
    a.set_resource("clinical.test_results");
    a.set_action("read");
    a.set_outcome(outcome);
    a.add_rules("clinician-care-team-read");
    a.set_policy_hash("ph-1");
    a.set_request_id(absl::StrCat("req-", at));
    a.set_decided_at_micros(at);
    a.set_method("/carelog.v1.QueryService/GetPatientRecord");
    return a;
  }

  uint64_t Append(const google::protobuf::Message& body,
                  const std::string& patient) {
    storage::AppendRequest req;
    req.command_id = absl::StrCat("cmd-", ++n_);
    carelog::v1::EventMeta meta;
    meta.set_actor("system");
    req.streams.push_back(storage::StreamAppend{
        patient.empty() ? "audit/system" : "audit/" + patient,
        storage::ExpectedVersion::Any(),
        {ToLedgerEvent(body, meta, crypto::KeyClass::kAudit, patient)}});
    auto r = ledger_->Append(req);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->last_position : 0;
  }

  std::vector<AuditRecord> Query(const AuditFilter& f, size_t page = 100) {
    return Read(AuditView::PlanFor(f), f, page);
  }
  std::vector<AuditRecord> Read(const ScanPlan& plan, const AuditFilter& f,
                                size_t page = 100) {
    std::vector<AuditRecord> out;
    std::string after;
    for (int guard = 0; guard < 1000; ++guard) {
      auto p = AuditView::ReadPage(*store_, ledger_->key_ring(), plan, f, after,
                                   page, 5000);
      EXPECT_THAT(p, IsOk());
      if (!p.ok())
        break;
      for (auto& r : p->records)
        out.push_back(std::move(r));
      if (!p->more)
        break;
      after = p->last_key;
    }
    return out;
  }
  static std::vector<uint64_t> Positions(const std::vector<AuditRecord>& rs) {
    std::vector<uint64_t> out;
    for (const auto& r : rs)
      out.push_back(r.position());
    return out;
  }
  std::vector<AuditAnomaly> AnomaliesAt(uint64_t pos) {
    auto r = AuditView::ReadRecord(*store_, ledger_->key_ring(), pos);
    EXPECT_THAT(r, IsOk());
    std::vector<AuditAnomaly> out;
    if (r.ok())
      for (int a : r->anomalies())
        out.push_back(static_cast<AuditAnomaly>(a));
    return out;
  }
  void CatchUp() {
    ASSERT_THAT(worker_->WaitForPosition(ledger_->GetHead().position, Soon()),
                IsOk());
  }
  // Every record by position, opened.
  std::map<uint64_t, std::string> Records() {
    std::map<uint64_t, std::string> out;
    AuditFilter all;
    for (const auto& r : Query(all))
      out[r.position()] = r.SerializeAsString();
    return out;
  }
  std::map<std::string, bool> Keys() {
    std::map<std::string, bool> out;
    std::string after;
    for (;;) {
      auto p = store_->Scan("", after, 1000);
      EXPECT_THAT(p, IsOk());
      if (!p.ok())
        break;
      for (const auto& r : p->rows) {
        out[r.key] = !r.value.empty();
        after = r.key;
      }
      if (!p->more)
        break;
    }
    return out;
  }

  carelog::testing::TempDir dir_;
  std::unique_ptr<storage::Ledger> ledger_;
  std::unique_ptr<storage::ProjectionStore> store_;
  std::unique_ptr<projections::ProjectionWorker> worker_;
  AuditViewOptions options_;
  int n_ = 0;
};

TEST_F(AuditViewTest, QueriesReturnExactlyTheExpectedAccesses) {
  StartWorker();
  const uint64_t a1 = Append(Access("dr-a", "pt-1", kMonday10), "pt-1");
  const uint64_t a2 = Append(Access("dr-b", "pt-1", kMonday10 + 5), "pt-1");
  const uint64_t a3 = Append(Access("dr-a", "pt-2", kMonday10 + 10), "pt-2");
  const uint64_t d1 = Append(
      Access("dr-c", "pt-1", kMonday10 + 20, ACCESS_OUTCOME_DENIED), "pt-1");
  const uint64_t p1 = Append(
      Access("dr-a", "pt-1", kMonday10 + 30, ACCESS_OUTCOME_ALLOWED, "HPAYMT"),
      "pt-1");
  // An actor id that is a prefix of another with a separator must not match.
  const uint64_t x1 = Append(Access("dr-a/x", "pt-3", kMonday10 + 40), "pt-3");
  CatchUp();

  AuditFilter f;
  f.set_patient_id("pt-1");
  EXPECT_THAT(Positions(Query(f)), ElementsAre(a1, a2, d1, p1));
  f.Clear();
  f.set_actor("dr-a");
  EXPECT_THAT(Positions(Query(f)), ElementsAre(a1, a3, p1));
  f.set_patient_id("pt-1");
  EXPECT_THAT(Positions(Query(f)), ElementsAre(a1, p1));
  f.Clear();
  f.set_actor("dr-a/x");
  EXPECT_THAT(Positions(Query(f)), ElementsAre(x1));
  f.Clear();
  f.set_outcome(ACCESS_OUTCOME_DENIED);
  EXPECT_THAT(Positions(Query(f)), ElementsAre(d1));
  f.Clear();
  f.set_purpose("HPAYMT");
  EXPECT_THAT(Positions(Query(f)), ElementsAre(p1));
  // Time range: [from, to).
  f.Clear();
  f.set_from_micros(kMonday10 + 5);
  f.set_to_micros(kMonday10 + 30);
  EXPECT_THAT(Positions(Query(f)), ElementsAre(a2, a3, d1));
  f.set_patient_id("pt-1");
  EXPECT_THAT(Positions(Query(f)), ElementsAre(a2, d1));
  // Paging one record at a time returns the same sequence.
  f.Clear();
  f.set_patient_id("pt-1");
  EXPECT_THAT(Positions(Query(f, 1)), ElementsAre(a1, a2, d1, p1));
  // The patient index is a range scan whose rows carry the sealed record.
  size_t patient_rows = 0;
  for (const auto& [k, has_value] : Keys()) {
    if (absl::StartsWith(k, "p/pt-1/")) {
      ++patient_rows;
      EXPECT_TRUE(has_value) << k;
    }
  }
  EXPECT_EQ(patient_rows, 4u);
}

TEST_F(AuditViewTest, BreakGlassQueueAndReview) {
  StartWorker();
  AccessAudited btg = Access("dr-e", "pt-9", kMonday10,
                             ACCESS_OUTCOME_BREAK_THE_GLASS, "ETREAT");
  btg.set_reason(kSecretReason);
  const uint64_t b1 = Append(btg, "pt-9");
  const uint64_t b2 = Append(btg, "pt-9");
  Append(Access("dr-a", "pt-9", kMonday10 + 1), "pt-9");
  CatchUp();
  EXPECT_THAT(Positions(Read(AuditView::BreakGlassPlan(false), {})),
              ElementsAre(b1, b2));

  BreakGlassReviewed r;
  r.set_audit_position(b1);
  r.set_patient_id("pt-9");
  r.set_accessor("dr-e");
  r.set_reviewer("co-1");
  r.set_decision(BREAK_GLASS_REVIEW_DECISION_APPROPRIATE);
  r.set_note("code blue, documented");
  Append(r, "pt-9");
  // A second review of the same access is ignored: the first one counts.
  r.set_reviewer("co-2");
  r.set_decision(BREAK_GLASS_REVIEW_DECISION_INAPPROPRIATE);
  Append(r, "pt-9");
  CatchUp();
  EXPECT_THAT(Positions(Read(AuditView::BreakGlassPlan(false), {})),
              ElementsAre(b2));
  EXPECT_THAT(Positions(Read(AuditView::BreakGlassPlan(true), {})),
              ElementsAre(b1, b2));
  auto rec = AuditView::ReadRecord(*store_, ledger_->key_ring(), b1);
  ASSERT_THAT(rec, IsOk());
  EXPECT_EQ(rec->review().reviewer(), "co-1");
  EXPECT_EQ(rec->review().decision(), BREAK_GLASS_REVIEW_DECISION_APPROPRIATE);
  // The patient's accounting (the copy in the patient index) shows it too.
  AuditFilter f;
  f.set_patient_id("pt-9");
  auto acc = Query(f);
  ASSERT_EQ(acc.size(), 3u);
  EXPECT_EQ(acc[0].review().reviewer(), "co-1");
  EXPECT_TRUE(acc[1].break_glass());
  EXPECT_FALSE(acc[1].has_review());
}

TEST_F(AuditViewTest, FlaggedRecordAndAfterHoursBoundaries) {
  options_.business_start_hour = 7;
  options_.business_end_hour = 19;
  options_.bulk_distinct_patients = 100;  // not what this test is about
  StartWorker();
  AccessAudited vip = Access("dr-a", "pt-v", kMonday10);
  vip.set_patient_vip(true);
  const uint64_t v = Append(vip, "pt-v");
  AccessAudited emp = Access("dr-a", "pt-e", kMonday10 + 1);
  emp.set_patient_employee(true);
  const uint64_t e = Append(emp, "pt-e");
  const uint64_t plain = Append(Access("dr-a", "pt-p", kMonday10 + 2), "pt-p");
  const int64_t day = kMonday10 - Min(600);  // 00:00
  const uint64_t at7 = Append(Access("dr-b", "pt-p", day + Min(420)), "pt-p");
  const uint64_t before7 =
      Append(Access("dr-b", "pt-p", day + Min(420) - 1), "pt-p");
  const uint64_t before19 =
      Append(Access("dr-b", "pt-p", day + Min(19 * 60) - 1), "pt-p");
  const uint64_t at19 =
      Append(Access("dr-b", "pt-p", day + Min(19 * 60)), "pt-p");
  CatchUp();
  EXPECT_THAT(AnomaliesAt(v), ElementsAre(AUDIT_ANOMALY_FLAGGED_RECORD));
  EXPECT_THAT(AnomaliesAt(e), ElementsAre(AUDIT_ANOMALY_FLAGGED_RECORD));
  EXPECT_THAT(AnomaliesAt(plain), IsEmpty());
  EXPECT_THAT(AnomaliesAt(at7), IsEmpty());
  EXPECT_THAT(AnomaliesAt(before7), ElementsAre(AUDIT_ANOMALY_AFTER_HOURS));
  EXPECT_THAT(AnomaliesAt(before19), IsEmpty());
  EXPECT_THAT(AnomaliesAt(at19), ElementsAre(AUDIT_ANOMALY_AFTER_HOURS));
  EXPECT_THAT(Positions(Read(
                  AuditView::AnomalyPlan(AUDIT_ANOMALY_AFTER_HOURS, 0, 0), {})),
              ElementsAre(before7, at19));
  EXPECT_THAT(Positions(Read(
                  AuditView::AnomalyPlan(AUDIT_ANOMALY_UNSPECIFIED, 0, 0), {})),
              ElementsAre(before7, v, e, at19));  // time order
}

TEST_F(AuditViewTest, BulkAccessFiresAtTheDistinctPatientThresholdInTheWindow) {
  StartWorker();  // 3 distinct patients within 10 minutes
  const uint64_t r1 = Append(Access("dr-a", "pt-1", kMonday10), "pt-1");
  const uint64_t r2 = Append(Access("dr-a", "pt-2", kMonday10 + 1), "pt-2");
  // The same patient again does not count twice.
  const uint64_t r2b = Append(Access("dr-a", "pt-2", kMonday10 + 2), "pt-2");
  // Denied reads disclose nothing: not counted.
  const uint64_t d = Append(
      Access("dr-a", "pt-4", kMonday10 + 3, ACCESS_OUTCOME_DENIED), "pt-4");
  // Another actor's reads are separate.
  Append(Access("dr-z", "pt-5", kMonday10 + 4), "pt-5");
  const uint64_t r3 = Append(Access("dr-a", "pt-3", kMonday10 + 5), "pt-3");
  // Exactly one window after pt-1's read, pt-1 no longer counts: pt-2, pt-3,
  // pt-6 → still 3 (fires); then long after, only one.
  const uint64_t r6 =
      Append(Access("dr-a", "pt-6", kMonday10 + Min(10)), "pt-6");
  const uint64_t late =
      Append(Access("dr-a", "pt-7", kMonday10 + Min(10) + Min(10)), "pt-7");
  CatchUp();
  EXPECT_THAT(AnomaliesAt(r1), IsEmpty());
  EXPECT_THAT(AnomaliesAt(r2), IsEmpty());
  EXPECT_THAT(AnomaliesAt(r2b), IsEmpty());
  EXPECT_THAT(AnomaliesAt(d), IsEmpty());
  EXPECT_THAT(AnomaliesAt(r3), ElementsAre(AUDIT_ANOMALY_BULK_ACCESS));
  EXPECT_THAT(AnomaliesAt(r6), ElementsAre(AUDIT_ANOMALY_BULK_ACCESS));
  EXPECT_THAT(AnomaliesAt(late), IsEmpty());
}

TEST_F(AuditViewTest, BulkWindowExcludesAReadExactlyOneWindowOld) {
  StartWorker();
  Append(Access("dr-a", "pt-1", kMonday10), "pt-1");
  Append(Access("dr-a", "pt-2", kMonday10 + 1), "pt-2");
  const uint64_t r3 =
      Append(Access("dr-a", "pt-3", kMonday10 + Min(10)), "pt-3");
  const uint64_t r4 =
      Append(Access("dr-a", "pt-4", kMonday10 + 1 + Min(10) - 1), "pt-4");
  CatchUp();
  // pt-1 is exactly 10 minutes old at r3: out of the window (2 distinct).
  EXPECT_THAT(AnomaliesAt(r3), IsEmpty());
  EXPECT_THAT(AnomaliesAt(r4), ElementsAre(AUDIT_ANOMALY_BULK_ACCESS));
}

TEST_F(AuditViewTest, RepeatedDenialsFireAtTheThresholdInTheWindow) {
  StartWorker();  // 3 denials within 5 minutes
  auto deny = [this](const std::string& actor, int64_t at) {
    return Append(Access(actor, "pt-1", at, ACCESS_OUTCOME_DENIED), "pt-1");
  };
  const uint64_t d1 = deny("dr-x", kMonday10);
  const uint64_t d2 = deny("dr-x", kMonday10 + Min(1));
  deny("dr-y", kMonday10 + Min(2));                          // someone else
  const uint64_t d3 = deny("dr-x", kMonday10 + Min(5));      // d1 is out: 2
  const uint64_t d4 = deny("dr-x", kMonday10 + Min(5) + 1);  // 3 → fires
  CatchUp();
  EXPECT_THAT(AnomaliesAt(d1), IsEmpty());
  EXPECT_THAT(AnomaliesAt(d2), IsEmpty());
  EXPECT_THAT(AnomaliesAt(d3), IsEmpty());
  EXPECT_THAT(AnomaliesAt(d4), ElementsAre(AUDIT_ANOMALY_REPEATED_DENIALS));
  AuditFilter f;
  f.set_anomaly(AUDIT_ANOMALY_REPEATED_DENIALS);
  EXPECT_THAT(Positions(Query(f)), ElementsAre(d4));
}

TEST_F(AuditViewTest, ErasingAPatientKeepsTheTrailReadable) {
  StartWorker();
  // The patient has data of its own (a subject key) to erase.
  ASSERT_THAT(ledger_->Append(carelog::testing::OneEvent(
                  "pt-data", "patient/pt-gone", "x",
                  storage::ExpectedVersion::Any(), "pt-gone")),
              IsOk());
  const uint64_t a1 = Append(Access("dr-a", "pt-gone", kMonday10), "pt-gone");
  storage::ErasureRequest er;
  er.subject_id = "pt-gone";
  er.reason = "patient request";
  er.basis = "GDPR-17";
  er.actor = "dpo-1";
  auto receipt = storage::EraseSubject(*ledger_, er);
  ASSERT_THAT(receipt, IsOk());
  const uint64_t a2 =
      Append(Access("dr-b", "pt-gone", kMonday10 + 1), "pt-gone");
  CatchUp();
  AuditFilter f;
  f.set_patient_id("pt-gone");
  EXPECT_THAT(Positions(Query(f)), ElementsAre(a1, a2));
  // And a rebuild after the erasure still holds both.
  ASSERT_THAT(worker_->Rebuild(), IsOk());
  ASSERT_THAT(worker_->WaitForRebuild(Soon()), IsOk());
  EXPECT_THAT(Positions(Query(f)), ElementsAre(a1, a2));
}

TEST_F(AuditViewTest, RebuildEqualsLiveAndRowsAreSealed) {
  StartWorker(7);  // small pages: windows cross batch boundaries
  for (int i = 0; i < 60; ++i) {
    AccessAudited a =
        Access(absl::StrCat("dr-", i % 4), absl::StrCat("pt-", i % 9),
               kMonday10 + Min(i) - Min(i % 3 == 0 ? 700 : 0),
               i % 5 == 0   ? ACCESS_OUTCOME_DENIED
               : i % 7 == 0 ? ACCESS_OUTCOME_BREAK_THE_GLASS
                            : ACCESS_OUTCOME_ALLOWED);
    a.set_reason(kSecretReason);
    a.set_patient_restricted(i % 11 == 0);
    Append(a, a.patient_id());
  }
  CatchUp();
  const auto live = Records();
  const auto live_keys = Keys();
  ASSERT_EQ(live.size(), 60u);
  ASSERT_THAT(worker_->Rebuild(), IsOk());
  ASSERT_THAT(worker_->WaitForRebuild(Soon()), IsOk());
  EXPECT_EQ(Records(), live);
  EXPECT_EQ(Keys(), live_keys);
  // No free text in the view's rows.
  for (const auto& [k, v] : live_keys) {
    auto row = store_->Get(k);
    ASSERT_THAT(row, IsOk());
    EXPECT_FALSE(absl::StrContains(k, "Zyxwquv"));
    if (row->has_value()) {
      EXPECT_FALSE(absl::StrContains(**row, "Zyxwquv")) << k;
    }
  }
}

TEST_F(AuditViewTest, MovedRowFailsToOpen) {
  StartWorker();
  const uint64_t a1 = Append(Access("dr-a", "pt-1", kMonday10), "pt-1");
  const uint64_t a2 = Append(Access("dr-a", "pt-1", kMonday10 + 1), "pt-1");
  CatchUp();
  auto row = store_->Get(absl::StrCat("r/", projections::TimeKey(a1)));
  ASSERT_THAT(row, IsOk());
  ASSERT_TRUE(row->has_value());
  storage::ProjectionBatch b;
  b.checkpoint = ledger_->GetHead().position;
  b.Put(absl::StrCat("r/", projections::TimeKey(a2)), **row);
  worker_->Stop();
  ASSERT_THAT(store_->Commit(b), IsOk());
  EXPECT_THAT(AuditView::ReadRecord(*store_, ledger_->key_ring(), a2),
              StatusIs(absl::StatusCode::kDataLoss));
}

// ---------------------------------------------------------------- formats

AuditRecord Sample() {
  AuditRecord r;
  r.set_position(42);
  r.set_recorded_at_micros(kMonday10 + 7);
  AccessAudited* a = r.mutable_access();
  a->set_actor("dr-a");
  a->add_roles("clinician");
  a->add_roles("nurse");
  a->set_client_address("ipv4:127.0.0.1:5555");
  a->set_purpose("ETREAT");
  a->set_reason("said \"stat\", then left\nnext line");
  a->set_patient_id("pt-1");
  a->set_resource("clinical.test_results");
  a->set_action("read");
  a->set_outcome(ACCESS_OUTCOME_BREAK_THE_GLASS);
  a->add_rules("clinician-break-glass");
  a->set_policy_hash("ph-1");
  a->set_request_id("=cmd()");
  a->set_decided_at_micros(kMonday10);
  a->set_method("/carelog.v1.QueryService/GetPatientRecord");
  r.add_anomalies(AUDIT_ANOMALY_AFTER_HOURS);
  r.set_break_glass(true);
  return r;
}

std::vector<std::string> ParseCsvLine(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c == '\r' && i + 2 == line.size()) {
      break;
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

TEST(AuditFormatTest, CsvQuotesAndGuardsFormulas) {
  const std::vector<std::string> header = ParseCsvLine(CsvHeader());
  const std::string line = CsvLine(Sample());
  ASSERT_TRUE(absl::EndsWith(line, "\r\n"));
  const std::vector<std::string> v = ParseCsvLine(line);
  ASSERT_EQ(v.size(), header.size());
  std::map<std::string, std::string> row;
  for (size_t i = 0; i < v.size(); ++i)
    row[header[i]] = v[i];
  EXPECT_EQ(row["position"], "42");
  EXPECT_EQ(row["time"], "2026-03-02T10:00:00.000000Z");
  EXPECT_EQ(row["roles"], "clinician;nurse");
  EXPECT_EQ(row["reason"], "said \"stat\", then left\nnext line");
  EXPECT_EQ(row["outcome"], "break_the_glass");
  EXPECT_EQ(row["request_id"], "'=cmd()");
  EXPECT_EQ(row["anomalies"], "after_hours");
  EXPECT_EQ(row["break_glass"], "true");
}

TEST(AuditFormatTest, FhirAuditEventFollowsBalp) {
  auto json = FhirAuditEventJson(Sample());
  ASSERT_THAT(json, IsOk());
  EXPECT_EQ(json->find('\n'), std::string::npos);
  google::protobuf::Struct s;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &s).ok());
  const auto& f = s.fields();
  EXPECT_EQ(f.at("resourceType").string_value(), "AuditEvent");
  EXPECT_EQ(f.at("action").string_value(), "R");
  EXPECT_EQ(f.at("outcome").string_value(), "0");
  EXPECT_EQ(f.at("recorded").string_value(), "2026-03-02T10:00:00.000000Z");
  const auto& purpose =
      f.at("purposeOfEvent").list_value().values(0).struct_value().fields();
  EXPECT_EQ(purpose.at("coding")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("code")
                .string_value(),
            "ETREAT");
  const auto& agents = f.at("agent").list_value();
  ASSERT_GE(agents.values_size(), 2);
  const auto& user = agents.values(0).struct_value().fields();
  EXPECT_TRUE(user.at("requestor").bool_value());
  EXPECT_EQ(user.at("who")
                .struct_value()
                .fields()
                .at("identifier")
                .struct_value()
                .fields()
                .at("value")
                .string_value(),
            "dr-a");
  EXPECT_TRUE(f.contains("source"));
  const auto& entities = f.at("entity").list_value();
  ASSERT_EQ(entities.values_size(), 2);
  EXPECT_EQ(entities.values(0)
                .struct_value()
                .fields()
                .at("what")
                .struct_value()
                .fields()
                .at("reference")
                .string_value(),
            "Patient/pt-1");
  // A denial is a failure outcome.
  AuditRecord denied = Sample();
  denied.mutable_access()->set_outcome(ACCESS_OUTCOME_DENIED);
  auto dj = FhirAuditEventJson(denied);
  ASSERT_THAT(dj, IsOk());
  EXPECT_TRUE(absl::StrContains(*dj, "\"outcome\":\"4\"")) << *dj;
}

TEST(AuditFormatTest, MasksClearFields) {
  AuditRecord r = Sample();
  ApplyAuditMasks({"reason", "patient"}, &r);
  EXPECT_TRUE(r.access().reason().empty());
  EXPECT_TRUE(r.access().patient_id().empty());
  EXPECT_EQ(r.access().actor(), "dr-a");
  EXPECT_THAT(r.masked_fields(), ElementsAre("patient", "reason"));
}

}  // namespace
}  // namespace carelog::services::audit
