// ProjectionStore: rows and checkpoint in one batch, ordered paged scans,
// generations that swap atomically and survive reopening.
#include "storage/projection_store.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "storage/maintenance.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::storage {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;

class ProjectionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    auto l = carelog::testing::OpenTestLedger(dir_.Sub("ledger"));
    ASSERT_THAT(l, IsOk());
    ledger_ = std::move(*l);
    auto s = ProjectionStore::Open(ledger_.get(), "demo");
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
  }
  void Reopen() {
    store_.reset();
    ledger_.reset();
    Open();
  }

  carelog::testing::TempDir dir_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<ProjectionStore> store_;
};

TEST_F(ProjectionStoreTest, CommitWritesRowsAndCheckpointTogether) {
  auto cp = store_->ReadCheckpoint();
  ASSERT_THAT(cp, IsOk());
  EXPECT_EQ(*cp, 0u);
  ProjectionBatch b;
  b.Put("a/1", "one");
  b.Put("a/2", "two");
  b.checkpoint = 7;
  ASSERT_THAT(store_->Commit(b), IsOk());
  auto v = store_->Get("a/1");
  ASSERT_THAT(v, IsOk());
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, "one");
  cp = store_->ReadCheckpoint();
  ASSERT_THAT(cp, IsOk());
  EXPECT_EQ(*cp, 7u);

  ProjectionBatch d;
  d.Delete("a/1");
  d.checkpoint = 9;
  ASSERT_THAT(store_->Commit(d), IsOk());
  v = store_->Get("a/1");
  ASSERT_THAT(v, IsOk());
  EXPECT_FALSE(v->has_value());

  Reopen();
  cp = store_->ReadCheckpoint();
  ASSERT_THAT(cp, IsOk());
  EXPECT_EQ(*cp, 9u);
  v = store_->Get("a/2");
  ASSERT_THAT(v, IsOk());
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, "two");
}

TEST_F(ProjectionStoreTest, CheckpointNeverGoesBackAndReservedKeysAreRefused) {
  ProjectionBatch b;
  b.checkpoint = 5;
  ASSERT_THAT(store_->Commit(b), IsOk());
  ProjectionBatch back;
  back.checkpoint = 4;
  EXPECT_THAT(store_->Commit(back),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ProjectionBatch reserved;
  reserved.Put(std::string("\0x", 2), "v");
  reserved.checkpoint = 6;
  EXPECT_THAT(store_->Commit(reserved),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ProjectionBatch empty_key;
  empty_key.Put("", "v");
  empty_key.checkpoint = 6;
  EXPECT_THAT(store_->Commit(empty_key),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto cp = store_->ReadCheckpoint();
  ASSERT_THAT(cp, IsOk());
  EXPECT_EQ(*cp, 5u);
}

TEST_F(ProjectionStoreTest, ScanPagesInKeyOrderWithinThePrefix) {
  ProjectionBatch b;
  for (int i = 0; i < 25; ++i)
    b.Put(absl::StrCat("k/", 100 + i), absl::StrCat(i));
  b.Put("j/0", "before");
  b.Put("l/0", "after");
  b.checkpoint = 1;
  ASSERT_THAT(store_->Commit(b), IsOk());
  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  for (;;) {
    auto page = store_->Scan("k/", after, 10);
    ASSERT_THAT(page, IsOk());
    ++pages;
    for (const auto& r : page->rows)
      seen.push_back(r.key);
    if (!page->more)
      break;
    after = page->rows.back().key;
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  for (int i = 0; i < 25; ++i)
    EXPECT_EQ(seen[i], absl::StrCat("k/", 100 + i));
  auto all = store_->Scan("", "", 1000);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->rows.size(), 27u);  // the checkpoint record is not a row
  EXPECT_THAT(store_->Scan("k/", "", 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ProjectionStoreTest, SwapMakesANewGenerationLiveAndPersists) {
  ProjectionBatch old_rows;
  old_rows.Put("r/1", "old");
  old_rows.checkpoint = 3;
  ASSERT_THAT(store_->Commit(old_rows), IsOk());
  const uint64_t first = store_->live_generation();

  auto g = store_->CreateGeneration();
  ASSERT_THAT(g, IsOk());
  EXPECT_NE(*g, first);
  ProjectionBatch fresh;
  fresh.Put("r/1", "new");
  fresh.checkpoint = 3;
  ASSERT_THAT(store_->Commit(fresh, *g), IsOk());
  // The old generation still serves until the swap.
  auto v = store_->Get("r/1");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(**v, "old");

  ASSERT_THAT(store_->Swap(*g), IsOk());
  EXPECT_EQ(store_->live_generation(), *g);
  v = store_->Get("r/1");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(**v, "new");
  EXPECT_THAT(store_->Get("r/1", first), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Swap(*g),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  Reopen();
  EXPECT_EQ(store_->live_generation(), *g);
  v = store_->Get("r/1");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(**v, "new");
  auto cp = store_->ReadCheckpoint();
  ASSERT_THAT(cp, IsOk());
  EXPECT_EQ(*cp, 3u);
}

TEST_F(ProjectionStoreTest, UnswappedGenerationIsDroppedOnReopen) {
  const uint64_t live = store_->live_generation();
  auto g = store_->CreateGeneration();
  ASSERT_THAT(g, IsOk());
  ProjectionBatch half;
  half.Put("r/1", "half-built");
  half.checkpoint = 1;
  ASSERT_THAT(store_->Commit(half, *g), IsOk());
  Reopen();
  EXPECT_EQ(store_->live_generation(), live);
  EXPECT_THAT(store_->Get("r/1", *g), StatusIs(absl::StatusCode::kNotFound));
  auto v = store_->Get("r/1");
  ASSERT_THAT(v, IsOk());
  EXPECT_FALSE(v->has_value());
  // A later rebuild gets a generation number not used before.
  auto g2 = store_->CreateGeneration();
  ASSERT_THAT(g2, IsOk());
  EXPECT_GT(*g2, live);
  ASSERT_THAT(store_->DropGeneration(*g2), IsOk());
  EXPECT_THAT(store_->DropGeneration(live),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ProjectionStoreTest,
       ErasureAndPurgeWorkAfterSwappingOutAnOpenedGeneration) {
  auto r = ledger_->Append(
      carelog::testing::OneEvent("c-1", "patient/p-1", "x", {}, "subj-1"));
  ASSERT_THAT(r, IsOk());
  ProjectionBatch b;
  b.Put("r/1", "v");
  b.checkpoint = r->last_position;
  ASSERT_THAT(store_->Commit(b), IsOk());
  Reopen();  // the live generation is now one the database opened
  auto g = store_->CreateGeneration();
  ASSERT_THAT(g, IsOk());
  ASSERT_THAT(store_->Commit(b, *g), IsOk());
  ASSERT_THAT(store_->Swap(*g), IsOk());
  ASSERT_THAT(store_->Purge(), IsOk());
  // The erasure's key purge flushes every column family the database opened,
  // including the dropped one.
  ErasureRequest er;
  er.subject_id = "subj-1";
  er.reason = "test";
  er.basis = "GDPR-17";
  er.actor = "dpo-1";
  EXPECT_THAT(EraseSubject(*ledger_, er), IsOk());
  auto v = store_->Get("r/1");
  ASSERT_THAT(v, IsOk());
  EXPECT_TRUE(v->has_value());
}

TEST_F(ProjectionStoreTest, BadNamesAreRefused) {
  EXPECT_THAT(ProjectionStore::Open(ledger_.get(), "Bad-Name"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ProjectionStore::Open(ledger_.get(), ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace carelog::storage
