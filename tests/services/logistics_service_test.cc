// LogisticsService end to end over a real channel: every RPC's happy path,
// invalid inputs named and appending nothing, idempotent retries, state rules
// and enforcement with audit.
#include "services/logistics/logistics_service.h"

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "carelog/v1/logistics.grpc.pb.h"
#include "carelog/v1/patients.grpc.pb.h"
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

using carelog::testing::Caller;

using ::carelog::testing::IsOk;
using ::testing::HasSubstr;
using namespace carelog::v1;  // NOLINT

const Caller kCoordinator{"logistics_coordinator", "HOPERAT", "lc-0001"};
const Caller kFrontDesk{"front_desk", "HOPERAT", "fd-0001"};
const Caller kClerk{"billing_clerk", "HPAYMT", "bill-0001"};

class LogisticsServiceTest : public carelog::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure())
      return;
    stub_ = LogisticsService::NewStub(channel_);
  }

  template <typename Req>
  grpc::Status Call(grpc::Status (LogisticsService::Stub::*method)(
                        grpc::ClientContext*, const Req&,
                        LogisticsCommandReply*),
                    const Req& req, LogisticsCommandReply* reply,
                    const Caller& who = kCoordinator) {
    grpc::ClientContext ctx;
    Prepare(&ctx, who);
    return (stub_.get()->*method)(&ctx, req, reply);
  }

  static RequestTransportationRequest Transport(const std::string& command_id,
                                                const std::string& patient_id) {
    RequestTransportationRequest r;
    r.set_command_id(command_id);
    r.set_patient_id(patient_id);
    r.mutable_pickup_address()->add_lines("1 Synthetic Way");
    r.mutable_pickup_address()->set_city("Testville");
    r.set_pickup_at_micros(
        1'900'000'000'000'000);  // 2030-03-17, fixed: retries must be identical
    r.set_destination("Main Campus");
    r.set_mobility(MOBILITY_NEED_WHEELCHAIR);
    r.set_escort(true);
    return r;
  }

  static RequestLodgingRequest Lodging(const std::string& command_id,
                                       const std::string& patient_id) {
    RequestLodgingRequest r;
    r.set_command_id(command_id);
    r.set_patient_id(patient_id);
    r.mutable_check_in()->set_year(2026);
    r.mutable_check_in()->set_month(12);
    r.mutable_check_in()->set_day(30);
    r.mutable_check_out()->set_year(2027);
    r.mutable_check_out()->set_month(1);
    r.mutable_check_out()->set_day(2);
    r.set_nights(3);
    r.set_location("near Main Campus");
    r.set_guests(2);
    return r;
  }

  template <typename Req>
  static Req On(const std::string& command_id, const std::string& patient_id,
                const std::string& arrangement_id) {
    Req r;
    r.set_command_id(command_id);
    r.set_patient_id(patient_id);
    r.set_arrangement_id(arrangement_id);
    return r;
  }

  std::unique_ptr<LogisticsService::Stub> stub_;
};

TEST_F(LogisticsServiceTest,
       TransportationRunsRequestedToCompletedAndLodgingIsCancelled) {
  const std::string id = Register("reg-1");
  LogisticsCommandReply r;
  grpc::Status s = Call(&LogisticsService::Stub::RequestTransportation,
                        Transport("trn-1", id), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string trip = r.arrangement_id();
  ASSERT_FALSE(trip.empty());
  EXPECT_EQ(r.result().position(), Head());

  auto arrange = On<ArrangeLogisticsRequest>("arr-1", id, trip);
  arrange.set_vendor("Synthetic Medical Transport");
  arrange.set_vendor_reference("SMT-42");
  ASSERT_TRUE(
      Call(&LogisticsService::Stub::ArrangeLogistics, arrange, &r).ok());
  EXPECT_EQ(r.arrangement_id(), trip);
  ASSERT_TRUE(Call(&LogisticsService::Stub::ConfirmLogistics,
                   On<ConfirmLogisticsRequest>("conf-1", id, trip), &r)
                  .ok());
  ASSERT_TRUE(Call(&LogisticsService::Stub::CompleteLogistics,
                   On<CompleteLogisticsRequest>("done-1", id, trip), &r)
                  .ok());
  EXPECT_EQ(Call(&LogisticsService::Stub::CompleteLogistics,
                 On<CompleteLogisticsRequest>("done-2", id, trip), &r)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  auto cancel = On<CancelLogisticsRequest>("cancel-done", id, trip);
  cancel.set_reason("too late");
  EXPECT_EQ(
      Call(&LogisticsService::Stub::CancelLogistics, cancel, &r).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  auto events = StreamEvents(ArrangementStream(trip));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].header.event_type, "carelog.v1.TransportationRequested");
  EXPECT_EQ(events[0].header.subject_id, id);
  EXPECT_EQ(events[0].meta.actor(), kCoordinator.sub);
  EXPECT_EQ(events[3].header.event_type, "carelog.v1.LogisticsCompleted");

  // The patient requests lodging for themself and cancels it; confirming
  // it afterwards is refused.
  const Caller self{"patient", "PATRQT", id};
  s = Call(&LogisticsService::Stub::RequestLodging, Lodging("lodg-1", id), &r,
           self);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string stay = r.arrangement_id();
  cancel = On<CancelLogisticsRequest>("cancel-1", id, stay);
  cancel.set_reason("staying with family");
  s = Call(&LogisticsService::Stub::CancelLogistics, cancel, &r, self);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Call(&LogisticsService::Stub::ConfirmLogistics,
                 On<ConfirmLogisticsRequest>("conf-2", id, stay), &r)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Call(&LogisticsService::Stub::ConfirmLogistics,
                 On<ConfirmLogisticsRequest>("conf-3", id, "lodg-404"), &r)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(LogisticsServiceTest, InvalidFieldsAreRejectedByNameAndAppendNothing) {
  const std::string id = Register("reg-1");
  LogisticsCommandReply r;
  ASSERT_TRUE(
      Call(&LogisticsService::Stub::RequestLodging, Lodging("lodg-1", id), &r)
          .ok());
  const std::string stay = r.arrangement_id();
  const uint64_t head = Head();
  struct Case {
    std::string field;
    std::function<grpc::Status(LogisticsCommandReply*)> call;
  };
  std::vector<Case> cases;
  auto transport =
      [&](const std::string& field,
          std::function<void(RequestTransportationRequest*)> mutate) {
        auto req = Transport("bad", id);
        mutate(&req);
        cases.push_back({field, [this, req](LogisticsCommandReply* rep) {
                           return Call(
                               &LogisticsService::Stub::RequestTransportation,
                               req, rep);
                         }});
      };
  auto lodging = [&](const std::string& field,
                     std::function<void(RequestLodgingRequest*)> mutate) {
    auto req = Lodging("bad", id);
    mutate(&req);
    cases.push_back({field, [this, req](LogisticsCommandReply* rep) {
                       return Call(&LogisticsService::Stub::RequestLodging, req,
                                   rep);
                     }});
  };
  transport("command_id", [](RequestTransportationRequest* q) {
    q->set_command_id("has space");
  });
  transport("patient_id",
            [](RequestTransportationRequest* q) { q->clear_patient_id(); });
  transport("pickup_address.lines", [](RequestTransportationRequest* q) {
    q->mutable_pickup_address()->clear_lines();
  });
  transport("pickup_address.city", [](RequestTransportationRequest* q) {
    q->mutable_pickup_address()->clear_city();
  });
  transport("pickup_at_micros", [](RequestTransportationRequest* q) {
    q->set_pickup_at_micros(-1);
  });
  transport("destination",
            [](RequestTransportationRequest* q) { q->clear_destination(); });
  transport("mobility", [](RequestTransportationRequest* q) {
    q->set_mobility(static_cast<MobilityNeed>(77));
  });
  lodging("check_in",
          [](RequestLodgingRequest* q) { q->mutable_check_in()->set_day(32); });
  lodging("check_out", [](RequestLodgingRequest* q) {
    *q->mutable_check_out() = q->check_in();
  });
  lodging("nights", [](RequestLodgingRequest* q) { q->set_nights(4); });
  lodging("location",
          [](RequestLodgingRequest* q) { q->set_location("bad\x02location"); });
  lodging("guests", [](RequestLodgingRequest* q) { q->set_guests(-1); });
  {
    auto req = On<ArrangeLogisticsRequest>("bad", id, stay);
    cases.push_back({"vendor", [this, req](LogisticsCommandReply* rep) {
                       return Call(&LogisticsService::Stub::ArrangeLogistics,
                                   req, rep);
                     }});
  }
  {
    auto req = On<ConfirmLogisticsRequest>("bad", id, "");
    cases.push_back({"arrangement_id", [this, req](LogisticsCommandReply* rep) {
                       return Call(&LogisticsService::Stub::ConfirmLogistics,
                                   req, rep);
                     }});
  }
  {
    auto req = On<CancelLogisticsRequest>("bad", id, stay);
    cases.push_back({"reason", [this, req](LogisticsCommandReply* rep) {
                       return Call(&LogisticsService::Stub::CancelLogistics,
                                   req, rep);
                     }});
  }
  {
    auto req = On<CompleteLogisticsRequest>("bad", "pt/../x", stay);
    cases.push_back({"patient_id", [this, req](LogisticsCommandReply* rep) {
                       return Call(&LogisticsService::Stub::CompleteLogistics,
                                   req, rep);
                     }});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    LogisticsCommandReply rep;
    grpc::Status s = c.call(&rep);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.field + ":"));
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("Synthetic Way")));
  }
  EXPECT_EQ(Head(), head);
}

TEST_F(LogisticsServiceTest, RetryReturnsTheFirstReplyAndAppendsNothing) {
  const std::string id = Register("reg-1");
  LogisticsCommandReply first, again;
  ASSERT_TRUE(Call(&LogisticsService::Stub::RequestTransportation,
                   Transport("trn-retry", id), &first)
                  .ok());
  uint64_t head = Head();
  ASSERT_TRUE(Call(&LogisticsService::Stub::RequestTransportation,
                   Transport("trn-retry", id), &again)
                  .ok());
  EXPECT_TRUE(again.result().duplicate());
  EXPECT_EQ(again.arrangement_id(), first.arrangement_id());
  EXPECT_EQ(again.result().position(), first.result().position());
  EXPECT_EQ(Head(), head);
  auto arrange =
      On<ArrangeLogisticsRequest>("arr-retry", id, first.arrangement_id());
  arrange.set_vendor("Synthetic Cabs");
  ASSERT_TRUE(
      Call(&LogisticsService::Stub::ArrangeLogistics, arrange, &first).ok());
  head = Head();
  // The retry is answered from the ledger, not refused by the new state.
  ASSERT_TRUE(
      Call(&LogisticsService::Stub::ArrangeLogistics, arrange, &again).ok());
  EXPECT_TRUE(again.result().duplicate());
  EXPECT_EQ(Head(), head);
}

TEST_F(LogisticsServiceTest, DeniedRolesAreAuditedAndChangeNothingElse) {
  const std::string id = Register("reg-1");
  uint64_t head = Head();
  LogisticsCommandReply r;
  EXPECT_EQ(Call(&LogisticsService::Stub::RequestTransportation,
                 Transport("trn-denied", id), &r, kClerk)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), head + 1);
  auto audit = StreamEvents("audit/" + id);
  ASSERT_FALSE(audit.empty());
  AccessAudited denied;
  ASSERT_TRUE(audit.back().As(&denied));
  EXPECT_EQ(denied.outcome(), ACCESS_OUTCOME_DENIED);
  EXPECT_EQ(denied.actor(), kClerk.sub);
  EXPECT_EQ(denied.resource(), "logistics");
  EXPECT_EQ(denied.action(), "write");

  // The patient may request but not arrange.
  const Caller self{"patient", "PATRQT", id};
  ASSERT_TRUE(Call(&LogisticsService::Stub::RequestLodging,
                   Lodging("lodg-1", id), &r, self)
                  .ok());
  auto arrange =
      On<ArrangeLogisticsRequest>("arr-self", id, r.arrangement_id());
  arrange.set_vendor("Synthetic Inn");
  head = Head();
  EXPECT_EQ(Call(&LogisticsService::Stub::ArrangeLogistics, arrange, &r, self)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Head(), head + 1);
}

}  // namespace
}  // namespace carelog::services
