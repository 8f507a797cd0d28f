// crypto/jwt.h — JWT bearer tokens: verification against trusted issuers'
// JWKS keys, and a development issuer that mints tokens.
//
// Only asymmetric JWS algorithms are accepted: ES256 (ECDSA P-256 / SHA-256,
// 64-byte r||s signatures) and EdDSA (Ed25519). "none" and every HMAC
// algorithm are refused outright, so a public key can never be used as an
// HMAC secret (the classic algorithm-confusion attack). Tokens are compact
// JWS (RFC 7515) with unpadded base64url parts; padding, non-alphabet
// characters, non-canonical encodings, duplicate JSON member names and "crit"
// headers are refused.
//
// Verification order (each step's failure is UNAUTHENTICATED with a message
// naming the step): size and shape → header and alg → issuer → key id →
// signature → exp → nbf → iat → sub → aud → roles → jti. Claims are only
// judged after the signature holds. Error messages name the failed check and
// may quote the issuer and kid (escaped, truncated); they never contain the
// token or any other claim value, because they reach clients and logs.
//
// Thread-safety: TokenVerifier and TokenSigner are immutable after
// construction; every const method may be called concurrently. The free
// functions are thread-safe.
//
// Implemented with OpenSSL 3's EVP API and nlohmann-json; neither appears in
// this header.
#ifndef CARELOG_CRYPTO_JWT_H_
#define CARELOG_CRYPTO_JWT_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace carelog::crypto {

// JWS algorithm names accepted here (RFC 7518 §3.4, RFC 8037 §3.1).
inline constexpr char kJwtAlgEs256[] = "ES256";
inline constexpr char kJwtAlgEdDsa[] = "EdDSA";

// Limits on what a token may carry; larger values are refused.
inline constexpr size_t kMaxJwtRoles = 64;
inline constexpr size_t kMaxJwtRoleBytes = 64;
inline constexpr size_t kMaxJwtSubjectBytes = 256;
inline constexpr size_t kMaxJwtTokenIdBytes = 256;

// One issuer whose tokens are trusted, with its public keys as a JWKS
// (RFC 7517 §5) JSON text: {"keys":[{...}, ...]}. Each key is either
// {"kty":"EC","crv":"P-256","x":..,"y":..} or
// {"kty":"OKP","crv":"Ed25519","x":..} with optional "kid", "alg" (must match
// the key type), "use" (must be "sig") and "key_ops" (must contain "verify").
struct TrustedIssuer {
  std::string issuer;     // exact "iss" value
  std::string jwks_json;  // public keys only
};

struct TokenVerifierOptions {
  // Required: the token's "aud" (a string, or an array of strings) must
  // contain this value.
  std::string audience;
  // Clock skew tolerated on exp and nbf.
  absl::Duration leeway = absl::Seconds(60);
  // Tokens longer than this (the whole compact serialisation) are refused
  // before any decoding.
  size_t max_token_bytes = 8192;
};

// The identity a verified token asserts.
struct VerifiedToken {
  std::string subject;             // "sub", non-empty
  std::vector<std::string> roles;  // "roles"; empty if absent
  std::string issuer;              // "iss", one of the trusted issuers
  std::string
      key_id;  // "kid" of the key that verified it ("" if the key has none)
  std::string token_id;   // "jti"; "" if absent
  absl::Time issued_at;   // "iat"; absl::InfinitePast() if absent
  absl::Time not_before;  // "nbf"; absl::InfinitePast() if absent
  absl::Time expires_at;  // "exp" (always present)
};

// Verifies bearer tokens from a fixed set of trusted issuers.
class TokenVerifier {
 public:
  // Parses every issuer's JWKS into public keys.
  // Errors: INVALID_ARGUMENT if `issuers` is empty, an issuer is empty or
  // listed twice, options.audience is empty, options.leeway is negative, or a
  // JWKS is malformed or holds an unusable key: not JSON, no "keys" array,
  // no keys, more than 64 keys, unsupported kty/crv, bad coordinates (wrong
  // length, not on the curve), private key material ("d"), "alg"/"use"/
  // "key_ops" that forbid ES256/EdDSA verification, duplicate kid, or a key
  // without kid in a JWKS of several keys. The message names the issuer and
  // the key index ("keys[1]").
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(
      std::vector<TrustedIssuer> issuers, TokenVerifierOptions options);

  ~TokenVerifier();
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // Verifies compact JWS `token` (the text after "Bearer ") at time `now`.
  // The header must carry "alg"; "kid" is required when the issuer has more
  // than one key (with one key and no kid, that key is used).
  // OK: the signature holds, now < exp + leeway, now >= nbf - leeway, "sub" is
  // a non-empty string, "aud" contains options.audience, and "roles" (if
  // present) is an array of at most kMaxJwtRoles non-empty strings of at most
  // kMaxJwtRoleBytes.
  // Errors, all UNAUTHENTICATED, the message containing:
  //   "malformed token"   too long, not three parts, bad base64url, header or
  //                       payload not a JSON object, "crit" present;
  //   "forbidden alg"     alg "none" or an HMAC algorithm (HS*);
  //   "unsupported alg"   any other alg besides ES256/EdDSA, or no alg;
  //   "missing iss" / "unknown issuer";
  //   "kid required" / "unknown key id (kid)";
  //   "alg does not match key";
  //   "bad signature";
  //   "missing exp" / "invalid exp" / "token expired (exp)";
  //   "invalid nbf" / "token not yet valid (nbf)"; "invalid iat";
  //   "missing sub" / "invalid sub";
  //   "missing aud" / "wrong audience (aud)";
  //   "invalid roles"; "invalid jti".
  // INTERNAL only if OpenSSL cannot allocate. Does not block.
  absl::StatusOr<VerifiedToken> Verify(absl::string_view token,
                                       absl::Time now) const;

 private:
  class Impl;
  explicit TokenVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Checks only the signature of compact JWS `jws` against one public JWK
// (`jwk_json`, same key rules as TokenVerifier) and returns the decoded
// payload bytes; no claims are read, so the payload need not be JSON. For
// interoperability vectors and tools, not for authenticating requests.
// Errors: INVALID_ARGUMENT if the JWK is unusable; UNAUTHENTICATED for the
// token failures listed for TokenVerifier::Verify up to "bad signature"
// (issuer and kid are not consulted).
absl::StatusOr<std::string> VerifyJwsSignature(absl::string_view jws,
                                               absl::string_view jwk_json,
                                               size_t max_token_bytes = 8192);

// A development token issuer: one private key (Ed25519 for "EdDSA", P-256 for
// "ES256") that mints tokens, stored as an unencrypted PKCS#8 PEM file of mode
// 0600, and whose public key is exported as a JWKS for TokenVerifier. For
// loopback development only; production tokens come from a real issuer.
class TokenSigner {
 public:
  struct Claims {
    std::string issuer;              // "iss", required
    std::string subject;             // "sub", required
    std::string audience;            // "aud", required
    std::vector<std::string> roles;  // "roles"
    absl::Time issued_at;  // "iat" and "nbf" (whole seconds, rounded down)
    absl::Duration ttl;    // exp = iat + ttl, at least 1s
    std::string token_id;  // "jti"; random 128 bits if empty
  };

  // A fresh key for `alg` ("EdDSA" or "ES256"). `kid` goes into minted
  // headers and the JWK; it may be empty (then neither carries one).
  // Errors: INVALID_ARGUMENT for another alg or a kid that is not UTF-8;
  // INTERNAL if OpenSSL fails.
  static absl::StatusOr<std::unique_ptr<TokenSigner>> Generate(
      absl::string_view alg, std::string kid);

  // Loads a PEM private key (Ed25519 or P-256) written by SavePem.
  // Errors: NOT_FOUND if `path` does not exist; FAILED_PRECONDITION if it is
  // not a regular file or is group- or world-accessible (the message names the
  // mode and the fix); INVALID_ARGUMENT if it is larger than 16 KiB, not an
  // unencrypted PEM private key, of another key type, or `kid` is not UTF-8;
  // INTERNAL on I/O failure. Blocks on I/O.
  static absl::StatusOr<std::unique_ptr<TokenSigner>> LoadPem(
      const std::string& path, std::string kid);

  // Loads `path`, or if it does not exist generates a key for `alg` and saves
  // it there. Errors: those of LoadPem, Generate and SavePem;
  // FAILED_PRECONDITION if the existing key is not of type `alg`. Blocks on
  // I/O; fsyncs when it creates the file.
  static absl::StatusOr<std::unique_ptr<TokenSigner>> LoadOrCreatePem(
      const std::string& path, absl::string_view alg, std::string kid);

  ~TokenSigner();
  TokenSigner(const TokenSigner&) = delete;
  TokenSigner& operator=(const TokenSigner&) = delete;

  // Writes the private key to a new file `path` (mode 0600, O_EXCL), fsynced.
  // Errors: ALREADY_EXISTS if `path` exists; INTERNAL on I/O or encoding
  // failure (a partly written file is removed). Blocks on I/O.
  absl::Status SavePem(const std::string& path) const;

  // The public key as one JWK object:
  // {"alg":..,"crv":..,"kid":..,"kty":..,"use":"sig","x":..[,"y":..]}.
  std::string PublicJwk() const;
  // {"keys":[PublicJwk()]}, ready for TrustedIssuer::jwks_json.
  std::string PublicJwks() const;

  // A signed token carrying `claims`.
  // Errors: INVALID_ARGUMENT if issuer, subject or audience is empty, ttl is
  // under 1s, issued_at is before 1970 or exp would pass year 9999, a string
  // is not UTF-8, or roles/subject/token_id exceed the kMaxJwt* limits;
  // INTERNAL if OpenSSL fails.
  absl::StatusOr<std::string> Mint(const Claims& claims) const;

  // A compact JWS of arbitrary `payload` bytes under this key's header
  // {"alg","kid","typ":"JWT"}: for tests and tools that need claims Mint will
  // not produce. Errors: INTERNAL if OpenSSL fails.
  absl::StatusOr<std::string> SignJws(absl::string_view payload) const;

  const std::string& alg() const;
  const std::string& kid() const;

 private:
  class Impl;
  explicit TokenSigner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace carelog::crypto

#endif  // CARELOG_CRYPTO_JWT_H_
