#include "services/admin/admin_service.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

#include "crypto/hash.h"
#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "services/domain/audit_record.h"
#include "services/domain/command_runner.h"
#include "services/domain/validate.h"
#include "services/ledger/verifiable_ledger_service.h"
#include "services/server/grpc_status.h"
#include "storage/backup.h"
#include "storage/maintenance.h"
#include "storage/merkle.h"
#include "storage/sliced_verify.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

namespace {

constexpr char kService[] = "/carelog.v1.AdminService/";
constexpr size_t kMaxPathBytes = 4096;
constexpr size_t kMaxReferenceBytes = 200;

std::string HashBytes(const crypto::Digest& d) {
  return crypto::DigestToBytes(d);
}

void ToProto(const storage::BackupInfo& b, BackupInfo* out) {
  out->set_id(b.id);
  out->set_created_unix_seconds(b.created_unix_seconds);
  out->set_size_bytes(b.size_bytes);
  out->set_files(b.files);
  out->set_head_position(b.head.position);
  out->set_chain_hash(HashBytes(b.head.chain_hash));
}

void ToProto(const absl::Status& status, uint64_t first_bad, uint64_t checked,
             CheckResult* out) {
  out->set_ok(status.ok());
  if (!status.ok())
    out->set_problem(std::string(status.message()));
  out->set_first_bad_position(first_bad);
  out->set_events_checked(checked);
}

void ToProto(const std::string& subject,
             const std::optional<storage::LegalHold>& hold,
             LegalHoldStatus* out) {
  out->set_subject_id(subject);
  out->set_hold(hold.has_value());
  if (hold) {
    out->set_set_at_micros(hold->set_at_micros);
    out->set_position(hold->position);
  }
}

absl::Status CheckSubject(const std::string& subject) {
  return CheckId(subject, "subject_id");
}

// Set and clear name a subject and the hold's reference (a case number).
absl::Status CheckHoldRequest(const LegalHoldRequest& req) {
  if (auto s = CheckSubject(req.subject_id()); !s.ok())
    return s;
  return CheckText(req.reference(), "reference", kMaxReferenceBytes, true);
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(storage::Ledger* ledger,
                                   const Authenticator* auth,
                                   const AccessEnforcer* access,
                                   std::shared_ptr<JsonLog> log,
                                   std::string data_dir)
    : ledger_(ledger),
      auth_(auth),
      access_(access),
      log_(std::move(log)),
      data_dir_(std::move(data_dir)),
      worker_(1, kAdminQueue) {}

AdminServiceImpl::~AdminServiceImpl() {
  Stop();
}

void AdminServiceImpl::Stop() {
  worker_.Stop();
}

absl::Status AdminServiceImpl::CheckBackupDir(const std::string& dir) const {
  if (dir.empty())
    return absl::InvalidArgumentError("backup_dir: required");
  if (dir.size() > kMaxPathBytes || dir.find('\0') != std::string::npos)
    return absl::InvalidArgumentError("backup_dir: not a usable path");
  const std::filesystem::path p(dir);
  if (!p.is_absolute()) {
    return absl::InvalidArgumentError(
        "backup_dir: must be an absolute path on the server's host");
  }
  std::error_code ec;
  std::filesystem::path data =
      std::filesystem::absolute(data_dir_, ec).lexically_normal();
  if (ec)
    return absl::OkStatus();
  if (!data.has_filename())
    data = data.parent_path();  // "/var/data/" → "/var/data"
  // Inside the data directory a backup would be wiped and restored with the
  // very data it is meant to protect.
  const std::filesystem::path rel =
      p.lexically_normal().lexically_relative(data);
  if (!rel.empty() && *rel.begin() != "..") {
    return absl::InvalidArgumentError(
        "backup_dir: must be outside carelogd's data directory");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AdminServiceImpl::Run(
    grpc::CallbackServerContext* ctx, Call call) {
  auto* reactor = ctx->DefaultReactor();
  auto authenticated = auth_->Authenticate(*ctx);
  if (!authenticated.ok()) {
    reactor->Finish(ToGrpcStatus(authenticated.status()));
    return reactor;
  }
  if (absl::Status s = call.validate(); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  auto rc = std::make_shared<RequestContext>(std::move(*authenticated));
  const std::string method = absl::StrCat(kService, call.name);
  const AccessRequest request{kResourceLedger, call.action, "", PatientFacts{}};
  const AccessDecision decision = access_->Decide(*rc, request);
  carelog::v1::AccessAudited record =
      AuditRecordOf(*rc, method, request, decision);
  // Erasure and holds are about one subject: their record joins that
  // subject's trail (the audit key survives the subject's erasure).
  record.set_patient_id(call.subject);
  auto work = std::make_shared<Work>(std::move(call.work));
  const absl::Status denied = AccessEnforcer::DenialOf(request, decision);
  const std::string name(call.name);
  AppendAuditEvents(
      ledger_, {record}, *rc, "audit-admin-", log_,
      [this, ctx, reactor, rc, method, name, denied,
       work](absl::Status recorded) {
        // On the ledger writer thread: answer or hand over, never block.
        if (!recorded.ok() || !denied.ok()) {
          reactor->Finish(ToGrpcStatus(recorded.ok() ? denied : recorded));
          return;
        }
        queued_.fetch_add(1, std::memory_order_relaxed);
        absl::Status queued = worker_.Submit([this, ctx, reactor, rc, method,
                                              name, work] {
          queued_.fetch_sub(1, std::memory_order_relaxed);
          // The context stays valid until Finish, and IsCancelled may be
          // called from any thread.
          absl::Status result;
          if (ctx->IsCancelled()) {
            result = absl::CancelledError(
                "the client went away before the operation started; nothing "
                "was done");
          } else {
            {
              absl::MutexLock l(&op_mu_);
              op_.Clear();
              op_.set_running(true);
              op_.set_method(name);
              op_.set_request_id(rc->request_id);
              op_.set_started_unix_micros(absl::ToUnixMicros(absl::Now()));
            }
            const Op op{*rc,
                        [this](const storage::Progress& p) {
                          absl::MutexLock l(&op_mu_);
                          op_.set_phase(p.phase);
                          op_.set_unit(p.unit);
                          op_.set_done(p.done);
                          op_.set_total(p.total);
                        },
                        [ctx] { return ctx->IsCancelled(); }};
            if (before_work_)
              before_work_(name, op.progress);
            result = (*work)(op);
            absl::MutexLock l(&op_mu_);
            op_.Clear();
          }
          if (log_) {
            log_->Info("admin_action",
                       {{"method", method},
                        {"request_id", rc->request_id},
                        {"code", absl::StatusCodeToString(result.code())}});
          }
          reactor->Finish(ToGrpcStatus(result));
        });
        if (!queued.ok()) {
          queued_.fetch_sub(1, std::memory_order_relaxed);
          reactor->Finish(ToGrpcStatus(queued));
        }
      });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateBackup(
    grpc::CallbackServerContext* ctx, const CreateBackupRequest* req,
    BackupInfo* resp) {
  return Run(ctx, {"CreateBackup", kActionAdmin, "",
                   [this, req] { return CheckBackupDir(req->backup_dir()); },
                   [this, req, resp](const Op& op) -> absl::Status {
                     storage::BackupOptions o;
                     o.keep = req->keep();
                     o.progress = op.progress;
                     auto info =
                         storage::CreateBackup(*ledger_, req->backup_dir(), o);
                     if (!info.ok())
                       return info.status();
                     ToProto(*info, resp);
                     return absl::OkStatus();
                   }});
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListBackups(
    grpc::CallbackServerContext* ctx, const ListBackupsRequest* req,
    ListBackupsReply* resp) {
  return Run(ctx, {"ListBackups", kActionRead, "",
                   [this, req] { return CheckBackupDir(req->backup_dir()); },
                   [req, resp](const Op& op) -> absl::Status {
                     auto list = storage::ListBackups(req->backup_dir());
                     if (!list.ok())
                       return list.status();
                     for (const auto& b : *list)
                       ToProto(b, resp->add_backups());
                     return absl::OkStatus();
                   }});
}

grpc::ServerUnaryReactor* AdminServiceImpl::VerifyBackup(
    grpc::CallbackServerContext* ctx, const VerifyBackupRequest* req,
    VerifyBackupReply* resp) {
  return Run(ctx, {"VerifyBackup", kActionRead, "",
                   [this, req] { return CheckBackupDir(req->backup_dir()); },
                   [req, resp](const Op& op) -> absl::Status {
                     storage::BackupVerifyReport r = storage::VerifyBackup(
                         req->backup_dir(), req->backup_id(), op.progress);
                     // A missing backup is an error; a damaged one a finding.
                     if (absl::IsNotFound(r.status))
                       return r.status;
                     ToProto(r.info, resp->mutable_backup());
                     ToProto(r.status, r.chain.first_bad_position,
                             r.chain.events_checked, resp->mutable_result());
                     return absl::OkStatus();
                   }});
}

grpc::ServerUnaryReactor* AdminServiceImpl::EraseSubject(
    grpc::CallbackServerContext* ctx, const EraseSubjectRequest* req,
    ErasureReceipt* resp) {
  auto validate = [req]() -> absl::Status {
    if (auto s = CheckSubject(req->subject_id()); !s.ok())
      return s;
    if (auto s = CheckText(req->reason(), "reason", kMaxReferenceBytes, true);
        !s.ok())
      return s;
    return CheckText(req->basis(), "basis", kMaxReferenceBytes, true);
  };
  auto work = [this, req, resp](const Op& op) -> absl::Status {
    storage::ErasureRequest er{req->subject_id(), req->reason(), req->basis(),
                               op.rc.actor};
    auto r = storage::EraseSubject(*ledger_, er);
    if (!r.ok())
      return r.status();
    resp->set_subject_id(r->subject_id);
    resp->set_position(r->position);
    resp->set_already_erased(r->already_erased);
    resp->set_key_purged(r->purged);
    resp->set_erased_at_micros(r->erased_at_micros);
    resp->set_head_position(r->head.position);
    resp->set_chain_hash(HashBytes(r->head.chain_hash));
    if (r->checkpoint)
      ToCheckpointProto(*r->checkpoint, resp->mutable_checkpoint());
    resp->set_checkpoint_covers_erasure(r->checkpoint_covers_erasure);
    return absl::OkStatus();
  };
  return Run(ctx, {"EraseSubject", kActionAdmin, req->subject_id(),
                   std::move(validate), std::move(work)});
}

grpc::ServerUnaryReactor* AdminServiceImpl::SetLegalHold(
    grpc::CallbackServerContext* ctx, const LegalHoldRequest* req,
    LegalHoldStatus* resp) {
  auto work = [this, req, resp](const Op& op) -> absl::Status {
    auto h = storage::SetLegalHold(*ledger_, req->subject_id(),
                                   req->reference(), op.rc.actor);
    if (!h.ok())
      return h.status();
    ToProto(req->subject_id(), *h, resp);
    return absl::OkStatus();
  };
  return Run(ctx, {"SetLegalHold", kActionAdmin, req->subject_id(),
                   [req] { return CheckHoldRequest(*req); }, std::move(work)});
}

grpc::ServerUnaryReactor* AdminServiceImpl::ClearLegalHold(
    grpc::CallbackServerContext* ctx, const LegalHoldRequest* req,
    LegalHoldStatus* resp) {
  auto work = [this, req, resp](const Op& op) -> absl::Status {
    auto p = storage::ClearLegalHold(*ledger_, req->subject_id(),
                                     req->reference(), op.rc.actor);
    if (!p.ok())
      return p.status();
    resp->set_subject_id(req->subject_id());
    resp->set_hold(false);
    resp->set_position(*p);
    return absl::OkStatus();
  };
  return Run(ctx, {"ClearLegalHold", kActionAdmin, req->subject_id(),
                   [req] { return CheckHoldRequest(*req); }, std::move(work)});
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetLegalHold(
    grpc::CallbackServerContext* ctx, const LegalHoldRequest* req,
    LegalHoldStatus* resp) {
  return Run(ctx, {"GetLegalHold", kActionRead, req->subject_id(),
                   [req]() -> absl::Status {
                     if (auto s = CheckSubject(req->subject_id()); !s.ok())
                       return s;
                     // Unused here, but never accepted malformed.
                     return CheckText(req->reference(), "reference",
                                      kMaxReferenceBytes, false);
                   },
                   [this, req, resp](const Op& op) -> absl::Status {
                     auto h =
                         storage::GetLegalHold(*ledger_, req->subject_id());
                     if (!h.ok())
                       return h.status();
                     ToProto(req->subject_id(), *h, resp);
                     return absl::OkStatus();
                   }});
}

storage::VerifyReport AdminServiceImpl::VerifyChainInSlices(const Op& op) {
  storage::SlicedVerifyOptions options;
  options.slice_events = kVerifySliceEvents;
  options.phase = "verifying chain";
  options.progress = op.progress;
  options.cancelled = op.cancelled;
  return storage::VerifyInSlices(
      ledger_->GetHead().position,
      [this](uint64_t from, uint64_t to) { return ledger_->Verify(from, to); },
      options);
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetOperation(
    grpc::CallbackServerContext* ctx, const GetOperationRequest*,
    AdminOperation* resp) {
  auto* reactor = ctx->DefaultReactor();
  auto rc = auth_->Authenticate(*ctx);
  if (!rc.ok()) {
    reactor->Finish(ToGrpcStatus(rc.status()));
    return reactor;
  }
  const absl::StatusOr<AccessDecision> decision = access_->Check(
      *rc, AccessRequest{kResourceLedger, kActionRead, "", PatientFacts{}});
  if (!decision.ok()) {
    reactor->Finish(ToGrpcStatus(decision.status()));
    return reactor;
  }
  {
    absl::MutexLock l(&op_mu_);
    *resp = op_;
  }
  resp->set_queued(queued_.load(std::memory_order_relaxed));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::VerifyLedger(
    grpc::CallbackServerContext* ctx, const VerifyLedgerRequest*,
    VerifyLedgerReply* resp) {
  return Run(
      ctx,
      {"VerifyLedger", kActionRead, "", [] { return absl::OkStatus(); },
       [this, resp](const Op& op) -> absl::Status {
         // The chain first, in slices (each as of its own snapshot; the
         // chain links the slices), then the tree and the checkpoints as of
         // another snapshot (appends go on meanwhile).
         const storage::VerifyReport chain = VerifyChainInSlices(op);
         if (!chain.status.ok() && !absl::IsDataLoss(chain.status))
           return chain.status;
         op.progress(storage::Progress{"verifying merkle tree", "leaves", 0,
                                       chain.verified_head.position});
         resp->set_head_position(chain.verified_head.position);
         resp->set_chain_hash(HashBytes(chain.verified_head.chain_hash));
         ToProto(chain.status, chain.first_bad_position, chain.events_checked,
                 resp->mutable_chain());
         std::optional<crypto::NoteVerifier> verifier;
         if (const std::string vkey = ledger_->CheckpointVerifierKey();
             !vkey.empty()) {
           auto v = crypto::ParseNoteVerifierKey(vkey);
           if (!v.ok())
             return absl::InternalError("checkpoint verifier key malformed");
           verifier = *v;
         }
         const storage::MerkleVerifyReport m = storage::VerifyLedgerMerkle(
             *ledger_, verifier ? &*verifier : nullptr);
         if (!m.status.ok() && !absl::IsDataLoss(m.status) &&
             !absl::IsPermissionDenied(m.status))
           return m.status;
         ToProto(m.status, m.first_bad_position, m.leaves_checked,
                 resp->mutable_merkle());
         resp->set_tree_size(m.tree_size);
         resp->set_checkpoints_checked(m.checkpoints_checked);
         resp->set_latest_checkpoint(m.latest_checkpoint);
         resp->set_bad_checkpoint_size(m.bad_checkpoint_size);
         return absl::OkStatus();
       }});
}

}  // namespace carelog::services
