// services/projections/query_support.h — what every QueryService read shares:
// authentication, the min_position wait, the access decision per patient with
// its audit event durable before the reply, stable page tokens over view
// keys, and reading sealed entity rows.
//
// Thread-safety: QueryCore is thread-safe (reads run on Executor threads).
// ReadDecisions belongs to one read (one thread).
#ifndef CARELOG_SERVICES_PROJECTIONS_QUERY_SUPPORT_H_
#define CARELOG_SERVICES_PROJECTIONS_QUERY_SUPPORT_H_

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

#include "carelog/v1/queries.pb.h"
#include "services/domain/command_runner.h"
#include "services/projections/entity_views.h"
#include "services/projections/projections.h"
#include "services/server/access.h"
#include "services/server/executor.h"
#include "services/server/log.h"
#include "services/server/request_context.h"

namespace carelog::services::projections {

inline constexpr uint32_t kDefaultPageSize = 20;
inline constexpr uint32_t kMaxPageSize = 100;

// The relationship facts of `actor` to the patient of record `r` (self, care
// team) and the patient's flags. is_assigned is left false.
PatientFacts FactsFromRecord(const carelog::v1::PatientRecord& r,
                             const std::string& actor);

// 0 → the default; larger than the maximum → the maximum.
uint32_t PageSize(uint32_t asked);

// The key a page token resumes after ("" for no token). Errors:
// INVALID_ARGUMENT (page_token) when it is not a token of a list under
// `prefix`.
absl::StatusOr<std::string> DecodePageToken(const std::string& token,
                                            const std::string& prefix);

// Today in UTC as YYYY-MM-DD.
std::string TodayUtc();
// The day after `day` (YYYY-MM-DD). Errors: INVALID_ARGUMENT naming `field`
// when `day` is not a date.
absl::StatusOr<std::string> DayAfter(const std::string& day,
                                     const std::string& field);
// The first failed check, or OK. Fields a filter does not use must still be
// well formed: bad input is refused wherever it appears.
absl::Status FirstError(std::initializer_list<absl::Status> checks);
// INVALID_ARGUMENT naming `field` unless `known` (an enum's IsValid).
absl::Status KnownEnum(bool known, int value, absl::string_view field);
// INVALID_ARGUMENT naming `field` unless `day` is empty or YYYY-MM-DD.
absl::Status CheckOptionalDay(const std::string& day, const std::string& field);

// Whether `masks` names `field`.
bool Masked(const std::vector<std::string>& masks, absl::string_view field);

// Finishes `call` at once with `status` (bad requests: nothing was read or
// decided, so nothing is audited).
grpc::ServerUnaryReactor* Reject(grpc::CallbackServerContext* call,
                                 const absl::Status& status);

// The keys a list walks: those under `prefix` sorting after `first_after`
// (when set and no page token is given), ending before the first key >=
// `stop_at` (when set).
struct KeyRange {
  std::string prefix;
  std::string first_after;
  std::string stop_at;
};

class QueryCore {
 public:
  using Body = std::function<absl::Status(CommandScope&)>;

  // All pointers must outlive the core; `log` may be null.
  QueryCore(storage::Ledger* ledger, Executor* executor,
            const Authenticator* auth, const AccessEnforcer* access,
            Projections* projections, std::shared_ptr<JsonLog> log);

  // Authenticates (inline), then on the executor waits for `min_position` in
  // `view` (bounded by the call's deadline and 30 s: DEADLINE_EXCEEDED),
  // runs `body` and finishes the call with its status — once the audit
  // events of every decision `body` made are durable (else UNAVAILABLE).
  // UNAVAILABLE when the view does not exist. This is audit::RunAuditedRead
  // (services/audit/audited_call.h) with `view`'s worker to wait on.
  grpc::ServerUnaryReactor* RunRead(grpc::CallbackServerContext* call,
                                    const std::string& method,
                                    const std::string& view,
                                    uint64_t min_position, Body body);

  // Facts for `actor` about `patient_id` from the patients view ({} when the
  // patient is unknown or the view is missing: never widens access).
  PatientFacts FactsFor(const std::string& patient_id,
                        const std::string& actor) const;

  // One page of `view`'s keys in `range`, resuming after `page_token`; calls
  // `emit` with each key (an error from it ends the list with that error)
  // and sets `next_page_token` when more keys may follow. Errors:
  // INVALID_ARGUMENT for a foreign token; store errors.
  absl::Status ListKeys(
      const std::string& view, const KeyRange& range, uint32_t page_size,
      const std::string& page_token,
      const std::function<absl::Status(const std::string& key)>& emit,
      std::string* next_page_token) const;

  // Whether `view` has a row under `prefix` (an index probe).
  absl::StatusOr<bool> AnyKey(const std::string& view,
                              const std::string& prefix) const;

  // The patient and the parsed record of entity `id` of `view`.
  // Errors: NOT_FOUND (absent or erased); DATA_LOSS if it does not parse.
  template <typename T>
  absl::StatusOr<std::pair<std::string, T>> ReadEntity(
      const std::string& view, const std::string& id) const {
    auto ent = EntityView::ReadEntity(*store(view), keys(), id);
    if (!ent.ok())
      return ent.status();
    std::pair<std::string, T> out;
    out.first = std::move(ent->first);
    if (!out.second.ParseFromString(ent->second))
      return absl::DataLossError(absl::StrCat("view ", view, " row ", id));
    return out;
  }

  storage::ProjectionStore* store(const std::string& view) const;
  crypto::KeyRing& keys() const;
  Projections* projections() const { return projections_; }
  storage::Ledger* ledger() const { return ledger_; }
  const AccessEnforcer* access() const { return access_; }
  const Authenticator* auth() const { return auth_; }
  Executor* executor() const { return executor_; }
  JsonLog* log() const { return log_.get(); }

 private:
  storage::Ledger* const ledger_;
  Executor* const executor_;
  const Authenticator* const auth_;
  const AccessEnforcer* const access_;
  Projections* const projections_;
  std::shared_ptr<JsonLog> log_;
};

// The decisions of one read: one decision — one audit event — per resource,
// patient and relationship, however many rows of that patient the read
// returns.
class ReadDecisions {
 public:
  ReadDecisions(const QueryCore* core, CommandScope* scope)
      : core_(core), scope_(scope) {}

  // The fields to mask when the caller may read `resource` of `patient_id`;
  // PERMISSION_DENIED (the denial is audited) otherwise. `assigned`: the
  // caller is assigned to this patient's case.
  absl::StatusOr<std::vector<std::string>> Decide(const std::string& resource,
                                                  const std::string& patient_id,
                                                  bool assigned = false);
  const std::string& actor() const { return scope_->ctx().actor; }

 private:
  const QueryCore* core_;
  CommandScope* scope_;
  std::map<std::string, PatientFacts> facts_;
  std::map<std::tuple<std::string, std::string, bool>,
           absl::StatusOr<std::vector<std::string>>>
      decided_;
};

}  // namespace carelog::services::projections

#endif  // CARELOG_SERVICES_PROJECTIONS_QUERY_SUPPORT_H_
