#include "storage/internal/ops_util.h"

#include <dirent.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

#include "storage/record.h"

namespace carelog::storage::internal {

absl::Status CheckEmptyTarget(const std::string& dir) {
  if (dir.empty())
    return absl::InvalidArgumentError("target directory: required");
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT)
      return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", dir, ": ", std::strerror(errno)));
  }
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  if (!empty) {
    return absl::FailedPreconditionError(absl::StrCat(
        "target directory ", dir,
        " is not empty (a restore never overwrites a ledger: choose a new "
        "directory)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Head> ReadHeadRecord(const Db& db) {
  std::string v;
  rocksdb::Status s =
      db.db->Get(rocksdb::ReadOptions(), db.meta, kMetaHead, &v);
  if (s.IsNotFound())
    return Head{};
  if (!s.ok())
    return FromRocks(s, "reading head record");
  auto h = DecodeHead(v);
  if (!h.ok())
    return absl::DataLossError("ledger head record malformed");
  return h;
}

absl::Status CheckLedgerFormat(const Db& db, const std::string& dir) {
  std::string format;
  rocksdb::Status s =
      db.db->Get(rocksdb::ReadOptions(), db.meta, kMetaFormat, &format);
  if (s.IsNotFound() || (s.ok() && format != kFormatValue)) {
    return absl::FailedPreconditionError(
        absl::StrCat("no carelog ledger in ", dir));
  }
  return FromRocks(s, "reading format marker");
}

}  // namespace carelog::storage::internal
