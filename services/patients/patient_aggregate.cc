#include "services/patients/patient_aggregate.h"

#include "absl/strings/str_cat.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace): event
                              // names read better unqualified

absl::Status FoldPatient(PatientState* s, const DecodedEvent& e) {
  if (PatientRegistered ev; e.As(&ev)) {
    s->exists = true;
    s->patient_id = ev.patient_id();
    s->demographics = ev.demographics();
    s->contact = ev.contact();
    s->preferred_language = ev.preferred_language();
    s->emergency_contact = ev.emergency_contact();
  } else if (DemographicsUpdated ev; e.As(&ev)) {
    s->demographics = ev.demographics();
    s->contact = ev.contact();
    s->preferred_language = ev.preferred_language();
    s->emergency_contact = ev.emergency_contact();
  } else if (InsuranceRecorded ev; e.As(&ev)) {
    s->insurances[ev.insurance_id()].insurance = ev.insurance();
  } else if (InsuranceVerificationRecorded ev; e.As(&ev)) {
    s->insurances[ev.insurance_id()].verification = ev.result();
  } else if (PatientCheckedIn ev; e.As(&ev)) {
    ++s->check_ins;
  } else if (CareTeamMemberAssigned ev; e.As(&ev)) {
    s->care_team[ev.member_id()] = ev.role();
  } else if (CareTeamMemberRemoved ev; e.As(&ev)) {
    s->care_team.erase(ev.member_id());
  } else if (PatientFlagsSet ev; e.As(&ev)) {
    s->flags = ev.flags();
  } else {
    return absl::DataLossError(absl::StrCat(
        "patient aggregate cannot apply event type ", e.header.event_type));
  }
  return absl::OkStatus();
}

PatientFacts PatientFactsFor(const PatientState& state,
                             const std::string& actor) {
  PatientFacts f;
  f.is_self = state.exists && actor == state.patient_id;
  f.on_care_team = state.care_team.count(actor) > 0;
  f.is_assigned =
      false;  // case assignment lives with complaints/assistance cases
  f.vip = state.flags.vip();
  f.employee = state.flags.employee();
  f.restricted = state.flags.restricted();
  return f;
}

absl::Status RequireExists(const PatientState& state,
                           const std::string& patient_id) {
  if (!state.exists)
    return absl::NotFoundError(
        absl::StrCat("patient ", patient_id, " not found"));
  return absl::OkStatus();
}

}  // namespace carelog::services
