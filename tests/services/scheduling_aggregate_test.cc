// The scheduling aggregates without gRPC: folding appointment and schedule
// streams, every allowed and every refused appointment transition, slot
// overlap and the request shape checks.
#include "services/scheduling/scheduling_aggregate.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/patients.pb.h"
#include "tests/testing/status_matchers.h"

namespace carelog::services {
namespace {

using ::carelog::testing::IsOk;
using ::carelog::testing::StatusIs;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

constexpr int64_t kHour = int64_t{3600} * 1000000;
constexpr int64_t kStart =
    int64_t{1893456000} * 1000000;  // 2030-01-01T00:00:00Z

TimeSlot Slot(int64_t start, int64_t end) {
  TimeSlot s;
  s.set_start_micros(start);
  s.set_end_micros(end);
  return s;
}

DecodedEvent Event(const google::protobuf::Message& body) {
  DecodedEvent e;
  e.header.event_type = body.GetDescriptor()->full_name();
  e.body.PackFrom(body);
  return e;
}

AppointmentScheduled ScheduledEvent() {
  AppointmentScheduled ev;
  ev.set_appointment_id("appt-1");
  ev.set_patient_id("pt-1");
  ev.set_provider_id("dr-1");
  ev.set_location_id("loc-1");
  *ev.mutable_slot() = Slot(kStart, kStart + kHour);
  ev.mutable_instructions()->add_what_to_bring("insurance card");
  return ev;
}

AppointmentRescheduled RescheduledEvent() {
  AppointmentRescheduled ev;
  ev.set_appointment_id("appt-1");
  ev.set_patient_id("pt-1");
  ev.set_provider_id("dr-2");
  ev.set_location_id("loc-2");
  *ev.mutable_slot() = Slot(kStart + 24 * kHour, kStart + 25 * kHour);
  ev.set_previous_provider_id("dr-1");
  *ev.mutable_previous_slot() = Slot(kStart, kStart + kHour);
  return ev;
}

template <typename T>
T WithIds() {
  T ev;
  ev.set_appointment_id("appt-1");
  ev.set_patient_id("pt-1");
  return ev;
}

AppointmentState Fold(const std::vector<DecodedEvent>& events) {
  AppointmentState s;
  for (const auto& e : events)
    EXPECT_THAT(FoldAppointment(&s, e), IsOk());
  return s;
}

// The appointment in each state, built by folding the events that lead there.
enum class From {
  kNone,
  kScheduled,
  kConfirmed,
  kRescheduled,
  kCancelled,
  kNoShow,
  kCompleted
};

AppointmentState StateOf(From from) {
  switch (from) {
    case From::kNone:
      return AppointmentState{};
    case From::kScheduled:
      return Fold({Event(ScheduledEvent())});
    case From::kConfirmed:
      return Fold(
          {Event(ScheduledEvent()), Event(WithIds<AppointmentConfirmed>())});
    case From::kRescheduled:
      return Fold({Event(ScheduledEvent()),
                   Event(WithIds<AppointmentConfirmed>()),
                   Event(RescheduledEvent())});
    case From::kCancelled:
      return Fold(
          {Event(ScheduledEvent()), Event(WithIds<AppointmentCancelled>())});
    case From::kNoShow:
      return Fold({Event(ScheduledEvent()),
                   Event(WithIds<AppointmentConfirmed>()),
                   Event(WithIds<AppointmentNoShowRecorded>())});
    case From::kCompleted:
      return Fold({Event(ScheduledEvent()),
                   Event(WithIds<AppointmentConfirmed>()),
                   Event(WithIds<AppointmentCompleted>())});
  }
  return AppointmentState{};
}

using A = AppointmentAction;
using absl::StatusCode;

struct TransitionCase {
  From from;
  A action;
  bool started;  // is "now" after the slot's start?
  StatusCode code;
  AppointmentStatus after;  // when allowed
  const char* reason;       // substring of the refusal
};

class AppointmentTransitionTest
    : public ::testing::TestWithParam<TransitionCase> {};

TEST_P(AppointmentTransitionTest, AllowsOrRefusesWithTheReason) {
  const TransitionCase& c = GetParam();
  const AppointmentState s = StateOf(c.from);
  // The slot of a rescheduled appointment starts a day later.
  const int64_t start = s.exists ? s.slot.start_micros() : kStart;
  const int64_t now = c.started ? start + 1 : start - 1;
  absl::Status st = CheckAppointmentTransition(s, c.action, now);
  EXPECT_EQ(st.code(), c.code) << st;
  if (st.ok()) {
    EXPECT_EQ(StatusAfter(s, c.action), c.after);
  } else {
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.reason));
  }
}

constexpr StatusCode kOk = StatusCode::kOk;
constexpr StatusCode kPre = StatusCode::kFailedPrecondition;
constexpr StatusCode kNotFound = StatusCode::kNotFound;
constexpr AppointmentStatus kNoStatus = APPOINTMENT_STATUS_UNSPECIFIED;

INSTANTIATE_TEST_SUITE_P(
    EveryStateAndAction, AppointmentTransitionTest,
    ::testing::Values(
        // Unknown appointment: every action is NOT_FOUND.
        TransitionCase{From::kNone, A::kConfirm, true, kNotFound, kNoStatus,
                       "not found"},
        TransitionCase{From::kNone, A::kReschedule, true, kNotFound, kNoStatus,
                       "not found"},
        TransitionCase{From::kNone, A::kCancel, true, kNotFound, kNoStatus,
                       "not found"},
        TransitionCase{From::kNone, A::kMarkNoShow, true, kNotFound, kNoStatus,
                       "not found"},
        TransitionCase{From::kNone, A::kComplete, true, kNotFound, kNoStatus,
                       "not found"},
        TransitionCase{From::kNone, A::kUpdateInstructions, true, kNotFound,
                       kNoStatus, "not found"},
        // Scheduled.
        TransitionCase{From::kScheduled, A::kConfirm, false, kOk,
                       APPOINTMENT_STATUS_CONFIRMED, ""},
        TransitionCase{From::kScheduled, A::kReschedule, false, kOk,
                       APPOINTMENT_STATUS_SCHEDULED, ""},
        TransitionCase{From::kScheduled, A::kCancel, false, kOk,
                       APPOINTMENT_STATUS_CANCELLED, ""},
        TransitionCase{From::kScheduled, A::kMarkNoShow, true, kOk,
                       APPOINTMENT_STATUS_NO_SHOW, ""},
        TransitionCase{From::kScheduled, A::kMarkNoShow, false, kPre, kNoStatus,
                       "has not started yet"},
        TransitionCase{From::kScheduled, A::kComplete, true, kOk,
                       APPOINTMENT_STATUS_COMPLETED, ""},
        TransitionCase{From::kScheduled, A::kComplete, false, kPre, kNoStatus,
                       "has not started yet"},
        TransitionCase{From::kScheduled, A::kUpdateInstructions, false, kOk,
                       APPOINTMENT_STATUS_SCHEDULED, ""},
        // Confirmed.
        TransitionCase{From::kConfirmed, A::kConfirm, false, kPre, kNoStatus,
                       "already confirmed"},
        TransitionCase{From::kConfirmed, A::kReschedule, false, kOk,
                       APPOINTMENT_STATUS_SCHEDULED, ""},
        TransitionCase{From::kConfirmed, A::kCancel, false, kOk,
                       APPOINTMENT_STATUS_CANCELLED, ""},
        TransitionCase{From::kConfirmed, A::kMarkNoShow, true, kOk,
                       APPOINTMENT_STATUS_NO_SHOW, ""},
        TransitionCase{From::kConfirmed, A::kMarkNoShow, false, kPre, kNoStatus,
                       "has not started yet"},
        TransitionCase{From::kConfirmed, A::kComplete, true, kOk,
                       APPOINTMENT_STATUS_COMPLETED, ""},
        TransitionCase{From::kConfirmed, A::kComplete, false, kPre, kNoStatus,
                       "has not started yet"},
        TransitionCase{From::kConfirmed, A::kUpdateInstructions, false, kOk,
                       APPOINTMENT_STATUS_CONFIRMED, ""},
        // Rescheduled after a confirmation: back to scheduled, to be confirmed
        // again.
        TransitionCase{From::kRescheduled, A::kConfirm, false, kOk,
                       APPOINTMENT_STATUS_CONFIRMED, ""},
        TransitionCase{From::kRescheduled, A::kReschedule, false, kOk,
                       APPOINTMENT_STATUS_SCHEDULED, ""},
        TransitionCase{From::kRescheduled, A::kCancel, false, kOk,
                       APPOINTMENT_STATUS_CANCELLED, ""},
        TransitionCase{From::kRescheduled, A::kMarkNoShow, false, kPre,
                       kNoStatus, "has not started yet"},
        TransitionCase{From::kRescheduled, A::kComplete, true, kOk,
                       APPOINTMENT_STATUS_COMPLETED, ""},
        // Cancelled, no-show and completed are final.
        TransitionCase{From::kCancelled, A::kConfirm, true, kPre, kNoStatus,
                       "is cancelled"},
        TransitionCase{From::kCancelled, A::kReschedule, true, kPre, kNoStatus,
                       "is cancelled"},
        TransitionCase{From::kCancelled, A::kCancel, true, kPre, kNoStatus,
                       "is cancelled"},
        TransitionCase{From::kCancelled, A::kMarkNoShow, true, kPre, kNoStatus,
                       "is cancelled"},
        TransitionCase{From::kCancelled, A::kComplete, true, kPre, kNoStatus,
                       "is cancelled"},
        TransitionCase{From::kCancelled, A::kUpdateInstructions, true, kPre,
                       kNoStatus, "is cancelled"},
        TransitionCase{From::kNoShow, A::kConfirm, true, kPre, kNoStatus,
                       "is marked no-show"},
        TransitionCase{From::kNoShow, A::kReschedule, true, kPre, kNoStatus,
                       "is marked no-show"},
        TransitionCase{From::kNoShow, A::kCancel, true, kPre, kNoStatus,
                       "is marked no-show"},
        TransitionCase{From::kNoShow, A::kMarkNoShow, true, kPre, kNoStatus,
                       "is marked no-show"},
        TransitionCase{From::kNoShow, A::kComplete, true, kPre, kNoStatus,
                       "is marked no-show"},
        TransitionCase{From::kNoShow, A::kUpdateInstructions, true, kPre,
                       kNoStatus, "is marked no-show"},
        TransitionCase{From::kCompleted, A::kConfirm, true, kPre, kNoStatus,
                       "is completed"},
        TransitionCase{From::kCompleted, A::kReschedule, true, kPre, kNoStatus,
                       "is completed"},
        TransitionCase{From::kCompleted, A::kCancel, true, kPre, kNoStatus,
                       "is completed"},
        TransitionCase{From::kCompleted, A::kMarkNoShow, true, kPre, kNoStatus,
                       "is completed"},
        TransitionCase{From::kCompleted, A::kComplete, true, kPre, kNoStatus,
                       "is completed"},
        TransitionCase{From::kCompleted, A::kUpdateInstructions, true, kPre,
                       kNoStatus, "is completed"}));

TEST(FoldAppointmentTest,
     RescheduleMovesProviderLocationAndSlotAndInstructionsReplace) {
  PreAppointmentInstructionsUpdated upd =
      WithIds<PreAppointmentInstructionsUpdated>();
  upd.mutable_instructions()->set_fasting_hours(12);
  AppointmentState s =
      Fold({Event(ScheduledEvent()), Event(RescheduledEvent()), Event(upd)});
  EXPECT_TRUE(s.exists);
  EXPECT_EQ(s.patient_id, "pt-1");
  EXPECT_EQ(s.provider_id, "dr-2");
  EXPECT_EQ(s.location_id, "loc-2");
  EXPECT_EQ(s.slot.start_micros(), kStart + 24 * kHour);
  EXPECT_EQ(s.instructions.fasting_hours(), 12);
  EXPECT_EQ(s.instructions.what_to_bring_size(), 0);
}

TEST(FoldAppointmentTest, ForeignEventIsDataLoss) {
  AppointmentState s;
  EXPECT_THAT(FoldAppointment(&s, Event(PatientFlagsSet())),
              StatusIs(absl::StatusCode::kDataLoss));
  ScheduleState sch;
  EXPECT_THAT(FoldSchedule(&sch, Event(ScheduledEvent())),
              StatusIs(absl::StatusCode::kDataLoss));
}

ProviderSlotBooked Booking(const std::string& appt, int64_t start,
                           int64_t end) {
  ProviderSlotBooked b;
  b.set_provider_id("dr-1");
  b.set_appointment_id(appt);
  *b.mutable_slot() = Slot(start, end);
  return b;
}

TEST(FoldScheduleTest, BookingsAreHeldUntilReleased) {
  ScheduleState s;
  ASSERT_THAT(FoldSchedule(&s, Event(Booking("a1", kStart, kStart + kHour))),
              IsOk());
  ASSERT_THAT(FoldSchedule(
                  &s, Event(Booking("a2", kStart + kHour, kStart + 2 * kHour))),
              IsOk());
  EXPECT_EQ(s.booked.size(), 2u);
  ProviderSlotReleased r;
  r.set_provider_id("dr-1");
  r.set_appointment_id("a1");
  ASSERT_THAT(FoldSchedule(&s, Event(r)), IsOk());
  ASSERT_EQ(s.booked.size(), 1u);
  EXPECT_EQ(s.booked.begin()->first, "a2");
}

struct SlotCase {
  const char* name;
  int64_t start;
  int64_t end;
  const char* except;
  bool free;
};

class SlotFreeTest : public ::testing::TestWithParam<SlotCase> {};

TEST_P(SlotFreeTest, OverlapIsTaken) {
  const SlotCase& c = GetParam();
  SCOPED_TRACE(c.name);
  ScheduleState s;
  ASSERT_THAT(FoldSchedule(
                  &s, Event(Booking("a1", kStart + kHour, kStart + 2 * kHour))),
              IsOk());
  absl::Status st = CheckSlotFree(s, "dr-1", Slot(c.start, c.end), c.except);
  if (c.free) {
    EXPECT_THAT(st, IsOk());
  } else {
    EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition,
                             HasSubstr("slot taken")));
    EXPECT_THAT(std::string(st.message()), ::testing::Not(HasSubstr("a1")));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SlotFreeTest,
    ::testing::Values(
        SlotCase{"identical", kStart + kHour, kStart + 2 * kHour, "", false},
        SlotCase{"overlaps the start", kStart + kHour / 2, kStart + kHour + 1,
                 "", false},
        SlotCase{"overlaps the end", kStart + 2 * kHour - 1, kStart + 3 * kHour,
                 "", false},
        SlotCase{"inside", kStart + kHour + 10, kStart + kHour + 20, "", false},
        SlotCase{"around", kStart, kStart + 3 * kHour, "", false},
        SlotCase{"ends where it starts", kStart, kStart + kHour, "", true},
        SlotCase{"starts where it ends", kStart + 2 * kHour, kStart + 3 * kHour,
                 "", true},
        SlotCase{"own booking moved", kStart + kHour + 60,
                 kStart + 2 * kHour + 60, "a1", true}));

TEST(RescheduleTargetTest, MustChangeSomething) {
  const AppointmentState s = StateOf(From::kScheduled);
  EXPECT_THAT(
      CheckRescheduleTarget(s, "dr-1", "loc-1", Slot(kStart, kStart + kHour)),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(
      CheckRescheduleTarget(s, "dr-2", "loc-1", Slot(kStart, kStart + kHour)),
      IsOk());
  EXPECT_THAT(
      CheckRescheduleTarget(s, "dr-1", "loc-2", Slot(kStart, kStart + kHour)),
      IsOk());
  EXPECT_THAT(CheckRescheduleTarget(s, "dr-1", "loc-1",
                                    Slot(kStart, kStart + 2 * kHour)),
              IsOk());
}

TEST(ValidateSlotTest, NamesTheField) {
  EXPECT_THAT(ValidateSlot(Slot(kStart, kStart + kHour), "slot"), IsOk());
  EXPECT_THAT(ValidateSlot(Slot(kStart, kStart + 12 * kHour), "slot"), IsOk());
  EXPECT_THAT(ValidateSlot(Slot(0, kStart), "slot"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("slot.start_micros:")));
  EXPECT_THAT(ValidateSlot(Slot(kStart, 0), "slot"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("slot.end_micros:")));
  EXPECT_THAT(ValidateSlot(Slot(kStart, kStart), "slot"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("slot.end_micros: must be after")));
  EXPECT_THAT(ValidateSlot(Slot(kStart, kStart - 1), "slot"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("slot.end_micros:")));
  EXPECT_THAT(ValidateSlot(Slot(kStart, kStart + 12 * kHour + 1), "slot"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("slot: longer than 12 hours")));
}

TEST(ValidateInstructionsTest, NamesTheField) {
  PreAppointmentInstructions ok;
  ok.add_what_to_bring("photo id");
  ok.set_fasting_hours(8);
  ok.set_arrive_early_minutes(15);
  ok.set_notes("Take your usual medication with water.");
  EXPECT_THAT(ValidateInstructions(ok, "instructions"), IsOk());

  struct Case {
    const char* field;
    PreAppointmentInstructions in;
  };
  std::vector<Case> cases;
  cases.push_back({"instructions.what_to_bring[1]:", ok});
  cases.back().in.add_what_to_bring("");
  cases.push_back({"instructions.what_to_bring:", ok});
  for (int i = 0; i < 21; ++i)
    cases.back().in.add_what_to_bring("item");
  cases.push_back({"instructions.fasting_hours:", ok});
  cases.back().in.set_fasting_hours(73);
  cases.push_back({"instructions.fasting_hours:", ok});
  cases.back().in.set_fasting_hours(-1);
  cases.push_back({"instructions.arrive_early_minutes:", ok});
  cases.back().in.set_arrive_early_minutes(241);
  cases.push_back({"instructions.notes:", ok});
  cases.back().in.set_notes(std::string(2001, 'x'));
  cases.push_back({"instructions.notes:", ok});
  cases.back().in.set_notes("bad\x01");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    EXPECT_THAT(
        ValidateInstructions(c.in, "instructions"),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)));
  }
}

}  // namespace
}  // namespace carelog::services
