// tests/fuzz/fuzz_keys.h — fixed, public keys the fuzz targets and their seed
// generator (make_seeds.cc) share, so committed seeds reach the paths behind
// decryption and signature checks. Test keys only: they protect nothing.
// Thread-safety: each function builds a new key; safe to call concurrently.
#ifndef CARELOG_TESTS_FUZZ_FUZZ_KEYS_H_
#define CARELOG_TESTS_FUZZ_FUZZ_KEYS_H_

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "crypto/secret_key.h"
#include "crypto/signing_key.h"

namespace carelog::fuzz {

// The payload key records in the record_fuzz corpus are sealed under.
inline std::unique_ptr<crypto::SecretKey> FuzzPayloadKey() {
  std::array<uint8_t, 32> bytes{};
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<uint8_t>(0xA0 + i);
  auto key = crypto::SecretKey::FromBytes(bytes.data(), bytes.size());
  if (!key.ok())
    std::abort();
  return std::move(*key);
}

// The Ed25519 key notes in the signed_note_fuzz corpus are signed with.
inline constexpr char kFuzzNoteKeyName[] = "fuzz.carelog.test";
inline std::unique_ptr<crypto::SigningKey> FuzzNoteKey() {
  std::array<uint8_t, 32> seed{};
  for (size_t i = 0; i < seed.size(); ++i)
    seed[i] = static_cast<uint8_t>(0x30 + i);
  auto key = crypto::SigningKey::FromSeed(seed.data(), seed.size());
  if (!key.ok())
    std::abort();
  return std::move(*key);
}

}  // namespace carelog::fuzz

#endif  // CARELOG_TESTS_FUZZ_FUZZ_KEYS_H_
