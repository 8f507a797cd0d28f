// ops/carelogctl/audit_cmd.h — `carelogctl audit …`: compliance queries over
// carelogd's AuditService (online: --server, --token; purpose HCOMPL by
// default): by-patient (accounting of disclosures), by-actor, range,
// btg-queue, review, anomalies, export --format csv|fhir. Listings print a
// readable table by default, --csv (RFC 4180, the export's columns) or --json
// (an array of AuditRecord in protobuf's JSON mapping). Every call is
// authorized and audited by the server, so the compliance officer's own
// queries appear on the trail. Bad arguments exit 2 naming the flag before
// anything is sent. Single-threaded CLI code.
#ifndef CARELOG_OPS_CARELOGCTL_AUDIT_CMD_H_
#define CARELOG_OPS_CARELOGCTL_AUDIT_CMD_H_

#include "CLI/CLI.hpp"
#include "ops/carelogctl/ops_common.h"

namespace carelog::ctl {

// Adds `audit` and its subcommands to `app` and their runners to `table`;
// `global_json` is carelogctl's top-level --json flag (must outlive parsing).
void RegisterAuditCommands(CLI::App& app, CommandTable* table,
                           const bool* global_json);

}  // namespace carelog::ctl

#endif  // CARELOG_OPS_CARELOGCTL_AUDIT_CMD_H_
