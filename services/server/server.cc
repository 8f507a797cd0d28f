#include "services/server/server.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

#include "crypto/jwt.h"
#include "crypto/key_file.h"
#include "services/admin/admin_service.h"
#include "services/audit/audit_service.h"
#include "services/domain/command_runner.h"
#include "services/domain/registry.h"
#include "services/ledger/ledger_service.h"
#include "services/ledger/verifiable_ledger_service.h"
#include "services/projections/projections.h"
#include "services/projections/query_service.h"
#include "services/server/access.h"
#include "services/server/executor.h"
#include "services/server/metrics.h"
#include "services/server/policy_access.h"
#include "services/server/request_context.h"

namespace carelog::services {

namespace {

absl::StatusOr<std::string> ReadTextFile(const std::string& path,
                                         absl::string_view setting) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::InvalidArgumentError(
        absl::StrCat(setting, ": cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Creates `path` (mode 0700) and any missing parents, like `mkdir -p`.
absl::Status EnsureDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    if (auto s = EnsureDir(path.substr(0, slash)); !s.ok())
      return s;
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const ServerConfig& c) {
  if (!c.tls.enabled())
    return grpc::InsecureServerCredentials();
  auto cert = ReadTextFile(c.tls.cert_file, "tls.cert_file");
  if (!cert.ok())
    return cert.status();
  auto key = ReadTextFile(c.tls.key_file, "tls.key_file");
  if (!key.ok())
    return key.status();
  grpc::SslServerCredentialsOptions opts;
  opts.pem_key_cert_pairs.push_back({*key, *cert});
  if (!c.tls.client_ca_file.empty()) {
    auto ca = ReadTextFile(c.tls.client_ca_file, "tls.client_ca_file");
    if (!ca.ok())
      return ca.status();
    opts.pem_root_certs = *ca;
    opts.client_certificate_request =
        c.tls.require_client_cert
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  } else {
    opts.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  }
  return grpc::SslServerCredentials(opts);
}

// The checkpoint signing key: signing_key_file (must exist), else in dev mode
// a development key created under data_dir/dev-issuer; else none.
absl::StatusOr<std::shared_ptr<const crypto::SigningKey>> LoadCheckpointKey(
    const ServerConfig& c) {
  std::shared_ptr<const crypto::SigningKey> none;
  if (!c.signing_key_file.empty()) {
    auto k = crypto::SigningKey::LoadFile(c.signing_key_file);
    if (!k.ok())
      return absl::Status(
          k.status().code(),
          absl::StrCat("signing_key_file: ", k.status().message()));
    return std::shared_ptr<const crypto::SigningKey>(std::move(*k));
  }
  if (!c.dev_mode)
    return none;
  const std::string path =
      absl::StrCat(c.data_dir, "/", kDevIssuerDir, "/", kDevCheckpointKeyFile);
  auto k = crypto::SigningKey::LoadOrCreateFile(path);
  if (!k.ok())
    return absl::Status(k.status().code(),
                        absl::StrCat(path, ": ", k.status().message()));
  return std::shared_ptr<const crypto::SigningKey>(std::move(*k));
}

// Replaces `path` with `text` atomically (temp file, rename), mode 0644.
absl::Status WritePublicFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out)
      return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  ::chmod(tmp.c_str(), 0644);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot rename ", tmp, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// The audit view's anomaly rules from carelogd's settings (validated by
// ValidateConfig: the time zone loads).
audit::AuditViewOptions AnomalyOptions(const AnomalyConfig& a) {
  audit::AuditViewOptions o;
  o.business_start_hour = a.business_start_hour;
  o.business_end_hour = a.business_end_hour;
  if (!absl::LoadTimeZone(a.time_zone, &o.zone))
    o.zone = absl::UTCTimeZone();
  o.weekends_after_hours = a.weekends_after_hours;
  o.bulk_distinct_patients = a.bulk_distinct_patients;
  o.bulk_window = absl::Seconds(a.bulk_window_seconds);
  o.denial_threshold = a.denial_threshold;
  o.denial_window = absl::Seconds(a.denial_window_seconds);
  return o;
}

}  // namespace

absl::StatusOr<std::unique_ptr<crypto::SecretKey>> LoadKek(
    const ServerConfig& config) {
  if (!config.key_file.empty())
    return crypto::LoadKeyFile(config.key_file);
  if (!config.kek_env.empty()) {
    auto k = crypto::LoadKeyFromEnv(config.kek_env);
    if (!absl::IsNotFound(k.status()))
      return k;
  }
  return absl::NotFoundError(absl::StrCat(
      "no key-encryption key: set key_file (--key-file) or the environment "
      "variable ",
      config.kek_env.empty() ? "named by kek_env" : config.kek_env));
}

class CarelogServer::Impl {
 public:
  ServerConfig config;
  std::shared_ptr<JsonLog> log;
  std::unique_ptr<storage::Ledger> ledger;
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<AccessEnforcer> access;
  std::unique_ptr<Executor> executor;
  std::unique_ptr<LedgerServiceImpl> ledger_service;
  std::unique_ptr<projections::Projections> projections;
  std::unique_ptr<projections::QueryServiceImpl> query_service;
  std::unique_ptr<VerifiableLedgerServiceImpl> verifiable_service;
  std::unique_ptr<AdminServiceImpl> admin_service;
  std::unique_ptr<CommandRunner> runner;
  std::unique_ptr<audit::AuditServiceImpl> audit_service;
  DomainServices domain;
  std::unique_ptr<grpc::Server> server;
  uint64_t metrics_listener = 0;
  int port = 0;
  std::string dev_key_path;
  absl::Mutex mu;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
  absl::Notification done;

  void Shutdown() {
    {
      absl::MutexLock l(&mu);
      if (shut_down)
        return;
      shut_down = true;
    }
    if (log)
      log->Info("shutdown_started", {{"drain_seconds", config.drain_seconds}});
    if (server) {
      if (auto* health = server->GetHealthCheckService())
        health->SetServingStatus(false);
      ledger_service->Shutdown();
      // Stopped workers release queries waiting for min_position (UNAVAILABLE).
      if (projections)
        projections->Stop();
      server->Shutdown(absl::ToChronoTime(absl::Now() +
                                          absl::Seconds(config.drain_seconds)));
      server->Wait();
    }
    if (executor)
      executor->Stop();
    if (admin_service)
      admin_service->Stop();  // finishes a running backup or erasure
    if (projections)
      projections->Stop();
    if (ledger) {
      if (metrics_listener != 0)
        ledger->RemoveCommitListener(metrics_listener);
      ledger->Stop();
    }
    if (log) {
      log->Info("shutdown_complete",
                {{"head", ledger ? ledger->GetHead().position : 0}});
      log->Flush();
    }
    done.Notify();
  }

  ~Impl() {
    Shutdown();
    server.reset();
    ledger_service.reset();
    query_service.reset();
    projections.reset();
    verifiable_service.reset();
    admin_service.reset();
    domain.services.clear();
    audit_service.reset();
    runner.reset();
    executor.reset();
    ledger.reset();
  }
};

CarelogServer::CarelogServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
CarelogServer::~CarelogServer() = default;

absl::StatusOr<std::unique_ptr<CarelogServer>> CarelogServer::Start(
    const ServerConfig& config, std::unique_ptr<crypto::SecretKey> kek,
    std::shared_ptr<JsonLog> log, const storage::Clock* clock,
    std::shared_ptr<const AccessPolicy> policy) {
  if (auto s = ValidateConfig(config); !s.ok())
    return s;
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->log = log ? log : JsonLog::Stderr(config.log_level);

  // Trusted issuers: configured JWKS files, plus the development issuer.
  std::vector<crypto::TrustedIssuer> issuers;
  for (size_t i = 0; i < config.issuers.size(); ++i) {
    auto jwks = ReadTextFile(config.issuers[i].jwks_file,
                             absl::StrCat("issuers[", i, "].jwks_file"));
    if (!jwks.ok())
      return jwks.status();
    issuers.push_back({config.issuers[i].issuer, *jwks});
  }
  if (auto s = EnsureDir(config.data_dir); !s.ok())
    return s;
  if (config.dev_mode) {
    const std::string dir = absl::StrCat(config.data_dir, "/", kDevIssuerDir);
    if (auto s = EnsureDir(dir); !s.ok())
      return s;
    impl->dev_key_path = absl::StrCat(dir, "/", kDevIssuerKeyFile);
    auto signer = crypto::TokenSigner::LoadOrCreatePem(impl->dev_key_path,
                                                       "EdDSA", kDevIssuerKid);
    if (!signer.ok())
      return signer.status();
    issuers.push_back({kDevIssuer, (*signer)->PublicJwks()});
    impl->log->Warn("dev_issuer_enabled",
                    {{"issuer", kDevIssuer}, {"listen", config.listen}});
  }
  crypto::TokenVerifierOptions vo;
  vo.audience = config.audience;
  auto verifier = crypto::TokenVerifier::Create(std::move(issuers), vo);
  if (!verifier.ok())
    return verifier.status();
  impl->auth = std::make_unique<Authenticator>(std::move(*verifier), clock);
  impl->access = std::make_unique<AccessEnforcer>(
      policy != nullptr ? std::move(policy)
                        : std::make_shared<BuiltinPolicy>());

  storage::LedgerOptions lo;
  lo.data_dir = absl::StrCat(config.data_dir, "/", kLedgerSubdir);
  lo.kek = std::move(kek);
  lo.queue_capacity = config.append_queue;
  lo.clock = clock;
  auto checkpoint_key = LoadCheckpointKey(config);
  if (!checkpoint_key.ok())
    return checkpoint_key.status();
  lo.checkpoints.key = *checkpoint_key;
  lo.checkpoints.origin = config.checkpoint_origin;
  lo.checkpoints.every_events = config.checkpoint_every_events;
  lo.checkpoints.interval = absl::Seconds(config.checkpoint_interval_seconds);
  auto ledger = storage::Ledger::Open(std::move(lo));
  if (!ledger.ok())
    return ledger.status();
  impl->ledger = std::move(*ledger);
  if (*checkpoint_key != nullptr) {
    // Auditors pin this key; it is public, so the file is world-readable.
    const std::string pub =
        absl::StrCat(config.data_dir, "/", kCheckpointPublicKeyFile);
    if (auto s =
            WritePublicFile(pub, impl->ledger->CheckpointVerifierKey() + "\n");
        !s.ok())
      return s;
    impl->log->Info("checkpoint_key",
                    {{"verifier_key", impl->ledger->CheckpointVerifierKey()},
                     {"file", pub}});
  } else {
    impl->log->Warn("checkpoints_disabled",
                    {{"reason", "no signing_key_file (and not dev mode)"}});
  }

  auto metrics = ServerMetrics::Create(config.metrics_listen);
  if (!metrics.ok())
    return metrics.status();
  impl->metrics = std::move(*metrics);
  ServerMetrics* m = impl->metrics.get();
  storage::Ledger* l = impl->ledger.get();
  impl->metrics_listener =
      l->AddCommitListener([m, l](const storage::CommitInfo& info) {
        m->RecordCommit(info, l->Stats().queue_depth);
      });

  impl->executor =
      std::make_unique<Executor>(config.read_threads, config.read_queue);
  LedgerServiceOptions lso;
  lso.max_subscriptions = config.max_subscriptions;
  impl->ledger_service = std::make_unique<LedgerServiceImpl>(
      impl->ledger.get(), impl->auth.get(), impl->access.get(),
      impl->executor.get(), m, lso);

  auto creds = Credentials(config);
  if (!creds.ok())
    return creds.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, *creds, &impl->port);
  builder.SetMaxReceiveMessageSize(config.max_message_bytes);
  builder.SetMaxSendMessageSize(config.max_message_bytes);
  builder.RegisterService(impl->ledger_service.get());
  projections::WorkerOptions wo;
  std::shared_ptr<JsonLog> plog = impl->log;
  wo.on_progress = [m, plog](const projections::WorkerStatus& s) {
    const bool failed = s.state == projections::WorkerStatus::State::kFailed;
    m->SetProjection(s.name, s.position,
                     s.head > s.position ? s.head - s.position : 0, failed);
    // Reported once: a failed worker commits no more pages.
    if (failed)
      plog->Error("projection_failed", {{"projection", s.name},
                                        {"failed_position", s.failed_position},
                                        {"error", s.error}});
  };
  auto views = projections::Projections::Open(impl->ledger.get(), wo,
                                              AnomalyOptions(config.anomalies));
  if (!views.ok())
    return views.status();
  impl->projections = std::move(*views);
  impl->projections->Start();
  impl->query_service = std::make_unique<projections::QueryServiceImpl>(
      impl->ledger.get(), impl->executor.get(), impl->auth.get(),
      impl->access.get(), impl->projections.get(), impl->log);
  builder.RegisterService(impl->query_service.get());
  impl->verifiable_service = std::make_unique<VerifiableLedgerServiceImpl>(
      impl->ledger.get(), impl->auth.get(), impl->access.get(),
      impl->executor.get(), impl->log);
  builder.RegisterService(impl->verifiable_service.get());
  impl->admin_service = std::make_unique<AdminServiceImpl>(
      impl->ledger.get(), impl->auth.get(), impl->access.get(), impl->log,
      config.data_dir);
  builder.RegisterService(impl->admin_service.get());
  impl->runner = std::make_unique<CommandRunner>(
      impl->ledger.get(), impl->executor.get(), impl->auth.get(),
      impl->access.get(), impl->log);
  impl->domain = MakeDomainServices(impl->runner.get());
  for (auto& svc : impl->domain.services)
    builder.RegisterService(svc.get());
  impl->audit_service = std::make_unique<audit::AuditServiceImpl>(
      audit::AuditedCallDeps{impl->ledger.get(), impl->executor.get(),
                             impl->auth.get(), impl->access.get(), impl->log},
      impl->runner.get(), impl->projections.get());
  builder.RegisterService(impl->audit_service.get());
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(m->InterceptorFactory(impl->log));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(
        absl::StrCat("listen: cannot bind ", config.listen));
  }
  if (auto* health = impl->server->GetHealthCheckService()) {
    health->SetServingStatus(true);
    health->SetServingStatus("carelog.v1.LedgerService", true);
    health->SetServingStatus("carelog.v1.QueryService", true);
    health->SetServingStatus("carelog.v1.VerifiableLedgerService", true);
    health->SetServingStatus("carelog.v1.AuditService", true);
    health->SetServingStatus("carelog.v1.AdminService", true);
    for (const auto& name : impl->domain.names)
      health->SetServingStatus(name, true);
  }
  const storage::Head head = impl->ledger->GetHead();
  impl->log->Info("server_started", {{"listen", config.listen},
                                     {"port", impl->port},
                                     {"tls", config.tls.enabled()},
                                     {"mtls", config.tls.require_client_cert},
                                     {"metrics_port", impl->metrics->port()},
                                     {"head", head.position}});
  return std::unique_ptr<CarelogServer>(new CarelogServer(std::move(impl)));
}

void CarelogServer::Shutdown() {
  impl_->Shutdown();
}
void CarelogServer::Wait() {
  impl_->done.WaitForNotification();
}
int CarelogServer::port() const {
  return impl_->port;
}
int CarelogServer::metrics_port() const {
  return impl_->metrics->port();
}
storage::Ledger* CarelogServer::ledger() {
  return impl_->ledger.get();
}
AdminServiceImpl* CarelogServer::admin_service_for_test() {
  return impl_->admin_service.get();
}
std::string CarelogServer::dev_issuer_key_path() const {
  return impl_->dev_key_path;
}
std::string CarelogServer::MetricsText() const {
  return impl_->metrics->Scrape();
}

absl::StatusOr<std::string> CarelogServer::ReloadAccessPolicy() {
  const std::string& path = impl_->config.policy_file;
  auto hash = services::ReloadAccessPolicy(path, impl_->access.get());
  if (!hash.ok()) {
    // Policy errors name a path, a line and a policy name — never request data.
    impl_->log->Error("policy_reload_failed",
                      {{"policy_file", path.empty() ? "(default)" : path},
                       {"error", std::string(hash.status().message())},
                       {"kept", "previous policy"}});
    return hash.status();
  }
  impl_->log->Info("policy_reloaded",
                   {{"policy_file", path.empty() ? "(default)" : path},
                    {"policy_hash", *hash}});
  return hash;
}

}  // namespace carelog::services
