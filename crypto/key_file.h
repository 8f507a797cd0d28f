// crypto/key_file.h — loading and creating secret key files.
//
// A key file holds 64 hex characters (a 256-bit key) and must be readable by
// its owner only: a file any group or other user can read is refused, because
// a leaked key-encryption key (KEK) exposes every patient's data. Keys read
// from files or the environment go straight into locked memory. Thread-safe.
#ifndef CARELOG_CRYPTO_KEY_FILE_H_
#define CARELOG_CRYPTO_KEY_FILE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "crypto/secret_key.h"

namespace carelog::crypto {

// Reads a 256-bit key from `path`.
// Errors: NOT_FOUND if the file does not exist; FAILED_PRECONDITION if it is
// group- or world-accessible (the message names the mode and the fix) or not a
// regular file; INVALID_ARGUMENT if the contents are not 64 hex characters.
// Blocks on file I/O.
absl::StatusOr<std::unique_ptr<SecretKey>> LoadKeyFile(const std::string& path);

// Reads a 256-bit key (64 hex characters) from environment variable `name`.
// Errors: NOT_FOUND if unset; INVALID_ARGUMENT if malformed.
absl::StatusOr<std::unique_ptr<SecretKey>> LoadKeyFromEnv(
    const std::string& name);

// Creates `path` (mode 0600, must not exist) holding a fresh random key and
// returns it. fsyncs the file. Errors: ALREADY_EXISTS; INTERNAL on I/O failure.
absl::StatusOr<std::unique_ptr<SecretKey>> CreateKeyFile(
    const std::string& path);

// Writes `key` to a new file `path` (mode 0600, must not exist), fsynced.
absl::Status WriteKeyFile(const std::string& path, const SecretKey& key);

}  // namespace carelog::crypto

#endif  // CARELOG_CRYPTO_KEY_FILE_H_
