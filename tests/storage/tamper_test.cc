// Tamper tests: a closed ledger is copied, altered through a raw RocksDB handle
// (as an attacker or a bad disk with access to the data directory would), and
// both the offline verifier (VerifyDataDir) and Ledger::Open's tail check must
// answer DATA_LOSS naming the first altered position and the kind of damage.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/metadata.h"
#include "rocksdb/options.h"

#include "crypto/hash.h"
#include "storage/ledger.h"
#include "storage/record.h"
#include "tests/testing/file_damage.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::storage {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using ::carelog::testing::TempDir;
using ::carelog::testing::TestLedgerOptions;
using ::carelog::testing::XorFileByte;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Past 255 so that position keys carry into a second byte (see
// StrayShortKeyBetween255And256IsDataLoss).
constexpr uint64_t kEvents = 260;

// Offsets inside an encoded event record (see storage/record.h).
constexpr size_t kPositionOffset = 1;
constexpr size_t kKeyClassOffset = 1 + 8 + 8 + 8;
constexpr size_t kStreamLenOffset =
    kKeyClassOffset + 1 + kEventIdBytes + crypto::kNonceBytes;

// A read-write handle on a closed data directory, opening every column family
// it has, bypassing the ledger.
class RawDb {
 public:
  explicit RawDb(const std::string& dir) {
    rocksdb::DBOptions o;
    o.create_if_missing = false;
    std::vector<std::string> names;
    status_ = rocksdb::DB::ListColumnFamilies(o, dir, &names);
    if (!status_.ok())
      return;
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (const auto& n : names)
      descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    status_ = rocksdb::DB::Open(o, dir, descs, &handles_, &raw);
    db_.reset(raw);
  }
  ~RawDb() {
    if (db_) {
      for (auto* h : handles_)
        db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      db_->Close().PermitUncheckedError();
    }
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  const rocksdb::Status& status() const { return status_; }
  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) {
    for (auto* h : handles_)
      if (h->GetName() == name)
        return h;
    return nullptr;
  }

  std::string Get(const std::string& cf_name, const std::string& key) {
    std::string v;
    status_ = db_->Get(rocksdb::ReadOptions(), cf(cf_name), key, &v);
    return v;
  }
  void Put(const std::string& cf_name, const std::string& key,
           const std::string& value) {
    status_ = db_->Put(Sync(), cf(cf_name), key, value);
  }
  void Delete(const std::string& cf_name, const std::string& key) {
    status_ = db_->Delete(Sync(), cf(cf_name), key);
  }

 private:
  static rocksdb::WriteOptions Sync() {
    rocksdb::WriteOptions w;
    w.sync = true;
    return w;
  }
  rocksdb::Status status_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

std::string EventKey(uint64_t position) {
  return PositionKey(position);
}

class TamperTest : public ::testing::Test {
 protected:
  // Builds kEvents events over several streams, key classes and command
  // shapes, then closes the ledger.
  void SetUp() override {
    source_ = dir_.Sub("source");
    LedgerOptions o = TestLedgerOptions(source_);
    o.sync = false;  // durability is not under test here; Close persists
    auto ledger = Ledger::Open(std::move(o));
    ASSERT_THAT(ledger, IsOk());
    uint64_t total = 0;
    for (int c = 0; total < kEvents; ++c) {
      AppendRequest r;
      r.command_id = absl::StrCat("tamper-cmd-", c);
      const int nstreams = 1 + c % 2;
      for (int s = 0; s < nstreams && total < kEvents; ++s) {
        StreamAppend sa;
        sa.stream_id = absl::StrCat("patient/p", (c + s * 3) % 5);
        if (c % 7 == 3 && s == 0)
          sa.stream_id = "audit/log";
        const int nevents = 1 + (c + s) % 3;
        for (int e = 0; e < nevents && total < kEvents; ++e, ++total) {
          NewEvent ev;
          ev.event_type = "carelog.test.Noted";
          ev.payload = absl::StrCat("synthetic payload ", c, "/", s, "/", e,
                                    std::string(c % 50, '.'));
          switch ((c + e) % 3) {
            case 0:
              ev.key_class = KeyClass::kSubject;
              ev.subject_id = absl::StrCat("subj-", c % 4);
              break;
            case 1:
              ev.key_class = KeyClass::kSystem;
              break;
            default:
              ev.key_class = KeyClass::kAudit;
              break;
          }
          sa.events.push_back(std::move(ev));
        }
        r.streams.push_back(std::move(sa));
      }
      ASSERT_THAT((*ledger)->Append(r), IsOk());
    }
    ASSERT_EQ((*ledger)->GetHead().position, kEvents);
    ASSERT_THAT((*ledger)->Verify().status, IsOk());
    for (uint64_t next = 1; next != 0;) {
      auto page = (*ledger)->ReadAll(next, 100);
      ASSERT_THAT(page, IsOk());
      for (auto& ev : page->events)
        events_.push_back(std::move(ev));
      next = page->next;
    }
    ASSERT_EQ(events_.size(), kEvents);
    ledger->reset();
    ASSERT_THAT(VerifyDataDir(source_).status, IsOk());
  }

  // A fresh copy of the closed source directory.
  std::string Copy(const std::string& name) {
    const std::string dst = dir_.Sub(name);
    std::filesystem::copy(source_, dst,
                          std::filesystem::copy_options::recursive);
    return dst;
  }

  const StoredEvent& At(uint64_t position) const {
    return events_.at(position - 1);
  }

  // Options whose tail check covers the whole log.
  static LedgerOptions FullTailCheck(const std::string& dir) {
    LedgerOptions o = TestLedgerOptions(dir);
    o.tail_check_events = uint64_t{1} << 20;
    return o;
  }

  // Both the offline verifier and Open must report `problem` at `position`.
  static void ExpectDetected(const std::string& dir, uint64_t position,
                             VerifyProblem problem) {
    VerifyReport r = VerifyDataDir(dir);
    EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_EQ(r.first_bad_position, position) << r.status;
    EXPECT_EQ(r.problem, problem)
        << "got " << VerifyProblemName(r.problem) << ": " << r.status;
    auto opened = Ledger::Open(FullTailCheck(dir));
    EXPECT_THAT(
        opened,
        StatusIs(absl::StatusCode::kDataLoss,
                 AllOf(HasSubstr(absl::StrCat("position ", position, ": ")),
                       HasSubstr(VerifyProblemName(problem)))));
  }

  TempDir dir_;
  std::string source_;
  std::vector<StoredEvent> events_;  // events_[p - 1] is position p
};

// Which problem a single-byte change at `offset` of `record` must produce,
// worked out from the record layout (not from the parser under test).
VerifyProblem ExpectedProblemForFlip(const StoredEvent& ev, size_t offset,
                                     uint8_t mask) {
  const std::string& rec = ev.stored_bytes;
  if (offset == 0)
    return VerifyProblem::kMalformedRecord;  // format byte
  if (offset >= kPositionOffset && offset < kPositionOffset + 8)
    return VerifyProblem::kPositionMismatch;
  if (offset == kKeyClassOffset) {
    const uint8_t cls = static_cast<uint8_t>(rec[offset]) ^ mask;
    return (cls >= 1 && cls <= 3) ? VerifyProblem::kHashMismatch
                                  : VerifyProblem::kMalformedRecord;
  }
  // Length prefixes of the four short strings, then the u32 ciphertext length:
  // changing one shifts every later field, so the lengths no longer add up.
  size_t off = kStreamLenOffset;
  for (const std::string* s : {&ev.header.stream_id, &ev.header.event_type,
                               &ev.header.subject_id, &ev.header.command_id}) {
    if (offset == off)
      return VerifyProblem::kMalformedRecord;
    off += 1 + s->size();
  }
  if (offset >= off && offset < off + 4)
    return VerifyProblem::kMalformedRecord;
  return VerifyProblem::kHashMismatch;
}

TEST_F(TamperTest, UntouchedCopyVerifiesAndOpens) {
  const std::string copy = Copy("copy");
  VerifyReport r = VerifyDataDir(copy);
  EXPECT_THAT(r.status, IsOk());
  EXPECT_EQ(r.events_checked, kEvents);
  EXPECT_EQ(r.verified_head.position, kEvents);
  EXPECT_EQ(r.verified_head.chain_hash, At(kEvents).chain_hash);
  auto l = Ledger::Open(FullTailCheck(copy));
  ASSERT_THAT(l, IsOk());
  EXPECT_EQ((*l)->GetHead().position, kEvents);
}

TEST_F(TamperTest, FlippedByteInEventIsDetectedAtThatPosition) {
  struct Case {
    const char* what;
    uint64_t position;
    size_t offset;  // SIZE_MAX - k: k bytes from the end
    VerifyProblem problem;
  };
  const uint64_t mid = kEvents / 2;
  const size_t kFromEnd = SIZE_MAX;
  const std::vector<Case> cases = {
      {"format byte", mid, 0, VerifyProblem::kMalformedRecord},
      {"position field", mid, kPositionOffset + 7,
       VerifyProblem::kPositionMismatch},
      {"stream version", mid, 9 + 7, VerifyProblem::kHashMismatch},
      {"recorded time", 1, 17 + 3, VerifyProblem::kHashMismatch},
      {"event id", mid, kKeyClassOffset + 1, VerifyProblem::kHashMismatch},
      {"nonce", kEvents, kKeyClassOffset + 1 + kEventIdBytes + 5,
       VerifyProblem::kHashMismatch},
      {"stream id length", mid, kStreamLenOffset,
       VerifyProblem::kMalformedRecord},
      {"stream id text", 7, kStreamLenOffset + 2, VerifyProblem::kHashMismatch},
      {"ciphertext first byte", mid, 0 /*set below*/,
       VerifyProblem::kHashMismatch},
      {"ciphertext last byte", 2, kFromEnd - crypto::kDigestBytes,
       VerifyProblem::kHashMismatch},
      {"trailer hash first byte", mid, kFromEnd - (crypto::kDigestBytes - 1),
       VerifyProblem::kHashMismatch},
      {"trailer hash last byte", kEvents - 1, kFromEnd,
       VerifyProblem::kHashMismatch},
  };
  int n = 0;
  for (Case c : cases) {
    SCOPED_TRACE(c.what);
    const StoredEvent& ev = At(c.position);
    const std::string& rec = ev.stored_bytes;
    const size_t header_len =
        rec.size() - ev.ciphertext.size() - crypto::kDigestBytes;
    size_t offset = c.offset;
    if (std::string(c.what) == "ciphertext first byte")
      offset = header_len;
    if (offset > rec.size())
      offset = rec.size() - 1 - (kFromEnd - offset);
    ASSERT_LT(offset, rec.size());
    const std::string copy = Copy(absl::StrCat("flip-", n++));
    {
      RawDb raw(copy);
      ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
      std::string v = raw.Get("events", EventKey(c.position));
      ASSERT_TRUE(raw.status().ok());
      ASSERT_EQ(v, rec);
      v[offset] = static_cast<char>(v[offset] ^ 0x01);
      raw.Put("events", EventKey(c.position), v);
      ASSERT_TRUE(raw.status().ok());
    }
    ExpectDetected(copy, c.position, c.problem);
  }
}

TEST_F(TamperTest, RandomSingleByteFlipsAreDetectedAtExactlyThatPosition) {
  const uint32_t seed = 0x5eed7a3u;
  std::mt19937 rng(seed);
  constexpr int kTrials = 60;
  for (int trial = 0; trial < kTrials; ++trial) {
    const uint64_t position =
        std::uniform_int_distribution<uint64_t>(1, kEvents)(rng);
    const StoredEvent& ev = At(position);
    const size_t offset = std::uniform_int_distribution<size_t>(
        0, ev.stored_bytes.size() - 1)(rng);
    const uint8_t mask =
        static_cast<uint8_t>(std::uniform_int_distribution<int>(1, 255)(rng));
    SCOPED_TRACE(absl::StrCat("seed ", seed, " trial ", trial, " position ",
                              position, " offset ", offset, " mask ", mask));
    const std::string copy = Copy(absl::StrCat("random-", trial));
    {
      RawDb raw(copy);
      ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
      std::string v = ev.stored_bytes;
      v[offset] = static_cast<char>(v[offset] ^ mask);
      raw.Put("events", EventKey(position), v);
      ASSERT_TRUE(raw.status().ok());
    }
    ExpectDetected(copy, position, ExpectedProblemForFlip(ev, offset, mask));
    std::filesystem::remove_all(copy);
    if (HasFailure())
      break;
  }
}

TEST_F(TamperTest, DeletedEventIsAGapAtThatPosition) {
  for (uint64_t position : {uint64_t{1}, kEvents / 2}) {
    SCOPED_TRACE(position);
    const std::string copy = Copy(absl::StrCat("gap-", position));
    {
      RawDb raw(copy);
      ASSERT_TRUE(raw.status().ok());
      raw.Delete("events", EventKey(position));
      ASSERT_TRUE(raw.status().ok());
    }
    ExpectDetected(copy, position, VerifyProblem::kGap);
  }
}

TEST_F(TamperTest, SwappedEventsAreAPositionMismatchAtTheLowerPosition) {
  const uint64_t a = 40, b = 170;
  const std::string copy = Copy("swap");
  {
    RawDb raw(copy);
    ASSERT_TRUE(raw.status().ok());
    raw.Put("events", EventKey(a), At(b).stored_bytes);
    raw.Put("events", EventKey(b), At(a).stored_bytes);
    ASSERT_TRUE(raw.status().ok());
  }
  ExpectDetected(copy, a, VerifyProblem::kPositionMismatch);
}

TEST_F(TamperTest, TruncatedTailIsAHeadMismatchAfterTheLastEvent) {
  for (uint64_t k : {uint64_t{1}, uint64_t{5}, uint64_t{100}, kEvents}) {
    SCOPED_TRACE(k);
    const std::string copy = Copy(absl::StrCat("truncate-", k));
    {
      RawDb raw(copy);
      ASSERT_TRUE(raw.status().ok());
      for (uint64_t p = kEvents - k + 1; p <= kEvents; ++p)
        raw.Delete("events", EventKey(p));
      ASSERT_TRUE(raw.status().ok());
    }
    ExpectDetected(copy, kEvents - k + 1, VerifyProblem::kHeadMismatch);
  }
}

TEST_F(TamperTest, HeadRecordDisagreeingWithTheLogIsAHeadMismatch) {
  struct Case {
    const char* what;
    Head head;
    uint64_t bad_position;
  };
  Digest flipped = At(kEvents).chain_hash;
  flipped[0] ^= 0x80;
  const std::vector<Case> cases = {
      {"hash altered", Head{kEvents, flipped}, kEvents},
      {"position ahead of the events",
       Head{kEvents + 1, At(kEvents).chain_hash}, kEvents + 1},
      {"consistent head one event back",
       Head{kEvents - 1, At(kEvents - 1).chain_hash}, kEvents},
      {"old head hash at current position",
       Head{kEvents - 1, At(kEvents).chain_hash}, kEvents - 1},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string copy = Copy(absl::StrCat("head-", n++));
    {
      RawDb raw(copy);
      ASSERT_TRUE(raw.status().ok());
      raw.Put("default", "head", EncodeHead(c.head));
      ASSERT_TRUE(raw.status().ok());
    }
    ExpectDetected(copy, c.bad_position, VerifyProblem::kHeadMismatch);
  }
}

TEST_F(TamperTest, EventBeyondTheHeadIsAHeadMismatch) {
  const std::string copy = Copy("beyond");
  {
    RawDb raw(copy);
    ASSERT_TRUE(raw.status().ok());
    // A well-formed, correctly chained record that was never acknowledged.
    EventHeader h = At(kEvents).header;
    h.position = kEvents + 1;
    h.stream_version += 1000;
    const std::string ct = At(kEvents).ciphertext;
    const std::string header =
        EncodeHeader(h, static_cast<uint32_t>(ct.size()));
    raw.Put(
        "events", EventKey(kEvents + 1),
        EncodeRecord(header, ct,
                     crypto::ChainHash(At(kEvents).chain_hash, header, ct)));
    ASSERT_TRUE(raw.status().ok());
  }
  ExpectDetected(copy, kEvents + 1, VerifyProblem::kHeadMismatch);
}

TEST_F(TamperTest, DeletedStreamIndexEntryIsDetectedAtItsEvent) {
  for (uint64_t position : {uint64_t{1}, uint64_t{77}, kEvents}) {
    SCOPED_TRACE(position);
    const EventHeader& h = At(position).header;
    const std::string copy = Copy(absl::StrCat("noindex-", position));
    {
      RawDb raw(copy);
      ASSERT_TRUE(raw.status().ok());
      const std::string key = StreamEntryKey(h.stream_id, h.stream_version);
      ASSERT_EQ(raw.Get("streams", key), PositionKey(position));
      raw.Delete("streams", key);
      ASSERT_TRUE(raw.status().ok());
    }
    ExpectDetected(copy, position, VerifyProblem::kMissingStreamIndex);
  }
}

TEST_F(TamperTest, RedirectedStreamIndexEntryIsDetectedAtItsEvent) {
  struct Case {
    uint64_t position;
    std::string value;
  };
  const std::vector<Case> cases = {
      {33, PositionKey(34)},
      {150, PositionKey(kEvents + 5)},
      {kEvents, PositionKey(1)},
      {90, std::string("\x00\x00\x00\x5a", 4)},  // malformed: 4 bytes
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.position);
    const EventHeader& h = At(c.position).header;
    const std::string copy = Copy(absl::StrCat("redirect-", c.position));
    {
      RawDb raw(copy);
      ASSERT_TRUE(raw.status().ok());
      raw.Put("streams", StreamEntryKey(h.stream_id, h.stream_version),
              c.value);
      ASSERT_TRUE(raw.status().ok());
    }
    ExpectDetected(copy, c.position, VerifyProblem::kStreamIndexMismatch);
  }
}

// The earliest damage wins, whatever its kind.
TEST_F(TamperTest, FirstOfSeveralProblemsIsReported) {
  const std::string copy = Copy("several");
  {
    RawDb raw(copy);
    ASSERT_TRUE(raw.status().ok());
    const EventHeader& h = At(20).header;
    raw.Delete("streams", StreamEntryKey(h.stream_id, h.stream_version));
    std::string v = At(21).stored_bytes;
    v[v.size() - 1] ^= 1;
    raw.Put("events", EventKey(21), v);
    raw.Delete("events", EventKey(200));
    ASSERT_TRUE(raw.status().ok());
  }
  ExpectDetected(copy, 20, VerifyProblem::kMissingStreamIndex);
}

// New ciphertext under a hash that looks right (32 bytes, correct form) but
// was computed from the wrong predecessor.
TEST_F(TamperTest, RewrittenEventWithWrongPredecessorHashIsDetected) {
  const uint64_t p = 120;
  const StoredEvent& ev = At(p);
  const std::string copy = Copy("forged");
  {
    RawDb raw(copy);
    ASSERT_TRUE(raw.status().ok());
    std::string ct = ev.ciphertext;
    ct[0] ^= 0x55;
    const std::string header =
        EncodeHeader(ev.header, static_cast<uint32_t>(ct.size()));
    // Genesis instead of hash[p-1].
    raw.Put("events", EventKey(p),
            EncodeRecord(header, ct, crypto::ChainHash(Digest{}, header, ct)));
    ASSERT_TRUE(raw.status().ok());
  }
  ExpectDetected(copy, p, VerifyProblem::kHashMismatch);
}

// A forger who recomputes one event's hash correctly moves the break to the
// next link; at the last event, to the head record.
TEST_F(TamperTest, CorrectlyRehashedEventBreaksTheNextLink) {
  for (uint64_t p : {uint64_t{1}, uint64_t{120}, kEvents}) {
    SCOPED_TRACE(p);
    const StoredEvent& ev = At(p);
    const std::string copy = Copy(absl::StrCat("rehash-", p));
    {
      RawDb raw(copy);
      ASSERT_TRUE(raw.status().ok());
      std::string ct = ev.ciphertext;
      ct[ct.size() / 2] ^= 0x01;
      const std::string header =
          EncodeHeader(ev.header, static_cast<uint32_t>(ct.size()));
      const Digest prev = p > 1 ? At(p - 1).chain_hash : Digest{};
      raw.Put("events", EventKey(p),
              EncodeRecord(header, ct, crypto::ChainHash(prev, header, ct)));
      ASSERT_TRUE(raw.status().ok());
    }
    if (p == kEvents) {
      ExpectDetected(copy, p, VerifyProblem::kHeadMismatch);
    } else {
      ExpectDetected(copy, p + 1, VerifyProblem::kHashMismatch);
    }
  }
}

// Rewriting the last event and the head record consistently is beyond what a
// hash chain alone can see (signed checkpoints are for that), but the AEAD
// still refuses the altered payload.
TEST_F(TamperTest, RewrittenTailWithForgedHeadStillFailsToDecrypt) {
  const StoredEvent& ev = At(kEvents);
  const std::string copy = Copy("forged-tail");
  {
    RawDb raw(copy);
    ASSERT_TRUE(raw.status().ok());
    std::string ct = ev.ciphertext;
    ct[0] ^= 0x01;
    const std::string header =
        EncodeHeader(ev.header, static_cast<uint32_t>(ct.size()));
    const Digest hash =
        crypto::ChainHash(At(kEvents - 1).chain_hash, header, ct);
    raw.Put("events", EventKey(kEvents), EncodeRecord(header, ct, hash));
    raw.Put("default", "head", EncodeHead(Head{kEvents, hash}));
    ASSERT_TRUE(raw.status().ok());
  }
  auto l = Ledger::Open(FullTailCheck(copy));
  ASSERT_THAT(l, IsOk());
  auto read = (*l)->ReadAt(kEvents);
  ASSERT_THAT(read, IsOk());
  EXPECT_THAT((*l)->Decrypt(*read), StatusIs(absl::StatusCode::kDataLoss));
  // The untouched event before it still opens.
  auto before = (*l)->ReadAt(kEvents - 1);
  ASSERT_THAT(before, IsOk());
  EXPECT_THAT((*l)->Decrypt(*before), IsOk());
}

// Regression: the verifier used to skip the key class byte that DecodeRecord
// checks, so a consistently rehashed record with an unknown key class passed
// Verify() while every read of it failed.
TEST_F(TamperTest, UnknownKeyClassUnderAValidChainIsMalformed) {
  const StoredEvent& ev = At(kEvents);
  const std::string copy = Copy("keyclass");
  {
    RawDb raw(copy);
    ASSERT_TRUE(raw.status().ok());
    std::string header = ev.stored_bytes.substr(
        0,
        ev.stored_bytes.size() - ev.ciphertext.size() - crypto::kDigestBytes);
    header[kKeyClassOffset] = 0;
    const Digest hash =
        crypto::ChainHash(At(kEvents - 1).chain_hash, header, ev.ciphertext);
    raw.Put("events", EventKey(kEvents),
            EncodeRecord(header, ev.ciphertext, hash));
    raw.Put("default", "head", EncodeHead(Head{kEvents, hash}));
    ASSERT_TRUE(raw.status().ok());
  }
  ExpectDetected(copy, kEvents, VerifyProblem::kMalformedRecord);
}

// A 7-byte key 00..00 01 sorts between positions 255 and 256.
TEST_F(TamperTest, StrayShortKeyBetween255And256IsDataLoss) {
  const std::string copy = Copy("stray");
  {
    RawDb raw(copy);
    ASSERT_TRUE(raw.status().ok());
    raw.Put("events", std::string("\0\0\0\0\0\0\x01", 7), At(256).stored_bytes);
    ASSERT_TRUE(raw.status().ok());
  }
  ExpectDetected(copy, 256, VerifyProblem::kMalformedRecord);
  LedgerOptions o = TestLedgerOptions(copy);
  o.tail_check_events = 1;  // open despite the damage, then read across it
  auto l = Ledger::Open(std::move(o));
  ASSERT_THAT(l, IsOk());
  EXPECT_THAT((*l)->ReadAll(250, 20), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT((*l)->Verify().status, StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(TamperTest, StrayLongKeyInsideTheLogIsDataLoss) {
  const std::string copy = Copy("stray-long");
  {
    RawDb raw(copy);
    ASSERT_TRUE(raw.status().ok());
    raw.Put("events", PositionKey(100) + std::string(1, '\0'),
            At(101).stored_bytes);
    ASSERT_TRUE(raw.status().ok());
  }
  ExpectDetected(copy, 101, VerifyProblem::kMalformedRecord);
}

// Damage outside the tail checked on open: Open succeeds, the event still
// decodes, but its payload fails to authenticate and Verify() finds it.
TEST_F(TamperTest, FlippedCiphertextOutsideTheTailFailsDecryptAndVerify) {
  const uint64_t p = 3;
  const StoredEvent& ev = At(p);
  const std::string copy = Copy("ct-flip");
  {
    RawDb raw(copy);
    ASSERT_TRUE(raw.status().ok());
    std::string v = ev.stored_bytes;
    const size_t header_len =
        v.size() - ev.ciphertext.size() - crypto::kDigestBytes;
    v[header_len + ev.ciphertext.size() / 2] ^= 0x20;
    raw.Put("events", EventKey(p), v);
    ASSERT_TRUE(raw.status().ok());
  }
  LedgerOptions o = TestLedgerOptions(copy);
  o.tail_check_events = 10;
  auto l = Ledger::Open(std::move(o));
  ASSERT_THAT(l, IsOk());
  auto read = (*l)->ReadAt(p);
  ASSERT_THAT(read, IsOk());
  EXPECT_NE(read->ciphertext, ev.ciphertext);
  EXPECT_THAT((*l)->Decrypt(*read),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 3")));
  auto neighbour = (*l)->ReadAt(p + 1);
  ASSERT_THAT(neighbour, IsOk());
  EXPECT_THAT((*l)->Decrypt(*neighbour), IsOk());
  VerifyReport r = (*l)->Verify();
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(r.first_bad_position, p);
  EXPECT_EQ(r.problem, VerifyProblem::kHashMismatch);
  EXPECT_THAT((*l)->ReadAll(1, 10), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT((*l)->Verify(p + 1).status, IsOk());
}

TEST_F(TamperTest, DecryptRefusesAlteredCiphertextNonceOrHeader) {
  auto l = Ledger::Open(TestLedgerOptions(Copy("decrypt")));
  ASSERT_THAT(l, IsOk());
  for (uint64_t p : {uint64_t{1}, uint64_t{2}, uint64_t{3}, kEvents}) {
    SCOPED_TRACE(p);
    auto ev = (*l)->ReadAt(p);
    ASSERT_THAT(ev, IsOk());
    ASSERT_THAT((*l)->Decrypt(*ev), IsOk());
    for (size_t i :
         {size_t{0}, ev->ciphertext.size() / 2, ev->ciphertext.size() - 1}) {
      StoredEvent bad = *ev;
      bad.ciphertext[i] ^= 0x01;
      EXPECT_THAT((*l)->Decrypt(bad), StatusIs(absl::StatusCode::kDataLoss));
    }
    StoredEvent bad_nonce = *ev;
    bad_nonce.header.nonce[7] ^= 0x01;
    EXPECT_THAT((*l)->Decrypt(bad_nonce),
                StatusIs(absl::StatusCode::kDataLoss));
    StoredEvent bad_type = *ev;
    bad_type.header.event_type += "X";
    EXPECT_THAT((*l)->Decrypt(bad_type), StatusIs(absl::StatusCode::kDataLoss));
    StoredEvent bad_id = *ev;
    bad_id.header.event_id[0] ^= 0x01;
    EXPECT_THAT((*l)->Decrypt(bad_id), StatusIs(absl::StatusCode::kDataLoss));
    StoredEvent short_ct = *ev;
    short_ct.ciphertext.resize(crypto::kTagBytes - 1);
    EXPECT_THAT((*l)->Decrypt(short_ct), StatusIs(absl::StatusCode::kDataLoss));
  }
}

// Flushes the events column family of `dir` to an SST file and returns its
// path ("" on failure).
std::string FlushEventsToSst(const std::string& dir) {
  RawDb raw(dir);
  if (!raw.status().ok())
    return "";
  rocksdb::FlushOptions fo;
  fo.wait = true;
  if (!raw.db()->Flush(fo, raw.cf("events")).ok())
    return "";
  std::vector<rocksdb::LiveFileMetaData> files;
  raw.db()->GetLiveFilesMetaData(&files);
  std::string sst;
  for (const auto& f : files) {
    if (f.column_family_name == "events")
      sst = f.db_path + f.name;
  }
  return sst;
}

// Damage below the ledger's own bytes: RocksDB's block checksum catches a
// flipped bit in an SST data block, and the ledger reports it as DATA_LOSS.
TEST_F(TamperTest, CorruptedSstDataBlockIsDataLoss) {
  const std::string copy = Copy("sst");
  const std::string sst = FlushEventsToSst(copy);
  ASSERT_FALSE(sst.empty());
  ASSERT_TRUE(XorFileByte(sst, 300, 0x01));  // inside the first data block
  VerifyReport r = VerifyDataDir(copy);
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Ledger::Open(FullTailCheck(copy)),
              StatusIs(absl::StatusCode::kDataLoss));
}

// Regression: a table so damaged that RocksDB refuses to open the directory
// was reported by VerifyDataDir as FAILED_PRECONDITION ("cannot be opened"),
// while Ledger::Open reported the same directory as DATA_LOSS.
TEST_F(TamperTest, CorruptedSstFooterIsDataLossForVerifierAndOpen) {
  const std::string copy = Copy("sst-footer");
  const std::string sst = FlushEventsToSst(copy);
  ASSERT_FALSE(sst.empty());
  const uint64_t size = std::filesystem::file_size(sst);
  ASSERT_TRUE(XorFileByte(sst, size - 1, 0x40));  // the table magic number
  VerifyReport r = VerifyDataDir(copy);
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Ledger::Open(FullTailCheck(copy)),
              StatusIs(absl::StatusCode::kDataLoss));
}

// A directory that holds no ledger is a precondition failure, not data loss.
TEST_F(TamperTest, VerifyingAMissingDirectoryIsFailedPrecondition) {
  EXPECT_THAT(VerifyDataDir(dir_.Sub("absent")).status,
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(TamperTest, DeletedHeadRecordIsAHeadMismatchAtTheLastEvent) {
  const std::string copy = Copy("no-head");
  {
    RawDb raw(copy);
    ASSERT_TRUE(raw.status().ok());
    raw.Delete("default", "head");
    ASSERT_TRUE(raw.status().ok());
  }
  ExpectDetected(copy, kEvents, VerifyProblem::kHeadMismatch);
}

TEST_F(TamperTest, DeletedFormatMarkerRefusesToOpen) {
  const std::string copy = Copy("no-format");
  {
    RawDb raw(copy);
    ASSERT_TRUE(raw.status().ok());
    raw.Delete("default", "format");
    ASSERT_TRUE(raw.status().ok());
  }
  EXPECT_THAT(Ledger::Open(FullTailCheck(copy)),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace carelog::storage
