#include "storage/sliced_verify.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace carelog::storage {

VerifyReport VerifyInSlices(uint64_t total, const RangeVerifier& verify_range,
                            const SlicedVerifyOptions& options) {
  const uint64_t slice =
      options.slice_events == 0 ? 100000 : options.slice_events;
  VerifyReport acc;
  uint64_t from = 1;
  for (;;) {
    const uint64_t to = from + slice - 1;
    const bool last = to >= total;
    const VerifyReport r = verify_range(from, last ? 0 : to);
    acc.events_checked += r.events_checked;
    acc.verified_head = r.verified_head;
    if (!r.status.ok()) {
      acc.status = r.status;
      acc.first_bad_position = r.first_bad_position;
      acc.problem = r.problem;
      return acc;
    }
    if (options.progress) {
      options.progress(Progress{options.phase, "events",
                                std::min(acc.verified_head.position, total),
                                total});
    }
    if (last)
      return acc;
    if (options.cancelled && options.cancelled()) {
      acc.status = absl::CancelledError(
          absl::StrCat("the client went away; verification stopped after "
                       "position ",
                       acc.verified_head.position));
      return acc;
    }
    from = to + 1;
  }
}

}  // namespace carelog::storage
