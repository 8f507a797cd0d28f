// crypto/key_ring.h — the key hierarchy: KEK → wrapped data keys.
//
// Every subject (patient) has its own random 256-bit data key; events with no
// subject use the system key; audit events use the audit key, so erasing a
// patient never erases the audit trail about them. Data keys are stored
// wrapped (XChaCha20-Poly1305 under the KEK, the key id as associated data)
// in a WrappedKeyStore that the storage layer provides, and unwrapped keys sit
// in a bounded cache in locked memory, wiped when evicted and unreferenced.
//
// Thread-safety: all methods are safe to call concurrently. Key creation is
// serialised (once per subject) so two threads never create two keys for the
// same subject.
#ifndef CARELOG_CRYPTO_KEY_RING_H_
#define CARELOG_CRYPTO_KEY_RING_H_

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

#include "crypto/hash.h"
#include "crypto/secret_key.h"

namespace carelog::crypto {

enum class KeyClass : uint8_t { kSystem = 1, kAudit = 2, kSubject = 3 };

// "system", "audit" or "subject/<subject_id>".
std::string KeyIdFor(KeyClass cls, absl::string_view subject_id);

// Durable storage of wrapped key records, implemented by the storage layer.
class WrappedKeyStore {
 public:
  virtual ~WrappedKeyStore() = default;
  // Errors: NOT_FOUND if there is no record for `key_id`.
  virtual absl::StatusOr<std::string> Get(absl::string_view key_id) = 0;
  // Stores `record` durably (synced) unless a record exists.
  // Errors: ALREADY_EXISTS if one exists (it is left unchanged).
  virtual absl::Status PutIfAbsent(absl::string_view key_id,
                                   absl::string_view record) = 0;
  // Overwrites durably (synced): destruction and KEK rotation.
  virtual absl::Status Put(absl::string_view key_id,
                           absl::string_view record) = 0;
};

// KEK rotation: re-wraps one stored key record (as found in the
// WrappedKeyStore under `key_id`) from `old_kek` to `new_kek` with a fresh
// nonce. A destroyed subject's tombstone is returned unchanged (there is no
// key left to re-wrap). Pure; never touches the store.
// Errors: FAILED_PRECONDITION if the record does not unwrap under `old_kek`
// (wrong old key file); DATA_LOSS if the record is malformed; INTERNAL if
// locked memory cannot be allocated.
absl::StatusOr<std::string> RewrapKeyRecord(const SecretKey& old_kek,
                                            const SecretKey& new_kek,
                                            absl::string_view key_id,
                                            absl::string_view record);

struct KeyRingOptions {
  size_t cache_capacity = 4096;  // unwrapped subject keys held in memory
};

class KeyRing {
 public:
  // Opens the ring over `store`, creating the system and audit keys on first
  // use. `store` must outlive the ring.
  // Errors: FAILED_PRECONDITION if the KEK does not open the system key
  // (wrong key file); DATA_LOSS if a key record is malformed, or does not
  // unwrap although the system key did; store errors.
  static absl::StatusOr<std::unique_ptr<KeyRing>> Open(
      std::unique_ptr<SecretKey> kek, WrappedKeyStore* store,
      KeyRingOptions options = {});

  // The key that seals a new event of class `cls` (subject_id required for
  // kSubject, ignored otherwise); creates a subject's key on first use (one
  // synced write). Errors: FAILED_PRECONDITION if the subject was erased;
  // INVALID_ARGUMENT if a subject key is asked for with an empty subject id;
  // DATA_LOSS if the subject's key record is damaged; store errors.
  absl::StatusOr<std::shared_ptr<const SecretKey>> KeyForSeal(
      KeyClass cls, absl::string_view subject_id);

  // The key that opens an existing event. Never creates.
  // Errors: NOT_FOUND if the subject never had a key; FAILED_PRECONDITION if
  // the subject's key was destroyed (erased); DATA_LOSS if its key record is
  // damaged; store errors.
  absl::StatusOr<std::shared_ptr<const SecretKey>> KeyForOpen(
      KeyClass cls, absl::string_view subject_id);

  // Crypto-shredding: replaces the subject's wrapped key by a tombstone
  // (synced) and drops it from the cache. Idempotent.
  // Errors: NOT_FOUND if the subject never had a key.
  absl::Status DestroySubjectKey(absl::string_view subject_id);

  // True once DestroySubjectKey succeeded for `subject_id`.
  absl::StatusOr<bool> IsDestroyed(absl::string_view subject_id);

  // Keyed BLAKE2b-256 under a subkey of the system key, domain-separated by
  // `purpose` (e.g. "command-fingerprint", "blind-index/name").
  Digest Mac(absl::string_view purpose, absl::string_view data) const;

  ~KeyRing();

 private:
  KeyRing(std::unique_ptr<SecretKey> kek, WrappedKeyStore* store,
          KeyRingOptions options);
  absl::Status OpenFixedKeys();
  absl::StatusOr<std::shared_ptr<const SecretKey>> Unwrap(
      absl::string_view key_id, absl::string_view record) const;
  std::string Wrap(absl::string_view key_id, const SecretKey& key) const;
  // On a miss returns nullptr and sets `*epoch` to the current destroy epoch,
  // to be handed to CachePut once the key has been loaded.
  std::shared_ptr<const SecretKey> CacheGet(const std::string& key_id,
                                            uint64_t* epoch);
  // Caches `key` unless a key was destroyed since `epoch` was read: the record
  // it came from may be the one that destroy replaced.
  void CachePut(const std::string& key_id, std::shared_ptr<const SecretKey> key,
                uint64_t epoch);

  const std::unique_ptr<SecretKey> kek_;
  WrappedKeyStore* const store_;
  const KeyRingOptions options_;
  std::shared_ptr<const SecretKey> system_key_;
  std::shared_ptr<const SecretKey> audit_key_;
  std::unique_ptr<SecretKey> mac_key_;

  // Serialises creation and destruction (rare, one synced write each), so that
  // check-then-create is atomic. Taken before mu_, never while holding it.
  absl::Mutex create_mu_;
  absl::Mutex mu_;
  // LRU: most recent at the front.
  std::list<std::pair<std::string, std::shared_ptr<const SecretKey>>> lru_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, decltype(lru_)::iterator> index_
      ABSL_GUARDED_BY(mu_);
  // Bumped by every destroy once its tombstone is durable.
  uint64_t destroy_epoch_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace carelog::crypto

#endif  // CARELOG_CRYPTO_KEY_RING_H_
