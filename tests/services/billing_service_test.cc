// BillingService end to end over a real channel: every RPC's happy path,
// invalid inputs named and appending nothing, idempotent retries, state rules
// and enforcement with audit.
#include "services/billing/billing_service.h"

#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "carelog/v1/billing.grpc.pb.h"
#include "carelog/v1/patients.grpc.pb.h"
#include "crypto/jwt.h"
#include "services/domain/event_codec.h"
#include "services/server/policy_access.h"
#include "services/server/server.h"
#include "tests/services/service_fixture.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::services {
namespace {

using carelog::testing::Caller;

using ::carelog::testing::IsOk;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

const Caller kClerk{"billing_clerk", "HPAYMT", "bill-0001"};
const Caller kCounselor{"financial_counselor", "HPAYMT", "fc-0001"};
const Caller kOtherCounselor{"financial_counselor", "HPAYMT", "fc-0002"};
const Caller kFrontDesk{"front_desk", "HOPERAT", "fd-0001"};

class BillingServiceTest : public carelog::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure())
      return;
    stub_ = BillingService::NewStub(channel_);
  }

  // One unary call of `method` as `who`.
  template <typename Req>
  grpc::Status Call(grpc::Status (BillingService::Stub::*method)(
                        grpc::ClientContext*, const Req&, BillingCommandReply*),
                    const Req& req, BillingCommandReply* reply,
                    const Caller& who = kClerk) {
    grpc::ClientContext ctx;
    Prepare(&ctx, who);
    return (stub_.get()->*method)(&ctx, req, reply);
  }

  AccountState Account(const std::string& patient_id) {
    AccountState a;
    for (const auto& e : StreamEvents(AccountStream(patient_id)))
      EXPECT_THAT(FoldAccount(&a, e), IsOk());
    return a;
  }

  static Money Usd(int64_t minor) {
    Money m;
    m.set_amount_minor(minor);
    m.set_currency("USD");
    return m;
  }

  static PostChargeRequest Charge(const std::string& command_id,
                                  const std::string& patient_id,
                                  int64_t minor) {
    PostChargeRequest r;
    r.set_command_id(command_id);
    r.set_patient_id(patient_id);
    *r.mutable_amount() = Usd(minor);
    r.set_service_code("99213");
    r.mutable_date_of_service()->set_year(2026);
    r.mutable_date_of_service()->set_month(3);
    r.mutable_date_of_service()->set_day(1);
    r.set_description("office visit");
    return r;
  }

  static CreatePaymentPlanRequest Plan(const std::string& command_id,
                                       const std::string& patient_id,
                                       std::vector<int64_t> parts,
                                       int64_t amount) {
    CreatePaymentPlanRequest r;
    r.set_command_id(command_id);
    r.set_patient_id(patient_id);
    *r.mutable_amount() = Usd(amount);
    int month = 4;
    for (int64_t p : parts) {
      auto* i = r.add_instalments();
      i->mutable_due_date()->set_year(2026);
      i->mutable_due_date()->set_month(month++);
      i->mutable_due_date()->set_day(1);
      *i->mutable_amount() = Usd(p);
    }
    return r;
  }

  ApplyForAssistanceRequest Apply(const std::string& command_id,
                                  const std::string& patient_id) {
    ApplyForAssistanceRequest r;
    r.set_command_id(command_id);
    r.set_patient_id(patient_id);
    r.set_household_size(4);
    *r.mutable_annual_income() = Usd(3'100'000);
    r.set_counselor_id(kCounselor.sub);
    return r;
  }

  // A patient with a 10000 charge and a 2000 payment.
  struct Seeded {
    std::string patient_id;
    std::string payment_id;
  };
  Seeded Seed() {
    Seeded s;
    s.patient_id = Register("reg-1");
    BillingCommandReply r;
    EXPECT_TRUE(Call(&BillingService::Stub::PostCharge,
                     Charge("chg-1", s.patient_id, 10000), &r)
                    .ok());
    RecordPaymentRequest p;
    p.set_command_id("pay-1");
    p.set_patient_id(s.patient_id);
    *p.mutable_amount() = Usd(2000);
    p.set_method(PAYMENT_METHOD_CARD);
    p.set_reference("AUTH-123");
    EXPECT_TRUE(Call(&BillingService::Stub::RecordPayment, p, &r).ok());
    s.payment_id = r.id();
    return s;
  }

  std::unique_ptr<BillingService::Stub> stub_;
};

TEST_F(BillingServiceTest, AccountPlanAndAssistanceFlowEndToEnd) {
  const Seeded seed = Seed();
  const std::string& id = seed.patient_id;
  ASSERT_FALSE(seed.payment_id.empty());
  BillingCommandReply r;

  RecordRefundRequest refund;
  refund.set_command_id("ref-1");
  refund.set_patient_id(id);
  refund.set_payment_id(seed.payment_id);
  *refund.mutable_amount() = Usd(500);
  refund.set_reason("billed twice");
  ASSERT_TRUE(Call(&BillingService::Stub::RecordRefund, refund, &r).ok());
  EXPECT_FALSE(r.id().empty());
  EXPECT_EQ(Account(id).balance(), 8500);

  // A plan commits on both streams in one command.
  grpc::Status s = Call(&BillingService::Stub::CreatePaymentPlan,
                        Plan("plan-1", id, {3000, 3000}, 6000), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string plan_id = r.id();
  ASSERT_FALSE(plan_id.empty());
  EXPECT_EQ(r.result().position(), Head());
  auto plan_events = StreamEvents(PlanStream(plan_id));
  ASSERT_EQ(plan_events.size(), 1u);
  EXPECT_EQ(plan_events[0].header.event_type, "carelog.v1.PaymentPlanCreated");
  EXPECT_EQ(plan_events[0].header.subject_id, id);
  EXPECT_EQ(plan_events[0].meta.actor(), kClerk.sub);
  EXPECT_EQ(Account(id).plan_outstanding.at(plan_id), 6000);

  RecordInstalmentMissedRequest missed;
  missed.set_command_id("miss-0");
  missed.set_patient_id(id);
  missed.set_plan_id(plan_id);
  missed.set_instalment_index(0);
  ASSERT_TRUE(
      Call(&BillingService::Stub::RecordInstalmentMissed, missed, &r).ok());

  RecordInstalmentPaidRequest paid;
  paid.set_patient_id(id);
  paid.set_plan_id(plan_id);
  paid.set_method(PAYMENT_METHOD_BANK_TRANSFER);
  for (int i : {0, 1}) {  // the missed one paid late, then the last one
    paid.set_command_id(absl::StrCat("inst-", i));
    paid.set_instalment_index(i);
    s = Call(&BillingService::Stub::RecordInstalmentPaid, paid, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(r.id().empty());
  }
  PlanState plan;
  for (const auto& e : StreamEvents(PlanStream(plan_id)))
    ASSERT_THAT(FoldPlan(&plan, e), IsOk());
  EXPECT_TRUE(plan.closed);
  EXPECT_EQ(Account(id).balance(), 2500);
  // Paying a closed plan is refused.
  paid.set_command_id("inst-again");
  EXPECT_EQ(
      Call(&BillingService::Stub::RecordInstalmentPaid, paid, &r).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  // Assistance: the assigned counselor opens and approves a case.
  s = Call(&BillingService::Stub::ApplyForAssistance, Apply("fa-1", id), &r,
           kCounselor);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string case_id = r.id();
  ApproveAssistanceRequest approve;
  approve.set_command_id("fa-approve");
  approve.set_patient_id(id);
  approve.set_case_id(case_id);
  *approve.mutable_discount() = Usd(1000);
  s = Call(&BillingService::Stub::ApproveAssistance, approve, &r, kCounselor);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(r.id().empty());
  const AccountState account = Account(id);
  EXPECT_EQ(account.adjusted, 1000);
  EXPECT_EQ(account.balance(), 1500);
  auto case_events = StreamEvents(AssistanceStream(case_id));
  ASSERT_EQ(case_events.size(), 2u);
  FinancialAssistanceApplied applied;
  ASSERT_TRUE(case_events[0].As(&applied));
  EXPECT_EQ(applied.household_size(),
            4);  // PHI, sealed under the patient's key
  EXPECT_EQ(case_events[0].header.key_class, crypto::KeyClass::kSubject);
  EXPECT_EQ(case_events[0].header.subject_id, id);

  // The patient applies for themself; the counselor denies that case.
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + Token(id, {"patient"}));
  ctx.AddMetadata("x-carelog-purpose", "PATRQT");
  s = stub_->ApplyForAssistance(&ctx, Apply("fa-2", id), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  DenyAssistanceRequest deny;
  deny.set_command_id("fa-deny");
  deny.set_patient_id(id);
  deny.set_case_id(r.id());
  deny.set_reason("income above the programme threshold");
  s = Call(&BillingService::Stub::DenyAssistance, deny, &r, kCounselor);
  ASSERT_TRUE(s.ok()) << s.error_message();
  deny.set_command_id("fa-deny-2");
  EXPECT_EQ(Call(&BillingService::Stub::DenyAssistance, deny, &r, kCounselor)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(BillingServiceTest, InvalidFieldsAreRejectedByNameAndAppendNothing) {
  const Seeded seed = Seed();
  const std::string& id = seed.patient_id;
  const uint64_t head = Head();
  struct Case {
    std::string field;
    std::function<grpc::Status(BillingCommandReply*)> call;
  };
  std::vector<Case> cases;
  auto charge = [&](const std::string& field,
                    std::function<void(PostChargeRequest*)> mutate) {
    PostChargeRequest r = Charge("bad", id, 100);
    mutate(&r);
    cases.push_back({field, [this, r](BillingCommandReply* rep) {
                       return Call(&BillingService::Stub::PostCharge, r, rep);
                     }});
  };
  charge("command_id", [](PostChargeRequest* r) { r->clear_command_id(); });
  charge("patient_id", [](PostChargeRequest* r) { r->set_patient_id("pt 1"); });
  charge("amount.amount_minor", [](PostChargeRequest* r) {
    r->mutable_amount()->set_amount_minor(0);
  });
  charge("amount.currency", [](PostChargeRequest* r) {
    r->mutable_amount()->set_currency("dollars");
  });
  charge("service_code", [](PostChargeRequest* r) { r->clear_service_code(); });
  charge("date_of_service", [](PostChargeRequest* r) {
    r->mutable_date_of_service()->set_month(13);
  });
  charge("description", [](PostChargeRequest* r) {
    r->set_description(std::string(201, 'x'));
  });
  {
    RecordPaymentRequest r;
    r.set_command_id("bad");
    r.set_patient_id(id);
    *r.mutable_amount() = Usd(100);
    cases.push_back({"method", [this, r](BillingCommandReply* rep) {
                       return Call(&BillingService::Stub::RecordPayment, r,
                                   rep);
                     }});
    r.set_method(PAYMENT_METHOD_CASH);
    r.mutable_amount()->set_amount_minor(-5);
    cases.push_back(
        {"amount.amount_minor", [this, r](BillingCommandReply* rep) {
           return Call(&BillingService::Stub::RecordPayment, r, rep);
         }});
  }
  {
    RecordRefundRequest r;
    r.set_command_id("bad");
    r.set_patient_id(id);
    r.set_payment_id(seed.payment_id);
    *r.mutable_amount() = Usd(100);
    cases.push_back({"reason", [this, r](BillingCommandReply* rep) {
                       return Call(&BillingService::Stub::RecordRefund, r, rep);
                     }});
    r.set_reason("x");
    r.clear_payment_id();
    cases.push_back({"payment_id", [this, r](BillingCommandReply* rep) {
                       return Call(&BillingService::Stub::RecordRefund, r, rep);
                     }});
  }
  {
    // Instalments that do not sum to the plan amount are refused.
    auto r = Plan("bad", id, {3000, 2999}, 6000);
    cases.push_back({"instalments", [this, r](BillingCommandReply* rep) {
                       return Call(&BillingService::Stub::CreatePaymentPlan, r,
                                   rep);
                     }});
    auto dates = Plan("bad", id, {3000, 3000}, 6000);
    *dates.mutable_instalments(1)->mutable_due_date() =
        dates.instalments(0).due_date();
    cases.push_back(
        {"instalments[1].due_date", [this, dates](BillingCommandReply* rep) {
           return Call(&BillingService::Stub::CreatePaymentPlan, dates, rep);
         }});
  }
  {
    RecordInstalmentPaidRequest r;
    r.set_command_id("bad");
    r.set_patient_id(id);
    r.set_instalment_index(0);
    r.set_method(PAYMENT_METHOD_CASH);
    cases.push_back({"plan_id", [this, r](BillingCommandReply* rep) {
                       return Call(&BillingService::Stub::RecordInstalmentPaid,
                                   r, rep);
                     }});
  }
  {
    RecordInstalmentMissedRequest r;
    r.set_command_id("bad");
    r.set_patient_id(id);
    r.set_plan_id("plan-1");
    r.set_instalment_index(-1);
    cases.push_back(
        {"instalment_index", [this, r](BillingCommandReply* rep) {
           return Call(&BillingService::Stub::RecordInstalmentMissed, r, rep);
         }});
  }
  {
    auto r = Apply("bad", id);
    r.set_household_size(0);
    cases.push_back({"household_size", [this, r](BillingCommandReply* rep) {
                       return Call(&BillingService::Stub::ApplyForAssistance, r,
                                   rep, kCounselor);
                     }});
    r = Apply("bad", id);
    r.mutable_annual_income()->set_amount_minor(-1);
    cases.push_back(
        {"annual_income.amount_minor", [this, r](BillingCommandReply* rep) {
           return Call(&BillingService::Stub::ApplyForAssistance, r, rep,
                       kCounselor);
         }});
  }
  {
    ApproveAssistanceRequest r;
    r.set_command_id("bad");
    r.set_patient_id(id);
    r.set_case_id("fa-1");
    cases.push_back({"discount.currency", [this, r](BillingCommandReply* rep) {
                       return Call(&BillingService::Stub::ApproveAssistance, r,
                                   rep, kCounselor);
                     }});
  }
  {
    DenyAssistanceRequest r;
    r.set_command_id("bad");
    r.set_patient_id(id);
    r.set_reason("no");
    cases.push_back({"case_id", [this, r](BillingCommandReply* rep) {
                       return Call(&BillingService::Stub::DenyAssistance, r,
                                   rep, kCounselor);
                     }});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    BillingCommandReply rep;
    grpc::Status s = c.call(&rep);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.field + ":"));
  }
  EXPECT_EQ(Head(), head);
}

TEST_F(BillingServiceTest, StateRulesGiveNotFoundAndFailedPrecondition) {
  const Seeded seed = Seed();
  const std::string& id = seed.patient_id;
  BillingCommandReply r;
  EXPECT_EQ(Call(&BillingService::Stub::PostCharge,
                 Charge("c-unknown", "pt-unknown", 100), &r)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  auto eur = Charge("c-eur", id, 100);
  eur.mutable_amount()->set_currency("EUR");
  EXPECT_EQ(Call(&BillingService::Stub::PostCharge, eur, &r).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  RecordRefundRequest refund;
  refund.set_command_id("ref-over");
  refund.set_patient_id(id);
  refund.set_payment_id(seed.payment_id);
  *refund.mutable_amount() = Usd(2001);  // paid 2000
  refund.set_reason("over");
  EXPECT_EQ(Call(&BillingService::Stub::RecordRefund, refund, &r).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Balance is 8000: a plan of 8001 is refused.
  EXPECT_EQ(Call(&BillingService::Stub::CreatePaymentPlan,
                 Plan("plan-big", id, {8001}, 8001), &r)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  RecordInstalmentMissedRequest missed;
  missed.set_command_id("miss-unknown");
  missed.set_patient_id(id);
  missed.set_plan_id("plan-unknown");
  EXPECT_EQ(Call(&BillingService::Stub::RecordInstalmentMissed, missed, &r)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(BillingServiceTest, RetryReturnsTheFirstReplyAndAppendsNothing) {
  const std::string id = Register("reg-1");
  BillingCommandReply first, again;
  ASSERT_TRUE(Call(&BillingService::Stub::PostCharge,
                   Charge("chg-retry", id, 5000), &first)
                  .ok());
  uint64_t head = Head();
  ASSERT_TRUE(Call(&BillingService::Stub::PostCharge,
                   Charge("chg-retry", id, 5000), &again)
                  .ok());
  EXPECT_TRUE(again.result().duplicate());
  EXPECT_EQ(again.id(), first.id());
  EXPECT_EQ(again.result().position(), first.result().position());
  EXPECT_EQ(Head(), head);
  // A two-stream command retried: same plan id, nothing appended.
  ASSERT_TRUE(Call(&BillingService::Stub::CreatePaymentPlan,
                   Plan("plan-retry", id, {2500, 2500}, 5000), &first)
                  .ok());
  head = Head();
  ASSERT_TRUE(Call(&BillingService::Stub::CreatePaymentPlan,
                   Plan("plan-retry", id, {2500, 2500}, 5000), &again)
                  .ok());
  EXPECT_TRUE(again.result().duplicate());
  EXPECT_EQ(again.id(), first.id());
  EXPECT_EQ(Head(), head);
  // The same command id for a different request is refused.
  EXPECT_EQ(Call(&BillingService::Stub::PostCharge,
                 Charge("chg-retry", id, 5001), &again)
                .error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Head(), head);
}

TEST_F(BillingServiceTest, DeniedRolesAreAuditedAndChangeNothingElse) {
  const std::string id = Register("reg-1");
  uint64_t head = Head();
  BillingCommandReply r;
  EXPECT_EQ(Call(&BillingService::Stub::PostCharge, Charge("chg-fd", id, 100),
                 &r, kFrontDesk)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), head + 1);  // the denial, in the audit trail
  EXPECT_TRUE(StreamEvents(AccountStream(id)).empty());
  auto audit = StreamEvents("audit/" + id);
  ASSERT_FALSE(audit.empty());
  AccessAudited denied;
  ASSERT_TRUE(audit.back().As(&denied));
  EXPECT_EQ(denied.outcome(), ACCESS_OUTCOME_DENIED);
  EXPECT_EQ(denied.actor(), kFrontDesk.sub);
  EXPECT_EQ(denied.resource(), "billing");

  // A counselor may open a case only as its assignee, and only the assignee
  // (never the patient) decides it.
  ASSERT_TRUE(
      Call(&BillingService::Stub::PostCharge, Charge("chg-1", id, 10000), &r)
          .ok());
  head = Head();
  auto other = Apply("fa-other", id);
  other.set_counselor_id(kOtherCounselor.sub);
  EXPECT_EQ(
      Call(&BillingService::Stub::ApplyForAssistance, other, &r, kCounselor)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), head + 1);
  ASSERT_TRUE(Call(&BillingService::Stub::ApplyForAssistance, Apply("fa-1", id),
                   &r, kCounselor)
                  .ok());
  ApproveAssistanceRequest approve;
  approve.set_command_id("fa-approve");
  approve.set_patient_id(id);
  approve.set_case_id(r.id());
  *approve.mutable_discount() = Usd(1000);
  head = Head();
  EXPECT_EQ(Call(&BillingService::Stub::ApproveAssistance, approve, &r,
                 kOtherCounselor)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Call(&BillingService::Stub::ApproveAssistance, approve, &r,
                 Caller{"patient", "PATRQT", id})
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), head + 2);
  EXPECT_EQ(Account(id).adjusted, 0);
}

TEST_F(BillingServiceTest, ConcurrentPaymentsOfOneInstalmentRecordItOnce) {
  const std::string id = Register("reg-1");
  BillingCommandReply r;
  ASSERT_TRUE(
      Call(&BillingService::Stub::PostCharge, Charge("chg-1", id, 6000), &r)
          .ok());
  ASSERT_TRUE(Call(&BillingService::Stub::CreatePaymentPlan,
                   Plan("plan-1", id, {3000, 3000}, 6000), &r)
                  .ok());
  const std::string plan_id = r.id();
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<grpc::Status> results(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      RecordInstalmentPaidRequest paid;
      paid.set_command_id(absl::StrCat("inst-", i));
      paid.set_patient_id(id);
      paid.set_plan_id(plan_id);
      paid.set_instalment_index(0);
      paid.set_method(PAYMENT_METHOD_CARD);
      BillingCommandReply rep;
      results[i] =
          Call(&BillingService::Stub::RecordInstalmentPaid, paid, &rep);
    });
  }
  for (auto& t : threads)
    t.join();
  int ok = 0;
  for (const auto& s : results) {
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_THAT(s.error_code(),
                  ::testing::AnyOf(grpc::StatusCode::FAILED_PRECONDITION,
                                   grpc::StatusCode::ABORTED))
          << s.error_message();
    }
  }
  EXPECT_EQ(ok, 1);
  // Plan and account moved together, once.
  auto plan_version = server_->ledger()->StreamVersion(PlanStream(plan_id));
  ASSERT_THAT(plan_version, IsOk());
  EXPECT_EQ(*plan_version, 2u);
  EXPECT_EQ(Account(id).balance(), 3000);
}

}  // namespace
}  // namespace carelog::services
