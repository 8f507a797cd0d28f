// policies/break_glass.h — the record of break-the-glass grants: which actor
// may use emergency access to which patient, until when.
//
// The engine decides from facts (RequestFacts::break_glass_until); whoever
// gathers the facts asks this registry. A grant is opened once an actor has
// declared an emergency (purpose ETREAT with a reason) and a break-the-glass
// rule allows it; it lasts at most max_ttl and every use under it is flagged
// for review in the decision.
//
// Concurrency: all methods are thread-safe (one mutex, held only for map
// operations; no I/O, no callbacks). Limitations: in memory only — grants do
// not survive a restart (a restart therefore ends every emergency access);
// expired grants are dropped lazily by Open() and Prune().
#ifndef CARELOG_POLICIES_BREAK_GLASS_H_
#define CARELOG_POLICIES_BREAK_GLASS_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace carelog::policies {

class BreakGlassRegistry {
 public:
  // `now` is the clock (injected so tests control time); `max_ttl` caps every
  // grant's lifetime.
  BreakGlassRegistry(std::function<absl::Time()> now, absl::Duration max_ttl);

  // Opens (or renews) a grant for (actor, patient) lasting min(ttl, max_ttl)
  // from now, and returns its expiry. Errors: INVALID_ARGUMENT for an empty
  // actor or patient id or a non-positive ttl.
  absl::StatusOr<absl::Time> Open(const std::string& actor_id,
                                  const std::string& patient_id,
                                  absl::Duration ttl);

  // Ends a grant early (e.g. after review). No-op if none.
  void Close(const std::string& actor_id, const std::string& patient_id);

  // The expiry of the actor's grant for the patient, or InfinitePast() when
  // there is none or it has expired — suitable for
  // RequestFacts::break_glass_until.
  absl::Time ActiveUntil(const std::string& actor_id,
                         const std::string& patient_id) const;

  // Drops expired grants; returns how many.
  size_t Prune();

  absl::Time Now() const { return now_(); }

 private:
  const std::function<absl::Time()> now_;
  const absl::Duration max_ttl_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, std::string>, absl::Time> grants_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace carelog::policies

#endif  // CARELOG_POLICIES_BREAK_GLASS_H_
