#include "services/projections/query_service.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "services/domain/validate.h"
#include "services/projections/entity_views.h"
#include "services/projections/patient_record_view.h"
#include "services/server/grpc_status.h"

namespace carelog::services::projections {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

namespace {

constexpr char kResourceDemographics[] = "patient.demographics";
constexpr char kResourceInsurance[] = "patient.insurance";
constexpr char kResourceAppointments[] = "appointments";
constexpr char kResourceComplaints[] = "complaints";
constexpr uint32_t kDefaultPageSize = 20;
constexpr uint32_t kMaxPageSize = 100;
// A call without a deadline still waits for min_position at most this long.
constexpr absl::Duration kMaxWait = absl::Seconds(30);

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
  return f;
}

absl::Time CallDeadline(const grpc::CallbackServerContext* call) {
  const absl::Time cap = absl::Now() + kMaxWait;
  const absl::Time d = absl::FromChrono(call->deadline());
  return std::min(d, cap);
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

uint32_t PageSize(uint32_t asked) {
  if (asked == 0)
    return kDefaultPageSize;
  return std::min(asked, kMaxPageSize);
}

void ToProto(const projections::WorkerStatus& s, ProjectionStatus* out) {
  out->set_name(s.name);
  switch (s.state) {
    case WorkerStatus::State::kRunning:
      out->set_state(ProjectionStatus::STATE_RUNNING);
      break;
    case WorkerStatus::State::kFailed:
      out->set_state(ProjectionStatus::STATE_FAILED);
      break;
    case WorkerStatus::State::kStopped:
      out->set_state(ProjectionStatus::STATE_STOPPED);
      break;
  }
  out->set_position(s.position);
  out->set_head(s.head);
  out->set_lag(s.head > s.position ? s.head - s.position : 0);
  out->set_generation(s.generation);
  out->set_rebuilding(s.rebuilding);
  out->set_rebuild_position(s.rebuild_position);
  out->set_failed_position(s.failed_position);
  out->set_error(s.error);
  out->set_events_applied(s.events_applied);
}

}  // namespace

void ApplyPatientMasks(const std::vector<std::string>& masked_fields,
                       PatientRecord* r) {
  std::set<std::string> listed(r->masked_fields().begin(),
                               r->masked_fields().end());
  for (const std::string& f : masked_fields) {
    Demographics* d = r->mutable_demographics();
    ContactPoint* c = r->mutable_contact();
    if (f == "name") {
      d->clear_given_name();
      d->clear_family_name();
    } else if (f == "date_of_birth") {
      d->clear_date_of_birth();
    } else if (f == "sex") {
      d->clear_gender();
    } else if (f == "mrn") {
      d->clear_mrn();
    } else if (f == "address") {
      c->clear_address();
    } else if (f == "phone") {
      c->clear_phone();
    } else if (f == "email") {
      c->clear_email();
    } else if (f == "preferred_language") {
      r->clear_preferred_language();
    } else if (f == "emergency_contact") {
      r->clear_emergency_contact();
    } else {
      for (auto& ins : *r->mutable_insurance()) {
        Insurance* i = ins.mutable_insurance();
        if (f == "payer")
          i->clear_payer();
        else if (f == "member_id")
          i->clear_member_id();
        else if (f == "group_number")
          i->clear_group_number();
        else if (f == "subscriber")
          i->clear_subscriber_relation();
      }
    }
    listed.insert(f);
  }
  r->clear_masked_fields();
  for (const auto& f : listed)
    r->add_masked_fields(f);
}

void ApplyAppointmentMasks(const std::vector<std::string>& masked_fields,
                           AppointmentRecord* r) {
  for (const std::string& f : masked_fields) {
    if (f == "time")
      r->clear_slot();
    else if (f == "location")
      r->clear_location_id();
    else if (f == "provider")
      r->clear_provider_id();
    else if (f == "department")
      r->clear_department();
    else if (f == "visit_type")
      r->clear_visit_type();
    else if (f == "status")
      r->clear_status();
    else if (f == "notes") {
      r->clear_notes();
      r->clear_instructions();
    }
    r->add_masked_fields(f);
  }
}

void ApplyComplaintMasks(const std::vector<std::string>& masked_fields,
                         ComplaintRecord* r) {
  for (const std::string& f : masked_fields) {
    if (f == "category")
      r->clear_category();
    else if (f == "description")
      r->clear_description();
    else if (f == "status")
      r->clear_status();
    else if (f == "resolution")
      r->clear_resolution();
    else if (f == "assigned_to")
      r->clear_assignee_id();
    r->add_masked_fields(f);
  }
}

QueryServiceImpl::QueryServiceImpl(storage::Ledger* ledger, Executor* executor,
                                   const Authenticator* auth,
                                   const AccessEnforcer* access,
                                   Projections* projections,
                                   std::shared_ptr<JsonLog> log)
    : ledger_(ledger),
      executor_(executor),
      auth_(auth),
      access_(access),
      projections_(projections),
      log_(std::move(log)) {}

grpc::ServerUnaryReactor* QueryServiceImpl::RunRead(
    grpc::CallbackServerContext* call, const std::string& method,
    const std::string& view, uint64_t min_position, Body body) {
  auto* reactor = call->DefaultReactor();
  auto ctx = auth_->Authenticate(*call);
  if (!ctx.ok()) {
    reactor->Finish(ToGrpcStatus(ctx.status()));
    return reactor;
  }
  auto rc = std::make_shared<RequestContext>(std::move(*ctx));
  auto task = [this, call, reactor, rc, method, view, min_position,
               body = std::move(body)] {
    ProjectionWorker* w = projections_->Find(view);
    if (w == nullptr) {
      reactor->Finish(
          ToGrpcStatus(absl::UnavailableError(absl::StrCat("no view ", view))));
      return;
    }
    if (min_position > 0) {
      if (auto s = w->WaitForPosition(min_position, CallDeadline(call));
          !s.ok()) {
        reactor->Finish(ToGrpcStatus(s));
        return;
      }
    }
    auto scope = std::make_shared<CommandScope>(*rc, access_, method);
    absl::Status result = body(*scope);
    if (scope->decisions().empty()) {
      // Nothing was disclosed or decided (bad token, I/O error).
      reactor->Finish(ToGrpcStatus(result));
      return;
    }
    // Fail closed: the reply leaves only once its audit events are durable.
    storage::AppendRequest audit;
    audit.command_id = NewId("audit-read-");
    AddAuditEvents(scope->decisions(), *rc, &audit);
    ledger_->AppendAsync(audit, [this, reactor, rc, scope, result](
                                    absl::StatusOr<storage::AppendResult> r) {
      if (!r.ok()) {
        if (log_)
          log_->Error("audit_append_failed", {{"request_id", rc->request_id}});
        reactor->Finish(ToGrpcStatus(
            absl::UnavailableError("audit trail unavailable; read refused")));
        return;
      }
      reactor->Finish(ToGrpcStatus(result));
    });
  };
  if (auto s = executor_->Submit(std::move(task)); !s.ok())
    reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

absl::StatusOr<PatientRecord> QueryServiceImpl::ReadAuthorized(
    CommandScope& scope, const std::string& patient_id, bool insurance) {
  ProjectionWorker* w = projections_->Find(kPatientsView);
  auto rec =
      PatientRecordView::Read(*w->store(), ledger_->key_ring(), patient_id);
  if (!rec.ok() && !absl::IsNotFound(rec.status()))
    return rec.status();
  // Decide even for an unknown patient, so that existence is no side channel.
  const PatientFacts facts =
      rec.ok() ? FactsFromRecord(*rec, scope.ctx().actor) : PatientFacts{};
  if (auto s = scope.Authorize(kResourceDemographics, kActionRead, patient_id,
                               facts);
      !s.ok())
    return s;
  const auto& demo_masks = scope.decisions().back().masked_fields();
  std::vector<std::string> masks(demo_masks.begin(), demo_masks.end());
  if (insurance) {
    if (auto s =
            scope.Authorize(kResourceInsurance, kActionRead, patient_id, facts);
        !s.ok())
      return s;
    for (const auto& f : scope.decisions().back().masked_fields())
      masks.push_back(f);
  }
  if (!rec.ok())
    return rec.status();
  if (!insurance)
    rec->clear_insurance();
  ApplyPatientMasks(masks, &*rec);
  return rec;
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetPatientRecord(
    grpc::CallbackServerContext* call, const GetPatientRecordRequest* req,
    PatientRecord* reply) {
  if (auto s = CheckId(req->patient_id(), "patient_id"); !s.ok()) {
    auto* reactor = call->DefaultReactor();
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  return RunRead(
      call, "/carelog.v1.QueryService/GetPatientRecord", kPatientsView,
      req->min_position(), [this, req, reply](CommandScope& scope) {
        auto rec =
            ReadAuthorized(scope, req->patient_id(), req->include_insurance());
        if (!rec.ok())
          return rec.status();
        *reply = std::move(*rec);
        return absl::OkStatus();
      });
}

absl::Status QueryServiceImpl::ListFromIndex(CommandScope& scope,
                                             const std::string& prefix,
                                             uint32_t page_size,
                                             const std::string& page_token,
                                             PatientRecordPage* reply) {
  auto after = DecodeToken(page_token, prefix);
  if (!after.ok())
    return after.status();
  ProjectionWorker* w = projections_->Find(kPatientsView);
  auto page = w->store()->Scan(prefix, *after, PageSize(page_size));
  if (!page.ok())
    return page.status();
  for (const auto& row : page->rows) {
    const std::string id = PatientRecordView::PatientOfIndexKey(row.key);
    auto rec = ReadAuthorized(scope, id, false);
    if (rec.ok()) {
      *reply->add_records() = std::move(*rec);
    } else if (!absl::IsPermissionDenied(rec.status()) &&
               !absl::IsNotFound(rec.status())) {
      return rec.status();
    }
  }
  if (page->more && !page->rows.empty())
    reply->set_next_page_token(
        absl::WebSafeBase64Escape(page->rows.back().key));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* QueryServiceImpl::FindPatients(
    grpc::CallbackServerContext* call, const FindPatientsRequest* req,
    PatientRecordPage* reply) {
  auto prefix = PatientRecordView::LookupPrefix(ledger_->key_ring(),
                                                req->field(), req->value());
  if (!prefix.ok()) {
    auto* reactor = call->DefaultReactor();
    reactor->Finish(ToGrpcStatus(prefix.status()));
    return reactor;
  }
  return RunRead(call, "/carelog.v1.QueryService/FindPatients", kPatientsView,
                 req->min_position(),
                 [this, req, reply, p = *prefix](CommandScope& scope) {
                   return ListFromIndex(scope, p, req->page_size(),
                                        req->page_token(), reply);
                 });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListPatients(
    grpc::CallbackServerContext* call, const ListPatientsRequest* req,
    PatientRecordPage* reply) {
  return RunRead(call, "/carelog.v1.QueryService/ListPatients", kPatientsView,
                 req->min_position(), [this, req, reply](CommandScope& scope) {
                   return ListFromIndex(
                       scope, PatientRecordView::FilterPrefix(req->filter()),
                       req->page_size(), req->page_token(), reply);
                 });
}

PatientFacts QueryServiceImpl::FactsFor(const std::string& patient_id,
                                        const std::string& actor) {
  ProjectionWorker* w = projections_->Find(kPatientsView);
  if (w == nullptr)
    return PatientFacts{};
  auto rec =
      PatientRecordView::Read(*w->store(), ledger_->key_ring(), patient_id);
  if (!rec.ok())
    return PatientFacts{};
  return FactsFromRecord(*rec, actor);
}

absl::Status QueryServiceImpl::ListEntities(
    const std::string& view, const std::string& prefix,
    const std::string& first_after, const std::string& stop_at,
    uint32_t page_size, const std::string& page_token,
    const std::function<absl::Status(const std::string& id)>& emit,
    std::string* next_page_token) {
  auto after = DecodeToken(page_token, prefix);
  if (!after.ok())
    return after.status();
  if (after->empty())
    *after = first_after;
  ProjectionWorker* w = projections_->Find(view);
  auto page = w->store()->Scan(prefix, *after, PageSize(page_size));
  if (!page.ok())
    return page.status();
  bool stopped = false;
  for (const auto& row : page->rows) {
    if (!stop_at.empty() && row.key >= stop_at) {
      stopped = true;
      break;
    }
    if (auto s = emit(EntityView::IdOfKey(row.key)); !s.ok())
      return s;
  }
  if (page->more && !stopped && !page->rows.empty())
    *next_page_token = absl::WebSafeBase64Escape(page->rows.back().key);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListAppointments(
    grpc::CallbackServerContext* call, const ListAppointmentsRequest* req,
    AppointmentPage* reply) {
  std::string prefix, first_after;
  absl::Status bad;
  const std::string now_key = TimeKey(absl::ToUnixMicros(absl::Now()));
  switch (req->filter()) {
    case ListAppointmentsRequest::FILTER_PATIENT:
      bad = CheckId(req->patient_id(), "patient_id");
      prefix = absl::StrCat("s/", req->patient_id(), "/");
      break;
    case ListAppointmentsRequest::FILTER_PROVIDER_DAY: {
      bad = CheckId(req->provider_id(), "provider_id");
      absl::Time t;
      std::string err;
      if (bad.ok() && !absl::ParseTime("%Y-%m-%d", req->day(), &t, &err))
        bad = absl::InvalidArgumentError("day: expected YYYY-MM-DD");
      prefix =
          AppointmentsView::ProviderDayPrefix(req->provider_id(), req->day());
      break;
    }
    case ListAppointmentsRequest::FILTER_UPCOMING:
      prefix = "iu/";
      first_after = absl::StrCat(prefix, now_key);
      break;
    case ListAppointmentsRequest::FILTER_NO_SHOWS:
      prefix = "in/";
      break;
    default:
      bad = absl::InvalidArgumentError("filter: required");
  }
  if (!bad.ok()) {
    auto* reactor = call->DefaultReactor();
    reactor->Finish(ToGrpcStatus(bad));
    return reactor;
  }
  return RunRead(
      call, "/carelog.v1.QueryService/ListAppointments", kAppointmentsView,
      req->min_position(),
      [this, req, reply, prefix, first_after](CommandScope& scope) {
        ProjectionWorker* w = projections_->Find(kAppointmentsView);
        auto emit = [&](const std::string& id) -> absl::Status {
          auto ent =
              EntityView::ReadEntity(*w->store(), ledger_->key_ring(), id);
          if (absl::IsNotFound(ent.status()))
            return absl::OkStatus();  // erased meanwhile
          if (!ent.ok())
            return ent.status();
          AppointmentRecord rec;
          if (!rec.ParseFromString(ent->second))
            return absl::DataLossError(absl::StrCat("appointment ", id));
          auto d =
              scope.Authorize(kResourceAppointments, kActionRead, ent->first,
                              FactsFor(ent->first, scope.ctx().actor));
          if (!d.ok())
            return absl::OkStatus();  // left out; the denial is audited
          const auto& m = scope.decisions().back().masked_fields();
          ApplyAppointmentMasks({m.begin(), m.end()}, &rec);
          *reply->add_appointments() = std::move(rec);
          return absl::OkStatus();
        };
        return ListEntities(kAppointmentsView, prefix, first_after, "",
                            req->page_size(), req->page_token(), emit,
                            reply->mutable_next_page_token());
      });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListComplaints(
    grpc::CallbackServerContext* call, const ListComplaintsRequest* req,
    ComplaintPage* reply) {
  std::string prefix, stop_at;
  absl::Status bad;
  const int64_t now = absl::ToUnixMicros(absl::Now());
  switch (req->filter()) {
    case ListComplaintsRequest::FILTER_UNSPECIFIED:
      prefix = "id/";
      break;
    case ListComplaintsRequest::FILTER_STATUS:
      prefix = absl::StrCat("is/", static_cast<int>(req->status()), "/");
      break;
    case ListComplaintsRequest::FILTER_ASSIGNEE:
      bad = CheckId(req->assignee_id(), "assignee_id");
      prefix = absl::StrCat("ia/", req->assignee_id(), "/");
      break;
    case ListComplaintsRequest::FILTER_PRIORITY:
      prefix = absl::StrCat("ip/", static_cast<int>(req->priority()), "/");
      break;
    case ListComplaintsRequest::FILTER_BREACHED:
      prefix = "id/";
      stop_at = absl::StrCat(prefix, TimeKey(now));
      break;
    case ListComplaintsRequest::FILTER_PATIENT:
      bad = CheckId(req->patient_id(), "patient_id");
      prefix = absl::StrCat("s/", req->patient_id(), "/");
      break;
    default:
      bad = absl::InvalidArgumentError("filter: unknown");
  }
  if (!bad.ok()) {
    auto* reactor = call->DefaultReactor();
    reactor->Finish(ToGrpcStatus(bad));
    return reactor;
  }
  // The unfiltered list shows open complaints that are not acknowledged
  // yet, soonest due first.
  return RunRead(
      call, "/carelog.v1.QueryService/ListComplaints", kComplaintsView,
      req->min_position(),
      [this, req, reply, prefix, stop_at, now](CommandScope& scope) {
        ProjectionWorker* w = projections_->Find(kComplaintsView);
        auto emit = [&](const std::string& id) -> absl::Status {
          auto ent =
              EntityView::ReadEntity(*w->store(), ledger_->key_ring(), id);
          if (absl::IsNotFound(ent.status()))
            return absl::OkStatus();
          if (!ent.ok())
            return ent.status();
          ComplaintRecord rec;
          if (!rec.ParseFromString(ent->second))
            return absl::DataLossError(absl::StrCat("complaint ", id));
          auto d = scope.Authorize(kResourceComplaints, kActionRead, ent->first,
                                   FactsFor(ent->first, scope.ctx().actor));
          if (!d.ok())
            return absl::OkStatus();
          rec.set_age_seconds(
              std::max<int64_t>(0, (now - rec.filed_at_micros()) / 1000000));
          if (!rec.acknowledged() && rec.response_due_at_micros() > 0 &&
              now > rec.response_due_at_micros())
            rec.set_response_breached(true);
          const auto& m = scope.decisions().back().masked_fields();
          ApplyComplaintMasks({m.begin(), m.end()}, &rec);
          *reply->add_complaints() = std::move(rec);
          return absl::OkStatus();
        };
        return ListEntities(kComplaintsView, prefix, "", stop_at,
                            req->page_size(), req->page_token(), emit,
                            reply->mutable_next_page_token());
      });
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetProjectionStatus(
    grpc::CallbackServerContext* call, const GetProjectionStatusRequest*,
    GetProjectionStatusReply* reply) {
  auto* reactor = call->DefaultReactor();
  auto ctx = auth_->Authenticate(*call);
  if (!ctx.ok()) {
    reactor->Finish(ToGrpcStatus(ctx.status()));
    return reactor;
  }
  // Positions and counts only: no patient data, so no audit event.
  auto d = access_->Check(
      *ctx, AccessRequest{kResourceLedger, kActionRead, "", PatientFacts{}});
  if (!d.ok()) {
    reactor->Finish(ToGrpcStatus(d.status()));
    return reactor;
  }
  for (const auto& w : projections_->workers())
    ToProto(w->status(), reply->add_projections());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* QueryServiceImpl::RebuildProjection(
    grpc::CallbackServerContext* call, const RebuildProjectionRequest* req,
    RebuildProjectionReply* reply) {
  auto* reactor = call->DefaultReactor();
  auto ctx = auth_->Authenticate(*call);
  if (!ctx.ok()) {
    reactor->Finish(ToGrpcStatus(ctx.status()));
    return reactor;
  }
  auto d = access_->Check(
      *ctx, AccessRequest{kResourceLedger, "admin", "", PatientFacts{}});
  if (!d.ok()) {
    reactor->Finish(ToGrpcStatus(d.status()));
    return reactor;
  }
  if (!req->name().empty() && projections_->Find(req->name()) == nullptr) {
    reactor->Finish(ToGrpcStatus(absl::NotFoundError(
        absl::StrCat("no projection named ", req->name()))));
    return reactor;
  }
  // Creating a column family is disk work: off the reactor.
  auto task = [this, req, reply, reactor] {
    absl::Status result;
    for (const auto& w : projections_->workers()) {
      if (!req->name().empty() && w->name() != req->name())
        continue;
      if (auto s = w->Rebuild(); !s.ok() && result.ok())
        result = s;
      ToProto(w->status(), reply->add_projections());
    }
    if (log_)
      log_->Info(
          "projection_rebuild_started",
          {{"name", req->name().empty() ? std::string("all") : req->name()}});
    reactor->Finish(ToGrpcStatus(result));
  };
  if (auto s = executor_->Submit(std::move(task)); !s.ok())
    reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace carelog::services::projections
