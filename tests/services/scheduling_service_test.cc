// SchedulingService end to end over a real channel: the appointment life
// cycle across the appointment and schedule streams, validation, state rules,
// no double booking under concurrency, idempotent retries, enforcement.
#include "services/scheduling/scheduling_service.h"

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "carelog/v1/patients.grpc.pb.h"
#include "carelog/v1/scheduling.grpc.pb.h"
#include "crypto/jwt.h"
#include "services/domain/event_codec.h"
#include "services/server/policy_access.h"
#include "services/server/server.h"
#include "tests/services/service_fixture.h"
#include "tests/testing/ledger_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace carelog::services {
namespace {

using Who = carelog::testing::Caller;

using ::carelog::testing::IsOk;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

constexpr int64_t kMinute = int64_t{60} * 1000000;
constexpr int64_t kHour = 60 * kMinute;

// The in-process server of tests/services/service_fixture.h and this
// service's stub.
class SchedulingServiceTest : public carelog::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure())
      return;
    stub_ = SchedulingService::NewStub(channel_);
    // Whole minutes, a week ahead: well clear of "now" for every rule.
    future_ = (absl::ToUnixMicros(absl::Now()) / kHour + 24 * 7) * kHour;
  }

  // One unary call on the scheduling stub as `who`.
  template <typename Req, typename Rep>
  grpc::Status Call(grpc::Status (SchedulingService::Stub::*method)(
                        grpc::ClientContext*, const Req&, Rep*),
                    const Req& req, Rep* reply, const Who& who = {}) {
    grpc::ClientContext ctx;
    Prepare(&ctx, who);
    return (stub_.get()->*method)(&ctx, req, reply);
  }
  template <typename Req>
  grpc::Status Call(grpc::Status (SchedulingService::Stub::*method)(
                        grpc::ClientContext*, const Req&,
                        AppointmentCommandReply*),
                    const Req& req, const Who& who = {}) {
    AppointmentCommandReply reply;
    return Call(method, req, &reply, who);
  }

  static TimeSlot Slot(int64_t start, int64_t end) {
    TimeSlot s;
    s.set_start_micros(start);
    s.set_end_micros(end);
    return s;
  }

  ScheduleAppointmentRequest Booking(const std::string& command_id,
                                     const std::string& patient_id,
                                     const std::string& provider_id,
                                     const TimeSlot& slot) {
    ScheduleAppointmentRequest r;
    r.set_command_id(command_id);
    r.set_patient_id(patient_id);
    r.set_provider_id(provider_id);
    r.set_location_id("clinic-north");
    r.set_department("cardiology");
    *r.mutable_slot() = slot;
    r.set_visit_type("follow-up");
    r.mutable_instructions()->add_what_to_bring("photo id");
    r.mutable_instructions()->set_fasting_hours(8);
    return r;
  }

  // Books and returns the appointment id (fails the test otherwise).
  std::string Book(const std::string& command_id, const std::string& patient_id,
                   const std::string& provider_id, const TimeSlot& slot) {
    ScheduleAppointmentReply reply;
    grpc::Status s =
        Call(&SchedulingService::Stub::ScheduleAppointment,
             Booking(command_id, patient_id, provider_id, slot), &reply);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return reply.appointment_id();
  }

  std::vector<std::string> Types(const std::string& stream) {
    std::vector<std::string> out;
    for (const auto& e : StreamEvents(stream))
      out.push_back(e.header.event_type);
    return out;
  }

  std::unique_ptr<SchedulingService::Stub> stub_;
  int64_t future_ = 0;
};

using Stub = SchedulingService::Stub;
using ::testing::ElementsAre;

TEST_F(SchedulingServiceTest, ScheduleConfirmUpdateAndCancelReleasesTheSlot) {
  const std::string pt = Register("reg-1");
  const TimeSlot slot = Slot(future_, future_ + 30 * kMinute);
  ScheduleAppointmentReply booked;
  ASSERT_TRUE(Call(&Stub::ScheduleAppointment,
                   Booking("b-1", pt, "dr-0001", slot), &booked)
                  .ok());
  const std::string id = booked.appointment_id();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(booked.result().position(), Head());

  // The appointment is the patient's; the schedule is the provider's, with no
  // patient in it.
  auto appt = StreamEvents(AppointmentStream(id));
  ASSERT_EQ(appt.size(), 1u);
  AppointmentScheduled scheduled;
  ASSERT_TRUE(appt[0].As(&scheduled));
  EXPECT_EQ(appt[0].header.subject_id, pt);
  EXPECT_EQ(appt[0].header.key_class, crypto::KeyClass::kSubject);
  EXPECT_EQ(appt[0].meta.actor(), "fd-0001");
  EXPECT_EQ(scheduled.patient_id(), pt);
  EXPECT_EQ(scheduled.instructions().fasting_hours(), 8);
  auto sched = StreamEvents(ScheduleStream("dr-0001"));
  ASSERT_EQ(sched.size(), 1u);
  EXPECT_EQ(sched[0].header.key_class, crypto::KeyClass::kSystem);
  EXPECT_EQ(sched[0].header.subject_id, "");
  ProviderSlotBooked slot_ev;
  ASSERT_TRUE(sched[0].As(&slot_ev));
  EXPECT_EQ(slot_ev.appointment_id(), id);
  EXPECT_THAT(slot_ev.DebugString(), ::testing::Not(HasSubstr(pt)));

  ConfirmAppointmentRequest confirm;
  confirm.set_command_id("c-1");
  confirm.set_appointment_id(id);
  confirm.set_channel(CONFIRMATION_CHANNEL_SMS);
  ASSERT_TRUE(Call(&Stub::ConfirmAppointment, confirm).ok());

  UpdatePreAppointmentInstructionsRequest upd;
  upd.set_command_id("u-1");
  upd.set_appointment_id(id);
  upd.mutable_instructions()->add_what_to_bring("medication list");
  upd.mutable_instructions()->set_arrive_early_minutes(15);
  ASSERT_TRUE(Call(&Stub::UpdatePreAppointmentInstructions, upd).ok());

  CancelAppointmentRequest cancel;
  cancel.set_command_id("x-1");
  cancel.set_appointment_id(id);
  cancel.set_initiator(CANCELLATION_INITIATOR_PATIENT);
  cancel.set_reason("patient is travelling");
  AppointmentCommandReply cancelled;
  ASSERT_TRUE(Call(&Stub::CancelAppointment, cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.result().position(), Head());

  EXPECT_THAT(Types(AppointmentStream(id)),
              ElementsAre("carelog.v1.AppointmentScheduled",
                          "carelog.v1.AppointmentConfirmed",
                          "carelog.v1.PreAppointmentInstructionsUpdated",
                          "carelog.v1.AppointmentCancelled"));
  EXPECT_THAT(Types(ScheduleStream("dr-0001")),
              ElementsAre("carelog.v1.ProviderSlotBooked",
                          "carelog.v1.ProviderSlotReleased"));

  // Each decision is audited against the patient.
  auto audit = StreamEvents("audit/" + pt);
  ASSERT_GE(audit.size(), 5u);
  AccessAudited last;
  ASSERT_TRUE(audit.back().As(&last));
  EXPECT_EQ(last.resource(), "appointments");
  EXPECT_EQ(last.action(), "write");
  EXPECT_EQ(last.outcome(), ACCESS_OUTCOME_ALLOWED);
  EXPECT_EQ(last.method(), "carelog.v1.SchedulingService/CancelAppointment");

  // The released slot can be booked again.
  const std::string other = Register("reg-2");
  EXPECT_FALSE(Book("b-2", other, "dr-0001", slot).empty());
}

TEST_F(SchedulingServiceTest,
       CompleteAndNoShowKeepTheSlotAndNeedTheVisitToHaveStarted) {
  const std::string pt = Register("reg-1");
  // Visits entered after the fact (walk-ins) may start in the past.
  const int64_t past =
      (absl::ToUnixMicros(absl::Now()) / kMinute - 90) * kMinute;
  const std::string seen =
      Book("b-1", pt, "dr-0001", Slot(past, past + 30 * kMinute));
  const std::string absent = Book(
      "b-2", pt, "dr-0001", Slot(past + 30 * kMinute, past + 60 * kMinute));
  const std::string later =
      Book("b-3", pt, "dr-0001", Slot(future_, future_ + 30 * kMinute));

  CompleteAppointmentRequest complete;
  complete.set_command_id("done-1");
  complete.set_appointment_id(seen);
  EXPECT_TRUE(Call(&Stub::CompleteAppointment, complete).ok());
  MarkNoShowRequest no_show;
  no_show.set_command_id("ns-1");
  no_show.set_appointment_id(absent);
  EXPECT_TRUE(Call(&Stub::MarkNoShow, no_show).ok());

  const uint64_t head = Head();
  complete.set_command_id("done-3");
  complete.set_appointment_id(later);
  grpc::Status s = Call(&Stub::CompleteAppointment, complete);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("has not started yet"));
  no_show.set_command_id("ns-3");
  no_show.set_appointment_id(later);
  EXPECT_EQ(Call(&Stub::MarkNoShow, no_show).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Final states refuse everything further.
  CancelAppointmentRequest cancel;
  cancel.set_command_id("x-1");
  cancel.set_appointment_id(seen);
  cancel.set_initiator(CANCELLATION_INITIATOR_FACILITY);
  cancel.set_reason("late entry");
  s = Call(&Stub::CancelAppointment, cancel);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("is completed"));
  EXPECT_EQ(Head(), head);  // refused on state: nothing appended

  // Completed and no-show appointments keep their time on the schedule.
  const std::string other = Register("reg-2");
  for (const auto& [cmd, start] : {std::pair<std::string, int64_t>{"b-4", past},
                                   {"b-5", past + 30 * kMinute}}) {
    ScheduleAppointmentReply reply;
    s = Call(&Stub::ScheduleAppointment,
             Booking(cmd, other, "dr-0001", Slot(start, start + 30 * kMinute)),
             &reply);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(s.error_message(), HasSubstr("slot taken"));
  }
  EXPECT_THAT(Types(ScheduleStream("dr-0001")),
              ElementsAre("carelog.v1.ProviderSlotBooked",
                          "carelog.v1.ProviderSlotBooked",
                          "carelog.v1.ProviderSlotBooked"));
}

TEST_F(SchedulingServiceTest,
       RescheduleMovesTheBookingAtomicallyAcrossSchedules) {
  const std::string pt = Register("reg-1");
  const std::string id =
      Book("b-1", pt, "dr-0001", Slot(future_, future_ + 30 * kMinute));
  ConfirmAppointmentRequest confirm;
  confirm.set_command_id("c-1");
  confirm.set_appointment_id(id);
  confirm.set_channel(CONFIRMATION_CHANNEL_PHONE);
  ASSERT_TRUE(Call(&Stub::ConfirmAppointment, confirm).ok());

  // Same provider, overlapping its own old slot: allowed (its own booking does
  // not count).
  RescheduleAppointmentRequest move;
  move.set_command_id("r-1");
  move.set_appointment_id(id);
  *move.mutable_slot() = Slot(future_ + 15 * kMinute, future_ + 45 * kMinute);
  move.set_reason("provider running late");
  ASSERT_TRUE(Call(&Stub::RescheduleAppointment, move).ok());
  EXPECT_THAT(Types(ScheduleStream("dr-0001")),
              ElementsAre("carelog.v1.ProviderSlotBooked",
                          "carelog.v1.ProviderSlotReleased",
                          "carelog.v1.ProviderSlotBooked"));
  // A reschedule needs a fresh confirmation.
  confirm.set_command_id("c-2");
  ASSERT_TRUE(Call(&Stub::ConfirmAppointment, confirm).ok());

  // To another provider: release on one schedule, book on the other, one
  // command.
  const uint64_t before = Head();
  move.set_command_id("r-2");
  move.set_provider_id("dr-0002");
  move.set_location_id("clinic-south");
  *move.mutable_slot() = Slot(future_, future_ + 30 * kMinute);
  AppointmentCommandReply moved;
  ASSERT_TRUE(Call(&Stub::RescheduleAppointment, move, &moved).ok());
  // Appointment event, release, booking and one audit record: contiguous
  // positions.
  EXPECT_EQ(moved.result().position(), before + 4);
  EXPECT_EQ(Head(), before + 4);
  auto old_schedule = StreamEvents(ScheduleStream("dr-0001"));
  auto new_schedule = StreamEvents(ScheduleStream("dr-0002"));
  ASSERT_EQ(old_schedule.size(), 4u);
  ASSERT_EQ(new_schedule.size(), 1u);
  EXPECT_EQ(old_schedule.back().header.event_type,
            "carelog.v1.ProviderSlotReleased");
  EXPECT_EQ(new_schedule.back().header.event_type,
            "carelog.v1.ProviderSlotBooked");
  auto appt = StreamEvents(AppointmentStream(id));
  AppointmentRescheduled ev;
  ASSERT_TRUE(appt.back().As(&ev));
  EXPECT_EQ(ev.previous_provider_id(), "dr-0001");
  EXPECT_EQ(ev.provider_id(), "dr-0002");
  EXPECT_EQ(ev.location_id(), "clinic-south");

  // dr-0001's time is free again; dr-0002's is taken.
  const std::string other = Register("reg-2");
  EXPECT_FALSE(
      Book("b-2", other, "dr-0001", Slot(future_, future_ + 30 * kMinute))
          .empty());
  const std::string third =
      Book("b-3", other, "dr-0003", Slot(future_, future_ + 30 * kMinute));
  const uint64_t head = Head();
  RescheduleAppointmentRequest clash;
  clash.set_command_id("r-3");
  clash.set_appointment_id(third);
  clash.set_provider_id("dr-0002");
  *clash.mutable_slot() = Slot(future_ + 10 * kMinute, future_ + 20 * kMinute);
  grpc::Status s = Call(&Stub::RescheduleAppointment, clash);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("slot taken"));
  // Nowhere to go: the same provider, location and slot.
  move.set_command_id("r-4");
  s = Call(&Stub::RescheduleAppointment, move);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Head(), head);
}

TEST_F(SchedulingServiceTest, StateRulesGiveNotFoundAndFailedPrecondition) {
  const std::string pt = Register("reg-1");
  {
    ScheduleAppointmentReply reply;
    EXPECT_EQ(Call(&Stub::ScheduleAppointment,
                   Booking("b-0", "pt-unknown", "dr-0001",
                           Slot(future_, future_ + kHour)),
                   &reply)
                  .error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  const std::string id =
      Book("b-1", pt, "dr-0001", Slot(future_, future_ + kHour));
  ConfirmAppointmentRequest confirm;
  confirm.set_command_id("c-1");
  confirm.set_appointment_id(id);
  confirm.set_channel(CONFIRMATION_CHANNEL_EMAIL);
  ASSERT_TRUE(Call(&Stub::ConfirmAppointment, confirm).ok());
  confirm.set_command_id("c-2");
  grpc::Status s = Call(&Stub::ConfirmAppointment, confirm);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("already confirmed"));

  CancelAppointmentRequest cancel;
  cancel.set_command_id("x-1");
  cancel.set_appointment_id(id);
  cancel.set_initiator(CANCELLATION_INITIATOR_PROVIDER);
  cancel.set_reason("provider unavailable");
  ASSERT_TRUE(Call(&Stub::CancelAppointment, cancel).ok());
  const uint64_t head = Head();
  confirm.set_command_id("c-3");
  s = Call(&Stub::ConfirmAppointment, confirm);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("is cancelled"));
  cancel.set_command_id("x-2");
  EXPECT_EQ(Call(&Stub::CancelAppointment, cancel).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  RescheduleAppointmentRequest move;
  move.set_command_id("r-1");
  move.set_appointment_id(id);
  *move.mutable_slot() = Slot(future_ + kHour, future_ + 2 * kHour);
  EXPECT_EQ(Call(&Stub::RescheduleAppointment, move).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  UpdatePreAppointmentInstructionsRequest upd;
  upd.set_command_id("u-1");
  upd.set_appointment_id(id);
  EXPECT_EQ(Call(&Stub::UpdatePreAppointmentInstructions, upd).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Head(), head);

  // Unknown appointment ids, for every command on an appointment.
  const std::string unknown = "appt-unknown";
  confirm.set_command_id("n-1");
  confirm.set_appointment_id(unknown);
  EXPECT_EQ(Call(&Stub::ConfirmAppointment, confirm).error_code(),
            grpc::StatusCode::NOT_FOUND);
  cancel.set_command_id("n-2");
  cancel.set_appointment_id(unknown);
  EXPECT_EQ(Call(&Stub::CancelAppointment, cancel).error_code(),
            grpc::StatusCode::NOT_FOUND);
  move.set_command_id("n-3");
  move.set_appointment_id(unknown);
  EXPECT_EQ(Call(&Stub::RescheduleAppointment, move).error_code(),
            grpc::StatusCode::NOT_FOUND);
  MarkNoShowRequest no_show;
  no_show.set_command_id("n-4");
  no_show.set_appointment_id(unknown);
  EXPECT_EQ(Call(&Stub::MarkNoShow, no_show).error_code(),
            grpc::StatusCode::NOT_FOUND);
  CompleteAppointmentRequest complete;
  complete.set_command_id("n-5");
  complete.set_appointment_id(unknown);
  EXPECT_EQ(Call(&Stub::CompleteAppointment, complete).error_code(),
            grpc::StatusCode::NOT_FOUND);
  upd.set_command_id("n-6");
  upd.set_appointment_id(unknown);
  EXPECT_EQ(Call(&Stub::UpdatePreAppointmentInstructions, upd).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Head(), head);
}

// Expects INVALID_ARGUMENT naming `field` and no patient data in the message.
void ExpectInvalid(const grpc::Status& s, const std::string& field) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
  EXPECT_THAT(s.error_message(), HasSubstr(field + ":"));
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("Synthia")));
}

TEST_F(SchedulingServiceTest, InvalidFieldsAreRejectedByNameAndAppendNothing) {
  const std::string pt = Register("reg-1");
  const std::string id =
      Book("b-1", pt, "dr-0001", Slot(future_, future_ + kHour));
  const uint64_t head = Head();

  const ScheduleAppointmentRequest base =
      Booking("bad-1", pt, "dr-0002", Slot(future_, future_ + kHour));
  std::vector<std::pair<std::string, ScheduleAppointmentRequest>> schedule;
  schedule.push_back({"command_id", base});
  schedule.back().second.set_command_id("bad command");
  schedule.push_back({"patient_id", base});
  schedule.back().second.clear_patient_id();
  schedule.push_back({"provider_id", base});
  schedule.back().second.set_provider_id("dr/0002");
  schedule.push_back({"location_id", base});
  schedule.back().second.clear_location_id();
  schedule.push_back({"department", base});
  schedule.back().second.set_department(std::string(201, 'd'));
  schedule.push_back({"slot.start_micros", base});
  schedule.back().second.mutable_slot()->clear_start_micros();
  schedule.push_back({"slot.end_micros", base});
  schedule.back().second.mutable_slot()->set_end_micros(future_ - kHour);
  schedule.push_back({"slot", base});
  schedule.back().second.mutable_slot()->set_end_micros(future_ + 13 * kHour);
  schedule.push_back({"visit_type", base});
  schedule.back().second.set_visit_type("follow\x01up");
  schedule.push_back({"notes", base});
  schedule.back().second.set_notes(
      "bring\x1b[31m");  // a control character (proto3 itself refuses bad
                         // UTF-8)
  schedule.push_back({"instructions.what_to_bring[1]", base});
  schedule.back().second.mutable_instructions()->add_what_to_bring("");
  schedule.push_back({"instructions.fasting_hours", base});
  schedule.back().second.mutable_instructions()->set_fasting_hours(100);
  for (const auto& [field, req] : schedule) {
    SCOPED_TRACE(field);
    ScheduleAppointmentReply reply;
    ExpectInvalid(Call(&Stub::ScheduleAppointment, req, &reply), field);
  }

  RescheduleAppointmentRequest move;
  move.set_command_id("bad-2");
  move.set_appointment_id(id);
  *move.mutable_slot() = Slot(future_ + kHour, future_ + 2 * kHour);
  {
    auto r = move;
    r.clear_appointment_id();
    ExpectInvalid(Call(&Stub::RescheduleAppointment, r), "appointment_id");
    r = move;
    r.set_provider_id(std::string(65, 'p'));
    ExpectInvalid(Call(&Stub::RescheduleAppointment, r), "provider_id");
    r = move;
    r.set_location_id("loc north");
    ExpectInvalid(Call(&Stub::RescheduleAppointment, r), "location_id");
    r = move;
    r.mutable_slot()->set_end_micros(r.slot().start_micros());
    ExpectInvalid(Call(&Stub::RescheduleAppointment, r), "slot.end_micros");
    r = move;
    r.set_reason(std::string(201, 'r'));
    ExpectInvalid(Call(&Stub::RescheduleAppointment, r), "reason");
  }
  ConfirmAppointmentRequest confirm;
  confirm.set_command_id("bad-3");
  confirm.set_appointment_id(id);
  ExpectInvalid(Call(&Stub::ConfirmAppointment, confirm), "channel");
  confirm.set_channel(static_cast<ConfirmationChannel>(99));
  ExpectInvalid(Call(&Stub::ConfirmAppointment, confirm), "channel");
  confirm.set_channel(CONFIRMATION_CHANNEL_SMS);
  confirm.set_appointment_id("");
  ExpectInvalid(Call(&Stub::ConfirmAppointment, confirm), "appointment_id");

  CancelAppointmentRequest cancel;
  cancel.set_command_id("bad-4");
  cancel.set_appointment_id(id);
  cancel.set_reason("patient request");
  ExpectInvalid(Call(&Stub::CancelAppointment, cancel), "initiator");
  cancel.set_initiator(CANCELLATION_INITIATOR_PATIENT);
  cancel.clear_reason();
  ExpectInvalid(Call(&Stub::CancelAppointment, cancel), "reason");
  cancel.set_reason("ok");
  cancel.set_appointment_id("appt 1");
  ExpectInvalid(Call(&Stub::CancelAppointment, cancel), "appointment_id");

  MarkNoShowRequest no_show;
  no_show.set_command_id("bad-5");
  ExpectInvalid(Call(&Stub::MarkNoShow, no_show), "appointment_id");
  no_show.set_appointment_id(id);
  no_show.clear_command_id();
  ExpectInvalid(Call(&Stub::MarkNoShow, no_show), "command_id");
  CompleteAppointmentRequest complete;
  complete.set_command_id("bad-6");
  ExpectInvalid(Call(&Stub::CompleteAppointment, complete), "appointment_id");

  UpdatePreAppointmentInstructionsRequest upd;
  upd.set_command_id("bad-7");
  upd.set_appointment_id(id);
  upd.mutable_instructions()->set_arrive_early_minutes(-5);
  ExpectInvalid(Call(&Stub::UpdatePreAppointmentInstructions, upd),
                "instructions.arrive_early_minutes");
  upd.mutable_instructions()->set_arrive_early_minutes(0);
  upd.mutable_instructions()->set_notes(std::string(2001, 'n'));
  ExpectInvalid(Call(&Stub::UpdatePreAppointmentInstructions, upd),
                "instructions.notes");

  EXPECT_EQ(Head(), head);
}

TEST_F(SchedulingServiceTest, ConcurrentBookingsOfOneSlotExactlyOneSucceeds) {
  const std::string pt = Register("reg-1");
  constexpr int kThreads = 32;
  // Identical slots for "dr-0001"; on "dr-0002" each one starts a minute
  // later than the previous, so every pair still overlaps.
  for (const std::string provider : {"dr-0001", "dr-0002"}) {
    SCOPED_TRACE(provider);
    std::vector<std::thread> threads;
    std::vector<grpc::Status> results(kThreads);
    std::vector<std::string> ids(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        const int64_t shift = provider == "dr-0001" ? 0 : i * kMinute;
        ScheduleAppointmentReply reply;
        results[i] =
            Call(&Stub::ScheduleAppointment,
                 Booking(absl::StrCat(provider, "-", i), pt, provider,
                         Slot(future_ + shift, future_ + shift + kHour)),
                 &reply);
        ids[i] = reply.appointment_id();
      });
    }
    for (auto& t : threads)
      t.join();
    int ok = 0;
    std::string winner;
    for (int i = 0; i < kThreads; ++i) {
      if (results[i].ok()) {
        ++ok;
        winner = ids[i];
      } else {
        EXPECT_EQ(results[i].error_code(),
                  grpc::StatusCode::FAILED_PRECONDITION)
            << results[i].error_message();
        EXPECT_THAT(results[i].error_message(), HasSubstr("slot taken"));
      }
    }
    EXPECT_EQ(ok, 1);
    auto events = StreamEvents(ScheduleStream(provider));
    ASSERT_EQ(events.size(), 1u);
    ProviderSlotBooked booked;
    ASSERT_TRUE(events[0].As(&booked));
    EXPECT_EQ(booked.appointment_id(), winner);
    // Losers left no appointment behind.
    EXPECT_EQ(StreamEvents(AppointmentStream(winner)).size(), 1u);
  }
}

TEST_F(SchedulingServiceTest, RetryReturnsTheFirstReplyAndAppendsNothing) {
  const std::string pt = Register("reg-1");
  const ScheduleAppointmentRequest req =
      Booking("b-retry", pt, "dr-0001", Slot(future_, future_ + kHour));
  ScheduleAppointmentReply first;
  ASSERT_TRUE(Call(&Stub::ScheduleAppointment, req, &first).ok());
  const uint64_t head = Head();
  ScheduleAppointmentReply again;
  ASSERT_TRUE(Call(&Stub::ScheduleAppointment, req, &again).ok());
  EXPECT_EQ(again.appointment_id(), first.appointment_id());
  EXPECT_TRUE(again.result().duplicate());
  EXPECT_EQ(again.result().position(), first.result().position());
  EXPECT_EQ(Head(), head);

  // A retried confirmation answers OK again instead of "already confirmed".
  ConfirmAppointmentRequest confirm;
  confirm.set_command_id("c-retry");
  confirm.set_appointment_id(first.appointment_id());
  confirm.set_channel(CONFIRMATION_CHANNEL_PORTAL);
  AppointmentCommandReply c1;
  AppointmentCommandReply c2;
  ASSERT_TRUE(Call(&Stub::ConfirmAppointment, confirm, &c1).ok());
  const uint64_t head2 = Head();
  ASSERT_TRUE(Call(&Stub::ConfirmAppointment, confirm, &c2).ok());
  EXPECT_TRUE(c2.result().duplicate());
  EXPECT_EQ(c2.result().position(), c1.result().position());
  EXPECT_EQ(Head(), head2);

  // The same command id for a different request is refused.
  ScheduleAppointmentRequest other = req;
  other.set_visit_type("new patient");
  ScheduleAppointmentReply r3;
  EXPECT_EQ(Call(&Stub::ScheduleAppointment, other, &r3).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Head(), head2);
}

TEST_F(SchedulingServiceTest, RolesAndRelationshipsDecideWhoMayBook) {
  const std::string pt = Register("reg-1");
  const TimeSlot slot = Slot(future_, future_ + kHour);
  const uint64_t head = Head();
  ScheduleAppointmentReply reply;
  grpc::Status s =
      Call(&Stub::ScheduleAppointment, Booking("b-1", pt, "dr-0001", slot),
           &reply, Who{"billing_clerk", "HPAYMT", "bill-0001"});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Exactly one new event: the denial, in the patient's audit trail.
  EXPECT_EQ(Head(), head + 1);
  EXPECT_TRUE(StreamEvents(ScheduleStream("dr-0001")).empty());
  auto audit = StreamEvents("audit/" + pt);
  AccessAudited denied;
  ASSERT_TRUE(audit.back().As(&denied));
  EXPECT_EQ(denied.outcome(), ACCESS_OUTCOME_DENIED);
  EXPECT_EQ(denied.actor(), "bill-0001");
  EXPECT_EQ(denied.resource(), "appointments");

  // A support specialist needs a relationship to the patient.
  const Who specialist{"patient_support_specialist", "CAREMGT", "pss-0001"};
  EXPECT_EQ(Call(&Stub::ScheduleAppointment,
                 Booking("b-2", pt, "dr-0001", slot), &reply, specialist)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  AssignCareTeamMemberRequest as;
  as.set_command_id("as-1");
  as.set_patient_id(pt);
  as.set_member_id("pss-0001");
  as.set_role(CARE_TEAM_ROLE_PATIENT_SUPPORT_SPECIALIST);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    PatientCommandReply r;
    ASSERT_TRUE(patients_->AssignCareTeamMember(&ctx, as, &r).ok());
  }
  s = Call(&Stub::ScheduleAppointment, Booking("b-3", pt, "dr-0001", slot),
           &reply, specialist);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // Patients book for themselves, not for others.
  const std::string other = Register("reg-2");
  const TimeSlot later = Slot(future_ + kHour, future_ + 2 * kHour);
  const Who self{"patient", "PATRQT", pt};
  EXPECT_EQ(Call(&Stub::ScheduleAppointment,
                 Booking("b-4", other, "dr-0001", later), &reply, self)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  s = Call(&Stub::ScheduleAppointment, Booking("b-5", pt, "dr-0001", later),
           &reply, self);
  EXPECT_TRUE(s.ok()) << s.error_message();

  // Commands on an existing appointment are authorized for its patient too.
  CancelAppointmentRequest cancel;
  cancel.set_command_id("x-1");
  cancel.set_appointment_id(reply.appointment_id());
  cancel.set_initiator(CANCELLATION_INITIATOR_PATIENT);
  cancel.set_reason("no longer needed");
  EXPECT_EQ(
      Call(&Stub::CancelAppointment, cancel, Who{"patient", "PATRQT", other})
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Call(&Stub::CancelAppointment, cancel, self).ok());
}

}  // namespace
}  // namespace carelog::services
