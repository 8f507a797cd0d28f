// services/projections/view.h — what a projection is: a View applies decoded
// events to rows through a ViewTxn (one per batch), and helpers to seal rows
// under a patient's key and to compute blind-index keys.
//
// Thread-safety: a View is called by its worker's thread only (Apply, Erase);
// its read helpers (SealRow/OpenRow/BlindIndex) are thread-safe. A ViewTxn is
// single-threaded.
#ifndef CARELOG_SERVICES_PROJECTIONS_VIEW_H_
#define CARELOG_SERVICES_PROJECTIONS_VIEW_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "crypto/key_ring.h"
#include "services/domain/event_codec.h"
#include "storage/projection_store.h"

namespace carelog::services::projections {

// The rows a batch changes, over one generation of a store: reads see the
// batch's own writes first.
class ViewTxn {
 public:
  ViewTxn(const storage::ProjectionStore* store, uint64_t generation)
      : store_(store), generation_(generation) {}

  // The current value at `key` (this batch's write, else the store's).
  absl::StatusOr<std::optional<std::string>> Get(const std::string& key);
  // Rows under `prefix` as of the store plus this batch's writes, in order.
  absl::StatusOr<std::map<std::string, std::string>> ScanAll(
      const std::string& prefix);
  void Put(const std::string& key, std::string value);
  void Delete(const std::string& key);

  // Moves the batch's writes out (for ProjectionStore::Commit).
  storage::ProjectionBatch Take(uint64_t checkpoint);
  size_t pending() const { return dirty_.size(); }

 private:
  const storage::ProjectionStore* store_;
  uint64_t generation_;
  std::map<std::string, std::optional<std::string>> dirty_;
};

class View {
 public:
  virtual ~View() = default;
  // The projection's name ([a-z0-9_]): its column families and status.
  virtual std::string name() const = 0;
  // Whether events of this type concern the view (decided on the clear
  // header, before decrypting). Others are ignored.
  virtual bool Wants(const storage::EventHeader& header) const = 0;
  // Applies one event. An error means the event cannot be applied (the worker
  // stops in a failed state naming its position).
  virtual absl::Status Apply(const DecodedEvent& event, ViewTxn& txn) = 0;
  // Removes every row about `subject_id` (an erased patient). Idempotent.
  virtual absl::Status Erase(const std::string& subject_id, ViewTxn& txn) = 0;
  // Writes what Apply kept in memory for this batch into `txn`; called once
  // before each commit. A view may cache rows across the events of a batch.
  virtual absl::Status Flush(ViewTxn& txn) { return absl::OkStatus(); }
  // Forgets what Apply kept in memory (the batch is being discarded).
  virtual void Discard() {}
};

// Sealed row values: nonce ‖ XChaCha20-Poly1305(subject key, value, ad = row
// key). Errors of OpenRow: FAILED_PRECONDITION if the subject was erased;
// DATA_LOSS if the value does not authenticate (moved, altered).
absl::StatusOr<std::string> SealRow(crypto::KeyRing& keys,
                                    const std::string& subject_id,
                                    const std::string& row_key,
                                    absl::string_view plaintext);
absl::StatusOr<std::string> OpenRow(crypto::KeyRing& keys,
                                    const std::string& subject_id,
                                    const std::string& row_key,
                                    absl::string_view sealed);

// Hex of KeyRing::Mac("blind-index/<field>", value): the value must already be
// normalised.
std::string BlindIndex(const crypto::KeyRing& keys, absl::string_view field,
                       absl::string_view normalised);

// Normalisations: lower-case, inner whitespace collapsed, trimmed; digits
// only; upper-case without spaces.
std::string NormaliseText(absl::string_view s);
std::string NormaliseDigits(absl::string_view s);
std::string NormaliseId(absl::string_view s);

}  // namespace carelog::services::projections

#endif  // CARELOG_SERVICES_PROJECTIONS_VIEW_H_
