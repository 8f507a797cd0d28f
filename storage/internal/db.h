// storage/internal/db.h — RocksDB handles and status translation, private to
// storage/ (RocksDB types never leave this folder).
#ifndef CARELOG_STORAGE_INTERNAL_DB_H_
#define CARELOG_STORAGE_INTERNAL_DB_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"

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

  ~Db();
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
