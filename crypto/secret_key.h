// crypto/secret_key.h — fixed-size secret key material held in locked memory.
//
// A SecretKey owns 32 bytes allocated with sodium_malloc (guard pages,
// mlock'ed, excluded from core dumps where the OS allows) and wipes them on
// destruction. Keys never live in std::string or other heap memory that may be
// copied or swapped. Thread-safety: immutable after construction; safe to share
// const.
#ifndef CARELOG_CRYPTO_SECRET_KEY_H_
#define CARELOG_CRYPTO_SECRET_KEY_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carelog::crypto {

inline constexpr size_t kKeyBytes = 32;

// Initialises libsodium once per process. Thread-safe and idempotent.
// Errors: INTERNAL if libsodium cannot initialise (no entropy source).
absl::Status EnsureSodium();

// Fills `out` with `len` bytes from the OS CSPRNG. Never fails once
// EnsureSodium() returned OK.
void RandomBytes(uint8_t* out, size_t len);

class SecretKey {
 public:
  // A fresh random key. Errors: INTERNAL if locked memory cannot be allocated.
  static absl::StatusOr<std::unique_ptr<SecretKey>> Random();
  // Copies exactly kKeyBytes from `bytes`. The caller remains responsible for
  // wiping its own copy. Errors: INVALID_ARGUMENT if the size is wrong.
  static absl::StatusOr<std::unique_ptr<SecretKey>> FromBytes(
      const uint8_t* bytes, size_t len);
  // Parses 64 hex characters (surrounding whitespace ignored).
  // Errors: INVALID_ARGUMENT naming `what` (never echoing the input).
  static absl::StatusOr<std::unique_ptr<SecretKey>> FromHex(
      absl::string_view hex, absl::string_view what);

  ~SecretKey();
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;

  const uint8_t* data() const { return bytes_; }
  static constexpr size_t size() { return kKeyBytes; }

 private:
  explicit SecretKey(uint8_t* bytes) : bytes_(bytes) {}
  uint8_t* bytes_;  // sodium_malloc'ed, kKeyBytes long, read-only after setup.
};

}  // namespace carelog::crypto

#endif  // CARELOG_CRYPTO_SECRET_KEY_H_
