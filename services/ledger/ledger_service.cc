#include "services/ledger/ledger_service.h"

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/alarm.h"

#include "crypto/hash.h"
#include "services/server/grpc_status.h"
#include "storage/validation.h"

namespace carelog::services {

using carelog::v1::SubscribeResponse;

void ToEnvelope(const storage::StoredEvent& event,
                carelog::v1::EventEnvelope* out) {
  auto* h = out->mutable_header();
  const storage::EventHeader& e = event.header;
  h->set_position(e.position);
  h->set_stream_id(e.stream_id);
  h->set_stream_version(e.stream_version);
  h->set_event_type(e.event_type);
  h->set_recorded_at_micros(e.recorded_at_micros);
  h->set_subject_id(e.subject_id);
  h->set_key_class(
      static_cast<carelog::v1::KeyClass>(static_cast<int>(e.key_class)));
  h->set_command_id(e.command_id);
  h->set_event_id(reinterpret_cast<const char*>(e.event_id.data()),
                  e.event_id.size());
  h->set_nonce(reinterpret_cast<const char*>(e.nonce.data()), e.nonce.size());
  out->set_chain_hash(reinterpret_cast<const char*>(event.chain_hash.data()),
                      event.chain_hash.size());
  out->set_ciphertext_size(static_cast<uint32_t>(event.ciphertext.size()));
  const crypto::Digest d = crypto::Blake2b256(event.ciphertext);
  out->set_ciphertext_digest(reinterpret_cast<const char*>(d.data()), d.size());
}

namespace {

constexpr size_t kSubscribePage = 256;
constexpr size_t kMaxPendingMessages = 512;
constexpr size_t kMaxEventTypesFilter = 64;

absl::StatusOr<uint32_t> PageSize(uint32_t requested,
                                  const LedgerServiceOptions& o) {
  if (requested == 0)
    return o.default_page;
  if (requested > o.max_page) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_count: at most ", o.max_page));
  }
  return requested;
}

void FillPage(const storage::ReadPage& page, carelog::v1::ReadResponse* resp) {
  for (const auto& e : page.events)
    ToEnvelope(e, resp->add_events());
  resp->set_next(page.next);
}

}  // namespace

// One Subscribe call. Lifetime: reference-counted — one reference for gRPC
// (dropped in OnDone), one per scheduled pump task and one for the armed
// checkpoint alarm; the last one deletes the reactor.
class SubscribeReactor final
    : public grpc::ServerWriteReactor<SubscribeResponse> {
 public:
  SubscribeReactor(LedgerServiceImpl* svc, carelog::v1::SubscribeRequest req)
      : svc_(svc), req_(std::move(req)) {
    next_ = req_.from_position() == 0 ? 1 : req_.from_position();
    uint32_t ms = req_.checkpoint_interval_ms() == 0
                      ? 5000
                      : std::max<uint32_t>(100, req_.checkpoint_interval_ms());
    interval_ = absl::Milliseconds(ms);
  }

  void Start() {
    listener_id_ = svc_->ledger_->AddCommitListener(
        [this](const storage::CommitInfo&) { Wake(); });
    absl::MutexLock l(&mu_);
    SchedulePumpLocked();
    ArmAlarmLocked();
  }

  void FinishWith(const grpc::Status& status) {
    absl::MutexLock l(&mu_);
    FinishLocked(status);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                "subscriber stream closed"));
      return;
    }
    if (!pending_.empty())
      pending_.pop_front();
    if (finish_requested_) {
      FinishLocked(final_status_);
      return;
    }
    if (!pending_.empty()) {
      WriteNextLocked();
    } else if (dirty_ || next_ <= svc_->ledger_->GetHead().position) {
      SchedulePumpLocked();
    }
  }

  void OnCancel() override {
    absl::MutexLock l(&mu_);
    FinishLocked(
        grpc::Status(grpc::StatusCode::CANCELLED, "subscription cancelled"));
  }

  void OnDone() override {
    svc_->ledger_->RemoveCommitListener(
        listener_id_);  // no Wake() after this returns
    svc_->Unregister(this);
    Unref();
  }

 private:
  ~SubscribeReactor() override = default;

  void Wake() {
    absl::MutexLock l(&mu_);
    dirty_ = true;
    if (!writing_ && pending_.empty())
      SchedulePumpLocked();
  }

  void SchedulePumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pump_scheduled_ || finished_)
      return;
    pump_scheduled_ = true;
    ++refs_;
    absl::Status s = svc_->executor_->Submit([this] { Pump(); });
    if (!s.ok()) {
      pump_scheduled_ = false;
      --refs_;  // never reaches 0 here: gRPC still holds its reference
      FinishLocked(ToGrpcStatus(s));
    }
  }

  bool Matches(const storage::StoredEvent& e) const {
    if (!req_.stream_prefix().empty() &&
        !absl::StartsWith(e.header.stream_id, req_.stream_prefix()))
      return false;
    if (req_.event_types_size() == 0)
      return true;
    for (const auto& t : req_.event_types()) {
      if (t == e.header.event_type)
        return true;
    }
    return false;
  }

  // Runs on the executor: reads what is new (bounded), queues matching
  // envelopes and starts writing.
  void Pump() {
    {
      absl::MutexLock l(&mu_);
      dirty_ = false;
      if (finished_) {
        pump_scheduled_ = false;
        UnrefLocked();
        return;
      }
    }
    uint64_t cursor;
    {
      absl::MutexLock l(&mu_);
      cursor = next_;
    }
    std::vector<SubscribeResponse> out;
    absl::Status error;
    bool caught_up = false;
    uint64_t head = svc_->ledger_->GetHead().position;
    for (int pages = 0; pages < 4 && out.size() < kMaxPendingMessages;
         ++pages) {
      if (cursor > head) {
        caught_up = true;
        break;
      }
      auto page = svc_->ledger_->ReadAll(cursor, kSubscribePage);
      if (!page.ok()) {
        error = page.status();
        break;
      }
      if (page->events.empty()) {
        caught_up = true;
        break;
      }
      for (const auto& e : page->events) {
        if (e.header.position > head)
          break;  // stay behind the head we looked at
        cursor = e.header.position + 1;
        if (Matches(e)) {
          SubscribeResponse r;
          ToEnvelope(e, r.mutable_event());
          out.push_back(std::move(r));
        }
      }
    }
    absl::MutexLock l(&mu_);
    pump_scheduled_ = false;
    if (!error.ok()) {
      FinishLocked(ToGrpcStatus(error));
      UnrefLocked();
      return;
    }
    next_ = cursor;
    for (auto& r : out)
      pending_.push_back(std::move(r));
    if (caught_up && !caught_up_sent_) {
      caught_up_sent_ = true;
      SubscribeResponse r;
      r.mutable_caught_up()->set_position(next_ - 1);
      pending_.push_back(std::move(r));
    }
    if (!writing_ && !pending_.empty()) {
      WriteNextLocked();
    } else if (pending_.empty() && (dirty_ || !caught_up)) {
      SchedulePumpLocked();  // everything read was filtered out, or a commit
                             // arrived meanwhile
    }
    UnrefLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || pending_.empty())
      return;
    writing_ = true;
    sent_since_alarm_ = true;
    StartWrite(&pending_.front());
  }

  void ArmAlarmLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_)
      return;
    ++refs_;
    alarm_.Set(absl::ToChronoTime(absl::Now() + interval_),
               [this](bool ok) { OnAlarm(ok); });
  }

  void OnAlarm(bool ok) {
    absl::MutexLock l(&mu_);
    if (ok && !finished_) {
      if (!sent_since_alarm_ && caught_up_sent_ && pending_.empty() &&
          !writing_) {
        SubscribeResponse r;
        r.mutable_checkpoint()->set_position(svc_->ledger_->GetHead().position);
        pending_.push_back(std::move(r));
        WriteNextLocked();
      }
      sent_since_alarm_ = false;
      ArmAlarmLocked();
    }
    UnrefLocked();
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_)
      return;
    if (writing_) {  // finish after the outstanding write completes
      finish_requested_ = true;
      final_status_ = status;
      return;
    }
    finished_ = true;
    alarm_.Cancel();
    Finish(status);
  }

  void UnrefLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (--refs_ == 0)
      delete_after_unlock_ = true;
  }

  void Unref() {
    bool del;
    {
      absl::MutexLock l(&mu_);
      UnrefLocked();
      del = delete_after_unlock_;
    }
    if (del)
      delete this;
  }

  LedgerServiceImpl* const svc_;
  const carelog::v1::SubscribeRequest req_;
  absl::Duration interval_;
  uint64_t listener_id_ = 0;
  grpc::Alarm alarm_;

  absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_);
  std::deque<SubscribeResponse> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool pump_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool caught_up_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool sent_since_alarm_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  int refs_ ABSL_GUARDED_BY(mu_) = 1;
  bool delete_after_unlock_ ABSL_GUARDED_BY(mu_) = false;
};

LedgerServiceImpl::LedgerServiceImpl(storage::Ledger* ledger,
                                     const Authenticator* auth,
                                     const AccessEnforcer* access,
                                     Executor* executor, ServerMetrics* metrics,
                                     LedgerServiceOptions options)
    : ledger_(ledger),
      auth_(auth),
      access_(access),
      executor_(executor),
      metrics_(metrics),
      options_(options) {}

LedgerServiceImpl::~LedgerServiceImpl() = default;

absl::StatusOr<RequestContext> LedgerServiceImpl::Admit(
    grpc::CallbackServerContext* ctx, const char* action) const {
  auto rc = auth_->Authenticate(*ctx);
  if (!rc.ok())
    return rc.status();
  auto decision = access_->Check(
      *rc, AccessRequest{kResourceLedger, action, "", PatientFacts{}});
  if (!decision.ok())
    return decision.status();
  return rc;
}

grpc::ServerUnaryReactor* LedgerServiceImpl::GetHead(
    grpc::CallbackServerContext* ctx, const carelog::v1::GetHeadRequest*,
    carelog::v1::LedgerHead* resp) {
  auto* reactor = ctx->DefaultReactor();
  auto rc = Admit(ctx, kActionRead);
  if (!rc.ok()) {
    reactor->Finish(ToGrpcStatus(rc.status()));
    return reactor;
  }
  const storage::Head head = ledger_->GetHead();  // in memory: no disk work
  resp->set_position(head.position);
  resp->set_chain_hash(reinterpret_cast<const char*>(head.chain_hash.data()),
                       head.chain_hash.size());
  if (absl::Status stopped = ledger_->WritesStopped(); !stopped.ok())
    resp->set_writes_stopped(std::string(stopped.message()));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* LedgerServiceImpl::ReadStream(
    grpc::CallbackServerContext* ctx, const carelog::v1::ReadStreamRequest* req,
    carelog::v1::ReadResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  auto rc = Admit(ctx, kActionRead);
  if (!rc.ok()) {
    reactor->Finish(ToGrpcStatus(rc.status()));
    return reactor;
  }
  if (auto s = storage::ValidateStreamId(req->stream_id(), "stream_id");
      !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  auto n = PageSize(req->max_count(), options_);
  if (!n.ok()) {
    reactor->Finish(ToGrpcStatus(n.status()));
    return reactor;
  }
  const uint32_t count = *n;
  absl::Status s = executor_->Submit([this, ctx, req, resp, reactor, count] {
    if (ctx->IsCancelled()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    auto page =
        ledger_->ReadStream(req->stream_id(), req->from_version(), count,
                            req->backwards() ? storage::Direction::kBackward
                                             : storage::Direction::kForward);
    if (!page.ok()) {
      reactor->Finish(ToGrpcStatus(page.status()));
      return;
    }
    FillPage(*page, resp);
    reactor->Finish(grpc::Status::OK);
  });
  if (!s.ok())
    reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

grpc::ServerUnaryReactor* LedgerServiceImpl::ReadAll(
    grpc::CallbackServerContext* ctx, const carelog::v1::ReadAllRequest* req,
    carelog::v1::ReadResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  auto rc = Admit(ctx, kActionRead);
  if (!rc.ok()) {
    reactor->Finish(ToGrpcStatus(rc.status()));
    return reactor;
  }
  auto n = PageSize(req->max_count(), options_);
  if (!n.ok()) {
    reactor->Finish(ToGrpcStatus(n.status()));
    return reactor;
  }
  const uint32_t count = *n;
  absl::Status s = executor_->Submit([this, ctx, req, resp, reactor, count] {
    if (ctx->IsCancelled()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    auto page =
        ledger_->ReadAll(req->from_position(), count,
                         req->backwards() ? storage::Direction::kBackward
                                          : storage::Direction::kForward);
    if (!page.ok()) {
      reactor->Finish(ToGrpcStatus(page.status()));
      return;
    }
    FillPage(*page, resp);
    reactor->Finish(grpc::Status::OK);
  });
  if (!s.ok())
    reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

namespace {
// A reactor that only reports an error (Subscribe refused before it starts).
class RefusedWriter final : public grpc::ServerWriteReactor<SubscribeResponse> {
 public:
  explicit RefusedWriter(const grpc::Status& s) { Finish(s); }
  void OnDone() override { delete this; }
};

absl::Status ValidateSubscribe(const carelog::v1::SubscribeRequest& req) {
  if (!req.stream_prefix().empty()) {
    if (auto s =
            storage::ValidateStreamId(req.stream_prefix(), "stream_prefix");
        !s.ok())
      return s;
  }
  if (static_cast<size_t>(req.event_types_size()) > kMaxEventTypesFilter) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event_types: at most ", kMaxEventTypesFilter, " entries"));
  }
  for (int i = 0; i < req.event_types_size(); ++i) {
    const std::string& t = req.event_types(i);
    if (t.empty() || t.size() > storage::kMaxEventTypeBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "event_types[", i, "]: 1..", storage::kMaxEventTypeBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}
}  // namespace

grpc::ServerWriteReactor<SubscribeResponse>* LedgerServiceImpl::Subscribe(
    grpc::CallbackServerContext* ctx,
    const carelog::v1::SubscribeRequest* req) {
  auto rc = Admit(ctx, kActionSubscribe);
  if (!rc.ok())
    return new RefusedWriter(ToGrpcStatus(rc.status()));
  if (auto s = ValidateSubscribe(*req); !s.ok())
    return new RefusedWriter(ToGrpcStatus(s));
  SubscribeReactor* reactor;
  {
    absl::MutexLock l(&mu_);
    if (shutting_down_) {
      return new RefusedWriter(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                            "server is shutting down"));
    }
    if (subscriptions_.size() >=
        static_cast<size_t>(options_.max_subscriptions)) {
      return new RefusedWriter(
          grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       absl::StrCat("too many subscriptions (",
                                    options_.max_subscriptions, ")")));
    }
    reactor = new SubscribeReactor(this, *req);
    subscriptions_.insert(reactor);
    if (metrics_ != nullptr)
      metrics_->SetSubscriptions(static_cast<int64_t>(subscriptions_.size()));
  }
  reactor->Start();
  return reactor;
}

void LedgerServiceImpl::Unregister(SubscribeReactor* r) {
  absl::MutexLock l(&mu_);
  subscriptions_.erase(r);
  if (metrics_ != nullptr)
    metrics_->SetSubscriptions(static_cast<int64_t>(subscriptions_.size()));
}

void LedgerServiceImpl::Shutdown() {
  absl::MutexLock l(&mu_);
  shutting_down_ = true;
  for (SubscribeReactor* r : subscriptions_) {
    r->FinishWith(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
  }
}

}  // namespace carelog::services
