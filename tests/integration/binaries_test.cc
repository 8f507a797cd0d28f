// The carelogd and carelogctl executables: usage, exit codes, and one full
// run — keys generate, carelogd --dev on 127.0.0.1:0 (the bound port is read
// from its server_started log line), dev token, head, verify, SIGTERM.
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/integration/carelogd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/testing/temp_dir.h"

#ifndef CARELOGD_PATH
#error "CARELOGD_PATH must name the carelogd executable"
#endif
#ifndef CARELOGCTL_PATH
#error "CARELOGCTL_PATH must name the carelogctl executable"
#endif

namespace carelog::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCarelogd[] = CARELOGD_PATH;
constexpr char kCarelogctl[] = CARELOGCTL_PATH;

TEST(CarelogdBinaryTest, HelpExitsZeroAndDescribesListen) {
  const ProcessResult r = RunProcess({kCarelogd, "--help"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("--listen"));
  EXPECT_THAT(r.out, HasSubstr("--dev"));
}

TEST(CarelogdBinaryTest, PlaintextOnNonLoopbackExitsTwoNamingListen) {
  testing::TempDir dir;
  // Refused by validation before anything is created or bound.
  const ProcessResult r = RunProcess({kCarelogd, "--listen", "0.0.0.0:1",
                                      "--dev", "--data-dir", dir.Sub("data")});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("listen"));
  EXPECT_TRUE(testing::ListFilesRecursive(dir.path()).empty());
}

TEST(CarelogdBinaryTest, UnknownFlagExitsTwo) {
  const ProcessResult r = RunProcess({kCarelogd, "--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
}

TEST(CarelogdBinaryTest, BadConfigFileExitsTwoNamingTheKey) {
  testing::TempDir dir;
  {
    std::ofstream(dir.Sub("carelogd.yaml"))
        << "listen: 127.0.0.1:0\nlimits:\n  read_threds: 2\n";
  }
  const ProcessResult r =
      RunProcess({kCarelogd, "--config", dir.Sub("carelogd.yaml")});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("limits.read_threds"));
  EXPECT_THAT(r.err, HasSubstr("line 3"));
}

TEST(CarelogdBinaryTest, MissingKeyExitsOne) {
  testing::TempDir dir;
  const ProcessResult r =
      RunProcess({kCarelogd, "--dev", "--listen", "127.0.0.1:0", "--data-dir",
                  dir.Sub("data"), "--metrics-listen", "", "--kek-env",
                  "CARELOG_TEST_KEK_NEVER_SET"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("key_file"));
}

TEST(CarelogctlBinaryTest, BadArgumentsExitTwo) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {kCarelogctl},
           {kCarelogctl, "no-such-command"},
           {kCarelogctl, "head", "--no-such-flag"},
           {kCarelogctl, "keys", "generate"},  // --out is required
           {kCarelogctl, "dev", "token"},      // --sub is required
       }) {
    const ProcessResult r = RunProcess(args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << "\n" << Describe(r);
  }
}

TEST(CarelogctlBinaryTest, HelpExitsZero) {
  const ProcessResult r = RunProcess({kCarelogctl, "--help"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("verify"));
}

TEST(CarelogctlBinaryTest, HeadWithoutTokenExitsTwo) {
  // Refused before any connection is attempted (the address is never dialled).
  const ProcessResult r =
      RunProcess({kCarelogctl, "head", "--server", "127.0.0.1:9"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("--token"));
}

TEST(BinariesEndToEndTest, DevServerAnswersHeadAndShutsDownCleanlyOnSigterm) {
  testing::TempDir dir;
  const std::string key = dir.Sub("kek.key");
  const std::string data = dir.Sub("data");

  ProcessResult r = RunProcess({kCarelogctl, "keys", "generate", "--out", key});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);

  auto server = ChildProcess::Spawn(
      {kCarelogd, "--dev", "--listen", "127.0.0.1:0", "--data-dir", data,
       "--key-file", key, "--metrics-listen", "", "--drain-seconds", "5"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto started = (*server)->WaitForStderrLine("\"server_started\"",
                                              absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(started.ok()) << started.status();
  const int port = IntField(*started, "port");
  ASSERT_GT(port, 0) << *started;
  const std::string address = absl::StrCat("127.0.0.1:", port);

  r = RunProcess({kCarelogctl, "dev", "token", "--data-dir", data, "--sub",
                  "op-0001", "--roles", "ledger-admin", "--ttl-minutes", "5"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string token(absl::StripAsciiWhitespace(r.out));
  ASSERT_EQ(std::count(token.begin(), token.end(), '.'), 2) << token;

  r = RunProcess({kCarelogctl, "head", "--server", address, "--token", token,
                  "--timeout", "15"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("position   0"));

  r = RunProcess({kCarelogctl, "--json", "head", "--server", address, "--token",
                  token, "--timeout", "15"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("{\"position\":0,\"chain_hash\":\"0000"));

  // A role without a rule: the server refuses, carelogctl reports failure (1).
  r = RunProcess({kCarelogctl, "dev", "token", "--data-dir", data, "--sub",
                  "clerk-1", "--roles", "front-desk"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string clerk(absl::StripAsciiWhitespace(r.out));
  r = RunProcess({kCarelogctl, "head", "--server", address, "--token", clerk,
                  "--timeout", "15"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  // carelogd enforces the shipped default policy (not the embedders' builtin
  // one): the refusal still names its deny-by-default rule.
  EXPECT_THAT(r.err, HasSubstr("not permitted"));
  EXPECT_THAT(r.err, HasSubstr("default-deny"));

  (*server)->Signal(SIGTERM);
  const ProcessResult done = (*server)->Wait(absl::Now() + absl::Seconds(30));
  EXPECT_EQ(done.exit_code, 0) << Describe(done);
  EXPECT_FALSE(done.timed_out);
  EXPECT_THAT(done.err, HasSubstr("\"signal_received\""));
  EXPECT_THAT(done.err, HasSubstr("\"shutdown_complete\""));
  // The access log names methods and codes, never the token.
  EXPECT_THAT(done.err, HasSubstr("/carelog.v1.LedgerService/GetHead"));
  EXPECT_THAT(done.err, Not(HasSubstr(token)));

  r = RunProcess({kCarelogctl, "verify", "--data-dir", data});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("OK:"));
}

}  // namespace
}  // namespace carelog::integration
