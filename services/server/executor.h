// services/server/executor.h — a bounded pool of worker threads for the disk
// work of RPC handlers, so that gRPC reactors never block.
//
// Operation. Submit() queues a task; one of `threads` workers runs it. When
// `capacity` tasks are waiting, Submit refuses (RESOURCE_EXHAUSTED) and the
// handler answers the RPC with that status.
// Concurrency. Submit is thread-safe. Tasks run concurrently with each other.
// Limitations. Stop() runs what is queued, then joins; tasks submitted after
// Stop are refused with UNAVAILABLE.
#ifndef CARELOG_SERVICES_SERVER_EXECUTOR_H_
#define CARELOG_SERVICES_SERVER_EXECUTOR_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace carelog::services {

class Executor {
 public:
  Executor(int threads, size_t capacity);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Errors: RESOURCE_EXHAUSTED when full; UNAVAILABLE after Stop.
  absl::Status Submit(std::function<void()> task);
  void Stop();
  size_t queued() const;

 private:
  void Work();
  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SERVER_EXECUTOR_H_
