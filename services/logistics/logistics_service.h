// services/logistics/logistics_service.h — carelog.v1.LogisticsService:
// transportation and lodging requested for a patient, then arranged,
// confirmed, completed or cancelled.
//
// Every RPC runs through the CommandRunner (authenticate, validate, idempotent
// retry, authorize "logistics" write at the enforcement point, decide on the
// arrangement, append with its version + audit events atomically). A patient
// may request and cancel their own arrangements; arranging, confirming and
// completing are staff work (the "self" relationship is not offered to the
// policy for them). Rules live in logistics_aggregate.h. Thread-safe.
#ifndef CARELOG_SERVICES_LOGISTICS_LOGISTICS_SERVICE_H_
#define CARELOG_SERVICES_LOGISTICS_LOGISTICS_SERVICE_H_

#include <string>

#include "carelog/v1/logistics.grpc.pb.h"
#include "services/domain/aggregate.h"
#include "services/domain/command_runner.h"
#include "services/logistics/logistics_aggregate.h"
#include "services/patients/patient_aggregate.h"

namespace carelog::services {

class LogisticsServiceImpl final
    : public carelog::v1::LogisticsService::CallbackService {
 public:
  // `runner` must outlive the service.
  explicit LogisticsServiceImpl(CommandRunner* runner);

  grpc::ServerUnaryReactor* RequestTransportation(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RequestTransportationRequest* req,
      carelog::v1::LogisticsCommandReply* reply) override;
  grpc::ServerUnaryReactor* RequestLodging(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::RequestLodgingRequest* req,
      carelog::v1::LogisticsCommandReply* reply) override;
  grpc::ServerUnaryReactor* ArrangeLogistics(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::ArrangeLogisticsRequest* req,
      carelog::v1::LogisticsCommandReply* reply) override;
  grpc::ServerUnaryReactor* ConfirmLogistics(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::ConfirmLogisticsRequest* req,
      carelog::v1::LogisticsCommandReply* reply) override;
  grpc::ServerUnaryReactor* CancelLogistics(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::CancelLogisticsRequest* req,
      carelog::v1::LogisticsCommandReply* reply) override;
  grpc::ServerUnaryReactor* CompleteLogistics(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::CompleteLogisticsRequest* req,
      carelog::v1::LogisticsCommandReply* reply) override;

 private:
  // Loads the patient, authorizes a logistics write with the actor's
  // relationship facts ("self" dropped unless `self_may_act`), then requires
  // the patient to exist.
  absl::Status AuthorizeWrite(CommandScope& scope,
                              const std::string& patient_id, bool self_may_act);

  // Runs a transition command on an existing arrangement: `decide` maps the
  // loaded state to the event (or an error).
  template <typename Req, typename Ev>
  void Transition(grpc::CallbackServerContext* ctx,
                  grpc::ServerUnaryReactor* reactor, const char* method,
                  const Req* req, carelog::v1::LogisticsCommandReply* reply,
                  absl::Status (*validate)(const Req&),
                  absl::StatusOr<Ev> (*decide)(const ArrangementState&,
                                               const Req&),
                  bool self_may_act);

  CommandRunner* const runner_;
  AggregateRepository<PatientState> patients_;
  AggregateRepository<ArrangementState> arrangements_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_LOGISTICS_LOGISTICS_SERVICE_H_
