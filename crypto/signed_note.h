// crypto/signed_note.h — C2SP signed notes (the Go golang.org/x/mod
// sumdb/note format) with Ed25519 signatures, and the C2SP tlog-checkpoint
// body carried in them.
//
// A note is UTF-8 text ending in '\n', a blank line, then one or more
// signature lines "— <key name> <base64(4-byte key hash ‖ signature)>\n".
// The key hash is the first 4 bytes (big-endian) of
// SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ Ed25519 public key); the signature covers
// the text exactly (including its final newline). Ed25519 is deterministic,
// so the same key and text always give the same line.
//
// A checkpoint body is: origin line, decimal tree size, base64 root hash, then
// zero or more non-empty extension lines. carelog adds
// "carelog-chain-head <base64 chain hash>" and
// "carelog-time <unix microseconds>".
//
// Pure functions; thread-safe.
#ifndef CARELOG_CRYPTO_SIGNED_NOTE_H_
#define CARELOG_CRYPTO_SIGNED_NOTE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "crypto/hash.h"
#include "crypto/signing_key.h"

namespace carelog::crypto {

// Standard base64 with padding. Decode is strict: no whitespace, canonical
// padding. Errors: INVALID_ARGUMENT.
std::string Base64Encode(absl::string_view bytes);
absl::StatusOr<std::string> Base64Decode(absl::string_view text);

// True for a valid key name: non-empty, printable ASCII/UTF-8 without
// whitespace or '+'.
bool IsValidNoteKeyName(absl::string_view name);

// The note key hash of an Ed25519 key (algorithm byte 0x01).
uint32_t NoteKeyHash(absl::string_view name, const PublicKey& key);

// The verifier key string "<name>+<8 hex key hash>+<base64(0x01 ‖ key)>".
std::string NoteVerifierKey(absl::string_view name, const PublicKey& key);

struct NoteVerifier {
  std::string name;
  PublicKey key{};
};
// Parses a verifier key string; checks the algorithm byte, the key length and
// that the key hash matches. Errors: INVALID_ARGUMENT.
absl::StatusOr<NoteVerifier> ParseNoteVerifierKey(absl::string_view vkey);

// The signature line for `text` (without the final newline handled here: the
// line returned ends in '\n'). Errors: INVALID_ARGUMENT for a bad key name or
// text that is not a valid note text (empty, no final newline, control
// characters, or a blank line).
absl::StatusOr<std::string> NoteSignatureLine(absl::string_view text,
                                              absl::string_view name,
                                              const SigningKey& key);

// text ‖ "\n" ‖ signature line. Errors as NoteSignatureLine.
absl::StatusOr<std::string> SignNote(absl::string_view text,
                                     absl::string_view name,
                                     const SigningKey& key);

struct NoteSignature {
  std::string name;
  uint32_t key_hash = 0;
  std::string signature;  // raw bytes after the key hash
};

struct Note {
  std::string text;  // ends in '\n'
  std::vector<NoteSignature> signatures;
};

// Parses the note syntax without verifying anything.
// Errors: INVALID_ARGUMENT "malformed note: …" naming what is wrong.
absl::StatusOr<Note> ParseNote(absl::string_view msg);

// Parses `msg` and checks that it carries a valid signature by `verifier`.
// Signatures by other keys are ignored. Returns the text.
// Errors: INVALID_ARGUMENT for a malformed note; PERMISSION_DENIED when no
// signature line names this key (name and key hash), or when one does but the
// signature does not verify (the message says which).
absl::StatusOr<std::string> OpenNote(absl::string_view msg,
                                     const NoteVerifier& verifier);

// A tlog checkpoint (C2SP) body.
struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Digest root{};
  std::vector<std::string> extensions;  // each without its newline
};

// The body text (ends in '\n'). Errors: INVALID_ARGUMENT for an empty origin
// or extension line, or any line containing '\n'.
absl::StatusOr<std::string> FormatCheckpoint(const Checkpoint& c);

// Parses a checkpoint body. Errors: INVALID_ARGUMENT naming the bad line
// (missing lines, non-decimal or non-canonical size, root not 32 bytes of
// canonical base64, empty extension line).
absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text);

// carelog's extension lines.
inline constexpr char kChainHeadExtension[] = "carelog-chain-head";
inline constexpr char kTimeExtension[] = "carelog-time";

}  // namespace carelog::crypto

#endif  // CARELOG_CRYPTO_SIGNED_NOTE_H_
