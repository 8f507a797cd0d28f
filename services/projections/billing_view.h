// services/projections/billing_view.h — the billing view ("billing"): patient
// accounts, payment plans and financial assistance cases, from streams
// billing/<patient>, plan/<plan> and assistance/<case>.
//
// Entities (EntityView rows e/<id> and s/<patient>/<id>, sealed under the
// patient's key): the account "a@<patient>" (BillingAccountRecord: totals,
// balance and every line), each plan "p@<plan>" (PaymentPlanRecord with its
// instalments) and each case "c@<case>" (AssistanceCaseRecord). '@' is no id
// character, so the three kinds never collide.
// Index keys (empty values; opaque ids, enums and dates only — never
// amounts or free text):
//   ba/<patient>                         every account
//   bo/<patient>                         balance above zero
//   bc/<patient>                         balance below zero (a credit)
//   iu/<YYYY-MM-DD>/<plan>/<index 4 dec> unpaid instalment by due date
//   ic/<counselor>/<patient>/<case>      a counselor's cases
//   cs/<status>/<applied hex>/<case>     cases by status, oldest first
// Thread-safety: Apply/Erase on the worker thread; static helpers are
// thread-safe.
#ifndef CARELOG_SERVICES_PROJECTIONS_BILLING_VIEW_H_
#define CARELOG_SERVICES_PROJECTIONS_BILLING_VIEW_H_

#include <string>

#include "carelog/v1/queries_billing.pb.h"
#include "services/projections/entity_views.h"

namespace carelog::services::projections {

inline constexpr char kBillingView[] = "billing";

class BillingView final : public EntityView {
 public:
  explicit BillingView(crypto::KeyRing* keys) : EntityView(keys) {}
  std::string name() const override { return kBillingView; }
  bool Wants(const storage::EventHeader& header) const override;
  // Errors: DATA_LOSS for an event type the view does not know on its
  // streams, or one naming another patient than its subject;
  // FAILED_PRECONDITION for a plan or case event before its creation.
  absl::Status Apply(const DecodedEvent& event, ViewTxn& txn) override;

  static std::string AccountId(const std::string& patient_id) {
    return "a@" + patient_id;
  }
  static std::string PlanId(const std::string& plan_id) {
    return "p@" + plan_id;
  }
  static std::string CaseId(const std::string& case_id) {
    return "c@" + case_id;
  }
  // The id after the '@' of an entity id ("" when there is none).
  static std::string Unqualified(const std::string& entity_id);
  // Parses an iu/ key into plan id and instalment index.
  static bool ParseInstalmentKey(const std::string& key, std::string* plan_id,
                                 int* index);

 private:
  absl::Status ApplyAccount(const DecodedEvent& e, ViewTxn& txn);
  absl::Status ApplyPlan(const DecodedEvent& e, ViewTxn& txn);
  absl::Status ApplyCase(const DecodedEvent& e, ViewTxn& txn);
};

}  // namespace carelog::services::projections

#endif  // CARELOG_SERVICES_PROJECTIONS_BILLING_VIEW_H_
