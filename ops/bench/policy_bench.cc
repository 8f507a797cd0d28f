// ops/bench/policy_bench.cc — carelog-policy-bench: access-decision
// throughput and latency of the policy engine (policies/) with a generated
// policy of --rules rules (default 1,000).
//
// Two shapes of the same rule count: "spread" (rules over every resource and
// action, as a real policy looks) and "hot" (every rule in the one
// (resource, action) bucket the requests hit — the worst case for the
// (resource, action) index). Requests are pre-generated facts over 40 roles,
// every purpose, relationship and flag, so decisions mix permit, forbid and
// not-permitted. Latency is timed per decision (steady clock; the timer's own
// cost, ~20-30 ns, is included); throughput is an untimed loop, single-threaded
// and on --threads threads sharing one immutable Policy.
//
// A benchmark program, not a timed test: it exits non-zero only if the
// generated policy fails to load or the decisions are not a mix of all three
// effects (the --quick smoke run checks that, never speed).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"

#include "policies/facts.h"
#include "policies/model.h"
#include "policies/policy.h"

namespace carelog::bench {
namespace {

using policies::Action;
using policies::Decision;
using policies::Effect;
using policies::Policy;
using policies::RequestFacts;
using policies::Resource;
using SteadyClock = std::chrono::steady_clock;

constexpr int kRoles = 40;

std::string RoleName(int i) {
  return absl::StrCat("role-", i);
}

// What a permit rule grants, so that requests can aim at it.
struct Target {
  std::string role;
  Resource resource;
  Action action;
  std::string purpose;
};

// A generated policy of `rules` rules. hot: all of them on
// (clinical.test_results, read).
std::string GeneratePolicy(int rules, bool hot, uint32_t seed,
                           std::vector<Target>* targets) {
  std::mt19937 rng(seed);
  std::vector<std::string> roles;
  for (int i = 0; i < kRoles; ++i)
    roles.push_back(RoleName(i));
  std::string y = absl::StrCat("version: 1\nname: generated-",
                               hot ? "hot" : "spread", "-", rules, "\nroles: [",
                               absl::StrJoin(roles, ", "), "]\nrules:\n");
  const auto& purposes = policies::KnownPurposes();
  const char* rels[] = {"care_team", "assigned", "self"};
  for (int i = 0; i < rules; ++i) {
    const bool forbid = rng() % 10 == 0;
    const Resource res =
        hot ? Resource::kClinicalTestResults
            : static_cast<Resource>(rng() % policies::kResourceCount);
    const Action act =
        hot ? Action::kRead
            : static_cast<Action>(rng() % policies::kActionCount);
    const std::string role = RoleName(rng() % kRoles);
    absl::StrAppend(&y, "  - id: r", i,
                    "\n    effect: ", forbid ? "forbid" : "permit",
                    "\n    roles: [", role, ", ", RoleName(rng() % kRoles),
                    "]\n    resources: [", policies::ResourceName(res),
                    "]\n    actions: [", policies::ActionName(act), "]\n");
    if (forbid) {
      // Narrow forbids: flagged patients outside a relationship.
      absl::StrAppend(&y, "    patient_flags: [",
                      rng() % 2 ? "vip" : "employee",
                      "]\n    unless_relationship: [", rels[rng() % 3], "]\n");
      continue;
    }
    const std::string& purpose = purposes[rng() % purposes.size()];
    absl::StrAppend(&y, "    purposes: [", purpose, ", ",
                    purposes[rng() % purposes.size()], "]\n");
    targets->push_back({role, res, act, purpose});
    if (rng() % 3 != 0)
      absl::StrAppend(&y, "    relationship: [", rels[rng() % 3], "]\n");
    if (rng() % 8 == 0)
      absl::StrAppend(&y, "    require_reason: true\n");
    const auto& fields = policies::ResourceFields(res);
    if (rng() % 2 == 0) {
      absl::StrAppend(&y, "    mask: [", fields[rng() % fields.size()], "]\n");
    } else if (rng() % 2 == 0) {
      absl::StrAppend(&y, "    fields: [", fields[rng() % fields.size()], ", ",
                      fields[rng() % fields.size()], "]\n");
    }
  }
  return y;
}

// Half the requests aim at a permit rule's role, resource, action and
// purpose (the other conditions are random), half are random.
std::vector<RequestFacts> GenerateRequests(size_t n, bool hot, uint32_t seed,
                                           const std::vector<Target>& targets) {
  std::mt19937 rng(seed);
  const auto& purposes = policies::KnownPurposes();
  std::vector<RequestFacts> out(n);
  for (auto& f : out) {
    f.actor_id = absl::StrCat("u-", rng() % 10000);
    f.roles = {RoleName(rng() % kRoles)};
    if (rng() % 4 == 0)
      f.roles.push_back(RoleName(rng() % kRoles));
    f.purpose = purposes[rng() % purposes.size()];
    f.reason_present = rng() % 2 == 0;
    f.resource = hot ? Resource::kClinicalTestResults
                     : static_cast<Resource>(rng() % policies::kResourceCount);
    f.action = hot ? Action::kRead
                   : static_cast<Action>(rng() % policies::kActionCount);
    if (rng() % 2 == 0 && !targets.empty()) {
      const Target& t = targets[rng() % targets.size()];
      f.roles[0] = t.role;
      f.resource = t.resource;
      f.action = t.action;
      f.purpose = t.purpose;
    }
    f.patient_id = absl::StrCat("p-", rng() % 100000);
    f.is_self = rng() % 10 == 0;
    f.on_care_team = rng() % 3 == 0;
    f.is_assigned = rng() % 3 == 0;
    f.patient_vip = rng() % 10 == 0;
    f.patient_employee = rng() % 10 == 0;
    f.now = absl::FromUnixSeconds(1'800'000'000);
  }
  return out;
}

struct Result {
  std::string shape;
  size_t rules = 0;
  double load_ms = 0;
  double decisions_per_s_1 = 0;
  double decisions_per_s_n = 0;
  int threads = 0;
  double p50_ns = 0, p90_ns = 0, p99_ns = 0, p999_ns = 0, max_ns = 0;
  size_t permit = 0, forbid = 0, not_permitted = 0;
};

double Percentile(std::vector<int64_t>& v, double q) {
  const size_t i = std::min(
      v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return static_cast<double>(v[i]);
}

bool Run(const std::string& shape, int rules, size_t samples, double seconds,
         int threads, Result* r) {
  const bool hot = shape == "hot";
  std::vector<Target> targets;
  const std::string yaml = GeneratePolicy(rules, hot, 42, &targets);
  const auto t0 = SteadyClock::now();
  auto parsed = Policy::Parse(yaml);
  const auto t1 = SteadyClock::now();
  if (!parsed.ok()) {
    std::fprintf(stderr, "generated policy failed to load: %s\n",
                 std::string(parsed.status().message()).c_str());
    return false;
  }
  const Policy& policy = **parsed;
  r->shape = shape;
  r->rules = policy.rule_count();
  r->threads = threads;
  r->load_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const std::vector<RequestFacts> reqs =
      GenerateRequests(4096, hot, 7, targets);

  // Warm up, and count effects.
  for (const auto& f : reqs) {
    const Decision d = policy.Decide(f);
    (d.effect == Effect::kPermit   ? r->permit
     : d.effect == Effect::kForbid ? r->forbid
                                   : r->not_permitted)++;
  }

  // Latency: each decision timed alone.
  std::vector<int64_t> lat(samples);
  for (size_t i = 0; i < samples; ++i) {
    const RequestFacts& f = reqs[i % reqs.size()];
    const auto a = SteadyClock::now();
    Decision d = policy.Decide(f);
    const auto b = SteadyClock::now();
    lat[i] =
        std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
    if (d.rule_ids.empty())
      return false;
  }
  r->max_ns = static_cast<double>(*std::max_element(lat.begin(), lat.end()));
  r->p50_ns = Percentile(lat, 0.50);
  r->p90_ns = Percentile(lat, 0.90);
  r->p99_ns = Percentile(lat, 0.99);
  r->p999_ns = Percentile(lat, 0.999);

  // Throughput: untimed loops for `seconds`, on 1 and on `threads` threads.
  auto loop = [&](size_t offset, const std::atomic<bool>& stop,
                  uint64_t* count) {
    uint64_t n = 0;
    size_t sink = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int k = 0; k < 256; ++k) {
        sink += policy.Decide(reqs[(offset + n) % reqs.size()]).rule_ids.size();
        ++n;
      }
    }
    *count = n + (sink == 0 ? 1 : 0);  // keep `sink` alive
  };
  for (int nthreads : {1, threads}) {
    std::atomic<bool> stop{false};
    std::vector<uint64_t> counts(nthreads, 0);
    std::vector<std::thread> ts;
    absl::Notification go;
    const auto start = SteadyClock::now();
    for (int t = 0; t < nthreads; ++t) {
      ts.emplace_back([&, t] {
        go.WaitForNotification();
        loop(static_cast<size_t>(t) * 997, stop, &counts[t]);
      });
    }
    go.Notify();
    std::this_thread::sleep_for(std::chrono::duration<double>(
        seconds));  // the measurement window, not a sync
    stop = true;
    for (auto& th : ts)
      th.join();
    const double elapsed =
        std::chrono::duration<double>(SteadyClock::now() - start).count();
    uint64_t total = 0;
    for (uint64_t c : counts)
      total += c;
    (nthreads == 1 ? r->decisions_per_s_1 : r->decisions_per_s_n) =
        static_cast<double>(total) / elapsed;
  }
  return true;
}

}  // namespace
}  // namespace carelog::bench

int main(int argc, char** argv) {
  CLI::App app{
      "carelog-policy-bench — access-decision throughput and latency of the "
      "policy engine"};
  int rules = 1000;
  size_t samples = 1'000'000;
  double seconds = 2.0;
  int threads =
      static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  bool quick = false, json = false;
  app.add_option("--rules", rules, "rules in the generated policy")
      ->default_str("1000");
  app.add_option("--samples", samples, "individually timed decisions per shape")
      ->default_str("1000000");
  app.add_option("--seconds", seconds,
                 "throughput window per shape and thread count")
      ->default_str("2");
  app.add_option("--threads", threads,
                 "threads for the concurrent throughput run");
  app.add_flag("--quick", quick, "smoke run: few samples, short windows");
  app.add_flag("--json", json, "one JSON object per shape");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    samples = 20000;
    seconds = 0.1;
  }
  if (!json) {
    std::printf("%-6s %6s %8s %12s %14s %8s %8s %8s %8s %8s  %s\n", "shape",
                "rules", "load_ms", "dec/s 1thr",
                absl::StrFormat("dec/s %dthr", threads).c_str(), "p50_ns",
                "p90_ns", "p99_ns", "p999_ns", "max_ns",
                "permit/forbid/not_permitted of 4096");
  }
  for (const std::string shape : {"spread", "hot"}) {
    carelog::bench::Result r;
    if (!carelog::bench::Run(shape, rules, samples, seconds, threads, &r))
      return 1;
    if (r.permit == 0 || r.forbid == 0 || r.not_permitted == 0) {
      std::fprintf(stderr,
                   "%s: decisions are not a mix of effects (%zu/%zu/%zu)\n",
                   shape.c_str(), r.permit, r.forbid, r.not_permitted);
      return 1;
    }
    if (json) {
      std::printf(
          "{\"shape\":\"%s\",\"rules\":%zu,\"load_ms\":%.1f,\"decisions_per_s_"
          "1_thread\":%.0f,"
          "\"decisions_per_s_threads\":%.0f,\"threads\":%d,\"p50_ns\":%.0f,"
          "\"p90_ns\":%.0f,\"p99_ns\":%.0f,"
          "\"p999_ns\":%.0f,\"max_ns\":%.0f,\"permit\":%zu,\"forbid\":%zu,"
          "\"not_permitted\":%zu}\n",
          r.shape.c_str(), r.rules, r.load_ms, r.decisions_per_s_1,
          r.decisions_per_s_n, r.threads, r.p50_ns, r.p90_ns, r.p99_ns,
          r.p999_ns, r.max_ns, r.permit, r.forbid, r.not_permitted);
    } else {
      std::printf(
          "%-6s %6zu %8.1f %12.0f %14.0f %8.0f %8.0f %8.0f %8.0f %8.0f  "
          "%zu/%zu/%zu\n",
          r.shape.c_str(), r.rules, r.load_ms, r.decisions_per_s_1,
          r.decisions_per_s_n, r.p50_ns, r.p90_ns, r.p99_ns, r.p999_ns,
          r.max_ns, r.permit, r.forbid, r.not_permitted);
    }
  }
  return 0;
}
