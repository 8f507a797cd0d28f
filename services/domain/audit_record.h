// services/domain/audit_record.h — audit records of access decisions outside
// the command runner's own flow (proof requests, operator actions): building
// one AccessAudited from a decision, and appending records durably before a
// reply (fail closed). The runner's CommandScope uses the same builder.
// Thread-safety: free functions; safe for concurrent use.
#ifndef CARELOG_SERVICES_DOMAIN_AUDIT_RECORD_H_
#define CARELOG_SERVICES_DOMAIN_AUDIT_RECORD_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "carelog/v1/audit.pb.h"
#include "services/server/access.h"
#include "services/server/log.h"
#include "services/server/request_context.h"
#include "storage/ledger.h"

namespace carelog::services {

// The audit record of one access decision: `decision` is what
// AccessEnforcer::Decide answered for `req`, asked by the caller of `ctx`
// through gRPC `method`. A denial is recorded as DENIED with its rules, its
// forbidden flag and the policy hash, like any other decision.
carelog::v1::AccessAudited AuditRecordOf(const RequestContext& ctx,
                                         const std::string& method,
                                         const AccessRequest& req,
                                         const AccessDecision& decision);

// Appends the audit events of `decisions` (AddAuditEvents) as one command (id
// `id_prefix` and a random suffix) without blocking, then calls `done` on the
// ledger writer thread (or inline for early failures): OK once they are
// durable, else UNAVAILABLE "audit trail unavailable; request refused" (logged
// as audit_append_failed with the request id when `log` is non-null) —
// callers fail closed on it. `done` must not block.
void AppendAuditEvents(storage::Ledger* ledger,
                       const std::vector<carelog::v1::AccessAudited>& decisions,
                       const RequestContext& ctx, absl::string_view id_prefix,
                       std::shared_ptr<JsonLog> log,
                       std::function<void(absl::Status)> done);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_DOMAIN_AUDIT_RECORD_H_
