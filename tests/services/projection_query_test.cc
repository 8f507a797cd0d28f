// QueryService over a real channel against carelogd's server with the
// default policy: read-your-writes with min_position, masks from the policy
// decision, audit events durable before the reply, denials, lookups through
// blind indexes, paging, and projection status.
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "carelog/v1/patients.grpc.pb.h"
#include "carelog/v1/queries.grpc.pb.h"
#include "crypto/jwt.h"
#include "services/domain/event_codec.h"
#include "services/projections/query_service.h"
#include "services/server/policy_access.h"
#include "services/server/server.h"
#include "tests/services/service_fixture.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::services {
namespace {

using ::carelog::testing::IsOk;
using namespace carelog::v1;  // NOLINT

constexpr char kMarkerStreet[] = "42 Zanzibarquux Lane";
constexpr char kMarkerContact[] = "Oswaldine Emergencia";

class ProjectionQueryTest : public carelog::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure())
      return;
    queries_ = QueryService::NewStub(channel_);
  }

  // Registers a patient; returns its id and the command's position.
  std::pair<std::string, uint64_t> Register(const std::string& command_id,
                                            const std::string& family) {
    RegisterPatientRequest r;
    r.set_command_id(command_id);
    auto* d = r.mutable_demographics();
    d->set_given_name("Synthia");
    d->set_family_name(family);
    d->mutable_date_of_birth()->set_year(1980);
    d->mutable_date_of_birth()->set_month(2);
    d->mutable_date_of_birth()->set_day(29);
    d->set_gender(ADMINISTRATIVE_GENDER_FEMALE);
    d->set_mrn(absl::StrCat("MRN-", command_id));
    r.mutable_contact()->set_phone("+1-555-0100");
    r.mutable_contact()->set_email("synthia@example.test");
    r.mutable_contact()->mutable_address()->add_lines(kMarkerStreet);
    r.mutable_emergency_contact()->set_name(kMarkerContact);
    r.set_preferred_language("es-MX");
    uint64_t position = 0;
    std::string id = RegisterPatient(r, &position);
    return {id, position};
  }

  grpc::Status Get(const std::string& id, uint64_t min_position,
                   PatientRecord* out, const std::string& role = "front_desk",
                   const std::string& purpose = "HOPERAT",
                   absl::Duration deadline = absl::Seconds(20),
                   bool insurance = false) {
    GetPatientRecordRequest req;
    req.set_patient_id(id);
    req.set_min_position(min_position);
    req.set_include_insurance(insurance);
    grpc::ClientContext ctx;
    Prepare(&ctx, role, purpose, "actor-1", deadline);
    return queries_->GetPatientRecord(&ctx, req, out);
  }

  std::vector<AccessAudited> AuditOf(const std::string& patient) {
    std::vector<AccessAudited> out;
    auto page = server_->ledger()->ReadStream("audit/" + patient, 0, 1000);
    EXPECT_THAT(page, IsOk());
    if (!page.ok())
      return out;
    for (const auto& e : page->events) {
      auto d = DecodeEvent(*server_->ledger(), e);
      EXPECT_THAT(d, IsOk());
      AccessAudited a;
      if (d.ok() && d->As(&a))
        out.push_back(a);
    }
    return out;
  }

  std::unique_ptr<QueryService::Stub> queries_;
};

TEST_F(ProjectionQueryTest, ReadYourWritesAndTheReadIsAuditedFirst) {
  auto [id, pos] = Register("reg-1", "Testperson");
  ASSERT_FALSE(id.empty());
  PatientRecord rec;
  grpc::Status s = Get(id, pos, &rec);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(rec.patient_id(), id);
  EXPECT_EQ(rec.demographics().family_name(), "Testperson");
  EXPECT_GE(rec.last_position(), pos - 1);
  // The read's audit event is already in the ledger when the reply arrives.
  bool found = false;
  for (const auto& a : AuditOf(id)) {
    if (a.method() == "/carelog.v1.QueryService/GetPatientRecord") {
      found = true;
      EXPECT_EQ(a.actor(), "actor-1");
      EXPECT_EQ(a.resource(), "patient.demographics");
      EXPECT_EQ(a.action(), "read");
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(ProjectionQueryTest, MinPositionBeyondTheHeadTimesOut) {
  auto [id, pos] = Register("reg-1", "Testperson");
  PatientRecord rec;
  grpc::Status s = Get(id, pos + 1000, &rec, "front_desk", "HOPERAT",
                       absl::Milliseconds(300));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(ProjectionQueryTest, MaskedFieldsNeverLeave) {
  auto [id, pos] = Register("reg-1", "Testperson");
  // The scheduler sees name, birth date, phone, email, language and MRN only.
  PatientRecord rec;
  grpc::Status s = Get(id, pos, &rec, "scheduler", "HOPERAT");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(rec.demographics().family_name(), "Testperson");
  EXPECT_EQ(rec.contact().phone(), "+1-555-0100");
  EXPECT_FALSE(rec.contact().has_address());
  EXPECT_FALSE(rec.has_emergency_contact());
  EXPECT_EQ(rec.demographics().gender(), ADMINISTRATIVE_GENDER_UNSPECIFIED);
  EXPECT_THAT(rec.masked_fields(),
              ::testing::IsSupersetOf({"address", "emergency_contact", "sex"}));
  const std::string wire = rec.SerializeAsString();
  EXPECT_EQ(wire.find(kMarkerStreet), std::string::npos);
  EXPECT_EQ(wire.find(kMarkerContact), std::string::npos);
  // The audit event records the masks.
  bool masked = false;
  for (const auto& a : AuditOf(id)) {
    if (a.method() == "/carelog.v1.QueryService/GetPatientRecord" &&
        a.outcome() == ACCESS_OUTCOME_ALLOWED_MASKED)
      masked = true;
  }
  EXPECT_TRUE(masked);

  // Lists mask the same way.
  FindPatientsRequest find;
  find.set_field(PATIENT_LOOKUP_FIELD_FAMILY_NAME);
  find.set_value("testperson");
  PatientRecordPage page;
  grpc::ClientContext ctx;
  Prepare(&ctx, "scheduler", "HOPERAT", "sched-1");
  ASSERT_TRUE(queries_->FindPatients(&ctx, find, &page).ok());
  ASSERT_EQ(page.records_size(), 1);
  EXPECT_EQ(page.SerializeAsString().find(kMarkerStreet), std::string::npos);
}

TEST_F(ProjectionQueryTest, DeniedReadIsAuditedAndRefused) {
  auto [id, pos] = Register("reg-1", "Testperson");
  PatientRecord rec;
  grpc::Status s = Get(id, pos, &rec, "billing_clerk", "HOPERAT");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(rec.SerializeAsString().find("Testperson"), std::string::npos);
  bool denied = false;
  for (const auto& a : AuditOf(id)) {
    if (a.method() == "/carelog.v1.QueryService/GetPatientRecord" &&
        a.outcome() == ACCESS_OUTCOME_DENIED)
      denied = true;
  }
  EXPECT_TRUE(denied);
  // An unknown patient is decided like a known one: no existence oracle.
  s = Get("pt-unknown", 0, &rec, "billing_clerk", "HOPERAT");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  s = Get("pt-unknown", 0, &rec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ProjectionQueryTest, FindAndListPageWithStableTokens) {
  std::set<std::string> ids;
  uint64_t last = 0;
  for (int i = 0; i < 7; ++i) {
    auto [id, pos] = Register(absl::StrCat("reg-", i), "Pagerson");
    ids.insert(id);
    last = pos;
  }
  Register("reg-other", "Otherson");
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    FindPatientsRequest req;
    req.set_field(PATIENT_LOOKUP_FIELD_FAMILY_NAME);
    req.set_value("PAGERSON");
    req.set_min_position(last);
    req.set_page_size(3);
    req.set_page_token(token);
    PatientRecordPage page;
    grpc::ClientContext ctx;
    Prepare(&ctx);
    grpc::Status s = queries_->FindPatients(&ctx, req, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const auto& r : page.records()) {
      EXPECT_TRUE(seen.insert(r.patient_id()).second);
      EXPECT_EQ(r.demographics().family_name(), "Pagerson");
    }
    token = page.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(pages, 3);

  // By MRN (normalised) and by date of birth.
  FindPatientsRequest by_mrn;
  by_mrn.set_field(PATIENT_LOOKUP_FIELD_MRN);
  by_mrn.set_value("mrn-reg-3");
  PatientRecordPage one;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    ASSERT_TRUE(queries_->FindPatients(&ctx, by_mrn, &one).ok());
  }
  EXPECT_EQ(one.records_size(), 1);

  ListPatientsRequest all;
  all.set_page_size(100);
  PatientRecordPage every;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    ASSERT_TRUE(queries_->ListPatients(&ctx, all, &every).ok());
  }
  EXPECT_EQ(every.records_size(), 8);
  EXPECT_TRUE(every.next_page_token().empty());

  ListPatientsRequest bad;
  bad.set_page_token("not-a-token");
  PatientRecordPage none;
  grpc::ClientContext ctx;
  Prepare(&ctx);
  EXPECT_EQ(queries_->ListPatients(&ctx, bad, &none).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ProjectionQueryTest, StatusReportsPositionAndLag) {
  auto [id, pos] = Register("reg-1", "Testperson");
  PatientRecord rec;
  ASSERT_TRUE(Get(id, pos, &rec).ok());
  GetProjectionStatusReply reply;
  grpc::ClientContext ctx;
  Prepare(&ctx, "operator", "HOPERAT", "op-1");
  grpc::Status s =
      queries_->GetProjectionStatus(&ctx, GetProjectionStatusRequest(), &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GE(reply.projections_size(), 1);
  const ProjectionStatus& p = reply.projections(0);
  EXPECT_EQ(p.name(), "patients");
  EXPECT_EQ(p.state(), ProjectionStatus::STATE_RUNNING);
  EXPECT_GE(p.position(), pos);
  EXPECT_EQ(p.lag(), p.head() - p.position());
  // The same figures as Prometheus gauges.
  const std::string metrics = server_->MetricsText();
  EXPECT_THAT(metrics,
              ::testing::HasSubstr(
                  "carelog_projection_position{projection=\"patients\"}"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("carelog_projection_lag_events"));
  EXPECT_THAT(metrics,
              ::testing::HasSubstr(
                  "carelog_projection_failed{projection=\"patients\"} 0"));
  // Front desk staff are not operators.
  grpc::ClientContext ctx2;
  Prepare(&ctx2);
  EXPECT_EQ(
      queries_->GetProjectionStatus(&ctx2, GetProjectionStatusRequest(), &reply)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace carelog::services
