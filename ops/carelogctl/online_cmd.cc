// carelogctl projections status | rebuild NAME, and the server-side check of
// `carelogctl verify --server …` (AdminService.VerifyLedger). Online only.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "crypto/merkle.h"
#include "ops/carelogctl/admin_client.h"
#include "ops/carelogctl/client.h"
#include "ops/carelogctl/ops_commands.h"

namespace carelog::ctl {
namespace {

using carelog::v1::ProjectionStatus;

// How often a waiting rebuild polls its status (a CLI, not a test).
constexpr absl::Duration kPollEvery = absl::Milliseconds(250);

const char* StateName(ProjectionStatus::State s) {
  switch (s) {
    case ProjectionStatus::STATE_RUNNING:
      return "running";
    case ProjectionStatus::STATE_FAILED:
      return "failed";
    case ProjectionStatus::STATE_STOPPED:
      return "stopped";
    default:
      return "unknown";
  }
}

std::string StatusJson(const ProjectionStatus& p) {
  return absl::StrCat("{\"name\":", JsonStr(p.name()),
                      ",\"state\":", JsonStr(StateName(p.state())),
                      ",\"position\":", p.position(), ",\"head\":", p.head(),
                      ",\"lag\":", p.lag(), ",\"generation\":", p.generation(),
                      ",\"rebuilding\":", p.rebuilding() ? "true" : "false",
                      ",\"rebuild_position\":", p.rebuild_position(),
                      ",\"failed_position\":", p.failed_position(),
                      ",\"events_applied\":", p.events_applied(),
                      ",\"error\":", JsonStr(p.error()), "}");
}

void PrintStatuses(
    const google::protobuf::RepeatedPtrField<ProjectionStatus>& ps,
    const CommonFlags& common) {
  if (common.Json()) {
    std::string out = "[";
    for (int i = 0; i < ps.size(); ++i)
      absl::StrAppend(&out, i ? "," : "", StatusJson(ps[i]));
    std::printf("%s]\n", out.c_str());
    return;
  }
  if (common.csv) {
    std::printf(
        "name,state,position,head,lag,generation,rebuilding,rebuild_position,"
        "failed_position,events_applied,error\n");
    for (const auto& p : ps) {
      std::fputs(CsvRow({p.name(), StateName(p.state()),
                         absl::StrCat(p.position()), absl::StrCat(p.head()),
                         absl::StrCat(p.lag()), absl::StrCat(p.generation()),
                         p.rebuilding() ? "true" : "false",
                         absl::StrCat(p.rebuild_position()),
                         absl::StrCat(p.failed_position()),
                         absl::StrCat(p.events_applied()), p.error()})
                     .c_str(),
                 stdout);
    }
    return;
  }
  std::printf("%-16s %-8s %12s %12s %10s %4s %-14s %s\n", "NAME", "STATE",
              "POSITION", "HEAD", "LAG", "GEN", "REBUILD", "ERROR");
  for (const auto& p : ps) {
    const std::string rebuild =
        p.rebuilding() ? absl::StrCat("at ", p.rebuild_position()) : "-";
    std::printf("%-16s %-8s %12llu %12llu %10llu %4llu %-14s %s\n",
                p.name().c_str(), StateName(p.state()),
                static_cast<unsigned long long>(p.position()),
                static_cast<unsigned long long>(p.head()),
                static_cast<unsigned long long>(p.lag()),
                static_cast<unsigned long long>(p.generation()),
                rebuild.c_str(), p.error().c_str());
  }
}

struct ProjectionFlags {
  CommonFlags common;
  ClientFlags client;
  std::string name;
  bool no_wait = false;
};

int RunStatus(const ProjectionFlags& f) {
  auto r = OnlineProjectionStatus(f.client);
  if (!r.ok())
    return Fail(ExitCodeFor(r.status()), "projections status", r.status());
  PrintStatuses(r->projections(), f.common);
  bool failed = false;
  for (const auto& p : r->projections())
    failed |= p.state() == ProjectionStatus::STATE_FAILED;
  return failed ? kExitFailed : kExitOk;
}

int RunRebuild(const ProjectionFlags& f) {
  constexpr char kWhat[] = "projections rebuild";
  const std::string name = f.name == "all" ? "" : f.name;
  auto started = OnlineRebuildProjection(f.client, name);
  if (!started.ok())
    return Fail(ExitCodeFor(started.status()), kWhat, started.status());
  if (f.no_wait) {
    PrintStatuses(started->projections(), f.common);
    return kExitOk;
  }
  // Follow the rebuild: progress lines with rate and ETA on stderr, until
  // every rebuilt projection has switched to its new generation.
  ProgressPrinter progress(!f.common.quiet);
  storage::ProgressFn fn = progress.Fn();
  for (;;) {
    auto st = OnlineProjectionStatus(f.client);
    if (!st.ok())
      return Fail(ExitCodeFor(st.status()), kWhat, st.status());
    bool running = false;
    google::protobuf::RepeatedPtrField<ProjectionStatus> mine;
    for (const auto& p : st->projections()) {
      if (!name.empty() && p.name() != name)
        continue;
      *mine.Add() = p;
      if (p.state() == ProjectionStatus::STATE_FAILED) {
        return Fail(kExitFailed, kWhat,
                    absl::InternalError(absl::StrCat(
                        "projection ", p.name(), " failed at position ",
                        p.failed_position(), ": ", p.error())));
      }
      if (p.rebuilding()) {
        running = true;
        storage::Progress pr;
        pr.phase = "rebuilding";
        pr.unit = "events";
        pr.done = p.rebuild_position();
        pr.total = p.head();
        if (fn)  // null with --quiet
          fn(pr);
      }
    }
    if (!running) {
      PrintStatuses(mine, f.common);
      return kExitOk;
    }
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(kPollEvery));
  }
}

}  // namespace

void RegisterProjectionsCommands(CLI::App& app, CommandTable* table,
                                 const bool* global_json) {
  auto* proj = app.add_subcommand(
      "projections",
      "projected views of a running carelogd (online: --server/--token)");
  proj->require_subcommand(1);
  auto f = std::make_shared<ProjectionFlags>();
  f->common.global_json = global_json;
  auto* status = proj->add_subcommand(
      "status",
      "each projection's state, position, lag and rebuild (exit 1 if one has "
      "failed)");
  AddCommonFlags(status, &f->common);
  AddCsvFlag(status, &f->common);
  AddClientFlags(status, &f->client, "HOPERAT");
  table->Add(status, [f] { return RunStatus(*f); });

  auto* rebuild = proj->add_subcommand(
      "rebuild",
      "rebuild a projection (or all) from the log into a new generation while "
      "the old one serves; follows it with progress until it switches over "
      "(role ledger-admin, purpose HSYSADMIN, --reason)");
  rebuild->add_option("NAME", f->name, "projection name, or 'all'")->required();
  rebuild->add_flag("--no-wait", f->no_wait,
                    "start the rebuild and return at once");
  AddCommonFlags(rebuild, &f->common);
  AddCsvFlag(rebuild, &f->common);
  f->client.timeout_seconds = 30;
  AddClientFlags(rebuild, &f->client, "HSYSADMIN");
  table->Add(rebuild, [f] { return RunRebuild(*f); });
}

int RunVerifyServer(const ClientFlags& client, const CommonFlags& out) {
  constexpr char kWhat[] = "verify";
  ProgressPrinter printer(!out.quiet && !out.Json());
  auto r = OnlineVerifyLedger(client, printer.Fn());
  if (!r.ok())
    return Fail(ExitCodeFor(r.status()), kWhat, r.status());
  const bool ok = r->chain().ok() && r->merkle().ok();
  if (out.Json()) {
    std::printf(
        "{\"ok\":%s,\"head\":%llu,\"chain_hash\":%s,"
        "\"chain\":{\"ok\":%s,\"events_checked\":%llu,"
        "\"first_bad_position\":%llu,\"error\":%s},"
        "\"merkle\":{\"ok\":%s,\"tree_size\":%llu,\"checkpoints_checked\":%llu,"
        "\"latest_checkpoint\":%llu,\"first_bad_position\":%llu,"
        "\"bad_checkpoint\":%llu,\"error\":%s}}\n",
        ok ? "true" : "false",
        static_cast<unsigned long long>(r->head_position()),
        JsonStr(crypto::BytesToHex(r->chain_hash())).c_str(),
        r->chain().ok() ? "true" : "false",
        static_cast<unsigned long long>(r->chain().events_checked()),
        static_cast<unsigned long long>(r->chain().first_bad_position()),
        JsonStr(r->chain().problem()).c_str(),
        r->merkle().ok() ? "true" : "false",
        static_cast<unsigned long long>(r->tree_size()),
        static_cast<unsigned long long>(r->checkpoints_checked()),
        static_cast<unsigned long long>(r->latest_checkpoint()),
        static_cast<unsigned long long>(r->merkle().first_bad_position()),
        static_cast<unsigned long long>(r->bad_checkpoint_size()),
        JsonStr(r->merkle().problem()).c_str());
  } else if (out.csv) {
    std::fputs(kVerifyCsvHeader, stdout);
    std::fputs(
        VerifyCsvRow("chain", r->chain().ok(), r->chain().events_checked(),
                     r->head_position(), r->chain().first_bad_position(),
                     crypto::BytesToHex(r->chain_hash()), r->chain().problem())
            .c_str(),
        stdout);
    std::fputs(VerifyCsvRow("merkle", r->merkle().ok(), r->tree_size(),
                            r->tree_size(), r->merkle().first_bad_position(),
                            "", r->merkle().problem())
                   .c_str(),
               stdout);
    std::fputs(
        VerifyCsvRow("checkpoints", r->merkle().ok(), r->checkpoints_checked(),
                     r->latest_checkpoint(), r->bad_checkpoint_size(), "", "")
            .c_str(),
        stdout);
  } else {
    if (r->chain().ok()) {
      std::printf(
          "OK: %llu events verified through position %llu (server)\n"
          "chain hash %s\n",
          static_cast<unsigned long long>(r->chain().events_checked()),
          static_cast<unsigned long long>(r->head_position()),
          crypto::BytesToHex(r->chain_hash()).c_str());
    } else {
      std::printf(
          "FAILED: chain: %s (first bad position %llu)\n",
          r->chain().problem().c_str(),
          static_cast<unsigned long long>(r->chain().first_bad_position()));
    }
    if (r->merkle().ok()) {
      std::printf(
          "OK: Merkle tree of %llu leaves matches the events; %llu "
          "checkpoints (latest at tree size %llu) match and are signed\n",
          static_cast<unsigned long long>(r->tree_size()),
          static_cast<unsigned long long>(r->checkpoints_checked()),
          static_cast<unsigned long long>(r->latest_checkpoint()));
    } else {
      std::printf(
          "FAILED: merkle: %s (first bad position %llu)\n",
          r->merkle().problem().c_str(),
          static_cast<unsigned long long>(r->merkle().first_bad_position()));
    }
    std::printf(
        "note: the server checked itself; for a check that trusts only a "
        "pinned key use verify --online --checkpoint-key KEY\n");
  }
  return ok ? kExitOk : kExitVerifyFailed;
}

}  // namespace carelog::ctl
