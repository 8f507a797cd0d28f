// services/billing/billing_service.h — carelog.v1.BillingService: charges,
// payments, refunds, payment plans and their instalments, and financial
// assistance applications with their approval (a discount applied to the
// account as an adjustment) or denial.
//
// Every RPC runs through the CommandRunner (authenticate, validate, idempotent
// retry, authorize at the enforcement point, decide on the aggregates, append
// with their versions + audit events atomically). Resources: "billing" for
// the account and plans; "financial_assistance" for assistance cases, where
// the actor is "assigned" when they are the case's counselor (for an
// application: the counselor it names). Approving assistance is authorized as
// financial_assistance write alone: the adjustment it puts on the account is
// part of that decision. Approving and denying are staff decisions: the
// patient's "self" relationship is not offered to the policy for them. Rules
// live in billing_aggregate.h. Thread-safe.
#ifndef CARELOG_SERVICES_BILLING_BILLING_SERVICE_H_
#define CARELOG_SERVICES_BILLING_BILLING_SERVICE_H_

#include <string>

#include "carelog/v1/billing.grpc.pb.h"
#include "services/billing/billing_aggregate.h"
#include "services/domain/aggregate.h"
#include "services/domain/command_runner.h"
#include "services/patients/patient_aggregate.h"

namespace carelog::services {

class BillingServiceImpl final
    : public carelog::v1::BillingService::CallbackService {
 public:
  // `runner` must outlive the service.
  explicit BillingServiceImpl(CommandRunner* runner);

  grpc::ServerUnaryReactor* PostCharge(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::PostChargeRequest* req,
      carelog::v1::BillingCommandReply* reply) override;
  grpc::ServerUnaryReactor* RecordPayment(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RecordPaymentRequest* req,
      carelog::v1::BillingCommandReply* reply) override;
  grpc::ServerUnaryReactor* RecordRefund(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RecordRefundRequest* req,
      carelog::v1::BillingCommandReply* reply) override;
  grpc::ServerUnaryReactor* CreatePaymentPlan(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::CreatePaymentPlanRequest* req,
      carelog::v1::BillingCommandReply* reply) override;
  grpc::ServerUnaryReactor* RecordInstalmentPaid(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RecordInstalmentPaidRequest* req,
      carelog::v1::BillingCommandReply* reply) override;
  grpc::ServerUnaryReactor* RecordInstalmentMissed(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RecordInstalmentMissedRequest* req,
      carelog::v1::BillingCommandReply* reply) override;
  grpc::ServerUnaryReactor* ApplyForAssistance(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::ApplyForAssistanceRequest* req,
      carelog::v1::BillingCommandReply* reply) override;
  grpc::ServerUnaryReactor* ApproveAssistance(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::ApproveAssistanceRequest* req,
      carelog::v1::BillingCommandReply* reply) override;
  grpc::ServerUnaryReactor* DenyAssistance(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::DenyAssistanceRequest* req,
      carelog::v1::BillingCommandReply* reply) override;

 private:
  // Loads the patient, authorizes a write of `resource` with the actor's
  // relationship facts (`assigned` added; "self" dropped unless
  // `self_may_act`), then requires the patient to exist.
  absl::Status AuthorizeWrite(CommandScope& scope,
                              const std::string& patient_id,
                              const char* resource, bool assigned,
                              bool self_may_act);

  CommandRunner* const runner_;
  AggregateRepository<PatientState> patients_;
  AggregateRepository<AccountState> accounts_;
  AggregateRepository<PlanState> plans_;
  AggregateRepository<AssistanceState> cases_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_BILLING_BILLING_SERVICE_H_
