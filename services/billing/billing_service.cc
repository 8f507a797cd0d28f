#include "services/billing/billing_service.h"

#include <functional>
#include <vector>

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

constexpr char kBilling[] = "billing";
constexpr char kAssistance[] = "financial_assistance";
constexpr char kWrite[] = "write";
constexpr char kService[] = "carelog.v1.BillingService/";

// The expected version of a stream loaded at `version` (0: it does not exist
// yet).
ExpectedVersion Expect(uint64_t version) {
  return version == 0 ? ExpectedVersion::NoStream()
                      : ExpectedVersion::Exact(version);
}

// A Reply that fills the result and, from the first body of type T, the id.
template <typename T>
CommandRunner::Reply ReplyWithId(BillingCommandReply* reply,
                                 std::function<std::string(const T&)> id) {
  return [reply, id = std::move(id)](
             const storage::AppendResult& r,
             const std::vector<google::protobuf::Any>& bodies) {
    FillCommandResult(r, reply->mutable_result());
    if (!id)
      return;
    for (const auto& b : bodies) {
      T ev;
      if (b.UnpackTo(&ev)) {
        reply->set_id(id(ev));
        return;
      }
    }
  };
}

}  // namespace

BillingServiceImpl::BillingServiceImpl(CommandRunner* runner)
    : runner_(runner),
      patients_(runner->ledger(), FoldPatient),
      accounts_(runner->ledger(), FoldAccount),
      plans_(runner->ledger(), FoldPlan),
      cases_(runner->ledger(), FoldAssistance) {}

absl::Status BillingServiceImpl::AuthorizeWrite(CommandScope& scope,
                                                const std::string& patient_id,
                                                const char* resource,
                                                bool assigned,
                                                bool self_may_act) {
  auto p = patients_.Load(PatientStream(patient_id));
  if (!p.ok())
    return p.status();
  PatientFacts facts = PatientFactsFor(p->state, scope.ctx().actor);
  facts.is_assigned = assigned;
  if (!self_may_act)
    facts.is_self = false;
  // Authorize before revealing whether the patient exists.
  RETURN_IF_ERROR(scope.Authorize(resource, kWrite, patient_id, facts));
  return RequireExists(p->state, patient_id);
}

grpc::ServerUnaryReactor* BillingServiceImpl::PostCharge(
    grpc::CallbackServerContext* ctx, const PostChargeRequest* req,
    BillingCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, std::string(kService) + "PostCharge", req->command_id(),
      *req, [req] { return ValidatePostCharge(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        const std::string& pid = req->patient_id();
        RETURN_IF_ERROR(AuthorizeWrite(scope, pid, kBilling, false, true));
        auto a = accounts_.Load(AccountStream(pid));
        if (!a.ok())
          return a.status();
        auto ev = DecidePostCharge(a->state, *req, NewId("chg-"));
        if (!ev.ok())
          return ev.status();
        scope.Append(AccountStream(pid), Expect(a->version), *ev, pid);
        return absl::OkStatus();
      },
      ReplyWithId<ChargePosted>(
          reply, [](const ChargePosted& e) { return e.charge_id(); }));
  return reactor;
}

grpc::ServerUnaryReactor* BillingServiceImpl::RecordPayment(
    grpc::CallbackServerContext* ctx, const RecordPaymentRequest* req,
    BillingCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, std::string(kService) + "RecordPayment", req->command_id(),
      *req, [req] { return ValidateRecordPayment(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        const std::string& pid = req->patient_id();
        RETURN_IF_ERROR(AuthorizeWrite(scope, pid, kBilling, false, true));
        auto a = accounts_.Load(AccountStream(pid));
        if (!a.ok())
          return a.status();
        auto ev = DecideRecordPayment(a->state, *req, NewId("pay-"));
        if (!ev.ok())
          return ev.status();
        scope.Append(AccountStream(pid), Expect(a->version), *ev, pid);
        return absl::OkStatus();
      },
      ReplyWithId<PaymentRecorded>(
          reply, [](const PaymentRecorded& e) { return e.payment_id(); }));
  return reactor;
}

grpc::ServerUnaryReactor* BillingServiceImpl::RecordRefund(
    grpc::CallbackServerContext* ctx, const RecordRefundRequest* req,
    BillingCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, std::string(kService) + "RecordRefund", req->command_id(),
      *req, [req] { return ValidateRecordRefund(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        const std::string& pid = req->patient_id();
        RETURN_IF_ERROR(AuthorizeWrite(scope, pid, kBilling, false, true));
        auto a = accounts_.Load(AccountStream(pid));
        if (!a.ok())
          return a.status();
        auto ev = DecideRecordRefund(a->state, *req, NewId("ref-"));
        if (!ev.ok())
          return ev.status();
        scope.Append(AccountStream(pid), Expect(a->version), *ev, pid);
        return absl::OkStatus();
      },
      ReplyWithId<RefundRecorded>(
          reply, [](const RefundRecorded& e) { return e.refund_id(); }));
  return reactor;
}

grpc::ServerUnaryReactor* BillingServiceImpl::CreatePaymentPlan(
    grpc::CallbackServerContext* ctx, const CreatePaymentPlanRequest* req,
    BillingCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, std::string(kService) + "CreatePaymentPlan",
      req->command_id(), *req,
      [req] { return ValidateCreatePaymentPlan(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        const std::string& pid = req->patient_id();
        RETURN_IF_ERROR(AuthorizeWrite(scope, pid, kBilling, false, true));
        auto a = accounts_.Load(AccountStream(pid));
        if (!a.ok())
          return a.status();
        const std::string plan_id = NewId("plan-");
        auto ev = DecideCreatePaymentPlan(a->state, *req, plan_id);
        if (!ev.ok())
          return ev.status();
        // The plan and the account's record of it commit together.
        scope.Append(PlanStream(plan_id), ExpectedVersion::NoStream(), *ev,
                     pid);
        scope.Append(AccountStream(pid), Expect(a->version), *ev, pid);
        return absl::OkStatus();
      },
      ReplyWithId<PaymentPlanCreated>(
          reply, [](const PaymentPlanCreated& e) { return e.plan_id(); }));
  return reactor;
}

grpc::ServerUnaryReactor* BillingServiceImpl::RecordInstalmentPaid(
    grpc::CallbackServerContext* ctx, const RecordInstalmentPaidRequest* req,
    BillingCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, std::string(kService) + "RecordInstalmentPaid",
      req->command_id(), *req,
      [req] { return ValidateRecordInstalmentPaid(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        const std::string& pid = req->patient_id();
        RETURN_IF_ERROR(AuthorizeWrite(scope, pid, kBilling, false, true));
        auto p = plans_.Load(PlanStream(req->plan_id()));
        if (!p.ok())
          return p.status();
        auto a = accounts_.Load(AccountStream(pid));
        if (!a.ok())
          return a.status();
        auto out =
            DecideRecordInstalmentPaid(a->state, p->state, *req, NewId("pay-"));
        if (!out.ok())
          return out.status();
        // Both streams at the versions decided on: a concurrent payment of the
        // same instalment conflicts and is decided again on fresh state.
        scope.Append(PlanStream(req->plan_id()),
                     ExpectedVersion::Exact(p->version), out->plan_event, pid);
        scope.Append(AccountStream(pid), ExpectedVersion::Exact(a->version),
                     out->account_event, pid);
        return absl::OkStatus();
      },
      ReplyWithId<InstalmentPaid>(
          reply, [](const InstalmentPaid& e) { return e.payment_id(); }));
  return reactor;
}

grpc::ServerUnaryReactor* BillingServiceImpl::RecordInstalmentMissed(
    grpc::CallbackServerContext* ctx, const RecordInstalmentMissedRequest* req,
    BillingCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, std::string(kService) + "RecordInstalmentMissed",
      req->command_id(), *req,
      [req] { return ValidateRecordInstalmentMissed(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        const std::string& pid = req->patient_id();
        RETURN_IF_ERROR(AuthorizeWrite(scope, pid, kBilling, false, true));
        auto p = plans_.Load(PlanStream(req->plan_id()));
        if (!p.ok())
          return p.status();
        auto ev = DecideRecordInstalmentMissed(p->state, *req);
        if (!ev.ok())
          return ev.status();
        scope.Append(PlanStream(req->plan_id()),
                     ExpectedVersion::Exact(p->version), *ev, pid);
        return absl::OkStatus();
      },
      ReplyWithId<InstalmentMissed>(reply, nullptr));
  return reactor;
}

grpc::ServerUnaryReactor* BillingServiceImpl::ApplyForAssistance(
    grpc::CallbackServerContext* ctx, const ApplyForAssistanceRequest* req,
    BillingCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, std::string(kService) + "ApplyForAssistance",
      req->command_id(), *req,
      [req] { return ValidateApplyForAssistance(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        const std::string& pid = req->patient_id();
        // A counselor may open a case only as its assignee; the patient may
        // apply for themself (relationship self).
        RETURN_IF_ERROR(AuthorizeWrite(scope, pid, kAssistance,
                                       req->counselor_id() == scope.ctx().actor,
                                       true));
        const std::string case_id = NewId("fa-");
        scope.Append(AssistanceStream(case_id), ExpectedVersion::NoStream(),
                     DecideApplyForAssistance(*req, case_id), pid);
        return absl::OkStatus();
      },
      ReplyWithId<FinancialAssistanceApplied>(
          reply,
          [](const FinancialAssistanceApplied& e) { return e.case_id(); }));
  return reactor;
}

grpc::ServerUnaryReactor* BillingServiceImpl::ApproveAssistance(
    grpc::CallbackServerContext* ctx, const ApproveAssistanceRequest* req,
    BillingCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, std::string(kService) + "ApproveAssistance",
      req->command_id(), *req,
      [req] { return ValidateApproveAssistance(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        const std::string& pid = req->patient_id();
        auto c = cases_.Load(AssistanceStream(req->case_id()));
        if (!c.ok())
          return c.status();
        const bool assigned = c->state.exists && c->state.patient_id == pid &&
                              c->state.counselor_id == scope.ctx().actor;
        // Deciding a case is staff work: being the patient is no basis for it.
        RETURN_IF_ERROR(
            AuthorizeWrite(scope, pid, kAssistance, assigned, false));
        auto a = accounts_.Load(AccountStream(pid));
        if (!a.ok())
          return a.status();
        auto out =
            DecideApproveAssistance(a->state, c->state, *req, NewId("adj-"));
        if (!out.ok())
          return out.status();
        scope.Append(AssistanceStream(req->case_id()),
                     ExpectedVersion::Exact(c->version), out->case_event, pid);
        scope.Append(AccountStream(pid), ExpectedVersion::Exact(a->version),
                     out->account_event, pid);
        return absl::OkStatus();
      },
      ReplyWithId<FinancialAssistanceApproved>(
          reply, [](const FinancialAssistanceApproved& e) {
            return e.adjustment_id();
          }));
  return reactor;
}

grpc::ServerUnaryReactor* BillingServiceImpl::DenyAssistance(
    grpc::CallbackServerContext* ctx, const DenyAssistanceRequest* req,
    BillingCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, std::string(kService) + "DenyAssistance", req->command_id(),
      *req, [req] { return ValidateDenyAssistance(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        const std::string& pid = req->patient_id();
        auto c = cases_.Load(AssistanceStream(req->case_id()));
        if (!c.ok())
          return c.status();
        const bool assigned = c->state.exists && c->state.patient_id == pid &&
                              c->state.counselor_id == scope.ctx().actor;
        // Deciding a case is staff work: being the patient is no basis for it.
        RETURN_IF_ERROR(
            AuthorizeWrite(scope, pid, kAssistance, assigned, false));
        auto ev = DecideDenyAssistance(c->state, *req);
        if (!ev.ok())
          return ev.status();
        scope.Append(AssistanceStream(req->case_id()),
                     ExpectedVersion::Exact(c->version), *ev, pid);
        return absl::OkStatus();
      },
      ReplyWithId<FinancialAssistanceDenied>(reply, nullptr));
  return reactor;
}

}  // namespace carelog::services
