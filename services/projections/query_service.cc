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
    : core_(ledger, executor, auth, access, projections, std::move(log)) {}

absl::StatusOr<PatientRecord> QueryServiceImpl::ReadAuthorized(
    CommandScope& scope, const std::string& patient_id, bool insurance) {
  auto rec = PatientRecordView::Read(*core_.store(kPatientsView), core_.keys(),
                                     patient_id);
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
  // Restrictions are facts for the enforcement point: they name other
  // parties and are never disclosed in a reply.
  rec->clear_restrictions();
  ApplyPatientMasks(masks, &*rec);
  return rec;
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetPatientRecord(
    grpc::CallbackServerContext* call, const GetPatientRecordRequest* req,
    PatientRecord* reply) {
  if (auto s = CheckId(req->patient_id(), "patient_id"); !s.ok()) {
    return Reject(call, s);
  }
  return core_.RunRead(
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
  auto after = DecodePageToken(page_token, prefix);
  if (!after.ok())
    return after.status();
  auto page =
      core_.store(kPatientsView)->Scan(prefix, *after, PageSize(page_size));
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
  const absl::Status text =
      CheckText(req->value(), "value", kMaxShortTextBytes, false);
  auto prefix = text.ok() ? PatientRecordView::LookupPrefix(
                                core_.keys(), req->field(), req->value())
                          : absl::StatusOr<std::string>(text);
  if (!prefix.ok()) {
    return Reject(call, prefix.status());
  }
  return core_.RunRead(call, "/carelog.v1.QueryService/FindPatients",
                       kPatientsView, req->min_position(),
                       [this, req, reply, p = *prefix](CommandScope& scope) {
                         return ListFromIndex(scope, p, req->page_size(),
                                              req->page_token(), reply);
                       });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListPatients(
    grpc::CallbackServerContext* call, const ListPatientsRequest* req,
    PatientRecordPage* reply) {
  if (auto s = KnownEnum(ListPatientsRequest::Filter_IsValid(req->filter()),
                         req->filter(), "filter");
      !s.ok())
    return Reject(call, s);
  return core_.RunRead(
      call, "/carelog.v1.QueryService/ListPatients", kPatientsView,
      req->min_position(), [this, req, reply](CommandScope& scope) {
        return ListFromIndex(scope,
                             PatientRecordView::FilterPrefix(req->filter()),
                             req->page_size(), req->page_token(), reply);
      });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListAppointments(
    grpc::CallbackServerContext* call, const ListAppointmentsRequest* req,
    AppointmentPage* reply) {
  std::string prefix, first_after;
  std::vector<const char*> filter_fields;  // what the list's keys rest on
  absl::Status bad =
      FirstError({CheckId(req->patient_id(), "patient_id", false),
                  CheckId(req->provider_id(), "provider_id", false),
                  CheckOptionalDay(req->day(), "day")});
  const std::string now_key = TimeKey(absl::ToUnixMicros(absl::Now()));
  switch (req->filter()) {
    case ListAppointmentsRequest::FILTER_PATIENT:
      if (bad.ok())
        bad = CheckId(req->patient_id(), "patient_id");
      prefix = absl::StrCat("s/", req->patient_id(), "/");
      break;
    case ListAppointmentsRequest::FILTER_PROVIDER_DAY: {
      if (bad.ok())
        bad = FirstError({CheckId(req->provider_id(), "provider_id"),
                          CheckText(req->day(), "day", 10, true)});
      prefix =
          AppointmentsView::ProviderDayPrefix(req->provider_id(), req->day());
      filter_fields = {"provider", "time"};
      break;
    }
    case ListAppointmentsRequest::FILTER_UPCOMING:
      prefix = "iu/";
      first_after = absl::StrCat(prefix, now_key);
      filter_fields = {"time", "status"};
      break;
    case ListAppointmentsRequest::FILTER_NO_SHOWS:
      prefix = "in/";
      filter_fields = {"time", "status"};
      break;
    default:
      if (bad.ok())
        bad = absl::InvalidArgumentError("filter: required");
  }
  if (!bad.ok()) {
    return Reject(call, bad);
  }
  return core_.RunRead(
      call, "/carelog.v1.QueryService/ListAppointments", kAppointmentsView,
      req->min_position(),
      [this, req, reply, prefix, first_after,
       filter_fields](CommandScope& scope) {
        ReadDecisions decisions(&core_, &scope);
        auto emit = [&](const std::string& key) -> absl::Status {
          auto ent = core_.ReadEntity<AppointmentRecord>(
              kAppointmentsView, EntityView::IdOfKey(key));
          if (absl::IsNotFound(ent.status()))
            return absl::OkStatus();  // erased meanwhile
          if (!ent.ok())
            return ent.status();
          auto masks = decisions.Decide(kResourceAppointments, ent->first);
          if (!masks.ok())
            return absl::OkStatus();  // left out; the denial is audited
          // A filter on a masked field would disclose it.
          for (const char* f : filter_fields) {
            if (Masked(*masks, f))
              return absl::OkStatus();
          }
          ApplyAppointmentMasks(*masks, &ent->second);
          *reply->add_appointments() = std::move(ent->second);
          return absl::OkStatus();
        };
        return core_.ListKeys(kAppointmentsView, {prefix, first_after, ""},
                              req->page_size(), req->page_token(), emit,
                              reply->mutable_next_page_token());
      });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListComplaints(
    grpc::CallbackServerContext* call, const ListComplaintsRequest* req,
    ComplaintPage* reply) {
  std::string prefix, stop_at;
  absl::Status bad =
      FirstError({KnownEnum(ComplaintStatus_IsValid(req->status()),
                            req->status(), "status"),
                  KnownEnum(ComplaintPriority_IsValid(req->priority()),
                            req->priority(), "priority"),
                  CheckId(req->assignee_id(), "assignee_id", false),
                  CheckId(req->patient_id(), "patient_id", false)});
  const int64_t now = absl::ToUnixMicros(absl::Now());
  switch (req->filter()) {
    case ListComplaintsRequest::FILTER_UNSPECIFIED:
      prefix = "id/";
      break;
    case ListComplaintsRequest::FILTER_STATUS:
      prefix = absl::StrCat("is/", static_cast<int>(req->status()), "/");
      break;
    case ListComplaintsRequest::FILTER_ASSIGNEE:
      if (bad.ok())
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
      if (bad.ok())
        bad = CheckId(req->patient_id(), "patient_id");
      prefix = absl::StrCat("s/", req->patient_id(), "/");
      break;
    default:
      if (bad.ok())
        bad = absl::InvalidArgumentError("filter: unknown");
  }
  if (!bad.ok()) {
    return Reject(call, bad);
  }
  // The unfiltered list shows open complaints that are not acknowledged
  // yet, soonest due first.
  return core_.RunRead(
      call, "/carelog.v1.QueryService/ListComplaints", kComplaintsView,
      req->min_position(),
      [this, req, reply, prefix, stop_at, now](CommandScope& scope) {
        ReadDecisions decisions(&core_, &scope);
        auto emit = [&](const std::string& key) -> absl::Status {
          auto ent = core_.ReadEntity<ComplaintRecord>(
              kComplaintsView, EntityView::IdOfKey(key));
          if (absl::IsNotFound(ent.status()))
            return absl::OkStatus();
          if (!ent.ok())
            return ent.status();
          auto masks = decisions.Decide(kResourceComplaints, ent->first);
          if (!masks.ok())
            return absl::OkStatus();
          ComplaintRecord& rec = ent->second;
          rec.set_age_seconds(
              std::max<int64_t>(0, (now - rec.filed_at_micros()) / 1000000));
          if (!rec.acknowledged() && rec.response_due_at_micros() > 0 &&
              now > rec.response_due_at_micros())
            rec.set_response_breached(true);
          // A status filter on a masked status would disclose it.
          if (req->filter() == ListComplaintsRequest::FILTER_STATUS &&
              Masked(*masks, "status"))
            return absl::OkStatus();
          ApplyComplaintMasks(*masks, &rec);
          *reply->add_complaints() = std::move(rec);
          return absl::OkStatus();
        };
        return core_.ListKeys(kComplaintsView, {prefix, "", stop_at},
                              req->page_size(), req->page_token(), emit,
                              reply->mutable_next_page_token());
      });
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetProjectionStatus(
    grpc::CallbackServerContext* call, const GetProjectionStatusRequest*,
    GetProjectionStatusReply* reply) {
  auto* reactor = call->DefaultReactor();
  auto ctx = core_.auth()->Authenticate(*call);
  if (!ctx.ok()) {
    reactor->Finish(ToGrpcStatus(ctx.status()));
    return reactor;
  }
  // Positions and counts only: no patient data, so no audit event.
  auto d = core_.access()->Check(
      *ctx, AccessRequest{kResourceLedger, kActionRead, "", PatientFacts{}});
  if (!d.ok()) {
    reactor->Finish(ToGrpcStatus(d.status()));
    return reactor;
  }
  for (const auto& w : core_.projections()->workers())
    ToProto(w->status(), reply->add_projections());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* QueryServiceImpl::RebuildProjection(
    grpc::CallbackServerContext* call, const RebuildProjectionRequest* req,
    RebuildProjectionReply* reply) {
  auto* reactor = call->DefaultReactor();
  auto ctx = core_.auth()->Authenticate(*call);
  if (!ctx.ok()) {
    reactor->Finish(ToGrpcStatus(ctx.status()));
    return reactor;
  }
  auto d = core_.access()->Check(
      *ctx, AccessRequest{kResourceLedger, "admin", "", PatientFacts{}});
  if (!d.ok()) {
    reactor->Finish(ToGrpcStatus(d.status()));
    return reactor;
  }
  // The name is checked before it can reach a message (no control bytes).
  if (auto s = CheckId(req->name(), "name", false); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  if (!req->name().empty() &&
      core_.projections()->Find(req->name()) == nullptr) {
    reactor->Finish(ToGrpcStatus(absl::NotFoundError(
        absl::StrCat("no projection named ", req->name()))));
    return reactor;
  }
  // Creating a column family is disk work: off the reactor.
  auto task = [this, req, reply, reactor] {
    absl::Status result;
    for (const auto& w : core_.projections()->workers()) {
      if (!req->name().empty() && w->name() != req->name())
        continue;
      if (auto s = w->Rebuild(); !s.ok() && result.ok())
        result = s;
      ToProto(w->status(), reply->add_projections());
    }
    if (core_.log() != nullptr)
      core_.log()->Info(
          "projection_rebuild_started",
          {{"name", req->name().empty() ? std::string("all") : req->name()}});
    reactor->Finish(ToGrpcStatus(result));
  };
  if (auto s = core_.executor()->Submit(std::move(task)); !s.ok())
    reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace carelog::services::projections
