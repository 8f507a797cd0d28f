#include "policies/cases.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

#include "policies/yaml_util.h"

namespace carelog::policies {

namespace {

constexpr char kKind[] = "cases";
// Case time: a fixed instant, so break-the-glass grants in cases are
// "active" (an hour left) or "expired" (a minute ago) relative to it.
const absl::Time kCaseNow =
    absl::FromUnixSeconds(1767261600);  // 2026-01-01T10:00:00Z

#define CARELOG_CASES_ASSIGN_OR_RETURN(lhs, expr) \
  auto lhs##_or = (expr);                         \
  if (!lhs##_or.ok())                             \
    return lhs##_or.status();                     \
  auto lhs = std::move(*lhs##_or)

#define CARELOG_CASES_RETURN_IF_ERROR(expr) \
  do {                                      \
    absl::Status _s = (expr);               \
    if (!_s.ok())                           \
      return _s;                            \
  } while (0)

using yaml_util::ErrorAt;

absl::StatusOr<std::vector<std::string>> StringList(const YAML::Node& n,
                                                    absl::string_view what) {
  CARELOG_CASES_ASSIGN_OR_RETURN(nodes, yaml_util::Names(kKind, n, what));
  std::vector<std::string> out;
  for (const auto& e : nodes)
    out.push_back(e.Scalar());
  return out;
}

absl::StatusOr<std::vector<Resource>> Resources(const YAML::Node& n,
                                                absl::string_view what) {
  CARELOG_CASES_ASSIGN_OR_RETURN(nodes, yaml_util::Names(kKind, n, what));
  std::vector<Resource> out;
  for (const auto& e : nodes) {
    auto r = ParseResource(e.Scalar());
    if (!r)
      return ErrorAt(
          kKind, e,
          absl::StrCat(what, ": unknown resource \"", e.Scalar(), "\""));
    out.push_back(*r);
  }
  return out;
}

absl::Status ParseRequest(const YAML::Node& n, RequestFacts* f) {
  CARELOG_CASES_RETURN_IF_ERROR(yaml_util::CheckKeys(
      kKind, n,
      {"actor", "roles", "purpose", "reason", "calling_service", "resource",
       "action", "patient", "relationship", "patient_flags", "restrictions",
       "break_glass"},
      "a request"));
  f->now = kCaseNow;
  if (const auto v = n["actor"]) {
    CARELOG_CASES_ASSIGN_OR_RETURN(s, yaml_util::Scalar(kKind, v, "actor"));
    f->actor_id = s;
  }
  if (const auto v = n["roles"]) {
    CARELOG_CASES_ASSIGN_OR_RETURN(roles, StringList(v, "roles"));
    f->roles = roles;
  }
  const auto purpose = n["purpose"];
  if (!purpose)
    return ErrorAt(kKind, n, "request: missing \"purpose\"");
  CARELOG_CASES_ASSIGN_OR_RETURN(p,
                                 yaml_util::Scalar(kKind, purpose, "purpose"));
  if (!PurposeIndex(p))
    return ErrorAt(kKind, purpose,
                   absl::StrCat("unknown purpose of use \"", p, "\""));
  f->purpose = p;
  if (const auto v = n["reason"]) {
    CARELOG_CASES_ASSIGN_OR_RETURN(b, yaml_util::Bool(kKind, v, "reason"));
    f->reason_present = b;
  }
  if (const auto v = n["calling_service"]) {
    CARELOG_CASES_ASSIGN_OR_RETURN(
        s, yaml_util::Scalar(kKind, v, "calling_service"));
    f->calling_service = s;
  }
  const auto resource = n["resource"];
  if (!resource)
    return ErrorAt(kKind, n, "request: missing \"resource\"");
  CARELOG_CASES_ASSIGN_OR_RETURN(
      rs, yaml_util::Scalar(kKind, resource, "resource"));
  auto r = ParseResource(rs);
  if (!r)
    return ErrorAt(kKind, resource,
                   absl::StrCat("unknown resource \"", rs, "\""));
  f->resource = *r;
  const auto action = n["action"];
  if (!action)
    return ErrorAt(kKind, n, "request: missing \"action\"");
  CARELOG_CASES_ASSIGN_OR_RETURN(as,
                                 yaml_util::Scalar(kKind, action, "action"));
  auto a = ParseAction(as);
  if (!a)
    return ErrorAt(kKind, action, absl::StrCat("unknown action \"", as, "\""));
  f->action = *a;
  if (const auto v = n["patient"]) {
    CARELOG_CASES_ASSIGN_OR_RETURN(s, yaml_util::Scalar(kKind, v, "patient"));
    f->patient_id = s;
  }
  if (const auto v = n["relationship"]) {
    CARELOG_CASES_ASSIGN_OR_RETURN(nodes,
                                   yaml_util::Names(kKind, v, "relationship"));
    for (const auto& e : nodes) {
      auto rel = ParseRelationship(e.Scalar());
      if (!rel)
        return ErrorAt(
            kKind, e,
            absl::StrCat("unknown relationship \"", e.Scalar(), "\""));
      if (*rel == Relationship::kSelf)
        f->is_self = true;
      if (*rel == Relationship::kCareTeam)
        f->on_care_team = true;
      if (*rel == Relationship::kAssigned)
        f->is_assigned = true;
    }
  }
  if (const auto v = n["patient_flags"]) {
    CARELOG_CASES_ASSIGN_OR_RETURN(nodes,
                                   yaml_util::Names(kKind, v, "patient_flags"));
    for (const auto& e : nodes) {
      auto fl = ParsePatientFlag(e.Scalar());
      if (!fl)
        return ErrorAt(
            kKind, e,
            absl::StrCat("unknown patient flag \"", e.Scalar(), "\""));
      if (*fl == PatientFlag::kVip)
        f->patient_vip = true;
      if (*fl == PatientFlag::kEmployee)
        f->patient_employee = true;
      if (*fl == PatientFlag::kRestricted)
        f->patient_restricted = true;
    }
  }
  if (const auto v = n["restrictions"]) {
    if (!v.IsSequence())
      return ErrorAt(kKind, v, "restrictions: expected a list");
    for (const auto& rn : v) {
      CARELOG_CASES_RETURN_IF_ERROR(yaml_util::CheckKeys(
          kKind, rn, {"id", "actor", "role", "service", "resources"},
          "a restriction"));
      PatientRestriction pr;
      int parties = 0;
      for (const char* key : {"actor", "role", "service"}) {
        if (const auto pn = rn[key]) {
          CARELOG_CASES_ASSIGN_OR_RETURN(s, yaml_util::Scalar(kKind, pn, key));
          pr.party = s;
          pr.kind = std::string(key) == "actor"
                        ? PatientRestriction::PartyKind::kActor
                    : std::string(key) == "role"
                        ? PatientRestriction::PartyKind::kRole
                        : PatientRestriction::PartyKind::kService;
          ++parties;
        }
      }
      if (parties != 1)
        return ErrorAt(kKind, rn,
                       "restriction: name exactly one of actor, role, service");
      const auto id = rn["id"];
      if (!id)
        return ErrorAt(kKind, rn, "restriction: missing \"id\"");
      CARELOG_CASES_ASSIGN_OR_RETURN(ids, yaml_util::Scalar(kKind, id, "id"));
      pr.id = ids;
      if (const auto res = rn["resources"]) {
        CARELOG_CASES_ASSIGN_OR_RETURN(list,
                                       Resources(res, "restriction resources"));
        pr.resources = list;
      }
      f->restrictions.push_back(std::move(pr));
    }
  }
  if (const auto v = n["break_glass"]) {
    CARELOG_CASES_ASSIGN_OR_RETURN(s,
                                   yaml_util::Scalar(kKind, v, "break_glass"));
    if (s == "active") {
      f->break_glass_until = kCaseNow + absl::Hours(1);
    } else if (s == "expired") {
      f->break_glass_until = kCaseNow - absl::Minutes(1);
    } else if (s != "none") {
      return ErrorAt(
          kKind, v,
          absl::StrCat("break_glass is none, active or expired, not \"", s,
                       "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseExpect(const YAML::Node& n, PolicyCase* c) {
  CARELOG_CASES_RETURN_IF_ERROR(yaml_util::CheckKeys(
      kKind, n, {"effect", "rules", "masked", "break_glass"},
      "an expectation"));
  const auto effect = n["effect"];
  if (!effect)
    return ErrorAt(kKind, n, "expect: missing \"effect\"");
  CARELOG_CASES_ASSIGN_OR_RETURN(e, yaml_util::Scalar(kKind, effect, "effect"));
  if (e == "permit") {
    c->expect_effect = Effect::kPermit;
  } else if (e == "forbid") {
    c->expect_effect = Effect::kForbid;
  } else if (e == "not_permitted") {
    c->expect_effect = Effect::kNotPermitted;
  } else {
    return ErrorAt(kKind, effect,
                   absl::StrCat("unknown effect \"", e,
                                "\"; known: permit, forbid, not_permitted"));
  }
  if (const auto v = n["rules"]) {
    CARELOG_CASES_ASSIGN_OR_RETURN(list, StringList(v, "rules"));
    std::sort(list.begin(), list.end());
    c->expect_rules = list;
  }
  if (const auto v = n["masked"]) {
    std::vector<std::string> list;
    if (!(v.IsSequence() && v.size() == 0)) {
      CARELOG_CASES_ASSIGN_OR_RETURN(l, StringList(v, "masked"));
      list = l;
    }
    for (size_t i = 0; i < list.size(); ++i) {
      if (!IsResourceField(c->facts.resource, list[i])) {
        return ErrorAt(kKind, v.IsSequence() ? v[i] : v,
                       absl::StrCat("unknown field \"", list[i], "\" of ",
                                    ResourceName(c->facts.resource)));
      }
    }
    std::sort(list.begin(), list.end());
    c->expect_masked = list;
  }
  if (const auto v = n["break_glass"]) {
    CARELOG_CASES_ASSIGN_OR_RETURN(b, yaml_util::Bool(kKind, v, "break_glass"));
    c->expect_break_glass = b;
  }
  return absl::OkStatus();
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

std::string JsonList(const std::vector<std::string>& v) {
  std::vector<std::string> quoted;
  for (const auto& s : v)
    quoted.push_back(JsonString(s));
  return absl::StrCat("[", absl::StrJoin(quoted, ","), "]");
}

}  // namespace

absl::StatusOr<std::vector<PolicyCase>> ParsePolicyCases(
    absl::string_view yaml) {
  CARELOG_CASES_ASSIGN_OR_RETURN(root, yaml_util::LoadYaml(kKind, yaml));
  if (!root.IsDefined() || root.IsNull())
    return absl::InvalidArgumentError("cases: empty file");
  CARELOG_CASES_RETURN_IF_ERROR(yaml_util::CheckKeys(
      kKind, root, {"version", "description", "cases"}, "the file"));
  const auto version = root["version"];
  if (!version)
    return absl::InvalidArgumentError("cases: missing key \"version\" (1)");
  CARELOG_CASES_ASSIGN_OR_RETURN(v,
                                 yaml_util::Scalar(kKind, version, "version"));
  if (v != "1")
    return ErrorAt(kKind, version,
                   absl::StrCat("unsupported version \"", v, "\"; known: 1"));
  const auto cases = root["cases"];
  if (!cases || !cases.IsSequence())
    return absl::InvalidArgumentError("cases: missing list \"cases\"");
  std::vector<PolicyCase> out;
  for (const auto& cn : cases) {
    CARELOG_CASES_RETURN_IF_ERROR(yaml_util::CheckKeys(
        kKind, cn, {"name", "request", "expect"}, "a case"));
    PolicyCase c;
    c.line = yaml_util::Line(cn);
    if (const auto name = cn["name"]) {
      CARELOG_CASES_ASSIGN_OR_RETURN(s, yaml_util::Scalar(kKind, name, "name"));
      c.name = s;
    } else {
      c.name = absl::StrCat("case at line ", c.line);
    }
    const auto request = cn["request"];
    if (!request)
      return ErrorAt(kKind, cn, "case: missing \"request\"");
    CARELOG_CASES_RETURN_IF_ERROR(ParseRequest(request, &c.facts));
    const auto expect = cn["expect"];
    if (!expect)
      return ErrorAt(kKind, cn, "case: missing \"expect\"");
    CARELOG_CASES_RETURN_IF_ERROR(ParseExpect(expect, &c));
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::vector<PolicyCase>> LoadPolicyCasesFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(
        absl::StrCat("cases file ", path, ": cannot read"));
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = ParsePolicyCases(ss.str());
  if (!c.ok())
    return absl::Status(
        c.status().code(),
        absl::StrCat("cases file ", path, ": ", c.status().message()));
  return c;
}

CaseReport RunPolicyCases(const Policy& policy,
                          const std::vector<PolicyCase>& cases) {
  CaseReport report;
  report.policy_hash = policy.hash();
  for (const auto& c : cases) {
    CaseResult r;
    r.name = c.name;
    r.line = c.line;
    r.decision = policy.Decide(c.facts);
    if (r.decision.effect != c.expect_effect) {
      r.problems.push_back(absl::StrCat("effect: expected ",
                                        EffectName(c.expect_effect), ", got ",
                                        EffectName(r.decision.effect)));
    }
    if (c.expect_rules) {
      std::vector<std::string> got = r.decision.rule_ids;
      std::sort(got.begin(), got.end());
      if (got != *c.expect_rules) {
        r.problems.push_back(absl::StrCat(
            "rules: expected [", absl::StrJoin(*c.expect_rules, ", "),
            "], got [", absl::StrJoin(got, ", "), "]"));
      }
    }
    if (c.expect_masked && r.decision.masked_fields != *c.expect_masked) {
      r.problems.push_back(absl::StrCat(
          "masked: expected [", absl::StrJoin(*c.expect_masked, ", "),
          "], got [", absl::StrJoin(r.decision.masked_fields, ", "), "]"));
    }
    if (c.expect_break_glass &&
        r.decision.break_glass != *c.expect_break_glass) {
      r.problems.push_back(absl::StrCat(
          "break_glass: expected ", *c.expect_break_glass ? "true" : "false",
          ", got ", r.decision.break_glass ? "true" : "false"));
    }
    r.passed = r.problems.empty();
    (r.passed ? report.passed : report.failed)++;
    report.results.push_back(std::move(r));
  }
  return report;
}

std::string FormatCaseReportTable(const CaseReport& report) {
  size_t width = 4;
  for (const auto& r : report.results)
    width = std::max(width, std::min<size_t>(r.name.size(), 72));
  std::string out =
      absl::StrFormat("%-4s  %-5s  %-*s  %-13s  %s\n", "", "line",
                      static_cast<int>(width), "case", "effect", "rules");
  for (const auto& r : report.results) {
    std::string name =
        r.name.size() > width ? r.name.substr(0, width - 1) + "~" : r.name;
    std::string rules = absl::StrJoin(r.decision.rule_ids, ",");
    if (!r.decision.masked_fields.empty()) {
      absl::StrAppend(
          &rules, "  masked=", absl::StrJoin(r.decision.masked_fields, ","));
    }
    if (r.decision.break_glass)
      absl::StrAppend(&rules, "  BREAK-GLASS");
    absl::StrAppend(&out,
                    absl::StrFormat("%-4s  %-5d  %-*s  %-13s  %s\n",
                                    r.passed ? "ok" : "FAIL", r.line,
                                    static_cast<int>(width), name,
                                    EffectName(r.decision.effect), rules));
    for (const auto& p : r.problems)
      absl::StrAppend(&out, "      ", p, "\n");
  }
  absl::StrAppend(
      &out, absl::StrFormat("%d passed, %d failed (policy %s)\n", report.passed,
                            report.failed, report.policy_hash.substr(0, 16)));
  return out;
}

std::string FormatCaseReportJson(const CaseReport& report) {
  std::vector<std::string> cases;
  for (const auto& r : report.results) {
    cases.push_back(absl::StrCat(
        "{\"name\":", JsonString(r.name), ",\"line\":", r.line,
        ",\"passed\":", r.passed ? "true" : "false",
        ",\"effect\":", JsonString(EffectName(r.decision.effect)),
        ",\"rules\":", JsonList(r.decision.rule_ids),
        ",\"masked\":", JsonList(r.decision.masked_fields),
        ",\"break_glass\":", r.decision.break_glass ? "true" : "false",
        ",\"problems\":", JsonList(r.problems), "}"));
  }
  return absl::StrCat("{\"policy_hash\":", JsonString(report.policy_hash),
                      ",\"passed\":", report.passed,
                      ",\"failed\":", report.failed, ",\"cases\":[",
                      absl::StrJoin(cases, ","), "]}\n");
}

}  // namespace carelog::policies
