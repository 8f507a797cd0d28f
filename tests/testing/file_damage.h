// tests/testing/file_damage.h — damage files on purpose, as a bad disk or an
// attacker with access to a data directory would: flip bits of one byte, cut
// a file short, swap two byte ranges. Each returns false if the file could
// not be read or written. Not thread-safe on the same file.
#ifndef CARELOG_TESTS_TESTING_FILE_DAMAGE_H_
#define CARELOG_TESTS_TESTING_FILE_DAMAGE_H_

#include <cstdint>
#include <string>

namespace carelog::testing {

// XORs the byte at `offset` with `mask` (mask != 0 changes it).
bool XorFileByte(const std::string& path, uint64_t offset, uint8_t mask);

// Cuts the file to `length` bytes.
bool TruncateFile(const std::string& path, uint64_t length);

// Exchanges the `length` bytes at `a` with those at `b` (ranges must not
// overlap and must lie inside the file).
bool SwapFileRanges(const std::string& path, uint64_t a, uint64_t b,
                    uint64_t length);

}  // namespace carelog::testing

#endif  // CARELOG_TESTS_TESTING_FILE_DAMAGE_H_
