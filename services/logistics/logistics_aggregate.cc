#include "services/logistics/logistics_aggregate.h"

#include "absl/strings/str_cat.h"

#include "services/domain/validate.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace): event
                              // names read better unqualified

#define RETURN_IF_ERROR(expr) \
  do {                        \
    absl::Status _s = (expr); \
    if (!_s.ok())             \
      return _s;              \
  } while (0)

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

absl::Status RequireArrangement(const ArrangementState& s,
                                const std::string& patient_id,
                                const std::string& arrangement_id) {
  if (!s.exists || s.patient_id != patient_id) {
    return absl::NotFoundError(absl::StrCat(
        "arrangement ", arrangement_id, " not found for patient ", patient_id));
  }
  return absl::OkStatus();
}

absl::Status CheckArrangementIds(const std::string& patient_id,
                                 const std::string& arrangement_id) {
  RETURN_IF_ERROR(CheckId(patient_id, "patient_id"));
  return CheckId(arrangement_id, "arrangement_id");
}

const char* CommandName(LogisticsCommand c) {
  switch (c) {
    case LogisticsCommand::kArrange:
      return "arrange";
    case LogisticsCommand::kConfirm:
      return "confirm";
    case LogisticsCommand::kCancel:
      return "cancel";
    case LogisticsCommand::kComplete:
      return "complete";
  }
  return "?";
}

}  // namespace

absl::Status FoldArrangement(ArrangementState* s, const DecodedEvent& e) {
  if (TransportationRequested ev; e.As(&ev)) {
    s->exists = true;
    s->patient_id = ev.patient_id();
    s->arrangement_id = ev.arrangement_id();
    s->kind = ARRANGEMENT_KIND_TRANSPORTATION;
    s->status = ARRANGEMENT_STATUS_REQUESTED;
  } else if (LodgingRequested ev; e.As(&ev)) {
    s->exists = true;
    s->patient_id = ev.patient_id();
    s->arrangement_id = ev.arrangement_id();
    s->kind = ARRANGEMENT_KIND_LODGING;
    s->status = ARRANGEMENT_STATUS_REQUESTED;
  } else if (LogisticsArranged ev; e.As(&ev)) {
    s->status = ARRANGEMENT_STATUS_ARRANGED;
  } else if (LogisticsConfirmed ev; e.As(&ev)) {
    s->status = ARRANGEMENT_STATUS_CONFIRMED;
  } else if (LogisticsCancelled ev; e.As(&ev)) {
    s->status = ARRANGEMENT_STATUS_CANCELLED;
  } else if (LogisticsCompleted ev; e.As(&ev)) {
    s->status = ARRANGEMENT_STATUS_COMPLETED;
  } else {
    return absl::DataLossError(absl::StrCat(
        "logistics aggregate cannot apply event type ", e.header.event_type));
  }
  return absl::OkStatus();
}

int DaysBetween(const Date& a, const Date& b) {
  return static_cast<int>(DaysFromCivil(b.year(), b.month(), b.day()) -
                          DaysFromCivil(a.year(), a.month(), a.day()));
}

absl::Status ValidateRequestTransportation(
    const RequestTransportationRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  const PostalAddress& a = r.pickup_address();
  if (a.lines_size() == 0)
    return absl::InvalidArgumentError("pickup_address.lines: required");
  if (a.lines_size() > 4)
    return absl::InvalidArgumentError("pickup_address.lines: at most 4 lines");
  for (int i = 0; i < a.lines_size(); ++i) {
    RETURN_IF_ERROR(CheckText(a.lines(i),
                              absl::StrCat("pickup_address.lines[", i, "]"),
                              kMaxShortTextBytes, i == 0));
  }
  RETURN_IF_ERROR(
      CheckText(a.city(), "pickup_address.city", kMaxShortTextBytes, true));
  RETURN_IF_ERROR(CheckText(a.region(), "pickup_address.region",
                            kMaxShortTextBytes, false));
  RETURN_IF_ERROR(
      CheckText(a.postal_code(), "pickup_address.postal_code", 20, false));
  RETURN_IF_ERROR(CheckText(a.country(), "pickup_address.country", 2, false));
  RETURN_IF_ERROR(CheckTimeMicros(r.pickup_at_micros(), "pickup_at_micros"));
  RETURN_IF_ERROR(
      CheckText(r.destination(), "destination", kMaxShortTextBytes, true));
  RETURN_IF_ERROR(
      CheckEnum(MobilityNeed_IsValid(r.mobility()), r.mobility(), "mobility"));
  RETURN_IF_ERROR(CheckId(r.appointment_id(), "appointment_id", false));
  return CheckText(r.notes(), "notes", kMaxLongTextBytes, false);
}

absl::Status ValidateRequestLodging(const RequestLodgingRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckDate(r.check_in(), "check_in", true));
  RETURN_IF_ERROR(CheckDate(r.check_out(), "check_out", true));
  const int days = DaysBetween(r.check_in(), r.check_out());
  if (days <= 0)
    return absl::InvalidArgumentError("check_out: not after check_in");
  if (days > kMaxLodgingNights) {
    return absl::InvalidArgumentError(absl::StrCat(
        "check_out: stay longer than ", kMaxLodgingNights, " nights"));
  }
  if (r.nights() != days)
    return absl::InvalidArgumentError(
        "nights: does not match check_in to check_out");
  RETURN_IF_ERROR(
      CheckText(r.location(), "location", kMaxShortTextBytes, true));
  if (r.guests() < 0 || r.guests() > kMaxLodgingGuests) {
    return absl::InvalidArgumentError(
        absl::StrCat("guests: out of range 0..", kMaxLodgingGuests));
  }
  RETURN_IF_ERROR(CheckId(r.appointment_id(), "appointment_id", false));
  return CheckText(r.notes(), "notes", kMaxLongTextBytes, false);
}

absl::Status ValidateArrangeLogistics(const ArrangeLogisticsRequest& r) {
  RETURN_IF_ERROR(CheckArrangementIds(r.patient_id(), r.arrangement_id()));
  RETURN_IF_ERROR(CheckText(r.vendor(), "vendor", kMaxNameBytes, true));
  RETURN_IF_ERROR(CheckId(r.vendor_reference(), "vendor_reference", false));
  return CheckText(r.details(), "details", kMaxLongTextBytes, false);
}

absl::Status ValidateConfirmLogistics(const ConfirmLogisticsRequest& r) {
  return CheckArrangementIds(r.patient_id(), r.arrangement_id());
}

absl::Status ValidateCancelLogistics(const CancelLogisticsRequest& r) {
  RETURN_IF_ERROR(CheckArrangementIds(r.patient_id(), r.arrangement_id()));
  return CheckText(r.reason(), "reason", kMaxShortTextBytes, true);
}

absl::Status ValidateCompleteLogistics(const CompleteLogisticsRequest& r) {
  return CheckArrangementIds(r.patient_id(), r.arrangement_id());
}

absl::Status CheckLogisticsTransition(ArrangementStatus from,
                                      LogisticsCommand command) {
  bool allowed = false;
  switch (command) {
    case LogisticsCommand::kArrange:
      allowed = from == ARRANGEMENT_STATUS_REQUESTED;
      break;
    case LogisticsCommand::kConfirm:
      allowed = from == ARRANGEMENT_STATUS_ARRANGED;
      break;
    case LogisticsCommand::kCancel:
      allowed = from == ARRANGEMENT_STATUS_REQUESTED ||
                from == ARRANGEMENT_STATUS_ARRANGED ||
                from == ARRANGEMENT_STATUS_CONFIRMED;
      break;
    case LogisticsCommand::kComplete:
      allowed = from == ARRANGEMENT_STATUS_CONFIRMED;
      break;
  }
  if (!allowed) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot ", CommandName(command),
                     " an arrangement that is ", ArrangementStatus_Name(from)));
  }
  return absl::OkStatus();
}

TransportationRequested DecideRequestTransportation(
    const RequestTransportationRequest& r, const std::string& arrangement_id) {
  TransportationRequested ev;
  ev.set_patient_id(r.patient_id());
  ev.set_arrangement_id(arrangement_id);
  *ev.mutable_pickup_address() = r.pickup_address();
  ev.set_pickup_at_micros(r.pickup_at_micros());
  ev.set_destination(r.destination());
  ev.set_mobility(r.mobility());
  ev.set_escort(r.escort());
  ev.set_appointment_id(r.appointment_id());
  ev.set_notes(r.notes());
  return ev;
}

LodgingRequested DecideRequestLodging(const RequestLodgingRequest& r,
                                      const std::string& arrangement_id) {
  LodgingRequested ev;
  ev.set_patient_id(r.patient_id());
  ev.set_arrangement_id(arrangement_id);
  *ev.mutable_check_in() = r.check_in();
  *ev.mutable_check_out() = r.check_out();
  ev.set_nights(r.nights());
  ev.set_location(r.location());
  ev.set_guests(r.guests() == 0 ? 1 : r.guests());
  ev.set_appointment_id(r.appointment_id());
  ev.set_notes(r.notes());
  return ev;
}

absl::StatusOr<LogisticsArranged> DecideArrangeLogistics(
    const ArrangementState& s, const ArrangeLogisticsRequest& r) {
  RETURN_IF_ERROR(RequireArrangement(s, r.patient_id(), r.arrangement_id()));
  RETURN_IF_ERROR(
      CheckLogisticsTransition(s.status, LogisticsCommand::kArrange));
  LogisticsArranged ev;
  ev.set_patient_id(r.patient_id());
  ev.set_arrangement_id(r.arrangement_id());
  ev.set_vendor(r.vendor());
  ev.set_vendor_reference(r.vendor_reference());
  ev.set_details(r.details());
  return ev;
}

absl::StatusOr<LogisticsConfirmed> DecideConfirmLogistics(
    const ArrangementState& s, const ConfirmLogisticsRequest& r) {
  RETURN_IF_ERROR(RequireArrangement(s, r.patient_id(), r.arrangement_id()));
  RETURN_IF_ERROR(
      CheckLogisticsTransition(s.status, LogisticsCommand::kConfirm));
  LogisticsConfirmed ev;
  ev.set_patient_id(r.patient_id());
  ev.set_arrangement_id(r.arrangement_id());
  return ev;
}

absl::StatusOr<LogisticsCancelled> DecideCancelLogistics(
    const ArrangementState& s, const CancelLogisticsRequest& r) {
  RETURN_IF_ERROR(RequireArrangement(s, r.patient_id(), r.arrangement_id()));
  RETURN_IF_ERROR(
      CheckLogisticsTransition(s.status, LogisticsCommand::kCancel));
  LogisticsCancelled ev;
  ev.set_patient_id(r.patient_id());
  ev.set_arrangement_id(r.arrangement_id());
  ev.set_reason(r.reason());
  return ev;
}

absl::StatusOr<LogisticsCompleted> DecideCompleteLogistics(
    const ArrangementState& s, const CompleteLogisticsRequest& r) {
  RETURN_IF_ERROR(RequireArrangement(s, r.patient_id(), r.arrangement_id()));
  RETURN_IF_ERROR(
      CheckLogisticsTransition(s.status, LogisticsCommand::kComplete));
  LogisticsCompleted ev;
  ev.set_patient_id(r.patient_id());
  ev.set_arrangement_id(r.arrangement_id());
  return ev;
}

}  // namespace carelog::services
