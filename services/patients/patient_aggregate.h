// services/patients/patient_aggregate.h — a patient's current state, folded
// from stream patient/<id>, and the rules its commands check against it.
// Pure code (no I/O); thread-compatible.
#ifndef CARELOG_SERVICES_PATIENTS_PATIENT_AGGREGATE_H_
#define CARELOG_SERVICES_PATIENTS_PATIENT_AGGREGATE_H_

#include <map>
#include <string>

#include "absl/status/status.h"

#include "carelog/v1/patients.pb.h"
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
  int check_ins = 0;
};

// Applies one patient event. Errors: DATA_LOSS for an event type the patient
// aggregate does not know (never silently skipped).
absl::Status FoldPatient(PatientState* state, const DecodedEvent& event);

// The relationship facts of `actor` to this patient, for the enforcement point.
PatientFacts PatientFactsFor(const PatientState& state,
                             const std::string& actor);

// State rules (FAILED_PRECONDITION / NOT_FOUND with the reason).
absl::Status RequireExists(const PatientState& state,
                           const std::string& patient_id);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_PATIENTS_PATIENT_AGGREGATE_H_
