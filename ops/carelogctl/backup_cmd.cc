// carelogctl backup create | list | verify | restore.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "crypto/hash.h"
#include "ops/carelogctl/admin_client.h"
#include "ops/carelogctl/client.h"
#include "ops/carelogctl/ops_commands.h"
#include "storage/backup.h"

namespace carelog::ctl {
namespace {

struct BackupFlags {
  CommonFlags common;
  std::string data_dir;
  std::string backup_dir;
  std::string to;
  uint32_t id = 0;
  uint32_t keep = 0;
  ClientFlags client;  // online: through a running carelogd
};

std::string InfoJson(const storage::BackupInfo& b) {
  return absl::StrCat(
      "{\"id\":", b.id, ",\"created\":",
      JsonStr(FormatTimeMicros(b.created_unix_seconds * 1000000)),
      ",\"size_bytes\":", b.size_bytes, ",\"files\":", b.files,
      ",\"head\":", b.head.position,
      ",\"chain_hash\":", JsonStr(crypto::ToHex(b.head.chain_hash)),
      ",\"source\":", JsonStr(b.source), "}");
}

void PrintInfo(const storage::BackupInfo& b) {
  std::printf("backup %u  created %s  %llu bytes in %u files\n", b.id,
              FormatTimeMicros(b.created_unix_seconds * 1000000).c_str(),
              static_cast<unsigned long long>(b.size_bytes), b.files);
  std::printf("  head position %llu  chain hash %s\n",
              static_cast<unsigned long long>(b.head.position),
              crypto::ToHex(b.head.chain_hash).c_str());
}

int RunCreate(const BackupFlags& f) {
  auto online = ChooseOnline(f.data_dir, f.client);
  if (!online.ok())
    return Fail(kExitUsage, "backup create", online.status());
  if (!*online) {
    if (auto s = CheckLedgerExists(f.data_dir, "--data-dir"); !s.ok())
      return Fail(kExitUsage, "backup create", s);
  }
  if (f.backup_dir.empty()) {
    return Fail(kExitUsage, "backup create",
                absl::InvalidArgumentError("--backup-dir: required"));
  }
  ProgressPrinter progress(!f.common.quiet);
  storage::BackupOptions o;
  o.progress = progress.Fn();
  o.keep = f.keep;
  const absl::Time t0 = absl::Now();
  absl::StatusOr<storage::BackupInfo> info;
  if (*online) {
    // carelogd writes the backup on its host, while it serves.
    std::error_code ec;
    const std::string dir = std::filesystem::absolute(f.backup_dir, ec);
    if (!f.common.quiet)
      std::fprintf(stderr, "backing up through %s (online)…\n",
                   f.client.server.c_str());
    info = OnlineCreateBackup(f.client, ec ? f.backup_dir : dir, f.keep,
                              o.progress);
  } else {
    info = storage::CreateBackupOfDataDir(LedgerDirOf(f.data_dir), f.backup_dir,
                                          o);
  }
  if (!info.ok()) {
    absl::Status s = info.status();
    if (absl::IsFailedPrecondition(s) &&
        s.message().find("lock") != absl::string_view::npos) {
      s = absl::FailedPreconditionError(absl::StrCat(
          s.message(),
          " — the data directory is in use by a running carelogd: back it up "
          "online with --server/--token instead of --data-dir"));
    }
    return Fail(ExitCodeFor(s), "backup create", s);
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  if (f.common.Json()) {
    std::printf("%s\n", InfoJson(*info).c_str());
  } else {
    PrintInfo(*info);
    std::printf("OK: backup %u of %s written to %s in %.2fs\n", info->id,
                *online ? f.client.server.c_str() : f.data_dir.c_str(),
                f.backup_dir.c_str(), secs);
  }
  return kExitOk;
}

int RunList(const BackupFlags& f) {
  if (f.backup_dir.empty()) {
    return Fail(kExitUsage, "backup list",
                absl::InvalidArgumentError("--backup-dir: required"));
  }
  auto list = WantsServer(f.client) ? OnlineListBackups(f.client, f.backup_dir)
                                    : storage::ListBackups(f.backup_dir);
  if (!list.ok())
    return Fail(ExitCodeFor(list.status()), "backup list", list.status());
  if (f.common.Json()) {
    std::string out = "[";
    for (size_t i = 0; i < list->size(); ++i)
      absl::StrAppend(&out, i ? "," : "", InfoJson((*list)[i]));
    std::printf("%s]\n", out.c_str());
    return kExitOk;
  }
  if (f.common.csv) {
    std::printf("id,created,size_bytes,files,head,chain_hash\n");
    for (const auto& b : *list) {
      std::printf("%u,%s,%llu,%u,%llu,%s\n", b.id,
                  FormatTimeMicros(b.created_unix_seconds * 1000000).c_str(),
                  static_cast<unsigned long long>(b.size_bytes), b.files,
                  static_cast<unsigned long long>(b.head.position),
                  crypto::ToHex(b.head.chain_hash).c_str());
    }
    return kExitOk;
  }
  if (list->empty()) {
    std::printf("no backups in %s\n", f.backup_dir.c_str());
    return kExitOk;
  }
  std::printf("%-6s %-20s %14s %6s %12s  %s\n", "ID", "CREATED", "BYTES",
              "FILES", "HEAD", "CHAIN HASH");
  for (const auto& b : *list) {
    std::printf("%-6u %-20s %14llu %6u %12llu  %s\n", b.id,
                FormatTimeMicros(b.created_unix_seconds * 1000000).c_str(),
                static_cast<unsigned long long>(b.size_bytes), b.files,
                static_cast<unsigned long long>(b.head.position),
                crypto::ToHex(b.head.chain_hash).c_str());
  }
  return kExitOk;
}

int RunVerify(const BackupFlags& f) {
  if (f.backup_dir.empty()) {
    return Fail(kExitUsage, "backup verify",
                absl::InvalidArgumentError("--backup-dir: required"));
  }
  ProgressPrinter progress(!f.common.quiet);
  const absl::Time t0 = absl::Now();
  storage::BackupVerifyReport r;
  if (WantsServer(f.client)) {
    auto online =
        OnlineVerifyBackup(f.client, f.backup_dir, f.id, progress.Fn());
    if (!online.ok())
      return Fail(ExitCodeFor(online.status()), "backup verify",
                  online.status());
    r = std::move(*online);
  } else {
    r = storage::VerifyBackup(f.backup_dir, f.id, progress.Fn());
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  if (f.common.Json()) {
    std::printf(
        "{\"ok\":%s,\"id\":%u,\"events_checked\":%llu,\"head\":%llu,"
        "\"chain_hash\":%s,\"first_bad_position\":%llu,\"error\":%s,"
        "\"seconds\":%.3f}\n",
        r.status.ok() ? "true" : "false", r.info.id,
        static_cast<unsigned long long>(r.chain.events_checked),
        static_cast<unsigned long long>(r.info.head.position),
        JsonStr(crypto::ToHex(r.info.head.chain_hash)).c_str(),
        static_cast<unsigned long long>(r.chain.first_bad_position),
        JsonStr(r.status.message()).c_str(), secs);
  } else if (r.status.ok()) {
    std::printf(
        "OK: backup %u — file checksums match; %llu events verified through "
        "position %llu in %.2fs\nchain hash %s\n",
        r.info.id, static_cast<unsigned long long>(r.chain.events_checked),
        static_cast<unsigned long long>(r.info.head.position), secs,
        crypto::ToHex(r.info.head.chain_hash).c_str());
  } else {
    std::printf("FAILED: %s\n", std::string(r.status.message()).c_str());
  }
  return ExitCodeFor(r.status);
}

int RunRestore(const BackupFlags& f) {
  if (f.backup_dir.empty()) {
    return Fail(kExitUsage, "backup restore",
                absl::InvalidArgumentError("--backup-dir: required"));
  }
  if (f.to.empty()) {
    return Fail(kExitUsage, "backup restore",
                absl::InvalidArgumentError("--to: required"));
  }
  const std::string target = LedgerDirOf(f.to);
  std::error_code ec;
  if (std::filesystem::exists(target, ec) &&
      !std::filesystem::is_empty(target, ec)) {
    return Fail(kExitUsage, "backup restore",
                absl::InvalidArgumentError(absl::StrCat(
                    "--to: ", target,
                    " already holds data; a restore never overwrites a "
                    "ledger (choose a new data directory)")));
  }
  // carelogd's data directory is created here (0700) if missing, and removed
  // again if the restore fails before writing anything into it.
  bool created = false;
  if (!std::filesystem::exists(f.to, ec)) {
    if (::mkdir(f.to.c_str(), 0700) != 0) {
      return Fail(
          kExitUsage, "backup restore",
          absl::InvalidArgumentError(absl::StrCat("--to: cannot create ", f.to,
                                                  ": ", std::strerror(errno))));
    }
    created = true;
  }
  ProgressPrinter progress(!f.common.quiet);
  const absl::Time t0 = absl::Now();
  auto info = storage::RestoreBackup(f.backup_dir, f.id, target, progress.Fn());
  if (!info.ok()) {
    if (created && !std::filesystem::exists(target, ec))
      ::rmdir(f.to.c_str());
    return Fail(ExitCodeFor(info.status()), "backup restore", info.status());
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  if (f.common.Json()) {
    std::printf("{\"restored\":%s,\"to\":%s,\"seconds\":%.3f}\n",
                InfoJson(*info).c_str(), JsonStr(f.to).c_str(), secs);
  } else {
    PrintInfo(*info);
    std::printf(
        "OK: backup %u restored into %s and verified in %.2fs\n"
        "next: start carelogd --data-dir %s with the KEK that was current "
        "when the backup was taken\n",
        info->id, target.c_str(), secs, f.to.c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterBackupCommands(CLI::App& app, CommandTable* table,
                            const bool* global_json) {
  auto* backup = app.add_subcommand(
      "backup",
      "backups with RocksDB's BackupEngine (ciphertext and wrapped keys only; "
      "the KEK is never in a backup)");
  backup->require_subcommand(1);
  auto flags = std::make_shared<BackupFlags>();
  flags->common.global_json = global_json;

  auto* create = backup->add_subcommand(
      "create",
      "back up a running carelogd online while it serves (--server/--token; "
      "role ledger-admin, purpose HSYSADMIN, --reason; the backup is written "
      "on the server's host) or a STOPPED data directory (--data-dir)");
  create->add_option(
      "--data-dir", flags->data_dir,
      "offline: carelogd's data directory (DATA_DIR/ledger is backed up)");
  create
      ->add_option("--backup-dir", flags->backup_dir,
                   "backup directory (created 0700; incremental)")
      ->required();
  create->add_option("--keep", flags->keep,
                     "then keep only the newest N backups (0: all)");
  AddCommonFlags(create, &flags->common);
  flags->client.timeout_seconds = 3600;
  AddClientFlags(create, &flags->client, "HSYSADMIN");
  table->Add(create, [flags] { return RunCreate(*flags); });

  auto* list = backup->add_subcommand("list", "list backups with their heads");
  list->add_option("--backup-dir", flags->backup_dir, "backup directory")
      ->required();
  AddCommonFlags(list, &flags->common);
  AddCsvFlag(list, &flags->common);
  AddClientFlags(list, &flags->client, "HSYSADMIN");
  table->Add(list, [flags] { return RunList(*flags); });

  auto* verify = backup->add_subcommand(
      "verify",
      "check a backup's file checksums, then its whole hash chain in place "
      "(exit 3 if damaged)");
  verify->add_option("--backup-dir", flags->backup_dir, "backup directory")
      ->required();
  verify->add_option("--id", flags->id, "backup id (default: the latest)");
  AddCommonFlags(verify, &flags->common);
  AddClientFlags(verify, &flags->client, "HSYSADMIN");
  table->Add(verify, [flags] { return RunVerify(*flags); });

  auto* restore = backup->add_subcommand(
      "restore",
      "restore a backup into a NEW data directory (DATA_DIR/ledger must not "
      "exist or be empty), then verify it");
  restore->add_option("--backup-dir", flags->backup_dir, "backup directory")
      ->required();
  restore->add_option("--id", flags->id, "backup id (default: the latest)");
  restore->add_option("--to", flags->to, "the new carelogd data directory")
      ->required();
  AddCommonFlags(restore, &flags->common);
  table->Add(restore, [flags] { return RunRestore(*flags); });
}

}  // namespace carelog::ctl
