// AuditService over a real channel against carelogd's server with the
// default policy: every RPC appends exactly one audit event with the right
// fields; a denied call gets a denied event and no data; after a scripted
// sequence the accounting of disclosures holds exactly the accesses on the
// patient's audit stream; the break-the-glass queue and review; exports;
// masks for the security admin; bad input appends nothing.
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.grpc.pb.h"
#include "carelog/v1/patients.grpc.pb.h"
#include "carelog/v1/queries.grpc.pb.h"
#include "crypto/jwt.h"
#include "services/domain/event_codec.h"
#include "services/server/policy_access.h"
#include "services/server/server.h"
#include "tests/services/service_fixture.h"
#include "tests/testing/audit_events.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::services {
namespace {

using carelog::testing::Caller;
// The compliance officer, whose queries these tests make by default.
const Caller kOfficer{"compliance_officer", "HCOMPL", "co-1"};

using ::carelog::testing::IsOk;
using ::testing::ElementsAre;
using namespace carelog::v1;  // NOLINT

class AuditServiceTest : public carelog::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure())
      return;
    queries_ = QueryService::NewStub(channel_);
    audit_ = AuditService::NewStub(channel_);
  }

  std::pair<std::string, uint64_t> Register(const std::string& command_id) {
    RegisterPatientRequest r = SampleRegistration(command_id);
    r.mutable_demographics()->set_family_name("Auditperson");
    r.mutable_demographics()->mutable_date_of_birth()->set_day(3);
    r.mutable_demographics()->set_mrn(absl::StrCat("MRN-", command_id));
    uint64_t position = 0;
    std::string id =
        RegisterPatient(r, &position, {"front_desk", "HOPERAT", "fd-1"});
    return {id, position};
  }

  grpc::Status ReadPatient(const std::string& id, const Caller& who) {
    GetPatientRecordRequest req;
    req.set_patient_id(id);
    req.set_min_position(server_->ledger()->GetHead().position);
    grpc::ClientContext ctx;
    Prepare(&ctx, who);
    PatientRecord rec;
    return queries_->GetPatientRecord(&ctx, req, &rec);
  }

  // AccessAudited events appended after position `from` (with positions).
  std::vector<std::pair<uint64_t, AccessAudited>> AuditAfter(uint64_t from) {
    std::vector<std::pair<uint64_t, AccessAudited>> out;
    auto page = server_->ledger()->ReadAll(from + 1, 10000);
    EXPECT_THAT(page, IsOk());
    if (!page.ok())
      return out;
    for (const auto& e : page->events) {
      if (e.header.event_type != "carelog.v1.AccessAudited")
        continue;
      auto d = DecodeEvent(*server_->ledger(), e);
      EXPECT_THAT(d, IsOk());
      AccessAudited a;
      if (d.ok() && d->As(&a))
        out.emplace_back(e.header.position, a);
    }
    return out;
  }
  std::vector<uint64_t> AuditPositionsOf(const std::string& patient) {
    std::vector<uint64_t> out;
    for (const auto& [p, a] : AuditAfter(0)) {
      if (a.patient_id() == patient)
        out.push_back(p);
    }
    return out;
  }

  grpc::Status Query(const AuditFilter& f, AuditPage* page,
                     const Caller& who = kOfficer) {
    QueryAuditRequest req;
    *req.mutable_filter() = f;
    req.set_min_position(Head());
    req.set_page_size(500);
    grpc::ClientContext ctx;
    Prepare(&ctx, who);
    return audit_->QueryAudit(&ctx, req, page);
  }

  // A break-the-glass access as the enforcement point records it.
  uint64_t AppendBreakGlass(const std::string& actor,
                            const std::string& patient) {
    return carelog::testing::AppendBreakGlassAccess(
        *server_->ledger(), absl::StrCat("btg-", ++n_), actor, patient);
  }

  grpc::Status Review(uint64_t pos, BreakGlassReviewDecision d,
                      const std::string& command_id,
                      ReviewBreakTheGlassReply* reply,
                      const Caller& who = kOfficer) {
    ReviewBreakTheGlassRequest req;
    req.set_command_id(command_id);
    req.set_audit_position(pos);
    req.set_decision(d);
    req.set_note("documented emergency");
    grpc::ClientContext ctx;
    Prepare(&ctx, who);
    return audit_->ReviewBreakTheGlass(&ctx, req, reply);
  }

  grpc::Status Queue(AuditPage* page, uint64_t min_position = 0) {
    ListBreakGlassQueueRequest req;
    req.set_min_position(min_position ? min_position : Head());
    grpc::ClientContext ctx;
    Prepare(&ctx, kOfficer);
    return audit_->ListBreakGlassQueue(&ctx, req, page);
  }

  static std::vector<uint64_t> Positions(const AuditPage& p) {
    std::vector<uint64_t> out;
    for (const auto& r : p.records())
      out.push_back(r.position());
    return out;
  }

  std::unique_ptr<QueryService::Stub> queries_;
  std::unique_ptr<AuditService::Stub> audit_;
  int n_ = 0;
};

TEST_F(AuditServiceTest, EveryRpcAppendsExactlyOneAuditEvent) {
  // Not a structured binding: the lambdas below capture it (C++17).
  const std::string id = Register("reg-1").first;
  const uint64_t btg = AppendBreakGlass("dr-e", id);
  struct Call {
    std::string method;
    std::string action;
    std::string patient;
    std::function<grpc::Status()> run;
  };
  const Caller co = kOfficer;
  const Caller co_export{"compliance_officer", "HCOMPL", "co-1",
                         "annual review"};
  std::vector<Call> calls;
  calls.push_back({"QueryAudit", "read", id, [&] {
                     AuditFilter f;
                     f.set_patient_id(id);
                     AuditPage p;
                     return Query(f, &p);
                   }});
  calls.push_back({"QueryAudit", "read", "", [&] {
                     AuditFilter f;
                     f.set_actor("fd-1");
                     AuditPage p;
                     return Query(f, &p);
                   }});
  calls.push_back({"ListBreakGlassQueue", "read", "", [&] {
                     AuditPage p;
                     return Queue(&p);
                   }});
  calls.push_back({"ListAnomalies", "read", "", [&] {
                     ListAnomaliesRequest req;
                     grpc::ClientContext ctx;
                     Prepare(&ctx, co);
                     AuditPage p;
                     return audit_->ListAnomalies(&ctx, req, &p);
                   }});
  calls.push_back({"ExportAudit", "export", id, [&] {
                     ExportAuditRequest req;
                     req.mutable_filter()->set_patient_id(id);
                     req.set_format(AUDIT_EXPORT_FORMAT_CSV);
                     grpc::ClientContext ctx;
                     Prepare(&ctx, co_export);
                     ExportAuditReply r;
                     return audit_->ExportAudit(&ctx, req, &r);
                   }});
  calls.push_back({"ReviewBreakTheGlass", "review", id, [&] {
                     ReviewBreakTheGlassReply r;
                     return Review(btg, BREAK_GLASS_REVIEW_DECISION_APPROPRIATE,
                                   "rev-1", &r);
                   }});
  for (const auto& c : calls) {
    SCOPED_TRACE(c.method);
    const uint64_t before = Head();
    grpc::Status s = c.run();
    ASSERT_TRUE(s.ok()) << s.error_message();
    auto events = AuditAfter(before);
    ASSERT_EQ(events.size(), 1u);
    const AccessAudited& a = events[0].second;
    EXPECT_EQ(a.method(), "/carelog.v1.AuditService/" + c.method);
    EXPECT_EQ(a.actor(), "co-1");
    EXPECT_THAT(a.roles(), ElementsAre("compliance_officer"));
    EXPECT_EQ(a.resource(), "audit");
    EXPECT_EQ(a.action(), c.action);
    EXPECT_EQ(a.patient_id(), c.patient);
    EXPECT_EQ(a.purpose(), "HCOMPL");
    EXPECT_EQ(a.outcome(), ACCESS_OUTCOME_ALLOWED);
    EXPECT_FALSE(a.rules().empty());
    EXPECT_FALSE(a.policy_hash().empty());
    EXPECT_GT(a.decided_at_micros(), 0);
  }
}

TEST_F(AuditServiceTest, DeniedCallIsAuditedAndDisclosesNothing) {
  auto [id, pos] = Register("reg-1");
  ASSERT_TRUE(ReadPatient(id, {"front_desk", "HOPERAT", "fd-1"}).ok());
  const uint64_t before = Head();
  AuditFilter f;
  f.set_patient_id(id);
  AuditPage page;
  grpc::Status s = Query(f, &page, {"front_desk", "HOPERAT", "fd-1"});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(page.records_size(), 0);
  auto events = AuditAfter(before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].second.outcome(), ACCESS_OUTCOME_DENIED);
  EXPECT_EQ(events[0].second.actor(), "fd-1");
  EXPECT_EQ(events[0].second.resource(), "audit");
  EXPECT_EQ(events[0].second.patient_id(), id);

  // An export without the reason the policy demands is denied too.
  ExportAuditRequest req;
  req.set_format(AUDIT_EXPORT_FORMAT_FHIR_JSON);
  grpc::ClientContext ctx;
  Prepare(&ctx, kOfficer);
  ExportAuditReply reply;
  const uint64_t before2 = Head();
  s = audit_->ExportAudit(&ctx, req, &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(reply.content().empty());
  auto events2 = AuditAfter(before2);
  ASSERT_EQ(events2.size(), 1u);
  EXPECT_EQ(events2[0].second.outcome(), ACCESS_OUTCOME_DENIED);
  EXPECT_EQ(events2[0].second.action(), "export");
}

TEST_F(AuditServiceTest, AccountingHoldsExactlyThePatientsAccesses) {
  auto [id, pos] = Register("reg-1");
  auto [other, pos2] = Register("reg-2");
  ASSERT_TRUE(ReadPatient(id, {"front_desk", "HOPERAT", "fd-1"}).ok());
  ASSERT_TRUE(ReadPatient(id, {"scheduler", "HOPERAT", "sch-1"}).ok());
  ASSERT_TRUE(ReadPatient(other, {"scheduler", "HOPERAT", "sch-1"}).ok());
  // Another patient may not read this one's record.
  EXPECT_EQ(ReadPatient(id, {"patient", "PATRQT", other}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const std::vector<uint64_t> expected = AuditPositionsOf(id);
  ASSERT_GE(expected.size(), 4u);  // registration write, 2 reads, 1 denial

  AuditFilter f;
  f.set_patient_id(id);
  AuditPage page;
  grpc::Status s = Query(f, &page);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Positions(page), expected);
  int denied = 0;
  for (const auto& r : page.records()) {
    EXPECT_EQ(r.access().patient_id(), id);
    denied += r.access().outcome() == ACCESS_OUTCOME_DENIED;
  }
  EXPECT_EQ(denied, 1);

  // The compliance officer's own query is now part of the accounting.
  AuditPage again;
  ASSERT_TRUE(Query(f, &again).ok());
  ASSERT_EQ(again.records_size(), page.records_size() + 1);
  EXPECT_EQ(again.records(page.records_size()).access().actor(), "co-1");

  // Combined filters: the scheduler's reads of this patient only.
  f.set_actor("sch-1");
  AuditPage sch;
  ASSERT_TRUE(Query(f, &sch).ok());
  ASSERT_EQ(sch.records_size(), 1);
  EXPECT_EQ(sch.records(0).access().actor(), "sch-1");
  // By outcome over every patient.
  AuditFilter denials;
  denials.set_outcome(ACCESS_OUTCOME_DENIED);
  AuditPage dp;
  ASSERT_TRUE(Query(denials, &dp).ok());
  ASSERT_EQ(dp.records_size(), 1);
  EXPECT_EQ(dp.records(0).access().actor(), other);
}

TEST_F(AuditServiceTest, BreakGlassQueueAndReview) {
  auto [id, pos] = Register("reg-1");
  const uint64_t b1 = AppendBreakGlass("dr-e", id);
  const uint64_t b2 = AppendBreakGlass("co-1", id);  // the reviewer's own
  AuditPage q;
  ASSERT_TRUE(Queue(&q).ok());
  EXPECT_THAT(Positions(q), ElementsAre(b1, b2));

  ReviewBreakTheGlassReply reply;
  grpc::Status s =
      Review(b1, BREAK_GLASS_REVIEW_DECISION_INAPPROPRIATE, "rev-1", &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  AuditPage after;
  ASSERT_TRUE(Queue(&after, reply.result().position()).ok());
  EXPECT_THAT(Positions(after), ElementsAre(b2));
  // The retry answers the first result; a second review is refused.
  ReviewBreakTheGlassReply retry;
  ASSERT_TRUE(
      Review(b1, BREAK_GLASS_REVIEW_DECISION_INAPPROPRIATE, "rev-1", &retry)
          .ok());
  EXPECT_EQ(retry.result().position(), reply.result().position());
  EXPECT_EQ(Review(b1, BREAK_GLASS_REVIEW_DECISION_APPROPRIATE, "rev-2", &retry)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Nobody reviews their own emergency access.
  EXPECT_EQ(Review(b2, BREAK_GLASS_REVIEW_DECISION_APPROPRIATE, "rev-3", &retry)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Not a break-the-glass access; nothing at that position.
  EXPECT_EQ(Review(AuditPositionsOf(id)[0],
                   BREAK_GLASS_REVIEW_DECISION_APPROPRIATE, "rev-4", &retry)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Review(Head() + 100, BREAK_GLASS_REVIEW_DECISION_APPROPRIATE,
                   "rev-5", &retry)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Only compliance reviews.
  EXPECT_EQ(Review(b2, BREAK_GLASS_REVIEW_DECISION_APPROPRIATE, "rev-6", &retry,
                   {"security_admin", "HSYSADMIN", "sec-1"})
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The review is on record with the access.
  AuditFilter f;
  f.set_patient_id(id);
  AuditPage acc;
  ASSERT_TRUE(Query(f, &acc).ok());
  bool seen = false;
  for (const auto& r : acc.records()) {
    if (r.position() == b1) {
      seen = true;
      EXPECT_EQ(r.review().reviewer(), "co-1");
      EXPECT_EQ(r.review().decision(),
                BREAK_GLASS_REVIEW_DECISION_INAPPROPRIATE);
      EXPECT_EQ(r.review().note(), "documented emergency");
    }
  }
  EXPECT_TRUE(seen);
}

TEST_F(AuditServiceTest, ExportsCsvAndFhirPages) {
  auto [id, pos] = Register("reg-1");
  ASSERT_TRUE(ReadPatient(id, {"front_desk", "HOPERAT", "fd-1"}).ok());
  ASSERT_TRUE(ReadPatient(id, {"scheduler", "HOPERAT", "sch-1"}).ok());
  const size_t n = AuditPositionsOf(id).size();
  // Later pages must not pick up the export's own audit events.
  const int64_t to = absl::ToUnixMicros(absl::Now()) + 1;
  for (auto format : {AUDIT_EXPORT_FORMAT_CSV, AUDIT_EXPORT_FORMAT_FHIR_JSON}) {
    std::string all;
    std::string token;
    int pages = 0;
    do {
      ExportAuditRequest req;
      req.mutable_filter()->set_patient_id(id);
      req.mutable_filter()->set_to_micros(to);
      req.set_format(format);
      req.set_page_size(1);
      req.set_page_token(token);
      req.set_min_position(Head());
      grpc::ClientContext ctx;
      Prepare(&ctx, {"compliance_officer", "HLEGAL", "co-1", "subpoena 12"});
      ExportAuditReply reply;
      grpc::Status s = audit_->ExportAudit(&ctx, req, &reply);
      ASSERT_TRUE(s.ok()) << s.error_message();
      all += reply.content();
      token = reply.next_page_token();
      ++pages;
    } while (!token.empty() && pages < 100);
    std::vector<std::string> lines =
        absl::StrSplit(all, '\n', absl::SkipEmpty());
    if (format == AUDIT_EXPORT_FORMAT_CSV) {
      ASSERT_EQ(lines.size(), n + 1);  // header once
      EXPECT_EQ(lines[0].rfind("position,time,actor,", 0), 0u);
    } else {
      ASSERT_EQ(lines.size(), n);
      for (const auto& l : lines)
        EXPECT_EQ(l.rfind("{", 0), 0u) << l;
      EXPECT_NE(lines[0].find("\"resourceType\":\"AuditEvent\""),
                std::string::npos);
    }
  }
}

TEST_F(AuditServiceTest, SecurityAdminSeesNoReasons) {
  auto [id, pos] = Register("reg-1");
  AppendBreakGlass("dr-e", id);
  AuditFilter f;
  f.set_patient_id(id);
  AuditPage page;
  grpc::Status s = Query(f, &page, {"security_admin", "HSYSADMIN", "sec-1"});
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GT(page.records_size(), 0);
  for (const auto& r : page.records()) {
    EXPECT_TRUE(r.access().reason().empty());
    EXPECT_THAT(r.masked_fields(), ::testing::Contains("reason"));
  }
  EXPECT_EQ(page.SerializeAsString().find("unconscious"), std::string::npos);
}

TEST_F(AuditServiceTest, BadInputAppendsNothing) {
  Register("reg-1");
  const uint64_t before = Head();
  auto expect_invalid = [&](const AuditFilter& f, const std::string& field) {
    AuditPage page;
    grpc::Status s = Query(f, &page);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_NE(s.error_message().find(field), std::string::npos)
        << s.error_message();
  };
  AuditFilter f;
  f.set_patient_id("bad id/with slash");
  expect_invalid(f, "filter.patient_id");
  f.Clear();
  f.set_purpose("NOPE");
  expect_invalid(f, "filter.purpose");
  f.Clear();
  f.set_from_micros(10);
  f.set_to_micros(5);
  expect_invalid(f, "filter.to_micros");
  QueryAuditRequest req;
  req.set_page_token("not-a-token");
  grpc::ClientContext ctx;
  Prepare(&ctx, kOfficer);
  AuditPage page;
  EXPECT_EQ(audit_->QueryAudit(&ctx, req, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ReviewBreakTheGlassReply reply;
  EXPECT_EQ(Review(1, BREAK_GLASS_REVIEW_DECISION_UNSPECIFIED, "rev-1", &reply)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Head(), before);
}

}  // namespace
}  // namespace carelog::services
