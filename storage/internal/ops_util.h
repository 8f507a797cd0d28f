// storage/internal/ops_util.h — helpers shared by backup and maintenance
// (storage/backup.cc, storage/maintenance.cc). Private to storage/; stateless
// and thread-safe.
#ifndef CARELOG_STORAGE_INTERNAL_OPS_UTIL_H_
#define CARELOG_STORAGE_INTERNAL_OPS_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "storage/internal/db.h"
#include "storage/types.h"

namespace carelog::storage::internal {

// Meta keys (default column family) of legal holds: prefix + subject id.
inline constexpr char kMetaLegalHoldPrefix[] = "legal_hold/";
// Where a restored-as-of ledger came from (text, no PHI).
inline constexpr char kMetaRestoredFrom[] = "restored_from";

// OK if `dir` does not exist or is an empty directory.
// Errors: INVALID_ARGUMENT when empty; FAILED_PRECONDITION otherwise.
absl::Status CheckEmptyTarget(const std::string& dir);

// The stored head (position 0 when none). Errors: DATA_LOSS if malformed.
absl::StatusOr<Head> ReadHeadRecord(const Db& db);

// OK if `db` carries the carelog format marker; FAILED_PRECONDITION naming
// `dir` otherwise.
absl::Status CheckLedgerFormat(const Db& db, const std::string& dir);

}  // namespace carelog::storage::internal

#endif  // CARELOG_STORAGE_INTERNAL_OPS_UTIL_H_
