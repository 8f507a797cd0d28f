#include "ops/carelogctl/admin_client.h"

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

#include "carelog/v1/admin.grpc.pb.h"
#include "carelog/v1/queries.grpc.pb.h"
#include "crypto/hash.h"
#include "crypto/merkle.h"
#include "crypto/secret_key.h"
#include "services/server/request_context.h"

namespace carelog::ctl {
namespace {

using carelog::v1::AdminService;
using carelog::v1::QueryService;

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

crypto::Digest DigestOrZero(const std::string& bytes) {
  auto d = crypto::DigestFromBytes(bytes, "hash");
  return d.ok() ? *d : crypto::Digest{};
}

storage::BackupInfo FromProto(const carelog::v1::BackupInfo& b) {
  storage::BackupInfo out;
  out.id = b.id();
  out.created_unix_seconds = b.created_unix_seconds();
  out.size_bytes = b.size_bytes();
  out.files = b.files();
  out.head.position = b.head_position();
  out.head.chain_hash = DigestOrZero(b.chain_hash());
  return out;
}

// Runs one unary call of `Service` with the flags' metadata and deadline.
template <typename Service, typename Req, typename Resp, typename Method>
absl::StatusOr<Resp> Call(const ClientFlags& f, Method method, const Req& req) {
  auto channel = Connect(f);
  if (!channel.ok())
    return channel.status();
  auto stub = Service::NewStub(*channel);
  grpc::ClientContext ctx;
  if (auto s = PrepareContext(f, &ctx); !s.ok())
    return s;
  Resp resp;
  grpc::Status s = ((*stub).*method)(&ctx, req, &resp);
  if (!s.ok())
    return FromGrpc(s);
  return resp;
}

template <typename Req, typename Resp, typename Method>
absl::StatusOr<Resp> Admin(const ClientFlags& f, Method method,
                           const Req& req) {
  return Call<AdminService, Req, Resp>(f, method, req);
}

// Polls AdminService.GetOperation about once a second until `done`, passing
// the progress of the operation with `request_id` to `progress`. A failed
// poll (an older server, a denied read) just ends the polling.
void FollowOperation(const ClientFlags& f, const std::string& request_id,
                     const storage::ProgressFn& progress,
                     absl::Notification* done) {
  auto channel = Connect(f);
  if (!channel.ok())
    return;
  auto stub = AdminService::NewStub(*channel);
  std::string phase, unit;  // storage::Progress holds pointers into these
  while (!done->WaitForNotificationWithTimeout(absl::Seconds(1))) {
    grpc::ClientContext ctx;
    if (!PrepareContext(f, &ctx).ok())
      return;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    carelog::v1::AdminOperation op;
    if (!stub->GetOperation(&ctx, carelog::v1::GetOperationRequest(), &op).ok())
      return;
    if (!op.running() || op.request_id() != request_id || op.phase().empty())
      continue;
    phase = op.phase();
    unit = op.unit();
    progress(
        storage::Progress{phase.c_str(), unit.c_str(), op.done(), op.total()});
  }
}

// An Admin call that shows its server-side progress through `progress`
// (null: a plain call) while it runs.
template <typename Req, typename Resp, typename Method>
absl::StatusOr<Resp> AdminWithProgress(const ClientFlags& f, Method method,
                                       const Req& req,
                                       const storage::ProgressFn& progress) {
  if (!progress)
    return Admin<Req, Resp>(f, method, req);
  auto channel = Connect(f);
  if (!channel.ok())
    return channel.status();
  auto stub = AdminService::NewStub(*channel);
  grpc::ClientContext ctx;
  if (auto s = PrepareContext(f, &ctx); !s.ok())
    return s;
  uint8_t id[12];
  crypto::RandomBytes(id, sizeof(id));
  const std::string request_id =
      absl::StrCat("ctl-", crypto::BytesToHex(absl::string_view(
                               reinterpret_cast<const char*>(id), sizeof(id))));
  ctx.AddMetadata(services::kRequestIdHeader, request_id);
  absl::Notification done;
  std::thread follower(
      [&] { FollowOperation(f, request_id, progress, &done); });
  Resp resp;
  const grpc::Status s = ((*stub).*method)(&ctx, req, &resp);
  done.Notify();
  follower.join();
  if (!s.ok())
    return FromGrpc(s);
  return resp;
}

}  // namespace

absl::StatusOr<storage::BackupInfo> OnlineCreateBackup(
    const ClientFlags& f, const std::string& backup_dir, uint32_t keep,
    const storage::ProgressFn& progress) {
  carelog::v1::CreateBackupRequest req;
  req.set_backup_dir(backup_dir);
  req.set_keep(keep);
  auto r = AdminWithProgress<carelog::v1::CreateBackupRequest,
                             carelog::v1::BackupInfo>(
      f, &AdminService::Stub::CreateBackup, req, progress);
  if (!r.ok())
    return r.status();
  return FromProto(*r);
}

absl::StatusOr<std::vector<storage::BackupInfo>> OnlineListBackups(
    const ClientFlags& f, const std::string& backup_dir) {
  carelog::v1::ListBackupsRequest req;
  req.set_backup_dir(backup_dir);
  auto r =
      Admin<carelog::v1::ListBackupsRequest, carelog::v1::ListBackupsReply>(
          f, &AdminService::Stub::ListBackups, req);
  if (!r.ok())
    return r.status();
  std::vector<storage::BackupInfo> out;
  for (const auto& b : r->backups())
    out.push_back(FromProto(b));
  return out;
}

absl::StatusOr<storage::BackupVerifyReport> OnlineVerifyBackup(
    const ClientFlags& f, const std::string& backup_dir, uint32_t id,
    const storage::ProgressFn& progress) {
  carelog::v1::VerifyBackupRequest req;
  req.set_backup_dir(backup_dir);
  req.set_backup_id(id);
  auto r = AdminWithProgress<carelog::v1::VerifyBackupRequest,
                             carelog::v1::VerifyBackupReply>(
      f, &AdminService::Stub::VerifyBackup, req, progress);
  if (!r.ok())
    return r.status();
  storage::BackupVerifyReport out;
  out.info = FromProto(r->backup());
  out.status = r->result().ok() ? absl::OkStatus()
                                : absl::DataLossError(r->result().problem());
  out.chain.events_checked = r->result().events_checked();
  out.chain.first_bad_position = r->result().first_bad_position();
  return out;
}

absl::StatusOr<storage::ErasureReceipt> OnlineEraseSubject(
    const ClientFlags& f, const storage::ErasureRequest& request) {
  carelog::v1::EraseSubjectRequest req;
  req.set_subject_id(request.subject_id);
  req.set_reason(request.reason);
  req.set_basis(request.basis);
  auto r = Admin<carelog::v1::EraseSubjectRequest, carelog::v1::ErasureReceipt>(
      f, &AdminService::Stub::EraseSubject, req);
  if (!r.ok())
    return r.status();
  storage::ErasureReceipt out;
  out.subject_id = r->subject_id();
  out.position = r->position();
  out.already_erased = r->already_erased();
  out.purged = r->key_purged();
  out.erased_at_micros = r->erased_at_micros();
  out.head.position = r->head_position();
  out.head.chain_hash = DigestOrZero(r->chain_hash());
  if (r->has_checkpoint()) {
    storage::SignedCheckpoint cp;
    cp.tree_size = r->checkpoint().tree_size();
    cp.root = DigestOrZero(r->checkpoint().root_hash());
    cp.chain_head = DigestOrZero(r->checkpoint().chain_head());
    cp.time_micros = r->checkpoint().time_micros();
    cp.origin = r->checkpoint().origin();
    cp.note = r->checkpoint().note();
    out.checkpoint = std::move(cp);
  }
  out.checkpoint_covers_erasure = r->checkpoint_covers_erasure();
  return out;
}

absl::StatusOr<OnlineHold> OnlineLegalHold(const ClientFlags& f, int op,
                                           const std::string& subject,
                                           const std::string& reference) {
  carelog::v1::LegalHoldRequest req;
  req.set_subject_id(subject);
  req.set_reference(reference);
  auto method = op == 0   ? &AdminService::Stub::SetLegalHold
                : op == 1 ? &AdminService::Stub::ClearLegalHold
                          : &AdminService::Stub::GetLegalHold;
  auto r = Admin<carelog::v1::LegalHoldRequest, carelog::v1::LegalHoldStatus>(
      f, method, req);
  if (!r.ok())
    return r.status();
  OnlineHold out;
  out.position = r->position();
  if (r->hold()) {
    out.hold =
        storage::LegalHold{r->subject_id(), r->set_at_micros(), r->position()};
  }
  return out;
}

absl::StatusOr<carelog::v1::VerifyLedgerReply> OnlineVerifyLedger(
    const ClientFlags& f, const storage::ProgressFn& progress) {
  return AdminWithProgress<carelog::v1::VerifyLedgerRequest,
                           carelog::v1::VerifyLedgerReply>(
      f, &AdminService::Stub::VerifyLedger, carelog::v1::VerifyLedgerRequest(),
      progress);
}

absl::StatusOr<carelog::v1::AdminOperation> OnlineGetOperation(
    const ClientFlags& f) {
  return Admin<carelog::v1::GetOperationRequest, carelog::v1::AdminOperation>(
      f, &AdminService::Stub::GetOperation, carelog::v1::GetOperationRequest());
}

absl::StatusOr<carelog::v1::GetProjectionStatusReply> OnlineProjectionStatus(
    const ClientFlags& f) {
  return Call<QueryService, carelog::v1::GetProjectionStatusRequest,
              carelog::v1::GetProjectionStatusReply>(
      f, &QueryService::Stub::GetProjectionStatus,
      carelog::v1::GetProjectionStatusRequest());
}

absl::StatusOr<carelog::v1::RebuildProjectionReply> OnlineRebuildProjection(
    const ClientFlags& f, const std::string& name) {
  carelog::v1::RebuildProjectionRequest req;
  req.set_name(name);
  return Call<QueryService, carelog::v1::RebuildProjectionRequest,
              carelog::v1::RebuildProjectionReply>(
      f, &QueryService::Stub::RebuildProjection, req);
}

}  // namespace carelog::ctl
