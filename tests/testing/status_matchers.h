// tests/testing/status_matchers.h — gMock matchers for absl::Status(Or):
// Abseil 20220623 ships none. IsOk() and StatusIs(code[, message matcher]).
#ifndef CARELOG_TESTS_TESTING_STATUS_MATCHERS_H_
#define CARELOG_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace carelog::testing {

inline const absl::Status& GetStatus(const absl::Status& s) {
  return s;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok())
    *result_listener << "status is " << s.ToString();
  return s.ok();
}

MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s.ToString();
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has status code " + absl::StatusCodeToString(code) +
               " and a matching message") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s.ToString();
  return s.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(s.message()), result_listener);
}

}  // namespace carelog::testing

#define CARELOG_ASSERT_OK(expr) ASSERT_THAT((expr), ::carelog::testing::IsOk())
#define CARELOG_EXPECT_OK(expr) EXPECT_THAT((expr), ::carelog::testing::IsOk())

#endif  // CARELOG_TESTS_TESTING_STATUS_MATCHERS_H_
