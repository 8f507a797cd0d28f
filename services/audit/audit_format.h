// services/audit/audit_format.h — how audit records leave the service: field
// masks over audit records, short names for the audit enums, CSV lines
// (RFC 4180) and FHIR R4 AuditEvent JSON following IHE Basic Audit Log
// Patterns (agent, source, entity, purposeOfEvent, outcome).
// Pure functions; thread-safe.
#ifndef CARELOG_SERVICES_AUDIT_AUDIT_FORMAT_H_
#define CARELOG_SERVICES_AUDIT_AUDIT_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "carelog/v1/audit.pb.h"

namespace carelog::services::audit {

// Clears the fields of `record` named by the policy's masks over resource
// "audit" (actor, roles, patient, resource, action, outcome, purpose, reason,
// rules, time) and lists them in record->masked_fields.
void ApplyAuditMasks(const std::vector<std::string>& masked_fields,
                     carelog::v1::AuditRecord* record);

// "allowed", "allowed_masked", "denied", "break_the_glass"; "flagged_record",
// "bulk_access", "after_hours", "repeated_denials"; "appropriate", …
std::string OutcomeName(carelog::v1::AccessOutcome o);
std::string AnomalyName(carelog::v1::AuditAnomaly a);
std::string ReviewDecisionName(carelog::v1::BreakGlassReviewDecision d);

// RFC 3339 UTC with microseconds ("" for 0).
std::string Rfc3339(int64_t micros);

// The CSV header line and one record's line (each ends in "\r\n"). Values
// with a comma, quote or line break are quoted; a value starting with = + -
// @ or a tab is prefixed with ' (no formula injection in spreadsheets).
// Multi-valued fields are joined with ';'. New columns are appended at the
// end (target_position, the ledger position a proof request asked about).
std::string CsvHeader();
std::string CsvLine(const carelog::v1::AuditRecord& record);

// One FHIR R4 AuditEvent as compact JSON (one line, no newline).
// Errors: INTERNAL if the JSON printer fails.
absl::StatusOr<std::string> FhirAuditEventJson(
    const carelog::v1::AuditRecord& record);

}  // namespace carelog::services::audit

#endif  // CARELOG_SERVICES_AUDIT_AUDIT_FORMAT_H_
