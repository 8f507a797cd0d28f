// carelogd's anomalies settings reach the audit projection: with
// bulk_distinct_patients 2 and denial_threshold 1 (defaults 20 and 5), the
// second distinct patient read is a bulk access and the first denial is a
// repeated denial — as a compliance officer sees them through AuditService.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.grpc.pb.h"
#include "tests/services/projection_fixture.h"

namespace carelog::services {
namespace {

using namespace carelog::v1;  // NOLINT

class AuditAnomalyConfigTest : public ProjectionServerTest {
 protected:
  void SetUp() override {
    config_.anomalies.bulk_distinct_patients = 2;
    config_.anomalies.denial_threshold = 1;
    StartServer("");
  }

  grpc::Status ReadRecord(const std::string& patient, const char* role,
                          const char* purpose, const char* sub,
                          uint64_t position) {
    GetPatientRecordRequest req;
    req.set_patient_id(patient);
    req.set_min_position(position);
    grpc::ClientContext ctx;
    Prepare(&ctx, role, purpose, sub);
    PatientRecord rec;
    return queries_->GetPatientRecord(&ctx, req, &rec);
  }

  // The compliance officer's view of `actor`'s accesses flagged `anomaly`.
  AuditPage Flagged(const std::string& actor, AuditAnomaly anomaly) {
    QueryAuditRequest req;
    req.mutable_filter()->set_actor(actor);
    req.mutable_filter()->set_anomaly(anomaly);
    req.set_min_position(server_->ledger()->GetHead().position);
    grpc::ClientContext ctx;
    Prepare(&ctx, "compliance_officer", "HCOMPL", "co-1");
    AuditPage page;
    grpc::Status s =
        AuditService::NewStub(channel_)->QueryAudit(&ctx, req, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return page;
  }
};

TEST_F(AuditAnomalyConfigTest, ConfiguredThresholdsDecideTheFlags) {
  Register("pt-a1");
  const uint64_t pos = Register("pt-a2");
  ASSERT_TRUE(ReadRecord("pt-a1", "front_desk", "HOPERAT", "fd-7", pos).ok());
  ASSERT_TRUE(ReadRecord("pt-a2", "front_desk", "HOPERAT", "fd-7", pos).ok());
  // A patient reading someone else's record: denied, once.
  EXPECT_EQ(ReadRecord("pt-a1", "patient", "PATRQT", "pt-a2", pos).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  const AuditPage bulk = Flagged("fd-7", AUDIT_ANOMALY_BULK_ACCESS);
  ASSERT_EQ(bulk.records_size(), 1);
  EXPECT_EQ(bulk.records(0).access().patient_id(), "pt-a2");
  const AuditPage denials = Flagged("pt-a2", AUDIT_ANOMALY_REPEATED_DENIALS);
  ASSERT_EQ(denials.records_size(), 1);
  EXPECT_EQ(denials.records(0).access().outcome(), ACCESS_OUTCOME_DENIED);
}

}  // namespace
}  // namespace carelog::services
