#include "ops/carelogctl/client.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "services/server/request_context.h"

namespace carelog::ctl {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void AddClientFlags(CLI::App* cmd, ClientFlags* f, absl::string_view purpose,
                    bool reason_flag) {
  f->purpose = std::string(purpose);
  f->server_options.push_back(
      cmd->add_option("--server", f->server, "carelogd address host:port")
          ->default_str(f->server));
  cmd->add_option("--token", f->token, "bearer token (or CARELOG_TOKEN)");
  cmd->add_option("--token-file", f->token_file,
                  "file holding the bearer token");
  cmd->add_option("--purpose", f->purpose, "HL7 purpose of use")
      ->default_str(f->purpose);
  if (reason_flag) {
    cmd->add_option("--reason", f->reason,
                    "reason for access (when the policy requires one)");
  }
  cmd->add_option("--ca", f->ca_file,
                  "CA bundle to verify the server (enables TLS)");
  cmd->add_option("--cert", f->cert_file, "client certificate for mTLS");
  cmd->add_option("--key", f->key_file, "client private key for mTLS");
  cmd->add_option("--timeout", f->timeout_seconds,
                  "per-call deadline in seconds")
      ->default_str(absl::StrCat(f->timeout_seconds));
}

bool WantsServer(const ClientFlags& f) {
  for (const CLI::Option* o : f.server_options) {
    if (o->count() > 0)
      return true;
  }
  return !f.token.empty() || !f.token_file.empty();
}

absl::StatusOr<bool> ChooseOnline(const std::string& data_dir,
                                  const ClientFlags& f) {
  const bool online = WantsServer(f);
  if (online && !data_dir.empty()) {
    return absl::InvalidArgumentError(
        "--data-dir: give either --data-dir (a stopped carelogd) or "
        "--server/--token (a running one), not both");
  }
  if (!online && data_dir.empty()) {
    return absl::InvalidArgumentError(
        "--data-dir: required for a stopped carelogd; for a running one give "
        "--server ADDR and --token (or --token-file)");
  }
  return online;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ClientFlags& f) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (f.ca_file.empty()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions o;
    auto ca = ReadWholeFile(f.ca_file);
    if (!ca.ok())
      return ca.status();
    o.pem_root_certs = *ca;
    if (!f.cert_file.empty()) {
      auto cert = ReadWholeFile(f.cert_file);
      auto key = ReadWholeFile(f.key_file);
      if (!cert.ok())
        return cert.status();
      if (!key.ok())
        return key.status();
      o.pem_cert_chain = *cert;
      o.pem_private_key = *key;
    }
    creds = grpc::SslCredentials(o);
  }
  return grpc::CreateChannel(f.server, creds);
}

absl::Status PrepareContext(const ClientFlags& f, grpc::ClientContext* ctx) {
  std::string token = f.token;
  if (token.empty() && !f.token_file.empty()) {
    auto t = ReadWholeFile(f.token_file);
    if (!t.ok())
      return t.status();
    token = std::string(absl::StripAsciiWhitespace(*t));
  }
  if (token.empty()) {
    if (const char* env = std::getenv("CARELOG_TOKEN"))
      token = env;
  }
  if (token.empty())
    return absl::InvalidArgumentError(
        "--token: required (or --token-file, or CARELOG_TOKEN)");
  ctx->AddMetadata(services::kAuthorizationHeader, "Bearer " + token);
  ctx->AddMetadata(services::kPurposeHeader, f.purpose);
  if (!f.reason.empty())
    ctx->AddMetadata(services::kReasonHeader, f.reason);
  ctx->set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(f.timeout_seconds)));
  return absl::OkStatus();
}

int FailCall(absl::string_view what, const grpc::Status& s) {
  const auto code = static_cast<absl::StatusCode>(s.error_code());
  std::fprintf(stderr, "carelogctl %s: %s: %s\n", std::string(what).c_str(),
               absl::StatusCodeToString(code).c_str(),
               s.error_message().c_str());
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
      return 2;
    case absl::StatusCode::kDataLoss:
      return 3;
    default:
      return 1;
  }
}

}  // namespace carelog::ctl
