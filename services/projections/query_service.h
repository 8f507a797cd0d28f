// services/projections/query_service.h — carelog.v1.QueryService: reads over
// the projected views, and projection status/rebuild for operators.
//
// Operation. Each read authenticates (inline), then on the Executor: waits
// for min_position (bounded by the call's deadline: DEADLINE_EXCEEDED),
// reads the view, asks the single enforcement point (AccessEnforcer) for
// every patient it would disclose — with PatientFacts from the view's care
// team and flags — clears the fields the decision masks, and appends one
// AccessAudited event per decision (audit key, stream audit/<patient>). The
// reply is sent only once that append is durable; if it fails, the read fails
// UNAVAILABLE (fail closed). A denied Get answers PERMISSION_DENIED after its
// denial is durable; lists leave out patients the caller may not read.
// Concurrency. Thread-safe; reads run on Executor threads (min_position waits
// block one of them), audit appends complete on the ledger writer thread.
// Limitations. A list page may hold fewer rows than asked when some are
// denied or erased; the page token still advances.
#ifndef CARELOG_SERVICES_PROJECTIONS_QUERY_SERVICE_H_
#define CARELOG_SERVICES_PROJECTIONS_QUERY_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "carelog/v1/queries.grpc.pb.h"
#include "services/domain/command_runner.h"
#include "services/projections/projections.h"
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
  grpc::ServerUnaryReactor* GetProjectionStatus(
      grpc::CallbackServerContext* call,
      const carelog::v1::GetProjectionStatusRequest* req,
      carelog::v1::GetProjectionStatusReply* reply) override;
  grpc::ServerUnaryReactor* RebuildProjection(
      grpc::CallbackServerContext* call,
      const carelog::v1::RebuildProjectionRequest* req,
      carelog::v1::RebuildProjectionReply* reply) override;

 private:
  using Body = std::function<absl::Status(CommandScope&)>;
  // Runs `body` on the executor and finishes the call after auditing.
  grpc::ServerUnaryReactor* RunRead(grpc::CallbackServerContext* call,
                                    const std::string& method,
                                    const std::string& view,
                                    uint64_t min_position, Body body);
  // Facts about `patient_id` for `actor` from the patients view ({} when
  // unknown).
  PatientFacts FactsFor(const std::string& patient_id,
                        const std::string& actor);
  // One page of entity ids from keys under `prefix` (after the token, else
  // after `first_after`; keys >= `stop_at` end the list when not empty);
  // `emit` authorizes and adds each.
  absl::Status ListEntities(
      const std::string& view, const std::string& prefix,
      const std::string& first_after, const std::string& stop_at,
      uint32_t page_size, const std::string& page_token,
      const std::function<absl::Status(const std::string& id)>& emit,
      std::string* next_page_token);
  // One page of records from index/filter keys under `prefix`.
  absl::Status ListFromIndex(CommandScope& scope, const std::string& prefix,
                             uint32_t page_size, const std::string& page_token,
                             carelog::v1::PatientRecordPage* reply);
  // Reads `patient_id`, authorizes demographics read (and insurance read
  // when `insurance`) and masks. NOT_FOUND / PERMISSION_DENIED.
  absl::StatusOr<carelog::v1::PatientRecord> ReadAuthorized(
      CommandScope& scope, const std::string& patient_id, bool insurance);

  storage::Ledger* const ledger_;
  Executor* const executor_;
  const Authenticator* const auth_;
  const AccessEnforcer* const access_;
  Projections* const projections_;
  std::shared_ptr<JsonLog> log_;
};

}  // namespace carelog::services::projections

#endif  // CARELOG_SERVICES_PROJECTIONS_QUERY_SERVICE_H_
