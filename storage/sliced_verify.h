// storage/sliced_verify.h — verifying a chain of `total` positions in slices,
// reporting progress after each slice and stopping between slices when asked
// to. One loop for the offline paths (storage/backup.cc, on a raw data
// directory) and the online one (AdminService, on the serving Ledger), which
// differ only in how one range is verified.
#ifndef CARELOG_STORAGE_SLICED_VERIFY_H_
#define CARELOG_STORAGE_SLICED_VERIFY_H_

#include <cstdint>
#include <functional>

#include "storage/ledger.h"
#include "storage/progress.h"

namespace carelog::storage {

// Verifies [from, to] and returns its report; to = 0 means "through the head
// record" (the last slice checks the head too).
using RangeVerifier = std::function<VerifyReport(uint64_t from, uint64_t to)>;

struct SlicedVerifyOptions {
  uint64_t slice_events = 100000;   // 0 means the default
  const char* phase = "verifying";  // Progress::phase; static storage
  ProgressFn progress;              // optional; after every slice
  // Optional; asked between slices. When it returns true the report's status
  // is CANCELLED naming the last verified position.
  std::function<bool()> cancelled;
};

// Positions 1..total in slices; the first failing slice's report decides
// (status, first bad position, problem), events_checked accumulates, and
// verified_head is the last position checked.
VerifyReport VerifyInSlices(uint64_t total, const RangeVerifier& verify_range,
                            const SlicedVerifyOptions& options);

}  // namespace carelog::storage

#endif  // CARELOG_STORAGE_SLICED_VERIFY_H_
