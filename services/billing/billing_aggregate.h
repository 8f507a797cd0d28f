// services/billing/billing_aggregate.h — the billing aggregates and the rules
// their commands check, as pure functions (no I/O; thread-compatible):
//   account    billing/<patient_id>  charges, payments, refunds, adjustments,
//                                    balance; one currency per account;
//   plan       plan/<plan_id>        instalments due → paid | missed → paid;
//                                    closed once every instalment is paid;
//   assistance assistance/<case_id>  applied → approved | denied; assignee.
// Validate* return INVALID_ARGUMENT naming the field; Decide* take the loaded
// state(s) and a validated request and return the events to append, or
// FAILED_PRECONDITION / NOT_FOUND with the reason. Messages never echo
// amounts or free text.
#ifndef CARELOG_SERVICES_BILLING_BILLING_AGGREGATE_H_
#define CARELOG_SERVICES_BILLING_BILLING_AGGREGATE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "carelog/v1/billing.pb.h"
#include "services/domain/event_codec.h"

namespace carelog::services {

inline std::string AccountStream(const std::string& patient_id) {
  return "billing/" + patient_id;
}
inline std::string PlanStream(const std::string& plan_id) {
  return "plan/" + plan_id;
}
inline std::string AssistanceStream(const std::string& case_id) {
  return "assistance/" + case_id;
}

// Largest amount of one charge, payment, … (10^12 minor units): keeps every
// sum far from int64 overflow.
inline constexpr int64_t kMaxAmountMinor = 1'000'000'000'000;
inline constexpr int kMaxInstalments = 120;
inline constexpr int kMaxHouseholdSize = 50;

struct AccountState {
  bool exists = false;  // a charge was posted
  std::string patient_id;
  std::string currency;
  int64_t charged = 0;
  int64_t paid = 0;
  int64_t refunded = 0;
  int64_t adjusted = 0;
  std::map<std::string, int64_t>
      refundable;  // payment id → amount not yet refunded
  std::map<std::string, int64_t>
      plan_outstanding;  // open plan id → amount still to pay
  int charges = 0;

  // What the patient owes (negative: a credit).
  int64_t balance() const { return charged - paid + refunded - adjusted; }
  // The part of the balance not already covered by an open plan.
  int64_t unplanned_balance() const;
};

struct InstalmentStatus {
  carelog::v1::Instalment instalment;
  carelog::v1::InstalmentState state = carelog::v1::INSTALMENT_STATE_DUE;
};

struct PlanState {
  bool exists = false;
  std::string patient_id;
  std::string plan_id;
  carelog::v1::Money amount;
  std::vector<InstalmentStatus> instalments;
  bool closed = false;  // every instalment paid
};

struct AssistanceState {
  bool exists = false;
  std::string patient_id;
  std::string case_id;
  std::string counselor_id;  // the assignee
  carelog::v1::AssistanceStatus status =
      carelog::v1::ASSISTANCE_STATUS_UNSPECIFIED;
};

// Folds. Errors: DATA_LOSS for an event type the aggregate does not know.
absl::Status FoldAccount(AccountState* state, const DecodedEvent& event);
absl::Status FoldPlan(PlanState* state, const DecodedEvent& event);
absl::Status FoldAssistance(AssistanceState* state, const DecodedEvent& event);

// Request validation (INVALID_ARGUMENT naming the field).
absl::Status ValidatePostCharge(const carelog::v1::PostChargeRequest& r);
absl::Status ValidateRecordPayment(const carelog::v1::RecordPaymentRequest& r);
absl::Status ValidateRecordRefund(const carelog::v1::RecordRefundRequest& r);
// Also: 1..120 instalments, each positive in the plan's currency, due dates
// strictly increasing, amounts summing exactly to `amount`.
absl::Status ValidateCreatePaymentPlan(
    const carelog::v1::CreatePaymentPlanRequest& r);
absl::Status ValidateRecordInstalmentPaid(
    const carelog::v1::RecordInstalmentPaidRequest& r);
absl::Status ValidateRecordInstalmentMissed(
    const carelog::v1::RecordInstalmentMissedRequest& r);
absl::Status ValidateApplyForAssistance(
    const carelog::v1::ApplyForAssistanceRequest& r);
absl::Status ValidateApproveAssistance(
    const carelog::v1::ApproveAssistanceRequest& r);
absl::Status ValidateDenyAssistance(
    const carelog::v1::DenyAssistanceRequest& r);

// Decisions. Common errors: FAILED_PRECONDITION when an amount's currency
// differs from the account's.
// Opens the account with the first charge.
absl::StatusOr<carelog::v1::ChargePosted> DecidePostCharge(
    const AccountState& account, const carelog::v1::PostChargeRequest& r,
    const std::string& charge_id);
// NOT_FOUND without an account.
absl::StatusOr<carelog::v1::PaymentRecorded> DecideRecordPayment(
    const AccountState& account, const carelog::v1::RecordPaymentRequest& r,
    const std::string& payment_id);
// NOT_FOUND for an unknown payment; FAILED_PRECONDITION when the amount is
// more than what remains of the payment.
absl::StatusOr<carelog::v1::RefundRecorded> DecideRecordRefund(
    const AccountState& account, const carelog::v1::RecordRefundRequest& r,
    const std::string& refund_id);
// NOT_FOUND without an account; FAILED_PRECONDITION when the amount is more
// than the balance not already under an open plan. The event goes to both
// the plan and the account stream.
absl::StatusOr<carelog::v1::PaymentPlanCreated> DecideCreatePaymentPlan(
    const AccountState& account, const carelog::v1::CreatePaymentPlanRequest& r,
    const std::string& plan_id);

struct InstalmentPayment {
  carelog::v1::InstalmentPaid plan_event;      // plan/<plan_id>
  carelog::v1::PaymentRecorded account_event;  // billing/<patient_id>
};
// NOT_FOUND for an unknown plan (or one of another patient) or index;
// FAILED_PRECONDITION for a closed plan or an instalment already paid.
absl::StatusOr<InstalmentPayment> DecideRecordInstalmentPaid(
    const AccountState& account, const PlanState& plan,
    const carelog::v1::RecordInstalmentPaidRequest& r,
    const std::string& payment_id);
// NOT_FOUND as above; FAILED_PRECONDITION unless the instalment is due.
absl::StatusOr<carelog::v1::InstalmentMissed> DecideRecordInstalmentMissed(
    const PlanState& plan, const carelog::v1::RecordInstalmentMissedRequest& r);

carelog::v1::FinancialAssistanceApplied DecideApplyForAssistance(
    const carelog::v1::ApplyForAssistanceRequest& r,
    const std::string& case_id);

struct AssistanceApproval {
  carelog::v1::FinancialAssistanceApproved case_event;  // assistance/<case_id>
  carelog::v1::AdjustmentApplied account_event;         // billing/<patient_id>
};
// NOT_FOUND for an unknown case (or one of another patient) or a missing
// account; FAILED_PRECONDITION unless the case is applied, or when the
// discount exceeds the balance.
absl::StatusOr<AssistanceApproval> DecideApproveAssistance(
    const AccountState& account, const AssistanceState& assistance,
    const carelog::v1::ApproveAssistanceRequest& r,
    const std::string& adjustment_id);
// NOT_FOUND for an unknown case; FAILED_PRECONDITION unless it is applied.
absl::StatusOr<carelog::v1::FinancialAssistanceDenied> DecideDenyAssistance(
    const AssistanceState& assistance,
    const carelog::v1::DenyAssistanceRequest& r);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_BILLING_BILLING_AGGREGATE_H_
