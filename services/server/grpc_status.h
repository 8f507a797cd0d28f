// services/server/grpc_status.h — the one place absl::Status becomes
// grpc::Status (the codes are numerically identical; gRPC 1.51 ships no
// converter). Header-only; thread-safe.
#ifndef CARELOG_SERVICES_SERVER_GRPC_STATUS_H_
#define CARELOG_SERVICES_SERVER_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace carelog::services {

inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok())
    return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_SERVER_GRPC_STATUS_H_
