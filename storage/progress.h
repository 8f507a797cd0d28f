// storage/progress.h — progress reports of long storage operations (backup,
// restore, verification, KEK rotation), for operator tools that print a
// progress line with rate and ETA. Plain types; no thread-safety needed.
#ifndef CARELOG_STORAGE_PROGRESS_H_
#define CARELOG_STORAGE_PROGRESS_H_

#include <cstdint>
#include <functional>

namespace carelog::storage {

struct Progress {
  const char* phase = "";  // e.g. "copying", "verifying"; static storage
  const char* unit = "";   // "events", "bytes", "keys"
  uint64_t done = 0;
  uint64_t total = 0;  // 0 when unknown
};

// Called on the operation's own thread, at most every few thousand units and
// once at the end of each phase. Must not block for long.
using ProgressFn = std::function<void(const Progress&)>;

}  // namespace carelog::storage

#endif  // CARELOG_STORAGE_PROGRESS_H_
