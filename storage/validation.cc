#include "storage/validation.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

#include "storage/record.h"

namespace carelog::storage {

namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

absl::Status CheckToken(absl::string_view value, absl::string_view field,
                        size_t max_len, absl::string_view extra_chars,
                        bool required) {
  if (value.empty()) {
    if (required)
      return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
    return absl::OkStatus();
  }
  if (value.size() > max_len) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", value.size(), " bytes exceeds the limit of ", max_len));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (!IsAlnum(c) && extra_chars.find(c) == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": invalid character at byte ", i,
                       " (allowed: letters, digits and ", extra_chars, ")"));
    }
  }
  return absl::OkStatus();
}

void PutLengthPrefixed(std::string* out, absl::string_view s) {
  PutU64(out, s.size());
  out->append(s.data(), s.size());
}

}  // namespace

absl::Status ValidateStreamId(absl::string_view id, absl::string_view field) {
  return CheckToken(id, field, kMaxStreamIdBytes, "._:/@-", /*required=*/true);
}

absl::Status ValidateSubjectId(absl::string_view id, absl::string_view field,
                               bool required) {
  return CheckToken(id, field, kMaxSubjectIdBytes, "._:-", required);
}

absl::Status ValidateAppendRequest(const AppendRequest& request,
                                   const LedgerLimits& limits) {
  if (auto s = CheckToken(request.command_id, "command_id", kMaxCommandIdBytes,
                          "._:-", true);
      !s.ok()) {
    return s;
  }
  if (request.streams.empty())
    return absl::InvalidArgumentError(
        "streams: at least one stream append required");
  size_t total_events = 0;
  size_t total_bytes = 0;
  absl::flat_hash_set<absl::string_view> seen;
  for (size_t i = 0; i < request.streams.size(); ++i) {
    const StreamAppend& sa = request.streams[i];
    const std::string sf = absl::StrCat("streams[", i, "]");
    if (auto s = ValidateStreamId(sa.stream_id, absl::StrCat(sf, ".stream_id"));
        !s.ok())
      return s;
    if (!seen.insert(sa.stream_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(sf, ".stream_id: stream appears twice in one command"));
    }
    switch (sa.expected.kind) {
      case ExpectedKind::kAny:
      case ExpectedKind::kNoStream:
      case ExpectedKind::kExact:
      case ExpectedKind::kStreamExists:
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat(sf, ".expected: unknown expected-version form ",
                         static_cast<int>(sa.expected.kind)));
    }
    if (sa.events.empty())
      return absl::InvalidArgumentError(
          absl::StrCat(sf, ".events: at least one event required"));
    total_events += sa.events.size();
    if (total_events > limits.max_events_per_command) {
      return absl::InvalidArgumentError(
          absl::StrCat("streams: more than ", limits.max_events_per_command,
                       " events in one command"));
    }
    for (size_t j = 0; j < sa.events.size(); ++j) {
      const NewEvent& ev = sa.events[j];
      const std::string ef = absl::StrCat(sf, ".events[", j, "]");
      if (auto s = CheckToken(ev.event_type, absl::StrCat(ef, ".event_type"),
                              kMaxEventTypeBytes, "._-", true);
          !s.ok()) {
        return s;
      }
      if (ev.key_class != KeyClass::kSystem &&
          ev.key_class != KeyClass::kAudit &&
          ev.key_class != KeyClass::kSubject) {
        return absl::InvalidArgumentError(
            absl::StrCat(ef, ".key_class: unknown key class ",
                         static_cast<int>(ev.key_class)));
      }
      if (auto s =
              ValidateSubjectId(ev.subject_id, absl::StrCat(ef, ".subject_id"),
                                ev.key_class == KeyClass::kSubject);
          !s.ok()) {
        return s;
      }
      if (ev.payload.size() > limits.max_payload_bytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            ef, ".payload: ", ev.payload.size(), " bytes exceeds the limit of ",
            limits.max_payload_bytes));
      }
      total_bytes += ev.payload.size();
      if (total_bytes > limits.max_command_bytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("streams: payloads exceed the command limit of ",
                         limits.max_command_bytes, " bytes"));
      }
    }
  }
  return absl::OkStatus();
}

std::string CanonicalCommandBytes(const AppendRequest& request) {
  std::string out;
  size_t reserve = 16;
  for (const auto& sa : request.streams) {
    reserve += 32 + sa.stream_id.size();
    for (const auto& ev : sa.events)
      reserve +=
          48 + ev.event_type.size() + ev.subject_id.size() + ev.payload.size();
  }
  out.reserve(reserve);
  PutU64(&out, request.streams.size());
  for (const auto& sa : request.streams) {
    PutLengthPrefixed(&out, sa.stream_id);
    out.push_back(static_cast<char>(sa.expected.kind));
    PutU64(&out, sa.expected.version);
    PutU64(&out, sa.events.size());
    for (const auto& ev : sa.events) {
      PutLengthPrefixed(&out, ev.event_type);
      out.push_back(static_cast<char>(ev.key_class));
      PutLengthPrefixed(&out, ev.subject_id);
      PutLengthPrefixed(&out, ev.payload);
    }
  }
  return out;
}

}  // namespace carelog::storage
