#include "storage/internal/key_store.h"

#include "absl/strings/str_cat.h"

namespace carelog::storage::internal {

absl::StatusOr<std::string> RocksKeyStore::Get(absl::string_view key_id) {
  std::string value;
  rocksdb::Status s =
      db_->db->Get(rocksdb::ReadOptions(), db_->keys,
                   rocksdb::Slice(key_id.data(), key_id.size()), &value);
  if (s.IsNotFound())
    return absl::NotFoundError(absl::StrCat("no key record ", key_id));
  if (!s.ok())
    return FromRocks(s, absl::StrCat("reading key record ", key_id));
  return value;
}

absl::Status RocksKeyStore::PutIfAbsent(absl::string_view key_id,
                                        absl::string_view record) {
  absl::MutexLock l(&mu_);
  auto existing = Get(key_id);
  if (existing.ok())
    return absl::AlreadyExistsError(
        absl::StrCat("key record ", key_id, " exists"));
  if (!absl::IsNotFound(existing.status()))
    return existing.status();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return db_->Put(wo, db_->keys, rocksdb::Slice(key_id.data(), key_id.size()),
                  rocksdb::Slice(record.data(), record.size()),
                  absl::StrCat("writing key record ", key_id));
}

absl::Status RocksKeyStore::Put(absl::string_view key_id,
                                absl::string_view record) {
  absl::MutexLock l(&mu_);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return db_->Put(wo, db_->keys, rocksdb::Slice(key_id.data(), key_id.size()),
                  rocksdb::Slice(record.data(), record.size()),
                  absl::StrCat("writing key record ", key_id));
}

}  // namespace carelog::storage::internal
