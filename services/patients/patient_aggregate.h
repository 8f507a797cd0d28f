// services/patients/patient_aggregate.h — a patient's current state, folded
// from stream patient/<id>, and the rules its commands check against it.
// Pure code (no I/O); thread-compatible.
#ifndef CARELOG_SERVICES_PATIENTS_PATIENT_AGGREGATE_H_
#define CARELOG_SERVICES_PATIENTS_PATIENT_AGGREGATE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "carelog/v1/patients.pb.h"
#include "policies/facts.h"
#include "services/domain/event_codec.h"
#include "services/server/access.h"

namespace carelog::services {

inline std::string PatientStream(const std::string& patient_id) {
  return "patient/" + patient_id;
}

struct InsuranceState {
  carelog::v1::Insurance insurance;
  carelog::v1::VerificationResult verification =
      carelog::v1::VERIFICATION_RESULT_UNSPECIFIED;
};

struct PatientState {
  bool exists = false;
  std::string patient_id;
  carelog::v1::Demographics demographics;
  carelog::v1::ContactPoint contact;
  std::string preferred_language;
  carelog::v1::EmergencyContact emergency_contact;
  std::map<std::string, InsuranceState> insurances;
  std::map<std::string, carelog::v1::CareTeamRole>
      care_team;  // member id → role
  carelog::v1::PatientFlags flags;
  // Restrictions in force, in the order they were recorded.
  google::protobuf::RepeatedPtrField<carelog::v1::DisclosureRestriction>
      restrictions;
  int check_ins = 0;
};

// At most this many restrictions in force per patient.
inline constexpr int kMaxRestrictionsPerPatient = 64;

// Applies one patient event. Errors: DATA_LOSS for an event type the patient
// aggregate does not know (never silently skipped).
absl::Status FoldPatient(PatientState* state, const DecodedEvent& event);

// The relationship facts of `actor` to this patient, for the enforcement point.
PatientFacts PatientFactsFor(const PatientState& state,
                             const std::string& actor);

// Removes restriction `restriction_id`; false when none has that id.
bool RemoveRestriction(google::protobuf::RepeatedPtrField<
                           carelog::v1::DisclosureRestriction>* restrictions,
                       const std::string& restriction_id);

// The policy engine's form of a patient's restrictions. A restriction with no
// resources covers every patient-data resource — never audit or ledger: a
// patient cannot restrict compliance oversight of their own trail. A resource
// name the model does not know (validation refuses them; a later model might
// rename one) makes the restriction cover every patient-data resource, so a
// restriction never narrows by mistake.
std::vector<policies::PatientRestriction> ToPolicyRestrictions(
    const google::protobuf::RepeatedPtrField<
        carelog::v1::DisclosureRestriction>& restrictions);

// State rules (FAILED_PRECONDITION / NOT_FOUND with the reason).
absl::Status RequireExists(const PatientState& state,
                           const std::string& patient_id);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_PATIENTS_PATIENT_AGGREGATE_H_
