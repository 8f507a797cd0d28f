// ops/carelogctl/admin_client.h — carelogctl's online operations through
// carelogd's AdminService (proto/carelog/v1/admin.proto) and QueryService
// (projection status and rebuild). Each call answers in the storage result
// types the offline commands use, so that one printer serves both modes.
// Errors: the call's gRPC status as an absl::Status with the same code and
// message; INVALID_ARGUMENT naming --token when there is none.
// Blocking calls (deadline: --timeout). Single-threaded CLI code.
#ifndef CARELOG_OPS_CARELOGCTL_ADMIN_CLIENT_H_
#define CARELOG_OPS_CARELOGCTL_ADMIN_CLIENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "carelog/v1/admin.pb.h"
#include "carelog/v1/queries.pb.h"
#include "ops/carelogctl/client.h"
#include "storage/backup.h"
#include "storage/maintenance.h"

namespace carelog::ctl {

// The calls taking `progress` (may be null) poll AdminService.GetOperation
// about once a second while they run and report the server's progress.
absl::StatusOr<storage::BackupInfo> OnlineCreateBackup(
    const ClientFlags& f, const std::string& backup_dir, uint32_t keep,
    const storage::ProgressFn& progress = nullptr);
absl::StatusOr<std::vector<storage::BackupInfo>> OnlineListBackups(
    const ClientFlags& f, const std::string& backup_dir);
// The report's status is the backup's finding (OK or DATA_LOSS naming the
// first bad position); the call's own failure is the StatusOr's.
absl::StatusOr<storage::BackupVerifyReport> OnlineVerifyBackup(
    const ClientFlags& f, const std::string& backup_dir, uint32_t id,
    const storage::ProgressFn& progress = nullptr);

absl::StatusOr<storage::ErasureReceipt> OnlineEraseSubject(
    const ClientFlags& f, const storage::ErasureRequest& request);
// op: 0 set, 1 clear, 2 show. The hold after the call (nullopt: none) and
// the position of the event that set or cleared it.
struct OnlineHold {
  std::optional<storage::LegalHold> hold;
  uint64_t position = 0;
};
absl::StatusOr<OnlineHold> OnlineLegalHold(const ClientFlags& f, int op,
                                           const std::string& subject,
                                           const std::string& reference);

absl::StatusOr<carelog::v1::VerifyLedgerReply> OnlineVerifyLedger(
    const ClientFlags& f, const storage::ProgressFn& progress = nullptr);
// What the server's admin worker is running now.
absl::StatusOr<carelog::v1::AdminOperation> OnlineGetOperation(
    const ClientFlags& f);

absl::StatusOr<carelog::v1::GetProjectionStatusReply> OnlineProjectionStatus(
    const ClientFlags& f);
// Starts a rebuild of `name` ("" = all). Returns the statuses right after.
absl::StatusOr<carelog::v1::RebuildProjectionReply> OnlineRebuildProjection(
    const ClientFlags& f, const std::string& name);

}  // namespace carelog::ctl

#endif  // CARELOG_OPS_CARELOGCTL_ADMIN_CLIENT_H_
