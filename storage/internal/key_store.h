// storage/internal/key_store.h — crypto::WrappedKeyStore over the `keys`
// column family. Every write is synced. Thread-safe.
#ifndef CARELOG_STORAGE_INTERNAL_KEY_STORE_H_
#define CARELOG_STORAGE_INTERNAL_KEY_STORE_H_

#include <string>

#include "absl/synchronization/mutex.h"

#include "crypto/key_ring.h"
#include "storage/internal/db.h"

namespace carelog::storage::internal {

class RocksKeyStore final : public crypto::WrappedKeyStore {
 public:
  explicit RocksKeyStore(Db* db) : db_(db) {}
  absl::StatusOr<std::string> Get(absl::string_view key_id) override;
  absl::Status PutIfAbsent(absl::string_view key_id,
                           absl::string_view record) override;
  absl::Status Put(absl::string_view key_id, absl::string_view record) override;

 private:
  Db* const db_;
  absl::Mutex
      mu_;  // makes PutIfAbsent's check-then-put atomic within the process
};

}  // namespace carelog::storage::internal

#endif  // CARELOG_STORAGE_INTERNAL_KEY_STORE_H_
