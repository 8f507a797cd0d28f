// The domain services carelogd serves. One block per domain.
#include "services/domain/registry.h"
#include "services/patients/patient_service.h"

namespace carelog::services {

DomainServices MakeDomainServices(CommandRunner* runner) {
  DomainServices d;
  d.services.push_back(std::make_unique<PatientServiceImpl>(runner));
  d.names.push_back("carelog.v1.PatientService");
  return d;
}

}  // namespace carelog::services
