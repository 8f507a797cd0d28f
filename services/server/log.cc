#include "services/server/log.h"

#include <cstdio>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace carelog::services {

namespace {
spdlog::level::level_enum ToSpd(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

const char* Name(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::shared_ptr<JsonLog> Make(std::shared_ptr<spdlog::logger> logger,
                              absl::string_view level) {
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::info);
  return std::make_shared<JsonLog>(std::move(logger));
}
}  // namespace

LogField::LogField(const char* k, double v)
    : key(k), value(absl::StrFormat("%.6g", v)), quoted(false) {}

JsonLog::JsonLog(std::shared_ptr<spdlog::logger> logger)
    : logger_(std::move(logger)) {}

std::shared_ptr<JsonLog> JsonLog::Stderr(absl::string_view level) {
  // Not registered in spdlog's global registry: each JsonLog owns its logger.
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return Make(std::make_shared<spdlog::logger>("carelog", sink), level);
}

std::shared_ptr<JsonLog> JsonLog::File(const std::string& path,
                                       absl::string_view level) {
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false);
  return Make(std::make_shared<spdlog::logger>("carelog", sink), level);
}

std::string JsonEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

void JsonLog::Log(LogLevel level, absl::string_view event,
                  std::initializer_list<LogField> fields) {
  if (!logger_->should_log(ToSpd(level)))
    return;
  std::string line =
      absl::StrFormat(R"({"ts":"%s","level":"%s","event":"%s")",
                      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(),
                                       absl::UTCTimeZone()),
                      Name(level), JsonEscape(event));
  for (const LogField& f : fields) {
    line += absl::StrFormat(R"(,"%s":)", JsonEscape(f.key));
    if (f.quoted) {
      line += "\"" + JsonEscape(f.value) + "\"";
    } else {
      line += f.value;
    }
  }
  line += "}";
  logger_->log(ToSpd(level), "{}", line);
}

void JsonLog::Flush() {
  logger_->flush();
}

}  // namespace carelog::services
