// ops/bench/ledger_bench.cc — carelog-ledger-bench: the ledger engine's
// durable append throughput and latency side by side with raw RocksDB synced
// writes of the same size and concurrency, then the verify, read and
// read+decrypt rates over a log of 200k+ events, peak RSS and on-disk size.
//
// Every phase runs in a fresh directory under a temp root in --dir, with
// synced writes as in production. The program prints a table, optionally
// writes JSON (--json), and exits non-zero if any append, write, verify, read
// or decrypt fails — so the --quick smoke run registered with CTest checks
// correctness, never speed.
//
// Single-threaded driver; load phases start their worker threads together
// behind a notification and join them before the next phase.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

#include "crypto/hash.h"
#include "crypto/secret_key.h"
#include "storage/ledger.h"
#include "storage/types.h"

namespace carelog::bench {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using SteadyClock = std::chrono::steady_clock;

constexpr uint64_t kUnlimitedOps = UINT64_MAX;

// ---------------------------------------------------------------------------
// Configuration.

struct Config {
  std::string dir = "/tmp";
  std::string json_path;
  std::vector<int> levels = {1, 16, 64};
  bool quick = false;
  bool keep = false;
  bool merkle = true;              // as in production
  uint64_t appends_per_level = 0;  // 0: mode default
  double seconds_per_level = 0;    // 0: mode default
  uint64_t raw_batches = 0;        // per raw batch size; 0: mode default
  uint64_t verify_events = 0;      // 0: mode default
  int build_threads = 64;
  int events_per_command = 100;
  size_t payload_bytes = 512;
  size_t raw_value_bytes = 0;  // 0: the engine's measured stored record size
  int subjects = 16;
  size_t page_size = 1000;
  int parallel_threads = 2;
  int rounds = 0;  // 0: mode default
  std::vector<std::string> phases = {"append", "raw", "log"};
  bool Runs(absl::string_view phase) const {
    return std::find(phases.begin(), phases.end(), phase) != phases.end();
  }
};

void ApplyModeDefaults(Config* c) {
  if (c->appends_per_level == 0)
    c->appends_per_level = c->quick ? 300 : 20000;
  if (c->seconds_per_level <= 0)
    c->seconds_per_level = c->quick ? 1.0 : 15;
  if (c->raw_batches == 0)
    c->raw_batches = c->quick ? 50 : 2000;
  if (c->rounds <= 0)
    c->rounds = c->quick ? 1 : 3;
  if (c->verify_events == 0)
    c->verify_events = c->quick ? 10000 : 200000;
}

// How long a load phase runs: whichever limit is reached first.
struct Budget {
  uint64_t max_ops = kUnlimitedOps;
  absl::Duration max_time = absl::InfiniteDuration();
};

// ---------------------------------------------------------------------------
// Measurement helpers.

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

int64_t PeakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // kilobytes on Linux
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec))
      total += it->file_size(fec);
  }
  return total;
}

struct LatencySummary {
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
};

LatencySummary Summarize(std::vector<int64_t> ns) {
  LatencySummary s;
  if (ns.empty())
    return s;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    size_t rank = static_cast<size_t>(std::ceil(q * ns.size()));
    rank = std::min(ns.size(), std::max<size_t>(rank, 1));
    return ns[rank - 1] / 1e3;
  };
  s.p50_us = at(0.50);
  s.p99_us = at(0.99);
  s.p999_us = at(0.999);
  s.max_us = ns.back() / 1e3;
  double sum = 0;
  for (int64_t v : ns)
    sum += static_cast<double>(v);
  s.mean_us = sum / ns.size() / 1e3;
  return s;
}

Json LatencyJson(const LatencySummary& l) {
  return Json{{"p50_us", l.p50_us},
              {"p99_us", l.p99_us},
              {"p999_us", l.p999_us},
              {"max_us", l.max_us},
              {"mean_us", l.mean_us}};
}

// Failures are counted per phase and gathered here; any failure makes the
// program exit non-zero.
class Failures {
 public:
  void Add(absl::string_view phase, const absl::Status& s) {
    absl::MutexLock l(&mu_);
    ++count_;
    if (messages_.size() < 10)
      messages_.push_back(absl::StrCat(phase, ": ", s.ToString()));
  }
  uint64_t count() const {
    absl::MutexLock l(&mu_);
    return count_;
  }
  std::vector<std::string> messages() const {
    absl::MutexLock l(&mu_);
    return messages_;
  }

 private:
  mutable absl::Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> messages_ ABSL_GUARDED_BY(mu_);
};

// The result of one closed-loop load phase.
struct LoadResult {
  int threads = 0;
  uint64_t ops = 0;  // successful operations
  uint64_t failures = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // whole process, incl. RocksDB's background threads
  std::vector<int64_t> latencies_ns;  // of the successful operations
  LatencySummary latency;
  double PerSecond() const { return seconds > 0 ? ops / seconds : 0; }
  double CpuCores() const { return seconds > 0 ? cpu_seconds / seconds : 0; }

  // Adds another round of the same load: throughput over the summed time,
  // latency percentiles over all operations.
  void Merge(const LoadResult& o) {
    threads = o.threads;
    ops += o.ops;
    failures += o.failures;
    seconds += o.seconds;
    cpu_seconds += o.cpu_seconds;
    latencies_ns.insert(latencies_ns.end(), o.latencies_ns.begin(),
                        o.latencies_ns.end());
    latency = Summarize(latencies_ns);
  }
};

// Runs `op(n)` for n = 0, 1, 2, … from `threads` threads until the budget is
// spent; each call is timed. Operations that fail are reported to `failures`
// under `phase` and not counted.
LoadResult RunLoad(int threads, const Budget& budget,
                   const std::function<absl::Status(uint64_t)>& op,
                   absl::string_view phase, Failures* failures) {
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> failed{0};
  absl::Notification start;
  SteadyClock::time_point deadline = SteadyClock::time_point::max();
  std::vector<std::vector<int64_t>> latencies(threads);
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<int64_t>& lat = latencies[t];
      if (budget.max_ops != kUnlimitedOps)
        lat.reserve(budget.max_ops / threads + 16);
      start.WaitForNotification();
      for (;;) {
        const uint64_t n = next.fetch_add(1, std::memory_order_relaxed);
        if (n >= budget.max_ops)
          break;
        const auto t0 = SteadyClock::now();
        if (t0 >= deadline)
          break;
        absl::Status s = op(n);
        const auto t1 = SteadyClock::now();
        if (!s.ok()) {
          failed.fetch_add(1, std::memory_order_relaxed);
          failures->Add(phase, s);
          continue;
        }
        lat.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0)
                .count());
      }
    });
  }
  const double cpu0 = CpuSeconds();
  const auto t0 = SteadyClock::now();
  if (budget.max_time != absl::InfiniteDuration()) {
    deadline = t0 + std::chrono::nanoseconds(
                        absl::ToInt64Nanoseconds(budget.max_time));
  }
  start.Notify();  // publishes `deadline` to the workers
  for (auto& th : pool)
    th.join();
  LoadResult r;
  r.threads = threads;
  r.seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  r.cpu_seconds = CpuSeconds() - cpu0;
  r.failures = failed.load();
  for (auto& v : latencies)
    r.latencies_ns.insert(r.latencies_ns.end(), v.begin(), v.end());
  r.ops = r.latencies_ns.size();
  r.latency = Summarize(r.latencies_ns);
  return r;
}

// ---------------------------------------------------------------------------
// Engine helpers.

// A throwaway KEK for the benchmark's ledgers, kept as bytes so that a ledger
// can be reopened (SecretKey is not copyable).
class BenchKek {
 public:
  BenchKek() { crypto::RandomBytes(bytes_, sizeof(bytes_)); }
  absl::StatusOr<std::unique_ptr<crypto::SecretKey>> Get() const {
    return crypto::SecretKey::FromBytes(bytes_, sizeof(bytes_));
  }

 private:
  uint8_t bytes_[crypto::kKeyBytes];
};

absl::StatusOr<std::unique_ptr<storage::Ledger>> OpenLedger(
    const Config& c, const std::string& dir, const BenchKek& kek) {
  auto key = kek.Get();
  if (!key.ok())
    return key.status();
  storage::LedgerOptions o;
  o.data_dir = dir;
  o.kek = std::move(*key);
  o.sync = true;  // as in production
  o.merkle = c.merkle;
  return storage::Ledger::Open(std::move(o));
}

std::string SubjectId(uint64_t i) {
  return absl::StrFormat("subj-%04d", i);
}

// One command: `events` events on one patient stream, sealed under the
// subject's key.
storage::AppendRequest MakeCommand(std::string command_id, std::string stream,
                                   const std::string& subject,
                                   const std::string& payload, int events) {
  storage::AppendRequest r;
  r.command_id = std::move(command_id);
  storage::StreamAppend sa;
  sa.stream_id = std::move(stream);
  sa.expected = storage::ExpectedVersion::Any();
  sa.events.reserve(events);
  for (int i = 0; i < events; ++i) {
    storage::NewEvent ev;
    ev.event_type = "carelog.bench.ObservationRecorded";
    ev.payload = payload;
    ev.key_class = crypto::KeyClass::kSubject;
    ev.subject_id = subject;
    sa.events.push_back(std::move(ev));
  }
  r.streams.push_back(std::move(sa));
  return r;
}

absl::Status CheckAppend(const absl::StatusOr<storage::AppendResult>& r,
                         int events) {
  if (!r.ok())
    return r.status();
  if (r->duplicate)
    return absl::InternalError("fresh command id acknowledged as duplicate");
  if (r->last_position - r->first_position + 1 != static_cast<uint64_t>(events))
    return absl::InternalError("acknowledged positions do not match events");
  return absl::OkStatus();
}

// Verifies the whole ledger and checks that it holds exactly `expected` events.
absl::Status VerifyAll(const storage::Ledger& ledger, uint64_t expected) {
  storage::VerifyReport r = ledger.Verify();
  if (!r.status.ok())
    return r.status;
  if (r.events_checked != expected) {
    return absl::InternalError(absl::StrCat("verify checked ", r.events_checked,
                                            " events, expected ", expected));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// (a) Engine durable appends.

struct EngineLevel {
  LoadResult load;
  uint64_t batches = 0;
  uint64_t commands = 0;
  uint64_t max_commands_per_batch = 0;
  uint64_t write_ns = 0;  // inside RocksDB Write, incl. the WAL fsync
  uint64_t dir_bytes = 0;

  double CommandsPerBatch() const {
    return batches > 0 ? static_cast<double>(commands) / batches : 0;
  }
  double WriteMsPerBatch() const {
    return batches > 0 ? write_ns / 1e6 / batches : 0;
  }
  // Share of the wall time the writer spent inside that Write.
  double WriterWriteShare() const {
    return load.seconds > 0 ? write_ns / 1e9 / load.seconds : 0;
  }
  void Merge(const EngineLevel& o) {
    load.Merge(o.load);
    batches += o.batches;
    commands += o.commands;
    max_commands_per_batch =
        std::max(max_commands_per_batch, o.max_commands_per_batch);
    write_ns += o.write_ns;
    dir_bytes = o.dir_bytes;
  }
};

// One round of engine appends from `threads` threads into a fresh ledger.
absl::StatusOr<EngineLevel> RunEngineRound(
    const Config& c, const std::string& dir, int threads, const Budget& budget,
    const BenchKek& kek, const std::string& payload, size_t* record_bytes,
    Failures* failures) {
  auto ledger_or = OpenLedger(c, dir, kek);
  if (!ledger_or.ok())
    return ledger_or.status();
  std::unique_ptr<storage::Ledger> ledger = std::move(*ledger_or);

  // Untimed warm-up: creates each subject's key (one synced write each) and
  // the streams, so the timed loop measures steady-state appends.
  for (int s = 0; s < c.subjects; ++s) {
    auto r = ledger->Append(MakeCommand(absl::StrCat("warm-", s),
                                        absl::StrCat("patient/p-", s),
                                        SubjectId(s), payload, 1));
    if (auto st = CheckAppend(r, 1); !st.ok())
      return st;
  }

  struct Totals {
    std::atomic<uint64_t> batches{0};
    std::atomic<uint64_t> write_ns{0};
    std::atomic<uint64_t> max_commands{0};
  } totals;
  const uint64_t listener =
      ledger->AddCommitListener([&totals](const storage::CommitInfo& info) {
        totals.batches.fetch_add(1, std::memory_order_relaxed);
        totals.write_ns.fetch_add(absl::ToInt64Nanoseconds(info.write_duration),
                                  std::memory_order_relaxed);
        if (info.commands > totals.max_commands.load(std::memory_order_relaxed))
          totals.max_commands.store(info.commands, std::memory_order_relaxed);
      });
  const storage::LedgerStats before = ledger->Stats();

  const std::string phase = absl::StrCat("engine append x", threads);
  EngineLevel out;
  out.load = RunLoad(
      threads, budget,
      [&](uint64_t n) {
        const uint64_t s = n % c.subjects;
        return CheckAppend(
            ledger->Append(MakeCommand(absl::StrCat("bench-", threads, "-", n),
                                       absl::StrCat("patient/p-", s),
                                       SubjectId(s), payload, 1)),
            1);
      },
      phase, failures);
  ledger->RemoveCommitListener(listener);
  const storage::LedgerStats after = ledger->Stats();

  out.batches = totals.batches.load();
  out.commands = after.commands_committed - before.commands_committed;
  out.max_commands_per_batch = totals.max_commands.load();
  out.write_ns = totals.write_ns.load();

  // Correctness: every acknowledged append is in the chain, nothing else is.
  const uint64_t expected = c.subjects + out.load.ops;
  if (auto st = VerifyAll(*ledger, expected); !st.ok())
    return st;
  if (*record_bytes == 0) {
    auto last = ledger->ReadAt(expected);
    if (!last.ok())
      return last.status();
    *record_bytes = last->stored_bytes.size();
  }
  ledger.reset();
  out.dir_bytes = DirBytes(dir);
  return out;
}

// ---------------------------------------------------------------------------
// (b) Raw RocksDB synced writes.

absl::StatusOr<std::unique_ptr<rocksdb::DB>> OpenRaw(const std::string& dir) {
  // Close to the engine's events column family (no compression, 64 MiB
  // memtable, two background jobs) so that only the engine's own work differs.
  rocksdb::Options o;
  o.create_if_missing = true;
  o.compression = rocksdb::kNoCompression;
  o.write_buffer_size = 64 << 20;
  o.max_background_jobs = 2;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, dir, &raw);
  std::unique_ptr<rocksdb::DB> db(raw);  // own it at once
  if (!s.ok())
    return absl::UnavailableError(absl::StrCat("raw open: ", s.ToString()));
  return db;
}

std::string BigEndianKey(uint64_t v) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i) {
    k[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return k;
}

struct RawResult {
  LoadResult load;  // one op = one db->Write
  int records_per_write = 1;
  double RecordsPerSecond() const {
    return load.PerSecond() * records_per_write;
  }
};

// `threads` writers, each db->Write(sync) of a batch of `records` values.
absl::StatusOr<RawResult> RunRaw(const std::string& dir, int threads,
                                 int records, const Budget& budget,
                                 const std::string& value, Failures* failures) {
  auto db_or = OpenRaw(dir);
  if (!db_or.ok())
    return db_or.status();
  std::unique_ptr<rocksdb::DB> db = std::move(*db_or);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RawResult out;
  out.records_per_write = records;
  const std::string phase =
      absl::StrCat("raw write x", threads, " batch ", records);
  out.load = RunLoad(
      threads, budget,
      [&](uint64_t n) {
        rocksdb::WriteBatch wb;
        for (int i = 0; i < records; ++i)
          wb.Put(BigEndianKey(n * records + i), value);
        rocksdb::Status s = db->Write(wo, &wb);
        if (!s.ok())
          return absl::UnavailableError(s.ToString());
        return absl::OkStatus();
      },
      phase, failures);
  rocksdb::Status cs = db->Close();
  if (!cs.ok())
    return absl::UnavailableError(absl::StrCat("raw close: ", cs.ToString()));
  return out;
}

// ---------------------------------------------------------------------------
// (d), (e) Verify and full-log reads over a large log.

struct LogResult {
  uint64_t events = 0;
  LoadResult build;  // one op = one command of events_per_command events
  uint64_t build_batches = 0;
  double reopen_seconds = 0;
  std::vector<double> verify_seconds;
  double read_seconds = 0;
  double read_decrypt_seconds = 0;
  uint64_t dir_bytes = 0;
  // Per-event costs of the pieces, timed alone over a sample of the log
  // (single thread): where the verify and read time goes.
  uint64_t sample_events = 0;
  double chain_hash_us = 0;  // BLAKE2b-256(prev | header | ciphertext)
  double key_lookup_us = 0;  // KeyRing::KeyForOpen (cached subject key)
  double decrypt_us = 0;     // Ledger::Decrypt: key lookup + AEAD open
  int64_t peak_rss_kb = 0;   // after verify and reads, before the sample
  // Verify and ReadAll+Decrypt over `parallel_threads` ranges at once.
  int parallel_threads = 0;
  double parallel_verify_seconds = 0;
  double parallel_read_decrypt_seconds = 0;

  double BuildEventsPerSecond(int per_command) const {
    return build.PerSecond() * per_command;
  }
  double BestVerifyPerSecond() const {
    double best = 0;
    for (double s : verify_seconds)
      best = std::max(best, s > 0 ? events / s : 0);
    return best;
  }
  double ReadPerSecond() const {
    return read_seconds > 0 ? events / read_seconds : 0;
  }
  double ParallelVerifyPerSecond() const {
    return parallel_verify_seconds > 0 ? events / parallel_verify_seconds : 0;
  }
  double ParallelReadPerSecond() const {
    return parallel_read_decrypt_seconds > 0
               ? events / parallel_read_decrypt_seconds
               : 0;
  }
  double ReadDecryptPerSecond() const {
    return read_decrypt_seconds > 0 ? events / read_decrypt_seconds : 0;
  }
};

// Reads positions [first, last] forwards in pages; with `decrypt`, opens
// every payload and checks it is `payload`. Returns the number of events read.
absl::StatusOr<uint64_t> ReadRange(const storage::Ledger& ledger,
                                   uint64_t first, uint64_t last,
                                   size_t page_size, bool decrypt,
                                   const std::string& payload) {
  uint64_t count = 0;
  for (uint64_t from = first; from != 0 && from <= last;) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(page_size, last - from + 1));
    auto page = ledger.ReadAll(from, want, storage::Direction::kForward);
    if (!page.ok())
      return page.status();
    if (page->events.empty())
      break;
    for (const storage::StoredEvent& e : page->events) {
      if (e.header.position != from + (&e - page->events.data())) {
        return absl::InternalError(
            absl::StrCat("page out of order at ", e.header.position));
      }
      if (decrypt) {
        auto plain = ledger.Decrypt(e);
        if (!plain.ok())
          return plain.status();
        if (*plain != payload) {
          return absl::InternalError(
              absl::StrCat("decrypted payload differs at ", e.header.position));
        }
      }
    }
    count += page->events.size();
    from = page->next;
  }
  return count;
}

// Splits [1, events] into `threads` contiguous ranges and runs `fn(first,
// last)` on each from its own thread; `fn` returns how many events it
// covered. Returns the wall time, and an error if any range fails or the
// ranges do not cover `events` in total.
absl::StatusOr<double> TimeParallelRanges(
    int threads, uint64_t events,
    const std::function<absl::StatusOr<uint64_t>(uint64_t, uint64_t)>& fn) {
  if (events == 0)
    return 0.0;
  threads = static_cast<int>(std::min<uint64_t>(threads, events));
  std::vector<absl::StatusOr<uint64_t>> results(threads,
                                                absl::UnknownError("not run"));
  std::vector<std::thread> pool;
  const auto t0 = SteadyClock::now();
  for (int t = 0; t < threads; ++t) {
    const uint64_t first = 1 + events * t / threads;
    const uint64_t last = events * (t + 1) / threads;
    pool.emplace_back([&, t, first, last] { results[t] = fn(first, last); });
  }
  for (auto& th : pool)
    th.join();
  const double secs =
      std::chrono::duration<double>(SteadyClock::now() - t0).count();
  uint64_t covered = 0;
  for (auto& r : results) {
    if (!r.ok())
      return r.status();
    covered += *r;
  }
  if (covered != events) {
    return absl::InternalError(
        absl::StrCat("ranges covered ", covered, " events of ", events));
  }
  return secs;
}

// Times the per-event pieces of verify and read+decrypt alone, over the first
// `sample` events of the log, and checks their results.
absl::Status TimePieces(storage::Ledger& ledger, uint64_t sample,
                        LogResult* out) {
  std::vector<storage::StoredEvent> events;
  for (uint64_t from = 1; from != 0 && events.size() < sample;) {
    auto page = ledger.ReadAll(from, std::min<uint64_t>(1000, sample));
    if (!page.ok())
      return page.status();
    for (auto& e : page->events)
      events.push_back(std::move(e));
    from = page->next;
  }
  if (events.empty())
    return absl::OkStatus();
  const double n = static_cast<double>(events.size());
  out->sample_events = events.size();
  auto micros_since = [](SteadyClock::time_point t0) {
    return std::chrono::duration<double, std::micro>(SteadyClock::now() - t0)
        .count();
  };

  auto t0 = SteadyClock::now();
  crypto::Digest prev{};  // the sample starts at position 1: genesis
  for (const storage::StoredEvent& e : events) {
    const absl::string_view header(
        e.stored_bytes.data(),
        e.stored_bytes.size() - e.ciphertext.size() - crypto::kDigestBytes);
    prev = crypto::ChainHash(prev, header, e.ciphertext);
    if (!crypto::DigestEquals(prev, e.chain_hash)) {
      return absl::DataLossError(
          absl::StrCat("chain hash differs at ", e.header.position));
    }
  }
  out->chain_hash_us = micros_since(t0) / n;

  t0 = SteadyClock::now();
  for (const storage::StoredEvent& e : events) {
    auto key =
        ledger.key_ring().KeyForOpen(e.header.key_class, e.header.subject_id);
    if (!key.ok())
      return key.status();
  }
  out->key_lookup_us = micros_since(t0) / n;

  t0 = SteadyClock::now();
  for (const storage::StoredEvent& e : events) {
    auto plain = ledger.Decrypt(e);
    if (!plain.ok())
      return plain.status();
  }
  out->decrypt_us = micros_since(t0) / n;
  return absl::OkStatus();
}

absl::StatusOr<LogResult> RunLog(const Config& c, const std::string& dir,
                                 const BenchKek& kek,
                                 const std::string& payload,
                                 Failures* failures) {
  LogResult out;
  const uint64_t per = c.events_per_command;
  const uint64_t commands = (c.verify_events + per - 1) / per;
  {
    auto ledger_or = OpenLedger(c, dir, kek);
    if (!ledger_or.ok())
      return ledger_or.status();
    std::unique_ptr<storage::Ledger> ledger = std::move(*ledger_or);
    out.build = RunLoad(
        c.build_threads, Budget{commands, absl::InfiniteDuration()},
        [&](uint64_t n) {
          const uint64_t s = n % c.subjects;
          return CheckAppend(
              ledger->Append(MakeCommand(
                  absl::StrCat("bulk-", n), absl::StrCat("patient/v-", n % 512),
                  SubjectId(s), payload, c.events_per_command)),
              c.events_per_command);
        },
        "build log", failures);
    if (out.build.failures > 0 || out.build.ops == 0) {
      return absl::InternalError(absl::StrCat(
          "building the log: ", out.build.failures, " commands failed"));
    }
    out.events = ledger->GetHead().position;
    out.build_batches = ledger->Stats().batches;
    if (out.events != out.build.ops * per) {
      return absl::InternalError(absl::StrCat(
          "log holds ", out.events, " events, expected ", out.build.ops * per));
    }
  }
  // Reopen: RocksDB flushes the recovered WAL to table files, so the scans
  // below read SSTs (from the page cache) as a long-lived ledger would.
  const auto t_open = SteadyClock::now();
  auto ledger_or = OpenLedger(c, dir, kek);
  if (!ledger_or.ok())
    return ledger_or.status();
  std::unique_ptr<storage::Ledger> ledger = std::move(*ledger_or);
  out.reopen_seconds =
      std::chrono::duration<double>(SteadyClock::now() - t_open).count();

  const int verify_runs = c.quick ? 1 : 3;
  for (int i = 0; i < verify_runs; ++i) {
    const auto t0 = SteadyClock::now();
    absl::Status st = VerifyAll(*ledger, out.events);
    out.verify_seconds.push_back(
        std::chrono::duration<double>(SteadyClock::now() - t0).count());
    if (!st.ok())
      return st;
  }
  for (bool decrypt : {false, true}) {
    const auto t0 = SteadyClock::now();
    auto n = ReadRange(*ledger, 1, out.events, c.page_size, decrypt, payload);
    const double secs =
        std::chrono::duration<double>(SteadyClock::now() - t0).count();
    if (!n.ok())
      return n.status();
    if (*n != out.events) {
      return absl::InternalError(
          absl::StrCat("read ", *n, " events, expected ", out.events));
    }
    (decrypt ? out.read_decrypt_seconds : out.read_seconds) = secs;
  }
  out.peak_rss_kb = PeakRssKb();
  if (auto st = TimePieces(*ledger, c.quick ? 5000 : 20000, &out); !st.ok())
    return st;

  // The same work split into position ranges on several threads: each range
  // is anchored on the stored hash of the event before it, so the chain check
  // parallelises without a format change (what a parallel Verify would do).
  out.parallel_threads = c.parallel_threads;
  auto verify = TimeParallelRanges(
      c.parallel_threads, out.events,
      [&](uint64_t first, uint64_t last) -> absl::StatusOr<uint64_t> {
        // The last range runs to the head so that the head record is checked.
        storage::VerifyReport r =
            ledger->Verify(first, last == out.events ? 0 : last);
        if (!r.status.ok())
          return r.status;
        return r.events_checked;
      });
  if (!verify.ok())
    return verify.status();
  out.parallel_verify_seconds = *verify;
  auto read = TimeParallelRanges(
      c.parallel_threads, out.events, [&](uint64_t first, uint64_t last) {
        return ReadRange(*ledger, first, last, c.page_size, true, payload);
      });
  if (!read.ok())
    return read.status();
  out.parallel_read_decrypt_seconds = *read;
  ledger.reset();
  out.dir_bytes = DirBytes(dir);
  return out;
}

// ---------------------------------------------------------------------------
// Host description.

// The first three fields of /proc/loadavg: other work on the machine skews
// every figure, so the report shows it.
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  if (!(in >> a >> b >> c))
    return "unknown";
  return absl::StrCat(a, " ", b, " ", c);
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos)
        return line.substr(std::min(line.size(), colon + 2));
    }
  }
  return "unknown";
}

// The filesystem type of the mount holding `dir` (longest mount-point prefix).
std::string FilesystemOf(const std::string& dir) {
  std::error_code ec;
  const std::string path = fs::canonical(dir, ec).string();
  std::ifstream in("/proc/self/mounts");
  std::string device, mount, type, rest;
  std::string best_type = "unknown";
  size_t best_len = 0;
  while (in >> device >> mount >> type && std::getline(in, rest)) {
    const bool prefix = path.compare(0, mount.size(), mount) == 0 &&
                        (path.size() == mount.size() || mount == "/" ||
                         path[mount.size()] == '/');
    if (prefix && mount.size() >= best_len) {
      best_len = mount.size();
      best_type = type;
    }
  }
  return best_type;
}

// ---------------------------------------------------------------------------
// Output.

std::string Rate(double v) {
  if (v >= 1e6)
    return absl::StrFormat("%.2fM", v / 1e6);
  if (v >= 1e4)
    return absl::StrFormat("%.1fk", v / 1e3);
  return absl::StrFormat("%.0f", v);
}

std::string Micros(double us) {
  if (us >= 1e4)
    return absl::StrFormat("%.1fms", us / 1e3);
  if (us >= 1e3)
    return absl::StrFormat("%.2fms", us / 1e3);
  return absl::StrFormat("%.0fus", us);
}

std::string MiB(uint64_t bytes) {
  return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
}

void PrintLoadRow(absl::string_view what, const LoadResult& r,
                  double per_second) {
  absl::PrintF("  %-26s %4d %8d %9s %9s %9s %9s %9s %5.2f\n", what, r.threads,
               r.ops, Rate(per_second), Micros(r.latency.p50_us),
               Micros(r.latency.p99_us), Micros(r.latency.p999_us),
               Micros(r.latency.max_us), r.CpuCores());
}

Json LoadJson(const LoadResult& r) {
  return Json{{"threads", r.threads},
              {"ops", r.ops},
              {"failures", r.failures},
              {"seconds", r.seconds},
              {"ops_per_sec", r.PerSecond()},
              {"cpu_cores_busy", r.CpuCores()},
              {"latency", LatencyJson(r.latency)}};
}

struct Goal {
  std::string name;
  std::string target;
  double measured = 0;
  bool evaluated = false;
  bool met = false;
};

int Main(int argc, char** argv) {
  Config c;
  CLI::App app{
      "carelog-ledger-bench: ledger engine vs raw RocksDB synced writes; "
      "verify, read and decrypt rates"};
  app.add_option("--dir", c.dir,
                 "where to create the temp data directories (default /tmp)");
  app.add_option("--json", c.json_path, "also write the results as JSON here");
  app.add_option("--levels", c.levels, "concurrent writer threads per level")
      ->delimiter(',')
      ->check(CLI::Range(1, 1024));
  app.add_flag("--quick", c.quick, "small counts for a smoke run (< 20 s)");
  app.add_flag("--keep", c.keep, "keep the data directories");
  app.add_flag("--merkle,!--no-merkle", c.merkle,
               "maintain the Merkle tree in each commit (default on, as in "
               "production)");
  app.add_option("--appends", c.appends_per_level,
                 "appends (and raw writes) per level");
  app.add_option("--seconds", c.seconds_per_level,
                 "time cap per level (whichever comes first)");
  app.add_option("--rounds", c.rounds,
                 "rounds per level, engine and raw alternating; the counts "
                 "and the time cap are split over them")
      ->check(CLI::Range(1, 100));
  app.add_option("--raw-batches", c.raw_batches,
                 "batches per raw single-thread batch size");
  app.add_option("--verify-events", c.verify_events,
                 "events in the log for verify and read");
  app.add_option("--build-threads", c.build_threads,
                 "threads building the verify log")
      ->check(CLI::Range(1, 1024));
  app.add_option("--events-per-command", c.events_per_command,
                 "events per command building the verify log")
      ->check(CLI::Range(1, 1000));
  app.add_option("--payload-bytes", c.payload_bytes, "plaintext per event");
  app.add_option("--raw-value-bytes", c.raw_value_bytes,
                 "raw value size (default: the engine's stored record size)");
  app.add_option("--subjects", c.subjects, "distinct subjects (patients)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--page-size", c.page_size, "events per ReadAll page")
      ->check(CLI::Range(1, 100000));
  app.add_option("--phases", c.phases,
                 "which phases to run: append, raw, log (default: all)")
      ->delimiter(',')
      ->check(CLI::IsMember({"append", "raw", "log"}));
  c.parallel_threads =
      std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  app.add_option("--parallel", c.parallel_threads,
                 "threads for the split-range verify and read (default: "
                 "CPUs, at least 2)")
      ->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  ApplyModeDefaults(&c);
  std::sort(c.levels.begin(), c.levels.end());
  c.levels.erase(std::unique(c.levels.begin(), c.levels.end()), c.levels.end());

  if (auto s = crypto::EnsureSodium(); !s.ok()) {
    absl::FPrintF(stderr, "libsodium: %s\n", s.ToString());
    return 1;
  }
  std::string tmpl = (fs::path(c.dir) / "carelog-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    absl::FPrintF(stderr, "cannot create a temp directory in %s\n", c.dir);
    return 1;
  }
  const std::string root = tmpl;
  const absl::Time started = absl::Now();
  const auto wall0 = SteadyClock::now();
  const std::string fs_type = FilesystemOf(root);
  const unsigned nproc = std::thread::hardware_concurrency();
  const std::string cpu = CpuModel();

  Failures failures;
  BenchKek kek;
  std::string payload(c.payload_bytes, '\0');
  crypto::RandomBytes(reinterpret_cast<uint8_t*>(payload.data()),
                      payload.size());

  absl::PrintF(
      "carelog-ledger-bench%s — %s\n", c.quick ? " (quick)" : "",
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", started, absl::UTCTimeZone()));
  const std::string load_before = LoadAverage();
  absl::PrintF("  host: %u CPUs, %s; load %s; data in %s (%s)\n", nproc, cpu,
               load_before, root, fs_type);
  absl::PrintF(
      "  %d-byte payloads, %d subjects, all writes synced, Merkle %s; per "
      "level: up to "
      "%d ops or %.1f s in %d rounds\n\n",
      c.payload_bytes, c.subjects, c.merkle ? "on" : "off", c.appends_per_level,
      c.seconds_per_level, c.rounds);

  Json json;
  json["schema"] = "carelog-ledger-bench/1";
  json["date_utc"] =
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", started, absl::UTCTimeZone());
  json["host"] = {
      {"nproc", nproc}, {"cpu_model", cpu}, {"filesystem", fs_type}};
  json["config"] = {{"quick", c.quick},
                    {"dir", c.dir},
                    {"levels", c.levels},
                    {"appends_per_level", c.appends_per_level},
                    {"rounds", c.rounds},
                    {"merkle", c.merkle},
                    {"seconds_per_level", c.seconds_per_level},
                    {"raw_batches", c.raw_batches},
                    {"payload_bytes", c.payload_bytes},
                    {"subjects", c.subjects},
                    {"verify_events", c.verify_events},
                    {"build_threads", c.build_threads},
                    {"events_per_command", c.events_per_command},
                    {"page_size", c.page_size}};

  // (a), (b) Engine appends and raw RocksDB single-record synced writes,
  // interleaved per level and round so that both sides of each ratio see the
  // same disk and machine load.
  size_t record_bytes = 0;
  std::vector<std::pair<int, EngineLevel>> engine;
  std::vector<std::pair<int, RawResult>> raw;
  std::vector<std::pair<int, std::vector<double>>> round_ratios;
  uint64_t engine_dir_bytes = 0;
  const Budget round_budget{
      std::max<uint64_t>(1, c.appends_per_level / c.rounds),
      absl::Seconds(c.seconds_per_level / c.rounds)};
  std::string raw_value;
  for (int level : c.levels) {
    EngineLevel e_total;
    RawResult r_total;
    std::vector<double> ratios;
    bool e_ok = c.Runs("append"), r_ok = c.Runs("raw");
    for (int round = 0; round < c.rounds; ++round) {
      double e_rate = -1, r_rate = -1;
      if (e_ok) {
        auto e = RunEngineRound(
            c, absl::StrCat(root, "/engine-", level, "-", round), level,
            round_budget, kek, payload, &record_bytes, &failures);
        if (e.ok()) {
          e_total.Merge(*e);
          e_rate = e->load.PerSecond();
        } else {
          failures.Add(absl::StrCat("engine level ", level), e.status());
          e_ok = false;
        }
      }
      if (raw_value.empty()) {
        // The size of the engine's stored record (header, ciphertext, hash).
        raw_value.assign(c.raw_value_bytes > 0
                             ? c.raw_value_bytes
                             : (record_bytes > 0 ? record_bytes : 600),
                         'v');
      }
      if (r_ok) {
        auto r = RunRaw(absl::StrCat(root, "/raw-", level, "-", round), level,
                        1, round_budget, raw_value, &failures);
        if (r.ok()) {
          r_total.records_per_write = 1;
          r_total.load.Merge(r->load);
          r_rate = r->RecordsPerSecond();
        } else {
          failures.Add(absl::StrCat("raw level ", level), r.status());
          r_ok = false;
        }
      }
      if (e_rate >= 0 && r_rate > 0)
        ratios.push_back(e_rate / r_rate);
    }
    if (e_ok) {
      engine.emplace_back(level, e_total);
      engine_dir_bytes = e_total.dir_bytes;
    }
    if (r_ok)
      raw.emplace_back(level, r_total);
    round_ratios.emplace_back(level, ratios);
  }
  const size_t raw_value_bytes = raw_value.size();

  // (b) Raw single-thread synced batches, for reference.
  std::vector<RawResult> raw_batches;
  for (int batch :
       c.Runs("raw") ? std::vector<int>{16, 64} : std::vector<int>{}) {
    const std::string dir = absl::StrCat(root, "/raw-batch-", batch);
    auto r = RunRaw(dir, 1, batch,
                    Budget{c.raw_batches, absl::Seconds(c.seconds_per_level)},
                    raw_value, &failures);
    if (!r.ok()) {
      failures.Add(absl::StrCat("raw batch ", batch), r.status());
      continue;
    }
    raw_batches.push_back(*r);
  }

  const int64_t rss_after_writes_kb = PeakRssKb();

  // (d), (e) Verify and reads over a large log.
  absl::StatusOr<LogResult> log = absl::FailedPreconditionError("not run");
  if (c.Runs("log")) {
    log = RunLog(c, absl::StrCat(root, "/log"), kek, payload, &failures);
    if (!log.ok())
      failures.Add("verify/read log", log.status());
  }

  // (f) Resources. The log phase's figure is taken before the benchmark
  // loads its own sample of events for the per-piece timings.
  const int64_t peak_rss_kb =
      log.ok() ? std::max(rss_after_writes_kb, log->peak_rss_kb) : PeakRssKb();
  const double total_seconds =
      std::chrono::duration<double>(SteadyClock::now() - wall0).count();

  // ---- Report.
  absl::PrintF("Durable appends (%d B payload; raw value %d B)\n",
               c.payload_bytes, raw_value_bytes);
  absl::PrintF("  %-26s %4s %8s %9s %9s %9s %9s %9s %5s\n", "", "thr", "ops",
               "ops/s", "p50", "p99", "p99.9", "max", "cpu");
  for (auto& [level, e] : engine)
    PrintLoadRow("engine Append", e.load, e.load.PerSecond());
  for (auto& [level, r] : raw)
    PrintLoadRow("raw Write(sync) 1 rec", r.load, r.RecordsPerSecond());
  for (auto& r : raw_batches) {
    PrintLoadRow(
        absl::StrCat("raw WriteBatch x", r.records_per_write, " (rec/s)"),
        r.load, r.RecordsPerSecond());
  }
  absl::PrintF(
      "  (latency per call; for batches per batch; cpu = cores busy)\n");

  absl::PrintF("\nEngine group commit\n");
  absl::PrintF("  %4s %9s %11s %9s %13s %12s\n", "thr", "batches", "cmds/batch",
               "max", "write+fsync", "writer in IO");
  for (auto& [level, e] : engine) {
    absl::PrintF("  %4d %9d %11.1f %9d %13s %11.0f%%\n", level, e.batches,
                 e.CommandsPerBatch(), e.max_commands_per_batch,
                 Micros(e.WriteMsPerBatch() * 1e3), e.WriterWriteShare() * 100);
  }

  Json ratios = Json::array();
  absl::PrintF("\nEngine / raw RocksDB (same threads, synced)\n");
  absl::PrintF("  %4s %12s %12s %7s   %s\n", "thr", "engine/s", "raw/s",
               "ratio", "per round");
  double ratio64 = -1;
  for (auto& [level, e] : engine) {
    for (auto& [rl, r] : raw) {
      if (rl != level)
        continue;
      const double ratio = r.RecordsPerSecond() > 0
                               ? e.load.PerSecond() / r.RecordsPerSecond()
                               : 0;
      if (level == 64)
        ratio64 = ratio;
      std::vector<double> per_round;
      for (auto& [rr, v] : round_ratios)
        if (rr == level)
          per_round = v;
      std::string rounds;
      for (double v : per_round)
        absl::StrAppend(&rounds, rounds.empty() ? "" : " ",
                        absl::StrFormat("%.0f%%", v * 100));
      absl::PrintF("  %4d %12s %12s %6.0f%%   %s\n", level,
                   Rate(e.load.PerSecond()), Rate(r.RecordsPerSecond()),
                   ratio * 100, rounds);
      ratios.push_back({{"threads", level},
                        {"engine_per_sec", e.load.PerSecond()},
                        {"raw_per_sec", r.RecordsPerSecond()},
                        {"ratio", ratio},
                        {"ratio_per_round", per_round}});
    }
  }
  double engine64 = -1;
  for (auto& [level, e] : engine)
    if (level == 64)
      engine64 = e.load.PerSecond();
  double raw_batch64 = -1;
  for (auto& r : raw_batches)
    if (r.records_per_write == 64)
      raw_batch64 = r.RecordsPerSecond();
  if (engine64 >= 0 && raw_batch64 > 0) {
    absl::PrintF("  engine x64 / raw 1-thread batch-64 records: %.0f%%\n",
                 engine64 / raw_batch64 * 100);
  }

  if (log.ok()) {
    const LogResult& l = *log;
    absl::PrintF("\nLog of %d events (%d-event commands, %d threads)\n",
                 l.events, c.events_per_command, c.build_threads);
    absl::PrintF(
        "  build            %9s events/s  (%d commands, %d batches, "
        "%.1f s, cpu %.2f)\n",
        Rate(l.BuildEventsPerSecond(c.events_per_command)), l.build.ops,
        l.build_batches, l.build.seconds, l.build.CpuCores());
    absl::PrintF("  reopen           %9s\n", Micros(l.reopen_seconds * 1e6));
    std::string runs;
    for (double s : l.verify_seconds)
      absl::StrAppend(&runs, runs.empty() ? "" : ", ", Rate(l.events / s));
    absl::PrintF("  Verify()         %9s events/s  (best of: %s)\n",
                 Rate(l.BestVerifyPerSecond()), runs);
    absl::PrintF("  ReadAll          %9s events/s  (pages of %d)\n",
                 Rate(l.ReadPerSecond()), c.page_size);
    absl::PrintF("  ReadAll+Decrypt  %9s events/s\n",
                 Rate(l.ReadDecryptPerSecond()));
    absl::PrintF(
        "  split in %d ranges on %d threads: Verify %s events/s, "
        "ReadAll+Decrypt %s events/s\n",
        l.parallel_threads, l.parallel_threads,
        Rate(l.ParallelVerifyPerSecond()), Rate(l.ParallelReadPerSecond()));
    if (l.sample_events > 0) {
      auto per = [](double eps) { return eps > 0 ? 1e6 / eps : 0.0; };
      absl::PrintF(
          "  per event (us): Verify %.2f | ReadAll %.2f | ReadAll+Decrypt "
          "%.2f\n",
          per(l.BestVerifyPerSecond()), per(l.ReadPerSecond()),
          per(l.ReadDecryptPerSecond()));
      absl::PrintF(
          "    pieces alone over %d events: ChainHash %.2f | KeyForOpen %.2f | "
          "Decrypt %.2f\n",
          l.sample_events, l.chain_hash_us, l.key_lookup_us, l.decrypt_us);
    }
    absl::PrintF(
        "  data dir         %9s  (%.0f B/event)\n", MiB(l.dir_bytes),
        l.events > 0 ? static_cast<double>(l.dir_bytes) / l.events : 0.0);
  }
  const std::string load_after = LoadAverage();
  absl::PrintF(
      "\nPeak RSS %s (%s after the append and raw phases); engine dir after "
      "the last level %s\nTotal %.1f s; load %s\n",
      MiB(static_cast<uint64_t>(peak_rss_kb) * 1024),
      MiB(static_cast<uint64_t>(rss_after_writes_kb) * 1024),
      MiB(engine_dir_bytes), total_seconds, load_after);

  std::vector<Goal> goals;
  {
    Goal g{"engine/raw synced writes at 64 writers", ">= 70%"};
    if (ratio64 >= 0) {
      g.evaluated = true;
      g.measured = ratio64;
      g.met = ratio64 >= 0.70;
    }
    goals.push_back(g);
    Goal v{"Verify() events/s", ">= 1M"};
    Goal d{"ReadAll+Decrypt events/s", ">= 250k"};
    if (log.ok()) {
      v.evaluated = d.evaluated = true;
      v.measured = log->BestVerifyPerSecond();
      v.met = v.measured >= 1e6;
      d.measured = log->ReadDecryptPerSecond();
      d.met = d.measured >= 250e3;
    }
    goals.push_back(v);
    goals.push_back(d);
  }
  absl::PrintF("\nGoals%s\n", c.quick ? " (quick run: indicative only)" : "");
  for (const Goal& g : goals) {
    std::string measured = !g.evaluated ? "n/a"
                           : g.target.back() == '%'
                               ? absl::StrFormat("%.0f%%", g.measured * 100)
                               : Rate(g.measured);
    absl::PrintF("  %-40s %-7s %9s  %s\n", g.name, g.target, measured,
                 !g.evaluated ? "not measured" : (g.met ? "met" : "MISSED"));
  }

  const uint64_t failure_count = failures.count();
  if (failure_count > 0) {
    absl::PrintF("\nFAILURES: %d\n", failure_count);
    for (const auto& m : failures.messages())
      absl::PrintF("  %s\n", m);
  }

  if (!c.json_path.empty()) {
    Json& j = json;
    j["record_bytes"] = record_bytes;
    j["raw_value_bytes"] = raw_value_bytes;
    j["engine_appends"] = Json::array();
    for (auto& [level, e] : engine) {
      Json row = LoadJson(e.load);
      row["batches"] = e.batches;
      row["commands_per_batch"] = e.CommandsPerBatch();
      row["max_commands_per_batch"] = e.max_commands_per_batch;
      row["write_ms_per_batch"] = e.WriteMsPerBatch();
      row["writer_write_share"] = e.WriterWriteShare();
      row["dir_bytes"] = e.dir_bytes;
      j["engine_appends"].push_back(row);
    }
    j["raw_writes"] = Json::array();
    for (auto& [level, r] : raw) {
      Json row = LoadJson(r.load);
      row["records_per_sec"] = r.RecordsPerSecond();
      j["raw_writes"].push_back(row);
    }
    j["raw_batches"] = Json::array();
    for (auto& r : raw_batches) {
      Json row = LoadJson(r.load);
      row["records_per_write"] = r.records_per_write;
      row["records_per_sec"] = r.RecordsPerSecond();
      j["raw_batches"].push_back(row);
    }
    j["ratios"] = ratios;
    if (engine64 >= 0 && raw_batch64 > 0)
      j["engine64_over_raw_batch64"] = engine64 / raw_batch64;
    if (log.ok()) {
      const LogResult& l = *log;
      j["log"] = {
          {"events", l.events},
          {"build_events_per_sec",
           l.BuildEventsPerSecond(c.events_per_command)},
          {"build_commands", l.build.ops},
          {"build_batches", l.build_batches},
          {"build_seconds", l.build.seconds},
          {"reopen_seconds", l.reopen_seconds},
          {"verify_seconds", l.verify_seconds},
          {"verify_events_per_sec", l.BestVerifyPerSecond()},
          {"read_events_per_sec", l.ReadPerSecond()},
          {"read_decrypt_events_per_sec", l.ReadDecryptPerSecond()},
          {"dir_bytes", l.dir_bytes},
          {"parallel_threads", l.parallel_threads},
          {"parallel_verify_events_per_sec", l.ParallelVerifyPerSecond()},
          {"parallel_read_decrypt_events_per_sec", l.ParallelReadPerSecond()},
          {"pieces_us_per_event",
           {{"sample_events", l.sample_events},
            {"chain_hash", l.chain_hash_us},
            {"key_for_open", l.key_lookup_us},
            {"decrypt", l.decrypt_us}}}};
    }
    j["host"]["loadavg_before"] = load_before;
    j["host"]["loadavg_after"] = load_after;
    j["peak_rss_kb"] = peak_rss_kb;
    j["peak_rss_kb_after_writes"] = rss_after_writes_kb;
    j["engine_dir_bytes_last_level"] = engine_dir_bytes;
    j["total_seconds"] = total_seconds;
    j["goals"] = Json::array();
    for (const Goal& g : goals) {
      Json row{{"name", g.name}, {"target", g.target}};
      row["measured"] = g.evaluated ? Json(g.measured) : Json(nullptr);
      row["met"] = g.evaluated ? Json(g.met) : Json(nullptr);
      j["goals"].push_back(row);
    }
    j["failures"] = failure_count;
    j["failure_messages"] = failures.messages();
    std::ofstream out(c.json_path);
    out << j.dump(2) << "\n";
    out.close();
    if (!out) {
      absl::FPrintF(stderr, "cannot write %s\n", c.json_path);
      return 1;
    }
  }

  if (!c.keep) {
    std::error_code ec;
    fs::remove_all(root, ec);
  } else {
    absl::PrintF("data kept in %s\n", root);
  }
  return failure_count == 0 ? 0 : 1;
}

}  // namespace
}  // namespace carelog::bench

int main(int argc, char** argv) {
  return carelog::bench::Main(argc, argv);
}
