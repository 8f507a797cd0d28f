#include "ops/bench/load_driver.h"

#include <algorithm>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace carelog::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMaxErrorsPerCaller = 1000;

struct Caller {
  std::vector<std::vector<uint32_t>> micros;  // per class, inside the window
  uint64_t ok = 0;
  uint64_t errors = 0;      // inside the window
  uint64_t all_errors = 0;  // including warm-up
  uint64_t seq = 0;
};

struct Shared {
  Clock::time_point window_start, window_end;
  std::vector<Caller> callers;
  absl::Mutex mu;
  int running ABSL_GUARDED_BY(mu) = 0;

  Shared(int n, int classes, absl::Duration warmup, absl::Duration measure) {
    callers.resize(n);
    for (Caller& c : callers)
      c.micros.resize(std::max(classes, 1));
    window_start = Clock::now() + absl::ToChronoNanoseconds(warmup);
    window_end = window_start + absl::ToChronoNanoseconds(measure);
    absl::MutexLock l(&mu);
    running = n;
  }
  // Records one completion; returns whether the caller goes on.
  bool Record(Caller& c, Clock::time_point start, bool ok, int cls) {
    const Clock::time_point end = Clock::now();
    if (start >= window_start && end <= window_end) {
      if (ok) {
        ++c.ok;
        const int64_t us =
            std::chrono::duration_cast<std::chrono::microseconds>(end - start)
                .count();
        const size_t k = std::min<size_t>(cls, c.micros.size() - 1);
        c.micros[k].push_back(
            static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
      } else {
        ++c.errors;
      }
    }
    if (!ok)
      ++c.all_errors;
    return end < window_end && c.all_errors < kMaxErrorsPerCaller;
  }
  void Stopped() {
    absl::MutexLock l(&mu);
    --running;
  }
  void WaitAllStopped() {
    absl::MutexLock l(&mu);
    auto all_stopped = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return running == 0;
    };
    mu.Await(absl::Condition(&all_stopped));
  }
};

double Percentile(std::vector<uint32_t>* v, double q) {
  if (v->empty())
    return 0;
  const size_t k = std::min(v->size() - 1, static_cast<size_t>(q * v->size()));
  std::nth_element(v->begin(), v->begin() + k, v->end());
  return (*v)[k] / 1000.0;
}

void StartNext(Shared* s, const LoadOp* op, int caller) {
  Caller& c = s->callers[caller];
  const Clock::time_point start = Clock::now();
  (*op)(caller, c.seq++, [s, op, caller, start](bool ok, int cls) {
    if (s->Record(s->callers[caller], start, ok, cls))
      StartNext(s, op, caller);
    else
      s->Stopped();
  });
}

LoadResult Summarize(Shared& s, absl::Duration measure) {
  LoadResult r;
  r.seconds = absl::ToDoubleSeconds(measure);
  std::vector<uint32_t> all;
  r.classes.resize(s.callers.empty() ? 1 : s.callers[0].micros.size());
  for (size_t k = 0; k < r.classes.size(); ++k) {
    std::vector<uint32_t> v;
    for (Caller& c : s.callers)
      v.insert(v.end(), c.micros[k].begin(), c.micros[k].end());
    all.insert(all.end(), v.begin(), v.end());
    r.classes[k].ops = v.size();
    r.classes[k].p50_ms = Percentile(&v, 0.50);
    r.classes[k].p99_ms = Percentile(&v, 0.99);
    r.classes[k].p999_ms = Percentile(&v, 0.999);
  }
  for (const Caller& c : s.callers) {
    r.ops += c.ok;
    r.errors += c.errors;
  }
  r.ops_per_second = r.ops / r.seconds;
  r.p50_ms = Percentile(&all, 0.50);
  r.p99_ms = Percentile(&all, 0.99);
  r.p999_ms = Percentile(&all, 0.999);
  if (!all.empty())
    r.max_ms = *std::max_element(all.begin(), all.end()) / 1000.0;
  return r;
}

}  // namespace

LoadResult RunClosedLoop(int callers, absl::Duration warmup,
                         absl::Duration measure, int classes,
                         const LoadOp& op) {
  Shared s(callers, classes, warmup, measure);
  for (int i = 0; i < callers; ++i)
    StartNext(&s, &op, i);
  s.WaitAllStopped();
  return Summarize(s, measure);
}

LoadResult RunBlockingLoop(int callers, absl::Duration warmup,
                           absl::Duration measure, int classes,
                           const BlockingOp& op) {
  Shared s(callers, classes, warmup, measure);
  std::vector<std::thread> threads;
  threads.reserve(callers);
  for (int i = 0; i < callers; ++i) {
    threads.emplace_back([&s, &op, i] {
      Caller& c = s.callers[i];
      for (;;) {
        const Clock::time_point start = Clock::now();
        int cls = 0;
        const bool ok = op(i, c.seq++, &cls);
        if (!s.Record(c, start, ok, cls))
          break;
      }
      s.Stopped();
    });
  }
  for (std::thread& t : threads)
    t.join();
  s.WaitAllStopped();
  return Summarize(s, measure);
}

}  // namespace carelog::bench
