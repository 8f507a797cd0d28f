// services/domain/validate.h — request field checks shared by every domain
// handler. Each returns OK or INVALID_ARGUMENT whose message names the field
// (e.g. "demographics.date_of_birth: month 13 out of range") and never echoes
// the value, which may be patient data. Pure functions; thread-safe.
#ifndef CARELOG_SERVICES_DOMAIN_VALIDATE_H_
#define CARELOG_SERVICES_DOMAIN_VALIDATE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "carelog/v1/common.pb.h"

namespace carelog::services {

inline constexpr size_t kMaxIdBytes = 64;
inline constexpr size_t kMaxNameBytes = 200;
inline constexpr size_t kMaxShortTextBytes = 200;
inline constexpr size_t kMaxLongTextBytes = 8000;

// Opaque ids (patients, appointments, providers, …): 1..64 of [A-Za-z0-9._:-].
absl::Status CheckId(absl::string_view value, absl::string_view field,
                     bool required = true);

// Client command ids: same alphabet, 1..64 bytes, required.
absl::Status CheckCommandId(absl::string_view value);

// Human text: valid UTF-8, no control characters other than \n and \t,
// at most `max_bytes`.
absl::Status CheckText(absl::string_view value, absl::string_view field,
                       size_t max_bytes, bool required);

// A real calendar date between 1900-01-01 and 2200-12-31.
absl::Status CheckDate(const carelog::v1::Date& date, absl::string_view field,
                       bool required);
// date ordering: a <= b (both assumed valid).
int CompareDates(const carelog::v1::Date& a, const carelog::v1::Date& b);

// Money: an ISO 4217-shaped currency (3 upper-case letters) and an amount
// that is > 0 (positive) or >= 0.
absl::Status CheckMoney(const carelog::v1::Money& money,
                        absl::string_view field, bool positive);

// A protobuf enum value that is known and not the *_UNSPECIFIED zero.
absl::Status CheckEnum(bool known, int value, absl::string_view field);

// A time in Unix microseconds between 2000-01-01 and 2200-01-01.
absl::Status CheckTimeMicros(int64_t micros, absl::string_view field);

// A new random id with a prefix, e.g. "pt-3f2a…" (prefix + 32 hex chars).
std::string NewId(absl::string_view prefix);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_DOMAIN_VALIDATE_H_
