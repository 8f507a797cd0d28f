#include "policies/model.h"

#include <array>

namespace carelog::policies {

namespace {

constexpr std::array<absl::string_view, kResourceCount> kResourceNames = {
    "patient.demographics",
    "patient.insurance",
    "clinical.messages",
    "clinical.test_results",
    "clinical.care_instructions",
    "appointments",
    "billing",
    "financial_assistance",
    "logistics",
    "complaints",
    "audit",
    "ledger"};
constexpr std::array<absl::string_view, kActionCount> kActionNames = {
    "read", "write", "export", "subscribe", "admin", "review"};
constexpr std::array<absl::string_view, kRelationshipCount> kRelationshipNames =
    {"self", "care_team", "assigned"};
constexpr std::array<absl::string_view, kPatientFlagCount> kPatientFlagNames = {
    "vip", "employee", "restricted"};

template <typename E, size_t N>
std::optional<E> Find(const std::array<absl::string_view, N>& names,
                      absl::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name)
      return static_cast<E>(i);
  }
  return std::nullopt;
}

// Minimum-necessary masks are expressed over these fields. A field is the
// smallest unit a rule can show or hide; "contents" fields (body,
// result_value, report_text, …) are kept apart from "envelope" fields (sender,
// status, ordered_at, …) so that non-clinical staff can be shown that a thing
// exists without being shown what it says.
const std::array<std::vector<std::string>, kResourceCount>& Fields() {
  static const auto* const kFields =
      new std::array<std::vector<std::string>, kResourceCount>{{
          {"name", "date_of_birth", "sex", "address", "phone", "email",
           "preferred_language", "emergency_contact", "mrn", "ssn_last4"},
          {"payer", "plan", "member_id", "group_number", "subscriber",
           "coverage_dates"},
          {"sender", "recipients", "sent_at", "subject", "body", "attachments"},
          {"test_name", "ordered_at", "status", "ordering_clinician",
           "result_value", "reference_range", "interpretation", "report_text"},
          {"title", "author", "issued_at", "instructions", "medications",
           "follow_up"},
          {"time", "location", "provider", "department", "visit_type", "status",
           "notes"},
          {"charges", "payments", "balance", "statements", "insurance_claims",
           "service_codes", "diagnosis_codes"},
          {"application_status", "household_size", "household_income",
           "documents", "award"},
          {"transport", "interpreter", "accessibility", "lodging", "parking"},
          {"category", "description", "status", "resolution", "assigned_to"},
          {"actor", "roles", "patient", "resource", "action", "outcome",
           "purpose", "reason", "rules", "time"},
          {"position", "chain_hash", "stream", "event_type", "payload"},
      }};
  return *kFields;
}

}  // namespace

absl::string_view ResourceName(Resource r) {
  return kResourceNames[static_cast<size_t>(r)];
}
absl::string_view ActionName(Action a) {
  return kActionNames[static_cast<size_t>(a)];
}
absl::string_view RelationshipName(Relationship r) {
  return kRelationshipNames[static_cast<size_t>(r)];
}
absl::string_view PatientFlagName(PatientFlag f) {
  return kPatientFlagNames[static_cast<size_t>(f)];
}

std::optional<Resource> ParseResource(absl::string_view name) {
  return Find<Resource>(kResourceNames, name);
}
std::optional<Action> ParseAction(absl::string_view name) {
  return Find<Action>(kActionNames, name);
}
std::optional<Relationship> ParseRelationship(absl::string_view name) {
  return Find<Relationship>(kRelationshipNames, name);
}
std::optional<PatientFlag> ParsePatientFlag(absl::string_view name) {
  return Find<PatientFlag>(kPatientFlagNames, name);
}

const std::vector<std::string>& ResourceFields(Resource r) {
  return Fields()[static_cast<size_t>(r)];
}

bool IsResourceField(Resource r, absl::string_view field) {
  for (const auto& f : ResourceFields(r)) {
    if (f == field)
      return true;
  }
  return false;
}

const std::vector<std::string>& KnownPurposes() {
  // HL7 v3 PurposeOfUse (the subset relevant to patient support work); the
  // same list services' Authenticator accepts on the wire.
  static const auto* const kCodes = new std::vector<std::string>{
      "TREAT",    "ETREAT",  "CAREMGT",   "CLINTRCH", "HPAYMT", "COVERAGE",
      "ELIGDTRM", "HOPERAT", "HSYSADMIN", "HCOMPL",   "HLEGAL", "HRESCH",
      "PATRQT",   "PUBHLTH", "HDIRECT",   "FAMRQT"};
  return *kCodes;
}

std::optional<size_t> PurposeIndex(absl::string_view code) {
  const auto& codes = KnownPurposes();
  for (size_t i = 0; i < codes.size(); ++i) {
    if (codes[i] == code)
      return i;
  }
  return std::nullopt;
}

}  // namespace carelog::policies
