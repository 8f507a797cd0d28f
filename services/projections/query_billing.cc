// QueryService reads over the billing view: accounts (resource "billing"),
// instalments due and overdue across patients, and financial assistance
// cases (resource "financial_assistance"). A financial counselor is
// "assigned" to a patient whose assistance case they counsel.
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

#include "services/domain/validate.h"
#include "services/projections/billing_view.h"
#include "services/projections/query_service.h"

namespace carelog::services::projections {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

namespace {

constexpr char kResourceBilling[] = "billing";
constexpr char kResourceAssistance[] = "financial_assistance";

// Whether `actor` counsels one of `patient_id`'s assistance cases.
absl::StatusOr<bool> CounselsPatient(const QueryCore& core,
                                     const std::string& actor,
                                     const std::string& patient_id) {
  if (!CheckId(actor, "actor").ok())
    return false;  // not a staff id: never a counselor of record
  return core.AnyKey(kBillingView,
                     absl::StrCat("ic/", actor, "/", patient_id, "/"));
}

int DaysBetween(const std::string& from, const std::string& to) {
  absl::Time a, b;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%d", from, absl::UTCTimeZone(), &a, &err) ||
      !absl::ParseTime("%Y-%m-%d", to, absl::UTCTimeZone(), &b, &err))
    return 0;
  return static_cast<int>((b - a) / absl::Hours(24));
}

// Sets the query-time fields: overdue when not paid and due before `today`.
void MarkOverdue(const std::string& today, InstalmentRecord* r) {
  const std::string due = DayOf(r->due_date());
  if (r->state() == INSTALMENT_STATE_PAID || due >= today)
    return;
  r->set_overdue(true);
  r->set_days_overdue(DaysBetween(due, today));
}

// The plan `plan_id` (unqualified) with its query-time fields.
absl::StatusOr<std::pair<std::string, PaymentPlanRecord>> ReadPlan(
    const QueryCore& core, const std::string& plan_id,
    const std::string& today) {
  auto plan = core.ReadEntity<PaymentPlanRecord>(kBillingView,
                                                 BillingView::PlanId(plan_id));
  if (!plan.ok())
    return plan.status();
  int overdue = 0;
  for (auto& r : *plan->second.mutable_instalments()) {
    MarkOverdue(today, &r);
    overdue += r.overdue() ? 1 : 0;
  }
  plan->second.set_overdue_instalments(overdue);
  return plan;
}

template <typename Keep>
void KeepLines(BillingAccountRecord* r, Keep keep) {
  auto* lines = r->mutable_lines();
  int out = 0;
  for (int i = 0; i < lines->size(); ++i) {
    if (keep(lines->Get(i)))
      lines->SwapElements(out++, i);
  }
  while (lines->size() > out)
    lines->RemoveLast();
}

}  // namespace

void ApplyBillingMasks(const std::vector<std::string>& masked_fields,
                       BillingAccountRecord* r) {
  for (const std::string& f : masked_fields) {
    if (f == "charges") {
      KeepLines(r, [](const BillingLine& l) {
        return l.kind() != BILLING_LINE_KIND_CHARGE;
      });
      r->clear_charged_minor();
      r->clear_charge_count();
    } else if (f == "payments") {
      // Plans and their instalments are a schedule of payments.
      KeepLines(r, [](const BillingLine& l) {
        return l.kind() != BILLING_LINE_KIND_PAYMENT &&
               l.kind() != BILLING_LINE_KIND_REFUND;
      });
      r->clear_paid_minor();
      r->clear_refunded_minor();
      r->clear_payment_count();
      r->clear_plan_ids();
      r->clear_plans();
    } else if (f == "balance") {
      KeepLines(r, [](const BillingLine& l) {
        return l.kind() != BILLING_LINE_KIND_ADJUSTMENT;
      });
      r->clear_balance_minor();
      r->clear_adjusted_minor();
      for (auto& p : *r->mutable_plans()) {
        p.clear_paid_minor();
        p.clear_outstanding_minor();
      }
    } else if (f == "service_codes") {
      for (auto& l : *r->mutable_lines())
        l.clear_service_code();
    }
    r->add_masked_fields(f);
  }
}

void ApplyAssistanceMasks(const std::vector<std::string>& masked_fields,
                          AssistanceCaseRecord* r) {
  for (const std::string& f : masked_fields) {
    if (f == "application_status") {
      r->clear_status();
      r->clear_denial_reason();
      r->clear_decided_at_micros();
    } else if (f == "household_size") {
      r->clear_household_size();
    } else if (f == "household_income") {
      r->clear_annual_income();
    } else if (f == "documents") {
      r->clear_notes();
    } else if (f == "award") {
      r->clear_discount();
      r->clear_adjustment_id();
    }
    r->add_masked_fields(f);
  }
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetBillingAccount(
    grpc::CallbackServerContext* call, const GetBillingAccountRequest* req,
    BillingAccountRecord* reply) {
  if (auto s = CheckId(req->patient_id(), "patient_id"); !s.ok())
    return Reject(call, s);
  return core_.RunRead(
      call, "/carelog.v1.QueryService/GetBillingAccount", kBillingView,
      req->min_position(), [this, req, reply](CommandScope& scope) {
        const std::string& pid = req->patient_id();
        ReadDecisions decisions(&core_, &scope);
        auto assigned = CounselsPatient(core_, decisions.actor(), pid);
        if (!assigned.ok())
          return assigned.status();
        // Decided before the lookup: existence is no side channel.
        auto masks = decisions.Decide(kResourceBilling, pid, *assigned);
        if (!masks.ok())
          return masks.status();
        auto acct = core_.ReadEntity<BillingAccountRecord>(
            kBillingView, BillingView::AccountId(pid));
        if (absl::IsNotFound(acct.status()))
          return absl::NotFoundError(
              absl::StrCat("no billing account for patient ", pid));
        if (!acct.ok())
          return acct.status();
        BillingAccountRecord& rec = acct->second;
        const std::string today = TodayUtc();
        for (const auto& id : rec.plan_ids()) {
          auto plan = ReadPlan(core_, id, today);
          if (absl::IsNotFound(plan.status()))
            continue;
          if (!plan.ok())
            return plan.status();
          *rec.add_plans() = std::move(plan->second);
        }
        ApplyBillingMasks(*masks, &rec);
        *reply = std::move(rec);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListBillingAccounts(
    grpc::CallbackServerContext* call, const ListBillingAccountsRequest* req,
    BillingAccountPage* reply) {
  std::string prefix;
  switch (req->filter()) {
    case ListBillingAccountsRequest::FILTER_UNSPECIFIED:
      prefix = "ba/";
      break;
    case ListBillingAccountsRequest::FILTER_OUTSTANDING:
      prefix = "bo/";
      break;
    case ListBillingAccountsRequest::FILTER_CREDIT:
      prefix = "bc/";
      break;
    default:
      return Reject(call, absl::InvalidArgumentError("filter: unknown"));
  }
  return core_.RunRead(
      call, "/carelog.v1.QueryService/ListBillingAccounts", kBillingView,
      req->min_position(), [this, req, reply, prefix](CommandScope& scope) {
        ReadDecisions decisions(&core_, &scope);
        auto emit = [&](const std::string& key) -> absl::Status {
          const std::string pid = EntityView::IdOfKey(key);
          auto acct = core_.ReadEntity<BillingAccountRecord>(
              kBillingView, BillingView::AccountId(pid));
          if (absl::IsNotFound(acct.status()))
            return absl::OkStatus();  // erased meanwhile
          if (!acct.ok())
            return acct.status();
          auto assigned = CounselsPatient(core_, decisions.actor(), pid);
          if (!assigned.ok())
            return assigned.status();
          auto masks = decisions.Decide(kResourceBilling, pid, *assigned);
          if (!masks.ok())
            return absl::OkStatus();  // left out; the denial is audited
          // The balance filters would disclose a masked balance.
          if (req->filter() != ListBillingAccountsRequest::FILTER_UNSPECIFIED &&
              Masked(*masks, "balance"))
            return absl::OkStatus();
          BillingAccountRecord& rec = acct->second;
          rec.clear_lines();
          rec.clear_plan_ids();
          ApplyBillingMasks(*masks, &rec);
          *reply->add_accounts() = std::move(rec);
          return absl::OkStatus();
        };
        return core_.ListKeys(kBillingView, {prefix, "", ""}, req->page_size(),
                              req->page_token(), emit,
                              reply->mutable_next_page_token());
      });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListInstalments(
    grpc::CallbackServerContext* call, const ListInstalmentsRequest* req,
    InstalmentPage* reply) {
  if (auto s = CheckOptionalDay(req->due_until(), "due_until"); !s.ok())
    return Reject(call, s);
  const std::string today = TodayUtc();
  KeyRange range{"iu/", "", ""};
  switch (req->filter()) {
    case ListInstalmentsRequest::FILTER_UNSPECIFIED:
    case ListInstalmentsRequest::FILTER_OVERDUE:
      range.stop_at = absl::StrCat("iu/", today);
      break;
    case ListInstalmentsRequest::FILTER_DUE:
      range.first_after = absl::StrCat("iu/", today);
      if (!req->due_until().empty()) {
        auto next = DayAfter(req->due_until(), "due_until");
        if (!next.ok())
          return Reject(call, next.status());
        range.stop_at = absl::StrCat("iu/", *next);
      }
      break;
    default:
      return Reject(call, absl::InvalidArgumentError("filter: unknown"));
  }
  return core_.RunRead(
      call, "/carelog.v1.QueryService/ListInstalments", kBillingView,
      req->min_position(),
      [this, req, reply, range, today](CommandScope& scope) {
        ReadDecisions decisions(&core_, &scope);
        std::map<std::string, std::pair<std::string, PaymentPlanRecord>> plans;
        auto emit = [&](const std::string& key) -> absl::Status {
          std::string plan_id;
          int index = 0;
          if (!BillingView::ParseInstalmentKey(key, &plan_id, &index))
            return absl::DataLossError(
                "billing view: malformed instalment key");
          auto it = plans.find(plan_id);
          if (it == plans.end()) {
            auto plan = ReadPlan(core_, plan_id, today);
            if (absl::IsNotFound(plan.status()))
              return absl::OkStatus();
            if (!plan.ok())
              return plan.status();
            it = plans.emplace(plan_id, std::move(*plan)).first;
          }
          const std::string& pid = it->second.first;
          const PaymentPlanRecord& plan = it->second.second;
          if (index < 0 || index >= plan.instalments_size())
            return absl::DataLossError(
                absl::StrCat("billing view: instalment of plan ", plan_id));
          auto assigned = CounselsPatient(core_, decisions.actor(), pid);
          if (!assigned.ok())
            return assigned.status();
          auto masks = decisions.Decide(kResourceBilling, pid, *assigned);
          // Instalments are payments: masked payments leave the row out.
          if (!masks.ok() || Masked(*masks, "payments"))
            return absl::OkStatus();
          InstalmentRecord* r = reply->add_instalments();
          *r = plan.instalments(index);
          for (const auto& f : *masks)
            r->add_masked_fields(f);
          return absl::OkStatus();
        };
        return core_.ListKeys(kBillingView, range, req->page_size(),
                              req->page_token(), emit,
                              reply->mutable_next_page_token());
      });
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetAssistanceCase(
    grpc::CallbackServerContext* call, const GetAssistanceCaseRequest* req,
    AssistanceCaseRecord* reply) {
  if (auto s = CheckId(req->case_id(), "case_id"); !s.ok())
    return Reject(call, s);
  return core_.RunRead(
      call, "/carelog.v1.QueryService/GetAssistanceCase", kBillingView,
      req->min_position(), [this, req, reply](CommandScope& scope) {
        // Case ids are random: an unknown one is NOT_FOUND without a
        // decision (there is no patient to decide about).
        auto c = core_.ReadEntity<AssistanceCaseRecord>(
            kBillingView, BillingView::CaseId(req->case_id()));
        if (!c.ok())
          return c.status();
        ReadDecisions decisions(&core_, &scope);
        auto masks =
            decisions.Decide(kResourceAssistance, c->first,
                             c->second.counselor_id() == decisions.actor());
        if (!masks.ok())
          return masks.status();
        ApplyAssistanceMasks(*masks, &c->second);
        *reply = std::move(c->second);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListAssistanceCases(
    grpc::CallbackServerContext* call, const ListAssistanceCasesRequest* req,
    AssistanceCasePage* reply) {
  std::string prefix;
  absl::Status bad =
      FirstError({CheckId(req->patient_id(), "patient_id", false),
                  CheckId(req->counselor_id(), "counselor_id", false),
                  KnownEnum(AssistanceStatus_IsValid(req->status()),
                            req->status(), "status")});
  switch (req->filter()) {
    case ListAssistanceCasesRequest::FILTER_UNSPECIFIED:
      prefix =
          absl::StrCat("cs/", static_cast<int>(ASSISTANCE_STATUS_APPLIED), "/");
      break;
    case ListAssistanceCasesRequest::FILTER_STATUS:
      prefix = absl::StrCat("cs/", static_cast<int>(req->status()), "/");
      break;
    case ListAssistanceCasesRequest::FILTER_PATIENT:
      if (bad.ok())
        bad = CheckId(req->patient_id(), "patient_id");
      prefix =
          absl::StrCat("s/", req->patient_id(), "/", BillingView::CaseId(""));
      break;
    case ListAssistanceCasesRequest::FILTER_COUNSELOR:
      if (bad.ok())
        bad = CheckId(req->counselor_id(), "counselor_id");
      prefix = absl::StrCat("ic/", req->counselor_id(), "/");
      break;
    default:
      if (bad.ok())
        bad = absl::InvalidArgumentError("filter: unknown");
  }
  if (!bad.ok())
    return Reject(call, bad);
  const bool by_status =
      req->filter() == ListAssistanceCasesRequest::FILTER_UNSPECIFIED ||
      req->filter() == ListAssistanceCasesRequest::FILTER_STATUS;
  return core_.RunRead(
      call, "/carelog.v1.QueryService/ListAssistanceCases", kBillingView,
      req->min_position(),
      [this, req, reply, prefix, by_status](CommandScope& scope) {
        ReadDecisions decisions(&core_, &scope);
        auto emit = [&](const std::string& key) -> absl::Status {
          std::string id = EntityView::IdOfKey(key);
          if (!absl::StartsWith(id, BillingView::CaseId("")))
            id = BillingView::CaseId(id);
          auto c = core_.ReadEntity<AssistanceCaseRecord>(kBillingView, id);
          if (absl::IsNotFound(c.status()))
            return absl::OkStatus();
          if (!c.ok())
            return c.status();
          auto masks =
              decisions.Decide(kResourceAssistance, c->first,
                               c->second.counselor_id() == decisions.actor());
          if (!masks.ok())
            return absl::OkStatus();
          if (by_status && Masked(*masks, "application_status"))
            return absl::OkStatus();
          ApplyAssistanceMasks(*masks, &c->second);
          *reply->add_cases() = std::move(c->second);
          return absl::OkStatus();
        };
        return core_.ListKeys(kBillingView, {prefix, "", ""}, req->page_size(),
                              req->page_token(), emit,
                              reply->mutable_next_page_token());
      });
}

}  // namespace carelog::services::projections
