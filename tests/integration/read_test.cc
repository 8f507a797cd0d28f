// LedgerService reads over a real channel: head, paging of the global log and
// of one stream in both directions, envelope contents, and request
// validation.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "crypto/hash.h"
#include "tests/integration/harness.h"

namespace carelog::integration {
namespace {

using carelog::v1::EventEnvelope;
using carelog::v1::ReadAllRequest;
using carelog::v1::ReadResponse;
using carelog::v1::ReadStreamRequest;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kEvents = 25;
constexpr char kStream[] = "patient/p-0007";

std::string Bytes(const crypto::Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  if (first <= last) {
    for (uint64_t p = first; p <= last; ++p)
      v.push_back(p);
  } else {
    for (uint64_t p = first; p >= last && p > 0; --p)
      v.push_back(p);
  }
  return v;
}

class ServerReadTest : public ServerTest {
 protected:
  void SetUp() override {
    StartServer();
    // Every third event goes to kStream, the rest to other streams.
    for (int i = 1; i <= kEvents; ++i) {
      const std::string stream =
          i % 3 == 0 ? kStream : absl::StrCat("patient/p-", 100 + i % 4);
      AppendOne(absl::StrCat("cmd-", i), stream);
    }
    stub_ = NewStub();
  }

  grpc::Status ReadAll(const ReadAllRequest& req, ReadResponse* resp) {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    return stub_->ReadAll(&ctx, req, resp);
  }
  grpc::Status ReadStream(const ReadStreamRequest& req, ReadResponse* resp) {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    return stub_->ReadStream(&ctx, req, resp);
  }

  // Pages through the global log; returns positions in the order received.
  std::vector<uint64_t> PageAll(bool backwards, uint32_t page, int* pages) {
    std::vector<uint64_t> got;
    ReadAllRequest req;
    req.set_backwards(backwards);
    req.set_max_count(page);
    *pages = 0;
    for (;;) {
      ReadResponse resp;
      const grpc::Status s = ReadAll(req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok() || ++*pages > 100)
        break;
      EXPECT_LE(resp.events_size(), static_cast<int>(page));
      for (const auto& e : resp.events())
        got.push_back(e.header().position());
      if (resp.next() == 0)
        break;
      req.set_from_position(resp.next());
    }
    return got;
  }

  std::unique_ptr<carelog::v1::LedgerService::Stub> stub_;
};

TEST_F(ServerReadTest, GetHeadEqualsTheLedgersHead) {
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  carelog::v1::LedgerHead head;
  const grpc::Status s =
      stub_->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const storage::Head expected = server_->ledger()->GetHead();
  EXPECT_EQ(head.position(), static_cast<uint64_t>(kEvents));
  EXPECT_EQ(head.position(), expected.position);
  EXPECT_EQ(head.chain_hash(), Bytes(expected.chain_hash));
}

TEST_F(ServerReadTest, ReadAllPagesForwardsThroughEveryPositionOnce) {
  int pages = 0;
  EXPECT_THAT(PageAll(false, 10, &pages), ElementsAreArray(Range(1, kEvents)));
  EXPECT_EQ(pages, 3);
}

TEST_F(ServerReadTest, ReadAllPagesBackwardsFromTheHead) {
  int pages = 0;
  EXPECT_THAT(PageAll(true, 7, &pages), ElementsAreArray(Range(kEvents, 1)));
  EXPECT_EQ(pages, 4);
}

TEST_F(ServerReadTest, ReadAllFromAPositionStartsThere) {
  ReadAllRequest req;
  req.set_from_position(20);
  req.set_max_count(3);
  ReadResponse resp;
  ASSERT_TRUE(ReadAll(req, &resp).ok());
  ASSERT_EQ(resp.events_size(), 3);
  EXPECT_EQ(resp.events(0).header().position(), 20u);
  EXPECT_EQ(resp.next(), 23u);
}

TEST_F(ServerReadTest, ReadAllWithDefaultPageReturnsEverythingHere) {
  ReadResponse resp;
  ASSERT_TRUE(ReadAll(ReadAllRequest(), &resp).ok());  // max_count 0 means 100
  EXPECT_EQ(resp.events_size(), kEvents);
  EXPECT_EQ(resp.next(), 0u);
}

TEST_F(ServerReadTest, ReadStreamPagesForwardsAndBackwards) {
  const int stream_events = kEvents / 3;  // positions 3, 6, ..., 24
  std::vector<uint64_t> forwards, backwards, positions;
  for (bool back : {false, true}) {
    ReadStreamRequest req;
    req.set_stream_id(kStream);
    req.set_max_count(3);
    req.set_backwards(back);
    for (int pages = 0; pages < 20; ++pages) {
      ReadResponse resp;
      const grpc::Status s = ReadStream(req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      for (const auto& e : resp.events()) {
        EXPECT_EQ(e.header().stream_id(), kStream);
        (back ? backwards : forwards).push_back(e.header().stream_version());
        if (!back)
          positions.push_back(e.header().position());
      }
      if (resp.next() == 0)
        break;
      req.set_from_version(resp.next());
    }
  }
  EXPECT_THAT(forwards, ElementsAreArray(Range(1, stream_events)));
  EXPECT_THAT(backwards, ElementsAreArray(Range(stream_events, 1)));
  std::vector<uint64_t> expected_positions;
  for (int i = 3; i <= kEvents; i += 3)
    expected_positions.push_back(i);
  EXPECT_THAT(positions, ElementsAreArray(expected_positions));
}

TEST_F(ServerReadTest, UnknownStreamReadsEmpty) {
  ReadStreamRequest req;
  req.set_stream_id("patient/never-written");
  ReadResponse resp;
  ASSERT_TRUE(ReadStream(req, &resp).ok());
  EXPECT_EQ(resp.events_size(), 0);
  EXPECT_EQ(resp.next(), 0u);
}

TEST_F(ServerReadTest,
       EnvelopesCarryHeaderAndCiphertextDigestButNeverThePayload) {
  ReadAllRequest req;
  req.set_max_count(kEvents);
  ReadResponse resp;
  ASSERT_TRUE(ReadAll(req, &resp).ok());
  ASSERT_EQ(resp.events_size(), kEvents);
  for (const EventEnvelope& env : resp.events()) {
    const auto& h = env.header();
    SCOPED_TRACE(h.position());
    auto stored = server_->ledger()->ReadAt(h.position());
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(h.stream_id(), stored->header.stream_id);
    EXPECT_EQ(h.stream_version(), stored->header.stream_version);
    EXPECT_GE(h.stream_version(), 1u);
    EXPECT_EQ(h.event_type(), "carelog.test.Noted");
    EXPECT_EQ(h.command_id(), absl::StrCat("cmd-", h.position()));
    EXPECT_EQ(h.subject_id(), "subj-0001");
    EXPECT_EQ(h.key_class(), carelog::v1::KEY_CLASS_SUBJECT);
    EXPECT_EQ(h.recorded_at_micros(), stored->header.recorded_at_micros);
    EXPECT_GT(h.recorded_at_micros(), 0);
    EXPECT_EQ(h.event_id().size(), 16u);
    EXPECT_EQ(h.nonce().size(), 24u);
    EXPECT_EQ(env.chain_hash(), Bytes(stored->chain_hash));
    EXPECT_EQ(env.ciphertext_size(), stored->ciphertext.size());
    EXPECT_EQ(env.ciphertext_digest(),
              Bytes(crypto::Blake2b256(stored->ciphertext)));
  }
  // Neither the payload nor any part of it crosses the wire.
  EXPECT_THAT(resp.SerializeAsString(), Not(HasSubstr(kPayloadMarker)));
  EXPECT_THAT(resp.SerializeAsString(), Not(HasSubstr("synthetic note")));
}

TEST_F(ServerReadTest, ChainHashesLinkConsecutiveEnvelopes) {
  // The last envelope's chain hash is the head's: the client sees the chain
  // the ledger committed to.
  ReadAllRequest req;
  req.set_backwards(true);
  req.set_max_count(1);
  ReadResponse resp;
  ASSERT_TRUE(ReadAll(req, &resp).ok());
  ASSERT_EQ(resp.events_size(), 1);
  EXPECT_EQ(resp.events(0).chain_hash(),
            Bytes(server_->ledger()->GetHead().chain_hash));
}

TEST_F(ServerReadTest,
       MaxCountAboveOneThousandIsInvalidArgumentNamingMaxCount) {
  ReadAllRequest all;
  all.set_max_count(1001);
  ReadResponse resp;
  EXPECT_THAT(ReadAll(all, &resp),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "max_count"));
  ReadStreamRequest one;
  one.set_stream_id(kStream);
  one.set_max_count(5000);
  EXPECT_THAT(ReadStream(one, &resp),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "max_count"));
  all.set_max_count(1000);
  EXPECT_TRUE(ReadAll(all, &resp).ok());
}

TEST_F(ServerReadTest, BadStreamIdIsInvalidArgumentNamingStreamId) {
  ReadResponse resp;
  for (const std::string& id :
       {std::string("patient/has space"), std::string(), std::string(129, 'x'),
        std::string("patient/\xc3\xa9")}) {
    ReadStreamRequest req;
    req.set_stream_id(id);
    EXPECT_THAT(ReadStream(req, &resp),
                GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "stream_id"))
        << id;
  }
}

TEST_F(ServerReadTest, ReadsOfAnEmptyLedgerAreEmpty) {
  server_->Shutdown();
  server_.reset();
  config_.data_dir = dir_.Sub("empty");
  StartServer();
  stub_ = NewStub();
  ReadResponse resp;
  ASSERT_TRUE(ReadAll(ReadAllRequest(), &resp).ok());
  EXPECT_EQ(resp.events_size(), 0);
  EXPECT_EQ(resp.next(), 0u);
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  carelog::v1::LedgerHead head;
  ASSERT_TRUE(stub_->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head).ok());
  EXPECT_EQ(head.position(), 0u);
  EXPECT_EQ(head.chain_hash(), std::string(32, '\0'));
}

}  // namespace
}  // namespace carelog::integration
