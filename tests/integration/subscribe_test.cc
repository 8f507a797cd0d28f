// LedgerService.Subscribe over a real channel: catch-up then live under
// concurrent appends (every position exactly once, in order, one CaughtUp),
// filters, idle checkpoints, and shutdown.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/integration/harness.h"

namespace carelog::integration {
namespace {

using carelog::v1::SubscribeRequest;
using carelog::v1::SubscribeResponse;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

class ServerSubscribeTest : public ServerTest {
 protected:
  void SetUp() override { StartServer(); }

  struct Subscription {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<SubscribeResponse>> reader;
  };

  Subscription Open(const SubscribeRequest& req,
                    absl::Duration deadline = kCallDeadline) {
    Subscription s;
    s.ctx = std::make_unique<grpc::ClientContext>();
    Authorize(s.ctx.get(), Token());
    SetDeadline(s.ctx.get(), deadline);
    s.reader = stub_->Subscribe(s.ctx.get(), req);
    return s;
  }

  // Reads up to and including the CaughtUp marker; returns event positions.
  std::vector<uint64_t> ReadCatchUp(Subscription& s, uint64_t* caught_up_at) {
    std::vector<uint64_t> got;
    SubscribeResponse msg;
    while (s.reader->Read(&msg)) {
      if (msg.has_caught_up()) {
        *caught_up_at = msg.caught_up().position();
        return got;
      }
      if (msg.has_event())
        got.push_back(msg.event().header().position());
    }
    ADD_FAILURE() << "stream ended before CaughtUp";
    return got;
  }

  // The next event, skipping checkpoints. Fails the test if the stream ends.
  carelog::v1::EventEnvelope NextEvent(Subscription& s) {
    SubscribeResponse msg;
    while (s.reader->Read(&msg)) {
      if (msg.has_event())
        return msg.event();
      EXPECT_FALSE(msg.has_caught_up()) << "a second CaughtUp";
    }
    ADD_FAILURE() << "stream ended";
    return {};
  }

  static void Close(Subscription& s) {
    s.ctx->TryCancel();
    (void)s.reader->Finish();
  }

  std::unique_ptr<carelog::v1::LedgerService::Stub> stub_;
};

TEST_F(ServerSubscribeTest,
       CatchUpThenLiveDeliversEveryPositionOnceInOrderUnderConcurrentAppends) {
  stub_ = NewStub();
  constexpr int kBefore = 300;  // more than one catch-up page (256)
  constexpr int kThreads = 4;
  constexpr int kPerThread = 60;
  constexpr uint64_t kTotal = kBefore + kThreads * kPerThread;
  for (int i = 1; i <= kBefore; ++i)
    AppendOne(absl::StrCat("pre-", i), absl::StrCat("patient/p-", i % 7));

  Subscription sub = Open(SubscribeRequest(), absl::Seconds(30));
  SubscribeResponse msg;
  ASSERT_TRUE(
      sub.reader->Read(&msg));  // the subscription is live on the server
  ASSERT_TRUE(msg.has_event());

  // Appenders start while the subscriber is still catching up.
  std::atomic<int> append_failures{0};
  std::vector<std::thread> appenders;
  for (int t = 0; t < kThreads; ++t) {
    appenders.emplace_back([this, t, &append_failures] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = server_->ledger()->Append(
            Event(absl::StrCat("live-", t, "-", i), absl::StrCat("visit/v-", t),
                  "carelog.test.Visited", "synthetic visit"));
        if (!r.ok())
          append_failures.fetch_add(1);
      }
    });
  }

  std::vector<uint64_t> positions = {msg.event().header().position()};
  int caught_up_markers = 0;
  uint64_t caught_up_at = 0;
  size_t events_before_marker = 0;
  while (positions.back() < kTotal && sub.reader->Read(&msg)) {
    if (msg.has_caught_up()) {
      ++caught_up_markers;
      caught_up_at = msg.caught_up().position();
      events_before_marker = positions.size();
    } else if (msg.has_event()) {
      positions.push_back(msg.event().header().position());
    }
  }
  for (auto& t : appenders)
    t.join();
  ASSERT_EQ(append_failures.load(), 0);
  ASSERT_EQ(server_->ledger()->GetHead().position, kTotal);

  std::vector<uint64_t> expected;
  for (uint64_t p = 1; p <= kTotal; ++p)
    expected.push_back(p);
  EXPECT_THAT(positions,
              ElementsAreArray(expected));  // no gap, no duplicate, in order
  EXPECT_EQ(caught_up_markers, 1);
  EXPECT_GE(caught_up_at, static_cast<uint64_t>(kBefore));
  EXPECT_EQ(events_before_marker,
            caught_up_at);  // CaughtUp(p) follows exactly the events up to p
  // Nothing more is pending: a second CaughtUp or a repeat would show up next.
  Close(sub);
}

TEST_F(ServerSubscribeTest, FromPositionSkipsEarlierEvents) {
  stub_ = NewStub();
  for (int i = 1; i <= 10; ++i)
    AppendOne(absl::StrCat("cmd-", i), "patient/p-1");
  SubscribeRequest req;
  req.set_from_position(7);
  Subscription sub = Open(req);
  uint64_t caught_up_at = 0;
  EXPECT_THAT(ReadCatchUp(sub, &caught_up_at), ElementsAre(7, 8, 9, 10));
  EXPECT_EQ(caught_up_at, 10u);
  Close(sub);
}

TEST_F(ServerSubscribeTest,
       StreamPrefixFilterDeliversOnlyMatchingStreamsInCatchUpAndLive) {
  stub_ = NewStub();
  AppendOne("c1", "patient/p-1");         // 1
  AppendOne("c2", "visit/v-1");           // 2
  AppendOne("c3", "patient/p-2");         // 3
  AppendOne("c4", "patients-archive/x");  // 4: shares the text prefix "patient"
                                          // but not "patient/"
  SubscribeRequest req;
  req.set_stream_prefix("patient/");
  Subscription sub = Open(req);
  uint64_t caught_up_at = 0;
  EXPECT_THAT(ReadCatchUp(sub, &caught_up_at), ElementsAre(1, 3));
  EXPECT_EQ(caught_up_at, 4u);  // everything up to the head was considered

  AppendOne("c5", "visit/v-2");    // 5: filtered out
  AppendOne("c6", "patient/p-3");  // 6
  const auto e = NextEvent(sub);
  EXPECT_EQ(e.header().position(), 6u);
  EXPECT_EQ(e.header().stream_id(), "patient/p-3");
  Close(sub);
}

TEST_F(ServerSubscribeTest, EventTypeFilterDeliversOnlyListedTypes) {
  stub_ = NewStub();
  AppendOne("c1", "patient/p-1", "carelog.test.Registered");
  AppendOne("c2", "patient/p-1", "carelog.test.Noted");
  AppendOne("c3", "patient/p-2", "carelog.test.Discharged");
  AppendOne("c4", "patient/p-2", "carelog.test.Registered");
  SubscribeRequest req;
  req.add_event_types("carelog.test.Registered");
  req.add_event_types("carelog.test.Discharged");
  Subscription sub = Open(req);
  uint64_t caught_up_at = 0;
  EXPECT_THAT(ReadCatchUp(sub, &caught_up_at), ElementsAre(1, 3, 4));

  AppendOne("c5", "patient/p-3", "carelog.test.Noted");
  AppendOne("c6", "patient/p-3", "carelog.test.Discharged");
  const auto e = NextEvent(sub);
  EXPECT_EQ(e.header().position(), 6u);
  EXPECT_EQ(e.header().event_type(), "carelog.test.Discharged");
  Close(sub);
}

TEST_F(ServerSubscribeTest, BothFiltersMustMatch) {
  stub_ = NewStub();
  AppendOne("c1", "patient/p-1", "carelog.test.Registered");
  AppendOne("c2", "visit/v-1", "carelog.test.Registered");
  AppendOne("c3", "patient/p-1", "carelog.test.Noted");
  SubscribeRequest req;
  req.set_stream_prefix("patient/");
  req.add_event_types("carelog.test.Registered");
  Subscription sub = Open(req);
  uint64_t caught_up_at = 0;
  EXPECT_THAT(ReadCatchUp(sub, &caught_up_at), ElementsAre(1));
  Close(sub);
}

TEST_F(ServerSubscribeTest, InvalidFiltersAreInvalidArgumentNamingTheField) {
  stub_ = NewStub();
  SubscribeRequest req;
  req.set_stream_prefix("patient/has space");
  Subscription sub = Open(req);
  SubscribeResponse msg;
  EXPECT_FALSE(sub.reader->Read(&msg));
  EXPECT_THAT(
      sub.reader->Finish(),
      GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "stream_prefix"));

  SubscribeRequest empty_type;
  empty_type.add_event_types("");
  Subscription sub2 = Open(empty_type);
  EXPECT_FALSE(sub2.reader->Read(&msg));
  EXPECT_THAT(
      sub2.reader->Finish(),
      GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "event_types[0]"));
}

TEST_F(ServerSubscribeTest, CheckpointArrivesWhileNothingMatches) {
  stub_ = NewStub();
  AppendOne("c1", "patient/p-1");
  AppendOne("c2", "patient/p-2");
  SubscribeRequest req;
  req.set_stream_prefix("nothing-matches/");
  req.set_checkpoint_interval_ms(100);
  Subscription sub = Open(req);
  uint64_t caught_up_at = 0;
  EXPECT_TRUE(ReadCatchUp(sub, &caught_up_at).empty());
  EXPECT_EQ(caught_up_at, 2u);

  // A non-matching commit moves the head; the next checkpoint reports it.
  AppendOne("c3", "patient/p-3");
  SubscribeResponse msg;
  bool saw_checkpoint_at_head = false;
  while (!saw_checkpoint_at_head && sub.reader->Read(&msg)) {
    ASSERT_FALSE(msg.has_event()) << "a filtered-out event was delivered";
    ASSERT_FALSE(msg.has_caught_up()) << "a second CaughtUp";
    ASSERT_TRUE(msg.has_checkpoint());
    EXPECT_LE(msg.checkpoint().position(), 3u);
    saw_checkpoint_at_head = msg.checkpoint().position() == 3;
  }
  EXPECT_TRUE(saw_checkpoint_at_head);
  Close(sub);
}

TEST_F(ServerSubscribeTest,
       ShutdownEndsOpenSubscriptionsWithUnavailablePromptly) {
  stub_ = NewStub();
  AppendOne("c1", "patient/p-1");
  // If open subscriptions held the graceful drain up, Shutdown would take the
  // whole drain period.
  const absl::Duration drain = absl::Seconds(config_.drain_seconds);
  ASSERT_GE(drain, absl::Seconds(10));

  std::vector<Subscription> subs;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(Open(SubscribeRequest(), absl::Seconds(60)));
    uint64_t at = 0;
    EXPECT_THAT(ReadCatchUp(subs.back(), &at), ElementsAre(1));
  }
  const absl::Time t0 = absl::Now();
  absl::Notification done;
  std::thread shutter([&] {
    server_->Shutdown();
    done.Notify();
  });
  for (auto& s : subs) {
    SubscribeResponse msg;
    while (s.reader->Read(&msg)) {
    }
    EXPECT_THAT(s.reader->Finish(),
                GrpcStatusIs(grpc::StatusCode::UNAVAILABLE, "shutting down"));
  }
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(drain + absl::Seconds(10)));
  shutter.join();
  EXPECT_LT(absl::Now() - t0, drain / 2)
      << "Shutdown waited for open subscriptions";

  // New subscriptions are refused once shut down.
  Subscription late = Open(SubscribeRequest());
  SubscribeResponse msg;
  EXPECT_FALSE(late.reader->Read(&msg));
  EXPECT_EQ(late.reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace carelog::integration
