#include "tests/integration/harness.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"

#include "services/server/log.h"
#include "services/server/request_context.h"
#include "tests/testing/ledger_fixture.h"

namespace carelog::integration {

std::string Base64Url(absl::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

void SetDeadline(grpc::ClientContext* ctx, absl::Duration timeout) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

void Authorize(grpc::ClientContext* ctx, absl::string_view token,
               absl::string_view purpose) {
  if (!token.empty())
    ctx->AddMetadata(services::kAuthorizationHeader,
                     absl::StrCat("Bearer ", token));
  if (!purpose.empty())
    ctx->AddMetadata(services::kPurposeHeader, std::string(purpose));
  SetDeadline(ctx);
}

std::shared_ptr<grpc::Channel> InsecureChannel(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

storage::AppendRequest Event(const std::string& command_id,
                             const std::string& stream,
                             const std::string& event_type,
                             const std::string& payload,
                             const std::string& subject) {
  storage::AppendRequest r = carelog::testing::OneEvent(
      command_id, stream, payload, storage::ExpectedVersion::Any(), subject);
  r.streams[0].events[0].event_type = event_type;
  return r;
}

namespace {

std::string JwksOf(const crypto::TokenSigner& a, const crypto::TokenSigner& b) {
  return absl::StrCat("{\"keys\":[", a.PublicJwk(), ",", b.PublicJwk(), "]}");
}

}  // namespace

ServerTest::ServerTest() {
  auto es = crypto::TokenSigner::Generate(crypto::kJwtAlgEs256, kEs256Kid);
  auto ed = crypto::TokenSigner::Generate(crypto::kJwtAlgEdDsa, kEdDsaKid);
  if (!es.ok() || !ed.ok()) {
    ADD_FAILURE() << "cannot generate test issuer keys: " << es.status() << " "
                  << ed.status();
    return;
  }
  es256_ = std::move(*es);
  eddsa_ = std::move(*ed);
  jwks_path_ = dir_.Sub("issuer-jwks.json");
  std::ofstream(jwks_path_) << JwksOf(*es256_, *eddsa_);

  config_.listen = "127.0.0.1:0";
  config_.data_dir = dir_.Sub("data");
  config_.issuers = {{kTestIssuer, jwks_path_}};
  config_.audience = kTestAudience;
  config_.metrics_listen = "";  // MetricsText() reads the registry directly
  config_.drain_seconds = 10;
  config_.read_threads = 2;
}

ServerTest::~ServerTest() {
  if (server_)
    server_->Shutdown();
}

absl::Status ServerTest::TryStartServer() {
  auto server = services::CarelogServer::Start(
      config_, carelog::testing::TestKek(),
      services::JsonLog::File(dir_.Sub("server.log"), "info"), nullptr,
      policy_);
  if (!server.ok())
    return server.status();
  server_ = std::move(*server);
  return absl::OkStatus();
}

void ServerTest::UseDefaultPolicy() {
  auto policy = services::LoadAccessPolicy("");
  ASSERT_TRUE(policy.ok()) << policy.status();
  policy_ = *policy;
}

void ServerTest::StartServer() {
  const absl::Status s = TryStartServer();
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_GT(server_->port(), 0);
}

std::string ServerTest::Token(const TokenOptions& o) const {
  crypto::TokenSigner::Claims c;
  c.issuer = o.issuer;
  c.subject = o.subject;
  c.audience = o.audience;
  c.roles = o.roles;
  c.issued_at = o.issued_at;
  c.ttl = o.ttl;
  auto t = es256_->Mint(c);
  if (!t.ok()) {
    ADD_FAILURE() << "Mint: " << t.status();
    return "";
  }
  return *t;
}

std::string ServerTest::TokenWithRoles(std::vector<std::string> roles) const {
  TokenOptions o;
  o.roles = std::move(roles);
  return Token(o);
}

std::unique_ptr<carelog::v1::LedgerService::Stub> ServerTest::NewStub() const {
  return carelog::v1::LedgerService::NewStub(InsecureChannel(server_->port()));
}

storage::AppendResult ServerTest::AppendOne(const std::string& command_id,
                                            const std::string& stream,
                                            const std::string& event_type) {
  auto r = server_->ledger()->Append(
      Event(command_id, stream, event_type,
            absl::StrCat(kPayloadMarker, " synthetic note for ", command_id)));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : storage::AppendResult{};
}

std::string ServerTest::ServerLog() const {
  return carelog::testing::ReadFileOrEmpty(dir_.Sub("server.log"));
}

}  // namespace carelog::integration
