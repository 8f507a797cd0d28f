// ops/bench/load_bench.cc — carelog-loadbench: carelogd under load, side by
// side with the transport ceiling (a no-op gRPC server) and with what a team
// would build instead (a hash-chained PostgreSQL table), in one run:
//   1. durable appends (SendMessage, ~512-byte body: one encrypted event,
//      policy decision, idempotency record, group-committed fsync) at each
//      --callers level, against carelogd, PostgreSQL and the no-op server;
//   2. audited reads (GetPatientRecord: policy, masks, an audit event made
//      durable before the reply) at --read-callers, carelogd and no-op;
//   3. a clinic day: 80% reads / 20% appends at --mixed-callers.
// Each point: --warmup unmeasured, then --seconds measured; closed-loop
// callers (one request in flight each). Prints a table with the ratios
// carelog/PostgreSQL and carelog/ceiling, carelogd's RSS and CPU per
// operation, the machine's CPU use and load; writes JSON (--json). Exits 1 if
// any measured call failed (the figures would not be meaningful).
//
// The servers are started by ops/bench/run-loadbench.sh (carelogd --dev in a
// temp dir, carelog-noop-server, PostgreSQL via initdb/pg_ctl on loopback);
// this program only drives them. Single-threaded orchestration; the load
// runs on gRPC's callback threads (or one thread per PostgreSQL connection).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "ops/bench/load_clients.h"
#include "ops/bench/load_driver.h"
#include "ops/bench/load_sys.h"
#include "ops/bench/pg_chain.h"

namespace carelog::bench {
namespace {

using Json = nlohmann::ordered_json;

struct Config {
  std::string carelog, carelog_data_dir, noop, pg;
  int carelogd_pid = 0;
  std::vector<int> callers = {1, 16, 64, 256};
  int read_callers = 64, mixed_callers = 64;
  double seconds = 10, warmup = 2;
  int patients = 64, connections = 4;
  size_t payload_bytes = 512;
  std::string json_path, command;
};

struct Row {
  std::string workload, system;
  int callers = 0;
  LoadResult r;
  SysDelta sys;
  ProcMemory mem;  // carelogd after the point (carelog rows only)
  std::vector<std::pair<std::string, double>> threads;  // carelogd CPU shares
};

Row MakeRow(const std::string& workload, const std::string& system,
            int callers) {
  Row w;
  w.workload = workload;
  w.system = system;
  w.callers = callers;
  return w;
}

std::string Pad(const std::string& s, size_t n) {
  return s.size() >= n ? s : s + std::string(n - s.size(), ' ');
}

void PrintRow(const Row& w) {
  absl::PrintF(
      "%s %7d  %-9s %9.0f %8.2f %8.2f %8.2f %7d %5.0f%% %9s\n",
      Pad(w.workload, 14), w.callers, w.system, w.r.ops_per_second, w.r.p50_ms,
      w.r.p99_ms, w.r.p999_ms, w.r.errors, 100 * w.sys.machine_busy,
      w.system == "carelog"
          ? absl::StrFormat("%.0f", w.sys.process_cpu_us_per_op(w.r.ops))
          : "");
}

Json RowJson(const Row& w) {
  Json j = {{"workload", w.workload},
            {"system", w.system},
            {"callers", w.callers},
            {"ops", w.r.ops},
            {"errors", w.r.errors},
            {"seconds", w.r.seconds},
            {"ops_per_second", w.r.ops_per_second},
            {"p50_ms", w.r.p50_ms},
            {"p99_ms", w.r.p99_ms},
            {"p999_ms", w.r.p999_ms},
            {"max_ms", w.r.max_ms},
            {"machine_cpu_busy", w.sys.machine_busy}};
  if (w.r.classes.size() > 1) {
    Json classes = Json::array();
    const char* names[] = {"read", "append"};
    for (size_t k = 0; k < w.r.classes.size() && k < 2; ++k) {
      const auto& c = w.r.classes[k];
      classes.push_back({{"class", names[k]},
                         {"ops", c.ops},
                         {"p50_ms", c.p50_ms},
                         {"p99_ms", c.p99_ms},
                         {"p999_ms", c.p999_ms}});
    }
    j["classes"] = classes;
  }
  if (w.system == "carelog") {
    j["carelogd_cpu_us_per_op"] = w.sys.process_cpu_us_per_op(w.r.ops);
    j["carelogd_rss_kb"] = w.mem.rss_kb;
    j["carelogd_peak_rss_kb"] = w.mem.peak_rss_kb;
    Json threads = Json::object();
    for (const auto& [name, share] : w.threads)
      threads[name] = share;
    j["carelogd_cpu_share_by_thread"] = threads;
  }
  return j;
}

class Bench {
 public:
  explicit Bench(Config c) : c_(std::move(c)) {}

  int Run();

 private:
  Row Measure(const std::string& workload, const std::string& system,
              int callers, const LoadOp& op, int classes);
  Row MeasurePg(int callers);
  const Row* Find(const std::string& workload, const std::string& system,
                  int callers) const;
  void Report(Json* json) const;

  Config c_;
  std::unique_ptr<GrpcTarget> carelog_, noop_;
  std::vector<Row> rows_;
  std::string run_tag_ = absl::StrCat("lb", absl::ToUnixSeconds(absl::Now()));
  int point_ = 0;
};

Row Bench::Measure(const std::string& workload, const std::string& system,
                   int callers, const LoadOp& op, int classes) {
  Row w = MakeRow(workload, system, callers);
  const int pid = system == "carelog" ? c_.carelogd_pid : 0;
  SysSample before = SampleSys(pid);
  const ThreadCpu threads_before = SampleThreads(pid);
  w.r = RunClosedLoop(callers, absl::Seconds(c_.warmup),
                      absl::Seconds(c_.seconds), classes, op);
  w.sys = Delta(before, SampleSys(pid), c_.warmup, c_.seconds);
  if (pid > 0) {
    w.mem = ReadProcMemory(pid);
    w.threads = ThreadShares(threads_before, SampleThreads(pid), 6);
  }
  PrintRow(w);
  if (!w.threads.empty()) {
    std::string line = "    carelogd CPU by thread:";
    for (const auto& [name, share] : w.threads)
      absl::StrAppend(&line, " ", name, " ",
                      absl::StrFormat("%.0f%%", 100 * share));
    absl::PrintF("%s\n", line);
  }
  rows_.push_back(w);
  return w;
}

Row Bench::MeasurePg(int callers) {
  Row w = MakeRow("append", "postgres", callers);
  std::vector<std::unique_ptr<PgAppender>> conns;
  for (int i = 0; i < callers; ++i) {
    auto a = PgAppender::Connect(c_.pg);
    if (!a.ok()) {
      absl::FPrintF(stderr, "%s\n", a.status().ToString());
      w.r.errors = 1;
      rows_.push_back(w);
      return w;
    }
    conns.push_back(std::move(*a));
  }
  const std::string body = SyntheticBody(c_.payload_bytes);
  const std::string tag = absl::StrCat(run_tag_, "-p", point_++);
  SysSample before = SampleSys(0);
  w.r = RunBlockingLoop(
      callers, absl::Seconds(c_.warmup), absl::Seconds(c_.seconds), 1,
      [&](int caller, uint64_t seq, int* cls) {
        *cls = 0;
        const std::string id = absl::StrCat(tag, "-", caller, "-", seq);
        absl::Status s =
            conns[caller]->Append(absl::StrCat("message/", id), 0,
                                  "carelog.v1.MessageSent", id, body);
        if (!s.ok() && seq == 0)
          absl::FPrintF(stderr, "%s\n", s.ToString());
        return s.ok();
      });
  w.sys = Delta(before, SampleSys(0), c_.warmup, c_.seconds);
  PrintRow(w);
  rows_.push_back(w);
  return w;
}

const Row* Bench::Find(const std::string& workload, const std::string& system,
                       int callers) const {
  for (const Row& w : rows_)
    if (w.workload == workload && w.system == system && w.callers == callers)
      return &w;
  return nullptr;
}

int Bench::Run() {
  auto tokens = MintDevTokens(c_.carelog_data_dir);
  if (!tokens.ok()) {
    absl::FPrintF(stderr, "tokens: %s\n", tokens.status().ToString());
    return 1;
  }
  auto carelog = GrpcTarget::Connect(c_.carelog, c_.connections, *tokens,
                                     c_.payload_bytes);
  auto noop =
      GrpcTarget::Connect(c_.noop, c_.connections, *tokens, c_.payload_bytes);
  if (!carelog.ok() || !noop.ok()) {
    absl::FPrintF(stderr, "connect: %s %s\n", carelog.status().ToString(),
                  noop.status().ToString());
    return 1;
  }
  carelog_ = std::move(*carelog);
  noop_ = std::move(*noop);
  if (absl::Status s = carelog_->Setup(c_.patients, run_tag_); !s.ok()) {
    absl::FPrintF(stderr, "setup: %s\n", s.ToString());
    return 1;
  }
  noop_->UseSyntheticPatients(c_.patients);
  if (!c_.pg.empty()) {
    if (absl::Status s = PgSetup(c_.pg); !s.ok()) {
      absl::FPrintF(stderr, "postgres setup: %s\n", s.ToString());
      return 1;
    }
  }
  Json json;
  json["schema"] = "carelog-loadbench/1";
  json["date_utc"] =
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  json["command"] = c_.command;
  json["host"] = HostJson();
  json["load_average_start"] = LoadAverage();

  absl::PrintF(
      "%s callers  system        ops/s   p50 ms   p99 ms  p999 ms  "
      "errors   cpu  µs/op(d)\n",
      Pad("workload", 14));
  for (int n : c_.callers) {
    Measure("append", "carelog", n,
            carelog_->AppendOp(absl::StrCat(run_tag_, "-a", point_++)), 1);
    if (!c_.pg.empty())
      MeasurePg(n);
    Measure("append", "noop", n,
            noop_->AppendOp(absl::StrCat(run_tag_, "-n", point_++)), 1);
  }
  Measure("audited read", "carelog", c_.read_callers, carelog_->ReadOp(), 1);
  Measure("audited read", "noop", c_.read_callers, noop_->ReadOp(), 1);
  const Row mixed =
      Measure("mixed 80/20", "carelog", c_.mixed_callers,
              carelog_->MixedOp(absl::StrCat(run_tag_, "-m", point_++)), 2);
  Report(&json);
  json["load_average_end"] = LoadAverage();
  if (!c_.pg.empty()) {
    auto n = PgVerifyChain(c_.pg);
    json["postgres_chain_verified_events"] =
        n.ok() ? Json(*n) : Json(n.status().ToString());
    absl::PrintF(
        "postgres chain: %s\n",
        n.ok() ? absl::StrCat(*n, " events verified") : n.status().ToString());
    auto sc = PgSetting(c_.pg, "synchronous_commit");
    json["postgres_synchronous_commit"] = sc.ok() ? *sc : "?";
  }
  Json rows = Json::array();
  uint64_t errors = 0;
  for (const Row& w : rows_) {
    rows.push_back(RowJson(w));
    errors += w.r.errors;
  }
  json["rows"] = rows;
  if (!c_.json_path.empty()) {
    std::ofstream out(c_.json_path);
    out << json.dump(2) << "\n";
    if (!out) {
      absl::FPrintF(stderr, "cannot write %s\n", c_.json_path);
      return 1;
    }
  }
  (void)mixed;
  return errors == 0 ? 0 : 1;
}

void Bench::Report(Json* json) const {
  absl::PrintF(
      "\nratios (appends/s)\ncallers  carelog/postgres  carelog/noop\n");
  Json ratios = Json::array();
  for (int n : c_.callers) {
    const Row* cl = Find("append", "carelog", n);
    const Row* pg = Find("append", "postgres", n);
    const Row* np = Find("append", "noop", n);
    const double r_pg = pg && pg->r.ops_per_second > 0
                            ? cl->r.ops_per_second / pg->r.ops_per_second
                            : 0;
    const double r_np = np && np->r.ops_per_second > 0
                            ? cl->r.ops_per_second / np->r.ops_per_second
                            : 0;
    absl::PrintF("%7d  %15.1fx  %11.0f%%\n", n, r_pg, 100 * r_np);
    ratios.push_back({{"callers", n},
                      {"carelog_over_postgres", r_pg},
                      {"carelog_over_noop", r_np}});
  }
  (*json)["append_ratios"] = ratios;
  const Row* mixed = Find("mixed 80/20", "carelog", c_.mixed_callers);
  if (mixed != nullptr && mixed->r.classes.size() == 2) {
    absl::PrintF(
        "mixed 80/20: reads p50 %.2f p99 %.2f p999 %.2f ms; appends "
        "p50 %.2f p99 %.2f p999 %.2f ms\n",
        mixed->r.classes[0].p50_ms, mixed->r.classes[0].p99_ms,
        mixed->r.classes[0].p999_ms, mixed->r.classes[1].p50_ms,
        mixed->r.classes[1].p99_ms, mixed->r.classes[1].p999_ms);
  }
  const ProcMemory mem = ReadProcMemory(c_.carelogd_pid);
  absl::PrintF("carelogd RSS %d MiB now, peak %d MiB\n", mem.rss_kb / 1024,
               mem.peak_rss_kb / 1024);
  (*json)["carelogd_rss_kb_end"] = mem.rss_kb;
  (*json)["carelogd_peak_rss_kb"] = mem.peak_rss_kb;

  // The goals of issue 10, at 64 callers.
  const Row* cl = Find("append", "carelog", 64);
  const Row* pg = Find("append", "postgres", 64);
  const Row* np = Find("append", "noop", 64);
  const Row* rd = Find("audited read", "carelog", c_.read_callers);
  Json goals = Json::object();
  auto goal = [&](const char* name, double value, double target, bool ok) {
    absl::PrintF("goal %-40s %10.2f (target %.2f): %s\n", name, value, target,
                 ok ? "met" : "NOT met");
    goals[name] = {{"value", value}, {"target", target}, {"met", ok}};
  };
  if (cl && pg && pg->r.ops_per_second > 0) {
    const double v = cl->r.ops_per_second / pg->r.ops_per_second;
    goal("carelog/postgres appends at 64", v, 15, v >= 15);
  }
  if (cl && np && np->r.ops_per_second > 0) {
    const double v = cl->r.ops_per_second / np->r.ops_per_second;
    goal("carelog/noop appends at 64", v, 0.5, v >= 0.5);
  }
  if (rd) {
    goal(absl::StrCat("audited read p99 ms at ", c_.read_callers).c_str(),
         rd->r.p99_ms, 5, rd->r.p99_ms <= 5);
  }
  (*json)["goals"] = goals;
}

}  // namespace
}  // namespace carelog::bench

int main(int argc, char** argv) {
  carelog::bench::Config c;
  CLI::App app{
      "carelog-loadbench — carelogd vs the no-op gRPC ceiling vs a "
      "hash-chained PostgreSQL table (see ops/bench/run-loadbench.sh)"};
  app.add_option("--carelog", c.carelog, "carelogd address host:port")
      ->required();
  app.add_option("--carelog-data-dir", c.carelog_data_dir,
                 "carelogd's data dir (its dev issuer key mints the tokens)")
      ->required();
  app.add_option("--carelogd-pid", c.carelogd_pid, "for RSS and CPU figures")
      ->required();
  app.add_option("--noop", c.noop, "carelog-noop-server address")->required();
  app.add_option("--pg", c.pg, "libpq conninfo; empty: no PostgreSQL rows");
  app.add_option("--callers", c.callers, "append concurrency levels")
      ->delimiter(',');
  app.add_option("--read-callers", c.read_callers, "audited read concurrency");
  app.add_option("--mixed-callers", c.mixed_callers, "mixed load concurrency");
  app.add_option("--seconds", c.seconds, "measured seconds per point");
  app.add_option("--warmup", c.warmup, "unmeasured seconds before each point");
  app.add_option("--patients", c.patients, "patients registered at setup");
  app.add_option("--connections", c.connections,
                 "TCP connections per gRPC target (callers share them)");
  app.add_option("--payload-bytes", c.payload_bytes, "message body bytes");
  app.add_option("--json", c.json_path, "also write the results as JSON here");
  CLI11_PARSE(app, argc, argv);
  for (int i = 0; i < argc; ++i)
    c.command += (i ? " " : "") + std::string(argv[i]);
  carelog::bench::Bench bench(std::move(c));
  return bench.Run();
}
