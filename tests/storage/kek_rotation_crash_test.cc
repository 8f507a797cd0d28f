// KEK rotation killed with SIGKILL at every stage: a child process rotates a
// ledger's keys (storage::RotateKek) and is killed while paused at each
// progress point (before the batch, after it, after the purge) and at racy
// moments while running free. After each kill, exactly one of the old and the
// new KEK opens the ledger and decrypts every event — never a mix that loses
// keys — and running the rotation again (what the runbook tells the operator
// to do) either rotates or says that it already happened and to start with
// the new KEK: then the new KEK opens everything, the old one nothing.
//
// The child is this test binary re-executed (fork + exec of /proc/self/exe
// with a gtest filter selecting KekRotationChild): a forked child of a parent
// that already opened RocksDB inherits an Env whose background threads do not
// exist, and rotation's purge needs them (flush, compaction).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "storage/ledger.h"
#include "storage/maintenance.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::storage {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::OneEvent;
using ::carelog::testing::StatusIs;
using ::carelog::testing::TempDir;
using ::carelog::testing::TestKek;
using ::carelog::testing::TestLedgerOptions;
using ::testing::HasSubstr;

constexpr char kChildEnv[] = "CARELOG_KEK_ROTATION_CHILD";
constexpr int kEvents = 40;
constexpr absl::Duration kTrialDeadline = absl::Seconds(60);

std::string PayloadOf(int i) {
  return absl::StrCat("synthetic rotation payload ", i);
}

// ---- the child ------------------------------------------------------------

bool WriteByte(int fd, char c) {
  for (;;) {
    const ssize_t w = ::write(fd, &c, 1);
    if (w == 1)
      return true;
    if (w < 0 && errno == EINTR)
      continue;
    return false;
  }
}

// Runs only when re-executed by the crash test (kChildEnv set): rotates the
// ledger from KEK 0 to KEK 1, writing 'S' before it starts, 'P' at each
// progress point and, at progress point `pause_at`, 'W' — then waits to be
// killed. Never returns into GoogleTest.
TEST(KekRotationChild, RotatesWhenRunByTheCrashTest) {
  const char* spec = std::getenv(kChildEnv);
  if (spec == nullptr)
    GTEST_SKIP() << "runs only as the crash test's child";
  std::vector<std::string> parts = absl::StrSplit(spec, '\t');
  int pause_at = -1, out_fd = -1, in_fd = -1;
  if (parts.size() != 4 || !absl::SimpleAtoi(parts[1], &pause_at) ||
      !absl::SimpleAtoi(parts[2], &out_fd) ||
      !absl::SimpleAtoi(parts[3], &in_fd))
    ::_exit(20);
  int point = 0;
  ProgressFn progress = [&](const Progress&) {
    WriteByte(out_fd, 'P');
    if (point++ == pause_at) {
      WriteByte(out_fd, 'W');
      char c;
      while (::read(in_fd, &c, 1) != 0) {
      }  // the parent never writes: we wait here for SIGKILL
    }
  };
  WriteByte(out_fd, 'S');
  auto r = RotateKek(parts[0], *TestKek(0), *TestKek(1), progress);
  WriteByte(out_fd, r.ok() ? 'D' : 'E');
  ::_exit(r.ok() ? 0 : 21);
}

// ---- the parent -----------------------------------------------------------

class KekRotationCrashTest : public ::testing::Test {
 protected:
  // A ledger under KEK 0 with events of several subjects, system and audit
  // events.
  std::string MakeLedger(int trial) {
    const std::string dir = tmp_.Sub(absl::StrCat("ledger-", trial));
    auto l = Ledger::Open(TestLedgerOptions(dir, 0));
    EXPECT_THAT(l, IsOk());
    if (!l.ok())
      return dir;
    for (int i = 0; i < kEvents; ++i) {
      const std::string subject =
          i % 5 == 4 ? std::string() : absl::StrCat("subj-", i % 7);
      EXPECT_THAT((*l)->Append(OneEvent(
                      absl::StrCat("c-", i), absl::StrCat("patient/p", i % 7),
                      PayloadOf(i), ExpectedVersion::Any(), subject)),
                  IsOk());
    }
    return dir;
  }

  // Re-executes this binary as the rotating child; returns its pid and the
  // read end of its progress pipe (the write end of `hold` stays open here so
  // that a paused child blocks).
  pid_t SpawnChild(const std::string& dir, int pause_at, int* progress_fd) {
    int out[2], hold[2];
    if (::pipe(out) != 0 || ::pipe(hold) != 0) {
      ADD_FAILURE() << "pipe: " << errno;
      return -1;
    }
    const std::string spec =
        absl::StrCat(dir, "\t", pause_at, "\t", out[1], "\t", hold[0]);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(out[0]);
      ::close(hold[1]);
      ::setenv(kChildEnv, spec.c_str(), 1);
      // The child's own GoogleTest banner would only clutter the log.
      const int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0)
        ::dup2(devnull, STDOUT_FILENO);
      char exe[4096];
      const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
      if (n <= 0)
        ::_exit(22);
      exe[n] = '\0';
      ::execl(exe, exe, "--gtest_filter=KekRotationChild.*", nullptr);
      ::_exit(23);
    }
    ::close(out[1]);
    ::close(hold[0]);
    holds_.push_back(hold[1]);
    *progress_fd = out[0];
    return pid;
  }

  // Reads one byte within the trial deadline; '\0' on EOF or timeout.
  char ReadByte(int fd, absl::Time deadline) {
    for (;;) {
      const int ms =
          static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (ms <= 0)
        return '\0';
      pollfd p{fd, POLLIN, 0};
      const int rc = ::poll(&p, 1, ms);
      if (rc < 0 && errno == EINTR)
        continue;
      if (rc <= 0)
        return '\0';
      char c;
      const ssize_t r = ::read(fd, &c, 1);
      if (r < 0 && errno == EINTR)
        continue;
      return r == 1 ? c : '\0';
    }
  }

  void KillAndReap(pid_t pid) {
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }

  // Which KEK opens `dir` (0 or 1; -1 if neither or both). Whichever opens
  // must decrypt every event; the other must refuse with the operator's hint.
  int WhichKekOpens(const std::string& dir) {
    int opened = -1, count = 0;
    for (int kek = 0; kek <= 1; ++kek) {
      auto l = Ledger::Open(TestLedgerOptions(dir, kek));
      if (!l.ok()) {
        EXPECT_THAT(l.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         HasSubstr("does not unwrap")))
            << "KEK " << kek;
        continue;
      }
      ++count;
      opened = kek;
      EXPECT_EQ((*l)->GetHead().position, static_cast<uint64_t>(kEvents));
      for (int i = 0; i < kEvents; ++i) {
        auto ev = (*l)->ReadAt(static_cast<uint64_t>(i) + 1);
        EXPECT_THAT(ev, IsOk());
        if (!ev.ok())
          break;
        auto plain = (*l)->Decrypt(*ev);
        EXPECT_THAT(plain, IsOk()) << "position " << i + 1 << " KEK " << kek;
        if (plain.ok()) {
          EXPECT_EQ(*plain, PayloadOf(i));
        }
      }
    }
    EXPECT_EQ(count, 1) << "exactly one KEK must open the ledger";
    return count == 1 ? opened : -1;
  }

  // Kills a rotation of a fresh ledger: paused at progress point `pause_at`,
  // or (pause_at < 0) running free, right after `bytes` progress bytes.
  // Returns the KEK that opens the ledger afterwards, after checking that
  // running the rotation again completes it.
  int Trial(int trial, int pause_at, int bytes) {
    const std::string dir = MakeLedger(trial);
    int fd = -1;
    const pid_t pid = SpawnChild(dir, pause_at, &fd);
    if (pid < 0)
      return -1;
    const absl::Time deadline = absl::Now() + kTrialDeadline;
    bool finished = false;
    int seen = 0;
    for (;;) {
      const char c = ReadByte(fd, deadline);
      if (c == '\0') {
        ADD_FAILURE() << "trial " << trial << ": child went silent";
        break;
      }
      if (c == 'D' || c == 'E') {
        EXPECT_EQ(c, 'D') << "trial " << trial << ": rotation failed";
        finished = true;
        break;
      }
      if (c == 'W' || (pause_at < 0 && ++seen >= bytes))
        break;
    }
    KillAndReap(pid);
    ::close(fd);
    const int kek = WhichKekOpens(dir);
    if (pause_at >= 0) {
      EXPECT_FALSE(finished) << "trial " << trial << ": never paused";
    }
    // What the operator is told to do after an interrupted rotation: run it
    // again with the same key files.
    auto again = RotateKek(dir, *TestKek(0), *TestKek(1));
    if (kek == 0) {
      EXPECT_THAT(again, IsOk()) << "trial " << trial;
    } else {
      EXPECT_THAT(again.status(),
                  StatusIs(absl::StatusCode::kInvalidArgument,
                           HasSubstr("start carelogd with the new KEK")))
          << "trial " << trial;
    }
    EXPECT_EQ(WhichKekOpens(dir), 1) << "trial " << trial;
    return kek;
  }

  void TearDown() override {
    for (int fd : holds_)
      ::close(fd);
  }

  TempDir tmp_;
  std::vector<int> holds_;
};

TEST_F(KekRotationCrashTest, KillAtEachStageLeavesOneKekThatOpensEverything) {
  // Progress points: 0 keys scanned (before the batch), 1 purge starting
  // (the batch is durable), 2 purge done.
  EXPECT_EQ(Trial(0, 0, 0), 0);
  EXPECT_EQ(Trial(1, 1, 0), 1);
  EXPECT_EQ(Trial(2, 2, 0), 1);
}

TEST_F(KekRotationCrashTest, KillAtRacyMomentsNeverMixesKeys) {
  // Killed right after the n-th byte while the child runs on: the kill lands
  // somewhere in opening, scanning, writing or purging.
  int trial = 10;
  for (int bytes = 1; bytes <= 4; ++bytes)
    EXPECT_NE(Trial(trial++, -1, bytes), -1);
}

}  // namespace
}  // namespace carelog::storage
