// Tests for crypto/key_file.h: creating 0600 key files, loading them back,
// refusing group/world-accessible or malformed files, and keys from the
// environment.
#include "crypto/key_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::crypto {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::ReadFileOrEmpty;
using ::carelog::testing::StatusIs;
using ::carelog::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A fixed synthetic key in hex (not used anywhere real).
constexpr absl::string_view kHex =
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";

std::string KeyBytes(const SecretKey& key) {
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}

// Writes `contents` to `path` and sets its mode (chmod, so the umask is moot).
void WriteFileWithMode(const std::string& path, absl::string_view contents,
                       mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(out.good()) << path;
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    ASSERT_TRUE(out.good()) << path;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Sets the process umask for the scope of a test and restores it.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

// Sets an environment variable for the scope of a test and unsets it after.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value)
      : name_(std::move(name)) {
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }

 private:
  std::string name_;
};

TEST(KeyFileTest, CreateKeyFileWritesAnOwnerOnlyHexFile) {
  TempDir dir;
  const std::string path = dir.Sub("kek");
  auto key = CreateKeyFile(path);
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(ModeOf(path), 0600);
  const std::string contents = ReadFileOrEmpty(path);
  EXPECT_EQ(contents, absl::BytesToHexString(KeyBytes(**key)) + "\n");
}

TEST(KeyFileTest, CreateKeyFileIsOwnerOnlyEvenWithAPermissiveUmask) {
  ScopedUmask umask(0);
  TempDir dir;
  const std::string path = dir.Sub("kek");
  ASSERT_THAT(CreateKeyFile(path), IsOk());
  EXPECT_EQ(ModeOf(path), 0600);
}

TEST(KeyFileTest, CreatedKeyFileLoadsBackToTheSameKey) {
  TempDir dir;
  const std::string path = dir.Sub("kek");
  auto created = CreateKeyFile(path);
  ASSERT_THAT(created, IsOk());
  auto loaded = LoadKeyFile(path);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(KeyBytes(**loaded), KeyBytes(**created));
}

TEST(KeyFileTest, CreateKeyFileMakesAFreshKeyEachTime) {
  TempDir dir;
  auto a = CreateKeyFile(dir.Sub("a"));
  auto b = CreateKeyFile(dir.Sub("b"));
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(KeyBytes(**a), KeyBytes(**b));
}

TEST(KeyFileTest, WriteKeyFileThenLoadRoundTripsAGivenKey) {
  TempDir dir;
  const std::string path = dir.Sub("seed");
  auto key = SecretKey::FromHex(kHex, "test key");
  ASSERT_THAT(key, IsOk());
  ASSERT_THAT(WriteKeyFile(path, **key), IsOk());
  EXPECT_EQ(ModeOf(path), 0600);
  EXPECT_EQ(ReadFileOrEmpty(path), std::string(kHex) + "\n");
  auto loaded = LoadKeyFile(path);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(KeyBytes(**loaded), absl::HexStringToBytes(kHex));
}

TEST(KeyFileTest, LoadAcceptsAHandWrittenOwnerOnlyFile) {
  TempDir dir;
  for (const std::string& contents :
       {std::string(kHex), std::string(kHex) + "\n", std::string(kHex) + "\r\n",
        absl::AsciiStrToUpper(kHex) + "\n"}) {
    const std::string path = dir.Sub("kek");
    ::unlink(path.c_str());
    WriteFileWithMode(path, contents, 0600);
    auto key = LoadKeyFile(path);
    ASSERT_THAT(key, IsOk()) << absl::CEscape(contents);
    EXPECT_EQ(KeyBytes(**key), absl::HexStringToBytes(kHex));
  }
}

TEST(KeyFileTest, LoadAcceptsAReadOnlyOwnerFile) {
  TempDir dir;
  const std::string path = dir.Sub("kek");
  WriteFileWithMode(path, std::string(kHex) + "\n", 0400);
  EXPECT_THAT(LoadKeyFile(path), IsOk());
}

TEST(KeyFileTest, LoadRefusesGroupOrWorldAccessibleFileNamingModeAndFix) {
  TempDir dir;
  const std::string path = dir.Sub("kek");
  for (mode_t mode : {0640, 0604, 0644, 0660, 0666, 0700 | 0040, 0620, 0602}) {
    ::unlink(path.c_str());
    WriteFileWithMode(path, std::string(kHex) + "\n", mode);
    const std::string mode_text = absl::StrFormat("%04o", mode);
    auto key = LoadKeyFile(path);
    EXPECT_THAT(key, StatusIs(absl::StatusCode::kFailedPrecondition,
                              AllOf(HasSubstr("chmod 600"),
                                    HasSubstr(mode_text), HasSubstr(path))))
        << "mode " << mode_text;
    // The refusal never echoes the key it refused to read.
    EXPECT_THAT(std::string(key.status().message()),
                Not(HasSubstr(std::string(kHex))));
  }
}

TEST(KeyFileTest, LoadOfMissingFileIsNotFound) {
  TempDir dir;
  EXPECT_THAT(
      LoadKeyFile(dir.Sub("does-not-exist")),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("does-not-exist")));
}

TEST(KeyFileTest, LoadOfADirectoryIsFailedPrecondition) {
  TempDir dir;
  const std::string sub = dir.Sub("kek.d");
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  EXPECT_THAT(LoadKeyFile(sub),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(KeyFileTest, LoadRefusesToFollowASymlink) {
  TempDir dir;
  const std::string target = dir.Sub("real-kek");
  const std::string link = dir.Sub("kek");
  WriteFileWithMode(target, std::string(kHex) + "\n", 0600);
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_THAT(LoadKeyFile(link),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(KeyFileTest,
     CreateKeyFileOnExistingPathIsAlreadyExistsAndLeavesItUnchanged) {
  TempDir dir;
  const std::string path = dir.Sub("kek");
  auto first = CreateKeyFile(path);
  ASSERT_THAT(first, IsOk());
  const std::string before = ReadFileOrEmpty(path);

  EXPECT_THAT(CreateKeyFile(path), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReadFileOrEmpty(path), before);
  auto key = SecretKey::FromHex(kHex, "test key");
  ASSERT_THAT(key, IsOk());
  EXPECT_THAT(WriteKeyFile(path, **key),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReadFileOrEmpty(path), before);

  auto loaded = LoadKeyFile(path);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(KeyBytes(**loaded), KeyBytes(**first));
}

TEST(KeyFileTest, CreateKeyFileDoesNotWriteThroughASymlink) {
  TempDir dir;
  const std::string link = dir.Sub("kek");
  ASSERT_EQ(::symlink(dir.Sub("elsewhere").c_str(), link.c_str()), 0);
  EXPECT_THAT(CreateKeyFile(link), Not(IsOk()));
  EXPECT_EQ(::access(dir.Sub("elsewhere").c_str(), F_OK), -1);
}

TEST(KeyFileTest, CreateKeyFileInMissingDirectoryFails) {
  TempDir dir;
  EXPECT_THAT(CreateKeyFile(dir.Sub("no-such-dir/kek")),
              StatusIs(absl::StatusCode::kInternal));
}

TEST(KeyFileTest, MalformedContentsAreInvalidArgumentWithoutEchoingThem) {
  TempDir dir;
  const std::string hex(kHex);
  const std::string cases[] = {
      "",                            // empty
      "\n",                          // blank line
      hex.substr(0, 63) + "\n",      // one digit short
      hex + "0\n",                   // one digit long
      hex.substr(0, 60) + "wxyz\n",  // not hex
      hex + "\n" + hex + "\n",       // two keys
      std::string(300, 'a'),         // longer than any key file
      absl::HexStringToBytes(hex),   // raw binary instead of hex
  };
  for (const std::string& contents : cases) {
    const std::string path = dir.Sub("kek");
    ::unlink(path.c_str());
    WriteFileWithMode(path, contents, 0600);
    auto key = LoadKeyFile(path);
    EXPECT_THAT(key,
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path)))
        << absl::CEscape(contents);
    EXPECT_THAT(std::string(key.status().message()),
                Not(HasSubstr(hex.substr(0, 16))));
  }
}

TEST(KeyFileTest, LoadKeyFromEnvParsesAValidKey) {
  ScopedEnv env("CARELOG_TEST_KEK_VALID", std::string(kHex));
  auto key = LoadKeyFromEnv("CARELOG_TEST_KEK_VALID");
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(KeyBytes(**key), absl::HexStringToBytes(kHex));
}

TEST(KeyFileTest, LoadKeyFromEnvAcceptsATrailingNewline) {
  ScopedEnv env("CARELOG_TEST_KEK_NEWLINE", std::string(kHex) + "\n");
  auto key = LoadKeyFromEnv("CARELOG_TEST_KEK_NEWLINE");
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(KeyBytes(**key), absl::HexStringToBytes(kHex));
}

TEST(KeyFileTest, LoadKeyFromEnvOfUnsetVariableIsNotFound) {
  ::unsetenv("CARELOG_TEST_KEK_UNSET");
  EXPECT_THAT(LoadKeyFromEnv("CARELOG_TEST_KEK_UNSET"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("CARELOG_TEST_KEK_UNSET")));
}

TEST(KeyFileTest, LoadKeyFromEnvAfterUnsetIsNotFound) {
  {
    ScopedEnv env("CARELOG_TEST_KEK_SCOPED", std::string(kHex));
    ASSERT_THAT(LoadKeyFromEnv("CARELOG_TEST_KEK_SCOPED"), IsOk());
  }
  EXPECT_THAT(LoadKeyFromEnv("CARELOG_TEST_KEK_SCOPED"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(KeyFileTest,
     LoadKeyFromEnvOfMalformedValueIsInvalidArgumentWithoutEchoingIt) {
  const std::string hex(kHex);
  for (const std::string& value : {std::string(), hex.substr(0, 63), hex + "00",
                                   hex.substr(0, 62) + "zz"}) {
    ScopedEnv env("CARELOG_TEST_KEK_BAD", value);
    auto key = LoadKeyFromEnv("CARELOG_TEST_KEK_BAD");
    EXPECT_THAT(key, StatusIs(absl::StatusCode::kInvalidArgument,
                              HasSubstr("CARELOG_TEST_KEK_BAD")))
        << "value of " << value.size() << " chars";
    EXPECT_THAT(std::string(key.status().message()),
                Not(HasSubstr(hex.substr(0, 16))));
  }
}

}  // namespace
}  // namespace carelog::crypto
