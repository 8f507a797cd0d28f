#include "storage/backup.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "rocksdb/utilities/backup_engine.h"

#include "storage/internal/db.h"
#include "storage/internal/ledger_access.h"
#include "storage/internal/ops_util.h"
#include "storage/internal/verifier.h"
#include "storage/record.h"
#include "storage/sliced_verify.h"

namespace carelog::storage {

using internal::Db;
using internal::FromRocks;

namespace {

constexpr char kMetadataPrefix[] = "carelog-backup-v1\n";
constexpr uint64_t kProgressBytes = 4 << 20;

absl::Status CheckBackupDir(const std::string& backup_dir, bool create) {
  if (backup_dir.empty())
    return absl::InvalidArgumentError("backup_dir: required");
  struct stat st;
  if (::stat(backup_dir.c_str(), &st) != 0) {
    if (!create) {
      return absl::NotFoundError(
          absl::StrCat("no backup directory ", backup_dir));
    }
    if (::mkdir(backup_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create backup directory ", backup_dir, ": ",
                       std::strerror(errno)));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(backup_dir, " is not a directory"));
  }
  return absl::OkStatus();
}

rocksdb::BackupEngineOptions EngineOptions(const std::string& backup_dir) {
  rocksdb::BackupEngineOptions o(backup_dir);
  o.sync = true;
  o.share_table_files = true;
  o.callback_trigger_interval_size = kProgressBytes;
  return o;
}

// For creating backups (creates the directory and its layout).
absl::StatusOr<std::unique_ptr<rocksdb::BackupEngine>> OpenEngine(
    const std::string& backup_dir) {
  if (auto s = CheckBackupDir(backup_dir, /*create=*/true); !s.ok())
    return s;
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(
      EngineOptions(backup_dir), rocksdb::Env::Default(), &raw);
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  if (!s.ok())
    return FromRocks(s, absl::StrCat("opening backup directory ", backup_dir));
  return engine;
}

// For list, verify and restore: never writes to the backup directory (a
// wrong path is reported, not turned into an empty backup directory).
absl::StatusOr<std::unique_ptr<rocksdb::BackupEngineReadOnly>>
OpenReadOnlyEngine(const std::string& backup_dir) {
  if (auto s = CheckBackupDir(backup_dir, /*create=*/false); !s.ok())
    return s;
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(
      EngineOptions(backup_dir), rocksdb::Env::Default(), &raw);
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  if (!s.ok())
    return FromRocks(s, absl::StrCat("opening backup directory ", backup_dir));
  return engine;
}

uint64_t LiveBytes(const Db& db) {
  uint64_t total = 0;
  for (auto* h : db.handles) {
    uint64_t v = 0;
    if (db.db->GetIntProperty(h, "rocksdb.total-sst-files-size", &v))
      total += v;
    if (db.db->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &v))
      total += v;
  }
  return total;
}

absl::StatusOr<Head> ReadHead(const Db& db) {
  return internal::ReadHeadRecord(db);
}

BackupInfo FromRocksInfo(const rocksdb::BackupInfo& r) {
  BackupInfo b;
  b.id = r.backup_id;
  b.created_unix_seconds = r.timestamp;
  b.size_bytes = r.size;
  b.files = r.number_files;
  absl::string_view meta = r.app_metadata;
  if (absl::ConsumePrefix(&meta, kMetadataPrefix)) {
    for (absl::string_view line : absl::StrSplit(meta, '\n')) {
      if (absl::ConsumePrefix(&line, "source="))
        b.source = std::string(line);
    }
  }
  return b;
}

// Opens backup `info` in place (read-only) through its env_for_open.
absl::StatusOr<std::unique_ptr<Db>> OpenBackupReadOnly(
    const rocksdb::BackupInfo& info) {
  if (info.env_for_open == nullptr || info.name_for_open.empty())
    return absl::InternalError("backup info lacks file details");
  internal::DbOpenOptions o;
  o.read_only = true;
  o.create = false;
  o.env = info.env_for_open.get();
  return internal::OpenDb(info.name_for_open, o);
}

absl::Status FillHeadFromBackup(const rocksdb::BackupEngineReadOnlyBase& engine,
                                BackupInfo* out) {
  rocksdb::BackupInfo r;
  rocksdb::Status s = engine.GetBackupInfo(out->id, &r, true);
  if (!s.ok())
    return FromRocks(s, absl::StrCat("reading backup ", out->id));
  auto db = OpenBackupReadOnly(r);
  if (!db.ok())
    return db.status();
  auto head = ReadHead(**db);
  if (!head.ok())
    return head.status();
  out->head = *head;
  return absl::OkStatus();
}

absl::StatusOr<BackupInfo> BackupDb(Db& db, const std::string& source,
                                    const std::string& backup_dir,
                                    const BackupOptions& options) {
  auto engine = OpenEngine(backup_dir);
  if (!engine.ok())
    return engine.status();
  rocksdb::CreateBackupOptions cbo;
  // Flush first: the backup then needs little or no WAL replay, and a restore
  // starts from table files that were checksummed as they were copied.
  cbo.flush_before_backup = true;
  const uint64_t total = LiveBytes(db);
  uint64_t copied = 0;
  if (options.progress) {
    cbo.progress_callback = [&]() {
      copied += kProgressBytes;
      options.progress(
          Progress{"copying", "bytes", std::min(copied, total), total});
    };
  }
  const std::string metadata = absl::StrCat(
      kMetadataPrefix, "source=", source, "\n", "created=",
      absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone()));
  rocksdb::BackupID id = 0;
  rocksdb::IOStatus s =
      (*engine)->CreateNewBackupWithMetadata(cbo, db.db.get(), metadata, &id);
  if (!s.ok())
    return FromRocks(s, "creating backup");
  if (options.progress)
    options.progress(Progress{"copying", "bytes", total, total});
  if (options.keep > 0) {
    if (auto ps = FromRocks((*engine)->PurgeOldBackups(options.keep),
                            "purging old backups");
        !ps.ok()) {
      return ps;
    }
  }
  rocksdb::BackupInfo r;
  if (auto gs = FromRocks((*engine)->GetBackupInfo(id, &r), "reading backup");
      !gs.ok()) {
    return gs;
  }
  BackupInfo info = FromRocksInfo(r);
  if (auto hs = FillHeadFromBackup(**engine, &info); !hs.ok())
    return hs;
  return info;
}

VerifyReport VerifySliced(const Db& db, const ProgressFn& progress,
                          uint64_t slice) {
  auto head = ReadHead(db);
  if (!head.ok()) {
    VerifyReport r;
    r.status = head.status();
    return r;
  }
  SlicedVerifyOptions options;
  options.slice_events = slice;
  options.progress = progress;
  return VerifyInSlices(
      head->position,
      [&db](uint64_t from, uint64_t to) {
        return internal::VerifyRange(db, from, to, nullptr);
      },
      options);
}

}  // namespace

absl::StatusOr<BackupInfo> CreateBackup(const Ledger& ledger,
                                        const std::string& backup_dir,
                                        const BackupOptions& options) {
  return BackupDb(internal::LedgerAccess::GetDb(ledger), ledger.data_dir(),
                  backup_dir, options);
}

absl::StatusOr<BackupInfo> CreateBackupOfDataDir(const std::string& data_dir,
                                                 const std::string& backup_dir,
                                                 const BackupOptions& options) {
  internal::DbOpenOptions o;
  o.create = false;
  auto db = internal::OpenDb(data_dir, o);
  if (!db.ok()) {
    if (absl::IsDataLoss(db.status()))
      return db.status();
    return absl::FailedPreconditionError(db.status().message());
  }
  if (auto fs = internal::CheckLedgerFormat(**db, data_dir); !fs.ok())
    return fs;
  return BackupDb(**db, data_dir, backup_dir, options);
}

absl::StatusOr<std::vector<BackupInfo>> ListBackups(
    const std::string& backup_dir) {
  auto engine = OpenReadOnlyEngine(backup_dir);
  if (!engine.ok())
    return engine.status();
  std::vector<rocksdb::BackupInfo> infos;
  (*engine)->GetBackupInfo(&infos, /*include_file_details=*/false);
  std::vector<BackupInfo> out;
  for (const auto& r : infos) {
    BackupInfo b = FromRocksInfo(r);
    if (auto s = FillHeadFromBackup(**engine, &b); !s.ok())
      return s;
    out.push_back(std::move(b));
  }
  std::sort(
      out.begin(), out.end(),
      [](const BackupInfo& a, const BackupInfo& b) { return a.id < b.id; });
  return out;
}

BackupVerifyReport VerifyBackup(const std::string& backup_dir, uint32_t id,
                                const ProgressFn& progress) {
  BackupVerifyReport report;
  auto engine = OpenReadOnlyEngine(backup_dir);
  if (!engine.ok()) {
    report.status = engine.status();
    return report;
  }
  rocksdb::BackupInfo r;
  rocksdb::Status gs = id == 0 ? (*engine)->GetLatestBackupInfo(&r, true)
                               : (*engine)->GetBackupInfo(id, &r, true);
  if (!gs.ok()) {
    report.status =
        gs.IsNotFound()
            ? absl::NotFoundError(
                  id == 0 ? absl::StrCat("no backup in ", backup_dir)
                          : absl::StrCat("no backup ", id, " in ", backup_dir))
            : FromRocks(gs, absl::StrCat("reading backup ", id));
    return report;
  }
  report.info = FromRocksInfo(r);
  if (progress)
    progress(Progress{"checksums", "files", 0, r.number_files});
  rocksdb::IOStatus vs =
      (*engine)->VerifyBackup(r.backup_id, /*verify_with_checksum=*/true);
  if (!vs.ok()) {
    // Missing, truncated or altered backup files are lost data.
    report.status = absl::DataLossError(
        absl::StrCat("backup ", r.backup_id, " is damaged: ", vs.ToString()));
    return report;
  }
  if (progress)
    progress(Progress{"checksums", "files", r.number_files, r.number_files});
  auto db = OpenBackupReadOnly(r);
  if (!db.ok()) {
    report.status = db.status();
    return report;
  }
  report.chain = VerifySliced(**db, progress, 100000);
  report.info.head = report.chain.verified_head;
  report.status = report.chain.status;
  return report;
}

absl::StatusOr<BackupInfo> RestoreBackup(const std::string& backup_dir,
                                         uint32_t id,
                                         const std::string& target_dir,
                                         const ProgressFn& progress) {
  if (auto s = internal::CheckEmptyTarget(target_dir); !s.ok())
    return s;
  auto engine = OpenReadOnlyEngine(backup_dir);
  if (!engine.ok())
    return engine.status();
  rocksdb::BackupInfo r;
  rocksdb::Status gs = id == 0 ? (*engine)->GetLatestBackupInfo(&r)
                               : (*engine)->GetBackupInfo(id, &r);
  if (gs.IsNotFound()) {
    return absl::NotFoundError(
        id == 0 ? absl::StrCat("no backup in ", backup_dir)
                : absl::StrCat("no backup ", id, " in ", backup_dir));
  }
  if (!gs.ok())
    return FromRocks(gs, absl::StrCat("reading backup ", id));
  if (progress)
    progress(Progress{"restoring", "bytes", 0, r.size});
  if (::mkdir(target_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", target_dir, ": ", std::strerror(errno)));
  }
  rocksdb::IOStatus rs = (*engine)->RestoreDBFromBackup(
      rocksdb::RestoreOptions(), r.backup_id, target_dir, target_dir);
  if (!rs.ok()) {
    auto st = FromRocks(rs, absl::StrCat("restoring backup ", r.backup_id));
    if (rs.IsCorruption())
      return absl::DataLossError(st.message());
    return st;
  }
  if (progress)
    progress(Progress{"restoring", "bytes", r.size, r.size});
  BackupInfo info = FromRocksInfo(r);
  internal::DbOpenOptions o;
  o.read_only = true;
  o.create = false;
  auto db = internal::OpenDb(target_dir, o);
  if (!db.ok())
    return db.status();
  VerifyReport v = VerifySliced(**db, progress, 100000);
  if (!v.status.ok()) {
    return absl::Status(v.status.code(),
                        absl::StrCat("restored ledger in ", target_dir,
                                     " does not verify: ", v.status.message()));
  }
  info.head = v.verified_head;
  return info;
}

VerifyReport VerifyDataDirWithProgress(const std::string& data_dir,
                                       const ProgressFn& progress,
                                       uint64_t slice_events) {
  internal::DbOpenOptions o;
  o.read_only = true;
  o.create = false;
  auto db = internal::OpenDb(data_dir, o);
  if (!db.ok()) {
    VerifyReport r;
    r.status = absl::IsDataLoss(db.status())
                   ? db.status()
                   : absl::FailedPreconditionError(db.status().message());
    return r;
  }
  VerifyReport r = VerifySliced(**db, progress, slice_events);
  if (!r.status.ok())
    return r;
  // As VerifyDataDir: every block of every table file against its checksum
  // (views, indexes and keys too, which the chain walk does not read).
  if (progress)
    progress(Progress{"checking table files", "files", 0, 0});
  if (auto s = internal::FromRocks((*db)->db->VerifyChecksum(),
                                   "table file checksums");
      !s.ok())
    r.status = absl::DataLossError(s.message());
  return r;
}

}  // namespace carelog::storage
