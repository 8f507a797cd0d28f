// The enforcement point over the policy engine: request-context mapping,
// atomic reloads that keep the old policy on a bad file, concurrent decisions
// during swaps, and carelogd's server enforcing (and reloading) its policy
// over a real gRPC channel.
#include "services/server/policy_access.h"

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/ledger.grpc.pb.h"
#include "crypto/jwt.h"
#include "services/server/access.h"
#include "services/server/server.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::services {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

RequestContext Ctx(std::vector<std::string> roles, std::string purpose) {
  RequestContext c;
  c.actor = "u-1";
  c.roles = std::move(roles);
  c.purpose = std::move(purpose);
  c.received_at = absl::FromUnixSeconds(1'800'000'000);
  return c;
}

AccessRequest Req(std::string resource, std::string action,
                  std::string patient = "") {
  AccessRequest r;
  r.resource = std::move(resource);
  r.action = std::move(action);
  r.patient_id = std::move(patient);
  return r;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The default policy minus its operator ledger rule: a valid policy that
// decides differently.
std::string DefaultWithoutOperatorRule() {
  std::string yaml(policies::DefaultPolicyYaml());
  return absl::StrReplaceAll(
      yaml, {{"roles: [ledger-admin, operator]\n", "roles: [ledger-admin]\n"}});
}

TEST(PolicyAccessAdapterTest, DefaultPolicyKeepsTheBuiltinLedgerRules) {
  auto adapter = LoadAccessPolicy("");
  ASSERT_THAT(adapter, IsOk());
  BuiltinPolicy builtin;
  const AccessRequest ledger_read = Req(kResourceLedger, kActionRead, "");
  const AccessRequest ledger_sub = Req(kResourceLedger, kActionSubscribe, "");
  for (const char* role : {"operator", "ledger-admin", "ledger-consumer",
                           "clinician", "patient"}) {
    for (const char* purpose : {"HOPERAT", "HSYSADMIN", "TREAT"}) {
      for (const AccessRequest& req : {ledger_read, ledger_sub}) {
        const RequestContext ctx = Ctx({role}, purpose);
        const AccessDecision want = builtin.Decide(ctx, req);
        const AccessDecision got = (*adapter)->Decide(ctx, req);
        EXPECT_EQ(got.allowed, want.allowed)
            << role << " " << purpose << " " << req.action;
        if (got.allowed) {
          // Same rule names without the builtin/ prefix.
          EXPECT_EQ("builtin/" + got.rules.at(0), want.rules.at(0));
        }
      }
    }
  }
  // Ledger reads are never about one patient.
  EXPECT_FALSE((*adapter)
                   ->Decide(Ctx({"operator"}, "HOPERAT"),
                            Req(kResourceLedger, kActionRead, "p-1"))
                   .allowed);
}

TEST(PolicyAccessAdapterTest, MapsContextAndNamesRules) {
  auto adapter = LoadAccessPolicy("");
  ASSERT_THAT(adapter, IsOk());
  RequestContext ctx = Ctx({"compliance_officer"}, "HCOMPL");
  AccessDecision d = (*adapter)->Decide(ctx, Req("audit", "export", ""));
  EXPECT_FALSE(d.allowed);
  EXPECT_FALSE(d.forbidden);
  EXPECT_THAT(d.rules, ElementsAre("default-deny"));
  EXPECT_THAT(d.hint, HasSubstr("requires a reason"));
  ctx.reason = "subpoena 2026-17";
  d = (*adapter)->Decide(ctx, Req("audit", "export", ""));
  EXPECT_TRUE(d.allowed);
  EXPECT_THAT(d.rules, ElementsAre("compliance-audit-export"));
  EXPECT_EQ(d.policy_hash, (*adapter)->policy().hash());

  d = (*adapter)->Decide(Ctx({"billing_clerk"}, "HPAYMT"),
                         Req("clinical.messages", "read", "p-1"));
  EXPECT_TRUE(d.forbidden);
  EXPECT_THAT(d.rules, ElementsAre("forbid-billing-clinical"));

  // Relationship facts come from the handler; unknown means not related.
  AccessRequest results = Req("clinical.test_results", "read", "p-1");
  d = (*adapter)->Decide(Ctx({"clinician"}, "TREAT"), results);
  EXPECT_FALSE(d.allowed);
  results.facts.on_care_team = true;
  d = (*adapter)->Decide(Ctx({"clinician"}, "TREAT"), results);
  EXPECT_TRUE(d.allowed);
  EXPECT_THAT(d.rules, ElementsAre("clinician-treatment"));
  // A VIP flag forbids billing staff who are not assigned.
  AccessRequest bill = Req("billing", "read", "p-1");
  bill.facts.vip = true;
  d = (*adapter)->Decide(Ctx({"billing_clerk"}, "HPAYMT"), bill);
  EXPECT_TRUE(d.forbidden);
  bill.facts.is_assigned = true;
  EXPECT_TRUE(
      (*adapter)->Decide(Ctx({"billing_clerk"}, "HPAYMT"), bill).allowed);

  // A resource or action outside the model is not permitted.
  d = (*adapter)->Decide(Ctx({"operator"}, "HOPERAT"),
                         Req("ledger", "truncate", ""));
  EXPECT_FALSE(d.allowed);
  EXPECT_THAT(d.rules, ElementsAre("default-deny"));
  d = (*adapter)->Decide(Ctx({"operator"}, "HOPERAT"),
                         Req("xrays", "read", ""));
  EXPECT_FALSE(d.allowed);
}

TEST(PolicyAccessAdapterTest, BreakGlassGrantComesFromTheRegistry) {
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  policies::BreakGlassRegistry grants([&now] { return now; }, absl::Hours(1));
  auto adapter = LoadAccessPolicy("", &grants);
  ASSERT_THAT(adapter, IsOk());
  RequestContext ctx = Ctx({"clinician"}, "ETREAT");
  ctx.actor = "dr-1";
  ctx.reason = "unconscious in ED";
  ctx.received_at = now;
  const AccessRequest req = Req("clinical.test_results", "read", "p-9");
  EXPECT_FALSE((*adapter)->Decide(ctx, req).allowed);
  ASSERT_THAT(grants.Open("dr-1", "p-9", absl::Minutes(15)), IsOk());
  AccessDecision d = (*adapter)->Decide(ctx, req);
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.break_glass);
  now += absl::Minutes(16);
  ctx.received_at = now;
  EXPECT_FALSE((*adapter)->Decide(ctx, req).allowed);
}

// carelogd's mode: the first read that declares an emergency (ETREAT and a
// reason) and that a break_glass rule permits opens the grant itself.
TEST(PolicyAccessAdapterTest, DeclaredEmergencyOpensAGrantForThatPatientOnly) {
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  policies::BreakGlassRegistry grants([&now] { return now; }, absl::Hours(1));
  auto adapter =
      LoadAccessPolicy("", &grants, BreakGlassMode::kOpenOnDeclaredEmergency);
  ASSERT_THAT(adapter, IsOk());
  RequestContext ctx = Ctx({"clinician"}, "ETREAT");
  ctx.actor = "dr-1";
  ctx.received_at = now;
  const AccessRequest req = Req("clinical.test_results", "read", "p-9");
  // No reason: no emergency declared, nothing opened.
  EXPECT_FALSE((*adapter)->Decide(ctx, req).allowed);
  EXPECT_EQ(grants.ActiveUntil("dr-1", "p-9"), absl::InfinitePast());
  ctx.reason = "unconscious in ED";
  AccessDecision d = (*adapter)->Decide(ctx, req);
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.break_glass);
  EXPECT_EQ(grants.ActiveUntil("dr-1", "p-9"), now + absl::Hours(1));
  EXPECT_EQ(grants.ActiveUntil("dr-1", "p-8"), absl::InfinitePast());
  // The grant never widens a treatment read: TREAT still needs the care team.
  RequestContext treat = Ctx({"clinician"}, "TREAT");
  treat.actor = "dr-1";
  treat.received_at = now;
  EXPECT_FALSE((*adapter)->Decide(treat, req).allowed);
}

TEST(PolicyAccessAdapterTest, EmergencyNoBreakGlassRuleCoversOpensNothing) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  policies::BreakGlassRegistry grants([now] { return now; }, absl::Hours(1));
  auto adapter =
      LoadAccessPolicy("", &grants, BreakGlassMode::kOpenOnDeclaredEmergency);
  ASSERT_THAT(adapter, IsOk());
  // Billing is outside clinician-break-glass; a billing clerk has no such rule.
  for (const auto& [role, resource] :
       std::vector<std::pair<std::string, std::string>>{
           {"clinician", "billing"}, {"billing_clerk", "clinical.messages"}}) {
    RequestContext ctx = Ctx({role}, "ETREAT");
    ctx.actor = "someone";
    ctx.reason = "emergency";
    ctx.received_at = now;
    EXPECT_FALSE((*adapter)->Decide(ctx, Req(resource, "read", "p-9")).allowed)
        << role;
    EXPECT_EQ(grants.ActiveUntil("someone", "p-9"), absl::InfinitePast())
        << role;
  }
}

TEST(PolicyReloadTest, ReloadKeepsTheBreakGlassRegistryAndMode) {
  carelog::testing::TempDir dir;
  const std::string path = dir.Sub("policy.yaml");
  WriteFile(path, std::string(policies::DefaultPolicyYaml()));
  policies::BreakGlassRegistry grants([] { return absl::Now(); },
                                      absl::Hours(1));
  auto first =
      LoadAccessPolicy(path, &grants, BreakGlassMode::kOpenOnDeclaredEmergency);
  ASSERT_THAT(first, IsOk());
  AccessEnforcer enforcer(*first);
  ASSERT_THAT(ReloadAccessPolicy(path, &enforcer), IsOk());
  RequestContext ctx = Ctx({"clinician"}, "ETREAT");
  ctx.actor = "dr-1";
  ctx.reason = "unconscious in ED";
  ctx.received_at = absl::Now();
  auto d = enforcer.Check(ctx, Req("patient.demographics", "read", "p-9"));
  ASSERT_THAT(d, IsOk());
  EXPECT_TRUE(d->break_glass);
}

TEST(PolicyReloadTest, BadFileKeepsTheOldPolicy) {
  carelog::testing::TempDir dir;
  const std::string path = dir.Sub("policy.yaml");
  WriteFile(path, std::string(policies::DefaultPolicyYaml()));
  auto first = LoadAccessPolicy(path);
  ASSERT_THAT(first, IsOk());
  const std::string old_hash = (*first)->policy().hash();
  AccessEnforcer enforcer(*first);
  const RequestContext op = Ctx({"operator"}, "HOPERAT");
  const AccessRequest read = Req(kResourceLedger, kActionRead, "");
  ASSERT_THAT(enforcer.Check(op, read), IsOk());

  // An unknown role on line 3 of the new file: refused, old policy kept.
  WriteFile(path,
            "version: 1\nroles: [operator]\nrules:\n  - {id: x, effect: "
            "permit, roles: [wizard],"
            " resources: [ledger], actions: [read], purposes: [HOPERAT]}\n");
  auto reloaded = ReloadAccessPolicy(path, &enforcer);
  EXPECT_THAT(reloaded, StatusIs(absl::StatusCode::kInvalidArgument,
                                 AllOf(HasSubstr(path), HasSubstr("line 4:"),
                                       HasSubstr("unknown role \"wizard\""))));
  auto d = enforcer.Check(op, read);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->policy_hash, old_hash);

  // A missing file is refused too.
  EXPECT_THAT(ReloadAccessPolicy(dir.Sub("gone.yaml"), &enforcer),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(enforcer.Check(op, read)->policy_hash, old_hash);

  // A good file swaps in.
  WriteFile(path, DefaultWithoutOperatorRule());
  reloaded = ReloadAccessPolicy(path, &enforcer);
  ASSERT_THAT(reloaded, IsOk());
  EXPECT_NE(*reloaded, old_hash);
  EXPECT_THAT(
      enforcer.Check(op, read),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("not permitted: read on ledger (rule default-deny)")));
}

TEST(PolicyReloadTest, ConcurrentDecisionsDuringSwapsSeeOnePolicyOrTheOther) {
  auto a = LoadAccessPolicy("");
  ASSERT_THAT(a, IsOk());
  auto parsed_b = policies::Policy::Parse(DefaultWithoutOperatorRule());
  ASSERT_THAT(parsed_b, IsOk());
  auto b = std::make_shared<const PolicyAccessAdapter>(*parsed_b);
  const std::string hash_a = (*a)->policy().hash();
  const std::string hash_b = b->policy().hash();
  AccessEnforcer enforcer(*a);

  constexpr int kThreads = 8;
  constexpr int kDecisionsPerThread = 20000;
  std::atomic<int> running{kThreads};
  std::atomic<int> bad{0};
  std::atomic<int> saw_a{0}, saw_b{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const RequestContext op = Ctx({"operator"}, "HOPERAT");
      const AccessRequest read =
          Req(kResourceLedger, t % 2 ? kActionRead : kActionSubscribe, "");
      for (int i = 0; i < kDecisionsPerThread; ++i) {
        auto d = enforcer.Check(op, read);
        // Under A the operator may read; under B it may not. A decision must
        // agree with the policy whose hash it carries.
        if (d.ok()) {
          if (d->policy_hash != hash_a)
            bad++;
          saw_a++;
        } else {
          if (!absl::IsPermissionDenied(d.status()))
            bad++;
          saw_b++;
        }
      }
      running--;
    });
  }
  int swaps = 0;
  while (running.load() > 0) {
    enforcer.SetPolicy(swaps % 2 ? std::shared_ptr<const AccessPolicy>(*a) : b);
    ++swaps;
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(saw_a.load() + saw_b.load(), kThreads * kDecisionsPerThread);
  EXPECT_GT(swaps, 0);
  (void)hash_b;
}

// ---------------------------------------------------------------- the server

class ServerPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_path_ = dir_.Sub("policy.yaml");
    log_path_ = dir_.Sub("server.log");
    WriteFile(policy_path_, std::string(policies::DefaultPolicyYaml()));
    config_.listen = "127.0.0.1:0";
    config_.data_dir = dir_.Sub("data");
    config_.dev_mode = true;
    config_.metrics_listen = "";
    config_.drain_seconds = 5;
    config_.read_threads = 2;
    config_.policy_file = policy_path_;
    auto policy = LoadAccessPolicy(policy_path_);
    ASSERT_THAT(policy, IsOk());
    auto server = CarelogServer::Start(config_, carelog::testing::TestKek(),
                                       JsonLog::File(log_path_, "info"),
                                       nullptr, *policy);
    ASSERT_THAT(server, IsOk());
    server_ = std::move(*server);
    auto signer = crypto::TokenSigner::LoadPem(server_->dev_issuer_key_path(),
                                               kDevIssuerKid);
    ASSERT_THAT(signer, IsOk());
    crypto::TokenSigner::Claims c;
    c.issuer = kDevIssuer;
    c.subject = "op-1";
    c.audience = config_.audience;
    c.roles = {"operator"};
    c.issued_at = absl::Now();
    c.ttl = absl::Minutes(10);
    auto token = (*signer)->Mint(c);
    ASSERT_THAT(token, IsOk());
    token_ = *token;
    stub_ = v1::LedgerService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_)
      server_->Shutdown();
  }

  grpc::Status GetHead() {
    grpc::ClientContext ctx;
    ctx.AddMetadata(kAuthorizationHeader, "Bearer " + token_);
    ctx.AddMetadata(kPurposeHeader, "HOPERAT");
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::LedgerHead head;
    return stub_->GetHead(&ctx, v1::GetHeadRequest(), &head);
  }

  carelog::testing::TempDir dir_;
  std::string policy_path_, log_path_, token_;
  ServerConfig config_;
  std::unique_ptr<CarelogServer> server_;
  std::unique_ptr<v1::LedgerService::Stub> stub_;
};

TEST_F(ServerPolicyTest, ReloadSwapsAGoodFileAndRefusesABadOne) {
  ASSERT_TRUE(GetHead().ok());

  WriteFile(
      policy_path_,
      "version: 1\nroles: [operator]\nrules:\n  - id: x\n    effect: permit\n"
      "    roles: [operator]\n    resources: [ledger]\n    actions: [read]\n"
      "    purposes: [HOPERAT]\n    colour: blue\n");
  EXPECT_THAT(server_->ReloadAccessPolicy(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("line 10:"), HasSubstr("colour"))));
  EXPECT_TRUE(GetHead().ok()) << "the old policy stays in force";

  WriteFile(policy_path_, DefaultWithoutOperatorRule());
  auto hash = server_->ReloadAccessPolicy();
  ASSERT_THAT(hash, IsOk());
  grpc::Status s = GetHead();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("default-deny"));

  server_->Shutdown();
  const std::string log = carelog::testing::ReadFileOrEmpty(log_path_);
  EXPECT_THAT(log, HasSubstr("policy_reload_failed"));
  EXPECT_THAT(log, HasSubstr("line 10"));
  EXPECT_THAT(log, HasSubstr("policy_reloaded"));
  EXPECT_THAT(log, HasSubstr(*hash));
}

}  // namespace
}  // namespace carelog::services
