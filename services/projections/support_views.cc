#include "services/projections/support_views.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "carelog/v1/logistics.pb.h"
#include "carelog/v1/messaging.pb.h"

namespace carelog::services::projections {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

namespace {

absl::Status CheckSubject(const std::string& named, const DecodedEvent& e,
                          const std::string& id) {
  if (named != e.header.subject_id)
    return absl::DataLossError(
        absl::StrCat(id, " names another patient than its event's subject"));
  return absl::OkStatus();
}

absl::Status Unknown(const char* view, const DecodedEvent& e) {
  return absl::DataLossError(absl::StrCat(view, " view cannot apply ",
                                          e.header.event_type, " on ",
                                          e.header.stream_id));
}

}  // namespace

// ---------------------------------------------------------------- logistics

bool LogisticsView::IsOpen(ArrangementStatus s) {
  return s == ARRANGEMENT_STATUS_REQUESTED ||
         s == ARRANGEMENT_STATUS_ARRANGED || s == ARRANGEMENT_STATUS_CONFIRMED;
}

bool LogisticsView::Wants(const storage::EventHeader& h) const {
  return absl::StartsWith(h.stream_id, "logistics/");
}

absl::Status LogisticsView::Apply(const DecodedEvent& e, ViewTxn& txn) {
  LogisticsRecord rec;
  std::string id, named;
  if (TransportationRequested ev; e.As(&ev)) {
    id = ev.arrangement_id();
    named = ev.patient_id();
    rec.set_kind(ARRANGEMENT_KIND_TRANSPORTATION);
    *rec.mutable_pickup_address() = ev.pickup_address();
    rec.set_pickup_at_micros(ev.pickup_at_micros());
    rec.set_destination(ev.destination());
    rec.set_mobility(ev.mobility());
    rec.set_escort(ev.escort());
    rec.set_appointment_id(ev.appointment_id());
    rec.set_notes(ev.notes());
    rec.set_day(DayOfTime(ev.pickup_at_micros()));
  } else if (LodgingRequested ev; e.As(&ev)) {
    id = ev.arrangement_id();
    named = ev.patient_id();
    rec.set_kind(ARRANGEMENT_KIND_LODGING);
    *rec.mutable_check_in() = ev.check_in();
    *rec.mutable_check_out() = ev.check_out();
    rec.set_nights(ev.nights());
    rec.set_location(ev.location());
    rec.set_guests(ev.guests());
    rec.set_appointment_id(ev.appointment_id());
    rec.set_notes(ev.notes());
    rec.set_day(DayOf(ev.check_in()));
  } else {
    LogisticsArranged a;
    LogisticsConfirmed c;
    LogisticsCancelled x;
    LogisticsCompleted d;
    if (e.As(&a)) {
      id = a.arrangement_id();
      named = a.patient_id();
    } else if (e.As(&c)) {
      id = c.arrangement_id();
      named = c.patient_id();
    } else if (e.As(&x)) {
      id = x.arrangement_id();
      named = x.patient_id();
    } else if (e.As(&d)) {
      id = d.arrangement_id();
      named = d.patient_id();
    } else {
      return Unknown("logistics", e);
    }
    auto found = LoadAs(txn, id, &rec);
    if (!found.ok())
      return found.status();
    if (!*found)
      return absl::FailedPreconditionError(
          absl::StrCat("arrangement ", id, " is not in the view"));
    if (e.As(&a)) {
      rec.set_status(ARRANGEMENT_STATUS_ARRANGED);
      rec.set_vendor(a.vendor());
      rec.set_vendor_reference(a.vendor_reference());
      rec.set_details(a.details());
    } else if (e.As(&c)) {
      rec.set_status(ARRANGEMENT_STATUS_CONFIRMED);
    } else if (e.As(&x)) {
      rec.set_status(ARRANGEMENT_STATUS_CANCELLED);
      rec.set_cancel_reason(x.reason());
    } else {
      rec.set_status(ARRANGEMENT_STATUS_COMPLETED);
    }
  }
  if (auto s = CheckSubject(named, e, id); !s.ok())
    return s;
  if (rec.arrangement_id().empty()) {
    rec.set_arrangement_id(id);
    rec.set_patient_id(named);
    rec.set_status(ARRANGEMENT_STATUS_REQUESTED);
    rec.set_requested_at_micros(e.header.recorded_at_micros);
  }
  rec.set_updated_at_micros(e.header.recorded_at_micros);
  rec.set_last_position(e.header.position);
  const std::string tail = absl::StrCat(rec.day(), "/", id);
  std::set<std::string> keys{
      absl::StrCat("ls/", static_cast<int>(rec.status()), "/", tail)};
  if (IsOpen(rec.status())) {
    keys.insert(absl::StrCat("lo/", tail));
    keys.insert(absl::StrCat("lk/", static_cast<int>(rec.kind()), "/", tail));
  }
  return Save(txn, id, named, DeterministicBytes(rec), keys);
}

// ---------------------------------------------------------------- messages

bool MessagesView::Wants(const storage::EventHeader& h) const {
  return absl::StartsWith(h.stream_id, "message/");
}

absl::Status MessagesView::Apply(const DecodedEvent& e, ViewTxn& txn) {
  MessageRecord rec;
  std::string id, named;
  const int64_t at = e.header.recorded_at_micros;
  if (MessageSent ev; e.As(&ev)) {
    id = ev.message_id();
    named = ev.patient_id();
    rec.set_message_id(id);
    rec.set_patient_id(named);
    rec.set_provider_id(ev.provider_id());
    rec.set_direction(ev.direction());
    rec.set_kind(ev.kind());
    rec.set_subject(ev.subject());
    rec.set_body(ev.body());
    rec.set_released_by(ev.released_by());
    rec.set_in_reply_to(ev.in_reply_to());
    rec.set_status(MESSAGE_STATUS_SENT);
    rec.set_sent_at_micros(at);
  } else {
    MessageDeliveryRecorded d;
    MessageAcknowledged a;
    if (e.As(&d)) {
      id = d.message_id();
      named = d.patient_id();
    } else if (e.As(&a)) {
      id = a.message_id();
      named = a.patient_id();
    } else {
      return Unknown("messages", e);
    }
    auto found = LoadAs(txn, id, &rec);
    if (!found.ok())
      return found.status();
    if (!*found)
      return absl::FailedPreconditionError(
          absl::StrCat("message ", id, " is not in the view"));
    if (e.As(&d)) {
      rec.set_status(MESSAGE_STATUS_DELIVERED);
      rec.set_delivery_channel(d.channel());
      rec.set_delivered_at_micros(at);
    } else {
      rec.set_status(MESSAGE_STATUS_ACKNOWLEDGED);
      rec.set_acknowledged_at_micros(at);
    }
  }
  if (auto s = CheckSubject(named, e, id); !s.ok())
    return s;
  rec.set_last_position(e.header.position);
  const std::string tail = absl::StrCat(TimeKey(rec.sent_at_micros()), "/", id);
  std::set<std::string> keys{
      absl::StrCat("mp/", named, "/", tail),
      absl::StrCat("ms/", static_cast<int>(rec.status()), "/", tail)};
  return Save(txn, id, named, DeterministicBytes(rec), keys);
}

}  // namespace carelog::services::projections
