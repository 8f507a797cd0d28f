#include "services/server/access.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace carelog::services {

namespace {
constexpr char kBuiltinHash[] = "builtin-v1";
}

AccessDecision BuiltinPolicy::Decide(const RequestContext& ctx,
                                     const AccessRequest& req) const {
  AccessDecision d;
  d.policy_hash = kBuiltinHash;
  const bool ledger_read =
      req.resource == kResourceLedger &&
      (req.action == kActionRead || req.action == kActionSubscribe) &&
      req.patient_id.empty();
  if (ledger_read && (ctx.HasRole("ledger-admin") || ctx.HasRole("operator")) &&
      (ctx.purpose == "HOPERAT" || ctx.purpose == "HSYSADMIN")) {
    d.allowed = true;
    d.rules.push_back("builtin/ledger-operator-read");
    return d;
  }
  if (ledger_read && ctx.HasRole("ledger-consumer") &&
      ctx.purpose == "HOPERAT") {
    d.allowed = true;
    d.rules.push_back("builtin/ledger-consumer-subscribe");
    return d;
  }
  d.rules.push_back("builtin/default-deny");
  return d;
}

AccessEnforcer::AccessEnforcer(std::shared_ptr<const AccessPolicy> policy)
    : policy_(std::move(policy)) {}

void AccessEnforcer::SetPolicy(std::shared_ptr<const AccessPolicy> policy) {
  absl::MutexLock l(&mu_);
  policy_ = std::move(policy);
}

std::shared_ptr<const AccessPolicy> AccessEnforcer::policy() const {
  absl::MutexLock l(&mu_);
  return policy_;
}

AccessDecision AccessEnforcer::Decide(const RequestContext& ctx,
                                      const AccessRequest& req) const {
  std::shared_ptr<const AccessPolicy> policy;
  {
    absl::MutexLock l(&mu_);
    policy = policy_;
  }
  if (policy == nullptr) {
    AccessDecision d;
    d.rules.push_back(kNoPolicyRule);
    return d;
  }
  return policy->Decide(ctx, req);
}

absl::Status AccessEnforcer::DenialOf(const AccessRequest& req,
                                      const AccessDecision& d) {
  if (d.allowed)
    return absl::OkStatus();
  if (d.rules.size() == 1 && d.rules[0] == kNoPolicyRule) {
    return absl::PermissionDeniedError(
        "no access policy loaded: everything is denied");
  }
  return absl::PermissionDeniedError(absl::StrCat(
      d.forbidden ? "forbidden" : "not permitted", ": ", req.action, " on ",
      req.resource, " (rule ", absl::StrJoin(d.rules, ", "), ")",
      d.hint.empty() ? "" : "; ", d.hint));
}

absl::StatusOr<AccessDecision> AccessEnforcer::Check(
    const RequestContext& ctx, const AccessRequest& req) const {
  AccessDecision d = Decide(ctx, req);
  if (absl::Status s = DenialOf(req, d); !s.ok())
    return s;
  return d;
}

}  // namespace carelog::services
