// ops/bench/load_clients.h — the gRPC side of carelog-loadbench: channels,
// development tokens, the synthetic clinic (patients with a clinician on the
// care team), and the operations the load driver issues against carelogd or
// the no-op server (same RPCs, same metadata, same request bytes).
//
// Thread-safety: a GrpcTarget is immutable after Connect/Setup; its Op
// functions may be called from many threads (gRPC callback threads).
#ifndef CARELOG_OPS_BENCH_LOAD_CLIENTS_H_
#define CARELOG_OPS_BENCH_LOAD_CLIENTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

#include "carelog/v1/messaging.grpc.pb.h"
#include "carelog/v1/patients.grpc.pb.h"
#include "carelog/v1/queries.grpc.pb.h"
#include "ops/bench/load_driver.h"

namespace carelog::bench {

// Bearer tokens for the two actors of the benchmark, minted with carelogd's
// development issuer key (DATA_DIR/dev-issuer): a front-desk clerk (reads,
// registrations; purpose HOPERAT) and the clinician on every patient's care
// team (messages; purpose TREAT).
struct BenchTokens {
  std::string front_desk;
  std::string clinician;
};
// Errors: those of TokenSigner::LoadPem (NOT_FOUND before carelogd started).
absl::StatusOr<BenchTokens> MintDevTokens(const std::string& carelog_data_dir);

class GrpcTarget {
 public:
  // `connections` channels, each its own TCP connection, to `address`.
  // Waits (up to 60 s) until every channel is connected.
  // Errors: UNAVAILABLE if the server does not come up.
  static absl::StatusOr<std::unique_ptr<GrpcTarget>> Connect(
      const std::string& address, int connections, BenchTokens tokens,
      size_t payload_bytes);

  // Registers `patients` patients with the clinician on each care team
  // (sequential blocking calls). Errors: the first failed call's status.
  absl::Status Setup(int patients, const std::string& run_tag);
  // For the no-op server, which stores nothing: synthetic patient ids.
  void UseSyntheticPatients(int patients);

  // One SendMessage (a ~payload_bytes general message from the clinician to
  // the patient): a durable append of one event. Class 0.
  LoadOp AppendOp(const std::string& point_tag) const;
  // One GetPatientRecord by the front desk: an audited read. Class 0.
  LoadOp ReadOp() const;
  // 80% reads (class 0), 20% appends (class 1), chosen per call.
  LoadOp MixedOp(const std::string& point_tag) const;

 private:
  GrpcTarget() = default;
  void StartAppend(int caller, uint64_t seq, const std::string& tag, int cls,
                   LoadDone done) const;
  void StartRead(int caller, uint64_t seq, int cls, LoadDone done) const;
  const std::string& PatientFor(int caller, uint64_t seq) const;

  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<carelog::v1::MessagingService::Stub>> messaging_;
  std::vector<std::unique_ptr<carelog::v1::QueryService::Stub>> queries_;
  std::vector<std::unique_ptr<carelog::v1::PatientService::Stub>>
      patients_stub_;
  BenchTokens tokens_;
  std::string body_;
  std::vector<std::string> patients_;
};

// The plaintext body of every benchmark message: synthetic text of exactly
// `bytes` bytes.
std::string SyntheticBody(size_t bytes);

}  // namespace carelog::bench

#endif  // CARELOG_OPS_BENCH_LOAD_CLIENTS_H_
