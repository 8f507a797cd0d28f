// tests/fuzz/record_fuzz.cc — libFuzzer target for the stored event envelope
// (storage/record.h): decode and open.
//
// Properties, from arbitrary bytes:
//  - DecodeRecord and ParseRecordView (the verifier's zero-copy parser) accept
//    exactly the same inputs and agree on every field they both expose;
//  - an accepted record is canonical: re-encoding its header, ciphertext and
//    hash gives back the input byte for byte (a second encoding of the same
//    event would let two different stored byte strings claim one chain hash);
//  - opening the ciphertext under the fuzz key with the sealed header as
//    associated data succeeds only for what that key sealed, and then
//    re-sealing the plaintext with the same nonce gives the same ciphertext;
//  - the command-result and head records decode and re-encode canonically.
// Seeds (tests/fuzz/corpus/record_fuzz/) hold records sealed under the fuzz
// key (tests/fuzz/make_seeds.cc), so the open path is reached.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "crypto/aead.h"
#include "crypto/secret_key.h"
#include "storage/record.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_keys.h"

namespace {

using carelog::fuzz::Check;
namespace storage = carelog::storage;
namespace crypto = carelog::crypto;

void CheckEventRecord(absl::string_view in, const crypto::SecretKey& key) {
  absl::string_view header_bytes;
  auto ev = storage::DecodeRecord(in, &header_bytes);
  auto view = storage::ParseRecordView(in);
  Check(ev.ok() == view.ok(), "DecodeRecord and ParseRecordView agree");
  if (!ev.ok()) {
    Check(ev.status().code() == absl::StatusCode::kDataLoss,
          "a malformed record is DATA_LOSS");
    return;
  }
  const storage::EventHeader& h = ev->header;
  Check(view->position == h.position &&
            view->stream_version == h.stream_version &&
            view->stream_id == h.stream_id && view->header == header_bytes &&
            view->ciphertext == ev->ciphertext &&
            view->chain_hash == ev->chain_hash,
        "both parsers read the same fields");
  Check(ev->stored_bytes == in, "stored_bytes is the input");
  const std::string header =
      storage::EncodeHeader(h, static_cast<uint32_t>(ev->ciphertext.size()));
  Check(header == header_bytes, "header re-encodes to the same bytes");
  Check(storage::EncodeRecord(header, ev->ciphertext, ev->chain_hash) == in,
        "record re-encodes to the same bytes");

  const std::string ad = storage::SealedHeaderBytes(h);
  auto plain = crypto::Open(key, h.nonce, ev->ciphertext, ad);
  if (plain.ok()) {
    Check(crypto::Seal(key, h.nonce, *plain, ad) == ev->ciphertext,
          "an opened payload re-seals to the same ciphertext");
  } else {
    Check(plain.status().code() == absl::StatusCode::kDataLoss,
          "a payload that fails to open is DATA_LOSS");
  }
}

void CheckOtherRecords(absl::string_view in) {
  crypto::Digest fingerprint{};
  auto result = storage::DecodeCommandRecord(in, &fingerprint);
  if (result.ok()) {
    Check(storage::EncodeCommandRecord(fingerprint, *result) == in,
          "command record re-encodes to the same bytes");
  }
  auto head = storage::DecodeHead(in);
  if (head.ok())
    Check(storage::EncodeHead(*head) == in, "head re-encodes");
  auto pos = storage::DecodePositionKey(in);
  if (pos.ok())
    Check(storage::PositionKey(*pos) == in, "position key re-encodes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<crypto::SecretKey> key =
      carelog::fuzz::FuzzPayloadKey();
  const absl::string_view in = carelog::fuzz::Bytes(data, size);
  CheckEventRecord(in, *key);
  CheckOtherRecords(in);
  return 0;
}
