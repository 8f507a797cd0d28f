// The logistics and messages views through QueryService: content after
// scripted events, filters, masks by message kind (a support specialist sees
// that a test result is ready, never what it says; billing staff see no
// clinical content), masks through filters, denials, erasure, rebuild equals
// live, no plaintext in the data directory.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/logistics.pb.h"
#include "carelog/v1/messaging.pb.h"
#include "tests/services/projection_fixture.h"

namespace carelog::services {
namespace {

using namespace carelog::v1;  // NOLINT

constexpr char kBodyMarker[] = "Crenshavian LDL 4.2 mmol/L";
constexpr char kGeneralMarker[] = "Vexillum fever notes";
constexpr char kCareMarker[] = "Plumbago regimen";
constexpr char kDestinationMarker[] = "Gallimaufry clinic";
constexpr int64_t kDay = 24LL * 3600 * 1000000;

std::string DayString(int64_t micros) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

Date DateOf(int64_t micros) {
  const absl::CivilDay d =
      absl::ToCivilDay(absl::FromUnixMicros(micros), absl::UTCTimeZone());
  Date out;
  out.set_year(static_cast<int>(d.year()));
  out.set_month(d.month());
  out.set_day(d.day());
  return out;
}

class ProjectionSupportTest : public ProjectionServerTest {
 protected:
  uint64_t Send(const std::string& id, const std::string& patient,
                MessageKind kind, const std::string& subject,
                const std::string& body) {
    MessageSent ev;
    ev.set_message_id(id);
    ev.set_patient_id(patient);
    ev.set_provider_id("dr-1");
    ev.set_direction(MESSAGE_DIRECTION_TO_PATIENT);
    ev.set_kind(kind);
    ev.set_subject(subject);
    ev.set_body(body);
    if (kind != MESSAGE_KIND_GENERAL)
      ev.set_released_by("dr-1");
    return Append("message/" + id, patient, ev);
  }
  uint64_t Deliver(const std::string& id, const std::string& patient) {
    MessageDeliveryRecorded ev;
    ev.set_message_id(id);
    ev.set_patient_id(patient);
    ev.set_channel(DELIVERY_CHANNEL_PORTAL);
    return Append("message/" + id, patient, ev);
  }
  uint64_t Transport(const std::string& id, const std::string& patient,
                     int64_t pickup) {
    TransportationRequested ev;
    ev.set_patient_id(patient);
    ev.set_arrangement_id(id);
    ev.mutable_pickup_address()->add_lines("1 Synthetic Road");
    ev.set_pickup_at_micros(pickup);
    ev.set_destination(kDestinationMarker);
    ev.set_mobility(MOBILITY_NEED_WHEELCHAIR);
    return Append("logistics/" + id, patient, ev);
  }

  // pt-1 (care team: support specialist pss-1, clinician dr-1): a general
  // message (delivered), a test result (delivered and acknowledged), care
  // instructions (sent); transport in 2 days (arranged), lodging from
  // tomorrow. pt-2 (care team: dr-2): a test result (sent); transport in 3
  // days, cancelled.
  uint64_t Script() {
    now_ = absl::ToUnixMicros(absl::Now());
    Register("pt-1", {"pss-1", "dr-1"});
    Register("pt-2", {"dr-2"});
    Send("m-1", "pt-1", MESSAGE_KIND_GENERAL, "Follow-up", kGeneralMarker);
    Send("m-2", "pt-1", MESSAGE_KIND_TEST_RESULT, "Lipid panel", kBodyMarker);
    Send("m-3", "pt-1", MESSAGE_KIND_CARE_INSTRUCTIONS, "After surgery",
         kCareMarker);
    Send("m-4", "pt-2", MESSAGE_KIND_TEST_RESULT, "Blood count", "normal");
    Deliver("m-1", "pt-1");
    Deliver("m-2", "pt-1");
    MessageAcknowledged ack;
    ack.set_message_id("m-2");
    ack.set_patient_id("pt-1");
    Append("message/m-2", "pt-1", ack);

    Transport("trn-1", "pt-1", now_ + 2 * kDay);
    LogisticsArranged arranged;
    arranged.set_patient_id("pt-1");
    arranged.set_arrangement_id("trn-1");
    arranged.set_vendor("Acme Rides");
    Append("logistics/trn-1", "pt-1", arranged);
    LodgingRequested lodging;
    lodging.set_patient_id("pt-1");
    lodging.set_arrangement_id("lodg-1");
    *lodging.mutable_check_in() = DateOf(now_ + kDay);
    *lodging.mutable_check_out() = DateOf(now_ + 3 * kDay);
    lodging.set_nights(2);
    lodging.set_location("near Main Campus");
    lodging.set_guests(2);
    Append("logistics/lodg-1", "pt-1", lodging);
    Transport("trn-2", "pt-2", now_ + 3 * kDay);
    LogisticsCancelled cancelled;
    cancelled.set_patient_id("pt-2");
    cancelled.set_arrangement_id("trn-2");
    cancelled.set_reason("patient unwell");
    return Append("logistics/trn-2", "pt-2", cancelled);
  }

  MessagePage Messages(ListMessagesRequest req, uint64_t pos,
                       const std::string& role, const std::string& sub,
                       const std::string& purpose) {
    req.set_min_position(pos);
    MessagePage page;
    grpc::ClientContext ctx;
    Prepare(&ctx, role, purpose, sub);
    grpc::Status s = queries_->ListMessages(&ctx, req, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return page;
  }
  MessagePage PatientMessages(const std::string& patient, uint64_t pos,
                              const std::string& role = "clinician",
                              const std::string& sub = "dr-1",
                              const std::string& purpose = "TREAT") {
    ListMessagesRequest req;
    req.set_filter(ListMessagesRequest::FILTER_PATIENT);
    req.set_patient_id(patient);
    return Messages(req, pos, role, sub, purpose);
  }
  grpc::Status GetMessage(const std::string& id, uint64_t pos,
                          MessageRecord* out, const std::string& role,
                          const std::string& sub, const std::string& purpose) {
    GetMessageRequest req;
    req.set_message_id(id);
    req.set_min_position(pos);
    grpc::ClientContext ctx;
    Prepare(&ctx, role, purpose, sub);
    return queries_->GetMessage(&ctx, req, out);
  }
  LogisticsPage Logistics(ListLogisticsRequest req, uint64_t pos,
                          const std::string& role = "logistics_coordinator",
                          const std::string& sub = "lc-1") {
    req.set_min_position(pos);
    LogisticsPage page;
    grpc::ClientContext ctx;
    Prepare(&ctx, role, "HOPERAT", sub);
    grpc::Status s = queries_->ListLogistics(&ctx, req, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return page;
  }

  static std::vector<std::string> Ids(const MessagePage& p) {
    std::vector<std::string> out;
    for (const auto& m : p.messages())
      out.push_back(m.message_id());
    return out;
  }
  static std::vector<std::string> Ids(const LogisticsPage& p) {
    std::vector<std::string> out;
    for (const auto& a : p.arrangements())
      out.push_back(a.arrangement_id());
    return out;
  }

  int64_t now_ = 0;
};

TEST_F(ProjectionSupportTest, MessagesPerPatientWithDeliveryAndAck) {
  const uint64_t last = Script();
  const MessagePage p = PatientMessages("pt-1", last);
  ASSERT_THAT(Ids(p), ::testing::ElementsAre("m-1", "m-2", "m-3"));
  EXPECT_EQ(p.messages(0).status(), MESSAGE_STATUS_DELIVERED);
  EXPECT_EQ(p.messages(0).body(), kGeneralMarker);
  EXPECT_EQ(p.messages(1).status(), MESSAGE_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(p.messages(1).delivery_channel(), DELIVERY_CHANNEL_PORTAL);
  EXPECT_GT(p.messages(1).acknowledged_at_micros(), 0);
  EXPECT_EQ(p.messages(1).body(), kBodyMarker);
  EXPECT_EQ(p.messages(2).status(), MESSAGE_STATUS_SENT);
  EXPECT_EQ(p.messages(2).kind(), MESSAGE_KIND_CARE_INSTRUCTIONS);
  // One decision per resource of the patient: three kinds, three events.
  EXPECT_EQ(AuditOf("pt-1", "/carelog.v1.QueryService/ListMessages").size(),
            3u);

  ListMessagesRequest results;
  results.set_filter(ListMessagesRequest::FILTER_PATIENT);
  results.set_patient_id("pt-1");
  results.set_kind(MESSAGE_KIND_TEST_RESULT);
  EXPECT_THAT(Ids(Messages(results, last, "clinician", "dr-1", "TREAT")),
              ::testing::ElementsAre("m-2"));
  // Awaiting delivery across patients: dr-1 is on pt-1's care team only.
  ListMessagesRequest sent;
  sent.set_filter(ListMessagesRequest::FILTER_STATUS);
  sent.set_status(MESSAGE_STATUS_SENT);
  EXPECT_THAT(Ids(Messages(sent, last, "clinician", "dr-1", "TREAT")),
              ::testing::ElementsAre("m-3"));
  EXPECT_THAT(Ids(Messages(sent, last, "clinician", "dr-2", "TREAT")),
              ::testing::ElementsAre("m-4"));
  // Paging.
  ListMessagesRequest paged = results;
  paged.set_kind(MESSAGE_KIND_UNSPECIFIED);
  paged.set_page_size(2);
  const MessagePage first = Messages(paged, last, "clinician", "dr-1", "TREAT");
  EXPECT_THAT(Ids(first), ::testing::ElementsAre("m-1", "m-2"));
  paged.set_page_token(first.next_page_token());
  const MessagePage second =
      Messages(paged, last, "clinician", "dr-1", "TREAT");
  EXPECT_THAT(Ids(second), ::testing::ElementsAre("m-3"));
  EXPECT_TRUE(second.next_page_token().empty());
}

TEST_F(ProjectionSupportTest, SupportSpecialistSeesResultStatusNotContents) {
  const uint64_t last = Script();
  const MessagePage p = PatientMessages(
      "pt-1", last, "patient_support_specialist", "pss-1", "HOPERAT");
  ASSERT_THAT(Ids(p), ::testing::ElementsAre("m-2"));
  const MessageRecord& m = p.messages(0);
  EXPECT_EQ(m.subject(), "Lipid panel");
  EXPECT_EQ(m.status(), MESSAGE_STATUS_ACKNOWLEDGED);
  EXPECT_TRUE(m.body().empty());
  EXPECT_TRUE(m.provider_id().empty());
  EXPECT_THAT(m.masked_fields(),
              ::testing::IsSupersetOf({"result_value", "report_text"}));
  const std::string wire = p.SerializeAsString();
  for (const char* marker : {kBodyMarker, kGeneralMarker, kCareMarker})
    EXPECT_EQ(wire.find(marker), std::string::npos) << marker;
  // A general message's contents stay with the patient and the care team.
  MessageRecord rec;
  grpc::Status s = GetMessage("m-1", last, &rec, "patient_support_specialist",
                              "pss-1", "HOPERAT");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(rec.ByteSizeLong(), 0u);
  // Billing staff never see clinical content (forbid), not even that it
  // exists.
  s = GetMessage("m-2", last, &rec, "billing_clerk", "clerk-1", "HPAYMT");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(rec.ByteSizeLong(), 0u);
  EXPECT_EQ(PatientMessages("pt-1", last, "billing_clerk", "clerk-1", "HPAYMT")
                .messages_size(),
            0);
  // The patient reads their own messages.
  s = GetMessage("m-2", last, &rec, "patient", "pt-1", "PATRQT");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(rec.body(), kBodyMarker);
  // Bad requests name the field.
  s = GetMessage("", last, &rec, "patient", "pt-1", "PATRQT");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("message_id"));
  // Also fields the filter does not use.
  ListMessagesRequest by_status;
  by_status.set_filter(ListMessagesRequest::FILTER_STATUS);
  by_status.set_patient_id("bad id");
  MessagePage page;
  grpc::ClientContext ctx;
  Prepare(&ctx, "clinician", "TREAT", "dr-1");
  s = queries_->ListMessages(&ctx, by_status, &page);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("patient_id"));
  by_status.set_patient_id("");
  by_status.set_kind(static_cast<MessageKind>(9999));
  grpc::ClientContext ctx2;
  Prepare(&ctx2, "clinician", "TREAT", "dr-1");
  s = queries_->ListMessages(&ctx2, by_status, &page);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("kind"));
}

TEST_F(ProjectionSupportTest, LogisticsByDayStatusKindAndPatient) {
  const uint64_t last = Script();
  EXPECT_THAT(Ids(Logistics(ListLogisticsRequest(), last)),
              ::testing::ElementsAre("lodg-1", "trn-1"));
  ListLogisticsRequest transport;
  transport.set_kind(ARRANGEMENT_KIND_TRANSPORTATION);
  EXPECT_THAT(Ids(Logistics(transport, last)), ::testing::ElementsAre("trn-1"));
  ListLogisticsRequest window;
  window.set_from_day(DayString(now_ + 2 * kDay));
  window.set_to_day(DayString(now_ + 3 * kDay));
  EXPECT_THAT(Ids(Logistics(window, last)), ::testing::ElementsAre("trn-1"));
  ListLogisticsRequest cancelled;
  cancelled.set_filter(ListLogisticsRequest::FILTER_STATUS);
  cancelled.set_status(ARRANGEMENT_STATUS_CANCELLED);
  const LogisticsPage c = Logistics(cancelled, last);
  ASSERT_THAT(Ids(c), ::testing::ElementsAre("trn-2"));
  EXPECT_EQ(c.arrangements(0).cancel_reason(), "patient unwell");
  ListLogisticsRequest by_patient;
  by_patient.set_filter(ListLogisticsRequest::FILTER_PATIENT);
  by_patient.set_patient_id("pt-1");
  EXPECT_THAT(Ids(Logistics(by_patient, last)),
              ::testing::UnorderedElementsAre("lodg-1", "trn-1"));

  GetLogisticsArrangementRequest get;
  get.set_arrangement_id("trn-1");
  get.set_min_position(last);
  LogisticsRecord rec;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "logistics_coordinator", "HOPERAT", "lc-1");
    grpc::Status s = queries_->GetLogisticsArrangement(&ctx, get, &rec);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(rec.status(), ARRANGEMENT_STATUS_ARRANGED);
  EXPECT_EQ(rec.vendor(), "Acme Rides");
  EXPECT_EQ(rec.mobility(), MOBILITY_NEED_WHEELCHAIR);
  EXPECT_EQ(rec.destination(), kDestinationMarker);
  EXPECT_EQ(rec.day(), DayString(now_ + 2 * kDay));

  // The support specialist sees the arrangements of their patients only;
  // billing staff none.
  EXPECT_THAT(Ids(Logistics(ListLogisticsRequest(), last,
                            "patient_support_specialist", "pss-1")),
              ::testing::ElementsAre("lodg-1", "trn-1"));
  EXPECT_TRUE(
      Ids(Logistics(cancelled, last, "patient_support_specialist", "pss-1"))
          .empty());
  EXPECT_TRUE(
      Ids(Logistics(ListLogisticsRequest(), last, "billing_clerk", "c-1"))
          .empty());
  // Bad input names the field.
  ListLogisticsRequest bad;
  bad.set_from_day("tomorrow");
  LogisticsPage none;
  grpc::ClientContext ctx;
  Prepare(&ctx, "logistics_coordinator", "HOPERAT", "lc-1");
  grpc::Status s = queries_->ListLogistics(&ctx, bad, &none);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("from_day"));
}

TEST_F(ProjectionSupportTest, ErasedPatientLeavesBothViews) {
  Script();
  const uint64_t pos = Erase("pt-1");
  EXPECT_TRUE(Ids(PatientMessages("pt-1", pos)).empty());
  MessageRecord rec;
  EXPECT_EQ(
      GetMessage("m-2", pos, &rec, "clinician", "dr-1", "TREAT").error_code(),
      grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Ids(Logistics(ListLogisticsRequest(), pos)).empty());
  ListLogisticsRequest cancelled;
  cancelled.set_filter(ListLogisticsRequest::FILTER_STATUS);
  cancelled.set_status(ARRANGEMENT_STATUS_CANCELLED);
  EXPECT_THAT(Ids(Logistics(cancelled, pos)), ::testing::ElementsAre("trn-2"));
}

TEST_F(ProjectionSupportTest, RebuildEqualsLive) {
  const uint64_t last = Script();
  auto snapshot = [&]() {
    std::string out = PatientMessages("pt-1", last).SerializeAsString();
    out +=
        PatientMessages("pt-2", last, "clinician", "dr-2").SerializeAsString();
    for (auto st : {ARRANGEMENT_STATUS_ARRANGED, ARRANGEMENT_STATUS_REQUESTED,
                    ARRANGEMENT_STATUS_CANCELLED}) {
      ListLogisticsRequest req;
      req.set_filter(ListLogisticsRequest::FILTER_STATUS);
      req.set_status(st);
      out += Logistics(req, last).SerializeAsString();
    }
    return out;
  };
  const std::string live = snapshot();
  ASSERT_GT(live.size(), 300u);
  RebuildAll();
  EXPECT_EQ(snapshot(), live);
}

TEST_F(ProjectionSupportTest, NoPlaintextInTheDataDirectory) {
  const uint64_t last = Script();
  ASSERT_EQ(PatientMessages("pt-1", last).messages_size(), 3);
  ASSERT_EQ(Logistics(ListLogisticsRequest(), last).arrangements_size(), 2);
  int files = 0;
  EXPECT_THAT(PlaintextInDataDir({kBodyMarker, kGeneralMarker, kCareMarker,
                                  kDestinationMarker, "Acme Rides"},
                                 &files),
              ::testing::IsEmpty());
  EXPECT_GT(files, 3);
}

// A policy that shows logistics coordinators lodging only.
class ProjectionLogisticsMaskTest : public ProjectionSupportTest {
 protected:
  void SetUp() override {
    const std::string policy = dir_.Sub("policy.yaml");
    std::ofstream(policy) << R"(version: 1
name: logistics-masks-test
roles: [logistics_coordinator]
rules:
  - id: coordinator-lodging-only
    effect: permit
    roles: [logistics_coordinator]
    resources: [logistics]
    actions: [read]
    purposes: [HOPERAT]
    fields: [lodging]
)";
    StartServer(policy);
  }
};

TEST_F(ProjectionLogisticsMaskTest, MaskedFieldsNeverLeaveNorOrder) {
  const uint64_t last = Script();
  // Lists by day would disclose a masked pickup day: transport left out.
  EXPECT_THAT(Ids(Logistics(ListLogisticsRequest(), last)),
              ::testing::ElementsAre("lodg-1"));
  ListLogisticsRequest by_patient;
  by_patient.set_filter(ListLogisticsRequest::FILTER_PATIENT);
  by_patient.set_patient_id("pt-1");
  const LogisticsPage p = Logistics(by_patient, last);
  ASSERT_EQ(p.arrangements_size(), 2);
  for (const auto& a : p.arrangements()) {
    if (a.kind() == ARRANGEMENT_KIND_TRANSPORTATION) {
      EXPECT_TRUE(a.destination().empty());
      EXPECT_EQ(a.pickup_at_micros(), 0);
      EXPECT_TRUE(a.day().empty());
      EXPECT_TRUE(a.vendor().empty());
      EXPECT_EQ(a.mobility(), MOBILITY_NEED_UNSPECIFIED);
      EXPECT_THAT(a.masked_fields(),
                  ::testing::IsSupersetOf({"transport", "accessibility"}));
    } else {
      EXPECT_EQ(a.location(), "near Main Campus");
      EXPECT_EQ(a.nights(), 2);
    }
  }
  EXPECT_EQ(p.SerializeAsString().find(kDestinationMarker), std::string::npos);
}

}  // namespace
}  // namespace carelog::services
