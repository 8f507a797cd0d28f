// Fail closed, in process: once the ledger stops taking writes (the state a
// storage failure leaves it in: storage::internal::Db::StopWrites, reached
// through LedgerAccess), no audited read can make its audit event durable, so
// every one of them fails UNAVAILABLE and returns nothing — QueryService reads
// of each kind (a record, a billing account) and every AuditService query, a
// compliance officer's own query included. Before the stop the same calls
// succeed, so the refusal is the audit append's and nothing else's.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.grpc.pb.h"
#include "storage/internal/ledger_access.h"
#include "tests/services/projection_fixture.h"

namespace carelog::services {
namespace {

using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

class AuditFailClosedTest : public ProjectionServerTest {
 protected:
  struct Read {
    std::string name;
    // Makes the call; returns its status and the reply's serialized size.
    std::function<std::pair<grpc::Status, size_t>()> call;
  };

  // A read `name`: `rpc(ctx, req, reply)` as `sub` with `role` and `purpose`,
  // and a reason (exports need one).
  template <typename Reply, typename Req, typename Rpc>
  Read Make(std::string name, const char* role, const char* purpose,
            const char* sub, Req req, Rpc rpc) {
    return {std::move(name), [=] {
              grpc::ClientContext c;
              Prepare(&c, role, purpose, sub);
              c.AddMetadata("x-carelog-reason", "quarterly access review");
              Reply reply;
              grpc::Status s = rpc(&c, req, &reply);
              return std::make_pair(s, reply.ByteSizeLong());
            }};
  }

  // One read of each kind about `patient`, each waiting for `position`.
  std::vector<Read> Reads(const std::string& patient, uint64_t position) {
    std::shared_ptr<AuditService::Stub> audit = AuditService::NewStub(channel_);
    QueryService::Stub* q = queries_.get();
    std::vector<Read> reads;
    GetPatientRecordRequest record;
    record.set_patient_id(patient);
    record.set_min_position(position);
    reads.push_back(Make<PatientRecord>("GetPatientRecord", "front_desk",
                                        "HOPERAT", "fd-1", record,
                                        [q](auto* c, const auto& r, auto* out) {
                                          return q->GetPatientRecord(c, r, out);
                                        }));
    GetBillingAccountRequest billing;
    billing.set_patient_id(patient);
    billing.set_min_position(position);
    reads.push_back(Make<BillingAccountRecord>(
        "GetBillingAccount", "billing_clerk", "HPAYMT", "bc-1", billing,
        [q](auto* c, const auto& r, auto* out) {
          return q->GetBillingAccount(c, r, out);
        }));
    QueryAuditRequest query;
    query.mutable_filter()->set_patient_id(patient);
    query.set_min_position(position);
    reads.push_back(Make<AuditPage>("QueryAudit", "compliance_officer",
                                    "HCOMPL", "co-1", query,
                                    [audit](auto* c, const auto& r, auto* out) {
                                      return audit->QueryAudit(c, r, out);
                                    }));
    ListBreakGlassQueueRequest queue;
    queue.set_min_position(position);
    queue.set_include_reviewed(true);
    reads.push_back(Make<AuditPage>(
        "ListBreakGlassQueue", "compliance_officer", "HCOMPL", "co-1", queue,
        [audit](auto* c, const auto& r, auto* out) {
          return audit->ListBreakGlassQueue(c, r, out);
        }));
    ListAnomaliesRequest anomalies;
    anomalies.set_min_position(position);
    reads.push_back(Make<AuditPage>("ListAnomalies", "compliance_officer",
                                    "HCOMPL", "co-1", anomalies,
                                    [audit](auto* c, const auto& r, auto* out) {
                                      return audit->ListAnomalies(c, r, out);
                                    }));
    ExportAuditRequest csv;
    csv.mutable_filter()->set_patient_id(patient);
    csv.set_format(AUDIT_EXPORT_FORMAT_CSV);
    csv.set_min_position(position);
    reads.push_back(Make<ExportAuditReply>(
        "ExportAudit", "compliance_officer", "HCOMPL", "co-1", csv,
        [audit](auto* c, const auto& r, auto* out) {
          return audit->ExportAudit(c, r, out);
        }));
    return reads;
  }

  // Waits until every projection has applied `position`.
  void WaitForViews(uint64_t position) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    for (;;) {
      GetProjectionStatusReply st;
      grpc::ClientContext c;
      Prepare(&c, "operator", "HOPERAT", "op-1");
      ASSERT_TRUE(
          queries_->GetProjectionStatus(&c, GetProjectionStatusRequest(), &st)
              .ok());
      bool behind = false;
      for (const auto& p : st.projections())
        behind = behind || p.position() < position;
      if (!behind)
        return;
      ASSERT_LT(absl::Now(), deadline) << "views did not catch up";
      absl::SleepFor(absl::Milliseconds(5));  // polling an RPC, not a race
    }
  }
};

TEST_F(AuditFailClosedTest, EveryAuditedReadFailsWhenItsAuditCannotBeWritten) {
  const uint64_t pos = Register("pt-closed-1");
  auto reads = Reads("pt-closed-1", pos);

  // Before: each read is decided and answered (a billing account that does
  // not exist yet is NOT_FOUND — decided and audited all the same).
  for (auto& r : reads) {
    const auto [s, bytes] = r.call();
    if (r.name == "GetBillingAccount") {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << r.name;
    } else {
      EXPECT_TRUE(s.ok()) << r.name << ": " << s.error_message();
    }
  }
  EXPECT_EQ(AuditOf("pt-closed-1", "/carelog.v1.QueryService/GetPatientRecord")
                .size(),
            1u);
  const uint64_t head = server_->ledger()->GetHead().position;
  WaitForViews(head);

  storage::internal::LedgerAccess::GetDb(*server_->ledger())
      .StopWrites("injected by audit_fail_closed_test");
  const uint64_t stopped_at = server_->ledger()->GetHead().position;
  for (auto& r : reads) {
    const auto [s, bytes] = r.call();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << r.name << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("audit trail unavailable"))
        << r.name;
    EXPECT_EQ(bytes, 0u) << r.name << " returned data";
  }
  // Nothing was appended: the trail holds the reads made before the stop.
  EXPECT_EQ(server_->ledger()->GetHead().position, stopped_at);
}

}  // namespace
}  // namespace carelog::services
