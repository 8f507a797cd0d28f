// ops/bench/load_driver.h — the closed-loop load driver of carelog-loadbench:
// N callers, each with one request in flight at a time, issue operations back
// to back; after a warm-up, every completion inside the measurement window is
// counted and its latency recorded.
//
// Operation: RunClosedLoop() starts all callers at once; an operation is
// started by a LoadOp and reports its completion by calling done(ok, class)
// exactly once, from a gRPC callback thread. On completion the caller
// immediately starts its next operation until the window closes.
// RunBlockingLoop() runs one thread per caller around a blocking operation
// (the libpq driver). Both return when every caller has stopped.
// Concurrency: `done` may run concurrently for different callers; each
// caller's completions are serialized by construction (one in flight), so
// per-caller samples need no lock.
// Limitations: latency includes client-side queueing; a caller whose
// operation never completes makes Run() wait forever (operations carry
// deadlines for that reason).
#ifndef CARELOG_OPS_BENCH_LOAD_DRIVER_H_
#define CARELOG_OPS_BENCH_LOAD_DRIVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace carelog::bench {

struct LoadResult {
  uint64_t ops = 0;     // successful completions inside the window
  uint64_t errors = 0;  // failed completions inside the window
  double seconds = 0;   // window length
  double ops_per_second = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  // Latencies per operation class (e.g. reads and writes of a mixed load).
  struct ClassResult {
    uint64_t ops = 0;
    double p50_ms = 0, p99_ms = 0, p999_ms = 0;
  };
  std::vector<ClassResult> classes;
};

// Starts one operation for `caller` (0..callers-1; `seq` counts that caller's
// operations) and calls done(ok, class) exactly once when it completes
// (class: 0..classes-1, e.g. read or write of a mixed load). A caller stops
// after 1000 failed operations (a dead server must not recurse forever).
using LoadDone = std::function<void(bool ok, int cls)>;
using LoadOp = std::function<void(int caller, uint64_t seq, LoadDone done)>;

// Runs `op` with `callers` closed-loop callers: `warmup` unmeasured, then
// `measure` measured. Blocks until every caller has stopped.
LoadResult RunClosedLoop(int callers, absl::Duration warmup,
                         absl::Duration measure, int classes, const LoadOp& op);

// A blocking operation: returns success and sets *cls.
using BlockingOp = std::function<bool(int caller, uint64_t seq, int* cls)>;

// As RunClosedLoop, with one thread per caller calling `op` back to back.
LoadResult RunBlockingLoop(int callers, absl::Duration warmup,
                           absl::Duration measure, int classes,
                           const BlockingOp& op);

}  // namespace carelog::bench

#endif  // CARELOG_OPS_BENCH_LOAD_DRIVER_H_
