// Fault injection into the writer (SequencerOptions::write_fault):
// a group write that fails — with its batch left unwritten, or written but
// reported failed (a WAL sync error after the append) — must leave the
// writer's in-memory Merkle frontier equal to the tree on disk, so that later
// appends extend the right tree: every root and proof afterwards equals the
// RFC 9162 reference over the events actually stored, across reopen too.
#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/types/span.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/merkle.h"
#include "crypto/secret_key.h"
#include "storage/clock.h"
#include "storage/internal/db.h"
#include "storage/internal/merkle_tree.h"
#include "storage/internal/sequencer.h"
#include "storage/ledger.h"
#include "storage/merkle.h"
#include "storage/record.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::storage {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using ::carelog::testing::TempDir;
using ::carelog::testing::TestLedgerOptions;
using crypto::Digest;
using ::testing::HasSubstr;

// The writer alone (the Ledger's sequencer and Merkle hook over a raw Db),
// so that its writes can be failed on purpose. Events carry opaque bytes in
// place of ciphertext: the writer, the chain and the tree never decrypt.
class MerkleFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A real ledger directory first (format marker, keys), so that the end of
    // each test can reopen it as a Ledger.
    auto l = Ledger::Open(TestLedgerOptions(dir_.Sub("data")));
    ASSERT_THAT(l, IsOk());
    l->reset();
    StartWriter();
  }

  void StartWriter() {
    auto db = internal::OpenDb(dir_.Sub("data"), {});
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    auto frontier = internal::MerkleFrontier::Load(*db_, 0);
    ASSERT_THAT(frontier, IsOk());
    hook_ = std::make_unique<internal::MerkleHook>(db_.get(), *frontier);
    internal::SequencerOptions so;
    so.write_fault = [this] {
      return static_cast<internal::WriteFault>(next_fault_.exchange(0));
    };
    writer_ = std::make_unique<internal::Sequencer>(
        db_.get(), so, SystemClock::Get(), Head{}, 0, hook_.get());
  }

  void StopWriter() {
    writer_->Stop();
    writer_.reset();
    hook_.reset();
    db_.reset();
  }

  // Appends one command of `events` events and waits for its outcome.
  absl::StatusOr<AppendResult> Append(
      const std::string& id, int events,
      internal::WriteFault fault = internal::WriteFault::kNone) {
    auto cmd = std::make_unique<internal::PendingCommand>();
    cmd->command_id = id;
    cmd->fingerprint = crypto::Blake2b256(id);
    internal::SealedStream st;
    st.stream_id = absl::StrCat("patient/p", id.size() % 3);
    st.expected = ExpectedVersion::Any();
    for (int i = 0; i < events; ++i) {
      internal::SealedEvent ev;
      ev.header.key_class = crypto::KeyClass::kSystem;
      crypto::RandomBytes(ev.header.event_id.data(), ev.header.event_id.size());
      ev.header.nonce = crypto::RandomNonce();
      ev.header.stream_id = st.stream_id;
      ev.header.event_type = "carelog.test.Noted";
      ev.header.command_id = id;
      ev.ciphertext = absl::StrCat("opaque synthetic bytes ", id, " ", i);
      cmd->bytes += ev.ciphertext.size();
      st.events.push_back(std::move(ev));
    }
    cmd->streams.push_back(std::move(st));
    absl::Notification done;
    absl::StatusOr<AppendResult> out;
    cmd->done = [&](absl::StatusOr<AppendResult> r) {
      out = std::move(r);
      done.Notify();
    };
    next_fault_.store(static_cast<int>(fault));
    if (absl::Status s = writer_->Submit(&cmd); !s.ok())
      return s;
    done.WaitForNotification();
    return out;
  }

  uint64_t HeadPosition() { return writer_->head().position; }

  std::vector<Digest> Leaves() {
    std::vector<Digest> out;
    const uint64_t head = HeadPosition();
    for (uint64_t p = 1; p <= head; ++p) {
      std::string v;
      EXPECT_TRUE(
          db_->db->Get(rocksdb::ReadOptions(), db_->events, PositionKey(p), &v)
              .ok())
          << "event " << p;
      out.push_back(crypto::MerkleLeafHash(v));
    }
    return out;
  }

  // Every root, inclusion and consistency proof of the stored tree equals
  // the reference over the stored events and verifies.
  void ExpectTreeMatchesStoredEvents() {
    const std::vector<Digest> leaves = Leaves();
    auto all = absl::MakeConstSpan(leaves);
    internal::MerkleReader reader(*db_, nullptr);
    EXPECT_EQ(hook_->size(), leaves.size());
    for (uint64_t n = 1; n <= leaves.size(); ++n) {
      SCOPED_TRACE(absl::StrCat("size ", n));
      const Digest want = crypto::ReferenceRoot(all.subspan(0, n));
      auto root = reader.Root(n);
      ASSERT_THAT(root, IsOk());
      ASSERT_EQ(*root, want);
      for (uint64_t pos = 1; pos <= n; ++pos) {
        auto proof = reader.InclusionProof(pos - 1, n);
        ASSERT_THAT(proof, IsOk());
        EXPECT_THAT(
            crypto::VerifyInclusion(pos - 1, n, leaves[pos - 1], *proof, want),
            IsOk());
      }
      const uint64_t m = n / 2;
      auto cproof = reader.ConsistencyProof(m, n);
      ASSERT_THAT(cproof, IsOk());
      EXPECT_THAT(
          crypto::VerifyConsistency(
              m, n, *cproof, crypto::ReferenceRoot(all.subspan(0, m)), want),
          IsOk());
    }
  }

  void TearDown() override {
    if (writer_)
      StopWriter();
  }

  TempDir dir_;
  std::atomic<int> next_fault_{0};
  std::unique_ptr<internal::Db> db_;
  std::unique_ptr<internal::MerkleHook> hook_;
  std::unique_ptr<internal::Sequencer> writer_;
};

TEST_F(MerkleFaultTest, WriteReportedFailedButAppliedReloadsTheFrontier) {
  ASSERT_THAT(Append("a-1", 3), IsOk());
  ASSERT_THAT(Append("a-2", 3), IsOk());  // 6 leaves
  EXPECT_THAT(Append("a-3", 3, internal::WriteFault::kFailWritten),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("no command of this batch")));
  // The batch is on disk all the same: the head moved to 9.
  EXPECT_EQ(HeadPosition(), 9u);
  // Had the writer kept its pre-failure frontier (6 leaves), these leaves
  // would be numbered 7, 8 … again and every later root would be wrong.
  auto next = Append("a-4", 2);
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->first_position, 10u);
  ExpectTreeMatchesStoredEvents();
  // The client's retry of the "failed" command finds its stored result.
  auto retry = Append("a-3", 3);
  ASSERT_THAT(retry, IsOk());
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->first_position, 7u);
}

TEST_F(MerkleFaultTest, WriteFailedUnwrittenDiscardsTheTentativeLeaves) {
  ASSERT_THAT(Append("b-1", 5), IsOk());
  EXPECT_THAT(Append("b-2", 3, internal::WriteFault::kFailUnwritten),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(HeadPosition(), 5u);
  // Had the writer adopted the tentative frontier (8 leaves), the next leaf
  // would hang off a tree that is not on disk.
  auto retry = Append("b-2", 3);
  ASSERT_THAT(retry, IsOk());
  EXPECT_FALSE(retry->duplicate);
  EXPECT_EQ(retry->first_position, 6u);
  ExpectTreeMatchesStoredEvents();
}

TEST_F(MerkleFaultTest, RandomFaultsThenReopenLeaveAConsistentTree) {
  std::mt19937 rng(20261202);  // fixed: the run is reproducible
  int failed_unwritten = 0, failed_written = 0;
  for (int i = 0; i < 40; ++i) {
    const int events = 1 + static_cast<int>(rng() % 4);
    const uint32_t roll = rng() % 4;
    const internal::WriteFault fault =
        roll == 0   ? internal::WriteFault::kFailUnwritten
        : roll == 1 ? internal::WriteFault::kFailWritten
                    : internal::WriteFault::kNone;
    auto r = Append(absl::StrCat("r-", i), events, fault);
    if (fault == internal::WriteFault::kNone) {
      ASSERT_THAT(r, IsOk());
    } else {
      ASSERT_THAT(r, StatusIs(absl::StatusCode::kUnavailable));
      (fault == internal::WriteFault::kFailWritten ? failed_written
                                                   : failed_unwritten)++;
    }
  }
  ASSERT_GT(failed_written, 0);
  ASSERT_GT(failed_unwritten, 0);
  // The writer reloads after a failure at its next group: end on a success.
  ASSERT_THAT(Append("last", 1), IsOk());
  ExpectTreeMatchesStoredEvents();
  const uint64_t head = HeadPosition();
  StopWriter();
  // The tree on disk is whole: the offline check recomputes it from the
  // events; the directory opens as a ledger whose chain and tree verify.
  MerkleVerifyReport offline = VerifyDataDirMerkle(dir_.Sub("data"), nullptr);
  ASSERT_THAT(offline.status, IsOk());
  EXPECT_EQ(offline.tree_size, head);
  auto l = Ledger::Open(TestLedgerOptions(dir_.Sub("data")));
  ASSERT_THAT(l, IsOk());
  EXPECT_EQ((*l)->GetHead().position, head);
  EXPECT_THAT((*l)->Verify().status, IsOk());
  auto root = (*l)->MerkleRoot(head);
  ASSERT_THAT(root, IsOk());
  EXPECT_EQ(*root, offline.root);
}

}  // namespace
}  // namespace carelog::storage
