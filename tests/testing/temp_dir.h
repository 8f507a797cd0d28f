// tests/testing/temp_dir.h — a fresh temporary directory per test, removed
// (recursively) on destruction unless CARELOG_KEEP_TEST_DIRS is set.
#ifndef CARELOG_TESTS_TESTING_TEMP_DIR_H_
#define CARELOG_TESTS_TESTING_TEMP_DIR_H_

#include <string>
#include <vector>

namespace carelog::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Every regular file below `dir`, recursively.
std::vector<std::string> ListFilesRecursive(const std::string& dir);
// Whole contents of a file ("" if unreadable).
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace carelog::testing

#endif  // CARELOG_TESTS_TESTING_TEMP_DIR_H_
