// tests/fuzz/merkle_verifier_fuzz.cc — libFuzzer entry point for the Merkle
// proof verifiers (crypto/merkle.h): a verifier that accepts a bad proof is
// the worst bug this project can have. The property is in
// merkle_verifier_property.h; CTest runs the same property over 30,000
// deterministic random inputs (tests/crypto/merkle_fuzz_test.cc). Built by
// tests/fuzz/CMakeLists.txt (-DCARELOG_FUZZ=ON) and, without libFuzzer, as
// merkle_verifier_fuzz_replay (tests/fuzz/replay.cmake).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/merkle_verifier_property.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  carelog::fuzz::CheckMerkleVerifier(data, size, nullptr);
  return 0;
}
