// services/projections/support_views.h — the logistics view ("logistics":
// transportation and lodging arrangements, stream logistics/<id>) and the
// messages view ("messages": messages, test results and care instructions
// with their delivery and acknowledgement, stream message/<id>).
//
// Entities: EntityView rows e/<id> (sealed LogisticsRecord / MessageRecord
// under the patient's key) and s/<patient>/<id>.
// Index keys (empty values; opaque ids, enums and times only):
//   logistics: lo/<day>/<id> (open: requested, arranged or confirmed),
//     lk/<kind>/<day>/<id> (open, by kind), ls/<status>/<day>/<id>; <day> is
//     the pickup day or the check-in day (YYYY-MM-DD, UTC)
//   messages: mp/<patient>/<sent hex>/<id> (a patient's, oldest first),
//     ms/<status>/<sent hex>/<id>
// Thread-safety: Apply/Erase on the worker thread.
#ifndef CARELOG_SERVICES_PROJECTIONS_SUPPORT_VIEWS_H_
#define CARELOG_SERVICES_PROJECTIONS_SUPPORT_VIEWS_H_

#include <string>

#include "carelog/v1/queries_logistics.pb.h"
#include "carelog/v1/queries_messaging.pb.h"
#include "services/projections/entity_views.h"

namespace carelog::services::projections {

inline constexpr char kLogisticsView[] = "logistics";
inline constexpr char kMessagesView[] = "messages";

// Errors of Apply (both views): DATA_LOSS for an event type the view does
// not know on its streams or one naming another patient than its subject;
// FAILED_PRECONDITION for an event before the entity's creation.
class LogisticsView final : public EntityView {
 public:
  explicit LogisticsView(crypto::KeyRing* keys) : EntityView(keys) {}
  std::string name() const override { return kLogisticsView; }
  bool Wants(const storage::EventHeader& header) const override;
  absl::Status Apply(const DecodedEvent& event, ViewTxn& txn) override;
  // Whether the arrangement status is open (requested, arranged, confirmed).
  static bool IsOpen(carelog::v1::ArrangementStatus status);
};

class MessagesView final : public EntityView {
 public:
  explicit MessagesView(crypto::KeyRing* keys) : EntityView(keys) {}
  std::string name() const override { return kMessagesView; }
  bool Wants(const storage::EventHeader& header) const override;
  absl::Status Apply(const DecodedEvent& event, ViewTxn& txn) override;
};

}  // namespace carelog::services::projections

#endif  // CARELOG_SERVICES_PROJECTIONS_SUPPORT_VIEWS_H_
