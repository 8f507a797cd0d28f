// services/projections/entity_views.h — views of per-patient entities: the
// appointments view ("appointments") and the complaints view ("complaints").
//
// Rows (keys hold opaque ids, provider ids, enums and times — never PHI; the
// event headers already pair these ids with the patient in the clear):
//   e/<entity id>              <patient id> '\n' sealed record (under the
//                              patient's key, ad = row key)
//   s/<patient>/<entity id>    that entity's index keys, '\n'-joined
//   i…                         index entries (empty values), per view:
//     appointments: ip/<provider>/<YYYY-MM-DD>/<start hex>/<id> (provider
//       and day), iu/<start hex>/<id> (scheduled or confirmed),
//       in/<start hex>/<id> (no-shows)
//     complaints: is/<status>/<filed hex>/<id>, ia/<assignee>/<id> (open),
//       ip/<priority>/<due hex>/<id> (open), id/<due hex>/<id> (open and not
//       acknowledged: breached once the due time passes)
// Thread-safety: Apply/Erase on the worker thread; static readers are
// thread-safe.
#ifndef CARELOG_SERVICES_PROJECTIONS_ENTITY_VIEWS_H_
#define CARELOG_SERVICES_PROJECTIONS_ENTITY_VIEWS_H_

#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

#include "carelog/v1/queries.pb.h"
#include "services/projections/view.h"

namespace carelog::services::projections {

inline constexpr char kAppointmentsView[] = "appointments";
inline constexpr char kComplaintsView[] = "complaints";

// Fixed-width hex of a time (sorts like the number; negative → 0).
std::string TimeKey(int64_t micros);
// YYYY-MM-DD of a calendar date (zero-padded; not validated).
std::string DayOf(const carelog::v1::Date& d);
// YYYY-MM-DD (UTC) of a time.
std::string DayOfTime(int64_t micros);

class EntityView : public View {
 public:
  absl::Status Erase(const std::string& subject_id, ViewTxn& txn) override;

  // The patient and opened record bytes of entity `id`.
  // Errors: NOT_FOUND (absent or erased); DATA_LOSS; store errors.
  static absl::StatusOr<std::pair<std::string, std::string>> ReadEntity(
      const storage::ProjectionStore& store, crypto::KeyRing& keys,
      const std::string& id);
  // The entity id at the end of an index or list key.
  static std::string IdOfKey(const std::string& key);

 protected:
  explicit EntityView(crypto::KeyRing* keys) : keys_(keys) {}
  // The opened record of `id` about `patient` (nullopt: none yet).
  absl::StatusOr<std::optional<std::string>> Load(ViewTxn& txn,
                                                  const std::string& id);
  // Parses the record of `id` into `rec`: false when there is none yet.
  // Errors: those of Load; DATA_LOSS when it does not parse as T.
  template <typename T>
  absl::StatusOr<bool> LoadAs(ViewTxn& txn, const std::string& id, T* rec) {
    auto plain = Load(txn, id);
    if (!plain.ok())
      return plain.status();
    if (!plain->has_value())
      return false;
    if (!rec->ParseFromString(**plain))
      return absl::DataLossError(absl::StrCat("view row ", id, " malformed"));
    return true;
  }
  absl::Status Save(ViewTxn& txn, const std::string& id,
                    const std::string& patient, const std::string& plaintext,
                    const std::set<std::string>& index_keys);
  crypto::KeyRing* const keys_;
};

class AppointmentsView final : public EntityView {
 public:
  explicit AppointmentsView(crypto::KeyRing* keys) : EntityView(keys) {}
  std::string name() const override { return kAppointmentsView; }
  bool Wants(const storage::EventHeader& header) const override;
  absl::Status Apply(const DecodedEvent& event, ViewTxn& txn) override;
  static std::string ProviderDayPrefix(const std::string& provider,
                                       const std::string& day);
};

class ComplaintsView final : public EntityView {
 public:
  explicit ComplaintsView(crypto::KeyRing* keys) : EntityView(keys) {}
  std::string name() const override { return kComplaintsView; }
  bool Wants(const storage::EventHeader& header) const override;
  absl::Status Apply(const DecodedEvent& event, ViewTxn& txn) override;
};

}  // namespace carelog::services::projections

#endif  // CARELOG_SERVICES_PROJECTIONS_ENTITY_VIEWS_H_
