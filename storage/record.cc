#include "storage/record.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace carelog::storage {

namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

void PutShortString(std::string* out, absl::string_view s) {
  out->push_back(static_cast<char>(static_cast<uint8_t>(s.size())));
  out->append(s.data(), s.size());
}

// A bounds-checked cursor over stored bytes: every read either succeeds or
// marks the record malformed, so a truncated or corrupted record can never
// make us read past its end.
class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  size_t offset() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  const char* Take(size_t n) {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return nullptr;
    }
    const char* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint8_t U8() {
    const char* p = Take(1);
    return p == nullptr ? 0 : static_cast<uint8_t>(*p);
  }
  uint64_t U64() {
    const char* p = Take(8);
    return p == nullptr ? 0 : GetU64(p);
  }
  uint32_t U32() {
    const char* p = Take(4);
    return p == nullptr ? 0 : GetU32(p);
  }
  std::string ShortString() {
    uint8_t n = U8();
    const char* p = Take(n);
    return p == nullptr ? std::string() : std::string(p, n);
  }

 private:
  absl::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

void PutU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string SealedHeaderBytes(const EventHeader& h) {
  std::string out;
  out.reserve(64 + h.stream_id.size() + h.event_type.size() +
              h.subject_id.size() + h.command_id.size());
  out.append("carelog/event/v1");
  out.push_back(static_cast<char>(kRecordFormat));
  out.push_back(static_cast<char>(h.key_class));
  out.append(reinterpret_cast<const char*>(h.event_id.data()),
             h.event_id.size());
  PutShortString(&out, h.stream_id);
  PutShortString(&out, h.event_type);
  PutShortString(&out, h.subject_id);
  PutShortString(&out, h.command_id);
  return out;
}

std::string EncodeHeader(const EventHeader& h, uint32_t ciphertext_len) {
  std::string out;
  out.reserve(96 + h.stream_id.size() + h.event_type.size() +
              h.subject_id.size() + h.command_id.size());
  out.push_back(static_cast<char>(kRecordFormat));
  PutU64(&out, h.position);
  PutU64(&out, h.stream_version);
  PutU64(&out, static_cast<uint64_t>(h.recorded_at_micros));
  out.push_back(static_cast<char>(h.key_class));
  out.append(reinterpret_cast<const char*>(h.event_id.data()),
             h.event_id.size());
  out.append(reinterpret_cast<const char*>(h.nonce.data()), h.nonce.size());
  PutShortString(&out, h.stream_id);
  PutShortString(&out, h.event_type);
  PutShortString(&out, h.subject_id);
  PutShortString(&out, h.command_id);
  PutU32(&out, ciphertext_len);
  return out;
}

std::string EncodeRecord(absl::string_view header, absl::string_view ciphertext,
                         const Digest& chain_hash) {
  std::string out;
  out.reserve(header.size() + ciphertext.size() + chain_hash.size());
  out.append(header.data(), header.size());
  out.append(ciphertext.data(), ciphertext.size());
  out.append(reinterpret_cast<const char*>(chain_hash.data()),
             chain_hash.size());
  return out;
}

absl::StatusOr<StoredEvent> DecodeRecord(absl::string_view stored,
                                         absl::string_view* header_bytes) {
  Reader r(stored);
  StoredEvent ev;
  EventHeader& h = ev.header;
  const uint8_t format = r.U8();
  if (r.ok() && format != kRecordFormat) {
    return absl::DataLossError(absl::StrCat("unknown record format ", format));
  }
  h.position = r.U64();
  h.stream_version = r.U64();
  h.recorded_at_micros = static_cast<int64_t>(r.U64());
  const uint8_t cls = r.U8();
  if (const char* p = r.Take(kEventIdBytes))
    std::memcpy(h.event_id.data(), p, kEventIdBytes);
  if (const char* p = r.Take(crypto::kNonceBytes))
    std::memcpy(h.nonce.data(), p, crypto::kNonceBytes);
  h.stream_id = r.ShortString();
  h.event_type = r.ShortString();
  h.subject_id = r.ShortString();
  h.command_id = r.ShortString();
  const uint32_t ct_len = r.U32();
  if (!r.ok())
    return absl::DataLossError("record header truncated");
  if (cls < static_cast<uint8_t>(KeyClass::kSystem) ||
      cls > static_cast<uint8_t>(KeyClass::kSubject)) {
    return absl::DataLossError(
        absl::StrCat("record has unknown key class ", cls));
  }
  h.key_class = static_cast<KeyClass>(cls);
  const size_t header_len = r.offset();
  if (r.remaining() != static_cast<size_t>(ct_len) + crypto::kDigestBytes) {
    return absl::DataLossError(
        absl::StrCat("record length mismatch: ciphertext length ", ct_len,
                     ", bytes after header ", r.remaining()));
  }
  const char* ct = r.Take(ct_len);
  const char* hash = r.Take(crypto::kDigestBytes);
  if (!r.ok())
    return absl::DataLossError("record truncated");
  ev.ciphertext.assign(ct, ct_len);
  std::memcpy(ev.chain_hash.data(), hash, crypto::kDigestBytes);
  ev.stored_bytes.assign(stored.data(), stored.size());
  if (header_bytes != nullptr)
    *header_bytes = stored.substr(0, header_len);
  return ev;
}

absl::StatusOr<RecordView> ParseRecordView(absl::string_view stored) {
  Reader r(stored);
  const uint8_t format = r.U8();
  if (r.ok() && format != kRecordFormat) {
    return absl::DataLossError(absl::StrCat("unknown record format ", format));
  }
  RecordView v;
  v.position = r.U64();
  v.stream_version = r.U64();
  r.U64();  // recorded_at_micros
  // Checked as DecodeRecord does: a record the readers refuse must not pass
  // verification.
  const uint8_t cls = r.U8();
  r.Take(kEventIdBytes + crypto::kNonceBytes);
  const uint8_t stream_len = r.U8();
  const char* stream = r.Take(stream_len);
  for (int i = 0; i < 3; ++i)
    r.Take(r.U8());  // event type, subject, command id
  const uint32_t ct_len = r.U32();
  if (!r.ok())
    return absl::DataLossError("record header truncated");
  if (cls < static_cast<uint8_t>(KeyClass::kSystem) ||
      cls > static_cast<uint8_t>(KeyClass::kSubject)) {
    return absl::DataLossError(
        absl::StrCat("record has unknown key class ", cls));
  }
  const size_t header_len = r.offset();
  if (r.remaining() != static_cast<size_t>(ct_len) + crypto::kDigestBytes) {
    return absl::DataLossError(
        absl::StrCat("record length mismatch: ciphertext length ", ct_len,
                     ", bytes after header ", r.remaining()));
  }
  v.stream_id = absl::string_view(stream, stream_len);
  v.header = stored.substr(0, header_len);
  v.ciphertext = stored.substr(header_len, ct_len);
  std::memcpy(v.chain_hash.data(), stored.data() + header_len + ct_len,
              crypto::kDigestBytes);
  return v;
}

std::string PositionKey(uint64_t position) {
  std::string k;
  k.reserve(8);
  PutU64(&k, position);
  return k;
}

absl::StatusOr<uint64_t> DecodePositionKey(absl::string_view key) {
  if (key.size() != 8)
    return absl::DataLossError(
        absl::StrCat("event key has ", key.size(), " bytes, want 8"));
  return GetU64(key.data());
}

std::string StreamHeadKey(absl::string_view stream_id) {
  std::string k;
  k.reserve(1 + stream_id.size());
  k.push_back('\x01');
  k.append(stream_id.data(), stream_id.size());
  return k;
}

std::string StreamEntryPrefix(absl::string_view stream_id) {
  std::string k;
  k.reserve(2 + stream_id.size());
  k.push_back('\x02');
  k.append(stream_id.data(), stream_id.size());
  k.push_back('\0');
  return k;
}

std::string StreamEntryKey(absl::string_view stream_id, uint64_t version) {
  std::string k = StreamEntryPrefix(stream_id);
  PutU64(&k, version);
  return k;
}

std::string EncodeCommandRecord(const Digest& fingerprint,
                                const AppendResult& result) {
  std::string out;
  out.push_back(static_cast<char>(kRecordFormat));
  out.append(reinterpret_cast<const char*>(fingerprint.data()),
             fingerprint.size());
  PutU64(&out, result.first_position);
  PutU64(&out, result.last_position);
  PutU32(&out, static_cast<uint32_t>(result.streams.size()));
  for (const auto& s : result.streams) {
    PutShortString(&out, s.stream_id);
    PutU64(&out, s.first_version);
    PutU64(&out, s.last_version);
  }
  return out;
}

absl::StatusOr<AppendResult> DecodeCommandRecord(absl::string_view stored,
                                                 Digest* fingerprint) {
  Reader r(stored);
  if (r.U8() != kRecordFormat || !r.ok())
    return absl::DataLossError("command record: bad format");
  const char* fp = r.Take(crypto::kDigestBytes);
  AppendResult res;
  res.first_position = r.U64();
  res.last_position = r.U64();
  uint32_t n = r.U32();
  if (!r.ok() || n > 100000)
    return absl::DataLossError("command record truncated");
  if (fingerprint != nullptr)
    std::memcpy(fingerprint->data(), fp, crypto::kDigestBytes);
  // Stop at the first short read: a count larger than the bytes that follow
  // must not cost a loop of `n` allocations (found by record_fuzz).
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    StreamAppendResult s;
    s.stream_id = r.ShortString();
    s.first_version = r.U64();
    s.last_version = r.U64();
    res.streams.push_back(std::move(s));
  }
  if (!r.ok() || r.remaining() != 0)
    return absl::DataLossError("command record malformed");
  return res;
}

std::string EncodeHead(const Head& head) {
  std::string out;
  PutU64(&out, head.position);
  out.append(reinterpret_cast<const char*>(head.chain_hash.data()),
             head.chain_hash.size());
  return out;
}

absl::StatusOr<Head> DecodeHead(absl::string_view stored) {
  if (stored.size() != 8 + crypto::kDigestBytes)
    return absl::DataLossError("head record malformed");
  Head h;
  h.position = GetU64(stored.data());
  std::memcpy(h.chain_hash.data(), stored.data() + 8, crypto::kDigestBytes);
  return h;
}

}  // namespace carelog::storage
