#include "crypto/jwt.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace carelog::crypto {

namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------
// OpenSSL ownership.

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr =
    std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr =
    std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using EcdsaSigPtr =
    std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using ParamBldPtr =
    std::unique_ptr<OSSL_PARAM_BLD,
                    Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr =
    std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;

// OpenSSL keeps a per-thread error queue; leaving entries there would make a
// later, unrelated OpenSSL call on this thread report our failure.
absl::Status OpensslError(absl::string_view what) {
  unsigned long code = ERR_get_error();
  char buf[256] = {0};
  if (code != 0)
    ERR_error_string_n(code, buf, sizeof(buf));
  ERR_clear_error();
  return absl::InternalError(
      absl::StrCat(what, " failed: ", code != 0 ? buf : "no OpenSSL error"));
}

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// ---------------------------------------------------------------------------
// Algorithms, limits, messages.

enum class Alg { kEs256, kEdDsa };

const char* AlgName(Alg alg) {
  return alg == Alg::kEs256 ? kJwtAlgEs256 : kJwtAlgEdDsa;
}

std::optional<Alg> AlgFromName(absl::string_view name) {
  if (name == kJwtAlgEs256)
    return Alg::kEs256;
  if (name == kJwtAlgEdDsa)
    return Alg::kEdDsa;
  return std::nullopt;
}

constexpr size_t kCoordinateBytes = 32;  // P-256 coordinates and Ed25519 keys
constexpr size_t kRawSignatureBytes = 64;
constexpr size_t kMaxKeysPerIssuer = 64;
constexpr size_t kMaxJwksBytes = 1 << 20;
constexpr size_t kMaxPemBytes = 16 * 1024;
constexpr int kMaxJsonDepth = 16;
// NumericDate range we accept: 1970 to the end of year 9999.
constexpr int64_t kMaxNumericDate = 253402300799;

// Issuer and kid are the only token values that appear in messages; they are
// attacker-controlled, so they are escaped and cut short.
std::string Quoted(absl::string_view s) {
  constexpr size_t kMax = 64;
  const bool cut = s.size() > kMax;
  return absl::StrCat("\"", absl::CHexEscape(s.substr(0, kMax)),
                      cut ? "...\"" : "\"");
}

absl::Status Unauthenticated(absl::string_view what) {
  return absl::UnauthenticatedError(
      absl::StrCat("invalid bearer token: ", what));
}

// Claim strings end up in logs, audit events and policy lookups: no control
// characters (an embedded NUL could truncate "admin\0x" to "admin").
bool IsCleanString(absl::string_view s, size_t max_bytes) {
  if (s.empty() || s.size() > max_bytes)
    return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f)
      return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// base64url (RFC 4648 §5) without padding. Decoding is strict — no padding,
// no whitespace, zero trailing bits — so that each byte string has exactly one
// accepted encoding and a token cannot be re-encoded into a distinct-looking
// but equally valid one.

constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64UrlEncode(absl::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  const unsigned char* p = Bytes(in);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v =
        (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(kBase64UrlAlphabet[(v >> 18) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 6) & 63]);
    out.push_back(kBase64UrlAlphabet[v & 63]);
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{p[i]} << 16;
    if (rest == 2)
      v |= uint32_t{p[i + 1]} << 8;
    out.push_back(kBase64UrlAlphabet[(v >> 18) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
    if (rest == 2)
      out.push_back(kBase64UrlAlphabet[(v >> 6) & 63]);
  }
  return out;
}

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

bool Base64UrlDecode(absl::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4 == 1)
    return false;
  out->reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = Base64UrlValue(c);
    if (v < 0)
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return bits == 0 || (acc & ((1u << bits) - 1)) == 0;
}

// ---------------------------------------------------------------------------
// JSON.

// Parses `text` as a JSON object. Refuses duplicate member names at any level
// (RFC 7515 §5.2 allows refusing them, and two parsers that pick different
// duplicates would disagree on what was signed) and nesting deeper than
// kMaxJsonDepth. Never throws.
std::optional<json> ParseJsonObject(absl::string_view text) {
  try {
    std::vector<std::set<std::string>> open_objects;
    bool refused = false;
    json::parser_callback_t callback = [&](int depth, json::parse_event_t event,
                                           json& parsed) -> bool {
      switch (event) {
        case json::parse_event_t::object_start:
          open_objects.emplace_back();
          if (depth >= kMaxJsonDepth)
            refused = true;
          break;
        case json::parse_event_t::array_start:
          if (depth >= kMaxJsonDepth)
            refused = true;
          break;
        case json::parse_event_t::object_end:
          if (!open_objects.empty())
            open_objects.pop_back();
          break;
        case json::parse_event_t::key:
          if (open_objects.empty() || !parsed.is_string() ||
              !open_objects.back().insert(parsed.get<std::string>()).second) {
            refused = true;
          }
          break;
        default:
          break;
      }
      return true;
    };
    json value = json::parse(text.begin(), text.end(), callback,
                             /*allow_exceptions=*/false,
                             /*ignore_comments=*/false);
    if (refused || value.is_discarded() || !value.is_object())
      return std::nullopt;
    return value;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

const json* Member(const json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

const std::string* StringMember(const json& object, const char* name) {
  const json* m = Member(object, name);
  return m != nullptr && m->is_string() ? &m->get_ref<const std::string&>()
                                        : nullptr;
}

// Serialises `value`; fails (rather than throwing) on strings that are not
// UTF-8.
std::optional<std::string> Dump(const json& value) {
  try {
    return value.dump(-1, ' ', false, json::error_handler_t::strict);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

// A NumericDate (RFC 7519 §2): integer or fractional seconds since the epoch.
std::optional<absl::Time> NumericDate(const json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(kMaxNumericDate))
      return std::nullopt;
    return absl::FromUnixSeconds(static_cast<int64_t>(u));
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < 0 || i > kMaxNumericDate)
      return std::nullopt;
    return absl::FromUnixSeconds(i);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < 0 || d > static_cast<double>(kMaxNumericDate))
      return std::nullopt;
    return absl::UnixEpoch() + absl::Seconds(d);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Public keys from JWKs.

struct PublicKey {
  std::optional<std::string> kid;
  Alg alg = Alg::kEdDsa;
  PkeyPtr pkey;
};

std::string KeyLabel(const PublicKey& key) {
  return key.kid.has_value() ? absl::StrCat("kid ", Quoted(*key.kid))
                             : "(no kid)";
}

// Builds a P-256 public key from its affine coordinates and checks that the
// point lies on the curve (an off-curve point is an invalid-curve attack
// vector, and a typo in a JWKS file should fail at load, not per request).
PkeyPtr P256PublicKey(const std::string& x, const std::string& y) {
  std::array<unsigned char, 1 + 2 * kCoordinateBytes> point;
  point[0] = 0x04;  // uncompressed SEC1 encoding
  std::memcpy(point.data() + 1, x.data(), kCoordinateBytes);
  std::memcpy(point.data() + 1 + kCoordinateBytes, y.data(), kCoordinateBytes);

  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                       point.data(), point.size()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || ctx == nullptr ||
      EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) !=
          1) {
    ERR_clear_error();
    return nullptr;
  }
  PkeyPtr pkey(raw);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (check == nullptr || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return pkey;
}

bool DecodeCoordinate(const json& jwk, const char* name, std::string* out) {
  const std::string* s = StringMember(jwk, name);
  return s != nullptr && Base64UrlDecode(*s, out) &&
         out->size() == kCoordinateBytes;
}

// `where` names the key in messages, e.g. `trusted issuer "x" JWKS keys[1]`.
absl::StatusOr<PublicKey> ParseJwk(const json& jwk, absl::string_view where) {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", why));
  };
  if (!jwk.is_object())
    return refuse("not a JSON object");
  if (jwk.contains("d")) {
    return refuse(
        "holds private key material (\"d\"); trust files take public keys "
        "only");
  }
  const std::string* kty = StringMember(jwk, "kty");
  if (kty == nullptr)
    return refuse("missing kty");
  const std::string* crv = StringMember(jwk, "crv");
  PublicKey key;
  std::string x;
  std::string y;
  if (*kty == "EC") {
    if (crv == nullptr || *crv != "P-256")
      return refuse("unsupported crv for kty EC (only P-256)");
    if (!DecodeCoordinate(jwk, "x", &x) || !DecodeCoordinate(jwk, "y", &y)) {
      return refuse("x and y must each be 32 bytes of unpadded base64url");
    }
    key.alg = Alg::kEs256;
    key.pkey = P256PublicKey(x, y);
    if (key.pkey == nullptr)
      return refuse("x, y is not a point on P-256");
  } else if (*kty == "OKP") {
    if (crv == nullptr || *crv != "Ed25519") {
      return refuse("unsupported crv for kty OKP (only Ed25519)");
    }
    if (!DecodeCoordinate(jwk, "x", &x))
      return refuse("x must be 32 bytes of unpadded base64url");
    key.alg = Alg::kEdDsa;
    key.pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                               Bytes(x), x.size()));
    if (key.pkey == nullptr) {
      ERR_clear_error();
      return refuse("x is not an Ed25519 public key");
    }
  } else {
    return refuse("unsupported kty (only EC and OKP)");
  }

  if (const json* alg = Member(jwk, "alg"); alg != nullptr) {
    if (!alg->is_string() ||
        alg->get_ref<const std::string&>() != AlgName(key.alg)) {
      return refuse(absl::StrCat("alg does not match the key type (expected ",
                                 AlgName(key.alg), ")"));
    }
  }
  if (const json* use = Member(jwk, "use"); use != nullptr) {
    if (!use->is_string() || use->get_ref<const std::string&>() != "sig") {
      return refuse("use must be \"sig\"");
    }
  }
  if (const json* ops = Member(jwk, "key_ops"); ops != nullptr) {
    bool verify = false;
    if (ops->is_array()) {
      for (const json& op : *ops)
        verify = verify || (op.is_string() && op == "verify");
    }
    if (!verify)
      return refuse("key_ops does not allow \"verify\"");
  }
  if (const json* kid = Member(jwk, "kid"); kid != nullptr) {
    if (!kid->is_string() || kid->get_ref<const std::string&>().empty()) {
      return refuse("kid must be a non-empty string");
    }
    key.kid = kid->get<std::string>();
  }
  return key;
}

absl::StatusOr<std::vector<PublicKey>> ParseJwks(absl::string_view text,
                                                 absl::string_view label) {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(label, " JWKS: ", why));
  };
  if (text.size() > kMaxJwksBytes)
    return refuse("larger than 1 MiB");
  std::optional<json> jwks = ParseJsonObject(text);
  if (!jwks.has_value())
    return refuse("not a JSON object (or has duplicate member names)");
  const json* keys = Member(*jwks, "keys");
  if (keys == nullptr || !keys->is_array())
    return refuse("no \"keys\" array");
  if (keys->empty())
    return refuse("\"keys\" is empty");
  if (keys->size() > kMaxKeysPerIssuer)
    return refuse("more than 64 keys");
  std::vector<PublicKey> out;
  absl::flat_hash_set<std::string> kids;
  for (size_t i = 0; i < keys->size(); ++i) {
    const std::string where = absl::StrCat(label, " JWKS keys[", i, "]");
    absl::StatusOr<PublicKey> key = ParseJwk((*keys)[i], where);
    if (!key.ok())
      return key.status();
    if (key->kid.has_value() && !kids.insert(*key->kid).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": duplicate kid ", Quoted(*key->kid)));
    }
    if (!key->kid.has_value() && keys->size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": has no kid, which a JWKS of several keys requires"));
    }
    out.push_back(*std::move(key));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Compact JWS.

struct Jws {
  absl::string_view signing_input;  // "header.payload" exactly as received
  Alg alg = Alg::kEdDsa;
  std::optional<std::string> kid;
  std::string payload;
  std::string signature;
};

absl::StatusOr<Alg> HeaderAlg(const json& header) {
  const std::string* name = StringMember(header, "alg");
  if (name == nullptr)
    return Unauthenticated("unsupported alg: header has no alg");
  if (std::optional<Alg> alg = AlgFromName(*name); alg.has_value())
    return *alg;
  if (absl::EqualsIgnoreCase(*name, "none")) {
    return Unauthenticated("forbidden alg \"none\": tokens must be signed");
  }
  if (absl::StartsWithIgnoreCase(*name, "HS")) {
    return Unauthenticated(
        "forbidden alg (HMAC); only ES256 and EdDSA are accepted");
  }
  return Unauthenticated("unsupported alg; only ES256 and EdDSA are accepted");
}

absl::StatusOr<Jws> ParseCompact(absl::string_view token,
                                 size_t max_token_bytes) {
  if (token.size() > max_token_bytes) {
    return Unauthenticated(absl::StrCat("malformed token: longer than ",
                                        max_token_bytes, " bytes"));
  }
  const size_t dot1 = token.find('.');
  const size_t dot2 =
      dot1 == absl::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == absl::string_view::npos ||
      token.find('.', dot2 + 1) != absl::string_view::npos) {
    return Unauthenticated("malformed token: not three dot-separated parts");
  }
  std::string header_bytes;
  if (dot1 == 0 || !Base64UrlDecode(token.substr(0, dot1), &header_bytes)) {
    return Unauthenticated("malformed token: header is not unpadded base64url");
  }
  std::optional<json> header = ParseJsonObject(header_bytes);
  if (!header.has_value())
    return Unauthenticated("malformed token: header is not a JSON object");

  // The algorithm is judged before the payload or signature are looked at,
  // so "none" and HMAC tokens fail the same way whatever their signature.
  Jws jws;
  absl::StatusOr<Alg> alg = HeaderAlg(*header);
  if (!alg.ok())
    return alg.status();
  jws.alg = *alg;
  // No extension is understood, so any "crit" must be refused (RFC 7515
  // §4.1.11).
  if (header->contains("crit"))
    return Unauthenticated("malformed token: unsupported crit header");
  if (const json* kid = Member(*header, "kid"); kid != nullptr) {
    if (!kid->is_string())
      return Unauthenticated("malformed token: kid is not a string");
    jws.kid = kid->get<std::string>();
  }
  if (!Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1), &jws.payload)) {
    return Unauthenticated(
        "malformed token: payload is not unpadded base64url");
  }
  if (!Base64UrlDecode(token.substr(dot2 + 1), &jws.signature)) {
    return Unauthenticated(
        "malformed token: signature is not unpadded base64url");
  }
  jws.signing_input = token.substr(0, dot2);
  return jws;
}

// JWS carries ECDSA signatures as fixed-width r||s (RFC 7518 §3.4); EVP wants
// DER ECDSA-Sig-Value.
std::optional<std::string> RawEcdsaToDer(absl::string_view raw) {
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BnPtr r(BN_bin2bn(Bytes(raw), kCoordinateBytes, nullptr));
  BnPtr s(BN_bin2bn(Bytes(raw) + kCoordinateBytes, kCoordinateBytes, nullptr));
  if (sig == nullptr || r == nullptr || s == nullptr ||
      ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  r.release();  // owned by sig now
  s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) {
    ERR_clear_error();
    return std::nullopt;
  }
  return der;
}

absl::Status CheckSignature(const PublicKey& key, const Jws& jws) {
  if (jws.alg != key.alg) {
    return Unauthenticated(absl::StrCat(
        "alg does not match key ", KeyLabel(key), " (", AlgName(key.alg), ")"));
  }
  if (jws.signature.size() != kRawSignatureBytes)
    return Unauthenticated("bad signature");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr)
    return OpensslError("EVP_MD_CTX_new");
  int rc = 0;
  if (key.alg == Alg::kEdDsa) {
    rc = EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr,
                              key.pkey.get());
    if (rc == 1) {
      rc = EVP_DigestVerify(ctx.get(), Bytes(jws.signature),
                            jws.signature.size(), Bytes(jws.signing_input),
                            jws.signing_input.size());
    }
  } else {
    std::optional<std::string> der = RawEcdsaToDer(jws.signature);
    if (!der.has_value())
      return Unauthenticated("bad signature");
    rc = EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                              key.pkey.get());
    if (rc == 1) {
      rc = EVP_DigestVerify(ctx.get(), Bytes(*der), der->size(),
                            Bytes(jws.signing_input), jws.signing_input.size());
    }
  }
  ERR_clear_error();
  if (rc != 1)
    return Unauthenticated("bad signature");
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Files (same rules as crypto/key_file.cc).

absl::StatusOr<std::string> ReadPrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return absl::NotFoundError(absl::StrCat("key file ", path, " not found"));
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open key file ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("key file ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrFormat("key file %s is readable by group or others (mode "
                        "%04o); run: chmod 600 %s",
                        path, st.st_mode & 07777, path));
  }
  std::string data(kMaxPemBytes + 1, '\0');
  size_t len = 0;
  while (len < data.size()) {
    ssize_t n = ::read(fd, data.data() + len, data.size() - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      OPENSSL_cleanse(data.data(), data.size());
      return absl::InternalError(
          absl::StrCat("reading key file ", path, ": ", std::strerror(err)));
    }
    if (n == 0)
      break;
    len += static_cast<size_t>(n);
  }
  ::close(fd);
  if (len > kMaxPemBytes) {
    OPENSSL_cleanse(data.data(), data.size());
    return absl::InvalidArgumentError(
        absl::StrCat("key file ", path, " is larger than 16 KiB"));
  }
  data.resize(len);  // the caller cleanses it once parsed
  return data;
}

absl::Status WritePrivateFile(const std::string& path, absl::string_view data) {
  int fd = ::open(path.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return absl::AlreadyExistsError(
          absl::StrCat("key file ", path, " exists"));
    return absl::InternalError(
        absl::StrCat("creating key file ", path, ": ", std::strerror(errno)));
  }
  auto fail = [&](absl::string_view what) {
    const int err = errno;
    ::close(fd);
    // A truncated key file would make every later load fail; remove it.
    ::unlink(path.c_str());
    return absl::InternalError(
        absl::StrCat(what, " key file ", path, ": ", std::strerror(err)));
  };
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail("writing");
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0)
    return fail("syncing");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return absl::InternalError(
        absl::StrCat("closing key file ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

int RefusePassphrase(char*, int, int, void*) {
  return -1;
}

}  // namespace

// ===========================================================================
// TokenVerifier

class TokenVerifier::Impl {
 public:
  struct Issuer {
    std::string name;
    std::vector<PublicKey> keys;
  };

  Impl(absl::flat_hash_map<std::string, Issuer> issuers,
       TokenVerifierOptions options)
      : issuers_(std::move(issuers)), options_(std::move(options)) {}

  absl::StatusOr<VerifiedToken> Verify(absl::string_view token,
                                       absl::Time now) const;

 private:
  const absl::flat_hash_map<std::string, Issuer> issuers_;
  const TokenVerifierOptions options_;
};

absl::StatusOr<VerifiedToken> TokenVerifier::Impl::Verify(
    absl::string_view token, absl::Time now) const {
  absl::StatusOr<Jws> jws = ParseCompact(token, options_.max_token_bytes);
  if (!jws.ok())
    return jws.status();
  // The issuer must be read before the signature is checked, to know which
  // keys to check it with; nothing else in the payload is trusted until then.
  std::optional<json> claims = ParseJsonObject(jws->payload);
  if (!claims.has_value())
    return Unauthenticated("malformed token: payload is not a JSON object");

  const std::string* iss = StringMember(*claims, "iss");
  if (iss == nullptr)
    return Unauthenticated("missing iss");
  auto issuer_it = issuers_.find(*iss);
  if (issuer_it == issuers_.end())
    return Unauthenticated(absl::StrCat("unknown issuer ", Quoted(*iss)));
  const Issuer& issuer = issuer_it->second;

  const PublicKey* key = nullptr;
  if (jws->kid.has_value()) {
    for (const PublicKey& k : issuer.keys) {
      if (k.kid == jws->kid)
        key = &k;
    }
    if (key == nullptr) {
      return Unauthenticated(absl::StrCat("unknown key id (kid) ",
                                          Quoted(*jws->kid), " for issuer ",
                                          Quoted(issuer.name)));
    }
  } else if (issuer.keys.size() == 1) {
    key = &issuer.keys.front();
  } else {
    return Unauthenticated(absl::StrCat("kid required: issuer ",
                                        Quoted(issuer.name), " has ",
                                        issuer.keys.size(), " keys"));
  }
  if (absl::Status s = CheckSignature(*key, *jws); !s.ok())
    return s;

  VerifiedToken out;
  out.issuer = issuer.name;
  out.key_id = key->kid.value_or("");

  const json* exp = Member(*claims, "exp");
  if (exp == nullptr)
    return Unauthenticated("missing exp");
  std::optional<absl::Time> expires_at = NumericDate(*exp);
  if (!expires_at.has_value())
    return Unauthenticated("invalid exp");
  if (now >= *expires_at + options_.leeway)
    return Unauthenticated("token expired (exp)");
  out.expires_at = *expires_at;

  out.not_before = absl::InfinitePast();
  if (const json* nbf = Member(*claims, "nbf"); nbf != nullptr) {
    std::optional<absl::Time> not_before = NumericDate(*nbf);
    if (!not_before.has_value())
      return Unauthenticated("invalid nbf");
    if (now < *not_before - options_.leeway)
      return Unauthenticated("token not yet valid (nbf)");
    out.not_before = *not_before;
  }

  out.issued_at = absl::InfinitePast();
  if (const json* iat = Member(*claims, "iat"); iat != nullptr) {
    std::optional<absl::Time> issued_at = NumericDate(*iat);
    if (!issued_at.has_value())
      return Unauthenticated("invalid iat");
    out.issued_at = *issued_at;
  }

  const json* sub = Member(*claims, "sub");
  if (sub == nullptr)
    return Unauthenticated("missing sub");
  if (!sub->is_string() ||
      !IsCleanString(sub->get_ref<const std::string&>(), kMaxJwtSubjectBytes)) {
    return Unauthenticated("invalid sub");
  }
  out.subject = sub->get<std::string>();

  const json* aud = Member(*claims, "aud");
  if (aud == nullptr)
    return Unauthenticated("missing aud");
  bool audience_ok = false;
  if (aud->is_string()) {
    audience_ok = aud->get_ref<const std::string&>() == options_.audience;
  } else if (aud->is_array()) {
    for (const json& a : *aud) {
      if (!a.is_string())
        return Unauthenticated("invalid aud");
      audience_ok =
          audience_ok || a.get_ref<const std::string&>() == options_.audience;
    }
  } else {
    return Unauthenticated("invalid aud");
  }
  if (!audience_ok)
    return Unauthenticated("wrong audience (aud)");

  if (const json* roles = Member(*claims, "roles"); roles != nullptr) {
    if (!roles->is_array() || roles->size() > kMaxJwtRoles)
      return Unauthenticated("invalid roles");
    for (const json& r : *roles) {
      if (!r.is_string() ||
          !IsCleanString(r.get_ref<const std::string&>(), kMaxJwtRoleBytes)) {
        return Unauthenticated("invalid roles");
      }
      out.roles.push_back(r.get<std::string>());
    }
  }

  if (const json* jti = Member(*claims, "jti"); jti != nullptr) {
    if (!jti->is_string() || !IsCleanString(jti->get_ref<const std::string&>(),
                                            kMaxJwtTokenIdBytes)) {
      return Unauthenticated("invalid jti");
    }
    out.token_id = jti->get<std::string>();
  }
  return out;
}

TokenVerifier::TokenVerifier(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
TokenVerifier::~TokenVerifier() = default;

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(
    std::vector<TrustedIssuer> issuers, TokenVerifierOptions options) {
  if (issuers.empty())
    return absl::InvalidArgumentError("no trusted issuers");
  if (options.audience.empty())
    return absl::InvalidArgumentError("audience is empty");
  if (options.leeway < absl::ZeroDuration())
    return absl::InvalidArgumentError("leeway is negative");
  try {
    absl::flat_hash_map<std::string, Impl::Issuer> by_name;
    for (size_t i = 0; i < issuers.size(); ++i) {
      TrustedIssuer& t = issuers[i];
      if (t.issuer.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("trusted issuer #", i, " has an empty name"));
      }
      const std::string label =
          absl::StrCat("trusted issuer ", Quoted(t.issuer));
      if (by_name.contains(t.issuer)) {
        return absl::InvalidArgumentError(
            absl::StrCat(label, " is listed twice"));
      }
      absl::StatusOr<std::vector<PublicKey>> keys =
          ParseJwks(t.jwks_json, label);
      if (!keys.ok())
        return keys.status();
      Impl::Issuer issuer{t.issuer, *std::move(keys)};
      by_name.emplace(std::move(t.issuer), std::move(issuer));
    }
    return std::unique_ptr<TokenVerifier>(new TokenVerifier(
        std::make_unique<Impl>(std::move(by_name), std::move(options))));
  } catch (const json::exception& e) {
    // Not expected (every access is type-checked); refuse rather than throw.
    return absl::InvalidArgumentError(
        absl::StrCat("JWKS could not be read: ", e.what()));
  }
}

absl::StatusOr<VerifiedToken> TokenVerifier::Verify(absl::string_view token,
                                                    absl::Time now) const {
  try {
    return impl_->Verify(token, now);
  } catch (const json::exception&) {
    // Not expected (every access is type-checked); fail closed.
    return Unauthenticated("malformed token");
  }
}

absl::StatusOr<std::string> VerifyJwsSignature(absl::string_view jws,
                                               absl::string_view jwk_json,
                                               size_t max_token_bytes) {
  try {
    std::optional<json> jwk = ParseJsonObject(jwk_json);
    if (!jwk.has_value())
      return absl::InvalidArgumentError("JWK: not a JSON object");
    absl::StatusOr<PublicKey> key = ParseJwk(*jwk, "JWK");
    if (!key.ok())
      return key.status();
    absl::StatusOr<Jws> parsed = ParseCompact(jws, max_token_bytes);
    if (!parsed.ok())
      return parsed.status();
    if (absl::Status s = CheckSignature(*key, *parsed); !s.ok())
      return s;
    return std::move(parsed->payload);
  } catch (const json::exception&) {
    return Unauthenticated("malformed token");
  }
}

// ===========================================================================
// TokenSigner

class TokenSigner::Impl {
 public:
  Alg alg = Alg::kEdDsa;
  std::string alg_name;
  std::string kid;
  PkeyPtr pkey;
  std::string public_jwk;  // computed once: PublicJwk() cannot fail
  std::string header_b64;

  // Shared tail of Generate and LoadPem: derives the public JWK and the header.
  static absl::StatusOr<std::unique_ptr<Impl>> Make(Alg alg, std::string kid,
                                                    PkeyPtr pkey);

  absl::StatusOr<std::string> SignRaw(absl::string_view input) const;
};

absl::StatusOr<std::string> TokenSigner::Impl::SignRaw(
    absl::string_view input) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr,
                         alg == Alg::kEs256 ? EVP_sha256() : nullptr, nullptr,
                         pkey.get()) != 1) {
    return OpensslError("EVP_DigestSignInit");
  }
  const int max_len = EVP_PKEY_get_size(pkey.get());
  if (max_len <= 0)
    return OpensslError("EVP_PKEY_get_size");
  std::string sig(static_cast<size_t>(max_len), '\0');
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len, Bytes(input), input.size()) != 1) {
    return OpensslError("EVP_DigestSign");
  }
  sig.resize(len);
  if (alg == Alg::kEdDsa) {
    if (sig.size() != kRawSignatureBytes)
      return absl::InternalError("Ed25519 signature size");
    return sig;
  }
  const unsigned char* p = Bytes(sig);
  EcdsaSigPtr ecdsa(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (ecdsa == nullptr)
    return OpensslError("d2i_ECDSA_SIG");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(ecdsa.get(), &r, &s);
  std::string raw(kRawSignatureBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kCoordinateBytes) !=
          static_cast<int>(kCoordinateBytes) ||
      BN_bn2binpad(s, out + kCoordinateBytes, kCoordinateBytes) !=
          static_cast<int>(kCoordinateBytes)) {
    return OpensslError("BN_bn2binpad");
  }
  return raw;
}

namespace {

absl::StatusOr<std::string> PublicCoordinate(EVP_PKEY* pkey,
                                             const char* param) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, param, &raw) != 1)
    return OpensslError("EVP_PKEY_get_bn_param");
  BnPtr bn(raw);
  std::string out(kCoordinateBytes, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()),
                   kCoordinateBytes) != static_cast<int>(kCoordinateBytes)) {
    return OpensslError("BN_bn2binpad");
  }
  return out;
}

}  // namespace

TokenSigner::TokenSigner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TokenSigner::~TokenSigner() = default;

absl::StatusOr<std::unique_ptr<TokenSigner::Impl>> TokenSigner::Impl::Make(
    Alg alg, std::string kid, PkeyPtr pkey) {
  auto impl = std::make_unique<Impl>();
  impl->alg = alg;
  impl->alg_name = AlgName(alg);
  impl->kid = std::move(kid);
  impl->pkey = std::move(pkey);

  json jwk = json::object();
  if (alg == Alg::kEdDsa) {
    std::string x(kCoordinateBytes, '\0');
    size_t len = x.size();
    if (EVP_PKEY_get_raw_public_key(impl->pkey.get(),
                                    reinterpret_cast<unsigned char*>(x.data()),
                                    &len) != 1 ||
        len != kCoordinateBytes) {
      return OpensslError("EVP_PKEY_get_raw_public_key");
    }
    jwk["kty"] = "OKP";
    jwk["crv"] = "Ed25519";
    jwk["x"] = Base64UrlEncode(x);
  } else {
    absl::StatusOr<std::string> x =
        PublicCoordinate(impl->pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X);
    if (!x.ok())
      return x.status();
    absl::StatusOr<std::string> y =
        PublicCoordinate(impl->pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y);
    if (!y.ok())
      return y.status();
    jwk["kty"] = "EC";
    jwk["crv"] = "P-256";
    jwk["x"] = Base64UrlEncode(*x);
    jwk["y"] = Base64UrlEncode(*y);
  }
  jwk["alg"] = impl->alg_name;
  jwk["use"] = "sig";
  json header = json::object();
  header["alg"] = impl->alg_name;
  header["typ"] = "JWT";
  if (!impl->kid.empty()) {
    jwk["kid"] = impl->kid;
    header["kid"] = impl->kid;
  }
  std::optional<std::string> jwk_text = Dump(jwk);
  std::optional<std::string> header_text = Dump(header);
  if (!jwk_text.has_value() || !header_text.has_value()) {
    return absl::InvalidArgumentError("kid is not valid UTF-8");
  }
  impl->public_jwk = *std::move(jwk_text);
  impl->header_b64 = Base64UrlEncode(*header_text);
  return impl;
}

absl::StatusOr<std::unique_ptr<TokenSigner>> TokenSigner::Generate(
    absl::string_view alg_name, std::string kid) {
  std::optional<Alg> alg = AlgFromName(alg_name);
  if (!alg.has_value()) {
    return absl::InvalidArgumentError(
        "token signing alg must be \"EdDSA\" or \"ES256\"");
  }
  PkeyPtr pkey(*alg == Alg::kEdDsa
                   ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                   : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (pkey == nullptr)
    return OpensslError("EVP_PKEY_Q_keygen");
  absl::StatusOr<std::unique_ptr<Impl>> impl =
      Impl::Make(*alg, std::move(kid), std::move(pkey));
  if (!impl.ok())
    return impl.status();
  return std::unique_ptr<TokenSigner>(new TokenSigner(*std::move(impl)));
}

absl::StatusOr<std::unique_ptr<TokenSigner>> TokenSigner::LoadPem(
    const std::string& path, std::string kid) {
  absl::StatusOr<std::string> pem = ReadPrivateFile(path);
  if (!pem.ok())
    return pem.status();
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  PkeyPtr pkey(bio == nullptr
                   ? nullptr
                   : PEM_read_bio_PrivateKey(bio.get(), nullptr,
                                             RefusePassphrase, nullptr));
  OPENSSL_cleanse(pem->data(), pem->size());
  ERR_clear_error();
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key file ", path, " is not an unencrypted PEM private key"));
  }
  std::optional<Alg> alg;
  if (EVP_PKEY_is_a(pkey.get(), "ED25519")) {
    alg = Alg::kEdDsa;
  } else if (EVP_PKEY_is_a(pkey.get(), "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey.get(), group, sizeof(group), &len) == 1 &&
        (std::strcmp(group, "prime256v1") == 0 ||
         std::strcmp(group, "P-256") == 0)) {
      alg = Alg::kEs256;
    }
    ERR_clear_error();
  }
  if (!alg.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key file ", path, " holds neither an Ed25519 nor a P-256 key"));
  }
  absl::StatusOr<std::unique_ptr<Impl>> impl =
      Impl::Make(*alg, std::move(kid), std::move(pkey));
  if (!impl.ok())
    return impl.status();
  return std::unique_ptr<TokenSigner>(new TokenSigner(*std::move(impl)));
}

absl::StatusOr<std::unique_ptr<TokenSigner>> TokenSigner::LoadOrCreatePem(
    const std::string& path, absl::string_view alg, std::string kid) {
  if (!AlgFromName(alg).has_value()) {
    return absl::InvalidArgumentError(
        "token signing alg must be \"EdDSA\" or \"ES256\"");
  }
  auto check_alg = [&](absl::StatusOr<std::unique_ptr<TokenSigner>> loaded)
      -> absl::StatusOr<std::unique_ptr<TokenSigner>> {
    if (loaded.ok() && (*loaded)->alg() != alg) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key file ", path, " holds a ", (*loaded)->alg(), " key, not ", alg));
    }
    return loaded;
  };
  absl::StatusOr<std::unique_ptr<TokenSigner>> loaded = LoadPem(path, kid);
  if (!absl::IsNotFound(loaded.status()))
    return check_alg(std::move(loaded));
  absl::StatusOr<std::unique_ptr<TokenSigner>> created = Generate(alg, kid);
  if (!created.ok())
    return created.status();
  absl::Status saved = (*created)->SavePem(path);
  // Another process created it between our load and save: use theirs.
  if (absl::IsAlreadyExists(saved))
    return check_alg(LoadPem(path, std::move(kid)));
  if (!saved.ok())
    return saved;
  return created;
}

absl::Status TokenSigner::SavePem(const std::string& path) const {
  // A secure-heap BIO: the PEM text is the private key, and is cleansed on
  // free.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr,
                               0, nullptr, nullptr) != 1) {
    return OpensslError("PEM_write_bio_PrivateKey");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr)
    return OpensslError("BIO_get_mem_data");
  return WritePrivateFile(path,
                          absl::string_view(data, static_cast<size_t>(len)));
}

std::string TokenSigner::PublicJwk() const {
  return impl_->public_jwk;
}

std::string TokenSigner::PublicJwks() const {
  return absl::StrCat("{\"keys\":[", impl_->public_jwk, "]}");
}

absl::StatusOr<std::string> TokenSigner::SignJws(
    absl::string_view payload) const {
  std::string token =
      absl::StrCat(impl_->header_b64, ".", Base64UrlEncode(payload));
  absl::StatusOr<std::string> sig = impl_->SignRaw(token);
  if (!sig.ok())
    return sig.status();
  absl::StrAppend(&token, ".", Base64UrlEncode(*sig));
  return token;
}

absl::StatusOr<std::string> TokenSigner::Mint(const Claims& claims) const {
  auto refuse = [](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("token claims: ", why));
  };
  if (claims.issuer.empty())
    return refuse("issuer is empty");
  if (!IsCleanString(claims.subject, kMaxJwtSubjectBytes)) {
    return refuse("subject is empty, too long or has control characters");
  }
  if (claims.audience.empty())
    return refuse("audience is empty");
  if (claims.roles.size() > kMaxJwtRoles)
    return refuse("more than 64 roles");
  for (const std::string& role : claims.roles) {
    if (!IsCleanString(role, kMaxJwtRoleBytes)) {
      return refuse(
          "a role is empty, longer than 64 bytes or has control characters");
    }
  }
  if (!claims.token_id.empty() &&
      !IsCleanString(claims.token_id, kMaxJwtTokenIdBytes)) {
    return refuse("token_id is too long or has control characters");
  }
  if (claims.ttl < absl::Seconds(1))
    return refuse("ttl is under 1s");
  if (claims.issued_at < absl::UnixEpoch())
    return refuse("issued_at is before 1970");
  const int64_t iat = absl::ToUnixSeconds(claims.issued_at);
  if (claims.ttl > absl::Seconds(kMaxNumericDate) || iat > kMaxNumericDate ||
      absl::ToInt64Seconds(claims.ttl) > kMaxNumericDate - iat) {
    return refuse("expiry is past year 9999");
  }
  const int64_t exp = iat + absl::ToInt64Seconds(claims.ttl);

  std::string token_id = claims.token_id;
  if (token_id.empty()) {
    std::array<unsigned char, 16> random;
    if (RAND_bytes(random.data(), random.size()) != 1)
      return OpensslError("RAND_bytes");
    token_id = Base64UrlEncode(absl::string_view(
        reinterpret_cast<const char*>(random.data()), random.size()));
  }

  std::optional<std::string> payload;
  try {
    json body = json::object();
    body["iss"] = claims.issuer;
    body["sub"] = claims.subject;
    body["aud"] = claims.audience;
    body["iat"] = iat;
    body["nbf"] = iat;
    body["exp"] = exp;
    body["jti"] = token_id;
    body["roles"] = claims.roles;
    payload = Dump(body);
  } catch (const json::exception&) {
    payload.reset();
  }
  if (!payload.has_value())
    return refuse("a string is not valid UTF-8");
  return SignJws(*payload);
}

const std::string& TokenSigner::alg() const {
  return impl_->alg_name;
}
const std::string& TokenSigner::kid() const {
  return impl_->kid;
}

}  // namespace carelog::crypto
