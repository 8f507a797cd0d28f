#include "tests/testing/file_damage.h"

#include <filesystem>
#include <fstream>
#include <system_error>

namespace carelog::testing {

bool XorFileByte(const std::string& path, uint64_t offset, uint8_t mask) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  char c = 0;
  f.seekg(static_cast<std::streamoff>(offset));
  f.read(&c, 1);
  c = static_cast<char>(c ^ static_cast<char>(mask));
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  return f.good();
}

bool TruncateFile(const std::string& path, uint64_t length) {
  std::error_code ec;
  std::filesystem::resize_file(path, length, ec);
  return !ec;
}

bool SwapFileRanges(const std::string& path, uint64_t a, uint64_t b,
                    uint64_t length) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string ra(length, '\0'), rb(length, '\0');
  f.seekg(static_cast<std::streamoff>(a));
  f.read(ra.data(), static_cast<std::streamsize>(length));
  f.seekg(static_cast<std::streamoff>(b));
  f.read(rb.data(), static_cast<std::streamsize>(length));
  f.seekp(static_cast<std::streamoff>(a));
  f.write(rb.data(), static_cast<std::streamsize>(length));
  f.seekp(static_cast<std::streamoff>(b));
  f.write(ra.data(), static_cast<std::streamsize>(length));
  return f.good();
}

}  // namespace carelog::testing
