// carelogd's configuration: a full YAML sample, refusals naming the key and
// line, and ValidateConfig naming each bad setting.
#include "services/server/config.h"

#include <functional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/integration/test_certs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::integration {
namespace {

using services::ParseConfig;
using services::ServerConfig;
using services::ValidateConfig;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::StatusIs;

constexpr char kFullSample[] = R"(# carelogd — every setting
listen: 127.0.0.1:7443
data_dir: /var/lib/carelog
key_file: /etc/carelog/kek.key
kek_env: CARELOG_KEK_ALT
tls:
  cert_file: /etc/carelog/tls/server.pem
  key_file: /etc/carelog/tls/server-key.pem
  client_ca_file: /etc/carelog/tls/clients-ca.pem
  require_client_cert: true
issuers:
  - issuer: https://login.clinic.example
    jwks_file: /etc/carelog/issuers/login.json
  - issuer: https://svc.clinic.example
    jwks_file: /etc/carelog/issuers/svc.json
audience: carelog-api
dev_mode: false
policy_file: /etc/carelog/policy.yaml
metrics_listen: 127.0.0.1:9100
log_level: warn
limits:
  max_message_bytes: 1048576
  append_queue: 512
  read_threads: 8
  read_queue: 64
  drain_seconds: 30
  max_subscriptions: 16
anomalies:
  business_start_hour: 8
  business_end_hour: 18
  time_zone: America/Chicago
  weekends_after_hours: true
  bulk_distinct_patients: 50
  bulk_window_seconds: 1800
  denial_threshold: 3
  denial_window_seconds: 300
)";

TEST(ServerConfigTest, FullSampleParsesEverySetting) {
  auto c = ParseConfig(kFullSample);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->listen, "127.0.0.1:7443");
  EXPECT_EQ(c->data_dir, "/var/lib/carelog");
  EXPECT_EQ(c->key_file, "/etc/carelog/kek.key");
  EXPECT_EQ(c->kek_env, "CARELOG_KEK_ALT");
  EXPECT_EQ(c->tls.cert_file, "/etc/carelog/tls/server.pem");
  EXPECT_EQ(c->tls.key_file, "/etc/carelog/tls/server-key.pem");
  EXPECT_EQ(c->tls.client_ca_file, "/etc/carelog/tls/clients-ca.pem");
  EXPECT_TRUE(c->tls.require_client_cert);
  ASSERT_EQ(c->issuers.size(), 2u);
  EXPECT_EQ(c->issuers[0].issuer, "https://login.clinic.example");
  EXPECT_EQ(c->issuers[0].jwks_file, "/etc/carelog/issuers/login.json");
  EXPECT_EQ(c->issuers[1].issuer, "https://svc.clinic.example");
  EXPECT_EQ(c->issuers[1].jwks_file, "/etc/carelog/issuers/svc.json");
  EXPECT_EQ(c->audience, "carelog-api");
  EXPECT_FALSE(c->dev_mode);
  EXPECT_EQ(c->policy_file, "/etc/carelog/policy.yaml");
  EXPECT_EQ(c->metrics_listen, "127.0.0.1:9100");
  EXPECT_EQ(c->log_level, "warn");
  EXPECT_EQ(c->max_message_bytes, 1048576);
  EXPECT_EQ(c->append_queue, 512u);
  EXPECT_EQ(c->read_threads, 8);
  EXPECT_EQ(c->read_queue, 64u);
  EXPECT_EQ(c->drain_seconds, 30);
  EXPECT_EQ(c->max_subscriptions, 16);
  EXPECT_EQ(c->anomalies.business_start_hour, 8);
  EXPECT_EQ(c->anomalies.business_end_hour, 18);
  EXPECT_EQ(c->anomalies.time_zone, "America/Chicago");
  EXPECT_TRUE(c->anomalies.weekends_after_hours);
  EXPECT_EQ(c->anomalies.bulk_distinct_patients, 50);
  EXPECT_EQ(c->anomalies.bulk_window_seconds, 1800);
  EXPECT_EQ(c->anomalies.denial_threshold, 3);
  EXPECT_EQ(c->anomalies.denial_window_seconds, 300);
  EXPECT_THAT(ValidateConfig(*c), IsOk());
}

TEST(ServerConfigTest, EmptyDocumentKeepsTheDefaults) {
  auto c = ParseConfig("");
  ASSERT_THAT(c, IsOk());
  const ServerConfig defaults;
  EXPECT_EQ(c->listen, defaults.listen);
  EXPECT_EQ(c->max_message_bytes, defaults.max_message_bytes);
}

TEST(ServerConfigTest, UnsetKeysKeepTheBase) {
  ServerConfig base;
  base.audience = "from-flags";
  auto c = ParseConfig("listen: 127.0.0.1:1\n", base);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->listen, "127.0.0.1:1");
  EXPECT_EQ(c->audience, "from-flags");
}

TEST(ServerConfigTest, UnknownTopLevelKeyIsRefusedNamingKeyAndLine) {
  EXPECT_THAT(ParseConfig("listen: 127.0.0.1:1\naudince: carelog\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("audince"), HasSubstr("line 2"))));
}

TEST(ServerConfigTest, UnknownNestedKeyIsRefusedNamingSectionKeyAndLine) {
  EXPECT_THAT(ParseConfig("tls:\n  cert_file: a.pem\n  cert_flie: b.pem\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tls.cert_flie"), HasSubstr("line 3"))));
  EXPECT_THAT(
      ParseConfig("limits:\n  max_subs: 3\n"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("limits.max_subs"), HasSubstr("line 2"))));
  EXPECT_THAT(
      ParseConfig("issuers:\n  - issuer: a\n    jwks: b\n"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("issuers[0].jwks"), HasSubstr("line 3"))));
}

TEST(ServerConfigTest, WrongTypeIsRefusedNamingKeyAndLine) {
  EXPECT_THAT(ParseConfig("limits:\n  read_threads: many\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("limits.read_threads"),
                             HasSubstr("line 2"), HasSubstr("wrong type"))));
  EXPECT_THAT(ParseConfig("dev_mode: perhaps\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("dev_mode"), HasSubstr("wrong type"))));
  EXPECT_THAT(ParseConfig("listen: [127.0.0.1, 1]\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("listen"), HasSubstr("wrong type"))));
  EXPECT_THAT(
      ParseConfig("issuers: {issuer: a}\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("issuers")));
  EXPECT_THAT(ParseConfig("tls: yes\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tls")));
}

TEST(ServerConfigTest, YamlSyntaxErrorNamesTheLine) {
  EXPECT_THAT(ParseConfig("listen: 127.0.0.1:1\ntls: [unclosed\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line")));
}

TEST(ServerConfigTest, LoadConfigFileNamesTheFile) {
  carelog::testing::TempDir dir;
  EXPECT_THAT(services::LoadConfigFile(dir.Sub("absent.yaml")),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(WriteFile(dir.Sub("bad.yaml"), "bogus: 1\n"), IsOk());
  EXPECT_THAT(services::LoadConfigFile(dir.Sub("bad.yaml")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("bad.yaml"), HasSubstr("bogus"))));
  ASSERT_THAT(WriteFile(dir.Sub("good.yaml"), kFullSample), IsOk());
  EXPECT_THAT(services::LoadConfigFile(dir.Sub("good.yaml")), IsOk());
}

// A valid configuration to break one setting at a time.
ServerConfig Valid() {
  ServerConfig c;
  c.listen = "127.0.0.1:0";
  c.data_dir = "/tmp/carelog-never-created";
  c.issuers = {
      {"https://login.clinic.example", "/etc/carelog/issuers/login.json"}};
  return c;
}

struct BadSetting {
  const char* name;     // test name
  const char* setting;  // what the message must name
  std::function<void(ServerConfig*)> breakit;
};

class ServerValidateConfigTest : public ::testing::TestWithParam<BadSetting> {};

TEST_P(ServerValidateConfigTest, RefusesTheSettingByName) {
  ServerConfig c = Valid();
  ASSERT_THAT(ValidateConfig(c), IsOk());
  GetParam().breakit(&c);
  EXPECT_THAT(ValidateConfig(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr(GetParam().setting)));
}

INSTANTIATE_TEST_SUITE_P(
    EachSetting, ServerValidateConfigTest,
    ::testing::Values(
        BadSetting{"ListenWithoutPort", "listen",
                   [](ServerConfig* c) { c->listen = "127.0.0.1"; }},
        BadSetting{"ListenPortOutOfRange", "listen",
                   [](ServerConfig* c) { c->listen = "127.0.0.1:70000"; }},
        BadSetting{"ListenEmpty", "listen",
                   [](ServerConfig* c) { c->listen = ""; }},
        BadSetting{"PlaintextOnAllInterfaces", "listen",
                   [](ServerConfig* c) { c->listen = "0.0.0.0:0"; }},
        BadSetting{"DataDirEmpty", "data_dir",
                   [](ServerConfig* c) { c->data_dir = ""; }},
        BadSetting{"TlsKeyWithoutCert", "tls.cert_file",
                   [](ServerConfig* c) { c->tls.key_file = "k.pem"; }},
        BadSetting{"TlsCertWithoutKey", "tls.key_file",
                   [](ServerConfig* c) { c->tls.cert_file = "c.pem"; }},
        BadSetting{"ClientCertWithoutCa", "tls.client_ca_file",
                   [](ServerConfig* c) {
                     c->tls.cert_file = "c.pem";
                     c->tls.key_file = "k.pem";
                     c->tls.require_client_cert = true;
                   }},
        BadSetting{"DevModeOffLoopback", "dev_mode",
                   [](ServerConfig* c) {
                     c->listen = "0.0.0.0:0";
                     c->tls.cert_file = "c.pem";
                     c->tls.key_file = "k.pem";
                     c->dev_mode = true;
                   }},
        BadSetting{"NoIssuer", "issuers",
                   [](ServerConfig* c) { c->issuers.clear(); }},
        BadSetting{"IssuerNameEmpty", "issuers[0].issuer",
                   [](ServerConfig* c) { c->issuers[0].issuer = ""; }},
        BadSetting{"IssuerJwksEmpty", "issuers[1].jwks_file",
                   [](ServerConfig* c) {
                     c->issuers.push_back({"https://svc.clinic.example", ""});
                   }},
        BadSetting{"AudienceEmpty", "audience",
                   [](ServerConfig* c) { c->audience = ""; }},
        BadSetting{"MaxMessageTooSmall", "limits.max_message_bytes",
                   [](ServerConfig* c) { c->max_message_bytes = 100; }},
        BadSetting{
            "MaxMessageTooLarge", "limits.max_message_bytes",
            [](ServerConfig* c) { c->max_message_bytes = (64 << 20) + 1; }},
        BadSetting{"AppendQueueZero", "limits.append_queue",
                   [](ServerConfig* c) { c->append_queue = 0; }},
        BadSetting{"ReadThreadsZero", "limits.read_threads",
                   [](ServerConfig* c) { c->read_threads = 0; }},
        BadSetting{"ReadThreadsTooMany", "limits.read_threads",
                   [](ServerConfig* c) { c->read_threads = 257; }},
        BadSetting{"ReadQueueZero", "limits.read_queue",
                   [](ServerConfig* c) { c->read_queue = 0; }},
        BadSetting{"DrainNegative", "limits.drain_seconds",
                   [](ServerConfig* c) { c->drain_seconds = -1; }},
        BadSetting{"DrainTooLong", "limits.drain_seconds",
                   [](ServerConfig* c) { c->drain_seconds = 3601; }},
        BadSetting{"MaxSubscriptionsNegative", "limits.max_subscriptions",
                   [](ServerConfig* c) { c->max_subscriptions = -1; }},
        BadSetting{"LogLevelUnknown", "log_level",
                   [](ServerConfig* c) { c->log_level = "loud"; }},
        BadSetting{"MetricsListenWithoutPort", "metrics_listen",
                   [](ServerConfig* c) { c->metrics_listen = "metrics"; }},
        BadSetting{
            "BusinessStartHourNegative", "anomalies.business_start_hour",
            [](ServerConfig* c) { c->anomalies.business_start_hour = -1; }},
        BadSetting{"BusinessEndBeforeStart", "anomalies.business_end_hour",
                   [](ServerConfig* c) {
                     c->anomalies.business_start_hour = 9;
                     c->anomalies.business_end_hour = 9;
                   }},
        BadSetting{
            "BusinessEndPastMidnight", "anomalies.business_end_hour",
            [](ServerConfig* c) { c->anomalies.business_end_hour = 25; }},
        BadSetting{"UnknownTimeZone", "anomalies.time_zone",
                   [](ServerConfig* c) {
                     c->anomalies.time_zone = "Mars/Olympus_Mons";
                   }},
        BadSetting{
            "BulkCountOfOne", "anomalies.bulk_distinct_patients",
            [](ServerConfig* c) { c->anomalies.bulk_distinct_patients = 1; }},
        BadSetting{
            "BulkWindowZero", "anomalies.bulk_window_seconds",
            [](ServerConfig* c) { c->anomalies.bulk_window_seconds = 0; }},
        BadSetting{"DenialThresholdZero", "anomalies.denial_threshold",
                   [](ServerConfig* c) { c->anomalies.denial_threshold = 0; }},
        BadSetting{"DenialWindowTooLong", "anomalies.denial_window_seconds",
                   [](ServerConfig* c) {
                     c->anomalies.denial_window_seconds = 8 * 24 * 3600;
                   }}),
    [](const ::testing::TestParamInfo<BadSetting>& info) {
      return std::string(info.param.name);
    });

TEST(ServerConfigTest, DevModeOnLoopbackNeedsNoIssuer) {
  ServerConfig c = Valid();
  c.issuers.clear();
  c.dev_mode = true;
  EXPECT_THAT(ValidateConfig(c), IsOk());
}

TEST(ServerConfigTest, TlsOnAllInterfacesIsAllowed) {
  ServerConfig c = Valid();
  c.listen = "0.0.0.0:0";
  c.tls.cert_file = "c.pem";
  c.tls.key_file = "k.pem";
  EXPECT_THAT(ValidateConfig(c), IsOk());
}

}  // namespace
}  // namespace carelog::integration
