#include "services/audit/audited_call.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"

#include "services/domain/validate.h"
#include "services/server/grpc_status.h"

namespace carelog::services::audit {

absl::Time WaitDeadline(const grpc::CallbackServerContext* call) {
  return std::min(absl::FromChrono(call->deadline()),
                  absl::Now() + absl::Seconds(30));
}

grpc::ServerUnaryReactor* RunAuditedRead(
    grpc::CallbackServerContext* call, const AuditedCallDeps& deps,
    const std::string& method, const projections::ProjectionWorker* wait_on,
    uint64_t min_position, AuditedBody body) {
  auto* reactor = call->DefaultReactor();
  auto ctx = deps.auth->Authenticate(*call);
  if (!ctx.ok()) {
    reactor->Finish(ToGrpcStatus(ctx.status()));
    return reactor;
  }
  auto rc = std::make_shared<RequestContext>(std::move(*ctx));
  auto task = [call, reactor, rc, deps, method, wait_on, min_position,
               body = std::move(body)] {
    if (wait_on != nullptr && min_position > 0) {
      if (auto s = wait_on->WaitForPosition(min_position, WaitDeadline(call));
          !s.ok()) {
        reactor->Finish(ToGrpcStatus(s));
        return;
      }
    }
    auto scope = std::make_shared<CommandScope>(*rc, deps.access, method);
    const absl::Status result = body(*scope);
    if (scope->decisions().empty()) {
      reactor->Finish(ToGrpcStatus(result));
      return;
    }
    storage::AppendRequest audit;
    audit.command_id = NewId("audit-read-");
    AddAuditEvents(scope->decisions(), *rc, &audit);
    deps.ledger->AppendAsync(audit, [reactor, rc, scope, result,
                                     log = deps.log](
                                        absl::StatusOr<storage::AppendResult>
                                            r) {
      if (!r.ok()) {
        if (log)
          log->Error("audit_append_failed", {{"request_id", rc->request_id}});
        reactor->Finish(ToGrpcStatus(absl::UnavailableError(
            "audit trail unavailable; request refused")));
        return;
      }
      reactor->Finish(ToGrpcStatus(result));
    });
  };
  if (auto s = deps.executor->Submit(std::move(task)); !s.ok())
    reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace carelog::services::audit
