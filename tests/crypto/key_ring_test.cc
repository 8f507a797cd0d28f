// Tests for crypto/key_ring.h: fixed system/audit keys, per-subject data keys
// created once (also under concurrency), crypto-shredding, corrupt records,
// the LRU cache, the derived MAC and store-failure propagation. The store is
// an in-memory fake that counts writes and can be told to fail.
#include "crypto/key_ring.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"

namespace carelog::crypto {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// An in-memory WrappedKeyStore: a mutex-protected map that counts writes per
// key id, can be told to fail reads or writes, and can run a one-shot hook
// right after a read of a given key id (outside its lock) to interleave
// another operation deterministically.
class FakeKeyStore : public WrappedKeyStore {
 public:
  absl::StatusOr<std::string> Get(absl::string_view key_id) override {
    absl::StatusOr<std::string> result;
    std::function<void()> hook;
    {
      absl::MutexLock l(&mu_);
      ++reads_;
      if (!get_error_.ok())
        return get_error_;
      auto it = records_.find(std::string(key_id));
      if (it == records_.end()) {
        result = absl::NotFoundError(absl::StrCat("no record ", key_id));
      } else {
        result = it->second;
      }
      if (hook_ && hook_key_id_ == key_id)
        hook = std::exchange(hook_, nullptr);
    }
    if (hook)
      hook();
    return result;
  }

  absl::Status PutIfAbsent(absl::string_view key_id,
                           absl::string_view record) override {
    absl::MutexLock l(&mu_);
    if (!put_error_.ok())
      return put_error_;
    const std::string id(key_id);
    if (records_.count(id) != 0)
      return absl::AlreadyExistsError(id);
    records_[id] = std::string(record);
    ++writes_[id];
    return absl::OkStatus();
  }

  absl::Status Put(absl::string_view key_id,
                   absl::string_view record) override {
    absl::MutexLock l(&mu_);
    if (!put_error_.ok())
      return put_error_;
    const std::string id(key_id);
    records_[id] = std::string(record);
    ++writes_[id];
    return absl::OkStatus();
  }

  // --- test controls ---
  void FailGets(absl::Status s) {
    absl::MutexLock l(&mu_);
    get_error_ = std::move(s);
  }
  void FailPuts(absl::Status s) {
    absl::MutexLock l(&mu_);
    put_error_ = std::move(s);
  }
  void RunOnceAfterGet(std::string key_id, std::function<void()> hook) {
    absl::MutexLock l(&mu_);
    hook_key_id_ = std::move(key_id);
    hook_ = std::move(hook);
  }
  // Replaces a record without counting it as a write (simulates corruption).
  void Corrupt(const std::string& key_id, std::string record) {
    absl::MutexLock l(&mu_);
    records_[key_id] = std::move(record);
  }
  std::optional<std::string> Record(const std::string& key_id) {
    absl::MutexLock l(&mu_);
    auto it = records_.find(key_id);
    if (it == records_.end())
      return std::nullopt;
    return it->second;
  }
  std::map<std::string, std::string> Records() {
    absl::MutexLock l(&mu_);
    return records_;
  }
  int Writes(const std::string& key_id) {
    absl::MutexLock l(&mu_);
    auto it = writes_.find(key_id);
    return it == writes_.end() ? 0 : it->second;
  }
  int TotalWrites() {
    absl::MutexLock l(&mu_);
    int n = 0;
    for (const auto& [id, count] : writes_)
      n += count;
    return n;
  }
  int Reads() {
    absl::MutexLock l(&mu_);
    return reads_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> records_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> writes_ ABSL_GUARDED_BY(mu_);
  int reads_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status get_error_ ABSL_GUARDED_BY(mu_);
  absl::Status put_error_ ABSL_GUARDED_BY(mu_);
  std::string hook_key_id_ ABSL_GUARDED_BY(mu_);
  std::function<void()> hook_ ABSL_GUARDED_BY(mu_);
};

std::string Bytes(const SecretKey& key) {
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}

// A deterministic synthetic KEK: 32 copies of `fill`.
std::unique_ptr<SecretKey> Kek(char fill) {
  const std::string bytes(kKeyBytes, fill);
  auto key = SecretKey::FromBytes(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_THAT(key, IsOk());
  return key.ok() ? std::move(*key) : nullptr;
}

class KeyRingTest : public ::testing::Test {
 protected:
  // Opens a ring over store_ with the KEK made of `kek_fill` bytes.
  std::unique_ptr<KeyRing> OpenRing(char kek_fill = 'K',
                                    KeyRingOptions options = {}) {
    auto ring = KeyRing::Open(Kek(kek_fill), &store_, options);
    EXPECT_THAT(ring, IsOk());
    return ring.ok() ? std::move(*ring) : nullptr;
  }

  // The bytes of the key KeyForSeal / KeyForOpen returns, or "" on error.
  static std::string SealKey(KeyRing& ring, KeyClass cls,
                             absl::string_view subject) {
    auto key = ring.KeyForSeal(cls, subject);
    EXPECT_THAT(key, IsOk()) << subject;
    return key.ok() && *key != nullptr ? Bytes(**key) : "";
  }
  static std::string OpenKey(KeyRing& ring, KeyClass cls,
                             absl::string_view subject) {
    auto key = ring.KeyForOpen(cls, subject);
    EXPECT_THAT(key, IsOk()) << subject;
    return key.ok() && *key != nullptr ? Bytes(**key) : "";
  }

  FakeKeyStore store_;
};

TEST(KeyIdForTest, NamesFixedAndSubjectKeys) {
  EXPECT_EQ(KeyIdFor(KeyClass::kSystem, ""), "system");
  EXPECT_EQ(KeyIdFor(KeyClass::kSystem, "ignored"), "system");
  EXPECT_EQ(KeyIdFor(KeyClass::kAudit, "ignored"), "audit");
  EXPECT_EQ(KeyIdFor(KeyClass::kSubject, "7f0c-synthetic"),
            "subject/7f0c-synthetic");
}

TEST_F(KeyRingTest, OpenCreatesSystemAndAuditKeysOnceAndReopenKeepsThem) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  EXPECT_EQ(store_.Records().size(), 2u);
  EXPECT_EQ(store_.Writes("system"), 1);
  EXPECT_EQ(store_.Writes("audit"), 1);
  const std::string system = OpenKey(*ring, KeyClass::kSystem, "");
  const std::string audit = OpenKey(*ring, KeyClass::kAudit, "");
  ASSERT_EQ(system.size(), kKeyBytes);
  ASSERT_EQ(audit.size(), kKeyBytes);
  EXPECT_NE(system, audit);
  EXPECT_EQ(SealKey(*ring, KeyClass::kSystem, ""), system);
  EXPECT_EQ(SealKey(*ring, KeyClass::kAudit, ""), audit);
  ring.reset();

  auto reopened = OpenRing();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(store_.TotalWrites(), 2);
  EXPECT_EQ(OpenKey(*reopened, KeyClass::kSystem, ""), system);
  EXPECT_EQ(OpenKey(*reopened, KeyClass::kAudit, ""), audit);
}

TEST_F(KeyRingTest,
       OpenWithADifferentKekIsFailedPreconditionAndChangesNothing) {
  ASSERT_NE(OpenRing('K'), nullptr);
  const auto before = store_.Records();
  auto wrong = KeyRing::Open(Kek('W'), &store_);
  EXPECT_THAT(
      wrong, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("KEK")));
  EXPECT_EQ(store_.Records(), before);
  EXPECT_EQ(store_.TotalWrites(), 2);
  // The right KEK still opens the store afterwards.
  EXPECT_NE(OpenRing('K'), nullptr);
}

TEST_F(KeyRingTest, OpenWithoutKekOrStoreIsInvalidArgument) {
  EXPECT_THAT(KeyRing::Open(nullptr, &store_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(KeyRing::Open(Kek('K'), nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(store_.TotalWrites(), 0);
}

TEST_F(KeyRingTest, FixedKeysIgnoreTheSubjectIdAndCreateNoSubjectRecords) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  EXPECT_EQ(SealKey(*ring, KeyClass::kSystem, "subject-x"),
            OpenKey(*ring, KeyClass::kSystem, ""));
  EXPECT_EQ(SealKey(*ring, KeyClass::kAudit, "subject-x"),
            OpenKey(*ring, KeyClass::kAudit, ""));
  EXPECT_EQ(store_.Records().size(), 2u);
}

TEST_F(KeyRingTest, KeyForSealCreatesASubjectKeyOnce) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  auto first = ring->KeyForSeal(KeyClass::kSubject, "subj-0001");
  ASSERT_THAT(first, IsOk());
  auto second = ring->KeyForSeal(KeyClass::kSubject, "subj-0001");
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(Bytes(**first), Bytes(**second));
  EXPECT_EQ(store_.Writes("subject/subj-0001"), 1);
  EXPECT_EQ(store_.Records().size(), 3u);
  EXPECT_EQ(OpenKey(*ring, KeyClass::kSubject, "subj-0001"), Bytes(**first));
  // The subject key is neither of the fixed keys.
  EXPECT_NE(Bytes(**first), OpenKey(*ring, KeyClass::kSystem, ""));
  EXPECT_NE(Bytes(**first), OpenKey(*ring, KeyClass::kAudit, ""));
}

TEST_F(KeyRingTest, SubjectKeySurvivesReopen) {
  std::string key;
  {
    auto ring = OpenRing();
    ASSERT_NE(ring, nullptr);
    key = SealKey(*ring, KeyClass::kSubject, "subj-0001");
  }
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  EXPECT_EQ(OpenKey(*ring, KeyClass::kSubject, "subj-0001"), key);
  EXPECT_EQ(SealKey(*ring, KeyClass::kSubject, "subj-0001"), key);
  EXPECT_EQ(store_.Writes("subject/subj-0001"), 1);
}

TEST_F(KeyRingTest, EachSubjectGetsItsOwnKey) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  std::map<std::string, std::string> keys;
  for (int i = 0; i < 20; ++i) {
    keys[SealKey(*ring, KeyClass::kSubject, absl::StrCat("subj-", i))] =
        absl::StrCat(i);
  }
  EXPECT_EQ(keys.size(), 20u);
  EXPECT_EQ(keys.count(OpenKey(*ring, KeyClass::kSystem, "")), 0u);
  EXPECT_EQ(keys.count(OpenKey(*ring, KeyClass::kAudit, "")), 0u);
}

TEST_F(KeyRingTest, SubjectKeyRequiresASubjectId) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  EXPECT_THAT(
      ring->KeyForSeal(KeyClass::kSubject, ""),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subject_id")));
  EXPECT_THAT(
      ring->KeyForOpen(KeyClass::kSubject, ""),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subject_id")));
  EXPECT_THAT(ring->DestroySubjectKey(""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(store_.Records().size(), 2u);
}

TEST_F(KeyRingTest, ConcurrentKeyForSealOfANewSubjectCreatesOneKey) {
  constexpr int kThreads = 16;
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  for (int round = 0; round < 10; ++round) {
    const std::string subject = absl::StrCat("subj-concurrent-", round);
    absl::Notification start;
    std::vector<absl::StatusOr<std::shared_ptr<const SecretKey>>> results(
        kThreads, absl::UnknownError("not run"));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.WaitForNotification();
        results[t] = ring->KeyForSeal(KeyClass::kSubject, subject);
      });
    }
    start.Notify();
    for (auto& th : threads)
      th.join();

    ASSERT_THAT(results[0], IsOk());
    const std::string expected = Bytes(**results[0]);
    for (int t = 1; t < kThreads; ++t) {
      ASSERT_THAT(results[t], IsOk()) << "thread " << t;
      EXPECT_EQ(Bytes(**results[t]), expected) << "thread " << t;
    }
    EXPECT_EQ(store_.Writes("subject/" + subject), 1) << subject;
    EXPECT_EQ(OpenKey(*ring, KeyClass::kSubject, subject), expected);
  }
}

TEST_F(KeyRingTest, KeyForOpenOfUnknownSubjectIsNotFoundAndCreatesNothing) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  EXPECT_THAT(ring->KeyForOpen(KeyClass::kSubject, "never-seen"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(store_.Record("subject/never-seen").has_value());
  EXPECT_EQ(store_.TotalWrites(), 2);
}

TEST_F(KeyRingTest, DestroyedSubjectKeyCannotSealOrOpen) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  ASSERT_FALSE(SealKey(*ring, KeyClass::kSubject, "subj-erase")
                   .empty());  // cache is warm
  auto destroyed = ring->IsDestroyed("subj-erase");
  ASSERT_THAT(destroyed, IsOk());
  EXPECT_FALSE(*destroyed);

  ASSERT_THAT(ring->DestroySubjectKey("subj-erase"), IsOk());

  EXPECT_THAT(ring->KeyForOpen(KeyClass::kSubject, "subj-erase"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ring->KeyForSeal(KeyClass::kSubject, "subj-erase"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  destroyed = ring->IsDestroyed("subj-erase");
  ASSERT_THAT(destroyed, IsOk());
  EXPECT_TRUE(*destroyed);
  // Sealing did not quietly create a fresh key for the erased subject.
  const int writes = store_.Writes("subject/subj-erase");
  EXPECT_EQ(writes, 2);  // creation, tombstone

  // Still destroyed for a ring opened afterwards (nothing cached).
  ring.reset();
  auto reopened = OpenRing();
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(reopened->KeyForOpen(KeyClass::kSubject, "subj-erase"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(reopened->KeyForSeal(KeyClass::kSubject, "subj-erase"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(store_.Writes("subject/subj-erase"), writes);
}

TEST_F(KeyRingTest, DestroyedRecordNoLongerHoldsTheWrappedKey) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  ASSERT_FALSE(SealKey(*ring, KeyClass::kSubject, "subj-erase").empty());
  const auto live = store_.Record("subject/subj-erase");
  ASSERT_TRUE(live.has_value());
  ASSERT_THAT(ring->DestroySubjectKey("subj-erase"), IsOk());
  const auto tombstone = store_.Record("subject/subj-erase");
  ASSERT_TRUE(tombstone.has_value());
  EXPECT_LT(tombstone->size(), kKeyBytes);
  // No 8-byte piece of the wrapped key survives.
  for (size_t i = 0; i + 8 <= live->size(); ++i) {
    EXPECT_EQ(tombstone->find(live->substr(i, 8)), std::string::npos)
        << "window at " << i;
  }
}

TEST_F(KeyRingTest, DestroySubjectKeyIsIdempotent) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  ASSERT_FALSE(SealKey(*ring, KeyClass::kSubject, "subj-erase").empty());
  ASSERT_THAT(ring->DestroySubjectKey("subj-erase"), IsOk());
  EXPECT_THAT(ring->DestroySubjectKey("subj-erase"), IsOk());
  auto destroyed = ring->IsDestroyed("subj-erase");
  ASSERT_THAT(destroyed, IsOk());
  EXPECT_TRUE(*destroyed);
  EXPECT_THAT(ring->KeyForOpen(KeyClass::kSubject, "subj-erase"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(KeyRingTest, DestroyOfUnknownSubjectIsNotFound) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  EXPECT_THAT(ring->DestroySubjectKey("never-seen"),
              StatusIs(absl::StatusCode::kNotFound));
  auto destroyed = ring->IsDestroyed("never-seen");
  ASSERT_THAT(destroyed, IsOk());
  EXPECT_FALSE(*destroyed);
  EXPECT_FALSE(store_.Record("subject/never-seen").has_value());
  EXPECT_EQ(store_.TotalWrites(), 2);
}

TEST_F(KeyRingTest, DestroyingOneSubjectLeavesOtherKeysUsable) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  const std::string kept = SealKey(*ring, KeyClass::kSubject, "subj-kept");
  const std::string system = OpenKey(*ring, KeyClass::kSystem, "");
  const std::string audit = OpenKey(*ring, KeyClass::kAudit, "");
  ASSERT_FALSE(SealKey(*ring, KeyClass::kSubject, "subj-erase").empty());
  ASSERT_THAT(ring->DestroySubjectKey("subj-erase"), IsOk());
  EXPECT_EQ(OpenKey(*ring, KeyClass::kSubject, "subj-kept"), kept);
  EXPECT_EQ(SealKey(*ring, KeyClass::kSubject, "subj-kept"), kept);
  EXPECT_EQ(OpenKey(*ring, KeyClass::kSystem, ""), system);
  EXPECT_EQ(OpenKey(*ring, KeyClass::kAudit, ""), audit);
  auto destroyed = ring->IsDestroyed("subj-kept");
  ASSERT_THAT(destroyed, IsOk());
  EXPECT_FALSE(*destroyed);
}

// A cache miss that read the live record just before a concurrent destroy must
// not put the key back into the cache: the erased subject stays erased.
TEST_F(KeyRingTest, DestroyDuringACacheMissLeavesTheKeyUnusable) {
  {
    auto ring = OpenRing();
    ASSERT_NE(ring, nullptr);
    ASSERT_FALSE(SealKey(*ring, KeyClass::kSubject, "subj-race").empty());
  }
  auto ring = OpenRing();  // cold cache
  ASSERT_NE(ring, nullptr);
  absl::Status destroy_status = absl::UnknownError("not run");
  absl::Notification destroy_done;
  // The destroy runs on another thread and is let through as soon as the miss
  // has read the live record; the miss then waits until the destroy finished
  // (bounded, so a ring that serialises the two cannot hang the test).
  std::thread destroyer;
  store_.RunOnceAfterGet("subject/subj-race", [&] {
    destroyer = std::thread([&] {
      destroy_status = ring->DestroySubjectKey("subj-race");
      destroy_done.Notify();
    });
    destroy_done.WaitForNotificationWithTimeout(absl::Seconds(5));
  });
  // Whether this in-flight open succeeds is a matter of ordering; what matters
  // is what happens after the destroy has returned.
  (void)ring->KeyForOpen(KeyClass::kSubject, "subj-race");
  ASSERT_TRUE(destroyer.joinable()) << "the cache miss never reached the store";
  destroyer.join();
  ASSERT_THAT(destroy_status, IsOk());

  EXPECT_THAT(ring->KeyForOpen(KeyClass::kSubject, "subj-race"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ring->KeyForSeal(KeyClass::kSubject, "subj-race"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(KeyRingTest, StoredRecordsNeverContainRawKeyBytes) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  const std::string kek(kKeyBytes, 'K');
  const std::map<std::string, std::string> keys = {
      {"system", OpenKey(*ring, KeyClass::kSystem, "")},
      {"audit", OpenKey(*ring, KeyClass::kAudit, "")},
      {"subject/subj-0001", SealKey(*ring, KeyClass::kSubject, "subj-0001")},
  };
  for (const auto& [id, key] : keys) {
    ASSERT_EQ(key.size(), kKeyBytes) << id;
    const auto record = store_.Record(id);
    ASSERT_TRUE(record.has_value()) << id;
    for (size_t i = 0; i + 8 <= kKeyBytes; ++i) {
      EXPECT_EQ(record->find(key.substr(i, 8)), std::string::npos)
          << id << " window " << i;
      EXPECT_EQ(record->find(kek.substr(i, 8)), std::string::npos)
          << id << " kek window " << i;
    }
  }
}

TEST_F(KeyRingTest, WrappingTheSameKeyTwiceUsesFreshNonces) {
  // Two rings over two stores with the same KEK: records differ even though
  // they wrap under the same KEK and key id.
  FakeKeyStore other;
  auto a = KeyRing::Open(Kek('K'), &store_);
  auto b = KeyRing::Open(Kek('K'), &other);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(store_.Record("system"), other.Record("system"));
}

TEST_F(KeyRingTest, MalformedSubjectRecordIsDataLoss) {
  {
    auto ring = OpenRing();
    ASSERT_NE(ring, nullptr);
    ASSERT_FALSE(SealKey(*ring, KeyClass::kSubject, "subj-0001").empty());
  }
  const auto good = store_.Record("subject/subj-0001");
  ASSERT_TRUE(good.has_value());
  const std::string unknown_version = std::string(1, '\x07') + good->substr(1);
  const std::vector<std::string> malformed = {
      "",                                 // empty
      good->substr(0, 1),                 // version byte only
      good->substr(0, good->size() - 1),  // truncated
      *good + std::string(1, '\0'),       // one byte too long
      unknown_version,                    // unknown record type
      std::string(good->size(), '\0'),    // zeroed
  };
  for (const std::string& record : malformed) {
    store_.Corrupt("subject/subj-0001", record);
    auto ring = OpenRing();  // cold cache
    ASSERT_NE(ring, nullptr);
    EXPECT_THAT(
        ring->KeyForOpen(KeyClass::kSubject, "subj-0001"),
        StatusIs(absl::StatusCode::kDataLoss, HasSubstr("subject/subj-0001")))
        << record.size() << " bytes";
    EXPECT_THAT(ring->KeyForSeal(KeyClass::kSubject, "subj-0001"),
                StatusIs(absl::StatusCode::kDataLoss))
        << record.size() << " bytes";
    // Sealing did not paper over the damage with a new key.
    EXPECT_EQ(store_.Record("subject/subj-0001"), record);
  }
}

TEST_F(KeyRingTest, TamperedWrappedSubjectKeyIsDataLoss) {
  {
    auto ring = OpenRing();
    ASSERT_NE(ring, nullptr);
    ASSERT_FALSE(SealKey(*ring, KeyClass::kSubject, "subj-0001").empty());
  }
  const auto good = store_.Record("subject/subj-0001");
  ASSERT_TRUE(good.has_value());
  // Every byte after the record type: nonce, wrapped key, tag.
  for (size_t i = 1; i < good->size(); ++i) {
    std::string altered = *good;
    altered[i] ^= 0x01;
    store_.Corrupt("subject/subj-0001", altered);
    auto ring = OpenRing();
    ASSERT_NE(ring, nullptr);
    // The KEK has been proven by the fixed keys, so this is damage, not a
    // wrong key file, and certainly not an erasure.
    EXPECT_THAT(ring->KeyForOpen(KeyClass::kSubject, "subj-0001"),
                StatusIs(absl::StatusCode::kDataLoss))
        << "byte " << i;
  }
}

TEST_F(KeyRingTest, WrappedKeyMovedToAnotherSubjectDoesNotOpen) {
  std::string a_key;
  {
    auto ring = OpenRing();
    ASSERT_NE(ring, nullptr);
    a_key = SealKey(*ring, KeyClass::kSubject, "subj-a");
    ASSERT_FALSE(SealKey(*ring, KeyClass::kSubject, "subj-b").empty());
  }
  const auto a_record = store_.Record("subject/subj-a");
  ASSERT_TRUE(a_record.has_value());
  store_.Corrupt("subject/subj-b", *a_record);
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  auto b = ring->KeyForOpen(KeyClass::kSubject, "subj-b");
  EXPECT_THAT(b, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(OpenKey(*ring, KeyClass::kSubject, "subj-a"), a_key);
}

TEST_F(KeyRingTest, MalformedSystemRecordIsDataLossAtOpen) {
  ASSERT_NE(OpenRing(), nullptr);
  const auto good = store_.Record("system");
  ASSERT_TRUE(good.has_value());
  store_.Corrupt("system", good->substr(0, good->size() - 1));
  EXPECT_THAT(KeyRing::Open(Kek('K'), &store_),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(KeyRingTest, TamperedAuditRecordIsDataLossAtOpen) {
  ASSERT_NE(OpenRing(), nullptr);
  auto audit = store_.Record("audit");
  ASSERT_TRUE(audit.has_value());
  (*audit)[audit->size() - 1] ^= 0x01;
  store_.Corrupt("audit", *audit);
  // The system key opened under this KEK, so a failing audit record is damage.
  EXPECT_THAT(KeyRing::Open(Kek('K'), &store_),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(KeyRingTest,
       CacheOfCapacityOneReturnsCorrectKeysForAlternatingSubjects) {
  KeyRingOptions options;
  options.cache_capacity = 1;
  auto ring = OpenRing('K', options);
  ASSERT_NE(ring, nullptr);
  std::map<std::string, std::string> expected;
  for (const char* s : {"subj-a", "subj-b", "subj-c"}) {
    expected[s] = SealKey(*ring, KeyClass::kSubject, s);
  }
  const int reads_before = store_.Reads();
  for (int i = 0; i < 30; ++i) {
    const std::string s =
        i % 3 == 0 ? "subj-a" : (i % 3 == 1 ? "subj-b" : "subj-c");
    EXPECT_EQ(OpenKey(*ring, KeyClass::kSubject, s), expected[s]) << i;
    EXPECT_EQ(SealKey(*ring, KeyClass::kSubject, s), expected[s]) << i;
  }
  // Evictions really happened (keys were re-read from the store)...
  EXPECT_GT(store_.Reads(), reads_before);
  // ...and never led to a second key for anyone.
  for (const auto& [s, key] : expected)
    EXPECT_EQ(store_.Writes("subject/" + s), 1) << s;
}

TEST_F(KeyRingTest, CacheOfCapacityZeroStillWorks) {
  KeyRingOptions options;
  options.cache_capacity = 0;
  auto ring = OpenRing('K', options);
  ASSERT_NE(ring, nullptr);
  const std::string a = SealKey(*ring, KeyClass::kSubject, "subj-a");
  const std::string b = SealKey(*ring, KeyClass::kSubject, "subj-b");
  EXPECT_EQ(OpenKey(*ring, KeyClass::kSubject, "subj-a"), a);
  EXPECT_EQ(OpenKey(*ring, KeyClass::kSubject, "subj-b"), b);
}

TEST_F(KeyRingTest, KeysHandedOutStayValidAfterEvictionAndDestruction) {
  KeyRingOptions options;
  options.cache_capacity = 1;
  auto ring = OpenRing('K', options);
  ASSERT_NE(ring, nullptr);
  auto a = ring->KeyForSeal(KeyClass::kSubject, "subj-a");
  ASSERT_THAT(a, IsOk());
  const std::string a_bytes = Bytes(**a);
  ASSERT_FALSE(
      SealKey(*ring, KeyClass::kSubject, "subj-b").empty());  // evicts a
  ASSERT_THAT(ring->DestroySubjectKey("subj-a"), IsOk());
  // A caller still holding the shared key can finish its work with it.
  EXPECT_EQ(Bytes(**a), a_bytes);
}

TEST_F(KeyRingTest, MacDiffersByPurposeAndByData) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  const Digest base = ring->Mac("blind-index/name", "synthetic value");
  EXPECT_EQ(ring->Mac("blind-index/name", "synthetic value"), base);
  EXPECT_NE(ring->Mac("blind-index/mrn", "synthetic value"), base);
  EXPECT_NE(ring->Mac("command-fingerprint", "synthetic value"), base);
  EXPECT_NE(ring->Mac("blind-index/name", "synthetic valuf"), base);
  EXPECT_NE(ring->Mac("blind-index/name", ""), base);
  EXPECT_NE(ring->Mac("", "synthetic value"), base);
  // The purpose/data boundary is unambiguous.
  EXPECT_NE(ring->Mac("ab", "c"), ring->Mac("a", "bc"));
  EXPECT_NE(ring->Mac("", "ab"), ring->Mac("a", "b"));
}

TEST_F(KeyRingTest, MacIsNotAPlainKeyedHashOrUnkeyedHash) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  auto system = ring->KeyForOpen(KeyClass::kSystem, "");
  ASSERT_THAT(system, IsOk());
  const Digest mac = ring->Mac("blind-index/name", "synthetic value");
  EXPECT_NE(mac, KeyedBlake2b256(**system, "synthetic value"));
  EXPECT_NE(mac, Blake2b256("synthetic value"));
}

TEST_F(KeyRingTest, MacIsStableAcrossReopen) {
  Digest before;
  {
    auto ring = OpenRing();
    ASSERT_NE(ring, nullptr);
    before = ring->Mac("blind-index/name", "synthetic value");
  }
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  EXPECT_EQ(ring->Mac("blind-index/name", "synthetic value"), before);
}

TEST_F(KeyRingTest, MacDiffersBetweenIndependentKeyStores) {
  FakeKeyStore other;
  auto a = KeyRing::Open(Kek('K'), &store_);
  auto b = KeyRing::Open(Kek('K'), &other);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE((*a)->Mac("p", "synthetic value"),
            (*b)->Mac("p", "synthetic value"));
}

TEST_F(KeyRingTest, OpenPropagatesStoreReadFailure) {
  store_.FailGets(absl::UnavailableError("disk gone"));
  EXPECT_THAT(KeyRing::Open(Kek('K'), &store_),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("disk gone")));
}

TEST_F(KeyRingTest, OpenPropagatesStoreWriteFailure) {
  store_.FailPuts(absl::UnavailableError("disk full"));
  EXPECT_THAT(KeyRing::Open(Kek('K'), &store_),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(store_.Records().empty());
}

TEST_F(KeyRingTest, FailedSubjectKeyWriteIsReportedAndNotCached) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  store_.FailPuts(absl::UnavailableError("disk full"));
  EXPECT_THAT(ring->KeyForSeal(KeyClass::kSubject, "subj-0001"),
              StatusIs(absl::StatusCode::kUnavailable));
  // A key that never reached the store must not be handed out later.
  EXPECT_THAT(ring->KeyForOpen(KeyClass::kSubject, "subj-0001"),
              StatusIs(absl::StatusCode::kNotFound));
  store_.FailPuts(absl::OkStatus());
  const std::string key = SealKey(*ring, KeyClass::kSubject, "subj-0001");
  EXPECT_EQ(store_.Writes("subject/subj-0001"), 1);
  ring.reset();
  auto reopened = OpenRing();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(OpenKey(*reopened, KeyClass::kSubject, "subj-0001"), key);
}

TEST_F(KeyRingTest, SubjectKeyReadFailureIsReportedNotTreatedAsMissing) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  store_.FailGets(absl::UnavailableError("disk gone"));
  EXPECT_THAT(ring->KeyForOpen(KeyClass::kSubject, "subj-0001"),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(ring->KeyForSeal(KeyClass::kSubject, "subj-0001"),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(ring->IsDestroyed("subj-0001"),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(ring->DestroySubjectKey("subj-0001"),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(store_.TotalWrites(), 2);
  // Fixed keys are held in memory and keep working.
  EXPECT_THAT(ring->KeyForSeal(KeyClass::kSystem, ""), IsOk());
  EXPECT_THAT(ring->KeyForOpen(KeyClass::kAudit, ""), IsOk());
}

TEST_F(KeyRingTest, FailedDestroyLeavesTheKeyUsable) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  const std::string key = SealKey(*ring, KeyClass::kSubject, "subj-0001");
  store_.FailPuts(absl::UnavailableError("disk full"));
  EXPECT_THAT(ring->DestroySubjectKey("subj-0001"),
              StatusIs(absl::StatusCode::kUnavailable));
  store_.FailPuts(absl::OkStatus());
  auto destroyed = ring->IsDestroyed("subj-0001");
  ASSERT_THAT(destroyed, IsOk());
  EXPECT_FALSE(*destroyed);
  EXPECT_EQ(OpenKey(*ring, KeyClass::kSubject, "subj-0001"), key);
  // Retrying the destroy works.
  EXPECT_THAT(ring->DestroySubjectKey("subj-0001"), IsOk());
  EXPECT_THAT(ring->KeyForOpen(KeyClass::kSubject, "subj-0001"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(KeyRingTest, StatusMessagesNeverContainKeyMaterial) {
  auto ring = OpenRing();
  ASSERT_NE(ring, nullptr);
  const std::string key = SealKey(*ring, KeyClass::kSubject, "subj-0001");
  const auto record = store_.Record("subject/subj-0001");
  ASSERT_TRUE(record.has_value());
  ASSERT_THAT(ring->DestroySubjectKey("subj-0001"), IsOk());
  auto after = ring->KeyForOpen(KeyClass::kSubject, "subj-0001");
  ASSERT_THAT(after, Not(IsOk()));
  const std::string message(after.status().message());
  EXPECT_THAT(message, Not(HasSubstr(key.substr(0, 8))));
  EXPECT_THAT(message, Not(HasSubstr(record->substr(1, 8))));
}

}  // namespace
}  // namespace carelog::crypto
