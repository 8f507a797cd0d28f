#include "crypto/signing_key.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"

#include "crypto/key_file.h"
#include "crypto/secret_key.h"

namespace carelog::crypto {

static_assert(kPublicKeyBytes == crypto_sign_PUBLICKEYBYTES);
static_assert(kSignatureBytes == crypto_sign_BYTES);
static_assert(crypto_sign_SEEDBYTES == kKeyBytes);

SigningKey::~SigningKey() {
  if (secret_ != nullptr)
    sodium_free(secret_);
}

absl::StatusOr<std::unique_ptr<SigningKey>> SigningKey::FromSeed(
    const uint8_t* seed, size_t len) {
  if (auto s = EnsureSodium(); !s.ok())
    return s;
  if (len != crypto_sign_SEEDBYTES) {
    return absl::InvalidArgumentError(
        absl::StrCat("signing seed must be ", crypto_sign_SEEDBYTES, " bytes"));
  }
  std::unique_ptr<SigningKey> k(new SigningKey());
  k->secret_ = static_cast<uint8_t*>(sodium_malloc(crypto_sign_SECRETKEYBYTES));
  if (k->secret_ == nullptr)
    return absl::InternalError("sodium_malloc failed");
  crypto_sign_seed_keypair(k->public_key_.data(), k->secret_, seed);
  sodium_mprotect_readonly(k->secret_);
  return k;
}

absl::StatusOr<std::unique_ptr<SigningKey>> SigningKey::Generate() {
  auto seed = SecretKey::Random();
  if (!seed.ok())
    return seed.status();
  return FromSeed((*seed)->data(), (*seed)->size());
}

absl::StatusOr<std::unique_ptr<SigningKey>> SigningKey::LoadFile(
    const std::string& path) {
  auto seed = LoadKeyFile(path);
  if (!seed.ok())
    return seed.status();
  return FromSeed((*seed)->data(), (*seed)->size());
}

absl::StatusOr<std::unique_ptr<SigningKey>> SigningKey::LoadOrCreateFile(
    const std::string& path) {
  auto seed = LoadKeyFile(path);
  if (absl::IsNotFound(seed.status()))
    seed = CreateKeyFile(path);
  if (!seed.ok())
    return seed.status();
  return FromSeed((*seed)->data(), (*seed)->size());
}

Signature SigningKey::Sign(absl::string_view message) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), secret_);
  return sig;
}

bool VerifySignature(const PublicKey& key, absl::string_view message,
                     const Signature& signature) {
  if (!EnsureSodium().ok())
    return false;
  return crypto_sign_verify_detached(
             signature.data(),
             reinterpret_cast<const unsigned char*>(message.data()),
             message.size(), key.data()) == 0;
}

}  // namespace carelog::crypto
