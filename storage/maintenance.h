// storage/maintenance.h — operator maintenance of a ledger: restore "as of" a
// position or time by replay, KEK rotation, crypto-shredding erasure with its
// purge and receipt, and legal holds that block erasure.
//
// Restore as of N copies the source's stored records 1 … N verbatim into a
// new data directory (positions, chain hashes and stream versions are
// identical, so the restored head hash equals the source's chain hash at N),
// rebuilds the stream index and stream heads from them, copies the command
// results of the commands wholly inside 1 … N, the checkpoints of tree size
// <= N, every wrapped key (so a subject erased after N stays erased) and the
// legal holds, and recomputes the Merkle tree. Projections are not copied:
// they are rebuilt from the log. Replay never re-decides access: stored
// records (including their audit events) are copied, never re-executed.
//
// KEK rotation re-wraps every data key (system, audit, subject/<id>) from the
// old KEK to the new one in one synced WriteBatch (a crash leaves either all
// keys under the old KEK or all under the new one), then purges the old
// wrapped records from the table files by compaction. Events are untouched.
//
// Erasure destroys the subject's data key (tombstone), appends an erasure
// event with no PHI (system key, stream erasure/<subject>), purges the old
// wrapped key from RocksDB's files (flush + forced bottommost compaction of
// the keys column family) and signs a checkpoint when the ledger can. Backups
// taken before the erasure still hold the wrapped key until they expire.
//
// Thread-safety: functions on an open Ledger are safe to call while it serves;
// EraseSubject and SetLegalHold for the same subject must not race (the CLI
// runs them on a stopped directory, one at a time). Directory functions need
// the directory stopped (they take RocksDB's lock) unless said otherwise.
#ifndef CARELOG_STORAGE_MAINTENANCE_H_
#define CARELOG_STORAGE_MAINTENANCE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "crypto/secret_key.h"
#include "storage/ledger.h"
#include "storage/merkle.h"
#include "storage/progress.h"
#include "storage/types.h"

namespace carelog::storage {

// ---- Restore as of a position or time -----------------------------------

// The last position whose recorded time is <= `t` in the stopped (or backup-
// restored) data directory `data_dir` (0 if none). recorded_at is non-
// decreasing and shared by a whole group commit, so the result is always a
// command boundary. O(log n) reads. Errors: FAILED_PRECONDITION if no ledger.
absl::StatusOr<uint64_t> PositionAsOfTime(const std::string& data_dir,
                                          absl::Time t);

struct RestoreAsOfResult {
  Head head;  // position N and its chain hash (verified)
  uint64_t events = 0;
  uint64_t streams = 0;
  uint64_t commands = 0;
  uint64_t checkpoints = 0;
  uint64_t keys = 0;
};

// Builds a new ledger in `target_dir` (must not exist or be empty) from events
// 1 … `position` of the stopped ledger in `source_dir` (opened read-only; no
// KEK needed). Verifies the source chain while copying and the whole restored
// ledger at the end. Each slice of the copy is a synced write; the format
// marker is written last, so an interrupted restore leaves a directory that
// refuses to open (delete it and run again).
// Errors: INVALID_ARGUMENT for position 0 or beyond the source head (naming
// it); FAILED_PRECONDITION if `position` falls inside a command (the message
// names the command's range), the target is not empty or the source holds no
// ledger; DATA_LOSS if the source chain breaks at or before `position`; I/O.
absl::StatusOr<RestoreAsOfResult> RestoreAsOf(
    const std::string& source_dir, const std::string& target_dir,
    uint64_t position, const ProgressFn& progress = nullptr);

// ---- KEK rotation (stopped directory) ------------------------------------

struct RotateKekResult {
  uint64_t keys_rewrapped = 0;  // live keys now under the new KEK
  uint64_t tombstones = 0;      // destroyed subject keys (left as they are)
};

// Re-wraps every data key in `data_dir` from `old_kek` to `new_kek`.
// Nothing is written unless every key unwraps under `old_kek`. Safe to run
// again after a crash or kill at any point: the keys are then either all
// under the old KEK (the rotation runs) or all under the new one (INVALID_
// ARGUMENT saying so, after finishing the interrupted purge of the old
// wrapped records — no content changes).
// Errors: INVALID_ARGUMENT if the two keys are equal or a key does not unwrap
// under `old_kek` (wrong old key file, or the rotation already happened:
// the message says which); FAILED_PRECONDITION if the directory
// holds no ledger or is locked by a running carelogd; DATA_LOSS for a
// malformed key record; I/O errors. Blocks; one synced write, then a
// compaction of the keys column family.
absl::StatusOr<RotateKekResult> RotateKek(const std::string& data_dir,
                                          const crypto::SecretKey& old_kek,
                                          const crypto::SecretKey& new_kek,
                                          const ProgressFn& progress = nullptr);

// ---- Legal holds -----------------------------------------------------------

struct LegalHold {
  std::string subject_id;
  int64_t set_at_micros = 0;
  uint64_t position = 0;  // the LegalHoldSet event recording who and why
};

// Places a hold on `subject_id`: erasure fails with FAILED_PRECONDITION until
// it is cleared. Appends a carelog.ops.LegalHoldSet event (system key, stream
// legal-hold/<subject>; `reference` and `actor` are encrypted in its payload)
// and stores the hold (no PHI: subject id, time, event position).
// Errors: INVALID_ARGUMENT for a malformed subject id or empty reference;
// ALREADY_EXISTS if a hold is on; Append's errors.
absl::StatusOr<LegalHold> SetLegalHold(Ledger& ledger,
                                       const std::string& subject_id,
                                       const std::string& reference,
                                       const std::string& actor);

// Clears the hold (appends carelog.ops.LegalHoldCleared). Errors:
// NOT_FOUND if there is none; INVALID_ARGUMENT as SetLegalHold.
absl::StatusOr<uint64_t> ClearLegalHold(Ledger& ledger,
                                        const std::string& subject_id,
                                        const std::string& reference,
                                        const std::string& actor);

// The hold on `subject_id`, or nullopt.
absl::StatusOr<std::optional<LegalHold>> GetLegalHold(
    const Ledger& ledger, const std::string& subject_id);

// ---- Erasure (crypto-shredding) ------------------------------------------

inline constexpr char kErasureEventType[] = "carelog.ops.SubjectErased";
inline constexpr char kLegalHoldSetEventType[] = "carelog.ops.LegalHoldSet";
inline constexpr char kLegalHoldClearedEventType[] =
    "carelog.ops.LegalHoldCleared";

struct ErasureRequest {
  std::string subject_id;  // opaque patient id
  std::string reason;      // free text (encrypted under the system key)
  std::string basis;       // legal basis, e.g. "GDPR-17" (encrypted too)
  std::string actor;       // operator id (encrypted too)
};

struct ErasureReceipt {
  std::string subject_id;
  uint64_t position = 0;        // the erasure event
  bool already_erased = false;  // the key was destroyed by an earlier request
  bool purged = false;          // the purge compaction ran
  int64_t erased_at_micros = 0;
  Head head;  // the head after the erasure event
  // A checkpoint covering the erasure event when the ledger has a checkpoint
  // key; otherwise the latest stored checkpoint (which may predate it), or
  // none.
  std::optional<SignedCheckpoint> checkpoint;
  bool checkpoint_covers_erasure = false;
};

// Erases a subject. Retrying after any failure is safe: the key destruction
// and the event (command id erase-subject:<subject>) are idempotent.
// Errors: INVALID_ARGUMENT naming a malformed or missing field;
// FAILED_PRECONDITION if a legal hold is on (nothing changed); NOT_FOUND if
// the subject never had a data key (no events: nothing changed); Append and
// I/O errors. Blocks on synced writes and a compaction.
absl::StatusOr<ErasureReceipt> EraseSubject(Ledger& ledger,
                                            const ErasureRequest& request);

// ---- Online verification of the Merkle tree ------------------------------

// The checks of VerifyDataDirMerkle (storage/merkle.h) on an open, serving
// ledger, as of one snapshot (appends go on meanwhile): every leaf and stored
// node recomputed from the events, the root, and every checkpoint's signature
// (when `verifier` is non-null), root and chain head. Reads every event once;
// blocks. Implemented in merkle.cc.
MerkleVerifyReport VerifyLedgerMerkle(const Ledger& ledger,
                                      const crypto::NoteVerifier* verifier);

}  // namespace carelog::storage

#endif  // CARELOG_STORAGE_MAINTENANCE_H_
