#include "crypto/key_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace carelog::crypto {

namespace {
constexpr size_t kMaxKeyFileBytes = 256;

// Hex text lives in locked memory too: it is the key.
struct LockedText {
  explicit LockedText(size_t n)
      : p(static_cast<char*>(sodium_malloc(n))), cap(n) {}
  ~LockedText() {
    if (p != nullptr)
      sodium_free(p);
  }
  char* p;
  size_t cap;
  size_t len = 0;
};
}  // namespace

absl::StatusOr<std::unique_ptr<SecretKey>> LoadKeyFile(
    const std::string& path) {
  if (auto s = EnsureSodium(); !s.ok())
    return s;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return absl::NotFoundError(absl::StrCat("key file ", path, " not found"));
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open key file ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("key file ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrFormat("key file %s is readable by group or others (mode "
                        "%04o); run: chmod 600 %s",
                        path, st.st_mode & 07777, path));
  }
  LockedText text(kMaxKeyFileBytes);
  if (text.p == nullptr) {
    ::close(fd);
    return absl::InternalError("sodium_malloc failed");
  }
  while (text.len < text.cap) {
    ssize_t n = ::read(fd, text.p + text.len, text.cap - text.len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      ::close(fd);
      return absl::InternalError(
          absl::StrCat("reading key file ", path, ": ", std::strerror(errno)));
    }
    if (n == 0)
      break;
    text.len += static_cast<size_t>(n);
  }
  ::close(fd);
  return SecretKey::FromHex(absl::string_view(text.p, text.len),
                            absl::StrCat("key file ", path));
}

absl::StatusOr<std::unique_ptr<SecretKey>> LoadKeyFromEnv(
    const std::string& name) {
  if (auto s = EnsureSodium(); !s.ok())
    return s;
  const char* v = std::getenv(name.c_str());
  if (v == nullptr)
    return absl::NotFoundError(
        absl::StrCat("environment variable ", name, " not set"));
  return SecretKey::FromHex(v, absl::StrCat("environment variable ", name));
}

absl::Status WriteKeyFile(const std::string& path, const SecretKey& key) {
  int fd = ::open(path.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return absl::AlreadyExistsError(
          absl::StrCat("key file ", path, " exists"));
    return absl::InternalError(
        absl::StrCat("creating key file ", path, ": ", std::strerror(errno)));
  }
  LockedText hex(2 * kKeyBytes + 2);
  if (hex.p == nullptr) {
    ::close(fd);
    return absl::InternalError("sodium_malloc failed");
  }
  sodium_bin2hex(hex.p, hex.cap, key.data(), key.size());
  hex.p[2 * kKeyBytes] = '\n';
  const size_t want = 2 * kKeyBytes + 1;
  size_t done = 0;
  while (done < want) {
    ssize_t n = ::write(fd, hex.p + done, want - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      ::close(fd);
      return absl::InternalError(
          absl::StrCat("writing key file ", path, ": ", std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    return absl::InternalError(
        absl::StrCat("syncing key file ", path, ": ", std::strerror(errno)));
  }
  ::close(fd);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SecretKey>> CreateKeyFile(
    const std::string& path) {
  auto key = SecretKey::Random();
  if (!key.ok())
    return key.status();
  if (auto s = WriteKeyFile(path, **key); !s.ok())
    return s;
  return key;
}

}  // namespace carelog::crypto
