// crypto/merkle.h — RFC 6962 / RFC 9162 Merkle tree hashing and pure proof
// verification, usable by a client that trusts nothing but its own inputs.
//
//   leaf hash = SHA-256(0x00 ‖ leaf bytes)
//   node hash = SHA-256(0x01 ‖ left ‖ right)
//   root of the empty tree = SHA-256("")
//
// Leaves are numbered from 0; a tree of size n holds leaves 0 … n-1. The
// verifiers check the proof's shape first (index and sizes, exact number of
// hashes) and then recompute the root(s); nothing is trusted from the proof.
// Also here: an O(n) in-memory reference implementation of MTH, PATH and
// PROOF (RFC 9162 §2.1) — the ground truth tests compare the stored tree with.
// Stateless free functions; thread-safe.
#ifndef CARELOG_CRYPTO_MERKLE_H_
#define CARELOG_CRYPTO_MERKLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "crypto/hash.h"

namespace carelog::crypto {

// SHA-256(0x00 ‖ data).
Digest MerkleLeafHash(absl::string_view data);
// SHA-256(0x01 ‖ left ‖ right).
Digest MerkleNodeHash(const Digest& left, const Digest& right);
// SHA-256 of the empty string: the root of a tree of size 0.
Digest MerkleEmptyRoot();

// Converts wire bytes to digests. Errors: INVALID_ARGUMENT naming `field` and
// the index of the first element that is not exactly 32 bytes.
absl::StatusOr<std::vector<Digest>> DigestsFromBytes(
    const std::vector<std::string>& items, absl::string_view field);
absl::StatusOr<Digest> DigestFromBytes(absl::string_view bytes,
                                       absl::string_view field);
std::string DigestToBytes(const Digest& d);

// The number of hashes in an inclusion proof for `index` in a tree of `size`
// (0 when index >= size) and in a consistency proof from size1 to size2
// (0 when size1 == 0 or size1 >= size2).
size_t InclusionProofLength(uint64_t index, uint64_t size);
size_t ConsistencyProofLength(uint64_t size1, uint64_t size2);

// The root a valid inclusion proof of `leaf_hash` at `index` implies.
// Errors: INVALID_ARGUMENT if index >= size or the proof does not have exactly
// InclusionProofLength(index, size) hashes.
absl::StatusOr<Digest> RootFromInclusionProof(uint64_t index, uint64_t size,
                                              const Digest& leaf_hash,
                                              absl::Span<const Digest> proof);

// OK iff `proof` proves that `leaf_hash` is leaf `index` of the tree of
// `size` whose root is `root`. Errors: INVALID_ARGUMENT for a malformed proof
// (index out of range, wrong number of hashes); DATA_LOSS when the recomputed
// root differs from `root`.
absl::Status VerifyInclusion(uint64_t index, uint64_t size,
                             const Digest& leaf_hash,
                             absl::Span<const Digest> proof,
                             const Digest& root);

// OK iff `proof` proves that the tree of size1 with root1 is a prefix of the
// tree of size2 with root2. size1 == size2 needs an empty proof and equal
// roots; size1 == 0 needs an empty proof and root1 = MerkleEmptyRoot().
// Errors: INVALID_ARGUMENT for size1 > size2 or a wrong number of hashes;
// DATA_LOSS when root1 or root2 does not recompute (the message says which).
absl::Status VerifyConsistency(uint64_t size1, uint64_t size2,
                               absl::Span<const Digest> proof,
                               const Digest& root1, const Digest& root2);

// Reference implementation (RFC 9162 §2.1.1–2.1.4), O(n) over leaf hashes.
Digest ReferenceRoot(absl::Span<const Digest> leaf_hashes);
// PATH(index, leaves). Requires index < leaves.size().
std::vector<Digest> ReferenceInclusionProof(absl::Span<const Digest> leaves,
                                            uint64_t index);
// PROOF(size1, leaves). Requires 0 < size1 <= leaves.size().
std::vector<Digest> ReferenceConsistencyProof(absl::Span<const Digest> leaves,
                                              uint64_t size1);

}  // namespace carelog::crypto

#endif  // CARELOG_CRYPTO_MERKLE_H_
