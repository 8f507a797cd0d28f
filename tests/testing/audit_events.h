// tests/testing/audit_events.h — an access audit event as the enforcement
// point records it, appended straight to the ledger, for tests that need one
// on a trail without the request that would make it (no RPC opens
// break-the-glass grants yet). Header-only: for tests that link
// carelog::services. Blocks on the append (group commit, fsync).
#ifndef CARELOG_TESTS_TESTING_AUDIT_EVENTS_H_
#define CARELOG_TESTS_TESTING_AUDIT_EVENTS_H_

#include <cstdint>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "carelog/v1/audit.pb.h"
#include "services/domain/event_codec.h"
#include "storage/ledger.h"

namespace carelog::testing {

// Appends `actor`'s break-the-glass read of `patient`'s test results (rule
// clinician-break-glass, purpose ETREAT) to audit/<patient> under the audit
// key, as command `command_id`. Returns its position; 0 (and a test failure)
// if the append fails.
inline uint64_t AppendBreakGlassAccess(storage::Ledger& ledger,
                                       const std::string& command_id,
                                       const std::string& actor,
                                       const std::string& patient) {
  carelog::v1::AccessAudited a;
  a.set_actor(actor);
  a.add_roles("clinician");
  a.set_purpose("ETREAT");
  a.set_reason("unconscious patient");
  a.set_patient_id(patient);
  a.set_resource("clinical.test_results");
  a.set_action("read");
  a.set_outcome(carelog::v1::ACCESS_OUTCOME_BREAK_THE_GLASS);
  a.add_rules("clinician-break-glass");
  a.set_decided_at_micros(absl::ToUnixMicros(absl::Now()));
  storage::AppendRequest req;
  req.command_id = command_id;
  req.streams.push_back(storage::StreamAppend{
      "audit/" + patient,
      storage::ExpectedVersion::Any(),
      {services::ToLedgerEvent(a, carelog::v1::EventMeta(),
                               crypto::KeyClass::kAudit, patient)}});
  auto r = ledger.Append(req);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->last_position : 0;
}

}  // namespace carelog::testing

#endif  // CARELOG_TESTS_TESTING_AUDIT_EVENTS_H_
