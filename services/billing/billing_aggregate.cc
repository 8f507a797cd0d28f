#include "services/billing/billing_aggregate.h"

#include "absl/strings/str_cat.h"

#include "services/domain/validate.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace): event
                              // names read better unqualified

#define RETURN_IF_ERROR(expr) \
  do {                        \
    absl::Status _s = (expr); \
    if (!_s.ok())             \
      return _s;              \
  } while (0)

namespace {

absl::Status CheckAmount(const Money& m, const std::string& field,
                         bool positive) {
  RETURN_IF_ERROR(CheckMoney(m, field, positive));
  if (m.amount_minor() > kMaxAmountMinor) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".amount_minor: more than ", kMaxAmountMinor));
  }
  return absl::OkStatus();
}

// Amounts must be in the account's currency (an account never mixes them).
absl::Status RequireCurrency(const AccountState& a, const Money& m,
                             const std::string& field) {
  if (!a.currency.empty() && m.currency() != a.currency) {
    return absl::FailedPreconditionError(absl::StrCat(
        field, ".currency: differs from the account currency ", a.currency));
  }
  return absl::OkStatus();
}

absl::Status RequireAccount(const AccountState& a,
                            const std::string& patient_id) {
  if (!a.exists)
    return absl::NotFoundError(
        absl::StrCat("no billing account for patient ", patient_id));
  return absl::OkStatus();
}

absl::Status RequirePlan(const PlanState& p, const std::string& patient_id,
                         const std::string& plan_id) {
  // A plan of another patient is reported as missing: ids are not a way to
  // probe.
  if (!p.exists || p.patient_id != patient_id) {
    return absl::NotFoundError(absl::StrCat(
        "payment plan ", plan_id, " not found for patient ", patient_id));
  }
  return absl::OkStatus();
}

absl::Status RequireInstalment(const PlanState& p, int index) {
  if (index < 0 || static_cast<size_t>(index) >= p.instalments.size()) {
    return absl::NotFoundError(
        absl::StrCat("instalment ", index, " not found in plan ", p.plan_id));
  }
  return absl::OkStatus();
}

absl::Status RequireCase(const AssistanceState& c,
                         const std::string& patient_id,
                         const std::string& case_id) {
  if (!c.exists || c.patient_id != patient_id) {
    return absl::NotFoundError(absl::StrCat(
        "assistance case ", case_id, " not found for patient ", patient_id));
  }
  return absl::OkStatus();
}

absl::Status RequireApplied(const AssistanceState& c) {
  if (c.status != ASSISTANCE_STATUS_APPLIED) {
    return absl::FailedPreconditionError(
        absl::StrCat("assistance case ", c.case_id, " is ",
                     AssistanceStatus_Name(c.status), ", not APPLIED"));
  }
  return absl::OkStatus();
}

}  // namespace

int64_t AccountState::unplanned_balance() const {
  int64_t planned = 0;
  for (const auto& [id, outstanding] : plan_outstanding)
    planned += outstanding;
  return balance() - planned;
}

absl::Status FoldAccount(AccountState* s, const DecodedEvent& e) {
  if (ChargePosted ev; e.As(&ev)) {
    s->exists = true;
    s->patient_id = ev.patient_id();
    if (s->currency.empty())
      s->currency = ev.amount().currency();
    s->charged += ev.amount().amount_minor();
    ++s->charges;
  } else if (PaymentRecorded ev; e.As(&ev)) {
    s->paid += ev.amount().amount_minor();
    s->refundable[ev.payment_id()] = ev.amount().amount_minor();
    if (!ev.plan_id().empty()) {
      auto it = s->plan_outstanding.find(ev.plan_id());
      if (it != s->plan_outstanding.end()) {
        it->second -= ev.amount().amount_minor();
        if (it->second <= 0)
          s->plan_outstanding.erase(it);
      }
    }
  } else if (RefundRecorded ev; e.As(&ev)) {
    s->refunded += ev.amount().amount_minor();
    s->refundable[ev.payment_id()] -= ev.amount().amount_minor();
  } else if (AdjustmentApplied ev; e.As(&ev)) {
    s->adjusted += ev.amount().amount_minor();
  } else if (PaymentPlanCreated ev; e.As(&ev)) {
    s->plan_outstanding[ev.plan_id()] = ev.amount().amount_minor();
  } else {
    return absl::DataLossError(absl::StrCat(
        "account aggregate cannot apply event type ", e.header.event_type));
  }
  return absl::OkStatus();
}

absl::Status FoldPlan(PlanState* s, const DecodedEvent& e) {
  if (PaymentPlanCreated ev; e.As(&ev)) {
    s->exists = true;
    s->patient_id = ev.patient_id();
    s->plan_id = ev.plan_id();
    s->amount = ev.amount();
    s->instalments.clear();
    for (const auto& i : ev.instalments())
      s->instalments.push_back(InstalmentStatus{i, INSTALMENT_STATE_DUE});
    s->closed = false;
  } else if (InstalmentPaid ev; e.As(&ev)) {
    RETURN_IF_ERROR(RequireInstalment(*s, ev.instalment_index()));
    s->instalments[ev.instalment_index()].state = INSTALMENT_STATE_PAID;
    s->closed = ev.plan_closed();
  } else if (InstalmentMissed ev; e.As(&ev)) {
    RETURN_IF_ERROR(RequireInstalment(*s, ev.instalment_index()));
    s->instalments[ev.instalment_index()].state = INSTALMENT_STATE_MISSED;
  } else {
    return absl::DataLossError(absl::StrCat(
        "plan aggregate cannot apply event type ", e.header.event_type));
  }
  return absl::OkStatus();
}

absl::Status FoldAssistance(AssistanceState* s, const DecodedEvent& e) {
  if (FinancialAssistanceApplied ev; e.As(&ev)) {
    s->exists = true;
    s->patient_id = ev.patient_id();
    s->case_id = ev.case_id();
    s->counselor_id = ev.counselor_id();
    s->status = ASSISTANCE_STATUS_APPLIED;
  } else if (FinancialAssistanceApproved ev; e.As(&ev)) {
    s->status = ASSISTANCE_STATUS_APPROVED;
  } else if (FinancialAssistanceDenied ev; e.As(&ev)) {
    s->status = ASSISTANCE_STATUS_DENIED;
  } else {
    return absl::DataLossError(absl::StrCat(
        "assistance aggregate cannot apply event type ", e.header.event_type));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- validation

absl::Status ValidatePostCharge(const PostChargeRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckAmount(r.amount(), "amount", true));
  RETURN_IF_ERROR(CheckId(r.service_code(), "service_code"));
  RETURN_IF_ERROR(CheckDate(r.date_of_service(), "date_of_service", true));
  RETURN_IF_ERROR(
      CheckText(r.description(), "description", kMaxShortTextBytes, false));
  return CheckId(r.appointment_id(), "appointment_id", false);
}

absl::Status ValidateRecordPayment(const RecordPaymentRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckAmount(r.amount(), "amount", true));
  RETURN_IF_ERROR(
      CheckEnum(PaymentMethod_IsValid(r.method()), r.method(), "method"));
  return CheckText(r.reference(), "reference", kMaxIdBytes, false);
}

absl::Status ValidateRecordRefund(const RecordRefundRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckId(r.payment_id(), "payment_id"));
  RETURN_IF_ERROR(CheckAmount(r.amount(), "amount", true));
  return CheckText(r.reason(), "reason", kMaxShortTextBytes, true);
}

absl::Status ValidateCreatePaymentPlan(const CreatePaymentPlanRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckAmount(r.amount(), "amount", true));
  if (r.instalments_size() == 0)
    return absl::InvalidArgumentError("instalments: required");
  if (r.instalments_size() > kMaxInstalments) {
    return absl::InvalidArgumentError(
        absl::StrCat("instalments: at most ", kMaxInstalments));
  }
  int64_t sum = 0;
  for (int i = 0; i < r.instalments_size(); ++i) {
    const Instalment& in = r.instalments(i);
    const std::string f = absl::StrCat("instalments[", i, "]");
    RETURN_IF_ERROR(CheckDate(in.due_date(), f + ".due_date", true));
    if (i > 0 &&
        CompareDates(in.due_date(), r.instalments(i - 1).due_date()) <= 0) {
      return absl::InvalidArgumentError(
          f + ".due_date: not after the previous instalment's due date");
    }
    RETURN_IF_ERROR(CheckAmount(in.amount(), f + ".amount", true));
    if (in.amount().currency() != r.amount().currency()) {
      return absl::InvalidArgumentError(
          f + ".amount.currency: differs from amount.currency");
    }
    sum += in.amount().amount_minor();  // ≤ 120 × 10^12: no overflow
  }
  if (sum != r.amount().amount_minor()) {
    return absl::InvalidArgumentError(
        "instalments: amounts do not sum exactly to amount");
  }
  return absl::OkStatus();
}

absl::Status ValidateRecordInstalmentPaid(
    const RecordInstalmentPaidRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckId(r.plan_id(), "plan_id"));
  if (r.instalment_index() < 0 || r.instalment_index() >= kMaxInstalments) {
    return absl::InvalidArgumentError(absl::StrCat(
        "instalment_index: out of range 0..", kMaxInstalments - 1));
  }
  RETURN_IF_ERROR(
      CheckEnum(PaymentMethod_IsValid(r.method()), r.method(), "method"));
  return CheckText(r.reference(), "reference", kMaxIdBytes, false);
}

absl::Status ValidateRecordInstalmentMissed(
    const RecordInstalmentMissedRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckId(r.plan_id(), "plan_id"));
  if (r.instalment_index() < 0 || r.instalment_index() >= kMaxInstalments) {
    return absl::InvalidArgumentError(absl::StrCat(
        "instalment_index: out of range 0..", kMaxInstalments - 1));
  }
  return absl::OkStatus();
}

absl::Status ValidateApplyForAssistance(const ApplyForAssistanceRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  if (r.household_size() < 1 || r.household_size() > kMaxHouseholdSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("household_size: out of range 1..", kMaxHouseholdSize));
  }
  RETURN_IF_ERROR(CheckAmount(r.annual_income(), "annual_income", false));
  RETURN_IF_ERROR(CheckId(r.counselor_id(), "counselor_id"));
  return CheckText(r.notes(), "notes", kMaxLongTextBytes, false);
}

absl::Status ValidateApproveAssistance(const ApproveAssistanceRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckId(r.case_id(), "case_id"));
  return CheckAmount(r.discount(), "discount", true);
}

absl::Status ValidateDenyAssistance(const DenyAssistanceRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckId(r.case_id(), "case_id"));
  return CheckText(r.reason(), "reason", kMaxShortTextBytes, true);
}

// ---------------------------------------------------------------- decisions

absl::StatusOr<ChargePosted> DecidePostCharge(const AccountState& a,
                                              const PostChargeRequest& r,
                                              const std::string& charge_id) {
  RETURN_IF_ERROR(RequireCurrency(a, r.amount(), "amount"));
  if (a.charged + r.amount().amount_minor() > kMaxAmountMinor * 1000) {
    return absl::FailedPreconditionError(
        "account total charges would exceed the supported maximum");
  }
  ChargePosted ev;
  ev.set_patient_id(r.patient_id());
  ev.set_charge_id(charge_id);
  *ev.mutable_amount() = r.amount();
  ev.set_service_code(r.service_code());
  *ev.mutable_date_of_service() = r.date_of_service();
  ev.set_description(r.description());
  ev.set_appointment_id(r.appointment_id());
  return ev;
}

absl::StatusOr<PaymentRecorded> DecideRecordPayment(
    const AccountState& a, const RecordPaymentRequest& r,
    const std::string& payment_id) {
  RETURN_IF_ERROR(RequireAccount(a, r.patient_id()));
  RETURN_IF_ERROR(RequireCurrency(a, r.amount(), "amount"));
  PaymentRecorded ev;
  ev.set_patient_id(r.patient_id());
  ev.set_payment_id(payment_id);
  *ev.mutable_amount() = r.amount();
  ev.set_method(r.method());
  ev.set_reference(r.reference());
  return ev;
}

absl::StatusOr<RefundRecorded> DecideRecordRefund(
    const AccountState& a, const RecordRefundRequest& r,
    const std::string& refund_id) {
  RETURN_IF_ERROR(RequireAccount(a, r.patient_id()));
  auto it = a.refundable.find(r.payment_id());
  if (it == a.refundable.end()) {
    return absl::NotFoundError(absl::StrCat(
        "payment ", r.payment_id(), " not found for patient ", r.patient_id()));
  }
  RETURN_IF_ERROR(RequireCurrency(a, r.amount(), "amount"));
  if (r.amount().amount_minor() > it->second) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refund is more than what remains of payment ", r.payment_id()));
  }
  RefundRecorded ev;
  ev.set_patient_id(r.patient_id());
  ev.set_refund_id(refund_id);
  ev.set_payment_id(r.payment_id());
  *ev.mutable_amount() = r.amount();
  ev.set_reason(r.reason());
  return ev;
}

absl::StatusOr<PaymentPlanCreated> DecideCreatePaymentPlan(
    const AccountState& a, const CreatePaymentPlanRequest& r,
    const std::string& plan_id) {
  RETURN_IF_ERROR(RequireAccount(a, r.patient_id()));
  RETURN_IF_ERROR(RequireCurrency(a, r.amount(), "amount"));
  if (r.amount().amount_minor() > a.unplanned_balance()) {
    return absl::FailedPreconditionError(
        "plan amount is more than the account balance not already under a "
        "payment plan");
  }
  PaymentPlanCreated ev;
  ev.set_patient_id(r.patient_id());
  ev.set_plan_id(plan_id);
  *ev.mutable_amount() = r.amount();
  *ev.mutable_instalments() = r.instalments();
  return ev;
}

absl::StatusOr<InstalmentPayment> DecideRecordInstalmentPaid(
    const AccountState& a, const PlanState& p,
    const RecordInstalmentPaidRequest& r, const std::string& payment_id) {
  RETURN_IF_ERROR(RequirePlan(p, r.patient_id(), r.plan_id()));
  RETURN_IF_ERROR(RequireAccount(a, r.patient_id()));
  if (p.closed)
    return absl::FailedPreconditionError(
        absl::StrCat("payment plan ", r.plan_id(), " is closed"));
  RETURN_IF_ERROR(RequireInstalment(p, r.instalment_index()));
  const InstalmentStatus& in = p.instalments[r.instalment_index()];
  if (in.state == INSTALMENT_STATE_PAID) {
    return absl::FailedPreconditionError(
        absl::StrCat("instalment ", r.instalment_index(), " of plan ",
                     r.plan_id(), " is already paid"));
  }
  bool last = true;
  for (size_t i = 0; i < p.instalments.size(); ++i) {
    if (static_cast<int>(i) != r.instalment_index() &&
        p.instalments[i].state != INSTALMENT_STATE_PAID)
      last = false;
  }
  InstalmentPayment out;
  out.plan_event.set_patient_id(r.patient_id());
  out.plan_event.set_plan_id(r.plan_id());
  out.plan_event.set_instalment_index(r.instalment_index());
  out.plan_event.set_payment_id(payment_id);
  out.plan_event.set_plan_closed(last);
  out.account_event.set_patient_id(r.patient_id());
  out.account_event.set_payment_id(payment_id);
  *out.account_event.mutable_amount() = in.instalment.amount();
  out.account_event.set_method(r.method());
  out.account_event.set_reference(r.reference());
  out.account_event.set_plan_id(r.plan_id());
  out.account_event.set_instalment_index(r.instalment_index());
  return out;
}

absl::StatusOr<InstalmentMissed> DecideRecordInstalmentMissed(
    const PlanState& p, const RecordInstalmentMissedRequest& r) {
  RETURN_IF_ERROR(RequirePlan(p, r.patient_id(), r.plan_id()));
  if (p.closed)
    return absl::FailedPreconditionError(
        absl::StrCat("payment plan ", r.plan_id(), " is closed"));
  RETURN_IF_ERROR(RequireInstalment(p, r.instalment_index()));
  const InstalmentState st = p.instalments[r.instalment_index()].state;
  if (st != INSTALMENT_STATE_DUE) {
    return absl::FailedPreconditionError(absl::StrCat(
        "instalment ", r.instalment_index(), " of plan ", r.plan_id(), " is ",
        InstalmentState_Name(st), ", not DUE"));
  }
  InstalmentMissed ev;
  ev.set_patient_id(r.patient_id());
  ev.set_plan_id(r.plan_id());
  ev.set_instalment_index(r.instalment_index());
  return ev;
}

FinancialAssistanceApplied DecideApplyForAssistance(
    const ApplyForAssistanceRequest& r, const std::string& case_id) {
  FinancialAssistanceApplied ev;
  ev.set_patient_id(r.patient_id());
  ev.set_case_id(case_id);
  ev.set_household_size(r.household_size());
  *ev.mutable_annual_income() = r.annual_income();
  ev.set_counselor_id(r.counselor_id());
  ev.set_notes(r.notes());
  return ev;
}

absl::StatusOr<AssistanceApproval> DecideApproveAssistance(
    const AccountState& a, const AssistanceState& c,
    const ApproveAssistanceRequest& r, const std::string& adjustment_id) {
  RETURN_IF_ERROR(RequireCase(c, r.patient_id(), r.case_id()));
  RETURN_IF_ERROR(RequireApplied(c));
  RETURN_IF_ERROR(RequireAccount(a, r.patient_id()));
  RETURN_IF_ERROR(RequireCurrency(a, r.discount(), "discount"));
  if (r.discount().amount_minor() > a.balance()) {
    return absl::FailedPreconditionError(
        "discount is more than the account balance");
  }
  AssistanceApproval out;
  out.case_event.set_patient_id(r.patient_id());
  out.case_event.set_case_id(r.case_id());
  *out.case_event.mutable_discount() = r.discount();
  out.case_event.set_adjustment_id(adjustment_id);
  out.account_event.set_patient_id(r.patient_id());
  out.account_event.set_adjustment_id(adjustment_id);
  *out.account_event.mutable_amount() = r.discount();
  out.account_event.set_reason("financial assistance");
  out.account_event.set_assistance_case_id(r.case_id());
  return out;
}

absl::StatusOr<FinancialAssistanceDenied> DecideDenyAssistance(
    const AssistanceState& c, const DenyAssistanceRequest& r) {
  RETURN_IF_ERROR(RequireCase(c, r.patient_id(), r.case_id()));
  RETURN_IF_ERROR(RequireApplied(c));
  FinancialAssistanceDenied ev;
  ev.set_patient_id(r.patient_id());
  ev.set_case_id(r.case_id());
  ev.set_reason(r.reason());
  return ev;
}

}  // namespace carelog::services
