#include "services/complaints/complaint_service.h"

#include <vector>

#include "absl/strings/str_cat.h"

#include "services/domain/validate.h"

namespace carelog::services {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)
using storage::ExpectedVersion;

#define RETURN_IF_ERROR(expr) \
  do {                        \
    absl::Status _s = (expr); \
    if (!_s.ok())             \
      return _s;              \
  } while (0)

namespace {

constexpr char kComplaints[] = "complaints";
constexpr char kWrite[] = "write";

}  // namespace

ComplaintServiceImpl::ComplaintServiceImpl(CommandRunner* runner)
    : runner_(runner),
      patients_(runner->ledger(), FoldPatient),
      complaints_(runner->ledger(), FoldComplaint) {}

absl::Status ComplaintServiceImpl::AuthorizeWrite(CommandScope& scope,
                                                  const std::string& patient_id,
                                                  bool assigned,
                                                  bool self_may_act) {
  auto p = patients_.Load(PatientStream(patient_id));
  if (!p.ok())
    return p.status();
  PatientFacts facts = PatientFactsFor(p->state, scope.ctx().actor);
  facts.is_assigned = assigned;
  if (!self_may_act)
    facts.is_self = false;
  // Authorize before revealing whether the patient exists.
  RETURN_IF_ERROR(scope.Authorize(kComplaints, kWrite, patient_id, facts));
  return RequireExists(p->state, patient_id);
}

grpc::ServerUnaryReactor* ComplaintServiceImpl::FileComplaint(
    grpc::CallbackServerContext* ctx, const FileComplaintRequest* req,
    ComplaintCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  runner_->Execute(
      ctx, reactor, "carelog.v1.ComplaintService/FileComplaint",
      req->command_id(), *req, [req] { return ValidateFileComplaint(*req); },
      [this, req](CommandScope& scope) -> absl::Status {
        RETURN_IF_ERROR(AuthorizeWrite(scope, req->patient_id(), false, true));
        const std::string id = NewId("cmp-");
        scope.Append(ComplaintStream(id), ExpectedVersion::NoStream(),
                     DecideFileComplaint(*req, id, scope.ctx().received_at),
                     req->patient_id());
        return absl::OkStatus();
      },
      [reply](const storage::AppendResult& r,
              const std::vector<google::protobuf::Any>& bodies) {
        FillCommandResult(r, reply->mutable_result());
        for (const auto& b : bodies) {
          ComplaintFiled ev;
          if (b.UnpackTo(&ev)) {
            reply->set_complaint_id(ev.complaint_id());
            reply->set_response_due_at_micros(ev.response_due_at_micros());
          }
        }
      });
  return reactor;
}

template <typename Req, typename Ev>
void ComplaintServiceImpl::OnComplaint(
    grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
    const char* method, const Req* req, ComplaintCommandReply* reply,
    absl::Status (*validate)(const Req&),
    std::function<absl::StatusOr<Ev>(const ComplaintState&,
                                     const CommandScope&)>
        decide,
    bool self_may_act) {
  runner_->Execute(
      ctx, reactor, absl::StrCat("carelog.v1.ComplaintService/", method),
      req->command_id(), *req, [req, validate] { return validate(*req); },
      [this, req, decide = std::move(decide),
       self_may_act](CommandScope& scope) -> absl::Status {
        auto c = complaints_.Load(ComplaintStream(req->complaint_id()));
        if (!c.ok())
          return c.status();
        const bool assigned = c->state.exists &&
                              c->state.patient_id == req->patient_id() &&
                              c->state.assignee_id == scope.ctx().actor;
        RETURN_IF_ERROR(
            AuthorizeWrite(scope, req->patient_id(), assigned, self_may_act));
        auto ev = decide(c->state, scope);
        if (!ev.ok())
          return ev.status();
        scope.Append(ComplaintStream(req->complaint_id()),
                     ExpectedVersion::Exact(c->version), *ev,
                     req->patient_id());
        return absl::OkStatus();
      },
      [reply, req](const storage::AppendResult& r,
                   const std::vector<google::protobuf::Any>& bodies) {
        FillCommandResult(r, reply->mutable_result());
        reply->set_complaint_id(req->complaint_id());
        for (const auto& b : bodies) {
          ComplaintNoteAdded note;
          if (b.UnpackTo(&note))
            reply->set_note_id(note.note_id());
        }
      });
}

grpc::ServerUnaryReactor* ComplaintServiceImpl::AcknowledgeComplaint(
    grpc::CallbackServerContext* ctx, const AcknowledgeComplaintRequest* req,
    ComplaintCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  OnComplaint<AcknowledgeComplaintRequest, ComplaintAcknowledged>(
      ctx, reactor, "AcknowledgeComplaint", req, reply,
      &ValidateAcknowledgeComplaint,
      [req](const ComplaintState& s, const CommandScope& scope) {
        return DecideAcknowledgeComplaint(s, *req, scope.ctx().received_at);
      },
      false);
  return reactor;
}

grpc::ServerUnaryReactor* ComplaintServiceImpl::AssignComplaint(
    grpc::CallbackServerContext* ctx, const AssignComplaintRequest* req,
    ComplaintCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  OnComplaint<AssignComplaintRequest, ComplaintAssigned>(
      ctx, reactor, "AssignComplaint", req, reply, &ValidateAssignComplaint,
      [req](const ComplaintState& s, const CommandScope&) {
        return DecideAssignComplaint(s, *req);
      },
      false);
  return reactor;
}

grpc::ServerUnaryReactor* ComplaintServiceImpl::AddComplaintNote(
    grpc::CallbackServerContext* ctx, const AddComplaintNoteRequest* req,
    ComplaintCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  OnComplaint<AddComplaintNoteRequest, ComplaintNoteAdded>(
      ctx, reactor, "AddComplaintNote", req, reply, &ValidateAddComplaintNote,
      [req](const ComplaintState& s, const CommandScope&) {
        return DecideAddComplaintNote(s, *req, NewId("note-"));
      },
      true);
  return reactor;
}

grpc::ServerUnaryReactor* ComplaintServiceImpl::EscalateComplaint(
    grpc::CallbackServerContext* ctx, const EscalateComplaintRequest* req,
    ComplaintCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  OnComplaint<EscalateComplaintRequest, ComplaintEscalated>(
      ctx, reactor, "EscalateComplaint", req, reply, &ValidateEscalateComplaint,
      [req](const ComplaintState& s, const CommandScope&) {
        return DecideEscalateComplaint(s, *req);
      },
      false);
  return reactor;
}

grpc::ServerUnaryReactor* ComplaintServiceImpl::ResolveComplaint(
    grpc::CallbackServerContext* ctx, const ResolveComplaintRequest* req,
    ComplaintCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  OnComplaint<ResolveComplaintRequest, ComplaintResolved>(
      ctx, reactor, "ResolveComplaint", req, reply, &ValidateResolveComplaint,
      [req](const ComplaintState& s, const CommandScope&) {
        return DecideResolveComplaint(s, *req);
      },
      false);
  return reactor;
}

grpc::ServerUnaryReactor* ComplaintServiceImpl::ReopenComplaint(
    grpc::CallbackServerContext* ctx, const ReopenComplaintRequest* req,
    ComplaintCommandReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  OnComplaint<ReopenComplaintRequest, ComplaintReopened>(
      ctx, reactor, "ReopenComplaint", req, reply, &ValidateReopenComplaint,
      [req](const ComplaintState& s, const CommandScope&) {
        return DecideReopenComplaint(s, *req);
      },
      true);
  return reactor;
}

}  // namespace carelog::services
