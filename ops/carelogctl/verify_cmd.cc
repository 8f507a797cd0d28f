// carelogctl verify, in its three modes: a stopped data directory
// (--data-dir: chain, indexes, table-block checksums, Merkle tree, signed
// checkpoints), a running carelogd checked by itself (--server/--token), or
// client-side proofs against a pinned key (--online). Exit 0 verified, 3
// damaged or a proof failed, 2 bad arguments, 1 anything else.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "crypto/hash.h"
#include "ops/carelogctl/client.h"
#include "ops/carelogctl/ops_commands.h"
#include "ops/carelogctl/verify_online.h"
#include "services/server/server.h"
#include "storage/backup.h"
#include "storage/ledger.h"
#include "storage/merkle.h"

namespace carelog::ctl {
namespace {

struct VerifyFlags {
  CommonFlags common;
  ClientFlags client;
  std::string data_dir = "var/data";
  uint64_t from = 1, to = 0;
  bool online = false, make_checkpoint = false;
  std::string key, state = "carelog-trusted-checkpoint";
  std::vector<uint64_t> positions;
};

// verify --online: proofs checked here against the pinned key.
int RunProofs(const VerifyFlags& f) {
  constexpr char kWhat[] = "verify";
  if (f.key.empty())
    return Fail(kExitUsage, kWhat,
                absl::InvalidArgumentError("--checkpoint-key: required"));
  auto key = LoadPinnedKey(f.key);
  if (!key.ok())
    return Fail(kExitUsage, kWhat, key.status());
  auto channel = Connect(f.client);
  if (!channel.ok())
    return Fail(kExitUsage, kWhat, channel.status());
  const ClientFlags& client = f.client;
  auto proofs = NewGrpcProofClient(*channel, [&client](grpc::ClientContext* c) {
    return PrepareContext(client, c);
  });
  const auto res = VerifyOnline(
      *proofs,
      OnlineVerifyOptions{*key, f.state, f.positions, f.make_checkpoint});
  const bool bad_proof = !res.ok() && (absl::IsDataLoss(res.status()) ||
                                       absl::IsPermissionDenied(res.status()));
  const uint64_t size = res.ok() ? res->verified.tree_size : 0;
  const std::string root = res.ok() ? crypto::ToHex(res->verified.root) : "";
  if (f.common.Json()) {
    std::printf("{\"ok\":%s,\"tree_size\":%llu,\"root\":%s,\"error\":%s}\n",
                res.ok() ? "true" : "false",
                static_cast<unsigned long long>(size), JsonStr(root).c_str(),
                JsonStr(res.status().message()).c_str());
  } else if (f.common.csv) {
    std::fputs(kVerifyCsvHeader, stdout);
    std::fputs(VerifyCsvRow("proofs", res.ok(), f.positions.size(), size, 0,
                            root, res.status().message())
                   .c_str(),
               stdout);
  } else if (res.ok()) {
    for (const auto& line : res->lines)
      std::printf("%s\n", line.c_str());
    std::printf("OK: checkpoint of tree size %llu verified\n",
                static_cast<unsigned long long>(size));
  } else {
    std::printf("FAILED: %s\n", std::string(res.status().message()).c_str());
  }
  if (res.ok())
    return kExitOk;
  if (bad_proof)
    return kExitVerifyFailed;
  return absl::IsInvalidArgument(res.status()) ? kExitUsage : kExitFailed;
}

// verify --data-dir: a stopped data directory.
int RunOffline(const VerifyFlags& f) {
  constexpr char kWhat[] = "verify";
  const bool json = f.common.Json(), csv = !json && f.common.csv;
  const std::string dir =
      absl::StrCat(f.data_dir, "/", services::kLedgerSubdir);
  const absl::Time t0 = absl::Now();
  // The whole log: in slices, with progress lines (rate and ETA).
  ProgressPrinter progress(!f.common.quiet && !json);
  const storage::VerifyReport r =
      f.from == 1 && f.to == 0
          ? storage::VerifyDataDirWithProgress(dir, progress.Fn())
          : storage::VerifyDataDir(dir, f.from, f.to);
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  const std::string chain_hash = crypto::ToHex(r.verified_head.chain_hash);
  if (json) {
    std::printf(
        "{\"ok\":%s,\"events_checked\":%llu,\"first_bad_position\":%llu,"
        "\"problem\":\"%s\",\"head\":%llu,\"chain_hash\":\"%s\","
        "\"seconds\":%.3f}\n",
        r.status.ok() ? "true" : "false",
        static_cast<unsigned long long>(r.events_checked),
        static_cast<unsigned long long>(r.first_bad_position),
        storage::VerifyProblemName(r.problem),
        static_cast<unsigned long long>(r.verified_head.position),
        chain_hash.c_str(), secs);
  } else if (csv) {
    std::fputs(kVerifyCsvHeader, stdout);
    std::fputs(VerifyCsvRow("chain", r.status.ok(), r.events_checked,
                            r.verified_head.position, r.first_bad_position,
                            chain_hash, r.status.message())
                   .c_str(),
               stdout);
  } else if (r.status.ok()) {
    std::printf(
        "OK: %llu events verified through position %llu in %.2fs\nchain hash "
        "%s\n",
        static_cast<unsigned long long>(r.events_checked),
        static_cast<unsigned long long>(r.verified_head.position), secs,
        chain_hash.c_str());
  } else {
    std::printf("FAILED: %s\n", std::string(r.status.message()).c_str());
  }
  if (!r.status.ok())
    return absl::IsDataLoss(r.status) ? kExitVerifyFailed : kExitFailed;
  // The Merkle tree against the events, and every checkpoint's signature
  // (with the pinned or published key), root and chain head.
  std::string key_arg = f.key;
  const std::string published =
      absl::StrCat(f.data_dir, "/", services::kCheckpointPublicKeyFile);
  if (key_arg.empty() && std::ifstream(published).good())
    key_arg = published;
  absl::StatusOr<crypto::NoteVerifier> mkey = absl::NotFoundError("no key");
  if (!key_arg.empty()) {
    mkey = LoadPinnedKey(key_arg);
    if (!mkey.ok())
      return Fail(kExitUsage, kWhat, mkey.status());
  }
  const storage::MerkleVerifyReport m =
      storage::VerifyDataDirMerkle(dir, mkey.ok() ? &*mkey : nullptr);
  const std::string root = crypto::ToHex(m.root);
  if (json) {
    std::printf(
        "{\"merkle\":{\"ok\":%s,\"tree_size\":%llu,\"root\":\"%s\","
        "\"checkpoints_checked\":%llu,\"latest_checkpoint\":%llu,"
        "\"signatures_checked\":%s,\"first_bad_position\":%llu,"
        "\"bad_checkpoint\":%llu,\"error\":%s}}\n",
        m.status.ok() ? "true" : "false",
        static_cast<unsigned long long>(m.tree_size), root.c_str(),
        static_cast<unsigned long long>(m.checkpoints_checked),
        static_cast<unsigned long long>(m.latest_checkpoint),
        mkey.ok() ? "true" : "false",
        static_cast<unsigned long long>(m.first_bad_position),
        static_cast<unsigned long long>(m.bad_checkpoint_size),
        JsonStr(m.status.message()).c_str());
  } else if (csv) {
    // One row for the tree, one for the checkpoints (whose "hash" column
    // names the key the signatures were checked with, if any).
    std::fputs(
        VerifyCsvRow("merkle", m.status.ok(), m.leaves_checked, m.tree_size,
                     m.first_bad_position, root, m.status.message())
            .c_str(),
        stdout);
    std::fputs(VerifyCsvRow("checkpoints", m.status.ok(), m.checkpoints_checked,
                            m.latest_checkpoint, m.bad_checkpoint_size,
                            mkey.ok() ? mkey->name : "",
                            mkey.ok() ? "" : "signatures not checked: no key")
                   .c_str(),
               stdout);
  } else if (m.status.ok()) {
    std::printf(
        "OK: Merkle tree of %llu leaves matches the events; root %s\n"
        "OK: %llu checkpoints (latest at tree size %llu) match the tree%s\n",
        static_cast<unsigned long long>(m.tree_size), root.c_str(),
        static_cast<unsigned long long>(m.checkpoints_checked),
        static_cast<unsigned long long>(m.latest_checkpoint),
        mkey.ok() ? absl::StrCat(", signatures valid for ", mkey->name).c_str()
                  : " (signatures NOT checked: no --checkpoint-key and no "
                    "checkpoint.pub)");
  } else {
    std::printf("FAILED: %s\n", std::string(m.status.message()).c_str());
  }
  if (m.status.ok())
    return kExitOk;
  return absl::IsDataLoss(m.status) || absl::IsPermissionDenied(m.status)
             ? kExitVerifyFailed
             : kExitFailed;
}

}  // namespace

void RegisterVerifyCommand(CLI::App& app, CommandTable* table,
                           const bool* global_json) {
  auto f = std::make_shared<VerifyFlags>();
  f->common.global_json = global_json;
  auto* verify = app.add_subcommand(
      "verify",
      "verify the hash chain, indexes, Merkle tree and signed checkpoints: of "
      "a stopped data directory (--data-dir), of a running carelogd checked "
      "by itself (--server/--token), or with client-side proofs against a "
      "pinned key (--online). Exit 3 when damage is found");
  verify->add_option("--data-dir", f->data_dir, "carelogd's data directory")
      ->default_str(f->data_dir);
  verify->add_option("--from", f->from, "first position")->default_str("1");
  verify->add_option("--to", f->to, "last position (0: head)")
      ->default_str("0");
  verify->add_flag(
      "--online", f->online,
      "verify a running carelogd with proofs instead of a stopped directory");
  verify->add_option("--checkpoint-key", f->key,
                     "pinned checkpoint verifier key, or a file holding it "
                     "(offline default: DATA_DIR/checkpoint.pub)");
  verify
      ->add_option("--state", f->state,
                   "online: trusted state file (the last verified checkpoint)")
      ->default_str(f->state);
  verify->add_option("--position", f->positions,
                     "online: event positions to prove included (repeatable)");
  verify->add_flag("--make-checkpoint", f->make_checkpoint,
                   "online: ask the server to sign its head first");
  f->client.timeout_seconds = 600;  // a server-side check reads every event
  AddClientFlags(verify, &f->client);
  AddCommonFlags(verify, &f->common);
  AddCsvFlag(verify, &f->common);
  table->Add(verify, [f] {
    if (f->online)
      return RunProofs(*f);
    // --server/--token without --online: the server checks itself.
    if (WantsServer(f->client))
      return RunVerifyServer(f->client, f->common);
    return RunOffline(*f);
  });
}

}  // namespace carelog::ctl
