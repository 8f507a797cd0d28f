// policies/facts.h — everything a decision may depend on, gathered by the
// caller before it asks: who, why, what, about whom, and when.
//
// The engine never looks anything up itself (no I/O in the decision path), so
// every relationship, flag, restriction and break-the-glass grant is a fact
// here. Thread-safety: plain data.
#ifndef CARELOG_POLICIES_FACTS_H_
#define CARELOG_POLICIES_FACTS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

#include "policies/model.h"

namespace carelog::policies {

// A patient's request to restrict disclosure to a party (HIPAA right to
// request restrictions). Applied as a forbid that no permit can override.
struct PatientRestriction {
  enum class PartyKind { kActor, kRole, kService };
  std::string
      id;  // names the restriction in decisions: "patient-restriction/<id>"
  PartyKind kind = PartyKind::kActor;
  std::string party;  // actor id, role name or calling-service identity
  std::vector<Resource> resources;  // empty: every resource
};

struct RequestFacts {
  // Who and why.
  std::string actor_id;
  std::vector<std::string> roles;
  std::string purpose;  // HL7 PurposeOfUse code
  bool reason_present = false;
  std::string calling_service;  // mTLS identity; empty without mTLS

  // What.
  Resource resource = Resource::kLedger;
  Action action = Action::kRead;

  // About whom: empty patient_id when the request is about no one patient.
  std::string patient_id;
  bool is_self = false;
  bool on_care_team = false;
  bool is_assigned = false;
  bool patient_vip = false;
  bool patient_employee = false;
  bool patient_restricted = false;
  std::vector<PatientRestriction> restrictions;

  // When, and whether this actor holds a break-the-glass grant for this
  // patient: the grant is active while now < break_glass_until.
  absl::Time now = absl::UnixEpoch();
  absl::Time break_glass_until = absl::InfinitePast();
};

}  // namespace carelog::policies

#endif  // CARELOG_POLICIES_FACTS_H_
