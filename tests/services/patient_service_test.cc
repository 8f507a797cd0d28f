// PatientService end to end over a real channel: commands, validation,
// idempotent retries, state rules, enforcement with audit, conflicts.
#include "services/patients/patient_service.h"

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "carelog/v1/patients.grpc.pb.h"
#include "crypto/jwt.h"
#include "services/domain/event_codec.h"
#include "services/server/policy_access.h"
#include "services/server/server.h"
#include "tests/services/service_fixture.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::services {
namespace {

using ::carelog::testing::IsOk;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

class PatientServiceTest : public carelog::testing::ServiceTest {
 protected:
};

TEST_F(PatientServiceTest, RegistrationInsuranceAndCheckInFlowWithAudit) {
  const std::string id = Register("reg-1");
  ASSERT_FALSE(id.empty());

  RecordInsuranceRequest ins;
  ins.set_command_id("ins-1");
  ins.set_patient_id(id);
  ins.mutable_insurance()->set_payer("Synthetic Health Plan");
  ins.mutable_insurance()->set_member_id("M12345");
  ins.mutable_insurance()->set_subscriber_relation(SUBSCRIBER_RELATION_SELF);
  RecordInsuranceReply ins_reply;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    ASSERT_TRUE(patients_->RecordInsurance(&ctx, ins, &ins_reply).ok());
  }
  ASSERT_FALSE(ins_reply.insurance_id().empty());

  RecordInsuranceVerificationRequest ver;
  ver.set_command_id("ver-1");
  ver.set_patient_id(id);
  ver.set_insurance_id(ins_reply.insurance_id());
  ver.set_result(VERIFICATION_RESULT_VERIFIED);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    ASSERT_TRUE(patients_->RecordInsuranceVerification(&ctx, ver, &r).ok());
  }

  CheckInRequest chk;
  chk.set_command_id("chk-1");
  chk.set_patient_id(id);
  chk.set_identity_verified(true);
  chk.set_insurance_id(ins_reply.insurance_id());
  auto* a = chk.add_paperwork();
  a->set_name("consent-to-treat");
  a->set_complete(true);
  auto* b = chk.add_paperwork();
  b->set_name("privacy-notice");
  b->set_complete(false);
  CheckInReply chk_reply;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    grpc::Status s = patients_->CheckIn(&ctx, chk, &chk_reply);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_TRUE(chk_reply.insurance_verified());
  EXPECT_THAT(chk_reply.paperwork_missing(),
              ::testing::ElementsAre("privacy-notice"));
  EXPECT_EQ(chk_reply.result().position(), Head());

  auto events = StreamEvents(PatientStream(id));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].header.event_type, "carelog.v1.PatientRegistered");
  EXPECT_EQ(events[0].meta.actor(), "fd-0001");
  EXPECT_EQ(events[0].header.subject_id, id);
  EXPECT_EQ(events[3].header.event_type, "carelog.v1.PatientCheckedIn");

  // One audit event per decision, under the audit key, about this patient.
  auto audit = StreamEvents("audit/" + id);
  ASSERT_EQ(audit.size(), 4u);
  AccessAudited first;
  ASSERT_TRUE(audit[0].As(&first));
  EXPECT_EQ(audit[0].header.key_class, crypto::KeyClass::kAudit);
  EXPECT_EQ(first.actor(), "fd-0001");
  EXPECT_EQ(first.resource(), "patient.demographics");
  EXPECT_EQ(first.action(), "write");
  EXPECT_EQ(first.outcome(), ACCESS_OUTCOME_ALLOWED);
  EXPECT_FALSE(first.rules().empty());
  EXPECT_FALSE(first.policy_hash().empty());
}

TEST_F(PatientServiceTest, InvalidFieldsAreRejectedByNameAndAppendNothing) {
  const std::string id = Register("reg-1");
  const uint64_t head = Head();
  struct Case {
    std::string field;
    RegisterPatientRequest req;
  };
  std::vector<Case> cases;
  auto base = SampleRegistration("bad-1");
  cases.push_back({"demographics.given_name", base});
  cases.back().req.mutable_demographics()->clear_given_name();
  cases.push_back({"demographics.date_of_birth", base});
  cases.back().req.mutable_demographics()->mutable_date_of_birth()->set_day(
      30);  // Feb 30
  cases.push_back({"demographics.gender", base});
  cases.back().req.mutable_demographics()->set_gender(
      static_cast<AdministrativeGender>(42));
  cases.push_back({"demographics.family_name", base});
  cases.back().req.mutable_demographics()->set_family_name(
      "Test\x01person");  // control character
  cases.push_back({"contact.email", base});
  cases.back().req.mutable_contact()->set_email("not-an-address");
  cases.push_back({"preferred_language", base});
  cases.back().req.set_preferred_language("en US");
  cases.push_back({"command_id", base});
  cases.back().req.set_command_id("");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    grpc::ClientContext ctx;
    Prepare(&ctx);
    RegisterPatientReply reply;
    grpc::Status s = patients_->RegisterPatient(&ctx, c.req, &reply);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr(c.field + ":"));
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("Synthia")));
  }
  CheckInRequest chk;
  chk.set_command_id("c");
  chk.set_patient_id(id);
  chk.add_paperwork()->set_name("dup");
  chk.add_paperwork()->set_name("dup");
  grpc::ClientContext ctx;
  Prepare(&ctx);
  CheckInReply r;
  grpc::Status s = patients_->CheckIn(&ctx, chk, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("paperwork[1].name"));
  EXPECT_EQ(Head(), head);
}

TEST_F(PatientServiceTest, CareTeamRemovalAndFlagsCommitAndChangeFacts) {
  const std::string id = Register("reg-1");
  AssignCareTeamMemberRequest as;
  as.set_command_id("as1");
  as.set_patient_id(id);
  as.set_member_id("dr-0001");
  as.set_role(CARE_TEAM_ROLE_CLINICIAN);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    ASSERT_TRUE(patients_->AssignCareTeamMember(&ctx, as, &r).ok());
  }
  RemoveCareTeamMemberRequest rm;
  rm.set_command_id("rm1");
  rm.set_patient_id(id);
  rm.set_member_id("dr-0001");
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    grpc::Status s = patients_->RemoveCareTeamMember(&ctx, rm, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(r.result().position(), Head());
  }
  SetPatientFlagsRequest fl;
  fl.set_command_id("fl1");
  fl.set_patient_id(id);
  fl.mutable_flags()->set_vip(true);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    grpc::Status s = patients_->SetPatientFlags(&ctx, fl, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  auto events = StreamEvents(PatientStream(id));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2].header.event_type, "carelog.v1.CareTeamMemberRemoved");
  PatientFlagsSet flags;
  ASSERT_TRUE(events[3].As(&flags));
  EXPECT_TRUE(flags.flags().vip());
}

TEST_F(PatientServiceTest, InvalidFieldsOfEveryCommandAppendNothing) {
  const std::string id = Register("reg-1");
  const uint64_t head = Head();
  auto expect_invalid = [&](grpc::Status s, const std::string& field) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_THAT(s.error_message(), HasSubstr(field + ":"));
  };
  {
    UpdateDemographicsRequest u;
    u.set_command_id("u1");
    u.set_patient_id(id);
    *u.mutable_demographics() = SampleRegistration("x").demographics();
    u.mutable_demographics()->mutable_date_of_birth()->set_month(13);
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    expect_invalid(patients_->UpdateDemographics(&ctx, u, &r),
                   "demographics.date_of_birth");
  }
  {
    RecordInsuranceRequest i;
    i.set_command_id("i1");
    i.set_patient_id(id);
    i.mutable_insurance()->set_member_id("M1");
    i.mutable_insurance()->set_subscriber_relation(SUBSCRIBER_RELATION_SELF);
    grpc::ClientContext ctx;
    Prepare(&ctx);
    RecordInsuranceReply r;
    expect_invalid(patients_->RecordInsurance(&ctx, i, &r), "insurance.payer");
  }
  {
    RecordInsuranceVerificationRequest v;
    v.set_command_id("v1");
    v.set_patient_id(id);
    v.set_insurance_id("ins-1");
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    expect_invalid(patients_->RecordInsuranceVerification(&ctx, v, &r),
                   "result");
  }
  {
    AssignCareTeamMemberRequest a;
    a.set_command_id("a1");
    a.set_patient_id(id);
    a.set_member_id("dr-1");
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    expect_invalid(patients_->AssignCareTeamMember(&ctx, a, &r), "role");
  }
  {
    RemoveCareTeamMemberRequest rm;
    rm.set_command_id("r1");
    rm.set_patient_id(id);
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    expect_invalid(patients_->RemoveCareTeamMember(&ctx, rm, &r), "member_id");
  }
  {
    SetPatientFlagsRequest f;
    f.set_command_id("f1");
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    expect_invalid(patients_->SetPatientFlags(&ctx, f, &r), "patient_id");
  }
  EXPECT_EQ(Head(), head);
}

TEST(CarelogServerStartTest, CreatesMissingParentsOfTheDataDirectory) {
  carelog::testing::TempDir dir;
  auto signer = crypto::TokenSigner::Generate("EdDSA", "k1");
  ASSERT_THAT(signer, IsOk());
  const std::string jwks = dir.Sub("jwks.json");
  std::ofstream(jwks) << (*signer)->PublicJwks();
  ServerConfig config;
  config.listen = "127.0.0.1:0";
  config.data_dir = dir.Sub("a/b/data");  // neither a nor a/b exists
  config.issuers = {{carelog::testing::kTestIssuer, jwks}};
  config.metrics_listen = "";
  auto server = CarelogServer::Start(config, carelog::testing::TestKek(),
                                     JsonLog::File(dir.Sub("log"), "error"));
  ASSERT_THAT(server, IsOk());
  EXPECT_GT((*server)->port(), 0);
}

TEST_F(PatientServiceTest, RetryReturnsTheFirstReplyAndAppendsNothing) {
  grpc::ClientContext c1;
  Prepare(&c1);
  RegisterPatientReply first;
  ASSERT_TRUE(
      patients_->RegisterPatient(&c1, SampleRegistration("reg-retry"), &first)
          .ok());
  const uint64_t head = Head();
  grpc::ClientContext c2;
  Prepare(&c2);
  RegisterPatientReply again;
  ASSERT_TRUE(
      patients_->RegisterPatient(&c2, SampleRegistration("reg-retry"), &again)
          .ok());
  EXPECT_EQ(again.patient_id(), first.patient_id());
  EXPECT_TRUE(again.result().duplicate());
  EXPECT_EQ(again.result().position(), first.result().position());
  EXPECT_EQ(Head(), head);

  RegisterPatientRequest other = SampleRegistration("reg-retry");
  other.mutable_demographics()->set_given_name("Different");
  grpc::ClientContext c3;
  Prepare(&c3);
  RegisterPatientReply r3;
  EXPECT_EQ(patients_->RegisterPatient(&c3, other, &r3).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Head(), head);
}

TEST_F(PatientServiceTest, StateRulesGiveNotFoundAndFailedPrecondition) {
  const std::string id = Register("reg-1");
  {
    UpdateDemographicsRequest u;
    u.set_command_id("u1");
    u.set_patient_id("pt-unknown");
    *u.mutable_demographics() = SampleRegistration("x").demographics();
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    EXPECT_EQ(patients_->UpdateDemographics(&ctx, u, &r).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    RecordInsuranceVerificationRequest v;
    v.set_command_id("v1");
    v.set_patient_id(id);
    v.set_insurance_id("ins-missing");
    v.set_result(VERIFICATION_RESULT_FAILED);
    v.set_failure_reason("member not found at payer");
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    EXPECT_EQ(patients_->RecordInsuranceVerification(&ctx, v, &r).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    RemoveCareTeamMemberRequest rm;
    rm.set_command_id("rm1");
    rm.set_patient_id(id);
    rm.set_member_id("dr-0001");
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    EXPECT_EQ(patients_->RemoveCareTeamMember(&ctx, rm, &r).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  AssignCareTeamMemberRequest as;
  as.set_command_id("as1");
  as.set_patient_id(id);
  as.set_member_id("dr-0001");
  as.set_role(CARE_TEAM_ROLE_PRIMARY_CLINICIAN);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    ASSERT_TRUE(patients_->AssignCareTeamMember(&ctx, as, &r).ok());
  }
  as.set_command_id("as2");
  grpc::ClientContext ctx;
  Prepare(&ctx);
  PatientCommandReply r;
  EXPECT_EQ(patients_->AssignCareTeamMember(&ctx, as, &r).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(PatientServiceTest, DeniedCommandIsAuditedAndChangesNothingElse) {
  const std::string id = Register("reg-1");
  const uint64_t head = Head();
  UpdateDemographicsRequest u;
  u.set_command_id("u-denied");
  u.set_patient_id(id);
  *u.mutable_demographics() = SampleRegistration("x").demographics();
  grpc::ClientContext ctx;
  Prepare(&ctx, "billing_clerk", "HPAYMT", "bill-0001");
  PatientCommandReply r;
  grpc::Status s = patients_->UpdateDemographics(&ctx, u, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Exactly one new event: the denial, in the audit trail.
  EXPECT_EQ(Head(), head + 1);
  EXPECT_EQ(StreamEvents(PatientStream(id)).size(), 1u);
  auto audit = StreamEvents("audit/" + id);
  ASSERT_EQ(audit.size(), 2u);
  AccessAudited denied;
  ASSERT_TRUE(audit[1].As(&denied));
  EXPECT_EQ(denied.outcome(), ACCESS_OUTCOME_DENIED);
  EXPECT_EQ(denied.actor(), "bill-0001");
}

TEST_F(PatientServiceTest, CareTeamMembershipGrantsClinicianAccess) {
  const std::string id = Register("reg-1");
  UpdateDemographicsRequest u;
  u.set_command_id("u-clin");
  u.set_patient_id(id);
  *u.mutable_demographics() = SampleRegistration("x").demographics();
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "clinician", "TREAT", "dr-0001");
    PatientCommandReply r;
    EXPECT_EQ(patients_->UpdateDemographics(&ctx, u, &r).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  AssignCareTeamMemberRequest as;
  as.set_command_id("as1");
  as.set_patient_id(id);
  as.set_member_id("dr-0001");
  as.set_role(CARE_TEAM_ROLE_PRIMARY_CLINICIAN);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    ASSERT_TRUE(patients_->AssignCareTeamMember(&ctx, as, &r).ok());
  }
  u.set_command_id("u-clin-2");
  grpc::ClientContext ctx;
  Prepare(&ctx, "clinician", "TREAT", "dr-0001");
  PatientCommandReply r;
  grpc::Status s = patients_->UpdateDemographics(&ctx, u, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(PatientServiceTest,
       ConcurrentUpdatesOfOnePatientAllCommitThroughRetries) {
  const std::string id = Register("reg-1");
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<grpc::Status> results(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      UpdateDemographicsRequest u;
      u.set_command_id(absl::StrCat("u-", i));
      u.set_patient_id(id);
      *u.mutable_demographics() = SampleRegistration("x").demographics();
      grpc::ClientContext ctx;
      Prepare(&ctx);
      PatientCommandReply r;
      results[i] = patients_->UpdateDemographics(&ctx, u, &r);
    });
  }
  for (auto& t : threads)
    t.join();
  int ok = 0;
  for (const auto& s : results) {
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
    }
  }
  EXPECT_GE(ok, 1);
  auto v = server_->ledger()->StreamVersion(PatientStream(id));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(
      *v, 1u + ok);  // every success appended exactly once, versions contiguous
}

}  // namespace
}  // namespace carelog::services
