// storage/internal/ledger_access.h — storage-internal access to an open
// Ledger's database, for operations that live beside the engine (online
// backup, erasure purge, legal holds). Private to storage/.
// Thread-safety: the returned Db is the ledger's own; RocksDB handles are
// thread-safe, and callers must not write the ledger's column families that
// the single writer owns (events, streams, commands, merkle, head).
#ifndef CARELOG_STORAGE_INTERNAL_LEDGER_ACCESS_H_
#define CARELOG_STORAGE_INTERNAL_LEDGER_ACCESS_H_

#include "storage/internal/db.h"
#include "storage/ledger.h"

namespace carelog::storage::internal {

class LedgerAccess {
 public:
  // The open database of `ledger` (valid while the ledger lives).
  static Db& GetDb(const Ledger& ledger);
};

}  // namespace carelog::storage::internal

#endif  // CARELOG_STORAGE_INTERNAL_LEDGER_ACCESS_H_
