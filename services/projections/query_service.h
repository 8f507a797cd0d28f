// services/projections/query_service.h — carelog.v1.QueryService: reads over
// the projected views, and projection status/rebuild for operators.
//
// Operation. Each read authenticates (inline), then on the Executor: waits
// for min_position (bounded by the call's deadline: DEADLINE_EXCEEDED),
// reads the view, asks the single enforcement point (AccessEnforcer) for
// every patient it would disclose — with PatientFacts from the view's care
// team and flags (and case assignment where the view knows it) — clears the
// fields the decision masks, and appends one AccessAudited event per
// decision (audit key, stream audit/<patient>): one per patient, resource and
// relationship in a read (query_support.h). The reply is sent only once that
// append is durable; if it fails, the read fails UNAVAILABLE (fail closed). A
// denied Get answers PERMISSION_DENIED after its denial is durable; lists
// leave out patients the caller may not read, and rows whose filter or order
// rests on a field the caller's decision masks.
// The reads of each view family live in their own file: query_service.cc
// (patients, appointments, complaints, status), query_billing.cc,
// query_logistics.cc, query_messaging.cc.
// Concurrency. Thread-safe; reads run on Executor threads (min_position waits
// block one of them), audit appends complete on the ledger writer thread.
// Limitations. A list page may hold fewer rows than asked when some are
// denied, filtered or erased; the page token still advances.
#ifndef CARELOG_SERVICES_PROJECTIONS_QUERY_SERVICE_H_
#define CARELOG_SERVICES_PROJECTIONS_QUERY_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "carelog/v1/queries.grpc.pb.h"
#include "services/domain/command_runner.h"
#include "services/projections/projections.h"
#include "services/projections/query_support.h"
#include "services/server/access.h"
#include "services/server/executor.h"
#include "services/server/log.h"
#include "services/server/request_context.h"

namespace carelog::services::projections {

// Clears the fields of `record` named by policy masks (patient.demographics
// and patient.insurance field names) and lists them in masked_fields.
void ApplyPatientMasks(const std::vector<std::string>& masked_fields,
                       carelog::v1::PatientRecord* record);
// The same for appointments ("appointments" fields) and complaints
// ("complaints" fields).
void ApplyAppointmentMasks(const std::vector<std::string>& masked_fields,
                           carelog::v1::AppointmentRecord* record);
void ApplyComplaintMasks(const std::vector<std::string>& masked_fields,
                         carelog::v1::ComplaintRecord* record);
// Billing ("billing" fields: charges, payments, balance, service_codes, …),
// financial assistance ("financial_assistance" fields), logistics
// ("logistics" fields) and messages (the fields of the message kind's
// resource: clinical.messages, clinical.test_results,
// clinical.care_instructions).
void ApplyBillingMasks(const std::vector<std::string>& masked_fields,
                       carelog::v1::BillingAccountRecord* record);
void ApplyAssistanceMasks(const std::vector<std::string>& masked_fields,
                          carelog::v1::AssistanceCaseRecord* record);
void ApplyLogisticsMasks(const std::vector<std::string>& masked_fields,
                         carelog::v1::LogisticsRecord* record);
void ApplyMessageMasks(const std::vector<std::string>& masked_fields,
                       carelog::v1::MessageRecord* record);

class QueryServiceImpl final
    : public carelog::v1::QueryService::CallbackService {
 public:
  // All pointers must outlive the service; `log` may be null.
  QueryServiceImpl(storage::Ledger* ledger, Executor* executor,
                   const Authenticator* auth, const AccessEnforcer* access,
                   Projections* projections, std::shared_ptr<JsonLog> log);

  grpc::ServerUnaryReactor* GetPatientRecord(
      grpc::CallbackServerContext* call,
      const carelog::v1::GetPatientRecordRequest* req,
      carelog::v1::PatientRecord* reply) override;
  grpc::ServerUnaryReactor* FindPatients(
      grpc::CallbackServerContext* call,
      const carelog::v1::FindPatientsRequest* req,
      carelog::v1::PatientRecordPage* reply) override;
  grpc::ServerUnaryReactor* ListPatients(
      grpc::CallbackServerContext* call,
      const carelog::v1::ListPatientsRequest* req,
      carelog::v1::PatientRecordPage* reply) override;
  grpc::ServerUnaryReactor* ListAppointments(
      grpc::CallbackServerContext* call,
      const carelog::v1::ListAppointmentsRequest* req,
      carelog::v1::AppointmentPage* reply) override;
  grpc::ServerUnaryReactor* ListComplaints(
      grpc::CallbackServerContext* call,
      const carelog::v1::ListComplaintsRequest* req,
      carelog::v1::ComplaintPage* reply) override;
  grpc::ServerUnaryReactor* GetBillingAccount(
      grpc::CallbackServerContext* call,
      const carelog::v1::GetBillingAccountRequest* req,
      carelog::v1::BillingAccountRecord* reply) override;
  grpc::ServerUnaryReactor* ListBillingAccounts(
      grpc::CallbackServerContext* call,
      const carelog::v1::ListBillingAccountsRequest* req,
      carelog::v1::BillingAccountPage* reply) override;
  grpc::ServerUnaryReactor* ListInstalments(
      grpc::CallbackServerContext* call,
      const carelog::v1::ListInstalmentsRequest* req,
      carelog::v1::InstalmentPage* reply) override;
  grpc::ServerUnaryReactor* GetAssistanceCase(
      grpc::CallbackServerContext* call,
      const carelog::v1::GetAssistanceCaseRequest* req,
      carelog::v1::AssistanceCaseRecord* reply) override;
  grpc::ServerUnaryReactor* ListAssistanceCases(
      grpc::CallbackServerContext* call,
      const carelog::v1::ListAssistanceCasesRequest* req,
      carelog::v1::AssistanceCasePage* reply) override;
  grpc::ServerUnaryReactor* GetLogisticsArrangement(
      grpc::CallbackServerContext* call,
      const carelog::v1::GetLogisticsArrangementRequest* req,
      carelog::v1::LogisticsRecord* reply) override;
  grpc::ServerUnaryReactor* ListLogistics(
      grpc::CallbackServerContext* call,
      const carelog::v1::ListLogisticsRequest* req,
      carelog::v1::LogisticsPage* reply) override;
  grpc::ServerUnaryReactor* GetMessage(
      grpc::CallbackServerContext* call,
      const carelog::v1::GetMessageRequest* req,
      carelog::v1::MessageRecord* reply) override;
  grpc::ServerUnaryReactor* ListMessages(
      grpc::CallbackServerContext* call,
      const carelog::v1::ListMessagesRequest* req,
      carelog::v1::MessagePage* reply) override;
  grpc::ServerUnaryReactor* GetProjectionStatus(
      grpc::CallbackServerContext* call,
      const carelog::v1::GetProjectionStatusRequest* req,
      carelog::v1::GetProjectionStatusReply* reply) override;
  grpc::ServerUnaryReactor* RebuildProjection(
      grpc::CallbackServerContext* call,
      const carelog::v1::RebuildProjectionRequest* req,
      carelog::v1::RebuildProjectionReply* reply) override;

 private:
  // One page of patient records from index/filter keys under `prefix`.
  absl::Status ListFromIndex(CommandScope& scope, const std::string& prefix,
                             uint32_t page_size, const std::string& page_token,
                             carelog::v1::PatientRecordPage* reply);
  // Reads `patient_id`, authorizes demographics read (and insurance read
  // when `insurance`) and masks. NOT_FOUND / PERMISSION_DENIED.
  absl::StatusOr<carelog::v1::PatientRecord> ReadAuthorized(
      CommandScope& scope, const std::string& patient_id, bool insurance);

  QueryCore core_;
};

}  // namespace carelog::services::projections

#endif  // CARELOG_SERVICES_PROJECTIONS_QUERY_SERVICE_H_
