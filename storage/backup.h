// storage/backup.h — backups of a ledger with RocksDB's BackupEngine.
//
// A backup directory holds any number of backups (incremental: table files
// are shared between backups). A backup is a consistent copy of the data
// directory as of one moment: every committed WriteBatch is in it entirely or
// not at all, so its events, indexes, Merkle tree and head agree. It holds
// exactly what the data directory holds — ciphertext and wrapped data keys —
// and never the KEK, which lives outside the data directory: restoring a
// backup needs the KEK that was current when it was taken (keep old KEKs as
// long as backups taken under them; see docs/runbooks/key-rotation.md).
//
// Online: CreateBackup(ledger, …) backs up an open ledger while it serves
// (appends continue; RocksDB flushes the memtables and pins the live files).
// Offline: CreateBackupOfDataDir on a stopped directory.
//
// Thread-safety: the functions are thread-safe with respect to the ledger;
// two concurrent operations on one backup directory are not supported
// (BackupEngine allows one writer per backup directory).
#ifndef CARELOG_STORAGE_BACKUP_H_
#define CARELOG_STORAGE_BACKUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "storage/ledger.h"
#include "storage/progress.h"
#include "storage/types.h"

namespace carelog::storage {

struct BackupInfo {
  uint32_t id = 0;
  int64_t created_unix_seconds = 0;
  uint64_t size_bytes = 0;  // file payloads (shared files counted once each)
  uint32_t files = 0;
  Head head;           // the ledger head inside the backup (read from it)
  std::string source;  // the data directory it was taken from
};

struct BackupOptions {
  ProgressFn progress;  // optional
  // After a successful backup keep only the newest `keep` backups (0: all).
  uint32_t keep = 0;
};

// Backs up the open `ledger` into `backup_dir` (created if missing) while it
// serves. Blocks for the copy; fsyncs the backup. OK: the new backup's info.
// Errors: INVALID_ARGUMENT for an empty backup_dir; UNAVAILABLE / INTERNAL for
// I/O errors (the failed backup is not listed).
absl::StatusOr<BackupInfo> CreateBackup(const Ledger& ledger,
                                        const std::string& backup_dir,
                                        const BackupOptions& options = {});

// As CreateBackup, for a stopped data directory (opened exclusively for the
// copy). Errors: FAILED_PRECONDITION if it holds no ledger or is locked by a
// running carelogd (back that one up online).
absl::StatusOr<BackupInfo> CreateBackupOfDataDir(
    const std::string& data_dir, const std::string& backup_dir,
    const BackupOptions& options = {});

// The backups in `backup_dir`, oldest first, each with its head.
// Errors: NOT_FOUND if the directory holds no backup engine metadata; I/O.
absl::StatusOr<std::vector<BackupInfo>> ListBackups(
    const std::string& backup_dir);

struct BackupVerifyReport {
  absl::Status status;  // OK; DATA_LOSS for a damaged file or chain; NOT_FOUND
  BackupInfo info;
  VerifyReport chain;  // the hash chain and indexes inside the backup
};

// Checks backup `id` (0: the latest): every file's size and checksum, then
// opens the backup in place, read-only, and verifies its whole hash chain,
// stream index and head record. Never modifies the backup.
BackupVerifyReport VerifyBackup(const std::string& backup_dir, uint32_t id,
                                const ProgressFn& progress = nullptr);

// Restores backup `id` (0: the latest) into `target_dir`, which must not exist
// or be empty (never overwrites a ledger), then verifies the restored chain.
// OK: the restored backup's info (head = the verified head). Blocks; fsyncs.
// Errors: INVALID_ARGUMENT for empty paths; FAILED_PRECONDITION if target_dir
// is not empty; NOT_FOUND for an unknown backup id; DATA_LOSS if the backup
// or the restored chain is damaged; I/O errors.
absl::StatusOr<BackupInfo> RestoreBackup(const std::string& backup_dir,
                                         uint32_t id,
                                         const std::string& target_dir,
                                         const ProgressFn& progress = nullptr);

// Verifies a stopped data directory like VerifyDataDir, in slices of
// `slice_events`, reporting progress after each slice.
VerifyReport VerifyDataDirWithProgress(const std::string& data_dir,
                                       const ProgressFn& progress,
                                       uint64_t slice_events = 100000);

}  // namespace carelog::storage

#endif  // CARELOG_STORAGE_BACKUP_H_
