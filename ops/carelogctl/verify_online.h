// ops/carelogctl/verify_online.h — client-side verification of a running
// ledger (`carelogctl verify --online`): trusts nothing from the server but
// what the pinned checkpoint key signed.
//
// Each run: load the trusted state (the last verified checkpoint note, signed
// by the pinned key); fetch the server's latest checkpoint and verify its
// signature and origin; prove it extends the trusted one with a consistency
// proof (same size: identical root, else a fork); prove each requested event
// is in it with an inclusion proof over the event's stored record; only then
// replace the trusted state (atomically). Any failure leaves the state as it
// was and says exactly which check failed.
//
// Thread-compatible (one run at a time per state file).
#ifndef CARELOG_OPS_CARELOGCTL_VERIFY_ONLINE_H_
#define CARELOG_OPS_CARELOGCTL_VERIFY_ONLINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

#include "carelog/v1/proofs.grpc.pb.h"
#include "crypto/signed_note.h"
#include "storage/merkle.h"

namespace carelog::ctl {

// What the verifier asks the server. A fake implements it in tests to play a
// lying server.
class ProofClient {
 public:
  virtual ~ProofClient() = default;
  virtual absl::StatusOr<carelog::v1::Checkpoint> GetCheckpoint(
      uint64_t tree_size) = 0;
  virtual absl::StatusOr<carelog::v1::Checkpoint> MakeCheckpoint() = 0;
  virtual absl::StatusOr<carelog::v1::ConsistencyProof> GetConsistencyProof(
      uint64_t old_size, uint64_t new_size) = 0;
  virtual absl::StatusOr<carelog::v1::VerifiedEvent> GetVerifiedEvent(
      uint64_t position, uint64_t tree_size) = 0;
};

// `prepare` adds credentials and a deadline to each call's context.
std::unique_ptr<ProofClient> NewGrpcProofClient(
    std::shared_ptr<grpc::Channel> channel,
    std::function<absl::Status(grpc::ClientContext*)> prepare);

// Parses a pinned key: a note verifier key string, or the path of a file
// holding one (e.g. DATA_DIR/checkpoint.pub). Errors: INVALID_ARGUMENT.
absl::StatusOr<crypto::NoteVerifier> LoadPinnedKey(
    const std::string& key_or_file);

struct OnlineVerifyOptions {
  crypto::NoteVerifier key;         // pinned
  std::string state_file;           // trusted state; created on first success
  std::vector<uint64_t> positions;  // events to prove included
  bool make_checkpoint = false;     // ask the server to sign its head first
};

struct OnlineVerifyResult {
  uint64_t trusted_size = 0;  // before this run (0: no trusted state yet)
  bool had_state = false;
  storage::SignedCheckpoint verified;  // the server checkpoint now trusted
  std::vector<std::string> lines;      // human-readable report of each check
};

// Errors: PERMISSION_DENIED (bad signature, wrong key or origin); DATA_LOSS (a
// proof does not verify, rollback, fork, the event is not what was asked);
// FAILED_PRECONDITION (unusable trusted state file); server errors as
// returned (UNAVAILABLE, NOT_FOUND, …). The message names the failed check.
absl::StatusOr<OnlineVerifyResult> VerifyOnline(
    ProofClient& client, const OnlineVerifyOptions& options);

}  // namespace carelog::ctl

#endif  // CARELOG_OPS_CARELOGCTL_VERIFY_ONLINE_H_
