// Maintenance tests: restore as of a position or time copies the prefix byte
// for byte and verifies; KEK rotation leaves the old KEK opening nothing;
// erasure shreds a subject's payloads (and purges its wrapped key from the
// files) while the chain, Merkle proofs and audit events stay; legal holds
// block erasure.
#include "storage/maintenance.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "crypto/hash.h"
#include "crypto/merkle.h"
#include "crypto/signing_key.h"
#include "storage/internal/db.h"
#include "storage/ledger.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::storage {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::ListFilesRecursive;
using ::carelog::testing::OneEvent;
using ::carelog::testing::ReadFileOrEmpty;
using ::carelog::testing::StatusIs;
using ::carelog::testing::TempDir;
using ::carelog::testing::TestKek;
using ::carelog::testing::TestLedgerOptions;
using ::testing::HasSubstr;

class FakeClock : public Clock {
 public:
  absl::Time Now() const override {
    absl::MutexLock l(&mu_);
    return now_;
  }
  void Set(absl::Time t) {
    absl::MutexLock l(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

// A command of `n` events on one stream.
AppendRequest Multi(const std::string& id, const std::string& stream, int n,
                    const std::string& subject) {
  AppendRequest r =
      OneEvent(id, stream, "first", ExpectedVersion::Any(), subject);
  for (int i = 1; i < n; ++i) {
    NewEvent e = r.streams[0].events[0];
    e.payload = absl::StrCat("payload-", i);
    r.streams[0].events.push_back(e);
  }
  return r;
}

// An audit event about `subject`, under the audit key.
AppendRequest AuditAbout(const std::string& id, const std::string& subject) {
  AppendRequest r = OneEvent(id, absl::StrCat("audit/", subject),
                             "audit-payload", ExpectedVersion::Any(), subject);
  r.streams[0].events[0].key_class = KeyClass::kAudit;
  r.streams[0].events[0].event_type = "carelog.test.Disclosed";
  return r;
}

std::string RawKeyRecord(const std::string& dir, const std::string& id) {
  internal::DbOpenOptions o;
  o.read_only = true;
  o.create = false;
  auto db = internal::OpenDb(dir, o);
  if (!db.ok())
    return "";
  std::string v;
  if (!(*db)->db->Get(rocksdb::ReadOptions(), (*db)->keys, id, &v).ok())
    return "";
  return v;
}

bool AnyFileContains(const std::string& dir, const std::string& needle) {
  for (const auto& f : ListFilesRecursive(dir)) {
    if (ReadFileOrEmpty(f).find(needle) != std::string::npos)
      return true;
  }
  return false;
}

// ---- Restore as of ---------------------------------------------------------

class RestoreAsOfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LedgerOptions o = TestLedgerOptions(tmp_.Sub("src"));
    o.clock = &clock_;
    auto key = crypto::SigningKey::Generate();
    ASSERT_THAT(key.status(), IsOk());
    o.checkpoints.key =
        std::shared_ptr<const crypto::SigningKey>(std::move(*key));
    o.checkpoints.every_events = 0;
    o.checkpoints.interval = absl::ZeroDuration();
    o.checkpoints.on_stop = false;
    auto l = Ledger::Open(std::move(o));
    ASSERT_THAT(l.status(), IsOk());
    src_ = std::move(*l);
    // 1..10 single events, 11..13 one command, then 14..30 singles.
    for (int i = 0; i < 10; ++i) {
      clock_.Set(absl::FromUnixSeconds(1700000000 + i * 10));
      ASSERT_THAT(
          src_->Append(OneEvent(absl::StrCat("c", i),
                                absl::StrCat("patient/p", i % 3),
                                absl::StrCat("v", i), ExpectedVersion::Any(),
                                absl::StrCat("s", i % 3)))
              .status(),
          IsOk());
    }
    ASSERT_THAT(src_->MakeCheckpoint().status(), IsOk());  // size 10
    clock_.Set(absl::FromUnixSeconds(1700000200));
    ASSERT_THAT(src_->Append(Multi("multi", "patient/m", 3, "sm")).status(),
                IsOk());
    for (int i = 0; i < 17; ++i) {
      clock_.Set(absl::FromUnixSeconds(1700000300 + i * 10));
      ASSERT_THAT(
          src_->Append(OneEvent(absl::StrCat("d", i),
                                absl::StrCat("patient/p", i % 4),
                                absl::StrCat("w", i), ExpectedVersion::Any(),
                                absl::StrCat("s", i % 4)))
              .status(),
          IsOk());
    }
    ASSERT_THAT(src_->MakeCheckpoint().status(), IsOk());  // size 30
    ASSERT_EQ(src_->GetHead().position, 30u);
  }

  TempDir tmp_;
  FakeClock clock_;
  std::unique_ptr<Ledger> src_;
};

TEST_F(RestoreAsOfTest, PrefixIsCopiedByteForByteAndVerifies) {
  std::vector<StoredEvent> want;
  for (uint64_t p = 1; p <= 13; ++p) {
    auto e = src_->ReadAt(p);
    ASSERT_THAT(e.status(), IsOk());
    want.push_back(*e);
  }
  auto root13 = src_->MerkleRoot(13);
  ASSERT_THAT(root13.status(), IsOk());
  src_.reset();

  std::vector<uint64_t> progress;
  auto r = RestoreAsOf(tmp_.Sub("src"), tmp_.Sub("dst"), 13,
                       [&](const Progress& p) { progress.push_back(p.done); });
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->head.position, 13u);
  EXPECT_TRUE(crypto::DigestEquals(r->head.chain_hash, want.back().chain_hash));
  EXPECT_EQ(r->checkpoints, 1u);  // size 10 only
  EXPECT_EQ(r->commands, 11u);
  EXPECT_FALSE(progress.empty());

  auto l = Ledger::Open(TestLedgerOptions(tmp_.Sub("dst")));
  ASSERT_THAT(l.status(), IsOk());
  ASSERT_THAT((*l)->Verify().status, IsOk());
  EXPECT_EQ((*l)->GetHead().position, 13u);
  for (uint64_t p = 1; p <= 13; ++p) {
    auto e = (*l)->ReadAt(p);
    ASSERT_THAT(e.status(), IsOk());
    EXPECT_EQ(e->stored_bytes, want[p - 1].stored_bytes) << "position " << p;
  }
  EXPECT_THAT((*l)->ReadAt(14).status(), StatusIs(absl::StatusCode::kNotFound));
  // Payloads decrypt with the copied keys.
  auto plain = (*l)->Decrypt(want[11]);
  ASSERT_THAT(plain.status(), IsOk());
  EXPECT_EQ(*plain, "payload-1");
  // Streams, commands, Merkle tree and checkpoints match the prefix.
  auto v = (*l)->StreamVersion("patient/m");
  ASSERT_THAT(v.status(), IsOk());
  EXPECT_EQ(*v, 3u);
  auto v0 = (*l)->StreamVersion("patient/p0");
  ASSERT_THAT(v0.status(), IsOk());
  EXPECT_EQ(*v0, 4u);  // c0, c3, c6, c9
  EXPECT_THAT((*l)->LookupCommand("multi").status(), IsOk());
  EXPECT_THAT((*l)->LookupCommand("d0").status(),
              StatusIs(absl::StatusCode::kNotFound));
  auto root = (*l)->MerkleRoot(13);
  ASSERT_THAT(root.status(), IsOk());
  EXPECT_TRUE(crypto::DigestEquals(*root, *root13));
  auto cp = (*l)->LatestCheckpoint();
  ASSERT_THAT(cp.status(), IsOk());
  EXPECT_EQ(cp->tree_size, 10u);
  // It is a working ledger: a retry of a copied command is a duplicate, a new
  // command continues at 14, and a command cut away can be re-run.
  auto dup = (*l)->Append(
      OneEvent("c1", "patient/p1", "v1", ExpectedVersion::Any(), "s1"));
  ASSERT_THAT(dup.status(), IsOk());
  EXPECT_TRUE(dup->duplicate);
  auto next = (*l)->Append(
      OneEvent("d0", "patient/p0", "again", ExpectedVersion::Exact(4), "s0"));
  ASSERT_THAT(next.status(), IsOk());
  EXPECT_EQ(next->first_position, 14u);
}

TEST_F(RestoreAsOfTest, ErasedSubjectsStayErasedAndHoldsComeAlong) {
  // s1 is erased after position 13; the copy as of 13 must not revive it.
  ASSERT_THAT(src_->DestroySubjectKey("s1"), IsOk());
  ASSERT_THAT(SetLegalHold(*src_, "s2", "CASE-9", "op").status(), IsOk());
  src_.reset();
  ASSERT_THAT(RestoreAsOf(tmp_.Sub("src"), tmp_.Sub("dst"), 13).status(),
              IsOk());
  auto l = Ledger::Open(TestLedgerOptions(tmp_.Sub("dst")));
  ASSERT_THAT(l.status(), IsOk());
  for (uint64_t p = 1; p <= 10; ++p) {
    auto e = (*l)->ReadAt(p);
    ASSERT_THAT(e.status(), IsOk());
    auto plain = (*l)->Decrypt(*e);
    if (e->header.subject_id == "s1") {
      EXPECT_THAT(plain.status(),
                  StatusIs(absl::StatusCode::kFailedPrecondition));
    } else {
      EXPECT_THAT(plain.status(), IsOk());
    }
  }
  auto hold = GetLegalHold(**l, "s2");
  ASSERT_THAT(hold.status(), IsOk());
  EXPECT_TRUE(hold->has_value());
}

TEST_F(RestoreAsOfTest, CutInsideACommandIsRefused) {
  src_.reset();
  auto r = RestoreAsOf(tmp_.Sub("src"), tmp_.Sub("dst"), 12);
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                   HasSubstr("positions 11..13")));
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("dst")));
  EXPECT_THAT(RestoreAsOf(tmp_.Sub("src"), tmp_.Sub("dst"), 31).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("beyond the source head (30)")));
  EXPECT_THAT(RestoreAsOf(tmp_.Sub("src"), tmp_.Sub("dst"), 0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RestoreAsOf(tmp_.Sub("nope"), tmp_.Sub("dst"), 1).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(
      RestoreAsOf(tmp_.Sub("src"), tmp_.Sub("src"), 1).status(),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not empty")));
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("dst")));
}

TEST_F(RestoreAsOfTest, TimeMapsToTheLastPositionRecordedByThen) {
  src_.reset();
  const std::string dir = tmp_.Sub("src");
  auto p = PositionAsOfTime(dir, absl::FromUnixSeconds(1700000045));
  ASSERT_THAT(p.status(), IsOk());
  EXPECT_EQ(*p, 5u);  // c0..c4 at +0..+40
  p = PositionAsOfTime(dir, absl::FromUnixSeconds(1700000200));
  ASSERT_THAT(p.status(), IsOk());
  EXPECT_EQ(*p, 13u);  // the whole three-event command
  p = PositionAsOfTime(dir, absl::FromUnixSeconds(1600000000));
  ASSERT_THAT(p.status(), IsOk());
  EXPECT_EQ(*p, 0u);
  p = PositionAsOfTime(dir, absl::FromUnixSeconds(1800000000));
  ASSERT_THAT(p.status(), IsOk());
  EXPECT_EQ(*p, 30u);
}

// ---- KEK rotation ----------------------------------------------------------

TEST(RotateKekTest, NewKekOpensEverythingAndTheOldOneNothing) {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  {
    auto l = Ledger::Open(TestLedgerOptions(dir));
    ASSERT_THAT(l.status(), IsOk());
    for (int i = 0; i < 20; ++i) {
      ASSERT_THAT((*l)->Append(OneEvent(absl::StrCat("k", i), "patient/a",
                                        absl::StrCat("secret-", i),
                                        ExpectedVersion::Any(),
                                        absl::StrCat("s", i % 5)))
                      .status(),
                  IsOk());
    }
    ASSERT_THAT((*l)->DestroySubjectKey("s4"), IsOk());
  }
  const std::string old_system = RawKeyRecord(dir, "system");
  ASSERT_FALSE(old_system.empty());

  // Bad requests change nothing.
  EXPECT_THAT(RotateKek(dir, *TestKek(0), *TestKek(0)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      RotateKek(dir, *TestKek(2), *TestKek(1)).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("old KEK")));
  EXPECT_EQ(RawKeyRecord(dir, "system"), old_system);
  EXPECT_THAT(RotateKek(tmp.Sub("none"), *TestKek(0), *TestKek(1)).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  auto r = RotateKek(dir, *TestKek(0), *TestKek(1));
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->keys_rewrapped, 2u + 4u);  // system, audit, s0..s3
  EXPECT_EQ(r->tombstones, 1u);           // s4
  EXPECT_NE(RawKeyRecord(dir, "system"), old_system);
  // The old wrapped records are gone from the files.
  EXPECT_FALSE(AnyFileContains(dir, old_system));

  auto old_open = Ledger::Open(TestLedgerOptions(dir, 0));
  EXPECT_THAT(old_open.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("does not unwrap under the configured KEK")));
  auto l = Ledger::Open(TestLedgerOptions(dir, 1));
  ASSERT_THAT(l.status(), IsOk());
  ASSERT_THAT((*l)->Verify().status, IsOk());
  for (uint64_t p = 1; p <= 20; ++p) {
    auto e = (*l)->ReadAt(p);
    ASSERT_THAT(e.status(), IsOk());
    auto plain = (*l)->Decrypt(*e);
    if (e->header.subject_id == "s4") {
      EXPECT_THAT(plain.status(),
                  StatusIs(absl::StatusCode::kFailedPrecondition));
    } else {
      ASSERT_THAT(plain.status(), IsOk());
      EXPECT_EQ(*plain, absl::StrCat("secret-", p - 1));
    }
  }
  // New subjects get keys under the new KEK too.
  EXPECT_THAT((*l)->Append(OneEvent("new", "patient/n", "x",
                                    ExpectedVersion::Any(), "s-new"))
                  .status(),
              IsOk());
}

TEST(RotateKekTest, RefusesARunningLedger) {
  TempDir tmp;
  auto l = Ledger::Open(TestLedgerOptions(tmp.Sub("data")));
  ASSERT_THAT(l.status(), IsOk());
  EXPECT_THAT(RotateKek(tmp.Sub("data"), *TestKek(0), *TestKek(1)).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// ---- Erasure and legal holds ------------------------------------------------

class EraseTest : public ::testing::Test {
 protected:
  void Open(bool checkpoints) {
    LedgerOptions o = TestLedgerOptions(tmp_.Sub("data"));
    if (checkpoints) {
      auto key = crypto::SigningKey::Generate();
      ASSERT_THAT(key.status(), IsOk());
      o.checkpoints.key =
          std::shared_ptr<const crypto::SigningKey>(std::move(*key));
      o.checkpoints.every_events = 0;
      o.checkpoints.interval = absl::ZeroDuration();
      o.checkpoints.on_stop = false;
    }
    auto l = Ledger::Open(std::move(o));
    ASSERT_THAT(l.status(), IsOk());
    ledger_ = std::move(*l);
  }
  void Populate() {
    for (int i = 0; i < 6; ++i) {
      const std::string subj = i % 2 == 0 ? "patient-a" : "patient-b";
      ASSERT_THAT(
          ledger_
              ->Append(OneEvent(
                  absl::StrCat("e", i), absl::StrCat("patient/", subj),
                  absl::StrCat("phi-", i), ExpectedVersion::Any(), subj))
              .status(),
          IsOk());
    }
    ASSERT_THAT(ledger_->Append(AuditAbout("audit-1", "patient-a")).status(),
                IsOk());
  }

  TempDir tmp_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(EraseTest, PayloadsAreShreddedAndTheTrailStays) {
  Open(/*checkpoints=*/true);
  Populate();
  ledger_.reset();
  const std::string wrapped =
      RawKeyRecord(tmp_.Sub("data"), "subject/patient-a");
  ASSERT_EQ(wrapped.size(), 73u);
  ASSERT_TRUE(AnyFileContains(tmp_.Sub("data"), wrapped));  // control
  Open(/*checkpoints=*/true);

  auto receipt =
      EraseSubject(*ledger_, ErasureRequest{"patient-a", "patient request #123",
                                            "GDPR-17", "operator-1"});
  ASSERT_THAT(receipt.status(), IsOk());
  EXPECT_EQ(receipt->position, 8u);
  EXPECT_FALSE(receipt->already_erased);
  EXPECT_TRUE(receipt->purged);
  ASSERT_TRUE(receipt->checkpoint.has_value());
  EXPECT_TRUE(receipt->checkpoint_covers_erasure);
  EXPECT_EQ(receipt->checkpoint->tree_size, 8u);

  // The erasure event: system key, no PHI in the clear, readable.
  auto ev = ledger_->ReadAt(receipt->position);
  ASSERT_THAT(ev.status(), IsOk());
  EXPECT_EQ(ev->header.event_type, kErasureEventType);
  EXPECT_EQ(ev->header.stream_id, "erasure/patient-a");
  EXPECT_EQ(ev->header.key_class, KeyClass::kSystem);
  auto body = ledger_->Decrypt(*ev);
  ASSERT_THAT(body.status(), IsOk());
  EXPECT_THAT(*body, HasSubstr("GDPR-17"));

  for (uint64_t p = 1; p <= 7; ++p) {
    auto e = ledger_->ReadAt(p);
    ASSERT_THAT(e.status(), IsOk());
    auto plain = ledger_->Decrypt(*e);
    if (e->header.key_class == KeyClass::kAudit) {
      ASSERT_THAT(plain.status(), IsOk()) << "audit events stay readable";
      EXPECT_EQ(*plain, "audit-payload");
    } else if (e->header.subject_id == "patient-a") {
      EXPECT_THAT(plain.status(),
                  StatusIs(absl::StatusCode::kFailedPrecondition));
    } else {
      EXPECT_THAT(plain.status(), IsOk());
    }
  }
  // The chain and the Merkle proofs still verify.
  ASSERT_THAT(ledger_->Verify().status, IsOk());
  auto e1 = ledger_->ReadAt(1);
  ASSERT_THAT(e1.status(), IsOk());
  auto proof = ledger_->InclusionProof(1, 8);
  ASSERT_THAT(proof.status(), IsOk());
  EXPECT_THAT(
      crypto::VerifyInclusion(0, 8, crypto::MerkleLeafHash(e1->stored_bytes),
                              *proof, receipt->checkpoint->root),
      IsOk());
  // New events for the erased subject are refused.
  EXPECT_THAT(ledger_
                  ->Append(OneEvent("late", "patient/patient-a", "x",
                                    ExpectedVersion::Any(), "patient-a"))
                  .status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // A retry appends nothing and returns the same position.
  auto again = EraseSubject(
      *ledger_, ErasureRequest{"patient-a", "retry", "GDPR-17", "op"});
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_TRUE(again->already_erased);
  EXPECT_EQ(again->position, receipt->position);
  ledger_.reset();
  // The old wrapped key is gone from every file of the data directory.
  EXPECT_FALSE(AnyFileContains(tmp_.Sub("data"), wrapped));
  EXPECT_THAT(VerifyDataDir(tmp_.Sub("data")).status, IsOk());
}

TEST_F(EraseTest, LegalHoldBlocksErasureUntilCleared) {
  Open(/*checkpoints=*/false);
  Populate();
  auto hold = SetLegalHold(*ledger_, "patient-a", "case LIT-2026-7", "op-1");
  ASSERT_THAT(hold.status(), IsOk());
  EXPECT_EQ(hold->position, 8u);
  EXPECT_THAT(SetLegalHold(*ledger_, "patient-a", "again", "op-1").status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
  const uint64_t head = ledger_->GetHead().position;
  EXPECT_THAT(
      EraseSubject(*ledger_, ErasureRequest{"patient-a", "r", "GDPR-17", "op"})
          .status(),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("legal hold")));
  EXPECT_EQ(ledger_->GetHead().position, head);
  auto e1 = ledger_->ReadAt(1);
  ASSERT_THAT(e1.status(), IsOk());
  EXPECT_THAT(ledger_->Decrypt(*e1).status(), IsOk());
  auto got = GetLegalHold(*ledger_, "patient-a");
  ASSERT_THAT(got.status(), IsOk());
  ASSERT_TRUE(got->has_value());

  auto cleared = ClearLegalHold(*ledger_, "patient-a", "case closed", "op-1");
  ASSERT_THAT(cleared.status(), IsOk());
  EXPECT_THAT(ClearLegalHold(*ledger_, "patient-a", "x", "op").status(),
              StatusIs(absl::StatusCode::kNotFound));
  auto receipt =
      EraseSubject(*ledger_, ErasureRequest{"patient-a", "r", "GDPR-17", "op"});
  ASSERT_THAT(receipt.status(), IsOk());
  EXPECT_FALSE(receipt->checkpoint.has_value());
  EXPECT_THAT(ledger_->Decrypt(*e1).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(EraseTest, BadRequestsChangeNothing) {
  Open(/*checkpoints=*/false);
  Populate();
  const uint64_t head = ledger_->GetHead().position;
  EXPECT_THAT(
      EraseSubject(*ledger_, ErasureRequest{"", "r", "b", "o"}).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subject_id")));
  EXPECT_THAT(
      EraseSubject(*ledger_, ErasureRequest{"bad id!", "r", "b", "o"}).status(),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      EraseSubject(*ledger_, ErasureRequest{"patient-a", "", "b", "o"})
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  EXPECT_THAT(EraseSubject(*ledger_, ErasureRequest{"patient-a", "r", "", "o"})
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("basis")));
  EXPECT_THAT(
      EraseSubject(*ledger_, ErasureRequest{"never-seen", "r", "b", "o"})
          .status(),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(ledger_->GetHead().position, head);
  auto e1 = ledger_->ReadAt(1);
  ASSERT_THAT(e1.status(), IsOk());
  EXPECT_THAT(ledger_->Decrypt(*e1).status(), IsOk());
}

}  // namespace
}  // namespace carelog::storage
