#include "services/logistics/logistics_service.h"

#include <vector>

#include "absl/strings/str_cat.h"

#include "services/domain/validate.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)
using storage::ExpectedVersion;

#define RETURN_IF_ERROR(expr) \
  do {                        \
    absl::Status _s = (expr); \
    if (!_s.ok())             \
      return _s;              \
  } while (0)

namespace {

constexpr char kLogistics[] = "logistics";
constexpr char kWrite[] = "write";

CommandRunner::Reply ReplyWithId(LogisticsCommandReply* reply) {
  return [reply](const storage::AppendResult& r,
                 const std::vector<google::protobuf::Any>& bodies) {
    FillCommandResult(r, reply->mutable_result());
    for (const auto& b : bodies) {
      TransportationRequested t;
      LodgingRequested l;
      if (b.UnpackTo(&t)) {
        reply->set_arrangement_id(t.arrangement_id());
      } else if (b.UnpackTo(&l)) {
        reply->set_arrangement_id(l.arrangement_id());
      }
    }
  };
}

}  // namespace

LogisticsServiceImpl::LogisticsServiceImpl(CommandRunner* runner)
    : runner_(runner),
      patients_(runner->ledger(), FoldPatient),
      arrangements_(runner->ledger(), FoldArrangement) {}

absl::Status LogisticsServiceImpl::AuthorizeWrite(CommandScope& scope,
                                                  const std::string& patient_id,
                                                  bool self_may_act) {
  auto p = patients_.Load(PatientStream(patient_id));
  if (!p.ok())
    return p.status();
  PatientFacts facts = PatientFactsFor(p->state, scope.ctx().actor);
  if (!self_may_act)
    facts.is_self = false;
  // Authorize before revealing whether the patient exists.
  RETURN_IF_ERROR(scope.Authorize(kLogistics, kWrite, patient_id, facts));
  return RequireExists(p->state, patient_id);
}

grpc::ServerUnaryReactor* LogisticsServiceImpl::RequestTransportation(
    grpc::CallbackServerContext* ctx, const RequestTransportationRequest* req,
    LogisticsCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.LogisticsService/RequestTransportation",
      req->command_id(), *req,
      [req] { return ValidateRequestTransportation(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        RETURN_IF_ERROR(AuthorizeWrite(scope, req->patient_id(), true));
        const std::string id = NewId("trn-");
        scope.Append(ArrangementStream(id), ExpectedVersion::NoStream(),
                     DecideRequestTransportation(*req, id), req->patient_id());
        return absl::OkStatus();
      },
      ReplyWithId(reply));
  return reactor;
}

grpc::ServerUnaryReactor* LogisticsServiceImpl::RequestLodging(
    grpc::CallbackServerContext* ctx, const RequestLodgingRequest* req,
    LogisticsCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.LogisticsService/RequestLodging",
      req->command_id(), *req, [req] { return ValidateRequestLodging(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        RETURN_IF_ERROR(AuthorizeWrite(scope, req->patient_id(), true));
        const std::string id = NewId("lodg-");
        scope.Append(ArrangementStream(id), ExpectedVersion::NoStream(),
                     DecideRequestLodging(*req, id), req->patient_id());
        return absl::OkStatus();
      },
      ReplyWithId(reply));
  return reactor;
}

template <typename Req, typename Ev>
void LogisticsServiceImpl::Transition(
    grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
    const char* method, const Req* req, LogisticsCommandReply* reply,
    absl::Status (*validate)(const Req&),
    absl::StatusOr<Ev> (*decide)(const ArrangementState&, const Req&),
    bool self_may_act) {
  runner_->Execute(
      ctx, reactor, absl::StrCat("carelog.v1.LogisticsService/", method),
      req->command_id(), *req, [req, validate] { return validate(*req); },
      [this, req, decide, self_may_act](CommandScope& scope) -> absl::Status {
        RETURN_IF_ERROR(AuthorizeWrite(scope, req->patient_id(), self_may_act));
        auto a = arrangements_.Load(ArrangementStream(req->arrangement_id()));
        if (!a.ok())
          return a.status();
        auto ev = decide(a->state, *req);
        if (!ev.ok())
          return ev.status();
        scope.Append(ArrangementStream(req->arrangement_id()),
                     ExpectedVersion::Exact(a->version), *ev,
                     req->patient_id());
        return absl::OkStatus();
      },
      [reply, req](const storage::AppendResult& r,
                   const std::vector<google::protobuf::Any>&) {
        FillCommandResult(r, reply->mutable_result());
        reply->set_arrangement_id(req->arrangement_id());
      });
}

grpc::ServerUnaryReactor* LogisticsServiceImpl::ArrangeLogistics(
    grpc::CallbackServerContext* ctx, const ArrangeLogisticsRequest* req,
    LogisticsCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  Transition(ctx, reactor, "ArrangeLogistics", req, reply,
             &ValidateArrangeLogistics, &DecideArrangeLogistics, false);
  return reactor;
}

grpc::ServerUnaryReactor* LogisticsServiceImpl::ConfirmLogistics(
    grpc::CallbackServerContext* ctx, const ConfirmLogisticsRequest* req,
    LogisticsCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  Transition(ctx, reactor, "ConfirmLogistics", req, reply,
             &ValidateConfirmLogistics, &DecideConfirmLogistics, false);
  return reactor;
}

grpc::ServerUnaryReactor* LogisticsServiceImpl::CancelLogistics(
    grpc::CallbackServerContext* ctx, const CancelLogisticsRequest* req,
    LogisticsCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  Transition(ctx, reactor, "CancelLogistics", req, reply,
             &ValidateCancelLogistics, &DecideCancelLogistics, true);
  return reactor;
}

grpc::ServerUnaryReactor* LogisticsServiceImpl::CompleteLogistics(
    grpc::CallbackServerContext* ctx, const CompleteLogisticsRequest* req,
    LogisticsCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  Transition(ctx, reactor, "CompleteLogistics", req, reply,
             &ValidateCompleteLogistics, &DecideCompleteLogistics, false);
  return reactor;
}

}  // namespace carelog::services
