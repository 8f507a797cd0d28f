// Tests for crypto/secret_key.h: construction from random, bytes and hex, and
// error messages that name the source but never echo key material.
#include "crypto/secret_key.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"

namespace carelog::crypto {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// A fixed synthetic key in hex (not used anywhere real).
constexpr absl::string_view kHex =
    "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210";

std::string KeyBytes(const SecretKey& key) {
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}

TEST(SecretKeyTest, EnsureSodiumIsIdempotent) {
  EXPECT_THAT(EnsureSodium(), IsOk());
  EXPECT_THAT(EnsureSodium(), IsOk());
}

TEST(SecretKeyTest, RandomBytesFillsTheWholeBuffer) {
  ASSERT_THAT(EnsureSodium(), IsOk());
  uint8_t a[64];
  uint8_t b[64];
  std::memset(a, 0, sizeof a);
  std::memset(b, 0, sizeof b);
  RandomBytes(a, sizeof a);
  RandomBytes(b, sizeof b);
  EXPECT_NE(std::memcmp(a, b, sizeof a), 0);
  // The last 16 bytes are written too (all zero has probability 2^-128).
  EXPECT_NE(std::string(reinterpret_cast<char*>(a) + 48, 16),
            std::string(16, '\0'));
}

TEST(SecretKeyTest, RandomKeysAreKeySizedAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto key = SecretKey::Random();
    ASSERT_THAT(key, IsOk());
    EXPECT_EQ((*key)->size(), kKeyBytes);
    seen.insert(KeyBytes(**key));
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(SecretKey::size(), 32u);
}

TEST(SecretKeyTest, FromBytesCopiesTheCallersBytes) {
  std::string bytes = absl::HexStringToBytes(kHex);
  auto key = SecretKey::FromBytes(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(KeyBytes(**key), bytes);
  EXPECT_NE(static_cast<const void*>((*key)->data()),
            static_cast<const void*>(bytes.data()));
  // The caller wiping its copy does not affect the key.
  const std::string original = bytes;
  std::fill(bytes.begin(), bytes.end(), '\0');
  EXPECT_EQ(KeyBytes(**key), original);
}

TEST(SecretKeyTest, FromBytesWithWrongSizeIsInvalidArgument) {
  const std::string bytes(2 * kKeyBytes, '\x42');
  for (size_t len :
       {size_t{0}, size_t{1}, kKeyBytes - 1, kKeyBytes + 1, 2 * kKeyBytes}) {
    EXPECT_THAT(SecretKey::FromBytes(
                    reinterpret_cast<const uint8_t*>(bytes.data()), len),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(std::to_string(len))))
        << len << " bytes";
  }
}

TEST(SecretKeyTest, FromHexParsesSixtyFourHexCharacters) {
  auto key = SecretKey::FromHex(kHex, "test key");
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(KeyBytes(**key), absl::HexStringToBytes(kHex));
}

TEST(SecretKeyTest, FromHexAcceptsUpperCase) {
  auto lower = SecretKey::FromHex(kHex, "test key");
  auto upper = SecretKey::FromHex(absl::AsciiStrToUpper(kHex), "test key");
  ASSERT_THAT(lower, IsOk());
  ASSERT_THAT(upper, IsOk());
  EXPECT_EQ(KeyBytes(**lower), KeyBytes(**upper));
}

TEST(SecretKeyTest, FromHexIgnoresTrailingNewlineAndSurroundingSpaces) {
  const std::string expected = absl::HexStringToBytes(kHex);
  for (const std::string& text :
       {std::string(kHex) + "\n", std::string(kHex) + "\r\n",
        std::string(kHex) + " \n\n", " " + std::string(kHex),
        "\n" + std::string(kHex) + "\n"}) {
    auto key = SecretKey::FromHex(text, "test key");
    ASSERT_THAT(key, IsOk()) << absl::CEscape(text);
    EXPECT_EQ(KeyBytes(**key), expected);
  }
}

TEST(SecretKeyTest, FromHexRejectsWrongLengthWithInvalidArgument) {
  const std::string hex(kHex);
  EXPECT_THAT(SecretKey::FromHex(hex.substr(0, 63), "test key"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("63")));
  EXPECT_THAT(SecretKey::FromHex(hex + "0", "test key"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("65")));
  EXPECT_THAT(SecretKey::FromHex(hex.substr(0, 62), "test key"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SecretKey::FromHex(hex + hex, "test key"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SecretKey::FromHex("", "test key"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SecretKey::FromHex("\n", "test key"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SecretKeyTest, FromHexRejectsNonHexCharactersAtAnyPosition) {
  for (size_t pos :
       {size_t{0}, size_t{1}, size_t{31}, size_t{32}, size_t{62}, size_t{63}}) {
    for (char bad : {'g', 'G', 'z', ' ', ':', '\0', 'x'}) {
      std::string text(kHex);
      text[pos] = bad;
      EXPECT_THAT(SecretKey::FromHex(text, "test key"),
                  StatusIs(absl::StatusCode::kInvalidArgument))
          << "position " << pos << " char " << static_cast<int>(bad);
    }
  }
}

TEST(SecretKeyTest, FromHexRejectsSeparatorsInsideTheKey) {
  // 64 hex digits split by a colon: right digit count, wrong format.
  std::string text(kHex);
  text.insert(32, ":");
  EXPECT_THAT(SecretKey::FromHex(text, "test key"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SecretKeyTest, FromHexErrorNamesTheSourceButNeverEchoesTheInput) {
  const std::string hex(kHex);
  const std::string non_hex = hex.substr(0, 40) + "zz" + hex.substr(42);
  for (const std::string& text : {hex.substr(0, 63), hex + "a", non_hex}) {
    auto key = SecretKey::FromHex(text, "KEK file /etc/carelog/kek");
    ASSERT_THAT(key, StatusIs(absl::StatusCode::kInvalidArgument,
                              HasSubstr("KEK file /etc/carelog/kek")));
    const std::string message(key.status().message());
    // No 8-character piece of the (secret) input appears in the message.
    for (size_t i = 0; i + 8 <= text.size(); ++i) {
      EXPECT_THAT(message, Not(HasSubstr(text.substr(i, 8))))
          << "window at " << i;
    }
  }
}

TEST(SecretKeyTest, DistinctHexGivesDistinctKeys) {
  std::string other(kHex);
  other[63] = '1';
  auto a = SecretKey::FromHex(kHex, "a");
  auto b = SecretKey::FromHex(other, "b");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(KeyBytes(**a), KeyBytes(**b));
}

}  // namespace
}  // namespace carelog::crypto
