// A patient's restrictions on disclosure, end to end over a real channel with
// the default policy: recording one makes the restricted party's reads
// (QueryService, through the patient record view) and commands (PatientService,
// through the patient aggregate) FORBIDDEN, naming the restriction, with the
// denial audited; a colleague is unaffected; lifting it restores access; the
// restriction itself never appears in a reply; bad input names the field and
// appends nothing.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/patients.grpc.pb.h"
#include "tests/services/projection_fixture.h"

namespace carelog::services {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

class PatientRestrictionTest : public ProjectionServerTest {
 protected:
  void SetUp() override {
    ProjectionServerTest::SetUp();
    RegisterPatientRequest reg;
    reg.set_command_id("reg-1");
    reg.mutable_demographics()->set_given_name("Synthia");
    reg.mutable_demographics()->set_family_name("Restricta");
    reg.mutable_demographics()->mutable_date_of_birth()->set_year(1981);
    reg.mutable_demographics()->mutable_date_of_birth()->set_month(3);
    reg.mutable_demographics()->mutable_date_of_birth()->set_day(4);
    reg.mutable_demographics()->set_gender(ADMINISTRATIVE_GENDER_FEMALE);
    RegisterPatientReply reply;
    ASSERT_TRUE(FrontDesk([&](grpc::ClientContext* c) {
                  return patients_->RegisterPatient(c, reg, &reply);
                }).ok());
    patient_ = reply.patient_id();
    for (const char* member : {"dr-0001", "dr-0002"}) {
      AssignCareTeamMemberRequest as;
      as.set_command_id(absl::StrCat("as-", member));
      as.set_patient_id(patient_);
      as.set_member_id(member);
      as.set_role(CARE_TEAM_ROLE_CLINICIAN);
      PatientCommandReply r;
      ASSERT_TRUE(FrontDesk([&](grpc::ClientContext* c) {
                    return patients_->AssignCareTeamMember(c, as, &r);
                  }).ok());
      position_ = r.result().position();
    }
  }

  template <typename Call>
  grpc::Status FrontDesk(Call call) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "front_desk", "HOPERAT", "fd-0001");
    return call(&ctx);
  }

  // A clinician's read of the patient's record, once the view has caught up.
  grpc::Status ClinicianRead(const std::string& clinician, PatientRecord* rec) {
    GetPatientRecordRequest req;
    req.set_patient_id(patient_);
    req.set_min_position(position_);
    grpc::ClientContext ctx;
    Prepare(&ctx, "clinician", "TREAT", clinician);
    return queries_->GetPatientRecord(&ctx, req, rec);
  }

  grpc::Status Restrict(RecordDisclosureRestrictionRequest req,
                        RecordDisclosureRestrictionReply* reply) {
    return FrontDesk([&](grpc::ClientContext* c) {
      return patients_->RecordDisclosureRestriction(c, req, reply);
    });
  }

  RecordDisclosureRestrictionRequest OnActor(const std::string& command_id,
                                             const std::string& actor) {
    RecordDisclosureRestrictionRequest r;
    r.set_command_id(command_id);
    r.set_patient_id(patient_);
    r.set_party_kind(RESTRICTED_PARTY_KIND_ACTOR);
    r.set_party(actor);
    return r;
  }

  std::string patient_;
  uint64_t position_ = 0;
};

TEST_F(PatientRestrictionTest, RestrictedActorIsForbiddenAndTheDenialAudited) {
  PatientRecord rec;
  ASSERT_TRUE(ClinicianRead("dr-0001", &rec).ok());

  RecordDisclosureRestrictionReply reply;
  grpc::Status s = Restrict(OnActor("rst-1", "dr-0001"), &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string rule = "patient-restriction/" + reply.restriction_id();
  ASSERT_FALSE(reply.restriction_id().empty());
  position_ = reply.result().position();

  // A read through the patient record view.
  rec.Clear();
  s = ClinicianRead("dr-0001", &rec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("forbidden"));
  EXPECT_THAT(s.error_message(), HasSubstr(rule));
  EXPECT_EQ(rec.demographics().family_name(), "");
  auto audited = AuditOf(patient_, "/carelog.v1.QueryService/GetPatientRecord");
  ASSERT_EQ(audited.size(), 2u);
  EXPECT_EQ(audited[1].actor(), "dr-0001");
  EXPECT_EQ(audited[1].outcome(), ACCESS_OUTCOME_DENIED);
  EXPECT_TRUE(audited[1].forbidden());
  EXPECT_THAT(audited[1].rules(), Contains(rule));

  // A command through the patient aggregate.
  UpdateDemographicsRequest u;
  u.set_command_id("u-1");
  u.set_patient_id(patient_);
  u.mutable_demographics()->set_given_name("Synthia");
  u.mutable_demographics()->set_family_name("Restricta");
  u.mutable_demographics()->mutable_date_of_birth()->set_year(1981);
  u.mutable_demographics()->mutable_date_of_birth()->set_month(3);
  u.mutable_demographics()->mutable_date_of_birth()->set_day(4);
  u.mutable_demographics()->set_gender(ADMINISTRATIVE_GENDER_FEMALE);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "clinician", "TREAT", "dr-0001");
    PatientCommandReply r;
    s = patients_->UpdateDemographics(&ctx, u, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(s.error_message(), HasSubstr(rule));
  }
  auto denied_command =
      AuditOf(patient_, "carelog.v1.PatientService/UpdateDemographics");
  ASSERT_EQ(denied_command.size(), 1u);
  EXPECT_EQ(denied_command[0].outcome(), ACCESS_OUTCOME_DENIED);
  EXPECT_THAT(denied_command[0].rules(), Contains(rule));

  // A colleague on the same care team still reads; no reply carries the
  // restriction.
  rec.Clear();
  s = ClinicianRead("dr-0002", &rec);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(rec.demographics().family_name(), "Restricta");
  EXPECT_EQ(rec.restrictions_size(), 0);

  // Lifted: the restricted actor reads again.
  LiftDisclosureRestrictionRequest lift;
  lift.set_command_id("lift-1");
  lift.set_patient_id(patient_);
  lift.set_restriction_id(reply.restriction_id());
  PatientCommandReply lifted;
  s = FrontDesk([&](grpc::ClientContext* c) {
    return patients_->LiftDisclosureRestriction(c, lift, &lifted);
  });
  ASSERT_TRUE(s.ok()) << s.error_message();
  position_ = lifted.result().position();
  s = ClinicianRead("dr-0001", &rec);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(PatientRestrictionTest, RoleRestrictionLimitedToResources) {
  // Clinicians may not see this patient's test results; demographics stay
  // open to them.
  RecordDisclosureRestrictionRequest req;
  req.set_command_id("rst-role");
  req.set_patient_id(patient_);
  req.set_party_kind(RESTRICTED_PARTY_KIND_ROLE);
  req.set_party("clinician");
  req.add_resources("clinical.test_results");
  RecordDisclosureRestrictionReply reply;
  ASSERT_TRUE(Restrict(req, &reply).ok());
  position_ = reply.result().position();
  PatientRecord rec;
  grpc::Status s = ClinicianRead("dr-0001", &rec);
  EXPECT_TRUE(s.ok()) << s.error_message();

  // The same party and resources again: already restricted.
  req.set_command_id("rst-role-2");
  s = Restrict(req, &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(PatientRestrictionTest, BadInputNamesTheFieldAndAppendsNothing) {
  const uint64_t head = Head();
  auto expect_invalid = [&](const RecordDisclosureRestrictionRequest& r,
                            const std::string& field) {
    RecordDisclosureRestrictionReply reply;
    grpc::Status s = Restrict(r, &reply);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_THAT(s.error_message(), HasSubstr(field + ":"));
  };
  auto r = OnActor("bad-1", "dr-0001");
  r.set_party_kind(RESTRICTED_PARTY_KIND_UNSPECIFIED);
  expect_invalid(r, "party_kind");
  r = OnActor("bad-2", "");
  expect_invalid(r, "party");
  r = OnActor("bad-3", "dr-0001");
  r.add_resources("clinical.gossip");
  expect_invalid(r, "resources[0]");
  r = OnActor("bad-4", "dr-0001");
  r.add_resources("billing");
  r.add_resources("audit");
  expect_invalid(r, "resources[1]");
  r = OnActor("bad-5", "dr-0001");
  r.add_resources("billing");
  r.add_resources("billing");
  expect_invalid(r, "resources[1]");
  r = OnActor("bad-6", "dr-0001");
  r.set_patient_id("");
  expect_invalid(r, "patient_id");

  LiftDisclosureRestrictionRequest lift;
  lift.set_command_id("lift-bad");
  lift.set_patient_id(patient_);
  PatientCommandReply lifted;
  grpc::Status s = FrontDesk([&](grpc::ClientContext* c) {
    return patients_->LiftDisclosureRestriction(c, lift, &lifted);
  });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("restriction_id:"));
  EXPECT_EQ(Head(), head);

  // A well-formed id the patient has no restriction under.
  lift.set_restriction_id("rst-unknown");
  s = FrontDesk([&](grpc::ClientContext* c) {
    return patients_->LiftDisclosureRestriction(c, lift, &lifted);
  });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace carelog::services
