// Prometheus metrics after real RPCs and appends.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/integration/harness.h"

namespace carelog::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

constexpr char kGetHead[] = "/carelog.v1.LedgerService/GetHead";
constexpr char kReadAll[] = "/carelog.v1.LedgerService/ReadAll";

// The value of the sample of `name` whose labels include every one of
// `labels` (each written as key="value"); nullopt if there is none.
std::optional<double> Sample(const std::string& text, const std::string& name,
                             const std::vector<std::string>& labels) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#')
      continue;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos)
      continue;
    const absl::string_view metric = line.substr(0, std::min(brace, space));
    if (metric != name)
      continue;
    const absl::string_view label_text =
        brace == absl::string_view::npos ? absl::string_view()
                                         : line.substr(brace, space - brace);
    bool all = true;
    for (const auto& l : labels)
      all = all && label_text.find(l) != absl::string_view::npos;
    double v = 0;
    if (all && absl::SimpleAtod(line.substr(space + 1), &v))
      return v;
  }
  return std::nullopt;
}

class ServerMetricsTest : public ServerTest {
 protected:
  void SetUp() override { StartServer(); }

  grpc::Status GetHead(const std::string& token) {
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    carelog::v1::LedgerHead head;
    return NewStub()->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head);
  }
};

TEST_F(ServerMetricsTest, RpcTotalCountsCallsByMethodAndCode) {
  ASSERT_TRUE(GetHead(Token()).ok());
  ASSERT_TRUE(GetHead(Token()).ok());
  ASSERT_EQ(GetHead("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_EQ(GetHead(TokenWithRoles({"front-desk"})).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    carelog::v1::ReadAllRequest req;
    req.set_max_count(5000);
    carelog::v1::ReadResponse resp;
    ASSERT_EQ(NewStub()->ReadAll(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }

  const std::string m = server_->MetricsText();
  const std::string method_label = absl::StrCat("method=\"", kGetHead, "\"");
  EXPECT_THAT(Sample(m, "carelog_rpc_total", {method_label, "code=\"OK\""}),
              Optional(2.0))
      << m;
  EXPECT_THAT(Sample(m, "carelog_rpc_total",
                     {method_label, "code=\"UNAUTHENTICATED\""}),
              Optional(1.0))
      << m;
  EXPECT_THAT(Sample(m, "carelog_rpc_total",
                     {method_label, "code=\"PERMISSION_DENIED\""}),
              Optional(1.0))
      << m;
  EXPECT_THAT(Sample(m, "carelog_rpc_total",
                     {absl::StrCat("method=\"", kReadAll, "\""),
                      "code=\"INVALID_ARGUMENT\""}),
              Optional(1.0))
      << m;
  EXPECT_THAT(Sample(m, "carelog_rpc_duration_seconds_count", {method_label}),
              Optional(4.0))
      << m;
}

TEST_F(ServerMetricsTest, LedgerHeadPositionFollowsAppends) {
  for (int i = 1; i <= 3; ++i)
    AppendOne(absl::StrCat("cmd-", i), "patient/p-1");
  // Commit listeners (the metrics among them) run before an append is
  // acknowledged, so the gauge is current once Append returns.
  const uint64_t head = server_->ledger()->GetHead().position;
  ASSERT_EQ(head, 3u);
  std::string m = server_->MetricsText();
  EXPECT_THAT(Sample(m, "carelog_ledger_head_position", {}),
              Optional(static_cast<double>(head)))
      << m;

  AppendOne("cmd-4", "patient/p-2");
  m = server_->MetricsText();
  EXPECT_THAT(Sample(m, "carelog_ledger_head_position", {}), Optional(4.0))
      << m;
  EXPECT_THAT(Sample(m, "carelog_append_batch_events_count", {}), Optional(4.0))
      << m;
}

TEST_F(ServerMetricsTest, ActiveSubscriptionsAreCounted) {
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  auto reader = NewStub()->Subscribe(&ctx, carelog::v1::SubscribeRequest());
  carelog::v1::SubscribeResponse msg;
  ASSERT_TRUE(reader->Read(&msg));  // registered on the server
  EXPECT_THAT(
      Sample(server_->MetricsText(), "carelog_subscriptions_active", {}),
      Optional(1.0));
  ctx.TryCancel();
  (void)reader->Finish();
}

TEST_F(ServerMetricsTest, AccessLogLineNamesMethodCodeAndRequestId) {
  const std::string token = Token();
  grpc::ClientContext ctx;
  Authorize(&ctx, token);
  ctx.AddMetadata("x-request-id", "it-req-0042");
  carelog::v1::LedgerHead head;
  ASSERT_TRUE(
      NewStub()->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head).ok());
  // The interceptor writes (and flushes) the line before the status is sent.
  const std::string log = ServerLog();
  std::string line;
  for (absl::string_view l : absl::StrSplit(log, '\n')) {
    if (l.find("it-req-0042") != absl::string_view::npos)
      line = std::string(l);
  }
  EXPECT_THAT(line, HasSubstr("\"event\":\"rpc\""));
  EXPECT_THAT(line, HasSubstr(kGetHead));
  EXPECT_THAT(line, HasSubstr("\"code\":\"OK\""));
  EXPECT_THAT(log,
              ::testing::Not(HasSubstr(token.substr(token.rfind('.') + 1))));
}

TEST_F(ServerMetricsTest, MetricsNeverCarryTokensOrSubjects) {
  ASSERT_TRUE(GetHead(Token()).ok());
  AppendOne("cmd-1", "patient/p-1");
  const std::string m = server_->MetricsText();
  EXPECT_THAT(m, ::testing::Not(HasSubstr("op-0001")));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("subj-0001")));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("patient/p-1")));
}

}  // namespace
}  // namespace carelog::integration
