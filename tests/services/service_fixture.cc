#include "tests/services/service_fixture.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"

#include "services/server/policy_access.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"

namespace carelog::testing {

void ServiceTest::StartServer(const std::string& policy_file) {
  if (signer_ == nullptr) {
    auto signer = crypto::TokenSigner::Generate("EdDSA", "k1");
    ASSERT_THAT(signer, IsOk());
    signer_ = std::move(*signer);
  }
  const std::string jwks = dir_.Sub("jwks.json");
  std::ofstream(jwks) << signer_->PublicJwks();
  config_.listen = "127.0.0.1:0";
  config_.data_dir = dir_.Sub("data");
  config_.issuers = {{kTestIssuer, jwks}};
  config_.metrics_listen = "";
  config_.log_level = "error";
  auto policy = services::LoadAccessPolicy(policy_file);
  ASSERT_THAT(policy, IsOk());
  auto server = services::CarelogServer::Start(
      config_, TestKek(), services::JsonLog::File(dir_.Sub("log"), "error"),
      nullptr, *policy);
  ASSERT_THAT(server, IsOk());
  server_ = std::move(*server);
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                 grpc::InsecureChannelCredentials());
  patients_ = v1::PatientService::NewStub(channel_);
}

std::string ServiceTest::Token(const std::string& sub,
                               std::vector<std::string> roles) {
  crypto::TokenSigner::Claims c;
  c.issuer = kTestIssuer;
  c.subject = sub;
  c.audience = "carelog";
  c.roles = std::move(roles);
  c.issued_at = absl::Now();
  c.ttl = absl::Minutes(10);
  auto t = signer_->Mint(c);
  EXPECT_THAT(t, IsOk());
  return t.ok() ? *t : "";
}

void ServiceTest::Prepare(grpc::ClientContext* ctx, const Caller& who,
                          absl::Duration deadline) {
  ctx->AddMetadata("authorization", "Bearer " + Token(who.sub, {who.role}));
  ctx->AddMetadata("x-carelog-purpose", who.purpose);
  if (!who.reason.empty())
    ctx->AddMetadata("x-carelog-reason", who.reason);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
}

v1::RegisterPatientRequest ServiceTest::SampleRegistration(
    const std::string& command_id) {
  v1::RegisterPatientRequest r;
  r.set_command_id(command_id);
  auto* d = r.mutable_demographics();
  d->set_given_name("Synthia");
  d->set_family_name("Testperson");
  d->mutable_date_of_birth()->set_year(1980);
  d->mutable_date_of_birth()->set_month(2);
  d->mutable_date_of_birth()->set_day(29);
  d->set_gender(v1::ADMINISTRATIVE_GENDER_FEMALE);
  r.mutable_contact()->set_phone("+1-555-0100");
  r.set_preferred_language("es-MX");
  return r;
}

std::string ServiceTest::RegisterPatient(
    const v1::RegisterPatientRequest& request, uint64_t* position,
    const Caller& who) {
  grpc::ClientContext ctx;
  Prepare(&ctx, who);
  v1::RegisterPatientReply reply;
  const grpc::Status s = patients_->RegisterPatient(&ctx, request, &reply);
  EXPECT_TRUE(s.ok()) << s.error_message();
  if (position != nullptr)
    *position = reply.result().position();
  return reply.patient_id();
}

std::vector<services::DecodedEvent> ServiceTest::StreamEvents(
    const std::string& stream) {
  std::vector<services::DecodedEvent> out;
  auto page = server_->ledger()->ReadStream(stream, 0, 1000);
  EXPECT_THAT(page, IsOk());
  if (!page.ok())
    return out;
  for (const auto& e : page->events) {
    auto d = services::DecodeEvent(*server_->ledger(), e);
    EXPECT_THAT(d, IsOk());
    if (d.ok())
      out.push_back(std::move(*d));
  }
  return out;
}

}  // namespace carelog::testing
