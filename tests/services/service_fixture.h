// tests/services/service_fixture.h — the in-process carelogd every service
// test talks to over a real channel: a fresh data directory, the default
// policy, a test token issuer, and helpers to call as a given role, register
// a synthetic patient, and read back what a stream holds.
#ifndef CARELOG_TESTS_SERVICES_SERVICE_FIXTURE_H_
#define CARELOG_TESTS_SERVICES_SERVICE_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/patients.grpc.pb.h"
#include "crypto/jwt.h"
#include "services/domain/event_codec.h"
#include "services/server/server.h"
#include "tests/testing/temp_dir.h"

namespace carelog::testing {

inline constexpr char kTestIssuer[] = "https://issuer.carelog.test";

// Who calls: role, purpose of use, token subject and (break-the-glass) a
// reason; by default the front desk.
struct Caller {
  Caller() : Caller("front_desk", "HOPERAT", "fd-0001") {}  // the front desk
  Caller(std::string role, std::string purpose, std::string sub,
         std::string reason = "")
      : role(std::move(role)),
        purpose(std::move(purpose)),
        sub(std::move(sub)),
        reason(std::move(reason)) {}
  std::string role;
  std::string purpose;
  std::string sub;
  std::string reason;
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(""); }
  // Starts carelogd's server with config_ under `policy_file` ("" = the
  // default policy); tests that change config_ first call it themselves.
  void StartServer(const std::string& policy_file);

  std::string Token(const std::string& sub, std::vector<std::string> roles);
  // Bearer token, purpose (and reason) metadata, and a deadline.
  void Prepare(grpc::ClientContext* ctx, const Caller& who = Caller(),
               absl::Duration deadline = absl::Seconds(20));
  void Prepare(grpc::ClientContext* ctx, const std::string& role,
               const std::string& purpose = "HOPERAT",
               const std::string& sub = "fd-0001",
               absl::Duration deadline = absl::Seconds(20)) {
    Prepare(ctx, Caller(role, purpose, sub), deadline);
  }

  // A synthetic patient: Synthia Testperson, born 1980-02-29, phone
  // +1-555-0100, preferred language es-MX.
  static v1::RegisterPatientRequest SampleRegistration(
      const std::string& command_id);
  // Registers `request` as `who`; returns the patient id and, when asked, the
  // command's position. A failure is a test failure and returns "".
  std::string RegisterPatient(const v1::RegisterPatientRequest& request,
                              uint64_t* position = nullptr,
                              const Caller& who = Caller());
  std::string Register(const std::string& command_id) {
    return RegisterPatient(SampleRegistration(command_id));
  }

  uint64_t Head() { return server_->ledger()->GetHead().position; }
  // The decoded events of one stream (up to 1,000).
  std::vector<services::DecodedEvent> StreamEvents(const std::string& stream);

  TempDir dir_;
  services::ServerConfig config_;
  std::unique_ptr<crypto::TokenSigner> signer_;
  std::unique_ptr<services::CarelogServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PatientService::Stub> patients_;
};

}  // namespace carelog::testing

#endif  // CARELOG_TESTS_SERVICES_SERVICE_FIXTURE_H_
