// tests/integration/carelogd_process.h — the real carelogd binary as a child
// process for fault trials: a development server on 127.0.0.1:0 over a given
// data directory and key file, its bound port read from the server_started
// log line, development tokens minted by carelogctl, SIGKILL and SIGTERM.
// The executables' paths come from CARELOGD_PATH / CARELOGCTL_PATH (compile
// definitions of the carelog_it_process library).
// Thread-safety: a CarelogdProcess belongs to one thread; Channel() results
// and the free functions may be used from any thread.
#ifndef CARELOG_TESTS_INTEGRATION_CARELOGD_PROCESS_H_
#define CARELOG_TESTS_INTEGRATION_CARELOGD_PROCESS_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "tests/integration/subprocess.h"

namespace carelog::integration {

const char* CarelogdPath();
const char* CarelogctlPath();

// "exit N signal S\nstdout:…\nstderr:…" for failure messages.
std::string Describe(const ProcessResult& r);

// The integer value of "key":N in a JSON log line, or -1.
int IntField(absl::string_view line, absl::string_view key);

// `carelogctl keys generate --out path`. Errors: INTERNAL with its output.
absl::Status GenerateKeyFile(const std::string& path);

// A development token for `subject` with `roles` (comma-separated), minted by
// `carelogctl dev token` from the dev issuer key under `data_dir` (which a dev
// server created). Errors: INTERNAL with carelogctl's output.
absl::StatusOr<std::string> DevToken(const std::string& data_dir,
                                     const std::string& subject,
                                     const std::string& roles);

// `carelogctl verify --data-dir dir` (offline; the server must be stopped).
ProcessResult VerifyOffline(const std::string& data_dir,
                            absl::Duration timeout = absl::Minutes(2));

class CarelogdProcess {
 public:
  // Spawns `carelogd --dev --listen 127.0.0.1:0 --data-dir D --key-file K
  // --metrics-listen ""` plus `extra_args`, and waits until it logs
  // server_started. Errors: DEADLINE_EXCEEDED / UNAVAILABLE (with the
  // server's stderr, e.g. why it refused to start) if it did not start.
  static absl::StatusOr<std::unique_ptr<CarelogdProcess>> Start(
      const std::string& data_dir, const std::string& key_file,
      const std::vector<std::string>& extra_args = {},
      absl::Duration timeout = absl::Seconds(60));

  ~CarelogdProcess();  // SIGKILLs a server still running

  int port() const { return port_; }
  // A fresh plaintext channel to the server (its own connection).
  std::shared_ptr<grpc::Channel> NewChannel() const;

  // SIGKILL, then reap: no drain, no flush — a crash.
  ProcessResult Kill();
  // SIGTERM (graceful drain), then reap; SIGKILL if it has not exited within
  // `timeout` (the result then says timed_out).
  ProcessResult Stop(absl::Duration timeout = absl::Seconds(60));

 private:
  CarelogdProcess() = default;
  ProcessResult Reap(bool timed_out);

  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
  // Keeps the server's stderr (a JSON line per RPC) flowing once started.
  std::thread drain_;
  absl::Notification drained_;
};

}  // namespace carelog::integration

#endif  // CARELOG_TESTS_INTEGRATION_CARELOGD_PROCESS_H_
