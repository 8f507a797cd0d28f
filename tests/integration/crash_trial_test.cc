// Crash under load, at process level: the real carelogd on 127.0.0.1:0 takes
// RegisterPatient commands from concurrent clients, which record every
// acknowledged command id (and re-send, as a real client would, the command
// they had in flight when the server died). The server is SIGKILLed after a
// random number of acknowledgements, restarted on the same data directory,
// and so on for a number of cycles. Then:
//   - every acknowledged command, retried with the same id, returns its first
//     result (same patient id and position, duplicate) and appends nothing;
//   - every command id is in the ledger exactly once (offline scan);
//   - the patient record view shows every acknowledged patient and every
//     projection reaches the head (lag 0, running);
//   - carelogctl verify accepts the data directory.
//
// Cycles: 20 (CI); CARELOG_SOAK=1 → 200; CARELOG_CRASH_CYCLES=N overrides.
// Seed: random, printed; CARELOG_TRIAL_SEED=S replays a run's kill points.
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/ledger.grpc.pb.h"
#include "carelog/v1/patients.grpc.pb.h"
#include "carelog/v1/queries.grpc.pb.h"
#include "crypto/key_file.h"
#include "services/server/server.h"
#include "storage/ledger.h"
#include "tests/integration/carelogd_process.h"
#include "tests/integration/harness.h"
#include "tests/integration/trial_env.h"
#include "tests/testing/temp_dir.h"

namespace carelog::integration {
namespace {

using carelog::v1::ADMINISTRATIVE_GENDER_FEMALE;
using carelog::v1::GetPatientRecordRequest;
using carelog::v1::PatientRecord;
using carelog::v1::PatientService;
using carelog::v1::QueryService;
using carelog::v1::RegisterPatientReply;
using carelog::v1::RegisterPatientRequest;

constexpr int kClients = 4;
constexpr char kRegisteredType[] = "carelog.v1.PatientRegistered";

RegisterPatientRequest Registration(const std::string& command_id, int n) {
  RegisterPatientRequest r;
  r.set_command_id(command_id);
  auto* d = r.mutable_demographics();
  d->set_given_name("Synthia");
  d->set_family_name(absl::StrCat("Crashtrial", n));
  d->mutable_date_of_birth()->set_year(1950 + n % 60);
  d->mutable_date_of_birth()->set_month(1 + n % 12);
  d->mutable_date_of_birth()->set_day(1 + n % 28);
  d->set_gender(ADMINISTRATIVE_GENDER_FEMALE);
  r.set_preferred_language("en");
  return r;
}

struct Ack {
  RegisterPatientRequest request;
  std::string patient_id;
  uint64_t position = 0;
};

// What the clients share with the test thread.
class AckBook {
 public:
  void Record(Ack a) {
    absl::MutexLock l(&mu_);
    acks_.push_back(std::move(a));
  }
  size_t size() const {
    absl::MutexLock l(&mu_);
    return acks_.size();
  }
  // Waits until at least `n` acknowledgements; false at the deadline.
  bool AwaitAtLeast(size_t n, absl::Time deadline) const {
    absl::MutexLock l(&mu_);
    auto reached = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return acks_.size() >= n;
    };
    return mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
  }
  // A copy of a random acknowledgement (false if none yet).
  bool Pick(std::mt19937* rng, Ack* out) const {
    absl::MutexLock l(&mu_);
    if (acks_.empty())
      return false;
    *out =
        acks_[std::uniform_int_distribution<size_t>(0, acks_.size() - 1)(*rng)];
    return true;
  }
  std::vector<Ack> All() const {
    absl::MutexLock l(&mu_);
    return acks_;
  }
  void Fail(const std::string& what) {
    absl::MutexLock l(&mu_);
    failures_.push_back(what);
  }
  std::vector<std::string> failures() const {
    absl::MutexLock l(&mu_);
    return failures_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Ack> acks_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
};

// One client's state across server lifetimes: the command it had in flight
// when the server died is re-sent first after the restart.
struct ClientState {
  int id = 0;
  int next = 0;
  bool has_pending = false;
  RegisterPatientRequest pending;
  std::mt19937 rng;
};

bool Retriable(grpc::StatusCode c) {
  return c == grpc::StatusCode::UNAVAILABLE ||
         c == grpc::StatusCode::DEADLINE_EXCEEDED ||
         c == grpc::StatusCode::CANCELLED;
}

// Sends commands until `stop`; a failure that a dying server explains is
// left pending (its outcome is unknown) and sent again next time.
void RunClient(ClientState* st, std::shared_ptr<grpc::Channel> channel,
               const std::string& token, AckBook* book,
               const std::atomic<bool>* stop) {
  auto stub = PatientService::NewStub(channel);
  while (!stop->load()) {
    // One call in ten re-sends an earlier acknowledged command: it must be
    // answered from the first result.
    Ack earlier;
    const bool retry_earlier =
        !st->has_pending &&
        std::uniform_int_distribution<int>(0, 9)(st->rng) == 0 &&
        book->Pick(&st->rng, &earlier);
    RegisterPatientRequest req;
    if (retry_earlier) {
      req = earlier.request;
    } else {
      if (!st->has_pending) {
        const int n = st->id * 1000000 + st->next++;
        st->pending =
            Registration(absl::StrCat("crash-", st->id, "-", st->next), n);
        st->has_pending = true;
      }
      req = st->pending;
    }
    grpc::ClientContext ctx;
    Authorize(&ctx, token, "HOPERAT");
    SetDeadline(&ctx, absl::Seconds(20));
    RegisterPatientReply reply;
    const grpc::Status s = stub->RegisterPatient(&ctx, req, &reply);
    if (!s.ok()) {
      if (!Retriable(s.error_code())) {
        book->Fail(absl::StrCat(req.command_id(), ": ", s.error_code(), " ",
                                s.error_message()));
        return;
      }
      continue;  // the server is going away; the test sets stop
    }
    if (retry_earlier) {
      if (!reply.result().duplicate() ||
          reply.patient_id() != earlier.patient_id ||
          reply.result().position() != earlier.position) {
        book->Fail(absl::StrCat(req.command_id(),
                                ": retry did not return the first result"));
        return;
      }
      continue;
    }
    st->has_pending = false;
    book->Record(Ack{req, reply.patient_id(), reply.result().position()});
  }
}

int Cycles() {
  if (const char* n = std::getenv("CARELOG_CRASH_CYCLES")) {
    int v = 0;
    if (absl::SimpleAtoi(n, &v) && v > 0)
      return v;
  }
  return SoakMode() ? 200 : 20;
}

uint64_t Head(const std::shared_ptr<grpc::Channel>& ch,
              const std::string& token) {
  grpc::ClientContext ctx;
  Authorize(&ctx, token);
  carelog::v1::LedgerHead head;
  const grpc::Status s = carelog::v1::LedgerService::NewStub(ch)->GetHead(
      &ctx, carelog::v1::GetHeadRequest(), &head);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return head.position();
}

TEST(CrashTrialTest, SigkillUnderLoadLosesNoAcknowledgedCommand) {
  testing::TempDir dir;
  const std::string key = dir.Sub("kek.key");
  const std::string data = dir.Sub("data");
  ASSERT_TRUE(GenerateKeyFile(key).ok());
  const uint32_t seed = TrialSeed();
  const int cycles = Cycles();
  SCOPED_TRACE(absl::StrCat("CARELOG_TRIAL_SEED=", seed, " cycles ", cycles));
  std::mt19937 rng(seed);

  AckBook book;
  std::vector<ClientState> clients(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients[i].id = i;
    clients[i].rng.seed(seed + 1 + i);
  }
  std::string front_desk;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle));
    auto server = CarelogdProcess::Start(data, key);
    ASSERT_TRUE(server.ok()) << "restart refused: " << server.status();
    if (front_desk.empty()) {
      auto t = DevToken(data, "fd-crash-1", "front_desk");
      ASSERT_TRUE(t.ok()) << t.status();
      front_desk = *t;
    }
    // Kill after a random number of further acknowledgements (1..40): some
    // kills land right after start-up, some deep into a run.
    const size_t target =
        book.size() + std::uniform_int_distribution<size_t>(1, 40)(rng);
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (auto& c : clients)
      threads.emplace_back(RunClient, &c, (*server)->NewChannel(), front_desk,
                           &book, &stop);
    const bool reached =
        book.AwaitAtLeast(target, absl::Now() + absl::Seconds(120));
    const ProcessResult killed = (*server)->Kill();
    stop = true;
    for (auto& t : threads)
      t.join();
    ASSERT_TRUE(reached) << "no progress; failures: "
                         << ::testing::PrintToString(book.failures());
    ASSERT_EQ(killed.term_signal, SIGKILL) << Describe(killed);
    ASSERT_THAT(book.failures(), ::testing::IsEmpty());
  }

  // Final lifetime: retries, views, status.
  const std::vector<Ack> acks = book.All();
  auto server = CarelogdProcess::Start(data, key);
  ASSERT_TRUE(server.ok()) << server.status();
  auto ch = (*server)->NewChannel();
  auto ops = DevToken(data, "op-crash-1", "ledger-admin");
  ASSERT_TRUE(ops.ok()) << ops.status();
  const uint64_t head = Head(ch, *ops);
  auto patients = PatientService::NewStub(ch);
  for (const Ack& a : acks) {
    grpc::ClientContext ctx;
    Authorize(&ctx, front_desk, "HOPERAT");
    RegisterPatientReply reply;
    const grpc::Status s = patients->RegisterPatient(&ctx, a.request, &reply);
    ASSERT_TRUE(s.ok()) << a.request.command_id() << ": " << s.error_message();
    EXPECT_TRUE(reply.result().duplicate()) << a.request.command_id();
    EXPECT_EQ(reply.patient_id(), a.patient_id) << a.request.command_id();
    EXPECT_EQ(reply.result().position(), a.position) << a.request.command_id();
  }
  EXPECT_EQ(Head(ch, *ops), head) << "retries appended events";

  auto queries = QueryService::NewStub(ch);
  // Every projection reaches the head and runs.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (bool caught_up = false; !caught_up;) {
    grpc::ClientContext ctx;
    Authorize(&ctx, *ops);
    carelog::v1::GetProjectionStatusReply status;
    const grpc::Status s = queries->GetProjectionStatus(
        &ctx, carelog::v1::GetProjectionStatusRequest(), &status);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_GT(status.projections_size(), 0);
    ASSERT_LT(absl::Now(), deadline) << "projections did not catch up to "
                                     << head << ": " << status.DebugString();
    caught_up = true;
    for (const auto& p : status.projections()) {
      ASSERT_EQ(p.state(), carelog::v1::ProjectionStatus::STATE_RUNNING)
          << p.name() << ": " << p.error();
      if (p.position() < head || p.lag() != 0)
        caught_up = false;
    }
  }
  size_t read_count = 0;
  for (const Ack& a : acks) {
    ++read_count;
    GetPatientRecordRequest req;
    req.set_patient_id(a.patient_id);
    req.set_min_position(head);
    grpc::ClientContext ctx;
    Authorize(&ctx, front_desk, "HOPERAT");
    PatientRecord rec;
    const grpc::Status s = queries->GetPatientRecord(&ctx, req, &rec);
    if (!s.ok()) {
      const ProcessResult r = (*server)->Kill();
      FAIL() << "read " << read_count << " of " << acks.size() << ", "
             << a.patient_id << ": " << s.error_message() << "\nserver log:\n"
             << r.err.substr(r.err.size() > 6000 ? r.err.size() - 6000 : 0);
    }
    EXPECT_EQ(rec.demographics().family_name(),
              a.request.demographics().family_name());
  }
  const ProcessResult stopped = (*server)->Stop();
  ASSERT_EQ(stopped.exit_code, 0) << Describe(stopped);

  const ProcessResult verified = VerifyOffline(data);
  EXPECT_EQ(verified.exit_code, 0) << Describe(verified);

  // Exactly once: one PatientRegistered event per command id, and one for
  // every acknowledged id.
  auto kek = crypto::LoadKeyFile(key);
  ASSERT_TRUE(kek.ok()) << kek.status();
  storage::LedgerOptions lo;
  lo.data_dir = absl::StrCat(data, "/", services::kLedgerSubdir);
  lo.kek = std::move(*kek);
  auto ledger = storage::Ledger::Open(std::move(lo));
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  std::map<std::string, int> registered;
  for (uint64_t next = 1; next != 0;) {
    auto page = (*ledger)->ReadAll(next, 500);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& ev : page->events) {
      if (ev.header.event_type == kRegisteredType)
        ++registered[ev.header.command_id];
    }
    next = page->next;
  }
  for (const auto& [command_id, n] : registered)
    EXPECT_EQ(n, 1) << command_id << " registered " << n << " times";
  for (const Ack& a : acks)
    EXPECT_EQ(registered.count(a.request.command_id()), 1u)
        << a.request.command_id() << " acknowledged but absent";
  std::cerr << "crash trial: " << cycles << " SIGKILL cycles, " << acks.size()
            << " acknowledged commands, " << registered.size()
            << " registrations in the ledger, seed " << seed << "\n";
}

}  // namespace
}  // namespace carelog::integration
