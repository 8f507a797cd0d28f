// tests/fuzz/policy_fuzz.cc — libFuzzer target for policy file loading
// (policies/policy.h) and policy case tables (policies/cases.h), both YAML
// that an operator hands to carelogd (SIGHUP reload) or to
// `carelogctl policy test`.
//
// Properties, from arbitrary bytes: parsing either succeeds or fails with
// INVALID_ARGUMENT (never a crash, hang or another code); a policy that
// loads decides every (role, resource, action) over a few relationships
// with a non-empty list of deciding rules and masks only on a permit; a case
// table that loads runs against the policy (or the default policy).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "policies/cases.h"
#include "policies/model.h"
#include "policies/policy.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using carelog::fuzz::Check;
namespace policies = carelog::policies;

void CheckDecisions(const policies::Policy& policy) {
  std::vector<std::string> roles = policy.roles();
  if (roles.size() > 8)
    roles.resize(8);  // bounded work per input
  for (const std::string& role : roles) {
    for (size_t r = 0; r < policies::kResourceCount; ++r) {
      for (size_t a = 0; a < policies::kActionCount; ++a) {
        policies::RequestFacts facts;
        facts.actor_id = "u-1";
        facts.roles = {role};
        facts.purpose = (r + a) % 2 ? "TREAT" : "ETREAT";
        facts.reason_present = a % 2 == 0;
        facts.resource = static_cast<policies::Resource>(r);
        facts.action = static_cast<policies::Action>(a);
        facts.patient_id = r % 3 ? "p-1" : "";
        facts.on_care_team = r % 2 == 0;
        facts.patient_vip = a % 3 == 0;
        const policies::Decision d = policy.Decide(facts);
        Check(!d.rule_ids.empty(), "every decision names a rule");
        Check(d.allowed() || d.masked_fields.empty(),
              "only a permit masks fields");
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const policies::Policy> default_policy = [] {
    auto p = policies::LoadDefaultPolicy();
    Check(p.ok(), "the default policy loads");
    return *p;
  }();
  const absl::string_view in = carelog::fuzz::Bytes(data, size);
  auto policy = policies::Policy::Parse(in);
  if (policy.ok()) {
    CheckDecisions(**policy);
  } else {
    Check(policy.status().code() == absl::StatusCode::kInvalidArgument,
          "a bad policy is INVALID_ARGUMENT");
  }
  auto cases = policies::ParsePolicyCases(in);
  if (cases.ok()) {
    const policies::Policy& p = policy.ok() ? **policy : *default_policy;
    (void)policies::RunPolicyCases(p, *cases);
  } else {
    Check(cases.status().code() == absl::StatusCode::kInvalidArgument,
          "a bad case table is INVALID_ARGUMENT");
  }
  return 0;
}
