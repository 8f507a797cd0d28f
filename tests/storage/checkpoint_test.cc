// Signed checkpoints: made on demand, every N events, every T and on stop;
// stored one per tree size; the note opens with the verifier key, commits to
// the tree root and the chain head; the offline check verifies every
// checkpoint and reports tampering and truncation.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"

#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "storage/internal/db.h"
#include "storage/ledger.h"
#include "storage/merkle.h"
#include "storage/record.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::storage {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::OneEvent;
using ::carelog::testing::StatusIs;
using ::carelog::testing::TempDir;
using ::carelog::testing::TestLedgerOptions;
using ::testing::HasSubstr;

std::shared_ptr<const crypto::SigningKey> TestSigningKey(int which = 0) {
  uint8_t seed[32];
  for (int i = 0; i < 32; ++i)
    seed[i] = static_cast<uint8_t>(i * 3 + 11 + which * 57);
  auto k = crypto::SigningKey::FromSeed(seed, sizeof(seed));
  EXPECT_THAT(k, IsOk());
  return std::shared_ptr<const crypto::SigningKey>(std::move(*k));
}

class CheckpointTest : public ::testing::Test {
 protected:
  void Open(uint64_t every = 0, absl::Duration interval = absl::ZeroDuration(),
            int key = 0) {
    ledger_.reset();
    LedgerOptions o = TestLedgerOptions(dir_.Sub("data"));
    o.checkpoints.key = TestSigningKey(key);
    o.checkpoints.origin = "carelog.test/ledger";
    o.checkpoints.every_events = every;
    o.checkpoints.interval = interval;
    auto l = Ledger::Open(std::move(o));
    ASSERT_THAT(l, IsOk());
    ledger_ = std::move(*l);
  }
  void SetUp() override { Open(); }
  void Append(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_THAT(ledger_->Append(
                      OneEvent(absl::StrCat("c", next_++), "patient/p1", "x")),
                  IsOk());
    }
  }
  crypto::NoteVerifier Verifier(int key = 0) {
    return crypto::NoteVerifier{"carelog.test/ledger",
                                TestSigningKey(key)->public_key()};
  }

  TempDir dir_;
  std::unique_ptr<Ledger> ledger_;
  int next_ = 0;
};

TEST_F(CheckpointTest, OnDemandCheckpointOpensAndCommitsToRootAndChainHead) {
  Append(9);
  auto cp = ledger_->MakeCheckpoint();
  ASSERT_THAT(cp, IsOk());
  EXPECT_EQ(cp->tree_size, 9u);
  auto opened = OpenCheckpoint(cp->note, Verifier());
  ASSERT_THAT(opened, IsOk());
  EXPECT_EQ(opened->tree_size, 9u);
  auto root = ledger_->MerkleRoot(9);
  ASSERT_THAT(root, IsOk());
  EXPECT_EQ(opened->root, *root);
  EXPECT_EQ(opened->chain_head, ledger_->GetHead().chain_hash);
  EXPECT_EQ(opened->origin, "carelog.test/ledger");
  // The body is a C2SP checkpoint: origin, size, base64 root, extensions.
  EXPECT_THAT(cp->note, ::testing::StartsWith(absl::StrCat(
                            "carelog.test/ledger\n9\n",
                            crypto::Base64Encode(crypto::DigestToBytes(*root)),
                            "\ncarelog-chain-head ")));
  EXPECT_THAT(cp->note, HasSubstr("\n\n\xE2\x80\x94 carelog.test/ledger "));
}

TEST_F(CheckpointTest, OneCheckpointPerSizeAndListing) {
  Append(3);
  auto a = ledger_->MakeCheckpoint();
  auto b = ledger_->MakeCheckpoint();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->note, b->note);
  Append(2);
  ASSERT_THAT(ledger_->MakeCheckpoint(), IsOk());
  auto latest = ledger_->LatestCheckpoint();
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->tree_size, 5u);
  auto at3 = ledger_->CheckpointAt(3);
  ASSERT_THAT(at3, IsOk());
  EXPECT_EQ(at3->note, a->note);
  EXPECT_THAT(ledger_->CheckpointAt(4), StatusIs(absl::StatusCode::kNotFound));
  auto list = ledger_->ListCheckpoints(0, 10);
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].tree_size, 3u);
  EXPECT_EQ((*list)[1].tree_size, 5u);
}

TEST_F(CheckpointTest, AnotherKeyOrOriginDoesNotOpenIt) {
  Append(2);
  auto cp = ledger_->MakeCheckpoint();
  ASSERT_THAT(cp, IsOk());
  EXPECT_THAT(OpenCheckpoint(cp->note, Verifier(1)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  crypto::NoteVerifier other{"other.origin", TestSigningKey()->public_key()};
  EXPECT_THAT(OpenCheckpoint(cp->note, other),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // A body changed under the signature.
  std::string forged = cp->note;
  forged.replace(forged.find("\n2\n"), 3, "\n3\n");
  EXPECT_THAT(OpenCheckpoint(forged, Verifier()),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(CheckpointTest, VerifierKeyIsPublishedInNoteFormat) {
  const std::string vkey = ledger_->CheckpointVerifierKey();
  auto v = crypto::ParseNoteVerifierKey(vkey);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->name, "carelog.test/ledger");
  EXPECT_EQ(v->key, TestSigningKey()->public_key());
}

TEST_F(CheckpointTest, EveryNEventsMakesACheckpoint) {
  Open(/*every=*/5);
  Append(12);
  CARELOG_ASSERT_OK(
      ledger_->WaitForCheckpoint(5, absl::Now() + absl::Seconds(30)));
  auto latest = ledger_->LatestCheckpoint();
  ASSERT_THAT(latest, IsOk());
  EXPECT_GE(latest->tree_size, 5u);
  EXPECT_THAT(OpenCheckpoint(latest->note, Verifier()), IsOk());
}

TEST_F(CheckpointTest, IntervalMakesACheckpointWhenTheHeadMoved) {
  Open(/*every=*/0, /*interval=*/absl::Milliseconds(20));
  Append(4);
  CARELOG_ASSERT_OK(
      ledger_->WaitForCheckpoint(4, absl::Now() + absl::Seconds(30)));
}

TEST_F(CheckpointTest, StopCheckpointsTheFinalHead) {
  Append(7);
  ledger_->Stop();
  auto latest = ledger_->LatestCheckpoint();
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->tree_size, 7u);
}

TEST_F(CheckpointTest, NoKeyMeansNoCheckpoints) {
  ledger_.reset();
  auto l = Ledger::Open(TestLedgerOptions(dir_.Sub("data")));
  ASSERT_THAT(l, IsOk());
  EXPECT_THAT((*l)->MakeCheckpoint(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ((*l)->CheckpointVerifierKey(), "");
}

TEST_F(CheckpointTest, BadOriginIsRefused) {
  ledger_.reset();
  LedgerOptions o = TestLedgerOptions(dir_.Sub("data"));
  o.checkpoints.key = TestSigningKey();
  o.checkpoints.origin = "has space";
  EXPECT_THAT(Ledger::Open(std::move(o)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("checkpoints.origin")));
}

TEST_F(CheckpointTest, CheckpointsStayValidAfterErasure) {
  Append(6);
  auto cp = ledger_->MakeCheckpoint();
  ASSERT_THAT(cp, IsOk());
  ASSERT_THAT(ledger_->DestroySubjectKey("subj-0001"), IsOk());
  auto proof = ledger_->InclusionProof(2, 6);
  ASSERT_THAT(proof, IsOk());
  auto ev = ledger_->ReadAt(2);
  ASSERT_THAT(ev, IsOk());
  EXPECT_THAT(
      crypto::VerifyInclusion(1, 6, crypto::MerkleLeafHash(ev->stored_bytes),
                              *proof, cp->root),
      IsOk());
  ledger_.reset();
  const auto v = Verifier();
  EXPECT_THAT(VerifyDataDirMerkle(dir_.Sub("data"), &v).status, IsOk());
}

TEST_F(CheckpointTest, OfflineCheckVerifiesEveryCheckpoint) {
  Append(4);
  ASSERT_THAT(ledger_->MakeCheckpoint(), IsOk());
  Append(4);
  ASSERT_THAT(ledger_->MakeCheckpoint(), IsOk());
  ledger_.reset();  // also checkpoints the head (already done: same size)
  const auto v = Verifier();
  MerkleVerifyReport r = VerifyDataDirMerkle(dir_.Sub("data"), &v);
  ASSERT_THAT(r.status, IsOk());
  EXPECT_EQ(r.checkpoints_checked, 2u);
  EXPECT_EQ(r.latest_checkpoint, 8u);
  const auto wrong = Verifier(1);
  EXPECT_THAT(VerifyDataDirMerkle(dir_.Sub("data"), &wrong).status,
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(CheckpointTest, OfflineCheckReportsAForgedCheckpoint) {
  Append(4);
  ASSERT_THAT(ledger_->MakeCheckpoint(), IsOk());
  ledger_.reset();
  {
    auto db = internal::OpenDb(dir_.Sub("data"), {});
    ASSERT_THAT(db, IsOk());
    std::string note;
    ASSERT_TRUE((*db)
                    ->db
                    ->Get(rocksdb::ReadOptions(), (*db)->checkpoints,
                          PositionKey(4), &note)
                    .ok());
    // Change the signed time: the signature no longer verifies.
    const size_t t = note.find("carelog-time ") + 13;
    note[t] = note[t] == '9' ? '8' : static_cast<char>(note[t] + 1);
    ASSERT_TRUE((*db)
                    ->db
                    ->Put(rocksdb::WriteOptions(), (*db)->checkpoints,
                          PositionKey(4), note)
                    .ok());
  }
  const auto v = Verifier();
  MerkleVerifyReport r = VerifyDataDirMerkle(dir_.Sub("data"), &v);
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(r.bad_checkpoint_size, 4u);
}

TEST_F(CheckpointTest, OfflineCheckDetectsTruncationBehindACheckpoint) {
  Append(6);
  ASSERT_THAT(ledger_->MakeCheckpoint(), IsOk());
  ledger_.reset();
  {
    // Drop the last two events and rewrite head and tree size consistently:
    // invisible to the chain check, not to the signed checkpoint.
    auto db = internal::OpenDb(dir_.Sub("data"), {});
    ASSERT_THAT(db, IsOk());
    std::string ev4;
    ASSERT_TRUE(
        (*db)
            ->db
            ->Get(rocksdb::ReadOptions(), (*db)->events, PositionKey(4), &ev4)
            .ok());
    auto rv = ParseRecordView(ev4);
    ASSERT_THAT(rv, IsOk());
    rocksdb::WriteBatch wb;
    wb.Delete((*db)->events, PositionKey(5));
    wb.Delete((*db)->events, PositionKey(6));
    wb.Put((*db)->meta, internal::kMetaHead,
           EncodeHead(Head{4, rv->chain_hash}));
    std::string four;
    PutU64(&four, 4);
    wb.Put((*db)->meta, "merkle_size", four);
    ASSERT_TRUE((*db)->db->Write(rocksdb::WriteOptions(), &wb).ok());
  }
  EXPECT_THAT(VerifyDataDir(dir_.Sub("data")).status, IsOk());
  const auto v = Verifier();
  MerkleVerifyReport r = VerifyDataDirMerkle(dir_.Sub("data"), &v);
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("beyond the tree")));
  EXPECT_EQ(r.bad_checkpoint_size, 6u);
  EXPECT_EQ(r.first_bad_position, 5u);
}

}  // namespace
}  // namespace carelog::storage
