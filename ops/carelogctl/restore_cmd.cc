// carelogctl restore --as-of POSITION|TIME --from DATA_DIR --to NEW_DATA_DIR.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "crypto/hash.h"
#include "ops/carelogctl/ops_commands.h"
#include "storage/maintenance.h"

namespace carelog::ctl {
namespace {

struct RestoreFlags {
  CommonFlags common;
  std::string as_of;
  std::string from;
  std::string to;
};

int Run(const RestoreFlags& f) {
  constexpr char kWhat[] = "restore";
  if (auto s = CheckLedgerExists(f.from, "--from"); !s.ok())
    return Fail(kExitUsage, kWhat, s);
  if (f.to.empty())
    return Fail(kExitUsage, kWhat,
                absl::InvalidArgumentError("--to: required"));
  std::error_code ec;
  if (std::filesystem::equivalent(f.from, f.to, ec)) {
    return Fail(kExitUsage, kWhat,
                absl::InvalidArgumentError(
                    "--to: must be a new data directory, not --from"));
  }
  const std::string target = LedgerDirOf(f.to);
  if (std::filesystem::exists(target, ec) &&
      !std::filesystem::is_empty(target, ec)) {
    return Fail(kExitUsage, kWhat,
                absl::InvalidArgumentError(absl::StrCat(
                    "--to: ", target,
                    " already holds data; a restore never overwrites a "
                    "ledger (choose a new data directory)")));
  }
  // POSITION (digits) or TIME (RFC 3339, e.g. 2026-11-25T09:30:00Z).
  uint64_t position = 0;
  std::string as_of_desc;
  const std::string arg(absl::StripAsciiWhitespace(f.as_of));
  if (!arg.empty() &&
      arg.find_first_not_of("0123456789") == std::string::npos) {
    if (!absl::SimpleAtoi(arg, &position) || position == 0) {
      return Fail(kExitUsage, kWhat,
                  absl::InvalidArgumentError(
                      "--as-of: a position must be a number >= 1"));
    }
    as_of_desc = absl::StrCat("position ", position);
  } else {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, arg, &t, &err)) {
      return Fail(kExitUsage, kWhat,
                  absl::InvalidArgumentError(absl::StrCat(
                      "--as-of: neither a position nor an RFC 3339 time "
                      "(e.g. 2026-11-25T09:30:00Z): ",
                      err)));
    }
    auto p = storage::PositionAsOfTime(LedgerDirOf(f.from), t);
    if (!p.ok())
      return Fail(ExitCodeFor(p.status()), kWhat, p.status());
    if (*p == 0) {
      return Fail(kExitUsage, kWhat,
                  absl::InvalidArgumentError(absl::StrCat(
                      "--as-of: no event was recorded at or before ", arg)));
    }
    position = *p;
    as_of_desc = absl::StrCat(arg, " (position ", position, ")");
  }

  bool created = false;
  if (!std::filesystem::exists(f.to, ec)) {
    if (::mkdir(f.to.c_str(), 0700) != 0) {
      return Fail(
          kExitUsage, kWhat,
          absl::InvalidArgumentError(absl::StrCat("--to: cannot create ", f.to,
                                                  ": ", std::strerror(errno))));
    }
    created = true;
  }
  ProgressPrinter progress(!f.common.quiet);
  const absl::Time t0 = absl::Now();
  auto r = storage::RestoreAsOf(LedgerDirOf(f.from), target, position,
                                progress.Fn());
  if (!r.ok()) {
    // Arguments refused before anything was written leave no trace.
    if (!std::filesystem::exists(target, ec) && created)
      ::rmdir(f.to.c_str());
    // A cut through a command is a bad --as-of (nothing was written).
    const bool bad_cut = absl::IsFailedPrecondition(r.status()) &&
                         r.status().message().find("falls inside command") !=
                             absl::string_view::npos;
    return Fail(bad_cut ? kExitUsage : ExitCodeFor(r.status()), kWhat,
                r.status());
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  if (f.common.Json()) {
    std::printf(
        "{\"ok\":true,\"position\":%llu,\"chain_hash\":%s,\"events\":%llu,"
        "\"streams\":%llu,\"commands\":%llu,\"checkpoints\":%llu,\"keys\":%llu,"
        "\"from\":%s,\"to\":%s,\"seconds\":%.3f}\n",
        static_cast<unsigned long long>(r->head.position),
        JsonStr(crypto::ToHex(r->head.chain_hash)).c_str(),
        static_cast<unsigned long long>(r->events),
        static_cast<unsigned long long>(r->streams),
        static_cast<unsigned long long>(r->commands),
        static_cast<unsigned long long>(r->checkpoints),
        static_cast<unsigned long long>(r->keys), JsonStr(f.from).c_str(),
        JsonStr(f.to).c_str(), secs);
  } else {
    std::printf(
        "OK: restored %s as of %s into %s in %.2fs\n"
        "  %llu events, %llu streams, %llu commands, %llu checkpoints, %llu "
        "keys\n  head position %llu  chain hash %s (verified)\n"
        "next: start carelogd --data-dir %s with the same KEK; projections "
        "rebuild from the log\n",
        f.from.c_str(), as_of_desc.c_str(), f.to.c_str(), secs,
        static_cast<unsigned long long>(r->events),
        static_cast<unsigned long long>(r->streams),
        static_cast<unsigned long long>(r->commands),
        static_cast<unsigned long long>(r->checkpoints),
        static_cast<unsigned long long>(r->keys),
        static_cast<unsigned long long>(r->head.position),
        crypto::ToHex(r->head.chain_hash).c_str(), f.to.c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterRestoreCommands(CLI::App& app, CommandTable* table,
                             const bool* global_json) {
  auto flags = std::make_shared<RestoreFlags>();
  flags->common.global_json = global_json;
  auto* restore = app.add_subcommand(
      "restore",
      "build a NEW data directory holding the log as of a position or time "
      "(stored records copied verbatim: same positions and chain hashes), "
      "from a STOPPED data directory (or a restored backup). No KEK needed");
  restore
      ->add_option("--as-of", flags->as_of,
                   "POSITION (last event kept; must end a command) or TIME "
                   "(RFC 3339: the last event recorded at or before it)")
      ->required();
  restore->add_option("--from", flags->from, "source carelogd data directory")
      ->required();
  restore
      ->add_option("--to", flags->to,
                   "new carelogd data directory (DATA_DIR/ledger must not "
                   "exist or be empty)")
      ->required();
  AddCommonFlags(restore, &flags->common);
  table->Add(restore, [flags] { return Run(*flags); });
}

}  // namespace carelog::ctl
