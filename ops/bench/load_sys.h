// ops/bench/load_sys.h — what carelog-loadbench reads from /proc around each
// point: machine CPU use, a process's CPU time and memory, load average and
// host facts. Linux only. Pure functions over /proc; thread-safe.
#ifndef CARELOG_OPS_BENCH_LOAD_SYS_H_
#define CARELOG_OPS_BENCH_LOAD_SYS_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace carelog::bench {

struct SysSample {
  uint64_t machine_total = 0, machine_idle = 0;  // jiffies, /proc/stat
  uint64_t process_cpu = 0;  // utime + stime of the pid (jiffies); 0 if none
};
struct SysDelta {
  double machine_busy = 0;         // 0..1 over the point (all cores)
  double process_cpu_seconds = 0;  // scaled to the measured window
  double process_cpu_us_per_op(uint64_t ops) const {
    return ops ? 1e6 * process_cpu_seconds / ops : 0;
  }
};
struct ProcMemory {
  int64_t rss_kb = 0, peak_rss_kb = 0;  // VmRSS, VmHWM; 0 if unreadable
};

// CPU time (jiffies) of each thread of `pid`, summed by thread name with
// trailing digits and separators dropped ("proj-appts" and "rocksdb:low").
using ThreadCpu = std::map<std::string, uint64_t>;
ThreadCpu SampleThreads(int pid);
// The busiest names between two samples: (name, share of the process's CPU
// time), largest first, at most `top` of them.
std::vector<std::pair<std::string, double>> ThreadShares(const ThreadCpu& a,
                                                         const ThreadCpu& b,
                                                         size_t top);

// `pid` 0: machine only.
SysSample SampleSys(int pid);
// The change from `a` to `b` over a point of `warmup` + measured seconds;
// process CPU is scaled to the measured part (steady state assumed).
SysDelta Delta(const SysSample& a, const SysSample& b, double warmup_seconds,
               double measured_seconds);
ProcMemory ReadProcMemory(int pid);
// "/proc/loadavg"'s first three fields.
std::string LoadAverage();
// {"cpus":…, "cpu_model":…, "kernel":…}
nlohmann::ordered_json HostJson();

}  // namespace carelog::bench

#endif  // CARELOG_OPS_BENCH_LOAD_SYS_H_
