// tests/fuzz/make_seeds.cc — writes the seed corpora committed under
// tests/fuzz/corpus/<target>/ (those that need keys or encodings; the policy
// seeds are copies of policies/default_policy*.yaml plus a small policy).
// Deterministic except for the JWT seeds (their keys are generated per run).
// Usage (any build directory, see tests/fuzz/README.md):
//   cmake --build build --target carelog-fuzz-seeds
//   build/tests/carelog-fuzz-seeds tests/fuzz/corpus
#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "crypto/signed_note.h"
#include "storage/record.h"
#include "tests/fuzz/command_validators.h"
#include "tests/fuzz/fuzz_keys.h"

namespace {

namespace crypto = carelog::crypto;
namespace storage = carelog::storage;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::string g_root;

void Write(const std::string& target, const std::string& name,
           const std::string& bytes) {
  const std::string path = absl::StrCat(g_root, "/", target, "/", name);
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

void RecordSeeds() {
  auto key = carelog::fuzz::FuzzPayloadKey();
  struct Spec {
    crypto::KeyClass cls;
    const char* subject;
    std::string payload;
  } specs[] = {{crypto::KeyClass::kSystem, "", "system payload"},
               {crypto::KeyClass::kSubject, "pt-0001", std::string(300, 'p')},
               {crypto::KeyClass::kSubject, "pt-0002", ""}};
  int n = 0;
  for (const Spec& s : specs) {
    storage::EventHeader h;
    h.position = 41 + n;
    h.stream_version = 1 + n;
    h.recorded_at_micros = 1767225600000000 + n;
    h.key_class = s.cls;
    h.event_id.fill(static_cast<uint8_t>(0x10 + n));
    h.nonce.fill(static_cast<uint8_t>(0x20 + n));
    h.stream_id = absl::StrCat("patient/", s.subject[0] ? s.subject : "sys");
    h.event_type = "carelog.v1.PatientRegistered";
    h.subject_id = s.subject;
    h.command_id = absl::StrCat("cmd-", n);
    const std::string ct =
        crypto::Seal(*key, h.nonce, s.payload, storage::SealedHeaderBytes(h));
    const std::string header =
        storage::EncodeHeader(h, static_cast<uint32_t>(ct.size()));
    const crypto::Digest hash = crypto::ChainHash(crypto::Digest{}, header, ct);
    Write("record_fuzz", absl::StrCat("event-", n++),
          storage::EncodeRecord(header, ct, hash));
  }
  storage::AppendResult r;
  r.first_position = 7;
  r.last_position = 8;
  r.streams.push_back({"patient/pt-0001", 3, 4});
  Write("record_fuzz", "command",
        storage::EncodeCommandRecord(crypto::Digest{}, r));
  Write("record_fuzz", "head", storage::EncodeHead(storage::Head{9, {}}));
}

void JwtSeeds() {
  auto signer = crypto::TokenSigner::Generate(crypto::kJwtAlgEdDsa, "ed-1");
  if (!signer.ok())
    std::exit(1);
  const std::string claims =
      R"({"iss":"https://ed.issuer.test","sub":"u-1","aud":"carelog",)"
      R"("iat":1767225600,"nbf":1767225600,"exp":1767229200,)"
      R"("roles":["clinician","nurse"],"jti":"t-1"})";
  const std::string claims2 =
      R"({"iss":"https://ed.issuer.test","sub":"u-2","aud":["x","carelog"],)"
      R"("exp":1767229200})";
  auto token = (*signer)->SignJws(claims);
  if (!token.ok())
    std::exit(1);
  Write("jwt_fuzz", "token", std::string(1, '\0') + *token);
  Write("jwt_fuzz", "claims", std::string(1, '\1') + claims);
  Write("jwt_fuzz", "claims-aud-array", std::string(1, '\1') + claims2);
  Write("jwt_fuzz", "jwks", std::string(1, '\2') + (*signer)->PublicJwks());
  auto es = crypto::TokenSigner::Generate(crypto::kJwtAlgEs256, "es-1");
  if (!es.ok())
    std::exit(1);
  Write("jwt_fuzz", "jwks-es", std::string(1, '\2') + (*es)->PublicJwks());
  Write("jwt_fuzz", "jws", std::string(1, '\3') + *token);
}

void NoteSeeds() {
  auto key = carelog::fuzz::FuzzNoteKey();
  crypto::Checkpoint cp;
  cp.origin = "carelog.test/log";
  cp.size = 12;
  cp.root.fill(0x5a);
  cp.extensions = {
      "carelog-chain-head WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=",
      "carelog-time 1767225600000000"};
  auto body = crypto::FormatCheckpoint(cp);
  if (!body.ok())
    std::exit(1);
  auto note = crypto::SignNote(*body, carelog::fuzz::kFuzzNoteKeyName, *key);
  if (!note.ok())
    std::exit(1);
  Write("signed_note_fuzz", "note", *note);
  Write("signed_note_fuzz", "checkpoint", *body);
  Write("signed_note_fuzz", "vkey",
        crypto::NoteVerifierKey(carelog::fuzz::kFuzzNoteKeyName,
                                key->public_key()));
}

// Fills every field with a plausible value (recursively), so that seeds
// start near valid requests.
void Fill(Message* m, int depth) {
  const auto* d = m->GetDescriptor();
  const auto* refl = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated() && f->cpp_type() != FieldDescriptor::CPPTYPE_STRING)
      continue;
    const std::string& name = f->name();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: {
        const std::string v = name == "currency" ? "USD"
                              : name.find("id") != std::string::npos
                                  ? "id-0001"
                                  : "Synthetic text";
        if (f->is_repeated())
          refl->AddString(m, f, v);
        else
          refl->SetString(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM:
        refl->SetEnumValue(m, f, 1);
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        refl->SetInt64(
            m, f,
            name.find("micros") != std::string::npos ? 1767225600000000 : 1000);
        break;
      case FieldDescriptor::CPPTYPE_INT32:
        refl->SetInt32(m, f, name == "year" ? 1990 : 1);
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        refl->SetUInt32(m, f, 1);
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        refl->SetUInt64(m, f, 1);
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        refl->SetBool(m, f, true);
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (depth < 3)
          Fill(refl->MutableMessage(m, f), depth + 1);
        break;
      default:
        break;
    }
  }
}

void CommandSeeds() {
  const auto& table = carelog::fuzz::CommandValidators();
  for (size_t i = 0; i < table.size(); ++i) {
    std::unique_ptr<Message> req(table[i].prototype->New());
    Fill(req.get(), 0);
    Write("command_validation_fuzz", table[i].name,
          std::string(1, static_cast<char>(i)) + req->SerializeAsString());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  RecordSeeds();
  JwtSeeds();
  NoteSeeds();
  CommandSeeds();
  return 0;
}
