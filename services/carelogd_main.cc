// carelogd — the carelog server. See `carelogd --help` and docs/operations.md.
//
// Settings come from defaults, then the YAML --config file, then command-line
// flags (each flag overrides the file's setting). Exit codes: 0 after a
// graceful shutdown (SIGTERM/SIGINT), 2 for a bad configuration, 1 when the
// server cannot start (ledger, ports, keys).
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "CLI/CLI.hpp"
#include "policies/break_glass.h"
#include "services/server/config.h"
#include "services/server/log.h"
#include "services/server/policy_access.h"
#include "services/server/server.h"

namespace {

using carelog::services::ServerConfig;

// How long one declared emergency keeps break-the-glass access to a patient.
constexpr absl::Duration kBreakGlassGrant = absl::Hours(1);

int Fail(int code, const absl::Status& s) {
  std::fprintf(stderr, "carelogd: %s\n", std::string(s.message()).c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the shutdown/reload signals in every thread; one thread waits for
  // them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ServerConfig defaults;
  CLI::App app{
      "carelogd — event-sourced, encrypted, audited patient records ledger "
      "(gRPC)"};
  std::string config_file;
  ServerConfig flags;
  std::vector<std::string> issuer_flags;
  app.add_option("--config", config_file,
                 "YAML configuration file (flags override its settings)");
  auto* listen =
      app.add_option(
             "--listen", flags.listen,
             "gRPC listen address host:port; plaintext only on loopback")
          ->default_str(defaults.listen);
  auto* data_dir = app.add_option("--data-dir", flags.data_dir,
                                  "data directory (ledger in DATA_DIR/ledger)")
                       ->default_str(defaults.data_dir);
  auto* key_file = app.add_option("--key-file", flags.key_file,
                                  "key-encryption key file: 64 hex chars, mode "
                                  "0600, never inside the data dir");
  auto* kek_env =
      app.add_option("--kek-env", flags.kek_env,
                     "environment variable holding the KEK if no --key-file")
          ->default_str(defaults.kek_env);
  auto* tls_cert = app.add_option("--tls-cert", flags.tls.cert_file,
                                  "server certificate chain (PEM)");
  auto* tls_key = app.add_option("--tls-key", flags.tls.key_file,
                                 "server private key (PEM)");
  auto* tls_ca = app.add_option("--tls-client-ca", flags.tls.client_ca_file,
                                "CA bundle that signs client certificates");
  auto* tls_req =
      app.add_flag("--require-client-cert", flags.tls.require_client_cert,
                   "mTLS: refuse clients without a verified certificate");
  auto* issuers =
      app.add_option("--issuer", issuer_flags,
                     "trusted token issuer as ISSUER=JWKS_FILE (repeatable)");
  auto* audience = app.add_option("--audience", flags.audience,
                                  "required token audience (aud)")
                       ->default_str(defaults.audience);
  auto* dev = app.add_flag("--dev", flags.dev_mode,
                           "development: trust a dev token issuer kept in "
                           "DATA_DIR/dev-issuer (loopback only)");
  auto* policy = app.add_option("--policy-file", flags.policy_file,
                                "access policy YAML, reloaded on SIGHUP "
                                "(default: the shipped default policy)");
  auto* metrics =
      app.add_option("--metrics-listen", flags.metrics_listen,
                     "Prometheus /metrics host:port, empty to disable")
          ->default_str(defaults.metrics_listen);
  auto* level = app.add_option("--log-level", flags.log_level,
                               "trace|debug|info|warn|error")
                    ->default_str(defaults.log_level);
  auto* max_msg = app.add_option("--max-message-bytes", flags.max_message_bytes,
                                 "largest gRPC message accepted or sent")
                      ->default_str(std::to_string(defaults.max_message_bytes));
  auto* queue =
      app.add_option(
             "--append-queue", flags.append_queue,
             "commands waiting for the ledger writer before RESOURCE_EXHAUSTED")
          ->default_str(std::to_string(defaults.append_queue));
  auto* threads = app.add_option("--read-threads", flags.read_threads,
                                 "worker threads for disk reads")
                      ->default_str(std::to_string(defaults.read_threads));
  auto* rqueue = app.add_option("--read-queue", flags.read_queue,
                                "read tasks waiting before RESOURCE_EXHAUSTED")
                     ->default_str(std::to_string(defaults.read_queue));
  auto* drain =
      app.add_option("--drain-seconds", flags.drain_seconds,
                     "graceful shutdown: how long in-flight calls may finish")
          ->default_str(std::to_string(defaults.drain_seconds));
  auto* subs = app.add_option("--max-subscriptions", flags.max_subscriptions,
                              "open Subscribe streams at most")
                   ->default_str(std::to_string(defaults.max_subscriptions));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes (106, 109, ...) are not ours: --help exits 0,
    // every real parse error is a bad configuration (2).
    return app.exit(e) == 0 ? 0 : 2;
  }

  ServerConfig config;
  if (!config_file.empty()) {
    auto loaded = carelog::services::LoadConfigFile(config_file);
    if (!loaded.ok())
      return Fail(2, loaded.status());
    config = *loaded;
  }
  if (listen->count())
    config.listen = flags.listen;
  if (data_dir->count())
    config.data_dir = flags.data_dir;
  if (key_file->count())
    config.key_file = flags.key_file;
  if (kek_env->count())
    config.kek_env = flags.kek_env;
  if (tls_cert->count())
    config.tls.cert_file = flags.tls.cert_file;
  if (tls_key->count())
    config.tls.key_file = flags.tls.key_file;
  if (tls_ca->count())
    config.tls.client_ca_file = flags.tls.client_ca_file;
  if (tls_req->count())
    config.tls.require_client_cert = flags.tls.require_client_cert;
  if (audience->count())
    config.audience = flags.audience;
  if (dev->count())
    config.dev_mode = flags.dev_mode;
  if (policy->count())
    config.policy_file = flags.policy_file;
  if (metrics->count())
    config.metrics_listen = flags.metrics_listen;
  if (level->count())
    config.log_level = flags.log_level;
  if (max_msg->count())
    config.max_message_bytes = flags.max_message_bytes;
  if (queue->count())
    config.append_queue = flags.append_queue;
  if (threads->count())
    config.read_threads = flags.read_threads;
  if (rqueue->count())
    config.read_queue = flags.read_queue;
  if (drain->count())
    config.drain_seconds = flags.drain_seconds;
  if (subs->count())
    config.max_subscriptions = flags.max_subscriptions;
  if (issuers->count()) {
    config.issuers.clear();
    for (const auto& f : issuer_flags) {
      const size_t eq = f.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == f.size()) {
        return Fail(2, absl::InvalidArgumentError(
                           "--issuer: expected ISSUER=JWKS_FILE"));
      }
      config.issuers.push_back({f.substr(0, eq), f.substr(eq + 1)});
    }
  }
  if (auto s = carelog::services::ValidateConfig(config); !s.ok())
    return Fail(2, s);
  // The access policy: policy_file, or the default policy compiled in from
  // policies/default_policy.yaml. A bad file is a bad configuration (2); the
  // message names the path and line.
  // Break-the-glass: a declared emergency (purpose ETREAT with a reason) that
  // a break_glass rule permits opens a grant for that actor and patient,
  // lasting kBreakGlassGrant; every use is flagged in its audit event. Grants
  // live in memory: a restart ends them. Outlives the server (declared first).
  carelog::policies::BreakGlassRegistry break_glass_grants(
      [] { return absl::Now(); }, kBreakGlassGrant);
  auto access_policy = carelog::services::LoadAccessPolicy(
      config.policy_file, &break_glass_grants,
      carelog::services::BreakGlassMode::kOpenOnDeclaredEmergency);
  if (!access_policy.ok())
    return Fail(2, access_policy.status());

  auto log = carelog::services::JsonLog::Stderr(config.log_level);
  auto kek = carelog::services::LoadKek(config);
  if (!kek.ok())
    return Fail(1, kek.status());
  log->Info("policy_loaded",
            {{"policy_file",
              config.policy_file.empty() ? "(default)" : config.policy_file},
             {"policy", (*access_policy)->policy().name()},
             {"policy_hash", (*access_policy)->policy().hash()}});
  auto server = carelog::services::CarelogServer::Start(
      config, std::move(*kek), log, nullptr, *access_policy);
  if (!server.ok())
    return Fail(1, server.status());

  std::thread signal_thread([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0)
        continue;
      if (sig == SIGHUP) {
        log->Info("reload_requested", {{"signal", "SIGHUP"}});
        // A bad file is refused and logged (policy_reload_failed); the
        // previous policy stays in force.
        if (!(*server)->ReloadAccessPolicy().ok())
          continue;
        continue;
      }
      log->Info("signal_received",
                {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      (*server)->Shutdown();
      return;
    }
  });
  (*server)->Wait();
  signal_thread.join();
  return 0;
}
