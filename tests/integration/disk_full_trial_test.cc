// Disk full, at process level: the real carelogd on a data directory that is
// a small tmpfs mount. The mount is shrunk to just above what the ledger
// already uses and clients write until the disk refuses. Then:
//   - the failing append answers UNAVAILABLE or RESOURCE_EXHAUSTED (never OK,
//     never an INTERNAL crash), and so do the appends after it;
//   - a read of patient data, whose audit event cannot be written, fails
//     (fail closed) and returns no record;
// and once space returns (the mount grows) and carelogd restarts, every
// acknowledged command is there (retries answer duplicate with the first
// result), new commands are accepted and carelogctl verify passes.
//
// Why tmpfs: it is the real kernel ENOSPC path through RocksDB's own Env,
// with no test hook in the server. Mounting needs root (CAP_SYS_ADMIN); where
// that is not available the test is skipped, saying so.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "carelog/v1/ledger.grpc.pb.h"
#include "carelog/v1/patients.grpc.pb.h"
#include "carelog/v1/queries.grpc.pb.h"
#include "tests/integration/carelogd_process.h"
#include "tests/integration/harness.h"
#include "tests/testing/temp_dir.h"

namespace carelog::integration {
namespace {

using carelog::v1::PatientService;
using carelog::v1::RegisterPatientReply;
using carelog::v1::RegisterPatientRequest;

// Unmounts on destruction (before the enclosing TempDir is removed).
class TmpfsMount {
 public:
  explicit TmpfsMount(std::string path) : path_(std::move(path)) {}
  ~TmpfsMount() {
    if (mounted_)
      ::umount2(path_.c_str(), MNT_DETACH);
  }
  // Errors carry errno's text.
  absl::Status Mount(uint64_t bytes) {
    const std::string opts = absl::StrCat("size=", bytes, ",mode=0700");
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, opts.c_str()) != 0)
      return absl::PermissionDeniedError(std::strerror(errno));
    mounted_ = true;
    return absl::OkStatus();
  }
  absl::Status Resize(uint64_t bytes) {
    const std::string opts = absl::StrCat("size=", bytes, ",mode=0700");
    if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT, opts.c_str()) != 0)
      return absl::InternalError(std::strerror(errno));
    return absl::OkStatus();
  }
  uint64_t UsedBytes() const {
    struct statvfs v;
    if (::statvfs(path_.c_str(), &v) != 0)
      return 0;
    return static_cast<uint64_t>(v.f_blocks - v.f_bfree) * v.f_frsize;
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

RegisterPatientRequest Registration(int n) {
  RegisterPatientRequest r;
  r.set_command_id(absl::StrCat("diskfull-", n));
  auto* d = r.mutable_demographics();
  d->set_given_name("Synthia");
  // Long (synthetic) names fill the disk in fewer commands.
  d->set_family_name(absl::StrCat("Diskfull", n, std::string(150, 'x')));
  d->mutable_date_of_birth()->set_year(1970 + n % 30);
  d->mutable_date_of_birth()->set_month(1 + n % 12);
  d->mutable_date_of_birth()->set_day(1 + n % 28);
  d->set_gender(carelog::v1::ADMINISTRATIVE_GENDER_FEMALE);
  r.mutable_emergency_contact()->set_name(std::string(180, 'y'));
  r.mutable_emergency_contact()->set_relationship("sibling");
  return r;
}

struct Ack {
  RegisterPatientRequest request;
  std::string patient_id;
  uint64_t position = 0;
};

grpc::Status Send(PatientService::Stub* stub, const std::string& token,
                  const RegisterPatientRequest& req,
                  RegisterPatientReply* reply) {
  grpc::ClientContext ctx;
  Authorize(&ctx, token, "HOPERAT");
  return stub->RegisterPatient(&ctx, req, reply);
}

bool Refusal(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

TEST(DiskFullTrialTest, FullDiskRefusesWritesAndUnauditableReadsLosesNothing) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs root to mount a small tmpfs data directory";
  testing::TempDir dir;
  const std::string key = dir.Sub("kek.key");
  const std::string mnt = dir.Sub("mnt");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0700), 0);
  TmpfsMount fs(mnt);
  // Smaller than RocksDB's WAL preallocation (1.1 × the 64 MiB write
  // buffer), so that writes need new pages at once rather than filling space
  // reserved up front.
  if (auto s = fs.Mount(uint64_t{16} << 20); !s.ok())
    GTEST_SKIP() << "cannot mount a tmpfs here: " << s.message();
  ASSERT_TRUE(GenerateKeyFile(key).ok());
  const std::string data = absl::StrCat(mnt, "/data");

  auto server = CarelogdProcess::Start(data, key);
  ASSERT_TRUE(server.ok()) << server.status();
  auto fd = DevToken(data, "fd-diskfull-1", "front_desk");
  ASSERT_TRUE(fd.ok()) << fd.status();
  auto stub = PatientService::NewStub((*server)->NewChannel());
  std::vector<Ack> acks;
  int n = 0;
  for (; n < 5; ++n) {
    RegisterPatientReply reply;
    const RegisterPatientRequest req = Registration(n);
    const grpc::Status s = Send(stub.get(), *fd, req, &reply);
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    acks.push_back({req, reply.patient_id(), reply.result().position()});
  }

  // Leave a little room, then write until the disk refuses.
  const uint64_t used = fs.UsedBytes();
  ASSERT_TRUE(fs.Resize(used + (uint64_t{256} << 10)).ok());
  grpc::Status refused;
  for (; n < 20000; ++n) {
    RegisterPatientReply reply;
    const RegisterPatientRequest req = Registration(n);
    refused = Send(stub.get(), *fd, req, &reply);
    if (!refused.ok())
      break;
    acks.push_back({req, reply.patient_id(), reply.result().position()});
  }
  ASSERT_FALSE(refused.ok()) << "the disk never filled";
  std::cerr << "disk full after " << acks.size()
            << " acknowledged commands: " << refused.error_code() << " "
            << refused.error_message() << "\n";
  EXPECT_TRUE(Refusal(refused))
      << refused.error_code() << " " << refused.error_message();
  // The server stays up and says so (a full disk is not a crash).
  {
    auto ops = DevToken(data, "op-diskfull-1", "ledger-admin");
    ASSERT_TRUE(ops.ok()) << ops.status();
    grpc::ClientContext ctx;
    Authorize(&ctx, *ops);
    carelog::v1::LedgerHead head;
    const grpc::Status s =
        carelog::v1::LedgerService::NewStub((*server)->NewChannel())
            ->GetHead(&ctx, carelog::v1::GetHeadRequest(), &head);
    if (!s.ok()) {
      const ProcessResult r = (*server)->Kill();
      FAIL() << "carelogd did not survive the full disk: " << s.error_message()
             << "\n"
             << Describe(r).substr(
                    Describe(r).size() > 3000 ? Describe(r).size() - 3000 : 0);
    }
    // Operators see why writes stopped, and that nothing was lost.
    EXPECT_THAT(head.writes_stopped(), ::testing::HasSubstr("storage failure"));
    EXPECT_GE(head.position(), acks.back().position);
  }
  EXPECT_THAT(refused.error_message(),
              ::testing::Not(::testing::HasSubstr("Diskfull")));
  {
    RegisterPatientReply reply;
    const grpc::Status again =
        Send(stub.get(), *fd, Registration(n + 1), &reply);
    EXPECT_TRUE(Refusal(again))
        << again.error_code() << " " << again.error_message();
  }
  // A read must be audited first; with no room for the audit event it fails
  // and discloses nothing.
  {
    carelog::v1::GetPatientRecordRequest req;
    req.set_patient_id(acks.front().patient_id);
    grpc::ClientContext ctx;
    Authorize(&ctx, *fd, "HOPERAT");
    carelog::v1::PatientRecord rec;
    const grpc::Status s =
        carelog::v1::QueryService::NewStub((*server)->NewChannel())
            ->GetPatientRecord(&ctx, req, &rec);
    EXPECT_TRUE(Refusal(s)) << s.error_code() << " " << s.error_message();
    EXPECT_EQ(rec.demographics().family_name(), "");
  }

  // Space returns; restart (a full disk may leave the server unable to drain:
  // SIGTERM with a deadline, then whatever it takes).
  ASSERT_TRUE(fs.Resize(uint64_t{256} << 20).ok());
  (*server)->Stop(absl::Seconds(20));
  server = CarelogdProcess::Start(data, key);
  ASSERT_TRUE(server.ok()) << "restart after disk full: " << server.status();
  stub = PatientService::NewStub((*server)->NewChannel());
  for (const Ack& a : acks) {
    RegisterPatientReply reply;
    const grpc::Status s = Send(stub.get(), *fd, a.request, &reply);
    ASSERT_TRUE(s.ok()) << a.request.command_id() << ": " << s.error_message();
    EXPECT_TRUE(reply.result().duplicate()) << a.request.command_id();
    EXPECT_EQ(reply.patient_id(), a.patient_id);
    EXPECT_EQ(reply.result().position(), a.position);
  }
  auto queries = carelog::v1::QueryService::NewStub((*server)->NewChannel());
  for (const Ack& a : acks) {
    carelog::v1::GetPatientRecordRequest req;
    req.set_patient_id(a.patient_id);
    req.set_min_position(acks.back().position);
    grpc::ClientContext ctx;
    Authorize(&ctx, *fd, "HOPERAT");
    carelog::v1::PatientRecord rec;
    const grpc::Status s = queries->GetPatientRecord(&ctx, req, &rec);
    ASSERT_TRUE(s.ok()) << a.patient_id << ": " << s.error_message();
    EXPECT_EQ(rec.demographics().family_name(),
              a.request.demographics().family_name());
  }
  {
    RegisterPatientReply reply;
    const grpc::Status s = Send(stub.get(), *fd, Registration(n + 2), &reply);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  const ProcessResult stopped = (*server)->Stop();
  EXPECT_EQ(stopped.exit_code, 0) << Describe(stopped);
  const ProcessResult verified = VerifyOffline(data);
  EXPECT_EQ(verified.exit_code, 0) << Describe(verified);
}

}  // namespace
}  // namespace carelog::integration
