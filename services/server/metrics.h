// services/server/metrics.h — Prometheus metrics (prometheus-cpp) served on
// their own port, and the gRPC interceptor that counts and times every RPC
// and writes one JSON access-log line per call (method, code, duration,
// request id — no payloads, no patient data).
//
// Metrics: carelog_rpc_total{method,code},
// carelog_rpc_duration_seconds{method}, carelog_append_batch_events,
// carelog_commit_duration_seconds, carelog_append_queue_depth,
// carelog_ledger_head_position, carelog_subscriptions_active,
// carelog_projection_position{projection},
// carelog_projection_lag_events{projection},
// carelog_projection_failed{projection}. Thread-safety: all methods are safe
// for concurrent use.
#ifndef CARELOG_SERVICES_SERVER_METRICS_H_
#define CARELOG_SERVICES_SERVER_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"

#include "services/server/log.h"
#include "storage/ledger.h"

namespace prometheus {
class Registry;
class Exposer;
class Gauge;
class Histogram;
template <typename T>
class Family;
class Counter;
}  // namespace prometheus

namespace carelog::services {

class ServerMetrics {
 public:
  // Serves /metrics on `listen` (host:port; port 0 picks one) unless empty.
  // Errors: UNAVAILABLE if the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<ServerMetrics>> Create(
      const std::string& listen);
  ~ServerMetrics();

  void RecordRpc(absl::string_view method, int code, absl::Duration latency);
  void RecordCommit(const storage::CommitInfo& info, uint64_t queue_depth);
  void SetSubscriptions(int64_t active);
  // A projection's last applied position, its lag behind the head and
  // whether it stopped failed (1) or not (0).
  void SetProjection(const std::string& name, uint64_t position, uint64_t lag,
                     bool failed);

  // The exposition text, as a scrape would return it.
  std::string Scrape() const;
  // The bound metrics port (0 when not serving).
  int port() const;

  // One interceptor per call; `log` may be null.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory(std::shared_ptr<JsonLog> log);

 private:
  ServerMetrics();
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter>* rpc_total_;
  prometheus::Family<prometheus::Histogram>* rpc_duration_;
  prometheus::Histogram* batch_events_;
  prometheus::Histogram* commit_duration_;
  prometheus::Gauge* queue_depth_;
  prometheus::Gauge* head_position_;
  prometheus::Gauge* subscriptions_;
  prometheus::Family<prometheus::Gauge>* projection_position_;
  prometheus::Family<prometheus::Gauge>* projection_lag_;
  prometheus::Family<prometheus::Gauge>* projection_failed_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SERVER_METRICS_H_
