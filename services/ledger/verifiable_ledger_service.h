// services/ledger/verifiable_ledger_service.h —
// carelog.v1.VerifiableLedgerService: the checkpoint public key, signed
// checkpoints (latest, at a size, listed, on demand), RFC 9162 inclusion and
// consistency proofs, and events served with their inclusion proof.
//
// Operation. Every RPC is authenticated and passed through the single access
// enforcement point (resource "ledger", action "read"); disk reads and
// checkpoint signing run on the server's Executor, never on a reactor thread.
// Clients verify the returned notes and proofs themselves (crypto/merkle.h,
// crypto/signed_note.h); nothing here needs to be trusted.
// Concurrency. Safe for concurrent RPCs.
// Limitations. Proof requests are not yet themselves audited (see the TODO in
// Admit: comes with the audit issue).
#ifndef CARELOG_SERVICES_LEDGER_VERIFIABLE_LEDGER_SERVICE_H_
#define CARELOG_SERVICES_LEDGER_VERIFIABLE_LEDGER_SERVICE_H_

#include "carelog/v1/proofs.grpc.pb.h"
#include "services/server/access.h"
#include "services/server/executor.h"
#include "services/server/request_context.h"
#include "storage/ledger.h"

namespace carelog::services {

// Fills `out` from a stored checkpoint.
void ToCheckpointProto(const storage::SignedCheckpoint& cp,
                       carelog::v1::Checkpoint* out);

class VerifiableLedgerServiceImpl final
    : public carelog::v1::VerifiableLedgerService::CallbackService {
 public:
  // All pointers must outlive the service.
  VerifiableLedgerServiceImpl(storage::Ledger* ledger,
                              const Authenticator* auth,
                              const AccessEnforcer* access, Executor* executor);

  grpc::ServerUnaryReactor* GetPublicKey(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::GetPublicKeyRequest* req,
      carelog::v1::CheckpointPublicKey* resp) override;
  grpc::ServerUnaryReactor* GetCheckpoint(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::GetCheckpointRequest* req,
      carelog::v1::Checkpoint* resp) override;
  grpc::ServerUnaryReactor* ListCheckpoints(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::ListCheckpointsRequest* req,
      carelog::v1::ListCheckpointsResponse* resp) override;
  grpc::ServerUnaryReactor* MakeCheckpoint(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::MakeCheckpointRequest* req,
      carelog::v1::Checkpoint* resp) override;
  grpc::ServerUnaryReactor* GetInclusionProof(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::GetInclusionProofRequest* req,
      carelog::v1::InclusionProof* resp) override;
  grpc::ServerUnaryReactor* GetConsistencyProof(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::GetConsistencyProofRequest* req,
      carelog::v1::ConsistencyProof* resp) override;
  grpc::ServerUnaryReactor* GetVerifiedEvent(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::GetVerifiedEventRequest* req,
      carelog::v1::VerifiedEvent* resp) override;

 private:
  absl::StatusOr<RequestContext> Admit(grpc::CallbackServerContext* ctx) const;
  // Admits, then runs `work` on the executor and finishes with its status.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx,
                                std::function<absl::Status()> work);

  storage::Ledger* const ledger_;
  const Authenticator* const auth_;
  const AccessEnforcer* const access_;
  Executor* const executor_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_LEDGER_VERIFIABLE_LEDGER_SERVICE_H_
