#include "services/server/request_context.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/server_context.h"

#include "crypto/hash.h"
#include "crypto/secret_key.h"

namespace carelog::services {

namespace {

absl::string_view Metadata(const grpc::ServerContextBase& call,
                           const char* key) {
  const auto& md = call.client_metadata();
  auto it = md.find(key);
  if (it == md.end())
    return {};
  return absl::string_view(it->second.data(), it->second.size());
}

bool ValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80           ? 1
               : (c >> 5) == 0x6  ? 2
               : (c >> 4) == 0xe  ? 3
               : (c >> 3) == 0x1e ? 4
                                  : 0;
    if (n == 0 || i + n > s.size())
      return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80)
        return false;
    }
    i += n;
  }
  return true;
}

std::string NewRequestId() {
  uint8_t b[12];
  crypto::RandomBytes(b, sizeof(b));
  return crypto::BytesToHex(
      absl::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
}

bool ValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 64)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_' || c == '.';
  });
}

}  // namespace

bool RequestContext::HasRole(absl::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool IsKnownPurpose(absl::string_view code) {
  // HL7 v3 PurposeOfUse (a subset relevant to patient support work).
  static constexpr absl::string_view kCodes[] = {
      "TREAT",    "ETREAT",  "CAREMGT",   "CLINTRCH", "HPAYMT", "COVERAGE",
      "ELIGDTRM", "HOPERAT", "HSYSADMIN", "HCOMPL",   "HLEGAL", "HRESCH",
      "PATRQT",   "PUBHLTH", "HDIRECT",   "FAMRQT"};
  return std::find(std::begin(kCodes), std::end(kCodes), code) !=
         std::end(kCodes);
}

Authenticator::Authenticator(std::unique_ptr<crypto::TokenVerifier> verifier,
                             const storage::Clock* clock)
    : verifier_(std::move(verifier)),
      clock_(clock != nullptr ? clock : storage::SystemClock::Get()) {}

absl::StatusOr<RequestContext> Authenticator::Authenticate(
    const grpc::ServerContextBase& call) const {
  RequestContext ctx;
  ctx.received_at = clock_->Now();
  ctx.client_address = call.peer();
  const absl::string_view rid = Metadata(call, kRequestIdHeader);
  ctx.request_id = ValidRequestId(rid) ? std::string(rid) : NewRequestId();

  // The calling service: the verified client certificate's identity.
  if (auto auth = call.auth_context(); auth && auth->IsPeerAuthenticated()) {
    for (const auto& id : auth->GetPeerIdentity()) {
      ctx.calling_service.assign(id.data(), id.size());
      break;
    }
  }

  const absl::string_view header = Metadata(call, kAuthorizationHeader);
  if (header.empty())
    return absl::UnauthenticatedError(
        "missing authorization metadata (Bearer token)");
  if (!absl::StartsWithIgnoreCase(header, "Bearer ")) {
    return absl::UnauthenticatedError(
        "authorization metadata is not a Bearer token");
  }
  absl::string_view token = absl::StripAsciiWhitespace(header.substr(7));
  if (verifier_ == nullptr)
    return absl::UnauthenticatedError("no token issuer configured");
  auto verified = verifier_->Verify(token, ctx.received_at);
  if (!verified.ok()) {
    return absl::UnauthenticatedError(verified.status().message());
  }
  ctx.actor = verified->subject;
  ctx.roles = verified->roles;
  ctx.issuer = verified->issuer;
  ctx.token_id = verified->token_id;

  const absl::string_view purpose = Metadata(call, kPurposeHeader);
  if (purpose.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        kPurposeHeader, ": required (HL7 PurposeOfUse code, e.g. TREAT)"));
  }
  if (!IsKnownPurpose(purpose)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kPurposeHeader, ": unknown purpose of use code"));
  }
  ctx.purpose = std::string(purpose);
  const absl::string_view reason = Metadata(call, kReasonHeader);
  if (reason.size() > kMaxReasonBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        kReasonHeader, ": longer than ", kMaxReasonBytes, " bytes"));
  }
  if (!ValidUtf8(reason)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kReasonHeader, ": not valid UTF-8"));
  }
  ctx.reason = std::string(reason);
  return ctx;
}

}  // namespace carelog::services
