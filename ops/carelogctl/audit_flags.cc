#include "ops/carelogctl/audit_flags.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"

#include "services/audit/audit_format.h"
#include "services/audit/audit_service.h"

namespace carelog::ctl {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)
namespace fmt = services::audit;

namespace {

absl::StatusOr<int64_t> ParseTimeFlag(const std::string& v,
                                      absl::string_view flag) {
  if (v.empty())
    return 0;
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, v, &t, &err) ||
      absl::ParseTime("%Y-%m-%d", v, absl::UTCTimeZone(), &t, &err)) {
    if (t < absl::UnixEpoch())
      return absl::InvalidArgumentError(absl::StrCat(flag, ": before 1970"));
    return absl::ToUnixMicros(t);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": expected RFC 3339 or YYYY-MM-DD"));
}

// The server's own validation, run here first so that a bad value is named
// by its flag and nothing is sent.
absl::Status ValidateAsFlags(const AuditFilter& filter, const AuditFlags& f) {
  absl::Status s = fmt::ValidateFilter(filter);
  if (s.ok())
    return s;
  std::string msg(s.message());
  for (const auto& [field, flag] : f.field_flags)
    msg = absl::StrReplaceAll(msg, {{field, flag}});
  return absl::Status(s.code(), msg);
}

}  // namespace

void AddAuditOnlineFlags(CLI::App* cmd, AuditFlags* f) {
  AddClientFlags(cmd, &f->client, "HCOMPL");
  cmd->add_option("--min-position", f->min_position,
                  "wait until the audit view has applied this ledger position "
                  "(default: the head when the call arrives)");
}

void AddAuditListingFlags(CLI::App* cmd, AuditFlags* f) {
  AddAuditOnlineFlags(cmd, f);
  AddCommonFlags(cmd, &f->common);
  AddCsvFlag(cmd, &f->common);
  cmd->add_option("--limit", f->limit, "at most this many records")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}))
      ->default_str(absl::StrCat(f->limit));
}

void AddAuditTimeFlags(CLI::App* cmd, AuditFlags* f) {
  cmd->add_option(
      "--from", f->from,
      "decision time from (inclusive; RFC 3339 or YYYY-MM-DD, UTC)");
  cmd->add_option("--to", f->to, "decision time to (exclusive)");
  f->field_flags.push_back({"filter.from_micros", "--from"});
  f->field_flags.push_back({"filter.to_micros", "--to"});
}

void AddAuditFilterFlags(CLI::App* cmd, AuditFlags* f) {
  AddAuditTimeFlags(cmd, f);
  cmd->add_option("--outcome", f->outcome,
                  "allowed|allowed_masked|denied|break_the_glass");
  cmd->add_option("--access-purpose", f->purpose,
                  "purpose of use of the accesses (HL7 code, e.g. TREAT)");
  cmd->add_option("--resource", f->resource,
                  "resource, e.g. patient.insurance");
  cmd->add_option("--anomaly", f->anomaly,
                  "flagged_record|bulk_access|after_hours|repeated_denials");
  f->field_flags.push_back({"filter.purpose", "--access-purpose"});
  f->field_flags.push_back({"filter.resource", "--resource"});
}

absl::StatusOr<carelog::v1::AuditFilter> AuditFilterOf(const AuditFlags& f) {
  AuditFilter out;
  auto from = ParseTimeFlag(f.from, "--from");
  if (!from.ok())
    return from.status();
  auto to = ParseTimeFlag(f.to, "--to");
  if (!to.ok())
    return to.status();
  out.set_from_micros(*from);
  out.set_to_micros(*to);
  if (!f.outcome.empty()) {
    auto o =
        ParseAuditEnum<AccessOutcome>(f.outcome, "--outcome", fmt::OutcomeName,
                                      ACCESS_OUTCOME_BREAK_THE_GLASS);
    if (!o.ok())
      return o.status();
    out.set_outcome(*o);
  }
  if (!f.anomaly.empty()) {
    auto a =
        ParseAuditEnum<AuditAnomaly>(f.anomaly, "--anomaly", fmt::AnomalyName,
                                     AUDIT_ANOMALY_REPEATED_DENIALS);
    if (!a.ok())
      return a.status();
    out.set_anomaly(*a);
  }
  out.set_purpose(f.purpose);
  out.set_resource(f.resource);
  out.set_patient_id(f.patient);
  out.set_actor(f.actor);
  if (auto s = ValidateAsFlags(out, f); !s.ok())
    return s;
  return out;
}

}  // namespace carelog::ctl
