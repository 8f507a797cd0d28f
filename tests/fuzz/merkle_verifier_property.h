// tests/fuzz/merkle_verifier_property.h — the property every Merkle proof
// verifier input must satisfy, shared by the libFuzzer target
// (merkle_verifier_fuzz.cc) and the deterministic random driver that runs in
// CTest (tests/crypto/merkle_fuzz_test.cc).
//
// From arbitrary bytes: a tree of up to 130 leaves, a statement (inclusion of
// leaf i in the tree of size n, or consistency from size m to n, each with the
// true root(s) of the sizes claimed) and a proof derived from the reference
// proof by byte-chosen mutations (bit flips, insertions, deletions, swaps,
// replacements, other sizes or indexes, another leaf). The verifier must
// accept exactly when the claim is true and the proof is the reference proof:
// with the roots fixed to the true roots, accepting anything else would mean
// either a bug or a SHA-256 collision.
#ifndef CARELOG_TESTS_FUZZ_MERKLE_VERIFIER_PROPERTY_H_
#define CARELOG_TESTS_FUZZ_MERKLE_VERIFIER_PROPERTY_H_

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

#include "crypto/merkle.h"

namespace carelog::fuzz {

class ByteSource {
 public:
  ByteSource(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint64_t Upto(uint64_t n) {  // 0 … n-1 (n > 0)
    const uint64_t v = (uint64_t{Byte()} << 8) | Byte();
    return v % n;
  }
  bool done() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

struct MerkleFixture {
  static constexpr uint64_t kMaxLeaves = 130;
  std::vector<crypto::Digest> leaves;
  std::vector<crypto::Digest> roots;  // roots[n] = root of the first n leaves
  MerkleFixture() {
    for (uint64_t i = 0; i < kMaxLeaves; ++i)
      leaves.push_back(crypto::MerkleLeafHash(absl::StrCat("leaf ", i)));
    for (uint64_t n = 0; n <= kMaxLeaves; ++n)
      roots.push_back(
          crypto::ReferenceRoot(absl::MakeConstSpan(leaves).subspan(0, n)));
  }
};

// Mutates `proof` as `src` says. Returns true if anything changed.
inline void MutateProof(ByteSource& src, std::vector<crypto::Digest>* proof,
                        const MerkleFixture& f) {
  const int steps = src.Byte() % 4;
  for (int s = 0; s < steps; ++s) {
    const uint8_t op = src.Byte() % 6;
    const size_t n = proof->size();
    switch (op) {
      case 0:  // flip a bit
        if (n > 0) {
          const size_t i = src.Upto(n);
          (*proof)[i][src.Byte() % crypto::kDigestBytes] ^=
              static_cast<uint8_t>(1u << (src.Byte() % 8));
        }
        break;
      case 1:  // insert a plausible hash (a real leaf or root)
        proof->insert(proof->begin() + src.Upto(n + 1),
                      src.Byte() % 2 ? f.leaves[src.Upto(f.leaves.size())]
                                     : f.roots[src.Upto(f.roots.size())]);
        break;
      case 2:  // delete
        if (n > 0)
          proof->erase(proof->begin() + src.Upto(n));
        break;
      case 3:  // swap two
        if (n > 1)
          std::swap((*proof)[src.Upto(n)], (*proof)[src.Upto(n)]);
        break;
      case 4:  // replace by another real hash
        if (n > 0)
          (*proof)[src.Upto(n)] = f.leaves[src.Upto(f.leaves.size())];
        break;
      default:  // leave as is
        break;
    }
  }
}

// Aborts (a fuzzer finding) when the property does not hold; returns a
// description of a violation for the gtest driver instead when `why` is set.
inline bool CheckMerkleVerifier(const uint8_t* data, size_t size,
                                std::string* why) {
  static const MerkleFixture* const f = new MerkleFixture();
  ByteSource src(data, size);
  const auto all = absl::MakeConstSpan(f->leaves);
  const uint64_t total = MerkleFixture::kMaxLeaves;
  if (src.Byte() % 2 == 0) {
    // Inclusion.
    const uint64_t n = 1 + src.Upto(total);
    const uint64_t i = src.Upto(n);
    std::vector<crypto::Digest> proof =
        crypto::ReferenceInclusionProof(all.subspan(0, n), i);
    const std::vector<crypto::Digest> original = proof;
    MutateProof(src, &proof, *f);
    uint64_t ci = i, cn = n;
    crypto::Digest leaf = f->leaves[i];
    switch (src.Byte() % 5) {
      case 0:
        ci = src.Upto(total + 2);
        break;
      case 1:
        cn = src.Upto(total + 1);
        break;
      case 2:
        leaf = f->leaves[src.Upto(total)];
        break;
      default:
        break;
    }
    const crypto::Digest root = cn <= total ? f->roots[cn] : f->roots[n];
    const bool accepted =
        crypto::VerifyInclusion(ci, cn, leaf, proof, root).ok();
    const bool truth =
        ci < cn && cn <= total && crypto::DigestEquals(leaf, f->leaves[ci]) &&
        proof == crypto::ReferenceInclusionProof(all.subspan(0, cn), ci);
    if (accepted != truth) {
      if (why == nullptr)
        std::abort();
      *why = absl::StrCat("inclusion i=", ci, " n=", cn, " (from i=", i,
                          " n=", n, ") proof ", proof.size(), " hashes (was ",
                          original.size(), "): accepted=", accepted,
                          " true=", truth);
      return false;
    }
    return true;
  }
  // Consistency.
  const uint64_t n = 1 + src.Upto(total);
  const uint64_t m = src.Upto(n + 1);
  std::vector<crypto::Digest> proof =
      crypto::ReferenceConsistencyProof(all.subspan(0, n), m);
  MutateProof(src, &proof, *f);
  uint64_t cm = m, cn = n;
  switch (src.Byte() % 4) {
    case 0:
      cm = src.Upto(total + 1);
      break;
    case 1:
      cn = src.Upto(total + 1);
      break;
    default:
      break;
  }
  const crypto::Digest r1 = f->roots[cm <= total ? cm : 0];
  const crypto::Digest r2 = f->roots[cn <= total ? cn : 0];
  const bool accepted = crypto::VerifyConsistency(cm, cn, proof, r1, r2).ok();
  const bool truth =
      cm <= cn && cn <= total &&
      proof == crypto::ReferenceConsistencyProof(all.subspan(0, cn), cm);
  if (accepted != truth) {
    if (why == nullptr)
      std::abort();
    *why = absl::StrCat("consistency m=", cm, " n=", cn, " (from m=", m,
                        " n=", n, ") proof ", proof.size(),
                        " hashes: accepted=", accepted, " true=", truth);
    return false;
  }
  return true;
}

}  // namespace carelog::fuzz

#endif  // CARELOG_TESTS_FUZZ_MERKLE_VERIFIER_PROPERTY_H_
