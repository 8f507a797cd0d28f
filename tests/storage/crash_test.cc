// Crash tests: a child process appends from several threads and reports every
// acknowledged command through a pipe; the parent SIGKILLs it at a random
// moment, reopens the same data directory and checks that every acknowledged
// command survived exactly where it was reported, that the chain verifies and
// that positions and stream versions have no gaps. Trials accumulate history
// in one directory, so each recovery starts from the previous ones.
//
// fork() notes: the child opens the ledger only after the fork and leaves with
// _exit(), never returning into GoogleTest; the parent holds no ledger open
// while forking. RocksDB's default Env keeps idle background threads in the
// parent once it has opened a database; a forked child inherits their pool
// objects but not the threads, so background flushes and compactions never run
// in the child. The children here write far less than a memtable, so nothing
// waits on that work.
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "storage/ledger.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::storage {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::TempDir;
using ::carelog::testing::TestLedgerOptions;

constexpr int kTrials = 24;
constexpr int kWriters = 4;
constexpr int kMaxAcksToWaitFor = 300;
constexpr uint64_t kTrialStride = 1000000;
constexpr uint64_t kWriterStride = 100000;
constexpr absl::Duration kTrialDeadline = absl::Seconds(60);

// What the child writes to the pipe after each acknowledged append. Smaller
// than PIPE_BUF, so concurrent writers never interleave within a record.
struct AckRecord {
  uint64_t command_number;
  uint64_t first_position;
  uint64_t last_position;
};
static_assert(sizeof(AckRecord) <= PIPE_BUF, "pipe writes must be atomic");

std::string CommandId(uint64_t n) {
  return absl::StrCat("crash-", n);
}

int WriterOf(uint64_t n) {
  return static_cast<int>((n % kTrialStride) / kWriterStride);
}

std::string PayloadOf(uint64_t n, int k) {
  return absl::StrCat("synthetic crash payload ", n, "/", k);
}

// The command numbered `n`: 1-3 events on the writer's own stream and, for
// even n, one more on a shared stream — so some commands span two streams and
// recovery must keep them whole.
AppendRequest CrashCommand(uint64_t n) {
  AppendRequest r;
  r.command_id = CommandId(n);
  const int writer = WriterOf(n);
  StreamAppend own;
  own.stream_id = absl::StrCat("crash/w", writer);
  for (int k = 0; k < static_cast<int>(n % 3) + 1; ++k) {
    NewEvent ev;
    ev.event_type = "carelog.test.Noted";
    ev.payload = PayloadOf(n, k);
    if (k == 0) {
      ev.key_class = KeyClass::kSubject;
      ev.subject_id = absl::StrCat("subj-w", writer);
    } else {
      ev.key_class = KeyClass::kSystem;
    }
    own.events.push_back(std::move(ev));
  }
  r.streams.push_back(std::move(own));
  if (n % 2 == 0) {
    StreamAppend shared;
    shared.stream_id = absl::StrCat("crash/shared", n % 3);
    shared.events.push_back(
        NewEvent{"carelog.test.Noted", PayloadOf(n, 9), KeyClass::kAudit, ""});
    r.streams.push_back(std::move(shared));
  }
  return r;
}

uint64_t EventsOf(uint64_t n) {
  return (n % 3) + 1 + (n % 2 == 0 ? 1 : 0);
}

bool WriteAll(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    const ssize_t w = ::write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    len -= static_cast<size_t>(w);
  }
  return true;
}

// The child: never returns. Exit codes tell the parent what went wrong.
[[noreturn]] void RunChild(const std::string& dir, int trial, int ack_fd) {
  auto opened = Ledger::Open(TestLedgerOptions(dir));
  if (!opened.ok())
    ::_exit(10);
  Ledger* ledger = opened->get();
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([ledger, trial, w, ack_fd] {
      const uint64_t base = static_cast<uint64_t>(trial) * kTrialStride +
                            static_cast<uint64_t>(w) * kWriterStride;
      for (uint64_t i = 0; i < kWriterStride; ++i) {
        const uint64_t n = base + i;
        auto r = ledger->Append(CrashCommand(n));
        if (!r.ok())
          ::_exit(11);
        const AckRecord rec{n, r->first_position, r->last_position};
        if (!WriteAll(ack_fd, &rec, sizeof(rec)))
          ::_exit(12);
      }
    });
  }
  for (auto& t : writers)
    t.join();
  ::_exit(0);  // ran out of command numbers before being killed
}

// Reads whole records from `fd` into `acks` until `want` have arrived, EOF, or
// `deadline`. Returns false on EOF/error/timeout before `want` (want = 0:
// read to EOF).
bool ReadAcks(int fd, size_t want, absl::Time deadline,
              std::vector<AckRecord>* acks, std::string* pending) {
  char buf[4096];
  while (want == 0 || acks->size() < want) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration())
      return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1,
                             static_cast<int>(absl::ToInt64Milliseconds(
                                 left + absl::Milliseconds(1))));
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      return false;
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return want == 0 && n == 0;
    pending->append(buf, static_cast<size_t>(n));
    while (pending->size() >= sizeof(AckRecord)) {
      AckRecord rec;
      std::memcpy(&rec, pending->data(), sizeof(rec));
      pending->erase(0, sizeof(rec));
      acks->push_back(rec);
    }
  }
  return true;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status))
    return absl::StrCat("exited with ", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

// Checks the recovered ledger against everything the child acknowledged.
void CheckRecovered(Ledger& ledger, const std::vector<AckRecord>& acks) {
  VerifyReport report = ledger.Verify();
  ASSERT_THAT(report.status, IsOk());
  const Head head = ledger.GetHead();
  EXPECT_EQ(report.verified_head.position, head.position);
  EXPECT_EQ(report.events_checked, head.position);

  for (const AckRecord& a : acks) {
    const std::string id = CommandId(a.command_number);
    SCOPED_TRACE(id);
    auto stored = ledger.LookupCommand(id);
    ASSERT_THAT(stored, IsOk()) << "acknowledged command lost";
    EXPECT_EQ(stored->first_position, a.first_position);
    EXPECT_EQ(stored->last_position, a.last_position);
    EXPECT_LE(a.last_position, head.position);
    auto first = ledger.ReadAt(a.first_position);
    ASSERT_THAT(first, IsOk());
    EXPECT_EQ(first->header.command_id, id);
    auto plain = ledger.Decrypt(*first);
    ASSERT_THAT(plain, IsOk());
    EXPECT_EQ(*plain, PayloadOf(a.command_number, 0));
    auto last = ledger.ReadAt(a.last_position);
    ASSERT_THAT(last, IsOk());
    EXPECT_EQ(last->header.command_id, id);
  }

  // The whole log: dense positions, contiguous stream versions, and every
  // command that made it (acknowledged or not) complete and contiguous.
  std::map<std::string, uint64_t> stream_versions;
  std::map<std::string, std::pair<uint64_t, uint64_t>> command_spans;
  uint64_t expect = 1;
  for (uint64_t next = 1; next != 0;) {
    auto page = ledger.ReadAll(next, 1000);
    ASSERT_THAT(page, IsOk());
    for (const StoredEvent& ev : page->events) {
      ASSERT_EQ(ev.header.position, expect) << "gap in the log";
      ++expect;
      uint64_t& v = stream_versions[ev.header.stream_id];
      ASSERT_EQ(ev.header.stream_version, v + 1)
          << ev.header.stream_id << " at " << ev.header.position;
      v = ev.header.stream_version;
      auto [it, inserted] = command_spans.try_emplace(
          ev.header.command_id, ev.header.position, ev.header.position);
      if (!inserted) {
        ASSERT_EQ(it->second.second + 1, ev.header.position)
            << ev.header.command_id << " is not contiguous";
        it->second.second = ev.header.position;
      }
    }
    next = page->next;
  }
  EXPECT_EQ(expect - 1, head.position);
  for (const auto& [stream, version] : stream_versions) {
    auto sv = ledger.StreamVersion(stream);
    ASSERT_THAT(sv, IsOk());
    EXPECT_EQ(*sv, version) << stream;
  }
  for (const auto& [id, span] : command_spans) {
    auto stored = ledger.LookupCommand(id);
    ASSERT_THAT(stored, IsOk()) << id << " has events but no command record";
    EXPECT_EQ(stored->first_position, span.first) << id;
    EXPECT_EQ(stored->last_position, span.second) << id;
    if (id.rfind("crash-", 0) == 0) {
      const uint64_t n = std::stoull(id.substr(6));
      EXPECT_EQ(span.second - span.first + 1, EventsOf(n))
          << id << " is incomplete";
    }
  }
}

TEST(CrashTest, AcknowledgedAppendsSurviveSigkillAtRandomPoints) {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  const uint32_t seed = 0xc4a54u;
  std::mt19937 rng(seed);
  uint64_t total_acks = 0;

  for (int trial = 1; trial <= kTrials; ++trial) {
    const size_t target =
        std::uniform_int_distribution<size_t>(1, kMaxAcksToWaitFor)(rng);
    SCOPED_TRACE(absl::StrCat("seed ", seed, " trial ", trial,
                              " killing after ", target, " acks"));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0) << std::strerror(errno);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
      ::close(fds[0]);
      RunChild(dir, trial, fds[1]);
    }
    ::close(fds[1]);

    std::vector<AckRecord> acks;
    std::string pending;
    const bool reached =
        ReadAcks(fds[0], target, absl::Now() + kTrialDeadline, &acks, &pending);
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    // Records already in the pipe were acknowledged too: check them as well.
    const bool drained =
        ReadAcks(fds[0], 0, absl::Now() + kTrialDeadline, &acks, &pending);
    ::close(fds[0]);
    ASSERT_TRUE(reached) << "child stopped early after " << acks.size()
                         << " acks: " << DescribeWaitStatus(status);
    ASSERT_TRUE(drained);
    ASSERT_TRUE(pending.empty()) << "torn ack record";
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << DescribeWaitStatus(status);
    total_acks += acks.size();

    // Open runs the tail check; then the whole log is checked.
    auto opened = Ledger::Open(TestLedgerOptions(dir));
    ASSERT_THAT(opened, IsOk());
    CheckRecovered(**opened, acks);
    if (HasFatalFailure())
      return;
    // The recovered ledger takes new appends where the log ends.
    const uint64_t head = (*opened)->GetHead().position;
    auto post = (*opened)->Append(carelog::testing::OneEvent(
        absl::StrCat("post-crash-", trial), "crash/parent", "after recovery"));
    ASSERT_THAT(post, IsOk());
    EXPECT_EQ(post->first_position, head + 1);
    EXPECT_EQ(post->streams[0].first_version, static_cast<uint64_t>(trial));
  }
  ::testing::Test::RecordProperty("acks_checked", static_cast<int>(total_acks));
}

}  // namespace
}  // namespace carelog::storage
