// Backup tests: online backups while appending restore to a verified ledger
// with the backup's head and checkpoint; backups hold no KEK and no
// plaintext; damaged backups are DATA_LOSS; restores never overwrite.
#include "storage/backup.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "crypto/hash.h"
#include "crypto/signing_key.h"
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

std::string Marker(int n) {
  return absl::StrCat("SYNTHETIC-BACKUP-MARKER-", 1000 + n);
}

void AppendMany(Ledger& l, const std::string& prefix, int n) {
  for (int i = 0; i < n; ++i) {
    auto r = l.Append(OneEvent(absl::StrCat(prefix, "-", i),
                               absl::StrCat("patient/", prefix, "-", i % 7),
                               Marker(i), ExpectedVersion::Any(),
                               absl::StrCat("subj-", i % 7)));
    ASSERT_THAT(r.status(), IsOk());
  }
}

TEST(BackupTest, BackupWhileAppendingRestoresToTheBackupsHead) {
  TempDir tmp;
  LedgerOptions o = TestLedgerOptions(tmp.Sub("data"));
  auto key = crypto::SigningKey::Generate();
  ASSERT_THAT(key.status(), IsOk());
  o.checkpoints.key =
      std::shared_ptr<const crypto::SigningKey>(std::move(*key));
  o.checkpoints.every_events = 0;
  o.checkpoints.interval = absl::ZeroDuration();
  o.checkpoints.on_stop = false;
  auto l = Ledger::Open(std::move(o));
  ASSERT_THAT(l.status(), IsOk());
  AppendMany(**l, "pre", 200);
  auto cp = (*l)->MakeCheckpoint();
  ASSERT_THAT(cp.status(), IsOk());

  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back(
        [&, t] { AppendMany(**l, absl::StrCat("during", t), 150); });
  }
  auto info = CreateBackup(**l, tmp.Sub("backups"));
  for (auto& w : writers)
    w.join();
  ASSERT_THAT(info.status(), IsOk());
  EXPECT_GE(info->head.position, 201u);
  EXPECT_LE(info->head.position, 800u);
  EXPECT_EQ(info->source, tmp.Sub("data"));
  // The backup's head is a real chain state of the live ledger.
  auto at = (*l)->ReadAt(info->head.position);
  ASSERT_THAT(at.status(), IsOk());
  EXPECT_TRUE(crypto::DigestEquals(at->chain_hash, info->head.chain_hash));
  const auto pos5 = (*l)->ReadAt(5);
  ASSERT_THAT(pos5.status(), IsOk());
  l->reset();

  // Disaster: the data directory is gone.
  std::filesystem::remove_all(tmp.Sub("data"));
  auto restored = RestoreBackup(tmp.Sub("backups"), 0, tmp.Sub("data"));
  ASSERT_THAT(restored.status(), IsOk());
  EXPECT_EQ(restored->head.position, info->head.position);

  auto back = Ledger::Open(TestLedgerOptions(tmp.Sub("data")));
  ASSERT_THAT(back.status(), IsOk());
  VerifyReport v = (*back)->Verify();
  ASSERT_THAT(v.status, IsOk());
  EXPECT_EQ(v.verified_head.position, info->head.position);
  EXPECT_TRUE(crypto::DigestEquals((*back)->GetHead().chain_hash,
                                   info->head.chain_hash));
  auto latest = (*back)->LatestCheckpoint();
  ASSERT_THAT(latest.status(), IsOk());
  EXPECT_EQ(latest->note, cp->note);
  auto ev = (*back)->ReadAt(5);
  ASSERT_THAT(ev.status(), IsOk());
  EXPECT_EQ(ev->stored_bytes, pos5->stored_bytes);
  auto plain = (*back)->Decrypt(*ev);
  ASSERT_THAT(plain.status(), IsOk());
  EXPECT_EQ(*plain, Marker(4));
  // The Merkle tree came along and proves the backup's head.
  auto root = (*back)->MerkleRoot(info->head.position);
  EXPECT_THAT(root.status(), IsOk());
  // And the restored ledger takes new appends after the head.
  auto next = (*back)->Append(OneEvent("after-restore", "patient/x", "p"));
  ASSERT_THAT(next.status(), IsOk());
  EXPECT_EQ(next->first_position, info->head.position + 1);
}

TEST(BackupTest, BackupHoldsNoKekAndNoPlaintext) {
  TempDir tmp;
  {
    auto l = Ledger::Open(TestLedgerOptions(tmp.Sub("data")));
    ASSERT_THAT(l.status(), IsOk());
    AppendMany(**l, "c", 50);
  }
  auto info = CreateBackupOfDataDir(tmp.Sub("data"), tmp.Sub("backups"));
  ASSERT_THAT(info.status(), IsOk());
  EXPECT_EQ(info->head.position, 50u);

  auto kek = TestKek();
  const std::string raw(reinterpret_cast<const char*>(kek->data()),
                        kek->size());
  const std::string hex = crypto::BytesToHex(raw);
  std::string upper = hex;
  for (char& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto files = ListFilesRecursive(tmp.Sub("backups"));
  ASSERT_FALSE(files.empty());
  bool control_found = false;
  for (const auto& f : files) {
    const std::string bytes = ReadFileOrEmpty(f);
    EXPECT_EQ(bytes.find(raw), std::string::npos) << "raw KEK in " << f;
    EXPECT_EQ(bytes.find(hex), std::string::npos) << "hex KEK in " << f;
    EXPECT_EQ(bytes.find(upper), std::string::npos) << "hex KEK in " << f;
    for (int i = 0; i < 50; ++i) {
      ASSERT_EQ(bytes.find(Marker(i)), std::string::npos)
          << "plaintext payload in " << f;
    }
    // Control: clear headers (stream ids) are in the backup, so the scan
    // does read the copied tables.
    if (bytes.find("patient/c-3") != std::string::npos)
      control_found = true;
  }
  EXPECT_TRUE(control_found);
}

TEST(BackupTest, ListReportsEveryBackupWithItsHead) {
  TempDir tmp;
  auto l = Ledger::Open(TestLedgerOptions(tmp.Sub("data")));
  ASSERT_THAT(l.status(), IsOk());
  AppendMany(**l, "a", 10);
  ASSERT_THAT(CreateBackup(**l, tmp.Sub("b")).status(), IsOk());
  AppendMany(**l, "b", 5);
  ASSERT_THAT(CreateBackup(**l, tmp.Sub("b")).status(), IsOk());
  auto list = ListBackups(tmp.Sub("b"));
  ASSERT_THAT(list.status(), IsOk());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].head.position, 10u);
  EXPECT_EQ((*list)[1].head.position, 15u);
  EXPECT_LT((*list)[0].id, (*list)[1].id);

  BackupVerifyReport v = VerifyBackup(tmp.Sub("b"), (*list)[0].id);
  ASSERT_THAT(v.status, IsOk());
  EXPECT_EQ(v.chain.events_checked, 10u);
  EXPECT_THAT(VerifyBackup(tmp.Sub("b"), 99).status,
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ListBackups(tmp.Sub("nothing-here")).status(),
              StatusIs(absl::StatusCode::kNotFound));
  // Listing, verifying or restoring from a directory that holds no backups
  // reports it and never writes into it.
  std::filesystem::create_directories(tmp.Sub("empty"));
  auto none = ListBackups(tmp.Sub("empty"));
  if (none.ok())
    EXPECT_TRUE(none->empty());
  EXPECT_FALSE(VerifyBackup(tmp.Sub("empty"), 0).status.ok());
  EXPECT_FALSE(RestoreBackup(tmp.Sub("empty"), 0, tmp.Sub("t")).ok());
  EXPECT_TRUE(ListFilesRecursive(tmp.Sub("empty")).empty());
  EXPECT_TRUE(std::filesystem::is_empty(tmp.Sub("empty")));
}

TEST(BackupTest, DamagedBackupFileIsDataLoss) {
  TempDir tmp;
  {
    auto l = Ledger::Open(TestLedgerOptions(tmp.Sub("data")));
    ASSERT_THAT(l.status(), IsOk());
    AppendMany(**l, "d", 30);
  }
  ASSERT_THAT(CreateBackupOfDataDir(tmp.Sub("data"), tmp.Sub("b")).status(),
              IsOk());
  bool flipped = false;
  for (const auto& f : ListFilesRecursive(tmp.Sub("b"))) {
    if (f.size() > 4 && f.substr(f.size() - 4) == ".sst" &&
        ReadFileOrEmpty(f).find("patient/d-") != std::string::npos) {
      std::string bytes = ReadFileOrEmpty(f);
      bytes[bytes.size() / 3] ^= 0x5a;
      std::ofstream(f, std::ios::binary | std::ios::trunc) << bytes;
      flipped = true;
      break;
    }
  }
  ASSERT_TRUE(flipped);
  BackupVerifyReport v = VerifyBackup(tmp.Sub("b"), 0);
  EXPECT_THAT(v.status, StatusIs(absl::StatusCode::kDataLoss));
}

TEST(BackupTest, RestoreNeverOverwritesAndOfflineBackupRefusesALiveLedger) {
  TempDir tmp;
  auto l = Ledger::Open(TestLedgerOptions(tmp.Sub("data")));
  ASSERT_THAT(l.status(), IsOk());
  AppendMany(**l, "e", 3);
  ASSERT_THAT(CreateBackup(**l, tmp.Sub("b")).status(), IsOk());
  // The directory is locked by the open ledger: offline backup refuses.
  EXPECT_THAT(CreateBackupOfDataDir(tmp.Sub("data"), tmp.Sub("b")).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // Restoring onto a non-empty directory refuses and leaves it alone.
  std::filesystem::create_directories(tmp.Sub("busy"));
  std::ofstream(tmp.Sub("busy/keep.txt")) << "keep";
  EXPECT_THAT(RestoreBackup(tmp.Sub("b"), 0, tmp.Sub("busy")).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ListFilesRecursive(tmp.Sub("busy")).size(), 1u);
  EXPECT_THAT(RestoreBackup(tmp.Sub("b"), 42, tmp.Sub("new")).status(),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("new")));
}

TEST(BackupTest, VerifyWithProgressReportsSlices) {
  TempDir tmp;
  {
    auto l = Ledger::Open(TestLedgerOptions(tmp.Sub("data")));
    ASSERT_THAT(l.status(), IsOk());
    AppendMany(**l, "v", 25);
  }
  std::vector<uint64_t> seen;
  std::vector<std::string> phases;
  VerifyReport r = VerifyDataDirWithProgress(
      tmp.Sub("data"),
      [&](const Progress& p) {
        if (phases.empty() || phases.back() != p.phase)
          phases.push_back(p.phase);
        if (std::string(p.phase) == "verifying")
          seen.push_back(p.done);
      },
      10);
  ASSERT_THAT(r.status, IsOk());
  EXPECT_EQ(r.events_checked, 25u);
  EXPECT_EQ(seen, (std::vector<uint64_t>{10, 20, 25}));
  // Then, as VerifyDataDir, every table file's block checksums.
  EXPECT_EQ(phases,
            (std::vector<std::string>{"verifying", "checking table files"}));
}

}  // namespace
}  // namespace carelog::storage
