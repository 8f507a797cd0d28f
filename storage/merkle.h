// storage/merkle.h — the verifiable ledger's public types: checkpoint options
// and signed checkpoints (C2SP tlog-checkpoint in a signed note), and the
// offline verification of the Merkle tree and checkpoints.
//
// Leaf i (0-based) of the ledger's Merkle tree is the event at position i + 1:
// leaf hash = SHA-256(0x00 ‖ the event's stored record), so a tree of size n
// covers positions 1 … n and its size equals the head position. Leaves commit
// to ciphertext: destroying a subject's key leaves every proof valid.
//
// A checkpoint note (the exact bytes stored and served) reads
//   <origin>\n<tree size>\n<base64 root>\n
//   carelog-chain-head <base64 chain hash at position tree size>\n
//   carelog-time <unix microseconds>\n
//   \n
//   — <origin> <base64(key hash ‖ Ed25519 signature)>\n
// The key name is the origin. Plain data and pure functions; thread-safe.
#ifndef CARELOG_STORAGE_MERKLE_H_
#define CARELOG_STORAGE_MERKLE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "crypto/hash.h"
#include "crypto/signed_note.h"
#include "crypto/signing_key.h"

namespace carelog::storage {

inline constexpr char kDefaultCheckpointOrigin[] = "carelog.local/ledger";

struct CheckpointOptions {
  // The signing key; null disables checkpoints (none made, none on demand).
  std::shared_ptr<const crypto::SigningKey> key;
  // Origin line and note key name: no whitespace, no '+'.
  std::string origin = kDefaultCheckpointOrigin;
  uint64_t every_events =
      10000;  // a checkpoint after this many new events (0: off)
  absl::Duration interval =
      absl::Seconds(60);  // and after this long with new events (0: off)
  bool on_stop = true;    // a last checkpoint of the head when the ledger stops
};

struct SignedCheckpoint {
  uint64_t tree_size = 0;
  crypto::Digest root{};
  crypto::Digest chain_head{};  // chain hash of the event at tree_size
  int64_t time_micros = 0;
  std::string origin;
  std::string note;  // the signed note, byte for byte as stored
};

// The checkpoint body text. Errors: INVALID_ARGUMENT for a bad origin.
absl::StatusOr<std::string> CheckpointBody(absl::string_view origin,
                                           uint64_t tree_size,
                                           const crypto::Digest& root,
                                           const crypto::Digest& chain_head,
                                           int64_t time_micros);

// Parses a checkpoint note without checking any signature (for listing).
// Errors: INVALID_ARGUMENT naming what is malformed (note syntax, checkpoint
// body, missing or malformed carelog extension lines).
absl::StatusOr<SignedCheckpoint> ParseSignedCheckpoint(absl::string_view note);

// Verifies a checkpoint note: a valid signature by `verifier` and origin line
// equal to the verifier's key name. Errors: INVALID_ARGUMENT when malformed;
// PERMISSION_DENIED when not validly signed by this key or for another origin.
absl::StatusOr<SignedCheckpoint> OpenCheckpoint(
    absl::string_view note, const crypto::NoteVerifier& verifier);

// Offline verification of the Merkle tree and checkpoints of a stopped data
// directory (see VerifyDataDirMerkle).
struct MerkleVerifyReport {
  absl::Status
      status;  // OK, or DATA_LOSS / PERMISSION_DENIED naming the problem
  uint64_t first_bad_position = 0;   // event position (0 when not about one)
  uint64_t bad_checkpoint_size = 0;  // tree size of the bad checkpoint, if any
  uint64_t tree_size = 0;            // stored tree size
  uint64_t leaves_checked = 0;
  uint64_t checkpoints_checked = 0;
  crypto::Digest root{};           // recomputed root at tree_size
  uint64_t latest_checkpoint = 0;  // size of the latest checkpoint (0: none)
};

// Recomputes every leaf from the events and the tree root from them, compares
// the stored tree (root at its size and at every checkpoint size) with it, and
// checks each checkpoint: signature by `verifier` (when non-null), origin,
// root and chain head. Reports the first bad event position (a leaf whose
// stored hash differs) or the first bad checkpoint. Read-only; no KEK needed.
MerkleVerifyReport VerifyDataDirMerkle(const std::string& data_dir,
                                       const crypto::NoteVerifier* verifier);

}  // namespace carelog::storage

#endif  // CARELOG_STORAGE_MERKLE_H_
