// services/server/request_context.h — who is asking, for whom, and why.
//
// Every handler receives one RequestContext built by the Authenticator from
// the call: the person (verified JWT), their roles, the declared purpose of
// use (HL7 PurposeOfUse code) and reason, the calling service (mTLS client
// certificate identity), a request id and the client address.
// Thread-safety: RequestContext is plain data; Authenticator is immutable
// after construction and safe for concurrent use.
#ifndef CARELOG_SERVICES_SERVER_REQUEST_CONTEXT_H_
#define CARELOG_SERVICES_SERVER_REQUEST_CONTEXT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "crypto/jwt.h"
#include "storage/clock.h"

namespace grpc {
class ServerContextBase;
}

namespace carelog::services {

// Metadata keys (lower case, as gRPC requires).
inline constexpr char kAuthorizationHeader[] = "authorization";
inline constexpr char kPurposeHeader[] = "x-carelog-purpose";
inline constexpr char kReasonHeader[] = "x-carelog-reason";
inline constexpr char kRequestIdHeader[] = "x-request-id";
inline constexpr size_t kMaxReasonBytes = 512;

struct RequestContext {
  std::string actor;  // JWT "sub"
  std::vector<std::string> roles;
  std::string issuer;
  std::string token_id;
  std::string purpose;  // HL7 PurposeOfUse code, e.g. "TREAT"
  std::string reason;   // free text, may be required by policy; never logged
  std::string
      calling_service;     // client certificate identity; empty without mTLS
  std::string request_id;  // from x-request-id or generated
  std::string client_address;  // gRPC peer string
  absl::Time received_at;

  bool HasRole(absl::string_view role) const;
};

// True for a known HL7 v3 PurposeOfUse code (TREAT, ETREAT, HPAYMT, HOPERAT,
// …).
bool IsKnownPurpose(absl::string_view code);

class Authenticator {
 public:
  // `verifier` may be null only to build a context-less test authenticator.
  Authenticator(std::unique_ptr<crypto::TokenVerifier> verifier,
                const storage::Clock* clock);

  // Builds the request context of a call.
  // Errors: UNAUTHENTICATED naming the failed check (missing or malformed
  // authorization header, token verification); INVALID_ARGUMENT for a missing
  // or unknown purpose of use, or a reason that is too long or not UTF-8.
  absl::StatusOr<RequestContext> Authenticate(
      const grpc::ServerContextBase& call) const;

 private:
  std::unique_ptr<crypto::TokenVerifier> verifier_;
  const storage::Clock* clock_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SERVER_REQUEST_CONTEXT_H_
