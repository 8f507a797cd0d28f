// Codec tests for storage/record.h: round trips of event, command and head
// records, and malformed input (truncation, corrupted lengths, unknown format
// and key class) answered with DATA_LOSS — never a crash or an over-read.
#include "storage/record.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"

namespace carelog::storage {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using ::testing::HasSubstr;

// Offsets into the fixed part of an encoded header (see record.h).
constexpr size_t kFormatOffset = 0;
constexpr size_t kPositionOffset = 1;
constexpr size_t kKeyClassOffset = 1 + 8 + 8 + 8;
constexpr size_t kStreamLenOffset =
    kKeyClassOffset + 1 + kEventIdBytes + crypto::kNonceBytes;

EventHeader SampleHeader() {
  EventHeader h;
  h.position = 0x0102030405060708ull;
  h.stream_version = 42;
  h.recorded_at_micros = 1700000000123456;
  h.key_class = KeyClass::kSubject;
  for (size_t i = 0; i < h.event_id.size(); ++i)
    h.event_id[i] = static_cast<uint8_t>(0xA0 + i);
  for (size_t i = 0; i < h.nonce.size(); ++i)
    h.nonce[i] = static_cast<uint8_t>(0x10 + i);
  h.stream_id = "patient/3f2a9c1e-synthetic";
  h.event_type = "carelog.v1.PatientRegistered";
  h.subject_id = "subj-7c1d";
  h.command_id = "cmd-0001";
  return h;
}

std::string SampleCiphertext() {
  std::string ct;
  for (int i = 0; i < 77; ++i)
    ct.push_back(static_cast<char>((i * 37 + 11) & 0xff));
  return ct;
}

Digest SampleDigest() {
  Digest d{};
  for (size_t i = 0; i < d.size(); ++i)
    d[i] = static_cast<uint8_t>(0xF0 ^ i);
  return d;
}

std::string SampleRecord(std::string* header_out = nullptr) {
  const std::string ct = SampleCiphertext();
  const std::string header =
      EncodeHeader(SampleHeader(), static_cast<uint32_t>(ct.size()));
  if (header_out != nullptr)
    *header_out = header;
  return EncodeRecord(header, ct, SampleDigest());
}

TEST(RecordTest, EventRecordRoundTrips) {
  std::string header;
  const std::string rec = SampleRecord(&header);
  absl::string_view header_view;
  auto ev = DecodeRecord(rec, &header_view);
  ASSERT_THAT(ev, IsOk());
  const EventHeader want = SampleHeader();
  EXPECT_EQ(ev->header.position, want.position);
  EXPECT_EQ(ev->header.stream_version, want.stream_version);
  EXPECT_EQ(ev->header.recorded_at_micros, want.recorded_at_micros);
  EXPECT_EQ(ev->header.key_class, want.key_class);
  EXPECT_EQ(ev->header.event_id, want.event_id);
  EXPECT_EQ(ev->header.nonce, want.nonce);
  EXPECT_EQ(ev->header.stream_id, want.stream_id);
  EXPECT_EQ(ev->header.event_type, want.event_type);
  EXPECT_EQ(ev->header.subject_id, want.subject_id);
  EXPECT_EQ(ev->header.command_id, want.command_id);
  EXPECT_EQ(ev->ciphertext, SampleCiphertext());
  EXPECT_EQ(ev->chain_hash, SampleDigest());
  EXPECT_EQ(ev->stored_bytes, rec);
  EXPECT_EQ(header_view, header);
  EXPECT_EQ(rec.size(),
            header.size() + SampleCiphertext().size() + crypto::kDigestBytes);
}

TEST(RecordTest, EmptyAndMaximalFieldsRoundTrip) {
  EventHeader h = SampleHeader();
  h.subject_id.clear();
  h.key_class = KeyClass::kSystem;
  h.stream_id = std::string(kMaxStreamIdBytes, 's');
  h.event_type = std::string(kMaxEventTypeBytes, 't');
  h.command_id = std::string(kMaxCommandIdBytes, 'c');
  h.recorded_at_micros = -1;  // negative times survive the u64 encoding
  h.position = UINT64_MAX;
  const std::string ct;  // an empty ciphertext is still well-formed bytes
  const std::string rec = EncodeRecord(EncodeHeader(h, 0), ct, SampleDigest());
  auto ev = DecodeRecord(rec);
  ASSERT_THAT(ev, IsOk());
  EXPECT_EQ(ev->header.subject_id, "");
  EXPECT_EQ(ev->header.stream_id, h.stream_id);
  EXPECT_EQ(ev->header.event_type, h.event_type);
  EXPECT_EQ(ev->header.command_id, h.command_id);
  EXPECT_EQ(ev->header.recorded_at_micros, -1);
  EXPECT_EQ(ev->header.position, UINT64_MAX);
  EXPECT_EQ(ev->header.key_class, KeyClass::kSystem);
  EXPECT_TRUE(ev->ciphertext.empty());
}

TEST(RecordTest, ParseRecordViewAgreesWithDecodeRecord) {
  const std::string rec = SampleRecord();
  absl::string_view header_view;
  auto ev = DecodeRecord(rec, &header_view);
  ASSERT_THAT(ev, IsOk());
  auto v = ParseRecordView(rec);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->position, ev->header.position);
  EXPECT_EQ(v->stream_version, ev->header.stream_version);
  EXPECT_EQ(v->stream_id, ev->header.stream_id);
  EXPECT_EQ(v->header, header_view);
  EXPECT_EQ(v->ciphertext, ev->ciphertext);
  EXPECT_EQ(v->chain_hash, ev->chain_hash);
  // The views point into the stored bytes, not at copies.
  EXPECT_EQ(v->header.data(), rec.data());
  EXPECT_EQ(v->ciphertext.data(), rec.data() + header_view.size());
}

TEST(RecordTest, EveryTruncationIsDataLoss) {
  const std::string rec = SampleRecord();
  for (size_t len = 0; len < rec.size(); ++len) {
    SCOPED_TRACE(len);
    // A fresh heap copy of exactly `len` bytes, so an over-read would land
    // outside the allocation (visible under ASan).
    const std::vector<char> buf(rec.begin(), rec.begin() + len);
    const absl::string_view cut(buf.data(), buf.size());
    EXPECT_THAT(DecodeRecord(cut), StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(ParseRecordView(cut), StatusIs(absl::StatusCode::kDataLoss));
  }
}

TEST(RecordTest, TrailingBytesAreDataLoss) {
  const std::string rec = SampleRecord() + "x";
  EXPECT_THAT(DecodeRecord(rec), StatusIs(absl::StatusCode::kDataLoss,
                                          HasSubstr("length mismatch")));
  EXPECT_THAT(ParseRecordView(rec), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(RecordTest, CorruptedCiphertextLengthIsDataLoss) {
  std::string header;
  const std::string rec = SampleRecord(&header);
  const size_t len_offset = header.size() - 4;
  const uint32_t ct_len = static_cast<uint32_t>(SampleCiphertext().size());
  for (uint32_t bad : {0u, ct_len - 1, ct_len + 1, ct_len + 32, 0xFFFFFFFFu,
                       0x80000000u | ct_len}) {
    SCOPED_TRACE(bad);
    std::string r = rec;
    for (int i = 0; i < 4; ++i)
      r[len_offset + i] = static_cast<char>((bad >> (8 * (3 - i))) & 0xff);
    EXPECT_THAT(DecodeRecord(r), StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(ParseRecordView(r), StatusIs(absl::StatusCode::kDataLoss));
  }
}

TEST(RecordTest, CorruptedShortStringLengthsAreDataLoss) {
  const std::string rec = SampleRecord();
  const EventHeader h = SampleHeader();
  // Offsets of the four u8 length prefixes.
  std::vector<size_t> offsets;
  size_t off = kStreamLenOffset;
  for (const std::string* s :
       {&h.stream_id, &h.event_type, &h.subject_id, &h.command_id}) {
    offsets.push_back(off);
    off += 1 + s->size();
  }
  for (size_t o : offsets) {
    for (int value : {0, 1, 0x7f, 0xff}) {
      if (static_cast<uint8_t>(rec[o]) == value)
        continue;
      SCOPED_TRACE(::testing::Message()
                   << "offset " << o << " value " << value);
      std::string r = rec;
      r[o] = static_cast<char>(value);
      EXPECT_THAT(DecodeRecord(r), StatusIs(absl::StatusCode::kDataLoss));
      EXPECT_THAT(ParseRecordView(r), StatusIs(absl::StatusCode::kDataLoss));
    }
  }
}

TEST(RecordTest, UnknownFormatByteIsDataLoss) {
  for (int format : {0, 2, 0x7f, 0xff}) {
    SCOPED_TRACE(format);
    std::string r = SampleRecord();
    r[kFormatOffset] = static_cast<char>(format);
    EXPECT_THAT(DecodeRecord(r), StatusIs(absl::StatusCode::kDataLoss,
                                          HasSubstr("unknown record format")));
    EXPECT_THAT(ParseRecordView(r),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr("unknown record format")));
  }
}

// The verifier parses with ParseRecordView and readers with DecodeRecord: a
// record one refuses must not pass the other, or Verify() could report a log
// healthy that ReadAt() cannot read.
TEST(RecordTest, UnknownKeyClassIsDataLossForBothParsers) {
  for (int cls : {0, 4, 0xff}) {
    SCOPED_TRACE(cls);
    std::string r = SampleRecord();
    r[kKeyClassOffset] = static_cast<char>(cls);
    EXPECT_THAT(DecodeRecord(r), StatusIs(absl::StatusCode::kDataLoss,
                                          HasSubstr("unknown key class")));
    EXPECT_THAT(ParseRecordView(r), StatusIs(absl::StatusCode::kDataLoss,
                                             HasSubstr("unknown key class")));
  }
}

TEST(RecordTest, PositionFieldIsBigEndianAtItsOffset) {
  const std::string rec = SampleRecord();
  EXPECT_EQ(GetU64(rec.data() + kPositionOffset), SampleHeader().position);
  EXPECT_EQ(static_cast<uint8_t>(rec[kPositionOffset]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(rec[kPositionOffset + 7]), 0x08);
}

TEST(RecordTest, SealedHeaderCoversIdentityButNotSequencerFields) {
  EventHeader a = SampleHeader();
  EventHeader b = a;
  b.position = 9;
  b.stream_version = 9;
  b.recorded_at_micros = 9;
  b.nonce[0] ^= 1;
  EXPECT_EQ(SealedHeaderBytes(a), SealedHeaderBytes(b));
  for (int field = 0; field < 6; ++field) {
    EventHeader c = a;
    switch (field) {
      case 0:
        c.key_class = KeyClass::kAudit;
        break;
      case 1:
        c.event_id[3] ^= 1;
        break;
      case 2:
        c.stream_id += "x";
        break;
      case 3:
        c.event_type += "x";
        break;
      case 4:
        c.subject_id += "x";
        break;
      case 5:
        c.command_id += "x";
        break;
    }
    EXPECT_NE(SealedHeaderBytes(a), SealedHeaderBytes(c)) << "field " << field;
  }
  // Length prefixes keep adjacent fields from sliding into each other.
  EventHeader d = a, e = a;
  d.event_type = "ab";
  d.subject_id = "c";
  e.event_type = "a";
  e.subject_id = "bc";
  EXPECT_NE(SealedHeaderBytes(d), SealedHeaderBytes(e));
}

AppendResult SampleResult() {
  AppendResult r;
  r.first_position = 1000;
  r.last_position = 1004;
  r.streams.push_back({"patient/p1", 7, 9});
  r.streams.push_back({"encounter/e-1", 1, 2});
  return r;
}

TEST(RecordTest, CommandRecordRoundTrips) {
  const Digest fp = SampleDigest();
  for (size_t nstreams : {0, 1, 2}) {
    SCOPED_TRACE(nstreams);
    AppendResult want = SampleResult();
    want.streams.resize(nstreams);
    const std::string rec = EncodeCommandRecord(fp, want);
    Digest got_fp{};
    auto got = DecodeCommandRecord(rec, &got_fp);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got_fp, fp);
    EXPECT_EQ(got->first_position, want.first_position);
    EXPECT_EQ(got->last_position, want.last_position);
    EXPECT_FALSE(got->duplicate);
    ASSERT_EQ(got->streams.size(), nstreams);
    for (size_t i = 0; i < nstreams; ++i) {
      EXPECT_EQ(got->streams[i].stream_id, want.streams[i].stream_id);
      EXPECT_EQ(got->streams[i].first_version, want.streams[i].first_version);
      EXPECT_EQ(got->streams[i].last_version, want.streams[i].last_version);
    }
    // The fingerprint output is optional.
    EXPECT_THAT(DecodeCommandRecord(rec, nullptr), IsOk());
  }
}

TEST(RecordTest, MalformedCommandRecordsAreDataLoss) {
  const std::string rec = EncodeCommandRecord(SampleDigest(), SampleResult());
  for (size_t len = 0; len < rec.size(); ++len) {
    SCOPED_TRACE(len);
    const std::vector<char> buf(rec.begin(), rec.begin() + len);
    Digest fp{};
    EXPECT_THAT(
        DecodeCommandRecord(absl::string_view(buf.data(), buf.size()), &fp),
        StatusIs(absl::StatusCode::kDataLoss));
  }
  EXPECT_THAT(DecodeCommandRecord(rec + "x", nullptr),
              StatusIs(absl::StatusCode::kDataLoss));
  std::string bad_format = rec;
  bad_format[0] = 2;
  EXPECT_THAT(DecodeCommandRecord(bad_format, nullptr),
              StatusIs(absl::StatusCode::kDataLoss));
  // Stream count: format(1) + fingerprint(32) + positions(16).
  const size_t count_offset = 1 + crypto::kDigestBytes + 16;
  for (uint32_t n : {0u, 1u, 3u, 100000u, 100001u, 0xFFFFFFFFu}) {
    SCOPED_TRACE(n);
    std::string r = rec;
    for (int i = 0; i < 4; ++i)
      r[count_offset + i] = static_cast<char>((n >> (8 * (3 - i))) & 0xff);
    EXPECT_THAT(DecodeCommandRecord(r, nullptr),
                StatusIs(absl::StatusCode::kDataLoss));
  }
}

TEST(RecordTest, HeadRecordRoundTripsAndRejectsOtherSizes) {
  Head h;
  h.position = (uint64_t{1} << 40) + 3;
  h.chain_hash = SampleDigest();
  const std::string rec = EncodeHead(h);
  EXPECT_EQ(rec.size(), 8 + crypto::kDigestBytes);
  auto got = DecodeHead(rec);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->position, h.position);
  EXPECT_EQ(got->chain_hash, h.chain_hash);

  auto empty = DecodeHead(EncodeHead(Head{}));
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(empty->position, 0u);
  EXPECT_EQ(empty->chain_hash, Digest{});

  for (size_t len = 0; len < rec.size(); ++len) {
    const std::vector<char> buf(rec.begin(), rec.begin() + len);
    EXPECT_THAT(DecodeHead(absl::string_view(buf.data(), buf.size())),
                StatusIs(absl::StatusCode::kDataLoss))
        << len;
  }
  EXPECT_THAT(DecodeHead(rec + "x"), StatusIs(absl::StatusCode::kDataLoss));
}

// RocksDB's default comparator is memcmp order.
bool BytewiseLess(const std::string& a, const std::string& b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c < 0 || (c == 0 && a.size() < b.size());
}

TEST(RecordTest, PositionKeyByteOrderIsNumericOrder) {
  const std::vector<uint64_t> values = {0,
                                        1,
                                        2,
                                        127,
                                        128,
                                        255,
                                        256,
                                        257,
                                        511,
                                        65535,
                                        65536,
                                        (uint64_t{1} << 24) - 1,
                                        uint64_t{1} << 24,
                                        (uint64_t{1} << 32) - 1,
                                        uint64_t{1} << 32,
                                        (uint64_t{1} << 32) + 1,
                                        (uint64_t{1} << 56) - 1,
                                        uint64_t{1} << 56,
                                        (uint64_t{1} << 63) - 1,
                                        uint64_t{1} << 63,
                                        UINT64_MAX - 1,
                                        UINT64_MAX};
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string ki = PositionKey(values[i]);
    ASSERT_EQ(ki.size(), 8u);
    auto back = DecodePositionKey(ki);
    ASSERT_THAT(back, IsOk());
    EXPECT_EQ(*back, values[i]);
    for (size_t j = 0; j < values.size(); ++j) {
      const std::string kj = PositionKey(values[j]);
      EXPECT_EQ(BytewiseLess(ki, kj), values[i] < values[j])
          << values[i] << " vs " << values[j];
    }
  }
}

TEST(RecordTest, DecodePositionKeyRejectsOtherSizes) {
  for (size_t len : {0, 1, 7, 9, 16}) {
    EXPECT_THAT(DecodePositionKey(std::string(len, '\0')),
                StatusIs(absl::StatusCode::kDataLoss))
        << len;
  }
}

TEST(RecordTest, StreamEntryKeysSortByVersionAndStayInsideTheirPrefix) {
  const std::vector<uint64_t> versions = {1,   2,     255,
                                          256, 65536, uint64_t{1} << 32};
  for (size_t i = 0; i + 1 < versions.size(); ++i) {
    EXPECT_TRUE(BytewiseLess(StreamEntryKey("patient/p1", versions[i]),
                             StreamEntryKey("patient/p1", versions[i + 1])));
  }
  // "patient/p1"'s prefix never matches entries of "patient/p10" or the stream
  // head keys, so a prefix scan of one stream sees only that stream.
  const std::string prefix = StreamEntryPrefix("patient/p1");
  for (const std::string& other :
       {StreamEntryKey("patient/p10", 1), StreamEntryKey("patient/p", 1),
        StreamHeadKey("patient/p1")}) {
    EXPECT_NE(other.compare(0, prefix.size(), prefix), 0);
  }
  EXPECT_EQ(StreamEntryKey("patient/p1", 5).compare(0, prefix.size(), prefix),
            0);
  EXPECT_TRUE(BytewiseLess(StreamHeadKey("zzz"), StreamEntryKey("a", 1)));
}

}  // namespace
}  // namespace carelog::storage
