// services/server/access.h — the single enforcement point every handler
// calls before touching data: (request context, resource, action, patient) →
// decision.
//
// Deny by default. carelogd plugs in the policy engine (policies/) through
// PolicyAccessAdapter (services/server/policy_access.h); the BuiltinPolicy
// below remains the default of CarelogServer::Start for embedders and tests:
// it allows only what its short list of rules names; anything else is "not
// permitted" under rule builtin/default-deny. Each decision names the rule(s)
// that decided it and the hash of the policy that made it.
// Thread-safety: AccessEnforcer is safe for concurrent use; SetPolicy swaps
// atomically.
#ifndef CARELOG_SERVICES_SERVER_ACCESS_H_
#define CARELOG_SERVICES_SERVER_ACCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "policies/facts.h"
#include "services/server/request_context.h"

namespace carelog::services {

// Resources and actions known to the server today (the policy issue extends
// them).
inline constexpr char kResourceLedger[] = "ledger";
inline constexpr char kActionRead[] = "read";
inline constexpr char kActionSubscribe[] = "subscribe";
// The rule named by a decision taken with no policy loaded.
inline constexpr char kNoPolicyRule[] = "no-policy-loaded";

// What the handler knows about the actor's relationship to the patient and
// the patient's flags, from the patient aggregate. Unknown → all false, which
// never widens access (rules that need a relationship do not permit).
struct PatientFacts {
  bool is_self = false;       // the actor is the patient
  bool on_care_team = false;  // the actor is on the patient's care team
  bool is_assigned = false;   // the actor is assigned to this patient's case
  bool vip = false;
  bool employee = false;
  bool restricted = false;
  // The patient's restrictions on disclosure (each a forbid).
  std::vector<policies::PatientRestriction> restrictions;
};

struct AccessRequest {
  std::string resource;
  std::string action;
  std::string patient_id;  // empty when the request is not about one patient
  PatientFacts facts;
};

struct AccessDecision {
  bool allowed = false;
  bool forbidden = false;  // an explicit forbid (vs. merely not permitted)
  std::vector<std::string> rules;
  std::vector<std::string> masked_fields;
  std::string policy_hash;
  bool break_glass =
      false;         // allowed only through break-the-glass: flag for review
  std::string hint;  // when not allowed: the nearest rule's missing condition
                     // (names rules only)
};

class AccessPolicy {
 public:
  virtual ~AccessPolicy() = default;
  // Pure: no I/O; safe for concurrent use.
  virtual AccessDecision Decide(const RequestContext& ctx,
                                const AccessRequest& req) const = 0;
};

// The minimal built-in rule set:
//   builtin/ledger-operator-read: roles ledger-admin or operator may read and
//     subscribe to the ledger for purposes HOPERAT or HSYSADMIN;
//   builtin/ledger-consumer-subscribe: role ledger-consumer may read and
//     subscribe for purpose HOPERAT;
//   builtin/default-deny: everything else.
class BuiltinPolicy final : public AccessPolicy {
 public:
  AccessDecision Decide(const RequestContext& ctx,
                        const AccessRequest& req) const override;
};

class AccessEnforcer {
 public:
  explicit AccessEnforcer(std::shared_ptr<const AccessPolicy> policy);

  // The decision for `req`. Errors: PERMISSION_DENIED naming the resource,
  // action and deciding rule(s) when not allowed (DenialOf).
  absl::StatusOr<AccessDecision> Check(const RequestContext& ctx,
                                       const AccessRequest& req) const;

  // The decision for `req`, allowed or not — what an audit record of a denial
  // needs (its rules, forbidden or not, the policy hash). With no policy
  // loaded: not allowed, rule kNoPolicyRule.
  AccessDecision Decide(const RequestContext& ctx,
                        const AccessRequest& req) const;

  // OK for an allowed decision; else PERMISSION_DENIED "forbidden: …" or "not
  // permitted: …" naming the action, resource and rule(s) (and the hint).
  static absl::Status DenialOf(const AccessRequest& req,
                               const AccessDecision& d);

  void SetPolicy(std::shared_ptr<const AccessPolicy> policy);
  // The policy in force (may be null).
  std::shared_ptr<const AccessPolicy> policy() const;

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const AccessPolicy> policy_ ABSL_GUARDED_BY(mu_);
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SERVER_ACCESS_H_
