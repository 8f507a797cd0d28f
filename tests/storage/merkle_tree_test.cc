// The ledger's incremental Merkle tree: roots and proofs served from the
// stored tree equal the RFC 9162 reference over the events' stored records,
// verify with the client-side verifiers, cost O(log n) reads, survive reopen,
// backfill and subject erasure, and the offline check finds damaged nodes.
#include "storage/internal/merkle_tree.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"

#include "crypto/merkle.h"
#include "storage/internal/db.h"
#include "storage/ledger.h"
#include "storage/merkle.h"
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
using crypto::Digest;
using ::testing::HasSubstr;

class MerkleTreeTest : public ::testing::Test {
 protected:
  void Open(bool merkle = true) {
    ledger_.reset();
    LedgerOptions o = TestLedgerOptions(dir_.Sub("data"));
    o.merkle = merkle;
    auto l = Ledger::Open(std::move(o));
    ASSERT_THAT(l, IsOk());
    ledger_ = std::move(*l);
  }
  void SetUp() override { Open(); }

  // Appends `n` events, in commands of 1, 2 or 3 events on a few streams.
  void Append(int n) {
    int done = 0;
    while (done < n) {
      const int k = std::min(n - done, 1 + (next_ % 3));
      AppendRequest r;
      r.command_id = absl::StrCat("cmd-", next_++);
      StreamAppend sa;
      sa.stream_id = absl::StrCat("patient/p", next_ % 5);
      for (int i = 0; i < k; ++i) {
        NewEvent ev;
        ev.event_type = "carelog.test.Noted";
        ev.payload = absl::StrCat("payload ", done + i);
        ev.key_class = crypto::KeyClass::kSubject;
        ev.subject_id = absl::StrCat("subj-", next_ % 5);
        sa.events.push_back(std::move(ev));
      }
      r.streams.push_back(std::move(sa));
      ASSERT_THAT(ledger_->Append(r), IsOk());
      done += k;
    }
  }

  // Leaf hashes recomputed from the events' stored bytes.
  std::vector<Digest> Leaves() {
    std::vector<Digest> out;
    const uint64_t head = ledger_->GetHead().position;
    for (uint64_t p = 1; p <= head; ++p) {
      auto ev = ledger_->ReadAt(p);
      EXPECT_THAT(ev, IsOk());
      out.push_back(crypto::MerkleLeafHash(ev->stored_bytes));
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Ledger> ledger_;
  int next_ = 0;
};

TEST_F(MerkleTreeTest, EmptyLedgerHasTheEmptyRoot) {
  auto root = ledger_->MerkleRoot(0);
  ASSERT_THAT(root, IsOk());
  EXPECT_EQ(*root, crypto::MerkleEmptyRoot());
  EXPECT_THAT(ledger_->MerkleRoot(1),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(MerkleTreeTest, RootsAndProofsMatchTheReferenceForEverySize) {
  Append(45);
  const std::vector<Digest> leaves = Leaves();
  ASSERT_EQ(leaves.size(), 45u);
  auto all = absl::MakeConstSpan(leaves);
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    SCOPED_TRACE(absl::StrCat("size ", n));
    const Digest want = crypto::ReferenceRoot(all.subspan(0, n));
    auto root = ledger_->MerkleRoot(n);
    ASSERT_THAT(root, IsOk());
    EXPECT_EQ(*root, want);
    for (uint64_t pos = 1; pos <= n; ++pos) {
      auto proof = ledger_->InclusionProof(pos, n);
      ASSERT_THAT(proof, IsOk());
      EXPECT_EQ(*proof,
                crypto::ReferenceInclusionProof(all.subspan(0, n), pos - 1));
      EXPECT_THAT(
          crypto::VerifyInclusion(pos - 1, n, leaves[pos - 1], *proof, want),
          IsOk());
    }
    for (uint64_t m = 0; m <= n; ++m) {
      auto proof = ledger_->ConsistencyProof(m, n);
      ASSERT_THAT(proof, IsOk());
      EXPECT_EQ(*proof,
                crypto::ReferenceConsistencyProof(all.subspan(0, n), m));
      const Digest old_root = crypto::ReferenceRoot(all.subspan(0, m));
      EXPECT_THAT(crypto::VerifyConsistency(m, n, *proof, old_root, want),
                  IsOk());
    }
  }
}

TEST_F(MerkleTreeTest, ArgumentsOutsideTheTreeAreRejected) {
  Append(5);
  EXPECT_THAT(
      ledger_->InclusionProof(0, 5),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("position")));
  EXPECT_THAT(ledger_->InclusionProof(6, 5),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      ledger_->InclusionProof(1, 6),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tree_size")));
  EXPECT_THAT(ledger_->ConsistencyProof(4, 3),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ledger_->ConsistencyProof(3, 6),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(MerkleTreeTest, TreeSurvivesReopen) {
  Append(20);
  auto before = ledger_->MerkleRoot(20);
  ASSERT_THAT(before, IsOk());
  Open();
  Append(7);
  const auto leaves = Leaves();
  auto root = ledger_->MerkleRoot(27);
  ASSERT_THAT(root, IsOk());
  EXPECT_EQ(*root, crypto::ReferenceRoot(leaves));
  auto old_root = ledger_->MerkleRoot(20);
  ASSERT_THAT(old_root, IsOk());
  EXPECT_EQ(*old_root, *before);
}

TEST_F(MerkleTreeTest, MaintenanceOffRefusesProofsAndReopenBackfills) {
  Append(10);
  Open(/*merkle=*/false);
  Append(13);
  EXPECT_THAT(ledger_->MerkleRoot(10),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ledger_->InclusionProof(1, 10),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  Open(/*merkle=*/true);
  const auto leaves = Leaves();
  ASSERT_EQ(leaves.size(), 23u);
  auto root = ledger_->MerkleRoot(23);
  ASSERT_THAT(root, IsOk());
  EXPECT_EQ(*root, crypto::ReferenceRoot(leaves));
  Append(3);
  auto root2 = ledger_->MerkleRoot(26);
  ASSERT_THAT(root2, IsOk());
  EXPECT_EQ(*root2, crypto::ReferenceRoot(Leaves()));
}

// A ledger from before this feature: events, no tree at all.
TEST_F(MerkleTreeTest, LedgerWithoutATreeIsBackfilledOnOpen) {
  Append(33);
  ledger_.reset();
  {
    auto db = internal::OpenDb(dir_.Sub("data"), {});
    ASSERT_THAT(db, IsOk());
    rocksdb::WriteBatch wb;
    wb.DeleteRange((*db)->merkle, std::string(1, '\0'), std::string(9, '\xff'));
    wb.Delete((*db)->meta, internal::kMetaMerkleSize);
    ASSERT_TRUE((*db)->db->Write(rocksdb::WriteOptions(), &wb).ok());
  }
  Open();
  auto root = ledger_->MerkleRoot(33);
  ASSERT_THAT(root, IsOk());
  EXPECT_EQ(*root, crypto::ReferenceRoot(Leaves()));
}

TEST_F(MerkleTreeTest, ProofsStayValidAfterASubjectIsErased) {
  Append(12);
  const auto leaves = Leaves();
  auto root = ledger_->MerkleRoot(12);
  ASSERT_THAT(root, IsOk());
  auto proof = ledger_->InclusionProof(3, 12);
  ASSERT_THAT(proof, IsOk());
  auto ev = ledger_->ReadAt(3);
  ASSERT_THAT(ev, IsOk());
  ASSERT_THAT(ledger_->DestroySubjectKey(ev->header.subject_id), IsOk());
  EXPECT_THAT(ledger_->Decrypt(*ev),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  auto root_after = ledger_->MerkleRoot(12);
  ASSERT_THAT(root_after, IsOk());
  EXPECT_EQ(*root_after, *root);
  auto proof_after = ledger_->InclusionProof(3, 12);
  ASSERT_THAT(proof_after, IsOk());
  EXPECT_EQ(*proof_after, *proof);
  auto ev_after = ledger_->ReadAt(3);
  ASSERT_THAT(ev_after, IsOk());
  EXPECT_THAT(crypto::VerifyInclusion(
                  2, 12, crypto::MerkleLeafHash(ev_after->stored_bytes),
                  *proof_after, *root),
              IsOk());
}

TEST_F(MerkleTreeTest, ProofsReadLogarithmicallyManyNodes) {
  Append(1000);
  ledger_.reset();
  internal::DbOpenOptions o;
  o.read_only = true;
  o.create = false;
  auto db = internal::OpenDb(dir_.Sub("data"), o);
  ASSERT_THAT(db, IsOk());
  for (uint64_t size : {1000u, 999u, 513u, 512u}) {
    for (uint64_t index : {0u, 1u, 500u, 511u}) {
      if (index >= size)
        continue;
      internal::MerkleReader r(**db, nullptr);
      ASSERT_THAT(r.InclusionProof(index, size), IsOk());
      EXPECT_LE(r.reads(), 2 * 11u) << size << " " << index;
      internal::MerkleReader c(**db, nullptr);
      ASSERT_THAT(c.ConsistencyProof(index + 1, size), IsOk());
      EXPECT_LE(c.reads(), 2 * 11u) << size << " " << index;
    }
  }
}

TEST_F(MerkleTreeTest, OfflineCheckAcceptsAGoodTreeAndFindsADamagedNode) {
  Append(40);
  ledger_.reset();
  MerkleVerifyReport ok = VerifyDataDirMerkle(dir_.Sub("data"), nullptr);
  ASSERT_THAT(ok.status, IsOk());
  EXPECT_EQ(ok.tree_size, 40u);
  EXPECT_EQ(ok.leaves_checked, 40u);
  {
    // Damage the node (level 1, index 9): leaves 18 and 19 → positions 19, 20.
    auto db = internal::OpenDb(dir_.Sub("data"), {});
    ASSERT_THAT(db, IsOk());
    ASSERT_TRUE((*db)
                    ->db
                    ->Put(rocksdb::WriteOptions(), (*db)->merkle,
                          internal::MerkleNodeKey(1, 9), std::string(32, 'x'))
                    .ok());
  }
  MerkleVerifyReport bad = VerifyDataDirMerkle(dir_.Sub("data"), nullptr);
  EXPECT_THAT(bad.status,
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("node (1, 9)")));
  EXPECT_EQ(bad.first_bad_position, 19u);
}

TEST_F(MerkleTreeTest, OfflineCheckFindsADamagedLeaf) {
  Append(10);
  ledger_.reset();
  {
    auto db = internal::OpenDb(dir_.Sub("data"), {});
    ASSERT_THAT(db, IsOk());
    ASSERT_TRUE((*db)
                    ->db
                    ->Delete(rocksdb::WriteOptions(), (*db)->merkle,
                             internal::MerkleNodeKey(0, 6))
                    .ok());
  }
  MerkleVerifyReport bad = VerifyDataDirMerkle(dir_.Sub("data"), nullptr);
  EXPECT_THAT(bad.status,
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("missing")));
  EXPECT_EQ(bad.first_bad_position, 7u);
}

}  // namespace
}  // namespace carelog::storage
