// crypto/signing_key.h — Ed25519 keys for signing ledger checkpoints.
//
// The private key (64-byte libsodium secret key, derived from a 32-byte seed)
// lives in locked memory; the seed file is 64 hex characters, mode 0600, like
// the KEK file. Verification needs only the public key. Thread-safe (const).
#ifndef CARELOG_CRYPTO_SIGNING_KEY_H_
#define CARELOG_CRYPTO_SIGNING_KEY_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carelog::crypto {

inline constexpr size_t kPublicKeyBytes = 32;
inline constexpr size_t kSignatureBytes = 64;
using PublicKey = std::array<uint8_t, kPublicKeyBytes>;
using Signature = std::array<uint8_t, kSignatureBytes>;

class SigningKey {
 public:
  static absl::StatusOr<std::unique_ptr<SigningKey>> Generate();
  // From a 32-byte seed (deterministic; used by known-answer tests).
  static absl::StatusOr<std::unique_ptr<SigningKey>> FromSeed(
      const uint8_t* seed, size_t len);
  // Loads the seed from a key file (same rules as LoadKeyFile: 0600, hex).
  static absl::StatusOr<std::unique_ptr<SigningKey>> LoadFile(
      const std::string& path);
  // Loads `path`, or creates it with a fresh seed if it does not exist.
  static absl::StatusOr<std::unique_ptr<SigningKey>> LoadOrCreateFile(
      const std::string& path);

  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  Signature Sign(absl::string_view message) const;
  const PublicKey& public_key() const { return public_key_; }

 private:
  SigningKey() = default;
  uint8_t* secret_ = nullptr;  // sodium_malloc'ed, 64 bytes
  PublicKey public_key_{};
};

// True iff `signature` is a valid Ed25519 signature of `message` by `key`.
bool VerifySignature(const PublicKey& key, absl::string_view message,
                     const Signature& signature);

}  // namespace carelog::crypto

#endif  // CARELOG_CRYPTO_SIGNING_KEY_H_
