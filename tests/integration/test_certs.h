// tests/integration/test_certs.h — a throw-away PKI for TLS tests, made with
// OpenSSL's C API at test time (nothing checked in, nothing long-lived):
// P-256 keys, a CA, a server certificate for localhost / 127.0.0.1, a client
// certificate for "svc-frontdesk" signed by the CA, and a second, untrusted CA
// with its own client certificate. Thread-safe (no shared state).
#ifndef CARELOG_TESTS_INTEGRATION_TEST_CERTS_H_
#define CARELOG_TESTS_INTEGRATION_TEST_CERTS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace carelog::integration {

inline constexpr char kClientCommonName[] = "svc-frontdesk";

struct TestPki {
  std::string ca_cert;  // PEM
  std::string
      server_cert;         // PEM, CN=localhost, SAN DNS:localhost, IP:127.0.0.1
  std::string server_key;  // PEM (PKCS#8)
  std::string client_cert;  // PEM, CN=svc-frontdesk, signed by ca_cert
  std::string client_key;
  std::string
      rogue_ca_cert;  // another CA with the same name, trusted by nobody
  std::string rogue_client_cert;  // CN=svc-frontdesk, signed by the rogue CA
  std::string rogue_client_key;
};

// Errors: INTERNAL naming the OpenSSL step that failed.
absl::StatusOr<TestPki> MakeTestPki();

// Writes `contents` to `path` with mode 0600. Errors: INTERNAL.
absl::Status WriteFile(const std::string& path, const std::string& contents);

}  // namespace carelog::integration

#endif  // CARELOG_TESTS_INTEGRATION_TEST_CERTS_H_
