// tests/fuzz/fuzz_check.h — the tiny helpers every libFuzzer target here
// shares: a view of the input and a property check that aborts (so libFuzzer
// records the input as a crash) with a message naming the property.
// Header-only; thread-safe (stateless).
#ifndef CARELOG_TESTS_FUZZ_FUZZ_CHECK_H_
#define CARELOG_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/string_view.h"

namespace carelog::fuzz {

inline absl::string_view Bytes(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// Aborts with `property` on stderr when `ok` is false.
inline void Check(bool ok, const char* property) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", property);
    std::abort();
  }
}

}  // namespace carelog::fuzz

#endif  // CARELOG_TESTS_FUZZ_FUZZ_CHECK_H_
