#include "crypto/hash.h"

#include <sodium.h>

namespace carelog::crypto {

namespace {
const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
}  // namespace

Digest ChainHash(const Digest& prev, absl::string_view header,
                 absl::string_view ciphertext) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, kDigestBytes);
  crypto_generichash_update(&st, prev.data(), prev.size());
  crypto_generichash_update(&st, U(header), header.size());
  crypto_generichash_update(&st, U(ciphertext), ciphertext.size());
  Digest out;
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

Digest Blake2b256(absl::string_view data) {
  Digest out;
  crypto_generichash(out.data(), out.size(), U(data), data.size(), nullptr, 0);
  return out;
}

Digest KeyedBlake2b256(const SecretKey& key, absl::string_view data) {
  Digest out;
  crypto_generichash(out.data(), out.size(), U(data), data.size(), key.data(),
                     key.size());
  return out;
}

Digest Sha256(absl::string_view data) {
  static_assert(crypto_hash_sha256_BYTES == kDigestBytes);
  Digest out;
  crypto_hash_sha256(out.data(), U(data), data.size());
  return out;
}

std::string BytesToHex(absl::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), U(bytes), bytes.size());
  out.pop_back();
  return out;
}

std::string ToHex(const Digest& d) {
  return BytesToHex(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

bool DigestEquals(const Digest& a, const Digest& b) {
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace carelog::crypto
