// services/server/log.h — structured JSON-lines logging over spdlog.
//
// One line per event: {"ts":…,"level":…,"event":…, fields…}. Fields carry ids,
// codes, sizes and durations — never patient data; callers pass only such
// values (there is no "message" free-text field by design).
// Thread-safety: all methods are safe to call concurrently.
#ifndef CARELOG_SERVICES_SERVER_LOG_H_
#define CARELOG_SERVICES_SERVER_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace spdlog {
class logger;
}

namespace carelog::services {

struct LogField {
  LogField(const char* k, absl::string_view v)
      : key(k), value(v), quoted(true) {}
  LogField(const char* k, const std::string& v)
      : key(k), value(v), quoted(true) {}
  LogField(const char* k, const char* v) : key(k), value(v), quoted(true) {}
  LogField(const char* k, int64_t v)
      : key(k), value(std::to_string(v)), quoted(false) {}
  LogField(const char* k, uint64_t v)
      : key(k), value(std::to_string(v)), quoted(false) {}
  LogField(const char* k, int v)
      : key(k), value(std::to_string(v)), quoted(false) {}
  LogField(const char* k, double v);
  LogField(const char* k, bool v)
      : key(k), value(v ? "true" : "false"), quoted(false) {}
  const char* key;
  std::string value;
  bool quoted;
};

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };

class JsonLog {
 public:
  // Writes to stderr. `level` is one of trace|debug|info|warn|error.
  static std::shared_ptr<JsonLog> Stderr(absl::string_view level);
  // Writes to a file (tests), appending.
  static std::shared_ptr<JsonLog> File(const std::string& path,
                                       absl::string_view level);

  void Log(LogLevel level, absl::string_view event,
           std::initializer_list<LogField> fields);
  void Info(absl::string_view event,
            std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kInfo, event, fields);
  }
  void Warn(absl::string_view event,
            std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kWarn, event, fields);
  }
  void Error(absl::string_view event,
             std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kError, event, fields);
  }
  void Debug(absl::string_view event,
             std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kDebug, event, fields);
  }
  void Flush();

  explicit JsonLog(std::shared_ptr<spdlog::logger> logger);

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

// JSON string escaping (quotes, backslash, control characters).
std::string JsonEscape(absl::string_view s);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SERVER_LOG_H_
