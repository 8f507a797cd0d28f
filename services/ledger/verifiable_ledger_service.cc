#include "services/ledger/verifiable_ledger_service.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "services/domain/audit_record.h"
#include "services/domain/command_runner.h"
#include "services/ledger/ledger_service.h"
#include "services/server/grpc_status.h"

namespace carelog::services {

namespace {

constexpr uint32_t kMaxCheckpointPage = 1000;
constexpr uint32_t kDefaultCheckpointPage = 100;
constexpr char kAuditStreamPrefix[] = "audit/";
constexpr char kService[] = "/carelog.v1.VerifiableLedgerService/";

std::string Bytes(const crypto::Digest& d) {
  return crypto::DigestToBytes(d);
}

void FillInclusion(uint64_t position, uint64_t tree_size,
                   const std::vector<crypto::Digest>& proof,
                   carelog::v1::InclusionProof* out) {
  out->set_position(position);
  out->set_leaf_index(position - 1);
  out->set_tree_size(tree_size);
  for (const auto& h : proof)
    out->add_hashes(Bytes(h));
}

// Tree size 0 in a request means "the latest checkpoint's".
absl::StatusOr<uint64_t> ResolveTreeSize(const storage::Ledger& ledger,
                                         uint64_t tree_size) {
  if (tree_size != 0)
    return tree_size;
  auto latest = ledger.LatestCheckpoint();
  if (absl::IsNotFound(latest.status())) {
    return absl::FailedPreconditionError(
        "tree_size: 0 means the latest checkpoint, and there is none yet");
  }
  if (!latest.ok())
    return latest.status();
  return latest->tree_size;
}

}  // namespace

void ToCheckpointProto(const storage::SignedCheckpoint& cp,
                       carelog::v1::Checkpoint* out) {
  out->set_note(cp.note);
  out->set_tree_size(cp.tree_size);
  out->set_root_hash(Bytes(cp.root));
  out->set_chain_head(Bytes(cp.chain_head));
  out->set_time_micros(cp.time_micros);
  out->set_origin(cp.origin);
}

VerifiableLedgerServiceImpl::VerifiableLedgerServiceImpl(
    storage::Ledger* ledger, const Authenticator* auth,
    const AccessEnforcer* access, Executor* executor,
    std::shared_ptr<JsonLog> log)
    : ledger_(ledger),
      auth_(auth),
      access_(access),
      executor_(executor),
      log_(std::move(log)) {}

absl::StatusOr<std::string> VerifiableLedgerServiceImpl::AuditedPatientOf(
    uint64_t position) const {
  if (position == 0 || position > ledger_->GetHead().position)
    return absl::NotFoundError("no event there");
  auto event = ledger_->ReadAt(position);
  if (!event.ok())
    return event.status();
  const std::string& stream = event->header.stream_id;
  if (!absl::StartsWith(stream, kAuditStreamPrefix))
    return absl::NotFoundError("not an audit event");
  // audit/<patient id> holds the trail about that patient; audit/system the
  // decisions about no patient.
  const std::string rest = stream.substr(sizeof(kAuditStreamPrefix) - 1);
  return rest == "system" ? std::string() : rest;
}

grpc::ServerUnaryReactor* VerifiableLedgerServiceImpl::Run(
    grpc::CallbackServerContext* ctx, absl::string_view name, uint64_t position,
    std::function<absl::Status()> work) {
  auto* reactor = ctx->DefaultReactor();
  auto authenticated = auth_->Authenticate(*ctx);
  if (!authenticated.ok()) {
    reactor->Finish(ToGrpcStatus(authenticated.status()));
    return reactor;
  }
  auto rc = std::make_shared<RequestContext>(std::move(*authenticated));
  const AccessRequest request{kResourceLedger, kActionRead, "", PatientFacts{}};
  const AccessDecision decision = access_->Decide(*rc, request);
  const absl::Status denied = AccessEnforcer::DenialOf(request, decision);
  if (!denied.ok() && position == 0) {
    reactor->Finish(ToGrpcStatus(denied));
    return reactor;
  }
  auto task = [this, ctx, reactor, rc, method = absl::StrCat(kService, name),
               position, request, decision, denied, work = std::move(work)] {
    if (ctx->IsCancelled()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    // A request by position that concerns an audit event is itself an audit
    // query: its decision (allowed or denied) is recorded on the trail of the
    // same patient before anything is answered.
    std::optional<std::string> patient;
    if (position != 0) {
      auto p = AuditedPatientOf(position);
      if (p.ok()) {
        patient = std::move(*p);
      } else if (!absl::IsNotFound(p.status())) {
        reactor->Finish(ToGrpcStatus(p.status()));
        return;
      }
    }
    absl::Status result = denied.ok() ? work() : denied;
    // Nothing disclosed (a refused size, a read error) needs no record, but a
    // denial always does.
    if (!patient.has_value() || (denied.ok() && !result.ok())) {
      reactor->Finish(ToGrpcStatus(result));
      return;
    }
    carelog::v1::AccessAudited record =
        AuditRecordOf(*rc, method, request, decision);
    record.set_patient_id(*patient);
    record.set_target_position(position);
    AppendAuditEvents(ledger_, {record}, *rc, "audit-proof-", log_,
                      [reactor, result](absl::Status s) {
                        // Fail closed: no reply without its durable record.
                        reactor->Finish(ToGrpcStatus(s.ok() ? result : s));
                      });
  };
  if (absl::Status s = executor_->Submit(std::move(task)); !s.ok())
    reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

grpc::ServerUnaryReactor* VerifiableLedgerServiceImpl::GetPublicKey(
    grpc::CallbackServerContext* ctx, const carelog::v1::GetPublicKeyRequest*,
    carelog::v1::CheckpointPublicKey* resp) {
  return Run(ctx, "GetPublicKey", 0, [this, resp]() -> absl::Status {
    const std::string vkey = ledger_->CheckpointVerifierKey();
    if (vkey.empty())
      return absl::FailedPreconditionError(
          "checkpoints are disabled: no signing key configured");
    auto v = crypto::ParseNoteVerifierKey(vkey);
    if (!v.ok())
      return absl::InternalError("checkpoint verifier key malformed");
    resp->set_verifier_key(vkey);
    resp->set_origin(v->name);
    resp->set_ed25519_public_key(std::string(
        reinterpret_cast<const char*>(v->key.data()), v->key.size()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* VerifiableLedgerServiceImpl::GetCheckpoint(
    grpc::CallbackServerContext* ctx,
    const carelog::v1::GetCheckpointRequest* req,
    carelog::v1::Checkpoint* resp) {
  return Run(ctx, "GetCheckpoint", 0, [this, req, resp]() -> absl::Status {
    auto cp = req->tree_size() == 0 ? ledger_->LatestCheckpoint()
                                    : ledger_->CheckpointAt(req->tree_size());
    if (!cp.ok())
      return cp.status();
    ToCheckpointProto(*cp, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* VerifiableLedgerServiceImpl::ListCheckpoints(
    grpc::CallbackServerContext* ctx,
    const carelog::v1::ListCheckpointsRequest* req,
    carelog::v1::ListCheckpointsResponse* resp) {
  return Run(ctx, "ListCheckpoints", 0, [this, req, resp]() -> absl::Status {
    // Validated after Admit: an unauthenticated caller learns nothing.
    if (req->max_count() > kMaxCheckpointPage) {
      return absl::InvalidArgumentError(
          absl::StrCat("max_count: at most ", kMaxCheckpointPage));
    }
    const uint32_t n =
        req->max_count() == 0 ? kDefaultCheckpointPage : req->max_count();
    // One more than asked tells whether there is a next page.
    auto list = ledger_->ListCheckpoints(req->from_tree_size(), n + 1);
    if (!list.ok())
      return list.status();
    for (size_t i = 0; i < list->size() && i < n; ++i)
      ToCheckpointProto((*list)[i], resp->add_checkpoints());
    resp->set_next(list->size() > n ? (*list)[n].tree_size : 0);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* VerifiableLedgerServiceImpl::MakeCheckpoint(
    grpc::CallbackServerContext* ctx, const carelog::v1::MakeCheckpointRequest*,
    carelog::v1::Checkpoint* resp) {
  return Run(ctx, "MakeCheckpoint", 0, [this, resp]() -> absl::Status {
    auto cp = ledger_->MakeCheckpoint();
    if (!cp.ok())
      return cp.status();
    ToCheckpointProto(*cp, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* VerifiableLedgerServiceImpl::GetInclusionProof(
    grpc::CallbackServerContext* ctx,
    const carelog::v1::GetInclusionProofRequest* req,
    carelog::v1::InclusionProof* resp) {
  return Run(ctx, "GetInclusionProof", req->position(),
             [this, req, resp]() -> absl::Status {
               auto size = ResolveTreeSize(*ledger_, req->tree_size());
               if (!size.ok())
                 return size.status();
               auto proof = ledger_->InclusionProof(req->position(), *size);
               if (!proof.ok())
                 return proof.status();
               FillInclusion(req->position(), *size, *proof, resp);
               return absl::OkStatus();
             });
}

grpc::ServerUnaryReactor* VerifiableLedgerServiceImpl::GetConsistencyProof(
    grpc::CallbackServerContext* ctx,
    const carelog::v1::GetConsistencyProofRequest* req,
    carelog::v1::ConsistencyProof* resp) {
  return Run(ctx, "GetConsistencyProof", 0,
             [this, req, resp]() -> absl::Status {
               auto size = ResolveTreeSize(*ledger_, req->new_size());
               if (!size.ok())
                 return size.status();
               auto proof = ledger_->ConsistencyProof(req->old_size(), *size);
               if (!proof.ok())
                 return proof.status();
               resp->set_old_size(req->old_size());
               resp->set_new_size(*size);
               for (const auto& h : *proof)
                 resp->add_hashes(Bytes(h));
               return absl::OkStatus();
             });
}

grpc::ServerUnaryReactor* VerifiableLedgerServiceImpl::GetVerifiedEvent(
    grpc::CallbackServerContext* ctx,
    const carelog::v1::GetVerifiedEventRequest* req,
    carelog::v1::VerifiedEvent* resp) {
  return Run(
      ctx, "GetVerifiedEvent", req->position(),
      [this, req, resp]() -> absl::Status {
        const uint64_t position = req->position();
        const uint64_t head = ledger_->GetHead().position;
        if (position == 0 || position > head) {
          return absl::InvalidArgumentError(absl::StrCat(
              "position: ", position, " is not in the log (head ", head, ")"));
        }
        absl::StatusOr<storage::SignedCheckpoint> cp;
        if (req->tree_size() != 0) {
          if (req->tree_size() < position) {
            return absl::InvalidArgumentError(
                absl::StrCat("tree_size: ", req->tree_size(),
                             " does not cover position ", position));
          }
          cp = ledger_->CheckpointAt(req->tree_size());
        } else {
          cp = ledger_->LatestCheckpoint();
          // No checkpoint covers the event yet: sign one now (one per tree
          // size).
          if (absl::IsNotFound(cp.status()) ||
              (cp.ok() && cp->tree_size < position))
            cp = ledger_->MakeCheckpoint();
        }
        if (!cp.ok())
          return cp.status();
        auto event = ledger_->ReadAt(position);
        if (!event.ok())
          return event.status();
        auto proof = ledger_->InclusionProof(position, cp->tree_size);
        if (!proof.ok())
          return proof.status();
        resp->set_stored_record(event->stored_bytes);
        ToEnvelope(*event, resp->mutable_envelope());
        FillInclusion(position, cp->tree_size, *proof, resp->mutable_proof());
        ToCheckpointProto(*cp, resp->mutable_checkpoint());
        return absl::OkStatus();
      });
}

}  // namespace carelog::services
