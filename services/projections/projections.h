// services/projections/projections.h — the set of projections carelogd keeps:
// one ProjectionStore and one ProjectionWorker per view, started and stopped
// together.
//
// Thread-safety: Start/Stop from one thread (the server's); Find/workers are
// safe concurrently once constructed. Must be destroyed before the Ledger.
#ifndef CARELOG_SERVICES_PROJECTIONS_PROJECTIONS_H_
#define CARELOG_SERVICES_PROJECTIONS_PROJECTIONS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "services/audit/audit_view.h"
#include "services/projections/projection_worker.h"
#include "storage/ledger.h"
#include "storage/projection_store.h"

namespace carelog::services::projections {

class Projections {
 public:
  // Opens the stores of every view on `ledger` (which must outlive this) and
  // creates their workers (not started); the audit view computes its anomaly
  // flags with `anomalies`. Errors: those of ProjectionStore::Open and
  // ProjectionWorker::Create.
  static absl::StatusOr<std::unique_ptr<Projections>> Open(
      storage::Ledger* ledger, WorkerOptions options = {},
      audit::AuditViewOptions anomalies = {});
  ~Projections();  // Stop()

  void Start();
  void Stop();  // blocks until every worker has joined

  // nullptr when unknown.
  ProjectionWorker* Find(const std::string& name) const;
  const std::vector<std::unique_ptr<ProjectionWorker>>& workers() const {
    return workers_;
  }
  storage::Ledger* ledger() const { return ledger_; }

 private:
  explicit Projections(storage::Ledger* ledger) : ledger_(ledger) {}
  storage::Ledger* const ledger_;
  std::vector<std::unique_ptr<storage::ProjectionStore>> stores_;
  std::vector<std::unique_ptr<ProjectionWorker>> workers_;
};

}  // namespace carelog::services::projections

#endif  // CARELOG_SERVICES_PROJECTIONS_PROJECTIONS_H_
