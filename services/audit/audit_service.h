// services/audit/audit_service.h — carelog.v1.AuditService: compliance
// queries over the audit projection (services/audit/audit_view.h), the
// break-the-glass review queue and review command, anomaly lists and CSV /
// FHIR AuditEvent exports.
//
// Operation. Every call is authorized at the single enforcement point as
// resource "audit" — queries and lists: read; exports: export; reviews:
// review — about the filter's patient when it names one (else no patient),
// and audited: one AccessAudited event per call, durable before the reply
// (RunAuditedRead; the review goes through the CommandRunner, its decision
// and its BreakGlassReviewed event in one batch). A denied call answers
// PERMISSION_DENIED with no data once its denial is durable. Records are
// masked by the decision's field masks; a filter on a masked field is
// PERMISSION_DENIED. A read without min_position waits for the view to
// reach the ledger head as of the call (read-your-writes for the trail).
// Bad input is INVALID_ARGUMENT naming the field, before
// anything is decided or appended.
// Concurrency. Thread-safe; work runs on Executor threads.
// Limitations. A page scans at most kMaxScan index rows: with filters that
// the chosen index does not narrow, a page may hold fewer records than asked
// and a next_page_token to continue.
#ifndef CARELOG_SERVICES_AUDIT_AUDIT_SERVICE_H_
#define CARELOG_SERVICES_AUDIT_AUDIT_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"

#include "carelog/v1/audit.grpc.pb.h"
#include "services/audit/audited_call.h"
#include "services/domain/command_runner.h"
#include "services/projections/projections.h"

namespace carelog::services::audit {

inline constexpr char kResourceAudit[] = "audit";
inline constexpr size_t kMaxScan = 5000;

// Validation (INVALID_ARGUMENT naming the field): ids, a known purpose, enum
// values, from <= to.
absl::Status ValidateFilter(const carelog::v1::AuditFilter& filter);
// INVALID_ARGUMENT naming `prefix`from_micros / to_micros unless both are in
// 0 … year 9999 and, when to_micros is set, from_micros < to_micros.
absl::Status ValidateTimeRange(int64_t from_micros, int64_t to_micros,
                               absl::string_view prefix);

class AuditServiceImpl final
    : public carelog::v1::AuditService::CallbackService {
 public:
  // All pointers must outlive the service.
  AuditServiceImpl(AuditedCallDeps deps, CommandRunner* runner,
                   projections::Projections* projections);

  grpc::ServerUnaryReactor* QueryAudit(
      grpc::CallbackServerContext* call,
      const carelog::v1::QueryAuditRequest* req,
      carelog::v1::AuditPage* reply) override;
  grpc::ServerUnaryReactor* ListBreakGlassQueue(
      grpc::CallbackServerContext* call,
      const carelog::v1::ListBreakGlassQueueRequest* req,
      carelog::v1::AuditPage* reply) override;
  grpc::ServerUnaryReactor* ReviewBreakTheGlass(
      grpc::CallbackServerContext* call,
      const carelog::v1::ReviewBreakTheGlassRequest* req,
      carelog::v1::ReviewBreakTheGlassReply* reply) override;
  grpc::ServerUnaryReactor* ListAnomalies(
      grpc::CallbackServerContext* call,
      const carelog::v1::ListAnomaliesRequest* req,
      carelog::v1::AuditPage* reply) override;
  grpc::ServerUnaryReactor* ExportAudit(
      grpc::CallbackServerContext* call,
      const carelog::v1::ExportAuditRequest* req,
      carelog::v1::ExportAuditReply* reply) override;

 private:
  struct PageArgs;
  // Authorizes `action` on the audit trail (about filter.patient_id), then
  // reads one page of `plan` and masks it. PERMISSION_DENIED when denied.
  absl::Status ReadAuthorized(CommandScope& scope, const std::string& action,
                              const PageArgs& args,
                              carelog::v1::AuditPage* out);
  grpc::ServerUnaryReactor* Page(grpc::CallbackServerContext* call,
                                 const std::string& method, PageArgs args,
                                 carelog::v1::AuditPage* reply);
  projections::ProjectionWorker* worker() const;
  // min_position 0 means the ledger head when the call arrives.
  uint64_t WaitPosition(uint64_t asked) const;

  const AuditedCallDeps deps_;
  CommandRunner* const runner_;
  projections::Projections* const projections_;
};

}  // namespace carelog::services::audit

#endif  // CARELOG_SERVICES_AUDIT_AUDIT_SERVICE_H_
