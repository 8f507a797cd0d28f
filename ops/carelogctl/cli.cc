#include "ops/carelogctl/cli.h"

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"

#include "CLI/CLI.hpp"
#include "carelog/v1/ledger.grpc.pb.h"
#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "crypto/key_file.h"
#include "ops/carelogctl/audit_cmd.h"
#include "ops/carelogctl/client.h"
#include "ops/carelogctl/ops_commands.h"
#include "policies/cases.h"
#include "policies/policy.h"
#include "services/server/server.h"

namespace carelog::ctl {
namespace {

// keys generate (offline).
void RegisterKeysGenerate(CLI::App& keys, CommandTable* table,
                          const bool* global_json) {
  auto* gen =
      keys.add_subcommand("generate", "create a new KEK file (mode 0600)");
  auto out = std::make_shared<std::string>();
  gen->add_option("--out", *out, "path of the new key file (must not exist)")
      ->required();
  table->Add(gen, [out, global_json] {
    auto k = crypto::CreateKeyFile(*out);
    if (!k.ok())
      return Fail(ExitCodeFor(k.status()), "keys generate", k.status());
    if (*global_json)
      std::printf("{\"key_file\":%s}\n", JsonStr(*out).c_str());
    else
      std::printf("created key file %s (mode 0600)\n", out->c_str());
    return kExitOk;
  });
}

// dev token: a token from the dev issuer that carelogd --dev created.
void RegisterDevCommands(CLI::App& app, CommandTable* table) {
  auto* dev =
      app.add_subcommand("dev", "development helpers (loopback dev mode only)");
  dev->require_subcommand(1);
  auto* token = dev->add_subcommand(
      "token", "mint a token from the dev issuer in DATA_DIR/dev-issuer");
  struct Flags {
    std::string data_dir = "var/data", sub, roles, audience = "carelog";
    int ttl_minutes = 60;
  };
  auto f = std::make_shared<Flags>();
  token->add_option("--data-dir", f->data_dir, "carelogd's data directory")
      ->default_str(f->data_dir);
  token->add_option("--sub", f->sub, "subject (actor id)")->required();
  token->add_option("--roles", f->roles, "comma-separated roles");
  token->add_option("--audience", f->audience, "audience")
      ->default_str(f->audience);
  token->add_option("--ttl-minutes", f->ttl_minutes, "lifetime")
      ->default_str("60");
  table->Add(token, [f] {
    const std::string path =
        absl::StrCat(f->data_dir, "/", services::kDevIssuerDir, "/",
                     services::kDevIssuerKeyFile);
    auto signer = crypto::TokenSigner::LoadPem(path, services::kDevIssuerKid);
    if (!signer.ok()) {
      return Fail(
          kExitFailed, "dev token",
          absl::Status(signer.status().code(),
                       absl::StrCat(signer.status().message(),
                                    " (start carelogd with --dev on loopback "
                                    "first: it creates the issuer)")));
    }
    crypto::TokenSigner::Claims c;
    c.issuer = services::kDevIssuer;
    c.subject = f->sub;
    c.audience = f->audience;
    if (!f->roles.empty())
      c.roles = absl::StrSplit(f->roles, ',', absl::SkipEmpty());
    c.issued_at = absl::Now();
    c.ttl = absl::Minutes(f->ttl_minutes);
    auto t = (*signer)->Mint(c);
    if (!t.ok())
      return Fail(kExitUsage, "dev token", t.status());
    std::printf("%s\n", t->c_str());
    return kExitOk;
  });
}

// head (online): the server's ledger head.
void RegisterHeadCommand(CLI::App& app, CommandTable* table,
                         const bool* global_json) {
  auto* head = app.add_subcommand(
      "head", "the server's ledger head (position and chain hash)");
  struct Flags {
    ClientFlags client;
    CommonFlags common;
  };
  auto f = std::make_shared<Flags>();
  f->common.global_json = global_json;
  AddClientFlags(head, &f->client);
  head->add_flag("--json", f->common.json, "machine-readable JSON output");
  table->Add(head, [f] {
    auto channel = Connect(f->client);
    if (!channel.ok())
      return Fail(kExitUsage, "head", channel.status());
    auto stub = v1::LedgerService::NewStub(*channel);
    grpc::ClientContext ctx;
    if (auto s = PrepareContext(f->client, &ctx); !s.ok())
      return Fail(kExitUsage, "head", s);
    v1::LedgerHead resp;
    grpc::Status s = stub->GetHead(&ctx, v1::GetHeadRequest(), &resp);
    if (!s.ok())
      return FailCall("head", s);
    const std::string hash = crypto::BytesToHex(resp.chain_hash());
    if (f->common.Json()) {
      std::printf("{\"position\":%llu,\"chain_hash\":\"%s\"}\n",
                  static_cast<unsigned long long>(resp.position()),
                  hash.c_str());
    } else {
      std::printf("position   %llu\nchain hash %s\n",
                  static_cast<unsigned long long>(resp.position()),
                  hash.c_str());
    }
    return kExitOk;
  });
}

// policy test POLICY CASES (offline).
void RegisterPolicyCommands(CLI::App& app, CommandTable* table,
                            const bool* global_json) {
  auto* policy = app.add_subcommand("policy", "access policy tools (offline)");
  policy->require_subcommand(1);
  auto* test = policy->add_subcommand(
      "test",
      "decide a YAML table of (request -> expected decision) cases with a "
      "policy (exit 3 when a case fails)");
  struct Flags {
    std::string policy, cases;
    CommonFlags common;
  };
  auto f = std::make_shared<Flags>();
  f->common.global_json = global_json;
  test->add_option("POLICY", f->policy, "policy YAML file")->required();
  test->add_option("CASES", f->cases, "cases YAML file")->required();
  test->add_flag("--json", f->common.json, "machine-readable JSON output");
  table->Add(test, [f] {
    auto p = policies::Policy::LoadFile(f->policy);
    if (!p.ok())
      return Fail(kExitUsage, "policy test", p.status());
    auto cases = policies::LoadPolicyCasesFile(f->cases);
    if (!cases.ok())
      return Fail(kExitUsage, "policy test", cases.status());
    const policies::CaseReport report = policies::RunPolicyCases(**p, *cases);
    const std::string out = f->common.Json()
                                ? policies::FormatCaseReportJson(report)
                                : policies::FormatCaseReportTable(report);
    std::fputs(out.c_str(), stdout);
    return report.ok() ? kExitOk : kExitVerifyFailed;
  });
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"carelogctl — operate, verify and query a carelog ledger"};
  app.footer(
      "Exit codes: 0 success; 1 the operation failed (read the message); 2 "
      "bad arguments (nothing was changed); 3 verification found damage or "
      "policy test cases failed. Every level takes --help.");
  app.require_subcommand(1);
  bool json = false;
  app.add_flag("--json", json, "machine-readable JSON output");
  auto* keys = app.add_subcommand("keys", "key-encryption key management");
  keys->require_subcommand(1);

  CommandTable table;
  RegisterKeysGenerate(*keys, &table, &json);
  RegisterKeysCommands(*keys, &table, &json);
  RegisterDevCommands(app, &table);
  RegisterVerifyCommand(app, &table, &json);
  RegisterHeadCommand(app, &table, &json);
  RegisterPolicyCommands(app, &table, &json);
  RegisterBackupCommands(app, &table, &json);
  RegisterRestoreCommands(app, &table, &json);
  RegisterEraseCommands(app, &table, &json);
  RegisterProjectionsCommands(app, &table, &json);
  RegisterAuditCommands(app, &table, &json);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes (106, 109, ...) are not ours: --help exits 0,
    // every real parse error is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  int rc = kExitUsage;
  if (!table.RunParsed(&rc))
    return kExitUsage;  // unreachable: require_subcommand at every level
  return rc;
}

}  // namespace carelog::ctl
