#include "ops/carelogctl/audit_cmd.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"

#include "carelog/v1/audit.grpc.pb.h"
#include "crypto/hash.h"
#include "ops/carelogctl/audit_flags.h"
#include "ops/carelogctl/client.h"
#include "services/audit/audit_format.h"

namespace carelog::ctl {
namespace {

using namespace carelog::v1;  // NOLINT(google-build-using-namespace)
namespace fmt = services::audit;

// AuditService's largest page.
constexpr uint32_t kMaxPage = 500;
constexpr uint32_t kMaxExportPage = 1000;

std::string Shorten(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 1) + "~";
}

std::string ProtoJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &json, o).ok())
    return "null";
  return json;
}

// The table's last column: anomalies, break-the-glass review state, an
// explicit forbid, the ledger position a proof request asked about, and the
// fields masked for this caller.
std::string FlagsColumn(const AuditRecord& r) {
  std::vector<std::string> flags;
  for (int x : r.anomalies())
    flags.push_back(fmt::AnomalyName(static_cast<AuditAnomaly>(x)));
  if (r.break_glass()) {
    flags.push_back(r.has_review()
                        ? absl::StrCat("reviewed:", fmt::ReviewDecisionName(
                                                        r.review().decision()))
                        : "review-pending");
  }
  if (r.access().forbidden())
    flags.push_back("forbidden");
  if (r.access().target_position() != 0)
    flags.push_back(absl::StrCat("target:", r.access().target_position()));
  if (r.masked_fields_size() > 0)
    flags.push_back(
        absl::StrCat("masked:", absl::StrJoin(r.masked_fields(), ";")));
  return absl::StrJoin(flags, ",");
}

void PrintRecords(const std::vector<AuditRecord>& records, bool more,
                  const CommonFlags& common) {
  if (common.Json()) {
    std::string out = "[";
    for (size_t i = 0; i < records.size(); ++i)
      absl::StrAppend(&out, i ? ",\n" : "\n", ProtoJson(records[i]));
    std::printf("%s\n]\n", out.c_str());
    return;
  }
  if (common.csv) {
    std::fputs(fmt::CsvHeader().c_str(), stdout);
    for (const auto& r : records)
      std::fputs(fmt::CsvLine(r).c_str(), stdout);
    return;
  }
  std::printf("%-10s %-20s %-16s %-16s %-24s %-7s %-15s %-8s %s\n", "POSITION",
              "TIME (UTC)", "ACTOR", "PATIENT", "RESOURCE", "ACTION", "OUTCOME",
              "PURPOSE", "FLAGS");
  for (const auto& r : records) {
    const AccessAudited& a = r.access();
    const int64_t t =
        a.decided_at_micros() ? a.decided_at_micros() : r.recorded_at_micros();
    std::printf("%-10llu %-20s %-16s %-16s %-24s %-7s %-15s %-8s %s\n",
                static_cast<unsigned long long>(r.position()),
                t ? FormatTimeMicros(t).c_str() : "",
                Shorten(a.actor(), 16).c_str(),
                Shorten(a.patient_id(), 16).c_str(),
                Shorten(a.resource(), 24).c_str(), a.action().c_str(),
                a.outcome() ? fmt::OutcomeName(a.outcome()).c_str() : "",
                a.purpose().c_str(), FlagsColumn(r).c_str());
  }
  std::printf("(%zu record%s%s)\n", records.size(),
              records.size() == 1 ? "" : "s",
              more ? "; more match: raise --limit or narrow the filters" : "");
}

// One page: the request's page token and size in, the page out.
using PageFn = std::function<grpc::Status(
    AuditService::Stub&, grpc::ClientContext*, const std::string& token,
    uint32_t page_size, AuditPage*)>;

// Pages through `fetch` until the end or --limit, then prints the records
// (nothing is printed when a call fails).
int RunPaged(const std::string& what, const AuditFlags& f,
             const PageFn& fetch) {
  auto channel = Connect(f.client);
  if (!channel.ok())
    return Fail(kExitUsage, what, channel.status());
  auto stub = AuditService::NewStub(*channel);
  std::vector<AuditRecord> records;
  std::string token;
  do {
    grpc::ClientContext ctx;
    if (auto s = PrepareContext(f.client, &ctx); !s.ok())
      return Fail(kExitUsage, what, s);
    const uint32_t size = static_cast<uint32_t>(
        std::min<uint64_t>(kMaxPage, f.limit - records.size()));
    AuditPage page;
    grpc::Status s = fetch(*stub, &ctx, token, size, &page);
    if (!s.ok())
      return FailCall(what, s);
    for (auto& r : *page.mutable_records()) {
      if (records.size() < f.limit)
        records.push_back(std::move(r));
    }
    token = page.next_page_token();
  } while (!token.empty() && records.size() < f.limit);
  PrintRecords(records, !token.empty(), f.common);
  return kExitOk;
}

// A QueryAudit subcommand over `filter` as the flags give it; `check` adds
// the command's own requirements.
int RunQuery(const std::string& what, const AuditFlags& f,
             const std::function<absl::Status(const AuditFilter&)>& check) {
  auto filter = AuditFilterOf(f);
  if (!filter.ok())
    return Fail(kExitUsage, what, filter.status());
  if (auto s = check(*filter); !s.ok())
    return Fail(kExitUsage, what, s);
  return RunPaged(
      what, f,
      [&](AuditService::Stub& stub, grpc::ClientContext* ctx,
          const std::string& token, uint32_t size, AuditPage* page) {
        QueryAuditRequest req;
        *req.mutable_filter() = *filter;
        req.set_page_token(token);
        req.set_page_size(size);
        req.set_min_position(f.min_position);
        return stub.QueryAudit(ctx, req, page);
      });
}

std::shared_ptr<AuditFlags> NewFlags(const bool* global_json) {
  auto f = std::make_shared<AuditFlags>();
  f->common.global_json = global_json;
  return f;
}

void AddQueryCommands(CLI::App* audit, CommandTable* table,
                      const bool* global_json) {
  const auto ok = [](const AuditFilter&) { return absl::OkStatus(); };
  {
    auto* cmd = audit->add_subcommand(
        "by-patient",
        "accounting of disclosures: every access to one patient's data, "
        "oldest first");
    auto f = NewFlags(global_json);
    cmd->add_option("PATIENT", f->patient, "patient id")->required();
    f->field_flags.push_back({"filter.patient_id", "PATIENT"});
    AddAuditFilterFlags(cmd, f.get());
    AddAuditListingFlags(cmd, f.get());
    table->Add(cmd, [f, ok] { return RunQuery("audit by-patient", *f, ok); });
  }
  {
    auto* cmd = audit->add_subcommand(
        "by-actor", "every access by one actor (token subject), oldest first");
    auto f = NewFlags(global_json);
    cmd->add_option("ACTOR", f->actor, "actor id (token subject)")->required();
    f->field_flags.push_back({"filter.actor", "ACTOR"});
    AddAuditFilterFlags(cmd, f.get());
    AddAuditListingFlags(cmd, f.get());
    table->Add(cmd, [f, ok] { return RunQuery("audit by-actor", *f, ok); });
  }
  {
    auto* cmd = audit->add_subcommand(
        "range",
        "accesses in a time range (--from and/or --to), optionally by "
        "outcome, purpose, resource or anomaly");
    auto f = NewFlags(global_json);
    AddAuditFilterFlags(cmd, f.get());
    AddAuditListingFlags(cmd, f.get());
    table->Add(cmd, [f] {
      return RunQuery("audit range", *f, [](const AuditFilter& filter) {
        if (filter.from_micros() == 0 && filter.to_micros() == 0)
          return absl::InvalidArgumentError("--from or --to: required");
        return absl::OkStatus();
      });
    });
  }
}

void AddReviewCommands(CLI::App* audit, CommandTable* table,
                       const bool* global_json) {
  {
    auto* cmd = audit->add_subcommand(
        "btg-queue",
        "break-the-glass accesses waiting for review (--all: reviewed too)");
    auto f = NewFlags(global_json);
    cmd->add_flag("--all", f->all,
                  "every break-the-glass access, with its review");
    AddAuditListingFlags(cmd, f.get());
    table->Add(cmd, [f] {
      return RunPaged(
          "audit btg-queue", *f,
          [&](AuditService::Stub& stub, grpc::ClientContext* ctx,
              const std::string& token, uint32_t size, AuditPage* page) {
            ListBreakGlassQueueRequest req;
            req.set_include_reviewed(f->all);
            req.set_page_token(token);
            req.set_page_size(size);
            req.set_min_position(f->min_position);
            return stub.ListBreakGlassQueue(ctx, req, page);
          });
    });
  }
  {
    auto* cmd = audit->add_subcommand(
        "review",
        "record a review decision on a break-the-glass access (an event on "
        "the patient's audit trail; nobody reviews their own access)");
    struct Review {
      AuditFlags flags;
      uint64_t position = 0;
      std::string decision, note, command_id;
    };
    auto r = std::make_shared<Review>();
    r->flags.common.global_json = global_json;
    cmd->add_option("POSITION", r->position,
                    "ledger position of the break-the-glass access (the "
                    "POSITION column of btg-queue)")
        ->required();
    cmd->add_option("--decision", r->decision,
                    "appropriate|inappropriate|needs_follow_up")
        ->required();
    cmd->add_option("--note", r->note, "review note (at most 2000 bytes)");
    cmd->add_option("--command-id", r->command_id,
                    "idempotency key (default: derived from POSITION, the "
                    "decision and the note, so that a retry records nothing "
                    "twice)");
    AddAuditOnlineFlags(cmd, &r->flags);
    cmd->add_flag("--json", r->flags.common.json,
                  "machine-readable JSON output");
    table->Add(cmd, [r] {
      constexpr char kWhat[] = "audit review";
      auto d = ParseAuditEnum<BreakGlassReviewDecision>(
          r->decision, "--decision", fmt::ReviewDecisionName,
          BREAK_GLASS_REVIEW_DECISION_NEEDS_FOLLOW_UP);
      if (!d.ok())
        return Fail(kExitUsage, kWhat, d.status());
      if (r->position == 0)
        return Fail(kExitUsage, kWhat,
                    absl::InvalidArgumentError("POSITION: must be at least 1"));
      auto channel = Connect(r->flags.client);
      if (!channel.ok())
        return Fail(kExitUsage, kWhat, channel.status());
      auto stub = AuditService::NewStub(*channel);
      grpc::ClientContext ctx;
      if (auto s = PrepareContext(r->flags.client, &ctx); !s.ok())
        return Fail(kExitUsage, kWhat, s);
      ReviewBreakTheGlassRequest req;
      // The default id names the position and the review's content: running
      // the same command again is a retry (answered, nothing written); a
      // different review of a reviewed access is refused as such, not as a
      // reused command id.
      req.set_command_id(
          r->command_id.empty()
              ? absl::StrCat("review-", r->position, "-",
                             crypto::ToHex(crypto::Blake2b256(
                                               absl::StrCat(*d, "\n", r->note)))
                                 .substr(0, 16))
              : r->command_id);
      req.set_audit_position(r->position);
      req.set_decision(*d);
      req.set_note(r->note);
      ReviewBreakTheGlassReply reply;
      grpc::Status s = stub->ReviewBreakTheGlass(&ctx, req, &reply);
      if (!s.ok())
        return FailCall(kWhat, s);
      if (r->flags.common.Json()) {
        std::printf("%s\n", ProtoJson(reply).c_str());
      } else if (reply.result().duplicate()) {
        std::printf(
            "already recorded: command %s was answered before (review event "
            "at position %llu); nothing new was written — see audit "
            "btg-queue --all\n",
            req.command_id().c_str(),
            static_cast<unsigned long long>(reply.result().position()));
      } else {
        std::printf("reviewed %llu: %s (review event at position %llu)\n",
                    static_cast<unsigned long long>(r->position),
                    fmt::ReviewDecisionName(*d).c_str(),
                    static_cast<unsigned long long>(reply.result().position()));
      }
      return kExitOk;
    });
  }
  {
    auto* cmd = audit->add_subcommand(
        "anomalies",
        "accesses the audit projection flagged (VIP/employee/restricted "
        "records, bulk access, after hours, repeated denials)");
    auto f = NewFlags(global_json);
    AddAuditTimeFlags(cmd, f.get());
    cmd->add_option("--anomaly", f->anomaly,
                    "only this kind: flagged_record|bulk_access|after_hours|"
                    "repeated_denials");
    AddAuditListingFlags(cmd, f.get());
    table->Add(cmd, [f] {
      constexpr char kWhat[] = "audit anomalies";
      auto filter = AuditFilterOf(*f);
      if (!filter.ok())
        return Fail(kExitUsage, kWhat, filter.status());
      return RunPaged(
          kWhat, *f,
          [&](AuditService::Stub& stub, grpc::ClientContext* ctx,
              const std::string& token, uint32_t size, AuditPage* page) {
            ListAnomaliesRequest req;
            req.set_anomaly(filter->anomaly());
            req.set_from_micros(filter->from_micros());
            req.set_to_micros(filter->to_micros());
            req.set_page_token(token);
            req.set_page_size(size);
            req.set_min_position(f->min_position);
            return stub.ListAnomalies(ctx, req, page);
          });
    });
  }
}

struct ExportFlags {
  AuditFlags flags;
  std::string format = "csv";
  std::string out;
};

// Writes every page to stdout or, with --out, to OUT.partial renamed to OUT
// once complete (a failed export leaves no file that looks whole).
int RunExport(const ExportFlags& e) {
  constexpr char kWhat[] = "audit export";
  const AuditFlags& f = e.flags;
  auto filter = AuditFilterOf(f);
  if (!filter.ok())
    return Fail(kExitUsage, kWhat, filter.status());
  AuditExportFormat format = AUDIT_EXPORT_FORMAT_UNSPECIFIED;
  if (e.format == "csv")
    format = AUDIT_EXPORT_FORMAT_CSV;
  else if (e.format == "fhir")
    format = AUDIT_EXPORT_FORMAT_FHIR_JSON;
  else
    return Fail(kExitUsage, kWhat,
                absl::InvalidArgumentError("--format: csv or fhir"));
  struct stat st;
  if (!e.out.empty() && ::stat(e.out.c_str(), &st) == 0)
    return Fail(kExitUsage, kWhat,
                absl::AlreadyExistsError("--out: the file exists"));
  auto channel = Connect(f.client);
  if (!channel.ok())
    return Fail(kExitUsage, kWhat, channel.status());
  auto stub = AuditService::NewStub(*channel);
  const std::string partial = absl::StrCat(e.out, ".partial");
  std::ofstream file;
  if (!e.out.empty()) {
    file.open(partial, std::ios::binary | std::ios::trunc);
    if (!file)
      return Fail(
          kExitFailed, kWhat,
          absl::UnavailableError(absl::StrCat("cannot write ", partial)));
  }
  auto fail = [&](int code) {
    if (file.is_open()) {
      file.close();
      std::remove(partial.c_str());
    }
    return code;
  };
  std::string token;
  uint64_t count = 0;
  do {
    grpc::ClientContext ctx;
    if (auto s = PrepareContext(f.client, &ctx); !s.ok())
      return fail(Fail(kExitUsage, kWhat, s));
    ExportAuditRequest req;
    *req.mutable_filter() = *filter;
    req.set_format(format);
    req.set_page_token(token);
    req.set_page_size(static_cast<uint32_t>(
        std::min<uint64_t>(kMaxExportPage, f.limit - count)));
    req.set_min_position(f.min_position);
    ExportAuditReply reply;
    grpc::Status s = stub->ExportAudit(&ctx, req, &reply);
    if (!s.ok())
      return fail(FailCall(kWhat, s));
    if (file.is_open())
      file << reply.content();
    else
      std::fputs(reply.content().c_str(), stdout);
    count += reply.count();
    token = reply.next_page_token();
  } while (!token.empty() && count < f.limit);
  if (!file.is_open())
    return kExitOk;
  file.close();
  if (!file || std::rename(partial.c_str(), e.out.c_str()) != 0) {
    std::remove(partial.c_str());
    return Fail(kExitFailed, kWhat,
                absl::UnavailableError(absl::StrCat("cannot write ", e.out)));
  }
  std::fprintf(stderr, "exported %llu records to %s%s\n",
               static_cast<unsigned long long>(count), e.out.c_str(),
               token.empty() ? "" : " (stopped at --limit; more match)");
  return kExitOk;
}

void AddExportCommand(CLI::App* audit, CommandTable* table) {
  auto* cmd = audit->add_subcommand(
      "export",
      "export accesses as CSV (RFC 4180) or FHIR R4 AuditEvent NDJSON (IHE "
      "BALP); needs a --reason under the default policy");
  auto e = std::make_shared<ExportFlags>();
  AuditFlags* f = &e->flags;
  f->limit = 100000000;  // an export is complete unless asked otherwise
  cmd->add_option("--format", e->format, "csv|fhir")->default_str("csv");
  cmd->add_option("--patient", f->patient, "only this patient's accesses");
  cmd->add_option("--actor", f->actor, "only this actor's accesses");
  f->field_flags.push_back({"filter.patient_id", "--patient"});
  f->field_flags.push_back({"filter.actor", "--actor"});
  cmd->add_option("--out", e->out, "write to this new file (default: stdout)");
  AddAuditFilterFlags(cmd, f);
  AddAuditOnlineFlags(cmd, f);
  cmd->add_option("--limit", f->limit, "at most this many records")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
  table->Add(cmd, [e] { return RunExport(*e); });
}

}  // namespace

void RegisterAuditCommands(CLI::App& app, CommandTable* table,
                           const bool* global_json) {
  auto* audit = app.add_subcommand(
      "audit",
      "compliance queries over the access audit trail of a running carelogd "
      "(--server/--token; role compliance_officer, purpose HCOMPL); every "
      "query is itself audited");
  audit->require_subcommand(1);
  AddQueryCommands(audit, table, global_json);
  AddReviewCommands(audit, table, global_json);
  AddExportCommand(audit, table);
}

}  // namespace carelog::ctl
