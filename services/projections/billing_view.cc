#include "services/projections/billing_view.h"

#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

#include "carelog/v1/billing.pb.h"

namespace carelog::services::projections {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

namespace {

absl::Status SamePatient(const std::string& named, const std::string& subject,
                         const std::string& what) {
  if (named != subject)
    return absl::DataLossError(
        absl::StrCat(what, " names another patient than its event's subject"));
  return absl::OkStatus();
}

absl::Status Unknown(const DecodedEvent& e) {
  return absl::DataLossError(absl::StrCat("billing view cannot apply ",
                                          e.header.event_type, " on ",
                                          e.header.stream_id));
}

BillingLine* NewLine(const DecodedEvent& e, BillingLineKind kind,
                     const std::string& id, const Money& amount,
                     BillingAccountRecord* rec) {
  BillingLine* l = rec->add_lines();
  l->set_kind(kind);
  l->set_id(id);
  *l->mutable_amount() = amount;
  l->set_recorded_at_micros(e.header.recorded_at_micros);
  l->set_position(e.header.position);
  return l;
}

std::string InstalmentKey(const std::string& plan_id, int index,
                          const Date& due) {
  return absl::StrFormat("iu/%s/%s/%04d", DayOf(due), plan_id, index);
}

}  // namespace

std::string BillingView::Unqualified(const std::string& entity_id) {
  const size_t at = entity_id.find('@');
  return at == std::string::npos ? "" : entity_id.substr(at + 1);
}

bool BillingView::ParseInstalmentKey(const std::string& key,
                                     std::string* plan_id, int* index) {
  std::vector<std::string> parts = absl::StrSplit(key, '/');
  if (parts.size() != 4 || parts[0] != "iu")
    return false;
  *plan_id = parts[2];
  return absl::SimpleAtoi(parts[3], index);
}

bool BillingView::Wants(const storage::EventHeader& h) const {
  return absl::StartsWith(h.stream_id, "billing/") ||
         absl::StartsWith(h.stream_id, "plan/") ||
         absl::StartsWith(h.stream_id, "assistance/");
}

absl::Status BillingView::Apply(const DecodedEvent& e, ViewTxn& txn) {
  // PaymentPlanCreated, InstalmentPaid and the assistance decision come with
  // a companion event on the account stream: each stream's event updates its
  // own entity only.
  if (absl::StartsWith(e.header.stream_id, "billing/"))
    return ApplyAccount(e, txn);
  if (absl::StartsWith(e.header.stream_id, "plan/"))
    return ApplyPlan(e, txn);
  return ApplyCase(e, txn);
}

absl::Status BillingView::ApplyAccount(const DecodedEvent& e, ViewTxn& txn) {
  const std::string& patient = e.header.subject_id;
  const std::string id = AccountId(patient);
  BillingAccountRecord rec;
  auto found = LoadAs(txn, id, &rec);
  if (!found.ok())
    return found.status();
  if (!*found) {
    rec.set_patient_id(patient);
    rec.set_opened_at_micros(e.header.recorded_at_micros);
  }
  std::string named;
  if (ChargePosted ev; e.As(&ev)) {
    named = ev.patient_id();
    if (rec.currency().empty())
      rec.set_currency(ev.amount().currency());
    rec.set_charged_minor(rec.charged_minor() + ev.amount().amount_minor());
    rec.set_charge_count(rec.charge_count() + 1);
    BillingLine* l =
        NewLine(e, BILLING_LINE_KIND_CHARGE, ev.charge_id(), ev.amount(), &rec);
    l->set_service_code(ev.service_code());
    *l->mutable_date_of_service() = ev.date_of_service();
    l->set_description(ev.description());
    l->set_appointment_id(ev.appointment_id());
  } else if (PaymentRecorded ev; e.As(&ev)) {
    named = ev.patient_id();
    rec.set_paid_minor(rec.paid_minor() + ev.amount().amount_minor());
    rec.set_payment_count(rec.payment_count() + 1);
    BillingLine* l = NewLine(e, BILLING_LINE_KIND_PAYMENT, ev.payment_id(),
                             ev.amount(), &rec);
    l->set_method(ev.method());
    l->set_reference(ev.reference());
    l->set_related_id(ev.plan_id());
    l->set_instalment_index(ev.instalment_index());
  } else if (RefundRecorded ev; e.As(&ev)) {
    named = ev.patient_id();
    rec.set_refunded_minor(rec.refunded_minor() + ev.amount().amount_minor());
    BillingLine* l =
        NewLine(e, BILLING_LINE_KIND_REFUND, ev.refund_id(), ev.amount(), &rec);
    l->set_related_id(ev.payment_id());
    l->set_reason(ev.reason());
  } else if (AdjustmentApplied ev; e.As(&ev)) {
    named = ev.patient_id();
    rec.set_adjusted_minor(rec.adjusted_minor() + ev.amount().amount_minor());
    BillingLine* l = NewLine(e, BILLING_LINE_KIND_ADJUSTMENT,
                             ev.adjustment_id(), ev.amount(), &rec);
    l->set_related_id(ev.assistance_case_id());
    l->set_reason(ev.reason());
  } else if (PaymentPlanCreated ev; e.As(&ev)) {
    named = ev.patient_id();
    bool known = false;
    for (const auto& p : rec.plan_ids())
      known = known || p == ev.plan_id();
    if (!known)
      rec.add_plan_ids(ev.plan_id());
  } else {
    return Unknown(e);
  }
  if (auto s = SamePatient(named, patient, "billing event"); !s.ok())
    return s;
  rec.set_balance_minor(rec.charged_minor() - rec.paid_minor() +
                        rec.refunded_minor() - rec.adjusted_minor());
  rec.set_last_position(e.header.position);
  std::set<std::string> keys{absl::StrCat("ba/", patient)};
  if (rec.balance_minor() > 0)
    keys.insert(absl::StrCat("bo/", patient));
  if (rec.balance_minor() < 0)
    keys.insert(absl::StrCat("bc/", patient));
  return Save(txn, id, patient, DeterministicBytes(rec), keys);
}

absl::Status BillingView::ApplyPlan(const DecodedEvent& e, ViewTxn& txn) {
  const std::string& patient = e.header.subject_id;
  PaymentPlanRecord rec;
  std::string named, plan_id;
  if (PaymentPlanCreated ev; e.As(&ev)) {
    named = ev.patient_id();
    plan_id = ev.plan_id();
    rec.set_plan_id(plan_id);
    rec.set_patient_id(ev.patient_id());
    *rec.mutable_amount() = ev.amount();
    rec.set_created_at_micros(e.header.recorded_at_micros);
    for (int i = 0; i < ev.instalments_size(); ++i) {
      InstalmentRecord* r = rec.add_instalments();
      r->set_patient_id(ev.patient_id());
      r->set_plan_id(plan_id);
      r->set_index(i);
      *r->mutable_due_date() = ev.instalments(i).due_date();
      *r->mutable_amount() = ev.instalments(i).amount();
      r->set_state(INSTALMENT_STATE_DUE);
    }
  } else {
    InstalmentPaid paid;
    InstalmentMissed missed;
    int index = 0;
    if (e.As(&paid)) {
      named = paid.patient_id();
      plan_id = paid.plan_id();
      index = paid.instalment_index();
    } else if (e.As(&missed)) {
      named = missed.patient_id();
      plan_id = missed.plan_id();
      index = missed.instalment_index();
    } else {
      return Unknown(e);
    }
    auto found = LoadAs(txn, PlanId(plan_id), &rec);
    if (!found.ok())
      return found.status();
    if (!*found)
      return absl::FailedPreconditionError(
          absl::StrCat("payment plan ", plan_id, " is not in the view"));
    if (index < 0 || index >= rec.instalments_size())
      return absl::DataLossError(
          absl::StrCat("instalment ", index, " not in payment plan ", plan_id));
    InstalmentRecord* r = rec.mutable_instalments(index);
    if (e.As(&paid)) {
      r->set_state(INSTALMENT_STATE_PAID);
      r->set_payment_id(paid.payment_id());
      rec.set_closed(paid.plan_closed());
    } else {
      r->set_state(INSTALMENT_STATE_MISSED);
    }
  }
  if (auto s = SamePatient(named, patient, "payment plan event"); !s.ok())
    return s;
  int64_t paid_minor = 0;
  std::set<std::string> keys;
  for (const auto& r : rec.instalments()) {
    if (r.state() == INSTALMENT_STATE_PAID)
      paid_minor += r.amount().amount_minor();
    else
      keys.insert(InstalmentKey(plan_id, r.index(), r.due_date()));
  }
  rec.set_paid_minor(paid_minor);
  rec.set_outstanding_minor(rec.amount().amount_minor() - paid_minor);
  rec.set_last_position(e.header.position);
  return Save(txn, PlanId(plan_id), patient, DeterministicBytes(rec), keys);
}

absl::Status BillingView::ApplyCase(const DecodedEvent& e, ViewTxn& txn) {
  const std::string& patient = e.header.subject_id;
  AssistanceCaseRecord rec;
  std::string named, case_id;
  if (FinancialAssistanceApplied ev; e.As(&ev)) {
    named = ev.patient_id();
    case_id = ev.case_id();
    rec.set_case_id(case_id);
    rec.set_patient_id(ev.patient_id());
    rec.set_status(ASSISTANCE_STATUS_APPLIED);
    rec.set_household_size(ev.household_size());
    *rec.mutable_annual_income() = ev.annual_income();
    rec.set_counselor_id(ev.counselor_id());
    rec.set_notes(ev.notes());
    rec.set_applied_at_micros(e.header.recorded_at_micros);
  } else {
    FinancialAssistanceApproved approved;
    FinancialAssistanceDenied denied;
    if (e.As(&approved)) {
      named = approved.patient_id();
      case_id = approved.case_id();
    } else if (e.As(&denied)) {
      named = denied.patient_id();
      case_id = denied.case_id();
    } else {
      return Unknown(e);
    }
    auto found = LoadAs(txn, CaseId(case_id), &rec);
    if (!found.ok())
      return found.status();
    if (!*found)
      return absl::FailedPreconditionError(
          absl::StrCat("assistance case ", case_id, " is not in the view"));
    rec.set_decided_at_micros(e.header.recorded_at_micros);
    if (e.As(&approved)) {
      rec.set_status(ASSISTANCE_STATUS_APPROVED);
      *rec.mutable_discount() = approved.discount();
      rec.set_adjustment_id(approved.adjustment_id());
    } else {
      rec.set_status(ASSISTANCE_STATUS_DENIED);
      rec.set_denial_reason(denied.reason());
    }
  }
  if (auto s = SamePatient(named, patient, "assistance event"); !s.ok())
    return s;
  rec.set_last_position(e.header.position);
  std::set<std::string> keys{absl::StrCat("cs/", static_cast<int>(rec.status()),
                                          "/", TimeKey(rec.applied_at_micros()),
                                          "/", case_id)};
  if (!rec.counselor_id().empty())
    keys.insert(
        absl::StrCat("ic/", rec.counselor_id(), "/", patient, "/", case_id));
  return Save(txn, CaseId(case_id), patient, DeterministicBytes(rec), keys);
}

}  // namespace carelog::services::projections
