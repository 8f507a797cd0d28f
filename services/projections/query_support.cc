#include "services/projections/query_support.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "services/audit/audited_call.h"
#include "services/domain/event_codec.h"
#include "services/domain/validate.h"
#include "services/patients/patient_aggregate.h"
#include "services/projections/patient_record_view.h"
#include "services/server/grpc_status.h"

namespace carelog::services::projections {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

PatientFacts FactsFromRecord(const PatientRecord& r, const std::string& actor) {
  PatientFacts f;
  f.is_self = actor == r.patient_id();
  for (const auto& m : r.care_team()) {
    if (m.member_id() == actor)
      f.on_care_team = true;
  }
  f.vip = r.flags().vip();
  f.employee = r.flags().employee();
  f.restricted = r.flags().restricted();
  f.restrictions = ToPolicyRestrictions(r.restrictions());
  return f;
}

uint32_t PageSize(uint32_t asked) {
  if (asked == 0)
    return kDefaultPageSize;
  return std::min(asked, kMaxPageSize);
}

absl::StatusOr<std::string> DecodePageToken(const std::string& token,
                                            const std::string& prefix) {
  if (token.empty())
    return std::string();
  std::string key;
  if (!absl::WebSafeBase64Unescape(token, &key) ||
      !absl::StartsWith(key, prefix))
    return absl::InvalidArgumentError("page_token: not a token of this query");
  return key;
}

std::string TodayUtc() {
  return absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
}

absl::StatusOr<std::string> DayAfter(const std::string& day,
                                     const std::string& field) {
  absl::Time t;
  std::string err;
  if (day.size() != 10 ||
      !absl::ParseTime("%Y-%m-%d", day, absl::UTCTimeZone(), &t, &err))
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": expected YYYY-MM-DD"));
  return absl::FormatTime("%Y-%m-%d", t + absl::Hours(24), absl::UTCTimeZone());
}

absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok())
      return s;
  }
  return absl::OkStatus();
}

absl::Status KnownEnum(bool known, int value, absl::string_view field) {
  return known ? absl::OkStatus()
               : absl::InvalidArgumentError(
                     absl::StrCat(field, ": unknown value ", value));
}

absl::Status CheckOptionalDay(const std::string& day,
                              const std::string& field) {
  if (day.empty())
    return absl::OkStatus();
  return DayAfter(day, field).status();
}

bool Masked(const std::vector<std::string>& masks, absl::string_view field) {
  return std::find(masks.begin(), masks.end(), field) != masks.end();
}

grpc::ServerUnaryReactor* Reject(grpc::CallbackServerContext* call,
                                 const absl::Status& status) {
  auto* reactor = call->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

QueryCore::QueryCore(storage::Ledger* ledger, Executor* executor,
                     const Authenticator* auth, const AccessEnforcer* access,
                     Projections* projections, std::shared_ptr<JsonLog> log)
    : ledger_(ledger),
      executor_(executor),
      auth_(auth),
      access_(access),
      projections_(projections),
      log_(std::move(log)) {}

storage::ProjectionStore* QueryCore::store(const std::string& view) const {
  ProjectionWorker* w = projections_->Find(view);
  return w == nullptr ? nullptr : w->store();
}

crypto::KeyRing& QueryCore::keys() const {
  return ledger_->key_ring();
}

grpc::ServerUnaryReactor* QueryCore::RunRead(grpc::CallbackServerContext* call,
                                             const std::string& method,
                                             const std::string& view,
                                             uint64_t min_position, Body body) {
  const ProjectionWorker* w = projections_->Find(view);
  if (w == nullptr) {
    // Authenticated like any call, then refused before anything is read.
    min_position = 0;
    body = [view](CommandScope&) {
      return absl::UnavailableError(absl::StrCat("no view ", view));
    };
  }
  return audit::RunAuditedRead(
      call, audit::AuditedCallDeps{ledger_, executor_, auth_, access_, log_},
      method, w, min_position, std::move(body));
}

PatientFacts QueryCore::FactsFor(const std::string& patient_id,
                                 const std::string& actor) const {
  storage::ProjectionStore* s = store(kPatientsView);
  if (s == nullptr)
    return PatientFacts{};
  auto rec = PatientRecordView::Read(*s, keys(), patient_id);
  if (!rec.ok())
    return PatientFacts{};
  return FactsFromRecord(*rec, actor);
}

absl::Status QueryCore::ListKeys(
    const std::string& view, const KeyRange& range, uint32_t page_size,
    const std::string& page_token,
    const std::function<absl::Status(const std::string& key)>& emit,
    std::string* next_page_token) const {
  auto after = DecodePageToken(page_token, range.prefix);
  if (!after.ok())
    return after.status();
  if (after->empty())
    *after = range.first_after;
  auto page = store(view)->Scan(range.prefix, *after, PageSize(page_size));
  if (!page.ok())
    return page.status();
  bool stopped = false;
  for (const auto& row : page->rows) {
    if (!range.stop_at.empty() && row.key >= range.stop_at) {
      stopped = true;
      break;
    }
    if (auto s = emit(row.key); !s.ok())
      return s;
  }
  if (page->more && !stopped && !page->rows.empty())
    *next_page_token = absl::WebSafeBase64Escape(page->rows.back().key);
  return absl::OkStatus();
}

absl::StatusOr<bool> QueryCore::AnyKey(const std::string& view,
                                       const std::string& prefix) const {
  auto page = store(view)->Scan(prefix, "", 1);
  if (!page.ok())
    return page.status();
  return !page->rows.empty();
}

absl::StatusOr<std::vector<std::string>> ReadDecisions::Decide(
    const std::string& resource, const std::string& patient_id, bool assigned) {
  auto key = std::make_tuple(resource, patient_id, assigned);
  auto it = decided_.find(key);
  if (it != decided_.end())
    return it->second;
  auto f = facts_.find(patient_id);
  if (f == facts_.end())
    f = facts_.emplace(patient_id, core_->FactsFor(patient_id, actor())).first;
  PatientFacts facts = f->second;
  facts.is_assigned = assigned;
  absl::StatusOr<std::vector<std::string>> out = std::vector<std::string>();
  if (auto s = scope_->Authorize(resource, kActionRead, patient_id, facts);
      !s.ok()) {
    out = s;
  } else {
    const auto& m = scope_->decisions().back().masked_fields();
    out = std::vector<std::string>(m.begin(), m.end());
  }
  decided_.emplace(key, out);
  return out;
}

}  // namespace carelog::services::projections
