#include "services/server/executor.h"

#include "absl/strings/str_cat.h"

namespace carelog::services {

Executor::Executor(int threads, size_t capacity) : capacity_(capacity) {
  for (int i = 0; i < threads; ++i)
    threads_.emplace_back([this] { Work(); });
}

Executor::~Executor() {
  Stop();
}

absl::Status Executor::Submit(std::function<void()> task) {
  {
    absl::MutexLock l(&mu_);
    if (stopping_)
      return absl::UnavailableError("server is shutting down");
    if (tasks_.size() >= capacity_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("read queue full (", capacity_, " tasks)"));
    }
    tasks_.push_back(std::move(task));
  }
  cv_.Signal();
  return absl::OkStatus();
}

void Executor::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (stopping_ && threads_.empty())
      return;
    stopping_ = true;
  }
  cv_.SignalAll();
  for (auto& t : threads_) {
    if (t.joinable())
      t.join();
  }
  threads_.clear();
}

size_t Executor::queued() const {
  absl::MutexLock l(&mu_);
  return tasks_.size();
}

void Executor::Work() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock l(&mu_);
      while (tasks_.empty() && !stopping_)
        cv_.Wait(&mu_);
      if (tasks_.empty())
        return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace carelog::services
