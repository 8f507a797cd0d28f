// Tests for crypto/aead.h: XChaCha20-Poly1305-IETF seal/open, tamper detection
// (every failure is DATA_LOSS) and the draft-irtf-cfrg-xchacha known answer.
#include "crypto/aead.h"

#include <algorithm>
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
using ::carelog::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<SecretKey> NewKey() {
  auto key = SecretKey::Random();
  EXPECT_THAT(key, IsOk());
  return key.ok() ? std::move(*key) : nullptr;
}

std::unique_ptr<SecretKey> KeyFromHex(absl::string_view hex) {
  const std::string bytes = absl::HexStringToBytes(hex);
  auto key = SecretKey::FromBytes(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_THAT(key, IsOk());
  return key.ok() ? std::move(*key) : nullptr;
}

Nonce NonceFromHex(absl::string_view hex) {
  const std::string bytes = absl::HexStringToBytes(hex);
  Nonce n{};
  EXPECT_EQ(bytes.size(), n.size());
  std::copy(bytes.begin(), bytes.begin() + std::min(bytes.size(), n.size()),
            n.begin());
  return n;
}

TEST(AeadTest, SealThenOpenRoundTrips) {
  auto key = SecretKey::Random();
  ASSERT_THAT(key, IsOk());
  Nonce n = RandomNonce();
  std::string ct = Seal(**key, n, "synthetic payload", "header");
  EXPECT_EQ(ct.size(), 17 + kTagBytes);
  auto pt = Open(**key, n, ct, "header");
  ASSERT_THAT(pt, IsOk());
  EXPECT_EQ(*pt, "synthetic payload");
}

TEST(AeadTest, EmptyPlaintextSealsToTagOnlyAndRoundTrips) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, "", "header");
  EXPECT_EQ(ct.size(), kTagBytes);
  auto pt = Open(*key, n, ct, "header");
  ASSERT_THAT(pt, IsOk());
  EXPECT_EQ(*pt, "");
  // The tag still authenticates the header even with nothing to encrypt.
  EXPECT_THAT(Open(*key, n, ct, "other-header"),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AeadTest, EmptyAssociatedDataRoundTrips) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, "synthetic payload", "");
  auto pt = Open(*key, n, ct, "");
  ASSERT_THAT(pt, IsOk());
  EXPECT_EQ(*pt, "synthetic payload");
  EXPECT_THAT(Open(*key, n, ct, std::string(1, '\0')),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AeadTest, BinaryPlaintextWithEmbeddedNulsRoundTrips) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  std::string plaintext;
  for (int i = 0; i < 256; ++i)
    plaintext.push_back(static_cast<char>(i));
  plaintext += std::string(3, '\0');
  const std::string header("hdr\0with\0nuls", 13);
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, plaintext, header);
  EXPECT_EQ(ct.size(), plaintext.size() + kTagBytes);
  auto pt = Open(*key, n, ct, header);
  ASSERT_THAT(pt, IsOk());
  EXPECT_EQ(*pt, plaintext);
}

TEST(AeadTest, LargePlaintextRoundTrips) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  std::string plaintext(1 << 20, '\0');
  for (size_t i = 0; i < plaintext.size(); ++i)
    plaintext[i] = static_cast<char>(i * 31 + 7);
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, plaintext, "header");
  auto pt = Open(*key, n, ct, "header");
  ASSERT_THAT(pt, IsOk());
  EXPECT_EQ(*pt, plaintext);
}

TEST(AeadTest, OpenWithWrongKeyFailsWithDataLoss) {
  auto key = NewKey();
  auto other = NewKey();
  ASSERT_NE(key, nullptr);
  ASSERT_NE(other, nullptr);
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, "synthetic payload", "header");
  EXPECT_THAT(Open(*other, n, ct, "header"),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AeadTest, OpenWithKeyDifferingInOneBitFailsWithDataLoss) {
  const std::string base(kKeyBytes, '\x11');
  auto key = KeyFromHex(absl::BytesToHexString(base));
  ASSERT_NE(key, nullptr);
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, "synthetic payload", "header");
  for (size_t i = 0; i < kKeyBytes; ++i) {
    std::string near = base;
    near[i] ^= 0x01;
    auto near_key = KeyFromHex(absl::BytesToHexString(near));
    ASSERT_NE(near_key, nullptr);
    EXPECT_THAT(Open(*near_key, n, ct, "header"),
                StatusIs(absl::StatusCode::kDataLoss))
        << "key byte " << i;
  }
}

TEST(AeadTest, OpenWithWrongNonceFailsWithDataLoss) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, "synthetic payload", "header");
  // Every byte of the 192-bit nonce matters, including the 16 bytes that
  // HChaCha20 consumes and the 8 that reach ChaCha20.
  for (size_t i = 0; i < kNonceBytes; ++i) {
    Nonce wrong = n;
    wrong[i] ^= 0x80;
    EXPECT_THAT(Open(*key, wrong, ct, "header"),
                StatusIs(absl::StatusCode::kDataLoss))
        << "nonce byte " << i;
  }
}

TEST(AeadTest, FlippingAnyCiphertextOrTagByteFailsWithDataLoss) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, "short synthetic msg", "header");
  ASSERT_EQ(ct.size(), 19 + kTagBytes);
  for (size_t i = 0; i < ct.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string altered = ct;
      altered[i] = static_cast<char>(altered[i] ^ mask);
      EXPECT_THAT(Open(*key, n, altered, "header"),
                  StatusIs(absl::StatusCode::kDataLoss))
          << "byte " << i << " mask " << static_cast<int>(mask);
    }
  }
}

TEST(AeadTest, TruncatedCiphertextFailsWithDataLoss) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, "short synthetic msg", "header");
  for (size_t len = 0; len < ct.size(); ++len) {
    EXPECT_THAT(Open(*key, n, absl::string_view(ct).substr(0, len), "header"),
                StatusIs(absl::StatusCode::kDataLoss))
        << "prefix of " << len << " bytes";
    EXPECT_THAT(
        Open(*key, n, absl::string_view(ct).substr(ct.size() - len), "header"),
        StatusIs(absl::StatusCode::kDataLoss))
        << "suffix of " << len << " bytes";
  }
}

TEST(AeadTest, CiphertextWithAppendedBytesFailsWithDataLoss) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, "short synthetic msg", "header");
  EXPECT_THAT(Open(*key, n, ct + std::string(1, '\0'), "header"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Open(*key, n, std::string(1, '\0') + ct, "header"),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AeadTest, CiphertextShorterThanTagFailsWithDataLossNamingTheTag) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const Nonce n = RandomNonce();
  for (size_t len = 0; len < kTagBytes; ++len) {
    EXPECT_THAT(Open(*key, n, std::string(len, '\x5a'), "header"),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("tag")))
        << len << " bytes";
  }
}

TEST(AeadTest, AllZeroTagDoesNotOpen) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  EXPECT_THAT(Open(*key, RandomNonce(), std::string(kTagBytes, '\0'), ""),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AeadTest, WrongAssociatedDataFailsWithDataLoss) {
  auto key = SecretKey::Random();
  ASSERT_THAT(key, IsOk());
  Nonce n = RandomNonce();
  std::string ct = Seal(**key, n, "x", "header-a");
  EXPECT_THAT(Open(**key, n, ct, "header-b"),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AeadTest, AssociatedDataDifferingInAnyByteOrLengthFailsWithDataLoss) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const std::string header = "seq=7;stream=patient/0001;v=3";
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, "synthetic payload", header);
  for (size_t i = 0; i < header.size(); ++i) {
    std::string altered = header;
    altered[i] ^= 0x01;
    EXPECT_THAT(Open(*key, n, ct, altered),
                StatusIs(absl::StatusCode::kDataLoss))
        << "header byte " << i;
  }
  EXPECT_THAT(Open(*key, n, ct, header.substr(0, header.size() - 1)),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Open(*key, n, ct, header + " "),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Open(*key, n, ct, ""), StatusIs(absl::StatusCode::kDataLoss));
}

// The ledger binds each payload to its clear header: a ciphertext copied into
// another event (with or without that event's nonce) must not open there.
TEST(AeadTest, CiphertextSwappedBetweenEventsWithDifferentHeadersFailsToOpen) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const std::string header_a = "seq=1;stream=appointment/aaaa;v=1";
  const std::string header_b = "seq=2;stream=appointment/bbbb;v=1";
  const Nonce nonce_a = RandomNonce();
  const Nonce nonce_b = RandomNonce();
  const std::string ct_a = Seal(*key, nonce_a, "synthetic event A", header_a);
  const std::string ct_b = Seal(*key, nonce_b, "synthetic event B", header_b);
  ASSERT_THAT(Open(*key, nonce_a, ct_a, header_a), IsOk());
  ASSERT_THAT(Open(*key, nonce_b, ct_b, header_b), IsOk());

  // Ciphertext moved, nonce moved with it.
  EXPECT_THAT(Open(*key, nonce_b, ct_b, header_a),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Open(*key, nonce_a, ct_a, header_b),
              StatusIs(absl::StatusCode::kDataLoss));
  // Ciphertext moved, nonce left behind.
  EXPECT_THAT(Open(*key, nonce_a, ct_b, header_a),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Open(*key, nonce_b, ct_a, header_b),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AeadTest, SealedMessageNeverContainsPlaintext) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const std::string plaintext =
      "SYNTHETIC-PATIENT Jane Testcase, DOB 1900-01-01, MRN SYN-000000, note: "
      "synthetic only";
  const Nonce n = RandomNonce();
  const std::string ct = Seal(*key, n, plaintext, "header");
  // No 8-byte window of the plaintext survives in the ciphertext.
  for (size_t i = 0; i + 8 <= plaintext.size(); ++i) {
    EXPECT_EQ(ct.find(plaintext.substr(i, 8)), std::string::npos)
        << "window at " << i;
  }
}

TEST(AeadTest, FailedOpenMessageContainsNoPlaintextOrHeader) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const std::string plaintext = "SYNTHETIC-PATIENT Jane Testcase";
  const std::string header = "stream=patient/SYNTHETIC-ID-1234";
  const Nonce n = RandomNonce();
  std::string ct = Seal(*key, n, plaintext, header);
  ct[0] ^= 0x01;
  auto opened = Open(*key, n, ct, header);
  ASSERT_THAT(opened, StatusIs(absl::StatusCode::kDataLoss));
  const std::string message(opened.status().message());
  EXPECT_THAT(message, Not(HasSubstr("Jane")));
  EXPECT_THAT(message, Not(HasSubstr("SYNTHETIC")));
  EXPECT_THAT(message, Not(HasSubstr(plaintext.substr(0, 8))));
}

TEST(AeadTest, SamePlaintextUnderDifferentNoncesGivesDifferentCiphertexts) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const std::string a =
      Seal(*key, RandomNonce(), "synthetic payload", "header");
  const std::string b =
      Seal(*key, RandomNonce(), "synthetic payload", "header");
  EXPECT_NE(a, b);
}

TEST(AeadTest, SealIsDeterministicForAFixedKeyAndNonce) {
  auto key = NewKey();
  ASSERT_NE(key, nullptr);
  const Nonce n = RandomNonce();
  EXPECT_EQ(Seal(*key, n, "synthetic payload", "header"),
            Seal(*key, n, "synthetic payload", "header"));
}

TEST(AeadTest, RandomNoncesAreDistinct) {
  std::set<Nonce> seen;
  for (int i = 0; i < 1000; ++i)
    seen.insert(RandomNonce());
  EXPECT_EQ(seen.size(), 1000u);
}

// draft-irtf-cfrg-xchacha-03, appendix A.3.1 (AEAD_XChaCha20_Poly1305).
TEST(AeadTest, MatchesXChaCha20Poly1305DraftTestVectorA31) {
  auto key = KeyFromHex(
      "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  ASSERT_NE(key, nullptr);
  const Nonce nonce =
      NonceFromHex("404142434445464748494a4b4c4d4e4f5051525354555657");
  const std::string ad = absl::HexStringToBytes("50515253c0c1c2c3c4c5c6c7");
  const std::string plaintext =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one "
      "tip for the "
      "future, sunscreen would be it.";
  ASSERT_EQ(plaintext.size(), 114u);
  const std::string expected_ciphertext = absl::HexStringToBytes(
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
      "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
      "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
      "21f9664c97637da9768812f615c68b13b52e");
  const std::string expected_tag =
      absl::HexStringToBytes("c0875924c1c7987947deafd8780acf49");

  const std::string sealed = Seal(*key, nonce, plaintext, ad);
  EXPECT_EQ(absl::BytesToHexString(sealed),
            absl::BytesToHexString(expected_ciphertext + expected_tag));

  auto opened = Open(*key, nonce, expected_ciphertext + expected_tag, ad);
  ASSERT_THAT(opened, IsOk());
  EXPECT_EQ(*opened, plaintext);
}

}  // namespace
}  // namespace carelog::crypto
