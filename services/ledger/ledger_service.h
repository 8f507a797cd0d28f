// services/ledger/ledger_service.h — carelog.v1.LedgerService: head, paged
// reads of the global log and of one stream, and Subscribe (catch up, then
// live), over the gRPC callback API.
//
// Operation. Every RPC is authenticated and passed through the single access
// enforcement point (resource "ledger", action read/subscribe). Disk reads run
// on the server's Executor, never on a reactor thread. Subscribe registers a
// commit listener *before* its first read, so that no commit between the
// catch-up reads and going live is missed; the position cursor guarantees no
// event is sent twice.
// Concurrency. Safe for concurrent RPCs. Shutdown() finishes every open
// subscription with UNAVAILABLE so that a graceful drain does not wait on them.
// Limitations. Envelopes only: payloads stay encrypted here; decrypted access
// goes through the domain services under policy and audit.
#ifndef CARELOG_SERVICES_LEDGER_LEDGER_SERVICE_H_
#define CARELOG_SERVICES_LEDGER_LEDGER_SERVICE_H_

#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "carelog/v1/ledger.grpc.pb.h"
#include "services/server/access.h"
#include "services/server/executor.h"
#include "services/server/metrics.h"
#include "services/server/request_context.h"
#include "storage/ledger.h"

namespace carelog::services {

// The envelope (clear header + ciphertext digest) of a stored event.
void ToEnvelope(const storage::StoredEvent& event,
                carelog::v1::EventEnvelope* out);

struct LedgerServiceOptions {
  int max_subscriptions = 256;
  uint32_t max_page = 1000;
  uint32_t default_page = 100;
};

class SubscribeReactor;

class LedgerServiceImpl final
    : public carelog::v1::LedgerService::CallbackService {
 public:
  // All pointers must outlive the service; `metrics` may be null.
  LedgerServiceImpl(storage::Ledger* ledger, const Authenticator* auth,
                    const AccessEnforcer* access, Executor* executor,
                    ServerMetrics* metrics, LedgerServiceOptions options);
  ~LedgerServiceImpl() override;

  grpc::ServerUnaryReactor* GetHead(grpc::CallbackServerContext* ctx,
                                    const carelog::v1::GetHeadRequest* req,
                                    carelog::v1::LedgerHead* resp) override;
  grpc::ServerUnaryReactor* ReadStream(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::ReadStreamRequest* req,
      carelog::v1::ReadResponse* resp) override;
  grpc::ServerUnaryReactor* ReadAll(grpc::CallbackServerContext* ctx,
                                    const carelog::v1::ReadAllRequest* req,
                                    carelog::v1::ReadResponse* resp) override;
  grpc::ServerWriteReactor<carelog::v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::SubscribeRequest* req) override;

  // Finishes all open subscriptions (UNAVAILABLE) and refuses new ones.
  void Shutdown();

 private:
  friend class SubscribeReactor;
  absl::StatusOr<RequestContext> Admit(grpc::CallbackServerContext* ctx,
                                       const char* action) const;
  void Unregister(SubscribeReactor* r);

  storage::Ledger* const ledger_;
  const Authenticator* const auth_;
  const AccessEnforcer* const access_;
  Executor* const executor_;
  ServerMetrics* const metrics_;
  const LedgerServiceOptions options_;

  absl::Mutex mu_;
  std::set<SubscribeReactor*> subscriptions_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_LEDGER_LEDGER_SERVICE_H_
