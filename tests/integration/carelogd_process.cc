#include "tests/integration/carelogd_process.h"

#include <signal.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

#include "tests/integration/harness.h"

#ifndef CARELOGD_PATH
#error "CARELOGD_PATH must name the carelogd executable"
#endif
#ifndef CARELOGCTL_PATH
#error "CARELOGCTL_PATH must name the carelogctl executable"
#endif

namespace carelog::integration {

const char* CarelogdPath() {
  return CARELOGD_PATH;
}
const char* CarelogctlPath() {
  return CARELOGCTL_PATH;
}

std::string Describe(const ProcessResult& r) {
  return absl::StrCat("exit ", r.exit_code, " signal ", r.term_signal,
                      r.timed_out ? " (timed out)" : "", "\nstdout:\n", r.out,
                      "\nstderr:\n", r.err);
}

int IntField(absl::string_view line, absl::string_view key) {
  const std::string needle = absl::StrCat("\"", key, "\":");
  const size_t at = line.find(needle);
  if (at == absl::string_view::npos)
    return -1;
  size_t end = at + needle.size();
  while (end < line.size() && line[end] >= '0' && line[end] <= '9')
    ++end;
  int v = -1;
  if (!absl::SimpleAtoi(
          line.substr(at + needle.size(), end - at - needle.size()), &v))
    return -1;
  return v;
}

absl::Status GenerateKeyFile(const std::string& path) {
  const ProcessResult r =
      RunProcess({CarelogctlPath(), "keys", "generate", "--out", path});
  if (r.exit_code != 0)
    return absl::InternalError(
        absl::StrCat("carelogctl keys generate: ", Describe(r)));
  return absl::OkStatus();
}

absl::StatusOr<std::string> DevToken(const std::string& data_dir,
                                     const std::string& subject,
                                     const std::string& roles) {
  const ProcessResult r =
      RunProcess({CarelogctlPath(), "dev", "token", "--data-dir", data_dir,
                  "--sub", subject, "--roles", roles, "--ttl-minutes", "240"});
  if (r.exit_code != 0)
    return absl::InternalError(
        absl::StrCat("carelogctl dev token: ", Describe(r)));
  return std::string(absl::StripAsciiWhitespace(r.out));
}

ProcessResult VerifyOffline(const std::string& data_dir,
                            absl::Duration timeout) {
  return RunProcess({CarelogctlPath(), "verify", "--data-dir", data_dir},
                    timeout);
}

absl::StatusOr<std::unique_ptr<CarelogdProcess>> CarelogdProcess::Start(
    const std::string& data_dir, const std::string& key_file,
    const std::vector<std::string>& extra_args, absl::Duration timeout) {
  std::vector<std::string> argv = {
      CarelogdPath(),     "--dev",  "--listen",        "127.0.0.1:0",
      "--data-dir",       data_dir, "--key-file",      key_file,
      "--metrics-listen", "",       "--drain-seconds", "5"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto child = ChildProcess::Spawn(argv);
  if (!child.ok())
    return child.status();
  auto started =
      (*child)->WaitForStderrLine("\"server_started\"", absl::Now() + timeout);
  if (!started.ok())
    return started.status();
  std::unique_ptr<CarelogdProcess> p(new CarelogdProcess());
  p->port_ = IntField(*started, "port");
  if (p->port_ <= 0)
    return absl::InternalError(absl::StrCat("no port in: ", *started));
  p->child_ = std::move(*child);
  ChildProcess* c = p->child_.get();
  absl::Notification* drained = &p->drained_;
  p->drain_ = std::thread([c, drained] {
    c->DrainUntilClosed();
    drained->Notify();
  });
  return p;
}

CarelogdProcess::~CarelogdProcess() {
  if (drain_.joinable())
    Kill();
}

std::shared_ptr<grpc::Channel> CarelogdProcess::NewChannel() const {
  return InsecureChannel(port_);
}

ProcessResult CarelogdProcess::Reap(bool timed_out) {
  drained_.WaitForNotification();
  drain_.join();
  ProcessResult r = child_->Wait(absl::Now() + absl::Seconds(30));
  r.timed_out = r.timed_out || timed_out;
  return r;
}

ProcessResult CarelogdProcess::Kill() {
  child_->Signal(SIGKILL);
  return Reap(false);
}

ProcessResult CarelogdProcess::Stop(absl::Duration timeout) {
  child_->Signal(SIGTERM);
  if (drained_.WaitForNotificationWithTimeout(timeout))
    return Reap(false);
  child_->Signal(SIGKILL);
  return Reap(true);
}

}  // namespace carelog::integration
