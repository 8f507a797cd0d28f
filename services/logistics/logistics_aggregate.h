// services/logistics/logistics_aggregate.h — a transportation or lodging
// arrangement, folded from stream logistics/<arrangement_id>, and the rules
// its commands check, as pure functions (no I/O; thread-compatible).
//
// State machine: requested → arranged → confirmed → completed; cancel from
// requested, arranged or confirmed; every other transition is
// FAILED_PRECONDITION naming the current state. An arrangement of another
// patient is NOT_FOUND (ids are not a way to probe).
#ifndef CARELOG_SERVICES_LOGISTICS_LOGISTICS_AGGREGATE_H_
#define CARELOG_SERVICES_LOGISTICS_LOGISTICS_AGGREGATE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "carelog/v1/logistics.pb.h"
#include "services/domain/event_codec.h"

namespace carelog::services {

inline std::string ArrangementStream(const std::string& arrangement_id) {
  return "logistics/" + arrangement_id;
}

inline constexpr int kMaxLodgingNights = 90;
inline constexpr int kMaxLodgingGuests = 10;

struct ArrangementState {
  bool exists = false;
  std::string patient_id;
  std::string arrangement_id;
  carelog::v1::ArrangementKind kind = carelog::v1::ARRANGEMENT_KIND_UNSPECIFIED;
  carelog::v1::ArrangementStatus status =
      carelog::v1::ARRANGEMENT_STATUS_UNSPECIFIED;
};

// Errors: DATA_LOSS for an event type the aggregate does not know.
absl::Status FoldArrangement(ArrangementState* state,
                             const DecodedEvent& event);

// Days from `a` to `b` (both valid dates): 1 for consecutive days.
int DaysBetween(const carelog::v1::Date& a, const carelog::v1::Date& b);

// Request validation (INVALID_ARGUMENT naming the field).
absl::Status ValidateRequestTransportation(
    const carelog::v1::RequestTransportationRequest& r);
// Also: check_in < check_out, at most 90 nights, nights equal to the days
// between.
absl::Status ValidateRequestLodging(
    const carelog::v1::RequestLodgingRequest& r);
absl::Status ValidateArrangeLogistics(
    const carelog::v1::ArrangeLogisticsRequest& r);
absl::Status ValidateConfirmLogistics(
    const carelog::v1::ConfirmLogisticsRequest& r);
absl::Status ValidateCancelLogistics(
    const carelog::v1::CancelLogisticsRequest& r);
absl::Status ValidateCompleteLogistics(
    const carelog::v1::CompleteLogisticsRequest& r);

// The transitions after the request.
enum class LogisticsCommand { kArrange, kConfirm, kCancel, kComplete };
// OK when `command` is allowed from `from`; FAILED_PRECONDITION otherwise.
absl::Status CheckLogisticsTransition(carelog::v1::ArrangementStatus from,
                                      LogisticsCommand command);

carelog::v1::TransportationRequested DecideRequestTransportation(
    const carelog::v1::RequestTransportationRequest& r,
    const std::string& arrangement_id);
carelog::v1::LodgingRequested DecideRequestLodging(
    const carelog::v1::RequestLodgingRequest& r,
    const std::string& arrangement_id);
// NOT_FOUND for an unknown arrangement; FAILED_PRECONDITION for a refused
// transition.
absl::StatusOr<carelog::v1::LogisticsArranged> DecideArrangeLogistics(
    const ArrangementState& s, const carelog::v1::ArrangeLogisticsRequest& r);
absl::StatusOr<carelog::v1::LogisticsConfirmed> DecideConfirmLogistics(
    const ArrangementState& s, const carelog::v1::ConfirmLogisticsRequest& r);
absl::StatusOr<carelog::v1::LogisticsCancelled> DecideCancelLogistics(
    const ArrangementState& s, const carelog::v1::CancelLogisticsRequest& r);
absl::StatusOr<carelog::v1::LogisticsCompleted> DecideCompleteLogistics(
    const ArrangementState& s, const carelog::v1::CompleteLogisticsRequest& r);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_LOGISTICS_LOGISTICS_AGGREGATE_H_
