// services/server/server.h — assembles carelogd: opens the ledger, builds
// authentication (trusted issuers, or the development issuer on loopback),
// the access enforcer, metrics, health checking, reflection and the gRPC
// services, and shuts all of it down gracefully.
//
// Operation. Start() returns once the server is listening. Shutdown() marks
// health NOT_SERVING, ends subscriptions, stops accepting calls and waits (up
// to drain_seconds) for in-flight calls — their appends become durable or
// fail — then stops the read executor and drains and closes the ledger.
// Concurrency. Shutdown() may be called from any thread, once or more.
// Limitations. One server per data directory (the ledger's lock).
#ifndef CARELOG_SERVICES_SERVER_SERVER_H_
#define CARELOG_SERVICES_SERVER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "crypto/secret_key.h"
#include "services/server/access.h"
#include "services/server/config.h"
#include "services/server/log.h"
#include "storage/clock.h"
#include "storage/ledger.h"

namespace carelog::services {

class AdminServiceImpl;  // services/admin/admin_service.h

// Development issuer: name, audience default and file layout under data_dir.
inline constexpr char kDevIssuer[] = "carelog-dev";
inline constexpr char kDevIssuerDir[] = "dev-issuer";
inline constexpr char kDevIssuerKeyFile[] = "issuer.pem";
inline constexpr char kDevIssuerKid[] = "dev-1";
inline constexpr char kLedgerSubdir[] = "ledger";
// Checkpoint signing: the development key (dev mode without
// signing_key_file, under kDevIssuerDir) and the published verifier key
// (note format "<origin>+<hash>+<key>", directly under data_dir).
inline constexpr char kDevCheckpointKeyFile[] = "checkpoint.key";
inline constexpr char kCheckpointPublicKeyFile[] = "checkpoint.pub";

class CarelogServer {
 public:
  // `policy` is the access policy to enforce; null means the BuiltinPolicy
  // (carelogd passes the policy file's, or the compiled-in default policy).
  // Errors: INVALID_ARGUMENT for a bad configuration (naming the setting) or
  // unreadable TLS/JWKS files; FAILED_PRECONDITION / DATA_LOSS from opening
  // the ledger; UNAVAILABLE if the listen or metrics port cannot be bound.
  static absl::StatusOr<std::unique_ptr<CarelogServer>> Start(
      const ServerConfig& config, std::unique_ptr<crypto::SecretKey> kek,
      std::shared_ptr<JsonLog> log, const storage::Clock* clock = nullptr,
      std::shared_ptr<const AccessPolicy> policy = nullptr);
  ~CarelogServer();

  void Shutdown();
  // Blocks until Shutdown() completed.
  void Wait();

  int port() const;          // the bound gRPC port
  int metrics_port() const;  // 0 when metrics are off
  storage::Ledger* ledger();
  AdminServiceImpl* admin_service_for_test();
  std::string dev_issuer_key_path() const;  // empty outside dev mode
  std::string MetricsText() const;

  // Re-reads config.policy_file (or the compiled-in default policy when it is
  // empty) and swaps it in atomically; returns the new policy hash and logs
  // policy_reloaded. On error (named line and problem) the current policy
  // stays and policy_reload_failed is logged. Blocking file read; callable
  // from any thread (carelogd calls it on SIGHUP).
  absl::StatusOr<std::string> ReloadAccessPolicy();

  class Impl;

 private:
  explicit CarelogServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Loads the KEK named by the configuration: key_file, else the environment
// variable kek_env. Errors as crypto::LoadKeyFile; NOT_FOUND naming both
// settings when neither is set.
absl::StatusOr<std::unique_ptr<crypto::SecretKey>> LoadKek(
    const ServerConfig& config);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SERVER_SERVER_H_
