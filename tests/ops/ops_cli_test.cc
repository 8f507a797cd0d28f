// carelogctl operations subcommands, driven in process through carelogctl's
// own entry point: every bad argument exits 2 with nothing changed; the happy
// paths (backup create/list/verify/restore, restore --as-of, legal-hold,
// erase-subject, keys rotate-kek) exit 0 and leave a working ledger.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "crypto/hash.h"
#include "crypto/key_file.h"
#include "ops/carelogctl/ops_common.h"
#include "storage/ledger.h"
#include "tests/ops/ctl_driver.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::ctl {
namespace {

using ::carelog::testing::CsvColumn;
using ::carelog::testing::CtlResult;
using ::carelog::testing::IsOk;
using ::carelog::testing::OneEvent;
using ::carelog::testing::ParseCsv;
using ::carelog::testing::RunCtl;
using ::carelog::testing::TempDir;
using ::carelog::testing::TestKek;
using ::carelog::testing::TestLedgerOptions;
using ::testing::ElementsAre;

// carelogctl's real command line, without progress lines.
int Ctl(std::vector<std::string> args) {
  args.push_back("--quiet");
  return RunCtl(std::move(args)).exit_code;
}

class OpsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = tmp_.Sub("data");
    std::filesystem::create_directories(data_);
    {
      auto l = storage::Ledger::Open(TestLedgerOptions(LedgerDirOf(data_)));
      ASSERT_THAT(l.status(), IsOk());
      for (int i = 0; i < 6; ++i) {
        ASSERT_THAT((*l)->Append(OneEvent(absl::StrCat("c", i),
                                          absl::StrCat("patient/p", i % 2),
                                          absl::StrCat("payload-", i),
                                          storage::ExpectedVersion::Any(),
                                          i % 2 ? "s1" : "s0"))
                        .status(),
                    IsOk());
      }
    }
    old_key_ = tmp_.Sub("old.key");
    new_key_ = tmp_.Sub("new.key");
    ASSERT_THAT(crypto::WriteKeyFile(old_key_, *TestKek(0)), IsOk());
    ASSERT_THAT(crypto::WriteKeyFile(new_key_, *TestKek(1)), IsOk());
    head_ = Head();
  }

  storage::Head Head() {
    storage::VerifyReport r = storage::VerifyDataDir(LedgerDirOf(data_));
    EXPECT_THAT(r.status, IsOk());
    return r.verified_head;
  }

  // The ledger is as SetUp left it: same head, and the old KEK opens it and
  // decrypts subject s1's event.
  void ExpectUnchanged() {
    storage::Head h = Head();
    EXPECT_EQ(h.position, head_.position);
    EXPECT_TRUE(crypto::DigestEquals(h.chain_hash, head_.chain_hash));
    auto l = storage::Ledger::Open(TestLedgerOptions(LedgerDirOf(data_), 0));
    ASSERT_THAT(l.status(), IsOk());
    auto e = (*l)->ReadAt(2);
    ASSERT_THAT(e.status(), IsOk());
    EXPECT_THAT((*l)->Decrypt(*e).status(), IsOk());
  }

  TempDir tmp_;
  std::string data_, old_key_, new_key_;
  storage::Head head_;
};

TEST_F(OpsCliTest, BadArgumentsExitTwoAndChangeNothing) {
  const std::string b = tmp_.Sub("backups"), x = tmp_.Sub("x");
  EXPECT_EQ(Ctl({"bogus"}), kExitUsage);
  EXPECT_EQ(Ctl({"backup"}), kExitUsage);
  EXPECT_EQ(Ctl({"backup", "create", "--data-dir", data_}), kExitUsage);
  EXPECT_EQ(Ctl({"backup", "create", "--data-dir", tmp_.Sub("nope"),
                 "--backup-dir", b}),
            kExitUsage);
  EXPECT_EQ(Ctl({"backup", "create", "--data-dir", data_, "--backup-dir", b,
                 "--keep", "-1"}),
            kExitUsage);
  EXPECT_FALSE(std::filesystem::exists(b));
  EXPECT_EQ(Ctl({"backup", "list", "--backup-dir", b}), kExitUsage);
  EXPECT_EQ(Ctl({"backup", "verify", "--backup-dir", b}), kExitUsage);
  EXPECT_EQ(Ctl({"backup", "restore", "--backup-dir", b, "--to", x}),
            kExitUsage);
  EXPECT_FALSE(std::filesystem::exists(x));
  for (const char* as_of : {"banana", "0", "999", "2026-13-45T00:00:00Z",
                            "1999-01-01T00:00:00Z", ""}) {
    EXPECT_EQ(Ctl({"restore", "--as-of", as_of, "--from", data_, "--to", x}),
              kExitUsage)
        << as_of;
    EXPECT_FALSE(std::filesystem::exists(x)) << as_of;
  }
  EXPECT_EQ(Ctl({"restore", "--as-of", "3", "--from", data_, "--to", data_}),
            kExitUsage);
  EXPECT_EQ(Ctl({"restore", "--as-of", "3", "--from", data_}), kExitUsage);
  EXPECT_EQ(Ctl({"keys", "rotate-kek", "--data-dir", data_, "--old-key-file",
                 old_key_, "--new-key-file", old_key_}),
            kExitUsage);
  EXPECT_EQ(Ctl({"keys", "rotate-kek", "--data-dir", data_, "--old-key-file",
                 new_key_, "--new-key-file", old_key_}),
            kExitUsage);
  EXPECT_EQ(Ctl({"keys", "rotate-kek", "--data-dir", data_, "--old-key-file",
                 old_key_, "--new-key-file", tmp_.Sub("missing.key")}),
            kExitUsage);
  EXPECT_EQ(Ctl({"keys", "rotate-kek", "--data-dir", data_}), kExitUsage);
  const std::vector<std::string> erase = {
      "erase-subject", "s1",      "--reason",   "req-1",
      "--basis",       "GDPR-17", "--data-dir", data_};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> v = erase;
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  EXPECT_EQ(Ctl(with({"--key-file", old_key_})), kExitUsage);  // no --yes
  EXPECT_EQ(Ctl(with({"--key-file", new_key_, "--yes"})), kExitUsage);
  EXPECT_EQ(Ctl({"erase-subject", "bad id!", "--reason", "r", "--basis", "b",
                 "--data-dir", data_, "--key-file", old_key_, "--yes"}),
            kExitUsage);
  EXPECT_EQ(Ctl({"erase-subject", "nobody", "--reason", "r", "--basis", "b",
                 "--data-dir", data_, "--key-file", old_key_, "--yes"}),
            kExitUsage);
  EXPECT_EQ(Ctl({"erase-subject", "s1", "--basis", "b", "--data-dir", data_,
                 "--key-file", old_key_, "--yes"}),
            kExitUsage);
  EXPECT_EQ(Ctl({"legal-hold", "set", "s1", "--data-dir", data_, "--key-file",
                 old_key_}),
            kExitUsage);
  EXPECT_EQ(Ctl({"legal-hold", "clear", "s1", "--reference", "C-1",
                 "--data-dir", data_, "--key-file", old_key_}),
            kExitUsage);  // no hold on
  ExpectUnchanged();
}

TEST_F(OpsCliTest, OperationsSucceedEndToEnd) {
  const std::string b = tmp_.Sub("backups");
  EXPECT_EQ(Ctl({"backup", "create", "--data-dir", data_, "--backup-dir", b}),
            kExitOk);
  EXPECT_EQ(Ctl({"backup", "list", "--backup-dir", b, "--json"}), kExitOk);
  EXPECT_EQ(Ctl({"backup", "verify", "--backup-dir", b}), kExitOk);
  EXPECT_EQ(Ctl({"backup", "restore", "--backup-dir", b, "--to",
                 tmp_.Sub("restored")}),
            kExitOk);
  EXPECT_EQ(storage::VerifyDataDir(LedgerDirOf(tmp_.Sub("restored")))
                .verified_head.position,
            6u);
  // Restoring again onto the same directory refuses.
  EXPECT_EQ(Ctl({"backup", "restore", "--backup-dir", b, "--to",
                 tmp_.Sub("restored")}),
            kExitUsage);
  EXPECT_EQ(Ctl({"restore", "--as-of", "4", "--from", data_, "--to",
                 tmp_.Sub("asof")}),
            kExitOk);
  EXPECT_EQ(storage::VerifyDataDir(LedgerDirOf(tmp_.Sub("asof")))
                .verified_head.position,
            4u);

  EXPECT_EQ(Ctl({"legal-hold", "set", "s1", "--reference", "CASE-1",
                 "--data-dir", data_, "--key-file", old_key_}),
            kExitOk);
  EXPECT_EQ(Ctl({"legal-hold", "show", "s1", "--data-dir", data_, "--key-file",
                 old_key_, "--json"}),
            kExitOk);
  const std::vector<std::string> erase = {
      "erase-subject", "s1",  "--reason",   "req-1",  "--basis", "GDPR-17",
      "--data-dir",    data_, "--key-file", old_key_, "--yes"};
  EXPECT_EQ(Ctl(erase), kExitFailed);  // the hold refuses it
  EXPECT_EQ(Ctl({"legal-hold", "clear", "s1", "--reference", "CASE-1",
                 "--data-dir", data_, "--key-file", old_key_}),
            kExitOk);
  EXPECT_EQ(Ctl(erase), kExitOk);
  EXPECT_EQ(Ctl({"keys", "rotate-kek", "--data-dir", data_, "--old-key-file",
                 old_key_, "--new-key-file", new_key_, "--json"}),
            kExitOk);

  auto l = storage::Ledger::Open(TestLedgerOptions(LedgerDirOf(data_), 1));
  ASSERT_THAT(l.status(), IsOk());
  ASSERT_THAT((*l)->Verify().status, IsOk());
  auto s0 = (*l)->ReadAt(1);
  auto s1 = (*l)->ReadAt(2);
  ASSERT_THAT(s0.status(), IsOk());
  ASSERT_THAT(s1.status(), IsOk());
  EXPECT_THAT((*l)->Decrypt(*s0).status(), IsOk());
  EXPECT_FALSE((*l)->Decrypt(*s1).ok());
  l->reset();
  EXPECT_FALSE(
      storage::Ledger::Open(TestLedgerOptions(LedgerDirOf(data_), 0)).ok());
}

TEST_F(OpsCliTest, VerifyHoldAndErasureReceiptPrintParsableCsv) {
  CtlResult r = RunCtl({"verify", "--data-dir", data_, "--csv", "--quiet"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  auto rows = ParseCsv(r.out);
  EXPECT_THAT(CsvColumn(rows, "check"),
              ElementsAre("chain", "merkle", "checkpoints"));
  EXPECT_THAT(CsvColumn(rows, "ok"), ElementsAre("true", "true", "true"));
  EXPECT_THAT(CsvColumn(rows, "checked"), ElementsAre("6", "6", "0"));
  EXPECT_EQ(CsvColumn(rows, "hash")[0], crypto::ToHex(head_.chain_hash));
  EXPECT_EQ(CsvColumn(rows, "problem")[2], "signatures not checked: no key");

  ASSERT_EQ(Ctl({"legal-hold", "set", "s1", "--reference", "CASE-1",
                 "--data-dir", data_, "--key-file", old_key_}),
            kExitOk);
  const std::vector<std::string> show = {"legal-hold", "show",       "s1",
                                         "--csv",      "--data-dir", data_,
                                         "--key-file", old_key_};
  r = RunCtl(show);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  rows = ParseCsv(r.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[0], ElementsAre("subject_id", "hold", "set_at", "position"));
  EXPECT_EQ(rows[1][0], "s1");
  EXPECT_EQ(rows[1][1], "true");
  EXPECT_THAT(rows[1][2], ::testing::StartsWith("20"));
  EXPECT_EQ(rows[1][3], "7");
  ASSERT_EQ(Ctl({"legal-hold", "clear", "s1", "--reference", "CASE-1",
                 "--data-dir", data_, "--key-file", old_key_}),
            kExitOk);
  r = RunCtl(show);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(ParseCsv(r.out)[1], ElementsAre("s1", "false", "", "0"));

  r = RunCtl({"erase-subject", "s1", "--reason", "req-1", "--basis", "GDPR-17",
              "--data-dir", data_, "--key-file", old_key_, "--yes", "--csv",
              "--quiet"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  rows = ParseCsv(r.out);
  ASSERT_EQ(rows.size(), 2u);
  const storage::Head after = Head();
  EXPECT_EQ(CsvColumn(rows, "subject_id")[0], "s1");
  EXPECT_EQ(CsvColumn(rows, "erasure_position")[0], "9");
  EXPECT_EQ(CsvColumn(rows, "already_erased")[0], "false");
  EXPECT_EQ(CsvColumn(rows, "head")[0], absl::StrCat(after.position));
  EXPECT_EQ(CsvColumn(rows, "chain_hash")[0], crypto::ToHex(after.chain_hash));
  EXPECT_EQ(CsvColumn(rows, "checkpoint_tree_size")[0], "");
}

TEST(CarelogctlHelpTest, EveryCommandAndGroupHasHelp) {
  const std::vector<std::vector<std::string>> commands = {
      {},
      {"keys"},
      {"keys", "generate"},
      {"keys", "rotate-kek"},
      {"dev"},
      {"dev", "token"},
      {"verify"},
      {"head"},
      {"policy"},
      {"policy", "test"},
      {"backup"},
      {"backup", "create"},
      {"backup", "list"},
      {"backup", "verify"},
      {"backup", "restore"},
      {"restore"},
      {"erase-subject"},
      {"legal-hold"},
      {"legal-hold", "set"},
      {"legal-hold", "clear"},
      {"legal-hold", "show"},
      {"projections"},
      {"projections", "status"},
      {"projections", "rebuild"},
      {"audit"},
  };
  for (std::vector<std::string> args : commands) {
    const std::string name = args.empty() ? "carelogctl" : args.back();
    args.push_back("--help");
    const CtlResult r = RunCtl(args);
    EXPECT_EQ(r.exit_code, kExitOk) << name;
    EXPECT_THAT(r.out, ::testing::HasSubstr("Usage")) << name;
    EXPECT_EQ(r.err, "") << name;
  }
}

}  // namespace
}  // namespace carelog::ctl
