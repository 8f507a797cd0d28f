// Tests for crypto/signing_key.h: Ed25519 sign/verify, RFC 8032 known answers,
// and seed files (0600, created once, reloaded to the same key).
#include "crypto/signing_key.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
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
using ::testing::HasSubstr;

// RFC 8032 section 7.1, TEST 1 (empty message).
constexpr absl::string_view kRfc8032Test1Seed =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr absl::string_view kRfc8032Test1PublicKey =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr absl::string_view kRfc8032Test1Signature =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590"
    "a33bacc61e39701cf9b"
    "46bd25bf5f0595bbe24655141438e7a100b";

std::unique_ptr<SigningKey> FromSeedHex(absl::string_view hex) {
  const std::string seed = absl::HexStringToBytes(hex);
  auto key = SigningKey::FromSeed(reinterpret_cast<const uint8_t*>(seed.data()),
                                  seed.size());
  EXPECT_THAT(key, IsOk());
  return key.ok() ? std::move(*key) : nullptr;
}

std::unique_ptr<SigningKey> Generated() {
  auto key = SigningKey::Generate();
  EXPECT_THAT(key, IsOk());
  return key.ok() ? std::move(*key) : nullptr;
}

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& bytes) {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(SigningKeyTest, SignThenVerifyRoundTrips) {
  auto key = Generated();
  ASSERT_NE(key, nullptr);
  const std::string message = "checkpoint seq=42 head=00ff";
  const Signature sig = key->Sign(message);
  EXPECT_TRUE(VerifySignature(key->public_key(), message, sig));
}

TEST(SigningKeyTest, SignsAndVerifiesTheEmptyMessage) {
  auto key = Generated();
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(VerifySignature(key->public_key(), "", key->Sign("")));
}

TEST(SigningKeyTest, SignatureIsDeterministic) {
  auto key = Generated();
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(key->Sign("checkpoint"), key->Sign("checkpoint"));
  EXPECT_NE(key->Sign("checkpoint"), key->Sign("checkpoint."));
}

TEST(SigningKeyTest, VerifyFailsForAlteredMessage) {
  auto key = Generated();
  ASSERT_NE(key, nullptr);
  const std::string message = "checkpoint seq=42";
  const Signature sig = key->Sign(message);
  for (size_t i = 0; i < message.size(); ++i) {
    std::string altered = message;
    altered[i] ^= 0x01;
    EXPECT_FALSE(VerifySignature(key->public_key(), altered, sig))
        << "byte " << i;
  }
  EXPECT_FALSE(VerifySignature(key->public_key(), message + "0", sig));
  EXPECT_FALSE(VerifySignature(key->public_key(), message.substr(1), sig));
  EXPECT_FALSE(VerifySignature(key->public_key(), "", sig));
}

TEST(SigningKeyTest, VerifyFailsForAlteredSignature) {
  auto key = Generated();
  ASSERT_NE(key, nullptr);
  const std::string message = "checkpoint seq=42";
  const Signature sig = key->Sign(message);
  for (size_t i = 0; i < sig.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      Signature altered = sig;
      altered[i] ^= mask;
      EXPECT_FALSE(VerifySignature(key->public_key(), message, altered))
          << "byte " << i << " mask " << static_cast<int>(mask);
    }
  }
  EXPECT_FALSE(VerifySignature(key->public_key(), message, Signature{}));
}

TEST(SigningKeyTest, VerifyFailsUnderAnotherKey) {
  auto key = Generated();
  auto other = Generated();
  ASSERT_NE(key, nullptr);
  ASSERT_NE(other, nullptr);
  EXPECT_NE(key->public_key(), other->public_key());
  const Signature sig = key->Sign("checkpoint");
  EXPECT_FALSE(VerifySignature(other->public_key(), "checkpoint", sig));
  EXPECT_FALSE(VerifySignature(PublicKey{}, "checkpoint", sig));
}

TEST(SigningKeyTest, FromSeedMatchesRfc8032Test1) {
  auto key = FromSeedHex(kRfc8032Test1Seed);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(Hex(key->public_key()), kRfc8032Test1PublicKey);
  const Signature sig = key->Sign("");
  EXPECT_EQ(Hex(sig), kRfc8032Test1Signature);
  EXPECT_TRUE(VerifySignature(key->public_key(), "", sig));
}

TEST(SigningKeyTest, VerifiesTheRfc8032Test1SignatureFromPublicKeyAlone) {
  const std::string pk_bytes = absl::HexStringToBytes(kRfc8032Test1PublicKey);
  const std::string sig_bytes = absl::HexStringToBytes(kRfc8032Test1Signature);
  PublicKey pk;
  Signature sig;
  ASSERT_EQ(pk_bytes.size(), pk.size());
  ASSERT_EQ(sig_bytes.size(), sig.size());
  std::copy(pk_bytes.begin(), pk_bytes.end(), pk.begin());
  std::copy(sig_bytes.begin(), sig_bytes.end(), sig.begin());
  EXPECT_TRUE(VerifySignature(pk, "", sig));
  EXPECT_FALSE(VerifySignature(pk, std::string(1, '\0'), sig));
}

TEST(SigningKeyTest, FromSeedIsDeterministic) {
  auto a = FromSeedHex(kRfc8032Test1Seed);
  auto b = FromSeedHex(kRfc8032Test1Seed);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->public_key(), b->public_key());
  EXPECT_EQ(a->Sign("checkpoint"), b->Sign("checkpoint"));
}

TEST(SigningKeyTest, FromSeedWithWrongSizeIsInvalidArgument) {
  const std::string seed(64, '\x07');
  for (size_t len : {size_t{0}, size_t{31}, size_t{33}, size_t{64}}) {
    EXPECT_THAT(SigningKey::FromSeed(
                    reinterpret_cast<const uint8_t*>(seed.data()), len),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << len << " bytes";
  }
}

TEST(SigningKeyTest, GeneratedKeysDiffer) {
  auto a = Generated();
  auto b = Generated();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a->public_key(), b->public_key());
}

TEST(SigningKeyTest,
     LoadOrCreateFileCreatesAnOwnerOnlyFileAndReloadsTheSameKey) {
  TempDir dir;
  const std::string path = dir.Sub("checkpoint-signing.key");
  auto created = SigningKey::LoadOrCreateFile(path);
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(ModeOf(path), 0600);
  const std::string contents = ReadFileOrEmpty(path);
  EXPECT_EQ(contents.size(), 65u);

  auto reloaded = SigningKey::LoadOrCreateFile(path);
  ASSERT_THAT(reloaded, IsOk());
  EXPECT_EQ((*reloaded)->public_key(), (*created)->public_key());
  EXPECT_EQ(ReadFileOrEmpty(path), contents);  // not rewritten

  auto loaded = SigningKey::LoadFile(path);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ((*loaded)->public_key(), (*created)->public_key());
  // A signature by one instance verifies under the other's public key.
  EXPECT_TRUE(VerifySignature((*loaded)->public_key(), "checkpoint",
                              (*created)->Sign("checkpoint")));
}

TEST(SigningKeyTest, LoadFileUsesTheSeedInTheFile) {
  TempDir dir;
  const std::string path = dir.Sub("seed");
  {
    std::ofstream out(path);
    out << kRfc8032Test1Seed << "\n";
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto key = SigningKey::LoadFile(path);
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(Hex((*key)->public_key()), kRfc8032Test1PublicKey);
}

TEST(SigningKeyTest, LoadFileOfMissingFileIsNotFound) {
  TempDir dir;
  EXPECT_THAT(SigningKey::LoadFile(dir.Sub("missing")),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(SigningKeyTest,
     LoadOrCreateFileRefusesAWorldReadableSeedInsteadOfReplacingIt) {
  TempDir dir;
  const std::string path = dir.Sub("seed");
  {
    std::ofstream out(path);
    out << kRfc8032Test1Seed << "\n";
  }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_THAT(
      SigningKey::LoadOrCreateFile(path),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("chmod 600")));
  EXPECT_EQ(ReadFileOrEmpty(path), std::string(kRfc8032Test1Seed) + "\n");
}

TEST(SigningKeyTest,
     LoadOrCreateFileRefusesAMalformedSeedInsteadOfReplacingIt) {
  TempDir dir;
  const std::string path = dir.Sub("seed");
  {
    std::ofstream out(path);
    out << "not a seed\n";
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_THAT(SigningKey::LoadOrCreateFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ReadFileOrEmpty(path), "not a seed\n");
}

}  // namespace
}  // namespace carelog::crypto
