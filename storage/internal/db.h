// storage/internal/db.h — RocksDB handles and status translation, private to
// storage/ (RocksDB types never leave this folder).
#ifndef CARELOG_STORAGE_INTERNAL_DB_H_
#define CARELOG_STORAGE_INTERNAL_DB_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace carelog::storage::internal {

inline constexpr char kEventsCf[] = "events";
inline constexpr char kStreamsCf[] = "streams";
inline constexpr char kCommandsCf[] = "commands";
inline constexpr char kKeysCf[] = "keys";
inline constexpr char kCheckpointsCf[] = "checkpoints";
inline constexpr char kMerkleCf[] = "merkle";

// Meta keys in the default column family.
inline constexpr char kMetaFormat[] = "format";
inline constexpr char kMetaHead[] = "head";
inline constexpr char kFormatValue[] = "carelog-ledger-v1";

// Translates a RocksDB status; `what` names the operation (no data).
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what);

struct Db {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // owned; destroyed in ~Db
  rocksdb::ColumnFamilyHandle* meta = nullptr;        // default CF
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* streams = nullptr;
  rocksdb::ColumnFamilyHandle* commands = nullptr;
  rocksdb::ColumnFamilyHandle* keys = nullptr;
  rocksdb::ColumnFamilyHandle* checkpoints = nullptr;
  rocksdb::ColumnFamilyHandle* merkle = nullptr;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name;

  // Every write to an open data directory goes through Write (Put and Delete
  // are one-operation batches). After a write fails on storage (a full disk,
  // an I/O error) RocksDB keeps the WAL file writer that saw the error, and a
  // later write through it aborts the process (Debian's librocksdb is built
  // with assertions) or is refused; so the first such failure stops every
  // later write to this directory — ledger, projections, Merkle tree,
  // checkpoints, keys — and they answer UNAVAILABLE naming the first failure
  // until the directory is reopened (carelogd restarted once the cause is
  // fixed: docs/runbooks/disk-full.md). Reads go on. The failing write itself
  // answers RESOURCE_EXHAUSTED for a full disk, UNAVAILABLE otherwise.
  absl::Status Write(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* wb,
                     absl::string_view what);
  absl::Status Put(const rocksdb::WriteOptions& wo,
                   rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& key,
                   const rocksdb::Slice& value, absl::string_view what);
  absl::Status Delete(const rocksdb::WriteOptions& wo,
                      rocksdb::ColumnFamilyHandle* cf,
                      const rocksdb::Slice& key, absl::string_view what);
  // OK while writes are accepted; else the UNAVAILABLE status writes get.
  absl::Status WritesStopped() const;
  // Stops writes exactly as a storage failure in Write does, giving `reason`
  // (the first reason is kept). Tests use it, through LedgerAccess, to put a
  // live ledger in that state; reads go on.
  void StopWrites(absl::string_view reason);

  ~Db();

 private:
  std::atomic<bool> stopped_{false};
  mutable absl::Mutex stop_mu_;
  std::string stop_reason_ ABSL_GUARDED_BY(stop_mu_);
};

struct DbOpenOptions {
  bool read_only = false;
  bool create = true;
  std::vector<std::string> extra_column_families;
  rocksdb::Env* env = nullptr;  // not owned; null: the default Env (a backup's
                                // env_for_open opens a backup in place)
};

// Opens the data directory with every column family it has plus the ledger's
// own and `extra`. Creates the directory (0700) when `create`.
absl::StatusOr<std::unique_ptr<Db>> OpenDb(const std::string& dir,
                                           const DbOpenOptions& options);

}  // namespace carelog::storage::internal

#endif  // CARELOG_STORAGE_INTERNAL_DB_H_
