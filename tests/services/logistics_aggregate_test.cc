// Logistics rules on the pure fold + decide functions: request validation
// (dates and nights) and every allowed and refused transition.
#include "services/logistics/logistics_aggregate.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"

namespace carelog::services {
namespace {

using ::carelog::testing::IsOk;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

template <typename T>
DecodedEvent Ev(const T& body) {
  DecodedEvent e;
  e.header.event_type = body.GetTypeName();
  e.body.PackFrom(body);
  return e;
}

Date D(int y, int m, int d) {
  Date out;
  out.set_year(y);
  out.set_month(m);
  out.set_day(d);
  return out;
}

constexpr char kPatient[] = "pt-1";
constexpr char kId[] = "lodg-1";

RequestLodgingRequest Lodging() {
  RequestLodgingRequest r;
  r.set_patient_id(kPatient);
  *r.mutable_check_in() = D(2026, 2, 27);
  *r.mutable_check_out() = D(2026, 3, 2);
  r.set_nights(3);
  r.set_location("near Main Campus");
  return r;
}

RequestTransportationRequest Transport() {
  RequestTransportationRequest r;
  r.set_patient_id(kPatient);
  r.mutable_pickup_address()->add_lines("1 Synthetic Way");
  r.mutable_pickup_address()->set_city("Testville");
  r.set_pickup_at_micros(1'790'000'000'000'000);
  r.set_destination("Main Campus");
  r.set_mobility(MOBILITY_NEED_WHEELCHAIR);
  return r;
}

// An arrangement driven to `status` through the allowed path.
ArrangementState At(ArrangementStatus status) {
  ArrangementState s;
  EXPECT_TRUE(
      FoldArrangement(&s, Ev(DecideRequestLodging(Lodging(), kId))).ok());
  auto step = [&](const auto& ev) {
    EXPECT_TRUE(FoldArrangement(&s, Ev(ev)).ok());
  };
  switch (status) {
    case ARRANGEMENT_STATUS_CANCELLED:
      step(LogisticsCancelled());
      break;
    case ARRANGEMENT_STATUS_COMPLETED:
      step(LogisticsArranged());
      step(LogisticsConfirmed());
      step(LogisticsCompleted());
      break;
    case ARRANGEMENT_STATUS_CONFIRMED:
      step(LogisticsArranged());
      step(LogisticsConfirmed());
      break;
    case ARRANGEMENT_STATUS_ARRANGED:
      step(LogisticsArranged());
      break;
    default:
      break;
  }
  EXPECT_EQ(s.status, status);
  return s;
}

absl::Status RunCommand(const ArrangementState& s, LogisticsCommand c,
                        ArrangementStatus* to) {
  ArrangementState next = s;
  auto apply = [&](const auto& ev) -> absl::Status {
    if (!ev.ok())
      return ev.status();
    absl::Status f = FoldArrangement(&next, Ev(*ev));
    *to = next.status;
    return f;
  };
  switch (c) {
    case LogisticsCommand::kArrange: {
      ArrangeLogisticsRequest r;
      r.set_patient_id(kPatient);
      r.set_arrangement_id(kId);
      r.set_vendor("Synthetic Inn");
      return apply(DecideArrangeLogistics(s, r));
    }
    case LogisticsCommand::kConfirm: {
      ConfirmLogisticsRequest r;
      r.set_patient_id(kPatient);
      r.set_arrangement_id(kId);
      return apply(DecideConfirmLogistics(s, r));
    }
    case LogisticsCommand::kCancel: {
      CancelLogisticsRequest r;
      r.set_patient_id(kPatient);
      r.set_arrangement_id(kId);
      r.set_reason("appointment moved");
      return apply(DecideCancelLogistics(s, r));
    }
    case LogisticsCommand::kComplete: {
      CompleteLogisticsRequest r;
      r.set_patient_id(kPatient);
      r.set_arrangement_id(kId);
      return apply(DecideCompleteLogistics(s, r));
    }
  }
  return absl::InternalError("unreachable");
}

TEST(LogisticsStateMachineTest, EveryTransitionFromEveryState) {
  const std::vector<ArrangementStatus> states = {
      ARRANGEMENT_STATUS_REQUESTED, ARRANGEMENT_STATUS_ARRANGED,
      ARRANGEMENT_STATUS_CONFIRMED, ARRANGEMENT_STATUS_COMPLETED,
      ARRANGEMENT_STATUS_CANCELLED};
  struct Allowed {
    LogisticsCommand command;
    const char* name;
    std::vector<ArrangementStatus> from;
    ArrangementStatus to;
  };
  const std::vector<Allowed> table = {
      {LogisticsCommand::kArrange,
       "arrange",
       {ARRANGEMENT_STATUS_REQUESTED},
       ARRANGEMENT_STATUS_ARRANGED},
      {LogisticsCommand::kConfirm,
       "confirm",
       {ARRANGEMENT_STATUS_ARRANGED},
       ARRANGEMENT_STATUS_CONFIRMED},
      {LogisticsCommand::kCancel,
       "cancel",
       {ARRANGEMENT_STATUS_REQUESTED, ARRANGEMENT_STATUS_ARRANGED,
        ARRANGEMENT_STATUS_CONFIRMED},
       ARRANGEMENT_STATUS_CANCELLED},
      {LogisticsCommand::kComplete,
       "complete",
       {ARRANGEMENT_STATUS_CONFIRMED},
       ARRANGEMENT_STATUS_COMPLETED},
  };
  int allowed = 0, refused = 0;
  for (const auto& row : table) {
    for (ArrangementStatus from : states) {
      SCOPED_TRACE(
          absl::StrCat(row.name, " from ", ArrangementStatus_Name(from)));
      const bool ok =
          std::find(row.from.begin(), row.from.end(), from) != row.from.end();
      ArrangementStatus to = ARRANGEMENT_STATUS_UNSPECIFIED;
      absl::Status s = RunCommand(At(from), row.command, &to);
      EXPECT_EQ(CheckLogisticsTransition(from, row.command).ok(), ok);
      if (ok) {
        ++allowed;
        EXPECT_THAT(s, IsOk());
        EXPECT_EQ(to, row.to);
      } else {
        ++refused;
        EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
        EXPECT_THAT(s.message(), HasSubstr(ArrangementStatus_Name(from)));
      }
    }
  }
  EXPECT_EQ(allowed, 6);
  EXPECT_EQ(refused, 14);
}

TEST(LogisticsStateMachineTest, UnknownOrOtherPatientsArrangementIsNotFound) {
  ArrangementStatus to;
  EXPECT_EQ(
      RunCommand(ArrangementState{}, LogisticsCommand::kArrange, &to).code(),
      absl::StatusCode::kNotFound);
  ArrangementState other = At(ARRANGEMENT_STATUS_REQUESTED);
  other.patient_id = "pt-other";
  EXPECT_EQ(RunCommand(other, LogisticsCommand::kCancel, &to).code(),
            absl::StatusCode::kNotFound);
}

TEST(LogisticsStateMachineTest, RequestsStartRequested) {
  ArrangementState t;
  ASSERT_THAT(FoldArrangement(
                  &t, Ev(DecideRequestTransportation(Transport(), "trn-1"))),
              IsOk());
  EXPECT_EQ(t.kind, ARRANGEMENT_KIND_TRANSPORTATION);
  EXPECT_EQ(t.status, ARRANGEMENT_STATUS_REQUESTED);
  EXPECT_EQ(t.patient_id, kPatient);
  EXPECT_EQ(At(ARRANGEMENT_STATUS_REQUESTED).kind, ARRANGEMENT_KIND_LODGING);
  EXPECT_EQ(DecideRequestLodging(Lodging(), kId).guests(), 1);
}

TEST(LogisticsValidationTest, DaysBetweenCountsCalendarDays) {
  EXPECT_EQ(DaysBetween(D(2026, 2, 27), D(2026, 3, 2)), 3);
  EXPECT_EQ(DaysBetween(D(2028, 2, 28), D(2028, 3, 1)), 2);  // leap year
  EXPECT_EQ(DaysBetween(D(2026, 12, 31), D(2027, 1, 1)), 1);
  EXPECT_EQ(DaysBetween(D(2026, 3, 2), D(2026, 2, 27)), -3);
}

TEST(LogisticsValidationTest, EachInvalidFieldIsNamed) {
  EXPECT_THAT(ValidateRequestLodging(Lodging()), IsOk());
  EXPECT_THAT(ValidateRequestTransportation(Transport()), IsOk());
  struct Case {
    std::string field;
    absl::Status status;
  };
  std::vector<Case> cases;
  auto lodging = [&](const std::string& field, auto mutate) {
    RequestLodgingRequest r = Lodging();
    mutate(&r);
    cases.push_back({field, ValidateRequestLodging(r)});
  };
  auto transport = [&](const std::string& field, auto mutate) {
    RequestTransportationRequest r = Transport();
    mutate(&r);
    cases.push_back({field, ValidateRequestTransportation(r)});
  };
  lodging("nights", [](RequestLodgingRequest* r) { r->set_nights(2); });
  lodging("check_out", [](RequestLodgingRequest* r) {
    *r->mutable_check_out() = r->check_in();
  });
  lodging("check_out", [](RequestLodgingRequest* r) {
    *r->mutable_check_out() = D(2026, 2, 1);
  });
  lodging("check_out", [](RequestLodgingRequest* r) {
    *r->mutable_check_out() = D(2026, 12, 1);
  });
  lodging("check_in", [](RequestLodgingRequest* r) {
    *r->mutable_check_in() = D(2026, 2, 29);
  });
  lodging("location", [](RequestLodgingRequest* r) { r->clear_location(); });
  lodging("guests", [](RequestLodgingRequest* r) { r->set_guests(11); });
  lodging("patient_id",
          [](RequestLodgingRequest* r) { r->clear_patient_id(); });
  transport("pickup_address.lines", [](RequestTransportationRequest* r) {
    r->mutable_pickup_address()->clear_lines();
  });
  transport("pickup_address.city", [](RequestTransportationRequest* r) {
    r->mutable_pickup_address()->clear_city();
  });
  transport("pickup_at_micros", [](RequestTransportationRequest* r) {
    r->set_pickup_at_micros(0);
  });
  transport("destination", [](RequestTransportationRequest* r) {
    r->set_destination(std::string(201, 'x'));
  });
  transport("mobility", [](RequestTransportationRequest* r) {
    r->set_mobility(MOBILITY_NEED_UNSPECIFIED);
  });
  transport("appointment_id", [](RequestTransportationRequest* r) {
    r->set_appointment_id("appt 1");
  });
  {
    ArrangeLogisticsRequest r;
    r.set_patient_id(kPatient);
    r.set_arrangement_id(kId);
    cases.push_back({"vendor", ValidateArrangeLogistics(r)});
  }
  {
    CancelLogisticsRequest r;
    r.set_patient_id(kPatient);
    r.set_arrangement_id(kId);
    cases.push_back({"reason", ValidateCancelLogistics(r)});
  }
  {
    ConfirmLogisticsRequest r;
    r.set_patient_id(kPatient);
    cases.push_back({"arrangement_id", ValidateConfirmLogistics(r)});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    EXPECT_EQ(c.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(c.status.message(), HasSubstr(c.field + ":"));
  }
}

TEST(LogisticsFoldTest, UnknownEventTypeIsDataLoss) {
  ArrangementState s;
  EXPECT_EQ(FoldArrangement(&s, Ev(Lodging())).code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace carelog::services
