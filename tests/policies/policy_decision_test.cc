// Decision semantics: deny by default, forbid beats permit in any order,
// every decision names its rules, masks, patient restrictions and
// break-the-glass.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "policies/break_glass.h"
#include "policies/policy.h"
#include "tests/testing/status_matchers.h"

namespace carelog::policies {
namespace {

using ::carelog::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kHeader[] =
    "version: 1\n"
    "roles: [clinician, billing_clerk, support]\n"
    "rules:\n";

constexpr char kPermitClinician[] =
    "  - id: clinician-read\n"
    "    effect: permit\n"
    "    roles: [clinician]\n"
    "    resources: [clinical.messages, clinical.test_results]\n"
    "    actions: [read]\n"
    "    purposes: [TREAT]\n"
    "    relationship: [care_team]\n";

constexpr char kForbidMessages[] =
    "  - id: no-messages-on-tuesdays\n"
    "    effect: forbid\n"
    "    roles: \"*\"\n"
    "    resources: [clinical.messages]\n"
    "    actions: \"*\"\n";

std::shared_ptr<const Policy> MustParse(const std::string& yaml) {
  auto p = Policy::Parse(yaml);
  EXPECT_THAT(p, IsOk());
  return p.ok() ? *p : nullptr;
}

RequestFacts ClinicianRead(Resource r) {
  RequestFacts f;
  f.actor_id = "dr-1";
  f.roles = {"clinician"};
  f.purpose = "TREAT";
  f.resource = r;
  f.action = Action::kRead;
  f.patient_id = "p-1";
  f.on_care_team = true;
  f.now = absl::FromUnixSeconds(1'800'000'000);
  return f;
}

TEST(PolicyDecisionTest, EverythingUnnamedIsNotPermitted) {
  auto p = MustParse(absl::StrCat(kHeader, kPermitClinician));
  RequestFacts f = ClinicianRead(Resource::kBilling);
  Decision d = p->Decide(f);
  EXPECT_EQ(d.effect, Effect::kNotPermitted);
  EXPECT_FALSE(d.allowed());
  EXPECT_THAT(d.rule_ids, ElementsAre("default-deny"));
  EXPECT_EQ(d.policy_hash, p->hash());

  auto empty = MustParse("version: 1\nroles: []\nrules: []\n");
  Decision e = empty->Decide(ClinicianRead(Resource::kClinicalMessages));
  EXPECT_EQ(e.effect, Effect::kNotPermitted);
  EXPECT_THAT(e.rule_ids, ElementsAre("default-deny"));
}

TEST(PolicyDecisionTest, PermitNamesItsRuleAndHash) {
  auto p = MustParse(absl::StrCat(kHeader, kPermitClinician));
  Decision d = p->Decide(ClinicianRead(Resource::kClinicalTestResults));
  EXPECT_EQ(d.effect, Effect::kPermit);
  EXPECT_THAT(d.rule_ids, ElementsAre("clinician-read"));
  EXPECT_THAT(d.masked_fields, IsEmpty());
  EXPECT_FALSE(d.break_glass);
  EXPECT_EQ(d.policy_hash.size(), 64u);
}

TEST(PolicyDecisionTest, ForbidBeatsPermitRegardlessOfOrder) {
  for (const std::string& yaml :
       {absl::StrCat(kHeader, kPermitClinician, kForbidMessages),
        absl::StrCat(kHeader, kForbidMessages, kPermitClinician)}) {
    auto p = MustParse(yaml);
    Decision d = p->Decide(ClinicianRead(Resource::kClinicalMessages));
    EXPECT_EQ(d.effect, Effect::kForbid);
    EXPECT_THAT(d.rule_ids, ElementsAre("no-messages-on-tuesdays"));
    // The forbid's scope ends where its resources end.
    EXPECT_EQ(p->Decide(ClinicianRead(Resource::kClinicalTestResults)).effect,
              Effect::kPermit);
  }
}

TEST(PolicyDecisionTest, ForbiddenIsDistinctFromNotPermitted) {
  auto p = MustParse(absl::StrCat(kHeader, kForbidMessages));
  EXPECT_EQ(p->Decide(ClinicianRead(Resource::kClinicalMessages)).effect,
            Effect::kForbid);
  EXPECT_EQ(p->Decide(ClinicianRead(Resource::kClinicalTestResults)).effect,
            Effect::kNotPermitted);
  EXPECT_EQ(EffectName(Effect::kForbid), "forbid");
  EXPECT_EQ(EffectName(Effect::kNotPermitted), "not_permitted");
}

TEST(PolicyDecisionTest, EveryMatchingForbidIsNamed) {
  auto p = MustParse(absl::StrCat(
      kHeader, kForbidMessages,
      "  - id: no-clinicians\n    effect: forbid\n    roles: [clinician]\n"
      "    resources: \"*\"\n    actions: [read]\n"));
  Decision d = p->Decide(ClinicianRead(Resource::kClinicalMessages));
  EXPECT_EQ(d.effect, Effect::kForbid);
  EXPECT_THAT(d.rule_ids,
              UnorderedElementsAre("no-messages-on-tuesdays", "no-clinicians"));
}

TEST(PolicyDecisionTest, RulesAreNamedOnceInFileOrder) {
  auto p = MustParse(absl::StrCat(
      kHeader,
      "  - id: z-both\n    effect: permit\n    roles: [clinician, support]\n"
      "    resources: [appointments]\n    actions: [read]\n"
      "    purposes: [TREAT]\n"
      "  - id: a-any\n    effect: permit\n    roles: \"*\"\n"
      "    resources: [appointments]\n    actions: [read]\n"
      "    purposes: [TREAT]\n"
      "  - id: m-support\n    effect: permit\n    roles: [support]\n"
      "    resources: [appointments]\n    actions: [read]\n"
      "    purposes: [TREAT]\n"));
  RequestFacts f = ClinicianRead(Resource::kAppointments);
  f.roles = {"support", "clinician", "support"};
  Decision d = p->Decide(f);
  EXPECT_EQ(d.effect, Effect::kPermit);
  EXPECT_THAT(d.rule_ids, ElementsAre("z-both", "a-any", "m-support"));
}

TEST(PolicyDecisionTest, ConditionsMustAllHold) {
  auto p = MustParse(absl::StrCat(kHeader, kPermitClinician));
  RequestFacts f = ClinicianRead(Resource::kClinicalMessages);
  f.on_care_team = false;
  EXPECT_EQ(p->Decide(f).effect, Effect::kNotPermitted) << "relationship";
  f = ClinicianRead(Resource::kClinicalMessages);
  f.purpose = "HPAYMT";
  EXPECT_EQ(p->Decide(f).effect, Effect::kNotPermitted) << "purpose";
  f.purpose = "NOT-A-CODE";
  EXPECT_EQ(p->Decide(f).effect, Effect::kNotPermitted) << "unknown purpose";
  f = ClinicianRead(Resource::kClinicalMessages);
  f.roles = {"billing_clerk", "undeclared"};
  EXPECT_EQ(p->Decide(f).effect, Effect::kNotPermitted) << "role";
  f = ClinicianRead(Resource::kClinicalMessages);
  f.action = Action::kWrite;
  EXPECT_EQ(p->Decide(f).effect, Effect::kNotPermitted) << "action";
  f = ClinicianRead(Resource::kClinicalMessages);
  f.patient_id.clear();  // no patient: no relationship facts hold
  EXPECT_EQ(p->Decide(f).effect, Effect::kNotPermitted) << "no patient";
}

TEST(PolicyDecisionTest, RequireReasonIsHintedWhenMissing) {
  auto p = MustParse(absl::StrCat(
      kHeader,
      "  - id: with-reason\n    effect: permit\n    roles: [clinician]\n"
      "    resources: [billing]\n    actions: [read]\n    purposes: [TREAT]\n"
      "    require_reason: true\n"));
  RequestFacts f = ClinicianRead(Resource::kBilling);
  Decision d = p->Decide(f);
  EXPECT_EQ(d.effect, Effect::kNotPermitted);
  EXPECT_THAT(d.hint, HasSubstr("with-reason requires a reason"));
  f.reason_present = true;
  d = p->Decide(f);
  EXPECT_EQ(d.effect, Effect::kPermit);
  EXPECT_THAT(d.hint, IsEmpty());
}

TEST(PolicyDecisionTest, MasksAreUnionMinusWhatAnyPermitShows) {
  auto p = MustParse(absl::StrCat(
      kHeader,
      "  - id: billing-view\n    effect: permit\n    roles: [billing_clerk]\n"
      "    resources: [patient.demographics]\n    actions: [read]\n"
      "    purposes: [HPAYMT]\n    fields: [name, address, phone]\n"
      "  - id: support-view\n    effect: permit\n    roles: [support]\n"
      "    resources: [patient.demographics]\n    actions: [read]\n"
      "    purposes: [HPAYMT]\n    mask: [ssn_last4, address, "
      "date_of_birth]\n"));
  RequestFacts f = ClinicianRead(Resource::kPatientDemographics);
  f.purpose = "HPAYMT";
  f.roles = {"billing_clerk"};
  Decision d = p->Decide(f);
  EXPECT_EQ(d.effect, Effect::kPermit);
  EXPECT_THAT(d.masked_fields,
              ElementsAre("date_of_birth", "email", "emergency_contact", "mrn",
                          "preferred_language", "sex", "ssn_last4"));
  f.roles = {"support"};
  EXPECT_THAT(p->Decide(f).masked_fields,
              ElementsAre("address", "date_of_birth", "ssn_last4"));
  f.roles = {"billing_clerk", "support"};
  d = p->Decide(f);
  EXPECT_THAT(d.rule_ids, ElementsAre("billing-view", "support-view"));
  // Both hide ssn_last4 and date_of_birth; billing shows address.
  EXPECT_THAT(d.masked_fields, ElementsAre("date_of_birth", "ssn_last4"));
}

TEST(PolicyDecisionTest, MasksOnlyNameFieldsOfTheRequestedResource) {
  auto p = MustParse(absl::StrCat(
      kHeader,
      "  - id: two\n    effect: permit\n    roles: [support]\n"
      "    resources: [appointments, logistics]\n    actions: [read]\n"
      "    purposes: [HOPERAT]\n    mask: [notes, lodging]\n"));
  RequestFacts f = ClinicianRead(Resource::kAppointments);
  f.roles = {"support"};
  f.purpose = "HOPERAT";
  EXPECT_THAT(p->Decide(f).masked_fields, ElementsAre("notes"));
  f.resource = Resource::kLogistics;
  EXPECT_THAT(p->Decide(f).masked_fields, ElementsAre("lodging"));
}

TEST(PolicyDecisionTest, PatientRestrictionIsAForbid) {
  auto p = MustParse(absl::StrCat(kHeader, kPermitClinician));
  RequestFacts f = ClinicianRead(Resource::kClinicalMessages);
  f.restrictions.push_back(
      {"r-1", PatientRestriction::PartyKind::kActor, "dr-1", {}});
  Decision d = p->Decide(f);
  EXPECT_EQ(d.effect, Effect::kForbid);
  EXPECT_THAT(d.rule_ids, ElementsAre("patient-restriction/r-1"));

  // By role, limited to resources.
  f.restrictions = {{"r-2",
                     PatientRestriction::PartyKind::kRole,
                     "clinician",
                     {Resource::kClinicalTestResults}}};
  EXPECT_EQ(p->Decide(f).effect, Effect::kPermit);
  f.resource = Resource::kClinicalTestResults;
  EXPECT_THAT(p->Decide(f).rule_ids, ElementsAre("patient-restriction/r-2"));

  // By calling service.
  f.restrictions = {
      {"r-3", PatientRestriction::PartyKind::kService, "svc-portal", {}}};
  EXPECT_EQ(p->Decide(f).effect, Effect::kPermit);
  f.calling_service = "svc-portal";
  EXPECT_EQ(p->Decide(f).effect, Effect::kForbid);

  // Another actor is unaffected.
  f = ClinicianRead(Resource::kClinicalMessages);
  f.restrictions = {{"r-4", PatientRestriction::PartyKind::kActor, "dr-2", {}}};
  EXPECT_EQ(p->Decide(f).effect, Effect::kPermit);
}

TEST(PolicyDecisionTest, PatientFlagsAndUnlessRelationship) {
  auto p = MustParse(absl::StrCat(
      kHeader,
      "  - id: billing\n    effect: permit\n    roles: [billing_clerk]\n"
      "    resources: [billing]\n    actions: [read]\n    purposes: [HPAYMT]\n"
      "  - id: vip-needs-assignment\n    effect: forbid\n    roles: \"*\"\n"
      "    resources: [billing]\n    actions: \"*\"\n    patient_flags: [vip]\n"
      "    unless_relationship: [assigned]\n"));
  RequestFacts f = ClinicianRead(Resource::kBilling);
  f.roles = {"billing_clerk"};
  f.purpose = "HPAYMT";
  f.on_care_team = false;
  EXPECT_EQ(p->Decide(f).effect, Effect::kPermit);
  f.patient_vip = true;
  EXPECT_EQ(p->Decide(f).effect, Effect::kForbid);
  f.is_assigned = true;
  EXPECT_EQ(p->Decide(f).effect, Effect::kPermit);
}

constexpr char kBreakGlass[] =
    "  - id: clinician-break-glass\n"
    "    effect: permit\n"
    "    roles: [clinician]\n"
    "    resources: [clinical.test_results]\n"
    "    actions: [read]\n"
    "    break_glass: true\n";

class FakeClock {
 public:
  absl::Time Now() const {
    absl::MutexLock l(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock l(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

TEST(PolicyDecisionTest, BreakGlassNeedsEtreatReasonAndAnActiveGrant) {
  auto p = MustParse(absl::StrCat(kHeader, kPermitClinician, kBreakGlass));
  FakeClock clock;
  BreakGlassRegistry grants([&clock] { return clock.Now(); }, absl::Hours(4));

  RequestFacts f = ClinicianRead(Resource::kClinicalTestResults);
  f.on_care_team = false;
  f.purpose = "ETREAT";
  f.reason_present = true;
  auto refresh = [&] {
    f.now = clock.Now();
    f.break_glass_until = grants.ActiveUntil(f.actor_id, f.patient_id);
  };
  refresh();
  Decision d = p->Decide(f);
  EXPECT_EQ(d.effect, Effect::kNotPermitted) << "no grant";
  EXPECT_THAT(d.hint, HasSubstr("clinician-break-glass"));

  ASSERT_THAT(grants.Open("dr-1", "p-1", absl::Minutes(30)), IsOk());
  refresh();
  d = p->Decide(f);
  EXPECT_EQ(d.effect, Effect::kPermit);
  EXPECT_THAT(d.rule_ids, ElementsAre("clinician-break-glass"));
  EXPECT_TRUE(d.break_glass) << "every use is flagged for review";

  f.reason_present = false;
  EXPECT_EQ(p->Decide(f).effect, Effect::kNotPermitted) << "no reason";
  f.reason_present = true;
  f.purpose = "TREAT";
  EXPECT_EQ(p->Decide(f).effect, Effect::kNotPermitted) << "not ETREAT";
  f.purpose = "ETREAT";

  // Per actor and per patient.
  RequestFacts other = f;
  other.patient_id = "p-2";
  other.break_glass_until =
      grants.ActiveUntil(other.actor_id, other.patient_id);
  EXPECT_EQ(p->Decide(other).effect, Effect::kNotPermitted);
  other = f;
  other.actor_id = "dr-2";
  other.break_glass_until =
      grants.ActiveUntil(other.actor_id, other.patient_id);
  EXPECT_EQ(p->Decide(other).effect, Effect::kNotPermitted);

  // Time-limited.
  clock.Advance(absl::Minutes(29));
  refresh();
  EXPECT_EQ(p->Decide(f).effect, Effect::kPermit);
  clock.Advance(absl::Minutes(1));
  refresh();
  EXPECT_EQ(p->Decide(f).effect, Effect::kNotPermitted) << "expired";
  // Even if a stale expiry reached the engine, "now" decides.
  f.break_glass_until = clock.Now();
  EXPECT_EQ(p->Decide(f).effect, Effect::kNotPermitted);
}

TEST(PolicyDecisionTest, OrdinaryPermitIsNotFlaggedAsBreakGlass) {
  auto p = MustParse(absl::StrCat(
      kHeader, kBreakGlass,
      "  - id: emergency-care-team\n    effect: permit\n    roles: "
      "[clinician]\n"
      "    resources: [clinical.test_results]\n    actions: [read]\n"
      "    purposes: [ETREAT]\n    relationship: [care_team]\n"));
  RequestFacts f = ClinicianRead(Resource::kClinicalTestResults);
  f.purpose = "ETREAT";
  f.reason_present = true;
  f.break_glass_until = f.now + absl::Minutes(5);
  Decision d = p->Decide(f);
  EXPECT_EQ(d.effect, Effect::kPermit);
  EXPECT_FALSE(d.break_glass);
  f.on_care_team = false;
  d = p->Decide(f);
  EXPECT_TRUE(d.break_glass);
  EXPECT_THAT(d.rule_ids, ElementsAre("clinician-break-glass"));
}

TEST(BreakGlassRegistryTest, CapsTtlClosesAndPrunes) {
  FakeClock clock;
  BreakGlassRegistry grants([&clock] { return clock.Now(); }, absl::Hours(1));
  auto until = grants.Open("a", "p", absl::Hours(8));
  ASSERT_THAT(until, IsOk());
  EXPECT_EQ(*until, clock.Now() + absl::Hours(1));
  EXPECT_EQ(grants.ActiveUntil("a", "p"), *until);
  grants.Close("a", "p");
  EXPECT_EQ(grants.ActiveUntil("a", "p"), absl::InfinitePast());
  ASSERT_THAT(grants.Open("a", "p", absl::Minutes(1)), IsOk());
  ASSERT_THAT(grants.Open("b", "p", absl::Minutes(10)), IsOk());
  clock.Advance(absl::Minutes(2));
  EXPECT_EQ(grants.Prune(), 1u);
  EXPECT_NE(grants.ActiveUntil("b", "p"), absl::InfinitePast());
  EXPECT_FALSE(grants.Open("", "p", absl::Minutes(1)).ok());
  EXPECT_FALSE(grants.Open("a", "p", absl::ZeroDuration()).ok());
}

TEST(PolicyDecisionTest, ConcurrentDecisionsAndGrantsAreConsistent) {
  auto p = MustParse(absl::StrCat(kHeader, kPermitClinician, kBreakGlass));
  FakeClock clock;
  BreakGlassRegistry grants([&clock] { return clock.Now(); }, absl::Hours(1));
  constexpr int kThreads = 6;
  constexpr int kIterations = 20000;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string patient = absl::StrCat("p-", t % 3);
      for (int i = 0; i < kIterations; ++i) {
        if (t % 3 == 0) {
          // A writer: opens and closes this actor's grant.
          if (i % 2 == 0) {
            if (!grants.Open("dr-w", patient, absl::Minutes(5)).ok())
              wrong++;
          } else {
            grants.Close("dr-w", patient);
          }
          continue;
        }
        RequestFacts f = ClinicianRead(Resource::kClinicalTestResults);
        f.patient_id = patient;
        f.actor_id = "dr-w";
        f.on_care_team = (i % 2) == 0;
        f.purpose = f.on_care_team ? "TREAT" : "ETREAT";
        f.reason_present = true;
        f.now = clock.Now();
        f.break_glass_until = grants.ActiveUntil(f.actor_id, f.patient_id);
        const Decision d = p->Decide(f);
        const bool want = f.on_care_team || f.now < f.break_glass_until;
        if (d.allowed() != want || d.rule_ids.empty() ||
            d.policy_hash != p->hash() ||
            (d.allowed() && d.break_glass == f.on_care_team)) {
          wrong++;
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace carelog::policies
