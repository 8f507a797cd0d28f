// carelogctl operations subcommands, driven in process exactly as main()
// wires them: every bad argument exits 2 with nothing changed; the happy
// paths (backup create/list/verify/restore, restore --as-of, legal-hold,
// erase-subject, keys rotate-kek) exit 0 and leave a working ledger.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "CLI/CLI.hpp"
#include "crypto/hash.h"
#include "crypto/key_file.h"
#include "ops/carelogctl/ops_commands.h"
#include "storage/ledger.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::ctl {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::OneEvent;
using ::carelog::testing::TempDir;
using ::carelog::testing::TestKek;
using ::carelog::testing::TestLedgerOptions;

// The command line as main() parses it (parse errors exit 2, --help 0).
int Ctl(std::vector<std::string> args) {
  CLI::App app{"carelogctl"};
  app.require_subcommand(1);
  bool json = false;
  app.add_flag("--json", json, "json");
  auto* keys = app.add_subcommand("keys", "keys");
  keys->require_subcommand(1);
  CommandTable table;
  RegisterBackupCommands(app, &table, &json);
  RegisterRestoreCommands(app, &table, &json);
  RegisterKeysCommands(*keys, &table, &json);
  RegisterEraseCommands(app, &table, &json);
  args.insert(args.begin(), "carelogctl");
  args.push_back("--quiet");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  int rc = -1;
  if (!table.RunParsed(&rc))
    return -1;
  return rc;
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

}  // namespace
}  // namespace carelog::ctl
