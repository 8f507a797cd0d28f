#include "crypto/merkle.h"

#include <openssl/evp.h>
#include <sodium.h>

#include "absl/strings/str_cat.h"

namespace carelog::crypto {

namespace {

// Merkle hashing runs on the ledger writer's critical path (one leaf over the
// whole stored record, ~2 nodes, per append). OpenSSL's SHA-256 uses the CPU's
// SHA extensions where present and is ~4x faster than libsodium's portable
// one on a 650-byte record; libsodium stays the fallback if OpenSSL fails.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

class Sha256Context {
 public:
  Sha256Context() : ctx_(EVP_MD_CTX_new()) {}
  ~Sha256Context() { EVP_MD_CTX_free(ctx_); }
  Sha256Context(const Sha256Context&) = delete;
  Sha256Context& operator=(const Sha256Context&) = delete;

  // SHA-256(prefix ‖ a ‖ b).
  Digest Hash(uint8_t prefix, const void* a, size_t an, const void* b,
              size_t bn) {
    Digest out;
    unsigned int len = 0;
    if (ctx_ != nullptr && Sha256Md() != nullptr &&
        EVP_DigestInit_ex(ctx_, Sha256Md(), nullptr) == 1 &&
        EVP_DigestUpdate(ctx_, &prefix, 1) == 1 &&
        EVP_DigestUpdate(ctx_, a, an) == 1 &&
        (bn == 0 || EVP_DigestUpdate(ctx_, b, bn) == 1) &&
        EVP_DigestFinal_ex(ctx_, out.data(), &len) == 1 && len == out.size()) {
      return out;
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, static_cast<const unsigned char*>(a), an);
    if (bn > 0)
      crypto_hash_sha256_update(&st, static_cast<const unsigned char*>(b), bn);
    crypto_hash_sha256_final(&st, out.data());
    return out;
  }

 private:
  EVP_MD_CTX* const ctx_;
};

Sha256Context& ThreadSha256() {
  thread_local Sha256Context ctx;
  return ctx;
}

int BitLen(uint64_t x) {
  return x == 0 ? 0 : 64 - __builtin_clzll(x);
}
int PopCount(uint64_t x) {
  return __builtin_popcountll(x);
}
int TrailingZeros(uint64_t x) {
  return x == 0 ? 64 : __builtin_ctzll(x);
}

// An inclusion proof for `index` in a tree of `size` splits into an "inner"
// part (siblings below the point where the path to `index` and the path to the
// last leaf diverge) and a "border" part (left siblings on the right border).
void Decompose(uint64_t index, uint64_t size, int* inner, int* border) {
  *inner = BitLen(index ^ (size - 1));
  // inner is 64 when the two paths part at the top bit; a shift by 64 is
  // undefined (x86 shifts by 0 instead), and no bits remain above it.
  *border = *inner >= 64 ? 0 : PopCount(index >> *inner);
}

// Folds the inner part: at height i the sibling is on the right when bit i of
// `index` is 0, on the left when it is 1.
Digest ChainInner(Digest seed, absl::Span<const Digest> proof, uint64_t index) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if (((index >> i) & 1) == 0) {
      seed = MerkleNodeHash(seed, proof[i]);
    } else {
      seed = MerkleNodeHash(proof[i], seed);
    }
  }
  return seed;
}

// As ChainInner, but only the left siblings: the root of the smaller tree in a
// consistency proof never includes what lies to its right.
Digest ChainInnerRight(Digest seed, absl::Span<const Digest> proof,
                       uint64_t index) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if (((index >> i) & 1) == 1)
      seed = MerkleNodeHash(proof[i], seed);
  }
  return seed;
}

Digest ChainBorderRight(Digest seed, absl::Span<const Digest> proof) {
  for (const Digest& p : proof)
    seed = MerkleNodeHash(p, seed);
  return seed;
}

uint64_t LargestPowerOfTwoBelow(uint64_t n) {  // n > 1
  uint64_t k = 1;
  while (k << 1 < n)
    k <<= 1;
  return k;
}

void ReferencePath(absl::Span<const Digest> d, uint64_t m,
                   std::vector<Digest>* out) {
  if (d.size() <= 1)
    return;
  const uint64_t k = LargestPowerOfTwoBelow(d.size());
  if (m < k) {
    ReferencePath(d.subspan(0, k), m, out);
    out->push_back(ReferenceRoot(d.subspan(k)));
  } else {
    ReferencePath(d.subspan(k), m - k, out);
    out->push_back(ReferenceRoot(d.subspan(0, k)));
  }
}

void ReferenceSubProof(uint64_t m, absl::Span<const Digest> d, bool b,
                       std::vector<Digest>* out) {
  const uint64_t n = d.size();
  if (m == n) {
    if (!b)
      out->push_back(ReferenceRoot(d));
    return;
  }
  const uint64_t k = LargestPowerOfTwoBelow(n);
  if (m <= k) {
    ReferenceSubProof(m, d.subspan(0, k), b, out);
    out->push_back(ReferenceRoot(d.subspan(k)));
  } else {
    ReferenceSubProof(m - k, d.subspan(k), false, out);
    out->push_back(ReferenceRoot(d.subspan(0, k)));
  }
}

}  // namespace

Digest MerkleLeafHash(absl::string_view data) {
  return ThreadSha256().Hash(0x00, data.data(), data.size(), nullptr, 0);
}

Digest MerkleNodeHash(const Digest& left, const Digest& right) {
  return ThreadSha256().Hash(0x01, left.data(), left.size(), right.data(),
                             right.size());
}

Digest MerkleEmptyRoot() {
  return Sha256("");
}

absl::StatusOr<Digest> DigestFromBytes(absl::string_view bytes,
                                       absl::string_view field) {
  if (bytes.size() != kDigestBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", bytes.size(), " bytes, want ", kDigestBytes));
  }
  Digest d;
  std::copy(bytes.begin(), bytes.end(), d.begin());
  return d;
}

absl::StatusOr<std::vector<Digest>> DigestsFromBytes(
    const std::vector<std::string>& items, absl::string_view field) {
  std::vector<Digest> out;
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    auto d = DigestFromBytes(items[i], absl::StrCat(field, "[", i, "]"));
    if (!d.ok())
      return d.status();
    out.push_back(*d);
  }
  return out;
}

std::string DigestToBytes(const Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

size_t InclusionProofLength(uint64_t index, uint64_t size) {
  if (index >= size)
    return 0;
  int inner, border;
  Decompose(index, size, &inner, &border);
  return static_cast<size_t>(inner + border);
}

size_t ConsistencyProofLength(uint64_t size1, uint64_t size2) {
  if (size1 == 0 || size1 >= size2)
    return 0;
  int inner, border;
  Decompose(size1 - 1, size2, &inner, &border);
  const int shift = TrailingZeros(size1);
  inner -= shift;
  const int start = (size1 == (uint64_t{1} << shift)) ? 0 : 1;
  return static_cast<size_t>(start + inner + border);
}

absl::StatusOr<Digest> RootFromInclusionProof(uint64_t index, uint64_t size,
                                              const Digest& leaf_hash,
                                              absl::Span<const Digest> proof) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("inclusion proof: leaf index ", index,
                     " is not below tree size ", size));
  }
  int inner, border;
  Decompose(index, size, &inner, &border);
  const size_t want = static_cast<size_t>(inner + border);
  if (proof.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("inclusion proof: ", proof.size(), " hashes, want ", want,
                     " for leaf index ", index, " in a tree of size ", size));
  }
  Digest r = ChainInner(leaf_hash, proof.subspan(0, inner), index);
  return ChainBorderRight(r, proof.subspan(inner));
}

absl::Status VerifyInclusion(uint64_t index, uint64_t size,
                             const Digest& leaf_hash,
                             absl::Span<const Digest> proof,
                             const Digest& root) {
  auto computed = RootFromInclusionProof(index, size, leaf_hash, proof);
  if (!computed.ok())
    return computed.status();
  if (!DigestEquals(*computed, root)) {
    return absl::DataLossError(absl::StrCat(
        "inclusion proof: leaf index ", index, " in a tree of size ", size,
        " recomputes root ", ToHex(*computed), ", want ", ToHex(root)));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t size1, uint64_t size2,
                               absl::Span<const Digest> proof,
                               const Digest& root1, const Digest& root2) {
  if (size1 > size2) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency proof: old size ", size1,
                     " is larger than new size ", size2));
  }
  if (size1 == size2) {
    if (!proof.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("consistency proof: sizes are equal (", size1,
                       ") but the proof has ", proof.size(), " hashes"));
    }
    if (!DigestEquals(root1, root2)) {
      return absl::DataLossError(absl::StrCat(
          "consistency proof: two different roots for tree size ", size1));
    }
    return absl::OkStatus();
  }
  if (size1 == 0) {
    if (!proof.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "consistency proof: from size 0 the proof must be empty, it has ",
          proof.size(), " hashes"));
    }
    if (!DigestEquals(root1, MerkleEmptyRoot())) {
      return absl::DataLossError(
          "consistency proof: old root is not the empty tree's root");
    }
    return absl::OkStatus();
  }
  int inner, border;
  Decompose(size1 - 1, size2, &inner, &border);
  const int shift = TrailingZeros(size1);
  inner -= shift;  // shift < inner because size1 < size2
  // The proof starts with the root of the subtree of size 2^shift that ends at
  // size1, unless that subtree is the whole old tree (then it is root1).
  const bool old_is_perfect = size1 == (uint64_t{1} << shift);
  const size_t start = old_is_perfect ? 0 : 1;
  const size_t want = start + static_cast<size_t>(inner + border);
  if (proof.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency proof: ", proof.size(), " hashes, want ",
                     want, " from size ", size1, " to size ", size2));
  }
  const Digest seed = old_is_perfect ? root1 : proof[0];
  absl::Span<const Digest> rest = proof.subspan(start);
  const uint64_t mask = (size1 - 1) >> shift;

  Digest h1 = ChainInnerRight(seed, rest.subspan(0, inner), mask);
  h1 = ChainBorderRight(h1, rest.subspan(inner));
  if (!DigestEquals(h1, root1)) {
    return absl::DataLossError(
        absl::StrCat("consistency proof: old root (size ", size1,
                     ") recomputes ", ToHex(h1), ", want ", ToHex(root1)));
  }
  Digest h2 = ChainInner(seed, rest.subspan(0, inner), mask);
  h2 = ChainBorderRight(h2, rest.subspan(inner));
  if (!DigestEquals(h2, root2)) {
    return absl::DataLossError(
        absl::StrCat("consistency proof: new root (size ", size2,
                     ") recomputes ", ToHex(h2), ", want ", ToHex(root2)));
  }
  return absl::OkStatus();
}

Digest ReferenceRoot(absl::Span<const Digest> leaves) {
  if (leaves.empty())
    return MerkleEmptyRoot();
  if (leaves.size() == 1)
    return leaves[0];
  const uint64_t k = LargestPowerOfTwoBelow(leaves.size());
  return MerkleNodeHash(ReferenceRoot(leaves.subspan(0, k)),
                        ReferenceRoot(leaves.subspan(k)));
}

std::vector<Digest> ReferenceInclusionProof(absl::Span<const Digest> leaves,
                                            uint64_t index) {
  std::vector<Digest> out;
  ReferencePath(leaves, index, &out);
  return out;
}

std::vector<Digest> ReferenceConsistencyProof(absl::Span<const Digest> leaves,
                                              uint64_t size1) {
  std::vector<Digest> out;
  if (size1 == 0 || size1 >= leaves.size())
    return out;
  ReferenceSubProof(size1, leaves, true, &out);
  return out;
}

}  // namespace carelog::crypto
