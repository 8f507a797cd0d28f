// tests/fuzz/command_validation_fuzz.cc — libFuzzer target for command
// validation: the first input byte picks a domain command (the table in
// command_validators.h, all six services), the rest is parsed as that
// command's request protobuf and validated as the service would before
// anything is appended (the command id as CommandRunner checks it, then the
// command's Validate* function).
//
// Properties: validation returns OK or INVALID_ARGUMENT with a non-empty
// message, the same answer twice; and the message never echoes a string
// field of the request (it may be patient data): no string value of 16 bytes
// or more appears in it, unless the value could be a field path itself.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"

#include "services/domain/validate.h"
#include "tests/fuzz/command_validators.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using carelog::fuzz::Check;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Every string value in `m`, recursively (bounded depth).
void CollectStrings(const Message& m, int depth,
                    std::vector<std::string>* out) {
  if (depth > 8)
    return;
  const auto* refl = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      if (f->is_repeated()) {
        for (int i = 0; i < refl->FieldSize(m, f); ++i)
          out->push_back(refl->GetRepeatedString(m, f, i));
      } else {
        out->push_back(refl->GetString(m, f));
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < refl->FieldSize(m, f); ++i)
          CollectStrings(refl->GetRepeatedMessage(m, f, i), depth + 1, out);
      } else {
        CollectStrings(refl->GetMessage(m, f), depth + 1, out);
      }
    }
  }
}

bool LooksLikeFieldPath(const std::string& s) {
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '[' || c == ']' || c == ' ' ||
                    c == ':';
    if (!ok)
      return false;
  }
  return true;
}

absl::Status Validate(const carelog::fuzz::CommandValidator& v,
                      const Message& req) {
  const FieldDescriptor* cmd =
      req.GetDescriptor()->FindFieldByName("command_id");
  if (cmd != nullptr) {
    absl::Status s = carelog::services::CheckCommandId(
        req.GetReflection()->GetString(req, cmd));
    if (!s.ok())
      return s;
  }
  return v.validate(req);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& table = carelog::fuzz::CommandValidators();
  if (size == 0)
    return 0;
  const carelog::fuzz::CommandValidator& v = table[data[0] % table.size()];
  std::unique_ptr<Message> req(v.prototype->New());
  if (!req->ParseFromArray(data + 1, static_cast<int>(size - 1)))
    return 0;
  const absl::Status s = Validate(v, *req);
  Check(s == Validate(v, *req), "validation is deterministic");
  if (s.ok())
    return 0;
  Check(s.code() == absl::StatusCode::kInvalidArgument,
        "a refused command is INVALID_ARGUMENT");
  Check(!s.message().empty(), "the message names the field");
  std::vector<std::string> values;
  CollectStrings(*req, 0, &values);
  for (const std::string& value : values) {
    if (value.size() >= 16 && !LooksLikeFieldPath(value))
      Check(!absl::StrContains(s.message(), value),
            "the message does not echo a request value");
  }
  return 0;
}
