#include "tests/integration/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace carelog::integration {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv) {
  if (argv.empty())
    return absl::InvalidArgumentError("argv: empty");
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return absl::InternalError("pipe2");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return absl::InternalError("pipe2");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1],
                                   1);  // dup2 clears O_CLOEXEC
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr,
                               args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return absl::InternalError(
        absl::StrCat("posix_spawn ", argv[0], ": errno ", rc));
  }
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = pid;
  child->out_fd_ = out[0];
  child->err_fd_ = err[0];
  return child;
}

ChildProcess::~ChildProcess() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0)
    ::close(out_fd_);
  if (err_fd_ >= 0)
    ::close(err_fd_);
}

bool ChildProcess::Pump(absl::Time deadline) {
  pollfd fds[2];
  int n = 0;
  if (out_fd_ >= 0)
    fds[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0)
    fds[n++] = {err_fd_, POLLIN, 0};
  if (n == 0)
    return false;
  const int64_t ms = std::max<int64_t>(
      0, absl::ToInt64Milliseconds(deadline - absl::Now()) + 1);
  const int ready =
      ::poll(fds, n, static_cast<int>(std::min<int64_t>(ms, 60000)));
  if (ready < 0)
    return errno == EINTR;
  if (ready == 0)
    return absl::Now() < deadline;
  for (int i = 0; i < n; ++i) {
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
      continue;
    char buf[65536];
    const ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR)
      continue;
    std::string& sink = fds[i].fd == out_fd_ ? out_ : err_;
    if (got <= 0) {
      ::close(fds[i].fd);
      (fds[i].fd == out_fd_ ? out_fd_ : err_fd_) = -1;
    } else {
      sink.append(buf, static_cast<size_t>(got));
    }
  }
  return true;
}

absl::StatusOr<std::string> ChildProcess::WaitForStderrLine(
    absl::string_view needle, absl::Time deadline) {
  for (;;) {
    for (size_t nl;
         (nl = err_.find('\n', err_scanned_)) != std::string::npos;) {
      std::string line = err_.substr(err_scanned_, nl - err_scanned_);
      err_scanned_ = nl + 1;
      if (absl::string_view(line).find(needle) != absl::string_view::npos)
        return line;
    }
    if (err_fd_ < 0) {
      return absl::UnavailableError(absl::StrCat(
          "stderr closed before a line with \"", needle, "\"; stderr: ", err_));
    }
    if (!Pump(deadline) && absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no stderr line with \"", needle, "\"; stderr: ", err_));
    }
  }
}

void ChildProcess::Signal(int sig) {
  if (!reaped_ && pid_ > 0)
    ::kill(pid_, sig);
}

void ChildProcess::DrainUntilClosed() {
  while (out_fd_ >= 0 || err_fd_ >= 0)
    Pump(absl::InfiniteFuture());
}

ProcessResult ChildProcess::Wait(absl::Time deadline) {
  ProcessResult r;
  while (out_fd_ >= 0 || err_fd_ >= 0) {
    if (!Pump(deadline) && absl::Now() >= deadline)
      break;
  }
  if (out_fd_ >= 0 || err_fd_ >= 0) {
    r.timed_out = true;
    ::kill(pid_, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (WIFEXITED(status))
    r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    r.term_signal = WTERMSIG(status);
  r.out = out_;
  r.err = err_;
  return r;
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         absl::Duration timeout) {
  auto child = ChildProcess::Spawn(argv);
  if (!child.ok()) {
    ProcessResult r;
    r.err = std::string(child.status().message());
    return r;
  }
  return (*child)->Wait(absl::Now() + timeout);
}

}  // namespace carelog::integration
