#include "services/audit/audit_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "services/audit/audit_format.h"
#include "services/audit/audit_view.h"
#include "services/domain/validate.h"
#include "services/server/grpc_status.h"

namespace carelog::services::audit {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

namespace {

constexpr char kMethodPrefix[] = "/carelog.v1.AuditService/";
constexpr size_t kMaxActorBytes = 256;
constexpr size_t kMaxNoteBytes = 2000;

uint32_t PageSize(uint32_t asked, uint32_t dflt, uint32_t max) {
  return asked == 0 ? dflt : std::min(asked, max);
}

absl::StatusOr<std::string> DecodeToken(const std::string& token,
                                        const std::string& prefix) {
  if (token.empty())
    return std::string();
  std::string key;
  if (!absl::WebSafeBase64Unescape(token, &key) ||
      !absl::StartsWith(key, prefix))
    return absl::InvalidArgumentError("page_token: not a token of this query");
  return key;
}

// The audit fields a filter would reveal through its answers.
absl::Status CheckFilterNotMasked(const AuditFilter& f,
                                  const std::vector<std::string>& masks) {
  auto masked = [&masks](const char* field) {
    return std::find(masks.begin(), masks.end(), field) != masks.end();
  };
  const std::pair<bool, const char*> uses[] = {
      {!f.patient_id().empty(), "patient"},
      {!f.actor().empty(), "actor"},
      {f.outcome() != ACCESS_OUTCOME_UNSPECIFIED, "outcome"},
      {!f.purpose().empty(), "purpose"},
      {!f.resource().empty(), "resource"},
      {f.from_micros() > 0 || f.to_micros() > 0, "time"},
  };
  for (const auto& [used, field] : uses) {
    if (used && masked(field))
      return absl::PermissionDeniedError(
          absl::StrCat("filter on audit field ", field,
                       ", which the policy masks for this caller"));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* Reject(grpc::CallbackServerContext* call,
                                 const absl::Status& s) {
  auto* reactor = call->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace

absl::Status ValidateFilter(const AuditFilter& f) {
  if (auto s = CheckId(f.patient_id(), "filter.patient_id", false); !s.ok())
    return s;
  if (f.actor().size() > kMaxActorBytes)
    return absl::InvalidArgumentError("filter.actor: too long");
  if (auto s = CheckText(f.actor(), "filter.actor", kMaxActorBytes, false);
      !s.ok())
    return s;
  if (!f.purpose().empty() && !IsKnownPurpose(f.purpose()))
    return absl::InvalidArgumentError("filter.purpose: unknown purpose code");
  if (auto s = CheckId(f.resource(), "filter.resource", false); !s.ok())
    return s;
  if (!AccessOutcome_IsValid(f.outcome()))
    return absl::InvalidArgumentError("filter.outcome: unknown value");
  if (!AuditAnomaly_IsValid(f.anomaly()))
    return absl::InvalidArgumentError("filter.anomaly: unknown value");
  return ValidateTimeRange(f.from_micros(), f.to_micros(), "filter.");
}

absl::Status ValidateTimeRange(int64_t from_micros, int64_t to_micros,
                               absl::string_view prefix) {
  // Through the last microsecond of year 9999 (RFC 3339's range).
  constexpr int64_t kMaxMicros = int64_t{253402300799999999};
  for (const auto& [v, name] :
       {std::pair<int64_t, const char*>{from_micros, "from_micros"},
        {to_micros, "to_micros"}}) {
    if (v < 0)
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, name, ": negative"));
    if (v > kMaxMicros)
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, name, ": after year 9999"));
  }
  if (to_micros > 0 && from_micros >= to_micros)
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, "to_micros: must be after ", prefix, "from_micros"));
  return absl::OkStatus();
}

struct AuditServiceImpl::PageArgs {
  std::string action = "read";
  AuditFilter filter;
  ScanPlan plan;
  uint64_t min_position = 0;
  uint32_t page_size = 0;
  std::string after;  // decoded page token
};

AuditServiceImpl::AuditServiceImpl(AuditedCallDeps deps, CommandRunner* runner,
                                   projections::Projections* projections)
    : deps_(std::move(deps)), runner_(runner), projections_(projections) {}

projections::ProjectionWorker* AuditServiceImpl::worker() const {
  return projections_->Find(kAuditView);
}

absl::Status AuditServiceImpl::ReadAuthorized(CommandScope& scope,
                                              const std::string& action,
                                              const PageArgs& args,
                                              AuditPage* out) {
  if (auto s = scope.Authorize(kResourceAudit, action, args.filter.patient_id(),
                               PatientFacts{});
      !s.ok())
    return s;
  const auto& m = scope.decisions().back().masked_fields();
  const std::vector<std::string> masks(m.begin(), m.end());
  if (auto s = CheckFilterNotMasked(args.filter, masks); !s.ok())
    return s;
  projections::ProjectionWorker* w = worker();
  if (w == nullptr)
    return absl::UnavailableError("no audit view");
  auto page =
      AuditView::ReadPage(*w->store(), deps_.ledger->key_ring(), args.plan,
                          args.filter, args.after, args.page_size, kMaxScan);
  if (!page.ok())
    return page.status();
  for (auto& rec : page->records) {
    ApplyAuditMasks(masks, &rec);
    *out->add_records() = std::move(rec);
  }
  out->set_scanned(page->scanned);
  if (page->more && !page->last_key.empty())
    out->set_next_page_token(absl::WebSafeBase64Escape(page->last_key));
  return absl::OkStatus();
}

uint64_t AuditServiceImpl::WaitPosition(uint64_t asked) const {
  // An accounting covers everything durable when it was asked for.
  return asked != 0 ? asked : deps_.ledger->GetHead().position;
}

grpc::ServerUnaryReactor* AuditServiceImpl::Page(
    grpc::CallbackServerContext* call, const std::string& method, PageArgs args,
    AuditPage* reply) {
  args.min_position = WaitPosition(args.min_position);
  auto shared = std::make_shared<PageArgs>(std::move(args));
  return RunAuditedRead(
      call, deps_, absl::StrCat(kMethodPrefix, method), worker(),
      shared->min_position, [this, shared, reply](CommandScope& scope) {
        return ReadAuthorized(scope, shared->action, *shared, reply);
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::QueryAudit(
    grpc::CallbackServerContext* call, const QueryAuditRequest* req,
    AuditPage* reply) {
  if (auto s = ValidateFilter(req->filter()); !s.ok())
    return Reject(call, s);
  PageArgs a;
  a.filter = req->filter();
  a.plan = AuditView::PlanFor(a.filter);
  a.min_position = req->min_position();
  a.page_size = PageSize(req->page_size(), 50, 500);
  auto after = DecodeToken(req->page_token(), a.plan.prefix);
  if (!after.ok())
    return Reject(call, after.status());
  a.after = *after;
  return Page(call, "QueryAudit", std::move(a), reply);
}

grpc::ServerUnaryReactor* AuditServiceImpl::ListBreakGlassQueue(
    grpc::CallbackServerContext* call, const ListBreakGlassQueueRequest* req,
    AuditPage* reply) {
  PageArgs a;
  a.plan = AuditView::BreakGlassPlan(req->include_reviewed());
  a.min_position = req->min_position();
  a.page_size = PageSize(req->page_size(), 50, 500);
  auto after = DecodeToken(req->page_token(), a.plan.prefix);
  if (!after.ok())
    return Reject(call, after.status());
  a.after = *after;
  return Page(call, "ListBreakGlassQueue", std::move(a), reply);
}

grpc::ServerUnaryReactor* AuditServiceImpl::ListAnomalies(
    grpc::CallbackServerContext* call, const ListAnomaliesRequest* req,
    AuditPage* reply) {
  PageArgs a;
  if (!AuditAnomaly_IsValid(req->anomaly()))
    return Reject(call, absl::InvalidArgumentError("anomaly: unknown value"));
  if (auto s = ValidateTimeRange(req->from_micros(), req->to_micros(), "");
      !s.ok())
    return Reject(call, s);
  a.filter.set_anomaly(req->anomaly());
  a.filter.set_from_micros(req->from_micros());
  a.filter.set_to_micros(req->to_micros());
  a.plan = AuditView::AnomalyPlan(req->anomaly(), req->from_micros(),
                                  req->to_micros());
  a.min_position = req->min_position();
  a.page_size = PageSize(req->page_size(), 50, 500);
  auto after = DecodeToken(req->page_token(), a.plan.prefix);
  if (!after.ok())
    return Reject(call, after.status());
  a.after = *after;
  return Page(call, "ListAnomalies", std::move(a), reply);
}

grpc::ServerUnaryReactor* AuditServiceImpl::ExportAudit(
    grpc::CallbackServerContext* call, const ExportAuditRequest* req,
    ExportAuditReply* reply) {
  if (auto s = ValidateFilter(req->filter()); !s.ok())
    return Reject(call, s);
  if (auto s = CheckEnum(AuditExportFormat_IsValid(req->format()),
                         req->format(), "format");
      !s.ok())
    return Reject(call, s);
  auto args = std::make_shared<PageArgs>();
  args->action = "export";
  args->filter = req->filter();
  args->plan = AuditView::PlanFor(args->filter);
  args->min_position = WaitPosition(req->min_position());
  args->page_size = PageSize(req->page_size(), 200, 1000);
  auto after = DecodeToken(req->page_token(), args->plan.prefix);
  if (!after.ok())
    return Reject(call, after.status());
  args->after = *after;
  const bool first_page = req->page_token().empty();
  const AuditExportFormat format = req->format();
  return RunAuditedRead(
      call, deps_, absl::StrCat(kMethodPrefix, "ExportAudit"), worker(),
      args->min_position,
      [this, args, reply, first_page, format](CommandScope& scope) {
        AuditPage page;
        if (auto s = ReadAuthorized(scope, args->action, *args, &page); !s.ok())
          return s;
        std::string content;
        if (format == AUDIT_EXPORT_FORMAT_CSV) {
          if (first_page)
            content = CsvHeader();
          for (const auto& rec : page.records())
            content += CsvLine(rec);
        } else {
          for (const auto& rec : page.records()) {
            auto json = FhirAuditEventJson(rec);
            if (!json.ok())
              return json.status();
            absl::StrAppend(&content, *json, "\n");
          }
        }
        reply->set_content(std::move(content));
        reply->set_count(page.records_size());
        reply->set_next_page_token(page.next_page_token());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::ReviewBreakTheGlass(
    grpc::CallbackServerContext* call, const ReviewBreakTheGlassRequest* req,
    ReviewBreakTheGlassReply* reply) {
  auto* reactor = call->DefaultReactor();
  auto validate = [req]() -> absl::Status {
    if (req->audit_position() == 0)
      return absl::InvalidArgumentError("audit_position: required");
    if (auto s = CheckEnum(BreakGlassReviewDecision_IsValid(req->decision()),
                           req->decision(), "decision");
        !s.ok())
      return s;
    return CheckText(req->note(), "note", kMaxNoteBytes, false);
  };
  auto decide = [this, req](CommandScope& scope) -> absl::Status {
    projections::ProjectionWorker* w = worker();
    if (w == nullptr)
      return absl::UnavailableError("no audit view");
    absl::StatusOr<AuditRecord> rec = absl::NotFoundError(
        absl::StrCat("no access audited at position ", req->audit_position()));
    // The access must be in the view; wait (bounded) for it to get there.
    if (req->audit_position() <= deps_.ledger->GetHead().position) {
      if (auto s = w->WaitForPosition(req->audit_position(),
                                      absl::Now() + absl::Seconds(10));
          !s.ok())
        return s;
      rec = AuditView::ReadRecord(*w->store(), deps_.ledger->key_ring(),
                                  req->audit_position());
    }
    if (!rec.ok() && !absl::IsNotFound(rec.status()))
      return rec.status();
    const std::string patient = rec.ok() ? rec->access().patient_id() : "";
    // Authorize before revealing whether the access exists.
    if (auto s =
            scope.Authorize(kResourceAudit, "review", patient, PatientFacts{});
        !s.ok())
      return s;
    if (!rec.ok())
      return rec.status();
    if (!rec->break_glass())
      return absl::FailedPreconditionError(
          "audit_position: not a break-the-glass access");
    if (rec->has_review())
      return absl::FailedPreconditionError(absl::StrCat(
          "audit_position: already reviewed (", rec->review().reviewer(), ")"));
    if (rec->access().actor() == scope.ctx().actor)
      return absl::FailedPreconditionError(
          "a reviewer may not review their own break-the-glass access");
    BreakGlassReviewed ev;
    ev.set_audit_position(req->audit_position());
    ev.set_patient_id(patient);
    ev.set_accessor(rec->access().actor());
    ev.set_reviewer(scope.ctx().actor);
    ev.set_decision(req->decision());
    ev.set_note(req->note());
    ev.set_reviewed_at_micros(absl::ToUnixMicros(scope.ctx().received_at));
    scope.AppendAudit(ev, patient);
    return absl::OkStatus();
  };
  runner_->Execute(call, reactor,
                   absl::StrCat(kMethodPrefix, "ReviewBreakTheGlass"),
                   req->command_id(), *req, validate, decide,
                   [reply](const storage::AppendResult& r,
                           const std::vector<google::protobuf::Any>&) {
                     FillCommandResult(r, reply->mutable_result());
                   });
  return reactor;
}

}  // namespace carelog::services::audit
