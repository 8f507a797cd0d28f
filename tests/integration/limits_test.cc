// Server limits seen by a client: message size, concurrent subscriptions and
// deadlines.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/integration/harness.h"

namespace carelog::integration {
namespace {

using carelog::v1::SubscribeRequest;
using carelog::v1::SubscribeResponse;

class ServerLimitsTest : public ServerTest {};

TEST_F(ServerLimitsTest, RequestLargerThanMaxMessageBytesIsResourceExhausted) {
  config_.max_message_bytes = 64 << 10;
  StartServer();
  carelog::v1::ReadStreamRequest req;
  req.set_stream_id("patient/" + std::string(100 << 10, 'x'));
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  carelog::v1::ReadResponse resp;
  const grpc::Status s = NewStub()->ReadStream(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << s.error_message();

  // The server is unharmed: a normal request on a fresh call works.
  grpc::ClientContext ok_ctx;
  Authorize(&ok_ctx, Token());
  req.set_stream_id("patient/p-0001");
  const grpc::Status ok = NewStub()->ReadStream(&ok_ctx, req, &resp);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
}

TEST_F(ServerLimitsTest, RequestJustUnderMaxMessageBytesReachesValidation) {
  config_.max_message_bytes = 64 << 10;
  StartServer();
  carelog::v1::ReadStreamRequest req;
  req.set_stream_id(
      "patient/" +
      std::string(60 << 10, 'x'));  // fits the limit, too long for a stream id
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  carelog::v1::ReadResponse resp;
  EXPECT_THAT(NewStub()->ReadStream(&ctx, req, &resp),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "stream_id"));
}

TEST_F(ServerLimitsTest,
       SubscriptionBeyondMaxSubscriptionsIsResourceExhausted) {
  config_.max_subscriptions = 1;
  StartServer();
  AppendOne("cmd-1", "patient/p-0001");
  auto stub = NewStub();

  grpc::ClientContext first_ctx;
  Authorize(&first_ctx, Token());
  auto first = stub->Subscribe(&first_ctx, SubscribeRequest());
  SubscribeResponse msg;
  // The first subscription is registered once it has sent anything.
  ASSERT_TRUE(first->Read(&msg));

  grpc::ClientContext second_ctx;
  Authorize(&second_ctx, Token());
  auto second = stub->Subscribe(&second_ctx, SubscribeRequest());
  EXPECT_FALSE(second->Read(&msg));
  EXPECT_THAT(second->Finish(),
              GrpcStatusIs(grpc::StatusCode::RESOURCE_EXHAUSTED,
                           "too many subscriptions"));

  first_ctx.TryCancel();
  EXPECT_EQ(first->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(ServerLimitsTest, SubscriptionSlotIsFreedWhenASubscriberLeaves) {
  config_.max_subscriptions = 1;
  StartServer();
  auto stub = NewStub();
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    auto reader = stub->Subscribe(&ctx, SubscribeRequest());
    SubscribeResponse msg;
    // A refusal would end the stream at once; a slot yields CaughtUp.
    ASSERT_TRUE(reader->Read(&msg));
    ASSERT_TRUE(msg.has_caught_up());
    ctx.TryCancel();
    (void)reader->Finish();
    // The slot is released in the reactor's OnDone, which runs after the
    // client sees the cancellation: wait for the server to count it free.
    const absl::Time deadline = absl::Now() + kCallDeadline;
    for (;;) {
      const std::string m = server_->MetricsText();
      if (m.find("carelog_subscriptions_active 0") != std::string::npos)
        break;
      ASSERT_LT(absl::Now(), deadline) << m;
      // Wait for a round trip through the server rather than spinning.
      grpc::ClientContext head_ctx;
      Authorize(&head_ctx, Token());
      carelog::v1::LedgerHead head;
      (void)stub->GetHead(&head_ctx, carelog::v1::GetHeadRequest(), &head);
    }
  }
}

TEST_F(ServerLimitsTest, AlreadyExpiredDeadlineIsDeadlineExceeded) {
  StartServer();
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  ctx.set_deadline(absl::ToChronoTime(absl::Now() - absl::Seconds(1)));
  carelog::v1::LedgerHead head;
  EXPECT_EQ(NewStub()
                ->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head)
                .error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);

  grpc::ClientContext sub_ctx;
  Authorize(&sub_ctx, Token());
  sub_ctx.set_deadline(absl::ToChronoTime(absl::Now() - absl::Seconds(1)));
  auto reader = NewStub()->Subscribe(&sub_ctx, SubscribeRequest());
  SubscribeResponse msg;
  EXPECT_FALSE(reader->Read(&msg));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(ServerLimitsTest,
       SubscriptionEndsWithDeadlineExceededWhenItsDeadlinePasses) {
  StartServer();
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  SetDeadline(&ctx, absl::Milliseconds(500));
  auto reader = NewStub()->Subscribe(&ctx, SubscribeRequest());
  SubscribeResponse msg;
  ASSERT_TRUE(reader->Read(&msg));  // CaughtUp on the empty ledger
  EXPECT_TRUE(msg.has_caught_up());
  while (reader->Read(&msg)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

}  // namespace
}  // namespace carelog::integration
