// Appointments and complaints views through QueryService: content after
// scripted event sequences, filters, masks, erasure, rebuild equals live.
// Events are appended straight into the server's ledger (as the domain
// services would write them) so that the views are tested on their own.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/complaints.pb.h"
#include "carelog/v1/scheduling.pb.h"
#include "tests/services/projection_fixture.h"

namespace carelog::services {
namespace {

using namespace carelog::v1;  // NOLINT

constexpr int64_t kHour = 3600LL * 1000000;

class ProjectionEntityTest : public ProjectionServerTest {
 protected:
  void SetUp() override {
    ProjectionServerTest::SetUp();
    now_ = absl::ToUnixMicros(absl::Now());
  }

  void Prepare(grpc::ClientContext* ctx, const std::string& role,
               const std::string& purpose = "HOPERAT") {
    ProjectionServerTest::Prepare(ctx, role, purpose, "actor-1");
  }

  uint64_t Schedule(const std::string& id, const std::string& patient,
                    const std::string& provider, int64_t start) {
    AppointmentScheduled ev;
    ev.set_appointment_id(id);
    ev.set_patient_id(patient);
    ev.set_provider_id(provider);
    ev.set_location_id("loc-1");
    ev.set_department("cardiology");
    ev.mutable_slot()->set_start_micros(start);
    ev.mutable_slot()->set_end_micros(start + kHour / 2);
    ev.set_visit_type("follow-up");
    ev.set_notes("bring prior ECG");
    return Append("appointment/" + id, patient, ev);
  }

  uint64_t File(const std::string& id, const std::string& patient,
                int64_t filed, int64_t due) {
    ComplaintFiled ev;
    ev.set_patient_id(patient);
    ev.set_complaint_id(id);
    ev.set_category(COMPLAINT_CATEGORY_SCHEDULING);
    ev.set_description("waited two hours");
    ev.set_priority(COMPLAINT_PRIORITY_HIGH);
    ev.set_filed_at_micros(filed);
    ev.set_response_due_at_micros(due);
    return Append("complaint/" + id, patient, ev);
  }

  AppointmentPage Appointments(ListAppointmentsRequest req, uint64_t min_pos,
                               const std::string& role = "front_desk") {
    req.set_min_position(min_pos);
    AppointmentPage page;
    grpc::ClientContext ctx;
    Prepare(&ctx, role);
    grpc::Status s = queries_->ListAppointments(&ctx, req, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return page;
  }
  ComplaintPage Complaints(ListComplaintsRequest req, uint64_t min_pos) {
    req.set_min_position(min_pos);
    ComplaintPage page;
    grpc::ClientContext ctx;
    Prepare(&ctx, "complaint_handler");
    grpc::Status s = queries_->ListComplaints(&ctx, req, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return page;
  }

  static std::vector<std::string> Ids(const AppointmentPage& p) {
    std::vector<std::string> out;
    for (const auto& a : p.appointments())
      out.push_back(a.appointment_id());
    return out;
  }
  static std::vector<std::string> Ids(const ComplaintPage& p) {
    std::vector<std::string> out;
    for (const auto& c : p.complaints())
      out.push_back(c.complaint_id());
    return out;
  }

  // A day's appointments for the scripted provider.
  uint64_t Script() {
    day_start_ = (now_ / (24 * kHour) + 2) * 24 * kHour;  // two days ahead
    Schedule("ap-1", "pt-1", "dr-1", day_start_ + 9 * kHour);
    Schedule("ap-2", "pt-1", "dr-1", day_start_ + 10 * kHour);
    Schedule("ap-3", "pt-2", "dr-1", day_start_ + 24 * kHour + 9 * kHour);
    Schedule("ap-4", "pt-2", "dr-2", now_ - 3 * kHour);  // in the past
    AppointmentConfirmed c;
    c.set_appointment_id("ap-1");
    c.set_patient_id("pt-1");
    Append("appointment/ap-1", "pt-1", c);
    AppointmentCancelled x;
    x.set_appointment_id("ap-2");
    x.set_patient_id("pt-1");
    Append("appointment/ap-2", "pt-1", x);
    AppointmentNoShowRecorded n;
    n.set_appointment_id("ap-4");
    n.set_patient_id("pt-2");
    Append("appointment/ap-4", "pt-2", n);

    File("cp-1", "pt-1", now_ - 48 * kHour, now_ - 24 * kHour);  // breached
    File("cp-2", "pt-2", now_ - kHour, now_ + 23 * kHour);
    ComplaintAssigned a;
    a.set_patient_id("pt-2");
    a.set_complaint_id("cp-2");
    a.set_assignee_id("ch-7");
    Append("complaint/cp-2", "pt-2", a);
    ComplaintAcknowledged ack;
    ack.set_patient_id("pt-2");
    ack.set_complaint_id("cp-2");
    return Append("complaint/cp-2", "pt-2", ack);
  }

  int64_t now_ = 0;
  int64_t day_start_ = 0;
};

TEST_F(ProjectionEntityTest, AppointmentsByPatientProviderDayUpcomingNoShows) {
  const uint64_t last = Script();
  ListAppointmentsRequest by_patient;
  by_patient.set_filter(ListAppointmentsRequest::FILTER_PATIENT);
  by_patient.set_patient_id("pt-1");
  EXPECT_THAT(Ids(Appointments(by_patient, last)),
              ::testing::ElementsAre("ap-1", "ap-2"));

  ListAppointmentsRequest day;
  day.set_filter(ListAppointmentsRequest::FILTER_PROVIDER_DAY);
  day.set_provider_id("dr-1");
  day.set_day(absl::FormatTime("%Y-%m-%d", absl::FromUnixMicros(day_start_),
                               absl::UTCTimeZone()));
  const AppointmentPage d = Appointments(day, last);
  EXPECT_THAT(Ids(d), ::testing::ElementsAre("ap-1", "ap-2"));
  EXPECT_EQ(d.appointments(0).status(), APPOINTMENT_STATUS_CONFIRMED);
  EXPECT_EQ(d.appointments(1).status(), APPOINTMENT_STATUS_CANCELLED);

  ListAppointmentsRequest upcoming;
  upcoming.set_filter(ListAppointmentsRequest::FILTER_UPCOMING);
  EXPECT_THAT(Ids(Appointments(upcoming, last)),
              ::testing::ElementsAre("ap-1", "ap-3"));

  ListAppointmentsRequest no_shows;
  no_shows.set_filter(ListAppointmentsRequest::FILTER_NO_SHOWS);
  EXPECT_THAT(Ids(Appointments(no_shows, last)),
              ::testing::ElementsAre("ap-4"));

  // Paging with tokens.
  ListAppointmentsRequest paged = by_patient;
  paged.set_page_size(1);
  const AppointmentPage p1 = Appointments(paged, last);
  ASSERT_EQ(p1.appointments_size(), 1);
  ASSERT_FALSE(p1.next_page_token().empty());
  paged.set_page_token(p1.next_page_token());
  const AppointmentPage p2 = Appointments(paged, last);
  EXPECT_THAT(Ids(p2), ::testing::ElementsAre("ap-2"));
  EXPECT_TRUE(p2.next_page_token().empty());
}

TEST_F(ProjectionEntityTest, AppointmentMasksNeverLeave) {
  const uint64_t last = Script();
  ListAppointmentsRequest by_patient;
  by_patient.set_filter(ListAppointmentsRequest::FILTER_PATIENT);
  by_patient.set_patient_id("pt-1");
  // Logistics sees time, location, department and status only.
  const AppointmentPage p =
      Appointments(by_patient, last, "logistics_coordinator");
  ASSERT_EQ(p.appointments_size(), 2);
  const AppointmentRecord& a = p.appointments(0);
  EXPECT_TRUE(a.has_slot());
  EXPECT_TRUE(a.provider_id().empty());
  EXPECT_TRUE(a.notes().empty());
  EXPECT_EQ(p.SerializeAsString().find("bring prior ECG"), std::string::npos);
  EXPECT_THAT(a.masked_fields(),
              ::testing::IsSupersetOf({"provider", "notes", "visit_type"}));
}

TEST_F(ProjectionEntityTest, ComplaintsByStatusAssigneeAndBreach) {
  const uint64_t last = Script();
  ListComplaintsRequest breached;
  breached.set_filter(ListComplaintsRequest::FILTER_BREACHED);
  const ComplaintPage b = Complaints(breached, last);
  EXPECT_THAT(Ids(b), ::testing::ElementsAre("cp-1"));
  ASSERT_EQ(b.complaints_size(), 1);
  EXPECT_TRUE(b.complaints(0).response_breached());
  EXPECT_GE(b.complaints(0).age_seconds(), 47 * 3600);

  ListComplaintsRequest by_assignee;
  by_assignee.set_filter(ListComplaintsRequest::FILTER_ASSIGNEE);
  by_assignee.set_assignee_id("ch-7");
  const ComplaintPage a = Complaints(by_assignee, last);
  EXPECT_THAT(Ids(a), ::testing::ElementsAre("cp-2"));
  EXPECT_EQ(a.complaints(0).status(), COMPLAINT_STATUS_ACKNOWLEDGED);
  EXPECT_FALSE(a.complaints(0).response_breached());

  ListComplaintsRequest by_status;
  by_status.set_filter(ListComplaintsRequest::FILTER_STATUS);
  by_status.set_status(COMPLAINT_STATUS_FILED);
  EXPECT_THAT(Ids(Complaints(by_status, last)), ::testing::ElementsAre("cp-1"));

  ListComplaintsRequest by_priority;
  by_priority.set_filter(ListComplaintsRequest::FILTER_PRIORITY);
  by_priority.set_priority(COMPLAINT_PRIORITY_HIGH);
  EXPECT_THAT(Ids(Complaints(by_priority, last)),
              ::testing::ElementsAre("cp-1", "cp-2"));

  // Front desk staff may not read complaints: left out (and audited).
  ComplaintPage none;
  grpc::ClientContext ctx;
  Prepare(&ctx, "front_desk");
  ASSERT_TRUE(queries_->ListComplaints(&ctx, by_priority, &none).ok());
  EXPECT_EQ(none.complaints_size(), 0);
}

TEST_F(ProjectionEntityTest, ErasedPatientLeavesBothViews) {
  Script();
  const uint64_t erased = Erase("pt-1");
  ListAppointmentsRequest by_patient;
  by_patient.set_filter(ListAppointmentsRequest::FILTER_PATIENT);
  by_patient.set_patient_id("pt-1");
  EXPECT_TRUE(Ids(Appointments(by_patient, erased)).empty());
  ListAppointmentsRequest day;
  day.set_filter(ListAppointmentsRequest::FILTER_UPCOMING);
  EXPECT_THAT(Ids(Appointments(day, erased)), ::testing::ElementsAre("ap-3"));
  ListComplaintsRequest breached;
  breached.set_filter(ListComplaintsRequest::FILTER_BREACHED);
  EXPECT_TRUE(Ids(Complaints(breached, erased)).empty());
}

TEST_F(ProjectionEntityTest, NoPlaintextInTheDataDirectory) {
  const uint64_t last = Script();
  ListAppointmentsRequest by_patient;
  by_patient.set_filter(ListAppointmentsRequest::FILTER_PATIENT);
  by_patient.set_patient_id("pt-1");
  ASSERT_EQ(Appointments(by_patient, last).appointments_size(), 2);
  ListComplaintsRequest c;
  c.set_filter(ListComplaintsRequest::FILTER_PATIENT);
  c.set_patient_id("pt-1");
  ASSERT_EQ(Complaints(c, last).complaints_size(), 1);
  int files = 0;
  EXPECT_THAT(
      PlaintextInDataDir({"bring prior ECG", "waited two hours", "cardiology"},
                         &files),
      ::testing::IsEmpty());
  EXPECT_GT(files, 3);
}

TEST_F(ProjectionEntityTest, RebuildEqualsLive) {
  const uint64_t last = Script();
  auto snapshot = [&]() {
    std::string out;
    for (const char* p : {"pt-1", "pt-2"}) {
      ListAppointmentsRequest a;
      a.set_filter(ListAppointmentsRequest::FILTER_PATIENT);
      a.set_patient_id(p);
      out += Appointments(a, last).SerializeAsString();
      ListComplaintsRequest c;
      c.set_filter(ListComplaintsRequest::FILTER_PATIENT);
      c.set_patient_id(p);
      ComplaintPage page = Complaints(c, last);
      for (auto& r : *page.mutable_complaints())
        r.clear_age_seconds();
      out += page.SerializeAsString();
    }
    return out;
  };
  const std::string live = snapshot();
  ASSERT_FALSE(live.empty());
  RebuildAll();
  EXPECT_EQ(snapshot(), live);
}

}  // namespace
}  // namespace carelog::services
