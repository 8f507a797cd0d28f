#include "services/patients/patient_aggregate.h"

#include "absl/strings/str_cat.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace): event
                              // names read better unqualified

namespace {

bool IsPatientData(policies::Resource r) {
  return r != policies::Resource::kAudit && r != policies::Resource::kLedger;
}

}  // namespace

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
  } else if (DisclosureRestrictionRecorded ev; e.As(&ev)) {
    *s->restrictions.Add() = ev.restriction();
  } else if (DisclosureRestrictionLifted ev; e.As(&ev)) {
    RemoveRestriction(&s->restrictions, ev.restriction_id());
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
  f.restrictions = ToPolicyRestrictions(state.restrictions);
  return f;
}

bool RemoveRestriction(
    google::protobuf::RepeatedPtrField<DisclosureRestriction>* restrictions,
    const std::string& restriction_id) {
  for (int i = 0; i < restrictions->size(); ++i) {
    if (restrictions->Get(i).restriction_id() == restriction_id) {
      restrictions->DeleteSubrange(i, 1);
      return true;
    }
  }
  return false;
}

std::vector<policies::PatientRestriction> ToPolicyRestrictions(
    const google::protobuf::RepeatedPtrField<DisclosureRestriction>&
        restrictions) {
  std::vector<policies::PatientRestriction> out;
  out.reserve(restrictions.size());
  for (const auto& r : restrictions) {
    policies::PatientRestriction pr;
    pr.id = r.restriction_id();
    pr.party = r.party();
    switch (r.party_kind()) {
      case RESTRICTED_PARTY_KIND_ACTOR:
        pr.kind = policies::PatientRestriction::PartyKind::kActor;
        break;
      case RESTRICTED_PARTY_KIND_ROLE:
        pr.kind = policies::PatientRestriction::PartyKind::kRole;
        break;
      case RESTRICTED_PARTY_KIND_SERVICE:
        pr.kind = policies::PatientRestriction::PartyKind::kService;
        break;
      default:
        continue;  // validation refuses it; an unknown kind names no one
    }
    bool every = r.resources().empty();
    for (const auto& name : r.resources()) {
      const auto res = policies::ParseResource(name);
      if (!res || !IsPatientData(*res))
        every = true;
      else
        pr.resources.push_back(*res);
    }
    if (every) {
      pr.resources.clear();
      for (size_t i = 0; i < policies::kResourceCount; ++i) {
        const auto res = static_cast<policies::Resource>(i);
        if (IsPatientData(res))
          pr.resources.push_back(res);
      }
    }
    out.push_back(std::move(pr));
  }
  return out;
}

absl::Status RequireExists(const PatientState& state,
                           const std::string& patient_id) {
  if (!state.exists)
    return absl::NotFoundError(
        absl::StrCat("patient ", patient_id, " not found"));
  return absl::OkStatus();
}

}  // namespace carelog::services
