// ProjectionWorker with the patient record view, over a ledger in a temp dir:
// view content after scripted event sequences, checkpoint/crash safety,
// rebuild equals live, min_position waits, failures are reported with their
// position, erased subjects disappear, no plaintext in the data directory.
#include "services/projections/projection_worker.h"

#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/patients.pb.h"
#include "carelog/v1/queries.pb.h"
#include "services/domain/event_codec.h"
#include "services/projections/patient_record_view.h"
#include "storage/maintenance.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::services::projections {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using namespace carelog::v1;  // NOLINT

constexpr char kMarkerGiven[] = "Quorvexia";
constexpr char kMarkerFamily[] = "Blimbertonsky";
constexpr char kMarkerPhone[] = "+1 555 0199 7731";
constexpr char kMarkerMrn[] = "MRN-ZX-881177";

absl::Time Soon() {
  return absl::Now() + absl::Seconds(20);
}

class ProjectionWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = carelog::testing::OpenTestLedger(dir_.Sub("ledger"));
    ASSERT_THAT(l, IsOk());
    ledger_ = std::move(*l);
    OpenStore();
  }
  void TearDown() override {
    worker_.reset();
    store_.reset();
    ledger_.reset();
  }
  void OpenStore() {
    auto s = storage::ProjectionStore::Open(ledger_.get(), kPatientsView);
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
  }
  void StartWorker(size_t batch = 2048,
                   std::function<bool(uint64_t)> hook = nullptr) {
    WorkerOptions o;
    o.batch_events = batch;
    o.catchup_batch_events = batch;
    auto w = ProjectionWorker::Create(
        ledger_.get(), store_.get(),
        std::make_unique<PatientRecordView>(&ledger_->key_ring()), o);
    ASSERT_THAT(w, IsOk());
    worker_ = std::move(*w);
    if (hook)
      worker_->SetAfterCommitHookForTest(std::move(hook));
    worker_->Start();
  }

  uint64_t Append(const std::string& patient,
                  const google::protobuf::Message& body) {
    storage::AppendRequest req;
    req.command_id = absl::StrCat("cmd-", ++seq_);
    EventMeta meta;
    meta.set_actor("fd-0001");
    meta.set_occurred_at_micros(1700000000000000 + seq_);
    storage::StreamAppend sa;
    sa.stream_id = absl::StrCat("patient/", patient);
    sa.events.push_back(
        ToLedgerEvent(body, meta, crypto::KeyClass::kSubject, patient));
    req.streams.push_back(std::move(sa));
    auto r = ledger_->Append(req);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->last_position : 0;
  }

  uint64_t Register(const std::string& id, const std::string& given,
                    const std::string& family, const std::string& mrn = "",
                    const std::string& phone = "") {
    PatientRegistered ev;
    ev.set_patient_id(id);
    ev.mutable_demographics()->set_given_name(given);
    ev.mutable_demographics()->set_family_name(family);
    ev.mutable_demographics()->mutable_date_of_birth()->set_year(1980);
    ev.mutable_demographics()->mutable_date_of_birth()->set_month(2);
    ev.mutable_demographics()->mutable_date_of_birth()->set_day(29);
    ev.mutable_demographics()->set_gender(ADMINISTRATIVE_GENDER_FEMALE);
    ev.mutable_demographics()->set_mrn(mrn);
    ev.mutable_contact()->set_phone(phone);
    ev.mutable_contact()->mutable_address()->add_lines("1 Synthetic Way");
    ev.set_preferred_language("en");
    return Append(id, ev);
  }

  // A scripted mix of every patient event over `n` patients.
  uint64_t Script(int n, int offset = 0) {
    uint64_t last = 0;
    for (int i = offset; i < offset + n; ++i) {
      const std::string id = absl::StrCat("pt-", i);
      Register(id, absl::StrCat("Given", i), absl::StrCat("Family", i % 7),
               absl::StrCat("MRN", i), absl::StrCat("555-01", i % 100));
      InsuranceRecorded ins;
      ins.set_patient_id(id);
      ins.set_insurance_id(absl::StrCat("ins-", i));
      ins.mutable_insurance()->set_payer("Synthetic Health");
      ins.mutable_insurance()->set_member_id(absl::StrCat("M", i));
      Append(id, ins);
      if (i % 2 == 0) {
        InsuranceVerificationRecorded v;
        v.set_patient_id(id);
        v.set_insurance_id(absl::StrCat("ins-", i));
        v.set_result(VERIFICATION_RESULT_VERIFIED);
        Append(id, v);
      }
      PatientCheckedIn c;
      c.set_patient_id(id);
      c.set_check_in_id(absl::StrCat("ci-", i));
      if (i % 3 == 0)
        c.add_paperwork_missing("consent-to-treat");
      c.add_paperwork_complete("privacy-notice");
      Append(id, c);
      CareTeamMemberAssigned a;
      a.set_patient_id(id);
      a.set_member_id("nurse-1");
      a.set_role(CARE_TEAM_ROLE_NURSE);
      Append(id, a);
      if (i % 4 == 0) {
        CareTeamMemberRemoved rm;
        rm.set_patient_id(id);
        rm.set_member_id("nurse-1");
        Append(id, rm);
      }
      DemographicsUpdated u;
      u.set_patient_id(id);
      u.mutable_demographics()->set_given_name(absl::StrCat("Given", i));
      u.mutable_demographics()->set_family_name(absl::StrCat("Renamed", i % 5));
      u.mutable_demographics()->mutable_date_of_birth()->set_year(1990);
      u.mutable_demographics()->mutable_date_of_birth()->set_month(1);
      u.mutable_demographics()->mutable_date_of_birth()->set_day(1);
      u.mutable_contact()->set_phone(absl::StrCat("555-02", i % 100));
      last = Append(id, u);
    }
    return last;
  }

  // The decrypted content of a generation: records as their deterministic
  // bytes, other rows as stored.
  std::map<std::string, std::string> Dump(uint64_t generation = 0) {
    std::map<std::string, std::string> out;
    std::string after;
    for (;;) {
      auto page = store_->Scan("", after, 500, generation);
      EXPECT_THAT(page, IsOk());
      if (!page.ok())
        break;
      for (const auto& r : page->rows) {
        after = r.key;
        if (r.key.rfind("p/", 0) == 0) {
          const std::string id = r.key.substr(2);
          auto plain = OpenRow(ledger_->key_ring(), id, r.key, r.value);
          EXPECT_THAT(plain, IsOk());
          out[r.key] = plain.ok() ? *plain : "";
        } else {
          out[r.key] = r.value;
        }
      }
      if (!page->more)
        break;
    }
    return out;
  }

  std::vector<std::string> Lookup(PatientLookupField f, const std::string& v) {
    auto prefix = PatientRecordView::LookupPrefix(ledger_->key_ring(), f, v);
    EXPECT_THAT(prefix, IsOk());
    std::vector<std::string> ids;
    if (!prefix.ok())
      return ids;
    auto page = store_->Scan(*prefix, "", 100);
    EXPECT_THAT(page, IsOk());
    for (const auto& r : page->rows)
      ids.push_back(PatientRecordView::PatientOfIndexKey(r.key));
    return ids;
  }

  carelog::testing::TempDir dir_;
  std::unique_ptr<storage::Ledger> ledger_;
  std::unique_ptr<storage::ProjectionStore> store_;
  std::unique_ptr<ProjectionWorker> worker_;
  int seq_ = 0;
};

TEST_F(ProjectionWorkerTest, RecordReflectsEveryPatientEvent) {
  StartWorker();
  Register("pt-a", "Ada", "Lovelace", "mrn 42", "(555) 010-0000");
  InsuranceRecorded ins;
  ins.set_patient_id("pt-a");
  ins.set_insurance_id("ins-1");
  ins.mutable_insurance()->set_payer("Synthetic Health");
  ins.mutable_insurance()->set_member_id("M-1");
  Append("pt-a", ins);
  InsuranceVerificationRecorded v;
  v.set_patient_id("pt-a");
  v.set_insurance_id("ins-1");
  v.set_result(VERIFICATION_RESULT_FAILED);
  v.set_failure_reason("inactive");
  Append("pt-a", v);
  PatientCheckedIn c;
  c.set_patient_id("pt-a");
  c.set_check_in_id("ci-1");
  c.set_appointment_id("ap-1");
  c.add_paperwork_missing("consent-to-treat");
  Append("pt-a", c);
  CareTeamMemberAssigned a;
  a.set_patient_id("pt-a");
  a.set_member_id("dr-2");
  a.set_role(CARE_TEAM_ROLE_PRIMARY_CLINICIAN);
  Append("pt-a", a);
  a.set_member_id("dr-1");
  a.set_role(CARE_TEAM_ROLE_CLINICIAN);
  Append("pt-a", a);
  CareTeamMemberRemoved rm;
  rm.set_patient_id("pt-a");
  rm.set_member_id("dr-2");
  Append("pt-a", rm);
  PatientFlagsSet f;
  f.set_patient_id("pt-a");
  f.mutable_flags()->set_vip(true);
  const uint64_t last = Append("pt-a", f);

  ASSERT_THAT(worker_->WaitForPosition(last, Soon()), IsOk());
  auto rec = PatientRecordView::Read(*store_, ledger_->key_ring(), "pt-a");
  ASSERT_THAT(rec, IsOk());
  EXPECT_EQ(rec->demographics().given_name(), "Ada");
  EXPECT_EQ(rec->contact().phone(), "(555) 010-0000");
  ASSERT_EQ(rec->insurance_size(), 1);
  EXPECT_EQ(rec->insurance(0).verification(), VERIFICATION_RESULT_FAILED);
  EXPECT_EQ(rec->insurance(0).failure_reason(), "inactive");
  ASSERT_EQ(rec->check_ins_size(), 1);
  EXPECT_EQ(rec->check_ins(0).appointment_id(), "ap-1");
  EXPECT_THAT(rec->paperwork_missing(),
              ::testing::ElementsAre("consent-to-treat"));
  ASSERT_EQ(rec->care_team_size(), 1);
  EXPECT_EQ(rec->care_team(0).member_id(), "dr-1");
  EXPECT_TRUE(rec->flags().vip());
  EXPECT_EQ(rec->last_position(), last);

  // Blind-index lookups, normalised.
  EXPECT_THAT(Lookup(PATIENT_LOOKUP_FIELD_NAME, "  ada   LOVELACE "),
              ::testing::ElementsAre("pt-a"));
  EXPECT_THAT(Lookup(PATIENT_LOOKUP_FIELD_FAMILY_NAME, "lovelace"),
              ::testing::ElementsAre("pt-a"));
  EXPECT_THAT(Lookup(PATIENT_LOOKUP_FIELD_DATE_OF_BIRTH, "1980-02-29"),
              ::testing::ElementsAre("pt-a"));
  EXPECT_THAT(Lookup(PATIENT_LOOKUP_FIELD_MRN, "MRN42"),
              ::testing::ElementsAre("pt-a"));
  EXPECT_THAT(Lookup(PATIENT_LOOKUP_FIELD_PHONE, "555-010-0000"),
              ::testing::ElementsAre("pt-a"));
  EXPECT_TRUE(Lookup(PATIENT_LOOKUP_FIELD_NAME, "ada byron").empty());
  // Filters.
  auto missing =
      store_->Scan(PatientRecordView::FilterPrefix(
                       ListPatientsRequest::FILTER_MISSING_PAPERWORK),
                   "", 10);
  ASSERT_THAT(missing, IsOk());
  ASSERT_EQ(missing->rows.size(), 1u);

  // A rename moves the index entries.
  DemographicsUpdated u;
  u.set_patient_id("pt-a");
  u.mutable_demographics()->set_given_name("Ada");
  u.mutable_demographics()->set_family_name("King");
  const uint64_t p = Append("pt-a", u);
  ASSERT_THAT(worker_->WaitForPosition(p, Soon()), IsOk());
  EXPECT_TRUE(Lookup(PATIENT_LOOKUP_FIELD_FAMILY_NAME, "lovelace").empty());
  EXPECT_THAT(Lookup(PATIENT_LOOKUP_FIELD_FAMILY_NAME, "king"),
              ::testing::ElementsAre("pt-a"));
  EXPECT_TRUE(Lookup(PATIENT_LOOKUP_FIELD_MRN, "MRN42").empty());
}

TEST_F(ProjectionWorkerTest, EventsOfOtherKindsAreIgnored) {
  StartWorker();
  storage::AppendRequest req =
      carelog::testing::OneEvent("other-1", "appointment/ap-1", "opaque");
  auto r = ledger_->Append(req);
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(worker_->WaitForPosition(r->last_position, Soon()), IsOk());
  EXPECT_EQ(worker_->status().state, WorkerStatus::State::kRunning);
  EXPECT_TRUE(Dump().empty());
}

TEST_F(ProjectionWorkerTest, MinPositionWaitsAndTimesOut) {
  const uint64_t last = Script(3);
  // Not started: the view stays behind.
  WorkerOptions o;
  auto w = ProjectionWorker::Create(
      ledger_.get(), store_.get(),
      std::make_unique<PatientRecordView>(&ledger_->key_ring()), o);
  ASSERT_THAT(w, IsOk());
  const absl::Time t0 = absl::Now();
  EXPECT_THAT((*w)->WaitForPosition(last, t0 + absl::Milliseconds(100)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_GE(absl::Now() - t0, absl::Milliseconds(100));
  w->reset();
  StartWorker();
  // Waiting for a position that arrives later.
  std::thread later([this] { Script(1, 100); });
  const uint64_t target = last + 5;  // within the next patient's events
  EXPECT_THAT(worker_->WaitForPosition(target, Soon()), IsOk());
  later.join();
  EXPECT_GE(worker_->status().position, target);
  EXPECT_THAT(
      worker_->WaitForPosition(1000000, absl::Now() + absl::Milliseconds(50)),
      StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(ProjectionWorkerTest, CrashAtRandomBatchBoundariesEqualsCleanRebuild) {
  const uint64_t last = Script(40);
  std::mt19937 rng(1234);
  int restarts = 0;
  for (;;) {
    const int stop_after = std::uniform_int_distribution<int>(1, 6)(rng);
    auto commits = std::make_shared<int>(0);
    StartWorker(/*batch=*/7, [commits, stop_after](uint64_t) {
      return ++*commits < stop_after;
    });
    // Either the hook "kills" the worker or it catches up.
    (void)worker_->WaitForPosition(last, Soon());
    const uint64_t reached = worker_->status().position;
    worker_.reset();  // the process "dies" between batches
    auto cp = store_->ReadCheckpoint();
    ASSERT_THAT(cp, IsOk());
    EXPECT_EQ(*cp, reached);
    ++restarts;
    if (reached >= last)
      break;
    ASSERT_LT(restarts, 200);
  }
  EXPECT_GT(restarts, 2);
  StartWorker();
  ASSERT_THAT(worker_->WaitForPosition(last, Soon()), IsOk());
  const auto live = Dump();
  ASSERT_FALSE(live.empty());
  ASSERT_THAT(worker_->Rebuild(), IsOk());
  ASSERT_THAT(worker_->WaitForRebuild(Soon()), IsOk());
  EXPECT_EQ(Dump(), live);
}

TEST_F(ProjectionWorkerTest, RebuildWhileServingEqualsLiveAndSwaps) {
  const uint64_t first = Script(30);
  StartWorker(/*batch=*/16);
  ASSERT_THAT(worker_->WaitForPosition(first, Soon()), IsOk());
  const uint64_t gen = store_->live_generation();
  ASSERT_THAT(worker_->Rebuild(), IsOk());
  // The log keeps growing while the rebuild runs; the old view serves.
  std::thread writer([this] { Script(20, 30); });
  auto rec = PatientRecordView::Read(*store_, ledger_->key_ring(), "pt-3");
  EXPECT_THAT(rec, IsOk());
  writer.join();
  ASSERT_THAT(worker_->WaitForRebuild(Soon()), IsOk());
  const uint64_t head = ledger_->GetHead().position;
  ASSERT_THAT(worker_->WaitForPosition(head, Soon()), IsOk());
  EXPECT_NE(store_->live_generation(), gen);
  const auto rebuilt = Dump();
  EXPECT_NE(rebuilt.count("p/pt-49"), 0u);

  // A fresh projection of the same log is identical in content.
  worker_.reset();
  ASSERT_THAT(store_->ReadCheckpoint(), IsOk());
  auto fresh_gen = store_->CreateGeneration();
  ASSERT_THAT(fresh_gen, IsOk());
  ASSERT_THAT(store_->Swap(*fresh_gen), IsOk());
  StartWorker(/*batch=*/1000);
  ASSERT_THAT(worker_->WaitForPosition(head, Soon()), IsOk());
  EXPECT_EQ(Dump(), rebuilt);
  EXPECT_EQ(worker_->status().rebuilding, false);
}

TEST_F(ProjectionWorkerTest, EventItCannotApplyStopsTheWorkerAtItsPosition) {
  StartWorker();
  const uint64_t ok = Register("pt-x", "X", "Y");
  InsuranceVerificationRecorded v;  // for an insurance never recorded
  v.set_patient_id("pt-x");
  v.set_insurance_id("ins-missing");
  v.set_result(VERIFICATION_RESULT_VERIFIED);
  const uint64_t bad = Append("pt-x", v);
  const uint64_t after = Register("pt-z", "Z", "Z");
  EXPECT_THAT(worker_->WaitForPosition(after, Soon()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  const WorkerStatus s = worker_->status();
  EXPECT_EQ(s.state, WorkerStatus::State::kFailed);
  EXPECT_EQ(s.failed_position, bad);
  EXPECT_THAT(s.error, ::testing::HasSubstr(absl::StrCat("position ", bad)));
  EXPECT_LT(s.position, bad);
  EXPECT_GE(s.position, ok - 1);
  // Nothing past the checkpoint was committed.
  auto cp = store_->ReadCheckpoint();
  ASSERT_THAT(cp, IsOk());
  EXPECT_LT(*cp, bad);
}

TEST_F(ProjectionWorkerTest, ErasedSubjectDisappearsFromTheView) {
  StartWorker();
  Script(3);
  const uint64_t p = Register("pt-erase", kMarkerGiven, kMarkerFamily,
                              kMarkerMrn, kMarkerPhone);
  ASSERT_THAT(worker_->WaitForPosition(p, Soon()), IsOk());
  auto before = Dump();
  size_t rows_about = 0;
  for (const auto& [k, v] : before)
    rows_about += k.find("pt-erase") != std::string::npos;
  EXPECT_GE(rows_about, 3u);

  storage::ErasureRequest er;
  er.subject_id = "pt-erase";
  er.reason = "patient request";
  er.basis = "GDPR-17";
  er.actor = "dpo-1";
  auto receipt = storage::EraseSubject(*ledger_, er);
  ASSERT_THAT(receipt, IsOk());
  ASSERT_THAT(worker_->WaitForPosition(receipt->position, Soon()), IsOk());
  for (const auto& [k, v] : Dump())
    EXPECT_EQ(k.find("pt-erase"), std::string::npos) << k;
  EXPECT_THAT(Lookup(PATIENT_LOOKUP_FIELD_MRN, kMarkerMrn),
              ::testing::IsEmpty());
  EXPECT_THAT(PatientRecordView::Read(*store_, ledger_->key_ring(), "pt-erase"),
              StatusIs(absl::StatusCode::kNotFound));
  // Others are untouched, and a rebuild (whose decrypt now fails for the
  // erased patient's events) agrees.
  const auto live = Dump();
  EXPECT_EQ(live.size(), before.size() - rows_about);
  ASSERT_THAT(worker_->Rebuild(), IsOk());
  ASSERT_THAT(worker_->WaitForRebuild(Soon()), IsOk());
  EXPECT_EQ(Dump(), live);
  EXPECT_EQ(worker_->status().state, WorkerStatus::State::kRunning);
}

TEST_F(ProjectionWorkerTest, NoPlaintextMarkersInTheDataDirectory) {
  StartWorker();
  const uint64_t p =
      Register("pt-m", kMarkerGiven, kMarkerFamily, kMarkerMrn, kMarkerPhone);
  ASSERT_THAT(worker_->WaitForPosition(p, Soon()), IsOk());
  ASSERT_THAT(worker_->Rebuild(), IsOk());
  ASSERT_THAT(worker_->WaitForRebuild(Soon()), IsOk());
  worker_.reset();
  store_.reset();
  ledger_.reset();  // flushes nothing on purpose: the WAL holds every batch
  const std::vector<std::string> markers = {
      kMarkerGiven,
      kMarkerFamily,
      kMarkerMrn,
      kMarkerPhone,
      NormaliseText(absl::StrCat(kMarkerGiven, " ", kMarkerFamily)),
      NormaliseDigits(kMarkerPhone)};
  int files = 0;
  for (const auto& f : carelog::testing::ListFilesRecursive(dir_.path())) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    ++files;
    for (const auto& m : markers)
      EXPECT_EQ(bytes.find(m), std::string::npos) << m << " in " << f;
  }
  EXPECT_GT(files, 3);
}

}  // namespace
}  // namespace carelog::services::projections
