#include "services/projections/projections.h"

#include <utility>

#include "services/audit/audit_view.h"
#include "services/projections/billing_view.h"
#include "services/projections/entity_views.h"
#include "services/projections/patient_record_view.h"
#include "services/projections/support_views.h"

namespace carelog::services::projections {

absl::StatusOr<std::unique_ptr<Projections>> Projections::Open(
    storage::Ledger* ledger, WorkerOptions options,
    audit::AuditViewOptions anomalies) {
  std::unique_ptr<Projections> p(new Projections(ledger));
  std::vector<std::unique_ptr<View>> views;
  views.push_back(std::make_unique<PatientRecordView>(&ledger->key_ring()));
  views.push_back(std::make_unique<AppointmentsView>(&ledger->key_ring()));
  views.push_back(std::make_unique<ComplaintsView>(&ledger->key_ring()));
  views.push_back(std::make_unique<BillingView>(&ledger->key_ring()));
  views.push_back(std::make_unique<LogisticsView>(&ledger->key_ring()));
  views.push_back(std::make_unique<MessagesView>(&ledger->key_ring()));
  views.push_back(
      std::make_unique<audit::AuditView>(&ledger->key_ring(), anomalies));
  for (auto& v : views) {
    auto store = storage::ProjectionStore::Open(ledger, v->name());
    if (!store.ok())
      return store.status();
    auto worker =
        ProjectionWorker::Create(ledger, store->get(), std::move(v), options);
    if (!worker.ok())
      return worker.status();
    p->stores_.push_back(std::move(*store));
    p->workers_.push_back(std::move(*worker));
  }
  return p;
}

Projections::~Projections() {
  Stop();
  workers_.clear();
  stores_.clear();
}

void Projections::Start() {
  for (auto& w : workers_)
    w->Start();
}

void Projections::Stop() {
  for (auto& w : workers_)
    w->Stop();
}

ProjectionWorker* Projections::Find(const std::string& name) const {
  for (const auto& w : workers_) {
    if (w->name() == name)
      return w.get();
  }
  return nullptr;
}

}  // namespace carelog::services::projections
