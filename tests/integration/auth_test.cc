// Authentication, purpose of use and the access enforcement point, seen from a
// client over a real channel: every refusal has the right code and a message
// naming the check that failed.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "crypto/jwt.h"
#include "services/server/request_context.h"
#include "services/server/server.h"
#include "tests/integration/harness.h"

namespace carelog::integration {
namespace {

using ::testing::HasSubstr;

class ServerAuthTest : public ServerTest {
 protected:
  void SetUp() override { StartServer(); }

  // GetHead with `token` (empty: no authorization metadata) and `purpose`.
  grpc::Status GetHead(const std::string& token,
                       const std::string& purpose = "HOPERAT") {
    grpc::ClientContext ctx;
    Authorize(&ctx, token, purpose);
    carelog::v1::LedgerHead head;
    return NewStub()->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head);
  }

  // GetHead with a raw authorization header value.
  grpc::Status GetHeadWithHeader(const std::string& header) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", header);
    ctx.AddMetadata("x-carelog-purpose", "HOPERAT");
    SetDeadline(&ctx);
    carelog::v1::LedgerHead head;
    return NewStub()->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head);
  }
};

TEST_F(ServerAuthTest, LedgerAdminWithOperationsPurposeIsAllowed) {
  EXPECT_THAT(GetHead(Token()), GrpcStatusIs(grpc::StatusCode::OK, ""));
}

TEST_F(ServerAuthTest, EdDsaTokenFromTheSameIssuerIsAllowed) {
  crypto::TokenSigner::Claims c;
  c.issuer = kTestIssuer;
  c.subject = "op-0002";
  c.audience = kTestAudience;
  c.roles = {"operator"};
  c.issued_at = absl::Now();
  c.ttl = absl::Minutes(5);
  auto token = eddsa_->Mint(c);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_THAT(GetHead(*token, "HSYSADMIN"),
              GrpcStatusIs(grpc::StatusCode::OK, ""));
}

TEST_F(ServerAuthTest, MissingAuthorizationMetadataIsUnauthenticated) {
  EXPECT_THAT(GetHead(""), GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED,
                                        "missing authorization metadata"));
}

TEST_F(ServerAuthTest, NonBearerAuthorizationIsUnauthenticated) {
  EXPECT_THAT(
      GetHeadWithHeader("Basic b3AtMDAwMTpzZWNyZXQ="),
      GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, "not a Bearer token"));
}

TEST_F(ServerAuthTest, MalformedTokenIsUnauthenticated) {
  EXPECT_THAT(
      GetHeadWithHeader("Bearer not-a-jwt"),
      GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, "malformed token"));
  EXPECT_THAT(
      GetHeadWithHeader("Bearer a.b"),
      GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, "malformed token"));
}

TEST_F(ServerAuthTest, ExpiredTokenIsUnauthenticated) {
  TokenOptions o;
  o.issued_at = absl::Now() - absl::Hours(2);
  o.ttl = absl::Hours(1);  // expired an hour ago: far beyond the 60 s leeway
  EXPECT_THAT(GetHead(Token(o)), GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED,
                                              "token expired (exp)"));
}

TEST_F(ServerAuthTest, TokenNotYetValidIsUnauthenticated) {
  TokenOptions o;
  o.issued_at = absl::Now() + absl::Hours(1);  // Mint sets nbf = iat
  EXPECT_THAT(GetHead(Token(o)), GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED,
                                              "token not yet valid (nbf)"));
}

TEST_F(ServerAuthTest, WrongAudienceIsUnauthenticated) {
  TokenOptions o;
  o.audience = "billing-service";
  EXPECT_THAT(GetHead(Token(o)), GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED,
                                              "wrong audience (aud)"));
}

TEST_F(ServerAuthTest, UnknownIssuerIsUnauthenticated) {
  TokenOptions o;
  o.issuer = "https://elsewhere.example";
  EXPECT_THAT(GetHead(Token(o)), GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED,
                                              "unknown issuer"));
}

TEST_F(ServerAuthTest, TokenSignedByAnotherKeyWithTheSameKidIsUnauthenticated) {
  auto forger = crypto::TokenSigner::Generate(crypto::kJwtAlgEs256, kEs256Kid);
  ASSERT_TRUE(forger.ok()) << forger.status();
  crypto::TokenSigner::Claims c;
  c.issuer = kTestIssuer;
  c.subject = "op-0001";
  c.audience = kTestAudience;
  c.roles = {"ledger-admin"};
  c.issued_at = absl::Now();
  c.ttl = absl::Minutes(5);
  auto forged = (*forger)->Mint(c);
  ASSERT_TRUE(forged.ok()) << forged.status();
  EXPECT_THAT(GetHead(*forged),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, "bad signature"));
}

TEST_F(ServerAuthTest, AlgNoneIsUnauthenticated) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const std::string header = absl::StrCat("{\"alg\":\"none\",\"kid\":\"",
                                          kEs256Kid, "\",\"typ\":\"JWT\"}");
  const std::string payload = absl::StrCat(
      "{\"iss\":\"", kTestIssuer, "\",\"sub\":\"op-0001\",\"aud\":\"",
      kTestAudience, "\",\"roles\":[\"ledger-admin\"],\"iat\":", now,
      ",\"exp\":", now + 300, "}");
  const std::string unsigned_token =
      absl::StrCat(Base64Url(header), ".", Base64Url(payload), ".");
  EXPECT_THAT(GetHead(unsigned_token),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, "forbidden alg"));
}

TEST_F(ServerAuthTest, ErrorMessagesNeverEchoTheToken) {
  TokenOptions o;
  o.audience = "billing-service";
  const std::string token = Token(o);
  const grpc::Status s = GetHead(token);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(),
              ::testing::Not(HasSubstr(token.substr(token.rfind('.') + 1))));
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("op-0001")));
}

TEST_F(ServerAuthTest, MissingPurposeOfUseIsInvalidArgument) {
  EXPECT_THAT(
      GetHead(Token(), ""),
      GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "x-carelog-purpose"));
}

TEST_F(ServerAuthTest, UnknownPurposeOfUseIsInvalidArgument) {
  const grpc::Status s = GetHead(Token(), "CURIOSITY");
  EXPECT_THAT(
      s, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "x-carelog-purpose"));
  EXPECT_THAT(s.error_message(), HasSubstr("unknown purpose"));
}

TEST_F(ServerAuthTest, OverlongReasonIsInvalidArgumentNamingTheHeader) {
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  ctx.AddMetadata("x-carelog-reason",
                  std::string(services::kMaxReasonBytes + 1, 'r'));
  carelog::v1::LedgerHead head;
  EXPECT_THAT(
      NewStub()->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head),
      GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "x-carelog-reason"));

  grpc::ClientContext ok_ctx;
  Authorize(&ok_ctx, Token());
  ok_ctx.AddMetadata("x-carelog-reason", "quarterly ledger review");
  EXPECT_THAT(NewStub()->GetHead(&ok_ctx, carelog::v1::GetHeadRequest(), &head),
              GrpcStatusIs(grpc::StatusCode::OK, ""));
}

TEST_F(ServerAuthTest, RoleWithoutARuleIsDeniedByDefaultDenyRule) {
  const grpc::Status s = GetHead(TokenWithRoles({"front-desk"}));
  EXPECT_THAT(s, GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED,
                              "builtin/default-deny"));
  EXPECT_THAT(s.error_message(), HasSubstr("not permitted"));
}

TEST_F(ServerAuthTest, LedgerAdminWithTreatmentPurposeIsDenied) {
  EXPECT_THAT(GetHead(Token(), "TREAT"),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED,
                           "builtin/default-deny"));
}

TEST_F(ServerAuthTest, LedgerConsumerMayReadOnlyForOperations) {
  const std::string token = TokenWithRoles({"ledger-consumer"});
  EXPECT_THAT(GetHead(token, "HOPERAT"),
              GrpcStatusIs(grpc::StatusCode::OK, ""));
  EXPECT_THAT(GetHead(token, "HSYSADMIN"),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED,
                           "builtin/default-deny"));
}

TEST_F(ServerAuthTest, RefusedSubscribeCarriesTheSameCodes) {
  carelog::v1::SubscribeRequest req;
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, "");
    auto reader = NewStub()->Subscribe(&ctx, req);
    carelog::v1::SubscribeResponse msg;
    EXPECT_FALSE(reader->Read(&msg));
    EXPECT_THAT(reader->Finish(),
                GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED,
                             "missing authorization metadata"));
  }
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, TokenWithRoles({"front-desk"}));
    auto reader = NewStub()->Subscribe(&ctx, req);
    carelog::v1::SubscribeResponse msg;
    EXPECT_FALSE(reader->Read(&msg));
    EXPECT_THAT(reader->Finish(),
                GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED,
                             "builtin/default-deny"));
  }
}

class ServerDevModeAuthTest : public ServerTest {
 protected:
  void SetUp() override {
    config_.dev_mode = true;
    config_.issuers.clear();
    StartServer();
  }
};

TEST_F(ServerDevModeAuthTest, TokenMintedWithTheDevIssuerKeyIsAccepted) {
  ASSERT_FALSE(server_->dev_issuer_key_path().empty());
  auto signer = crypto::TokenSigner::LoadPem(server_->dev_issuer_key_path(),
                                             services::kDevIssuerKid);
  ASSERT_TRUE(signer.ok()) << signer.status();
  crypto::TokenSigner::Claims c;
  c.issuer = services::kDevIssuer;
  c.subject = "dev-operator";
  c.audience = kTestAudience;
  c.roles = {"ledger-admin"};
  c.issued_at = absl::Now();
  c.ttl = absl::Minutes(5);
  auto token = (*signer)->Mint(c);
  ASSERT_TRUE(token.ok()) << token.status();
  grpc::ClientContext ctx;
  Authorize(&ctx, *token);
  carelog::v1::LedgerHead head;
  const grpc::Status s =
      NewStub()->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
}

TEST_F(ServerDevModeAuthTest, TestIssuerIsNotTrustedInDevModeWithoutIssuers) {
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  carelog::v1::LedgerHead head;
  const grpc::Status s =
      NewStub()->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head);
  EXPECT_THAT(
      s, GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED, "unknown issuer"));
}

}  // namespace
}  // namespace carelog::integration
