// services/domain/aggregate.h — loading an aggregate's state by folding its
// stream, with a bounded cache keyed by stream version.
//
// Operation. Load(stream) starts from the cached (state, version) if any and
// folds only the events after that version, then caches the result. The cache
// is advisory: an append with the loaded version as its expected version is
// what guarantees the decision was made on current state.
// Concurrency. Safe for concurrent use; loads of the same stream may run in
// parallel (both fold; the higher version wins in the cache).
// Limitations. Blocking disk reads: call from an Executor task, never from a
// reactor. Cache eviction is "clear when full" (simple, amortised O(1)).
#ifndef CARELOG_SERVICES_DOMAIN_AGGREGATE_H_
#define CARELOG_SERVICES_DOMAIN_AGGREGATE_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

#include "services/domain/event_codec.h"
#include "storage/ledger.h"

namespace carelog::services {

template <typename State>
class AggregateRepository {
 public:
  // Applies one event to the state. An event the aggregate does not know is
  // an error (DATA_LOSS naming the position), never silently skipped.
  using Fold = std::function<absl::Status(State*, const DecodedEvent&)>;

  struct Loaded {
    State state{};
    uint64_t version = 0;  // 0: the stream does not exist
  };

  AggregateRepository(storage::Ledger* ledger, Fold fold,
                      size_t capacity = 4096)
      : ledger_(ledger), fold_(std::move(fold)), capacity_(capacity) {}

  absl::StatusOr<Loaded> Load(const std::string& stream_id) {
    Loaded loaded;
    {
      absl::MutexLock l(&mu_);
      auto it = cache_.find(stream_id);
      if (it != cache_.end())
        loaded = it->second;
    }
    uint64_t from = loaded.version + 1;
    for (;;) {
      auto page = ledger_->ReadStream(stream_id, from, 256);
      if (!page.ok())
        return page.status();
      for (const auto& ev : page->events) {
        auto decoded = DecodeEvent(*ledger_, ev);
        if (!decoded.ok())
          return decoded.status();
        if (auto s = fold_(&loaded.state, *decoded); !s.ok()) {
          return absl::Status(
              s.code(), absl::StrCat("stream ", stream_id, " at position ",
                                     ev.header.position, ": ", s.message()));
        }
        loaded.version = ev.header.stream_version;
      }
      if (page->next == 0)
        break;
      from = page->next;
    }
    absl::MutexLock l(&mu_);
    if (cache_.size() >= capacity_)
      cache_.clear();
    auto& slot = cache_[stream_id];
    if (slot.version <= loaded.version)
      slot = loaded;
    return loaded;
  }

 private:
  storage::Ledger* const ledger_;
  const Fold fold_;
  const size_t capacity_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Loaded> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_DOMAIN_AGGREGATE_H_
