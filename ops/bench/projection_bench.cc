// ops/bench/projection_bench.cc — carelog-projection-bench: how fast the
// projections are built from the log.
//
// Builds a ledger of --events events (default 1,000,000) in a fresh directory
// under --dir: synthetic patients (registration, insurance and its
// verification, check-ins with paperwork, care-team changes, demographics
// updates, flags) written a few events per patient per command, with one
// access-audit event per command (as the command runner writes them). The log
// is written without fsync and without the Merkle tree (this measures the
// projections, not the writer). Then it measures, for all projections:
//   1. initial catch-up: a fresh projection tails the log from position 1;
//   2. rebuild: Rebuild() into a new generation while the caught-up one
//      serves, until the swap;
// and prints events/s (all log positions / wall time) for each, and checks
// that every patient is in the rebuilt view. Exits non-zero on any failure.
// A benchmark program, not a timed test.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "carelog/v1/audit.pb.h"
#include "carelog/v1/patients.pb.h"
#include "crypto/secret_key.h"
#include "services/domain/event_codec.h"
#include "services/projections/patient_record_view.h"
#include "services/projections/projections.h"
#include "storage/ledger.h"

namespace carelog::bench {
namespace {

namespace fs = std::filesystem;
using namespace carelog::v1;  // NOLINT

struct Config {
  std::string dir = "/tmp";
  uint64_t events = 1000000;
  uint64_t patients = 50000;
  size_t batch = 2048;
  int writers = 2;
  size_t key_cache = 4096;  // the ledger's default
  bool quick = false;
  bool keep = false;
};

int Fail(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "FAILED %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

// The events of one patient step `step` (0 = registration).
void PatientEvents(
    uint64_t p, int step, std::mt19937_64& rng,
    std::vector<std::unique_ptr<google::protobuf::Message>>* out) {
  const std::string id = absl::StrCat("pt-", p);
  if (step == 0) {
    auto ev = std::make_unique<PatientRegistered>();
    ev->set_patient_id(id);
    auto* d = ev->mutable_demographics();
    d->set_given_name(absl::StrCat("Given", p % 997));
    d->set_family_name(absl::StrCat("Family", p % 4999));
    d->mutable_date_of_birth()->set_year(1930 + static_cast<int>(p % 90));
    d->mutable_date_of_birth()->set_month(1 + static_cast<int>(p % 12));
    d->mutable_date_of_birth()->set_day(1 + static_cast<int>(p % 28));
    d->set_gender(ADMINISTRATIVE_GENDER_FEMALE);
    d->set_mrn(absl::StrCat("MRN", p));
    ev->mutable_contact()->set_phone(absl::StrCat("+1-555-", 1000000 + p));
    ev->mutable_contact()->set_email(absl::StrCat("p", p, "@example.test"));
    ev->mutable_contact()->mutable_address()->add_lines("1 Synthetic Way");
    ev->set_preferred_language("en");
    out->push_back(std::move(ev));
    auto ins = std::make_unique<InsuranceRecorded>();
    ins->set_patient_id(id);
    ins->set_insurance_id(absl::StrCat("ins-", p));
    ins->mutable_insurance()->set_payer("Synthetic Health");
    ins->mutable_insurance()->set_member_id(absl::StrCat("M", p));
    out->push_back(std::move(ins));
    return;
  }
  switch (rng() % 6) {
    case 0: {
      auto v = std::make_unique<InsuranceVerificationRecorded>();
      v->set_patient_id(id);
      v->set_insurance_id(absl::StrCat("ins-", p));
      v->set_result(VERIFICATION_RESULT_VERIFIED);
      out->push_back(std::move(v));
      break;
    }
    case 1:
    case 2: {
      auto c = std::make_unique<PatientCheckedIn>();
      c->set_patient_id(id);
      c->set_check_in_id(absl::StrCat("ci-", p, "-", step));
      c->set_identity_verified(true);
      c->add_paperwork_complete("privacy-notice");
      if (rng() % 3 == 0)
        c->add_paperwork_missing("consent-to-treat");
      out->push_back(std::move(c));
      break;
    }
    case 3: {
      auto a = std::make_unique<CareTeamMemberAssigned>();
      a->set_patient_id(id);
      a->set_member_id(absl::StrCat("clin-", rng() % 200));
      a->set_role(CARE_TEAM_ROLE_CLINICIAN);
      out->push_back(std::move(a));
      break;
    }
    case 4: {
      auto u = std::make_unique<DemographicsUpdated>();
      u->set_patient_id(id);
      u->mutable_demographics()->set_given_name(absl::StrCat("Given", p % 997));
      u->mutable_demographics()->set_family_name(
          absl::StrCat("Family", (p + step) % 4999));
      u->mutable_contact()->set_phone(absl::StrCat("+1-555-", 2000000 + p));
      out->push_back(std::move(u));
      break;
    }
    default: {
      auto f = std::make_unique<PatientFlagsSet>();
      f->set_patient_id(id);
      f->mutable_flags()->set_vip(rng() % 2 == 0);
      out->push_back(std::move(f));
      break;
    }
  }
}

// Writes about `cfg.events` events; returns the head.
absl::StatusOr<uint64_t> BuildLog(storage::Ledger* ledger, const Config& cfg) {
  std::atomic<uint64_t> written{0};
  std::atomic<bool> failed{false};
  absl::Status first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < cfg.writers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(42 + t);
      EventMeta meta;
      meta.set_actor("bench-writer");
      AccessAudited audit;
      audit.set_actor("bench-writer");
      audit.set_resource("patient.demographics");
      audit.set_action("write");
      audit.set_outcome(ACCESS_OUTCOME_ALLOWED);
      // Patients p ≡ t (mod writers); registration first, then random steps.
      std::vector<uint64_t> mine;
      for (uint64_t p = t; p < cfg.patients; p += cfg.writers)
        mine.push_back(p);
      std::vector<int> steps(mine.size(), 0);
      uint64_t cmd = 0;
      while (written.load() < cfg.events && !failed.load()) {
        storage::AppendRequest req;
        req.command_id = absl::StrCat("bench-", t, "-", cmd++);
        // 40 patient commands per ledger command (one group of streams).
        for (int k = 0; k < 40; ++k) {
          const size_t i = rng() % mine.size();
          const uint64_t p = mine[i];
          const int step =
              steps[i] == 0 ? 0 : 1 + static_cast<int>(rng() % 1000);
          std::vector<std::unique_ptr<google::protobuf::Message>> bodies;
          PatientEvents(p, step, rng, &bodies);
          steps[i] = 1;
          const std::string id = absl::StrCat("pt-", p);
          storage::StreamAppend sa;
          sa.stream_id = absl::StrCat("patient/", id);
          for (const auto& b : bodies)
            sa.events.push_back(services::ToLedgerEvent(
                *b, meta, crypto::KeyClass::kSubject, id));
          req.streams.push_back(std::move(sa));
          storage::StreamAppend au;
          au.stream_id = absl::StrCat("audit/", id);
          audit.set_patient_id(id);
          au.events.push_back(services::ToLedgerEvent(
              audit, meta, crypto::KeyClass::kAudit, id));
          req.streams.push_back(std::move(au));
        }
        // A stream may appear once per command: merge duplicates.
        std::vector<storage::StreamAppend> merged;
        for (auto& s : req.streams) {
          bool found = false;
          for (auto& m : merged) {
            if (m.stream_id == s.stream_id) {
              for (auto& e : s.events)
                m.events.push_back(std::move(e));
              found = true;
              break;
            }
          }
          if (!found)
            merged.push_back(std::move(s));
        }
        req.streams = std::move(merged);
        size_t n = 0;
        for (const auto& s : req.streams)
          n += s.events.size();
        auto r = ledger->Append(req);
        if (!r.ok()) {
          if (!failed.exchange(true))
            first_error = r.status();
          return;
        }
        written += n;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  if (failed.load())
    return first_error;
  return ledger->GetHead().position;
}

int Run(const Config& cfg) {
  const std::string root =
      absl::StrCat(cfg.dir, "/carelog-projection-bench-", getpid());
  fs::create_directories(root);
  auto kek = crypto::SecretKey::Random();
  if (!kek.ok())
    return Fail("kek", kek.status());
  storage::LedgerOptions lo;
  lo.data_dir = root + "/ledger";
  lo.kek = std::move(*kek);
  lo.sync = false;
  lo.merkle = false;
  lo.tail_check_events = 16;
  lo.key_cache_entries = cfg.key_cache;
  auto ledger = storage::Ledger::Open(std::move(lo));
  if (!ledger.ok())
    return Fail("open ledger", ledger.status());

  absl::Time t0 = absl::Now();
  auto head = BuildLog(ledger->get(), cfg);
  if (!head.ok())
    return Fail("build log", head.status());
  const double build_s = absl::ToDoubleSeconds(absl::Now() - t0);
  std::printf("log: %llu events (%llu patients) written in %.1f s\n",
              static_cast<unsigned long long>(*head),
              static_cast<unsigned long long>(cfg.patients), build_s);

  services::projections::WorkerOptions wo;
  wo.batch_events = cfg.batch;
  auto projections =
      services::projections::Projections::Open(ledger->get(), wo);
  if (!projections.ok())
    return Fail("open projections", projections.status());
  t0 = absl::Now();
  (*projections)->Start();
  for (const auto& w : (*projections)->workers()) {
    if (auto s = w->WaitForPosition(*head, absl::InfiniteFuture()); !s.ok())
      return Fail("catch up", s);
  }
  const double catchup_s = absl::ToDoubleSeconds(absl::Now() - t0);

  t0 = absl::Now();
  for (const auto& w : (*projections)->workers()) {
    if (auto s = w->Rebuild(); !s.ok())
      return Fail("rebuild", s);
  }
  for (const auto& w : (*projections)->workers()) {
    if (auto s = w->WaitForRebuild(absl::InfiniteFuture()); !s.ok())
      return Fail("rebuild", s);
  }
  const double rebuild_s = absl::ToDoubleSeconds(absl::Now() - t0);

  // Every patient is in the rebuilt view.
  auto* patients = (*projections)->Find(services::projections::kPatientsView);
  uint64_t records = 0;
  std::string after;
  for (;;) {
    auto page = patients->store()->Scan("p/", after, 10000);
    if (!page.ok())
      return Fail("scan", page.status());
    records += page->rows.size();
    if (!page->more)
      break;
    after = page->rows.back().key;
  }
  auto sample = services::projections::PatientRecordView::Read(
      *patients->store(), (*ledger)->key_ring(), "pt-0");
  if (!sample.ok())
    return Fail("read pt-0", sample.status());

  std::printf("%-28s %12s %10s %14s\n", "phase", "events", "seconds",
              "events/s");
  std::printf("%-28s %12llu %10.2f %14.0f\n", "initial catch-up (all views)",
              static_cast<unsigned long long>(*head), catchup_s,
              *head / catchup_s);
  std::printf("%-28s %12llu %10.2f %14.0f\n", "rebuild (all views)",
              static_cast<unsigned long long>(*head), rebuild_s,
              *head / rebuild_s);
  std::printf("patient records in the rebuilt view: %llu\n",
              static_cast<unsigned long long>(records));
  (*projections).reset();
  ledger->reset();
  if (!cfg.keep)
    fs::remove_all(root);
  if (records == 0)
    return Fail("verify", absl::DataLossError("no records"));
  return 0;
}

}  // namespace
}  // namespace carelog::bench

int main(int argc, char** argv) {
  carelog::bench::Config cfg;
  CLI::App app{"carelog-projection-bench: rebuild rate of the projections"};
  app.add_option("--dir", cfg.dir, "where the temporary data directory goes");
  app.add_option("--events", cfg.events, "log size in events");
  app.add_option("--patients", cfg.patients, "synthetic patients");
  app.add_option("--batch", cfg.batch, "events per projection batch");
  app.add_option("--writers", cfg.writers, "threads writing the log");
  app.add_option("--key-cache", cfg.key_cache,
                 "unwrapped subject keys cached by the key ring");
  app.add_flag("--quick", cfg.quick, "20k events (smoke run)");
  app.add_flag("--keep", cfg.keep, "keep the data directory");
  CLI11_PARSE(app, argc, argv);
  if (cfg.quick) {
    cfg.events = 20000;
    cfg.patients = 2000;
  }
  return carelog::bench::Run(cfg);
}
