// Tests for crypto/hash.h: BLAKE2b-256 / SHA-256 known answers, the chain
// step, keyed BLAKE2b, hex encoding and constant-time digest comparison.
#include "crypto/hash.h"

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"

namespace carelog::crypto {
namespace {

using ::carelog::testing::IsOk;

std::unique_ptr<SecretKey> KeyFromBytes(absl::string_view bytes) {
  auto key = SecretKey::FromBytes(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_THAT(key, IsOk());
  return key.ok() ? std::move(*key) : nullptr;
}

// 0x00, 0x01, ..., 0x1f.
std::string SequentialKeyBytes() {
  std::string out;
  for (int i = 0; i < static_cast<int>(kKeyBytes); ++i)
    out.push_back(static_cast<char>(i));
  return out;
}

Digest DigestOfByte(uint8_t b) {
  Digest d;
  d.fill(b);
  return d;
}

absl::string_view AsBytes(const Digest& d) {
  return absl::string_view(reinterpret_cast<const char*>(d.data()), d.size());
}

TEST(HashTest, Sha256MatchesFips180KnownAnswers) {
  EXPECT_EQ(ToHex(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      ToHex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(HashTest, Blake2b256MatchesKnownAnswers) {
  EXPECT_EQ(ToHex(Blake2b256("")),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  EXPECT_EQ(ToHex(Blake2b256("abc")),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

TEST(HashTest, Blake2b256AndSha256DifferOnTheSameInput) {
  EXPECT_NE(Blake2b256("abc"), Sha256("abc"));
}

TEST(HashTest, HashesCoverEmbeddedNulBytes) {
  const std::string with_nul("a\0b", 3);
  EXPECT_NE(Blake2b256(with_nul), Blake2b256("a"));
  EXPECT_NE(Sha256(with_nul), Sha256("a"));
}

// Expected value computed with an independent implementation (CPython's
// hashlib.blake2b(b"abc", digest_size=32, key=bytes(range(32)))).
TEST(HashTest, KeyedBlake2b256MatchesKnownAnswer) {
  auto key = KeyFromBytes(SequentialKeyBytes());
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(ToHex(KeyedBlake2b256(*key, "abc")),
            "d63a32d3e44738d7907f964316c241adaba0abfeabc32349677578a15a203f7f");
}

TEST(HashTest, KeyedHashDiffersByKey) {
  auto a = SecretKey::Random();
  auto b = SecretKey::Random();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(KeyedBlake2b256(**a, "blind-index-value"),
            KeyedBlake2b256(**b, "blind-index-value"));

  // Keys one bit apart also give unrelated outputs.
  const std::string base = SequentialKeyBytes();
  std::string near = base;
  near[kKeyBytes - 1] ^= 0x01;
  auto k1 = KeyFromBytes(base);
  auto k2 = KeyFromBytes(near);
  ASSERT_NE(k1, nullptr);
  ASSERT_NE(k2, nullptr);
  EXPECT_NE(KeyedBlake2b256(*k1, "value"), KeyedBlake2b256(*k2, "value"));
}

TEST(HashTest, KeyedHashIsDeterministicAndDiffersByData) {
  auto key = SecretKey::Random();
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(KeyedBlake2b256(**key, "value"), KeyedBlake2b256(**key, "value"));
  EXPECT_NE(KeyedBlake2b256(**key, "value"), KeyedBlake2b256(**key, "valuf"));
  EXPECT_NE(KeyedBlake2b256(**key, ""),
            KeyedBlake2b256(**key, std::string(1, '\0')));
}

TEST(HashTest, KeyedHashDiffersFromUnkeyedHash) {
  auto key = SecretKey::Random();
  ASSERT_THAT(key, IsOk());
  EXPECT_NE(KeyedBlake2b256(**key, "value"), Blake2b256("value"));
}

TEST(HashTest, ChainHashEqualsBlake2bOfConcatenation) {
  const Digest prev = Blake2b256("previous event");
  const std::string header = "seq=2;stream=patient/0001;v=1";
  const std::string ciphertext("\x01\x02\x00\xff synthetic ciphertext", 25);
  EXPECT_EQ(ChainHash(prev, header, ciphertext),
            Blake2b256(std::string(AsBytes(prev)) + header + ciphertext));
  // Genesis: an all-zero previous hash and empty parts.
  const Digest zero{};
  EXPECT_EQ(ChainHash(zero, "", ""), Blake2b256(AsBytes(zero)));
  EXPECT_EQ(ChainHash(zero, header, ""),
            Blake2b256(std::string(AsBytes(zero)) + header));
  EXPECT_EQ(ChainHash(zero, "", ciphertext),
            Blake2b256(std::string(AsBytes(zero)) + ciphertext));
}

TEST(HashTest, ChainHashChangesWhenAnyInputByteChanges) {
  const Digest prev = Blake2b256("previous event");
  const std::string header = "seq=2;stream=patient/0001";
  const std::string ciphertext = "synthetic ciphertext bytes";
  const Digest base = ChainHash(prev, header, ciphertext);

  std::set<Digest> seen = {base};
  for (size_t i = 0; i < prev.size(); ++i) {
    Digest p = prev;
    p[i] ^= 0x01;
    const Digest d = ChainHash(p, header, ciphertext);
    EXPECT_NE(d, base) << "prev byte " << i;
    seen.insert(d);
  }
  for (size_t i = 0; i < header.size(); ++i) {
    std::string h = header;
    h[i] ^= 0x01;
    const Digest d = ChainHash(prev, h, ciphertext);
    EXPECT_NE(d, base) << "header byte " << i;
    seen.insert(d);
  }
  for (size_t i = 0; i < ciphertext.size(); ++i) {
    std::string c = ciphertext;
    c[i] ^= 0x01;
    const Digest d = ChainHash(prev, header, c);
    EXPECT_NE(d, base) << "ciphertext byte " << i;
    seen.insert(d);
  }
  // Every single-byte change gave a distinct digest.
  EXPECT_EQ(seen.size(), 1 + prev.size() + header.size() + ciphertext.size());

  // Dropping or appending bytes changes it too.
  EXPECT_NE(ChainHash(prev, header.substr(1), ciphertext), base);
  EXPECT_NE(ChainHash(prev, header, ciphertext + "x"), base);
  EXPECT_NE(
      ChainHash(prev, header, ciphertext.substr(0, ciphertext.size() - 1)),
      base);
}

TEST(HashTest, ChainLinksDependOnTheWholeHistory) {
  // Two chains that differ only in their first event differ at every later
  // head.
  Digest a{};
  Digest b{};
  a = ChainHash(a, "h1", "c1");
  b = ChainHash(b, "h1", "c1-altered");
  for (int i = 2; i <= 10; ++i) {
    const std::string h = "h" + std::to_string(i);
    a = ChainHash(a, h, "c");
    b = ChainHash(b, h, "c");
    EXPECT_NE(a, b) << "at link " << i;
  }
}

TEST(HashTest, ToHexIsLowerCaseAndTwoCharactersPerByte) {
  Digest d{};
  for (size_t i = 0; i < d.size(); ++i)
    d[i] = static_cast<uint8_t>(i * 8 + 1);
  const std::string hex = ToHex(d);
  EXPECT_EQ(hex,
            "0109111921293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9");
  EXPECT_EQ(hex.size(), 2 * kDigestBytes);
  std::string expected_ab;
  for (size_t i = 0; i < kDigestBytes; ++i)
    expected_ab += "ab";
  EXPECT_EQ(ToHex(DigestOfByte(0xab)), expected_ab);
  EXPECT_EQ(ToHex(Digest{}), std::string(2 * kDigestBytes, '0'));
}

TEST(HashTest, BytesToHexEncodesArbitraryBytes) {
  EXPECT_EQ(BytesToHex(""), "");
  EXPECT_EQ(BytesToHex(std::string("\x00\xff\x10\x0a", 4)), "00ff100a");
  EXPECT_EQ(BytesToHex("abc"), "616263");
}

TEST(HashTest, DigestEqualsComparesEveryByte) {
  const Digest a = Blake2b256("x");
  Digest same = a;
  EXPECT_TRUE(DigestEquals(a, same));
  EXPECT_TRUE(DigestEquals(Digest{}, Digest{}));
  for (size_t i = 0; i < a.size(); ++i) {
    Digest b = a;
    b[i] ^= 0x80;
    EXPECT_FALSE(DigestEquals(a, b)) << "byte " << i;
  }
  EXPECT_FALSE(DigestEquals(Blake2b256("x"), Blake2b256("y")));
}

}  // namespace
}  // namespace carelog::crypto
