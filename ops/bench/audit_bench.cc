// ops/bench/audit_bench.cc — carelog-audit-bench: one patient's accounting
// of disclosures over a large audit log.
//
// Fills the audit projection ("audit", services/audit/audit_view.h) of a
// fresh ledger directory under --dir with --events synthetic AccessAudited
// events (spread over --patients patients and --actors actors, one every
// millisecond of decision time, 2% denied, 0.5% break-the-glass, 1% about
// flagged records), applied through AuditView::Apply and committed in pages
// of --batch events exactly as the projection worker commits them — the
// events are handed to the view directly rather than appended to the log
// first (this measures the view and its queries, not the ledger writer; the
// ledger's own append rate is in ledger_bench). Then it measures:
//   1. load: events/s applied and committed;
//   2. accounting of disclosures: --queries lookups of a random patient's
//      full trail (AuditView::ReadPage over the patient index, page size
//      --page, every page read and opened) — p50/p99/max latency; after
//      --settle-seconds idle (background compactions), --rounds times (each
//      round its own patients);
//   3. by actor (first page) and by time range (first page) — p50/p99.
// Exits non-zero on any failure, or if a patient's accounting does not hold
// exactly that patient's events. A benchmark program, not a timed test.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "carelog/v1/audit.pb.h"
#include "crypto/secret_key.h"
#include "services/audit/audit_view.h"
#include "services/domain/event_codec.h"
#include "storage/ledger.h"
#include "storage/projection_store.h"

namespace carelog::bench {
namespace {

namespace fs = std::filesystem;
using namespace carelog::v1;  // NOLINT
using services::audit::AuditView;

struct Config {
  std::string dir = "/tmp";
  uint64_t events = 1000000;
  uint64_t patients = 0;  // default: events / 100
  uint64_t actors = 2000;
  size_t batch = 32768;
  int queries = 2000;
  size_t page = 100;
  bool quick = false;
  bool keep = false;
  int rounds = 1;  // accounting rounds (the first may meet a cold cache)
  int settle_seconds = 0;  // idle time between load and queries (compactions)
};

int Fail(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "FAILED %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

struct Latency {
  std::vector<double> ms;
  void Add(absl::Duration d) { ms.push_back(absl::ToDoubleMilliseconds(d)); }
  double At(double q) {
    if (ms.empty())
      return 0;
    std::sort(ms.begin(), ms.end());
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  }
};

const int64_t kStart = 1767225600000000;  // 2026-01-01T00:00:00Z

// The patient and actor of event `i` (deterministic: the check re-derives
// them).
uint64_t PatientOf(uint64_t i, const Config& c) {
  return (i * 2654435761u) % c.patients;
}

AccessAudited Event(uint64_t i, const Config& c, std::mt19937_64& rng) {
  AccessAudited a;
  a.set_actor(absl::StrCat("staff-", rng() % c.actors));
  a.add_roles("clinician");
  a.set_calling_service("portal.carelog.test");
  a.set_client_address("ipv4:10.0.0.1:5000");
  a.set_purpose(rng() % 10 == 0 ? "HOPERAT" : "TREAT");
  a.set_patient_id(absl::StrCat("pt-", PatientOf(i, c)));
  a.set_resource(rng() % 2 ? "clinical.test_results" : "patient.demographics");
  a.set_action("read");
  const uint64_t roll = rng() % 1000;
  if (roll < 20) {
    a.set_outcome(ACCESS_OUTCOME_DENIED);
    a.add_rules("default-deny");
  } else if (roll < 25) {
    a.set_outcome(ACCESS_OUTCOME_BREAK_THE_GLASS);
    a.set_purpose("ETREAT");
    a.set_reason("emergency department, unconscious patient");
    a.add_rules("clinician-break-glass");
  } else {
    a.set_outcome(ACCESS_OUTCOME_ALLOWED);
    a.add_rules("clinician-care-team-read");
  }
  a.set_patient_vip(roll >= 990);
  a.set_policy_hash("5f2b9c0e4d1a");
  a.set_request_id(absl::StrCat("req-", i));
  a.set_decided_at_micros(kStart + static_cast<int64_t>(i) * 1000);
  a.set_method("/carelog.v1.QueryService/GetPatientRecord");
  return a;
}

int Run(const Config& c) {
  const std::string dir =
      absl::StrCat(c.dir, "/carelog-audit-bench-", ::getpid());
  fs::remove_all(dir);
  auto kek = crypto::SecretKey::Random();
  if (!kek.ok())
    return Fail("kek", kek.status());
  storage::LedgerOptions lo;
  lo.data_dir = dir;
  lo.kek = std::move(*kek);
  lo.sync = false;
  lo.merkle = false;
  auto ledger = storage::Ledger::Open(std::move(lo));
  if (!ledger.ok())
    return Fail("open ledger", ledger.status());
  auto store = storage::ProjectionStore::Open(ledger->get(),
                                              services::audit::kAuditView);
  if (!store.ok())
    return Fail("open store", store.status());
  crypto::KeyRing& keys = (*ledger)->key_ring();
  AuditView view(&keys);

  // 1. Load.
  std::mt19937_64 rng(42);
  const absl::Time t0 = absl::Now();
  services::projections::ViewTxn txn(store->get(), 0);
  for (uint64_t i = 1; i <= c.events; ++i) {
    services::DecodedEvent e;
    e.header.position = i;
    e.header.key_class = crypto::KeyClass::kAudit;
    e.header.recorded_at_micros = kStart + static_cast<int64_t>(i) * 1000;
    const AccessAudited a = Event(i, c, rng);
    e.header.stream_id = absl::StrCat("audit/", a.patient_id());
    e.header.event_type = AccessAudited::descriptor()->full_name();
    e.body.PackFrom(a);
    if (auto s = view.Apply(e, txn); !s.ok())
      return Fail(absl::StrCat("apply ", i), s);
    if (i % c.batch == 0 || i == c.events) {
      if (auto s = view.Flush(txn); !s.ok())
        return Fail("flush", s);
      if (auto s = (*store)->Commit(txn.Take(i)); !s.ok())
        return Fail("commit", s);
      if (i % (c.batch * 32) == 0 || i == c.events)
        std::fprintf(stderr, "  loaded %llu events\n",
                     static_cast<unsigned long long>(i));
    }
  }
  const absl::Duration load = absl::Now() - t0;
  std::printf(
      "load: %llu audit events, %llu patients, %llu actors in %.1f s "
      "(%.0f events/s)\n",
      static_cast<unsigned long long>(c.events),
      static_cast<unsigned long long>(c.patients),
      static_cast<unsigned long long>(c.actors), absl::ToDoubleSeconds(load),
      c.events / absl::ToDoubleSeconds(load));

  // 2. Accounting of disclosures: one random patient's whole trail.
  if (c.settle_seconds > 0) {
    std::fprintf(stderr, "  settling %d s\n", c.settle_seconds);
    absl::SleepFor(absl::Seconds(c.settle_seconds));
  }
  std::mt19937_64 qrng(7);
  for (int round = 1; round <= c.rounds; ++round) {
    Latency acct;
    uint64_t records = 0;
    for (int q = 0; q < c.queries; ++q) {
      const uint64_t p = qrng() % c.patients;
      AuditFilter f;
      f.set_patient_id(absl::StrCat("pt-", p));
      const services::audit::ScanPlan plan = AuditView::PlanFor(f);
      const absl::Time s0 = absl::Now();
      std::string after;
      uint64_t n = 0;
      for (;;) {
        auto page =
            AuditView::ReadPage(**store, keys, plan, f, after, c.page, 5000);
        if (!page.ok())
          return Fail("accounting", page.status());
        for (const auto& r : page->records) {
          if (r.access().patient_id() != f.patient_id())
            return Fail("accounting", absl::DataLossError("wrong patient"));
        }
        n += page->records.size();
        if (!page->more)
          break;
        after = page->last_key;
      }
      acct.Add(absl::Now() - s0);
      records += n;
    }
    std::printf(
        "accounting of disclosures%s (whole trail of one patient, %.1f "
        "records on average, page %zu): p50 %.3f ms  p99 %.3f ms  max %.3f ms "
        "over %d queries\n",
        c.rounds > 1 ? absl::StrCat(", round ", round).c_str() : "",
        static_cast<double>(records) / std::max(1, c.queries), c.page,
        acct.At(0.50), acct.At(0.99), acct.At(1.0), c.queries);
  }

  // 3. First pages by actor and by time range.
  Latency by_actor, by_time;
  for (int q = 0; q < c.queries; ++q) {
    AuditFilter f;
    f.set_actor(absl::StrCat("staff-", qrng() % c.actors));
    absl::Time s0 = absl::Now();
    auto page = AuditView::ReadPage(**store, keys, AuditView::PlanFor(f), f, "",
                                    c.page, 5000);
    if (!page.ok())
      return Fail("by actor", page.status());
    by_actor.Add(absl::Now() - s0);
    AuditFilter t;
    t.set_from_micros(kStart + static_cast<int64_t>(qrng() % c.events) * 1000);
    t.set_to_micros(t.from_micros() + 3600LL * 1000000);
    s0 = absl::Now();
    page = AuditView::ReadPage(**store, keys, AuditView::PlanFor(t), t, "",
                               c.page, 5000);
    if (!page.ok())
      return Fail("by time", page.status());
    by_time.Add(absl::Now() - s0);
  }
  std::printf("by actor (first page of %zu): p50 %.3f ms  p99 %.3f ms\n",
              c.page, by_actor.At(0.5), by_actor.At(0.99));
  std::printf("by time range (first page of %zu): p50 %.3f ms  p99 %.3f ms\n",
              c.page, by_time.At(0.5), by_time.At(0.99));

  store->reset();
  ledger->reset();
  if (!c.keep)
    fs::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace carelog::bench

int main(int argc, char** argv) {
  carelog::bench::Config c;
  CLI::App app{
      "carelog-audit-bench: accounting of disclosures over a large "
      "audit log"};
  app.add_option("--dir", c.dir, "parent directory for the scratch ledger");
  app.add_option("--events", c.events, "audit events (default 1,000,000)");
  app.add_option("--patients", c.patients, "patients (default events/100)");
  app.add_option("--actors", c.actors, "actors (default 2000)");
  app.add_option("--batch", c.batch, "events per committed page");
  app.add_option("--queries", c.queries, "lookups per query kind");
  app.add_option("--page", c.page, "page size");
  app.add_flag("--quick", c.quick, "smoke run: 20,000 events, 200 queries");
  app.add_flag("--keep", c.keep, "keep the scratch directory");
  app.add_option("--rounds", c.rounds, "accounting rounds (default 1)");
  app.add_option("--settle-seconds", c.settle_seconds,
                 "idle seconds between load and queries (default 0)");
  CLI11_PARSE(app, argc, argv);
  if (c.quick) {
    c.events = 20000;
    c.queries = 200;
  }
  if (c.patients == 0)
    c.patients = std::max<uint64_t>(1, c.events / 100);
  if (c.events == 0 || c.actors == 0 || c.page == 0 || c.batch == 0 ||
      c.rounds < 1 || c.settle_seconds < 0) {
    std::fprintf(stderr,
                 "--events, --actors, --page, --batch, --rounds: positive; "
                 "--settle-seconds: >= 0\n");
    return 2;
  }
  return carelog::bench::Run(c);
}
