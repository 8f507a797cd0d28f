// The billing view through QueryService: accounts, payment plans with
// instalments due and overdue, financial assistance cases; masks (also
// through filters), denials, one audit event per patient decision, paging,
// erasure, rebuild equals live, no plaintext in the data directory.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/billing.pb.h"
#include "tests/services/projection_fixture.h"

namespace carelog::services {
namespace {

using namespace carelog::v1;  // NOLINT

constexpr char kChargeMarker[] = "Zorblaxian consult";
constexpr char kNotesMarker[] = "Quibblefrost hardship";

Money Usd(int64_t minor) {
  Money m;
  m.set_amount_minor(minor);
  m.set_currency("USD");
  return m;
}

Date DaysFromToday(int days) {
  const absl::CivilDay d =
      absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()) + days;
  Date out;
  out.set_year(static_cast<int>(d.year()));
  out.set_month(d.month());
  out.set_day(d.day());
  return out;
}

class ProjectionBillingTest : public ProjectionServerTest {
 protected:
  uint64_t Charge(const std::string& patient, const std::string& id,
                  int64_t minor) {
    ChargePosted ev;
    ev.set_patient_id(patient);
    ev.set_charge_id(id);
    *ev.mutable_amount() = Usd(minor);
    ev.set_service_code("99213");
    *ev.mutable_date_of_service() = DaysFromToday(-30);
    ev.set_description(kChargeMarker);
    return Append("billing/" + patient, patient, ev);
  }
  uint64_t Pay(const std::string& patient, const std::string& id, int64_t minor,
               const std::string& plan = "", int index = 0) {
    PaymentRecorded ev;
    ev.set_patient_id(patient);
    ev.set_payment_id(id);
    *ev.mutable_amount() = Usd(minor);
    ev.set_method(PAYMENT_METHOD_CARD);
    ev.set_plan_id(plan);
    ev.set_instalment_index(index);
    return Append("billing/" + patient, patient, ev);
  }
  // A plan on both streams, as the billing service writes it.
  uint64_t Plan(const std::string& patient, const std::string& id,
                const std::vector<std::pair<int, int64_t>>& instalments) {
    PaymentPlanCreated ev;
    ev.set_patient_id(patient);
    ev.set_plan_id(id);
    int64_t total = 0;
    for (const auto& [days, minor] : instalments) {
      Instalment* i = ev.add_instalments();
      *i->mutable_due_date() = DaysFromToday(days);
      *i->mutable_amount() = Usd(minor);
      total += minor;
    }
    *ev.mutable_amount() = Usd(total);
    Append("plan/" + id, patient, ev);
    return Append("billing/" + patient, patient, ev);
  }
  uint64_t Apply(const std::string& patient, const std::string& id,
                 const std::string& counselor) {
    FinancialAssistanceApplied ev;
    ev.set_patient_id(patient);
    ev.set_case_id(id);
    ev.set_household_size(3);
    *ev.mutable_annual_income() = Usd(2500000);
    ev.set_counselor_id(counselor);
    ev.set_notes(kNotesMarker);
    return Append("assistance/" + id, patient, ev);
  }

  // pt-1: two charges, a payment and its partial refund, a plan (one
  // instalment paid, one missed 3 days ago, one due in 20 days), an approved
  // assistance case (with its adjustment) and an open one. pt-2: a plan
  // whose only instalment was due 5 days ago and an open case. pt-3: in
  // credit.
  uint64_t Script() {
    Register("pt-1");
    Register("pt-2");
    Register("pt-3");
    Charge("pt-1", "chg-1", 10000);
    Charge("pt-1", "chg-2", 5000);
    Pay("pt-1", "pay-1", 3000);
    RefundRecorded ref;
    ref.set_patient_id("pt-1");
    ref.set_refund_id("ref-1");
    ref.set_payment_id("pay-1");
    *ref.mutable_amount() = Usd(1000);
    ref.set_reason("overcharged");
    Append("billing/pt-1", "pt-1", ref);
    Plan("pt-1", "plan-1", {{-10, 3000}, {-3, 3000}, {20, 3000}});
    InstalmentPaid paid;
    paid.set_patient_id("pt-1");
    paid.set_plan_id("plan-1");
    paid.set_instalment_index(0);
    paid.set_payment_id("pay-2");
    Append("plan/plan-1", "pt-1", paid);
    Pay("pt-1", "pay-2", 3000, "plan-1", 0);
    InstalmentMissed missed;
    missed.set_patient_id("pt-1");
    missed.set_plan_id("plan-1");
    missed.set_instalment_index(1);
    Append("plan/plan-1", "pt-1", missed);
    Apply("pt-1", "fa-1", "fc-1");
    FinancialAssistanceApproved ok;
    ok.set_patient_id("pt-1");
    ok.set_case_id("fa-1");
    *ok.mutable_discount() = Usd(2000);
    ok.set_adjustment_id("adj-1");
    Append("assistance/fa-1", "pt-1", ok);
    AdjustmentApplied adj;
    adj.set_patient_id("pt-1");
    adj.set_adjustment_id("adj-1");
    *adj.mutable_amount() = Usd(2000);
    adj.set_reason("financial assistance");
    adj.set_assistance_case_id("fa-1");
    Append("billing/pt-1", "pt-1", adj);
    Apply("pt-1", "fa-3", "fc-1");

    Charge("pt-2", "chg-3", 5000);
    Plan("pt-2", "plan-2", {{-5, 5000}});
    Apply("pt-2", "fa-2", "fc-2");

    Charge("pt-3", "chg-4", 100);
    return Pay("pt-3", "pay-3", 300);
  }

  template <typename Req, typename Reply>
  grpc::Status Call(grpc::Status (QueryService::Stub::*rpc)(
                        grpc::ClientContext*, const Req&, Reply*),
                    Req req, uint64_t min_position, Reply* reply,
                    const std::string& role = "billing_clerk",
                    const std::string& sub = "clerk-1",
                    const std::string& purpose = "HPAYMT") {
    req.set_min_position(min_position);
    grpc::ClientContext ctx;
    Prepare(&ctx, role, purpose, sub);
    return (queries_.get()->*rpc)(&ctx, req, reply);
  }

  BillingAccountRecord Account(const std::string& patient, uint64_t pos,
                               const std::string& role = "billing_clerk",
                               const std::string& sub = "clerk-1") {
    GetBillingAccountRequest req;
    req.set_patient_id(patient);
    BillingAccountRecord rec;
    grpc::Status s =
        Call(&QueryService::Stub::GetBillingAccount, req, pos, &rec, role, sub);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return rec;
  }

  static std::vector<std::string> Ids(const InstalmentPage& p) {
    std::vector<std::string> out;
    for (const auto& i : p.instalments())
      out.push_back(absl::StrCat(i.plan_id(), "#", i.index()));
    return out;
  }
  static std::vector<std::string> Ids(const BillingAccountPage& p) {
    std::vector<std::string> out;
    for (const auto& a : p.accounts())
      out.push_back(a.patient_id());
    return out;
  }
  static std::vector<std::string> Ids(const AssistanceCasePage& p) {
    std::vector<std::string> out;
    for (const auto& c : p.cases())
      out.push_back(c.case_id());
    return out;
  }

  InstalmentPage Instalments(ListInstalmentsRequest::Filter f, uint64_t pos,
                             const std::string& role = "billing_clerk") {
    ListInstalmentsRequest req;
    req.set_filter(f);
    InstalmentPage page;
    grpc::Status s =
        Call(&QueryService::Stub::ListInstalments, req, pos, &page, role);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return page;
  }
  BillingAccountPage Accounts(ListBillingAccountsRequest::Filter f,
                              uint64_t pos,
                              const std::string& role = "billing_clerk") {
    ListBillingAccountsRequest req;
    req.set_filter(f);
    BillingAccountPage page;
    grpc::Status s =
        Call(&QueryService::Stub::ListBillingAccounts, req, pos, &page, role);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return page;
  }
  AssistanceCasePage Cases(ListAssistanceCasesRequest req, uint64_t pos,
                           const std::string& sub) {
    AssistanceCasePage page;
    grpc::Status s = Call(&QueryService::Stub::ListAssistanceCases, req, pos,
                          &page, "financial_counselor", sub);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return page;
  }
};

TEST_F(ProjectionBillingTest, AccountTotalsLinesPlansAndInstalments) {
  const uint64_t last = Script();
  const BillingAccountRecord a = Account("pt-1", last);
  EXPECT_EQ(a.currency(), "USD");
  EXPECT_EQ(a.charged_minor(), 15000);
  EXPECT_EQ(a.paid_minor(), 6000);
  EXPECT_EQ(a.refunded_minor(), 1000);
  EXPECT_EQ(a.adjusted_minor(), 2000);
  EXPECT_EQ(a.balance_minor(), 15000 - 6000 + 1000 - 2000);
  EXPECT_EQ(a.charge_count(), 2);
  EXPECT_EQ(a.payment_count(), 2);
  std::vector<std::string> lines;
  for (const auto& l : a.lines())
    lines.push_back(l.id());
  EXPECT_THAT(lines, ::testing::ElementsAre("chg-1", "chg-2", "pay-1", "ref-1",
                                            "pay-2", "adj-1"));
  EXPECT_EQ(a.lines(0).service_code(), "99213");
  EXPECT_EQ(a.lines(3).related_id(), "pay-1");
  EXPECT_EQ(a.lines(4).related_id(), "plan-1");
  EXPECT_EQ(a.lines(5).related_id(), "fa-1");
  ASSERT_EQ(a.plans_size(), 1);
  const PaymentPlanRecord& p = a.plans(0);
  EXPECT_EQ(p.plan_id(), "plan-1");
  EXPECT_EQ(p.amount().amount_minor(), 9000);
  EXPECT_EQ(p.paid_minor(), 3000);
  EXPECT_EQ(p.outstanding_minor(), 6000);
  EXPECT_EQ(p.overdue_instalments(), 1);
  ASSERT_EQ(p.instalments_size(), 3);
  EXPECT_EQ(p.instalments(0).state(), INSTALMENT_STATE_PAID);
  EXPECT_EQ(p.instalments(0).payment_id(), "pay-2");
  EXPECT_FALSE(p.instalments(0).overdue());
  EXPECT_EQ(p.instalments(1).state(), INSTALMENT_STATE_MISSED);
  EXPECT_TRUE(p.instalments(1).overdue());
  EXPECT_EQ(p.instalments(1).days_overdue(), 3);
  EXPECT_EQ(p.instalments(2).state(), INSTALMENT_STATE_DUE);
  EXPECT_FALSE(p.instalments(2).overdue());
  EXPECT_TRUE(a.masked_fields().empty());
}

TEST_F(ProjectionBillingTest, InstalmentsOverdueAndDueAcrossPatients) {
  const uint64_t last = Script();
  EXPECT_THAT(Ids(Instalments(ListInstalmentsRequest::FILTER_OVERDUE, last)),
              ::testing::ElementsAre("plan-2#0", "plan-1#1"));
  EXPECT_THAT(Ids(Instalments(ListInstalmentsRequest::FILTER_DUE, last)),
              ::testing::ElementsAre("plan-1#2"));
  // Paging: one per page, each row once, the token stable.
  ListInstalmentsRequest req;
  req.set_filter(ListInstalmentsRequest::FILTER_OVERDUE);
  req.set_page_size(1);
  std::vector<std::string> seen;
  for (int pages = 0; pages < 5; ++pages) {
    InstalmentPage page;
    ASSERT_TRUE(
        Call(&QueryService::Stub::ListInstalments, req, last, &page).ok());
    for (const auto& id : Ids(page))
      seen.push_back(id);
    if (page.next_page_token().empty())
      break;
    req.set_page_token(page.next_page_token());
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("plan-2#0", "plan-1#1"));
  // Once paid, the instalment leaves the overdue list.
  InstalmentPaid paid;
  paid.set_patient_id("pt-2");
  paid.set_plan_id("plan-2");
  paid.set_instalment_index(0);
  paid.set_payment_id("pay-9");
  paid.set_plan_closed(true);
  const uint64_t pos = Append("plan/plan-2", "pt-2", paid);
  EXPECT_THAT(Ids(Instalments(ListInstalmentsRequest::FILTER_OVERDUE, pos)),
              ::testing::ElementsAre("plan-1#1"));
  // A token of another list is refused.
  ListBillingAccountsRequest other;
  other.set_page_token(req.page_token());
  BillingAccountPage none;
  EXPECT_EQ(Call(&QueryService::Stub::ListBillingAccounts, other, pos, &none)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ProjectionBillingTest, AccountsByBalance) {
  const uint64_t last = Script();
  EXPECT_THAT(
      Ids(Accounts(ListBillingAccountsRequest::FILTER_UNSPECIFIED, last)),
      ::testing::ElementsAre("pt-1", "pt-2", "pt-3"));
  const BillingAccountPage owing =
      Accounts(ListBillingAccountsRequest::FILTER_OUTSTANDING, last);
  EXPECT_THAT(Ids(owing), ::testing::ElementsAre("pt-1", "pt-2"));
  EXPECT_EQ(owing.accounts(0).lines_size(), 0);  // lists leave lines out
  const BillingAccountPage credit =
      Accounts(ListBillingAccountsRequest::FILTER_CREDIT, last);
  EXPECT_THAT(Ids(credit), ::testing::ElementsAre("pt-3"));
  EXPECT_EQ(credit.accounts(0).balance_minor(), -200);
}

TEST_F(ProjectionBillingTest, AssistanceCasesForTheirCounselor) {
  const uint64_t last = Script();
  GetAssistanceCaseRequest get;
  get.set_case_id("fa-1");
  AssistanceCaseRecord c;
  grpc::Status s = Call(&QueryService::Stub::GetAssistanceCase, get, last, &c,
                        "financial_counselor", "fc-1");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(c.status(), ASSISTANCE_STATUS_APPROVED);
  EXPECT_EQ(c.discount().amount_minor(), 2000);
  EXPECT_EQ(c.adjustment_id(), "adj-1");
  EXPECT_EQ(c.household_size(), 3);
  EXPECT_EQ(c.notes(), kNotesMarker);
  // Another counselor is not assigned to it: denied, nothing disclosed.
  AssistanceCaseRecord denied;
  s = Call(&QueryService::Stub::GetAssistanceCase, get, last, &denied,
           "financial_counselor", "fc-2");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(denied.ByteSizeLong(), 0u);

  ListAssistanceCasesRequest mine;
  mine.set_filter(ListAssistanceCasesRequest::FILTER_COUNSELOR);
  mine.set_counselor_id("fc-2");
  EXPECT_THAT(Ids(Cases(mine, last, "fc-2")), ::testing::ElementsAre("fa-2"));
  // Awaiting a decision: fa-2 and fa-3, each shown to its counselor only.
  ListAssistanceCasesRequest open;
  EXPECT_THAT(Ids(Cases(open, last, "fc-2")), ::testing::ElementsAre("fa-2"));
  EXPECT_THAT(Ids(Cases(open, last, "fc-1")), ::testing::ElementsAre("fa-3"));

  // The counselor reads the billing account of a patient they counsel only.
  const BillingAccountRecord a =
      Account("pt-1", last, "financial_counselor", "fc-1");
  EXPECT_EQ(a.balance_minor(), 8000);
  EXPECT_THAT(a.masked_fields(), ::testing::Contains("diagnosis_codes"));
  GetBillingAccountRequest other;
  other.set_patient_id("pt-3");
  BillingAccountRecord none;
  EXPECT_EQ(Call(&QueryService::Stub::GetBillingAccount, other, last, &none,
                 "financial_counselor", "fc-1")
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ProjectionBillingTest, OneAuditEventPerPatientDecision) {
  const uint64_t last = Script();
  ListAssistanceCasesRequest by_patient;
  by_patient.set_filter(ListAssistanceCasesRequest::FILTER_PATIENT);
  by_patient.set_patient_id("pt-1");
  EXPECT_THAT(Ids(Cases(by_patient, last, "fc-1")),
              ::testing::UnorderedElementsAre("fa-1", "fa-3"));
  const auto audited =
      AuditOf("pt-1", "/carelog.v1.QueryService/ListAssistanceCases");
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].resource(), "financial_assistance");
  EXPECT_EQ(audited[0].actor(), "fc-1");
}

TEST_F(ProjectionBillingTest, DeniedReadsDiscloseNothing) {
  const uint64_t last = Script();
  GetBillingAccountRequest get;
  get.set_patient_id("pt-1");
  BillingAccountRecord rec;
  grpc::Status s = Call(&QueryService::Stub::GetBillingAccount, get, last, &rec,
                        "front_desk", "fd-1", "HOPERAT");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(rec.ByteSizeLong(), 0u);
  const auto denied =
      AuditOf("pt-1", "/carelog.v1.QueryService/GetBillingAccount");
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].outcome(), ACCESS_OUTCOME_DENIED);
  // An unknown patient is decided like a known one: no existence oracle.
  get.set_patient_id("pt-unknown");
  EXPECT_EQ(Call(&QueryService::Stub::GetBillingAccount, get, last, &rec,
                 "front_desk", "fd-1", "HOPERAT")
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Call(&QueryService::Stub::GetBillingAccount, get, last, &rec)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Lists leave every row out.
  EXPECT_EQ(
      Instalments(ListInstalmentsRequest::FILTER_OVERDUE, last, "scheduler")
          .instalments_size(),
      0);
  EXPECT_EQ(Accounts(ListBillingAccountsRequest::FILTER_UNSPECIFIED, last,
                     "scheduler")
                .accounts_size(),
            0);
  // Bad requests name the field.
  get.set_patient_id("bad/id");
  EXPECT_EQ(Call(&QueryService::Stub::GetBillingAccount, get, last, &rec)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ListInstalmentsRequest due;
  due.set_filter(ListInstalmentsRequest::FILTER_DUE);
  due.set_due_until("2026-13-45");
  InstalmentPage page;
  s = Call(&QueryService::Stub::ListInstalments, due, last, &page);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("due_until"));
  // Also where the filter does not use the field.
  due.set_filter(ListInstalmentsRequest::FILTER_OVERDUE);
  s = Call(&QueryService::Stub::ListInstalments, due, last, &page);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ListAssistanceCasesRequest cases;
  cases.set_filter(ListAssistanceCasesRequest::FILTER_STATUS);
  cases.set_counselor_id("bad\x01id");
  AssistanceCasePage none;
  s = Call(&QueryService::Stub::ListAssistanceCases, cases, last, &none);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("counselor_id"));
}

TEST_F(ProjectionBillingTest, ErasedPatientLeavesTheView) {
  Script();
  const uint64_t pos = Erase("pt-1");
  GetBillingAccountRequest get;
  get.set_patient_id("pt-1");
  BillingAccountRecord rec;
  EXPECT_EQ(
      Call(&QueryService::Stub::GetBillingAccount, get, pos, &rec).error_code(),
      grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(Ids(Instalments(ListInstalmentsRequest::FILTER_OVERDUE, pos)),
              ::testing::ElementsAre("plan-2#0"));
  EXPECT_TRUE(
      Ids(Instalments(ListInstalmentsRequest::FILTER_DUE, pos)).empty());
  EXPECT_THAT(
      Ids(Accounts(ListBillingAccountsRequest::FILTER_UNSPECIFIED, pos)),
      ::testing::ElementsAre("pt-2", "pt-3"));
  ListAssistanceCasesRequest mine;
  mine.set_filter(ListAssistanceCasesRequest::FILTER_COUNSELOR);
  mine.set_counselor_id("fc-1");
  EXPECT_TRUE(Ids(Cases(mine, pos, "fc-1")).empty());
}

TEST_F(ProjectionBillingTest, RebuildEqualsLive) {
  const uint64_t last = Script();
  auto snapshot = [&]() {
    std::string out;
    for (const char* p : {"pt-1", "pt-2", "pt-3"})
      out += Account(p, last).SerializeAsString();
    out += Instalments(ListInstalmentsRequest::FILTER_OVERDUE, last)
               .SerializeAsString();
    out += Instalments(ListInstalmentsRequest::FILTER_DUE, last)
               .SerializeAsString();
    out += Accounts(ListBillingAccountsRequest::FILTER_UNSPECIFIED, last)
               .SerializeAsString();
    for (const char* c : {"fc-1", "fc-2"}) {
      ListAssistanceCasesRequest mine;
      mine.set_filter(ListAssistanceCasesRequest::FILTER_COUNSELOR);
      mine.set_counselor_id(c);
      out += Cases(mine, last, c).SerializeAsString();
    }
    return out;
  };
  const std::string live = snapshot();
  ASSERT_GT(live.size(), 500u);
  RebuildAll();
  EXPECT_EQ(snapshot(), live);
}

TEST_F(ProjectionBillingTest, NoPlaintextInTheDataDirectory) {
  const uint64_t last = Script();
  ASSERT_EQ(Account("pt-1", last).lines_size(), 6);
  ListAssistanceCasesRequest mine;
  mine.set_filter(ListAssistanceCasesRequest::FILTER_COUNSELOR);
  mine.set_counselor_id("fc-1");
  ASSERT_EQ(Cases(mine, last, "fc-1").cases_size(), 2);
  int files = 0;
  EXPECT_THAT(PlaintextInDataDir({kChargeMarker, kNotesMarker}, &files),
              ::testing::IsEmpty());
  EXPECT_GT(files, 3);
}

// Masks under a policy that shows billing clerks the balance only and
// financial counselors the charges and the household size only.
class ProjectionBillingMaskTest : public ProjectionBillingTest {
 protected:
  void SetUp() override {
    const std::string policy = dir_.Sub("policy.yaml");
    std::ofstream(policy) << R"(version: 1
name: billing-masks-test
roles: [billing_clerk, financial_counselor]
rules:
  - id: clerk-balance-only
    effect: permit
    roles: [billing_clerk]
    resources: [billing]
    actions: [read]
    purposes: [HPAYMT]
    fields: [balance]
  - id: counselor-charges-only
    effect: permit
    roles: [financial_counselor]
    resources: [billing]
    actions: [read]
    purposes: [HPAYMT]
    fields: [charges]
  - id: counselor-household-size-only
    effect: permit
    roles: [financial_counselor]
    resources: [financial_assistance]
    actions: [read]
    purposes: [HPAYMT]
    fields: [household_size]
)";
    StartServer(policy);
  }
};

TEST_F(ProjectionBillingMaskTest, MaskedFieldsNeverLeaveNorFilter) {
  const uint64_t last = Script();
  const BillingAccountRecord a = Account("pt-1", last);
  EXPECT_EQ(a.balance_minor(), 8000);
  EXPECT_EQ(a.charged_minor(), 0);
  EXPECT_EQ(a.paid_minor(), 0);
  EXPECT_EQ(a.charge_count(), 0);
  EXPECT_EQ(a.payment_count(), 0);
  EXPECT_EQ(a.plans_size(), 0);
  ASSERT_EQ(a.lines_size(), 1);  // the adjustment: part of the balance
  EXPECT_EQ(a.lines(0).kind(), BILLING_LINE_KIND_ADJUSTMENT);
  EXPECT_THAT(a.masked_fields(), ::testing::IsSupersetOf(
                                     {"charges", "payments", "service_codes"}));
  EXPECT_EQ(a.SerializeAsString().find(kChargeMarker), std::string::npos);
  // Instalments are payments: none listed.
  EXPECT_EQ(Instalments(ListInstalmentsRequest::FILTER_OVERDUE, last)
                .instalments_size(),
            0);
  EXPECT_THAT(
      Ids(Accounts(ListBillingAccountsRequest::FILTER_OUTSTANDING, last)),
      ::testing::ElementsAre("pt-1", "pt-2"));

  // The counselor sees charges but no balance: the balance filters leave
  // every account out, the unfiltered list shows them without balances.
  const std::string fc = "financial_counselor";
  EXPECT_EQ(Accounts(ListBillingAccountsRequest::FILTER_OUTSTANDING, last, fc)
                .accounts_size(),
            0);
  EXPECT_EQ(Accounts(ListBillingAccountsRequest::FILTER_CREDIT, last, fc)
                .accounts_size(),
            0);
  const BillingAccountPage all =
      Accounts(ListBillingAccountsRequest::FILTER_UNSPECIFIED, last, fc);
  ASSERT_EQ(all.accounts_size(), 3);
  for (const auto& acct : all.accounts()) {
    EXPECT_EQ(acct.balance_minor(), 0);
    EXPECT_GT(acct.charged_minor(), 0);
  }
  // Cases by status would disclose a masked application status.
  ListAssistanceCasesRequest open;
  EXPECT_EQ(Cases(open, last, "fc-1").cases_size(), 0);
  ListAssistanceCasesRequest mine;
  mine.set_filter(ListAssistanceCasesRequest::FILTER_COUNSELOR);
  mine.set_counselor_id("fc-1");
  const AssistanceCasePage cases = Cases(mine, last, "fc-1");
  ASSERT_EQ(cases.cases_size(), 2);
  for (const auto& c : cases.cases()) {
    EXPECT_EQ(c.status(), ASSISTANCE_STATUS_UNSPECIFIED);
    EXPECT_TRUE(c.notes().empty());
    EXPECT_FALSE(c.has_annual_income());
  }
  EXPECT_EQ(cases.SerializeAsString().find(kNotesMarker), std::string::npos);
}

}  // namespace
}  // namespace carelog::services
