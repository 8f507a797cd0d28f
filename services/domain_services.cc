// The domain services carelogd serves. One block per domain.
#include "services/billing/billing_service.h"
#include "services/complaints/complaint_service.h"
#include "services/domain/registry.h"
#include "services/logistics/logistics_service.h"
#include "services/messaging/messaging_service.h"
#include "services/patients/patient_service.h"
#include "services/scheduling/scheduling_service.h"

namespace carelog::services {

DomainServices MakeDomainServices(CommandRunner* runner) {
  DomainServices d;
  d.services.push_back(std::make_unique<PatientServiceImpl>(runner));
  d.names.push_back("carelog.v1.PatientService");
  d.services.push_back(std::make_unique<SchedulingServiceImpl>(runner));
  d.names.push_back("carelog.v1.SchedulingService");
  d.services.push_back(std::make_unique<MessagingServiceImpl>(runner));
  d.names.push_back("carelog.v1.MessagingService");
  d.services.push_back(std::make_unique<BillingServiceImpl>(runner));
  d.names.push_back("carelog.v1.BillingService");
  d.services.push_back(std::make_unique<LogisticsServiceImpl>(runner));
  d.names.push_back("carelog.v1.LogisticsService");
  d.services.push_back(std::make_unique<ComplaintServiceImpl>(runner));
  d.names.push_back("carelog.v1.ComplaintService");
  return d;
}

}  // namespace carelog::services
