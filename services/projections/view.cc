#include "services/projections/view.h"

#include <cctype>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "crypto/aead.h"

namespace carelog::services::projections {

absl::StatusOr<std::optional<std::string>> ViewTxn::Get(
    const std::string& key) {
  auto it = dirty_.find(key);
  if (it != dirty_.end())
    return it->second;
  return store_->Get(key, generation_);
}

absl::StatusOr<std::map<std::string, std::string>> ViewTxn::ScanAll(
    const std::string& prefix) {
  std::map<std::string, std::string> out;
  std::string after;
  for (;;) {
    auto page = store_->Scan(prefix, after, 512, generation_);
    if (!page.ok())
      return page.status();
    for (auto& r : page->rows) {
      after = r.key;
      out[r.key] = std::move(r.value);
    }
    if (!page->more)
      break;
  }
  for (auto it = dirty_.lower_bound(prefix);
       it != dirty_.end() && absl::StartsWith(it->first, prefix); ++it) {
    if (it->second.has_value())
      out[it->first] = *it->second;
    else
      out.erase(it->first);
  }
  return out;
}

void ViewTxn::Put(const std::string& key, std::string value) {
  dirty_[key] = std::move(value);
}

void ViewTxn::Delete(const std::string& key) {
  dirty_[key] = std::nullopt;
}

storage::ProjectionBatch ViewTxn::Take(uint64_t checkpoint) {
  storage::ProjectionBatch b;
  b.checkpoint = checkpoint;
  b.ops.reserve(dirty_.size());
  for (auto& [k, v] : dirty_)
    b.ops.push_back(storage::ProjectionBatch::Op{k, std::move(v)});
  dirty_.clear();
  return b;
}

absl::StatusOr<std::string> SealRow(crypto::KeyRing& keys,
                                    const std::string& subject_id,
                                    const std::string& row_key,
                                    absl::string_view plaintext) {
  // KeyForOpen: a view never creates a key; a destroyed key means erased.
  auto key = keys.KeyForOpen(crypto::KeyClass::kSubject, subject_id);
  if (!key.ok())
    return key.status();
  const crypto::Nonce nonce = crypto::RandomNonce();
  std::string out(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  out += crypto::Seal(**key, nonce, plaintext, row_key);
  return out;
}

absl::StatusOr<std::string> OpenRow(crypto::KeyRing& keys,
                                    const std::string& subject_id,
                                    const std::string& row_key,
                                    absl::string_view sealed) {
  if (sealed.size() < crypto::kNonceBytes)
    return absl::DataLossError("view row too short");
  auto key = keys.KeyForOpen(crypto::KeyClass::kSubject, subject_id);
  if (!key.ok())
    return key.status();
  crypto::Nonce nonce;
  std::copy(sealed.begin(), sealed.begin() + crypto::kNonceBytes,
            nonce.begin());
  return crypto::Open(**key, nonce, sealed.substr(crypto::kNonceBytes),
                      row_key);
}

std::string BlindIndex(const crypto::KeyRing& keys, absl::string_view field,
                       absl::string_view normalised) {
  const crypto::Digest d =
      keys.Mac(absl::StrCat("blind-index/", field), normalised);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

std::string NormaliseText(absl::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space)
      out.push_back(' ');
    space = false;
    out.push_back(
        static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

std::string NormaliseDigits(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= '0' && c <= '9')
      out.push_back(c);
  }
  return out;
}

std::string NormaliseId(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c)))
      out.push_back(
          static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace carelog::services::projections
