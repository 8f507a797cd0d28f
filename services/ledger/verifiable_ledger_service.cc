#include "services/ledger/verifiable_ledger_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "services/ledger/ledger_service.h"
#include "services/server/grpc_status.h"

namespace carelog::services {

namespace {

constexpr uint32_t kMaxCheckpointPage = 1000;
constexpr uint32_t kDefaultCheckpointPage = 100;

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
    const AccessEnforcer* access, Executor* executor)
    : ledger_(ledger), auth_(auth), access_(access), executor_(executor) {}

absl::StatusOr<RequestContext> VerifiableLedgerServiceImpl::Admit(
    grpc::CallbackServerContext* ctx) const {
  auto rc = auth_->Authenticate(*ctx);
  if (!rc.ok())
    return rc.status();
  // TODO(audit issue): proof and event requests that touch audit streams must
  // themselves be recorded as audit queries (who asked for proof of which
  // audit event, when, why). Enforce it here, at the one point every RPC of
  // this service passes, once the audit trail exists.
  auto decision = access_->Check(
      *rc, AccessRequest{kResourceLedger, kActionRead, "", PatientFacts{}});
  if (!decision.ok())
    return decision.status();
  return rc;
}

grpc::ServerUnaryReactor* VerifiableLedgerServiceImpl::Run(
    grpc::CallbackServerContext* ctx, std::function<absl::Status()> work) {
  auto* reactor = ctx->DefaultReactor();
  auto rc = Admit(ctx);
  if (!rc.ok()) {
    reactor->Finish(ToGrpcStatus(rc.status()));
    return reactor;
  }
  absl::Status s = executor_->Submit([ctx, reactor, work = std::move(work)] {
    if (ctx->IsCancelled()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    reactor->Finish(ToGrpcStatus(work()));
  });
  if (!s.ok())
    reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

grpc::ServerUnaryReactor* VerifiableLedgerServiceImpl::GetPublicKey(
    grpc::CallbackServerContext* ctx, const carelog::v1::GetPublicKeyRequest*,
    carelog::v1::CheckpointPublicKey* resp) {
  return Run(ctx, [this, resp]() -> absl::Status {
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
  return Run(ctx, [this, req, resp]() -> absl::Status {
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
  return Run(ctx, [this, req, resp]() -> absl::Status {
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
  return Run(ctx, [this, resp]() -> absl::Status {
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
  return Run(ctx, [this, req, resp]() -> absl::Status {
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
  return Run(ctx, [this, req, resp]() -> absl::Status {
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
  return Run(ctx, [this, req, resp]() -> absl::Status {
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
      // No checkpoint covers the event yet: sign one now (one per tree size).
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
