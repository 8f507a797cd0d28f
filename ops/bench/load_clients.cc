#include "ops/bench/load_clients.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "crypto/jwt.h"
#include "services/server/server.h"

namespace carelog::bench {
namespace {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

constexpr char kClinician[] = "dr-bench";
constexpr absl::Duration kCallDeadline = absl::Seconds(30);

void Prepare(grpc::ClientContext* ctx, const std::string& token,
             const char* purpose) {
  ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  ctx->AddMetadata("x-carelog-purpose", purpose);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
}

// Per-call state: lives until the completion callback runs.
template <typename Req, typename Rep>
struct Call {
  grpc::ClientContext ctx;
  Req req;
  Rep reply;
};

// A well-spread per-call choice (Knuth multiplicative hash).
uint64_t Mix(int caller, uint64_t seq) {
  return (seq * 2654435761u) ^ (static_cast<uint64_t>(caller) * 40503u);
}

}  // namespace

std::string SyntheticBody(size_t bytes) {
  static constexpr char kText[] =
      "Synthetic benchmark message: please bring your insurance card and "
      "arrive fifteen minutes early for your follow-up visit. ";
  std::string out;
  while (out.size() < bytes)
    out += kText;
  out.resize(bytes);
  return out;
}

absl::StatusOr<BenchTokens> MintDevTokens(const std::string& carelog_data_dir) {
  const std::string path =
      absl::StrCat(carelog_data_dir, "/", services::kDevIssuerDir, "/",
                   services::kDevIssuerKeyFile);
  auto signer = crypto::TokenSigner::LoadPem(path, services::kDevIssuerKid);
  if (!signer.ok())
    return signer.status();
  auto mint = [&](const char* sub,
                  const char* role) -> absl::StatusOr<std::string> {
    crypto::TokenSigner::Claims c;
    c.issuer = services::kDevIssuer;
    c.subject = sub;
    c.audience = "carelog";
    c.roles = {role};
    c.issued_at = absl::Now();
    c.ttl = absl::Hours(4);
    return (*signer)->Mint(c);
  };
  auto fd = mint("fd-bench", "front_desk");
  if (!fd.ok())
    return fd.status();
  auto dr = mint(kClinician, "clinician");
  if (!dr.ok())
    return dr.status();
  return BenchTokens{*fd, *dr};
}

absl::StatusOr<std::unique_ptr<GrpcTarget>> GrpcTarget::Connect(
    const std::string& address, int connections, BenchTokens tokens,
    size_t payload_bytes) {
  std::unique_ptr<GrpcTarget> t(new GrpcTarget());
  t->tokens_ = std::move(tokens);
  t->body_ = SyntheticBody(payload_bytes);
  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < connections; ++i) {
    grpc::ChannelArguments args;
    // A channel of its own connection (not the shared subchannel pool).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto ch = grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), args);
    if (!ch->WaitForConnected(deadline))
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", address));
    t->messaging_.push_back(MessagingService::NewStub(ch));
    t->queries_.push_back(QueryService::NewStub(ch));
    t->patients_stub_.push_back(PatientService::NewStub(ch));
    t->channels_.push_back(std::move(ch));
  }
  return t;
}

absl::Status GrpcTarget::Setup(int patients, const std::string& run_tag) {
  auto& stub = *patients_stub_[0];
  for (int i = 0; i < patients; ++i) {
    RegisterPatientRequest r;
    r.set_command_id(absl::StrCat(run_tag, "-reg-", i));
    auto* d = r.mutable_demographics();
    d->set_given_name(absl::StrCat("Synthia", i));
    d->set_family_name("Benchperson");
    d->mutable_date_of_birth()->set_year(1950 + i % 60);
    d->mutable_date_of_birth()->set_month(1 + i % 12);
    d->mutable_date_of_birth()->set_day(1 + i % 28);
    d->set_gender(ADMINISTRATIVE_GENDER_FEMALE);
    RegisterPatientReply reply;
    grpc::ClientContext ctx;
    Prepare(&ctx, tokens_.front_desk, "HOPERAT");
    grpc::Status s = stub.RegisterPatient(&ctx, r, &reply);
    if (!s.ok())
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          absl::StrCat("RegisterPatient: ", s.error_message()));
    AssignCareTeamMemberRequest a;
    a.set_command_id(absl::StrCat(run_tag, "-team-", i));
    a.set_patient_id(reply.patient_id());
    a.set_member_id(kClinician);
    a.set_role(CARE_TEAM_ROLE_PRIMARY_CLINICIAN);
    PatientCommandReply a_reply;
    grpc::ClientContext a_ctx;
    Prepare(&a_ctx, tokens_.front_desk, "HOPERAT");
    s = stub.AssignCareTeamMember(&a_ctx, a, &a_reply);
    if (!s.ok())
      return absl::Status(
          static_cast<absl::StatusCode>(s.error_code()),
          absl::StrCat("AssignCareTeamMember: ", s.error_message()));
    patients_.push_back(reply.patient_id());
  }
  return absl::OkStatus();
}

void GrpcTarget::UseSyntheticPatients(int patients) {
  for (int i = 0; i < patients; ++i)
    patients_.push_back(absl::StrCat("pt-synthetic-", i));
}

const std::string& GrpcTarget::PatientFor(int caller, uint64_t seq) const {
  return patients_[Mix(caller, seq) % patients_.size()];
}

void GrpcTarget::StartAppend(int caller, uint64_t seq, const std::string& tag,
                             int cls, LoadDone done) const {
  auto* call = new Call<SendMessageRequest, SendMessageReply>();
  Prepare(&call->ctx, tokens_.clinician, "TREAT");
  SendMessageRequest& r = call->req;
  r.set_command_id(absl::StrCat(tag, "-", caller, "-", seq));
  r.set_patient_id(PatientFor(caller, seq));
  r.set_provider_id(kClinician);
  r.set_direction(MESSAGE_DIRECTION_TO_PATIENT);
  r.set_kind(MESSAGE_KIND_GENERAL);
  r.set_subject("Visit follow-up");
  r.set_body(body_);
  messaging_[caller % messaging_.size()]->async()->SendMessage(
      &call->ctx, &call->req, &call->reply,
      [call, cls, done = std::move(done)](grpc::Status s) {
        delete call;
        done(s.ok(), cls);
      });
}

void GrpcTarget::StartRead(int caller, uint64_t seq, int cls,
                           LoadDone done) const {
  auto* call = new Call<GetPatientRecordRequest, PatientRecord>();
  Prepare(&call->ctx, tokens_.front_desk, "HOPERAT");
  call->req.set_patient_id(PatientFor(caller, seq));
  queries_[caller % queries_.size()]->async()->GetPatientRecord(
      &call->ctx, &call->req, &call->reply,
      [call, cls, done = std::move(done)](grpc::Status s) {
        delete call;
        done(s.ok(), cls);
      });
}

LoadOp GrpcTarget::AppendOp(const std::string& point_tag) const {
  return [this, point_tag](int caller, uint64_t seq, LoadDone done) {
    StartAppend(caller, seq, point_tag, 0, std::move(done));
  };
}

LoadOp GrpcTarget::ReadOp() const {
  return [this](int caller, uint64_t seq, LoadDone done) {
    StartRead(caller, seq, 0, std::move(done));
  };
}

LoadOp GrpcTarget::MixedOp(const std::string& point_tag) const {
  return [this, point_tag](int caller, uint64_t seq, LoadDone done) {
    // A different hash from PatientFor's choice, so reads and writes spread
    // over all patients.
    if ((Mix(caller, seq) >> 7) % 10 < 8)
      StartRead(caller, seq, 0, std::move(done));
    else
      StartAppend(caller, seq, point_tag, 1, std::move(done));
  };
}

}  // namespace carelog::bench
