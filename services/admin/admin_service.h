// services/admin/admin_service.h — carelog.v1.AdminService: online operator
// actions on a serving carelogd (proto/carelog/v1/admin.proto): backups
// (create while serving, list, verify), erasure of a subject with its receipt,
// legal holds, and an online check of chain, Merkle tree and checkpoints.
//
// Operation. Each call authenticates and validates inline (INVALID_ARGUMENT
// naming the field, nothing recorded), then asks the single enforcement point
// for resource "ledger" — action "admin" for CreateBackup, EraseSubject,
// SetLegalHold and ClearLegalHold, "read" for the others — and appends the
// decision as an AccessAudited operator action (audit key; stream
// audit/<subject> for erasure and holds, else audit/system; allowed or
// denied). Only once that record is durable does a denied call answer
// PERMISSION_DENIED, or an allowed call's work start; if the append fails the
// call answers UNAVAILABLE and nothing is done (fail closed). The work runs on
// the service's own single worker thread, one operation at a time, so a long
// backup or verification never occupies the read executor.
// Concurrency. Safe for concurrent RPCs. Operations queue for the worker
// (beyond kAdminQueue waiting: RESOURCE_EXHAUSTED). Erasure and holds on one
// subject, and operations on one backup directory, never overlap (they are
// serialised by the single worker). GetOperation reports the running
// operation's progress (phase, done/total) for clients' progress lines.
// Cancellation. A queued call whose client has gone away (cancelled, deadline
// passed) is not started: it is logged and answers CANCELLED, nothing done.
// VerifyLedger stops between slices of its chain walk when the client goes
// away. A backup, a backup verification, an erasure or a hold that has
// started runs to its end (RocksDB's backup engine and the erasure have no
// safe midway stop) and is logged.
// Limitations. Backup directories are paths on the server's host, written
// with carelogd's permissions; they must be absolute and outside the data
// directory. Long calls need a long client deadline.
#ifndef CARELOG_SERVICES_ADMIN_ADMIN_SERVICE_H_
#define CARELOG_SERVICES_ADMIN_ADMIN_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

#include "carelog/v1/admin.grpc.pb.h"
#include "services/server/access.h"
#include "services/server/executor.h"
#include "services/server/log.h"
#include "services/server/request_context.h"
#include "storage/ledger.h"
#include "storage/progress.h"

namespace carelog::services {

inline constexpr size_t kAdminQueue = 16;
inline constexpr char kActionAdmin[] = "admin";

class AdminServiceImpl final
    : public carelog::v1::AdminService::CallbackService {
 public:
  // All pointers must outlive the service; `log` may be null. `data_dir` is
  // carelogd's data directory (backups may not go inside it).
  AdminServiceImpl(storage::Ledger* ledger, const Authenticator* auth,
                   const AccessEnforcer* access, std::shared_ptr<JsonLog> log,
                   std::string data_dir);
  ~AdminServiceImpl() override;

  // Runs the queued operations, then joins the worker; later calls answer
  // UNAVAILABLE. Blocks; idempotent. Call before the ledger stops.
  void Stop();

  grpc::ServerUnaryReactor* CreateBackup(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::CreateBackupRequest* req,
      carelog::v1::BackupInfo* resp) override;
  grpc::ServerUnaryReactor* ListBackups(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::ListBackupsRequest* req,
      carelog::v1::ListBackupsReply* resp) override;
  grpc::ServerUnaryReactor* VerifyBackup(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::VerifyBackupRequest* req,
      carelog::v1::VerifyBackupReply* resp) override;
  grpc::ServerUnaryReactor* EraseSubject(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::EraseSubjectRequest* req,
      carelog::v1::ErasureReceipt* resp) override;
  grpc::ServerUnaryReactor* SetLegalHold(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::LegalHoldRequest* req,
      carelog::v1::LegalHoldStatus* resp) override;
  grpc::ServerUnaryReactor* ClearLegalHold(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::LegalHoldRequest* req,
      carelog::v1::LegalHoldStatus* resp) override;
  grpc::ServerUnaryReactor* GetLegalHold(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::LegalHoldRequest* req,
      carelog::v1::LegalHoldStatus* resp) override;
  grpc::ServerUnaryReactor* VerifyLedger(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::VerifyLedgerRequest* req,
      carelog::v1::VerifyLedgerReply* resp) override;
  grpc::ServerUnaryReactor* GetOperation(
      grpc::CallbackServerContext* ctx,
      const carelog::v1::GetOperationRequest* req,
      carelog::v1::AdminOperation* resp) override;

  // Called on the worker before each operation's work with its method name
  // and progress function (tests: hold the worker busy, report progress).
  // Set before the first call.
  void SetBeforeWorkHookForTest(
      std::function<void(const std::string&, const storage::ProgressFn&)>
          hook) {
    before_work_ = std::move(hook);
  }

  // Events per slice of VerifyLedger's chain walk (progress and cancellation
  // are checked between slices).
  static constexpr uint64_t kVerifySliceEvents = 100000;

 private:
  // What one call's work gets on the worker.
  struct Op {
    const RequestContext& rc;
    storage::ProgressFn progress;     // updates what GetOperation reports
    std::function<bool()> cancelled;  // the client has gone away
  };
  using Work = std::function<absl::Status(const Op&)>;
  struct Call {
    absl::string_view name;  // the RPC's name
    const char* action;      // kActionAdmin or kActionRead
    std::string subject;     // the subject an erasure/hold is about, or ""
    std::function<absl::Status()> validate;  // inline, before deciding
    Work work;                               // on the worker
  };
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, Call call);
  // The whole chain in slices of kVerifySliceEvents, with progress; stops
  // (CANCELLED) between slices once the client has gone away.
  storage::VerifyReport VerifyChainInSlices(const Op& op);
  // INVALID_ARGUMENT naming backup_dir unless it is absolute and outside the
  // data directory.
  absl::Status CheckBackupDir(const std::string& dir) const;

  storage::Ledger* const ledger_;
  const Authenticator* const auth_;
  const AccessEnforcer* const access_;
  std::shared_ptr<JsonLog> log_;
  const std::string data_dir_;
  std::function<void(const std::string&, const storage::ProgressFn&)>
      before_work_;
  std::atomic<uint32_t> queued_{0};
  mutable absl::Mutex op_mu_;
  carelog::v1::AdminOperation op_ ABSL_GUARDED_BY(op_mu_);
  Executor worker_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_ADMIN_ADMIN_SERVICE_H_
