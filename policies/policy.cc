#include "policies/policy.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "policies/sha256.h"
#include "policies/yaml_util.h"

namespace carelog::policies {

namespace {

constexpr char kKind[] = "policy";

#define CARELOG_POLICY_ASSIGN_OR_RETURN(lhs, expr) \
  auto lhs##_or = (expr);                          \
  if (!lhs##_or.ok())                              \
    return lhs##_or.status();                      \
  auto lhs = std::move(*lhs##_or)

#define CARELOG_POLICY_RETURN_IF_ERROR(expr) \
  do {                                       \
    absl::Status _s = (expr);                \
    if (!_s.ok())                            \
      return _s;                             \
  } while (0)

using yaml_util::ErrorAt;

bool ValidName(absl::string_view id) {
  if (id.empty() || id.size() > 128)
    return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '/' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

bool IsStar(const std::vector<YAML::Node>& names) {
  return names.size() == 1 && names[0].Scalar() == "*";
}

uint8_t RelationshipBits(const RequestFacts& f) {
  if (f.patient_id.empty())
    return 0;
  uint8_t bits = 0;
  if (f.is_self)
    bits |= 1u << static_cast<int>(Relationship::kSelf);
  if (f.on_care_team)
    bits |= 1u << static_cast<int>(Relationship::kCareTeam);
  if (f.is_assigned)
    bits |= 1u << static_cast<int>(Relationship::kAssigned);
  return bits;
}

uint8_t FlagBits(const RequestFacts& f) {
  if (f.patient_id.empty())
    return 0;
  uint8_t bits = 0;
  if (f.patient_vip)
    bits |= 1u << static_cast<int>(PatientFlag::kVip);
  if (f.patient_employee)
    bits |= 1u << static_cast<int>(PatientFlag::kEmployee);
  if (f.patient_restricted)
    bits |= 1u << static_cast<int>(PatientFlag::kRestricted);
  return bits;
}

bool RestrictionApplies(const PatientRestriction& r, const RequestFacts& f) {
  if (!r.resources.empty() && std::find(r.resources.begin(), r.resources.end(),
                                        f.resource) == r.resources.end()) {
    return false;
  }
  switch (r.kind) {
    case PatientRestriction::PartyKind::kActor:
      return r.party == f.actor_id;
    case PatientRestriction::PartyKind::kRole:
      return std::find(f.roles.begin(), f.roles.end(), r.party) !=
             f.roles.end();
    case PatientRestriction::PartyKind::kService:
      return !f.calling_service.empty() && r.party == f.calling_service;
  }
  return false;
}

const std::set<std::string>& RuleKeys() {
  static const auto* const kKeys =
      new std::set<std::string>{"id",
                                "description",
                                "effect",
                                "roles",
                                "resources",
                                "actions",
                                "purposes",
                                "relationship",
                                "unless_relationship",
                                "patient_flags",
                                "patient",
                                "require_reason",
                                "break_glass",
                                "unless_break_glass",
                                "fields",
                                "mask"};
  return *kKeys;
}

}  // namespace

absl::string_view EffectName(Effect e) {
  switch (e) {
    case Effect::kPermit:
      return "permit";
    case Effect::kForbid:
      return "forbid";
    case Effect::kNotPermitted:
      return "not_permitted";
  }
  return "not_permitted";
}

// Builds a Policy from YAML; every rejection names the line.
class PolicyParser {
 public:
  static absl::StatusOr<std::shared_ptr<const Policy>> Parse(
      absl::string_view yaml) {
    std::shared_ptr<Policy> p(new Policy());
    p->hash_ = Sha256Hex(yaml);
    CARELOG_POLICY_ASSIGN_OR_RETURN(root, yaml_util::LoadYaml(kKind, yaml));
    if (!root.IsDefined() || root.IsNull())
      return absl::InvalidArgumentError("policy: empty file");
    CARELOG_POLICY_RETURN_IF_ERROR(yaml_util::CheckKeys(
        kKind, root, {"version", "name", "description", "roles", "rules"},
        "the policy"));
    const YAML::Node v = root["version"];
    if (!v)
      return absl::InvalidArgumentError("policy: missing key \"version\" (1)");
    CARELOG_POLICY_ASSIGN_OR_RETURN(version,
                                    yaml_util::Scalar(kKind, v, "version"));
    if (version != "1")
      return ErrorAt(
          kKind, v,
          absl::StrCat("unsupported version \"", version, "\"; known: 1"));
    if (const YAML::Node n = root["name"]) {
      CARELOG_POLICY_ASSIGN_OR_RETURN(name,
                                      yaml_util::Scalar(kKind, n, "name"));
      p->name_ = name;
    }
    const YAML::Node roles = root["roles"];
    if (!roles)
      return absl::InvalidArgumentError(
          "policy: missing key \"roles\" (the roles rules may name)");
    CARELOG_POLICY_ASSIGN_OR_RETURN(role_nodes,
                                    yaml_util::Names(kKind, roles, "roles"));
    for (const auto& r : role_nodes) {
      const std::string& name = r.Scalar();
      if (!ValidName(name))
        return ErrorAt(kKind, r, absl::StrCat("bad role name \"", name, "\""));
      if (p->role_index_.contains(name))
        return ErrorAt(kKind, r,
                       absl::StrCat("role \"", name, "\" declared twice"));
      if (p->role_names_.size() == kMaxRoles)
        return ErrorAt(kKind, r,
                       absl::StrCat("more than ", kMaxRoles, " roles"));
      p->role_index_[name] = p->role_names_.size();
      p->role_names_.push_back(name);
    }
    const YAML::Node rules = root["rules"];
    if (!rules)
      return absl::InvalidArgumentError("policy: missing key \"rules\"");
    if (!rules.IsSequence())
      return ErrorAt(kKind, rules, "rules: expected a list of rules");
    absl::flat_hash_set<std::string> ids;
    for (const auto& rn : rules) {
      CARELOG_POLICY_ASSIGN_OR_RETURN(rule, ParseRule(*p, rn));
      if (!ids.insert(rule->id).second) {
        return ErrorAt(kKind, rn["id"],
                       absl::StrCat("rule id \"", rule->id, "\" used twice"));
      }
      p->rules_.push_back(std::move(rule));
    }
    const size_t n_roles = p->role_names_.size();
    for (auto& row : p->index_) {
      for (auto& bucket : row) {
        bucket.forbids.by_role.resize(n_roles);
        bucket.permits.by_role.resize(n_roles);
      }
    }
    for (size_t i = 0; i < p->rules_.size(); ++i) {
      Policy::Rule* rule = p->rules_[i].get();
      rule->order = static_cast<uint32_t>(i);
      for (size_t r = 0; r < kResourceCount; ++r) {
        if (!rule->resources[r])
          continue;
        for (size_t a = 0; a < kActionCount; ++a) {
          if (!rule->actions[a])
            continue;
          Policy::RuleList& list =
              rule->forbid ? p->index_[r][a].forbids : p->index_[r][a].permits;
          if (rule->any_role) {
            list.any_role.push_back(rule);
            continue;
          }
          for (size_t role = 0; role < n_roles; ++role) {
            if (rule->roles[role])
              list.by_role[role].push_back(rule);
          }
        }
      }
    }
    return std::shared_ptr<const Policy>(std::move(p));
  }

 private:
  static absl::StatusOr<std::unique_ptr<Policy::Rule>> ParseRule(
      const Policy& p, const YAML::Node& rn) {
    CARELOG_POLICY_RETURN_IF_ERROR(
        yaml_util::CheckKeys(kKind, rn, RuleKeys(), "a rule"));
    auto rule = std::make_unique<Policy::Rule>();
    rule->line = yaml_util::Line(rn);
    const YAML::Node id = rn["id"];
    if (!id)
      return ErrorAt(kKind, rn, "rule without an \"id\"");
    CARELOG_POLICY_ASSIGN_OR_RETURN(id_s, yaml_util::Scalar(kKind, id, "id"));
    if (!ValidName(id_s)) {
      return ErrorAt(
          kKind, id,
          absl::StrCat("bad rule id \"", id_s, "\" (use a-z 0-9 . _ / -)"));
    }
    if (id_s == kDefaultDenyRule ||
        absl::StartsWith(id_s, kPatientRestrictionRulePrefix)) {
      return ErrorAt(kKind, id,
                     absl::StrCat("rule id \"", id_s, "\" is reserved"));
    }
    rule->id = id_s;
    const std::string where = absl::StrCat("rule \"", id_s, "\"");

    const YAML::Node effect = rn["effect"];
    if (!effect)
      return ErrorAt(
          kKind, rn,
          absl::StrCat(where, ": missing \"effect\" (permit or forbid)"));
    CARELOG_POLICY_ASSIGN_OR_RETURN(effect_s,
                                    yaml_util::Scalar(kKind, effect, "effect"));
    if (effect_s != "permit" && effect_s != "forbid") {
      return ErrorAt(kKind, effect,
                     absl::StrCat(where, ": unknown effect \"", effect_s,
                                  "\"; known: permit, forbid"));
    }
    rule->forbid = effect_s == "forbid";

    // roles
    const YAML::Node roles = rn["roles"];
    if (!roles)
      return ErrorAt(
          kKind, rn,
          absl::StrCat(where, ": missing \"roles\" (a list, or \"*\")"));
    CARELOG_POLICY_ASSIGN_OR_RETURN(role_nodes,
                                    yaml_util::Names(kKind, roles, "roles"));
    if (IsStar(role_nodes)) {
      rule->any_role = true;
    } else {
      for (const auto& r : role_nodes) {
        auto it = p.role_index_.find(r.Scalar());
        if (it == p.role_index_.end()) {
          return ErrorAt(kKind, r,
                         absl::StrCat(where, ": unknown role \"", r.Scalar(),
                                      "\" (not in the policy's roles list)"));
        }
        rule->roles.set(it->second);
      }
    }

    // resources
    const YAML::Node resources = rn["resources"];
    if (!resources)
      return ErrorAt(
          kKind, rn,
          absl::StrCat(where, ": missing \"resources\" (a list, or \"*\")"));
    CARELOG_POLICY_ASSIGN_OR_RETURN(
        res_nodes, yaml_util::Names(kKind, resources, "resources"));
    if (IsStar(res_nodes)) {
      rule->resources.set();
    } else {
      for (const auto& r : res_nodes) {
        auto res = ParseResource(r.Scalar());
        if (!res)
          return ErrorAt(
              kKind, r,
              absl::StrCat(where, ": unknown resource \"", r.Scalar(), "\""));
        rule->resources.set(static_cast<size_t>(*res));
      }
    }

    // actions
    const YAML::Node actions = rn["actions"];
    if (!actions)
      return ErrorAt(
          kKind, rn,
          absl::StrCat(where, ": missing \"actions\" (a list, or \"*\")"));
    CARELOG_POLICY_ASSIGN_OR_RETURN(
        act_nodes, yaml_util::Names(kKind, actions, "actions"));
    if (IsStar(act_nodes)) {
      rule->actions.set();
    } else {
      for (const auto& a : act_nodes) {
        auto act = ParseAction(a.Scalar());
        if (!act)
          return ErrorAt(
              kKind, a,
              absl::StrCat(where, ": unknown action \"", a.Scalar(), "\""));
        rule->actions.set(static_cast<size_t>(*act));
      }
    }

    // flags (parsed before purposes: break_glass changes the purpose default)
    auto flag = [&](const char* key, bool* out) -> absl::Status {
      const YAML::Node n = rn[key];
      if (!n)
        return absl::OkStatus();
      auto b = yaml_util::Bool(kKind, n, absl::StrCat(where, ": ", key));
      if (!b.ok())
        return b.status();
      *out = *b;
      return absl::OkStatus();
    };
    CARELOG_POLICY_RETURN_IF_ERROR(
        flag("require_reason", &rule->require_reason));
    CARELOG_POLICY_RETURN_IF_ERROR(flag("break_glass", &rule->break_glass));
    CARELOG_POLICY_RETURN_IF_ERROR(
        flag("unless_break_glass", &rule->unless_break_glass));
    if (rule->break_glass && rule->forbid) {
      return ErrorAt(
          kKind, rn["break_glass"],
          absl::StrCat(where, ": break_glass applies to permit rules only"));
    }
    if (rule->unless_break_glass && !rule->forbid) {
      return ErrorAt(
          kKind, rn["unless_break_glass"],
          absl::StrCat(where,
                       ": unless_break_glass applies to forbid rules only"));
    }
    if (rule->break_glass)
      rule->require_reason = true;

    // purposes
    const YAML::Node purposes = rn["purposes"];
    const size_t etreat = *PurposeIndex(kBreakGlassPurpose);
    if (!purposes) {
      if (rule->break_glass) {
        rule->purposes.set(etreat);
      } else if (rule->forbid) {
        rule->purposes.set();
      } else {
        return ErrorAt(
            kKind, rn,
            absl::StrCat(where, ": a permit rule must list its \"purposes\""));
      }
    } else {
      CARELOG_POLICY_ASSIGN_OR_RETURN(
          pur_nodes, yaml_util::Names(kKind, purposes, "purposes"));
      if (IsStar(pur_nodes)) {
        rule->purposes.set();
      } else {
        for (const auto& n : pur_nodes) {
          auto idx = PurposeIndex(n.Scalar());
          if (!idx) {
            return ErrorAt(kKind, n,
                           absl::StrCat(where, ": unknown purpose of use \"",
                                        n.Scalar(), "\"; known: ",
                                        absl::StrJoin(KnownPurposes(), ", ")));
          }
          rule->purposes.set(*idx);
        }
      }
      if (rule->break_glass &&
          (rule->purposes.count() != 1 || !rule->purposes[etreat])) {
        return ErrorAt(
            kKind, purposes,
            absl::StrCat(where,
                         ": a break_glass rule's only purpose is ETREAT"));
      }
    }

    // relationships and patient conditions
    auto relationships = [&](const char* key, uint8_t* out) -> absl::Status {
      const YAML::Node n = rn[key];
      if (!n)
        return absl::OkStatus();
      auto nodes = yaml_util::Names(kKind, n, key);
      if (!nodes.ok())
        return nodes.status();
      for (const auto& e : *nodes) {
        if (e.Scalar() == "any") {
          if (nodes->size() != 1 || std::string(key) != "relationship") {
            return ErrorAt(
                kKind, e,
                absl::StrCat(where, ": \"any\" stands alone in relationship"));
          }
          return absl::OkStatus();
        }
        auto rel = ParseRelationship(e.Scalar());
        if (!rel) {
          return ErrorAt(
              kKind, e,
              absl::StrCat(where, ": unknown relationship \"", e.Scalar(),
                           "\"; known: self, care_team, assigned, any"));
        }
        *out |= 1u << static_cast<int>(*rel);
      }
      return absl::OkStatus();
    };
    CARELOG_POLICY_RETURN_IF_ERROR(
        relationships("relationship", &rule->relationships));
    CARELOG_POLICY_RETURN_IF_ERROR(
        relationships("unless_relationship", &rule->unless_relationships));
    if (const YAML::Node n = rn["patient_flags"]) {
      CARELOG_POLICY_ASSIGN_OR_RETURN(
          nodes, yaml_util::Names(kKind, n, "patient_flags"));
      for (const auto& e : nodes) {
        auto fl = ParsePatientFlag(e.Scalar());
        if (!fl) {
          return ErrorAt(
              kKind, e,
              absl::StrCat(where, ": unknown patient flag \"", e.Scalar(),
                           "\"; known: vip, employee, restricted"));
        }
        rule->patient_flags |= 1u << static_cast<int>(*fl);
      }
    }
    if (const YAML::Node n = rn["patient"]) {
      CARELOG_POLICY_ASSIGN_OR_RETURN(s,
                                      yaml_util::Scalar(kKind, n, "patient"));
      if (s == "present") {
        rule->patient_presence = 1;
      } else if (s == "absent") {
        rule->patient_presence = 2;
      } else {
        return ErrorAt(
            kKind, n,
            absl::StrCat(where,
                         ": patient is \"present\" or \"absent\", not \"", s,
                         "\""));
      }
    }

    // field masks (minimum necessary)
    const YAML::Node fields = rn["fields"];
    const YAML::Node mask = rn["mask"];
    if ((fields || mask) && rule->forbid) {
      return ErrorAt(
          kKind, fields ? fields : mask,
          absl::StrCat(where, ": forbid rules take no fields or mask"));
    }
    if (fields && mask)
      return ErrorAt(
          kKind, mask,
          absl::StrCat(where, ": use either fields or mask, not both"));
    if (fields || mask) {
      const YAML::Node list = fields ? fields : mask;
      CARELOG_POLICY_ASSIGN_OR_RETURN(
          nodes, yaml_util::Names(kKind, list, fields ? "fields" : "mask"));
      std::vector<std::string> named;
      for (const auto& e : nodes) {
        bool known = false;
        for (size_t r = 0; r < kResourceCount; ++r) {
          if (rule->resources[r] &&
              IsResourceField(static_cast<Resource>(r), e.Scalar()))
            known = true;
        }
        if (!known) {
          return ErrorAt(
              kKind, e,
              absl::StrCat(where, ": unknown field \"", e.Scalar(),
                           "\" (not a field of the rule's resources)"));
        }
        named.push_back(e.Scalar());
      }
      for (size_t r = 0; r < kResourceCount; ++r) {
        if (!rule->resources[r])
          continue;
        std::vector<std::string>& out = rule->masks[r];
        for (const auto& f : ResourceFields(static_cast<Resource>(r))) {
          const bool listed =
              std::find(named.begin(), named.end(), f) != named.end();
          if (fields ? !listed : listed)
            out.push_back(f);
        }
        std::sort(out.begin(), out.end());
      }
    }
    return rule;
  }
};

absl::StatusOr<std::shared_ptr<const Policy>> Policy::Parse(
    absl::string_view yaml) {
  return PolicyParser::Parse(yaml);
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::LoadFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(
        absl::StrCat("policy file ", path, ": cannot read"));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    return absl::NotFoundError(
        absl::StrCat("policy file ", path, ": read error"));
  auto p = Parse(ss.str());
  if (!p.ok())
    return absl::Status(
        p.status().code(),
        absl::StrCat("policy file ", path, ": ", p.status().message()));
  return p;
}

bool Policy::HasRule(absl::string_view id) const {
  for (const auto& r : rules_) {
    if (r->id == id)
      return true;
  }
  return false;
}

Decision Policy::Decide(const RequestFacts& f) const {
  Decision d;
  d.policy_hash = hash_;
  const Bucket& bucket =
      index_[static_cast<size_t>(f.resource)][static_cast<size_t>(f.action)];

  absl::InlinedVector<size_t, 4> roles;
  for (const auto& r : f.roles) {
    auto it = role_index_.find(r);
    if (it != role_index_.end() &&
        std::find(roles.begin(), roles.end(), it->second) == roles.end()) {
      roles.push_back(it->second);
    }
  }
  const std::optional<size_t> purpose = PurposeIndex(f.purpose);
  const uint8_t rel = RelationshipBits(f);
  const uint8_t flags = FlagBits(f);
  const bool has_patient = !f.patient_id.empty();
  // A break-the-glass request: emergency purpose, a stated reason, and a
  // grant for this actor and patient that has not expired.
  const bool break_glass = has_patient && f.purpose == kBreakGlassPurpose &&
                           f.reason_present && f.now < f.break_glass_until;

  // Conditions other than role (the index has checked it), reason and
  // break-the-glass.
  auto base_match = [&](const Rule& r) {
    if (!purpose || !r.purposes[*purpose])
      return false;
    if (r.relationships != 0 && (r.relationships & rel) == 0)
      return false;
    if ((r.unless_relationships & rel) != 0)
      return false;
    if (r.patient_flags != 0 && (r.patient_flags & flags) == 0)
      return false;
    if (r.patient_presence == 1 && !has_patient)
      return false;
    if (r.patient_presence == 2 && has_patient)
      return false;
    return true;
  };
  // Visits the rules of `list` that name "*" or one of the caller's roles; a
  // rule naming two of them is visited twice (callers de-duplicate).
  auto scan = [&](const RuleList& list, auto&& visit) {
    for (const Rule* r : list.any_role)
      visit(r);
    for (size_t role : roles) {
      for (const Rule* r : list.by_role[role])
        visit(r);
    }
  };
  auto in_file_order = [](absl::InlinedVector<const Rule*, 8>* rules) {
    std::sort(rules->begin(), rules->end(),
              [](const Rule* a, const Rule* b) { return a->order < b->order; });
    rules->erase(std::unique(rules->begin(), rules->end()), rules->end());
  };

  // Forbids first: patient restrictions, then the policy's forbid rules.
  if (has_patient) {
    for (const auto& restriction : f.restrictions) {
      if (RestrictionApplies(restriction, f)) {
        d.rule_ids.push_back(
            absl::StrCat(kPatientRestrictionRulePrefix, restriction.id));
      }
    }
  }
  absl::InlinedVector<const Rule*, 8> matched;
  scan(bucket.forbids, [&](const Rule* r) {
    if (!base_match(*r))
      return;
    if (r->require_reason && !f.reason_present)
      return;
    if (r->unless_break_glass && break_glass)
      return;
    matched.push_back(r);
  });
  if (!d.rule_ids.empty() || !matched.empty()) {
    in_file_order(&matched);
    for (const Rule* r : matched)
      d.rule_ids.push_back(r->id);
    d.effect = Effect::kForbid;
    return d;
  }

  // The nearest permit that failed only for want of a reason or a grant.
  const Rule* near_miss = nullptr;
  scan(bucket.permits, [&](const Rule* r) {
    if (!base_match(*r))
      return;
    const bool missing = (r->require_reason && !f.reason_present) ||
                         (r->break_glass && !break_glass);
    if (missing) {
      if (near_miss == nullptr || r->order < near_miss->order)
        near_miss = r;
      return;
    }
    matched.push_back(r);
  });
  if (matched.empty()) {
    d.rule_ids.push_back(kDefaultDenyRule);
    if (near_miss != nullptr) {
      d.hint = near_miss->require_reason && !f.reason_present
                   ? absl::StrCat("rule ", near_miss->id, " requires a reason")
                   : absl::StrCat("rule ", near_miss->id,
                                  " is break-the-glass: it needs an active "
                                  "grant for this patient");
    }
    return d;
  }
  in_file_order(&matched);
  d.effect = Effect::kPermit;
  d.break_glass = true;
  d.rule_ids.reserve(matched.size());
  for (const Rule* r : matched) {
    d.rule_ids.push_back(r->id);
    if (!r->break_glass)
      d.break_glass = false;
  }
  // Masked = fields every permitting rule hides: a field one of them shows is
  // visible (a second permit can only widen access).
  const size_t res = static_cast<size_t>(f.resource);
  d.masked_fields = matched[0]->masks[res];
  for (size_t i = 1; i < matched.size() && !d.masked_fields.empty(); ++i) {
    const auto& m = matched[i]->masks[res];
    std::vector<std::string> both;
    std::set_intersection(d.masked_fields.begin(), d.masked_fields.end(),
                          m.begin(), m.end(), std::back_inserter(both));
    d.masked_fields.swap(both);
  }
  return d;
}

}  // namespace carelog::policies
