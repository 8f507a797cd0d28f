// QueryService reads over the logistics view (resource "logistics"):
// transportation and lodging arrangements by day, status and patient.
#include <utility>

#include "absl/strings/str_cat.h"

#include "services/domain/validate.h"
#include "services/projections/query_service.h"
#include "services/projections/support_views.h"

namespace carelog::services::projections {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

namespace {

constexpr char kResourceLogistics[] = "logistics";

// The policy field that covers an arrangement's details (and its day).
const char* DetailsField(ArrangementKind kind) {
  return kind == ARRANGEMENT_KIND_LODGING ? "lodging" : "transport";
}

}  // namespace

void ApplyLogisticsMasks(const std::vector<std::string>& masked_fields,
                         LogisticsRecord* r) {
  for (const std::string& f : masked_fields) {
    if (f == DetailsField(r->kind())) {
      r->clear_pickup_address();
      r->clear_pickup_at_micros();
      r->clear_destination();
      r->clear_escort();
      r->clear_check_in();
      r->clear_check_out();
      r->clear_nights();
      r->clear_location();
      r->clear_guests();
      r->clear_notes();
      r->clear_vendor();
      r->clear_vendor_reference();
      r->clear_details();
      r->clear_cancel_reason();
      r->clear_day();
    } else if (f == "accessibility") {
      r->clear_mobility();
      r->clear_escort();
    }
    r->add_masked_fields(f);
  }
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetLogisticsArrangement(
    grpc::CallbackServerContext* call,
    const GetLogisticsArrangementRequest* req, LogisticsRecord* reply) {
  if (auto s = CheckId(req->arrangement_id(), "arrangement_id"); !s.ok())
    return Reject(call, s);
  return core_.RunRead(
      call, "/carelog.v1.QueryService/GetLogisticsArrangement", kLogisticsView,
      req->min_position(), [this, req, reply](CommandScope& scope) {
        // Arrangement ids are random: an unknown one is NOT_FOUND without a
        // decision (there is no patient to decide about).
        auto a = core_.ReadEntity<LogisticsRecord>(kLogisticsView,
                                                   req->arrangement_id());
        if (!a.ok())
          return a.status();
        ReadDecisions decisions(&core_, &scope);
        auto masks = decisions.Decide(kResourceLogistics, a->first);
        if (!masks.ok())
          return masks.status();
        ApplyLogisticsMasks(*masks, &a->second);
        *reply = std::move(a->second);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListLogistics(
    grpc::CallbackServerContext* call, const ListLogisticsRequest* req,
    LogisticsPage* reply) {
  if (auto s = FirstError(
          {CheckId(req->patient_id(), "patient_id", false),
           KnownEnum(ArrangementKind_IsValid(req->kind()), req->kind(), "kind"),
           KnownEnum(ArrangementStatus_IsValid(req->status()), req->status(),
                     "status"),
           CheckOptionalDay(req->from_day(), "from_day"),
           CheckOptionalDay(req->to_day(), "to_day")});
      !s.ok())
    return Reject(call, s);
  KeyRange range;
  const ArrangementKind kind = req->kind();
  bool by_day = true;
  switch (req->filter()) {
    case ListLogisticsRequest::FILTER_UNSPECIFIED:
      range.prefix = kind == ARRANGEMENT_KIND_UNSPECIFIED
                         ? std::string("lo/")
                         : absl::StrCat("lk/", static_cast<int>(kind), "/");
      break;
    case ListLogisticsRequest::FILTER_STATUS:
      range.prefix = absl::StrCat("ls/", static_cast<int>(req->status()), "/");
      break;
    case ListLogisticsRequest::FILTER_PATIENT:
      if (auto s = CheckId(req->patient_id(), "patient_id"); !s.ok())
        return Reject(call, s);
      if (!req->from_day().empty() || !req->to_day().empty())
        return Reject(call, absl::InvalidArgumentError(
                                "from_day: not with FILTER_PATIENT"));
      range.prefix = absl::StrCat("s/", req->patient_id(), "/");
      by_day = false;
      break;
    default:
      return Reject(call, absl::InvalidArgumentError("filter: unknown"));
  }
  if (!req->from_day().empty())
    range.first_after = range.prefix + req->from_day();
  if (!req->to_day().empty()) {
    auto next = DayAfter(req->to_day(), "to_day");
    if (!next.ok())
      return Reject(call, next.status());
    range.stop_at = range.prefix + *next;
  }
  return core_.RunRead(
      call, "/carelog.v1.QueryService/ListLogistics", kLogisticsView,
      req->min_position(),
      [this, req, reply, range, kind, by_day](CommandScope& scope) {
        ReadDecisions decisions(&core_, &scope);
        auto emit = [&](const std::string& key) -> absl::Status {
          auto a = core_.ReadEntity<LogisticsRecord>(kLogisticsView,
                                                     EntityView::IdOfKey(key));
          if (absl::IsNotFound(a.status()))
            return absl::OkStatus();  // erased meanwhile
          if (!a.ok())
            return a.status();
          // The kind is never masked: other kinds are skipped undecided.
          if (kind != ARRANGEMENT_KIND_UNSPECIFIED && a->second.kind() != kind)
            return absl::OkStatus();
          auto masks = decisions.Decide(kResourceLogistics, a->first);
          if (!masks.ok())
            return absl::OkStatus();  // left out; the denial is audited
          // A list by day would disclose a masked day.
          if (by_day && Masked(*masks, DetailsField(a->second.kind())))
            return absl::OkStatus();
          ApplyLogisticsMasks(*masks, &a->second);
          *reply->add_arrangements() = std::move(a->second);
          return absl::OkStatus();
        };
        return core_.ListKeys(kLogisticsView, range, req->page_size(),
                              req->page_token(), emit,
                              reply->mutable_next_page_token());
      });
}

}  // namespace carelog::services::projections
