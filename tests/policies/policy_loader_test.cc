// Loading and validating policy files: every unknown name or key is refused
// with an INVALID_ARGUMENT that names its line.
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "policies/policy.h"
#include "policies/sha256.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::policies {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Line 1..5 header; the rule starts at line 6, its keys on lines 7..
std::string PolicyWithRule(const std::string& rule_body) {
  return absl::StrCat(
      "version: 1\n"
      "name: t\n"
      "roles: [clinician, nurse]\n"
      "rules:\n"
      "  # the rule under test\n"
      "  - id: r1\n",
      rule_body);
}

constexpr char kGoodBody[] =
    "    effect: permit\n"                  // 7
    "    roles: [clinician]\n"              // 8
    "    resources: [clinical.messages]\n"  // 9
    "    actions: [read]\n"                 // 10
    "    purposes: [TREAT]\n";              // 11

TEST(PolicyLoaderTest, GoodPolicyLoads) {
  auto p = Policy::Parse(PolicyWithRule(kGoodBody));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ((*p)->rule_count(), 1u);
  EXPECT_EQ((*p)->name(), "t");
  EXPECT_TRUE((*p)->HasRule("r1"));
  EXPECT_EQ((*p)->hash(), Sha256Hex(PolicyWithRule(kGoodBody)));
}

struct BadCase {
  const char* what;
  std::string body;
  int line;
  const char* message;
};

class PolicyLoaderErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(PolicyLoaderErrorTest, NamesTheLine) {
  const BadCase& c = GetParam();
  auto p = Policy::Parse(PolicyWithRule(c.body));
  EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr(absl::StrCat("line ", c.line, ":")),
                                HasSubstr(c.message))))
      << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Unknowns, PolicyLoaderErrorTest,
    ::testing::Values(
        BadCase{"role",
                "    effect: permit\n    roles: [clinician, surgeon]\n    "
                "resources: [clinical.messages]\n"
                "    actions: [read]\n    purposes: [TREAT]\n",
                8, "unknown role \"surgeon\""},
        BadCase{"role on its own line",
                "    effect: permit\n    roles:\n      - clinician\n      - "
                "janitor\n"
                "    resources: [clinical.messages]\n    actions: [read]\n    "
                "purposes: [TREAT]\n",
                10, "unknown role \"janitor\""},
        BadCase{"resource",
                "    effect: permit\n    roles: [clinician]\n    resources: "
                "[clinical.xrays]\n"
                "    actions: [read]\n    purposes: [TREAT]\n",
                9, "unknown resource \"clinical.xrays\""},
        BadCase{"action",
                "    effect: permit\n    roles: [clinician]\n    resources: "
                "[clinical.messages]\n"
                "    actions: [read, delete]\n    purposes: [TREAT]\n",
                10, "unknown action \"delete\""},
        BadCase{"purpose",
                "    effect: permit\n    roles: [clinician]\n    resources: "
                "[clinical.messages]\n"
                "    actions: [read]\n    purposes: [TREATMENT]\n",
                11, "unknown purpose of use \"TREATMENT\""},
        BadCase{"field",
                "    effect: permit\n    roles: [clinician]\n    resources: "
                "[clinical.messages]\n"
                "    actions: [read]\n    purposes: [TREAT]\n    fields: "
                "[subject, result_value]\n",
                12, "unknown field \"result_value\""},
        BadCase{"mask field",
                "    effect: permit\n    roles: [clinician]\n    resources: "
                "[billing]\n"
                "    actions: [read]\n    purposes: [TREAT]\n    mask: [ssn]\n",
                12, "unknown field \"ssn\""},
        BadCase{"key",
                "    effect: permit\n    roles: [clinician]\n    resources: "
                "[clinical.messages]\n"
                "    actions: [read]\n    purposes: [TREAT]\n    relation: "
                "[care_team]\n",
                12, "unknown key \"relation\""},
        BadCase{"relationship",
                "    effect: permit\n    roles: [clinician]\n    resources: "
                "[clinical.messages]\n"
                "    actions: [read]\n    purposes: [TREAT]\n    relationship: "
                "[family]\n",
                12, "unknown relationship \"family\""},
        BadCase{"patient flag",
                "    effect: forbid\n    roles: \"*\"\n    resources: "
                "[clinical.messages]\n"
                "    actions: [read]\n    patient_flags: [celebrity]\n",
                11, "unknown patient flag \"celebrity\""},
        BadCase{"effect",
                "    effect: allow\n    roles: [clinician]\n    resources: "
                "[clinical.messages]\n"
                "    actions: [read]\n    purposes: [TREAT]\n",
                7, "unknown effect \"allow\""},
        BadCase{"break-glass with another purpose",
                "    effect: permit\n    roles: [clinician]\n    resources: "
                "[clinical.messages]\n"
                "    actions: [read]\n    purposes: [TREAT]\n    break_glass: "
                "true\n",
                11, "only purpose is ETREAT"},
        BadCase{"forbid with fields",
                "    effect: forbid\n    roles: [clinician]\n    resources: "
                "[clinical.messages]\n"
                "    actions: [read]\n    fields: [subject]\n",
                11, "forbid rules take no fields"},
        BadCase{"permit without purposes",
                "    effect: permit\n    roles: [clinician]\n    resources: "
                "[clinical.messages]\n"
                "    actions: [read]\n",
                6, "must list its \"purposes\""},
        BadCase{"bad boolean",
                "    effect: permit\n    roles: [clinician]\n    resources: "
                "[clinical.messages]\n"
                "    actions: [read]\n    purposes: [TREAT]\n    "
                "require_reason: yes please\n",
                12, "expected true or false"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      std::string n;
      for (char ch : std::string(info.param.what))
        n.push_back(isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
      return n;
    });

TEST(PolicyLoaderTest, UnknownTopLevelKeyNamesTheLine) {
  auto p = Policy::Parse("version: 1\nroles: [a]\nrule:\n  - id: x\n");
  EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("line 3:"),
                                HasSubstr("unknown key \"rule\""))));
}

TEST(PolicyLoaderTest, SyntaxErrorNamesTheLine) {
  auto p = Policy::Parse("version: 1\nroles: [a, b\nrules: []\n");
  EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("syntax error")));
}

TEST(PolicyLoaderTest, DuplicateRuleIdNamesTheSecondLine) {
  auto p = Policy::Parse(
      PolicyWithRule(absl::StrCat(kGoodBody, "  - id: r1\n", kGoodBody)));
  EXPECT_THAT(p,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("line 12:"), HasSubstr("used twice"))));
}

TEST(PolicyLoaderTest, ReservedRuleIdsAreRefused) {
  std::string yaml = PolicyWithRule(kGoodBody);
  yaml.replace(yaml.find("id: r1"), 6, "id: default-deny");
  EXPECT_THAT(Policy::Parse(yaml), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("reserved")));
}

TEST(PolicyLoaderTest, UnsupportedVersionIsRefused) {
  EXPECT_THAT(Policy::Parse("version: 2\nroles: []\nrules: []\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("line 1:"), HasSubstr("version"))));
}

TEST(PolicyLoaderTest, LoadFileNamesThePathAndLine) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/p.yaml";
  {
    std::ofstream out(path);
    out << PolicyWithRule(
        "    effect: permit\n    roles: [clinician]\n    resources: "
        "[clinical.messages]\n"
        "    actions: [read]\n    purposes: [TREAT, BOGUS]\n");
  }
  auto p = Policy::LoadFile(path);
  EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr(path), HasSubstr("line 11:"),
                                HasSubstr("BOGUS"))));
  EXPECT_THAT(Policy::LoadFile(dir.path() + "/missing.yaml"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(PolicyLoaderTest, DefaultPolicyLoadsAndHashesItsBytes) {
  auto p = LoadDefaultPolicy();
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ((*p)->name(), "carelog-default");
  EXPECT_EQ((*p)->hash(), Sha256Hex(DefaultPolicyYaml()));
  EXPECT_GT((*p)->rule_count(), 20u);
}

}  // namespace
}  // namespace carelog::policies
