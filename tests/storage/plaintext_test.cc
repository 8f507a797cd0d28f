// Plaintext tests: payloads (which may hold PHI) and key material must never
// reach the data directory in the clear — not in SST files, the WAL, MANIFEST,
// OPTIONS or RocksDB's LOG — whether the ledger is open (WAL only) or closed.
// A control proves the scan finds what is stored in the clear.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "crypto/hash.h"
#include "storage/ledger.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::storage {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::ListFilesRecursive;
using ::carelog::testing::ReadFileOrEmpty;
using ::carelog::testing::TempDir;
using ::carelog::testing::TestKek;
using ::carelog::testing::TestLedgerOptions;

constexpr int kMarkers = 9;

std::string Marker(int n) {
  return absl::StrCat("SYNTHETIC-PATIENT-MARKER-", 1000 + n);
}

// Payload sizes: tiny, typical, one RocksDB block, and 100 KB (larger than a
// block, so it is split across WAL records/blocks in the clear if at all).
size_t PayloadSize(int n) {
  static const size_t kSizes[] = {0, 64, 4096, 100 * 1024};
  return kSizes[n % 4];
}

// A payload holding the marker several times, padded with filler that does not
// contain it.
std::string PayloadWithMarker(int n) {
  const std::string m = Marker(n);
  std::string p = absl::StrCat("{\"name\":\"", m, "\",\"note\":\"");
  while (p.size() < PayloadSize(n))
    p.append("synthetic free text lorem ipsum ");
  p.append(m);
  p.append("\"}");
  return p;
}

struct Hit {
  std::string file;
  std::string needle;
};

// Every occurrence of any needle in any regular file under `dir`.
std::vector<Hit> Scan(const std::string& dir,
                      const std::vector<std::string>& needles) {
  std::vector<Hit> hits;
  for (const std::string& file : ListFilesRecursive(dir)) {
    const std::string contents = ReadFileOrEmpty(file);
    for (const std::string& n : needles) {
      if (contents.find(n) != std::string::npos)
        hits.push_back({file, n});
    }
  }
  return hits;
}

std::string DescribeHits(const std::vector<Hit>& hits) {
  std::string out;
  for (const Hit& h : hits)
    absl::StrAppend(&out, h.file, " contains ", h.needle, "\n");
  return out;
}

std::vector<std::string> AllMarkers() {
  std::vector<std::string> v;
  for (int i = 0; i < kMarkers; ++i)
    v.push_back(Marker(i));
  return v;
}

// The raw KEK and its hex forms.
std::vector<std::string> KekForms() {
  auto kek = TestKek();
  const std::string raw(reinterpret_cast<const char*>(kek->data()),
                        kek->size());
  std::string lower = crypto::BytesToHex(raw);
  std::string upper = lower;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  return {raw, lower, upper};
}

bool HasFileEndingIn(const std::string& dir, absl::string_view suffix) {
  for (const std::string& f : ListFilesRecursive(dir)) {
    if (f.size() >= suffix.size() &&
        f.compare(f.size() - suffix.size(), suffix.size(), suffix.data(),
                  suffix.size()) == 0) {
      return true;
    }
  }
  return false;
}

// Appends one command per marker, cycling key classes (subject, system,
// audit), on streams whose ids carry no marker.
void AppendMarkers(Ledger* ledger, int from, int to) {
  for (int i = from; i < to; ++i) {
    AppendRequest r;
    r.command_id = absl::StrCat("plain-", i);
    StreamAppend sa;
    sa.stream_id = absl::StrCat("patient/p", i % 3);
    NewEvent ev;
    ev.event_type = "carelog.test.Noted";
    ev.payload = PayloadWithMarker(i);
    switch (i % 3) {
      case 0:
        ev.key_class = KeyClass::kSubject;
        ev.subject_id = absl::StrCat("subj-", i);
        break;
      case 1:
        ev.key_class = KeyClass::kSystem;
        break;
      default:
        ev.key_class = KeyClass::kAudit;
        break;
    }
    sa.events.push_back(std::move(ev));
    r.streams.push_back(std::move(sa));
    ASSERT_THAT(ledger->Append(r), IsOk());
  }
}

TEST(PlaintextTest, PayloadMarkersNeverReachTheDataDirectory) {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  {
    auto l = Ledger::Open(TestLedgerOptions(dir));
    ASSERT_THAT(l, IsOk());
    AppendMarkers(l->get(), 0, kMarkers / 2);
    // The payloads round-trip, so they were really written.
    auto ev = (*l)->ReadAt(1);
    ASSERT_THAT(ev, IsOk());
    auto plain = (*l)->Decrypt(*ev);
    ASSERT_THAT(plain, IsOk());
    EXPECT_EQ(*plain, PayloadWithMarker(0));
  }
  // Reopening replays the WAL into SST files; append more on top so the
  // directory then holds both SSTs and a live WAL.
  {
    auto l = Ledger::Open(TestLedgerOptions(dir));
    ASSERT_THAT(l, IsOk());
    AppendMarkers(l->get(), kMarkers / 2, kMarkers);
    ASSERT_EQ((*l)->GetHead().position, static_cast<uint64_t>(kMarkers));
  }
  ASSERT_TRUE(HasFileEndingIn(dir, ".sst"));
  ASSERT_TRUE(HasFileEndingIn(dir, ".log"));
  ASSERT_TRUE(HasFileEndingIn(dir, "/LOG"));
  ASSERT_TRUE(HasFileEndingIn(dir, "/CURRENT"));
  const std::vector<Hit> hits = Scan(dir, AllMarkers());
  EXPECT_TRUE(hits.empty()) << DescribeHits(hits);
}

// While the ledger is open everything lives in the WAL and memtables: scan the
// live directory and a copy taken before close.
TEST(PlaintextTest, PayloadMarkersNeverReachTheWalOfAnOpenLedger) {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  const std::string copy = tmp.Sub("copy");
  auto l = Ledger::Open(TestLedgerOptions(dir));
  ASSERT_THAT(l, IsOk());
  AppendMarkers(l->get(), 0, kMarkers);
  std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive);
  ASSERT_TRUE(HasFileEndingIn(copy, ".log"));
  std::vector<Hit> hits = Scan(dir, AllMarkers());
  EXPECT_TRUE(hits.empty()) << DescribeHits(hits);
  hits = Scan(copy, AllMarkers());
  EXPECT_TRUE(hits.empty()) << DescribeHits(hits);
  // The copy taken mid-flight recovers to the full, verified log.
  l->reset();
  VerifyReport r = VerifyDataDir(copy);
  EXPECT_THAT(r.status, IsOk());
  EXPECT_EQ(r.verified_head.position, static_cast<uint64_t>(kMarkers));
}

TEST(PlaintextTest, KekAndUnwrappedDataKeysNeverReachTheDataDirectory) {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  std::vector<std::string> secrets = KekForms();
  {
    auto l = Ledger::Open(TestLedgerOptions(dir));
    ASSERT_THAT(l, IsOk());
    AppendMarkers(l->get(), 0, 6);
    // The unwrapped data keys, raw and hex, must not be stored either: only
    // their wrapped forms are.
    auto add_key = [&](KeyClass cls, const std::string& subject) {
      auto k = (*l)->key_ring().KeyForOpen(cls, subject);
      ASSERT_THAT(k, IsOk());
      const std::string raw(reinterpret_cast<const char*>((*k)->data()),
                            (*k)->size());
      secrets.push_back(raw);
      secrets.push_back(crypto::BytesToHex(raw));
    };
    add_key(KeyClass::kSystem, "");
    add_key(KeyClass::kAudit, "");
    add_key(KeyClass::kSubject, "subj-0");
    add_key(KeyClass::kSubject, "subj-3");
    std::vector<Hit> hits = Scan(dir, secrets);
    EXPECT_TRUE(hits.empty()) << hits.size() << " secret(s) found while open";
  }
  const std::vector<Hit> hits = Scan(dir, secrets);
  // Do not print the secrets themselves; file names are enough.
  std::string files;
  for (const Hit& h : hits)
    absl::StrAppend(&files, h.file, "\n");
  EXPECT_TRUE(hits.empty()) << hits.size() << " secret(s) found in:\n" << files;
}

// Control: the same scan finds a marker that is stored in the clear (as part
// of a stream id, which is header data), open and closed.
TEST(PlaintextTest, ControlMarkerInStreamIdIsFound) {
  TempDir tmp;
  const std::string dir = tmp.Sub("control");
  const std::string marker = "SYNTHETIC-PATIENT-MARKER-CONTROL";
  {
    auto l = Ledger::Open(TestLedgerOptions(dir));
    ASSERT_THAT(l, IsOk());
    ASSERT_THAT((*l)->Append(carelog::testing::OneEvent(
                    "control-1", absl::StrCat("control/", marker), "x")),
                IsOk());
    const std::vector<Hit> hits = Scan(dir, {marker});
    ASSERT_FALSE(hits.empty());
    EXPECT_THAT(hits.front().file, ::testing::EndsWith(".log"));
  }
  EXPECT_FALSE(Scan(dir, {marker}).empty());
  // And after a reopen has moved it into an SST file.
  {
    auto l = Ledger::Open(TestLedgerOptions(dir));
    ASSERT_THAT(l, IsOk());
  }
  bool in_sst = false;
  for (const Hit& h : Scan(dir, {marker})) {
    if (absl::string_view(h.file).substr(h.file.size() - 4) == ".sst")
      in_sst = true;
  }
  EXPECT_TRUE(in_sst);
}

}  // namespace
}  // namespace carelog::storage
