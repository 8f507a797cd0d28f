#include "services/server/policy_access.h"

#include <utility>

#include "absl/time/time.h"

#include "policies/model.h"

namespace carelog::services {

PolicyAccessAdapter::PolicyAccessAdapter(
    std::shared_ptr<const policies::Policy> policy,
    policies::BreakGlassRegistry* grants, BreakGlassMode mode)
    : policy_(std::move(policy)), grants_(grants), mode_(mode) {}

void PolicyAccessAdapter::MaybeOpenGrant(policies::RequestFacts* f) const {
  if (grants_ == nullptr || mode_ != BreakGlassMode::kOpenOnDeclaredEmergency)
    return;
  if (f->break_glass_until > f->now ||
      f->purpose != policies::kBreakGlassPurpose || !f->reason_present ||
      f->patient_id.empty() || f->actor_id.empty())
    return;
  // Would a break_glass rule permit this request under a grant? Only then is
  // the emergency real enough to open one; anything else opens nothing.
  policies::RequestFacts trial = *f;
  trial.break_glass_until = absl::InfiniteFuture();
  const policies::Decision d = policy_->Decide(trial);
  if (!d.allowed() || !d.break_glass)
    return;
  // Capped by the registry's max_ttl.
  auto until =
      grants_->Open(f->actor_id, f->patient_id, absl::InfiniteDuration());
  if (until.ok())
    f->break_glass_until = *until;
}

bool PolicyAccessAdapter::ToFacts(const RequestContext& ctx,
                                  const AccessRequest& req,
                                  policies::RequestFacts* f) const {
  const auto resource = policies::ParseResource(req.resource);
  const auto action = policies::ParseAction(req.action);
  if (!resource || !action)
    return false;
  f->actor_id = ctx.actor;
  f->roles = ctx.roles;
  f->purpose = ctx.purpose;
  f->reason_present = !ctx.reason.empty();
  f->calling_service = ctx.calling_service;
  f->resource = *resource;
  f->action = *action;
  f->patient_id = req.patient_id;
  // Relationship facts and flags come from the handler, which read them from
  // the patient aggregate (all false when unknown: never widens access).
  f->is_self = req.facts.is_self;
  f->on_care_team = req.facts.on_care_team;
  f->is_assigned = req.facts.is_assigned;
  f->patient_vip = req.facts.vip;
  f->patient_employee = req.facts.employee;
  f->patient_restricted = req.facts.restricted;
  f->restrictions = req.facts.restrictions;
  f->now = ctx.received_at;
  if (grants_ != nullptr && !req.patient_id.empty() && !ctx.actor.empty()) {
    f->break_glass_until = grants_->ActiveUntil(ctx.actor, req.patient_id);
  }
  return true;
}

AccessDecision PolicyAccessAdapter::Decide(const RequestContext& ctx,
                                           const AccessRequest& req) const {
  AccessDecision out;
  policies::RequestFacts facts;
  if (!ToFacts(ctx, req, &facts)) {
    // A resource or action the model does not know: nothing can permit it.
    out.rules.push_back(policies::kDefaultDenyRule);
    out.policy_hash = policy_->hash();
    return out;
  }
  MaybeOpenGrant(&facts);
  policies::Decision d = policy_->Decide(facts);
  out.allowed = d.effect == policies::Effect::kPermit;
  out.forbidden = d.effect == policies::Effect::kForbid;
  out.break_glass = d.break_glass;
  out.rules = std::move(d.rule_ids);
  out.masked_fields = std::move(d.masked_fields);
  out.policy_hash = std::move(d.policy_hash);
  out.hint = std::move(d.hint);
  return out;
}

absl::StatusOr<std::shared_ptr<const PolicyAccessAdapter>> LoadAccessPolicy(
    const std::string& policy_file, policies::BreakGlassRegistry* grants,
    BreakGlassMode mode) {
  auto policy = policy_file.empty() ? policies::LoadDefaultPolicy()
                                    : policies::Policy::LoadFile(policy_file);
  if (!policy.ok())
    return policy.status();
  return std::make_shared<const PolicyAccessAdapter>(std::move(*policy), grants,
                                                     mode);
}

absl::StatusOr<std::string> ReloadAccessPolicy(
    const std::string& policy_file, AccessEnforcer* enforcer,
    policies::BreakGlassRegistry* grants, BreakGlassMode mode) {
  if (grants == nullptr) {
    if (auto current = std::dynamic_pointer_cast<const PolicyAccessAdapter>(
            enforcer->policy());
        current != nullptr) {
      grants = current->grants();
      mode = current->break_glass_mode();
    }
  }
  auto loaded = LoadAccessPolicy(policy_file, grants, mode);
  if (!loaded.ok())
    return loaded.status();
  std::string hash = (*loaded)->policy().hash();
  enforcer->SetPolicy(std::move(*loaded));
  return hash;
}

}  // namespace carelog::services
