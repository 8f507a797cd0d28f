// tests/integration/trial_env.h — how the fault trials read their knobs from
// the environment: CARELOG_SOAK=1 selects the long (soak) mode that
// `make soak` runs; CARELOG_TRIAL_SEED=S replays a run's random choices (each
// trial prints the seed it used). Thread-safe (reads the environment only).
#ifndef CARELOG_TESTS_INTEGRATION_TRIAL_ENV_H_
#define CARELOG_TESTS_INTEGRATION_TRIAL_ENV_H_

#include <cstdint>
#include <cstdlib>
#include <random>

#include "absl/strings/numbers.h"

namespace carelog::integration {

inline bool SoakMode() {
  const char* v = std::getenv("CARELOG_SOAK");
  return v != nullptr && *v != '\0' && *v != '0';
}

inline uint32_t TrialSeed() {
  uint32_t seed = 0;
  if (const char* v = std::getenv("CARELOG_TRIAL_SEED");
      v != nullptr && absl::SimpleAtoi(v, &seed))
    return seed;
  return std::random_device()();
}

}  // namespace carelog::integration

#endif  // CARELOG_TESTS_INTEGRATION_TRIAL_ENV_H_
