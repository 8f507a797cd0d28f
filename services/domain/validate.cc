#include "services/domain/validate.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "crypto/hash.h"
#include "crypto/secret_key.h"

namespace carelog::services {

namespace {

bool IdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

// Returns the length of the UTF-8 sequence at s[i], or 0 if invalid.
size_t Utf8Len(absl::string_view s, size_t i, uint32_t* cp) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c >> 5) == 0x6) {
    n = 2;
    v = c & 0x1f;
  } else if ((c >> 4) == 0xe) {
    n = 3;
    v = c & 0x0f;
  } else if ((c >> 3) == 0x1e) {
    n = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size())
    return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80)
      return 0;
    v = (v << 6) | (cc & 0x3f);
  }
  // Overlong encodings, surrogates and out-of-range code points are invalid.
  if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) ||
      (n == 4 && v < 0x10000) || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
    return 0;
  }
  *cp = v;
  return n;
}

bool LeapYear(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

}  // namespace

absl::Status CheckId(absl::string_view value, absl::string_view field,
                     bool required) {
  if (value.empty()) {
    return required
               ? absl::InvalidArgumentError(absl::StrCat(field, ": required"))
               : absl::OkStatus();
  }
  if (value.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": longer than ", kMaxIdBytes, " bytes"));
  }
  for (char c : value) {
    if (!IdChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": only letters, digits and . _ : - are allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCommandId(absl::string_view value) {
  return CheckId(value, "command_id", true);
}

absl::Status CheckText(absl::string_view value, absl::string_view field,
                       size_t max_bytes, bool required) {
  if (value.empty()) {
    return required
               ? absl::InvalidArgumentError(absl::StrCat(field, ": required"))
               : absl::OkStatus();
  }
  if (value.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": longer than ", max_bytes, " bytes"));
  }
  for (size_t i = 0; i < value.size();) {
    uint32_t cp = 0;
    const size_t n = Utf8Len(value, i, &cp);
    if (n == 0)
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": not valid UTF-8"));
    if ((cp < 0x20 && cp != '\n' && cp != '\t') || cp == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": control characters are not allowed"));
    }
    i += n;
  }
  return absl::OkStatus();
}

absl::Status CheckDate(const carelog::v1::Date& d, absl::string_view field,
                       bool required) {
  if (d.year() == 0 && d.month() == 0 && d.day() == 0) {
    return required
               ? absl::InvalidArgumentError(absl::StrCat(field, ": required"))
               : absl::OkStatus();
  }
  if (d.year() < 1900 || d.year() > 2200) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": year out of range 1900..2200"));
  }
  if (d.month() < 1 || d.month() > 12) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": month out of range 1..12"));
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  const int max_day =
      kDays[d.month() - 1] + (d.month() == 2 && LeapYear(d.year()) ? 1 : 0);
  if (d.day() < 1 || d.day() > max_day) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": day out of range for the month"));
  }
  return absl::OkStatus();
}

int CompareDates(const carelog::v1::Date& a, const carelog::v1::Date& b) {
  const int64_t ka =
      static_cast<int64_t>(a.year()) * 10000 + a.month() * 100 + a.day();
  const int64_t kb =
      static_cast<int64_t>(b.year()) * 10000 + b.month() * 100 + b.day();
  return ka < kb ? -1 : (ka > kb ? 1 : 0);
}

absl::Status CheckMoney(const carelog::v1::Money& m, absl::string_view field,
                        bool positive) {
  const std::string& c = m.currency();
  if (c.size() != 3 || !absl::ascii_isupper(static_cast<unsigned char>(c[0])) ||
      !absl::ascii_isupper(static_cast<unsigned char>(c[1])) ||
      !absl::ascii_isupper(static_cast<unsigned char>(c[2]))) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".currency: expected an ISO 4217 code such as USD"));
  }
  if (positive ? m.amount_minor() <= 0 : m.amount_minor() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".amount_minor: must be ",
                     positive ? "greater than zero" : "zero or more"));
  }
  if (m.amount_minor() > int64_t{1} << 50) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".amount_minor: implausibly large"));
  }
  return absl::OkStatus();
}

absl::Status CheckEnum(bool known, int value, absl::string_view field) {
  if (!known)
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": unknown value ", value));
  if (value == 0)
    return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  return absl::OkStatus();
}

absl::Status CheckTimeMicros(int64_t micros, absl::string_view field) {
  constexpr int64_t kMin = 946684800LL * 1000000;   // 2000-01-01
  constexpr int64_t kMax = 7258118400LL * 1000000;  // 2200-01-01
  if (micros == 0)
    return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (micros < kMin || micros > kMax) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": out of range 2000..2200"));
  }
  return absl::OkStatus();
}

std::string NewId(absl::string_view prefix) {
  uint8_t b[16];
  crypto::RandomBytes(b, sizeof(b));
  return absl::StrCat(prefix,
                      crypto::BytesToHex(absl::string_view(
                          reinterpret_cast<const char*>(b), sizeof(b))));
}

}  // namespace carelog::services
