// tests/services/projection_fixture.h — carelogd's server on 127.0.0.1:0 for
// view and query tests: tokens for any role, events appended straight into
// the ledger (as the domain services write them, so that views are tested on
// their own), erasure, a rebuild of every projection, and a scan of the data
// directory for plaintext. Each test gets its own temp dir.
#ifndef CARELOG_TESTS_SERVICES_PROJECTION_FIXTURE_H_
#define CARELOG_TESTS_SERVICES_PROJECTION_FIXTURE_H_

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "carelog/v1/patients.pb.h"
#include "carelog/v1/queries.grpc.pb.h"
#include "crypto/jwt.h"
#include "services/domain/event_codec.h"
#include "services/server/policy_access.h"
#include "services/server/server.h"
#include "storage/maintenance.h"
#include "tests/services/service_fixture.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::services {

class ProjectionServerTest : public carelog::testing::ServiceTest {
 protected:
  // Starts carelogd's server under `policy_file` ("" = the default policy).
  void StartServer(const std::string& policy_file) {
    ServiceTest::StartServer(policy_file);
    if (server_ != nullptr)
      queries_ = carelog::v1::QueryService::NewStub(channel_);
  }
  void SetUp() override { StartServer(""); }

  // Appends `body` about `patient` to `stream` as one command.
  uint64_t Append(const std::string& stream, const std::string& patient,
                  const google::protobuf::Message& body) {
    storage::AppendRequest req;
    req.command_id = absl::StrCat("cmd-", ++seq_);
    carelog::v1::EventMeta meta;
    meta.set_actor("staff-0001");
    storage::StreamAppend sa;
    sa.stream_id = stream;
    sa.events.push_back(
        ToLedgerEvent(body, meta, crypto::KeyClass::kSubject, patient));
    req.streams.push_back(std::move(sa));
    auto r = server_->ledger()->Append(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->last_position : 0;
  }

  // Registers `patient` with `care_team` members and `flags`.
  uint64_t Register(const std::string& patient,
                    const std::vector<std::string>& care_team = {},
                    bool vip = false) {
    carelog::v1::PatientRegistered reg;
    reg.set_patient_id(patient);
    reg.mutable_demographics()->set_family_name("Synthetic");
    uint64_t pos = Append("patient/" + patient, patient, reg);
    for (const auto& m : care_team) {
      carelog::v1::CareTeamMemberAssigned a;
      a.set_patient_id(patient);
      a.set_member_id(m);
      a.set_role(carelog::v1::CARE_TEAM_ROLE_PATIENT_SUPPORT_SPECIALIST);
      pos = Append("patient/" + patient, patient, a);
    }
    if (vip) {
      carelog::v1::PatientFlagsSet f;
      f.set_patient_id(patient);
      f.mutable_flags()->set_vip(true);
      pos = Append("patient/" + patient, patient, f);
    }
    return pos;
  }

  // Erases `patient` (crypto-shredding); returns the erasure's position.
  uint64_t Erase(const std::string& patient) {
    storage::ErasureRequest er;
    er.subject_id = patient;
    er.reason = "patient request";
    er.basis = "GDPR-17";
    er.actor = "dpo-1";
    auto receipt = storage::EraseSubject(*server_->ledger(), er);
    EXPECT_TRUE(receipt.ok()) << receipt.status();
    return receipt.ok() ? receipt->position : 0;
  }

  // Rebuilds every projection and returns once none is rebuilding.
  void RebuildAll() {
    carelog::v1::RebuildProjectionRequest req;
    carelog::v1::RebuildProjectionReply reply;
    grpc::ClientContext ctx;
    Prepare(&ctx, "ledger-admin", "HSYSADMIN", "admin-1");
    ctx.AddMetadata("x-carelog-reason", "rebuild test");
    grpc::Status s = queries_->RebuildProjection(&ctx, req, &reply);
    ASSERT_TRUE(s.ok()) << s.error_message();
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    for (;;) {
      carelog::v1::GetProjectionStatusReply st;
      grpc::ClientContext c2;
      Prepare(&c2, "operator", "HOPERAT", "op-1");
      ASSERT_TRUE(queries_
                      ->GetProjectionStatus(
                          &c2, carelog::v1::GetProjectionStatusRequest(), &st)
                      .ok());
      bool busy = false;
      for (const auto& p : st.projections())
        busy = busy || p.rebuilding();
      if (!busy)
        return;
      ASSERT_LT(absl::Now(), deadline) << "rebuild did not finish";
      absl::SleepFor(absl::Milliseconds(5));  // polling an RPC, not a race
    }
  }

  // The access decisions recorded about `patient` by `method` (e.g.
  // "/carelog.v1.QueryService/GetMessage"), in order.
  std::vector<carelog::v1::AccessAudited> AuditOf(const std::string& patient,
                                                  const std::string& method) {
    std::vector<carelog::v1::AccessAudited> out;
    auto page = server_->ledger()->ReadStream("audit/" + patient, 0, 10000);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok())
      return out;
    for (const auto& e : page->events) {
      auto d = DecodeEvent(*server_->ledger(), e);
      EXPECT_TRUE(d.ok()) << d.status();
      carelog::v1::AccessAudited a;
      if (d.ok() && d->As(&a) && a.method() == method)
        out.push_back(a);
    }
    return out;
  }

  // Stops the server and returns "<marker> in <file>" for every marker
  // found in any file of the data directory; sets *files to the count.
  std::vector<std::string> PlaintextInDataDir(
      const std::vector<std::string>& markers, int* files) {
    server_->Shutdown();
    server_.reset();
    std::vector<std::string> hits;
    *files = 0;
    for (const auto& f :
         carelog::testing::ListFilesRecursive(config_.data_dir)) {
      std::ifstream in(f, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      ++*files;
      for (const auto& m : markers) {
        if (bytes.find(m) != std::string::npos)
          hits.push_back(absl::StrCat(m, " in ", f));
      }
    }
    return hits;
  }

  std::unique_ptr<carelog::v1::QueryService::Stub> queries_;
  int seq_ = 0;
};

}  // namespace carelog::services

#endif  // CARELOG_TESTS_SERVICES_PROJECTION_FIXTURE_H_
