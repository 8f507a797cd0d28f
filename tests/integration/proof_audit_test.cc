// Proof and event requests that concern audit events are audit queries
// themselves: VerifiableLedgerService records who asked for the proof of which
// audit event (AccessAudited on the same trail, with the position) durably
// before it replies, records denials too, fails closed when the record cannot
// be written, and leaves requests about other events unrecorded. The position
// asked about is the record's target_position (the method stays the plain
// RPC name), and audit exports show it; records written before that field
// existed still decode.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "carelog/v1/proofs.grpc.pb.h"
#include "crypto/key_file.h"
#include "services/audit/audit_format.h"
#include "services/domain/event_codec.h"
#include "tests/integration/harness.h"
#include "tests/testing/status_matchers.h"

namespace carelog::integration {
namespace {

using ::carelog::testing::IsOk;
using carelog::v1::AccessAudited;
using carelog::v1::VerifiableLedgerService;

constexpr char kMethodPrefix[] = "/carelog.v1.VerifiableLedgerService/";

class ProofAuditTest : public ServerTest {
 protected:
  void SetUp() override {
    auto k = crypto::CreateKeyFile(dir_.Sub("checkpoint.key"));
    ASSERT_THAT(k, IsOk());
    config_.signing_key_file = dir_.Sub("checkpoint.key");
    config_.checkpoint_every_events = 0;
    config_.checkpoint_interval_seconds = 0;
    StartServer();
    stub_ = VerifiableLedgerService::NewStub(InsecureChannel(server_->port()));
  }

  uint64_t Head() { return server_->ledger()->GetHead().position; }

  grpc::Status Inclusion(uint64_t position, uint64_t tree_size,
                         const std::string& token,
                         carelog::v1::InclusionProof* proof) {
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    carelog::v1::GetInclusionProofRequest req;
    req.set_position(position);
    req.set_tree_size(tree_size);
    return stub_->GetInclusionProof(&ctx, req, proof);
  }

  // The audit record at `position`, with its stream.
  AccessAudited RecordAt(uint64_t position, std::string* stream) {
    auto ev = server_->ledger()->ReadAt(position);
    EXPECT_THAT(ev, IsOk());
    if (!ev.ok())
      return {};
    *stream = ev->header.stream_id;
    EXPECT_EQ(ev->header.key_class, crypto::KeyClass::kAudit);
    auto decoded = services::DecodeEvent(*server_->ledger(), *ev);
    EXPECT_THAT(decoded, IsOk());
    AccessAudited a;
    EXPECT_TRUE(decoded.ok() && decoded->As(&a));
    return a;
  }

  // The valueString of the FHIR AuditEvent's entity detail `type` ("" when
  // there is none).
  static std::string FhirDetail(const carelog::v1::AuditRecord& rec,
                                const std::string& type) {
    auto json = services::audit::FhirAuditEventJson(rec);
    EXPECT_THAT(json, IsOk());
    google::protobuf::Struct ev;
    if (!json.ok() ||
        !google::protobuf::util::JsonStringToMessage(*json, &ev).ok()) {
      ADD_FAILURE() << "not JSON";
      return "";
    }
    for (const auto& entity : ev.fields().at("entity").list_value().values()) {
      const auto& f = entity.struct_value().fields();
      if (f.find("detail") == f.end())
        continue;
      for (const auto& d : f.at("detail").list_value().values()) {
        const auto& df = d.struct_value().fields();
        if (df.at("type").string_value() == type)
          return df.at("valueString").string_value();
      }
    }
    return "";
  }

  std::unique_ptr<VerifiableLedgerService::Stub> stub_;
};

TEST_F(ProofAuditTest, ProofOfAnAuditEventIsRecordedOnTheSameTrail) {
  AppendOne("c-1", "patient/p-0001");
  const uint64_t audited = AppendOne("c-2", "audit/p-0001").last_position;
  carelog::v1::InclusionProof proof;
  ASSERT_TRUE(Inclusion(audited, audited, Token(), &proof).ok());
  EXPECT_EQ(proof.position(), audited);
  ASSERT_EQ(Head(), audited + 1);
  std::string stream;
  const AccessAudited a = RecordAt(audited + 1, &stream);
  EXPECT_EQ(stream, "audit/p-0001");
  EXPECT_EQ(a.patient_id(), "p-0001");
  EXPECT_EQ(a.method(), absl::StrCat(kMethodPrefix, "GetInclusionProof"));
  EXPECT_EQ(a.target_position(), audited);
  EXPECT_EQ(a.actor(), "op-0001");
  EXPECT_EQ(a.purpose(), "HOPERAT");
  EXPECT_EQ(a.resource(), "ledger");
  EXPECT_EQ(a.action(), "read");
  EXPECT_EQ(a.outcome(), carelog::v1::ACCESS_OUTCOME_ALLOWED);
  EXPECT_THAT(a.rules(),
              ::testing::ElementsAre("builtin/ledger-operator-read"));

  // An event with its proof: recorded as well (the checkpoint it signs adds
  // no event).
  grpc::ClientContext ctx;
  Authorize(&ctx, Token());
  carelog::v1::GetVerifiedEventRequest req;
  req.set_position(audited);
  carelog::v1::VerifiedEvent ev;
  ASSERT_TRUE(stub_->GetVerifiedEvent(&ctx, req, &ev).ok());
  ASSERT_EQ(Head(), audited + 2);
  const AccessAudited b = RecordAt(audited + 2, &stream);
  EXPECT_EQ(b.method(), absl::StrCat(kMethodPrefix, "GetVerifiedEvent"));
  EXPECT_EQ(b.target_position(), audited);

  // The system trail (decisions about no patient) records on audit/system.
  const uint64_t sys = AppendOne("c-3", "audit/system").last_position;
  ASSERT_TRUE(Inclusion(sys, sys, Token(), &proof).ok());
  const AccessAudited c = RecordAt(sys + 1, &stream);
  EXPECT_EQ(stream, "audit/system");
  EXPECT_EQ(c.patient_id(), "");
  EXPECT_EQ(c.method(), absl::StrCat(kMethodPrefix, "GetInclusionProof"));
  EXPECT_EQ(c.target_position(), sys);

  // Audit exports show it: the CSV column and the FHIR entity detail.
  carelog::v1::AuditRecord rec;
  rec.set_position(audited + 1);
  *rec.mutable_access() = a;
  const std::vector<std::string> header =
      absl::StrSplit(services::audit::CsvHeader(), ',');
  const std::vector<std::string> line =
      absl::StrSplit(services::audit::CsvLine(rec), ',');
  ASSERT_EQ(line.size(), header.size());
  EXPECT_EQ(header.back(), "target_position\r\n");
  EXPECT_EQ(line.back(), absl::StrCat(audited, "\r\n"));
  EXPECT_EQ(FhirDetail(rec, "target_position"), absl::StrCat(audited));
}

// An AccessAudited written before target_position existed (the position was
// then in the method) still decodes from the ledger, with target 0.
TEST_F(ProofAuditTest, RecordsFromBeforeTheTargetFieldStillDecode) {
  const uint64_t audited = AppendOne("c-1", "audit/p-0001").last_position;
  AccessAudited old;
  old.set_actor("op-0001");
  old.set_patient_id("p-0001");
  old.set_method(
      absl::StrCat(kMethodPrefix, "GetInclusionProof?position=", audited));
  storage::AppendRequest req;
  req.command_id = "old-record";
  req.streams.push_back(storage::StreamAppend{
      "audit/p-0001",
      storage::ExpectedVersion::Any(),
      {services::ToLedgerEvent(old, carelog::v1::EventMeta(),
                               crypto::KeyClass::kAudit, "p-0001")}});
  auto r = server_->ledger()->Append(req);
  ASSERT_THAT(r, IsOk());
  std::string stream;
  const AccessAudited a = RecordAt(r->last_position, &stream);
  EXPECT_EQ(a.method(), old.method());
  EXPECT_EQ(a.target_position(), 0u);
  EXPECT_EQ(a.actor(), "op-0001");
  // Exports leave its target empty (not "0") and keep the old method.
  carelog::v1::AuditRecord rec;
  *rec.mutable_access() = a;
  const std::string line = services::audit::CsvLine(rec);
  EXPECT_TRUE(absl::EndsWith(line, ",\r\n")) << line;
  EXPECT_THAT(line, ::testing::HasSubstr("GetInclusionProof?position="));
  EXPECT_EQ(FhirDetail(rec, "target_position"), "");
}

TEST_F(ProofAuditTest, RequestsAboutOtherEventsAreNotRecorded) {
  AppendOne("c-1", "patient/p-0001");
  AppendOne("c-2", "audit/p-0001");
  AppendOne("c-3", "patient/p-0002");
  const uint64_t head = Head();
  carelog::v1::InclusionProof proof;
  ASSERT_TRUE(Inclusion(1, head, Token(), &proof).ok());
  ASSERT_TRUE(Inclusion(3, head, Token(), &proof).ok());
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, Token());
    carelog::v1::GetConsistencyProofRequest req;
    req.set_old_size(1);
    req.set_new_size(head);
    carelog::v1::ConsistencyProof cproof;
    ASSERT_TRUE(stub_->GetConsistencyProof(&ctx, req, &cproof).ok());
  }
  // A refused size about an audit event discloses nothing: no record.
  EXPECT_THAT(Inclusion(2, head + 5, Token(), &proof),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT, "tree_size"));
  EXPECT_EQ(Head(), head);
}

TEST_F(ProofAuditTest, DeniedRequestForAnAuditEventIsRecordedBeforeTheDenial) {
  const uint64_t audited = AppendOne("c-1", "audit/p-0001").last_position;
  carelog::v1::InclusionProof proof;
  EXPECT_THAT(
      Inclusion(audited, audited, TokenWithRoles({"front-desk"}), &proof),
      GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, "ledger"));
  EXPECT_EQ(proof.hashes_size(), 0);
  ASSERT_EQ(Head(), audited + 1);
  std::string stream;
  const AccessAudited a = RecordAt(audited + 1, &stream);
  EXPECT_EQ(stream, "audit/p-0001");
  EXPECT_EQ(a.outcome(), carelog::v1::ACCESS_OUTCOME_DENIED);
  EXPECT_EQ(a.method(), absl::StrCat(kMethodPrefix, "GetInclusionProof"));
  EXPECT_EQ(a.target_position(), audited);
  // A denied request naming no audit event is answered at once, unrecorded.
  EXPECT_THAT(Inclusion(0, 0, TokenWithRoles({"front-desk"}), &proof),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED, "ledger"));
  EXPECT_EQ(Head(), audited + 1);
}

TEST_F(ProofAuditTest, FailsClosedWhenTheRecordCannotBeWritten) {
  const uint64_t other = AppendOne("c-0", "patient/p-0001").last_position;
  // A trail whose name is a valid stream id but no valid subject id: the
  // record about it cannot be appended (INVALID_ARGUMENT from the ledger),
  // which stands in here for any failed audit append.
  const uint64_t audited = AppendOne("c-1", "audit/p@0001").last_position;
  carelog::v1::InclusionProof proof;
  EXPECT_THAT(
      Inclusion(audited, audited, Token(), &proof),
      GrpcStatusIs(grpc::StatusCode::UNAVAILABLE, "audit trail unavailable"));
  EXPECT_EQ(proof.hashes_size(), 0);
  EXPECT_EQ(Head(), audited);
  // Requests that need no record are unaffected.
  EXPECT_TRUE(Inclusion(other, audited, Token(), &proof).ok());
  EXPECT_GT(proof.hashes_size(), 0);
}

}  // namespace
}  // namespace carelog::integration
