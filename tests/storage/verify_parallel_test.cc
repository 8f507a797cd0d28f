// Verify() splits large ranges into parallel spans; these tests check that the
// split reports exactly what one pass would: the first bad position and the
// problem, wherever the damage falls relative to the span boundaries.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/db.h"

#include "storage/ledger.h"
#include "storage/record.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::storage {
namespace {

using ::carelog::testing::IsOk;

constexpr uint64_t kEvents = 70000;  // above the parallel threshold (65536)

class VerifyParallelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new carelog::testing::TempDir();
    auto l =
        Ledger::Open(carelog::testing::TestLedgerOptions(dir_->Sub("src")));
    ASSERT_THAT(l, IsOk());
    for (uint64_t c = 0; c < kEvents / 500; ++c) {
      AppendRequest r;
      r.command_id = "bulk-" + std::to_string(c);
      StreamAppend sa;
      sa.stream_id = "bulk/" + std::to_string(c % 7);
      for (int i = 0; i < 500; ++i) {
        sa.events.push_back(
            NewEvent{"carelog.test.Bulk", "synthetic", KeyClass::kSystem, ""});
      }
      r.streams.push_back(std::move(sa));
      ASSERT_THAT((*l)->Append(r), IsOk());
    }
    ASSERT_EQ((*l)->GetHead().position, kEvents);
  }
  static void TearDownTestSuite() { delete dir_; }

  // A copy of the source ledger to damage through a raw RocksDB handle.
  std::string Copy() {
    const std::string dst = dir_->Sub("copy-" + std::to_string(copies_++));
    std::filesystem::copy(dir_->Sub("src"), dst,
                          std::filesystem::copy_options::recursive);
    return dst;
  }
  void Damage(const std::string& dir,
              const std::function<void(rocksdb::DB*,
                                       rocksdb::ColumnFamilyHandle*)>& fn) {
    std::vector<std::string> names;
    ASSERT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names)
            .ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (const auto& n : names)
      descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), dir, descs, &handles, &raw)
            .ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::ColumnFamilyHandle* events = nullptr;
    for (auto* h : handles) {
      if (h->GetName() == "events")
        events = h;
    }
    ASSERT_NE(events, nullptr);
    fn(db.get(), events);
    for (auto* h : handles)
      db->DestroyColumnFamilyHandle(h);
  }

  static carelog::testing::TempDir* dir_;
  int copies_ = 0;
};

carelog::testing::TempDir* VerifyParallelTest::dir_ = nullptr;

TEST_F(VerifyParallelTest, WholeLargeLedgerVerifies) {
  VerifyReport r = VerifyDataDir(dir_->Sub("src"));
  ASSERT_THAT(r.status, IsOk());
  EXPECT_EQ(r.events_checked, kEvents);
  EXPECT_EQ(r.verified_head.position, kEvents);
}

TEST_F(VerifyParallelTest, FlippedByteInEachHalfIsReportedAtItsPosition) {
  for (uint64_t pos : {uint64_t{1234}, uint64_t{35000}, uint64_t{35001},
                       uint64_t{52345}, kEvents}) {
    SCOPED_TRACE(pos);
    const std::string dir = Copy();
    Damage(dir, [pos](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
      std::string v;
      ASSERT_TRUE(
          db->Get(rocksdb::ReadOptions(), cf, PositionKey(pos), &v).ok());
      v[v.size() - 40] ^= 0x01;  // inside the ciphertext
      ASSERT_TRUE(
          db->Put(rocksdb::WriteOptions(), cf, PositionKey(pos), v).ok());
    });
    VerifyReport r = VerifyDataDir(dir);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(r.first_bad_position, pos);
    EXPECT_EQ(r.problem, VerifyProblem::kHashMismatch);
  }
}

TEST_F(VerifyParallelTest, DeletedEventAtASpanBoundaryIsAGapAtThatPosition) {
  for (uint64_t pos :
       {uint64_t{34999}, uint64_t{35000}, uint64_t{35001}, uint64_t{60000}}) {
    SCOPED_TRACE(pos);
    const std::string dir = Copy();
    Damage(dir, [pos](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
      ASSERT_TRUE(
          db->Delete(rocksdb::WriteOptions(), cf, PositionKey(pos)).ok());
    });
    VerifyReport r = VerifyDataDir(dir);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(r.first_bad_position, pos);
    EXPECT_EQ(r.problem, VerifyProblem::kGap);
  }
}

TEST_F(VerifyParallelTest, TruncationInsideTheFirstSpanIsAHeadMismatch) {
  const std::string dir = Copy();
  Damage(dir, [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    for (uint64_t p = 30000; p <= kEvents; ++p) {
      ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), cf, PositionKey(p)).ok());
    }
  });
  VerifyReport r = VerifyDataDir(dir);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(r.first_bad_position, 30000u);
  EXPECT_EQ(r.problem, VerifyProblem::kHeadMismatch);
}

}  // namespace
}  // namespace carelog::storage
