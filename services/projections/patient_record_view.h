// services/projections/patient_record_view.h — the patient record view
// ("patients"): one sealed PatientRecord per patient (demographics, contact,
// insurance with verification status, check-ins and missing paperwork, care
// team, flags), blind indexes for lookups by name, family name, date of
// birth, MRN and phone, and filter indexes (missing paperwork, unverified
// insurance).
//
// Rows (keys hold opaque patient ids and keyed hashes only, never PHI):
//   p/<patient>                      sealed PatientRecord (ad = row key)
//   x/<patient>                      this patient's index keys, '\n'-joined
//   i/<field>/<hex mac>/<patient>    blind index entry (empty value)
//   f/<filter>/<patient>             filter entry (empty value)
// Thread-safety: Apply/Erase on the worker thread; the static readers are
// thread-safe.
#ifndef CARELOG_SERVICES_PROJECTIONS_PATIENT_RECORD_VIEW_H_
#define CARELOG_SERVICES_PROJECTIONS_PATIENT_RECORD_VIEW_H_

#include <map>
#include <string>
#include <vector>

#include "carelog/v1/queries.pb.h"
#include "services/projections/view.h"

namespace carelog::services::projections {

inline constexpr char kPatientsView[] = "patients";

class PatientRecordView final : public View {
 public:
  explicit PatientRecordView(crypto::KeyRing* keys) : keys_(keys) {}

  std::string name() const override { return kPatientsView; }
  bool Wants(const storage::EventHeader& header) const override;
  absl::Status Apply(const DecodedEvent& event, ViewTxn& txn) override;
  absl::Status Erase(const std::string& subject_id, ViewTxn& txn) override;
  absl::Status Flush(ViewTxn& txn) override;
  void Discard() override { pending_.clear(); }

  static std::string RecordKey(const std::string& patient_id);
  static std::string FilterPrefix(carelog::v1::ListPatientsRequest::Filter f);
  // The index prefix for a lookup, or INVALID_ARGUMENT naming `value`.
  static absl::StatusOr<std::string> LookupPrefix(
      const crypto::KeyRing& keys, carelog::v1::PatientLookupField field,
      const std::string& value);
  // The patient id at the end of an index or filter key.
  static std::string PatientOfIndexKey(const std::string& key);

  // Reads and opens a record. Errors: NOT_FOUND (absent or erased);
  // DATA_LOSS; store errors.
  static absl::StatusOr<carelog::v1::PatientRecord> Read(
      const storage::ProjectionStore& store, crypto::KeyRing& keys,
      const std::string& patient_id);

 private:
  absl::Status Store(const carelog::v1::PatientRecord& rec, ViewTxn& txn);
  crypto::KeyRing* const keys_;
  // Records changed by the batch in progress: opened, indexed and sealed once
  // per batch rather than once per event.
  std::map<std::string, carelog::v1::PatientRecord> pending_;
};

}  // namespace carelog::services::projections

#endif  // CARELOG_SERVICES_PROJECTIONS_PATIENT_RECORD_VIEW_H_
