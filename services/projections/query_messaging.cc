// QueryService reads over the messages view. Each message is decided on the
// resource of its kind (clinical.messages, clinical.test_results,
// clinical.care_instructions), so that e.g. a support specialist sees that a
// test result is ready but never what it says.
#include <utility>

#include "absl/strings/str_cat.h"

#include "services/domain/validate.h"
#include "services/messaging/messaging_aggregate.h"
#include "services/projections/query_service.h"
#include "services/projections/support_views.h"

namespace carelog::services::projections {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)

namespace {

bool OneOf(const std::string& f, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (f == n)
      return true;
  }
  return false;
}

}  // namespace

void ApplyMessageMasks(const std::vector<std::string>& masked_fields,
                       MessageRecord* r) {
  // Field names of the three resources, mapped onto the one record.
  for (const std::string& f : masked_fields) {
    if (OneOf(f, {"sender", "recipients", "ordering_clinician", "author"})) {
      r->clear_provider_id();
      r->clear_released_by();
    } else if (OneOf(f, {"sent_at", "ordered_at", "issued_at"})) {
      r->clear_sent_at_micros();
      r->clear_delivered_at_micros();
      r->clear_acknowledged_at_micros();
    } else if (OneOf(f, {"subject", "test_name", "title"})) {
      r->clear_subject();
    } else if (f == "status") {
      r->clear_status();
      r->clear_delivery_channel();
      r->clear_delivered_at_micros();
      r->clear_acknowledged_at_micros();
    } else if (OneOf(f, {"body", "result_value", "reference_range",
                         "interpretation", "report_text", "instructions",
                         "medications", "follow_up"})) {
      r->clear_body();
    }
    r->add_masked_fields(f);
  }
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetMessage(
    grpc::CallbackServerContext* call, const GetMessageRequest* req,
    MessageRecord* reply) {
  if (auto s = CheckId(req->message_id(), "message_id"); !s.ok())
    return Reject(call, s);
  return core_.RunRead(
      call, "/carelog.v1.QueryService/GetMessage", kMessagesView,
      req->min_position(), [this, req, reply](CommandScope& scope) {
        // Message ids are random: an unknown one is NOT_FOUND without a
        // decision (there is no patient to decide about).
        auto m =
            core_.ReadEntity<MessageRecord>(kMessagesView, req->message_id());
        if (!m.ok())
          return m.status();
        ReadDecisions decisions(&core_, &scope);
        auto masks = decisions.Decide(ResourceForMessageKind(m->second.kind()),
                                      m->first);
        if (!masks.ok())
          return masks.status();
        ApplyMessageMasks(*masks, &m->second);
        *reply = std::move(m->second);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListMessages(
    grpc::CallbackServerContext* call, const ListMessagesRequest* req,
    MessagePage* reply) {
  if (auto s = FirstError(
          {CheckId(req->patient_id(), "patient_id", false),
           KnownEnum(MessageKind_IsValid(req->kind()), req->kind(), "kind"),
           KnownEnum(MessageStatus_IsValid(req->status()), req->status(),
                     "status")});
      !s.ok())
    return Reject(call, s);
  std::string prefix;
  switch (req->filter()) {
    case ListMessagesRequest::FILTER_PATIENT:
      if (auto s = CheckId(req->patient_id(), "patient_id"); !s.ok())
        return Reject(call, s);
      prefix = absl::StrCat("mp/", req->patient_id(), "/");
      break;
    case ListMessagesRequest::FILTER_STATUS:
      prefix = absl::StrCat("ms/", static_cast<int>(req->status()), "/");
      break;
    default:
      return Reject(call, absl::InvalidArgumentError("filter: required"));
  }
  return core_.RunRead(
      call, "/carelog.v1.QueryService/ListMessages", kMessagesView,
      req->min_position(), [this, req, reply, prefix](CommandScope& scope) {
        ReadDecisions decisions(&core_, &scope);
        auto emit = [&](const std::string& key) -> absl::Status {
          auto m = core_.ReadEntity<MessageRecord>(kMessagesView,
                                                   EntityView::IdOfKey(key));
          if (absl::IsNotFound(m.status()))
            return absl::OkStatus();  // erased meanwhile
          if (!m.ok())
            return m.status();
          // The kind is never masked: other kinds are skipped undecided.
          if (req->kind() != MESSAGE_KIND_UNSPECIFIED &&
              m->second.kind() != req->kind())
            return absl::OkStatus();
          auto masks = decisions.Decide(
              ResourceForMessageKind(m->second.kind()), m->first);
          if (!masks.ok())
            return absl::OkStatus();  // left out; the denial is audited
          // A status filter would disclose a masked status.
          if (req->filter() == ListMessagesRequest::FILTER_STATUS &&
              Masked(*masks, "status"))
            return absl::OkStatus();
          ApplyMessageMasks(*masks, &m->second);
          *reply->add_messages() = std::move(m->second);
          return absl::OkStatus();
        };
        return core_.ListKeys(kMessagesView, {prefix, "", ""}, req->page_size(),
                              req->page_token(), emit,
                              reply->mutable_next_page_token());
      });
}

}  // namespace carelog::services::projections
