// carelogctl audit … against carelogd under the shipped default policy,
// driven through carelogctl's own entry point: the accounting of disclosures
// lists exactly the accesses on the patient's audit trail (as a table, CSV
// and JSON), the compliance officer's own queries join the trail, the
// break-the-glass queue and review round trip, exports in CSV and FHIR, a
// caller without the role is refused and audited, and every bad argument
// exits 2 naming its flag with nothing sent.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "services/domain/event_codec.h"
#include "tests/integration/harness.h"
#include "tests/ops/ctl_driver.h"
#include "tests/testing/audit_events.h"
#include "tests/testing/status_matchers.h"

namespace carelog::integration {
namespace {

using ::carelog::testing::CsvColumn;
using ::carelog::testing::CtlResult;
using ::carelog::testing::IsOk;
using ::carelog::testing::ParseCsv;
using ::carelog::testing::RunCtl;
using carelog::v1::ACCESS_OUTCOME_ALLOWED;
using carelog::v1::ACCESS_OUTCOME_DENIED;
using carelog::v1::AccessAudited;
using carelog::v1::AuditPage;
using carelog::v1::AuditRecord;
using carelog::v1::BREAK_GLASS_REVIEW_DECISION_APPROPRIATE;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kAccessAudited[] = "carelog.v1.AccessAudited";

class AuditCliTest : public ServerTest {
 protected:
  void SetUp() override {
    UseDefaultPolicy();
    StartServer();
    TokenOptions co;
    co.subject = "co-1";
    co.roles = {"compliance_officer"};
    officer_ = Token(co);
    admin_ = Token();
    clerk_ = TokenWithRoles({"front-desk"});
    for (const char* p : {"p-0001", "p-0002"}) {
      ASSERT_THAT(server_->ledger()->Append(Event(
                      absl::StrCat("reg-", p), absl::StrCat("patient/", p),
                      "carelog.test.Noted", kPayloadMarker, p)),
                  IsOk());
    }
  }

  CtlResult Ctl(std::vector<std::string> args, const std::string& token) {
    for (const std::string& a :
         {std::string("--server"), absl::StrCat("127.0.0.1:", server_->port()),
          std::string("--token"), token})
      args.push_back(a);
    return RunCtl(std::move(args));
  }

  uint64_t Head() { return server_->ledger()->GetHead().position; }

  // Positions of the AccessAudited events on `patient`'s audit trail.
  std::vector<std::string> TrailOf(const std::string& patient) {
    std::vector<std::string> out;
    auto page = server_->ledger()->ReadStream("audit/" + patient, 0, 1000);
    EXPECT_THAT(page, IsOk());
    if (!page.ok())
      return out;
    for (const auto& ev : page->events) {
      if (ev.header.event_type == kAccessAudited)
        out.push_back(absl::StrCat(ev.header.position));
    }
    return out;
  }

  // The AccessAudited event at `position`.
  AccessAudited At(uint64_t position) {
    AccessAudited a;
    auto ev = server_->ledger()->ReadAt(position);
    EXPECT_THAT(ev, IsOk());
    if (!ev.ok())
      return a;
    auto d = services::DecodeEvent(*server_->ledger(), *ev);
    EXPECT_THAT(d, IsOk());
    EXPECT_TRUE(d.ok() && d->As(&a));
    return a;
  }

  // Accesses to both patients through carelogd's AdminService: two reads
  // of p-0001 (one denied), one of p-0002, and a break-the-glass read of
  // p-0001. Returns p-0001's trail.
  std::vector<std::string> MakeAccesses() {
    EXPECT_EQ(Ctl({"legal-hold", "show", "p-0001"}, admin_).exit_code, 0);
    EXPECT_EQ(Ctl({"legal-hold", "show", "p-0002"}, admin_).exit_code, 0);
    EXPECT_EQ(Ctl({"legal-hold", "show", "p-0001"}, clerk_).exit_code, 1);
    btg_ = carelog::testing::AppendBreakGlassAccess(*server_->ledger(), "btg-1",
                                                    "dr-e", "p-0001");
    std::vector<std::string> trail = TrailOf("p-0001");
    EXPECT_EQ(trail.size(), 3u);
    return trail;
  }

  // `out` (a JSON array of AuditRecord) as records.
  static std::vector<AuditRecord> FromJson(const std::string& out) {
    AuditPage page;
    const auto s = google::protobuf::util::JsonStringToMessage(
        absl::StrCat("{\"records\":", out, "}"), &page);
    EXPECT_TRUE(s.ok()) << out;
    return {page.records().begin(), page.records().end()};
  }

  std::string officer_, admin_, clerk_;
  uint64_t btg_ = 0;
};

TEST_F(AuditCliTest, ByPatientListsExactlyThePatientsAccessesInEveryFormat) {
  const std::vector<std::string> expected = MakeAccesses();

  CtlResult r = Ctl({"audit", "by-patient", "p-0001", "--csv"}, officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = ParseCsv(r.out);
  EXPECT_EQ(CsvColumn(rows, "position"), expected);
  EXPECT_THAT(CsvColumn(rows, "patient_id"),
              ElementsAre("p-0001", "p-0001", "p-0001"));
  EXPECT_THAT(CsvColumn(rows, "outcome"),
              ElementsAre("allowed", "denied", "break_the_glass"));
  EXPECT_THAT(CsvColumn(rows, "actor"),
              ElementsAre("op-0001", "op-0001", "dr-e"));

  // The query just made is on the trail now, and so is each one after it.
  std::vector<std::string> with_queries = TrailOf("p-0001");
  ASSERT_EQ(with_queries.size(), expected.size() + 1);
  uint64_t query_pos = 0;
  ASSERT_TRUE(absl::SimpleAtoi(with_queries.back(), &query_pos));
  const AccessAudited q = At(query_pos);
  EXPECT_EQ(q.actor(), "co-1");
  EXPECT_EQ(q.resource(), "audit");
  EXPECT_EQ(q.purpose(), "HCOMPL");
  EXPECT_EQ(q.method(), "/carelog.v1.AuditService/QueryAudit");
  EXPECT_EQ(q.outcome(), ACCESS_OUTCOME_ALLOWED);

  r = Ctl({"audit", "by-patient", "p-0001", "--json"}, officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> positions;
  for (const AuditRecord& rec : FromJson(r.out))
    positions.push_back(absl::StrCat(rec.position()));
  EXPECT_EQ(positions, with_queries);

  r = Ctl({"audit", "by-patient", "p-0001"}, officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("POSITION"));
  EXPECT_THAT(r.out, HasSubstr("review-pending"));
  EXPECT_THAT(r.out, HasSubstr("(5 records)"));
  EXPECT_EQ(TrailOf("p-0001").size(), expected.size() + 3);

  // --limit stops early and says that more match.
  r = Ctl({"audit", "by-patient", "p-0001", "--limit", "2"}, officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(2 records; more match"));

  // By actor and by outcome, over every patient.
  r = Ctl({"audit", "by-actor", "dr-e", "--csv"}, officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(CsvColumn(ParseCsv(r.out), "position"),
              ElementsAre(absl::StrCat(btg_)));
  r = Ctl({"audit", "range", "--from", "2000-01-01", "--outcome", "denied",
           "--csv"},
          officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(CsvColumn(ParseCsv(r.out), "position"), ElementsAre(expected[1]));
}

TEST_F(AuditCliTest, BreakGlassReviewRoundTrip) {
  MakeAccesses();
  const std::string btg = absl::StrCat(btg_);
  CtlResult r = Ctl({"audit", "btg-queue", "--csv"}, officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = ParseCsv(r.out);
  EXPECT_THAT(CsvColumn(rows, "position"), ElementsAre(btg));
  EXPECT_THAT(CsvColumn(rows, "review_decision"), ElementsAre(""));

  const std::vector<std::string> review = {"audit",
                                           "review",
                                           btg,
                                           "--decision",
                                           "appropriate",
                                           "--note",
                                           "documented emergency"};
  r = Ctl(review, officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr(absl::StrCat("reviewed ", btg, ": appropriate")));
  // Running it again is a retry: nothing new is written.
  const uint64_t head = Head();
  r = Ctl(review, officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("already recorded"));
  EXPECT_EQ(Head(), head);
  // Another decision on the reviewed access is refused as such.
  r = Ctl({"audit", "review", btg, "--decision", "inappropriate"}, officer_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(r.err, HasSubstr("already reviewed (co-1)"));

  r = Ctl({"audit", "btg-queue"}, officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(0 records)"));
  r = Ctl({"audit", "btg-queue", "--all", "--json"}, officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<AuditRecord> all = FromJson(r.out);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].position(), btg_);
  EXPECT_EQ(all[0].review().decision(),
            BREAK_GLASS_REVIEW_DECISION_APPROPRIATE);
  EXPECT_EQ(all[0].review().reviewer(), "co-1");
  EXPECT_EQ(all[0].review().note(), "documented emergency");
}

TEST_F(AuditCliTest, ExportsCsvAndFhirAuditEvents) {
  const std::vector<std::string> expected = MakeAccesses();
  // The default policy wants a reason for an export.
  CtlResult r = Ctl({"audit", "export", "--patient", "p-0001"}, officer_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED"));

  r = Ctl({"audit", "export", "--patient", "p-0001", "--reason", "CASE-12"},
          officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> csv = CsvColumn(ParseCsv(r.out), "position");
  ASSERT_GE(csv.size(), expected.size());
  EXPECT_EQ(
      std::vector<std::string>(csv.begin(), csv.begin() + expected.size()),
      expected);

  const std::string file = dir_.Sub("export.ndjson");
  r = Ctl({"audit", "export", "--patient", "p-0001", "--format", "fhir",
           "--reason", "CASE-12", "--out", file},
          officer_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("exported"));
  EXPECT_FALSE(std::filesystem::exists(file + ".partial"));
  std::ifstream in(file);
  std::string line;
  std::vector<std::string> ids;
  while (std::getline(in, line)) {
    EXPECT_THAT(line, HasSubstr("\"resourceType\":\"AuditEvent\""));
    EXPECT_THAT(line, HasSubstr("Patient/p-0001"));
    ids.push_back(line);
  }
  EXPECT_GE(ids.size(), expected.size());
  EXPECT_THAT(ids[0], HasSubstr(absl::StrCat("\"carelog-", expected[0], "\"")));
}

TEST_F(AuditCliTest, CallerWithoutTheRoleIsRefusedAndAudited) {
  MakeAccesses();
  const uint64_t head = Head();
  const CtlResult r = Ctl({"audit", "by-patient", "p-0001"}, clerk_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(Head(), head + 1);
  const AccessAudited a = At(head + 1);
  EXPECT_EQ(a.outcome(), ACCESS_OUTCOME_DENIED);
  EXPECT_EQ(a.resource(), "audit");
  EXPECT_EQ(a.patient_id(), "p-0001");
}

TEST_F(AuditCliTest, BadArgumentsExitTwoNamingTheFlagAndSendNothing) {
  MakeAccesses();
  const uint64_t head = Head();
  const std::string existing = dir_.Sub("exists.csv");
  std::ofstream(existing) << "x";
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"audit", "by-patient"}, "PATIENT"},
      {{"audit", "by-patient", "bad id!"}, "PATIENT"},
      {{"audit", "by-patient", "p-0001", "--from", "yesterday"}, "--from"},
      {{"audit", "by-patient", "p-0001", "--from", "1969-12-31"}, "--from"},
      {{"audit", "by-patient", "p-0001", "--from", "2026-02-01", "--to",
        "2026-01-01"},
       "--to"},
      {{"audit", "by-patient", "p-0001", "--outcome", "maybe"}, "--outcome"},
      {{"audit", "by-patient", "p-0001", "--access-purpose", "NOPE"},
       "--access-purpose"},
      {{"audit", "by-patient", "p-0001", "--limit", "0"}, "--limit"},
      {{"audit", "by-actor", "co-1", "--resource", "bad resource!"},
       "--resource"},
      {{"audit", "range"}, "--from or --to"},
      {{"audit", "anomalies", "--anomaly", "weird"}, "--anomaly"},
      {{"audit", "anomalies", "--outcome", "denied"}, "--outcome"},
      {{"audit", "review", "7", "--decision", "fine"}, "--decision"},
      {{"audit", "review", "0", "--decision", "appropriate"}, "POSITION"},
      {{"audit", "review", "7"}, "--decision"},
      {{"audit", "export", "--format", "xml"}, "--format"},
      {{"audit", "export", "--out", existing}, "--out"},
      {{"audit", "export", "--patient", "bad id!"}, "--patient"},
  };
  for (const auto& [args, flag] : bad) {
    const CtlResult r = Ctl(args, officer_);
    EXPECT_EQ(r.exit_code, 2) << args[1] << " " << flag << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(flag)) << args[1];
  }
  EXPECT_EQ(RunCtl({"audit"}).exit_code, 2);
  EXPECT_EQ(RunCtl({"audit", "by-patient", "p-0001"}).exit_code, 2);  // token
  EXPECT_EQ(Head(), head);  // nothing was asked, so nothing was audited
  std::ifstream in(existing);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "x");
}

TEST_F(AuditCliTest, HelpAtEveryLevelExitsZero) {
  CtlResult r = RunCtl({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("Exit codes"));
  r = RunCtl({"audit", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* sub : {"by-patient", "by-actor", "range", "btg-queue",
                          "review", "anomalies", "export"}) {
    EXPECT_THAT(r.out, HasSubstr(sub));
    const CtlResult h = RunCtl({"audit", sub, "--help"});
    EXPECT_EQ(h.exit_code, 0) << sub;
    EXPECT_THAT(h.out, HasSubstr("--server")) << sub;
  }
}

}  // namespace
}  // namespace carelog::integration
