// policies/model.h — the vocabulary of access policies: the one canonical list
// of resources (with their fields), actions, HL7 purposes of use,
// relationships to the patient and patient flags.
//
// Policy files, case tables and the enforcement point all name things by the
// strings below; the engine works on the enums. Thread-safety: constants and
// pure functions only.
#ifndef CARELOG_POLICIES_MODEL_H_
#define CARELOG_POLICIES_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace carelog::policies {

// Resources: what a request touches. Order is the index order; append only.
enum class Resource : uint8_t {
  kPatientDemographics,
  kPatientInsurance,
  kClinicalMessages,
  kClinicalTestResults,
  kClinicalCareInstructions,
  kAppointments,
  kBilling,
  kFinancialAssistance,
  kLogistics,
  kComplaints,
  kAudit,
  kLedger,
};
inline constexpr size_t kResourceCount = 12;

enum class Action : uint8_t {
  kRead,
  kWrite,
  kExport,
  kSubscribe,
  kAdmin,
  kReview
};
inline constexpr size_t kActionCount = 6;

// The requester's relationship to the patient the request is about.
enum class Relationship : uint8_t { kSelf, kCareTeam, kAssigned };
inline constexpr size_t kRelationshipCount = 3;

// Flags on a patient's record that call for extra care.
enum class PatientFlag : uint8_t { kVip, kEmployee, kRestricted };
inline constexpr size_t kPatientFlagCount = 3;

// The purpose of use that opens break-the-glass (emergency treatment).
inline constexpr char kBreakGlassPurpose[] = "ETREAT";

// Names, e.g. "clinical.test_results", "read", "care_team", "vip".
absl::string_view ResourceName(Resource r);
absl::string_view ActionName(Action a);
absl::string_view RelationshipName(Relationship r);
absl::string_view PatientFlagName(PatientFlag f);

// Parses a name; nullopt when unknown.
std::optional<Resource> ParseResource(absl::string_view name);
std::optional<Action> ParseAction(absl::string_view name);
std::optional<Relationship> ParseRelationship(absl::string_view name);
std::optional<PatientFlag> ParsePatientFlag(absl::string_view name);

// The fields of a resource, in a fixed order (the unit of field masks).
const std::vector<std::string>& ResourceFields(Resource r);
bool IsResourceField(Resource r, absl::string_view field);

// HL7 v3 PurposeOfUse codes known to carelog, in a fixed order; the index of
// a code is its bit in purpose sets. nullopt for an unknown code.
const std::vector<std::string>& KnownPurposes();
std::optional<size_t> PurposeIndex(absl::string_view code);

}  // namespace carelog::policies

#endif  // CARELOG_POLICIES_MODEL_H_
