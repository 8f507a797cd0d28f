// Transport security: TLS and mTLS with certificates made in the test, and the
// rule that plaintext is only served on loopback.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "services/server/config.h"
#include "tests/integration/harness.h"
#include "tests/integration/test_certs.h"
#include "tests/testing/status_matchers.h"

namespace carelog::integration {
namespace {

class ServerTlsTest : public ServerTest {
 protected:
  void SetUp() override {
    auto pki = MakeTestPki();
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *pki;
    for (const auto& [name, pem] :
         {std::pair<std::string, std::string>{"ca.pem", pki_.ca_cert},
          {"server.pem", pki_.server_cert},
          {"server-key.pem", pki_.server_key}}) {
      ASSERT_TRUE(WriteFile(dir_.Sub(name), pem).ok());
    }
    config_.tls.cert_file = dir_.Sub("server.pem");
    config_.tls.key_file = dir_.Sub("server-key.pem");
  }

  void RequireClientCerts() {
    config_.tls.client_ca_file = dir_.Sub("ca.pem");
    config_.tls.require_client_cert = true;
  }

  std::shared_ptr<grpc::Channel> TlsChannel(const std::string& cert = "",
                                            const std::string& key = "") {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = pki_.ca_cert;
    o.pem_cert_chain = cert;
    o.pem_private_key = key;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::SslCredentials(o),
        args);
  }

  grpc::Status GetHead(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    carelog::v1::LedgerHead head;
    return carelog::v1::LedgerService::NewStub(channel)->GetHead(
        &ctx, carelog::v1::GetHeadRequest(), &head);
  }

  TestPki pki_;
};

TEST_F(ServerTlsTest, TlsCallSucceeds) {
  StartServer();
  const grpc::Status s = GetHead(TlsChannel());
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
}

TEST_F(ServerTlsTest, TlsCallToTheIpAddressSanSucceedsWithoutOverride) {
  StartServer();
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = pki_.ca_cert;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel =
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                grpc::SslCredentials(o), args);
  const grpc::Status s = GetHead(channel);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
}

TEST_F(ServerTlsTest, ClientThatDoesNotTrustTheServerCaFails) {
  StartServer();
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = pki_.rogue_ca_cert;  // same CA name, other key
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel =
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                grpc::SslCredentials(o), args);
  EXPECT_EQ(GetHead(channel).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerTlsTest, PlaintextClientAgainstTlsServerFails) {
  StartServer();
  EXPECT_EQ(GetHead(InsecureChannel(server_->port())).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerTlsTest, MutualTlsWithoutClientCertificateFailsAtHandshake) {
  RequireClientCerts();
  StartServer();
  const grpc::Status s = GetHead(TlsChannel());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ServerTlsTest, MutualTlsWithClientCertificateSucceeds) {
  RequireClientCerts();
  StartServer();
  const grpc::Status s = GetHead(TlsChannel(pki_.client_cert, pki_.client_key));
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
}

TEST_F(ServerTlsTest, MutualTlsWithCertificateFromAnotherCaFails) {
  RequireClientCerts();
  StartServer();
  const grpc::Status s =
      GetHead(TlsChannel(pki_.rogue_client_cert, pki_.rogue_client_key));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ServerTlsTest,
       UnreadableCertificateFileIsInvalidArgumentNamingTheSetting) {
  config_.tls.cert_file = dir_.Sub("missing.pem");
  EXPECT_THAT(TryStartServer(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("tls.cert_file")));
}

TEST_F(ServerTlsTest, RequireClientCertWithoutCaIsRefused) {
  config_.tls.require_client_cert = true;
  EXPECT_THAT(TryStartServer(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("tls.client_ca_file")));
}

class ServerTransportRuleTest : public ServerTest {};

TEST_F(ServerTransportRuleTest,
       PlaintextOnNonLoopbackAddressIsRefusedBeforeListening) {
  for (const char* listen :
       {"0.0.0.0:0", "[::]:0", "192.0.2.10:50051", "carelog.example:50051"}) {
    SCOPED_TRACE(listen);
    config_.listen = listen;
    EXPECT_THAT(services::ValidateConfig(config_),
                testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                  ::testing::HasSubstr("listen")));
    EXPECT_THAT(TryStartServer(),
                testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                  ::testing::HasSubstr("listen")));
    EXPECT_EQ(server_, nullptr);
  }
}

TEST_F(ServerTransportRuleTest,
       DevModeOnNonLoopbackAddressIsRefusedEvenWithTls) {
  config_.listen = "0.0.0.0:0";
  config_.tls.cert_file = dir_.Sub("server.pem");
  config_.tls.key_file = dir_.Sub("server-key.pem");
  config_.dev_mode = true;
  EXPECT_THAT(services::ValidateConfig(config_),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("dev_mode")));
}

TEST_F(ServerTransportRuleTest, LoopbackAddressesAreRecognised) {
  EXPECT_TRUE(services::IsLoopbackAddress("127.0.0.1:50051"));
  EXPECT_TRUE(services::IsLoopbackAddress("127.1.2.3:0"));
  EXPECT_TRUE(services::IsLoopbackAddress("[::1]:50051"));
  EXPECT_TRUE(services::IsLoopbackAddress("localhost:50051"));
  EXPECT_FALSE(services::IsLoopbackAddress("0.0.0.0:50051"));
  EXPECT_FALSE(services::IsLoopbackAddress("[::]:50051"));
  EXPECT_FALSE(services::IsLoopbackAddress("10.0.0.1:50051"));
  EXPECT_FALSE(services::IsLoopbackAddress("carelog.example:50051"));
}

// Regression: IsLoopbackAddress() once treated any listen address starting
// with "127." as loopback, including host names such as "127.example.net",
// which resolve wherever DNS says — plaintext (and dev_mode) off loopback.
TEST_F(ServerTransportRuleTest, HostNameThatMerelyStartsWith127IsNotLoopback) {
  EXPECT_FALSE(services::IsLoopbackAddress("127.example.net:50051"));
  config_.listen = "127.example.net:50051";
  EXPECT_THAT(services::ValidateConfig(config_),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("listen")));
}

}  // namespace
}  // namespace carelog::integration
