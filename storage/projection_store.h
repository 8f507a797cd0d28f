// storage/projection_store.h — the rows of one projection (a view derived
// from the log) in their own RocksDB column families of the ledger's
// database, with the projection's checkpoint in the same column family so
// that rows and checkpoint change in one atomic WriteBatch.
//
// Generations. A projection's rows live in column family
// "proj_<name>.<generation>". One generation is live (the one queries read;
// which one is persisted, synced, in the ledger's meta column family under
// "projection-live/<name>"). A rebuild creates a fresh generation, fills it
// while the live one keeps serving, then Swap() makes it live in one synced
// write and retires the old column family: dropped if it was created at
// runtime, emptied and kept as a spare for the next rebuild if the database
// opened it (internal::Db::handles, which other storage operations flush,
// must never hold a dropped family). A crash before the swap leaves the old
// generation live; the half-built one is retired on the next Open.
//
// Durability. Commit() writes its batch to the WAL without fsync: the view is
// derived from the synced log, and RocksDB recovers a prefix of the WAL, so a
// power loss can only roll the view back to an earlier (consistent) batch —
// rows and checkpoint together — which the worker then re-applies. The next
// synced ledger commit (same WAL) makes it durable anyway. Swap() and
// generation bookkeeping are synced.
//
// Keys. View keys are non-empty and must not start with '\0' (reserved for
// the checkpoint record). Scans return keys in byte order.
//
// Thread-safety. All methods are thread-safe. Readers of a generation being
// dropped by a concurrent Swap finish on it (the column family handle is
// released when the last reader is done). The store must be destroyed before
// the Ledger it was opened on.
#ifndef CARELOG_STORAGE_PROJECTION_STORE_H_
#define CARELOG_STORAGE_PROJECTION_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "storage/ledger.h"

namespace carelog::storage {

// Puts and deletes applied atomically with a new checkpoint position.
struct ProjectionBatch {
  struct Op {
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
  };
  std::vector<Op> ops;
  uint64_t checkpoint = 0;  // the last log position this batch covers

  void Put(std::string key, std::string value) {
    ops.push_back(Op{std::move(key), std::move(value)});
  }
  void Delete(std::string key) {
    ops.push_back(Op{std::move(key), std::nullopt});
  }
};

struct ProjectionRow {
  std::string key;
  std::string value;
};

struct ScanPage {
  std::vector<ProjectionRow> rows;
  bool more = false;  // rows beyond the page exist under the prefix
};

class ProjectionStore {
 public:
  // Opens the projection `name` ([a-z0-9_], 1..64 bytes) on `ledger`'s
  // database (`ledger` must outlive the store); creates generation 1 when the
  // projection is new and drops generations left over by an interrupted
  // rebuild. Blocks on I/O (synced writes when creating).
  // Errors: INVALID_ARGUMENT for a bad name; DATA_LOSS if the live pointer is
  // malformed; I/O errors.
  static absl::StatusOr<std::unique_ptr<ProjectionStore>> Open(
      Ledger* ledger, const std::string& name);
  ~ProjectionStore();
  ProjectionStore(const ProjectionStore&) = delete;
  ProjectionStore& operator=(const ProjectionStore&) = delete;

  const std::string& name() const { return name_; }
  uint64_t live_generation() const;

  // In every call below, `generation` 0 means the live generation.
  // Errors common to all: NOT_FOUND if the generation does not exist (never
  // created, or dropped); I/O errors as UNAVAILABLE/INTERNAL.

  // The value at `key`, or nullopt.
  absl::StatusOr<std::optional<std::string>> Get(const std::string& key,
                                                 uint64_t generation = 0) const;

  // Up to `limit` rows whose keys start with `prefix` and sort strictly after
  // `start_after` (empty: from the first), in key order.
  // Errors: INVALID_ARGUMENT for limit 0.
  absl::StatusOr<ScanPage> Scan(const std::string& prefix,
                                const std::string& start_after, size_t limit,
                                uint64_t generation = 0) const;

  // The checkpoint of a generation: the last log position applied (0: none).
  // Errors: DATA_LOSS if the checkpoint record is malformed.
  absl::StatusOr<uint64_t> ReadCheckpoint(uint64_t generation = 0) const;

  // Applies `batch` and sets the checkpoint in one WriteBatch (WAL, no fsync;
  // see Durability). Errors: INVALID_ARGUMENT for an empty or reserved key;
  // FAILED_PRECONDITION if batch.checkpoint is below the stored checkpoint.
  absl::Status Commit(const ProjectionBatch& batch, uint64_t generation = 0);

  // Creates a fresh, empty generation (checkpoint 0) that is not live and
  // returns its number. Blocks on I/O.
  absl::StatusOr<uint64_t> CreateGeneration();

  // Makes `generation` live (one synced write) and drops the previously live
  // one. Errors: FAILED_PRECONDITION if it is already live.
  absl::Status Swap(uint64_t generation);

  // Drops a generation that is not live (an abandoned rebuild).
  // Errors: FAILED_PRECONDITION for the live generation.
  absl::Status DropGeneration(uint64_t generation);

  // Flushes every generation's memtable and compacts it, so that no WAL file
  // stays pinned by view rows and no older row versions remain in table files
  // (run after an erasure: the ledger's key purge can then drop the WAL that
  // held the erased subject's wrapped key). Blocks on I/O.
  absl::Status Purge();

  // The column family name of a generation.
  static std::string ColumnFamilyName(const std::string& name,
                                      uint64_t generation);

  class Impl;

 private:
  explicit ProjectionStore(std::string name, std::unique_ptr<Impl> impl);
  const std::string name_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace carelog::storage

#endif  // CARELOG_STORAGE_PROJECTION_STORE_H_
