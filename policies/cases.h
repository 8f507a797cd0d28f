// policies/cases.h — tables of (request facts -> expected decision) cases,
// and the runner shared by the test suite and `carelogctl policy test`.
//
// Case file (YAML), validated on load (unknown keys, resources, actions,
// purposes, relationships, flags and effects are errors naming the line):
//
//   version: 1
//   cases:
//     - name: clinician on the care team reads results for treatment
//       request:
//         actor: u-clin-1
//         roles: [clinician]
//         purpose: TREAT
//         reason: true                 # a reason was given
//         calling_service: svc-portal  # optional
//         resource: clinical.test_results
//         action: read
//         patient: p-1                 # optional
//         relationship: [care_team]    # facts: self, care_team, assigned
//         patient_flags: [vip]
//         restrictions:                # the patient's restrictions
//           - {id: r1, role: billing_clerk, resources: [billing]}  # or actor:
//           / service:
//         break_glass: active          # none (default) | active | expired
//       expect:
//         effect: permit               # permit | forbid | not_permitted
//         rules: [clinician-treat-read]     # optional: exactly these (any
//         order) masked: [result_value]            # optional: exactly these
//         fields break_glass: false                # optional
//
// Thread-safety: pure functions over immutable inputs.
#ifndef CARELOG_POLICIES_CASES_H_
#define CARELOG_POLICIES_CASES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "policies/facts.h"
#include "policies/policy.h"

namespace carelog::policies {

struct PolicyCase {
  std::string name;
  int line = 0;  // of the case in its file
  RequestFacts facts;
  Effect expect_effect = Effect::kNotPermitted;
  std::optional<std::vector<std::string>> expect_rules;   // sorted
  std::optional<std::vector<std::string>> expect_masked;  // sorted
  std::optional<bool> expect_break_glass;
};

// Errors: INVALID_ARGUMENT naming the line.
absl::StatusOr<std::vector<PolicyCase>> ParsePolicyCases(
    absl::string_view yaml);
// Blocking file read. Errors: NOT_FOUND for an unreadable file; as
// ParsePolicyCases.
absl::StatusOr<std::vector<PolicyCase>> LoadPolicyCasesFile(
    const std::string& path);

struct CaseResult {
  std::string name;
  int line = 0;
  bool passed = false;
  Decision decision;
  std::vector<std::string> problems;  // what differed from the expectation
};

struct CaseReport {
  std::string policy_hash;
  size_t passed = 0;
  size_t failed = 0;
  std::vector<CaseResult> results;
  bool ok() const { return failed == 0; }
};

// Decides every case against `policy` and compares.
CaseReport RunPolicyCases(const Policy& policy,
                          const std::vector<PolicyCase>& cases);

// A readable table (one line per case, failures explained underneath).
std::string FormatCaseReportTable(const CaseReport& report);
// One JSON object: {"policy_hash":…, "passed":n, "failed":n, "cases":[…]}.
std::string FormatCaseReportJson(const CaseReport& report);

}  // namespace carelog::policies

#endif  // CARELOG_POLICIES_CASES_H_
