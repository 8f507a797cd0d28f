#include "ops/bench/load_sys.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace carelog::bench {

namespace {

// utime + stime from a /proc/.../stat line (fields 14 and 15; the command
// name in parentheses may hold spaces).
uint64_t CpuFromStat(const std::string& line) {
  const size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 > line.size())
    return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  uint64_t utime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    if (i == 15)
      return utime + std::stoull(field);
  }
  return 0;
}

std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

ThreadCpu SampleThreads(int pid) {
  ThreadCpu out;
  std::error_code ec;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string task = e.path().string();
    std::string name = ReadLine(task + "/comm");
    while (!name.empty() &&
           (std::isdigit(static_cast<unsigned char>(name.back())) ||
            name.back() == '-' || name.back() == '_'))
      name.pop_back();
    out[name.empty() ? "?" : name] += CpuFromStat(ReadLine(task + "/stat"));
  }
  return out;
}

std::vector<std::pair<std::string, double>> ThreadShares(const ThreadCpu& a,
                                                         const ThreadCpu& b,
                                                         size_t top) {
  std::vector<std::pair<std::string, double>> v;
  double total = 0;
  for (const auto& [name, cpu] : b) {
    auto it = a.find(name);
    const uint64_t before = it == a.end() ? 0 : it->second;
    // Threads that exited between the samples make a name shrink.
    const double d = cpu > before ? static_cast<double>(cpu - before) : 0;
    total += d;
    v.emplace_back(name, d);
  }
  for (auto& [name, d] : v)
    d = total > 0 ? d / total : 0;
  std::sort(v.begin(), v.end(),
            [](const auto& x, const auto& y) { return x.second > y.second; });
  if (v.size() > top)
    v.resize(top);
  return v;
}

SysSample SampleSys(int pid) {
  SysSample s;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  stat >> cpu;
  std::vector<uint64_t> v;
  uint64_t x = 0;
  for (int i = 0; i < 8 && stat >> x; ++i)
    v.push_back(x);
  for (uint64_t j : v)
    s.machine_total += j;
  if (v.size() >= 5)
    s.machine_idle = v[3] + v[4];  // idle + iowait
  if (pid > 0)
    s.process_cpu =
        CpuFromStat(ReadLine("/proc/" + std::to_string(pid) + "/stat"));
  return s;
}

SysDelta Delta(const SysSample& a, const SysSample& b, double warmup_seconds,
               double measured_seconds) {
  SysDelta d;
  const double total = static_cast<double>(b.machine_total - a.machine_total);
  const double idle = static_cast<double>(b.machine_idle - a.machine_idle);
  if (total > 0)
    d.machine_busy = 1 - idle / total;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double share = measured_seconds / (warmup_seconds + measured_seconds);
  d.process_cpu_seconds = (b.process_cpu - a.process_cpu) / hz * share;
  return d;
}

ProcMemory ReadProcMemory(int pid) {
  ProcMemory m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:")
      in >> m.rss_kb;
    else if (key == "VmHWM:")
      in >> m.peak_rss_kb;
    std::string rest;
    std::getline(in, rest);
  }
  return m;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

nlohmann::ordered_json HostJson() {
  std::string model;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  uname(&u);
  return {{"cpus", std::thread::hardware_concurrency()},
          {"cpu_model", model},
          {"kernel", std::string(u.release)}};
}

}  // namespace carelog::bench
