// Signed notes and checkpoints: the Go golang.org/x/mod sumdb/note test
// vector (note_test.go: key "PeterNeumann", TestSign/TestOpen) must match
// byte for byte, and malformed notes, checkpoints and keys are rejected.
#include "crypto/signed_note.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "crypto/merkle.h"
#include "tests/testing/status_matchers.h"

namespace carelog::crypto {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using ::testing::HasSubstr;

// From golang.org/x/mod/sumdb/note/note_test.go.
constexpr char kPeterSigner[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+"
    "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr char kPeterVerifier[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr char kEnochVerifier[] =
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
constexpr char kText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr char kPeterSig[] =
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngot"
    "pRZb6KE6RyyBwJnAM=\n";
constexpr char kEnochSig[] =
    "\xE2\x80\x94 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwn"
    "WLox33WWd1RvMc+QQ=\n";

std::unique_ptr<SigningKey> PeterKey() {
  // The Go signer key is "PRIVATE+KEY+<name>+<hash>+base64(0x01 ‖ seed)".
  absl::string_view skey = kPeterSigner;
  auto raw = Base64Decode(skey.substr(skey.find("c74f20a3+") + 9));
  EXPECT_THAT(raw, IsOk());
  EXPECT_EQ(raw->size(), 33u);
  auto k = SigningKey::FromSeed(
      reinterpret_cast<const uint8_t*>(raw->data()) + 1, 32);
  EXPECT_THAT(k, IsOk());
  return std::move(*k);
}

TEST(SignedNoteTest, GoSumdbNoteVectorMatchesByteForByte) {
  auto key = PeterKey();
  auto msg = SignNote(kText, "PeterNeumann", *key);
  ASSERT_THAT(msg, IsOk());
  EXPECT_EQ(*msg, absl::StrCat(kText, "\n", kPeterSig));
}

TEST(SignedNoteTest, VerifierKeyAndKeyHashMatchGo) {
  auto key = PeterKey();
  EXPECT_EQ(NoteKeyHash("PeterNeumann", key->public_key()), 0xc74f20a3u);
  EXPECT_EQ(NoteVerifierKey("PeterNeumann", key->public_key()), kPeterVerifier);
  auto v = ParseNoteVerifierKey(kPeterVerifier);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->name, "PeterNeumann");
  EXPECT_EQ(v->key, key->public_key());
}

// Regression: base64 keys may contain '+', the separator of the key string.
TEST(SignedNoteTest, VerifierKeysWithPlusInTheirBase64RoundTrip) {
  int with_plus = 0;
  for (int i = 0; i < 64 && with_plus < 3; ++i) {
    auto key = SigningKey::Generate();
    ASSERT_THAT(key, IsOk());
    const std::string vkey =
        NoteVerifierKey("example.com/log", (*key)->public_key());
    auto v = ParseNoteVerifierKey(vkey);
    ASSERT_THAT(v, IsOk()) << vkey;
    EXPECT_EQ(v->key, (*key)->public_key());
    if (std::count(vkey.begin(), vkey.end(), '+') > 2)
      ++with_plus;
  }
  EXPECT_GT(with_plus, 0);
}

TEST(SignedNoteTest, ManglesOfTheVerifierKeyAreRejected) {
  const std::string vkey = kPeterVerifier;
  for (size_t i = 0; i < vkey.size(); ++i) {
    std::string b = vkey;
    b[i] = static_cast<char>(b[i] + 1);
    EXPECT_FALSE(ParseNoteVerifierKey(b).ok()) << b;
  }
  for (size_t i = 0; i < vkey.size(); ++i) {
    EXPECT_FALSE(ParseNoteVerifierKey(vkey.substr(0, i)).ok());
    EXPECT_FALSE(ParseNoteVerifierKey(vkey.substr(i + 1)).ok());
  }
  // From Go's TestNewVerifier: wrong key length and unknown algorithm, both
  // with adjusted key hashes.
  EXPECT_FALSE(ParseNoteVerifierKey("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbz"
                                    "hKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
                   .ok());
  EXPECT_FALSE(ParseNoteVerifierKey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbz"
                                    "hKqiBfsVkmqq/LDE4izWy10TW")
                   .ok());
}

TEST(SignedNoteTest, OpenAcceptsGoNoteAndIgnoresOtherKeys) {
  auto peter = ParseNoteVerifierKey(kPeterVerifier);
  auto enoch = ParseNoteVerifierKey(kEnochVerifier);
  ASSERT_THAT(peter, IsOk());
  ASSERT_THAT(enoch, IsOk());
  const std::string msg = absl::StrCat(kText, "\n", kPeterSig, kEnochSig);
  auto text = OpenNote(msg, *peter);
  ASSERT_THAT(text, IsOk());
  EXPECT_EQ(*text, kText);
  EXPECT_THAT(OpenNote(msg, *enoch), IsOk());
  auto note = ParseNote(msg);
  ASSERT_THAT(note, IsOk());
  ASSERT_EQ(note->signatures.size(), 2u);
  EXPECT_EQ(note->signatures[1].key_hash, 0xaf0cfe78u);
}

TEST(SignedNoteTest, MissingOrInvalidSignatureIsDenied) {
  auto peter = ParseNoteVerifierKey(kPeterVerifier);
  ASSERT_THAT(peter, IsOk());
  EXPECT_THAT(
      OpenNote(absl::StrCat(kText, "\n", kEnochSig), *peter),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("no signature")));
  // Go's "invalid signature" case: bytes inserted into the signature.
  const std::string sig = kPeterSig;
  const std::string bad = sig.substr(0, 60) + "ABCD" + sig.substr(60);
  EXPECT_THAT(OpenNote(absl::StrCat(kText, "\n", bad), *peter),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("invalid signature")));
  // Text changed under a valid signature.
  std::string changed = kText;
  changed[0] = 'i';
  EXPECT_THAT(OpenNote(absl::StrCat(changed, "\n", kPeterSig), *peter),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Right name, wrong key hash: not our key.
  const std::string wrong_hash = absl::StrReplaceAll(sig, {{"x08g", "xxxx"}});
  EXPECT_FALSE(OpenNote(absl::StrCat(kText, "\n", wrong_hash), *peter).ok());
}

TEST(SignedNoteTest, MalformedNotesAreRejected) {
  auto peter = ParseNoteVerifierKey(kPeterVerifier);
  ASSERT_THAT(peter, IsOk());
  const std::string text = kText;
  const std::string sig = kPeterSig;
  std::string many;
  for (int i = 0; i < 101; ++i)
    many += sig;
  // Go's badMsgs plus more.
  const std::string bad[] = {
      text,
      text + "\n",
      text + "\n" + sig.substr(0, sig.size() - 1),
      "\x01" + text + "\n" + sig,
      "\xff" + text + "\n" + sig,
      text + "\n" +
          "\xE2\x80\x94 Bad Name "
          "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
          "qdngotpRZb6KE6RyyBwJnAM=",
      text + "\n" + sig + "Unexpected line.\n",
      text + "\n" + many,
      text + "\n- PeterNeumann AAAAAAAA\n",
      text + "\n\xE2\x80\x94 PeterNeumann AAAA\n",
      text + "\n\xE2\x80\x94 PeterNeumann not-base64!\n",
      text + "\n\xE2\x80\x94 PeterNeumann\n",
      text + "\n\xE2\x80\x94 Peter+Neumann " + sig.substr(17),
  };
  for (const std::string& m : bad) {
    EXPECT_THAT(OpenNote(m, *peter),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << m;
  }
  EXPECT_FALSE(OpenNote(std::string("\n\n") + sig, *peter).ok());
}

TEST(SignedNoteTest, SignRefusesBadTextAndNames) {
  auto key = PeterKey();
  EXPECT_FALSE(SignNote("abc", "PeterNeumann", *key).ok());
  EXPECT_FALSE(SignNote("", "PeterNeumann", *key).ok());
  EXPECT_FALSE(SignNote("a\n\nb\n", "PeterNeumann", *key).ok());
  EXPECT_FALSE(SignNote("a\tb\n", "PeterNeumann", *key).ok());
  EXPECT_FALSE(SignNote(kText, "a+b", *key).ok());
  EXPECT_FALSE(SignNote(kText, "a b", *key).ok());
  EXPECT_FALSE(SignNote(kText, "", *key).ok());
}

TEST(CheckpointTest, FormatAndParseRoundTrip) {
  Checkpoint c;
  c.origin = "carelog.example/ledger";
  c.size = 12345;
  c.root = MerkleLeafHash("root");
  c.extensions = {"carelog-chain-head AAAA", "carelog-time 1700000000000000"};
  auto text = FormatCheckpoint(c);
  ASSERT_THAT(text, IsOk());
  EXPECT_EQ(*text, absl::StrCat("carelog.example/ledger\n12345\n",
                                Base64Encode(DigestToBytes(c.root)), "\n",
                                "carelog-chain-head AAAA\n",
                                "carelog-time 1700000000000000\n"));
  auto back = ParseCheckpoint(*text);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->origin, c.origin);
  EXPECT_EQ(back->size, c.size);
  EXPECT_EQ(back->root, c.root);
  EXPECT_EQ(back->extensions, c.extensions);
}

TEST(CheckpointTest, SignedCheckpointOpensWithTheKey) {
  auto key = PeterKey();
  Checkpoint c;
  c.origin = "example.com/log";
  c.size = 8;
  c.root = MerkleEmptyRoot();
  auto body = FormatCheckpoint(c);
  ASSERT_THAT(body, IsOk());
  auto note = SignNote(*body, "example.com/log", *key);
  ASSERT_THAT(note, IsOk());
  NoteVerifier v{"example.com/log", key->public_key()};
  auto text = OpenNote(*note, v);
  ASSERT_THAT(text, IsOk());
  EXPECT_EQ(*text, *body);
}

TEST(CheckpointTest, MalformedCheckpointsAreRejected) {
  const std::string root = Base64Encode(DigestToBytes(MerkleEmptyRoot()));
  const std::string bad[] = {
      "",
      "origin\n",
      "origin\n5\n",
      "origin\n5\n" + root,                            // no final newline
      "\n5\n" + root + "\n",                           // empty origin
      "origin\n05\n" + root + "\n",                    // leading zero
      "origin\n-5\n" + root + "\n",                    // sign
      "origin\n+5\n" + root + "\n",                    // sign
      "origin\n 5\n" + root + "\n",                    // space
      "origin\n5x\n" + root + "\n",                    // trailing junk
      "origin\n18446744073709551616\n" + root + "\n",  // > 2^64-1
      "origin\n5\nAAAA\n",                             // root too short
      "origin\n5\n" + root.substr(1) + "\n",           // not base64
      "origin\n5\n" + root + "\n\n",                   // empty extension line
      "origin\n5\n" + root + "\next\n\nmore\n",
  };
  for (const std::string& t : bad)
    EXPECT_THAT(ParseCheckpoint(t),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << t;
  EXPECT_THAT(ParseCheckpoint("origin\n18446744073709551615\n" + root + "\n"),
              IsOk());
}

TEST(Base64Test, StrictDecoding) {
  EXPECT_EQ(Base64Encode("hi"), "aGk=");
  auto d = Base64Decode("aGk=");
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, "hi");
  EXPECT_FALSE(Base64Decode("aGk").ok());
  EXPECT_FALSE(Base64Decode("aGl=").ok());  // non-zero padding bits
  EXPECT_FALSE(Base64Decode("aG k").ok());
  EXPECT_FALSE(Base64Decode("aGk=\n").ok());
  EXPECT_FALSE(Base64Decode("a-_=").ok());
}

}  // namespace
}  // namespace carelog::crypto
