// Runs the Merkle verifier fuzz property
// (tests/fuzz/merkle_verifier_property.h) over deterministic pseudo-random
// inputs, so that every CTest run exercises it even without a fuzzing
// toolchain.
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "tests/fuzz/merkle_verifier_property.h"

namespace carelog::fuzz {
namespace {

TEST(MerkleVerifierFuzzTest, RandomMutatedProofsAreAcceptedOnlyWhenTrue) {
  std::mt19937_64 rng(20261125);
  std::vector<uint8_t> input(48);
  int failures = 0;
  for (int iter = 0; iter < 30000 && failures < 5; ++iter) {
    for (auto& b : input)
      b = static_cast<uint8_t>(rng());
    std::string why;
    if (!CheckMerkleVerifier(input.data(), input.size(), &why)) {
      ADD_FAILURE() << "iteration " << iter << ": " << why;
      ++failures;
    }
  }
}

TEST(MerkleVerifierFuzzTest, EmptyAndShortInputsAreHandled) {
  std::string why;
  EXPECT_TRUE(CheckMerkleVerifier(nullptr, 0, &why)) << why;
  const uint8_t one[1] = {1};
  EXPECT_TRUE(CheckMerkleVerifier(one, 1, &why)) << why;
}

}  // namespace
}  // namespace carelog::fuzz
