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
// Audit. A request by position (GetInclusionProof, GetVerifiedEvent) whose
// event is on an audit stream (audit/<patient> or audit/system) is an audit
// query: one AccessAudited event (resource "ledger", action "read", method
// "/carelog.v1.VerifiableLedgerService/<RPC>", target_position <N>, the
// patient of that trail) is appended to the same trail and must be durable
// before the reply; if the append fails the call
// fails UNAVAILABLE (fail closed). Denied requests for such a position are
// recorded too (PERMISSION_DENIED only after the record is durable). Requests
// not naming a position (checkpoints, consistency proofs, the key) and
// positions on other streams disclose hashes, ciphertext and clear headers
// only — like LedgerService reads — and are not recorded.
#ifndef CARELOG_SERVICES_LEDGER_VERIFIABLE_LEDGER_SERVICE_H_
#define CARELOG_SERVICES_LEDGER_VERIFIABLE_LEDGER_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"

#include "carelog/v1/proofs.grpc.pb.h"
#include "services/server/access.h"
#include "services/server/executor.h"
#include "services/server/log.h"
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
  // All pointers must outlive the service; `log` may be null.
  VerifiableLedgerServiceImpl(storage::Ledger* ledger,
                              const Authenticator* auth,
                              const AccessEnforcer* access, Executor* executor,
                              std::shared_ptr<JsonLog> log = nullptr);

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
  // Authenticates and decides (ledger read), then on the executor runs
  // `work` and finishes with its status — after auditing when `position`
  // (0: none) is an audit event (see Audit above).
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx,
                                absl::string_view name, uint64_t position,
                                std::function<absl::Status()> work);
  // The patient whose audit trail holds the event at `position` ("" for
  // audit/system). Errors: NOT_FOUND when there is no event there or it is
  // not an audit event; read errors.
  absl::StatusOr<std::string> AuditedPatientOf(uint64_t position) const;

  storage::Ledger* const ledger_;
  const Authenticator* const auth_;
  const AccessEnforcer* const access_;
  Executor* const executor_;
  std::shared_ptr<JsonLog> log_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_LEDGER_VERIFIABLE_LEDGER_SERVICE_H_
