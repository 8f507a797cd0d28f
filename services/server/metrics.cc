#include "services/server/metrics.h"

#include <sstream>

#include "absl/strings/str_cat.h"

#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace carelog::services {

namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* b = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *b;
}

const char* CodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN";
}

class RpcInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(grpc::experimental::ServerRpcInfo* info,
                 ServerMetrics* metrics, std::shared_ptr<JsonLog> log)
      : method_(info->method()),
        metrics_(metrics),
        log_(std::move(log)),
        start_(absl::Now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* md = methods->GetRecvInitialMetadata();
      if (md != nullptr) {
        auto it = md->find("x-request-id");
        if (it != md->end() && it->second.size() <= 64)
          request_id_.assign(it->second.data(), it->second.size());
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      const int code = static_cast<int>(methods->GetSendStatus().error_code());
      const absl::Duration took = absl::Now() - start_;
      metrics_->RecordRpc(method_, code, took);
      if (log_) {
        log_->Info("rpc", {{"method", method_},
                           {"code", CodeName(code)},
                           {"duration_ms", absl::ToDoubleMilliseconds(took)},
                           {"request_id", request_id_}});
      }
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  ServerMetrics* metrics_;
  std::shared_ptr<JsonLog> log_;
  absl::Time start_;
  std::string request_id_;
};

class RpcInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  RpcInterceptorFactory(ServerMetrics* metrics, std::shared_ptr<JsonLog> log)
      : metrics_(metrics), log_(std::move(log)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcInterceptor(info, metrics_, log_);
  }

 private:
  ServerMetrics* metrics_;
  std::shared_ptr<JsonLog> log_;
};

}  // namespace

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()) {
  rpc_total_ = &prometheus::BuildCounter()
                    .Name("carelog_rpc_total")
                    .Help("RPCs completed, by method and status code")
                    .Register(*registry_);
  rpc_duration_ = &prometheus::BuildHistogram()
                       .Name("carelog_rpc_duration_seconds")
                       .Help("RPC latency from arrival to status, by method")
                       .Register(*registry_);
  batch_events_ =
      &prometheus::BuildHistogram()
           .Name("carelog_append_batch_events")
           .Help("Events per group commit")
           .Register(*registry_)
           .Add({}, prometheus::Histogram::BucketBoundaries{
                        1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
  commit_duration_ = &prometheus::BuildHistogram()
                          .Name("carelog_commit_duration_seconds")
                          .Help("RocksDB write + WAL sync per group commit")
                          .Register(*registry_)
                          .Add({}, LatencyBuckets());
  queue_depth_ = &prometheus::BuildGauge()
                      .Name("carelog_append_queue_depth")
                      .Help("Commands waiting for the ledger writer")
                      .Register(*registry_)
                      .Add({});
  head_position_ = &prometheus::BuildGauge()
                        .Name("carelog_ledger_head_position")
                        .Help("Latest durable ledger position")
                        .Register(*registry_)
                        .Add({});
  subscriptions_ = &prometheus::BuildGauge()
                        .Name("carelog_subscriptions_active")
                        .Help("Open LedgerService.Subscribe streams")
                        .Register(*registry_)
                        .Add({});
  projection_position_ =
      &prometheus::BuildGauge()
           .Name("carelog_projection_position")
           .Help("Last ledger position applied to a projection")
           .Register(*registry_);
  projection_lag_ = &prometheus::BuildGauge()
                         .Name("carelog_projection_lag_events")
                         .Help("Events a projection is behind the ledger head")
                         .Register(*registry_);
  projection_failed_ =
      &prometheus::BuildGauge()
           .Name("carelog_projection_failed")
           .Help("1 when a projection stopped on an event it cannot apply")
           .Register(*registry_);
}

ServerMetrics::~ServerMetrics() = default;

absl::StatusOr<std::unique_ptr<ServerMetrics>> ServerMetrics::Create(
    const std::string& listen) {
  std::unique_ptr<ServerMetrics> m(new ServerMetrics());
  if (!listen.empty()) {
    try {
      m->exposer_ = std::make_unique<prometheus::Exposer>(listen);
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("metrics_listen: cannot serve metrics on ", listen));
    }
    m->exposer_->RegisterCollectable(m->registry_);
  }
  return m;
}

void ServerMetrics::RecordRpc(absl::string_view method, int code,
                              absl::Duration latency) {
  const std::string m(method);
  rpc_total_->Add({{"method", m}, {"code", CodeName(code)}}).Increment();
  rpc_duration_->Add({{"method", m}}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(latency));
}

void ServerMetrics::RecordCommit(const storage::CommitInfo& info,
                                 uint64_t queue_depth) {
  batch_events_->Observe(static_cast<double>(info.events));
  commit_duration_->Observe(absl::ToDoubleSeconds(info.write_duration));
  head_position_->Set(static_cast<double>(info.head.position));
  queue_depth_->Set(static_cast<double>(queue_depth));
}

void ServerMetrics::SetSubscriptions(int64_t active) {
  subscriptions_->Set(static_cast<double>(active));
}

void ServerMetrics::SetProjection(const std::string& name, uint64_t position,
                                  uint64_t lag, bool failed) {
  projection_position_->Add({{"projection", name}})
      .Set(static_cast<double>(position));
  projection_lag_->Add({{"projection", name}}).Set(static_cast<double>(lag));
  projection_failed_->Add({{"projection", name}}).Set(failed ? 1.0 : 0.0);
}

std::string ServerMetrics::Scrape() const {
  prometheus::TextSerializer s;
  return s.Serialize(registry_->Collect());
}

int ServerMetrics::port() const {
  if (!exposer_)
    return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports[0];
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ServerMetrics::InterceptorFactory(std::shared_ptr<JsonLog> log) {
  return std::make_unique<RpcInterceptorFactory>(this, std::move(log));
}

}  // namespace carelog::services
