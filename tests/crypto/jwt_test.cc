// Tests for crypto/jwt.h: verification failure modes (each must be
// UNAUTHENTICATED naming the failed check), algorithm-confusion attacks,
// JWKS validation, the development signer's PEM files, and interoperability
// vectors from RFC 8037, RFC 7515 and PyJWT (tests/testdata/jwt/).
//
// Tokens are built by hand with libsodium's base64url and HMAC, an
// implementation independent of the one under test.
#include "crypto/jwt.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kIssuer[] = "https://dev.carelog.test";
constexpr char kAudience[] = "carelog";
const absl::Time kNow = absl::FromUnixSeconds(1750000000);  // 2025-06-15

// ---------------------------------------------------------------------------
// Helpers.

std::string B64(absl::string_view bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), kVariant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string Unb64(absl::string_view text) {
  std::string out(text.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()),
                        out.size(), text.data(), text.size(), nullptr, &len,
                        nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    ADD_FAILURE() << "bad base64url in test data";
    return "";
  }
  out.resize(len);
  return out;
}

std::vector<std::string> Parts(absl::string_view token) {
  return absl::StrSplit(token, '.');
}

std::string HmacSha256(absl::string_view key, absl::string_view message) {
  crypto_auth_hmacsha256_state st;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(
      &st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(
      &st, reinterpret_cast<const unsigned char*>(message.data()),
      message.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return std::string(reinterpret_cast<char*>(mac), sizeof(mac));
}

std::string Seconds(absl::Time t) {
  return absl::StrCat(absl::ToUnixSeconds(t));
}

// A claims object as name → raw JSON text, so tests can drop, retype or
// duplicate any claim.
class ClaimSet {
 public:
  ClaimSet() {
    claims_["iss"] = absl::StrCat("\"", kIssuer, "\"");
    claims_["sub"] = "\"clinician-7\"";
    claims_["aud"] = absl::StrCat("\"", kAudience, "\"");
    claims_["iat"] = Seconds(kNow - absl::Minutes(1));
    claims_["nbf"] = Seconds(kNow - absl::Minutes(1));
    claims_["exp"] = Seconds(kNow + absl::Minutes(15));
    claims_["roles"] = "[\"clinician\"]";
  }
  ClaimSet& Set(const std::string& name, const std::string& raw_json) {
    claims_[name] = raw_json;
    return *this;
  }
  ClaimSet& Erase(const std::string& name) {
    claims_.erase(name);
    return *this;
  }
  std::string Json() const {
    std::string out = "{";
    for (const auto& [name, value] : claims_) {
      absl::StrAppend(&out, out.size() > 1 ? "," : "", "\"", name,
                      "\":", value);
    }
    return out + "}";
  }

 private:
  std::map<std::string, std::string> claims_;
};

std::string TestDataPath(absl::string_view name) {
  // The source tree, not __FILE__: a compiler launcher (ccache with
  // base_dir) may make __FILE__ relative to the build directory.
  return absl::StrCat(CARELOG_SOURCE_DIR, "/tests/testdata/jwt/", name);
}

std::string ReadTestData(absl::string_view name) {
  std::string text = ReadFileOrEmpty(TestDataPath(name));
  EXPECT_FALSE(text.empty()) << "missing test data " << TestDataPath(name);
  return std::string(absl::StripTrailingAsciiWhitespace(text));
}

// ---------------------------------------------------------------------------

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    auto ed = TokenSigner::Generate("EdDSA", "ed-1");
    ASSERT_THAT(ed, IsOk());
    ed_ = *std::move(ed);
    auto es = TokenSigner::Generate("ES256", "es-1");
    ASSERT_THAT(es, IsOk());
    es_ = *std::move(es);
    jwks_ = absl::StrCat("{\"keys\":[", ed_->PublicJwk(), ",", es_->PublicJwk(),
                         "]}");
    auto verifier = TokenVerifier::Create({{kIssuer, jwks_}}, Options());
    ASSERT_THAT(verifier, IsOk());
    verifier_ = *std::move(verifier);
  }

  static TokenVerifierOptions Options() {
    TokenVerifierOptions options;
    options.audience = kAudience;
    return options;
  }

  static TokenSigner::Claims DefaultClaims() {
    TokenSigner::Claims c;
    c.issuer = kIssuer;
    c.subject = "clinician-7";
    c.audience = kAudience;
    c.roles = {"clinician", "auditor"};
    c.issued_at = kNow - absl::Minutes(1);
    c.ttl = absl::Minutes(15);
    c.token_id = "token-1";
    return c;
  }

  static std::string Mint(const TokenSigner& signer,
                          const TokenSigner::Claims& claims) {
    absl::StatusOr<std::string> token = signer.Mint(claims);
    EXPECT_THAT(token, IsOk());
    return token.ok() ? *token : "";
  }

  static std::string Sign(const TokenSigner& signer,
                          absl::string_view payload) {
    absl::StatusOr<std::string> token = signer.SignJws(payload);
    EXPECT_THAT(token, IsOk());
    return token.ok() ? *token : "";
  }

  // Verifies a token signed by ed_ over `claims`.
  absl::StatusOr<VerifiedToken> VerifyClaims(const ClaimSet& claims,
                                             absl::Time now = kNow) {
    return verifier_->Verify(Sign(*ed_, claims.Json()), now);
  }

  std::unique_ptr<TokenSigner> ed_;
  std::unique_ptr<TokenSigner> es_;
  std::string jwks_;
  std::unique_ptr<TokenVerifier> verifier_;
};

auto Unauthenticated(const std::string& fragment) {
  return StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr(fragment));
}

auto InvalidArgument(const std::string& fragment) {
  return StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(fragment));
}

// ---------------------------------------------------------------------------
// Round trips.

TEST_F(JwtTest, MintedEdDsaTokenVerifiesWithItsClaims) {
  absl::StatusOr<VerifiedToken> v =
      verifier_->Verify(Mint(*ed_, DefaultClaims()), kNow);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->subject, "clinician-7");
  EXPECT_THAT(v->roles, ElementsAre("clinician", "auditor"));
  EXPECT_EQ(v->issuer, kIssuer);
  EXPECT_EQ(v->key_id, "ed-1");
  EXPECT_EQ(v->token_id, "token-1");
  EXPECT_EQ(v->issued_at, kNow - absl::Minutes(1));
  EXPECT_EQ(v->not_before, kNow - absl::Minutes(1));
  EXPECT_EQ(v->expires_at, kNow + absl::Minutes(14));
}

TEST_F(JwtTest, MintedEs256TokenVerifiesWithItsClaims) {
  const std::string token = Mint(*es_, DefaultClaims());
  EXPECT_EQ(Unb64(Parts(token)[2]).size(), 64u);  // raw r||s, not DER
  absl::StatusOr<VerifiedToken> v = verifier_->Verify(token, kNow);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->subject, "clinician-7");
  EXPECT_THAT(v->roles, ElementsAre("clinician", "auditor"));
  EXPECT_EQ(v->key_id, "es-1");
}

TEST_F(JwtTest, MintedHeaderNamesAlgKidAndType) {
  EXPECT_EQ(Unb64(Parts(Mint(*ed_, DefaultClaims()))[0]),
            R"({"alg":"EdDSA","kid":"ed-1","typ":"JWT"})");
  EXPECT_EQ(Unb64(Parts(Mint(*es_, DefaultClaims()))[0]),
            R"({"alg":"ES256","kid":"es-1","typ":"JWT"})");
}

TEST_F(JwtTest, MintWithoutTokenIdGeneratesDistinctOnes) {
  TokenSigner::Claims claims = DefaultClaims();
  claims.token_id.clear();
  auto a = verifier_->Verify(Mint(*ed_, claims), kNow);
  auto b = verifier_->Verify(Mint(*ed_, claims), kNow);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_THAT(a->token_id, Not(IsEmpty()));
  EXPECT_NE(a->token_id, b->token_id);
}

TEST_F(JwtTest, MissingRolesClaimMeansNoRoles) {
  absl::StatusOr<VerifiedToken> v = VerifyClaims(ClaimSet().Erase("roles"));
  ASSERT_THAT(v, IsOk());
  EXPECT_THAT(v->roles, IsEmpty());
  EXPECT_EQ(v->token_id, "");
}

TEST_F(JwtTest, MintRefusesInvalidClaims) {
  TokenSigner::Claims c = DefaultClaims();
  c.subject.clear();
  EXPECT_THAT(ed_->Mint(c), InvalidArgument("subject"));
  c = DefaultClaims();
  c.ttl = absl::ZeroDuration();
  EXPECT_THAT(ed_->Mint(c), InvalidArgument("ttl"));
  c = DefaultClaims();
  c.roles = std::vector<std::string>(kMaxJwtRoles + 1, "r");
  EXPECT_THAT(ed_->Mint(c), InvalidArgument("roles"));
  c = DefaultClaims();
  c.audience = "\xff\xfe";
  EXPECT_THAT(ed_->Mint(c), InvalidArgument("UTF-8"));
}

TEST(TokenSignerTest, GenerateRefusesOtherAlgorithms) {
  EXPECT_THAT(TokenSigner::Generate("HS256", "k"), InvalidArgument("EdDSA"));
  EXPECT_THAT(TokenSigner::Generate("RS256", "k"), InvalidArgument("EdDSA"));
}

TEST_F(JwtTest, PublicJwksDeclaresKeyTypeAlgUseAndKid) {
  const std::string ed = ed_->PublicJwks();
  EXPECT_THAT(ed, HasSubstr(R"("kty":"OKP")"));
  EXPECT_THAT(ed, HasSubstr(R"("crv":"Ed25519")"));
  EXPECT_THAT(ed, HasSubstr(R"("alg":"EdDSA")"));
  EXPECT_THAT(ed, HasSubstr(R"("use":"sig")"));
  EXPECT_THAT(ed, HasSubstr(R"("kid":"ed-1")"));
  EXPECT_THAT(ed, Not(HasSubstr(R"("d")")));
  const std::string es = es_->PublicJwks();
  EXPECT_THAT(es, HasSubstr(R"("kty":"EC")"));
  EXPECT_THAT(es, HasSubstr(R"("crv":"P-256")"));
  EXPECT_THAT(es, HasSubstr(R"("y":)"));
  EXPECT_THAT(TokenVerifier::Create({{kIssuer, es}}, Options()), IsOk());
}

// ---------------------------------------------------------------------------
// Malformed tokens.

TEST_F(JwtTest, TokenLongerThanLimitIsMalformed) {
  ClaimSet claims;
  claims.Set("pad", absl::StrCat("\"", std::string(9000, 'x'), "\""));
  EXPECT_THAT(VerifyClaims(claims),
              Unauthenticated("malformed token: longer than 8192"));
}

TEST_F(JwtTest, WrongShapesAreMalformed) {
  const std::vector<std::string> p = Parts(Mint(*ed_, DefaultClaims()));
  const std::vector<std::string> bad = {
      "",
      "Bearer",
      absl::StrCat(p[0], ".", p[1]),
      absl::StrCat(p[0], ".", p[1], ".", p[2], ".", p[2]),
      absl::StrCat(".", p[1], ".", p[2]),
      absl::StrCat(p[0], "=.", p[1], ".", p[2]),      // padding
      absl::StrCat(p[0], ".", p[1], "==.", p[2]),     // padding
      absl::StrCat(p[0], ".", p[1], ".", p[2], "="),  // padding
      absl::StrCat(p[0], ".", p[1], "+.", p[2]),  // standard, not url, alphabet
      absl::StrCat(p[0], ".", p[1], ".", p[2], " "),  // whitespace
      absl::StrCat(B64("not json"), ".", p[1], ".", p[2]),
      absl::StrCat(B64("[\"alg\",\"EdDSA\"]"), ".", p[1], ".", p[2]),
      absl::StrCat(B64(R"({"alg":"EdDSA","alg":"EdDSA"})"), ".", p[1], ".",
                   p[2]),
      absl::StrCat(B64(R"({"alg":"EdDSA","crit":["exp"],"exp":1})"), ".", p[1],
                   ".", p[2]),
      absl::StrCat(B64(R"({"alg":"EdDSA","kid":7})"), ".", p[1], ".", p[2]),
  };
  for (const std::string& token : bad) {
    SCOPED_TRACE(token);
    EXPECT_THAT(verifier_->Verify(token, kNow),
                Unauthenticated("malformed token"));
  }
}

TEST_F(JwtTest, NonCanonicalBase64SignatureIsMalformed) {
  // A 64-byte signature is 86 characters whose last carries 4 unused bits. A
  // lenient decoder ignores them, so flipping one would still verify.
  std::string token = Mint(*ed_, DefaultClaims());
  ASSERT_THAT(verifier_->Verify(token, kNow), IsOk());
  const char* alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const int value =
      static_cast<int>(std::strchr(alphabet, token.back()) - alphabet);
  token.back() = alphabet[value ^ 1];
  EXPECT_THAT(verifier_->Verify(token, kNow),
              Unauthenticated("malformed token"));
}

TEST_F(JwtTest, PayloadThatIsNotAJsonObjectIsMalformed) {
  EXPECT_THAT(verifier_->Verify(Sign(*ed_, "hello"), kNow),
              Unauthenticated("malformed token"));
  EXPECT_THAT(verifier_->Verify(Sign(*ed_, "[1,2]"), kNow),
              Unauthenticated("malformed token"));
  // Nesting past the parser's depth bound (16) is refused, not recursed into.
  const std::string deep =
      ClaimSet().Set("x", std::string(20, '[') + std::string(20, ']')).Json();
  EXPECT_THAT(verifier_->Verify(Sign(*ed_, deep), kNow),
              Unauthenticated("malformed token"));
  const std::string shallow =
      ClaimSet().Set("x", std::string(8, '[') + std::string(8, ']')).Json();
  EXPECT_THAT(verifier_->Verify(Sign(*ed_, shallow), kNow), IsOk());
  EXPECT_THAT(verifier_->Verify(Sign(*ed_, ""), kNow),
              Unauthenticated("malformed token"));
}

TEST_F(JwtTest, DuplicateClaimNamesAreMalformed) {
  // Parsers that keep the first and the last duplicate would see different
  // subjects.
  std::string payload = ClaimSet().Json();
  payload.back() = ',';
  payload += R"("sub":"admin"})";
  EXPECT_THAT(verifier_->Verify(Sign(*ed_, payload), kNow),
              Unauthenticated("malformed token"));
}

// ---------------------------------------------------------------------------
// Algorithms.

TEST_F(JwtTest, AlgNoneIsForbiddenEvenWithEmptySignature) {
  const std::string body = B64(ClaimSet().Json());
  for (const char* header :
       {R"({"alg":"none"})", R"({"alg":"None","typ":"JWT"})",
        R"({"alg":"NONE","kid":"ed-1"})"}) {
    SCOPED_TRACE(header);
    EXPECT_THAT(
        verifier_->Verify(absl::StrCat(B64(header), ".", body, "."), kNow),
        Unauthenticated("forbidden alg"));
  }
  // ... or with a genuine signature lifted from another token.
  const std::string real_sig = Parts(Mint(*ed_, DefaultClaims()))[2];
  EXPECT_THAT(verifier_->Verify(absl::StrCat(B64(R"({"alg":"none"})"), ".",
                                             body, ".", real_sig),
                                kNow),
              Unauthenticated("forbidden alg"));
}

TEST_F(JwtTest, HmacAlgsAreForbiddenEvenWithValidHmacOverPublicKey) {
  // The algorithm-confusion attack: HMAC with the (public) verification key as
  // the secret. Every plausible encoding of that key is tried.
  const std::string body = B64(ClaimSet().Json());
  for (const std::string& secret :
       {jwks_, ed_->PublicJwk(), ed_->PublicJwks(), std::string()}) {
    for (const char* alg : {"HS256", "HS384", "HS512", "hs256"}) {
      const std::string input =
          absl::StrCat(B64(absl::StrCat(R"({"alg":")", alg,
                                        R"(","kid":"ed-1","typ":"JWT"})")),
                       ".", body);
      const std::string token =
          absl::StrCat(input, ".", B64(HmacSha256(secret, input)));
      SCOPED_TRACE(token);
      EXPECT_THAT(verifier_->Verify(token, kNow),
                  Unauthenticated("forbidden alg (HMAC)"));
    }
  }
}

TEST_F(JwtTest, OtherAlgsAreUnsupported) {
  const std::vector<std::string> p = Parts(Mint(*ed_, DefaultClaims()));
  for (const char* header :
       {R"({"alg":"RS256"})", R"({"alg":"ES384"})", R"({"alg":"PS256"})",
        R"({"alg":"eddsa"})", R"({"alg":"Ed25519"})", R"({"alg":1})",
        R"({"typ":"JWT"})"}) {
    SCOPED_TRACE(header);
    EXPECT_THAT(verifier_->Verify(
                    absl::StrCat(B64(header), ".", p[1], ".", p[2]), kNow),
                Unauthenticated("unsupported alg"));
  }
}

TEST_F(JwtTest, AlgThatDoesNotMatchTheKeyIsRejected) {
  // An ES256 token whose kid names the issuer's Ed25519 key.
  auto impostor = TokenSigner::Generate("ES256", "ed-1");
  ASSERT_THAT(impostor, IsOk());
  EXPECT_THAT(verifier_->Verify(Mint(**impostor, DefaultClaims()), kNow),
              Unauthenticated("alg does not match key kid \"ed-1\""));
}

TEST_F(JwtTest, KeyWhoseDeclaredAlgDiffersFromItsTypeIsRefusedAtCreate) {
  std::string jwk = ed_->PublicJwk();
  jwk.replace(jwk.find("EdDSA"), 5, "ES256");
  EXPECT_THAT(
      TokenVerifier::Create({{kIssuer, absl::StrCat("{\"keys\":[", jwk, "]}")}},
                            Options()),
      InvalidArgument("alg does not match the key type"));
}

// ---------------------------------------------------------------------------
// Issuer and key selection.

TEST_F(JwtTest, UnknownIssuerIsRejectedAndNamed) {
  TokenSigner::Claims c = DefaultClaims();
  c.issuer = "https://evil.example";
  EXPECT_THAT(verifier_->Verify(Mint(*ed_, c), kNow),
              Unauthenticated("unknown issuer \"https://evil.example\""));
}

TEST_F(JwtTest, MissingIssuerIsRejected) {
  EXPECT_THAT(VerifyClaims(ClaimSet().Erase("iss")),
              Unauthenticated("missing iss"));
  EXPECT_THAT(VerifyClaims(ClaimSet().Set("iss", "7")),
              Unauthenticated("missing iss"));
}

TEST_F(JwtTest, UnknownKidIsRejectedAndNamed) {
  auto other = TokenSigner::Generate("EdDSA", "ed-2");
  ASSERT_THAT(other, IsOk());
  EXPECT_THAT(
      verifier_->Verify(Mint(**other, DefaultClaims()), kNow),
      Unauthenticated(absl::StrCat(
          "unknown key id (kid) \"ed-2\" for issuer \"", kIssuer, "\"")));
}

TEST_F(JwtTest, KidIsRequiredWhenIssuerHasSeveralKeys) {
  auto no_kid = TokenSigner::Generate("EdDSA", "");
  ASSERT_THAT(no_kid, IsOk());
  EXPECT_THAT(verifier_->Verify(Mint(**no_kid, DefaultClaims()), kNow),
              Unauthenticated("kid required"));
}

TEST_F(JwtTest, SingleKeyIssuerUsesItsKeyWhenTokenHasNoKid) {
  auto signer = TokenSigner::Generate("ES256", "");
  ASSERT_THAT(signer, IsOk());
  EXPECT_THAT((*signer)->PublicJwk(), Not(HasSubstr("kid")));
  auto verifier =
      TokenVerifier::Create({{kIssuer, (*signer)->PublicJwks()}}, Options());
  ASSERT_THAT(verifier, IsOk());
  const std::string token = Mint(**signer, DefaultClaims());
  EXPECT_THAT(Unb64(Parts(token)[0]), Not(HasSubstr("kid")));
  absl::StatusOr<VerifiedToken> v = (*verifier)->Verify(token, kNow);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->key_id, "");
  // A kid the single key does not carry is still an unknown kid, not a
  // fallback.
  EXPECT_THAT((*verifier)->Verify(Mint(*es_, DefaultClaims()), kNow),
              Unauthenticated("unknown key id"));
}

TEST_F(JwtTest, SeveralIssuersEachUseTheirOwnKeys) {
  auto other =
      TokenSigner::Generate("EdDSA", "ed-1");  // same kid, other issuer
  ASSERT_THAT(other, IsOk());
  auto verifier = TokenVerifier::Create(
      {{kIssuer, jwks_}, {"https://idp.example.test", (*other)->PublicJwks()}},
      Options());
  ASSERT_THAT(verifier, IsOk());
  TokenSigner::Claims c = DefaultClaims();
  EXPECT_THAT((*verifier)->Verify(Mint(*ed_, c), kNow), IsOk());
  EXPECT_THAT((*verifier)->Verify(Mint(**other, c), kNow),
              Unauthenticated("bad signature"));
  c.issuer = "https://idp.example.test";
  EXPECT_THAT((*verifier)->Verify(Mint(**other, c), kNow), IsOk());
  EXPECT_THAT((*verifier)->Verify(Mint(*ed_, c), kNow),
              Unauthenticated("bad signature"));
}

// ---------------------------------------------------------------------------
// Signatures.

TEST_F(JwtTest, TokenSignedByAnotherKeyWithSameKidHasBadSignature) {
  for (const char* alg : {"EdDSA", "ES256"}) {
    SCOPED_TRACE(alg);
    auto impostor = TokenSigner::Generate(
        alg, std::string(alg) == "EdDSA" ? "ed-1" : "es-1");
    ASSERT_THAT(impostor, IsOk());
    EXPECT_THAT(verifier_->Verify(Mint(**impostor, DefaultClaims()), kNow),
                Unauthenticated("bad signature"));
  }
}

TEST_F(JwtTest, TamperedPayloadHasBadSignature) {
  for (const TokenSigner* signer : {ed_.get(), es_.get()}) {
    SCOPED_TRACE(signer->alg());
    const std::vector<std::string> p = Parts(Mint(*signer, DefaultClaims()));
    std::string claims = Unb64(p[1]);
    const size_t at = claims.find("\"auditor\"");
    ASSERT_NE(at, std::string::npos);
    claims.replace(at, 9, "\"admin\"");
    EXPECT_THAT(verifier_->Verify(
                    absl::StrCat(p[0], ".", B64(claims), ".", p[2]), kNow),
                Unauthenticated("bad signature"));
  }
}

TEST_F(JwtTest, TamperedHeaderHasBadSignature) {
  const std::vector<std::string> p = Parts(Mint(*ed_, DefaultClaims()));
  const std::string header = B64(R"({"alg":"EdDSA","kid":"ed-1","typ":"jwt"})");
  EXPECT_THAT(
      verifier_->Verify(absl::StrCat(header, ".", p[1], ".", p[2]), kNow),
      Unauthenticated("bad signature"));
}

TEST_F(JwtTest, CorruptOrTruncatedSignatureIsBad) {
  for (const TokenSigner* signer : {ed_.get(), es_.get()}) {
    SCOPED_TRACE(signer->alg());
    const std::vector<std::string> p = Parts(Mint(*signer, DefaultClaims()));
    std::string sig = Unb64(p[2]);
    const std::string prefix = absl::StrCat(p[0], ".", p[1], ".");
    std::string flipped = sig;
    flipped[10] ^= 0x01;
    EXPECT_THAT(verifier_->Verify(prefix + B64(flipped), kNow),
                Unauthenticated("bad signature"));
    EXPECT_THAT(verifier_->Verify(prefix + B64(sig.substr(0, 63)), kNow),
                Unauthenticated("bad signature"));
    EXPECT_THAT(verifier_->Verify(prefix + B64(sig + "x"), kNow),
                Unauthenticated("bad signature"));
    EXPECT_THAT(verifier_->Verify(prefix, kNow),
                Unauthenticated("bad signature"));
    EXPECT_THAT(verifier_->Verify(prefix + B64(std::string(64, '\0')), kNow),
                Unauthenticated("bad signature"));
  }
}

TEST_F(JwtTest, DerEncodedEs256SignatureIsRejected) {
  // JWS ECDSA signatures are raw r||s; a DER signature (what EVP produces) is
  // never 64 bytes, so it cannot be mistaken for one.
  const std::vector<std::string> p = Parts(Mint(*es_, DefaultClaims()));
  const std::string raw = Unb64(p[2]);
  std::string der =
      "\x30\x44\x02\x20" + raw.substr(0, 32) + "\x02\x20" + raw.substr(32);
  EXPECT_THAT(
      verifier_->Verify(absl::StrCat(p[0], ".", p[1], ".", B64(der)), kNow),
      Unauthenticated("bad signature"));
}

TEST_F(JwtTest, ClaimsAreNotJudgedBeforeTheSignature) {
  // An expired, audience-less token with a bad signature fails on the
  // signature.
  const std::vector<std::string> p =
      Parts(Sign(*ed_, ClaimSet().Erase("aud").Set("exp", "1").Json()));
  std::string sig = Unb64(p[2]);
  sig[0] ^= 0x01;
  EXPECT_THAT(
      verifier_->Verify(absl::StrCat(p[0], ".", p[1], ".", B64(sig)), kNow),
      Unauthenticated("bad signature"));
}

// ---------------------------------------------------------------------------
// Time.

TEST_F(JwtTest, ExpiryHonoursLeewayAtTheBoundary) {
  TokenSigner::Claims c = DefaultClaims();
  c.issued_at = kNow;
  c.ttl = absl::Minutes(10);
  const std::string token = Mint(*ed_, c);
  const absl::Time exp = kNow + absl::Minutes(10);
  EXPECT_THAT(verifier_->Verify(token, exp - absl::Seconds(1)), IsOk());
  EXPECT_THAT(verifier_->Verify(token, exp + absl::Seconds(59)), IsOk());
  EXPECT_THAT(verifier_->Verify(token, exp + absl::Seconds(60)),
              Unauthenticated("token expired (exp)"));
  EXPECT_THAT(verifier_->Verify(token, exp + absl::Hours(24)),
              Unauthenticated("token expired (exp)"));
}

TEST_F(JwtTest, ZeroLeewayExpiresExactlyAtExp) {
  TokenVerifierOptions options = Options();
  options.leeway = absl::ZeroDuration();
  auto verifier = TokenVerifier::Create({{kIssuer, jwks_}}, options);
  ASSERT_THAT(verifier, IsOk());
  TokenSigner::Claims c = DefaultClaims();
  c.issued_at = kNow;
  const std::string token = Mint(*ed_, c);
  EXPECT_THAT((*verifier)->Verify(token, kNow + c.ttl - absl::Seconds(1)),
              IsOk());
  EXPECT_THAT((*verifier)->Verify(token, kNow + c.ttl),
              Unauthenticated("token expired (exp)"));
  EXPECT_THAT((*verifier)->Verify(token, kNow - absl::Seconds(1)),
              Unauthenticated("token not yet valid (nbf)"));
}

TEST_F(JwtTest, NotBeforeHonoursLeewayAtTheBoundary) {
  TokenSigner::Claims c = DefaultClaims();
  c.issued_at = kNow + absl::Minutes(5);  // Mint sets nbf = iat
  const std::string token = Mint(*ed_, c);
  const absl::Time nbf = kNow + absl::Minutes(5);
  EXPECT_THAT(verifier_->Verify(token, nbf), IsOk());
  EXPECT_THAT(verifier_->Verify(token, nbf - absl::Seconds(60)), IsOk());
  EXPECT_THAT(verifier_->Verify(token, nbf - absl::Seconds(61)),
              Unauthenticated("token not yet valid (nbf)"));
}

TEST_F(JwtTest, MissingExpIsRejected) {
  EXPECT_THAT(VerifyClaims(ClaimSet().Erase("exp")),
              Unauthenticated("missing exp"));
}

TEST_F(JwtTest, NonNumericOrOutOfRangeTimesAreInvalid) {
  for (const char* bad : {"\"2030-01-01\"", "null", "true", "-1", "1e300",
                          "[1]", "99999999999999999999", "253402300800"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(VerifyClaims(ClaimSet().Set("exp", bad)),
                Unauthenticated("invalid exp"));
    EXPECT_THAT(VerifyClaims(ClaimSet().Set("nbf", bad)),
                Unauthenticated("invalid nbf"));
    EXPECT_THAT(VerifyClaims(ClaimSet().Set("iat", bad)),
                Unauthenticated("invalid iat"));
  }
}

TEST_F(JwtTest, FractionalTimesAreAccepted) {
  const std::string exp =
      absl::StrCat(absl::ToUnixSeconds(kNow + absl::Minutes(5)), ".5");
  absl::StatusOr<VerifiedToken> v = VerifyClaims(ClaimSet().Set("exp", exp));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->expires_at, kNow + absl::Minutes(5) + absl::Milliseconds(500));
}

TEST_F(JwtTest, AbsentNbfAndIatAreReportedAsInfinitePast) {
  absl::StatusOr<VerifiedToken> v =
      VerifyClaims(ClaimSet().Erase("nbf").Erase("iat"));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->not_before, absl::InfinitePast());
  EXPECT_EQ(v->issued_at, absl::InfinitePast());
}

// ---------------------------------------------------------------------------
// Subject, audience, roles, jti.

TEST_F(JwtTest, MissingOrInvalidSubjectIsRejected) {
  EXPECT_THAT(VerifyClaims(ClaimSet().Erase("sub")),
              Unauthenticated("missing sub"));
  for (const std::string& bad :
       {std::string("\"\""), std::string("42"), std::string("null"),
        std::string("[\"a\"]"), std::string("\"admin\\u0000x\""),
        absl::StrCat("\"", std::string(257, 's'), "\"")}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(VerifyClaims(ClaimSet().Set("sub", bad)),
                Unauthenticated("invalid sub"));
  }
}

TEST_F(JwtTest, WrongAudienceIsRejected) {
  EXPECT_THAT(VerifyClaims(ClaimSet().Set("aud", "\"carelog-staging\"")),
              Unauthenticated("wrong audience (aud)"));
  EXPECT_THAT(VerifyClaims(ClaimSet().Set("aud", "\"CARELOG\"")),
              Unauthenticated("wrong audience (aud)"));
  EXPECT_THAT(VerifyClaims(ClaimSet().Set("aud", R"(["billing","other"])")),
              Unauthenticated("wrong audience (aud)"));
  EXPECT_THAT(VerifyClaims(ClaimSet().Set("aud", "[]")),
              Unauthenticated("wrong audience (aud)"));
  EXPECT_THAT(VerifyClaims(ClaimSet().Erase("aud")),
              Unauthenticated("missing aud"));
  EXPECT_THAT(VerifyClaims(ClaimSet().Set("aud", "7")),
              Unauthenticated("invalid aud"));
  EXPECT_THAT(VerifyClaims(ClaimSet().Set("aud", R"(["carelog",7])")),
              Unauthenticated("invalid aud"));
}

TEST_F(JwtTest, AudienceArrayContainingOurAudienceIsAccepted) {
  EXPECT_THAT(VerifyClaims(ClaimSet().Set("aud", R"(["billing","carelog"])")),
              IsOk());
  EXPECT_THAT(VerifyClaims(ClaimSet().Set("aud", R"(["carelog"])")), IsOk());
}

TEST_F(JwtTest, RolesMustBeABoundedArrayOfStrings) {
  auto roles = [](size_t n, size_t len) {
    std::string out = "[";
    for (size_t i = 0; i < n; ++i)
      absl::StrAppend(&out, i ? "," : "", "\"", std::string(len, 'r'), "\"");
    return out + "]";
  };
  absl::StatusOr<VerifiedToken> v =
      VerifyClaims(ClaimSet().Set("roles", roles(64, 64)));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->roles.size(), 64u);
  for (const std::string& bad :
       {roles(65, 1), roles(1, 65), std::string("\"clinician\""),
        std::string("[\"a\",1]"), std::string("[\"\"]"),
        std::string("{\"r\":1}"), std::string("[\"a\\nb\"]")}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(VerifyClaims(ClaimSet().Set("roles", bad)),
                Unauthenticated("invalid roles"));
  }
}

TEST_F(JwtTest, InvalidJtiIsRejected) {
  EXPECT_THAT(VerifyClaims(ClaimSet().Set("jti", "12")),
              Unauthenticated("invalid jti"));
  EXPECT_THAT(VerifyClaims(ClaimSet().Set("jti", "\"\"")),
              Unauthenticated("invalid jti"));
}

TEST_F(JwtTest, MessagesNeverEchoTheTokenOrClaimValues) {
  const std::string secret = "patient-ZZ-4711";
  ClaimSet claims;
  claims.Set("sub", absl::StrCat("\"", secret, "\""));
  std::vector<std::string> tokens = {
      Sign(
          *ed_,
          ClaimSet(claims).Set("aud", absl::StrCat("\"", secret, "\"")).Json()),
      Sign(*ed_, ClaimSet(claims).Set("exp", "1").Json()),
      Sign(*ed_, ClaimSet(claims)
                     .Set("roles", absl::StrCat("[\"", secret, "\",1]"))
                     .Json()),
      Sign(*ed_, ClaimSet(claims)
                     .Set("jti", absl::StrCat("[\"", secret, "\"]"))
                     .Json()),
      Sign(*ed_, ClaimSet(claims).Set("nbf", "4102444800").Json()),
  };
  std::string forged = tokens[0];
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
  tokens.push_back(forged);
  for (const std::string& token : tokens) {
    absl::StatusOr<VerifiedToken> v = verifier_->Verify(token, kNow);
    ASSERT_EQ(v.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(v.status().message(), Not(HasSubstr(secret)));
    for (const std::string& part : Parts(token)) {
      EXPECT_THAT(v.status().message(), Not(HasSubstr(part)));
    }
  }
}

// ---------------------------------------------------------------------------
// JWKS validation at Create.

TEST(TokenVerifierCreateTest, MalformedJwksIsRefusedNamingIssuerAndKey) {
  TokenVerifierOptions options;
  options.audience = kAudience;
  const std::string ok_okp =
      R"({"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
  struct Case {
    std::string jwks;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"", "not a JSON object"},
      {"{\"keys\":", "not a JSON object"},
      {"[]", "not a JSON object"},
      {"{}", "no \"keys\" array"},
      {R"({"keys":{}})", "no \"keys\" array"},
      {R"({"keys":[]})", "\"keys\" is empty"},
      {absl::StrCat(R"({"keys":[)", ok_okp, R"(,"x"]})"),
       "keys[1]: not a JSON object"},
      {absl::StrCat(R"({"keys":[)", ok_okp,
                    R"(,{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]})"),
       "keys[1]: unsupported kty"},
      {R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})",
       "keys[0]: unsupported kty"},
      {R"({"keys":[{"crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})",
       "keys[0]: missing kty"},
      {R"({"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]})",
       "keys[0]: unsupported crv for kty EC"},
      {R"({"keys":[{"kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})",
       "keys[0]: unsupported crv for kty OKP"},
      {R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPc"}]})",
       "keys[0]: x must be 32 bytes"},
      {R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="}]})",
       "keys[0]: x must be 32 bytes"},
      {R"({"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"}]})",
       "keys[0]: x and y must each be 32 bytes"},
      // RFC 7515 A.3's key with y altered: not on the curve.
      {R"({"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"y_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})",
       "keys[0]: x, y is not a point on P-256"},
      // ... and with y's unused trailing bits set: a non-canonical encoding.
      {R"({"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1"}]})",
       "keys[0]: x and y must each be 32 bytes"},
      {R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]})",
       "keys[0]: holds private key material"},
      {R"({"keys":[{"kty":"OKP","crv":"Ed25519","alg":"ES256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})",
       "keys[0]: alg does not match the key type"},
      {R"({"keys":[{"kty":"OKP","crv":"Ed25519","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})",
       "keys[0]: use must be \"sig\""},
      {R"({"keys":[{"kty":"OKP","crv":"Ed25519","key_ops":["sign"],"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})",
       "keys[0]: key_ops does not allow"},
      {R"({"keys":[{"kty":"OKP","crv":"Ed25519","kid":"","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})",
       "keys[0]: kid must be a non-empty string"},
      {absl::StrCat(R"({"keys":[)", ok_okp, ",", ok_okp, "]}"),
       "keys[1]: duplicate kid \"a\""},
      {absl::StrCat(
           R"({"keys":[)", ok_okp,
           R"(,{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})"),
       "keys[1]: has no kid"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.jwks);
    EXPECT_THAT(
        TokenVerifier::Create({{"https://idp.example.test", c.jwks}}, options),
        InvalidArgument(absl::StrCat(
            "trusted issuer \"https://idp.example.test\" JWKS",
            c.fragment.rfind("keys[", 0) == 0 ? " " : ": ", c.fragment)));
  }
}

TEST(TokenVerifierCreateTest, BadConfigurationIsRefused) {
  const std::string jwks =
      R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})";
  TokenVerifierOptions options;
  options.audience = kAudience;
  EXPECT_THAT(TokenVerifier::Create({}, options),
              InvalidArgument("no trusted issuers"));
  EXPECT_THAT(TokenVerifier::Create({{"", jwks}}, options),
              InvalidArgument("empty name"));
  EXPECT_THAT(TokenVerifier::Create({{"a", jwks}, {"a", jwks}}, options),
              InvalidArgument("listed twice"));
  TokenVerifierOptions no_audience;
  EXPECT_THAT(TokenVerifier::Create({{"a", jwks}}, no_audience),
              InvalidArgument("audience"));
  TokenVerifierOptions negative = options;
  negative.leeway = absl::Seconds(-1);
  EXPECT_THAT(TokenVerifier::Create({{"a", jwks}}, negative),
              InvalidArgument("leeway"));
  EXPECT_THAT(TokenVerifier::Create({{"a", jwks}}, options), IsOk());
}

// ---------------------------------------------------------------------------
// Interoperability vectors.

// RFC 8037 Appendix A.1 (public key) and A.4 (JWS of "Example of Ed25519
// signing").
constexpr char kRfc8037Jwk[] =
    R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
constexpr char kRfc8037Jws[] =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-"
    "09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

// RFC 7515 Appendix A.3: ES256 JWS; the payload has iss "joe", exp 1300819380
// and no sub or aud.
constexpr char kRfc7515A3Jwk[] =
    R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
    R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})";
constexpr char kRfc7515A3Jws[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS"
    "9pc19yb290Ijp0cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-"
    "F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

TEST(JwtVectorTest, Rfc8037Ed25519JwsVerifies) {
  absl::StatusOr<std::string> payload =
      VerifyJwsSignature(kRfc8037Jws, kRfc8037Jwk);
  ASSERT_THAT(payload, IsOk());
  EXPECT_EQ(*payload, "Example of Ed25519 signing");
}

TEST(JwtVectorTest, Rfc8037JwsWithAlteredPayloadIsRejected) {
  std::vector<std::string> p = Parts(kRfc8037Jws);
  EXPECT_THAT(
      VerifyJwsSignature(
          absl::StrCat(p[0], ".", B64("Example of Ed25519 signinG"), ".", p[2]),
          kRfc8037Jwk),
      Unauthenticated("bad signature"));
  // The A.3 P-256 key cannot verify an EdDSA token.
  EXPECT_THAT(VerifyJwsSignature(kRfc8037Jws, kRfc7515A3Jwk),
              Unauthenticated("alg does not match"));
}

TEST(JwtVectorTest, Rfc7515A3Es256JwsVerifies) {
  absl::StatusOr<std::string> payload =
      VerifyJwsSignature(kRfc7515A3Jws, kRfc7515A3Jwk);
  ASSERT_THAT(payload, IsOk());
  EXPECT_EQ(*payload,
            "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n "
            "\"http://example.com/is_root\":true}");
}

TEST(JwtVectorTest, Rfc7515A3Es256PassesSignatureButFailsOnMissingSubject) {
  // Through the full verifier: the signature and exp hold (now is before
  // 1300819380), so the first failure is the absent sub.
  TokenVerifierOptions options;
  options.audience = kAudience;
  auto verifier = TokenVerifier::Create(
      {{"joe", absl::StrCat("{\"keys\":[", kRfc7515A3Jwk, "]}")}}, options);
  ASSERT_THAT(verifier, IsOk());
  EXPECT_THAT(
      (*verifier)->Verify(kRfc7515A3Jws, absl::FromUnixSeconds(1300819000)),
      Unauthenticated("missing sub"));
  EXPECT_THAT((*verifier)->Verify(kRfc7515A3Jws,
                                  absl::FromUnixSeconds(1300819380 + 60)),
              Unauthenticated("token expired (exp)"));
}

// Generated once with PyJWT 2.6 by tests/testdata/jwt/make_pyjwt_vectors.py.
TEST(JwtVectorTest, PyJwtTokensVerify) {
  TokenVerifierOptions options;
  options.audience = kAudience;
  auto verifier = TokenVerifier::Create(
      {{"https://idp.example.test", ReadTestData("pyjwt_jwks.json")}}, options);
  ASSERT_THAT(verifier, IsOk());
  for (const auto& [file, kid] :
       std::vector<std::pair<std::string, std::string>>{
           {"pyjwt_eddsa.jwt", "pyjwt-ed25519"},
           {"pyjwt_es256.jwt", "pyjwt-p256"}}) {
    SCOPED_TRACE(file);
    const std::string token = ReadTestData(file);
    absl::StatusOr<VerifiedToken> v = (*verifier)->Verify(token, kNow);
    ASSERT_THAT(v, IsOk());
    EXPECT_EQ(v->subject, "clinician-0042");
    EXPECT_THAT(v->roles, ElementsAre("clinician", "auditor"));
    EXPECT_EQ(v->issuer, "https://idp.example.test");
    EXPECT_EQ(v->key_id, kid);
    EXPECT_EQ(v->token_id, "pyjwt-vector-1");
    EXPECT_EQ(v->issued_at, absl::FromUnixSeconds(1704067200));
    EXPECT_EQ(v->expires_at, absl::FromUnixSeconds(4102444800));
    EXPECT_THAT(
        (*verifier)->Verify(token, absl::FromUnixSeconds(4102444800 + 60)),
        Unauthenticated("token expired (exp)"));
  }
}

// ---------------------------------------------------------------------------
// PEM files.

class TokenSignerPemTest : public ::testing::TestWithParam<const char*> {};

TEST_P(TokenSignerPemTest, SavedKeyLoadsAndMintsTokensTheOriginalJwksAccepts) {
  TempDir dir;
  const std::string path = dir.Sub("dev-issuer.pem");
  auto signer = TokenSigner::Generate(GetParam(), "dev-1");
  ASSERT_THAT(signer, IsOk());
  ASSERT_THAT((*signer)->SavePem(path), IsOk());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(ReadFileOrEmpty(path), HasSubstr("-----BEGIN PRIVATE KEY-----"));

  auto loaded = TokenSigner::LoadPem(path, "dev-1");
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ((*loaded)->alg(), GetParam());
  EXPECT_EQ((*loaded)->kid(), "dev-1");
  EXPECT_EQ((*loaded)->PublicJwks(), (*signer)->PublicJwks());

  TokenVerifierOptions options;
  options.audience = kAudience;
  auto verifier =
      TokenVerifier::Create({{kIssuer, (*signer)->PublicJwks()}}, options);
  ASSERT_THAT(verifier, IsOk());
  TokenSigner::Claims c;
  c.issuer = kIssuer;
  c.subject = "dev-user";
  c.audience = kAudience;
  c.issued_at = kNow;
  c.ttl = absl::Hours(1);
  auto token = (*loaded)->Mint(c);
  ASSERT_THAT(token, IsOk());
  EXPECT_THAT((*verifier)->Verify(*token, kNow), IsOk());
}

TEST_P(TokenSignerPemTest, SaveRefusesToOverwrite) {
  TempDir dir;
  const std::string path = dir.Sub("dev-issuer.pem");
  auto signer = TokenSigner::Generate(GetParam(), "dev-1");
  ASSERT_THAT(signer, IsOk());
  ASSERT_THAT((*signer)->SavePem(path), IsOk());
  const std::string before = ReadFileOrEmpty(path);
  EXPECT_THAT((*signer)->SavePem(path),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReadFileOrEmpty(path), before);
}

TEST_P(TokenSignerPemTest, GroupOrWorldReadableFileIsRefused) {
  TempDir dir;
  const std::string path = dir.Sub("dev-issuer.pem");
  auto signer = TokenSigner::Generate(GetParam(), "dev-1");
  ASSERT_THAT(signer, IsOk());
  ASSERT_THAT((*signer)->SavePem(path), IsOk());
  for (mode_t mode : {0644, 0640, 0604}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    EXPECT_THAT(TokenSigner::LoadPem(path, "dev-1"),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("chmod 600")));
    EXPECT_THAT(TokenSigner::LoadOrCreatePem(path, GetParam(), "dev-1"),
                StatusIs(absl::StatusCode::kFailedPrecondition));
  }
}

TEST_P(TokenSignerPemTest, LoadOrCreateCreatesOnceThenLoadsTheSameKey) {
  TempDir dir;
  const std::string path = dir.Sub("dev-issuer.pem");
  auto first = TokenSigner::LoadOrCreatePem(path, GetParam(), "dev-1");
  ASSERT_THAT(first, IsOk());
  auto second = TokenSigner::LoadOrCreatePem(path, GetParam(), "dev-1");
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ((*first)->PublicJwks(), (*second)->PublicJwks());
  const char* other = std::string(GetParam()) == "EdDSA" ? "ES256" : "EdDSA";
  EXPECT_THAT(
      TokenSigner::LoadOrCreatePem(path, other, "dev-1"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(GetParam())));
}

INSTANTIATE_TEST_SUITE_P(BothAlgs, TokenSignerPemTest,
                         ::testing::Values("EdDSA", "ES256"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

TEST(TokenSignerPemErrorsTest, MissingGarbageAndUnsupportedFilesAreRefused) {
  TempDir dir;
  EXPECT_THAT(TokenSigner::LoadPem(dir.Sub("absent.pem"), "k"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(TokenSigner::LoadPem(dir.path(), "k"),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = dir.Sub(name);
    FILE* f = std::fopen(path.c_str(), "w");
    EXPECT_NE(f, nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
    EXPECT_EQ(::chmod(path.c_str(), 0600), 0);
    return path;
  };
  EXPECT_THAT(TokenSigner::LoadPem(write("garbage.pem", "not a key\n"), "k"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not an unencrypted PEM")));
  // Valid private keys of types a JWS here cannot use (synthetic, made for
  // this test with `openssl genpkey`).
  const std::string p384 =
      "-----BEGIN PRIVATE KEY-----\n"
      "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCWVjYsp/EGca7L+44a\n"
      "7tYmm1nU8v5NJel8PL9M7kLi6hlmCRjZl5TfnPSTsZ0P2cGhZANiAAQZiLpotMfZ\n"
      "crVKat64b37OQMKKLuLys6iGjOmSdGrcOYT04uWKr2t6ITl8zkiOWNj0AplfKBtB\n"
      "UDE+FeYP/P13qrUAwhnSXPMxm4Uj0GtjXeA1xwTbk7O4RJKpTfi1cVQ=\n"
      "-----END PRIVATE KEY-----\n";
  const std::string x25519 =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VuBCIEIDgI6t1xyhEQ6lekUkGwNFnIjTWdFdHfXdniHIpwQsNd\n"
      "-----END PRIVATE KEY-----\n";
  EXPECT_THAT(
      TokenSigner::LoadPem(write("p384.pem", p384), "k"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("neither")));
  EXPECT_THAT(
      TokenSigner::LoadPem(write("x25519.pem", x25519), "k"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("neither")));
}

// ---------------------------------------------------------------------------
// Concurrency.

TEST_F(JwtTest, ConcurrentVerificationsAgree) {
  const std::string ed_token = Mint(*ed_, DefaultClaims());
  const std::string es_token = Mint(*es_, DefaultClaims());
  std::string forged = es_token;
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (!verifier_->Verify(ed_token, kNow).ok())
          ++failures[t];
        if (!verifier_->Verify(es_token, kNow).ok())
          ++failures[t];
        if (verifier_->Verify(forged, kNow).ok())
          ++failures[t];
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  EXPECT_THAT(failures, ElementsAre(0, 0, 0, 0));
}

}  // namespace
}  // namespace carelog::crypto
