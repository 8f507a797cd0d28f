// Concurrency tests: many threads appending to shared and private streams
// through the single writer. No lost updates under optimistic concurrency, a
// gap-free global log with contiguous stream versions, consistent reads while
// writing, and a bounded queue that rejects with RESOURCE_EXHAUSTED without
// losing or duplicating any acknowledged command.
//
// No sleeps: threads meet on notifications and conditions with deadlines; the
// writer is held still, where a test needs it, by a commit listener that waits.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
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
using ::carelog::testing::OneEvent;
using ::carelog::testing::StatusIs;
using ::carelog::testing::TempDir;
using ::carelog::testing::TestLedgerOptions;

constexpr absl::Duration kDeadline = absl::Seconds(60);

// Every event of the log, in position order, read page by page.
std::vector<StoredEvent> ReadWholeLog(const Ledger& ledger) {
  std::vector<StoredEvent> out;
  for (uint64_t next = 1; next != 0;) {
    auto page = ledger.ReadAll(next, 500);
    EXPECT_THAT(page, IsOk());
    if (!page.ok())
      break;
    for (auto& ev : page->events)
      out.push_back(std::move(ev));
    next = page->next;
  }
  return out;
}

// Checks the global invariants: positions 1..head without gaps, each stream's
// versions 1, 2, 3, … in position order and matching its stream head, and a
// verifying chain. Returns the number of events.
uint64_t ExpectConsistentLog(const Ledger& ledger) {
  const std::vector<StoredEvent> log = ReadWholeLog(ledger);
  const uint64_t head = ledger.GetHead().position;
  EXPECT_EQ(log.size(), head);
  std::map<std::string, uint64_t> last_version;
  for (size_t i = 0; i < log.size(); ++i) {
    const EventHeader& h = log[i].header;
    EXPECT_EQ(h.position, i + 1);
    uint64_t& v = last_version[h.stream_id];
    EXPECT_EQ(h.stream_version, v + 1)
        << h.stream_id << " at position " << h.position;
    v = h.stream_version;
  }
  for (const auto& [stream, version] : last_version) {
    auto sv = ledger.StreamVersion(stream);
    EXPECT_THAT(sv, IsOk());
    if (sv.ok()) {
      EXPECT_EQ(*sv, version) << stream;
    }
  }
  VerifyReport r = ledger.Verify();
  EXPECT_THAT(r.status, IsOk());
  EXPECT_EQ(r.events_checked, head);
  return log.size();
}

// Holds the writer thread inside a commit listener after its first batch until
// released. Destruction releases it, so a failing test cannot hang the
// ledger's Stop().
class WriterGate {
 public:
  explicit WriterGate(Ledger* ledger) : ledger_(ledger) {
    id_ = ledger_->AddCommitListener([this](const CommitInfo&) {
      if (first_.exchange(false)) {
        stalled_.Notify();
        release_.WaitForNotification();
      }
    });
  }
  ~WriterGate() {
    Release();
    ledger_->RemoveCommitListener(id_);
  }
  bool WaitUntilStalled() {
    return stalled_.WaitForNotificationWithTimeout(kDeadline);
  }
  void Release() {
    if (!release_.HasBeenNotified())
      release_.Notify();
  }

 private:
  Ledger* const ledger_;
  uint64_t id_ = 0;
  std::atomic<bool> first_{true};
  absl::Notification stalled_;
  absl::Notification release_;
};

TEST(ConcurrencyTest, ExactVersionRetryLoopsLoseNoUpdate) {
  TempDir tmp;
  auto opened = Ledger::Open(TestLedgerOptions(tmp.Sub("data")));
  ASSERT_THAT(opened, IsOk());
  Ledger& ledger = **opened;

  constexpr int kThreads = 16;
  constexpr int kAppends = 200;
  constexpr int kShared = 3;
  constexpr int kMaxAttempts = 100000;
  struct Success {
    std::string command_id;
    std::string stream;
    uint64_t version;
    uint64_t position;
  };
  absl::Mutex mu;
  std::vector<Success> successes;  // guarded by mu
  std::atomic<int> conflicts{0};
  std::atomic<int> unexpected{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        const std::string stream = absl::StrCat("counter/c", (t + i) % kShared);
        // The same command id across retries: a conflicting attempt stores
        // nothing, so the retry is a new command as far as the ledger knows.
        const std::string id = absl::StrCat("exact-t", t, "-i", i);
        bool done = false;
        for (int attempt = 0; attempt < kMaxAttempts && !done; ++attempt) {
          auto v = ledger.StreamVersion(stream);
          if (!v.ok()) {
            unexpected.fetch_add(1);
            return;
          }
          auto r = ledger.Append(
              OneEvent(id, stream, id, ExpectedVersion::Exact(*v), ""));
          if (r.ok()) {
            if (r->streams.size() != 1 || r->streams[0].first_version != *v + 1)
              unexpected.fetch_add(1);
            absl::MutexLock l(&mu);
            successes.push_back(
                {id, stream, r->streams[0].first_version, r->first_position});
            done = true;
          } else if (absl::IsAborted(r.status())) {
            conflicts.fetch_add(1);
          } else {
            unexpected.fetch_add(1);
            return;
          }
        }
        if (!done) {
          unexpected.fetch_add(1);
          return;
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  ASSERT_EQ(unexpected.load(), 0);
  ::testing::Test::RecordProperty("version_conflicts", conflicts.load());

  absl::MutexLock l(&mu);
  ASSERT_EQ(successes.size(), static_cast<size_t>(kThreads * kAppends));
  std::map<std::string, std::map<uint64_t, const Success*>> by_stream;
  for (const Success& s : successes) {
    EXPECT_TRUE(by_stream[s.stream].emplace(s.version, &s).second)
        << s.stream << " version " << s.version << " acknowledged twice";
  }
  ASSERT_EQ(by_stream.size(), static_cast<size_t>(kShared));
  for (const auto& [stream, versions] : by_stream) {
    SCOPED_TRACE(stream);
    auto sv = ledger.StreamVersion(stream);
    ASSERT_THAT(sv, IsOk());
    EXPECT_EQ(*sv, versions.size());
    auto page = ledger.ReadStream(stream, 1, 100000);
    ASSERT_THAT(page, IsOk());
    ASSERT_EQ(page->events.size(), versions.size());
    for (size_t k = 0; k < page->events.size(); ++k) {
      const StoredEvent& ev = page->events[k];
      EXPECT_EQ(ev.header.stream_version, k + 1);
      auto it = versions.find(k + 1);
      ASSERT_NE(it, versions.end()) << "version " << k + 1 << " missing";
      EXPECT_EQ(ev.header.command_id, it->second->command_id);
      EXPECT_EQ(ev.header.position, it->second->position);
      auto plain = ledger.Decrypt(ev);
      ASSERT_THAT(plain, IsOk());
      EXPECT_EQ(*plain, it->second->command_id);
    }
  }
  EXPECT_EQ(ExpectConsistentLog(ledger),
            static_cast<uint64_t>(kThreads * kAppends));
}

TEST(ConcurrencyTest, MixedStreamsStayGapFreeAndContiguousWhileReadersRun) {
  TempDir tmp;
  auto opened = Ledger::Open(TestLedgerOptions(tmp.Sub("data")));
  ASSERT_THAT(opened, IsOk());
  Ledger& ledger = **opened;

  constexpr int kThreads = 16;
  constexpr int kAppends = 200;
  constexpr int kShared = 4;
  struct Acked {
    std::string command_id;
    AppendResult result;
    size_t events;
  };
  absl::Mutex mu;
  std::vector<Acked> acked;  // guarded by mu
  std::atomic<int> failures{0};
  std::atomic<bool> writers_done{false};

  // Readers run alongside: every snapshot they see must verify and read back
  // without gaps.
  std::atomic<int> reader_rounds{0};
  std::atomic<int> reader_failures{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      while (!writers_done.load()) {
        if (r == 0) {
          if (!ledger.Verify().status.ok())
            reader_failures.fetch_add(1);
        } else {
          const uint64_t head = ledger.GetHead().position;
          if (head > 0) {
            auto page = ledger.ReadAll(head, 64, Direction::kBackward);
            if (!page.ok() || page->events.empty() ||
                page->events.front().header.position != head) {
              reader_failures.fetch_add(1);
            } else {
              for (size_t k = 0; k < page->events.size(); ++k) {
                if (page->events[k].header.position != head - k)
                  reader_failures.fetch_add(1);
              }
            }
          }
        }
        reader_rounds.fetch_add(1);
      }
    });
  }

  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      const std::string own = absl::StrCat("own/t", t);
      uint64_t own_version = 0;
      for (int i = 0; i < kAppends; ++i) {
        AppendRequest r;
        r.command_id = absl::StrCat("mixed-t", t, "-i", i);
        size_t events = 0;
        auto add = [&](const std::string& stream, ExpectedVersion e, int n) {
          StreamAppend sa;
          sa.stream_id = stream;
          sa.expected = e;
          for (int k = 0; k < n; ++k) {
            sa.events.push_back(NewEvent{"carelog.test.Noted",
                                         absl::StrCat(r.command_id, "/", k),
                                         KeyClass::kSystem, ""});
          }
          events += n;
          r.streams.push_back(std::move(sa));
        };
        switch (i % 3) {
          case 0:  // private stream only; this thread is its only writer
            add(own, ExpectedVersion::Exact(own_version), 1 + i % 2);
            break;
          case 1:  // shared stream only
            add(absl::StrCat("shared/s", (t + i) % kShared),
                ExpectedVersion::Any(), 1);
            break;
          default:  // both, atomically
            add(own, ExpectedVersion::Exact(own_version), 1);
            add(absl::StrCat("shared/s", (t * 7 + i) % kShared),
                ExpectedVersion::Any(), 2);
            break;
        }
        auto res = ledger.Append(r);
        if (!res.ok()) {
          failures.fetch_add(1);
          ADD_FAILURE() << r.command_id << ": " << res.status();
          return;
        }
        for (const auto& s : res->streams) {
          if (s.stream_id == own) {
            if (s.first_version != own_version + 1)
              failures.fetch_add(1);
            own_version = s.last_version;
          }
        }
        absl::MutexLock l(&mu);
        acked.push_back({r.command_id, *res, events});
      }
    });
  }
  for (auto& th : writers)
    th.join();
  writers_done.store(true);
  for (auto& th : readers)
    th.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_EQ(reader_failures.load(), 0);
  EXPECT_GT(reader_rounds.load(), 0);

  const std::vector<StoredEvent> log = ReadWholeLog(ledger);
  absl::MutexLock l(&mu);
  ASSERT_EQ(acked.size(), static_cast<size_t>(kThreads * kAppends));
  // The acknowledged commands tile 1..N exactly, each command's events
  // contiguous and carrying its id.
  std::vector<int> owner(log.size() + 1, 0);
  size_t total_events = 0;
  for (const Acked& a : acked) {
    EXPECT_EQ(a.result.last_position - a.result.first_position + 1, a.events)
        << a.command_id;
    ASSERT_LE(a.result.last_position, log.size()) << a.command_id;
    for (uint64_t p = a.result.first_position; p <= a.result.last_position;
         ++p) {
      ++owner[p];
      EXPECT_EQ(log[p - 1].header.command_id, a.command_id) << "position " << p;
    }
    total_events += a.events;
  }
  EXPECT_EQ(log.size(), total_events);
  for (size_t p = 1; p < owner.size(); ++p)
    EXPECT_EQ(owner[p], 1) << "position " << p;
  EXPECT_EQ(ExpectConsistentLog(ledger), total_events);
}

// Deterministic: with the writer held inside its first batch, exactly
// queue_capacity commands queue and the rest are refused inline.
TEST(ConcurrencyTest, FullQueueRejectsInlineAndCommitsWhatWasQueued) {
  TempDir tmp;
  LedgerOptions o = TestLedgerOptions(tmp.Sub("data"));
  o.queue_capacity = 2;
  auto opened = Ledger::Open(std::move(o));
  ASSERT_THAT(opened, IsOk());
  Ledger& ledger = **opened;

  absl::Mutex mu;
  std::map<std::string, absl::StatusOr<AppendResult>> results;  // guarded
  std::map<std::string, int> calls;                             // guarded
  auto record = [&](const std::string& id) {
    return [&, id](absl::StatusOr<AppendResult> r) {
      absl::MutexLock l(&mu);
      ++calls[id];
      results.insert_or_assign(id, std::move(r));
    };
  };
  auto done_count = [&]() {
    absl::MutexLock l(&mu);
    return results.size();
  };

  {
    WriterGate gate(&ledger);
    ledger.AppendAsync(OneEvent("q-first", "patient/p1", "a"),
                       record("q-first"));
    ASSERT_TRUE(gate.WaitUntilStalled());
    for (int i = 0; i < 6; ++i) {
      const std::string id = absl::StrCat("q-", i);
      ledger.AppendAsync(OneEvent(id, "patient/p1", "b"), record(id));
    }
    {
      absl::MutexLock l(&mu);
      // Refusals ran inline; the two queued and the stalled one have not.
      EXPECT_EQ(results.count("q-first"), 0u);
      EXPECT_EQ(results.count("q-0"), 0u);
      EXPECT_EQ(results.count("q-1"), 0u);
      for (int i = 2; i < 6; ++i) {
        const std::string id = absl::StrCat("q-", i);
        ASSERT_EQ(results.count(id), 1u) << id;
        EXPECT_THAT(results.at(id),
                    StatusIs(absl::StatusCode::kResourceExhausted));
      }
    }
    EXPECT_EQ(ledger.Stats().queue_depth, 2u);
    gate.Release();
  }
  {
    absl::MutexLock l(&mu);
    auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return results.size() == 7;
    };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_done), kDeadline));
  }
  EXPECT_EQ(done_count(), 7u);
  absl::MutexLock l(&mu);
  for (const auto& [id, n] : calls)
    EXPECT_EQ(n, 1) << id;
  for (const char* id : {"q-first", "q-0", "q-1"}) {
    ASSERT_THAT(results.at(id), IsOk()) << id;
    EXPECT_FALSE(results.at(id)->duplicate);
  }
  EXPECT_EQ(ledger.GetHead().position, 3u);
  EXPECT_THAT(ledger.LookupCommand("q-2"),
              StatusIs(absl::StatusCode::kNotFound));
  // A refused command may simply be retried.
  auto retry = ledger.Append(OneEvent("q-2", "patient/p1", "b"));
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->first_position, 4u);
  EXPECT_EQ(ExpectConsistentLog(ledger), 4u);
}

TEST(ConcurrencyTest, AsyncAppendsIntoATinyQueueNeverLoseOrDuplicateAcks) {
  TempDir tmp;
  LedgerOptions o = TestLedgerOptions(tmp.Sub("data"));
  o.queue_capacity = 2;
  auto opened = Ledger::Open(std::move(o));
  ASSERT_THAT(opened, IsOk());
  Ledger& ledger = **opened;

  constexpr int kThreads = 16;
  constexpr int kAppends = 200;
  constexpr size_t kTotal = kThreads * kAppends;

  absl::Mutex mu;
  std::map<std::string, absl::StatusOr<AppendResult>> results;  // guarded
  std::map<std::string, int> calls;                             // guarded
  absl::Notification first_refusal;
  std::vector<std::atomic<int>> inline_refusals(kThreads);
  std::atomic<int> backoff_timeouts{0};

  std::vector<std::thread> threads;
  {
    // Hold the writer until some append has been refused, so that refusals
    // are certain rather than a matter of timing; then let everything run.
    WriterGate gate(&ledger);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kAppends; ++i) {
          const std::string id = absl::StrCat("async-t", t, "-i", i);
          const uint64_t head = ledger.GetHead().position;
          const int refusals = inline_refusals[t].load();
          ledger.AppendAsync(
              OneEvent(id, absl::StrCat("patient/p", (t + i) % 5), id,
                       ExpectedVersion::Any(), i % 2 ? "" : "subj-a"),
              [&, id, t](absl::StatusOr<AppendResult> r) {
                if (absl::IsResourceExhausted(r.status())) {
                  inline_refusals[t].fetch_add(1);
                  absl::MutexLock l(&mu);
                  if (!first_refusal.HasBeenNotified())
                    first_refusal.Notify();
                }
                absl::MutexLock l(&mu);
                ++calls[id];
                results.insert_or_assign(id, std::move(r));
              });
          // Refusals are answered inline. Back off until the writer has
          // committed something — it will: the queue was full of commands
          // that were not yet durable when `head` was read.
          if (inline_refusals[t].load() != refusals &&
              !ledger.WaitForPosition(head + 1, absl::Now() + kDeadline).ok()) {
            backoff_timeouts.fetch_add(1);
          }
        }
      });
    }
    EXPECT_TRUE(first_refusal.WaitForNotificationWithTimeout(kDeadline));
    gate.Release();
    for (auto& th : threads)
      th.join();
  }
  {
    absl::MutexLock l(&mu);
    auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return results.size() == kTotal;
    };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_done), kDeadline))
        << results.size() << " of " << kTotal << " callbacks ran";
  }

  absl::MutexLock l(&mu);
  std::set<std::string> acked_ids;
  std::set<uint64_t> acked_positions;
  size_t refused = 0;
  for (const auto& [id, n] : calls)
    EXPECT_EQ(n, 1) << id << " called back " << n << " times";
  for (const auto& [id, r] : results) {
    if (r.ok()) {
      EXPECT_FALSE(r->duplicate) << id;
      EXPECT_EQ(r->first_position, r->last_position) << id;
      EXPECT_TRUE(acked_positions.insert(r->first_position).second)
          << "position " << r->first_position << " acknowledged twice";
      acked_ids.insert(id);
      auto stored = ledger.LookupCommand(id);
      ASSERT_THAT(stored, IsOk()) << id;
      EXPECT_EQ(stored->first_position, r->first_position) << id;
      auto ev = ledger.ReadAt(r->first_position);
      ASSERT_THAT(ev, IsOk()) << id;
      EXPECT_EQ(ev->header.command_id, id);
    } else {
      EXPECT_THAT(r, StatusIs(absl::StatusCode::kResourceExhausted)) << id;
      ++refused;
      EXPECT_THAT(ledger.LookupCommand(id),
                  StatusIs(absl::StatusCode::kNotFound))
          << id;
    }
  }
  EXPECT_EQ(backoff_timeouts.load(), 0);
  EXPECT_GT(refused, 0u);
  EXPECT_GT(acked_ids.size(), 0u);
  EXPECT_EQ(acked_ids.size() + refused, kTotal);
  ::testing::Test::RecordProperty("refused", static_cast<int>(refused));

  // Retrying an acknowledged command returns its result and appends nothing;
  // retrying a refused one appends it once.
  const uint64_t head_before_retries = ledger.GetHead().position;
  for (const std::string& id : acked_ids) {
    auto again = ledger.Append(OneEvent(id, "patient/p0", id));
    // Same id, other stream: a different command, so it must be refused.
    EXPECT_THAT(again, StatusIs(absl::StatusCode::kAlreadyExists)) << id;
  }
  for (const auto& [id, r] : results) {
    if (!r.ok())
      continue;
    const int t = std::stoi(id.substr(id.find('t') + 1));
    const int i = std::stoi(id.substr(id.find("-i") + 2));
    auto again =
        ledger.Append(OneEvent(id, absl::StrCat("patient/p", (t + i) % 5), id,
                               ExpectedVersion::Any(), i % 2 ? "" : "subj-a"));
    ASSERT_THAT(again, IsOk()) << id;
    EXPECT_TRUE(again->duplicate) << id;
    EXPECT_EQ(again->first_position, r->first_position) << id;
  }
  EXPECT_EQ(ledger.GetHead().position, head_before_retries);
  size_t retried = 0;
  for (const auto& [id, r] : results) {
    if (r.ok() || retried >= 50)
      continue;
    const int t = std::stoi(id.substr(id.find('t') + 1));
    const int i = std::stoi(id.substr(id.find("-i") + 2));
    auto again =
        ledger.Append(OneEvent(id, absl::StrCat("patient/p", (t + i) % 5), id,
                               ExpectedVersion::Any(), i % 2 ? "" : "subj-a"));
    ASSERT_THAT(again, IsOk()) << id;
    EXPECT_FALSE(again->duplicate) << id;
    acked_ids.insert(id);
    ++retried;
  }
  EXPECT_EQ(ledger.GetHead().position, head_before_retries + retried);

  // The log holds exactly the acknowledged commands, once each.
  const std::vector<StoredEvent> log = ReadWholeLog(ledger);
  EXPECT_EQ(log.size(), acked_ids.size());
  std::set<std::string> logged;
  for (const StoredEvent& ev : log) {
    EXPECT_TRUE(logged.insert(ev.header.command_id).second)
        << ev.header.command_id << " logged twice";
  }
  EXPECT_EQ(logged, acked_ids);
  EXPECT_EQ(ExpectConsistentLog(ledger), acked_ids.size());
  const LedgerStats stats = ledger.Stats();
  // Duplicates count as committed too (CommitInfo::commands does likewise).
  EXPECT_GE(stats.commands_committed, acked_ids.size());
  EXPECT_GE(stats.commands_rejected, refused);
}

}  // namespace
}  // namespace carelog::storage
