// tests/integration/subprocess.h — run the carelogd / carelogctl binaries as
// child processes: capture stdout and stderr through pipes, wait for a log
// line or for exit against a deadline (poll(2), no sleeps), send signals.
// Thread-safety: a ChildProcess belongs to one thread.
#ifndef CARELOG_TESTS_INTEGRATION_SUBPROCESS_H_
#define CARELOG_TESTS_INTEGRATION_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace carelog::integration {

struct ProcessResult {
  int exit_code = -1;      // -1 when killed by a signal
  int term_signal = 0;     // the signal that ended it, if any
  bool timed_out = false;  // the deadline passed; the child was SIGKILLed
  std::string out;
  std::string err;
};

class ChildProcess {
 public:
  // Starts argv[0] (a path) with stdin from /dev/null.
  // Errors: INTERNAL if pipes or posix_spawn fail.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(
      const std::vector<std::string>& argv);
  ~ChildProcess();  // SIGKILLs and reaps a child still running

  // Reads output until a stderr line containing `needle` has arrived; returns
  // that line. Errors: DEADLINE_EXCEEDED; UNAVAILABLE if stderr closed first.
  absl::StatusOr<std::string> WaitForStderrLine(absl::string_view needle,
                                                absl::Time deadline);

  void Signal(int sig);

  // Reads output until both pipes close (the child exited), without reaping:
  // run on a helper thread, it keeps a chatty child from blocking on a full
  // pipe. Meanwhile other threads may only call Signal(); Wait() after it.
  void DrainUntilClosed();

  // Reads all output to EOF and reaps the child; SIGKILLs it at `deadline`.
  ProcessResult Wait(absl::Time deadline);

  const std::string& err() const { return err_; }

 private:
  ChildProcess() = default;
  // Reads what is available on open pipes, waiting until `deadline` for
  // something. False when the deadline passed or both pipes are closed.
  bool Pump(absl::Time deadline);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  size_t err_scanned_ = 0;
  bool reaped_ = false;
};

// Runs a command to completion (deadline: now + timeout).
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         absl::Duration timeout = absl::Seconds(30));

}  // namespace carelog::integration

#endif  // CARELOG_TESTS_INTEGRATION_SUBPROCESS_H_
