// storage/internal/verifier.h — recomputes the hash chain over a range of the
// log and cross-checks the stream index and head record. Read-only; safe to
// run concurrently with the writer (it reads one snapshot).
#ifndef CARELOG_STORAGE_INTERNAL_VERIFIER_H_
#define CARELOG_STORAGE_INTERNAL_VERIFIER_H_

#include <cstdint>

#include "storage/internal/db.h"
#include "storage/ledger.h"

namespace carelog::storage::internal {

// Verifies [from, to] (to = 0: through the head record) in `db` as of
// `snapshot` (nullptr: latest).
VerifyReport VerifyRange(const Db& db, uint64_t from, uint64_t to,
                         const rocksdb::Snapshot* snapshot);

}  // namespace carelog::storage::internal

#endif  // CARELOG_STORAGE_INTERNAL_VERIFIER_H_
