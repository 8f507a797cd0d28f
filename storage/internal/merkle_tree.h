// storage/internal/merkle_tree.h — the ledger's RFC 9162 Merkle tree in the
// `merkle` column family, maintained incrementally by the single writer.
//
// Layout. Every complete (perfect) subtree is stored once it is complete:
//   merkle CF: u8 level ‖ u64 index (big-endian) → 32-byte hash
// where node (level, index) covers leaves [index·2^level, (index+1)·2^level).
// Level 0 holds leaf hashes: leaf i = SHA-256(0x00 ‖ stored record of the
// event at position i + 1). Nodes are written once and never change. The
// meta key "merkle_size" (default CF) holds the number of leaves, written in
// the same WriteBatch as the events and the head, so it always equals the head
// position (or lags it when maintenance was off; Open backfills the rest).
//
// Costs. Appending leaf n writes the leaf and each parent it completes: one
// write plus one per trailing 1-bit of n, two on average. A tree of size n
// has the root of its O(log n) "peaks" (the perfect subtrees that tile it);
// a root, an inclusion proof and a consistency proof each read O(log n) nodes
// (incomplete right-edge subtrees are recomputed from peaks, memoised).
//
// Thread-safety. MerkleFrontier and MerkleHook are used by the writer thread
// only. MerkleReader reads one snapshot and is used by one thread at a time.
#ifndef CARELOG_STORAGE_INTERNAL_MERKLE_TREE_H_
#define CARELOG_STORAGE_INTERNAL_MERKLE_TREE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rocksdb/write_batch.h"

#include "crypto/hash.h"
#include "storage/internal/db.h"

namespace carelog::storage::internal {

inline constexpr char kMetaMerkleSize[] = "merkle_size";

std::string MerkleNodeKey(int level, uint64_t index);

// The right edge of the tree: one hash per set bit of size (the peaks).
class MerkleFrontier {
 public:
  // The frontier of the stored tree of `size` leaves (reads its peaks).
  // Errors: DATA_LOSS if a peak is missing or malformed; I/O errors.
  static absl::StatusOr<MerkleFrontier> Load(const Db& db, uint64_t size);

  uint64_t size() const { return size_; }
  // Adds leaf `size()`; puts it and every parent it completes into `wb`
  // (when non-null) and reports each to `visit` (when non-null).
  using NodeVisitor =
      std::function<void(int level, uint64_t index, const crypto::Digest&)>;
  void Append(const crypto::Digest& leaf_hash, rocksdb::WriteBatch* wb,
              rocksdb::ColumnFamilyHandle* cf,
              const NodeVisitor* visit = nullptr);
  // The root of the tree of size() leaves (the empty root for 0).
  crypto::Digest Root() const;

 private:
  uint64_t size_ = 0;
  std::array<crypto::Digest, 64>
      peaks_{};  // peaks_[l] valid iff bit l of size_
};

// Reads roots and proofs from the stored tree as of one snapshot.
class MerkleReader {
 public:
  // `snapshot` may be null (latest). `db` must outlive the reader.
  MerkleReader(const Db& db, const rocksdb::Snapshot* snapshot);

  // Errors for all: DATA_LOSS naming the missing/malformed node; I/O errors.
  // Callers check sizes against the stored tree size first.
  absl::StatusOr<crypto::Digest> Root(uint64_t size);
  absl::StatusOr<std::vector<crypto::Digest>> InclusionProof(uint64_t index,
                                                             uint64_t size);
  absl::StatusOr<std::vector<crypto::Digest>> ConsistencyProof(uint64_t size1,
                                                               uint64_t size2);
  // Number of node reads done so far (for tests of the O(log n) bound).
  uint64_t reads() const { return reads_; }

 private:
  absl::StatusOr<crypto::Digest> Node(int level, uint64_t index);
  // MTH of leaves [begin, end) in the RFC 9162 decomposition.
  absl::StatusOr<crypto::Digest> Range(uint64_t begin, uint64_t end);
  absl::Status Path(uint64_t m, uint64_t begin, uint64_t end,
                    std::vector<crypto::Digest>* out);
  absl::Status SubProof(uint64_t m, uint64_t begin, uint64_t end, bool whole,
                        std::vector<crypto::Digest>* out);

  const Db& db_;
  rocksdb::ReadOptions ro_;
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, crypto::Digest> ranges_;
  uint64_t reads_ = 0;
};

// The stored number of leaves (0 when absent). Errors: DATA_LOSS if malformed.
absl::StatusOr<uint64_t> ReadMerkleSize(const Db& db,
                                        const rocksdb::Snapshot* snapshot);

// Extends the stored tree from its current size to `head` by reading events
// (batches of `batch_events`, each synced). Used by Open for ledgers created
// before the tree existed or while maintenance was off.
// Errors: DATA_LOSS if the tree is larger than `head` or an event is missing;
// I/O errors.
absl::Status BackfillMerkle(Db& db, uint64_t head, size_t batch_events = 8192);

// The sequencer's hook: adds each event's leaf to the batch being built and
// publishes the new frontier only once the batch is durable.
class MerkleHook {
 public:
  MerkleHook(Db* db, MerkleFrontier committed);

  // Called at the start of each group with the durable head position.
  // Reloads the frontier after a failed write (the batch may or may not have
  // been applied). Errors: DATA_LOSS if the tree's size differs from `head`.
  absl::Status Begin(uint64_t head);
  void AddEvent(absl::string_view stored_record, rocksdb::WriteBatch* wb);
  void Finish(rocksdb::WriteBatch* wb);
  void Committed();
  void Failed();

  // The size of the durable tree (any thread).
  uint64_t size() const { return size_.load(std::memory_order_acquire); }

 private:
  Db* const db_;
  MerkleFrontier committed_;
  MerkleFrontier tentative_;
  bool valid_ = true;
  std::atomic<uint64_t> size_;
};

}  // namespace carelog::storage::internal

#endif  // CARELOG_STORAGE_INTERNAL_MERKLE_TREE_H_
