// Graceful shutdown with appends in flight: every append the ledger
// acknowledged before or during Shutdown() is durable — present after a
// reopen, at the position it was acknowledged with, and the chain verifies.
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

#include "storage/ledger.h"
#include "tests/integration/harness.h"
#include "tests/testing/ledger_fixture.h"

namespace carelog::integration {
namespace {

// What the appenders saw. Shared by appender threads and the ledger's writer
// thread (async callbacks).
class Outcomes {
 public:
  void Ack(const std::string& command_id, const storage::AppendResult& r) {
    absl::MutexLock l(&mu_);
    acked_[command_id] = r.first_position;
  }
  void Unexpected(const std::string& command_id, const absl::Status& s) {
    absl::MutexLock l(&mu_);
    unexpected_.push_back(absl::StrCat(command_id, ": ", s.ToString()));
  }
  // Waits until at least n acknowledgements or the deadline.
  bool AwaitAcks(size_t n, absl::Time deadline) {
    absl::MutexLock l(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return acked_.size() >= n;
    };
    return mu_.AwaitWithDeadline(absl::Condition(&enough), deadline);
  }
  std::map<std::string, uint64_t> acked() const {
    absl::MutexLock l(&mu_);
    return acked_;
  }
  // An appender thread stopped because the ledger refused work while stopping.
  void StoppedByShutdown() {
    absl::MutexLock l(&mu_);
    ++stopped_by_shutdown_;
  }
  int stopped_by_shutdown() const {
    absl::MutexLock l(&mu_);
    return stopped_by_shutdown_;
  }
  std::vector<std::string> unexpected() const {
    absl::MutexLock l(&mu_);
    return unexpected_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, uint64_t> acked_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> unexpected_ ABSL_GUARDED_BY(mu_);
  int stopped_by_shutdown_ ABSL_GUARDED_BY(mu_) = 0;
};

// UNAVAILABLE is the ledger refusing work because it stops; a full queue is
// back-pressure. Anything else is a bug.
bool Expected(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsResourceExhausted(s);
}

class ServerShutdownTest : public ServerTest {};

TEST_F(ServerShutdownTest, EveryAcknowledgedAppendSurvivesShutdownAndReopen) {
  StartServer();
  storage::Ledger* ledger = server_->ledger();
  Outcomes outcomes;
  constexpr int kMaxPerThread =
      20000;  // a bound in case Shutdown never takes effect

  std::vector<std::thread> appenders;
  // Blocking appenders.
  for (int t = 0; t < 2; ++t) {
    appenders.emplace_back([&, t] {
      for (int i = 0; i < kMaxPerThread; ++i) {
        const std::string id = absl::StrCat("sync-", t, "-", i);
        auto r = ledger->Append(Event(id, absl::StrCat("patient/s-", t),
                                      "carelog.test.Noted", "synthetic"));
        if (r.ok()) {
          outcomes.Ack(id, *r);
        } else if (absl::IsUnavailable(r.status())) {
          outcomes.StoppedByShutdown();  // nothing more will be accepted
          return;
        } else if (!Expected(r.status())) {
          outcomes.Unexpected(id, r.status());
          return;
        }
      }
    });
  }
  // Asynchronous appenders, each keeping up to 16 commands in flight.
  for (int t = 0; t < 2; ++t) {
    appenders.emplace_back([&, t] {
      // Shared with the callbacks, which may still be unlocking it when
      // this thread sees in_flight reach 0.
      struct Window {
        absl::Mutex mu;
        int in_flight ABSL_GUARDED_BY(mu) = 0;
        bool stopping ABSL_GUARDED_BY(mu) = false;
      };
      auto w = std::make_shared<Window>();
      for (int i = 0; i < kMaxPerThread; ++i) {
        {
          absl::MutexLock l(&w->mu);
          auto room = [&w]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu) {
            return w->in_flight < 16 || w->stopping;
          };
          w->mu.Await(absl::Condition(&room));
          if (w->stopping)
            break;
          ++w->in_flight;
        }
        const std::string id = absl::StrCat("async-", t, "-", i);
        ledger->AppendAsync(
            Event(id, absl::StrCat("visit/a-", t), "carelog.test.Visited",
                  "synthetic"),
            [&outcomes, w, id](absl::StatusOr<storage::AppendResult> r) {
              if (r.ok()) {
                outcomes.Ack(id, *r);
              } else if (!Expected(r.status())) {
                outcomes.Unexpected(id, r.status());
              }
              absl::MutexLock l(&w->mu);
              --w->in_flight;
              if (!r.ok() && absl::IsUnavailable(r.status()))
                w->stopping = true;
            });
      }
      // Every callback runs exactly once, also for commands drained at Stop.
      absl::MutexLock l(&w->mu);
      auto drained = [&w]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu) {
        return w->in_flight == 0;
      };
      w->mu.Await(absl::Condition(&drained));
      if (w->stopping)
        outcomes.StoppedByShutdown();
    });
  }

  // Shut down while the appenders are busy.
  ASSERT_TRUE(outcomes.AwaitAcks(200, absl::Now() + absl::Seconds(30)));
  std::thread shutter([this] { server_->Shutdown(); });
  shutter.join();
  for (auto& t : appenders)
    t.join();
  const storage::Head head_at_shutdown = ledger->GetHead();
  server_.reset();  // closes the ledger

  EXPECT_TRUE(outcomes.unexpected().empty()) << outcomes.unexpected().front();
  // All four appenders were still appending when the ledger stopped.
  EXPECT_EQ(outcomes.stopped_by_shutdown(), 4);
  const std::map<std::string, uint64_t> acked = outcomes.acked();
  ASSERT_GE(acked.size(), 200u);
  RecordProperty("acknowledged", static_cast<int>(acked.size()));
  RecordProperty("head_at_shutdown",
                 static_cast<int>(head_at_shutdown.position));

  auto reopened = storage::Ledger::Open(carelog::testing::TestLedgerOptions(
      absl::StrCat(config_.data_dir, "/", services::kLedgerSubdir)));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  storage::Ledger& ledger2 = **reopened;
  EXPECT_EQ(ledger2.GetHead().position, head_at_shutdown.position);
  EXPECT_EQ(ledger2.GetHead().chain_hash, head_at_shutdown.chain_hash);
  EXPECT_GE(ledger2.GetHead().position, acked.size());

  size_t lost = 0;
  for (const auto& [id, position] : acked) {
    auto stored = ledger2.LookupCommand(id);
    if (!stored.ok()) {
      ++lost;
      ADD_FAILURE() << "acknowledged command " << id
                    << " is missing: " << stored.status();
      continue;
    }
    EXPECT_EQ(stored->first_position, position) << id;
    auto event = ledger2.ReadAt(position);
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_EQ(event->header.command_id, id);
  }
  EXPECT_EQ(lost, 0u);

  const storage::VerifyReport report = ledger2.Verify();
  EXPECT_TRUE(report.status.ok()) << report.status;
  EXPECT_EQ(report.events_checked, ledger2.GetHead().position);
}

TEST_F(ServerShutdownTest,
       ServerRestartsOnTheSameDataDirectoryWithTheSameHead) {
  StartServer();
  for (int i = 1; i <= 5; ++i)
    AppendOne(absl::StrCat("cmd-", i), "patient/p-1");
  const storage::Head before = server_->ledger()->GetHead();
  server_->Shutdown();
  server_.reset();

  StartServer();
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  carelog::v1::LedgerHead head;
  ASSERT_TRUE(
      NewStub()->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head).ok());
  EXPECT_EQ(head.position(), before.position);
  EXPECT_EQ(head.chain_hash(),
            std::string(reinterpret_cast<const char*>(before.chain_hash.data()),
                        before.chain_hash.size()));
  // Retrying an acknowledged command after the restart appends nothing.
  auto retry = server_->ledger()->Append(
      Event("cmd-3", "patient/p-1", "carelog.test.Noted",
            absl::StrCat(kPayloadMarker, " synthetic note for cmd-3")));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->first_position, 3u);
  EXPECT_EQ(server_->ledger()->GetHead().position, before.position);
}

TEST_F(ServerShutdownTest, ShutdownIsIdempotentAndWaitReturnsAfterIt) {
  StartServer();
  std::thread a([this] { server_->Shutdown(); });
  std::thread b([this] { server_->Shutdown(); });
  server_->Wait();
  a.join();
  b.join();
  server_->Shutdown();
  EXPECT_TRUE(ServerLog().find("shutdown_complete") != std::string::npos);
}

}  // namespace
}  // namespace carelog::integration
