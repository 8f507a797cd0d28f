#include "services/audit/audit_format.h"

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace carelog::services::audit {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)
using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

namespace {

// Lower-case enum value name without its type prefix.
std::string ShortName(const std::string& full, absl::string_view prefix) {
  std::string s = full;
  if (absl::StartsWith(s, prefix))
    s = s.substr(prefix.size());
  return absl::AsciiStrToLower(s);
}

std::string CsvField(const std::string& v) {
  std::string s = v;
  if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
                     s[0] == '\t'))
    s.insert(0, "'");
  if (s.find_first_of(",\"\r\n") == std::string::npos)
    return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"')
      out += "\"\"";
    else
      out.push_back(c);
  }
  out += "\"";
  return out;
}

template <typename C>
std::string Joined(const C& values) {
  return absl::StrJoin(values, ";");
}

std::vector<std::string> AnomalyNames(const AuditRecord& r);

// Small builders over google.protobuf.Struct (the JSON printer escapes).
Value Str(const std::string& s) {
  Value v;
  v.set_string_value(s);
  return v;
}
Value Bool(bool b) {
  Value v;
  v.set_bool_value(b);
  return v;
}
Value Obj(std::initializer_list<std::pair<const char*, Value>> fields) {
  Value v;
  auto* m = v.mutable_struct_value()->mutable_fields();
  for (const auto& [k, val] : fields)
    (*m)[k] = val;
  return v;
}
Value List(std::vector<Value> items) {
  Value v;
  for (auto& i : items)
    *v.mutable_list_value()->add_values() = std::move(i);
  return v;
}
Value Coding(const std::string& system, const std::string& code,
             const std::string& display = "") {
  Value c = Obj({{"system", Str(system)}, {"code", Str(code)}});
  if (!display.empty())
    (*c.mutable_struct_value()->mutable_fields())["display"] = Str(display);
  return c;
}
Value Concept(Value coding) {
  return Obj({{"coding", List({std::move(coding)})}});
}
void Set(Value* obj, const char* key, Value v) {
  (*obj->mutable_struct_value()->mutable_fields())[key] = std::move(v);
}

constexpr char kActReason[] =
    "http://terminology.hl7.org/CodeSystem/v3-ActReason";

}  // namespace

namespace {
std::vector<std::string> AnomalyNames(const AuditRecord& r) {
  std::vector<std::string> names;
  for (int a : r.anomalies())
    names.push_back(AnomalyName(static_cast<AuditAnomaly>(a)));
  return names;
}
}  // namespace

std::string OutcomeName(AccessOutcome o) {
  return ShortName(AccessOutcome_Name(o), "ACCESS_OUTCOME_");
}
std::string AnomalyName(AuditAnomaly a) {
  return ShortName(AuditAnomaly_Name(a), "AUDIT_ANOMALY_");
}
std::string ReviewDecisionName(BreakGlassReviewDecision d) {
  return ShortName(BreakGlassReviewDecision_Name(d),
                   "BREAK_GLASS_REVIEW_DECISION_");
}

std::string Rfc3339(int64_t micros) {
  if (micros == 0)
    return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

void ApplyAuditMasks(const std::vector<std::string>& masked_fields,
                     AuditRecord* r) {
  std::set<std::string> listed(r->masked_fields().begin(),
                               r->masked_fields().end());
  AccessAudited* a = r->mutable_access();
  for (const std::string& f : masked_fields) {
    if (f == "actor") {
      a->clear_actor();
      a->clear_client_address();
      a->clear_calling_service();
      r->mutable_review()->clear_accessor();
    } else if (f == "roles") {
      a->clear_roles();
    } else if (f == "patient") {
      a->clear_patient_id();
      a->clear_patient_vip();
      a->clear_patient_employee();
      a->clear_patient_restricted();
      r->mutable_review()->clear_patient_id();
    } else if (f == "resource") {
      a->clear_resource();
      a->clear_method();
      a->clear_target_position();
      a->clear_masked_fields();
    } else if (f == "action") {
      a->clear_action();
    } else if (f == "outcome") {
      a->clear_outcome();
      a->clear_forbidden();
      r->clear_break_glass();
    } else if (f == "purpose") {
      a->clear_purpose();
    } else if (f == "reason") {
      a->clear_reason();
      r->mutable_review()->clear_note();
    } else if (f == "rules") {
      a->clear_rules();
      a->clear_policy_hash();
    } else if (f == "time") {
      a->clear_decided_at_micros();
      r->clear_recorded_at_micros();
      r->mutable_review()->clear_reviewed_at_micros();
    }
    listed.insert(f);
  }
  if (r->has_review() && r->review().ByteSizeLong() == 0)
    r->clear_review();
  r->clear_masked_fields();
  for (const auto& f : listed)
    r->add_masked_fields(f);
}

std::string CsvHeader() {
  return "position,time,actor,roles,calling_service,client_address,purpose,"
         "reason,patient_id,resource,action,method,outcome,forbidden,rules,"
         "policy_hash,fields_masked,request_id,anomalies,break_glass,"
         "review_decision,reviewer,reviewed_at,record_masked_fields,"
         "target_position\r\n";
}

std::string CsvLine(const AuditRecord& r) {
  const AccessAudited& a = r.access();
  const int64_t t = a.decided_at_micros() > 0 ? a.decided_at_micros()
                                              : r.recorded_at_micros();
  std::vector<std::string> v = {
      absl::StrCat(r.position()),
      Rfc3339(t),
      a.actor(),
      Joined(a.roles()),
      a.calling_service(),
      a.client_address(),
      a.purpose(),
      a.reason(),
      a.patient_id(),
      a.resource(),
      a.action(),
      a.method(),
      a.outcome() == ACCESS_OUTCOME_UNSPECIFIED ? "" : OutcomeName(a.outcome()),
      a.forbidden() ? "true" : "false",
      Joined(a.rules()),
      a.policy_hash(),
      Joined(a.masked_fields()),
      a.request_id(),
      Joined(AnomalyNames(r)),
      r.break_glass() ? "true" : "false",
      r.has_review() ? ReviewDecisionName(r.review().decision()) : "",
      r.has_review() ? r.review().reviewer() : "",
      r.has_review() ? Rfc3339(r.review().reviewed_at_micros()) : "",
      Joined(r.masked_fields()),
      a.target_position() == 0 ? "" : absl::StrCat(a.target_position()),
  };
  std::string line;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0)
      line.push_back(',');
    line += CsvField(v[i]);
  }
  line += "\r\n";
  return line;
}

absl::StatusOr<std::string> FhirAuditEventJson(const AuditRecord& r) {
  const AccessAudited& a = r.access();
  const int64_t t = a.decided_at_micros() > 0 ? a.decided_at_micros()
                                              : r.recorded_at_micros();
  // BALP: a RESTful-style interaction; reads are "R", writes "U", anything
  // else (export, review, admin) "E".
  std::string action = "E", interaction = "operation";
  if (a.action() == "read") {
    action = "R";
    interaction = "read";
  } else if (a.action() == "write") {
    action = "U";
    interaction = "update";
  }
  const bool denied = a.outcome() == ACCESS_OUTCOME_DENIED;
  Value ev = Obj({
      {"resourceType", Str("AuditEvent")},
      {"id", Str(absl::StrCat("carelog-", r.position()))},
      {"type", Coding("http://terminology.hl7.org/CodeSystem/audit-event-type",
                      "rest", "Restful Operation")},
      {"subtype",
       List({Coding("http://hl7.org/fhir/restful-interaction", interaction)})},
      {"action", Str(action)},
      {"outcome", Str(denied ? "4" : "0")},
  });
  if (t != 0)
    Set(&ev, "recorded", Str(Rfc3339(t)));
  std::string desc =
      a.outcome() == ACCESS_OUTCOME_UNSPECIFIED ? "" : OutcomeName(a.outcome());
  if (denied && a.forbidden())
    desc += " (forbidden)";
  if (a.rules_size() > 0)
    absl::StrAppend(&desc, desc.empty() ? "" : "; ",
                    "rules: ", absl::StrJoin(a.rules(), ", "));
  if (!desc.empty())
    Set(&ev, "outcomeDesc", Str(desc));
  std::vector<Value> purposes;
  if (!a.purpose().empty()) {
    Value p = Concept(Coding(kActReason, a.purpose()));
    if (!a.reason().empty())
      Set(&p, "text", Str(a.reason()));
    purposes.push_back(std::move(p));
  }
  if (!purposes.empty())
    Set(&ev, "purposeOfEvent", List(purposes));

  // Agents: the person (requestor), the calling service, carelogd.
  std::vector<Value> agents;
  Value user = Obj({
      {"type", Concept(Coding(
                   "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                   "IRCP", "information recipient"))},
      {"who", Obj({{"identifier", Obj({{"value", Str(a.actor())}})}})},
      {"requestor", Bool(true)},
  });
  std::vector<Value> roles;
  for (const auto& role : a.roles())
    roles.push_back(Concept(Coding("urn:carelog:role", role)));
  if (!roles.empty())
    Set(&user, "role", List(roles));
  if (!a.client_address().empty())
    Set(&user, "network",
        Obj({{"address", Str(a.client_address())}, {"type", Str("2")}}));
  std::vector<Value> policy;
  for (const auto& rule : a.rules())
    policy.push_back(
        Str(absl::StrCat("urn:carelog:policy:", a.policy_hash(), "#", rule)));
  if (!policy.empty())
    Set(&user, "policy", List(policy));
  if (!purposes.empty())
    Set(&user, "purposeOfUse",
        List({Concept(Coding(kActReason, a.purpose()))}));
  agents.push_back(std::move(user));
  if (!a.calling_service().empty()) {
    agents.push_back(Obj({
        {"type", Concept(Coding("http://dicom.nema.org/resources/ontology/DCM",
                                "110150", "Application"))},
        {"who",
         Obj({{"identifier", Obj({{"value", Str(a.calling_service())}})}})},
        {"requestor", Bool(false)},
    }));
  }
  agents.push_back(Obj({
      {"type", Concept(Coding("http://dicom.nema.org/resources/ontology/DCM",
                              "110153", "Source Role ID"))},
      {"who", Obj({{"display", Str("carelogd")}})},
      {"requestor", Bool(false)},
  }));
  Set(&ev, "agent", List(agents));
  Set(&ev, "source",
      Obj({{"site", Str("carelog")},
           {"observer", Obj({{"display", Str("carelogd")}})},
           {"type", List({Coding("http://terminology.hl7.org/CodeSystem/"
                                 "security-source-type",
                                 "4", "Application Server")})}}));

  // Entities: the patient, and the data touched (resource, method, masks).
  std::vector<Value> entities;
  if (!a.patient_id().empty()) {
    entities.push_back(Obj({
        {"what", Obj({{"reference", Str("Patient/" + a.patient_id())}})},
        {"type",
         Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1",
                "Person")},
        {"role", Coding("http://terminology.hl7.org/CodeSystem/object-role",
                        "1", "Patient")},
    }));
  }
  std::vector<Value> details;
  auto detail = [&details](const char* type, const std::string& value) {
    if (!value.empty())
      details.push_back(
          Obj({{"type", Str(type)}, {"valueString", Str(value)}}));
  };
  detail("action", a.action());
  detail("fields_masked", absl::StrJoin(a.masked_fields(), ","));
  detail("request_id", a.request_id());
  if (a.target_position() != 0)
    detail("target_position", absl::StrCat(a.target_position()));
  detail("anomalies", absl::StrJoin(AnomalyNames(r), ","));
  if (r.has_review())
    detail("break_glass_review", ReviewDecisionName(r.review().decision()));
  Value data = Obj({
      {"what", Obj({{"identifier", Obj({{"value", Str(a.resource())}})}})},
      {"type", Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type",
                      "2", "System Object")},
  });
  if (!a.method().empty())
    Set(&data, "description", Str(a.method()));
  if (!details.empty())
    Set(&data, "detail", List(details));
  entities.push_back(std::move(data));
  Set(&ev, "entity", List(entities));

  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  auto s = google::protobuf::util::MessageToJsonString(ev.struct_value(), &out,
                                                       opts);
  if (!s.ok())
    return absl::InternalError("FHIR AuditEvent: JSON printing failed");
  return out;
}

}  // namespace carelog::services::audit
