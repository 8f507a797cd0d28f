// policies/policy.h — an immutable, validated access policy and its decision
// function: Decide(facts) -> Decision.
//
// Semantics (after Cedar):
//   - Deny by default: with no matching permit rule the effect is
//     NOT_PERMITTED, named by the pseudo-rule "default-deny".
//   - An explicit forbid beats any permit, whatever the order of the rules:
//     with one matching forbid the effect is FORBID, naming every matching
//     forbid. A patient restriction (RequestFacts::restrictions) is a forbid
//     named "patient-restriction/<id>".
//   - A permit names every matching permit rule. Masked fields are those
//     every permitting rule hides: the union of their masks minus whatever any
//     of them leaves visible (a second permit can only widen access).
//   - Break-the-glass rules permit only for purpose ETREAT, with a reason, and
//     while the facts carry an active grant for this actor and patient; a
//     decision that rests on break-the-glass rules alone has break_glass set,
//     and every such use must be reviewed.
//
// Policy file (YAML), validated on load — an unknown key, role, resource,
// action, purpose, relationship, flag or field is an error naming its line:
//
//   version: 1
//   name: carelog-default
//   roles: [patient, clinician, ...]          # every role rules may name
//   rules:
//     - id: clinician-treat-clinical            # unique; [a-z0-9._/-]
//       description: free text
//       effect: permit | forbid
//       roles: [clinician] | "*"
//       resources: [clinical.messages, ...] | "*"
//       actions: [read, write] | "*"
//       purposes: [TREAT, CAREMGT] | "*"       # required for permits
//       relationship: [care_team, assigned]   # any of; default: any
//       unless_relationship: [self]           # the rule does not apply if one
//       holds patient_flags: [vip, employee]        # applies only to flagged
//       patients patient: present | absent             # whether the request
//       names a patient require_reason: true break_glass: true # permit only;
//       purposes ETREAT only unless_break_glass: true              # forbid
//       only: not for break-the-glass fields: [name, phone]                 #
//       permit only: visible fields (others masked) mask: [ssn_last4] # permit
//       only: masked fields (others visible)
//
// Performance: rules are indexed by (resource, action, role) at load; a
// decision allocates only its result and touches only the rules of its
// bucket that name one of the caller's roles or "*".
// Thread-safety: a Policy is immutable; Decide is safe for concurrent use.
#ifndef CARELOG_POLICIES_POLICY_H_
#define CARELOG_POLICIES_POLICY_H_

#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "policies/facts.h"
#include "policies/model.h"

namespace carelog::policies {

inline constexpr char kDefaultDenyRule[] = "default-deny";
inline constexpr char kPatientRestrictionRulePrefix[] = "patient-restriction/";
inline constexpr size_t kMaxRoles = 256;

enum class Effect { kPermit, kForbid, kNotPermitted };

// "permit", "forbid", "not_permitted".
absl::string_view EffectName(Effect e);

struct Decision {
  Effect effect = Effect::kNotPermitted;
  std::vector<std::string> rule_ids;       // never empty
  std::vector<std::string> masked_fields;  // sorted; only for kPermit
  bool break_glass =
      false;  // permitted through break-the-glass alone: review it
  std::string policy_hash;  // SHA-256 of the policy file bytes, hex
  // For kNotPermitted: which condition kept the nearest rule from applying
  // (e.g. a missing reason); empty otherwise. Names rules, never facts.
  std::string hint;

  bool allowed() const { return effect == Effect::kPermit; }
};

class Policy {
 public:
  // Parses and validates policy YAML. The policy hash is computed over
  // exactly these bytes. Errors: INVALID_ARGUMENT naming the line and the
  // offending key or name.
  static absl::StatusOr<std::shared_ptr<const Policy>> Parse(
      absl::string_view yaml);

  // Reads `path` (blocking file I/O) and parses it. Errors: NOT_FOUND for an
  // unreadable file; as Parse, with the path in the message.
  static absl::StatusOr<std::shared_ptr<const Policy>> LoadFile(
      const std::string& path);

  // The decision for `facts`. Pure: no I/O, no locks.
  Decision Decide(const RequestFacts& facts) const;

  const std::string& hash() const { return hash_; }
  const std::string& name() const { return name_; }
  size_t rule_count() const { return rules_.size(); }
  const std::vector<std::string>& roles() const { return role_names_; }
  bool HasRule(absl::string_view id) const;

  // Implementation detail, public only so the parser can build rules.
  struct Rule {
    std::string id;
    uint32_t order = 0;  // position in the file
    int line = 0;
    bool forbid = false;
    bool any_role = false;
    std::bitset<kMaxRoles> roles;
    std::bitset<kResourceCount> resources;
    std::bitset<kActionCount> actions;
    std::bitset<64> purposes;
    uint8_t relationships = 0;  // bit per Relationship; 0: any
    uint8_t unless_relationships = 0;
    uint8_t patient_flags = 0;  // bit per PatientFlag; 0: no condition
    int patient_presence = 0;   // 0 either, 1 present, 2 absent
    bool require_reason = false;
    bool break_glass = false;
    bool unless_break_glass = false;
    std::array<std::vector<std::string>, kResourceCount>
        masks;  // sorted, per resource
  };

 private:
  Policy() = default;
  friend class PolicyParser;

  // Rules of one (resource, action), split by effect and indexed by role so
  // that a decision scans only the rules naming one of the caller's roles
  // (or "*"). Each list is in file order.
  struct RuleList {
    std::vector<const Rule*> any_role;
    std::vector<std::vector<const Rule*>> by_role;  // [role index]
  };
  struct Bucket {
    RuleList forbids;
    RuleList permits;
  };

  std::string hash_;
  std::string name_;
  std::vector<std::string> role_names_;
  absl::flat_hash_map<std::string, size_t> role_index_;
  std::vector<std::unique_ptr<Rule>> rules_;
  std::array<std::array<Bucket, kActionCount>, kResourceCount> index_;
};

// The default policy shipped in policies/default_policy.yaml, compiled in.
absl::string_view DefaultPolicyYaml();

// Parses DefaultPolicyYaml(). Errors: as Policy::Parse (a build defect).
absl::StatusOr<std::shared_ptr<const Policy>> LoadDefaultPolicy();

}  // namespace carelog::policies

#endif  // CARELOG_POLICIES_POLICY_H_
