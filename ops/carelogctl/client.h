// ops/carelogctl/client.h — how carelogctl's online commands reach carelogd:
// the client flags every online command shares (--server, --token,
// --token-file, --purpose, --reason, --ca/--cert/--key, --timeout), the
// channel, the call metadata, and the exit code of a failed call.
// Single-threaded CLI code.
#ifndef CARELOG_OPS_CARELOGCTL_CLIENT_H_
#define CARELOG_OPS_CARELOGCTL_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"

#include "CLI/CLI.hpp"

namespace carelog::ctl {

struct ClientFlags {
  std::string server = "127.0.0.1:50051";
  std::string token;
  std::string token_file;
  std::string purpose = "HOPERAT";
  std::string reason;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  double timeout_seconds = 10;
  // Every --server option bound to these flags (one per subcommand sharing
  // them): tells whether --server was given.
  std::vector<CLI::Option*> server_options;
};

// Adds the flags above to `cmd`. `purpose` is the default purpose of use;
// without `reason_flag` the command fills f->reason itself (its own --reason).
void AddClientFlags(CLI::App* cmd, ClientFlags* f,
                    absl::string_view purpose = "HOPERAT",
                    bool reason_flag = true);

// True when the command line named a server or a token: the command runs
// online.
bool WantsServer(const ClientFlags& f);

// For commands that run both ways: true (online) with --server/--token, false
// (offline) with --data-dir. Errors: INVALID_ARGUMENT when both or neither are
// given.
absl::StatusOr<bool> ChooseOnline(const std::string& data_dir,
                                  const ClientFlags& f);

// A channel to f.server: TLS with --ca (and mTLS with --cert/--key), else
// plaintext. Errors: NOT_FOUND for an unreadable certificate file.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ClientFlags& f);

// Bearer token (--token, --token-file, else $CARELOG_TOKEN), purpose, reason
// and a deadline of f.timeout_seconds. Errors: INVALID_ARGUMENT naming
// --token when there is none; NOT_FOUND for an unreadable token file.
absl::Status PrepareContext(const ClientFlags& f, grpc::ClientContext* ctx);

// Prints "carelogctl <what>: <code name>: <message>" to stderr and returns the
// exit code for a failed call: 2 INVALID_ARGUMENT / NOT_FOUND /
// ALREADY_EXISTS; 3 DATA_LOSS; 1 otherwise (unavailable, denied, …).
int FailCall(absl::string_view what, const grpc::Status& s);

}  // namespace carelog::ctl

#endif  // CARELOG_OPS_CARELOGCTL_CLIENT_H_
