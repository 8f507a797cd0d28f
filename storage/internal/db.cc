#include "storage/internal/db.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"

namespace carelog::storage::internal {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok())
    return absl::OkStatus();
  std::string msg = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNotFound())
    return absl::NotFoundError(msg);
  if (s.IsCorruption())
    return absl::DataLossError(msg);
  if (s.IsInvalidArgument())
    return absl::InvalidArgumentError(msg);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain())
    return absl::UnavailableError(msg);
  // Before IsIOError: a full disk is an I/O error with the kNoSpace subcode.
  if (s.IsNoSpace())
    return absl::ResourceExhaustedError(msg);
  if (s.IsIOError()) {
    // A held LOCK file means another process has the directory open.
    if (s.ToString().find("lock") != std::string::npos)
      return absl::FailedPreconditionError(msg);
    return absl::UnavailableError(msg);
  }
  return absl::InternalError(msg);
}

absl::Status Db::WritesStopped() const {
  if (!stopped_.load(std::memory_order_acquire))
    return absl::OkStatus();
  absl::MutexLock l(&stop_mu_);
  return absl::UnavailableError(absl::StrCat(
      "writes to the data directory stopped after a storage failure (",
      stop_reason_, "); reads go on — fix the cause and restart carelogd"));
}

absl::Status Db::Write(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* wb,
                       absl::string_view what) {
  if (auto s = WritesStopped(); !s.ok())
    return s;
  const rocksdb::Status rs = db->Write(wo, wb);
  if (rs.ok())
    return absl::OkStatus();
  // Only storage failures stop writes; a refused batch (an invalid argument,
  // a dropped column family, a write stall) leaves the WAL writer sound.
  if (rs.IsIOError() || rs.IsCorruption())
    StopWrites(absl::StrCat(what, ": ", rs.ToString()));
  return FromRocks(rs, what);
}

void Db::StopWrites(absl::string_view reason) {
  absl::MutexLock l(&stop_mu_);
  if (!stopped_.load(std::memory_order_relaxed)) {
    stop_reason_ = std::string(reason);
    stopped_.store(true, std::memory_order_release);
  }
}

absl::Status Db::Put(const rocksdb::WriteOptions& wo,
                     rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& key,
                     const rocksdb::Slice& value, absl::string_view what) {
  rocksdb::WriteBatch wb;
  if (auto s = FromRocks(wb.Put(cf, key, value), what); !s.ok())
    return s;
  return Write(wo, &wb, what);
}

absl::Status Db::Delete(const rocksdb::WriteOptions& wo,
                        rocksdb::ColumnFamilyHandle* cf,
                        const rocksdb::Slice& key, absl::string_view what) {
  rocksdb::WriteBatch wb;
  if (auto s = FromRocks(wb.Delete(cf, key), what); !s.ok())
    return s;
  return Write(wo, &wb, what);
}

Db::~Db() {
  if (db) {
    for (auto* h : handles)
      db->DestroyColumnFamilyHandle(h);
    db->Close().PermitUncheckedError();
  }
}

namespace {

rocksdb::ColumnFamilyOptions CfOptions(
    const std::string& name, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  if (name == kEventsCf) {
    // Ciphertext does not compress; positions are scanned in order.
    o.compression = rocksdb::kNoCompression;
    o.write_buffer_size = 64 << 20;
  } else {
    // Point lookups on every append (command ids, stream heads): bloom filters.
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    t.whole_key_filtering = true;
    o.compression = rocksdb::kNoCompression;
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Db>> OpenDb(const std::string& dir,
                                           const DbOpenOptions& options) {
  if (options.create && !options.read_only) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create data directory ", dir, ": ", std::strerror(errno)));
    }
  }
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = options.create;
  dbo.create_missing_column_families = options.create;
  dbo.paranoid_checks = true;
  dbo.max_background_jobs = 2;
  dbo.keep_log_file_num = 5;
  // Every commit syncs the WAL before it is acknowledged, so only a record
  // torn by a crash mid-write (never acknowledged) may be incomplete at the
  // tail: that is tolerated. Damage anywhere else is DATA_LOSS at open.
  // (kPointInTimeRecovery silently stopped replay at the first bad record and
  // served the ledger without every later acknowledged commit: found by the
  // tamper trials, tests/integration/tamper_trial_test.cc.)
  dbo.wal_recovery_mode =
      rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  if (options.env != nullptr)
    dbo.env = options.env;

  std::set<std::string> names = {rocksdb::kDefaultColumnFamilyName,
                                 kEventsCf,
                                 kStreamsCf,
                                 kCommandsCf,
                                 kKeysCf,
                                 kCheckpointsCf,
                                 kMerkleCf};
  for (const auto& n : options.extra_column_families)
    names.insert(n);
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(dbo, dir, &existing).ok()) {
    // A read-only open can only name column families that exist.
    if (options.read_only)
      names.clear();
    names.insert(existing.begin(), existing.end());
  } else if (!options.create) {
    return absl::FailedPreconditionError(absl::StrCat("no ledger in ", dir));
  }

  auto cache = rocksdb::NewLRUCache(64 << 20);
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& n : names)
    descs.emplace_back(n, CfOptions(n, cache));

  auto out = std::make_unique<Db>();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options.read_only) {
    s = rocksdb::DB::OpenForReadOnly(dbo, dir, descs, &out->handles, &raw);
  } else {
    s = rocksdb::DB::Open(dbo, dir, descs, &out->handles, &raw);
  }
  out->db.reset(raw);  // own it at once (RocksDB 7.8 has only DB**)
  if (!s.ok())
    return FromRocks(s, absl::StrCat("opening ledger in ", dir));
  for (auto* h : out->handles)
    out->by_name[h->GetName()] = h;
  out->meta = out->by_name[rocksdb::kDefaultColumnFamilyName];
  out->events = out->by_name[kEventsCf];
  out->streams = out->by_name[kStreamsCf];
  out->commands = out->by_name[kCommandsCf];
  out->keys = out->by_name[kKeysCf];
  out->checkpoints = out->by_name[kCheckpointsCf];
  out->merkle = out->by_name[kMerkleCf];
  if (!out->meta || !out->events || !out->streams || !out->commands ||
      !out->keys) {
    return absl::DataLossError(
        absl::StrCat("ledger in ", dir, " lacks a required column family"));
  }
  return out;
}

}  // namespace carelog::storage::internal
