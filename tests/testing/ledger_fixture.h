// tests/testing/ledger_fixture.h — helpers to open a ledger in a temp dir with
// a fixed test KEK, and to build synthetic append requests.
#ifndef CARELOG_TESTS_TESTING_LEDGER_FIXTURE_H_
#define CARELOG_TESTS_TESTING_LEDGER_FIXTURE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "crypto/secret_key.h"
#include "storage/ledger.h"

namespace carelog::testing {

// The same key every call (tests reopen ledgers), or a second distinct key.
std::unique_ptr<crypto::SecretKey> TestKek(int which = 0);

// Options with the test KEK and `dir`; small tail check.
storage::LedgerOptions TestLedgerOptions(const std::string& dir, int kek = 0);

absl::StatusOr<std::unique_ptr<storage::Ledger>> OpenTestLedger(
    const std::string& dir);

// One event on `stream` with a subject key, expected version `expected`.
storage::AppendRequest OneEvent(
    const std::string& command_id, const std::string& stream,
    const std::string& payload,
    storage::ExpectedVersion expected = storage::ExpectedVersion::Any(),
    const std::string& subject = "subj-0001");

}  // namespace carelog::testing

#endif  // CARELOG_TESTS_TESTING_LEDGER_FIXTURE_H_
