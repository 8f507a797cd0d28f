// tests/fuzz/command_validators.h — every domain command's request type with
// its validator (the Validate* functions of each service), as one table: the
// command validation fuzz target picks an entry by the input's first byte and
// make_seeds.cc writes a seed per entry. Keep the order stable: committed
// seeds name entries by index. Thread-safe (immutable after first use).
#ifndef CARELOG_TESTS_FUZZ_COMMAND_VALIDATORS_H_
#define CARELOG_TESTS_FUZZ_COMMAND_VALIDATORS_H_

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

#include "services/billing/billing_aggregate.h"
#include "services/complaints/complaint_aggregate.h"
#include "services/logistics/logistics_aggregate.h"
#include "services/messaging/messaging_service.h"
#include "services/patients/patient_service.h"
#include "services/scheduling/scheduling_service.h"

namespace carelog::fuzz {

struct CommandValidator {
  const char* name;
  const google::protobuf::Message* prototype;
  std::function<absl::Status(const google::protobuf::Message&)> validate;

  template <typename Req>
  static CommandValidator Of(const char* name, absl::Status (*fn)(const Req&)) {
    return {name, &Req::default_instance(),
            [fn](const google::protobuf::Message& m) {
              return fn(static_cast<const Req&>(m));
            }};
  }
};

#define CARELOG_FUZZ_VALIDATOR(Command)                \
  CommandValidator::Of<carelog::v1::Command##Request>( \
      #Command, &services::Validate##Command)

inline const std::vector<CommandValidator>& CommandValidators() {
  static const auto* table = new std::vector<CommandValidator>{
      // patients
      CARELOG_FUZZ_VALIDATOR(RegisterPatient),
      CARELOG_FUZZ_VALIDATOR(UpdateDemographics),
      CARELOG_FUZZ_VALIDATOR(RecordInsurance),
      CARELOG_FUZZ_VALIDATOR(RecordInsuranceVerification),
      CARELOG_FUZZ_VALIDATOR(CheckIn),
      CARELOG_FUZZ_VALIDATOR(AssignCareTeamMember),
      CARELOG_FUZZ_VALIDATOR(RemoveCareTeamMember),
      CARELOG_FUZZ_VALIDATOR(SetPatientFlags),
      // scheduling
      CARELOG_FUZZ_VALIDATOR(ScheduleAppointment),
      CARELOG_FUZZ_VALIDATOR(RescheduleAppointment),
      CARELOG_FUZZ_VALIDATOR(ConfirmAppointment),
      CARELOG_FUZZ_VALIDATOR(CancelAppointment),
      CARELOG_FUZZ_VALIDATOR(MarkNoShow),
      CARELOG_FUZZ_VALIDATOR(CompleteAppointment),
      CARELOG_FUZZ_VALIDATOR(UpdatePreAppointmentInstructions),
      // messaging
      CARELOG_FUZZ_VALIDATOR(SendMessage),
      CARELOG_FUZZ_VALIDATOR(RecordMessageDelivery),
      CARELOG_FUZZ_VALIDATOR(AcknowledgeMessage),
      // billing
      CARELOG_FUZZ_VALIDATOR(PostCharge),
      CARELOG_FUZZ_VALIDATOR(RecordPayment),
      CARELOG_FUZZ_VALIDATOR(RecordRefund),
      CARELOG_FUZZ_VALIDATOR(CreatePaymentPlan),
      CARELOG_FUZZ_VALIDATOR(RecordInstalmentPaid),
      CARELOG_FUZZ_VALIDATOR(RecordInstalmentMissed),
      CARELOG_FUZZ_VALIDATOR(ApplyForAssistance),
      CARELOG_FUZZ_VALIDATOR(ApproveAssistance),
      CARELOG_FUZZ_VALIDATOR(DenyAssistance),
      // logistics
      CARELOG_FUZZ_VALIDATOR(RequestTransportation),
      CARELOG_FUZZ_VALIDATOR(RequestLodging),
      CARELOG_FUZZ_VALIDATOR(ArrangeLogistics),
      CARELOG_FUZZ_VALIDATOR(ConfirmLogistics),
      CARELOG_FUZZ_VALIDATOR(CancelLogistics),
      CARELOG_FUZZ_VALIDATOR(CompleteLogistics),
      // complaints
      CARELOG_FUZZ_VALIDATOR(FileComplaint),
      CARELOG_FUZZ_VALIDATOR(AcknowledgeComplaint),
      CARELOG_FUZZ_VALIDATOR(AssignComplaint),
      CARELOG_FUZZ_VALIDATOR(AddComplaintNote),
      CARELOG_FUZZ_VALIDATOR(EscalateComplaint),
      CARELOG_FUZZ_VALIDATOR(ResolveComplaint),
      CARELOG_FUZZ_VALIDATOR(ReopenComplaint),
      // patients, later additions (appended: seeds name entries by index)
      CARELOG_FUZZ_VALIDATOR(RecordDisclosureRestriction),
      CARELOG_FUZZ_VALIDATOR(LiftDisclosureRestriction),
  };
  return *table;
}

#undef CARELOG_FUZZ_VALIDATOR

}  // namespace carelog::fuzz

#endif  // CARELOG_TESTS_FUZZ_COMMAND_VALIDATORS_H_
