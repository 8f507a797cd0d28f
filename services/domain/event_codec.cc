#include "services/domain/event_codec.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace carelog::services {

carelog::v1::EventMeta MetaFor(const RequestContext& ctx) {
  carelog::v1::EventMeta m;
  m.set_actor(ctx.actor);
  for (const auto& r : ctx.roles)
    m.add_actor_roles(r);
  m.set_calling_service(ctx.calling_service);
  m.set_request_id(ctx.request_id);
  m.set_purpose(ctx.purpose);
  m.set_occurred_at_micros(absl::ToUnixMicros(ctx.received_at));
  return m;
}

storage::NewEvent ToLedgerEvent(const google::protobuf::Message& body,
                                const carelog::v1::EventMeta& meta,
                                crypto::KeyClass key_class,
                                const std::string& subject_id) {
  carelog::v1::StoredPayload payload;
  *payload.mutable_meta() = meta;
  payload.mutable_body()->PackFrom(body);
  storage::NewEvent ev;
  ev.event_type = body.GetDescriptor()->full_name();
  ev.payload = DeterministicBytes(payload);
  ev.key_class = key_class;
  ev.subject_id = subject_id;
  return ev;
}

absl::StatusOr<DecodedEvent> DecodeEvent(const storage::Ledger& ledger,
                                         const storage::StoredEvent& event) {
  auto plain = ledger.Decrypt(event);
  if (!plain.ok())
    return plain.status();
  carelog::v1::StoredPayload payload;
  if (!payload.ParseFromString(*plain)) {
    return absl::DataLossError(absl::StrCat("event at position ",
                                            event.header.position,
                                            ": payload does not parse"));
  }
  DecodedEvent out;
  out.header = event.header;
  const std::string& url = payload.body().type_url();
  const size_t slash = url.rfind('/');
  if (slash == std::string::npos ||
      url.substr(slash + 1) != event.header.event_type) {
    return absl::DataLossError(
        absl::StrCat("event at position ", event.header.position,
                     ": body type differs from its header"));
  }
  out.meta = std::move(*payload.mutable_meta());
  out.body = std::move(*payload.mutable_body());
  return out;
}

std::string DeterministicBytes(const google::protobuf::Message& msg) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    msg.SerializeToCodedStream(&cos);
  }
  return out;
}

}  // namespace carelog::services
