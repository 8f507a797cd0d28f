#include "storage/ledger.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::storage {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::OneEvent;
using ::carelog::testing::OpenTestLedger;
using ::carelog::testing::StatusIs;
using ::carelog::testing::TempDir;
using ::carelog::testing::TestLedgerOptions;
using ::testing::HasSubstr;

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = OpenTestLedger(dir_.Sub("data"));
    ASSERT_THAT(l, IsOk());
    ledger_ = std::move(*l);
  }
  void Reopen() {
    ledger_.reset();
    auto l = OpenTestLedger(dir_.Sub("data"));
    ASSERT_THAT(l, IsOk());
    ledger_ = std::move(*l);
  }
  TempDir dir_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(LedgerTest, EmptyLedgerHasHeadZero) {
  Head h = ledger_->GetHead();
  EXPECT_EQ(h.position, 0u);
  EXPECT_THAT(ledger_->ReadAt(1), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ledger_->Verify().status, IsOk());
}

TEST_F(LedgerTest, AppendAssignsDensePositionsAndStreamVersions) {
  auto r1 = ledger_->Append(OneEvent("c1", "patient/p1", "alpha"));
  ASSERT_THAT(r1, IsOk());
  EXPECT_EQ(r1->first_position, 1u);
  EXPECT_EQ(r1->last_position, 1u);
  ASSERT_EQ(r1->streams.size(), 1u);
  EXPECT_EQ(r1->streams[0].first_version, 1u);
  auto r2 = ledger_->Append(OneEvent("c2", "patient/p2", "beta"));
  ASSERT_THAT(r2, IsOk());
  EXPECT_EQ(r2->first_position, 2u);
  EXPECT_EQ(r2->streams[0].first_version, 1u);
  auto r3 = ledger_->Append(OneEvent("c3", "patient/p1", "gamma"));
  ASSERT_THAT(r3, IsOk());
  EXPECT_EQ(r3->first_position, 3u);
  EXPECT_EQ(r3->streams[0].first_version, 2u);
  EXPECT_EQ(ledger_->GetHead().position, 3u);
  auto v = ledger_->StreamVersion("patient/p1");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(*v, 2u);
}

TEST_F(LedgerTest, ReadAtReturnsHeaderAndDecryptsPayload) {
  ASSERT_THAT(ledger_->Append(OneEvent("c1", "patient/p1", "synthetic-note")),
              IsOk());
  auto ev = ledger_->ReadAt(1);
  ASSERT_THAT(ev, IsOk());
  EXPECT_EQ(ev->header.position, 1u);
  EXPECT_EQ(ev->header.stream_id, "patient/p1");
  EXPECT_EQ(ev->header.stream_version, 1u);
  EXPECT_EQ(ev->header.subject_id, "subj-0001");
  EXPECT_EQ(ev->header.command_id, "c1");
  EXPECT_EQ(ev->header.event_type, "carelog.test.Noted");
  EXPECT_EQ(ev->ciphertext.find("synthetic-note"), std::string::npos);
  auto plain = ledger_->Decrypt(*ev);
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(*plain, "synthetic-note");
}

TEST_F(LedgerTest, MultiStreamCommandIsAtomicAndContiguous) {
  AppendRequest r;
  r.command_id = "book-1";
  for (const char* s : {"appointment/a1", "schedule/prov-1"}) {
    StreamAppend sa;
    sa.stream_id = s;
    sa.expected = ExpectedVersion::NoStream();
    sa.events.push_back(
        NewEvent{"carelog.test.Booked", "x", KeyClass::kSubject, "subj-9"});
    sa.events.push_back(
        NewEvent{"carelog.test.Noted", "y", KeyClass::kSystem, ""});
    r.streams.push_back(sa);
  }
  auto res = ledger_->Append(r);
  ASSERT_THAT(res, IsOk());
  EXPECT_EQ(res->first_position, 1u);
  EXPECT_EQ(res->last_position, 4u);
  EXPECT_EQ(res->streams[1].stream_id, "schedule/prov-1");
  EXPECT_EQ(res->streams[1].first_version, 1u);
  EXPECT_EQ(res->streams[1].last_version, 2u);
}

TEST_F(LedgerTest, ExpectedVersionMismatchAbortsWholeCommandNamingStream) {
  ASSERT_THAT(ledger_->Append(OneEvent("c1", "patient/p1", "a")), IsOk());
  AppendRequest r;
  r.command_id = "c2";
  r.streams.push_back(StreamAppend{
      "patient/p2",
      ExpectedVersion::NoStream(),
      {NewEvent{"carelog.test.Noted", "b", KeyClass::kSystem, ""}}});
  r.streams.push_back(StreamAppend{
      "patient/p1",
      ExpectedVersion::Exact(5),
      {NewEvent{"carelog.test.Noted", "c", KeyClass::kSystem, ""}}});
  auto res = ledger_->Append(r);
  EXPECT_THAT(res, StatusIs(absl::StatusCode::kAborted,
                            AllOf(HasSubstr("patient/p1"),
                                  HasSubstr("expected version 5"),
                                  HasSubstr("actual version 1"))));
  EXPECT_EQ(ledger_->GetHead().position, 1u);
  auto v = ledger_->StreamVersion("patient/p2");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(*v, 0u);
}

TEST_F(LedgerTest, ExpectedVersionForms) {
  EXPECT_THAT(ledger_->Append(
                  OneEvent("a", "s/1", "x", ExpectedVersion::StreamExists())),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(
      ledger_->Append(OneEvent("b", "s/1", "x", ExpectedVersion::NoStream())),
      IsOk());
  EXPECT_THAT(
      ledger_->Append(OneEvent("c", "s/1", "x", ExpectedVersion::NoStream())),
      StatusIs(absl::StatusCode::kAborted, HasSubstr("expected no stream")));
  EXPECT_THAT(
      ledger_->Append(OneEvent("d", "s/1", "x", ExpectedVersion::Exact(1))),
      IsOk());
  EXPECT_THAT(ledger_->Append(
                  OneEvent("e", "s/1", "x", ExpectedVersion::StreamExists())),
              IsOk());
  EXPECT_THAT(
      ledger_->Append(OneEvent("f", "s/1", "x", ExpectedVersion::Any())),
      IsOk());
  EXPECT_THAT(
      ledger_->Append(OneEvent("g", "s/2", "x", ExpectedVersion::Exact(0))),
      IsOk());
  EXPECT_EQ(ledger_->GetHead().position, 5u);
}

TEST_F(LedgerTest, RetryWithSameCommandIdAppendsNothing) {
  auto first = ledger_->Append(OneEvent("cmd-1", "patient/p1", "a"));
  ASSERT_THAT(first, IsOk());
  EXPECT_FALSE(first->duplicate);
  auto again = ledger_->Append(OneEvent("cmd-1", "patient/p1", "a"));
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->first_position, first->first_position);
  EXPECT_EQ(ledger_->GetHead().position, 1u);
}

TEST_F(LedgerTest, RetryAfterRestartReturnsOriginalPositions) {
  ASSERT_THAT(ledger_->Append(OneEvent("cmd-0", "patient/p0", "z")), IsOk());
  auto first = ledger_->Append(OneEvent("cmd-1", "patient/p1", "a"));
  ASSERT_THAT(first, IsOk());
  Reopen();
  auto again = ledger_->Append(OneEvent("cmd-1", "patient/p1", "a"));
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->first_position, 2u);
  EXPECT_EQ(ledger_->GetHead().position, 2u);
}

TEST_F(LedgerTest, ReusedCommandIdWithOtherContentIsRejected) {
  ASSERT_THAT(ledger_->Append(OneEvent("cmd-1", "patient/p1", "a")), IsOk());
  EXPECT_THAT(ledger_->Append(OneEvent("cmd-1", "patient/p1", "different")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("cmd-1")));
  EXPECT_EQ(ledger_->GetHead().position, 1u);
}

TEST_F(LedgerTest, FingerprintMaterialDecidesWhatCountsAsTheSameCommand) {
  // Payloads differ (per-attempt metadata) but the material is the same: a
  // retry.
  AppendRequest first = OneEvent("cmd-m", "patient/p1", "attempt-1");
  first.fingerprint_material = "client-request-bytes";
  auto r1 = ledger_->Append(first);
  ASSERT_THAT(r1, IsOk());
  AppendRequest retry = OneEvent("cmd-m", "patient/p1", "attempt-2");
  retry.fingerprint_material = "client-request-bytes";
  auto found = ledger_->FindCommitted(retry);
  ASSERT_THAT(found, IsOk());
  EXPECT_TRUE(found->duplicate);
  EXPECT_EQ(found->first_position, r1->first_position);
  auto r2 = ledger_->Append(retry);
  ASSERT_THAT(r2, IsOk());
  EXPECT_TRUE(r2->duplicate);
  EXPECT_EQ(ledger_->GetHead().position, 1u);
  AppendRequest other = OneEvent("cmd-m", "patient/p1", "attempt-1");
  other.fingerprint_material = "another-request";
  EXPECT_THAT(ledger_->FindCommitted(other),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(ledger_->Append(other),
              StatusIs(absl::StatusCode::kAlreadyExists));
  AppendRequest fresh = OneEvent("cmd-new", "patient/p1", "x");
  fresh.fingerprint_material = "m";
  EXPECT_THAT(ledger_->FindCommitted(fresh),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(LedgerTest, ConcurrentDuplicatesInOneGroupCommitOnce) {
  std::vector<absl::StatusOr<AppendResult>> results(8, absl::UnknownError(""));
  std::vector<std::unique_ptr<absl::Notification>> done;
  for (int i = 0; i < 8; ++i)
    done.push_back(std::make_unique<absl::Notification>());
  for (int i = 0; i < 8; ++i) {
    ledger_->AppendAsync(OneEvent("same", "patient/p1", "a"),
                         [&, i](absl::StatusOr<AppendResult> r) {
                           results[i] = std::move(r);
                           done[i]->Notify();
                         });
  }
  for (auto& d : done)
    d->WaitForNotification();
  int fresh = 0;
  for (auto& r : results) {
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->first_position, 1u);
    fresh += r->duplicate ? 0 : 1;
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(ledger_->GetHead().position, 1u);
}

TEST_F(LedgerTest, InvalidRequestsNameTheFieldAndWriteNothing) {
  struct Case {
    std::string name;
    AppendRequest req;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({"empty command id", OneEvent("", "s/1", "x"), "command_id"});
  cases.push_back(
      {"bad command id", OneEvent("a b", "s/1", "x"), "command_id"});
  cases.push_back(
      {"empty stream", OneEvent("c", "", "x"), "streams[0].stream_id"});
  cases.push_back({"long stream", OneEvent("c", std::string(129, 's'), "x"),
                   "streams[0].stream_id"});
  cases.push_back({"nul in stream", OneEvent("c", std::string("s\0x", 3), "x"),
                   "streams[0].stream_id"});
  cases.push_back({"payload too big",
                   OneEvent("c", "s/1", std::string((1 << 20) + 1, 'x')),
                   "streams[0].events[0].payload"});
  cases.push_back({"subject key without subject",
                   OneEvent("c", "s/1", "x", ExpectedVersion::Any(), ""), ""});
  cases.back().req.streams[0].events[0].key_class = KeyClass::kSubject;
  cases.back().field = "streams[0].events[0].subject_id";
  AppendRequest unknown_form = OneEvent("c", "s/1", "x");
  unknown_form.streams[0].expected.kind = static_cast<ExpectedKind>(9);
  cases.push_back(
      {"unknown expected form", unknown_form, "streams[0].expected"});
  AppendRequest no_streams;
  no_streams.command_id = "c";
  cases.push_back({"no streams", no_streams, "streams"});
  AppendRequest no_events = OneEvent("c", "s/1", "x");
  no_events.streams[0].events.clear();
  cases.push_back({"no events", no_events, "streams[0].events"});
  AppendRequest too_many = OneEvent("c", "s/1", "x");
  too_many.streams[0].events.resize(1001, too_many.streams[0].events[0]);
  cases.push_back({"too many events", too_many, "streams"});
  AppendRequest twice = OneEvent("c", "s/1", "x");
  twice.streams.push_back(twice.streams[0]);
  cases.push_back({"same stream twice", twice, "streams[1].stream_id"});
  AppendRequest bad_type = OneEvent("c", "s/1", "x");
  bad_type.streams[0].events[0].event_type = "has space";
  cases.push_back(
      {"bad event type", bad_type, "streams[0].events[0].event_type"});
  AppendRequest bad_class = OneEvent("c", "s/1", "x");
  bad_class.streams[0].events[0].key_class = static_cast<KeyClass>(7);
  cases.push_back(
      {"bad key class", bad_class, "streams[0].events[0].key_class"});

  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(
        ledger_->Append(c.req),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field + ":")));
  }
  EXPECT_EQ(ledger_->GetHead().position, 0u);
}

TEST_F(LedgerTest, ReadAllPagesForwardAndBackward) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_THAT(ledger_->Append(OneEvent("c" + std::to_string(i),
                                         "s/" + std::to_string(i % 3), "x")),
                IsOk());
  }
  std::vector<uint64_t> seen;
  uint64_t from = 1;
  while (from != 0) {
    auto page = ledger_->ReadAll(from, 4);
    ASSERT_THAT(page, IsOk());
    for (auto& e : page->events)
      seen.push_back(e.header.position);
    from = page->next;
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  auto back = ledger_->ReadAll(0, 3, Direction::kBackward);
  ASSERT_THAT(back, IsOk());
  ASSERT_EQ(back->events.size(), 3u);
  EXPECT_EQ(back->events[0].header.position, 10u);
  EXPECT_EQ(back->events[2].header.position, 8u);
  EXPECT_EQ(back->next, 7u);
  auto tail = ledger_->ReadAll(2, 5, Direction::kBackward);
  ASSERT_THAT(tail, IsOk());
  EXPECT_EQ(tail->events.size(), 2u);
  EXPECT_EQ(tail->next, 0u);
}

TEST_F(LedgerTest, ReadStreamPagesInVersionOrder) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_THAT(
        ledger_->Append(OneEvent("a" + std::to_string(i), "patient/p1", "x")),
        IsOk());
    ASSERT_THAT(
        ledger_->Append(OneEvent("b" + std::to_string(i), "patient/p10", "y")),
        IsOk());
  }
  auto p1 = ledger_->ReadStream("patient/p1", 0, 5);
  ASSERT_THAT(p1, IsOk());
  ASSERT_EQ(p1->events.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(p1->events[i].header.stream_id, "patient/p1");
    EXPECT_EQ(p1->events[i].header.stream_version, i + 1);
  }
  EXPECT_EQ(p1->next, 6u);
  auto p2 = ledger_->ReadStream("patient/p1", p1->next, 5);
  ASSERT_THAT(p2, IsOk());
  EXPECT_EQ(p2->events.size(), 2u);
  EXPECT_EQ(p2->next, 0u);
  auto back = ledger_->ReadStream("patient/p1", 0, 2, Direction::kBackward);
  ASSERT_THAT(back, IsOk());
  ASSERT_EQ(back->events.size(), 2u);
  EXPECT_EQ(back->events[0].header.stream_version, 7u);
  EXPECT_EQ(back->next, 5u);
  auto none = ledger_->ReadStream("patient/none", 0, 5);
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->events.empty());
}

TEST_F(LedgerTest, VerifyPassesAndHeadSurvivesRestart) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_THAT(ledger_->Append(OneEvent("c" + std::to_string(i),
                                         "s/" + std::to_string(i % 5), "x")),
                IsOk());
  }
  VerifyReport r = ledger_->Verify();
  ASSERT_THAT(r.status, IsOk());
  EXPECT_EQ(r.events_checked, 50u);
  const Head before = ledger_->GetHead();
  EXPECT_TRUE(
      crypto::DigestEquals(r.verified_head.chain_hash, before.chain_hash));
  Reopen();
  const Head after = ledger_->GetHead();
  EXPECT_EQ(after.position, 50u);
  EXPECT_TRUE(crypto::DigestEquals(after.chain_hash, before.chain_hash));
  EXPECT_THAT(ledger_->Verify(20, 30).status, IsOk());
  EXPECT_EQ(ledger_->Verify(20, 30).events_checked, 11u);
  auto r51 = ledger_->Append(OneEvent("c50", "s/0", "x"));
  ASSERT_THAT(r51, IsOk());
  EXPECT_EQ(r51->first_position, 51u);
}

TEST_F(LedgerTest, RecordedTimeNeverDecreases) {
  for (int i = 0; i < 20; ++i)
    ASSERT_THAT(ledger_->Append(OneEvent("c" + std::to_string(i), "s/1", "x")),
                IsOk());
  int64_t last = 0;
  for (uint64_t p = 1; p <= 20; ++p) {
    auto e = ledger_->ReadAt(p);
    ASSERT_THAT(e, IsOk());
    EXPECT_GE(e->header.recorded_at_micros, last);
    last = e->header.recorded_at_micros;
  }
}

TEST_F(LedgerTest, WrongKekIsRefusedAtOpen) {
  ASSERT_THAT(ledger_->Append(OneEvent("c1", "s/1", "x")), IsOk());
  ledger_.reset();
  auto other = Ledger::Open(TestLedgerOptions(dir_.Sub("data"), /*kek=*/1));
  EXPECT_THAT(
      other, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("KEK")));
}

TEST_F(LedgerTest, SecondOpenOfSameDirectoryIsRefused) {
  auto second = OpenTestLedger(dir_.Sub("data"));
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(LedgerTest, ErasedSubjectNoLongerDecryptsButChainVerifies) {
  ASSERT_THAT(ledger_->Append(OneEvent("c1", "patient/p1", "secret-1",
                                       ExpectedVersion::Any(), "subj-a")),
              IsOk());
  ASSERT_THAT(ledger_->Append(OneEvent("c2", "patient/p2", "secret-2",
                                       ExpectedVersion::Any(), "subj-b")),
              IsOk());
  ASSERT_THAT(ledger_->DestroySubjectKey("subj-a"), IsOk());
  auto e1 = ledger_->ReadAt(1);
  ASSERT_THAT(e1, IsOk());
  EXPECT_THAT(ledger_->Decrypt(*e1),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  auto e2 = ledger_->ReadAt(2);
  ASSERT_THAT(e2, IsOk());
  EXPECT_THAT(ledger_->Decrypt(*e2), IsOk());
  EXPECT_THAT(ledger_->Verify().status, IsOk());
  EXPECT_THAT(ledger_->Append(OneEvent("c3", "patient/p1", "more",
                                       ExpectedVersion::Any(), "subj-a")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  Reopen();
  auto again = ledger_->ReadAt(1);
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(ledger_->Decrypt(*again),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(LedgerTest, CiphertextSwappedBetweenEventsFailsToOpen) {
  ASSERT_THAT(ledger_->Append(OneEvent("c1", "patient/p1", "one")), IsOk());
  ASSERT_THAT(ledger_->Append(OneEvent("c2", "patient/p1", "two")), IsOk());
  auto a = ledger_->ReadAt(1);
  auto b = ledger_->ReadAt(2);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  StoredEvent moved = *a;
  moved.ciphertext = b->ciphertext;
  EXPECT_THAT(ledger_->Decrypt(moved), StatusIs(absl::StatusCode::kDataLoss));
  moved.header.nonce = b->header.nonce;  // even with its nonce
  EXPECT_THAT(ledger_->Decrypt(moved), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(LedgerTest, WaitForPositionWakesOnCommitAndTimesOut) {
  EXPECT_THAT(ledger_->WaitForPosition(1, absl::Now() + absl::Milliseconds(20)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  std::thread t([&] {
    ASSERT_THAT(ledger_->Append(OneEvent("c1", "s/1", "x")), IsOk());
  });
  EXPECT_THAT(ledger_->WaitForPosition(1, absl::Now() + absl::Seconds(30)),
              IsOk());
  t.join();
}

TEST_F(LedgerTest, CommitListenerSeesEveryBatch) {
  absl::Mutex mu;
  uint64_t last_head = 0;
  size_t events = 0;
  uint64_t id = ledger_->AddCommitListener([&](const CommitInfo& info) {
    absl::MutexLock l(&mu);
    last_head = info.head.position;
    events += info.events;
  });
  for (int i = 0; i < 5; ++i)
    ASSERT_THAT(ledger_->Append(OneEvent("c" + std::to_string(i), "s/1", "x")),
                IsOk());
  {
    absl::MutexLock l(&mu);
    EXPECT_EQ(last_head, 5u);
    EXPECT_EQ(events, 5u);
  }
  ledger_->RemoveCommitListener(id);
  ASSERT_THAT(ledger_->Append(OneEvent("c9", "s/1", "x")), IsOk());
  absl::MutexLock l(&mu);
  EXPECT_EQ(last_head, 5u);
}

TEST_F(LedgerTest, AppendAfterStopIsUnavailable) {
  ledger_->Stop();
  EXPECT_THAT(ledger_->Append(OneEvent("c1", "s/1", "x")),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(LedgerTest, StatsCountCommitsAndRejections) {
  ASSERT_THAT(ledger_->Append(OneEvent("c1", "s/1", "x")), IsOk());
  EXPECT_THAT(
      ledger_->Append(OneEvent("c2", "s/1", "x", ExpectedVersion::NoStream())),
      StatusIs(absl::StatusCode::kAborted));
  LedgerStats s = ledger_->Stats();
  EXPECT_EQ(s.events_committed, 1u);
  EXPECT_EQ(s.commands_committed, 1u);
  EXPECT_GE(s.commands_rejected, 1u);
  EXPECT_EQ(s.head.position, 1u);
}

}  // namespace
}  // namespace carelog::storage
