// Billing rules on the pure fold + decide functions: accounts, refunds, plans
// and their instalments, financial assistance — every allowed and every
// refused transition.
#include "services/billing/billing_aggregate.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"

namespace carelog::services {
namespace {

using ::carelog::testing::IsOk;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

template <typename T>
DecodedEvent Ev(const T& body) {
  DecodedEvent e;
  e.header.event_type = body.GetTypeName();
  e.body.PackFrom(body);
  return e;
}

template <typename State, typename Fold, typename T>
void Apply(State* s, Fold fold, const T& body) {
  ASSERT_THAT(fold(s, Ev(body)), IsOk());
}

Money Usd(int64_t minor) {
  Money m;
  m.set_amount_minor(minor);
  m.set_currency("USD");
  return m;
}

Date D(int y, int m, int d) {
  Date out;
  out.set_year(y);
  out.set_month(m);
  out.set_day(d);
  return out;
}

constexpr char kPatient[] = "pt-1";

PostChargeRequest Charge(int64_t minor) {
  PostChargeRequest r;
  r.set_command_id("c");
  r.set_patient_id(kPatient);
  *r.mutable_amount() = Usd(minor);
  r.set_service_code("99213");
  *r.mutable_date_of_service() = D(2026, 3, 1);
  return r;
}

// An account with `charged` posted and `paid` paid (payment id "pay-1").
AccountState Account(int64_t charged, int64_t paid = 0) {
  AccountState a;
  auto ch = DecidePostCharge(a, Charge(charged), "chg-1");
  EXPECT_THAT(ch, IsOk());
  EXPECT_TRUE(FoldAccount(&a, Ev(*ch)).ok());
  if (paid > 0) {
    RecordPaymentRequest p;
    p.set_patient_id(kPatient);
    *p.mutable_amount() = Usd(paid);
    p.set_method(PAYMENT_METHOD_CARD);
    auto ev = DecideRecordPayment(a, p, "pay-1");
    EXPECT_THAT(ev, IsOk());
    EXPECT_TRUE(FoldAccount(&a, Ev(*ev)).ok());
  }
  return a;
}

CreatePaymentPlanRequest PlanRequest(int64_t amount,
                                     std::vector<int64_t> parts) {
  CreatePaymentPlanRequest r;
  r.set_command_id("p");
  r.set_patient_id(kPatient);
  *r.mutable_amount() = Usd(amount);
  int month = 1;
  for (int64_t part : parts) {
    auto* i = r.add_instalments();
    *i->mutable_due_date() = D(2026, month++, 15);
    *i->mutable_amount() = Usd(part);
  }
  return r;
}

TEST(AccountTest, ChargesPaymentsRefundsAndAdjustmentsMakeTheBalance) {
  AccountState a = Account(10000, 3000);
  EXPECT_TRUE(a.exists);
  EXPECT_EQ(a.currency, "USD");
  EXPECT_EQ(a.balance(), 7000);
  RecordRefundRequest rf;
  rf.set_patient_id(kPatient);
  rf.set_payment_id("pay-1");
  *rf.mutable_amount() = Usd(1000);
  rf.set_reason("duplicate charge");
  auto ev = DecideRecordRefund(a, rf, "ref-1");
  ASSERT_THAT(ev, IsOk());
  Apply(&a, FoldAccount, *ev);
  EXPECT_EQ(a.balance(), 8000);
  AdjustmentApplied adj;
  *adj.mutable_amount() = Usd(500);
  Apply(&a, FoldAccount, adj);
  EXPECT_EQ(a.balance(), 7500);
}

TEST(AccountTest, OneCurrencyPerAccount) {
  AccountState a = Account(10000);
  PostChargeRequest eur = Charge(100);
  eur.mutable_amount()->set_currency("EUR");
  auto ch = DecidePostCharge(a, eur, "chg-2");
  EXPECT_EQ(ch.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ch.status().message(), HasSubstr("amount.currency"));
  RecordPaymentRequest p;
  p.set_patient_id(kPatient);
  *p.mutable_amount() = Usd(100);
  p.mutable_amount()->set_currency("EUR");
  p.set_method(PAYMENT_METHOD_CASH);
  EXPECT_EQ(DecideRecordPayment(a, p, "pay-2").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(AccountTest, PaymentWithoutAnAccountIsNotFound) {
  RecordPaymentRequest p;
  p.set_patient_id(kPatient);
  *p.mutable_amount() = Usd(100);
  p.set_method(PAYMENT_METHOD_CASH);
  EXPECT_EQ(DecideRecordPayment(AccountState{}, p, "pay-1").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(AccountTest, RefundIsLimitedToWhatRemainsOfThePayment) {
  struct Case {
    std::string name;
    std::string payment_id;
    int64_t already_refunded;
    int64_t amount;
    absl::StatusCode want;
  };
  const std::vector<Case> cases = {
      {"part of the payment", "pay-1", 0, 2000, absl::StatusCode::kOk},
      {"all of the payment", "pay-1", 0, 3000, absl::StatusCode::kOk},
      {"more than paid", "pay-1", 0, 3001,
       absl::StatusCode::kFailedPrecondition},
      {"the rest after a partial refund", "pay-1", 1000, 2000,
       absl::StatusCode::kOk},
      {"more than the rest", "pay-1", 1000, 2001,
       absl::StatusCode::kFailedPrecondition},
      {"unknown payment", "pay-404", 0, 1, absl::StatusCode::kNotFound},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    AccountState a = Account(10000, 3000);
    if (c.already_refunded > 0) {
      RefundRecorded prior;
      prior.set_payment_id("pay-1");
      *prior.mutable_amount() = Usd(c.already_refunded);
      Apply(&a, FoldAccount, prior);
    }
    RecordRefundRequest r;
    r.set_patient_id(kPatient);
    r.set_payment_id(c.payment_id);
    *r.mutable_amount() = Usd(c.amount);
    r.set_reason("overpayment");
    EXPECT_EQ(DecideRecordRefund(a, r, "ref-1").status().code(), c.want);
  }
}

TEST(PaymentPlanValidationTest, InstalmentsMustSumExactlyWithIncreasingDates) {
  struct Case {
    std::string name;
    CreatePaymentPlanRequest req;
    std::string field;  // empty: valid
  };
  std::vector<Case> cases = {
      {"valid", PlanRequest(9000, {3000, 3000, 3000}), ""},
      {"sum short by one", PlanRequest(9000, {3000, 3000, 2999}),
       "instalments:"},
      {"sum over by one", PlanRequest(9000, {3000, 3000, 3001}),
       "instalments:"},
      {"no instalments", PlanRequest(9000, {}), "instalments:"},
      {"zero instalment", PlanRequest(9000, {9000, 0}),
       "instalments[1].amount"},
      {"negative instalment", PlanRequest(9000, {10000, -1000}),
       "instalments[1].amount"},
      {"zero amount", PlanRequest(0, {}), "amount"},
  };
  cases.push_back({"same due date", PlanRequest(9000, {4500, 4500}),
                   "instalments[1].due_date"});
  *cases.back().req.mutable_instalments(1)->mutable_due_date() =
      cases.back().req.instalments(0).due_date();
  cases.push_back({"earlier due date", PlanRequest(9000, {4500, 4500}),
                   "instalments[1].due_date"});
  *cases.back().req.mutable_instalments(1)->mutable_due_date() =
      D(2025, 12, 31);
  cases.push_back({"invalid due date", PlanRequest(9000, {4500, 4500}),
                   "instalments[0].due_date"});
  *cases.back().req.mutable_instalments(0)->mutable_due_date() = D(2026, 2, 30);
  cases.push_back({"other currency", PlanRequest(9000, {4500, 4500}),
                   "instalments[1].amount.currency"});
  cases.back().req.mutable_instalments(1)->mutable_amount()->set_currency(
      "EUR");
  cases.push_back({"bad patient id", PlanRequest(9000, {9000}), "patient_id"});
  cases.back().req.set_patient_id("pt/1");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    absl::Status s = ValidateCreatePaymentPlan(c.req);
    if (c.field.empty()) {
      EXPECT_THAT(s, IsOk());
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(s.message(), HasSubstr(c.field));
    }
  }
}

TEST(PaymentPlanTest, PlanAmountIsLimitedToTheBalanceNotUnderAnotherPlan) {
  AccountState a = Account(10000, 1000);  // balance 9000
  EXPECT_EQ(DecideCreatePaymentPlan(a, PlanRequest(9001, {9001}), "plan-1")
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      DecideCreatePaymentPlan(AccountState{}, PlanRequest(100, {100}), "plan-1")
          .status()
          .code(),
      absl::StatusCode::kNotFound);
  auto plan =
      DecideCreatePaymentPlan(a, PlanRequest(6000, {3000, 3000}), "plan-1");
  ASSERT_THAT(plan, IsOk());
  Apply(&a, FoldAccount, *plan);
  EXPECT_EQ(a.unplanned_balance(), 3000);
  EXPECT_EQ(DecideCreatePaymentPlan(a, PlanRequest(3001, {3001}), "plan-2")
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(DecideCreatePaymentPlan(a, PlanRequest(3000, {3000}), "plan-2"),
              IsOk());
}

// A plan of three instalments in the given states (folded from events).
struct PlanFixture {
  AccountState account = Account(9000);
  PlanState plan;

  explicit PlanFixture(std::vector<InstalmentState> states) {
    auto created = DecideCreatePaymentPlan(
        account, PlanRequest(9000, {3000, 3000, 3000}), "plan-1");
    EXPECT_THAT(created, IsOk());
    EXPECT_TRUE(FoldAccount(&account, Ev(*created)).ok());
    EXPECT_TRUE(FoldPlan(&plan, Ev(*created)).ok());
    for (size_t i = 0; i < states.size(); ++i) {
      if (states[i] == INSTALMENT_STATE_MISSED)
        EXPECT_THAT(Missed(static_cast<int>(i)), IsOk());
    }
    for (size_t i = 0; i < states.size(); ++i) {
      if (states[i] == INSTALMENT_STATE_PAID)
        EXPECT_THAT(Paid(static_cast<int>(i)), IsOk());
    }
  }

  absl::Status Paid(int index) {
    RecordInstalmentPaidRequest r;
    r.set_patient_id(kPatient);
    r.set_plan_id("plan-1");
    r.set_instalment_index(index);
    r.set_method(PAYMENT_METHOD_CARD);
    auto out = DecideRecordInstalmentPaid(account, plan, r,
                                          "pay-" + std::to_string(index));
    if (!out.ok())
      return out.status();
    EXPECT_TRUE(FoldPlan(&plan, Ev(out->plan_event)).ok());
    EXPECT_TRUE(FoldAccount(&account, Ev(out->account_event)).ok());
    return absl::OkStatus();
  }

  absl::Status Missed(int index) {
    RecordInstalmentMissedRequest r;
    r.set_patient_id(kPatient);
    r.set_plan_id("plan-1");
    r.set_instalment_index(index);
    auto ev = DecideRecordInstalmentMissed(plan, r);
    if (!ev.ok())
      return ev.status();
    EXPECT_TRUE(FoldPlan(&plan, Ev(*ev)).ok());
    return absl::OkStatus();
  }
};

TEST(PaymentPlanTest, EveryInstalmentTransition) {
  struct Case {
    InstalmentState from;
    bool pay;  // else: miss
    absl::StatusCode want;
    InstalmentState to;
  };
  const std::vector<Case> cases = {
      {INSTALMENT_STATE_DUE, true, absl::StatusCode::kOk,
       INSTALMENT_STATE_PAID},
      {INSTALMENT_STATE_DUE, false, absl::StatusCode::kOk,
       INSTALMENT_STATE_MISSED},
      {INSTALMENT_STATE_MISSED, true, absl::StatusCode::kOk,
       INSTALMENT_STATE_PAID},  // paid late
      {INSTALMENT_STATE_MISSED, false, absl::StatusCode::kFailedPrecondition,
       INSTALMENT_STATE_MISSED},
      {INSTALMENT_STATE_PAID, true, absl::StatusCode::kFailedPrecondition,
       INSTALMENT_STATE_PAID},
      {INSTALMENT_STATE_PAID, false, absl::StatusCode::kFailedPrecondition,
       INSTALMENT_STATE_PAID},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(
        absl::StrCat(InstalmentState_Name(c.from), c.pay ? " pay" : " miss"));
    PlanFixture f({c.from, INSTALMENT_STATE_DUE, INSTALMENT_STATE_DUE});
    absl::Status s = c.pay ? f.Paid(0) : f.Missed(0);
    EXPECT_EQ(s.code(), c.want) << s;
    EXPECT_EQ(f.plan.instalments[0].state, c.to);
    EXPECT_FALSE(f.plan.closed);
  }
}

TEST(PaymentPlanTest,
     PayingTheLastInstalmentClosesThePlanAndAClosedPlanRefusesEverything) {
  PlanFixture f(
      {INSTALMENT_STATE_PAID, INSTALMENT_STATE_MISSED, INSTALMENT_STATE_DUE});
  EXPECT_FALSE(f.plan.closed);
  EXPECT_EQ(f.account.balance(), 6000);
  ASSERT_THAT(f.Paid(2), IsOk());
  EXPECT_FALSE(f.plan.closed);
  ASSERT_THAT(f.Paid(1), IsOk());
  EXPECT_TRUE(f.plan.closed);
  EXPECT_EQ(f.account.balance(), 0);
  EXPECT_TRUE(f.account.plan_outstanding.empty());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(f.Paid(i).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(f.Missed(i).code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(PaymentPlanTest, UnknownPlanOrInstalmentIsNotFound) {
  PlanFixture f({});
  EXPECT_EQ(f.Paid(3).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(f.Missed(3).code(), absl::StatusCode::kNotFound);
  RecordInstalmentPaidRequest r;
  r.set_patient_id("pt-other");
  r.set_plan_id("plan-1");
  r.set_method(PAYMENT_METHOD_CARD);
  EXPECT_EQ(
      DecideRecordInstalmentPaid(f.account, f.plan, r, "pay-x").status().code(),
      absl::StatusCode::kNotFound);
  r.set_patient_id(kPatient);
  EXPECT_EQ(DecideRecordInstalmentPaid(f.account, PlanState{}, r, "pay-x")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

AssistanceState Case(AssistanceStatus status) {
  AssistanceState c;
  ApplyForAssistanceRequest r;
  r.set_patient_id(kPatient);
  r.set_household_size(3);
  *r.mutable_annual_income() = Usd(2500000);
  r.set_counselor_id("fc-1");
  EXPECT_TRUE(FoldAssistance(&c, Ev(DecideApplyForAssistance(r, "fa-1"))).ok());
  if (status == ASSISTANCE_STATUS_APPROVED) {
    FinancialAssistanceApproved ev;
    EXPECT_TRUE(FoldAssistance(&c, Ev(ev)).ok());
  } else if (status == ASSISTANCE_STATUS_DENIED) {
    FinancialAssistanceDenied ev;
    EXPECT_TRUE(FoldAssistance(&c, Ev(ev)).ok());
  }
  return c;
}

ApproveAssistanceRequest Approve(int64_t discount) {
  ApproveAssistanceRequest r;
  r.set_patient_id(kPatient);
  r.set_case_id("fa-1");
  *r.mutable_discount() = Usd(discount);
  return r;
}

DenyAssistanceRequest Deny() {
  DenyAssistanceRequest r;
  r.set_patient_id(kPatient);
  r.set_case_id("fa-1");
  r.set_reason("income above the threshold");
  return r;
}

TEST(AssistanceTest, EveryCaseTransition) {
  struct Case_ {
    AssistanceStatus from;
    bool approve;
    absl::StatusCode want;
  };
  const std::vector<Case_> cases = {
      {ASSISTANCE_STATUS_APPLIED, true, absl::StatusCode::kOk},
      {ASSISTANCE_STATUS_APPLIED, false, absl::StatusCode::kOk},
      {ASSISTANCE_STATUS_APPROVED, true, absl::StatusCode::kFailedPrecondition},
      {ASSISTANCE_STATUS_APPROVED, false,
       absl::StatusCode::kFailedPrecondition},
      {ASSISTANCE_STATUS_DENIED, true, absl::StatusCode::kFailedPrecondition},
      {ASSISTANCE_STATUS_DENIED, false, absl::StatusCode::kFailedPrecondition},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(absl::StrCat(AssistanceStatus_Name(c.from),
                              c.approve ? " approve" : " deny"));
    AssistanceState st = Case(c.from);
    EXPECT_EQ(st.counselor_id, "fc-1");
    absl::Status s = c.approve ? DecideApproveAssistance(Account(10000), st,
                                                         Approve(1000), "adj-1")
                                     .status()
                               : DecideDenyAssistance(st, Deny()).status();
    EXPECT_EQ(s.code(), c.want) << s;
  }
}

TEST(AssistanceTest, ApprovalAddsAnAdjustmentThatLowersTheBalance) {
  AccountState a = Account(10000, 2000);
  AssistanceState c = Case(ASSISTANCE_STATUS_APPLIED);
  auto out = DecideApproveAssistance(a, c, Approve(5000), "adj-1");
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->account_event.adjustment_id(), "adj-1");
  EXPECT_EQ(out->account_event.assistance_case_id(), "fa-1");
  EXPECT_EQ(out->case_event.adjustment_id(), "adj-1");
  Apply(&a, FoldAccount, out->account_event);
  Apply(&c, FoldAssistance, out->case_event);
  EXPECT_EQ(a.adjusted, 5000);
  EXPECT_EQ(a.balance(), 3000);
  EXPECT_EQ(c.status, ASSISTANCE_STATUS_APPROVED);
}

TEST(AssistanceTest, ApprovalRulesOnTheAccount) {
  AssistanceState c = Case(ASSISTANCE_STATUS_APPLIED);
  EXPECT_EQ(DecideApproveAssistance(Account(10000), c, Approve(10001), "adj-1")
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(
      DecideApproveAssistance(Account(10000), c, Approve(10000), "adj-1"),
      IsOk());
  EXPECT_EQ(DecideApproveAssistance(AccountState{}, c, Approve(1), "adj-1")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  ApproveAssistanceRequest eur = Approve(100);
  eur.mutable_discount()->set_currency("EUR");
  EXPECT_EQ(
      DecideApproveAssistance(Account(10000), c, eur, "adj-1").status().code(),
      absl::StatusCode::kFailedPrecondition);
  ApproveAssistanceRequest other = Approve(100);
  other.set_patient_id("pt-other");
  EXPECT_EQ(DecideApproveAssistance(Account(10000), c, other, "adj-1")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(DecideDenyAssistance(AssistanceState{}, Deny()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(BillingValidationTest, EachInvalidFieldIsNamed) {
  ApplyForAssistanceRequest apply;
  apply.set_patient_id(kPatient);
  apply.set_household_size(2);
  *apply.mutable_annual_income() = Usd(0);
  apply.set_counselor_id("fc-1");
  EXPECT_THAT(ValidateApplyForAssistance(apply),
              IsOk());  // zero income is valid
  struct Case_ {
    std::string field;
    absl::Status status;
  };
  std::vector<Case_> cases;
  {
    auto r = apply;
    r.set_household_size(0);
    cases.push_back({"household_size", ValidateApplyForAssistance(r)});
  }
  {
    auto r = apply;
    r.mutable_annual_income()->set_amount_minor(-1);
    cases.push_back({"annual_income", ValidateApplyForAssistance(r)});
  }
  {
    auto r = apply;
    r.clear_counselor_id();
    cases.push_back({"counselor_id", ValidateApplyForAssistance(r)});
  }
  {
    auto r = Charge(100);
    r.mutable_amount()->set_currency("usd");
    cases.push_back({"amount", ValidatePostCharge(r)});
  }
  {
    auto r = Charge(kMaxAmountMinor + 1);
    cases.push_back({"amount", ValidatePostCharge(r)});
  }
  {
    auto r = Charge(100);
    r.clear_service_code();
    cases.push_back({"service_code", ValidatePostCharge(r)});
  }
  {
    auto r = Charge(100);
    *r.mutable_date_of_service() = D(2026, 13, 1);
    cases.push_back({"date_of_service", ValidatePostCharge(r)});
  }
  {
    RecordPaymentRequest r;
    r.set_patient_id(kPatient);
    *r.mutable_amount() = Usd(100);
    r.set_method(static_cast<PaymentMethod>(99));
    cases.push_back({"method", ValidateRecordPayment(r)});
  }
  {
    RecordRefundRequest r;
    r.set_patient_id(kPatient);
    r.set_payment_id("pay-1");
    *r.mutable_amount() = Usd(100);
    cases.push_back({"reason", ValidateRecordRefund(r)});
  }
  {
    RecordInstalmentPaidRequest r;
    r.set_patient_id(kPatient);
    r.set_plan_id("plan-1");
    r.set_instalment_index(-1);
    r.set_method(PAYMENT_METHOD_CASH);
    cases.push_back({"instalment_index", ValidateRecordInstalmentPaid(r)});
  }
  {
    DenyAssistanceRequest r = Deny();
    r.set_reason("bad\x01reason");
    cases.push_back({"reason", ValidateDenyAssistance(r)});
  }
  {
    ApproveAssistanceRequest r = Approve(0);
    cases.push_back({"discount", ValidateApproveAssistance(r)});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    EXPECT_EQ(c.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(c.status.message(), HasSubstr(c.field));
  }
}

TEST(BillingFoldTest, UnknownEventTypeIsDataLoss) {
  AccountState a;
  PlanState p;
  AssistanceState c;
  InstalmentMissed missed;
  EXPECT_EQ(FoldAccount(&a, Ev(missed)).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(FoldPlan(&p, Ev(Charge(1))).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(FoldAssistance(&c, Ev(missed)).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace carelog::services
