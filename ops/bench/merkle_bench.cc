// ops/bench/merkle_bench.cc — carelog-merkle-bench: what the verifiable ledger
// costs.
//
//  1. Append throughput with Merkle maintenance on vs off, in one run: two
//     fresh ledgers loaded alternately (on, off, on, off, …) by the same
//     number of client threads, so that disk and CPU drift hit both alike.
//     Reported with synced commits (production) and, separately, unsynced
//     (the CPU cost of the tree, no longer hidden behind fsync).
//  2. Proof latency at --events (default 1M) events: a ledger is built with
//     multi-event commands (unsynced; setup only), then random inclusion
//     proofs (position, head) and consistency proofs (random old size, head)
//     are timed, each also verified client-side (crypto/merkle.h) — a proof
//     that does not verify makes the program exit non-zero.
//
// A benchmark program, not a test. Single-threaded driver; load phases start
// their worker threads together and join them before the next phase.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "crypto/merkle.h"
#include "crypto/secret_key.h"
#include "storage/ledger.h"

namespace carelog::bench {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

struct Config {
  std::string dir = "/tmp";
  int threads = 32;
  uint64_t rounds = 6;                // alternating on/off rounds per sync mode
  uint64_t appends_per_round = 5000;  // single-event commands per round
  size_t payload_bytes = 512;
  uint64_t events = 1000000;  // proof phase tree size
  int events_per_command = 200;
  int build_threads = 8;
  uint64_t proofs = 20000;
  bool keep = false;
  std::vector<std::string> phases = {"append", "proofs"};
};

std::unique_ptr<crypto::SecretKey> Kek() {
  uint8_t b[crypto::kKeyBytes];
  for (size_t i = 0; i < sizeof(b); ++i)
    b[i] = static_cast<uint8_t>(i * 13 + 7);
  auto k = crypto::SecretKey::FromBytes(b, sizeof(b));
  if (!k.ok()) {
    std::fprintf(stderr, "kek: %s\n",
                 std::string(k.status().message()).c_str());
    std::exit(1);
  }
  return std::move(*k);
}

std::unique_ptr<storage::Ledger> OpenLedger(const std::string& dir, bool merkle,
                                            bool sync) {
  storage::LedgerOptions o;
  o.data_dir = dir;
  o.kek = Kek();
  o.merkle = merkle;
  o.sync = sync;
  auto l = storage::Ledger::Open(std::move(o));
  if (!l.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(),
                 std::string(l.status().message()).c_str());
    std::exit(1);
  }
  return std::move(*l);
}

storage::AppendRequest Request(const std::string& id, int events,
                               const std::string& payload, uint64_t n) {
  storage::AppendRequest r;
  r.command_id = id;
  storage::StreamAppend sa;
  sa.stream_id = absl::StrCat("patient/p", n % 1000);
  for (int i = 0; i < events; ++i) {
    storage::NewEvent ev;
    ev.event_type = "carelog.bench.Noted";
    ev.payload = payload;
    ev.key_class = crypto::KeyClass::kSubject;
    ev.subject_id = absl::StrCat("subj-", n % 16);
    sa.events.push_back(std::move(ev));
  }
  r.streams.push_back(std::move(sa));
  return r;
}

// Appends `count` single-event commands from `threads` threads; returns the
// wall time.
absl::Duration Load(storage::Ledger* ledger, int threads, uint64_t count,
                    const std::string& payload, const std::string& tag) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  const auto t0 = SteadyClock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (uint64_t i = next++; i < count; i = next++) {
        auto r =
            ledger->Append(Request(absl::StrCat(tag, "-", i), 1, payload, i));
        if (!r.ok()) {
          std::fprintf(stderr, "append: %s\n",
                       std::string(r.status().message()).c_str());
          failed = true;
          return;
        }
      }
    });
  }
  for (auto& t : ts)
    t.join();
  if (failed)
    std::exit(1);
  return absl::FromChrono(SteadyClock::now() - t0);
}

void AppendPhase(const Config& c, const std::string& root) {
  const std::string payload(c.payload_bytes, 'p');
  std::printf(
      "== append throughput, Merkle maintenance on vs off (%d client "
      "threads, single-event commands, %zu-byte payloads, %llu rounds "
      "x %llu appends, alternating)\n",
      c.threads, c.payload_bytes, static_cast<unsigned long long>(c.rounds),
      static_cast<unsigned long long>(c.appends_per_round));
  for (bool sync : {true, false}) {
    const std::string on_dir =
        absl::StrCat(root, sync ? "/sync" : "/nosync", "-on");
    const std::string off_dir =
        absl::StrCat(root, sync ? "/sync" : "/nosync", "-off");
    auto on = OpenLedger(on_dir, true, sync);
    auto off = OpenLedger(off_dir, false, sync);
    // Warm-up: streams, keys and caches exist in both before timing.
    Load(on.get(), c.threads, 500, payload, "warm");
    Load(off.get(), c.threads, 500, payload, "warm");
    absl::Duration t_on, t_off;
    for (uint64_t r = 0; r < c.rounds; ++r) {
      // Alternate which goes first so neither always follows the other.
      const std::string tag = absl::StrCat("r", r);
      if (r % 2 == 0) {
        t_on += Load(on.get(), c.threads, c.appends_per_round, payload, tag);
        t_off += Load(off.get(), c.threads, c.appends_per_round, payload, tag);
      } else {
        t_off += Load(off.get(), c.threads, c.appends_per_round, payload, tag);
        t_on += Load(on.get(), c.threads, c.appends_per_round, payload, tag);
      }
    }
    const double n = static_cast<double>(c.rounds * c.appends_per_round);
    const double eps_on = n / absl::ToDoubleSeconds(t_on);
    const double eps_off = n / absl::ToDoubleSeconds(t_off);
    auto root_ok = on->MerkleRoot(on->GetHead().position);
    if (!root_ok.ok()) {
      std::fprintf(stderr, "root: %s\n",
                   std::string(root_ok.status().message()).c_str());
      std::exit(1);
    }
    const auto s_on = on->Stats();
    std::printf(
        "  %-8s merkle on : %10.0f appends/s   merkle off: %10.0f appends/s   "
        "cost %+.1f%%   (on: %llu batches, %.1f events/batch)\n",
        sync ? "synced" : "unsynced", eps_on, eps_off,
        100.0 * (eps_off - eps_on) / eps_off,
        static_cast<unsigned long long>(s_on.batches),
        static_cast<double>(s_on.events_committed) /
            std::max<uint64_t>(1, s_on.batches));
    on.reset();
    off.reset();
    if (!c.keep) {
      fs::remove_all(on_dir);
      fs::remove_all(off_dir);
    }
  }
}

struct Summary {
  double p50 = 0, p99 = 0, max = 0, mean = 0;
};
Summary Summarize(std::vector<double> us) {
  Summary s;
  if (us.empty())
    return s;
  std::sort(us.begin(), us.end());
  s.p50 = us[us.size() / 2];
  s.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  s.max = us.back();
  double sum = 0;
  for (double v : us)
    sum += v;
  s.mean = sum / us.size();
  return s;
}

void ProofPhase(const Config& c, const std::string& root) {
  const std::string dir = root + "/proofs";
  const std::string payload(c.payload_bytes, 'q');
  std::printf(
      "== proof latency at %llu events (built with %d-event commands, "
      "unsynced; %llu proofs each)\n",
      static_cast<unsigned long long>(c.events), c.events_per_command,
      static_cast<unsigned long long>(c.proofs));
  auto ledger = OpenLedger(dir, true, /*sync=*/false);
  const auto t0 = SteadyClock::now();
  {
    const uint64_t commands =
        (c.events + c.events_per_command - 1) / c.events_per_command;
    std::atomic<uint64_t> next{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < c.build_threads; ++t) {
      ts.emplace_back([&] {
        for (uint64_t i = next++; i < commands; i = next++) {
          const uint64_t remaining = c.events - i * c.events_per_command;
          const int k = static_cast<int>(std::min<uint64_t>(
              remaining, static_cast<uint64_t>(c.events_per_command)));
          auto r =
              ledger->Append(Request(absl::StrCat("build-", i), k, payload, i));
          if (!r.ok()) {
            std::fprintf(stderr, "build: %s\n",
                         std::string(r.status().message()).c_str());
            std::exit(1);
          }
        }
      });
    }
    for (auto& t : ts)
      t.join();
  }
  const double build_s =
      std::chrono::duration<double>(SteadyClock::now() - t0).count();
  const uint64_t n = ledger->GetHead().position;
  std::printf("  built %llu events in %.1f s (%.0f events/s, Merkle on)\n",
              static_cast<unsigned long long>(n), build_s, n / build_s);
  auto tree_root = ledger->MerkleRoot(n);
  if (!tree_root.ok()) {
    std::fprintf(stderr, "root: %s\n",
                 std::string(tree_root.status().message()).c_str());
    std::exit(1);
  }
  std::mt19937_64 rng(42);
  std::vector<double> incl, incl_verify, cons, cons_verify, roots;
  for (uint64_t i = 0; i < c.proofs; ++i) {
    const uint64_t pos = 1 + rng() % n;
    auto a = SteadyClock::now();
    auto proof = ledger->InclusionProof(pos, n);
    auto b = SteadyClock::now();
    if (!proof.ok()) {
      std::fprintf(stderr, "inclusion: %s\n",
                   std::string(proof.status().message()).c_str());
      std::exit(1);
    }
    incl.push_back(std::chrono::duration<double, std::micro>(b - a).count());
    auto ev = ledger->ReadAt(pos);
    if (!ev.ok())
      std::exit(1);
    a = SteadyClock::now();
    absl::Status vs = crypto::VerifyInclusion(
        pos - 1, n, crypto::MerkleLeafHash(ev->stored_bytes), *proof,
        *tree_root);
    b = SteadyClock::now();
    if (!vs.ok()) {
      std::fprintf(stderr, "inclusion proof does not verify: %s\n",
                   std::string(vs.message()).c_str());
      std::exit(1);
    }
    incl_verify.push_back(
        std::chrono::duration<double, std::micro>(b - a).count());
  }
  for (uint64_t i = 0; i < c.proofs; ++i) {
    const uint64_t old_size = 1 + rng() % n;
    auto a = SteadyClock::now();
    auto old_root = ledger->MerkleRoot(old_size);
    auto b = SteadyClock::now();
    roots.push_back(std::chrono::duration<double, std::micro>(b - a).count());
    a = SteadyClock::now();
    auto proof = ledger->ConsistencyProof(old_size, n);
    b = SteadyClock::now();
    if (!proof.ok() || !old_root.ok()) {
      std::fprintf(stderr, "consistency/root failed\n");
      std::exit(1);
    }
    cons.push_back(std::chrono::duration<double, std::micro>(b - a).count());
    a = SteadyClock::now();
    absl::Status vs =
        crypto::VerifyConsistency(old_size, n, *proof, *old_root, *tree_root);
    b = SteadyClock::now();
    if (!vs.ok()) {
      std::fprintf(stderr, "consistency proof does not verify: %s\n",
                   std::string(vs.message()).c_str());
      std::exit(1);
    }
    cons_verify.push_back(
        std::chrono::duration<double, std::micro>(b - a).count());
  }
  auto print = [](const char* what, const Summary& s) {
    std::printf(
        "  %-34s p50 %8.1f us  p99 %8.1f us  max %8.1f us  mean %8.1f us\n",
        what, s.p50, s.p99, s.max, s.mean);
  };
  print("inclusion proof (server, head)", Summarize(incl));
  print("inclusion verify (client)", Summarize(incl_verify));
  print("consistency proof (server, ->head)", Summarize(cons));
  print("consistency verify (client)", Summarize(cons_verify));
  print("root at a past size (server)", Summarize(roots));
  ledger.reset();
  if (!c.keep)
    fs::remove_all(dir);
}

}  // namespace
}  // namespace carelog::bench

int main(int argc, char** argv) {
  carelog::bench::Config c;
  CLI::App app{"carelog-merkle-bench — cost of the verifiable ledger"};
  app.add_option("--dir", c.dir, "parent of the scratch directory");
  app.add_option("--threads", c.threads, "client threads in the append phase");
  app.add_option("--rounds", c.rounds, "alternating on/off rounds per mode");
  app.add_option("--appends-per-round", c.appends_per_round,
                 "single-event appends per round");
  app.add_option("--payload-bytes", c.payload_bytes, "payload size");
  app.add_option("--events", c.events, "tree size for the proof phase");
  app.add_option("--events-per-command", c.events_per_command,
                 "events per command when building the proof ledger");
  app.add_option("--proofs", c.proofs, "proofs of each kind to time");
  app.add_option("--phases", c.phases, "append, proofs");
  app.add_flag("--keep", c.keep, "keep the scratch directories");
  bool quick = false;
  app.add_flag("--quick", quick, "tiny sizes (smoke run)");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    c.rounds = 2;
    c.appends_per_round = 200;
    c.events = 5000;
    c.proofs = 200;
  }
  const std::string root =
      absl::StrCat(c.dir, "/carelog-merkle-bench-", ::getpid());
  std::filesystem::create_directories(root);
  for (const auto& p : c.phases) {
    if (p == "append") {
      carelog::bench::AppendPhase(c, root);
    } else if (p == "proofs") {
      carelog::bench::ProofPhase(c, root);
    } else {
      std::fprintf(stderr, "unknown phase %s\n", p.c_str());
      return 2;
    }
  }
  if (!c.keep)
    std::filesystem::remove_all(root);
  return 0;
}
