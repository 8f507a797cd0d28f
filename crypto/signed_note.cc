#include "crypto/signed_note.h"

#include <sodium.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace carelog::crypto {

namespace {

constexpr uint8_t kAlgEd25519 = 0x01;
constexpr char kSigPrefix[] = "\xE2\x80\x94 ";  // "— " (U+2014, space)
constexpr size_t kMaxSignatures = 100;

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed note: ", why));
}

// Decodes one UTF-8 sequence; returns its length, or 0 if invalid.
size_t Utf8Len(absl::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80)
    return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size())
    return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Overlong forms, surrogates and values beyond U+10FFFF are invalid.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
      (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

// Valid UTF-8 with no ASCII control character other than '\n'.
bool IsCleanText(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Len(s, i);
    if (n == 0)
      return false;
    if (n == 1) {
      const auto c = static_cast<unsigned char>(s[i]);
      if ((c < 0x20 && c != '\n') || c == 0x7F)
        return false;
    }
    i += n;
  }
  return true;
}

absl::Status CheckText(absl::string_view text) {
  if (text.empty() || text.back() != '\n')
    return Malformed("text must be non-empty and end with a newline");
  if (!IsCleanText(text))
    return Malformed("text must be UTF-8 without control characters");
  if (text.find("\n\n") != absl::string_view::npos || text.front() == '\n')
    return Malformed("text must not contain a blank line");
  return absl::OkStatus();
}

std::string KeyHashInput(absl::string_view name, const PublicKey& key) {
  std::string in(name);
  in.push_back('\n');
  in.push_back(static_cast<char>(kAlgEd25519));
  in.append(reinterpret_cast<const char*>(key.data()), key.size());
  return in;
}

}  // namespace

std::string Base64Encode(absl::string_view bytes) {
  const size_t len =
      sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(len - 1);  // drop the terminating NUL
  return out;
}

absl::StatusOr<std::string> Base64Decode(absl::string_view text) {
  if (text.size() % 4 != 0)
    return absl::InvalidArgumentError("base64: length is not a multiple of 4");
  std::string out(text.size() / 4 * 3, '\0');
  size_t bin_len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()),
                        out.size(), text.data(), text.size(), nullptr, &bin_len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return absl::InvalidArgumentError("base64: invalid encoding");
  }
  out.resize(bin_len);
  // Canonical form only: re-encoding must give the same text.
  if (Base64Encode(out) != text)
    return absl::InvalidArgumentError("base64: non-canonical encoding");
  return out;
}

bool IsValidNoteKeyName(absl::string_view name) {
  if (name.empty() || !IsCleanText(name))
    return false;
  for (char c : name) {
    if (c == '+' || c == ' ' || c == '\n' || c == '\t' || c == '\r' ||
        c == '\v' || c == '\f')
      return false;
  }
  // Unicode spaces (U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028/9, U+202F,
  // U+205F, U+3000) are refused too, as the Go implementation does.
  static const char* const kSpaces[] = {
      "\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\xA8",
      "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80"};
  for (const char* sp : kSpaces) {
    if (name.find(sp) != absl::string_view::npos)
      return false;
  }
  for (unsigned char c = 0x80; c <= 0x8A; ++c) {
    const char seq[] = {'\xE2', '\x80', static_cast<char>(c), '\0'};
    if (name.find(seq) != absl::string_view::npos)
      return false;
  }
  return true;
}

uint32_t NoteKeyHash(absl::string_view name, const PublicKey& key) {
  const Digest d = Sha256(KeyHashInput(name, key));
  return (uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) |
         (uint32_t{d[2]} << 8) | uint32_t{d[3]};
}

std::string NoteVerifierKey(absl::string_view name, const PublicKey& key) {
  std::string k(1, static_cast<char>(kAlgEd25519));
  k.append(reinterpret_cast<const char*>(key.data()), key.size());
  return absl::StrFormat("%s+%08x+%s", name, NoteKeyHash(name, key),
                         Base64Encode(k));
}

absl::StatusOr<NoteVerifier> ParseNoteVerifierKey(absl::string_view vkey) {
  // name+hash+key, split at the first two '+' only: the base64 key may
  // contain '+' itself.
  const size_t p1 = vkey.find('+');
  const size_t p2 = p1 == absl::string_view::npos ? p1 : vkey.find('+', p1 + 1);
  if (p2 == absl::string_view::npos)
    return absl::InvalidArgumentError("verifier key: want name+hash+key");
  const absl::string_view parts[3] = {vkey.substr(0, p1),
                                      vkey.substr(p1 + 1, p2 - p1 - 1),
                                      vkey.substr(p2 + 1)};
  if (!IsValidNoteKeyName(parts[0]))
    return absl::InvalidArgumentError("verifier key: invalid name");
  if (parts[1].size() != 8)
    return absl::InvalidArgumentError("verifier key: hash is not 8 hex digits");
  uint32_t hash = 0;
  for (char c : parts[1]) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      return absl::InvalidArgumentError(
          "verifier key: hash is not lower-case hex");
    }
    hash = (hash << 4) | static_cast<uint32_t>(v);
  }
  auto raw = Base64Decode(parts[2]);
  if (!raw.ok())
    return absl::InvalidArgumentError("verifier key: key is not base64");
  if (raw->size() != 1 + kPublicKeyBytes ||
      static_cast<uint8_t>((*raw)[0]) != kAlgEd25519) {
    return absl::InvalidArgumentError(
        "verifier key: not an Ed25519 key (algorithm 0x01, 32 bytes)");
  }
  NoteVerifier v;
  v.name = std::string(parts[0]);
  std::copy(raw->begin() + 1, raw->end(), v.key.begin());
  if (NoteKeyHash(v.name, v.key) != hash)
    return absl::InvalidArgumentError("verifier key: key hash does not match");
  return v;
}

absl::StatusOr<std::string> NoteSignatureLine(absl::string_view text,
                                              absl::string_view name,
                                              const SigningKey& key) {
  if (!IsValidNoteKeyName(name))
    return absl::InvalidArgumentError("note key name: invalid");
  if (auto s = CheckText(text); !s.ok())
    return s;
  const uint32_t hash = NoteKeyHash(name, key.public_key());
  const Signature sig = key.Sign(text);
  std::string blob;
  blob.push_back(static_cast<char>(hash >> 24));
  blob.push_back(static_cast<char>(hash >> 16));
  blob.push_back(static_cast<char>(hash >> 8));
  blob.push_back(static_cast<char>(hash));
  blob.append(reinterpret_cast<const char*>(sig.data()), sig.size());
  return absl::StrCat(kSigPrefix, name, " ", Base64Encode(blob), "\n");
}

absl::StatusOr<std::string> SignNote(absl::string_view text,
                                     absl::string_view name,
                                     const SigningKey& key) {
  auto line = NoteSignatureLine(text, name, key);
  if (!line.ok())
    return line.status();
  return absl::StrCat(text, "\n", *line);
}

absl::StatusOr<Note> ParseNote(absl::string_view msg) {
  if (!IsCleanText(msg))
    return Malformed("not UTF-8, or contains control characters");
  const size_t split = msg.rfind("\n\n");
  if (split == absl::string_view::npos)
    return Malformed("no blank line before the signatures");
  Note note;
  note.text = std::string(msg.substr(0, split + 1));
  absl::string_view sigs = msg.substr(split + 2);
  if (sigs.empty() || sigs.back() != '\n')
    return Malformed("signature block missing or not newline-terminated");
  while (!sigs.empty()) {
    const size_t nl = sigs.find('\n');
    absl::string_view line = sigs.substr(0, nl);
    sigs.remove_prefix(nl + 1);
    if (line.substr(0, sizeof(kSigPrefix) - 1) != kSigPrefix)
      return Malformed("signature line does not start with an em dash");
    line.remove_prefix(sizeof(kSigPrefix) - 1);
    const size_t sp = line.find(' ');
    if (sp == absl::string_view::npos)
      return Malformed("signature line has no signature");
    absl::string_view name = line.substr(0, sp);
    absl::string_view b64 = line.substr(sp + 1);
    if (!IsValidNoteKeyName(name) || b64.empty())
      return Malformed("signature line has an invalid key name");
    auto blob = Base64Decode(b64);
    if (!blob.ok() || blob->size() < 5)
      return Malformed("signature is not base64 of at least 5 bytes");
    if (note.signatures.size() >= kMaxSignatures)
      return Malformed("too many signatures");
    NoteSignature s;
    s.name = std::string(name);
    const auto* b = reinterpret_cast<const uint8_t*>(blob->data());
    s.key_hash = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
                 (uint32_t{b[2]} << 8) | uint32_t{b[3]};
    s.signature = blob->substr(4);
    note.signatures.push_back(std::move(s));
  }
  return note;
}

absl::StatusOr<std::string> OpenNote(absl::string_view msg,
                                     const NoteVerifier& verifier) {
  auto note = ParseNote(msg);
  if (!note.ok())
    return note.status();
  const uint32_t hash = NoteKeyHash(verifier.name, verifier.key);
  bool found = false;
  for (const NoteSignature& s : note->signatures) {
    if (s.name != verifier.name || s.key_hash != hash)
      continue;
    found = true;
    Signature sig{};
    const bool right_size = s.signature.size() == sig.size();
    if (right_size)
      std::copy(s.signature.begin(), s.signature.end(), sig.begin());
    if (!right_size || !VerifySignature(verifier.key, note->text, sig)) {
      return absl::PermissionDeniedError(absl::StrFormat(
          "invalid signature for key %s+%08x", verifier.name, hash));
    }
  }
  if (!found) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "note has no signature by key %s+%08x", verifier.name, hash));
  }
  return note->text;
}

absl::StatusOr<std::string> FormatCheckpoint(const Checkpoint& c) {
  if (c.origin.empty() || c.origin.find('\n') != std::string::npos)
    return absl::InvalidArgumentError("checkpoint origin: empty or multi-line");
  std::string out = absl::StrCat(
      c.origin, "\n", c.size, "\n",
      Base64Encode(absl::string_view(
          reinterpret_cast<const char*>(c.root.data()), c.root.size())),
      "\n");
  for (const std::string& e : c.extensions) {
    if (e.empty() || e.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(
          "checkpoint extension: empty or multi-line");
    }
    absl::StrAppend(&out, e, "\n");
  }
  return out;
}

absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text) {
  if (text.empty() || text.back() != '\n')
    return absl::InvalidArgumentError("checkpoint: must end with a newline");
  text.remove_suffix(1);
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.size() < 3)
    return absl::InvalidArgumentError("checkpoint: fewer than 3 lines");
  Checkpoint c;
  if (lines[0].empty())
    return absl::InvalidArgumentError("checkpoint: empty origin line");
  c.origin = std::string(lines[0]);
  absl::string_view size = lines[1];
  if (size.empty() || size.size() > 20 || (size.size() > 1 && size[0] == '0'))
    return absl::InvalidArgumentError("checkpoint: tree size not canonical");
  for (char ch : size) {
    if (ch < '0' || ch > '9')
      return absl::InvalidArgumentError("checkpoint: tree size not decimal");
  }
  if (!absl::SimpleAtoi(size, &c.size))
    return absl::InvalidArgumentError("checkpoint: tree size out of range");
  auto root = Base64Decode(lines[2]);
  if (!root.ok() || root->size() != kDigestBytes)
    return absl::InvalidArgumentError(
        "checkpoint: root hash is not base64 of 32 bytes");
  std::copy(root->begin(), root->end(), c.root.begin());
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty())
      return absl::InvalidArgumentError("checkpoint: empty extension line");
    c.extensions.emplace_back(lines[i]);
  }
  return c;
}

}  // namespace carelog::crypto
