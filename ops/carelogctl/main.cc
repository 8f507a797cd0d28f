// carelogctl — the operator and compliance CLI for carelog.
//
// Online commands talk to carelogd over gRPC with a bearer token; offline
// commands work on a stopped data directory. Exit codes: 0 success; 1 the
// operation failed (I/O, server error); 2 bad arguments or a bad policy/cases
// file; 3 verification found corruption (data loss), or policy test cases
// failed.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"

#include "CLI/CLI.hpp"
#include "carelog/v1/ledger.grpc.pb.h"
#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "crypto/key_file.h"
#include "ops/carelogctl/client.h"
#include "ops/carelogctl/ops_commands.h"
#include "ops/carelogctl/verify_online.h"
#include "policies/cases.h"
#include "policies/policy.h"
#include "services/server/request_context.h"
#include "services/server/server.h"
#include "storage/backup.h"
#include "storage/ledger.h"
#include "storage/merkle.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitDataLoss = 3;

int Fail(int code, absl::string_view what, const absl::Status& s) {
  std::fprintf(stderr, "carelogctl %s: %s\n", std::string(what).c_str(),
               std::string(s.message()).c_str());
  return code;
}

std::string Hex(const std::string& bytes) {
  return carelog::crypto::BytesToHex(bytes);
}

// The client plumbing is shared with the operations commands
// (ops/carelogctl/client.h).
using carelog::ctl::AddClientFlags;
using carelog::ctl::ClientFlags;
using carelog::ctl::Connect;
using carelog::ctl::PrepareContext;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"carelogctl — operate, verify and query a carelog ledger"};
  app.require_subcommand(1);
  bool json = false;
  app.add_flag("--json", json, "machine-readable JSON output");

  // keys generate
  auto* keys = app.add_subcommand("keys", "key-encryption key management");
  keys->require_subcommand(1);
  auto* keys_gen =
      keys->add_subcommand("generate", "create a new KEK file (mode 0600)");
  std::string key_out;
  keys_gen
      ->add_option("--out", key_out,
                   "path of the new key file (must not exist)")
      ->required();

  // dev token
  auto* dev =
      app.add_subcommand("dev", "development helpers (loopback dev mode only)");
  dev->require_subcommand(1);
  auto* dev_token = dev->add_subcommand(
      "token", "mint a token from the dev issuer in DATA_DIR/dev-issuer");
  std::string dev_data_dir = "var/data", dev_sub, dev_roles,
              dev_aud = "carelog";
  int dev_ttl_minutes = 60;
  dev_token->add_option("--data-dir", dev_data_dir, "carelogd's data directory")
      ->default_str(dev_data_dir);
  dev_token->add_option("--sub", dev_sub, "subject (actor id)")->required();
  dev_token->add_option("--roles", dev_roles, "comma-separated roles");
  dev_token->add_option("--audience", dev_aud, "audience")
      ->default_str(dev_aud);
  dev_token->add_option("--ttl-minutes", dev_ttl_minutes, "lifetime")
      ->default_str("60");

  // verify (offline)
  auto* verify = app.add_subcommand(
      "verify",
      "verify the hash chain, indexes, Merkle tree and signed checkpoints: of "
      "a stopped data directory (--data-dir), of a running carelogd checked "
      "by itself (--server/--token), or with client-side proofs against a "
      "pinned key (--online)");
  std::string verify_dir = "var/data";
  uint64_t verify_from = 1, verify_to = 0;
  verify->add_option("--data-dir", verify_dir, "carelogd's data directory")
      ->default_str(verify_dir);
  verify->add_option("--from", verify_from, "first position")->default_str("1");
  verify->add_option("--to", verify_to, "last position (0: head)")
      ->default_str("0");
  // Merkle tree and signed checkpoints: offline after the chain; online (a
  // running server, proofs checked here against a pinned key) with --online.
  bool verify_online = false, verify_make_checkpoint = false;
  std::string verify_key, verify_state = "carelog-trusted-checkpoint";
  std::vector<uint64_t> verify_positions;
  ClientFlags verify_flags;
  verify_flags.timeout_seconds = 600;  // a server-side check reads every event
  verify->add_flag(
      "--online", verify_online,
      "verify a running carelogd with proofs instead of a stopped directory");
  verify->add_option("--checkpoint-key", verify_key,
                     "pinned checkpoint verifier key, or a file holding it "
                     "(offline default: DATA_DIR/checkpoint.pub)");
  verify
      ->add_option("--state", verify_state,
                   "online: trusted state file (the last verified checkpoint)")
      ->default_str(verify_state);
  verify->add_option("--position", verify_positions,
                     "online: event positions to prove included (repeatable)");
  verify->add_flag("--make-checkpoint", verify_make_checkpoint,
                   "online: ask the server to sign its head first");
  AddClientFlags(verify, &verify_flags);

  // head (online)
  auto* head = app.add_subcommand(
      "head", "the server's ledger head (position and chain hash)");
  ClientFlags head_flags;
  AddClientFlags(head, &head_flags);

  // policy test (offline)
  auto* policy_cmd =
      app.add_subcommand("policy", "access policy tools (offline)");
  policy_cmd->require_subcommand(1);
  auto* policy_test =
      policy_cmd->add_subcommand("test",
                                 "decide a YAML table of (request -> expected "
                                 "decision) cases with a policy");
  std::string policy_path, cases_path;
  policy_test->add_option("POLICY", policy_path, "policy YAML file")
      ->required();
  policy_test->add_option("CASES", cases_path, "cases YAML file")->required();
  policy_test->add_flag("--json", json, "machine-readable JSON output");

  // Operations: backup, restore --as-of, keys rotate-kek, erase-subject,
  // legal-hold (ops/carelogctl/ops_commands.h).
  carelog::ctl::CommandTable ops_commands;
  carelog::ctl::RegisterBackupCommands(app, &ops_commands, &json);
  carelog::ctl::RegisterRestoreCommands(app, &ops_commands, &json);
  carelog::ctl::RegisterKeysCommands(*keys, &ops_commands, &json);
  carelog::ctl::RegisterEraseCommands(app, &ops_commands, &json);
  carelog::ctl::RegisterProjectionsCommands(app, &ops_commands, &json);
  bool verify_quiet = false;
  verify->add_flag("--quiet", verify_quiet, "no progress lines on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes (106, 109, ...) are not ours: --help exits 0,
    // every real parse error is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (int rc = 0; ops_commands.RunParsed(&rc))
    return rc;

  if (keys_gen->parsed()) {
    auto k = carelog::crypto::CreateKeyFile(key_out);
    if (!k.ok())
      return Fail(kExitFailed, "keys generate", k.status());
    std::printf("%s\n",
                json
                    ? absl::StrCat("{\"key_file\":\"", key_out, "\"}").c_str()
                    : absl::StrCat("created key file ", key_out, " (mode 0600)")
                          .c_str());
    return kExitOk;
  }

  if (dev_token->parsed()) {
    const std::string path =
        absl::StrCat(dev_data_dir, "/", carelog::services::kDevIssuerDir, "/",
                     carelog::services::kDevIssuerKeyFile);
    auto signer = carelog::crypto::TokenSigner::LoadPem(
        path, carelog::services::kDevIssuerKid);
    if (!signer.ok()) {
      return Fail(
          kExitFailed, "dev token",
          absl::Status(signer.status().code(),
                       absl::StrCat(signer.status().message(),
                                    " (start carelogd with --dev on loopback "
                                    "first: it creates the issuer)")));
    }
    carelog::crypto::TokenSigner::Claims c;
    c.issuer = carelog::services::kDevIssuer;
    c.subject = dev_sub;
    c.audience = dev_aud;
    if (!dev_roles.empty())
      c.roles = absl::StrSplit(dev_roles, ',', absl::SkipEmpty());
    c.issued_at = absl::Now();
    c.ttl = absl::Minutes(dev_ttl_minutes);
    auto token = (*signer)->Mint(c);
    if (!token.ok())
      return Fail(kExitUsage, "dev token", token.status());
    std::printf("%s\n", token->c_str());
    return kExitOk;
  }

  // verify --server/--token without --online: the server checks itself.
  if (verify->parsed() && !verify_online &&
      carelog::ctl::WantsServer(verify_flags))
    return carelog::ctl::RunVerifyServer(verify_flags, json,
                                         !verify_quiet && !json);

  if (verify->parsed() && verify_online) {
    if (verify_key.empty())
      return Fail(kExitUsage, "verify",
                  absl::InvalidArgumentError("--checkpoint-key: required"));
    auto key = carelog::ctl::LoadPinnedKey(verify_key);
    if (!key.ok())
      return Fail(kExitUsage, "verify", key.status());
    auto channel = Connect(verify_flags);
    if (!channel.ok())
      return Fail(kExitUsage, "verify", channel.status());
    auto client = carelog::ctl::NewGrpcProofClient(
        *channel, [&verify_flags](grpc::ClientContext* c) {
          return PrepareContext(verify_flags, c);
        });
    const auto res = carelog::ctl::VerifyOnline(
        *client,
        carelog::ctl::OnlineVerifyOptions{*key, verify_state, verify_positions,
                                          verify_make_checkpoint});
    const bool bad_proof =
        !res.ok() && (absl::IsDataLoss(res.status()) ||
                      absl::IsPermissionDenied(res.status()));
    if (json) {
      std::printf(
          "{\"ok\":%s,\"tree_size\":%llu,\"root\":\"%s\",\"error\":\"%s\"}\n",
          res.ok() ? "true" : "false",
          static_cast<unsigned long long>(res.ok() ? res->verified.tree_size
                                                   : 0),
          res.ok() ? carelog::crypto::ToHex(res->verified.root).c_str() : "",
          res.ok() ? "" : absl::CEscape(res.status().message()).c_str());
    } else if (res.ok()) {
      for (const auto& line : res->lines)
        std::printf("%s\n", line.c_str());
      std::printf("OK: checkpoint of tree size %llu verified\n",
                  static_cast<unsigned long long>(res->verified.tree_size));
    } else {
      std::printf("FAILED: %s\n", std::string(res.status().message()).c_str());
    }
    if (res.ok())
      return kExitOk;
    return bad_proof ? kExitDataLoss
                     : (absl::IsInvalidArgument(res.status()) ? kExitUsage
                                                              : kExitFailed);
  }

  if (verify->parsed()) {
    const std::string dir =
        absl::StrCat(verify_dir, "/", carelog::services::kLedgerSubdir);
    const absl::Time t0 = absl::Now();
    // The whole log: in slices, with progress lines (rate and ETA).
    carelog::ctl::ProgressPrinter progress(!verify_quiet && !json);
    carelog::storage::VerifyReport r =
        verify_from == 1 && verify_to == 0
            ? carelog::storage::VerifyDataDirWithProgress(dir, progress.Fn())
            : carelog::storage::VerifyDataDir(dir, verify_from, verify_to);
    const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
    if (json) {
      std::printf(
          "{\"ok\":%s,\"events_checked\":%llu,\"first_bad_position\":%llu,"
          "\"problem\":\"%s\",\"head\":%llu,"
          "\"chain_hash\":\"%s\",\"seconds\":%.3f}\n",
          r.status.ok() ? "true" : "false",
          static_cast<unsigned long long>(r.events_checked),
          static_cast<unsigned long long>(r.first_bad_position),
          carelog::storage::VerifyProblemName(r.problem),
          static_cast<unsigned long long>(r.verified_head.position),
          carelog::crypto::ToHex(r.verified_head.chain_hash).c_str(), secs);
    } else if (r.status.ok()) {
      std::printf(
          "OK: %llu events verified through position %llu in %.2fs\nchain hash "
          "%s\n",
          static_cast<unsigned long long>(r.events_checked),
          static_cast<unsigned long long>(r.verified_head.position), secs,
          carelog::crypto::ToHex(r.verified_head.chain_hash).c_str());
    } else {
      std::printf("FAILED: %s\n", std::string(r.status.message()).c_str());
    }
    if (!r.status.ok())
      return absl::IsDataLoss(r.status) ? kExitDataLoss : kExitFailed;
    // The Merkle tree against the events, and every checkpoint's signature
    // (with the pinned or published key), root and chain head.
    std::string key_arg = verify_key;
    const std::string published = absl::StrCat(
        verify_dir, "/", carelog::services::kCheckpointPublicKeyFile);
    if (key_arg.empty() && std::ifstream(published).good())
      key_arg = published;
    absl::StatusOr<carelog::crypto::NoteVerifier> mkey =
        absl::NotFoundError("no key");
    if (!key_arg.empty()) {
      mkey = carelog::ctl::LoadPinnedKey(key_arg);
      if (!mkey.ok())
        return Fail(kExitUsage, "verify", mkey.status());
    }
    const carelog::storage::MerkleVerifyReport m =
        carelog::storage::VerifyDataDirMerkle(dir,
                                              mkey.ok() ? &*mkey : nullptr);
    if (json) {
      std::printf(
          "{\"merkle\":{\"ok\":%s,\"tree_size\":%llu,\"root\":\"%s\","
          "\"checkpoints_checked\":%llu,"
          "\"latest_checkpoint\":%llu,\"signatures_checked\":%s,\"first_bad_"
          "position\":%llu,"
          "\"bad_checkpoint\":%llu,\"error\":\"%s\"}}\n",
          m.status.ok() ? "true" : "false",
          static_cast<unsigned long long>(m.tree_size),
          carelog::crypto::ToHex(m.root).c_str(),
          static_cast<unsigned long long>(m.checkpoints_checked),
          static_cast<unsigned long long>(m.latest_checkpoint),
          mkey.ok() ? "true" : "false",
          static_cast<unsigned long long>(m.first_bad_position),
          static_cast<unsigned long long>(m.bad_checkpoint_size),
          absl::CEscape(m.status.message()).c_str());
    } else if (m.status.ok()) {
      std::printf(
          "OK: Merkle tree of %llu leaves matches the events; root %s\n"
          "OK: %llu checkpoints (latest at tree size %llu) match the tree%s\n",
          static_cast<unsigned long long>(m.tree_size),
          carelog::crypto::ToHex(m.root).c_str(),
          static_cast<unsigned long long>(m.checkpoints_checked),
          static_cast<unsigned long long>(m.latest_checkpoint),
          mkey.ok()
              ? absl::StrCat(", signatures valid for ", mkey->name).c_str()
              : " (signatures NOT checked: no --checkpoint-key and no "
                "checkpoint.pub)");
    } else {
      std::printf("FAILED: %s\n", std::string(m.status.message()).c_str());
    }
    if (m.status.ok())
      return kExitOk;
    return absl::IsDataLoss(m.status) || absl::IsPermissionDenied(m.status)
               ? kExitDataLoss
               : kExitFailed;
  }

  if (policy_test->parsed()) {
    auto policy = carelog::policies::Policy::LoadFile(policy_path);
    if (!policy.ok())
      return Fail(kExitUsage, "policy test", policy.status());
    auto cases = carelog::policies::LoadPolicyCasesFile(cases_path);
    if (!cases.ok())
      return Fail(kExitUsage, "policy test", cases.status());
    const carelog::policies::CaseReport report =
        carelog::policies::RunPolicyCases(**policy, *cases);
    const std::string out =
        json ? carelog::policies::FormatCaseReportJson(report)
             : carelog::policies::FormatCaseReportTable(report);
    std::fputs(out.c_str(), stdout);
    return report.ok() ? kExitOk : kExitDataLoss;
  }

  if (head->parsed()) {
    auto channel = Connect(head_flags);
    if (!channel.ok())
      return Fail(kExitUsage, "head", channel.status());
    auto stub = carelog::v1::LedgerService::NewStub(*channel);
    grpc::ClientContext ctx;
    if (auto s = PrepareContext(head_flags, &ctx); !s.ok())
      return Fail(kExitUsage, "head", s);
    carelog::v1::LedgerHead resp;
    grpc::Status s = stub->GetHead(&ctx, carelog::v1::GetHeadRequest(), &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "carelogctl head: %d %s\n", s.error_code(),
                   s.error_message().c_str());
      return kExitFailed;
    }
    if (json) {
      std::printf("{\"position\":%llu,\"chain_hash\":\"%s\"}\n",
                  static_cast<unsigned long long>(resp.position()),
                  Hex(resp.chain_hash()).c_str());
    } else {
      std::printf("position   %llu\nchain hash %s\n",
                  static_cast<unsigned long long>(resp.position()),
                  Hex(resp.chain_hash()).c_str());
    }
    return kExitOk;
  }
  return kExitUsage;
}
