#include "storage/internal/merkle_tree.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

#include "crypto/merkle.h"
#include "storage/record.h"

namespace carelog::storage::internal {

using crypto::Digest;

namespace {

uint64_t LargestPowerOfTwoBelow(uint64_t n) {  // n > 1
  return uint64_t{1} << (63 - __builtin_clzll(n - 1));
}

bool IsPerfect(uint64_t begin, uint64_t end, int* level) {
  const uint64_t len = end - begin;
  if ((len & (len - 1)) != 0)
    return false;
  *level = __builtin_ctzll(len);
  return (begin & (len - 1)) == 0;
}

absl::StatusOr<Digest> DecodeNode(const std::string& v, int level,
                                  uint64_t index) {
  if (v.size() != crypto::kDigestBytes) {
    return absl::DataLossError(
        absl::StrCat("merkle node (", level, ", ", index, ") malformed"));
  }
  Digest d;
  std::copy(v.begin(), v.end(), d.begin());
  return d;
}

std::string EncodeU64(uint64_t v) {
  std::string s;
  PutU64(&s, v);
  return s;
}

}  // namespace

std::string MerkleNodeKey(int level, uint64_t index) {
  std::string k(1, static_cast<char>(level));
  PutU64(&k, index);
  return k;
}

absl::StatusOr<MerkleFrontier> MerkleFrontier::Load(const Db& db,
                                                    uint64_t size) {
  MerkleFrontier f;
  f.size_ = size;
  for (int level = 0; level < 64; ++level) {
    if (((size >> level) & 1) == 0)
      continue;
    const uint64_t index = (size >> level) - 1;
    std::string v;
    rocksdb::Status s = db.db->Get(rocksdb::ReadOptions(), db.merkle,
                                   MerkleNodeKey(level, index), &v);
    if (s.IsNotFound()) {
      return absl::DataLossError(absl::StrCat(
          "merkle node (", level, ", ", index, ") missing for size ", size));
    }
    if (!s.ok())
      return FromRocks(s, "reading merkle node");
    auto d = DecodeNode(v, level, index);
    if (!d.ok())
      return d.status();
    f.peaks_[level] = *d;
  }
  return f;
}

void MerkleFrontier::Append(const Digest& leaf_hash, rocksdb::WriteBatch* wb,
                            rocksdb::ColumnFamilyHandle* cf,
                            const NodeVisitor* visit) {
  auto put = [&](int level, uint64_t index, const Digest& d) {
    if (wb != nullptr) {
      wb->Put(
          cf, MerkleNodeKey(level, index),
          rocksdb::Slice(reinterpret_cast<const char*>(d.data()), d.size()));
    }
    if (visit != nullptr)
      (*visit)(level, index, d);
  };
  Digest h = leaf_hash;
  uint64_t index = size_;
  int level = 0;
  put(level, index, h);
  // Each 1-bit at the bottom of the old size is a left sibling waiting for
  // this subtree to complete it.
  while ((index & 1) == 1) {
    h = crypto::MerkleNodeHash(peaks_[level], h);
    ++level;
    index >>= 1;
    put(level, index, h);
  }
  peaks_[level] = h;
  ++size_;
}

Digest MerkleFrontier::Root() const {
  if (size_ == 0)
    return crypto::MerkleEmptyRoot();
  Digest r{};
  bool have = false;
  for (int level = 0; level < 64; ++level) {
    if (((size_ >> level) & 1) == 0)
      continue;
    r = have ? crypto::MerkleNodeHash(peaks_[level], r) : peaks_[level];
    have = true;
  }
  return r;
}

MerkleReader::MerkleReader(const Db& db, const rocksdb::Snapshot* snapshot)
    : db_(db) {
  ro_.snapshot = snapshot;
}

absl::StatusOr<Digest> MerkleReader::Node(int level, uint64_t index) {
  std::string v;
  ++reads_;
  rocksdb::Status s =
      db_.db->Get(ro_, db_.merkle, MerkleNodeKey(level, index), &v);
  if (s.IsNotFound()) {
    return absl::DataLossError(
        absl::StrCat("merkle node (", level, ", ", index, ") missing"));
  }
  if (!s.ok())
    return FromRocks(s, "reading merkle node");
  return DecodeNode(v, level, index);
}

absl::StatusOr<Digest> MerkleReader::Range(uint64_t begin, uint64_t end) {
  auto key = std::make_pair(begin, end);
  if (auto it = ranges_.find(key); it != ranges_.end())
    return it->second;
  int level;
  absl::StatusOr<Digest> d;
  if (IsPerfect(begin, end, &level)) {
    d = Node(level, begin >> level);
  } else {
    const uint64_t k = LargestPowerOfTwoBelow(end - begin);
    auto left = Range(begin, begin + k);
    if (!left.ok())
      return left.status();
    auto right = Range(begin + k, end);
    if (!right.ok())
      return right.status();
    d = crypto::MerkleNodeHash(*left, *right);
  }
  if (d.ok())
    ranges_.emplace(key, *d);
  return d;
}

absl::StatusOr<Digest> MerkleReader::Root(uint64_t size) {
  if (size == 0)
    return crypto::MerkleEmptyRoot();
  return Range(0, size);
}

absl::Status MerkleReader::Path(uint64_t m, uint64_t begin, uint64_t end,
                                std::vector<Digest>* out) {
  if (end - begin <= 1)
    return absl::OkStatus();
  const uint64_t k = LargestPowerOfTwoBelow(end - begin);
  absl::StatusOr<Digest> sibling;
  if (m < begin + k) {
    if (auto s = Path(m, begin, begin + k, out); !s.ok())
      return s;
    sibling = Range(begin + k, end);
  } else {
    if (auto s = Path(m, begin + k, end, out); !s.ok())
      return s;
    sibling = Range(begin, begin + k);
  }
  if (!sibling.ok())
    return sibling.status();
  out->push_back(*sibling);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Digest>> MerkleReader::InclusionProof(
    uint64_t index, uint64_t size) {
  std::vector<Digest> out;
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", index, " is not below tree size ", size));
  }
  if (auto s = Path(index, 0, size, &out); !s.ok())
    return s;
  return out;
}

absl::Status MerkleReader::SubProof(uint64_t m, uint64_t begin, uint64_t end,
                                    bool whole, std::vector<Digest>* out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (whole)
      return absl::OkStatus();
    auto d = Range(begin, end);
    if (!d.ok())
      return d.status();
    out->push_back(*d);
    return absl::OkStatus();
  }
  const uint64_t k = LargestPowerOfTwoBelow(n);
  absl::StatusOr<Digest> sibling;
  if (m <= k) {
    if (auto s = SubProof(m, begin, begin + k, whole, out); !s.ok())
      return s;
    sibling = Range(begin + k, end);
  } else {
    if (auto s = SubProof(m - k, begin + k, end, false, out); !s.ok())
      return s;
    sibling = Range(begin, begin + k);
  }
  if (!sibling.ok())
    return sibling.status();
  out->push_back(*sibling);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Digest>> MerkleReader::ConsistencyProof(
    uint64_t size1, uint64_t size2) {
  std::vector<Digest> out;
  if (size1 > size2) {
    return absl::InvalidArgumentError(
        absl::StrCat("old size ", size1, " is larger than new size ", size2));
  }
  if (size1 == 0 || size1 == size2)
    return out;
  if (auto s = SubProof(size1, 0, size2, true, &out); !s.ok())
    return s;
  return out;
}

absl::StatusOr<uint64_t> ReadMerkleSize(const Db& db,
                                        const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string v;
  rocksdb::Status s = db.db->Get(ro, db.meta, kMetaMerkleSize, &v);
  if (s.IsNotFound())
    return 0;
  if (!s.ok())
    return FromRocks(s, "reading merkle size");
  if (v.size() != 8)
    return absl::DataLossError("merkle size record malformed");
  return GetU64(v.data());
}

absl::Status BackfillMerkle(Db& db, uint64_t head, size_t batch_events) {
  if (db.merkle == nullptr)
    return absl::DataLossError("ledger lacks the merkle column family");
  auto size = ReadMerkleSize(db, nullptr);
  if (!size.ok())
    return size.status();
  if (*size > head) {
    return absl::DataLossError(absl::StrCat(
        "merkle tree has ", *size, " leaves but the log ends at ", head));
  }
  if (*size == head)
    return absl::OkStatus();
  auto frontier = MerkleFrontier::Load(db, *size);
  if (!frontier.ok())
    return frontier.status();
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = 4 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(ro, db.events));
  it->Seek(PositionKey(*size + 1));
  rocksdb::WriteBatch wb;
  size_t in_batch = 0;
  auto flush = [&]() -> absl::Status {
    wb.Put(db.meta, kMetaMerkleSize, EncodeU64(frontier->size()));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    absl::Status s = db.Write(wo, &wb, "writing merkle tree");
    wb.Clear();
    in_batch = 0;
    return s;
  };
  while (frontier->size() < head) {
    const uint64_t want = frontier->size() + 1;
    if (!it->Valid() || it->key().size() != 8 ||
        GetU64(it->key().data()) != want) {
      if (!it->status().ok())
        return FromRocks(it->status(), "scanning events");
      return absl::DataLossError(absl::StrCat(
          "building the merkle tree: event at position ", want, " missing"));
    }
    frontier->Append(crypto::MerkleLeafHash(absl::string_view(
                         it->value().data(), it->value().size())),
                     &wb, db.merkle);
    if (++in_batch >= batch_events) {
      if (auto s = flush(); !s.ok())
        return s;
    }
    it->Next();
  }
  return in_batch > 0 ? flush() : absl::OkStatus();
}

MerkleHook::MerkleHook(Db* db, MerkleFrontier committed)
    : db_(db), committed_(committed), size_(committed.size()) {}

absl::Status MerkleHook::Begin(uint64_t head) {
  if (!valid_) {
    auto size = ReadMerkleSize(*db_, nullptr);
    if (!size.ok())
      return size.status();
    auto f = MerkleFrontier::Load(*db_, *size);
    if (!f.ok())
      return f.status();
    committed_ = *f;
    size_.store(committed_.size(), std::memory_order_release);
    valid_ = true;
  }
  if (committed_.size() != head) {
    valid_ = false;  // look again next time
    return absl::DataLossError(absl::StrCat("merkle tree has ",
                                            committed_.size(),
                                            " leaves but the head is ", head));
  }
  tentative_ = committed_;
  return absl::OkStatus();
}

void MerkleHook::AddEvent(absl::string_view stored_record,
                          rocksdb::WriteBatch* wb) {
  tentative_.Append(crypto::MerkleLeafHash(stored_record), wb, db_->merkle);
}

void MerkleHook::Finish(rocksdb::WriteBatch* wb) {
  wb->Put(db_->meta, kMetaMerkleSize, EncodeU64(tentative_.size()));
}

void MerkleHook::Committed() {
  committed_ = tentative_;
  size_.store(committed_.size(), std::memory_order_release);
}

void MerkleHook::Failed() {
  valid_ = false;
}

}  // namespace carelog::storage::internal
