// services/domain/command_runner.h — how every domain command runs.
//
// Operation. Execute() authenticates the call (inline), validates the request
// (inline, INVALID_ARGUMENT naming the field), then on the Executor:
//   1. returns the stored result if this command id was already committed
//      with the same request (idempotent retry; ALREADY_EXISTS if the id was
//      used for a different request);
//   2. runs the handler's Decide(scope): it loads aggregates, calls
//      scope.Authorize(resource, action, patient, facts) — the single
//      enforcement point — before touching data, validates state and plans
//      events with expected versions;
//   3. appends the planned events *and one audit event per access decision*
//      (audit key, stream audit/<patient>) in one atomic command; the reply
//      is sent only once that batch is durable;
//   4. on a version conflict (ABORTED) repeats 2–3, at most kMaxAttempts
//      times, then answers ABORTED.
// A denied decision is audited on its own (the denial event must be durable
// before PERMISSION_DENIED is answered; if that append fails the call fails
// UNAVAILABLE). A handler that plans events without authorizing is a bug
// and answers INTERNAL.
// Concurrency. Safe for concurrent calls. Decide runs on Executor threads and
// may block on reads; the append completes on the ledger writer thread.
// Limitations. A retry is recognised by (method, actor, request bytes): the
// same request re-sent with the same command id by the same actor.
#ifndef CARELOG_SERVICES_DOMAIN_COMMAND_RUNNER_H_
#define CARELOG_SERVICES_DOMAIN_COMMAND_RUNNER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

#include "carelog/v1/audit.pb.h"
#include "carelog/v1/common.pb.h"
#include "services/server/access.h"
#include "services/server/executor.h"
#include "services/server/log.h"
#include "services/server/request_context.h"
#include "storage/ledger.h"

namespace carelog::services {

inline constexpr int kMaxAttempts = 5;

// What a handler's Decide sees and fills. One scope per attempt.
class CommandScope {
 public:
  CommandScope(const RequestContext& ctx, const AccessEnforcer* access,
               std::string method);

  const RequestContext& ctx() const { return ctx_; }

  // The enforcement point. OK when allowed; PERMISSION_DENIED naming the rule
  // otherwise. Every decision (allowed or not) is recorded for the audit trail.
  absl::Status Authorize(const std::string& resource, const std::string& action,
                         const std::string& patient_id,
                         const PatientFacts& facts = {});

  // Plans an event on `stream_id` (all events of one stream must carry the
  // same expected version; the first call for a stream sets it). Events about
  // a patient are sealed under that patient's key.
  void Append(const std::string& stream_id, storage::ExpectedVersion expected,
              const google::protobuf::Message& body,
              const std::string& patient_id);
  // An event with no subject (system key), e.g. a provider's schedule slot.
  void AppendSystem(const std::string& stream_id,
                    storage::ExpectedVersion expected,
                    const google::protobuf::Message& body);

  // An event on the audit stream of `patient_id` (audit/<patient>, or
  // audit/system when empty), sealed under the audit key — e.g. a review
  // decision — in the same batch as the command's own audit events.
  void AppendAudit(const google::protobuf::Message& body,
                   const std::string& patient_id);

  // Accessors for the runner.
  struct Planned {
    std::string stream_id;
    storage::ExpectedVersion expected;
    std::vector<storage::NewEvent> events;
  };
  const std::vector<Planned>& planned() const { return planned_; }
  const std::vector<google::protobuf::Any>& bodies() const { return bodies_; }
  const std::vector<carelog::v1::AccessAudited>& decisions() const {
    return decisions_;
  }
  bool any_denied() const { return any_denied_; }

 private:
  void Add(const std::string& stream_id, storage::ExpectedVersion expected,
           const google::protobuf::Message& body, crypto::KeyClass cls,
           const std::string& subject);
  const RequestContext& ctx_;
  const AccessEnforcer* access_;
  const std::string method_;
  carelog::v1::EventMeta meta_;
  std::vector<Planned> planned_;
  std::vector<google::protobuf::Any> bodies_;
  std::vector<carelog::v1::AccessAudited> decisions_;
  bool any_denied_ = false;
};

// Builds the audit events of `decisions` into `request` (one stream append per
// audit stream, ExpectedVersion::Any, audit key).
void AddAuditEvents(const std::vector<carelog::v1::AccessAudited>& decisions,
                    const RequestContext& ctx, storage::AppendRequest* request);

class CommandRunner {
 public:
  using Validate = std::function<absl::Status()>;
  using Decide = std::function<absl::Status(CommandScope&)>;
  // Fills the reply from the command's result and its domain events (in the
  // order planned; audit events excluded) — for a retry, read back from the
  // ledger.
  using Reply = std::function<void(const storage::AppendResult&,
                                   const std::vector<google::protobuf::Any>&)>;

  // All pointers must outlive the runner; `log` may be null.
  CommandRunner(storage::Ledger* ledger, Executor* executor,
                const Authenticator* auth, const AccessEnforcer* access,
                std::shared_ptr<JsonLog> log);

  // Runs one command RPC to completion (the reactor is finished exactly once).
  // `request` and everything the lambdas capture must live until then (the
  // gRPC request message does).
  void Execute(grpc::CallbackServerContext* call,
               grpc::ServerUnaryReactor* reactor, const std::string& method,
               const std::string& command_id,
               const google::protobuf::Message& request, Validate validate,
               Decide decide, Reply reply);

  storage::Ledger* ledger() const { return ledger_; }

 private:
  struct Job;
  void Attempt(std::shared_ptr<Job> job);
  void Finish(const std::shared_ptr<Job>& job, const absl::Status& status);

  storage::Ledger* const ledger_;
  Executor* const executor_;
  const Authenticator* const auth_;
  const AccessEnforcer* const access_;
  std::shared_ptr<JsonLog> log_;
};

// Fills a CommandResult from an append result.
void FillCommandResult(const storage::AppendResult& result,
                       carelog::v1::CommandResult* out);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_DOMAIN_COMMAND_RUNNER_H_
