// The patient aggregate: every event folds as intended, unknown events are
// refused with DATA_LOSS, and the relationship facts follow the state.
#include "services/patients/patient_aggregate.h"

#include <string>

#include "gtest/gtest.h"

#include "services/patients/patient_service.h"
#include "tests/testing/status_matchers.h"

namespace carelog::services {
namespace {

using namespace carelog::v1;  // NOLINT
using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;

template <typename T>
DecodedEvent Ev(const T& body) {
  DecodedEvent e;
  e.header.event_type = body.GetDescriptor()->full_name();
  e.body.PackFrom(body);
  return e;
}

PatientState Registered() {
  PatientState s;
  PatientRegistered r;
  r.set_patient_id("pt-1");
  r.mutable_demographics()->set_given_name("Synthia");
  EXPECT_THAT(FoldPatient(&s, Ev(r)), IsOk());
  return s;
}

TEST(PatientAggregateTest, EachEventChangesTheStateItNames) {
  PatientState s = Registered();
  EXPECT_TRUE(s.exists);
  EXPECT_EQ(s.patient_id, "pt-1");

  DemographicsUpdated u;
  u.mutable_demographics()->set_given_name("Synthea");
  u.set_preferred_language("es");
  ASSERT_THAT(FoldPatient(&s, Ev(u)), IsOk());
  EXPECT_EQ(s.demographics.given_name(), "Synthea");
  EXPECT_EQ(s.preferred_language, "es");

  InsuranceRecorded ins;
  ins.set_insurance_id("ins-1");
  ins.mutable_insurance()->set_payer("Plan");
  ASSERT_THAT(FoldPatient(&s, Ev(ins)), IsOk());
  ASSERT_EQ(s.insurances.count("ins-1"), 1u);
  EXPECT_EQ(s.insurances["ins-1"].verification,
            VERIFICATION_RESULT_UNSPECIFIED);

  InsuranceVerificationRecorded v;
  v.set_insurance_id("ins-1");
  v.set_result(VERIFICATION_RESULT_FAILED);
  ASSERT_THAT(FoldPatient(&s, Ev(v)), IsOk());
  EXPECT_EQ(s.insurances["ins-1"].verification, VERIFICATION_RESULT_FAILED);

  PatientCheckedIn c;
  ASSERT_THAT(FoldPatient(&s, Ev(c)), IsOk());
  ASSERT_THAT(FoldPatient(&s, Ev(c)), IsOk());
  EXPECT_EQ(s.check_ins, 2);

  CareTeamMemberAssigned a;
  a.set_member_id("dr-1");
  a.set_role(CARE_TEAM_ROLE_CLINICIAN);
  ASSERT_THAT(FoldPatient(&s, Ev(a)), IsOk());
  EXPECT_EQ(s.care_team.at("dr-1"), CARE_TEAM_ROLE_CLINICIAN);
  CareTeamMemberRemoved rm;
  rm.set_member_id("dr-1");
  ASSERT_THAT(FoldPatient(&s, Ev(rm)), IsOk());
  EXPECT_EQ(s.care_team.count("dr-1"), 0u);

  PatientFlagsSet f;
  f.mutable_flags()->set_vip(true);
  ASSERT_THAT(FoldPatient(&s, Ev(f)), IsOk());
  EXPECT_TRUE(s.flags.vip());
}

TEST(PatientAggregateTest, RestrictionsFoldAndBecomePolicyForbids) {
  PatientState s = Registered();
  DisclosureRestrictionRecorded rec;
  rec.mutable_restriction()->set_restriction_id("rst-1");
  rec.mutable_restriction()->set_party_kind(RESTRICTED_PARTY_KIND_ROLE);
  rec.mutable_restriction()->set_party("billing_clerk");
  rec.mutable_restriction()->add_resources("billing");
  ASSERT_THAT(FoldPatient(&s, Ev(rec)), IsOk());
  rec.mutable_restriction()->set_restriction_id("rst-2");
  rec.mutable_restriction()->set_party_kind(RESTRICTED_PARTY_KIND_ACTOR);
  rec.mutable_restriction()->set_party("dr-9");
  rec.mutable_restriction()->clear_resources();
  ASSERT_THAT(FoldPatient(&s, Ev(rec)), IsOk());

  auto r = PatientFactsFor(s, "anyone").restrictions;
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].id, "rst-1");
  EXPECT_EQ(r[0].kind, policies::PatientRestriction::PartyKind::kRole);
  EXPECT_EQ(r[0].party, "billing_clerk");
  ASSERT_EQ(r[0].resources.size(), 1u);
  EXPECT_EQ(r[0].resources[0], policies::Resource::kBilling);
  // No resources: every resource of patient data, never audit or ledger.
  EXPECT_EQ(r[1].resources.size(), policies::kResourceCount - 2);
  for (const auto res : r[1].resources) {
    EXPECT_NE(res, policies::Resource::kAudit);
    EXPECT_NE(res, policies::Resource::kLedger);
  }

  // A name the model does not know widens the restriction to all patient
  // data rather than dropping it.
  s.restrictions.Mutable(0)->add_resources("clinical.renamed");
  r = PatientFactsFor(s, "anyone").restrictions;
  EXPECT_EQ(r[0].resources.size(), policies::kResourceCount - 2);

  DisclosureRestrictionLifted lift;
  lift.set_restriction_id("rst-1");
  ASSERT_THAT(FoldPatient(&s, Ev(lift)), IsOk());
  ASSERT_EQ(s.restrictions.size(), 1);
  EXPECT_EQ(s.restrictions.Get(0).restriction_id(), "rst-2");
}

TEST(PatientAggregateTest, UnknownEventTypeIsDataLossNotSkipped) {
  PatientState s = Registered();
  Date not_a_patient_event;
  EXPECT_THAT(FoldPatient(&s, Ev(not_a_patient_event)),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(PatientAggregateTest, FactsFollowSelfCareTeamAndFlags) {
  PatientState s = Registered();
  EXPECT_TRUE(PatientFactsFor(s, "pt-1").is_self);
  EXPECT_FALSE(PatientFactsFor(s, "dr-1").on_care_team);
  s.care_team["dr-1"] = CARE_TEAM_ROLE_CLINICIAN;
  EXPECT_TRUE(PatientFactsFor(s, "dr-1").on_care_team);
  EXPECT_FALSE(PatientFactsFor(s, "dr-1").is_self);
  s.flags.set_restricted(true);
  s.flags.set_employee(true);
  EXPECT_TRUE(PatientFactsFor(s, "anyone").restricted);
  EXPECT_TRUE(PatientFactsFor(s, "anyone").employee);
  EXPECT_FALSE(PatientFactsFor(PatientState{}, "pt-1")
                   .is_self);  // no such patient: never "self"
}

TEST(PatientAggregateTest, CommandsOnAMissingPatientAreNotFound) {
  EXPECT_THAT(RequireExists(PatientState{}, "pt-x"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(RequireExists(Registered(), "pt-1"), IsOk());
}

TEST(PatientValidationTest, EachRequestNamesItsBadField) {
  struct Case {
    std::string field;
    absl::Status status;
  };
  RegisterPatientRequest reg;
  reg.mutable_demographics()->set_given_name("A");
  reg.mutable_demographics()->set_family_name("B");
  reg.mutable_demographics()->mutable_date_of_birth()->set_year(1990);
  reg.mutable_demographics()->mutable_date_of_birth()->set_month(1);
  reg.mutable_demographics()->mutable_date_of_birth()->set_day(1);
  reg.mutable_demographics()->set_gender(ADMINISTRATIVE_GENDER_OTHER);
  ASSERT_THAT(ValidateRegisterPatient(reg), IsOk());

  UpdateDemographicsRequest upd;
  *upd.mutable_demographics() = reg.demographics();
  RecordInsuranceRequest ins;
  ins.set_patient_id("pt-1");
  ins.mutable_insurance()->set_payer("Plan");
  ins.mutable_insurance()->set_member_id("M1");
  RecordInsuranceVerificationRequest ver;
  ver.set_patient_id("pt-1");
  ver.set_insurance_id("ins-1");
  ver.set_result(VERIFICATION_RESULT_FAILED);
  RecordInsuranceVerificationRequest ver_ok_with_reason = ver;
  ver_ok_with_reason.set_result(VERIFICATION_RESULT_VERIFIED);
  ver_ok_with_reason.set_failure_reason("should not be here");
  AssignCareTeamMemberRequest assign;
  assign.set_patient_id("pt-1");
  assign.set_member_id("dr 1");
  assign.set_role(CARE_TEAM_ROLE_NURSE);
  RemoveCareTeamMemberRequest remove;
  remove.set_patient_id("pt-1");
  SetPatientFlagsRequest flags;
  flags.set_patient_id(std::string(65, 'p'));
  CheckInRequest chk;
  chk.set_patient_id("pt-1");
  chk.set_appointment_id("appt/1");

  const Case cases[] = {
      {"patient_id", ValidateUpdateDemographics(upd)},
      {"insurance.subscriber_relation", ValidateRecordInsurance(ins)},
      {"failure_reason", ValidateRecordInsuranceVerification(ver)},
      {"failure_reason",
       ValidateRecordInsuranceVerification(ver_ok_with_reason)},
      {"member_id", ValidateAssignCareTeamMember(assign)},
      {"member_id", ValidateRemoveCareTeamMember(remove)},
      {"patient_id", ValidateSetPatientFlags(flags)},
      {"appointment_id", ValidateCheckIn(chk)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    EXPECT_THAT(c.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                   ::testing::HasSubstr(c.field + ":")));
  }
}

}  // namespace
}  // namespace carelog::services
