// carelog-recovery-bench — time to recover a ledger: builds an N-event ledger
// (default 1,000,000), then measures, each on its own:
//   backup    offline BackupEngine backup of the stopped data directory
//   restore   RestoreBackup into a new directory, which includes a full
//             verification of the restored chain, stream index and head
//   verify    a second full offline verification of the restored directory
//   open      Ledger::Open of the restored directory (tail check, KEK, ring)
//   as-of     RestoreAsOf(N/2): verbatim replay + index/Merkle rebuild +
//             verification of the new directory
// A benchmark program, not a test: it exits non-zero if any step fails or the
// restored head differs from the source head.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "CLI/CLI.hpp"
#include "crypto/hash.h"
#include "crypto/secret_key.h"
#include "storage/backup.h"
#include "storage/ledger.h"
#include "storage/maintenance.h"

namespace {

using carelog::storage::Ledger;

std::unique_ptr<carelog::crypto::SecretKey> BenchKek() {
  uint8_t b[carelog::crypto::kKeyBytes];
  for (size_t i = 0; i < sizeof(b); ++i)
    b[i] = static_cast<uint8_t>(0xA5 ^ (i * 13));
  auto k = carelog::crypto::SecretKey::FromBytes(b, sizeof(b));
  if (!k.ok())
    std::abort();
  return std::move(*k);
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec))
      total += e.file_size(ec);
  }
  return total;
}

int Fail(absl::string_view step, const absl::Status& s) {
  std::fprintf(stderr, "recovery-bench: %s failed: %s\n",
               std::string(step).c_str(), std::string(s.message()).c_str());
  return 1;
}

struct Row {
  std::string step;
  double seconds = 0;
  uint64_t events = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "carelog-recovery-bench — time to back up, restore + verify, open and "
      "restore-as-of an N-event ledger"};
  uint64_t events = 1000000;
  size_t payload = 256;
  size_t per_command = 100;
  uint64_t subjects = 10000;
  std::string dir = "/tmp/carelog-recovery-bench";
  bool keep = false;
  bool quick = false;
  app.add_option("--events", events, "events in the ledger")
      ->default_str("1000000");
  app.add_option("--payload", payload, "plaintext bytes per event")
      ->default_str("256");
  app.add_option("--per-command", per_command, "events per command (1..1000)")
      ->default_str("100");
  app.add_option("--subjects", subjects, "distinct subjects (data keys)")
      ->default_str("10000");
  app.add_option("--dir", dir, "work directory (removed first)")
      ->default_str(dir);
  app.add_flag("--keep", keep, "keep the work directory");
  app.add_flag("--quick", quick, "20,000 events (smoke run)");
  CLI11_PARSE(app, argc, argv);
  if (quick)
    events = 20000;
  if (per_command == 0 || per_command > 1000 || subjects == 0 || events == 0) {
    std::fprintf(stderr, "recovery-bench: bad arguments\n");
    return 2;
  }

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  const std::string src = dir + "/src", backups = dir + "/backups",
                    restored = dir + "/restored", asof = dir + "/asof";

  // Fill: commands of `per_command` events on per-subject streams.
  carelog::storage::Head src_head;
  {
    carelog::storage::LedgerOptions o;
    o.data_dir = src;
    o.kek = BenchKek();
    o.sync = false;  // the fill is not what is measured
    auto l = Ledger::Open(std::move(o));
    if (!l.ok())
      return Fail("open source", l.status());
    const std::string body(payload, 'x');
    const absl::Time t0 = absl::Now();
    uint64_t written = 0, cmd = 0;
    while (written < events) {
      carelog::storage::AppendRequest r;
      r.command_id = absl::StrCat("bench-", cmd);
      const uint64_t subject = cmd % subjects;
      carelog::storage::StreamAppend sa;
      sa.stream_id = absl::StrCat("patient/", subject);
      const uint64_t n = std::min<uint64_t>(per_command, events - written);
      for (uint64_t i = 0; i < n; ++i) {
        carelog::storage::NewEvent ev;
        ev.event_type = "carelog.bench.Noted";
        ev.payload = body;
        ev.key_class = carelog::crypto::KeyClass::kSubject;
        ev.subject_id = absl::StrCat("subject-", subject);
        sa.events.push_back(std::move(ev));
      }
      r.streams.push_back(std::move(sa));
      auto res = (*l)->Append(r);
      if (!res.ok())
        return Fail("append", res.status());
      written += n;
      ++cmd;
    }
    src_head = (*l)->GetHead();
    std::fprintf(stderr, "filled %llu events in %.1fs\n",
                 static_cast<unsigned long long>(written),
                 absl::ToDoubleSeconds(absl::Now() - t0));
  }

  std::vector<Row> rows;
  auto timed = [&](const char* step, uint64_t n, auto&& fn) -> absl::Status {
    const absl::Time t0 = absl::Now();
    absl::Status s = fn();
    rows.push_back(Row{step, absl::ToDoubleSeconds(absl::Now() - t0), n});
    return s;
  };

  carelog::storage::BackupInfo info;
  if (auto s = timed("backup (offline, BackupEngine)", events,
                     [&]() -> absl::Status {
                       auto b = carelog::storage::CreateBackupOfDataDir(
                           src, backups);
                       if (!b.ok())
                         return b.status();
                       info = *b;
                       return absl::OkStatus();
                     });
      !s.ok()) {
    return Fail("backup", s);
  }
  if (auto s = timed("restore + full verify", events,
                     [&]() -> absl::Status {
                       auto r = carelog::storage::RestoreBackup(
                           backups, info.id, restored);
                       if (!r.ok())
                         return r.status();
                       if (r->head.position != src_head.position ||
                           !carelog::crypto::DigestEquals(
                               r->head.chain_hash, src_head.chain_hash)) {
                         return absl::DataLossError(
                             "restored head differs from the source");
                       }
                       return absl::OkStatus();
                     });
      !s.ok()) {
    return Fail("restore", s);
  }
  if (auto s = timed("verify restored (offline, full)", events,
                     [&]() -> absl::Status {
                       return carelog::storage::VerifyDataDir(restored).status;
                     });
      !s.ok()) {
    return Fail("verify", s);
  }
  if (auto s = timed("open restored (tail check)", 0,
                     [&]() -> absl::Status {
                       carelog::storage::LedgerOptions o;
                       o.data_dir = restored;
                       o.kek = BenchKek();
                       auto l = Ledger::Open(std::move(o));
                       if (!l.ok())
                         return l.status();
                       if ((*l)->GetHead().position != src_head.position)
                         return absl::DataLossError("opened head differs");
                       return absl::OkStatus();
                     });
      !s.ok()) {
    return Fail("open", s);
  }
  // A command boundary at or below N/2.
  const uint64_t half = (events / 2) / per_command * per_command;
  if (half > 0) {
    if (auto s = timed(
            "restore --as-of N/2 (replay + merkle + verify)", half,
            [&]() -> absl::Status {
              return carelog::storage::RestoreAsOf(src, asof, half).status();
            });
        !s.ok()) {
      return Fail("restore as of", s);
    }
  }

  std::printf(
      "ledger: %llu events, %zu-byte payloads, %zu events/command, "
      "%llu subjects; data dir %.1f MiB, backup %.1f MiB\n",
      static_cast<unsigned long long>(events), payload, per_command,
      static_cast<unsigned long long>(subjects), DirBytes(src) / 1048576.0,
      DirBytes(backups) / 1048576.0);
  std::printf("| step | seconds | events/s |\n| --- | ---: | ---: |\n");
  double total = 0;
  for (const auto& r : rows) {
    if (r.step.rfind("restore --as-of", 0) != 0)
      total += r.seconds;
    std::printf(
        "| %s | %.2f | %s |\n", r.step.c_str(), r.seconds,
        r.events ? absl::StrFormat("%.0f", r.events / r.seconds).c_str() : "—");
  }
  std::printf(
      "time to recover from backup (restore + verify + verify + "
      "open): %.2fs\n",
      total - rows[0].seconds);
  if (!keep)
    std::filesystem::remove_all(dir, ec);
  return 0;
}
