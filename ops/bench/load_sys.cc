#include "ops/bench/load_sys.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace carelog::bench {

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
  if (pid > 0) {
    std::ifstream ps("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(ps, line);
    // Fields after the command name (which may hold spaces) in parentheses.
    const size_t close = line.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest(line.substr(close + 2));
      std::string field;
      uint64_t utime = 0, stime = 0;
      for (int i = 3; rest >> field; ++i) {
        if (i == 14)
          utime = std::stoull(field);
        if (i == 15) {
          stime = std::stoull(field);
          break;
        }
      }
      s.process_cpu = utime + stime;
    }
  }
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
