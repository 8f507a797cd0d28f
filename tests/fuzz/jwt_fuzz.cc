// tests/fuzz/jwt_fuzz.cc — libFuzzer target for JWT parsing and verification
// (crypto/jwt.h). The first input byte picks what the rest is:
//   0: a compact token, verified against two trusted issuers (an EdDSA key
//      with kid, an ES256 key without) — shape, base64url, header JSON, alg,
//      issuer and kid checks, signature;
//   1: claims (the JWS payload bytes), signed here with the EdDSA issuer's
//      key and verified, so every claim check behind the signature is
//      reached: exp, nbf, iat, sub, aud, roles, jti;
//   2: a JWKS text given to TokenVerifier::Create;
//   3: a token given to VerifyJwsSignature with the EdDSA public JWK.
// Properties: every failure is UNAUTHENTICATED (INVALID_ARGUMENT for a bad
// JWKS), never anything else; an accepted token has a non-empty subject, a
// known issuer, at most kMaxJwtRoles non-empty roles, and is not expired at
// the fixed verification time; error messages never quote the token.
// Keys are generated per process: signatures in committed seeds do not hold,
// which is why mode 1 signs at run time.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/time/time.h"

#include "crypto/jwt.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using carelog::fuzz::Check;
namespace crypto = carelog::crypto;

constexpr char kIssuerEd[] = "https://ed.issuer.test";
constexpr char kIssuerEs[] = "https://es.issuer.test";

struct Fixture {
  std::unique_ptr<crypto::TokenSigner> ed;
  std::unique_ptr<crypto::TokenSigner> es;
  std::unique_ptr<crypto::TokenVerifier> verifier;
  // 2026-01-01T00:00:00Z: fixed, so runs are reproducible.
  absl::Time now = absl::FromUnixSeconds(1767225600);

  Fixture() {
    auto ed_or = crypto::TokenSigner::Generate(crypto::kJwtAlgEdDsa, "ed-1");
    auto es_or = crypto::TokenSigner::Generate(crypto::kJwtAlgEs256, "");
    Check(ed_or.ok() && es_or.ok(), "fixture keys generate");
    ed = std::move(*ed_or);
    es = std::move(*es_or);
    crypto::TokenVerifierOptions o;
    o.audience = "carelog";
    auto v = crypto::TokenVerifier::Create(
        {{kIssuerEd, ed->PublicJwks()}, {kIssuerEs, es->PublicJwks()}}, o);
    Check(v.ok(), "fixture verifier builds");
    verifier = std::move(*v);
  }
};

void CheckVerified(const absl::StatusOr<crypto::VerifiedToken>& t,
                   absl::string_view token, const Fixture& f) {
  if (!t.ok()) {
    Check(t.status().code() == absl::StatusCode::kUnauthenticated,
          "a refused token is UNAUTHENTICATED");
    // Only a token with a '.' can be told apart from the messages' own fixed
    // text (none of which has one): the smoke run found a "token" that was
    // itself a piece of that text (corpus/jwt_fuzz/regression-fixed-text).
    Check(token.size() < 16 || token.find('.') == absl::string_view::npos ||
              t.status().message().find(token) == absl::string_view::npos,
          "the error message does not quote the token");
    return;
  }
  Check(!t->subject.empty(), "an accepted token has a subject");
  Check(t->issuer == kIssuerEd || t->issuer == kIssuerEs,
        "an accepted token comes from a trusted issuer");
  Check(t->roles.size() <= crypto::kMaxJwtRoles, "roles are bounded");
  for (const std::string& r : t->roles)
    Check(!r.empty() && r.size() <= crypto::kMaxJwtRoleBytes,
          "each role is non-empty and bounded");
  Check(f.now < t->expires_at + absl::Seconds(60),
        "an accepted token is not expired");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture* f = new Fixture();
  if (size == 0)
    return 0;
  const uint8_t mode = data[0] % 4;
  const absl::string_view in = carelog::fuzz::Bytes(data + 1, size - 1);
  switch (mode) {
    case 0:
      CheckVerified(f->verifier->Verify(in, f->now), in, *f);
      break;
    case 1: {
      auto token = f->ed->SignJws(in);
      Check(token.ok(), "SignJws signs any payload");
      CheckVerified(f->verifier->Verify(*token, f->now), *token, *f);
      break;
    }
    case 2: {
      crypto::TokenVerifierOptions o;
      o.audience = "carelog";
      auto v = crypto::TokenVerifier::Create({{kIssuerEd, std::string(in)}}, o);
      Check(v.ok() || v.status().code() == absl::StatusCode::kInvalidArgument,
            "a bad JWKS is INVALID_ARGUMENT");
      break;
    }
    case 3: {
      auto payload = crypto::VerifyJwsSignature(in, f->ed->PublicJwk());
      Check(payload.ok() ||
                payload.status().code() == absl::StatusCode::kUnauthenticated,
            "a refused JWS is UNAUTHENTICATED");
      break;
    }
  }
  return 0;
}
