// services/audit/audited_call.h — runs one audited, read-only RPC: the
// reusable shape of every call whose answer discloses something and must
// leave only after its audit events are durable (every QueryService read, via
// QueryCore::RunRead; AuditService queries; admin reads such as proofs over
// audit streams). It is the one implementation of fail-closed reads.
//
// Operation. RunAuditedRead authenticates the call (inline; UNAUTHENTICATED
// ends it), then on the Executor: waits until `wait_on` (may be null) has
// applied `min_position` (bounded by the call's deadline, at most 30 s:
// DEADLINE_EXCEEDED), runs `body` with a fresh CommandScope — body must call
// scope.Authorize() for what it discloses, and fill the reply only when
// allowed — then appends one AccessAudited event per decision (audit key,
// stream audit/<patient>) and finishes the call with body's status once that
// append is durable. If the append fails the call fails UNAVAILABLE (fail
// closed; a denial is answered only once durable). A body that decides
// nothing (validation error, I/O error) finishes at once with its status.
// Concurrency. Thread-safe; body runs on an Executor thread and may block on
// reads; the append completes on the ledger writer thread. Everything `body`
// captures must live until the call finishes (the gRPC request and reply do).
#ifndef CARELOG_SERVICES_AUDIT_AUDITED_CALL_H_
#define CARELOG_SERVICES_AUDIT_AUDITED_CALL_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

#include "services/domain/command_runner.h"
#include "services/projections/projection_worker.h"
#include "services/server/access.h"
#include "services/server/executor.h"
#include "services/server/log.h"
#include "services/server/request_context.h"
#include "storage/ledger.h"

namespace carelog::services::audit {

// What an audited call needs; all pointers outlive the calls (log may be
// null).
struct AuditedCallDeps {
  storage::Ledger* ledger = nullptr;
  Executor* executor = nullptr;
  const Authenticator* auth = nullptr;
  const AccessEnforcer* access = nullptr;
  std::shared_ptr<JsonLog> log;
};

using AuditedBody = std::function<absl::Status(CommandScope&)>;

grpc::ServerUnaryReactor* RunAuditedRead(
    grpc::CallbackServerContext* call, const AuditedCallDeps& deps,
    const std::string& method, const projections::ProjectionWorker* wait_on,
    uint64_t min_position, AuditedBody body);

// The deadline for waiting on a view: the call's, capped at 30 s.
absl::Time WaitDeadline(const grpc::CallbackServerContext* call);

}  // namespace carelog::services::audit

#endif  // CARELOG_SERVICES_AUDIT_AUDITED_CALL_H_
