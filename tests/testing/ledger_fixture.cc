#include "tests/testing/ledger_fixture.h"

#include <cstdlib>

namespace carelog::testing {

std::unique_ptr<crypto::SecretKey> TestKek(int which) {
  uint8_t bytes[crypto::kKeyBytes];
  for (size_t i = 0; i < sizeof(bytes); ++i)
    bytes[i] = static_cast<uint8_t>(i * 7 + 1 + which * 101);
  auto k = crypto::SecretKey::FromBytes(bytes, sizeof(bytes));
  if (!k.ok())
    std::abort();
  return std::move(*k);
}

storage::LedgerOptions TestLedgerOptions(const std::string& dir, int kek) {
  storage::LedgerOptions o;
  o.data_dir = dir;
  o.kek = TestKek(kek);
  return o;
}

absl::StatusOr<std::unique_ptr<storage::Ledger>> OpenTestLedger(
    const std::string& dir) {
  return storage::Ledger::Open(TestLedgerOptions(dir));
}

storage::AppendRequest OneEvent(const std::string& command_id,
                                const std::string& stream,
                                const std::string& payload,
                                storage::ExpectedVersion expected,
                                const std::string& subject) {
  storage::AppendRequest r;
  r.command_id = command_id;
  storage::StreamAppend sa;
  sa.stream_id = stream;
  sa.expected = expected;
  storage::NewEvent ev;
  ev.event_type = "carelog.test.Noted";
  ev.payload = payload;
  ev.key_class =
      subject.empty() ? crypto::KeyClass::kSystem : crypto::KeyClass::kSubject;
  ev.subject_id = subject;
  sa.events.push_back(std::move(ev));
  r.streams.push_back(std::move(sa));
  return r;
}

}  // namespace carelog::testing
