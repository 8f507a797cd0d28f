#include "policies/break_glass.h"

#include <algorithm>

namespace carelog::policies {

BreakGlassRegistry::BreakGlassRegistry(std::function<absl::Time()> now,
                                       absl::Duration max_ttl)
    : now_(std::move(now)), max_ttl_(max_ttl) {}

absl::StatusOr<absl::Time> BreakGlassRegistry::Open(
    const std::string& actor_id, const std::string& patient_id,
    absl::Duration ttl) {
  if (actor_id.empty())
    return absl::InvalidArgumentError("break-glass grant: empty actor id");
  if (patient_id.empty())
    return absl::InvalidArgumentError("break-glass grant: empty patient id");
  if (ttl <= absl::ZeroDuration())
    return absl::InvalidArgumentError(
        "break-glass grant: ttl must be positive");
  const absl::Time now = now_();
  const absl::Time until = now + std::min(ttl, max_ttl_);
  absl::MutexLock l(&mu_);
  for (auto it = grants_.begin(); it != grants_.end();) {
    if (it->second <= now) {
      grants_.erase(it++);
    } else {
      ++it;
    }
  }
  grants_[{actor_id, patient_id}] = until;
  return until;
}

void BreakGlassRegistry::Close(const std::string& actor_id,
                               const std::string& patient_id) {
  absl::MutexLock l(&mu_);
  grants_.erase({actor_id, patient_id});
}

absl::Time BreakGlassRegistry::ActiveUntil(
    const std::string& actor_id, const std::string& patient_id) const {
  const absl::Time now = now_();
  absl::MutexLock l(&mu_);
  auto it = grants_.find({actor_id, patient_id});
  if (it == grants_.end() || it->second <= now)
    return absl::InfinitePast();
  return it->second;
}

size_t BreakGlassRegistry::Prune() {
  const absl::Time now = now_();
  absl::MutexLock l(&mu_);
  size_t n = 0;
  for (auto it = grants_.begin(); it != grants_.end();) {
    if (it->second <= now) {
      grants_.erase(it++);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

}  // namespace carelog::policies
