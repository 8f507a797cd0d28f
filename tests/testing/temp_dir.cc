#include "tests/testing/temp_dir.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace carelog::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl =
      std::string(base != nullptr ? base : "/tmp") + "/carelog-test-XXXXXX";
  char* p = ::mkdtemp(tmpl.data());
  if (p == nullptr)
    std::abort();
  path_ = p;
}

TempDir::~TempDir() {
  if (std::getenv("CARELOG_KEEP_TEST_DIRS") != nullptr)
    return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> ListFilesRecursive(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec))
      out.push_back(it->path().string());
  }
  return out;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace carelog::testing
