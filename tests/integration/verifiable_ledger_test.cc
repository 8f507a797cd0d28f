// VerifiableLedgerService over a real channel, and `carelogctl verify
// --online`'s verifier (ops/carelogctl/verify_online.h) against the real
// server and against a lying one: the published key, signed checkpoints,
// inclusion and consistency proofs that verify client-side, a trusted state
// that advances only through a verified consistency proof, and precise
// refusals of forged notes, bad proofs, rollbacks and forks.
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/proofs.grpc.pb.h"
#include "crypto/key_file.h"
#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "ops/carelogctl/verify_online.h"
#include "storage/ledger.h"
#include "storage/merkle.h"
#include "tests/integration/harness.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"

namespace carelog::integration {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using carelog::v1::VerifiableLedgerService;
using ::testing::HasSubstr;

constexpr char kOrigin[] = "carelog.test/verifiable";

class VerifiableLedgerTest : public ServerTest {
 protected:
  void SetUp() override {
    key_path_ = dir_.Sub("checkpoint.key");
    auto k = crypto::CreateKeyFile(key_path_);
    ASSERT_THAT(k, IsOk());
    config_.signing_key_file = key_path_;
    config_.checkpoint_origin = kOrigin;
    config_.checkpoint_every_events = 0;  // on demand only: deterministic sizes
    config_.checkpoint_interval_seconds = 0;
    StartServer();
    stub_ = VerifiableLedgerService::NewStub(InsecureChannel(server_->port()));
    auto v = crypto::ParseNoteVerifierKey(
        server_->ledger()->CheckpointVerifierKey());
    ASSERT_THAT(v, IsOk());
    key_ = *v;
  }

  void Append(int n) {
    for (int i = 0; i < n; ++i)
      AppendOne(absl::StrCat("cmd-", next_++), "patient/p-0001");
  }

  carelog::v1::Checkpoint MakeCheckpoint() {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    carelog::v1::Checkpoint cp;
    grpc::Status s =
        stub_->MakeCheckpoint(&ctx, carelog::v1::MakeCheckpointRequest(), &cp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return cp;
  }

  std::unique_ptr<ctl::ProofClient> RealClient() {
    return ctl::NewGrpcProofClient(InsecureChannel(server_->port()),
                                   [this](grpc::ClientContext* c) {
                                     Authorize(c, Token());
                                     return absl::OkStatus();
                                   });
  }

  std::string key_path_;
  crypto::NoteVerifier key_;
  std::unique_ptr<VerifiableLedgerService::Stub> stub_;
  int next_ = 0;
};

TEST_F(VerifiableLedgerTest, PublicKeyIsPublishedThroughTheApiAndAFile) {
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  carelog::v1::CheckpointPublicKey pk;
  ASSERT_TRUE(
      stub_->GetPublicKey(&ctx, carelog::v1::GetPublicKeyRequest(), &pk).ok());
  EXPECT_EQ(pk.origin(), kOrigin);
  EXPECT_EQ(pk.verifier_key(), crypto::NoteVerifierKey(kOrigin, key_.key));
  EXPECT_EQ(pk.ed25519_public_key(),
            std::string(reinterpret_cast<const char*>(key_.key.data()), 32));
  const std::string file = carelog::testing::ReadFileOrEmpty(
      absl::StrCat(config_.data_dir, "/", services::kCheckpointPublicKeyFile));
  EXPECT_EQ(absl::StripTrailingAsciiWhitespace(file), pk.verifier_key());
}

TEST_F(VerifiableLedgerTest,
       ProofsFromTheServerVerifyAgainstSignedCheckpoints) {
  Append(6);
  const carelog::v1::Checkpoint cp1 = MakeCheckpoint();
  Append(7);
  const carelog::v1::Checkpoint cp2 = MakeCheckpoint();
  auto c1 = storage::OpenCheckpoint(cp1.note(), key_);
  auto c2 = storage::OpenCheckpoint(cp2.note(), key_);
  ASSERT_THAT(c1, IsOk());
  ASSERT_THAT(c2, IsOk());
  EXPECT_EQ(c1->tree_size, 6u);
  EXPECT_EQ(c2->tree_size, 13u);

  // Consistency 6 → 13.
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    carelog::v1::GetConsistencyProofRequest req;
    req.set_old_size(6);
    req.set_new_size(13);
    carelog::v1::ConsistencyProof proof;
    ASSERT_TRUE(stub_->GetConsistencyProof(&ctx, req, &proof).ok());
    auto hashes = crypto::DigestsFromBytes(
        {proof.hashes().begin(), proof.hashes().end()}, "hashes");
    ASSERT_THAT(hashes, IsOk());
    EXPECT_THAT(crypto::VerifyConsistency(6, 13, *hashes, c1->root, c2->root),
                IsOk());
  }
  // Every event of the log, with its proof against the latest checkpoint.
  for (uint64_t pos = 1; pos <= 13; ++pos) {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    carelog::v1::GetVerifiedEventRequest req;
    req.set_position(pos);
    carelog::v1::VerifiedEvent ev;
    ASSERT_TRUE(stub_->GetVerifiedEvent(&ctx, req, &ev).ok());
    EXPECT_EQ(ev.checkpoint().note(), cp2.note());
    EXPECT_EQ(ev.envelope().header().position(), pos);
    auto hashes = crypto::DigestsFromBytes(
        {ev.proof().hashes().begin(), ev.proof().hashes().end()}, "hashes");
    ASSERT_THAT(hashes, IsOk());
    EXPECT_THAT(crypto::VerifyInclusion(
                    pos - 1, 13, crypto::MerkleLeafHash(ev.stored_record()),
                    *hashes, c2->root),
                IsOk());
    // Payloads stay encrypted.
    EXPECT_THAT(ev.stored_record(), ::testing::Not(HasSubstr(kPayloadMarker)));
  }
  // Inclusion proof at an explicit older size.
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    carelog::v1::GetInclusionProofRequest req;
    req.set_position(4);
    req.set_tree_size(6);
    carelog::v1::InclusionProof proof;
    ASSERT_TRUE(stub_->GetInclusionProof(&ctx, req, &proof).ok());
    EXPECT_EQ(proof.leaf_index(), 3u);
    auto ev = server_->ledger()->ReadAt(4);
    ASSERT_THAT(ev, IsOk());
    auto hashes = crypto::DigestsFromBytes(
        {proof.hashes().begin(), proof.hashes().end()}, "hashes");
    ASSERT_THAT(hashes, IsOk());
    EXPECT_THAT(
        crypto::VerifyInclusion(3, 6, crypto::MerkleLeafHash(ev->stored_bytes),
                                *hashes, c1->root),
        IsOk());
  }
  // Listing.
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    carelog::v1::ListCheckpointsRequest req;
    req.set_max_count(1);
    carelog::v1::ListCheckpointsResponse resp;
    ASSERT_TRUE(stub_->ListCheckpoints(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.checkpoints_size(), 1);
    EXPECT_EQ(resp.checkpoints(0).tree_size(), 6u);
    EXPECT_EQ(resp.next(), 13u);
  }
}

TEST_F(VerifiableLedgerTest, BadRequestsAndUnauthorizedCallersAreRefused) {
  Append(3);
  MakeCheckpoint();
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    carelog::v1::GetInclusionProofRequest req;
    req.set_position(4);
    req.set_tree_size(3);
    carelog::v1::InclusionProof proof;
    EXPECT_THAT(stub_->GetInclusionProof(&ctx, req, &proof),
                GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "position"));
  }
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    carelog::v1::GetConsistencyProofRequest req;
    req.set_old_size(3);
    req.set_new_size(99);
    carelog::v1::ConsistencyProof proof;
    EXPECT_THAT(stub_->GetConsistencyProof(&ctx, req, &proof),
                GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "new_size"));
  }
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    carelog::v1::GetCheckpointRequest req;
    req.set_tree_size(2);
    carelog::v1::Checkpoint cp;
    EXPECT_THAT(stub_->GetCheckpoint(&ctx, req, &cp),
                GrpcStatusIs(grpc::StatusCode::NOT_FOUND, "tree size 2"));
  }
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    carelog::v1::Checkpoint cp;
    EXPECT_EQ(
        stub_->GetCheckpoint(&ctx, carelog::v1::GetCheckpointRequest(), &cp)
            .error_code(),
        grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, TokenWithRoles({"front-desk"}));
    carelog::v1::Checkpoint cp;
    EXPECT_EQ(
        stub_->GetCheckpoint(&ctx, carelog::v1::GetCheckpointRequest(), &cp)
            .error_code(),
        grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_F(VerifiableLedgerTest,
       OnlineVerifierAdvancesTrustedStateThroughConsistency) {
  Append(5);
  auto client = RealClient();
  ctl::OnlineVerifyOptions o;
  o.key = key_;
  o.state_file = dir_.Sub("trusted");
  o.make_checkpoint = true;
  o.positions = {1, 5};
  auto first = ctl::VerifyOnline(*client, o);
  ASSERT_THAT(first, IsOk());
  EXPECT_FALSE(first->had_state);
  EXPECT_EQ(first->verified.tree_size, 5u);
  Append(9);
  o.positions = {3, 14};
  auto second = ctl::VerifyOnline(*client, o);
  ASSERT_THAT(second, IsOk());
  EXPECT_TRUE(second->had_state);
  EXPECT_EQ(second->trusted_size, 5u);
  EXPECT_EQ(second->verified.tree_size, 14u);
  EXPECT_THAT(absl::StrJoin(second->lines, "\n"),
              HasSubstr("consistency: tree size 5 → 14 OK"));
  // The state file now holds the size-14 checkpoint.
  auto state = storage::OpenCheckpoint(
      carelog::testing::ReadFileOrEmpty(o.state_file), key_);
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->tree_size, 14u);
}

// Wraps the real server and lies in one way.
class LyingClient : public ctl::ProofClient {
 public:
  explicit LyingClient(std::unique_ptr<ctl::ProofClient> real)
      : real_(std::move(real)) {}
  absl::StatusOr<carelog::v1::Checkpoint> GetCheckpoint(uint64_t s) override {
    if (checkpoint_override_)
      return *checkpoint_override_;
    return real_->GetCheckpoint(s);
  }
  absl::StatusOr<carelog::v1::Checkpoint> MakeCheckpoint() override {
    return real_->MakeCheckpoint();
  }
  absl::StatusOr<carelog::v1::ConsistencyProof> GetConsistencyProof(
      uint64_t a, uint64_t b) override {
    auto p = real_->GetConsistencyProof(a, b);
    if (p.ok() && flip_consistency_ && p->hashes_size() > 0) {
      std::string* h = p->mutable_hashes(0);
      (*h)[0] ^= 0x01;
    }
    if (p.ok() && truncate_consistency_ && p->hashes_size() > 0)
      p->mutable_hashes()->RemoveLast();
    return p;
  }
  absl::StatusOr<carelog::v1::VerifiedEvent> GetVerifiedEvent(
      uint64_t pos, uint64_t size) override {
    auto e = real_->GetVerifiedEvent(
        substitute_position_ ? substitute_position_ : pos, size);
    if (e.ok() && substitute_position_ != 0) {
      // Claim it is the event asked for.
      e->mutable_proof()->set_position(pos);
      e->mutable_proof()->set_leaf_index(pos - 1);
    }
    return e;
  }

  std::unique_ptr<ctl::ProofClient> real_;
  std::optional<carelog::v1::Checkpoint> checkpoint_override_;
  bool flip_consistency_ = false;
  bool truncate_consistency_ = false;
  uint64_t substitute_position_ = 0;
};

class LyingServerTest : public VerifiableLedgerTest {
 protected:
  void SetUp() override {
    VerifiableLedgerTest::SetUp();
    Append(5);
    o_.key = key_;
    o_.state_file = dir_.Sub("trusted");
    o_.make_checkpoint = true;
    auto first = ctl::VerifyOnline(*RealClient(), o_);
    ASSERT_THAT(first, IsOk());
    state_before_ = carelog::testing::ReadFileOrEmpty(o_.state_file);
    Append(6);
    MakeCheckpoint();
    o_.make_checkpoint = false;
    liar_ = std::make_unique<LyingClient>(RealClient());
  }
  void ExpectStateUnchanged() {
    EXPECT_EQ(carelog::testing::ReadFileOrEmpty(o_.state_file), state_before_);
  }

  ctl::OnlineVerifyOptions o_;
  std::string state_before_;
  std::unique_ptr<LyingClient> liar_;
};

TEST_F(LyingServerTest, TamperedConsistencyProofIsRejected) {
  liar_->flip_consistency_ = true;
  EXPECT_THAT(ctl::VerifyOnline(*liar_, o_),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("consistency proof 5 → 11")));
  ExpectStateUnchanged();
  liar_->flip_consistency_ = false;
  liar_->truncate_consistency_ = true;
  EXPECT_THAT(ctl::VerifyOnline(*liar_, o_),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("hashes, want")));
  ExpectStateUnchanged();
}

TEST_F(LyingServerTest, CheckpointSignedByAnotherKeyIsRejected) {
  auto other = crypto::SigningKey::Generate();
  ASSERT_THAT(other, IsOk());
  auto real = server_->ledger()->LatestCheckpoint();
  ASSERT_THAT(real, IsOk());
  auto body = storage::CheckpointBody(kOrigin, real->tree_size, real->root,
                                      real->chain_head, real->time_micros);
  ASSERT_THAT(body, IsOk());
  auto forged = crypto::SignNote(*body, kOrigin, **other);
  ASSERT_THAT(forged, IsOk());
  carelog::v1::Checkpoint cp;
  cp.set_note(*forged);
  liar_->checkpoint_override_ = cp;
  EXPECT_THAT(ctl::VerifyOnline(*liar_, o_),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("server checkpoint signature")));
  ExpectStateUnchanged();
  // A malformed note.
  cp.set_note("carelog.test/verifiable\n11\nnot-base64\n\n\xE2\x80\x94 x y\n");
  liar_->checkpoint_override_ = cp;
  EXPECT_FALSE(ctl::VerifyOnline(*liar_, o_).ok());
  ExpectStateUnchanged();
}

TEST_F(LyingServerTest, RollbackToAnOlderCheckpointIsRejected) {
  // A genuinely signed checkpoint older than the trusted one (3 < 5).
  auto key = crypto::SigningKey::LoadFile(key_path_);
  ASSERT_THAT(key, IsOk());
  auto root3 = server_->ledger()->MerkleRoot(3);
  ASSERT_THAT(root3, IsOk());
  auto body = storage::CheckpointBody(kOrigin, 3, *root3, crypto::Digest{}, 1);
  ASSERT_THAT(body, IsOk());
  auto note = crypto::SignNote(*body, kOrigin, **key);
  ASSERT_THAT(note, IsOk());
  carelog::v1::Checkpoint cp;
  cp.set_note(*note);
  liar_->checkpoint_override_ = cp;
  EXPECT_THAT(ctl::VerifyOnline(*liar_, o_),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("rollback")));
  ExpectStateUnchanged();
}

TEST_F(LyingServerTest, ForkedTreeSignedWithTheSameKeyIsRejected) {
  // Another ledger, same key and origin, other events: a fork of the log.
  auto key = crypto::SigningKey::LoadFile(key_path_);
  ASSERT_THAT(key, IsOk());
  storage::LedgerOptions lo =
      carelog::testing::TestLedgerOptions(dir_.Sub("fork"));
  lo.checkpoints.key =
      std::shared_ptr<const crypto::SigningKey>(std::move(*key));
  lo.checkpoints.origin = kOrigin;
  lo.checkpoints.every_events = 0;
  lo.checkpoints.interval = absl::ZeroDuration();
  auto fork = storage::Ledger::Open(std::move(lo));
  ASSERT_THAT(fork, IsOk());
  for (int i = 0; i < 11; ++i) {
    ASSERT_THAT((*fork)->Append(carelog::testing::OneEvent(
                    absl::StrCat("fork-", i), "patient/p-9", "other")),
                IsOk());
  }
  auto forked = (*fork)->MakeCheckpoint();
  ASSERT_THAT(forked, IsOk());
  carelog::v1::Checkpoint cp;
  cp.set_note(forked->note);
  liar_->checkpoint_override_ = cp;
  // The signature is valid; the real server's consistency proof cannot link
  // the trusted size-5 root to the fork's size-11 root.
  EXPECT_THAT(ctl::VerifyOnline(*liar_, o_),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("consistency proof 5 → 11")));
  ExpectStateUnchanged();
}

TEST_F(LyingServerTest, AnotherEventPassedOffAsTheOneAskedForIsRejected) {
  liar_->substitute_position_ = 2;
  o_.positions = {7};
  EXPECT_THAT(ctl::VerifyOnline(*liar_, o_),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("inclusion of position 7")));
  ExpectStateUnchanged();
}

TEST_F(LyingServerTest, TamperedTrustedStateIsRefused) {
  std::string state = state_before_;
  state[0] = 'X';
  {
    std::ofstream out(o_.state_file, std::ios::trunc);
    out << state;
  }
  EXPECT_THAT(ctl::VerifyOnline(*liar_, o_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("trusted state")));
}

}  // namespace
}  // namespace carelog::integration
