// crypto/aead.h — authenticated encryption with XChaCha20-Poly1305-IETF.
//
// Every event payload is sealed with a random 192-bit nonce and the event's
// clear header as associated data, so a ciphertext moved under another header
// fails to open. Stateless free functions; thread-safe.
#ifndef CARELOG_CRYPTO_AEAD_H_
#define CARELOG_CRYPTO_AEAD_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "crypto/secret_key.h"

namespace carelog::crypto {

inline constexpr size_t kNonceBytes = 24;
inline constexpr size_t kTagBytes = 16;
using Nonce = std::array<uint8_t, kNonceBytes>;

// A fresh random nonce (collision probability negligible at 2^96 messages).
Nonce RandomNonce();

// Returns ciphertext || 16-byte tag. Does not block.
std::string Seal(const SecretKey& key, const Nonce& nonce,
                 absl::string_view plaintext,
                 absl::string_view associated_data);

// Opens what Seal produced. Errors: DATA_LOSS if the tag does not verify (wrong
// key, wrong nonce, wrong associated data, or altered ciphertext) or the
// ciphertext is shorter than a tag. The message never contains plaintext.
absl::StatusOr<std::string> Open(const SecretKey& key, const Nonce& nonce,
                                 absl::string_view ciphertext,
                                 absl::string_view associated_data);

}  // namespace carelog::crypto

#endif  // CARELOG_CRYPTO_AEAD_H_
