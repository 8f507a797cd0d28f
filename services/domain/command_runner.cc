#include "services/domain/command_runner.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

#include "services/domain/audit_record.h"
#include "services/domain/event_codec.h"
#include "services/domain/validate.h"
#include "services/server/grpc_status.h"

namespace carelog::services {

namespace {

carelog::v1::AccessOutcome OutcomeOf(const AccessDecision& d,
                                     const std::string& action) {
  if (!d.allowed)
    return carelog::v1::ACCESS_OUTCOME_DENIED;
  if (d.break_glass)
    return carelog::v1::ACCESS_OUTCOME_BREAK_THE_GLASS;
  // Masks limit what is disclosed: they matter for reads and exports only.
  const bool discloses = action == "read" || action == "export";
  if (discloses && !d.masked_fields.empty())
    return carelog::v1::ACCESS_OUTCOME_ALLOWED_MASKED;
  return carelog::v1::ACCESS_OUTCOME_ALLOWED;
}

std::string AuditStream(const std::string& patient_id) {
  return patient_id.empty() ? "audit/system"
                            : absl::StrCat("audit/", patient_id);
}

}  // namespace

CommandScope::CommandScope(const RequestContext& ctx,
                           const AccessEnforcer* access, std::string method)
    : ctx_(ctx),
      access_(access),
      method_(std::move(method)),
      meta_(MetaFor(ctx)) {}

absl::Status CommandScope::Authorize(const std::string& resource,
                                     const std::string& action,
                                     const std::string& patient_id,
                                     const PatientFacts& facts) {
  AccessRequest req{resource, action, patient_id, facts};
  const AccessDecision decision = access_->Decide(ctx_, req);
  if (!decision.allowed)
    any_denied_ = true;
  decisions_.push_back(AuditRecordOf(ctx_, method_, req, decision));
  return AccessEnforcer::DenialOf(req, decision);
}

carelog::v1::AccessAudited AuditRecordOf(const RequestContext& ctx,
                                         const std::string& method,
                                         const AccessRequest& req,
                                         const AccessDecision& decision) {
  carelog::v1::AccessAudited a;
  a.set_actor(ctx.actor);
  for (const auto& r : ctx.roles)
    a.add_roles(r);
  a.set_calling_service(ctx.calling_service);
  a.set_client_address(ctx.client_address);
  a.set_purpose(ctx.purpose);
  a.set_reason(ctx.reason);
  a.set_patient_id(req.patient_id);
  a.set_resource(req.resource);
  a.set_action(req.action);
  a.set_request_id(ctx.request_id);
  a.set_decided_at_micros(absl::ToUnixMicros(ctx.received_at));
  a.set_method(method);
  a.set_patient_vip(req.facts.vip);
  a.set_patient_employee(req.facts.employee);
  a.set_patient_restricted(req.facts.restricted);
  a.set_outcome(OutcomeOf(decision, req.action));
  a.set_forbidden(decision.forbidden);
  for (const auto& r : decision.rules)
    a.add_rules(r);
  if (decision.allowed) {
    for (const auto& f : decision.masked_fields)
      a.add_masked_fields(f);
  }
  a.set_policy_hash(decision.policy_hash);
  return a;
}

void AppendAuditEvents(storage::Ledger* ledger,
                       const std::vector<carelog::v1::AccessAudited>& decisions,
                       const RequestContext& ctx, absl::string_view id_prefix,
                       std::shared_ptr<JsonLog> log,
                       std::function<void(absl::Status)> done) {
  storage::AppendRequest audit;
  audit.command_id = NewId(id_prefix);
  AddAuditEvents(decisions, ctx, &audit);
  ledger->AppendAsync(audit, [log = std::move(log), request_id = ctx.request_id,
                              done = std::move(done)](
                                 absl::StatusOr<storage::AppendResult> r) {
    if (!r.ok()) {
      if (log)
        log->Error("audit_append_failed", {{"request_id", request_id}});
      done(absl::UnavailableError("audit trail unavailable; request refused"));
      return;
    }
    done(absl::OkStatus());
  });
}

void CommandScope::Add(const std::string& stream_id,
                       storage::ExpectedVersion expected,
                       const google::protobuf::Message& body,
                       crypto::KeyClass cls, const std::string& subject) {
  Planned* slot = nullptr;
  for (auto& p : planned_) {
    if (p.stream_id == stream_id)
      slot = &p;
  }
  if (slot == nullptr) {
    planned_.push_back(Planned{stream_id, expected, {}});
    slot = &planned_.back();
  }
  slot->events.push_back(ToLedgerEvent(body, meta_, cls, subject));
  google::protobuf::Any any;
  any.PackFrom(body);
  bodies_.push_back(std::move(any));
}

void CommandScope::Append(const std::string& stream_id,
                          storage::ExpectedVersion expected,
                          const google::protobuf::Message& body,
                          const std::string& patient_id) {
  Add(stream_id, expected, body,
      patient_id.empty() ? crypto::KeyClass::kSystem
                         : crypto::KeyClass::kSubject,
      patient_id);
}

void CommandScope::AppendAudit(const google::protobuf::Message& body,
                               const std::string& patient_id) {
  Add(AuditStream(patient_id), storage::ExpectedVersion::Any(), body,
      crypto::KeyClass::kAudit, patient_id);
}

void CommandScope::AppendSystem(const std::string& stream_id,
                                storage::ExpectedVersion expected,
                                const google::protobuf::Message& body) {
  Add(stream_id, expected, body, crypto::KeyClass::kSystem, "");
}

void AddAuditEvents(const std::vector<carelog::v1::AccessAudited>& decisions,
                    const RequestContext& ctx,
                    storage::AppendRequest* request) {
  const carelog::v1::EventMeta meta = MetaFor(ctx);
  for (const auto& d : decisions) {
    const std::string stream = AuditStream(d.patient_id());
    storage::StreamAppend* slot = nullptr;
    for (auto& s : request->streams) {
      if (s.stream_id == stream)
        slot = &s;
    }
    if (slot == nullptr) {
      request->streams.push_back(
          storage::StreamAppend{stream, storage::ExpectedVersion::Any(), {}});
      slot = &request->streams.back();
    }
    slot->events.push_back(
        ToLedgerEvent(d, meta, crypto::KeyClass::kAudit, d.patient_id()));
  }
}

void FillCommandResult(const storage::AppendResult& result,
                       carelog::v1::CommandResult* out) {
  out->set_position(result.last_position);
  out->set_duplicate(result.duplicate);
}

struct CommandRunner::Job {
  grpc::CallbackServerContext* call;
  grpc::ServerUnaryReactor* reactor;
  std::string method;
  std::string command_id;
  std::string fingerprint_material;
  RequestContext ctx;
  Decide decide;
  Reply reply;
  int attempt = 0;
};

CommandRunner::CommandRunner(storage::Ledger* ledger, Executor* executor,
                             const Authenticator* auth,
                             const AccessEnforcer* access,
                             std::shared_ptr<JsonLog> log)
    : ledger_(ledger),
      executor_(executor),
      auth_(auth),
      access_(access),
      log_(std::move(log)) {}

void CommandRunner::Finish(const std::shared_ptr<Job>& job,
                           const absl::Status& status) {
  job->reactor->Finish(ToGrpcStatus(status));
}

void CommandRunner::Execute(grpc::CallbackServerContext* call,
                            grpc::ServerUnaryReactor* reactor,
                            const std::string& method,
                            const std::string& command_id,
                            const google::protobuf::Message& request,
                            Validate validate, Decide decide, Reply reply) {
  auto ctx = auth_->Authenticate(*call);
  if (!ctx.ok()) {
    reactor->Finish(ToGrpcStatus(ctx.status()));
    return;
  }
  if (auto s = CheckCommandId(command_id); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return;
  }
  if (auto s = validate(); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return;
  }
  auto job = std::make_shared<Job>();
  job->call = call;
  job->reactor = reactor;
  job->method = method;
  job->command_id = command_id;
  // (method, actor, request): a retry must be the same request by the same
  // actor.
  job->fingerprint_material =
      absl::StrCat(method, "\n", ctx->actor, "\n", DeterministicBytes(request));
  job->ctx = std::move(*ctx);
  job->decide = std::move(decide);
  job->reply = std::move(reply);
  if (auto s = executor_->Submit([this, job] { Attempt(job); }); !s.ok())
    Finish(job, s);
}

void CommandRunner::Attempt(std::shared_ptr<Job> job) {
  if (job->call->IsCancelled()) {
    Finish(job, absl::CancelledError("cancelled by the client"));
    return;
  }
  ++job->attempt;
  storage::AppendRequest probe;
  probe.command_id = job->command_id;
  probe.fingerprint_material = job->fingerprint_material;
  auto prior = ledger_->FindCommitted(probe);
  if (prior.ok()) {
    // A retry: answer from what the first attempt wrote.
    std::vector<google::protobuf::Any> bodies;
    for (uint64_t p = prior->first_position; p <= prior->last_position; ++p) {
      auto ev = ledger_->ReadAt(p);
      if (!ev.ok())
        return Finish(job, ev.status());
      if (ev->header.key_class == crypto::KeyClass::kAudit)
        continue;
      auto decoded = DecodeEvent(*ledger_, *ev);
      if (!decoded.ok())
        return Finish(job, decoded.status());
      bodies.push_back(std::move(decoded->body));
    }
    job->reply(*prior, bodies);
    return Finish(job, absl::OkStatus());
  }
  if (!absl::IsNotFound(prior.status()))
    return Finish(job, prior.status());

  CommandScope scope(job->ctx, access_, job->method);
  absl::Status decided = job->decide(scope);
  if (scope.any_denied()) {
    // Fail closed: the denial is durable before the caller hears of it.
    const absl::Status denial =
        decided.ok() ? absl::PermissionDeniedError("access denied") : decided;
    AppendAuditEvents(ledger_, scope.decisions(), job->ctx, "audit-denied-",
                      log_, [this, job, denial](absl::Status s) {
                        Finish(job, s.ok() ? denial : s);
                      });
    return;
  }
  if (!decided.ok())
    return Finish(job, decided);
  if (scope.decisions().empty()) {
    return Finish(
        job, absl::InternalError(absl::StrCat(
                 job->method, ": handler planned events without authorizing")));
  }
  if (scope.planned().empty()) {
    return Finish(job, absl::InternalError(absl::StrCat(
                           job->method, ": handler planned no events")));
  }

  storage::AppendRequest req;
  req.command_id = job->command_id;
  req.fingerprint_material = job->fingerprint_material;
  for (const auto& p : scope.planned())
    req.streams.push_back(
        storage::StreamAppend{p.stream_id, p.expected, p.events});
  AddAuditEvents(scope.decisions(), job->ctx, &req);
  std::vector<google::protobuf::Any> bodies = scope.bodies();
  ledger_->AppendAsync(req, [this, job, bodies = std::move(bodies)](
                                absl::StatusOr<storage::AppendResult> r) {
    if (r.ok()) {
      if (r->duplicate) {
        // A concurrent retry won the race: answer from the ledger like a retry.
        if (auto s = executor_->Submit([this, job] { Attempt(job); }); !s.ok())
          Finish(job, s);
        return;
      }
      job->reply(*r, bodies);
      return Finish(job, absl::OkStatus());
    }
    if (absl::IsAborted(r.status()) && job->attempt < kMaxAttempts) {
      // Someone else changed the aggregate: decide again on fresh state.
      if (auto s = executor_->Submit([this, job] { Attempt(job); }); !s.ok())
        Finish(job, s);
      return;
    }
    Finish(job, r.status());
  });
}

}  // namespace carelog::services
