// tests/fuzz/signed_note_fuzz.cc — libFuzzer target for signed notes and
// checkpoints (crypto/signed_note.h): what an auditor's client parses from a
// server it does not trust.
//
// Properties, from arbitrary bytes:
//  - ParseNote fails with INVALID_ARGUMENT or yields a text ending in '\n'
//    and at least one signature;
//  - OpenNote under the fuzz key accepts only notes carrying a signature line
//    that verifies: the text it returns is the parsed text, and re-signing
//    that text gives a line the note contains (Ed25519 is deterministic);
//    refusals are INVALID_ARGUMENT or PERMISSION_DENIED;
//  - ParseCheckpoint accepts only canonical bodies: FormatCheckpoint of the
//    result gives back the input;
//  - Base64Decode is strict: what it accepts re-encodes to the input;
//  - ParseNoteVerifierKey accepts only keys that re-format to the input.
// Seeds (tests/fuzz/corpus/signed_note_fuzz/) hold notes signed with the
// fuzz key (tests/fuzz/fuzz_keys.h).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/match.h"

#include "crypto/signed_note.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_keys.h"

namespace {

using carelog::fuzz::Check;
namespace crypto = carelog::crypto;

struct Fixture {
  std::unique_ptr<crypto::SigningKey> key = carelog::fuzz::FuzzNoteKey();
  crypto::NoteVerifier verifier{carelog::fuzz::kFuzzNoteKeyName,
                                key->public_key()};
};

void CheckNote(absl::string_view in, const Fixture& f) {
  auto note = crypto::ParseNote(in);
  if (!note.ok()) {
    Check(note.status().code() == absl::StatusCode::kInvalidArgument,
          "a malformed note is INVALID_ARGUMENT");
  } else {
    Check(!note->text.empty() && note->text.back() == '\n',
          "a parsed note's text ends in a newline");
    Check(!note->signatures.empty(), "a parsed note has a signature");
  }
  auto text = crypto::OpenNote(in, f.verifier);
  if (!text.ok()) {
    Check(text.status().code() == absl::StatusCode::kInvalidArgument ||
              text.status().code() == absl::StatusCode::kPermissionDenied,
          "a refused note is INVALID_ARGUMENT or PERMISSION_DENIED");
    return;
  }
  Check(note.ok() && *text == note->text, "OpenNote returns the parsed text");
  auto line =
      crypto::NoteSignatureLine(*text, carelog::fuzz::kFuzzNoteKeyName, *f.key);
  Check(line.ok() && absl::StrContains(in, *line),
        "an opened note carries the fuzz key's own signature line");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture* f = new Fixture();
  const absl::string_view in = carelog::fuzz::Bytes(data, size);
  CheckNote(in, *f);

  auto cp = crypto::ParseCheckpoint(in);
  if (cp.ok()) {
    auto text = crypto::FormatCheckpoint(*cp);
    Check(text.ok() && *text == in, "a checkpoint body is canonical");
  }
  auto decoded = crypto::Base64Decode(in);
  if (decoded.ok())
    Check(crypto::Base64Encode(*decoded) == in, "base64 decoding is strict");
  auto vkey = crypto::ParseNoteVerifierKey(in);
  if (vkey.ok()) {
    Check(crypto::NoteVerifierKey(vkey->name, vkey->key) == in,
          "a verifier key is canonical");
  }
  return 0;
}
