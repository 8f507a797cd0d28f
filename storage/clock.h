// storage/clock.h — injectable time source. Production uses SystemClock; tests
// inject a fake so that nothing depends on wall-clock timing.
// Thread-safety: implementations must be safe to call concurrently.
#ifndef CARELOG_STORAGE_CLOCK_H_
#define CARELOG_STORAGE_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace carelog::storage {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance (stateless, so not a mutable global).
  static const Clock* Get() {
    static const SystemClock clock;
    return &clock;
  }
};

}  // namespace carelog::storage

#endif  // CARELOG_STORAGE_CLOCK_H_
