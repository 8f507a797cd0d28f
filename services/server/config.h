// services/server/config.h — carelogd's settings: defaults, YAML file,
// command-line overrides (applied by the caller), and validation.
//
// Every setting has a working default for development on loopback; a bad or
// missing setting stops start-up with a message naming it. Thread-safety:
// plain data.
#ifndef CARELOG_SERVICES_SERVER_CONFIG_H_
#define CARELOG_SERVICES_SERVER_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carelog::services {

struct TlsConfig {
  std::string cert_file;       // server certificate chain (PEM)
  std::string key_file;        // server private key (PEM)
  std::string client_ca_file;  // CA bundle for client certificates (mTLS)
  bool require_client_cert = false;
  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

struct IssuerConfig {
  std::string issuer;     // the token's "iss"
  std::string jwks_file;  // its public keys (RFC 7517 JSON)
};

// The audit projection's anomaly rules (services/audit/audit_view.h,
// AuditViewOptions). Flags are computed when an access is applied, with the
// settings in force then; a rebuild of the audit view recomputes them all
// with the current settings.
struct AnomalyConfig {
  // After hours: a decision outside [business_start_hour, business_end_hour)
  // in time_zone (an IANA name), and on weekends when weekends_after_hours.
  int business_start_hour = 7;
  int business_end_hour = 19;
  std::string time_zone = "UTC";
  bool weekends_after_hours = false;
  // Bulk access: an actor reading this many distinct patients within the
  // window.
  int bulk_distinct_patients = 20;
  int bulk_window_seconds = 600;
  // Repeated denials: this many denials of one actor within the window.
  int denial_threshold = 5;
  int denial_window_seconds = 900;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:50051";
  std::string data_dir = "var/data";
  std::string key_file;                 // KEK file (64 hex chars, mode 0600)
  std::string kek_env = "CARELOG_KEK";  // used when key_file is empty
  TlsConfig tls;
  std::vector<IssuerConfig> issuers;
  std::string audience = "carelog";
  bool dev_mode = false;  // loopback only: a development token issuer in
                          // data_dir/dev-issuer
  std::string policy_file;
  // Ed25519 seed file (64 hex chars, mode 0600) that signs ledger checkpoints.
  // Empty: dev mode creates data_dir/dev-issuer/checkpoint.key; otherwise no
  // checkpoints are made (proofs still work; VerifiableLedgerService serves no
  // key).
  std::string signing_key_file;
  std::string checkpoint_origin = "carelog.local/ledger";  // note key name too
  size_t checkpoint_every_events = 10000;                  // 0: off
  int checkpoint_interval_seconds = 60;                    // 0: off
  std::string metrics_listen = "127.0.0.1:9464";  // empty: no metrics endpoint
  std::string log_level = "info";                 // trace|debug|info|warn|error
  // Limits.
  int max_message_bytes = 4 << 20;
  size_t append_queue = 16384;
  int read_threads = 4;
  size_t read_queue = 4096;
  int drain_seconds = 15;
  int max_subscriptions = 256;
  AnomalyConfig anomalies;
};

// Reads a YAML file over the defaults. Errors: NOT_FOUND (missing file);
// INVALID_ARGUMENT naming the key and line for unknown keys or wrong types.
absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path);

// Parses YAML text over `base` (same errors as LoadConfigFile).
absl::StatusOr<ServerConfig> ParseConfig(absl::string_view yaml,
                                         ServerConfig base = {});

// Checks the whole configuration: ranges, files named, and the transport rule
// (plaintext only on loopback; dev_mode only on loopback; no issuer at all
// outside dev mode). Errors: INVALID_ARGUMENT naming the setting.
absl::Status ValidateConfig(const ServerConfig& config);

// True for 127.0.0.0/8, [::1] and localhost listen addresses.
bool IsLoopbackAddress(absl::string_view listen);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SERVER_CONFIG_H_
