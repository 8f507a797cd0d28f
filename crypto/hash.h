// crypto/hash.h — hashing primitives: the ledger's BLAKE2b-256 hash chain,
// keyed BLAKE2b (blind indexes, fingerprints) and SHA-256 (Merkle tree).
// Stateless free functions and a streaming hasher; thread-safe per instance.
#ifndef CARELOG_CRYPTO_HASH_H_
#define CARELOG_CRYPTO_HASH_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

#include "crypto/secret_key.h"

namespace carelog::crypto {

inline constexpr size_t kDigestBytes = 32;
using Digest = std::array<uint8_t, kDigestBytes>;

// The chain step: BLAKE2b-256(prev || header || ciphertext).
Digest ChainHash(const Digest& prev, absl::string_view header,
                 absl::string_view ciphertext);

// Plain BLAKE2b-256.
Digest Blake2b256(absl::string_view data);

// Keyed BLAKE2b-256 (a PRF): blind indexes and request fingerprints.
Digest KeyedBlake2b256(const SecretKey& key, absl::string_view data);

// SHA-256, for RFC 6962 Merkle hashing.
Digest Sha256(absl::string_view data);

// Lower-case hex of a digest / of arbitrary bytes.
std::string ToHex(const Digest& d);
std::string BytesToHex(absl::string_view bytes);

// Constant-time comparison.
bool DigestEquals(const Digest& a, const Digest& b);

}  // namespace carelog::crypto

#endif  // CARELOG_CRYPTO_HASH_H_
