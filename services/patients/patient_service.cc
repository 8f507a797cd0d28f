#include "services/patients/patient_service.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"

#include "policies/model.h"
#include "services/domain/validate.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)
using storage::ExpectedVersion;

namespace {

constexpr char kDemographics[] = "patient.demographics";
constexpr char kInsurance[] = "patient.insurance";
constexpr char kWrite[] = "write";
constexpr size_t kMaxPaperworkItems = 64;
constexpr int kMaxRestrictedResources = 16;
constexpr size_t kMaxServiceIdentityBytes = 255;

#define RETURN_IF_ERROR(expr) \
  do {                        \
    absl::Status _s = (expr); \
    if (!_s.ok())             \
      return _s;              \
  } while (0)

absl::Status ValidateDemographics(const Demographics& d, const std::string& f) {
  RETURN_IF_ERROR(
      CheckText(d.given_name(), f + ".given_name", kMaxNameBytes, true));
  RETURN_IF_ERROR(
      CheckText(d.family_name(), f + ".family_name", kMaxNameBytes, true));
  RETURN_IF_ERROR(CheckDate(d.date_of_birth(), f + ".date_of_birth", true));
  RETURN_IF_ERROR(CheckEnum(AdministrativeGender_IsValid(d.gender()),
                            d.gender(), f + ".gender"));
  RETURN_IF_ERROR(CheckId(d.mrn(), f + ".mrn", false));
  return absl::OkStatus();
}

absl::Status ValidateContact(const ContactPoint& c, const std::string& f) {
  RETURN_IF_ERROR(CheckText(c.phone(), f + ".phone", 40, false));
  RETURN_IF_ERROR(CheckText(c.email(), f + ".email", 254, false));
  if (!c.email().empty() && c.email().find('@') == std::string::npos) {
    return absl::InvalidArgumentError(f + ".email: not an email address");
  }
  if (c.address().lines_size() > 4)
    return absl::InvalidArgumentError(f + ".address.lines: at most 4 lines");
  for (int i = 0; i < c.address().lines_size(); ++i) {
    RETURN_IF_ERROR(CheckText(c.address().lines(i),
                              absl::StrCat(f, ".address.lines[", i, "]"),
                              kMaxShortTextBytes, false));
  }
  RETURN_IF_ERROR(CheckText(c.address().city(), f + ".address.city",
                            kMaxShortTextBytes, false));
  RETURN_IF_ERROR(CheckText(c.address().region(), f + ".address.region",
                            kMaxShortTextBytes, false));
  RETURN_IF_ERROR(CheckText(c.address().postal_code(),
                            f + ".address.postal_code", 20, false));
  RETURN_IF_ERROR(
      CheckText(c.address().country(), f + ".address.country", 2, false));
  return absl::OkStatus();
}

absl::Status ValidateLanguage(const std::string& lang, const std::string& f) {
  if (lang.empty())
    return absl::OkStatus();
  if (lang.size() > 35)
    return absl::InvalidArgumentError(f + ": longer than 35 bytes");
  for (char c : lang) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) {
      return absl::InvalidArgumentError(
          f + ": expected a BCP 47 tag such as en or es-MX");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateEmergencyContact(const EmergencyContact& e,
                                      const std::string& f) {
  RETURN_IF_ERROR(CheckText(e.name(), f + ".name", kMaxNameBytes, false));
  RETURN_IF_ERROR(CheckText(e.relationship(), f + ".relationship", 64, false));
  RETURN_IF_ERROR(CheckText(e.phone(), f + ".phone", 40, false));
  return absl::OkStatus();
}

void FinishReply(const storage::AppendResult& r, CommandResult* out) {
  FillCommandResult(r, out);
}

}  // namespace

absl::Status ValidateRegisterPatient(const RegisterPatientRequest& r) {
  RETURN_IF_ERROR(ValidateDemographics(r.demographics(), "demographics"));
  RETURN_IF_ERROR(ValidateContact(r.contact(), "contact"));
  RETURN_IF_ERROR(
      ValidateLanguage(r.preferred_language(), "preferred_language"));
  return ValidateEmergencyContact(r.emergency_contact(), "emergency_contact");
}

absl::Status ValidateUpdateDemographics(const UpdateDemographicsRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(ValidateDemographics(r.demographics(), "demographics"));
  RETURN_IF_ERROR(ValidateContact(r.contact(), "contact"));
  RETURN_IF_ERROR(
      ValidateLanguage(r.preferred_language(), "preferred_language"));
  return ValidateEmergencyContact(r.emergency_contact(), "emergency_contact");
}

absl::Status ValidateRecordInsurance(const RecordInsuranceRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(
      CheckText(r.insurance().payer(), "insurance.payer", kMaxNameBytes, true));
  RETURN_IF_ERROR(CheckId(r.insurance().member_id(), "insurance.member_id"));
  RETURN_IF_ERROR(
      CheckId(r.insurance().group_number(), "insurance.group_number", false));
  return CheckEnum(
      SubscriberRelation_IsValid(r.insurance().subscriber_relation()),
      r.insurance().subscriber_relation(), "insurance.subscriber_relation");
}

absl::Status ValidateRecordInsuranceVerification(
    const RecordInsuranceVerificationRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckId(r.insurance_id(), "insurance_id"));
  RETURN_IF_ERROR(
      CheckEnum(VerificationResult_IsValid(r.result()), r.result(), "result"));
  const bool failed = r.result() == VERIFICATION_RESULT_FAILED;
  RETURN_IF_ERROR(CheckText(r.failure_reason(), "failure_reason",
                            kMaxShortTextBytes, failed));
  if (!failed && !r.failure_reason().empty()) {
    return absl::InvalidArgumentError(
        "failure_reason: only allowed when result is FAILED");
  }
  return absl::OkStatus();
}

absl::Status ValidateCheckIn(const CheckInRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckId(r.appointment_id(), "appointment_id", false));
  RETURN_IF_ERROR(CheckId(r.insurance_id(), "insurance_id", false));
  if (static_cast<size_t>(r.paperwork_size()) > kMaxPaperworkItems) {
    return absl::InvalidArgumentError(
        absl::StrCat("paperwork: at most ", kMaxPaperworkItems, " items"));
  }
  std::set<std::string> names;
  for (int i = 0; i < r.paperwork_size(); ++i) {
    const std::string f = absl::StrCat("paperwork[", i, "].name");
    RETURN_IF_ERROR(CheckId(r.paperwork(i).name(), f));
    if (!names.insert(r.paperwork(i).name()).second)
      return absl::InvalidArgumentError(f + ": listed twice");
  }
  return absl::OkStatus();
}

absl::Status ValidateAssignCareTeamMember(
    const AssignCareTeamMemberRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckId(r.member_id(), "member_id"));
  return CheckEnum(CareTeamRole_IsValid(r.role()), r.role(), "role");
}

absl::Status ValidateRemoveCareTeamMember(
    const RemoveCareTeamMemberRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  return CheckId(r.member_id(), "member_id");
}

absl::Status ValidateSetPatientFlags(const SetPatientFlagsRequest& r) {
  return CheckId(r.patient_id(), "patient_id");
}

absl::Status ValidateRecordDisclosureRestriction(
    const RecordDisclosureRestrictionRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  RETURN_IF_ERROR(CheckEnum(RestrictedPartyKind_IsValid(r.party_kind()),
                            r.party_kind(), "party_kind"));
  // Actor ids and role names are ids; a service is named by its client
  // certificate's identity (a DNS name or URI).
  if (r.party_kind() == RESTRICTED_PARTY_KIND_SERVICE) {
    RETURN_IF_ERROR(
        CheckText(r.party(), "party", kMaxServiceIdentityBytes, true));
  } else {
    RETURN_IF_ERROR(CheckId(r.party(), "party"));
  }
  if (r.resources_size() > kMaxRestrictedResources) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resources: at most ", kMaxRestrictedResources, " resources"));
  }
  std::set<std::string> seen;
  for (int i = 0; i < r.resources_size(); ++i) {
    const std::string f = absl::StrCat("resources[", i, "]");
    const auto res = policies::ParseResource(r.resources(i));
    if (!res) {
      return absl::InvalidArgumentError(
          f +
          ": not a resource of the access policy (see "
          "docs/access-policy.md)");
    }
    if (*res == policies::Resource::kAudit ||
        *res == policies::Resource::kLedger) {
      return absl::InvalidArgumentError(
          f + ": only patient data can be restricted, not audit or ledger");
    }
    if (!seen.insert(r.resources(i)).second)
      return absl::InvalidArgumentError(f + ": listed twice");
  }
  return absl::OkStatus();
}

absl::Status ValidateLiftDisclosureRestriction(
    const LiftDisclosureRestrictionRequest& r) {
  RETURN_IF_ERROR(CheckId(r.patient_id(), "patient_id"));
  return CheckId(r.restriction_id(), "restriction_id");
}

PatientServiceImpl::PatientServiceImpl(CommandRunner* runner)
    : runner_(runner), patients_(runner->ledger(), FoldPatient) {}

absl::StatusOr<AggregateRepository<PatientState>::Loaded>
PatientServiceImpl::LoadAuthorized(CommandScope& scope,
                                   const std::string& patient_id,
                                   const char* resource) {
  auto loaded = patients_.Load(PatientStream(patient_id));
  if (!loaded.ok())
    return loaded.status();
  // Authorize before revealing whether the patient exists.
  RETURN_IF_ERROR(
      scope.Authorize(resource, kWrite, patient_id,
                      PatientFactsFor(loaded->state, scope.ctx().actor)));
  RETURN_IF_ERROR(RequireExists(loaded->state, patient_id));
  return loaded;
}

grpc::ServerUnaryReactor* PatientServiceImpl::RegisterPatient(
    grpc::CallbackServerContext* ctx, const RegisterPatientRequest* req,
    RegisterPatientReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.PatientService/RegisterPatient",
      req->command_id(), *req, [req] { return ValidateRegisterPatient(*req); },
      [req](CommandScope& scope) -> absl::Status {
        const std::string id = NewId("pt-");
        RETURN_IF_ERROR(scope.Authorize(kDemographics, kWrite, id));
        PatientRegistered ev;
        ev.set_patient_id(id);
        *ev.mutable_demographics() = req->demographics();
        *ev.mutable_contact() = req->contact();
        ev.set_preferred_language(req->preferred_language());
        *ev.mutable_emergency_contact() = req->emergency_contact();
        scope.Append(PatientStream(id), ExpectedVersion::NoStream(), ev, id);
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r,
              const std::vector<google::protobuf::Any>& bodies) {
        FinishReply(r, reply->mutable_result());
        PatientRegistered ev;
        if (!bodies.empty() && bodies[0].UnpackTo(&ev))
          reply->set_patient_id(ev.patient_id());
      });
  return reactor;
}

grpc::ServerUnaryReactor* PatientServiceImpl::UpdateDemographics(
    grpc::CallbackServerContext* ctx, const UpdateDemographicsRequest* req,
    PatientCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.PatientService/UpdateDemographics",
      req->command_id(), *req,
      [req] { return ValidateUpdateDemographics(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        auto p = LoadAuthorized(scope, req->patient_id(), kDemographics);
        if (!p.ok())
          return p.status();
        DemographicsUpdated ev;
        ev.set_patient_id(req->patient_id());
        *ev.mutable_demographics() = req->demographics();
        *ev.mutable_contact() = req->contact();
        ev.set_preferred_language(req->preferred_language());
        *ev.mutable_emergency_contact() = req->emergency_contact();
        scope.Append(PatientStream(req->patient_id()),
                     ExpectedVersion::Exact(p->version), ev, req->patient_id());
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r, const auto&) {
        FinishReply(r, reply->mutable_result());
      });
  return reactor;
}

grpc::ServerUnaryReactor* PatientServiceImpl::RecordInsurance(
    grpc::CallbackServerContext* ctx, const RecordInsuranceRequest* req,
    RecordInsuranceReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.PatientService/RecordInsurance",
      req->command_id(), *req, [req] { return ValidateRecordInsurance(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        auto p = LoadAuthorized(scope, req->patient_id(), kInsurance);
        if (!p.ok())
          return p.status();
        InsuranceRecorded ev;
        ev.set_patient_id(req->patient_id());
        ev.set_insurance_id(NewId("ins-"));
        *ev.mutable_insurance() = req->insurance();
        scope.Append(PatientStream(req->patient_id()),
                     ExpectedVersion::Exact(p->version), ev, req->patient_id());
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r,
              const std::vector<google::protobuf::Any>& bodies) {
        FinishReply(r, reply->mutable_result());
        InsuranceRecorded ev;
        if (!bodies.empty() && bodies[0].UnpackTo(&ev))
          reply->set_insurance_id(ev.insurance_id());
      });
  return reactor;
}

grpc::ServerUnaryReactor* PatientServiceImpl::RecordInsuranceVerification(
    grpc::CallbackServerContext* ctx,
    const RecordInsuranceVerificationRequest* req, PatientCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.PatientService/RecordInsuranceVerification",
      req->command_id(), *req,
      [req] { return ValidateRecordInsuranceVerification(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        auto p = LoadAuthorized(scope, req->patient_id(), kInsurance);
        if (!p.ok())
          return p.status();
        if (!p->state.insurances.count(req->insurance_id())) {
          return absl::NotFoundError(
              absl::StrCat("insurance ", req->insurance_id(),
                           " not found for patient ", req->patient_id()));
        }
        InsuranceVerificationRecorded ev;
        ev.set_patient_id(req->patient_id());
        ev.set_insurance_id(req->insurance_id());
        ev.set_result(req->result());
        ev.set_failure_reason(req->failure_reason());
        scope.Append(PatientStream(req->patient_id()),
                     ExpectedVersion::Exact(p->version), ev, req->patient_id());
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r, const auto&) {
        FinishReply(r, reply->mutable_result());
      });
  return reactor;
}

grpc::ServerUnaryReactor* PatientServiceImpl::CheckIn(
    grpc::CallbackServerContext* ctx, const CheckInRequest* req,
    CheckInReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.PatientService/CheckIn", req->command_id(),
      *req, [req] { return ValidateCheckIn(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        auto p = LoadAuthorized(scope, req->patient_id(), kDemographics);
        if (!p.ok())
          return p.status();
        PatientCheckedIn ev;
        ev.set_patient_id(req->patient_id());
        ev.set_check_in_id(NewId("chk-"));
        ev.set_appointment_id(req->appointment_id());
        ev.set_identity_verified(req->identity_verified());
        if (!req->insurance_id().empty()) {
          auto it = p->state.insurances.find(req->insurance_id());
          if (it == p->state.insurances.end()) {
            return absl::NotFoundError(
                absl::StrCat("insurance ", req->insurance_id(),
                             " not found for patient ", req->patient_id()));
          }
          ev.set_insurance_id(req->insurance_id());
          ev.set_insurance_verified(it->second.verification ==
                                    VERIFICATION_RESULT_VERIFIED);
        }
        for (const auto& item : req->paperwork()) {
          (item.complete() ? ev.add_paperwork_complete()
                           : ev.add_paperwork_missing())
              ->assign(item.name());
        }
        scope.Append(PatientStream(req->patient_id()),
                     ExpectedVersion::Exact(p->version), ev, req->patient_id());
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r,
              const std::vector<google::protobuf::Any>& bodies) {
        FinishReply(r, reply->mutable_result());
        PatientCheckedIn ev;
        if (!bodies.empty() && bodies[0].UnpackTo(&ev)) {
          reply->set_check_in_id(ev.check_in_id());
          *reply->mutable_paperwork_missing() = ev.paperwork_missing();
          reply->set_insurance_verified(ev.insurance_verified());
        }
      });
  return reactor;
}

grpc::ServerUnaryReactor* PatientServiceImpl::AssignCareTeamMember(
    grpc::CallbackServerContext* ctx, const AssignCareTeamMemberRequest* req,
    PatientCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.PatientService/AssignCareTeamMember",
      req->command_id(), *req,
      [req] { return ValidateAssignCareTeamMember(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        auto p = LoadAuthorized(scope, req->patient_id(), kDemographics);
        if (!p.ok())
          return p.status();
        auto it = p->state.care_team.find(req->member_id());
        if (it != p->state.care_team.end() && it->second == req->role()) {
          return absl::FailedPreconditionError(
              absl::StrCat("member ", req->member_id(),
                           " is already on the care team in that role"));
        }
        CareTeamMemberAssigned ev;
        ev.set_patient_id(req->patient_id());
        ev.set_member_id(req->member_id());
        ev.set_role(req->role());
        scope.Append(PatientStream(req->patient_id()),
                     ExpectedVersion::Exact(p->version), ev, req->patient_id());
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r, const auto&) {
        FinishReply(r, reply->mutable_result());
      });
  return reactor;
}

grpc::ServerUnaryReactor* PatientServiceImpl::RemoveCareTeamMember(
    grpc::CallbackServerContext* ctx, const RemoveCareTeamMemberRequest* req,
    PatientCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.PatientService/RemoveCareTeamMember",
      req->command_id(), *req,
      [req] { return ValidateRemoveCareTeamMember(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        auto p = LoadAuthorized(scope, req->patient_id(), kDemographics);
        if (!p.ok())
          return p.status();
        if (!p->state.care_team.count(req->member_id())) {
          return absl::FailedPreconditionError(absl::StrCat(
              "member ", req->member_id(), " is not on the care team"));
        }
        CareTeamMemberRemoved ev;
        ev.set_patient_id(req->patient_id());
        ev.set_member_id(req->member_id());
        scope.Append(PatientStream(req->patient_id()),
                     ExpectedVersion::Exact(p->version), ev, req->patient_id());
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r, const auto&) {
        FinishReply(r, reply->mutable_result());
      });
  return reactor;
}

grpc::ServerUnaryReactor* PatientServiceImpl::SetPatientFlags(
    grpc::CallbackServerContext* ctx, const SetPatientFlagsRequest* req,
    PatientCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.PatientService/SetPatientFlags",
      req->command_id(), *req, [req] { return ValidateSetPatientFlags(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        auto p = LoadAuthorized(scope, req->patient_id(), kDemographics);
        if (!p.ok())
          return p.status();
        PatientFlagsSet ev;
        ev.set_patient_id(req->patient_id());
        *ev.mutable_flags() = req->flags();
        scope.Append(PatientStream(req->patient_id()),
                     ExpectedVersion::Exact(p->version), ev, req->patient_id());
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r, const auto&) {
        FinishReply(r, reply->mutable_result());
      });
  return reactor;
}

namespace {

// Whether `a` restricts the same party from the same resources as `r`.
bool SameRestriction(const DisclosureRestriction& a,
                     const RecordDisclosureRestrictionRequest& r) {
  if (a.party_kind() != r.party_kind() || a.party() != r.party())
    return false;
  std::set<std::string> x(a.resources().begin(), a.resources().end());
  std::set<std::string> y(r.resources().begin(), r.resources().end());
  return x == y;
}

}  // namespace

grpc::ServerUnaryReactor* PatientServiceImpl::RecordDisclosureRestriction(
    grpc::CallbackServerContext* ctx,
    const RecordDisclosureRestrictionRequest* req,
    RecordDisclosureRestrictionReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.PatientService/RecordDisclosureRestriction",
      req->command_id(), *req,
      [req] { return ValidateRecordDisclosureRestriction(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        auto p = LoadAuthorized(scope, req->patient_id(), kDemographics);
        if (!p.ok())
          return p.status();
        const auto& in_force = p->state.restrictions;
        for (const auto& r : in_force) {
          if (SameRestriction(r, *req)) {
            return absl::FailedPreconditionError(
                absl::StrCat("restriction ", r.restriction_id(),
                             " already restricts that party"));
          }
        }
        if (in_force.size() >= kMaxRestrictionsPerPatient) {
          return absl::FailedPreconditionError(
              absl::StrCat("patient ", req->patient_id(), " has ",
                           in_force.size(), " restrictions, the maximum"));
        }
        DisclosureRestrictionRecorded ev;
        ev.set_patient_id(req->patient_id());
        DisclosureRestriction* r = ev.mutable_restriction();
        r->set_restriction_id(NewId("rst-"));
        r->set_party_kind(req->party_kind());
        r->set_party(req->party());
        *r->mutable_resources() = req->resources();
        std::sort(r->mutable_resources()->begin(),
                  r->mutable_resources()->end());
        scope.Append(PatientStream(req->patient_id()),
                     ExpectedVersion::Exact(p->version), ev, req->patient_id());
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r,
              const std::vector<google::protobuf::Any>& bodies) {
        FinishReply(r, reply->mutable_result());
        DisclosureRestrictionRecorded ev;
        if (!bodies.empty() && bodies[0].UnpackTo(&ev))
          reply->set_restriction_id(ev.restriction().restriction_id());
      });
  return reactor;
}

grpc::ServerUnaryReactor* PatientServiceImpl::LiftDisclosureRestriction(
    grpc::CallbackServerContext* ctx,
    const LiftDisclosureRestrictionRequest* req, PatientCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.PatientService/LiftDisclosureRestriction",
      req->command_id(), *req,
      [req] { return ValidateLiftDisclosureRestriction(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        auto p = LoadAuthorized(scope, req->patient_id(), kDemographics);
        if (!p.ok())
          return p.status();
        const auto& in_force = p->state.restrictions;
        if (std::none_of(in_force.begin(), in_force.end(), [&](const auto& r) {
              return r.restriction_id() == req->restriction_id();
            })) {
          return absl::NotFoundError(
              absl::StrCat("restriction ", req->restriction_id(),
                           " not found for patient ", req->patient_id()));
        }
        DisclosureRestrictionLifted ev;
        ev.set_patient_id(req->patient_id());
        ev.set_restriction_id(req->restriction_id());
        scope.Append(PatientStream(req->patient_id()),
                     ExpectedVersion::Exact(p->version), ev, req->patient_id());
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r, const auto&) {
        FinishReply(r, reply->mutable_result());
      });
  return reactor;
}

}  // namespace carelog::services
