#include "crypto/key_ring.h"

#include <sodium.h>

#include <cstring>

#include "absl/strings/str_cat.h"

#include "crypto/aead.h"

namespace carelog::crypto {

namespace {
constexpr uint8_t kLiveRecord = 0x01;
constexpr uint8_t kDestroyedRecord = 0x02;
constexpr absl::string_view kWrapContext = "carelog/key/v1:";
constexpr size_t kLiveRecordBytes = 1 + kNonceBytes + kKeyBytes + kTagBytes;

std::string WrapAd(absl::string_view key_id) {
  return absl::StrCat(kWrapContext, key_id);
}
}  // namespace

std::string KeyIdFor(KeyClass cls, absl::string_view subject_id) {
  switch (cls) {
    case KeyClass::kSystem:
      return "system";
    case KeyClass::kAudit:
      return "audit";
    case KeyClass::kSubject:
      return absl::StrCat("subject/", subject_id);
  }
  return "invalid";
}

KeyRing::KeyRing(std::unique_ptr<SecretKey> kek, WrappedKeyStore* store,
                 KeyRingOptions options)
    : kek_(std::move(kek)), store_(store), options_(options) {}

KeyRing::~KeyRing() = default;

absl::StatusOr<std::unique_ptr<KeyRing>> KeyRing::Open(
    std::unique_ptr<SecretKey> kek, WrappedKeyStore* store,
    KeyRingOptions options) {
  if (kek == nullptr || store == nullptr)
    return absl::InvalidArgumentError("kek and store required");
  if (options.cache_capacity == 0)
    options.cache_capacity = 1;
  std::unique_ptr<KeyRing> ring(new KeyRing(std::move(kek), store, options));
  if (auto s = ring->OpenFixedKeys(); !s.ok())
    return s;
  return ring;
}

std::string KeyRing::Wrap(absl::string_view key_id,
                          const SecretKey& key) const {
  Nonce nonce = RandomNonce();
  std::string sealed = Seal(
      *kek_, nonce,
      absl::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
      WrapAd(key_id));
  std::string record;
  record.reserve(kLiveRecordBytes);
  record.push_back(static_cast<char>(kLiveRecord));
  record.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  record.append(sealed);
  sodium_memzero(sealed.data(),
                 sealed.size());  // ciphertext, but keep heap tidy
  return record;
}

absl::StatusOr<std::shared_ptr<const SecretKey>> KeyRing::Unwrap(
    absl::string_view key_id, absl::string_view record) const {
  if (!record.empty() && static_cast<uint8_t>(record[0]) == kDestroyedRecord) {
    return absl::FailedPreconditionError(
        absl::StrCat("key ", key_id, " was destroyed (subject erased)"));
  }
  if (record.size() != kLiveRecordBytes ||
      static_cast<uint8_t>(record[0]) != kLiveRecord) {
    return absl::DataLossError(
        absl::StrCat("wrapped key record for ", key_id, " is malformed"));
  }
  Nonce nonce;
  std::memcpy(nonce.data(), record.data() + 1, kNonceBytes);
  // Unwrap into locked memory directly: never let the plain key touch the heap.
  unsigned char* plain = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
  if (plain == nullptr)
    return absl::InternalError("sodium_malloc failed");
  const std::string ad = WrapAd(key_id);
  absl::string_view ct = record.substr(1 + kNonceBytes);
  unsigned long long plain_len = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      plain, &plain_len, nullptr,
      reinterpret_cast<const unsigned char*>(ct.data()), ct.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
      nonce.data(), kek_->data());
  if (rc != 0 || plain_len != kKeyBytes) {
    sodium_free(plain);
    // Once the system key has unwrapped, the KEK is the right one: a record
    // that fails now was altered, and must not pass for an erased subject.
    if (system_key_ != nullptr) {
      return absl::DataLossError(absl::StrCat("wrapped key record for ", key_id,
                                              " fails authentication"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("key ", key_id,
                     " does not unwrap under the configured KEK (wrong key "
                     "file for this data directory?)"));
  }
  auto key = SecretKey::FromBytes(plain, kKeyBytes);
  sodium_free(plain);
  if (!key.ok())
    return key.status();
  return std::shared_ptr<const SecretKey>(std::move(*key));
}

absl::StatusOr<std::string> RewrapKeyRecord(const SecretKey& old_kek,
                                            const SecretKey& new_kek,
                                            absl::string_view key_id,
                                            absl::string_view record) {
  if (!record.empty() && static_cast<uint8_t>(record[0]) == kDestroyedRecord)
    return std::string(record);
  if (record.size() != kLiveRecordBytes ||
      static_cast<uint8_t>(record[0]) != kLiveRecord) {
    return absl::DataLossError(
        absl::StrCat("wrapped key record for ", key_id, " is malformed"));
  }
  Nonce nonce;
  std::memcpy(nonce.data(), record.data() + 1, kNonceBytes);
  // The plain data key exists only in locked memory, and only here.
  unsigned char* plain = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
  if (plain == nullptr)
    return absl::InternalError("sodium_malloc failed");
  const std::string ad = WrapAd(key_id);
  absl::string_view ct = record.substr(1 + kNonceBytes);
  unsigned long long plain_len = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      plain, &plain_len, nullptr,
      reinterpret_cast<const unsigned char*>(ct.data()), ct.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
      nonce.data(), old_kek.data());
  if (rc != 0 || plain_len != kKeyBytes) {
    sodium_free(plain);
    return absl::FailedPreconditionError(
        absl::StrCat("key ", key_id,
                     " does not unwrap under the old KEK (wrong old key file "
                     "for this data directory?)"));
  }
  const Nonce fresh = RandomNonce();
  std::string out;
  out.resize(kLiveRecordBytes);
  out[0] = static_cast<char>(kLiveRecord);
  std::memcpy(&out[1], fresh.data(), kNonceBytes);
  unsigned long long out_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(&out[1 + kNonceBytes]), &out_len, plain,
      kKeyBytes, reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
      nullptr, fresh.data(), new_kek.data());
  sodium_free(plain);
  if (out_len != kKeyBytes + kTagBytes)
    return absl::InternalError("re-wrapping produced an unexpected length");
  return out;
}

absl::Status KeyRing::OpenFixedKeys() {
  for (KeyClass cls : {KeyClass::kSystem, KeyClass::kAudit}) {
    const std::string id = KeyIdFor(cls, "");
    auto rec = store_->Get(id);
    if (absl::IsNotFound(rec.status())) {
      auto fresh = SecretKey::Random();
      if (!fresh.ok())
        return fresh.status();
      if (auto s = store_->PutIfAbsent(id, Wrap(id, **fresh)); !s.ok())
        return s;
      rec = store_->Get(id);
    }
    if (!rec.ok())
      return rec.status();
    auto key = Unwrap(id, *rec);
    if (!key.ok())
      return key.status();
    (cls == KeyClass::kSystem ? system_key_ : audit_key_) = *key;
  }
  // The MAC key is derived, not stored: BLAKE2b(system key, "carelog/mac/v1").
  Digest d = KeyedBlake2b256(*system_key_, "carelog/mac/v1");
  auto mac = SecretKey::FromBytes(d.data(), d.size());
  sodium_memzero(d.data(), d.size());
  if (!mac.ok())
    return mac.status();
  mac_key_ = std::move(*mac);
  return absl::OkStatus();
}

std::shared_ptr<const SecretKey> KeyRing::CacheGet(const std::string& key_id,
                                                   uint64_t* epoch) {
  absl::MutexLock l(&mu_);
  auto it = index_.find(key_id);
  if (it == index_.end()) {
    *epoch = destroy_epoch_;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void KeyRing::CachePut(const std::string& key_id,
                       std::shared_ptr<const SecretKey> key, uint64_t epoch) {
  std::shared_ptr<const SecretKey> evicted;  // released outside the lock
  absl::MutexLock l(&mu_);
  if (epoch != destroy_epoch_ || index_.contains(key_id))
    return;
  lru_.emplace_front(key_id, std::move(key));
  index_[key_id] = lru_.begin();
  if (lru_.size() > options_.cache_capacity) {
    evicted = std::move(lru_.back().second);
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

absl::StatusOr<std::shared_ptr<const SecretKey>> KeyRing::KeyForOpen(
    KeyClass cls, absl::string_view subject_id) {
  if (cls == KeyClass::kSystem)
    return system_key_;
  if (cls == KeyClass::kAudit)
    return audit_key_;
  if (cls != KeyClass::kSubject)
    return absl::InvalidArgumentError("unknown key class");
  if (subject_id.empty())
    return absl::InvalidArgumentError("subject_id: required for a subject key");
  const std::string id = KeyIdFor(cls, subject_id);
  uint64_t epoch = 0;
  if (auto k = CacheGet(id, &epoch))
    return k;
  auto rec = store_->Get(id);
  if (absl::IsNotFound(rec.status())) {
    return absl::NotFoundError(absl::StrCat("no data key for ", id));
  }
  if (!rec.ok())
    return rec.status();
  auto key = Unwrap(id, *rec);
  if (!key.ok())
    return key.status();
  CachePut(id, *key, epoch);
  return key;
}

absl::StatusOr<std::shared_ptr<const SecretKey>> KeyRing::KeyForSeal(
    KeyClass cls, absl::string_view subject_id) {
  auto existing = KeyForOpen(cls, subject_id);
  if (!absl::IsNotFound(existing.status()))
    return existing;
  const std::string id = KeyIdFor(cls, subject_id);
  absl::MutexLock create(&create_mu_);
  // Re-check under the creation lock: another thread may have created it.
  // Destroys hold create_mu_ too, so the epoch read here stays current.
  uint64_t epoch = 0;
  if (auto k = CacheGet(id, &epoch))
    return k;
  auto rec = store_->Get(id);
  if (rec.ok()) {
    auto key = Unwrap(id, *rec);
    if (key.ok())
      CachePut(id, *key, epoch);
    return key;
  }
  if (!absl::IsNotFound(rec.status()))
    return rec.status();
  auto fresh = SecretKey::Random();
  if (!fresh.ok())
    return fresh.status();
  if (auto s = store_->PutIfAbsent(id, Wrap(id, **fresh)); !s.ok())
    return s;
  std::shared_ptr<const SecretKey> key(std::move(*fresh));
  CachePut(id, key, epoch);
  return key;
}

absl::Status KeyRing::DestroySubjectKey(absl::string_view subject_id) {
  if (subject_id.empty())
    return absl::InvalidArgumentError("subject_id: required");
  const std::string id = KeyIdFor(KeyClass::kSubject, subject_id);
  absl::MutexLock create(&create_mu_);
  auto rec = store_->Get(id);
  if (absl::IsNotFound(rec.status()))
    return absl::NotFoundError(absl::StrCat("no data key for ", id));
  if (!rec.ok())
    return rec.status();
  const std::string tombstone(1, static_cast<char>(kDestroyedRecord));
  if (auto s = store_->Put(id, tombstone); !s.ok())
    return s;
  std::shared_ptr<const SecretKey> dropped;
  {
    absl::MutexLock l(&mu_);
    // A cache miss that read the live record before the tombstone landed must
    // not cache it afterwards (see CachePut).
    ++destroy_epoch_;
    auto it = index_.find(id);
    if (it != index_.end()) {
      dropped = std::move(it->second->second);
      lru_.erase(it->second);
      index_.erase(it);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> KeyRing::IsDestroyed(absl::string_view subject_id) {
  auto rec = store_->Get(KeyIdFor(KeyClass::kSubject, subject_id));
  if (absl::IsNotFound(rec.status()))
    return false;
  if (!rec.ok())
    return rec.status();
  return !rec->empty() && static_cast<uint8_t>((*rec)[0]) == kDestroyedRecord;
}

Digest KeyRing::Mac(absl::string_view purpose, absl::string_view data) const {
  crypto_generichash_state st;
  crypto_generichash_init(&st, mac_key_->data(), mac_key_->size(),
                          kDigestBytes);
  const uint8_t len =
      static_cast<uint8_t>(purpose.size() > 255 ? 255 : purpose.size());
  crypto_generichash_update(&st, &len, 1);
  crypto_generichash_update(
      &st, reinterpret_cast<const unsigned char*>(purpose.data()), len);
  crypto_generichash_update(
      &st, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  Digest out;
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

}  // namespace carelog::crypto
