// policies/sha256.h — SHA-256 (FIPS 180-4) of a byte string, as hex.
//
// policies/ may depend only on absl (and yaml-cpp privately), so it cannot
// reach crypto/'s libsodium hashing; a policy's hash is computed here. Tested
// against the FIPS 180-4 example vectors in tests/policies/sha256_test.cc.
// Thread-safety: pure function.
#ifndef CARELOG_POLICIES_SHA256_H_
#define CARELOG_POLICIES_SHA256_H_

#include <string>

#include "absl/strings/string_view.h"

namespace carelog::policies {

// Lower-case hex SHA-256 digest (64 characters) of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

}  // namespace carelog::policies

#endif  // CARELOG_POLICIES_SHA256_H_
