// services/server/policy_access.h — the enforcement point's AccessPolicy over
// a policies::Policy, and loading/reloading policy files for carelogd.
//
// The adapter turns (RequestContext, AccessRequest) into policies::
// RequestFacts and the engine's Decision into an AccessDecision. Relationship
// facts and patient flags come from AccessRequest::facts, which handlers fill
// from the patient aggregate (all false when unknown: rules that need a
// relationship then never permit).
//   TODO(projections issue): patient restrictions from the patient record
//   view; until then none apply.
// Break-the-glass grants are looked up in an optional BreakGlassRegistry.
//
// Thread-safety: PolicyAccessAdapter is immutable and safe for concurrent
// use; the registry (not owned) must outlive it.
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

class PolicyAccessAdapter final : public AccessPolicy {
 public:
  // `policy` must not be null. `grants` may be null (no break-the-glass).
  explicit PolicyAccessAdapter(
      std::shared_ptr<const policies::Policy> policy,
      const policies::BreakGlassRegistry* grants = nullptr);

  // Pure apart from reading the grant registry (in memory, no I/O). An
  // unknown resource or action string is not permitted ("default-deny").
  AccessDecision Decide(const RequestContext& ctx,
                        const AccessRequest& req) const override;

  // The facts the engine sees for this request (for tests and audit).
  // Returns false when the resource or action is unknown to the model.
  bool ToFacts(const RequestContext& ctx, const AccessRequest& req,
               policies::RequestFacts* facts) const;

  const policies::Policy& policy() const { return *policy_; }

 private:
  std::shared_ptr<const policies::Policy> policy_;
  const policies::BreakGlassRegistry* grants_;
};

// Loads `policy_file` (blocking file read), or the default policy compiled
// in from policies/default_policy.yaml when it is empty.
// Errors: NOT_FOUND for an unreadable file; INVALID_ARGUMENT naming the path,
// the line and the problem.
absl::StatusOr<std::shared_ptr<const PolicyAccessAdapter>> LoadAccessPolicy(
    const std::string& policy_file,
    const policies::BreakGlassRegistry* grants = nullptr);

// Loads `policy_file` as LoadAccessPolicy and, only if it is valid, swaps it
// into `enforcer` atomically; returns the new policy's hash. On any error the
// enforcer keeps its current policy.
absl::StatusOr<std::string> ReloadAccessPolicy(
    const std::string& policy_file, AccessEnforcer* enforcer,
    const policies::BreakGlassRegistry* grants = nullptr);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SERVER_POLICY_ACCESS_H_
