#include "services/server/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

#include "yaml-cpp/yaml.h"

namespace carelog::services {

namespace {

std::string Where(const YAML::Node& n) {
  return absl::StrCat("line ", n.Mark().line + 1);
}

absl::Status CheckKeys(const YAML::Node& map,
                       const std::set<std::string>& allowed,
                       absl::string_view section) {
  if (!map.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(section.empty() ? "config" : section, " (", Where(map),
                     "): expected a mapping"));
  }
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      return absl::InvalidArgumentError(absl::StrCat(
          section.empty() ? "" : absl::StrCat(section, "."), key, " (",
          Where(kv.first),
          "): unknown setting; known: ", absl::StrJoin(allowed, ", ")));
    }
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status Read(const YAML::Node& map, const char* key,
                  absl::string_view section, T* out) {
  const YAML::Node n = map[key];
  if (!n)
    return absl::OkStatus();
  try {
    *out = n.as<T>();
  } catch (const YAML::Exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat(section.empty() ? "" : absl::StrCat(section, "."), key,
                     " (", Where(n), "): wrong type"));
  }
  return absl::OkStatus();
}

// Bounds of the anomaly settings: the view keeps each actor's window (up to
// the count's entries) in one sealed row, rewritten on every access.
constexpr int kMaxAnomalyCount = 1000;
constexpr int kMaxAnomalyWindow = 7 * 24 * 3600;

#define CARELOG_RETURN_IF_ERROR(expr) \
  do {                                \
    absl::Status _s = (expr);         \
    if (!_s.ok())                     \
      return _s;                      \
  } while (0)

absl::Status ValidateAnomalies(const AnomalyConfig& a) {
  if (a.business_start_hour < 0 || a.business_start_hour > 23) {
    return absl::InvalidArgumentError(
        "anomalies.business_start_hour: must be between 0 and 23");
  }
  if (a.business_end_hour <= a.business_start_hour ||
      a.business_end_hour > 24) {
    return absl::InvalidArgumentError(
        "anomalies.business_end_hour: must be after business_start_hour and "
        "at most 24");
  }
  absl::TimeZone tz;
  if (a.time_zone.empty() || !absl::LoadTimeZone(a.time_zone, &tz)) {
    return absl::InvalidArgumentError(
        "anomalies.time_zone: not a known IANA time zone (e.g. UTC, "
        "America/Chicago)");
  }
  if (a.bulk_distinct_patients < 2 ||
      a.bulk_distinct_patients > kMaxAnomalyCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("anomalies.bulk_distinct_patients: must be between 2 and ",
                     kMaxAnomalyCount));
  }
  if (a.bulk_window_seconds < 1 || a.bulk_window_seconds > kMaxAnomalyWindow) {
    return absl::InvalidArgumentError(
        absl::StrCat("anomalies.bulk_window_seconds: must be between 1 and ",
                     kMaxAnomalyWindow));
  }
  if (a.denial_threshold < 1 || a.denial_threshold > kMaxAnomalyCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("anomalies.denial_threshold: must be between 1 and ",
                     kMaxAnomalyCount));
  }
  if (a.denial_window_seconds < 1 ||
      a.denial_window_seconds > kMaxAnomalyWindow) {
    return absl::InvalidArgumentError(
        absl::StrCat("anomalies.denial_window_seconds: must be between 1 and ",
                     kMaxAnomalyWindow));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerConfig> ParseConfig(absl::string_view yaml,
                                         ServerConfig c) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: YAML syntax error at line ", e.mark.line + 1));
  }
  if (root.IsNull())
    return c;
  CARELOG_RETURN_IF_ERROR(CheckKeys(
      root,
      {"listen", "data_dir", "key_file", "kek_env", "tls", "issuers",
       "audience", "dev_mode", "policy_file", "metrics_listen", "log_level",
       "limits", "signing_key_file", "checkpoints", "anomalies"},
      ""));
  CARELOG_RETURN_IF_ERROR(Read(root, "listen", "", &c.listen));
  CARELOG_RETURN_IF_ERROR(Read(root, "data_dir", "", &c.data_dir));
  CARELOG_RETURN_IF_ERROR(Read(root, "key_file", "", &c.key_file));
  CARELOG_RETURN_IF_ERROR(Read(root, "kek_env", "", &c.kek_env));
  CARELOG_RETURN_IF_ERROR(Read(root, "audience", "", &c.audience));
  CARELOG_RETURN_IF_ERROR(Read(root, "dev_mode", "", &c.dev_mode));
  CARELOG_RETURN_IF_ERROR(Read(root, "policy_file", "", &c.policy_file));
  CARELOG_RETURN_IF_ERROR(Read(root, "metrics_listen", "", &c.metrics_listen));
  CARELOG_RETURN_IF_ERROR(Read(root, "log_level", "", &c.log_level));
  CARELOG_RETURN_IF_ERROR(
      Read(root, "signing_key_file", "", &c.signing_key_file));
  if (const YAML::Node cp = root["checkpoints"]) {
    CARELOG_RETURN_IF_ERROR(CheckKeys(
        cp, {"origin", "every_events", "interval_seconds"}, "checkpoints"));
    CARELOG_RETURN_IF_ERROR(
        Read(cp, "origin", "checkpoints", &c.checkpoint_origin));
    CARELOG_RETURN_IF_ERROR(
        Read(cp, "every_events", "checkpoints", &c.checkpoint_every_events));
    CARELOG_RETURN_IF_ERROR(Read(cp, "interval_seconds", "checkpoints",
                                 &c.checkpoint_interval_seconds));
  }
  if (const YAML::Node tls = root["tls"]) {
    CARELOG_RETURN_IF_ERROR(CheckKeys(
        tls, {"cert_file", "key_file", "client_ca_file", "require_client_cert"},
        "tls"));
    CARELOG_RETURN_IF_ERROR(Read(tls, "cert_file", "tls", &c.tls.cert_file));
    CARELOG_RETURN_IF_ERROR(Read(tls, "key_file", "tls", &c.tls.key_file));
    CARELOG_RETURN_IF_ERROR(
        Read(tls, "client_ca_file", "tls", &c.tls.client_ca_file));
    CARELOG_RETURN_IF_ERROR(
        Read(tls, "require_client_cert", "tls", &c.tls.require_client_cert));
  }
  if (const YAML::Node issuers = root["issuers"]) {
    if (!issuers.IsSequence()) {
      return absl::InvalidArgumentError(
          absl::StrCat("issuers (", Where(issuers), "): expected a list"));
    }
    c.issuers.clear();
    for (size_t i = 0; i < issuers.size(); ++i) {
      const std::string sec = absl::StrCat("issuers[", i, "]");
      CARELOG_RETURN_IF_ERROR(
          CheckKeys(issuers[i], {"issuer", "jwks_file"}, sec));
      IssuerConfig ic;
      CARELOG_RETURN_IF_ERROR(Read(issuers[i], "issuer", sec, &ic.issuer));
      CARELOG_RETURN_IF_ERROR(
          Read(issuers[i], "jwks_file", sec, &ic.jwks_file));
      c.issuers.push_back(std::move(ic));
    }
  }
  if (const YAML::Node an = root["anomalies"]) {
    CARELOG_RETURN_IF_ERROR(CheckKeys(
        an,
        {"business_start_hour", "business_end_hour", "time_zone",
         "weekends_after_hours", "bulk_distinct_patients",
         "bulk_window_seconds", "denial_threshold", "denial_window_seconds"},
        "anomalies"));
    AnomalyConfig& a = c.anomalies;
    const char* kSec = "anomalies";
    CARELOG_RETURN_IF_ERROR(
        Read(an, "business_start_hour", kSec, &a.business_start_hour));
    CARELOG_RETURN_IF_ERROR(
        Read(an, "business_end_hour", kSec, &a.business_end_hour));
    CARELOG_RETURN_IF_ERROR(Read(an, "time_zone", kSec, &a.time_zone));
    CARELOG_RETURN_IF_ERROR(
        Read(an, "weekends_after_hours", kSec, &a.weekends_after_hours));
    CARELOG_RETURN_IF_ERROR(
        Read(an, "bulk_distinct_patients", kSec, &a.bulk_distinct_patients));
    CARELOG_RETURN_IF_ERROR(
        Read(an, "bulk_window_seconds", kSec, &a.bulk_window_seconds));
    CARELOG_RETURN_IF_ERROR(
        Read(an, "denial_threshold", kSec, &a.denial_threshold));
    CARELOG_RETURN_IF_ERROR(
        Read(an, "denial_window_seconds", kSec, &a.denial_window_seconds));
  }
  if (const YAML::Node limits = root["limits"]) {
    CARELOG_RETURN_IF_ERROR(
        CheckKeys(limits,
                  {"max_message_bytes", "append_queue", "read_threads",
                   "read_queue", "drain_seconds", "max_subscriptions"},
                  "limits"));
    CARELOG_RETURN_IF_ERROR(
        Read(limits, "max_message_bytes", "limits", &c.max_message_bytes));
    CARELOG_RETURN_IF_ERROR(
        Read(limits, "append_queue", "limits", &c.append_queue));
    CARELOG_RETURN_IF_ERROR(
        Read(limits, "read_threads", "limits", &c.read_threads));
    CARELOG_RETURN_IF_ERROR(
        Read(limits, "read_queue", "limits", &c.read_queue));
    CARELOG_RETURN_IF_ERROR(
        Read(limits, "drain_seconds", "limits", &c.drain_seconds));
    CARELOG_RETURN_IF_ERROR(
        Read(limits, "max_subscriptions", "limits", &c.max_subscriptions));
  }
  return c;
}

absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return absl::NotFoundError(
        absl::StrCat("config file ", path, " not found or unreadable"));
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = ParseConfig(ss.str());
  if (!c.ok())
    return absl::Status(c.status().code(),
                        absl::StrCat(path, ": ", c.status().message()));
  return c;
}

bool IsLoopbackAddress(absl::string_view listen) {
  // Parse the host part exactly: a prefix test would let a host name such as
  // "127.example.net" pass as loopback and get plaintext or dev mode.
  const size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos)
    return false;
  const absl::string_view host = listen.substr(0, colon);
  if (host == "localhost" || host == "[::1]")
    return true;
  in_addr addr{};
  if (::inet_pton(AF_INET, std::string(host).c_str(), &addr) != 1)
    return false;
  return (ntohl(addr.s_addr) >> 24) == 127;
}

absl::Status ValidateConfig(const ServerConfig& c) {
  const size_t colon = c.listen.rfind(':');
  int port = -1;
  if (c.listen.empty() || colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(c.listen).substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        "listen: expected host:port (e.g. 127.0.0.1:50051)");
  }
  if (c.data_dir.empty())
    return absl::InvalidArgumentError("data_dir: required");
  const bool loopback = IsLoopbackAddress(c.listen);
  if (c.tls.enabled()) {
    if (c.tls.cert_file.empty())
      return absl::InvalidArgumentError(
          "tls.cert_file: required with tls.key_file");
    if (c.tls.key_file.empty())
      return absl::InvalidArgumentError(
          "tls.key_file: required with tls.cert_file");
  } else if (!loopback) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen: ", c.listen,
                     " is not a loopback address; plaintext is allowed only on "
                     "loopback — set tls.cert_file "
                     "and tls.key_file"));
  }
  if (c.tls.require_client_cert && c.tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "tls.client_ca_file: required when tls.require_client_cert is true");
  }
  if (c.dev_mode && !loopback) {
    return absl::InvalidArgumentError(
        "dev_mode: allowed only when listening on a loopback address");
  }
  if (!c.dev_mode && c.issuers.empty()) {
    return absl::InvalidArgumentError(
        "issuers: at least one trusted token issuer required (or dev_mode on "
        "loopback)");
  }
  for (size_t i = 0; i < c.issuers.size(); ++i) {
    if (c.issuers[i].issuer.empty())
      return absl::InvalidArgumentError(
          absl::StrCat("issuers[", i, "].issuer: required"));
    if (c.issuers[i].jwks_file.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("issuers[", i, "].jwks_file: required"));
    }
  }
  if (c.audience.empty())
    return absl::InvalidArgumentError("audience: required");
  if (c.max_message_bytes < 1024 || c.max_message_bytes > (64 << 20)) {
    return absl::InvalidArgumentError(
        "limits.max_message_bytes: must be between 1024 and 67108864");
  }
  if (c.append_queue < 1)
    return absl::InvalidArgumentError("limits.append_queue: must be >= 1");
  if (c.read_threads < 1 || c.read_threads > 256) {
    return absl::InvalidArgumentError(
        "limits.read_threads: must be between 1 and 256");
  }
  if (c.read_queue < 1)
    return absl::InvalidArgumentError("limits.read_queue: must be >= 1");
  if (c.drain_seconds < 0 || c.drain_seconds > 3600) {
    return absl::InvalidArgumentError(
        "limits.drain_seconds: must be between 0 and 3600");
  }
  if (c.max_subscriptions < 0)
    return absl::InvalidArgumentError("limits.max_subscriptions: must be >= 0");
  if (c.checkpoint_interval_seconds < 0) {
    return absl::InvalidArgumentError(
        "checkpoints.interval_seconds: must be >= 0");
  }
  if (c.checkpoint_origin.empty() ||
      c.checkpoint_origin.find_first_of(" \t\r\n+") != std::string::npos) {
    return absl::InvalidArgumentError(
        "checkpoints.origin: non-empty, without whitespace or '+'");
  }
  CARELOG_RETURN_IF_ERROR(ValidateAnomalies(c.anomalies));
  static const std::set<std::string> kLevels = {"trace", "debug", "info",
                                                "warn", "error"};
  if (!kLevels.count(c.log_level))
    return absl::InvalidArgumentError(
        "log_level: one of trace, debug, info, warn, error");
  if (!c.metrics_listen.empty() &&
      c.metrics_listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        "metrics_listen: expected host:port or empty");
  }
  return absl::OkStatus();
}

}  // namespace carelog::services
