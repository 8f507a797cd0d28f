// ops/carelogctl/audit_flags.h — the flags of `carelogctl audit …` and the
// AuditFilter they make: client flags (purpose HCOMPL by default), listing
// flags (--json, --csv, --limit), time and filter flags, enum values by their
// short names. A filter is checked with AuditService's own validation before
// anything is sent, its field names translated to this command's flags.
// Single-threaded CLI code.
#ifndef CARELOG_OPS_CARELOGCTL_AUDIT_FLAGS_H_
#define CARELOG_OPS_CARELOGCTL_AUDIT_FLAGS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

#include "CLI/CLI.hpp"
#include "carelog/v1/audit.pb.h"
#include "ops/carelogctl/client.h"
#include "ops/carelogctl/ops_common.h"

namespace carelog::ctl {

// Flags of the audit subcommands; each adds the ones it uses.
struct AuditFlags {
  ClientFlags client;
  CommonFlags common;
  std::string patient, actor;  // by-patient PATIENT, by-actor ACTOR, export
  std::string from, to;        // RFC 3339 or YYYY-MM-DD (UTC)
  std::string outcome, purpose, resource, anomaly;
  uint64_t limit = 1000;  // records at most (all pages)
  uint64_t min_position = 0;
  bool all = false;  // btg-queue --all
  // Field names in the server's validation messages → this command's flags.
  std::vector<std::pair<std::string, std::string>> field_flags;
};

// --server, --token, … (purpose HCOMPL) and --min-position.
void AddAuditOnlineFlags(CLI::App* cmd, AuditFlags* f);
// The online flags plus --json, --quiet, --csv and --limit (1 … 1e8).
void AddAuditListingFlags(CLI::App* cmd, AuditFlags* f);
// --from and --to.
void AddAuditTimeFlags(CLI::App* cmd, AuditFlags* f);
// --from, --to, --outcome, --access-purpose, --resource, --anomaly.
void AddAuditFilterFlags(CLI::App* cmd, AuditFlags* f);

// The filter the flags describe (with f.patient and f.actor). Errors:
// INVALID_ARGUMENT naming the flag (or argument) of a bad value.
absl::StatusOr<carelog::v1::AuditFilter> AuditFilterOf(const AuditFlags& f);

// An enum value 1 … max by its short name (as `name`, audit_format's
// OutcomeName and the like, prints it). Errors: INVALID_ARGUMENT naming
// `flag` and listing the names.
template <typename E>
absl::StatusOr<E> ParseAuditEnum(const std::string& v, absl::string_view flag,
                                 std::string (*name)(E), int max) {
  std::vector<std::string> names;
  for (int i = 1; i <= max; ++i) {
    names.push_back(name(static_cast<E>(i)));
    if (names.back() == absl::AsciiStrToLower(v))
      return static_cast<E>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      flag, ": unknown value; expected one of ", absl::StrJoin(names, ", ")));
}

}  // namespace carelog::ctl

#endif  // CARELOG_OPS_CARELOGCTL_AUDIT_FLAGS_H_
