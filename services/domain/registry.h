// services/domain/registry.h — the list of domain gRPC services carelogd
// serves. Each domain folder (patients/, scheduling/, …) adds its service in
// services/domain_services.cc; the server registers whatever this returns.
#ifndef CARELOG_SERVICES_DOMAIN_REGISTRY_H_
#define CARELOG_SERVICES_DOMAIN_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/impl/service_type.h"

#include "services/domain/command_runner.h"

namespace carelog::services {

struct DomainServices {
  std::vector<std::unique_ptr<grpc::Service>> services;
  std::vector<std::string> names;  // full service names, for health status
};

// `runner` must outlive the returned services.
DomainServices MakeDomainServices(CommandRunner* runner);

}  // namespace carelog::services

#endif  // CARELOG_SERVICES_DOMAIN_REGISTRY_H_
