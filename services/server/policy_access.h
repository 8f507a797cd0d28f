// services/server/policy_access.h — the enforcement point's AccessPolicy over
// a policies::Policy, and loading/reloading policy files for carelogd.
//
// The adapter turns (RequestContext, AccessRequest) into policies::
// RequestFacts and the engine's Decision into an AccessDecision. Relationship
// facts and patient flags come from AccessRequest::facts, which handlers fill
// from the patient aggregate (all false when unknown: rules that need a
// relationship then never permit), and so do the patient's restrictions on
// disclosure (from the patient aggregate or the patient record view).
// Break-the-glass grants are looked up in an optional BreakGlassRegistry. In
// BreakGlassMode::kOpenOnDeclaredEmergency (carelogd) the adapter also opens
// the grant: a request that declares an emergency — purpose ETREAT, a reason,
// a patient — and that a break_glass rule would permit opens (or renews) a
// grant for (actor, patient) lasting the registry's max_ttl; the decision is
// then flagged break_glass like every use under the grant. A request no
// break_glass rule covers (say, billing) opens nothing.
//
// Thread-safety: PolicyAccessAdapter is immutable apart from the registry
// (thread-safe) and safe for concurrent use; the registry (not owned) must
// outlive it.
#ifndef CARELOG_SERVICES_SERVER_POLICY_ACCESS_H_
#define CARELOG_SERVICES_SERVER_POLICY_ACCESS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "policies/break_glass.h"
#include "policies/facts.h"
#include "policies/policy.h"
#include "services/server/access.h"
#include "services/server/request_context.h"

namespace carelog::services {

enum class BreakGlassMode {
  kLookUp,                   // grants are opened elsewhere (tests, tools)
  kOpenOnDeclaredEmergency,  // a declared, permitted emergency opens one
};

class PolicyAccessAdapter final : public AccessPolicy {
 public:
  // `policy` must not be null. `grants` may be null (no break-the-glass).
  explicit PolicyAccessAdapter(std::shared_ptr<const policies::Policy> policy,
                               policies::BreakGlassRegistry* grants = nullptr,
                               BreakGlassMode mode = BreakGlassMode::kLookUp);

  // Pure apart from the grant registry (in memory, no I/O): it reads the
  // actor's grant and, in kOpenOnDeclaredEmergency mode, may open one. An
  // unknown resource or action string is not permitted ("default-deny").
  AccessDecision Decide(const RequestContext& ctx,
                        const AccessRequest& req) const override;

  // The facts the engine sees for this request (for tests and audit).
  // Returns false when the resource or action is unknown to the model.
  bool ToFacts(const RequestContext& ctx, const AccessRequest& req,
               policies::RequestFacts* facts) const;

  const policies::Policy& policy() const { return *policy_; }
  policies::BreakGlassRegistry* grants() const { return grants_; }
  BreakGlassMode break_glass_mode() const { return mode_; }

 private:
  // kOpenOnDeclaredEmergency: opens a grant when `f` declares an emergency
  // that a break_glass rule would permit, and sets f->break_glass_until.
  void MaybeOpenGrant(policies::RequestFacts* f) const;

  std::shared_ptr<const policies::Policy> policy_;
  policies::BreakGlassRegistry* grants_;
  BreakGlassMode mode_;
};

// Loads `policy_file` (blocking file read), or the default policy compiled
// in from policies/default_policy.yaml when it is empty.
// Errors: NOT_FOUND for an unreadable file; INVALID_ARGUMENT naming the path,
// the line and the problem.
absl::StatusOr<std::shared_ptr<const PolicyAccessAdapter>> LoadAccessPolicy(
    const std::string& policy_file,
    policies::BreakGlassRegistry* grants = nullptr,
    BreakGlassMode mode = BreakGlassMode::kLookUp);

// Loads `policy_file` as LoadAccessPolicy and, only if it is valid, swaps it
// into `enforcer` atomically; returns the new policy's hash. On any error the
// enforcer keeps its current policy. With `grants` null, the new adapter keeps
// the current adapter's registry and mode (a reload ends no emergency access).
absl::StatusOr<std::string> ReloadAccessPolicy(
    const std::string& policy_file, AccessEnforcer* enforcer,
    policies::BreakGlassRegistry* grants = nullptr,
    BreakGlassMode mode = BreakGlassMode::kLookUp);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SERVER_POLICY_ACCESS_H_
