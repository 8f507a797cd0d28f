#include "crypto/aead.h"

#include <sodium.h>

namespace carelog::crypto {

static_assert(kNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

Nonce RandomNonce() {
  Nonce n;
  randombytes_buf(n.data(), n.size());
  return n;
}

std::string Seal(const SecretKey& key, const Nonce& nonce,
                 absl::string_view plaintext,
                 absl::string_view associated_data) {
  std::string out(plaintext.size() + kTagBytes, '\0');
  unsigned long long out_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data()), &out_len,
      reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(),
      reinterpret_cast<const unsigned char*>(associated_data.data()),
      associated_data.size(), nullptr, nonce.data(), key.data());
  out.resize(out_len);
  return out;
}

absl::StatusOr<std::string> Open(const SecretKey& key, const Nonce& nonce,
                                 absl::string_view ciphertext,
                                 absl::string_view associated_data) {
  if (ciphertext.size() < kTagBytes) {
    return absl::DataLossError(
        "ciphertext shorter than its authentication tag");
  }
  std::string out(ciphertext.size() - kTagBytes, '\0');
  unsigned long long out_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &out_len, nullptr,
          reinterpret_cast<const unsigned char*>(ciphertext.data()),
          ciphertext.size(),
          reinterpret_cast<const unsigned char*>(associated_data.data()),
          associated_data.size(), nonce.data(), key.data()) != 0) {
    return absl::DataLossError("ciphertext failed authentication");
  }
  out.resize(out_len);
  return out;
}

}  // namespace carelog::crypto
