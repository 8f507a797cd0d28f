#include "storage/projection_store.h"

#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

#include "storage/internal/db.h"
#include "storage/internal/ledger_access.h"
#include "storage/record.h"

namespace carelog::storage {

namespace {

// Sorts before every view key (view keys may not start with '\0').
constexpr char kCheckpointKey[] = "\0checkpoint";
constexpr size_t kCheckpointKeyLen = sizeof(kCheckpointKey) - 1;

std::string LiveKey(const std::string& name) {
  return absl::StrCat("projection-live/", name);
}

absl::Status CheckName(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return absl::InvalidArgumentError("projection name: 1..64 bytes");
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return absl::InvalidArgumentError(
          absl::StrCat("projection name ", name, ": only [a-z0-9_]"));
  }
  return absl::OkStatus();
}

rocksdb::ColumnFamilyOptions ProjectionCfOptions() {
  rocksdb::ColumnFamilyOptions o;
  rocksdb::BlockBasedTableOptions t;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  // Values are sealed (incompressible); keys are short.
  o.compression = rocksdb::kNoCompression;
  return o;
}

}  // namespace

// One column family handle; destroyed (if we created it) when the last user
// lets go, so a reader racing a Swap finishes on the dropped family.
struct Generation {
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  bool owned = false;  // created by us (else owned by internal::Db)
  ~Generation() {
    if (owned && handle != nullptr)
      db->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
};

class ProjectionStore::Impl {
 public:
  internal::Db* db = nullptr;
  std::string name;
  mutable absl::Mutex mu;
  uint64_t live ABSL_GUARDED_BY(mu) = 0;
  std::map<uint64_t, std::shared_ptr<Generation>> gens ABSL_GUARDED_BY(mu);
  uint64_t next_gen ABSL_GUARDED_BY(mu) = 1;
  // Emptied generations the database opened, reused by CreateGeneration.
  std::map<uint64_t, std::shared_ptr<Generation>> spares ABSL_GUARDED_BY(mu);

  absl::StatusOr<std::shared_ptr<Generation>> Find(uint64_t g) const {
    absl::MutexLock l(&mu);
    if (g == 0)
      g = live;
    auto it = gens.find(g);
    if (it == gens.end())
      return absl::NotFoundError(
          absl::StrCat("projection ", name, " has no generation ", g));
    return it->second;
  }

  absl::StatusOr<std::shared_ptr<Generation>> Create(uint64_t g) {
    rocksdb::ColumnFamilyHandle* h = nullptr;
    auto s = internal::FromRocks(
        db->db->CreateColumnFamily(ProjectionCfOptions(),
                                   ColumnFamilyName(name, g), &h),
        "creating projection column family");
    if (!s.ok())
      return s;
    auto gen = std::make_shared<Generation>();
    gen->db = db->db.get();
    gen->handle = h;
    gen->owned = true;
    return gen;
  }

  // Retires a generation that is not live. Column families the database
  // opened stay in internal::Db::handles, which other storage operations
  // flush (a dropped one would fail them): those are emptied and kept as
  // spares for the next rebuild; ones created at runtime are dropped.
  absl::Status Retire(uint64_t g, const std::shared_ptr<Generation>& gen)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (gen->owned)
      return internal::FromRocks(db->db->DropColumnFamily(gen->handle),
                                 "dropping projection column family");
    rocksdb::WriteOptions wo;
    rocksdb::WriteBatch wb;
    if (auto s = internal::FromRocks(
            wb.DeleteRange(gen->handle, rocksdb::Slice("", 0),
                           rocksdb::Slice("\xff\xff\xff\xff", 4)),
            "emptying projection column family");
        !s.ok())
      return s;
    if (auto s = db->Write(wo, &wb, "emptying projection column family");
        !s.ok())
      return s;
    spares[g] = gen;
    return absl::OkStatus();
  }

  absl::Status WriteLive(uint64_t g) {
    std::string v;
    PutU64(&v, g);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return db->Put(wo, db->meta, LiveKey(name), v,
                   "writing projection live generation");
  }
};

std::string ProjectionStore::ColumnFamilyName(const std::string& name,
                                              uint64_t generation) {
  return absl::StrCat("proj_", name, ".", generation);
}

ProjectionStore::ProjectionStore(std::string name, std::unique_ptr<Impl> impl)
    : name_(std::move(name)), impl_(std::move(impl)) {}

ProjectionStore::~ProjectionStore() {
  absl::MutexLock l(&impl_->mu);
  impl_->gens.clear();
}

absl::StatusOr<std::unique_ptr<ProjectionStore>> ProjectionStore::Open(
    Ledger* ledger, const std::string& name) {
  if (auto s = CheckName(name); !s.ok())
    return s;
  auto impl = std::make_unique<Impl>();
  impl->db = &internal::LedgerAccess::GetDb(*ledger);
  impl->name = name;
  internal::Db& db = *impl->db;

  uint64_t live = 0;
  std::string v;
  auto rs = db.db->Get(rocksdb::ReadOptions(), db.meta, LiveKey(name), &v);
  if (rs.ok()) {
    if (v.size() != 8)
      return absl::DataLossError(
          absl::StrCat("projection ", name, ": malformed live generation"));
    live = GetU64(v.data());
  } else if (!rs.IsNotFound()) {
    return internal::FromRocks(rs, "reading projection live generation");
  }

  // Column families of this projection that the database opened with.
  const std::string prefix = absl::StrCat("proj_", name, ".");
  uint64_t max_gen = live;
  absl::MutexLock l(&impl->mu);
  for (const auto& [cf_name, handle] : db.by_name) {
    if (!absl::StartsWith(cf_name, prefix))
      continue;
    uint64_t g = 0;
    if (!absl::SimpleAtoi(cf_name.substr(prefix.size()), &g) || g == 0)
      continue;
    auto gen = std::make_shared<Generation>();
    gen->db = db.db.get();
    gen->handle = handle;
    gen->owned = false;
    if (g > max_gen)
      max_gen = g;
    if (g != live) {
      // A rebuild that never swapped (its rows are incomplete) or a retired
      // generation.
      if (auto s = impl->Retire(g, gen); !s.ok())
        return s;
      continue;
    }
    impl->gens[g] = std::move(gen);
  }
  if (live != 0 && impl->gens.count(live) == 0)
    return absl::DataLossError(absl::StrCat(
        "projection ", name, ": live generation ", live, " is missing"));
  impl->next_gen = max_gen + 1;
  if (live == 0) {
    const uint64_t g = impl->next_gen++;
    auto gen = impl->Create(g);
    if (!gen.ok())
      return gen.status();
    if (auto s = impl->WriteLive(g); !s.ok())
      return s;
    impl->gens[g] = std::move(*gen);
    live = g;
  }
  impl->live = live;
  return std::unique_ptr<ProjectionStore>(
      new ProjectionStore(name, std::move(impl)));
}

uint64_t ProjectionStore::live_generation() const {
  absl::MutexLock l(&impl_->mu);
  return impl_->live;
}

absl::StatusOr<std::optional<std::string>> ProjectionStore::Get(
    const std::string& key, uint64_t generation) const {
  auto gen = impl_->Find(generation);
  if (!gen.ok())
    return gen.status();
  std::string v;
  auto s = impl_->db->db->Get(rocksdb::ReadOptions(), (*gen)->handle, key, &v);
  if (s.IsNotFound())
    return std::optional<std::string>();
  if (!s.ok())
    return internal::FromRocks(s, "reading projection row");
  return std::optional<std::string>(std::move(v));
}

absl::StatusOr<ScanPage> ProjectionStore::Scan(const std::string& prefix,
                                               const std::string& start_after,
                                               size_t limit,
                                               uint64_t generation) const {
  if (limit == 0)
    return absl::InvalidArgumentError("limit: must be positive");
  auto gen = impl_->Find(generation);
  if (!gen.ok())
    return gen.status();
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->db->NewIterator(ro, (*gen)->handle));
  if (start_after.empty() || start_after < prefix) {
    it->Seek(prefix);
  } else {
    it->Seek(start_after);
    if (it->Valid() && it->key() == start_after)
      it->Next();
  }
  ScanPage page;
  for (; it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (!k.starts_with(prefix))
      break;
    if (k.size() > 0 && k[0] == '\0')
      continue;  // the checkpoint record
    if (page.rows.size() == limit) {
      page.more = true;
      break;
    }
    page.rows.push_back(ProjectionRow{k.ToString(), it->value().ToString()});
  }
  if (auto s = internal::FromRocks(it->status(), "scanning projection");
      !s.ok())
    return s;
  return page;
}

absl::StatusOr<uint64_t> ProjectionStore::ReadCheckpoint(
    uint64_t generation) const {
  auto gen = impl_->Find(generation);
  if (!gen.ok())
    return gen.status();
  std::string v;
  auto s =
      impl_->db->db->Get(rocksdb::ReadOptions(), (*gen)->handle,
                         rocksdb::Slice(kCheckpointKey, kCheckpointKeyLen), &v);
  if (s.IsNotFound())
    return uint64_t{0};
  if (!s.ok())
    return internal::FromRocks(s, "reading projection checkpoint");
  if (v.size() != 8)
    return absl::DataLossError(
        absl::StrCat("projection ", name_, ": malformed checkpoint"));
  return GetU64(v.data());
}

absl::Status ProjectionStore::Commit(const ProjectionBatch& batch,
                                     uint64_t generation) {
  auto gen = impl_->Find(generation);
  if (!gen.ok())
    return gen.status();
  auto current = ReadCheckpoint(generation);
  if (!current.ok())
    return current.status();
  if (batch.checkpoint < *current)
    return absl::FailedPreconditionError(
        absl::StrCat("projection ", name_, ": checkpoint ", batch.checkpoint,
                     " is below the stored ", *current));
  rocksdb::WriteBatch wb;
  rocksdb::ColumnFamilyHandle* h = (*gen)->handle;
  for (const auto& op : batch.ops) {
    if (op.key.empty() || op.key[0] == '\0')
      return absl::InvalidArgumentError(
          "projection key: empty or reserved (starts with NUL)");
    rocksdb::Status s = op.value.has_value() ? wb.Put(h, op.key, *op.value)
                                             : wb.Delete(h, op.key);
    if (!s.ok())
      return internal::FromRocks(s, "building projection batch");
  }
  std::string cp;
  PutU64(&cp, batch.checkpoint);
  if (auto s = internal::FromRocks(
          wb.Put(h, rocksdb::Slice(kCheckpointKey, kCheckpointKeyLen), cp),
          "building projection batch");
      !s.ok())
    return s;
  rocksdb::WriteOptions wo;
  wo.sync = false;  // see Durability in the header
  return impl_->db->Write(wo, &wb, "writing projection batch");
}

absl::StatusOr<uint64_t> ProjectionStore::CreateGeneration() {
  uint64_t g = 0;
  {
    absl::MutexLock l(&impl_->mu);
    if (!impl_->spares.empty()) {
      auto it = impl_->spares.begin();
      g = it->first;
      impl_->gens[g] = std::move(it->second);
      impl_->spares.erase(it);
      return g;
    }
    g = impl_->next_gen++;
  }
  auto gen = impl_->Create(g);
  if (!gen.ok())
    return gen.status();
  absl::MutexLock l(&impl_->mu);
  impl_->gens[g] = std::move(*gen);
  return g;
}

absl::Status ProjectionStore::Swap(uint64_t generation) {
  std::shared_ptr<Generation> old;
  {
    absl::MutexLock l(&impl_->mu);
    if (generation == impl_->live)
      return absl::FailedPreconditionError(absl::StrCat(
          "projection ", name_, ": generation ", generation, " is live"));
    if (impl_->gens.count(generation) == 0)
      return absl::NotFoundError(absl::StrCat(
          "projection ", name_, " has no generation ", generation));
    // The pointer is written under the lock so that two swaps cannot
    // interleave their writes and their in-memory state.
    if (auto s = impl_->WriteLive(generation); !s.ok())
      return s;
    const uint64_t old_gen = impl_->live;
    old = impl_->gens[old_gen];
    impl_->gens.erase(old_gen);
    impl_->live = generation;
    return impl_->Retire(old_gen, old);
  }
}

absl::Status ProjectionStore::Purge() {
  std::vector<std::shared_ptr<Generation>> gens;
  {
    absl::MutexLock l(&impl_->mu);
    for (const auto& [g, gen] : impl_->gens)
      gens.push_back(gen);
  }
  rocksdb::FlushOptions fo;
  fo.wait = true;
  rocksdb::CompactRangeOptions cro;
  cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  if (auto s = impl_->db->WritesStopped(); !s.ok())
    return s;
  for (const auto& gen : gens) {
    if (auto s = internal::FromRocks(impl_->db->db->Flush(fo, gen->handle),
                                     "flushing projection");
        !s.ok())
      return s;
    if (auto s = internal::FromRocks(
            impl_->db->db->CompactRange(cro, gen->handle, nullptr, nullptr),
            "compacting projection");
        !s.ok())
      return s;
  }
  return absl::OkStatus();
}

absl::Status ProjectionStore::DropGeneration(uint64_t generation) {
  std::shared_ptr<Generation> gen;
  {
    absl::MutexLock l(&impl_->mu);
    if (generation == impl_->live || generation == 0)
      return absl::FailedPreconditionError(absl::StrCat(
          "projection ", name_, ": generation ", generation, " is live"));
    auto it = impl_->gens.find(generation);
    if (it == impl_->gens.end())
      return absl::NotFoundError(absl::StrCat(
          "projection ", name_, " has no generation ", generation));
    gen = it->second;
    impl_->gens.erase(it);
    return impl_->Retire(generation, gen);
  }
}

}  // namespace carelog::storage
