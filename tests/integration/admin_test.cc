// Online operations through a running carelogd (AdminService, QueryService's
// projection RPCs) driven by carelogctl's own subcommands, under the shipped
// default policy: a backup taken while appends go on, then wipe → restore →
// verify gives the same head hash and checkpoint; erasure blocked by a legal
// hold and then done, with its receipt and audit trail; projections status and
// rebuild; every operator action audited; bad arguments exit 2 and change
// nothing.
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "crypto/hash.h"
#include "crypto/key_file.h"
#include "ops/carelogctl/admin_client.h"
#include "ops/carelogctl/client.h"
#include "ops/carelogctl/ops_commands.h"
#include "services/admin/admin_service.h"
#include "services/domain/event_codec.h"
#include "storage/backup.h"
#include "tests/integration/harness.h"
#include "tests/ops/ctl_driver.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"

namespace carelog::integration {
namespace {

using ::carelog::testing::CsvColumn;
using ::carelog::testing::CtlResult;
using ::carelog::testing::IsOk;
using ::carelog::testing::ParseCsv;
using ::carelog::testing::RunCtl;
using ::carelog::testing::StatusIs;
using ::testing::HasSubstr;

class AdminTest : public ServerTest {
 protected:
  void SetUp() override {
    UseDefaultPolicy();
    auto k = crypto::CreateKeyFile(dir_.Sub("checkpoint.key"));
    ASSERT_THAT(k, IsOk());
    config_.signing_key_file = dir_.Sub("checkpoint.key");
    config_.checkpoint_every_events = 0;
    config_.checkpoint_interval_seconds = 0;
    StartServer();
    admin_ = Token();  // ledger-admin
  }

  std::string Address() const {
    return absl::StrCat("127.0.0.1:", server_->port());
  }

  // Online flags for `token`; admin actions need HSYSADMIN and a reason.
  std::vector<std::string> Online(const std::string& token) const {
    return {"--server", Address(), "--token", token, "--quiet"};
  }

  CtlResult Ctl(std::vector<std::string> args, const std::string& token) {
    for (auto& a : Online(token))
      args.push_back(a);
    return RunCtl(std::move(args));
  }

  uint64_t Head() { return server_->ledger()->GetHead().position; }

  void AppendFor(const std::string& subject, int n) {
    for (int i = 0; i < n; ++i) {
      auto r = server_->ledger()->Append(
          Event(absl::StrCat("cmd-", subject, "-", next_++),
                absl::StrCat("patient/", subject), "carelog.test.Noted",
                absl::StrCat(kPayloadMarker, " ", i), subject));
      ASSERT_THAT(r, IsOk());
    }
  }

  // The operator-action records on `stream`, in order.
  std::vector<carelog::v1::AccessAudited> AuditOn(const std::string& stream) {
    std::vector<carelog::v1::AccessAudited> out;
    auto page = server_->ledger()->ReadStream(stream, 0, 1000);
    if (!page.ok())
      return out;
    for (const auto& ev : page->events) {
      auto d = services::DecodeEvent(*server_->ledger(), ev);
      carelog::v1::AccessAudited a;
      if (d.ok() && d->As(&a))
        out.push_back(a);
    }
    return out;
  }

  std::string admin_;
  int next_ = 0;
};

TEST_F(AdminTest, OnlineBackupWhileAppendingThenWipeRestoreVerify) {
  AppendFor("p-0001", 20);
  auto cp = server_->ledger()->MakeCheckpoint();
  ASSERT_THAT(cp, IsOk());
  const std::string backups = dir_.Sub("backups");

  // Appends go on from another thread for the whole backup.
  std::atomic<bool> stop{false};
  std::atomic<int> appended{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      auto r = server_->ledger()->Append(
          Event(absl::StrCat("during-", i), "patient/p-0002",
                "carelog.test.Noted", "synthetic", "p-0002"));
      if (!r.ok())
        break;
      appended.fetch_add(1);
    }
  });
  const CtlResult created = Ctl({"backup", "create", "--backup-dir", backups,
                                 "--reason", "restore drill", "--json"},
                                admin_);
  stop.store(true);
  writer.join();
  ASSERT_EQ(created.exit_code, 0) << created.out;
  EXPECT_THAT(created.out, HasSubstr("\"id\":1"));
  EXPECT_GT(appended.load(), 0);

  // Listed online and offline alike.
  const CtlResult listed =
      Ctl({"backup", "list", "--backup-dir", backups, "--csv"}, admin_);
  ASSERT_EQ(listed.exit_code, 0);
  EXPECT_THAT(listed.out, HasSubstr("id,created,size_bytes,files,head"));
  auto list = storage::ListBackups(backups);
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 1u);
  const storage::Head backed_up = (*list)[0].head;
  ASSERT_GE(backed_up.position, cp->tree_size);
  auto root = server_->ledger()->MerkleRoot(backed_up.position);
  ASSERT_THAT(root, IsOk());
  const CtlResult verified =
      Ctl({"backup", "verify", "--backup-dir", backups}, admin_);
  EXPECT_EQ(verified.exit_code, 0) << verified.out;

  // The operator action is on the audit trail.
  const auto records = AuditOn("audit/system");
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front().method(), "/carelog.v1.AdminService/CreateBackup");
  EXPECT_EQ(records.front().outcome(), carelog::v1::ACCESS_OUTCOME_ALLOWED);
  EXPECT_EQ(records.front().actor(), "op-0001");

  // Disaster: wipe the data directory, restore the backup, start again.
  server_->Shutdown();
  server_.reset();
  std::filesystem::remove_all(config_.data_dir);
  const CtlResult restored =
      RunCtl({"backup", "restore", "--backup-dir", backups, "--to",
              config_.data_dir, "--quiet"});
  ASSERT_EQ(restored.exit_code, 0) << restored.out;
  StartServer();
  const storage::Head head = server_->ledger()->GetHead();
  EXPECT_EQ(head.position, backed_up.position);
  EXPECT_EQ(head.chain_hash, backed_up.chain_hash);
  auto cp_after = server_->ledger()->CheckpointAt(cp->tree_size);
  ASSERT_THAT(cp_after, IsOk());
  EXPECT_EQ(cp_after->note, cp->note);
  auto root_after = server_->ledger()->MerkleRoot(head.position);
  ASSERT_THAT(root_after, IsOk());
  EXPECT_EQ(*root_after, *root);
  // The restored server checks itself: chain, tree and signed checkpoints.
  const CtlResult self_check = Ctl({"verify"}, Token());
  EXPECT_EQ(self_check.exit_code, 0) << self_check.out << self_check.err;
  EXPECT_THAT(self_check.out, HasSubstr("checkpoints"));
}

TEST_F(AdminTest, LegalHoldBlocksOnlineErasureUntilCleared) {
  AppendFor("p-0007", 3);
  auto first = server_->ledger()->ReadAt(1);
  ASSERT_THAT(first, IsOk());

  CtlResult r =
      Ctl({"legal-hold", "set", "p-0007", "--reference", "CASE-17"}, admin_);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = Ctl({"legal-hold", "show", "p-0007", "--json"}, admin_);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("\"hold\":true"));

  const std::vector<std::string> erase = {
      "erase-subject", "p-0007",  "--reason", "REQ-9",
      "--basis",       "GDPR-17", "--yes"};
  r = Ctl(erase, admin_);
  EXPECT_EQ(r.exit_code, 1) << r.out;  // FAILED_PRECONDITION: the hold
  EXPECT_THAT(server_->ledger()->Decrypt(*first), IsOk());

  r = Ctl({"legal-hold", "clear", "p-0007", "--reference", "CASE-17"}, admin_);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = Ctl(erase, admin_);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("ERASURE RECEIPT"));
  EXPECT_THAT(r.out, HasSubstr("covers the erasure event"));
  EXPECT_THAT(server_->ledger()->Decrypt(*first),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(server_->ledger()->Verify().status, IsOk());

  // Every action is on the subject's audit trail, which stays readable.
  std::vector<std::string> methods;
  for (const auto& a : AuditOn("audit/p-0007")) {
    EXPECT_EQ(a.patient_id(), "p-0007");
    methods.push_back(a.method());
  }
  EXPECT_THAT(methods,
              ::testing::ElementsAre("/carelog.v1.AdminService/SetLegalHold",
                                     "/carelog.v1.AdminService/GetLegalHold",
                                     "/carelog.v1.AdminService/EraseSubject",
                                     "/carelog.v1.AdminService/ClearLegalHold",
                                     "/carelog.v1.AdminService/EraseSubject"));
}

TEST_F(AdminTest, ProjectionsStatusAndRebuildThroughTheCli) {
  AppendFor("p-0003", 5);
  CtlResult r = Ctl({"projections", "status"}, admin_);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("NAME"));
  EXPECT_THAT(r.out, HasSubstr("patients"));
  r = Ctl({"projections", "status", "--csv"}, admin_);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("name,state,position,head,lag"));
  r = Ctl({"projections", "rebuild", "patients", "--reason", "drill", "--json"},
          admin_);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"name\":\"patients\""));
  EXPECT_THAT(r.out, HasSubstr("\"rebuilding\":false"));
}

TEST_F(AdminTest, VerifyAndLegalHoldPrintParsableCsvOnline) {
  AppendFor("p-0005", 4);
  CtlResult r = Ctl({"verify", "--csv"}, admin_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = ParseCsv(r.out);
  EXPECT_THAT(CsvColumn(rows, "check"),
              ::testing::ElementsAre("chain", "merkle", "checkpoints"));
  EXPECT_THAT(CsvColumn(rows, "ok"),
              ::testing::ElementsAre("true", "true", "true"));
  // (The check is itself audited: the head moved past the 4 events.)
  EXPECT_EQ(CsvColumn(rows, "position")[0], absl::StrCat(Head()));
  EXPECT_EQ(CsvColumn(rows, "hash")[0],
            crypto::ToHex(server_->ledger()->GetHead().chain_hash));

  r = Ctl({"legal-hold", "show", "p-0005", "--csv"}, admin_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(
      ParseCsv(r.out),
      ::testing::ElementsAre(
          ::testing::ElementsAre("subject_id", "hold", "set_at", "position"),
          ::testing::ElementsAre("p-0005", "false", "", "0")));
}

TEST_F(AdminTest, RefusalsAndBadArgumentsChangeNothing) {
  AppendFor("p-0009", 2);
  const uint64_t head = Head();
  const std::string inside = absl::StrCat(config_.data_dir, "/bk");
  const std::vector<std::vector<std::string>> bad = {
      {"erase-subject", "p-0009", "--reason", "R", "--yes"},  // no --basis
      {"erase-subject", "bad id!", "--reason", "R", "--basis", "B", "--yes"},
      {"erase-subject", "p-0009", "--reason", "R", "--basis", "B"},  // --yes
      {"legal-hold", "set", "p-0009"},  // no --reference
      {"backup", "create", "--backup-dir", inside, "--reason", "x"},
      {"backup", "create", "--reason", "x"},  // no --backup-dir
      {"projections", "rebuild"},             // no NAME
      {"projections", "rebuild", "no-such-view", "--reason", "x"},
  };
  for (const auto& args : bad) {
    const CtlResult r = Ctl(args, admin_);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1];
  }
  // Both modes at once, or neither: a usage error before anything is opened.
  EXPECT_EQ(RunCtl({"backup", "create", "--data-dir", config_.data_dir,
                    "--server", Address(), "--backup-dir", dir_.Sub("b")})
                .exit_code,
            2);
  EXPECT_EQ(RunCtl({"legal-hold", "show", "p-0009"}).exit_code, 2);
  EXPECT_EQ(Head(), head);
  EXPECT_FALSE(std::filesystem::exists(inside));

  // A caller without the role: refused (exit 1), the denial audited.
  const std::string clerk = TokenWithRoles({"front-desk"});
  const CtlResult denied =
      Ctl({"erase-subject", "p-0009", "--reason", "R", "--basis", "B", "--yes"},
          clerk);
  EXPECT_EQ(denied.exit_code, 1);
  auto ev = server_->ledger()->ReadAt(1);
  ASSERT_THAT(ev, IsOk());
  EXPECT_THAT(server_->ledger()->Decrypt(*ev), IsOk());
  const auto records = AuditOn("audit/p-0009");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].outcome(), carelog::v1::ACCESS_OUTCOME_DENIED);
  EXPECT_EQ(records[0].method(), "/carelog.v1.AdminService/EraseSubject");
  EXPECT_EQ(Head(), head + 1);
}

// A long operation reports its progress through GetOperation, which the
// client's progress lines follow; a call whose client goes away while it is
// queued behind it is never started.
TEST_F(AdminTest, ProgressIsReportedAndAbandonedQueuedCallsDoNothing) {
  AppendFor("p-0011", 2);
  absl::Notification entered, release;
  server_->admin_service_for_test()->SetBeforeWorkHookForTest(
      [&](const std::string& method, const storage::ProgressFn& progress) {
        if (method != "VerifyLedger")
          return;
        progress(storage::Progress{"verifying chain", "events", 1, 4});
        entered.Notify();
        release.WaitForNotification();
      });
  ctl::ClientFlags ops;
  ops.server = Address();
  ops.token = admin_;
  ops.purpose = "HSYSADMIN";
  ops.reason = "progress test";
  ops.timeout_seconds = 60;

  absl::Mutex mu;
  std::vector<std::string> seen;  // client-side progress lines, by phase
  absl::Notification client_saw_progress;
  absl::StatusOr<carelog::v1::VerifyLedgerReply> verified;
  std::thread verifier([&] {
    verified = ctl::OnlineVerifyLedger(ops, [&](const storage::Progress& p) {
      absl::MutexLock l(&mu);
      seen.push_back(absl::StrCat(p.phase, " ", p.done, "/", p.total));
      if (!client_saw_progress.HasBeenNotified())
        client_saw_progress.Notify();
    });
  });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(
      client_saw_progress.WaitForNotificationWithTimeout(absl::Seconds(30)));
  auto op = ctl::OnlineGetOperation(ops);
  ASSERT_THAT(op, IsOk());
  EXPECT_TRUE(op->running());
  EXPECT_EQ(op->method(), "VerifyLedger");
  EXPECT_THAT(op->request_id(), ::testing::StartsWith("ctl-"));
  EXPECT_EQ(op->phase(), "verifying chain");
  EXPECT_EQ(op->done(), 1u);
  EXPECT_EQ(op->total(), 4u);

  // A hold whose caller gives up while it waits behind the verification.
  ctl::ClientFlags impatient = ops;
  impatient.timeout_seconds = 1;
  auto hold = ctl::OnlineLegalHold(impatient, 0, "p-0011", "CASE-9");
  EXPECT_THAT(hold, StatusIs(absl::StatusCode::kDeadlineExceeded));
  op = ctl::OnlineGetOperation(ops);
  ASSERT_THAT(op, IsOk());
  EXPECT_EQ(op->queued(), 1u);

  release.Notify();
  verifier.join();
  ASSERT_THAT(verified, IsOk());
  EXPECT_TRUE(verified->chain().ok());
  {
    absl::MutexLock l(&mu);
    EXPECT_THAT(seen, ::testing::Contains("verifying chain 1/4"));
  }
  // The abandoned hold was skipped, not set.
  auto shown = ctl::OnlineLegalHold(ops, 2, "p-0011", "");
  ASSERT_THAT(shown, IsOk());
  EXPECT_FALSE(shown->hold.has_value());
  op = ctl::OnlineGetOperation(ops);
  ASSERT_THAT(op, IsOk());
  EXPECT_FALSE(op->running());
  EXPECT_EQ(op->queued(), 0u);
}

}  // namespace
}  // namespace carelog::integration
