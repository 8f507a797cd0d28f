#include "crypto/secret_key.h"

#include <sodium.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace carelog::crypto {

absl::Status EnsureSodium() {
  static const int rc =
      sodium_init();  // thread-safe static init; returns 1 if already done
  if (rc < 0)
    return absl::InternalError("libsodium failed to initialise");
  return absl::OkStatus();
}

void RandomBytes(uint8_t* out, size_t len) {
  randombytes_buf(out, len);
}

namespace {
absl::StatusOr<uint8_t*> AllocLocked() {
  if (auto s = EnsureSodium(); !s.ok())
    return s;
  auto* p = static_cast<uint8_t*>(sodium_malloc(kKeyBytes));
  if (p == nullptr)
    return absl::InternalError("sodium_malloc failed for key material");
  return p;
}
}  // namespace

absl::StatusOr<std::unique_ptr<SecretKey>> SecretKey::Random() {
  auto p = AllocLocked();
  if (!p.ok())
    return p.status();
  randombytes_buf(*p, kKeyBytes);
  sodium_mprotect_readonly(*p);
  return std::unique_ptr<SecretKey>(new SecretKey(*p));
}

absl::StatusOr<std::unique_ptr<SecretKey>> SecretKey::FromBytes(
    const uint8_t* bytes, size_t len) {
  if (len != kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key must be ", kKeyBytes, " bytes, got ", len));
  }
  auto p = AllocLocked();
  if (!p.ok())
    return p.status();
  std::memcpy(*p, bytes, kKeyBytes);
  sodium_mprotect_readonly(*p);
  return std::unique_ptr<SecretKey>(new SecretKey(*p));
}

absl::StatusOr<std::unique_ptr<SecretKey>> SecretKey::FromHex(
    absl::string_view hex, absl::string_view what) {
  while (!hex.empty() &&
         (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) {
    hex.remove_suffix(1);
  }
  while (!hex.empty() && (hex.front() == ' ' || hex.front() == '\n'))
    hex.remove_prefix(1);
  if (hex.size() != 2 * kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected ", 2 * kKeyBytes,
                     " hex characters, got ", hex.size()));
  }
  auto p = AllocLocked();
  if (!p.ok())
    return p.status();
  size_t bin_len = 0;
  if (sodium_hex2bin(*p, kKeyBytes, hex.data(), hex.size(), nullptr, &bin_len,
                     nullptr) != 0 ||
      bin_len != kKeyBytes) {
    sodium_free(*p);
    return absl::InvalidArgumentError(absl::StrCat(what, ": not valid hex"));
  }
  sodium_mprotect_readonly(*p);
  return std::unique_ptr<SecretKey>(new SecretKey(*p));
}

SecretKey::~SecretKey() {
  // sodium_free zeroes the region before unmapping it.
  sodium_free(bytes_);
}

}  // namespace carelog::crypto
