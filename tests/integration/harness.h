// tests/integration/harness.h — an in-process carelogd for integration tests:
// a temp data directory, a test token issuer (ES256 and EdDSA keys, JWKS
// written to a file and trusted by the server), the server on 127.0.0.1:0,
// clients over real channels, and helpers for tokens, call metadata and
// synthetic appends.
//
// Thread-safety: ServerTest is driven by the test thread; Token(), NewStub(),
// Authorize() and AppendOne() may also be called from helper threads while the
// server runs.
#ifndef CARELOG_TESTS_INTEGRATION_HARNESS_H_
#define CARELOG_TESTS_INTEGRATION_HARNESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "carelog/v1/ledger.grpc.pb.h"
#include "crypto/jwt.h"
#include "services/server/config.h"
#include "services/server/policy_access.h"
#include "services/server/server.h"
#include "storage/types.h"
#include "tests/testing/temp_dir.h"

namespace carelog::integration {

inline constexpr char kTestIssuer[] = "https://issuer.carelog.test";
inline constexpr char kTestAudience[] = "carelog";
inline constexpr char kEs256Kid[] = "it-es256";
inline constexpr char kEdDsaKid[] = "it-eddsa";
inline constexpr char kLedgerServiceName[] = "carelog.v1.LedgerService";

// Claims of a test token; the defaults make a valid ledger-admin token.
struct TokenOptions {
  std::string issuer = kTestIssuer;
  std::string subject = "op-0001";
  std::string audience = kTestAudience;
  std::vector<std::string> roles = {"ledger-admin"};
  absl::Time issued_at = absl::Now();
  absl::Duration ttl = absl::Minutes(10);
};

// Matches a grpc::Status with `code` whose message contains `substring`.
MATCHER_P2(GrpcStatusIs, code, substring, "") {
  *result_listener << "status " << arg.error_code() << " \""
                   << arg.error_message() << "\"";
  return arg.error_code() == code &&
         arg.error_message().find(substring) != std::string::npos;
}

// base64url without padding (RFC 7515 §2), for hand-made tokens.
std::string Base64Url(absl::string_view bytes);

// The default deadline of a test call: generous, so that only a hang fails.
inline constexpr absl::Duration kCallDeadline = absl::Seconds(15);

// Sets authorization ("Bearer <token>") and x-carelog-purpose metadata (each
// omitted when empty) and a deadline of kCallDeadline.
void Authorize(grpc::ClientContext* ctx, absl::string_view token,
               absl::string_view purpose = "HOPERAT");
void SetDeadline(grpc::ClientContext* ctx,
                 absl::Duration timeout = kCallDeadline);

// A plaintext channel to 127.0.0.1:port; every test channel is its own
// connection (no subchannel sharing), so one test's failures cannot leak
// into another's.
std::shared_ptr<grpc::Channel> InsecureChannel(int port);

// One synthetic event: command `command_id` appending to `stream` an event of
// `event_type` whose payload is `payload`, sealed under subject `subject`.
storage::AppendRequest Event(const std::string& command_id,
                             const std::string& stream,
                             const std::string& event_type,
                             const std::string& payload,
                             const std::string& subject = "subj-0001");

// The payload marker the read tests look for in what the server returns: it
// must never appear (payloads stay encrypted in envelopes).
inline constexpr char kPayloadMarker[] = "SYNTHETIC-PAYLOAD-MARKER-7f3a";

class ServerTest : public ::testing::Test {
 protected:
  ServerTest();
  ~ServerTest() override;

  // Starts the server with config_ (and policy_). Returns its status (tests
  // of start-up refusals); StartServer() asserts success.
  absl::Status TryStartServer();
  void StartServer();

  // Sets policy_ to the shipped default policy, as carelogd enforces it.
  void UseDefaultPolicy();

  // A valid token unless `o` says otherwise, signed by the ES256 key.
  std::string Token(const TokenOptions& o = {}) const;
  std::string TokenWithRoles(std::vector<std::string> roles) const;

  std::unique_ptr<carelog::v1::LedgerService::Stub> NewStub() const;

  // Appends one event through the server's ledger; fails the test on error.
  storage::AppendResult AppendOne(
      const std::string& command_id, const std::string& stream,
      const std::string& event_type = "carelog.test.Noted");

  // The server's log (JSON lines), as written so far.
  std::string ServerLog() const;

  testing::TempDir dir_;
  std::string jwks_path_;
  services::ServerConfig config_;
  std::unique_ptr<crypto::TokenSigner> es256_;
  std::unique_ptr<crypto::TokenSigner> eddsa_;
  // The access policy the server enforces; null: the built-in ledger rules.
  std::shared_ptr<const services::AccessPolicy> policy_;
  std::unique_ptr<services::CarelogServer> server_;
};

}  // namespace carelog::integration

#endif  // CARELOG_TESTS_INTEGRATION_HARNESS_H_
