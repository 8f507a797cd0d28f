// carelogctl erase-subject SUBJECT … and legal-hold set|clear|show SUBJECT.
// Offline (--data-dir) they open the ledger of a STOPPED data directory with
// the KEK; online (--server/--token) they ask a running carelogd's
// AdminService, which authorizes and audits them as operator actions.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

#include "crypto/hash.h"
#include "crypto/signing_key.h"
#include "ops/carelogctl/admin_client.h"
#include "ops/carelogctl/client.h"
#include "ops/carelogctl/ops_commands.h"
#include "storage/ledger.h"
#include "storage/maintenance.h"

namespace carelog::ctl {
namespace {

struct LedgerFlags {
  CommonFlags common;
  std::string data_dir;
  std::string key_file;             // KEK
  std::string checkpoint_key_file;  // optional: sign a checkpoint
  std::string checkpoint_origin = storage::kDefaultCheckpointOrigin;
  std::string actor;
  ClientFlags client;  // online
};

// `reason_flag`: false when the command has its own --reason.
void AddLedgerFlags(CLI::App* cmd, LedgerFlags* f, bool reason_flag = true) {
  cmd->add_option("--data-dir", f->data_dir,
                  "offline: carelogd's data directory (stopped)");
  f->client.timeout_seconds = 600;
  AddClientFlags(cmd, &f->client, "HSYSADMIN", reason_flag);
  cmd->add_option("--key-file", f->key_file,
                  "KEK file (mode 0600); default: $CARELOG_KEK");
  cmd->add_option("--actor", f->actor,
                  "operator id recorded (encrypted) in the event; default "
                  "$USER");
  AddCommonFlags(cmd, &f->common);
}

absl::StatusOr<std::unique_ptr<storage::Ledger>> OpenLedger(
    const LedgerFlags& f, absl::string_view what, int* exit_code) {
  if (auto s = CheckLedgerExists(f.data_dir, "--data-dir"); !s.ok()) {
    *exit_code = Fail(kExitUsage, what, s);
    return s;
  }
  auto kek = LoadKek(f.key_file, "--key-file");
  if (!kek.ok()) {
    *exit_code = Fail(kExitUsage, what, kek.status());
    return kek.status();
  }
  storage::LedgerOptions o;
  o.data_dir = LedgerDirOf(f.data_dir);
  o.kek = std::move(*kek);
  if (!f.checkpoint_key_file.empty()) {
    auto key = crypto::SigningKey::LoadFile(f.checkpoint_key_file);
    if (!key.ok()) {
      absl::Status s = absl::InvalidArgumentError(
          absl::StrCat("--checkpoint-key-file: ", key.status().message()));
      *exit_code = Fail(kExitUsage, what, s);
      return s;
    }
    o.checkpoints.key =
        std::shared_ptr<const crypto::SigningKey>(std::move(*key));
    o.checkpoints.origin = f.checkpoint_origin;
    o.checkpoints.every_events = 0;
    o.checkpoints.interval = absl::ZeroDuration();
    o.checkpoints.on_stop = false;
  }
  auto l = storage::Ledger::Open(std::move(o));
  if (!l.ok()) {
    absl::Status s = l.status();
    if (absl::IsFailedPrecondition(s) &&
        s.message().find("lock") != absl::string_view::npos) {
      s = absl::FailedPreconditionError(
          absl::StrCat(s.message(),
                       " — stop carelogd first: this command runs on a "
                       "stopped data directory"));
    }
    // The wrong KEK for this directory is a bad --key-file.
    const bool wrong_kek =
        absl::IsFailedPrecondition(s) &&
        s.message().find("does not unwrap") != absl::string_view::npos;
    *exit_code = Fail(wrong_kek ? kExitUsage : ExitCodeFor(s), what, s);
    return s;
  }
  return l;
}

std::string Actor(const LedgerFlags& f) {
  if (!f.actor.empty())
    return f.actor;
  const char* user = std::getenv("USER");
  return user != nullptr ? std::string(user) : "unknown";
}

struct EraseFlags {
  LedgerFlags ledger;
  std::string subject;
  std::string reason;
  std::string basis;
  bool yes = false;
};

int RunErase(const EraseFlags& f) {
  constexpr char kWhat[] = "erase-subject";
  if (!f.yes) {
    return Fail(kExitUsage, kWhat,
                absl::InvalidArgumentError(
                    "--yes: required — erasure destroys the subject's data key "
                    "and cannot be undone"));
  }
  auto online = ChooseOnline(f.ledger.data_dir, f.ledger.client);
  if (!online.ok())
    return Fail(kExitUsage, kWhat, online.status());
  storage::ErasureRequest req{f.subject, f.reason, f.basis, Actor(f.ledger)};
  absl::StatusOr<storage::ErasureReceipt> r;
  if (*online) {
    ClientFlags client = f.ledger.client;
    client.reason = f.reason;  // the erasure's reason is the access reason
    r = OnlineEraseSubject(client, req);
  } else {
    int code = kExitFailed;
    auto l = OpenLedger(f.ledger, kWhat, &code);
    if (!l.ok())
      return code;
    r = storage::EraseSubject(**l, req);
  }
  if (!r.ok())
    return Fail(ExitCodeFor(r.status()), kWhat, r.status());
  const std::string cp_note = r->checkpoint ? r->checkpoint->note : "";
  if (f.ledger.common.Json()) {
    std::printf(
        "{\"subject_id\":%s,\"erasure_position\":%llu,\"erased_at\":%s,"
        "\"already_erased\":%s,\"key_purged\":%s,\"head\":%llu,"
        "\"chain_hash\":%s,\"checkpoint\":%s,\"checkpoint_covers_erasure\":%s}"
        "\n",
        JsonStr(r->subject_id).c_str(),
        static_cast<unsigned long long>(r->position),
        JsonStr(FormatTimeMicros(r->erased_at_micros)).c_str(),
        r->already_erased ? "true" : "false", r->purged ? "true" : "false",
        static_cast<unsigned long long>(r->head.position),
        JsonStr(crypto::ToHex(r->head.chain_hash)).c_str(),
        r->checkpoint ? JsonStr(cp_note).c_str() : "null",
        r->checkpoint_covers_erasure ? "true" : "false");
    return kExitOk;
  }
  if (f.ledger.common.csv) {
    std::fputs(
        "subject_id,erasure_position,erased_at,already_erased,key_purged,head,"
        "chain_hash,checkpoint_tree_size,checkpoint_covers_erasure\n",
        stdout);
    std::fputs(
        CsvRow({r->subject_id, absl::StrCat(r->position),
                FormatTimeMicros(r->erased_at_micros),
                r->already_erased ? "true" : "false",
                r->purged ? "true" : "false", absl::StrCat(r->head.position),
                crypto::ToHex(r->head.chain_hash),
                r->checkpoint ? absl::StrCat(r->checkpoint->tree_size) : "",
                r->checkpoint_covers_erasure ? "true" : "false"})
            .c_str(),
        stdout);
    return kExitOk;
  }
  std::printf("ERASURE RECEIPT\n");
  std::printf("  subject           %s\n", r->subject_id.c_str());
  std::printf("  erasure event     position %llu (stream erasure/%s)%s\n",
              static_cast<unsigned long long>(r->position),
              r->subject_id.c_str(),
              r->already_erased ? " — the key had already been destroyed" : "");
  std::printf("  erased at         %s\n",
              FormatTimeMicros(r->erased_at_micros).c_str());
  std::printf("  data key          destroyed; purged from RocksDB files: %s\n",
              r->purged ? "yes" : "no");
  std::printf("  ledger head       %llu  %s\n",
              static_cast<unsigned long long>(r->head.position),
              crypto::ToHex(r->head.chain_hash).c_str());
  if (r->checkpoint) {
    std::printf("  checkpoint        tree size %llu%s\n%s",
                static_cast<unsigned long long>(r->checkpoint->tree_size),
                r->checkpoint_covers_erasure
                    ? " (covers the erasure event)"
                    : " (predates the erasure; sign one with "
                      "--checkpoint-key-file)",
                cp_note.c_str());
  } else {
    std::printf(
        "  checkpoint        none (pass --checkpoint-key-file to sign one)\n");
  }
  std::printf(
      "note: backups taken before now still hold the wrapped key until they "
      "expire; %s\n",
      *online ? "carelogd's projections drop the subject as they pass the "
                "erasure event"
              : "projections drop the subject when carelogd passes the "
                "erasure event after its restart");
  return kExitOk;
}

struct HoldFlags {
  LedgerFlags ledger;
  std::string subject;
  std::string reference;
};

int RunHold(const HoldFlags& f, int op /*0 set, 1 clear, 2 show*/) {
  const char* what = op == 0   ? "legal-hold set"
                     : op == 1 ? "legal-hold clear"
                               : "legal-hold show";
  if (op != 2 && f.reference.empty()) {
    return Fail(kExitUsage, what,
                absl::InvalidArgumentError(
                    "--reference: required (a case or ticket id; no patient "
                    "data)"));
  }
  auto online = ChooseOnline(f.ledger.data_dir, f.ledger.client);
  if (!online.ok())
    return Fail(kExitUsage, what, online.status());
  // set: the hold; clear: the clearing event's position; show: the hold.
  std::optional<storage::LegalHold> hold;
  uint64_t position = 0;
  if (*online) {
    ClientFlags client = f.ledger.client;
    if (client.reason.empty())
      client.reason = f.reference.empty() ? "legal hold review" : f.reference;
    auto r = OnlineLegalHold(client, op, f.subject, f.reference);
    if (!r.ok())
      return Fail(ExitCodeFor(r.status()), what, r.status());
    hold = r->hold;
    position = r->position;
  } else {
    int code = kExitFailed;
    auto l = OpenLedger(f.ledger, what, &code);
    if (!l.ok())
      return code;
    if (op == 0) {
      auto h =
          storage::SetLegalHold(**l, f.subject, f.reference, Actor(f.ledger));
      if (!h.ok())
        return Fail(ExitCodeFor(h.status()), what, h.status());
      hold = *h;
      position = h->position;
    } else if (op == 1) {
      auto p =
          storage::ClearLegalHold(**l, f.subject, f.reference, Actor(f.ledger));
      if (!p.ok())
        return Fail(ExitCodeFor(p.status()), what, p.status());
      position = *p;
    } else {
      auto h = storage::GetLegalHold(**l, f.subject);
      if (!h.ok())
        return Fail(ExitCodeFor(h.status()), what, h.status());
      hold = *h;
    }
  }
  if (op == 0) {
    if (f.ledger.common.Json()) {
      std::printf("{\"subject_id\":%s,\"hold\":true,\"position\":%llu}\n",
                  JsonStr(f.subject).c_str(),
                  static_cast<unsigned long long>(position));
    } else {
      std::printf(
          "OK: legal hold set on %s (event position %llu); erasure "
          "is refused until it is cleared\n",
          f.subject.c_str(), static_cast<unsigned long long>(position));
    }
    return kExitOk;
  }
  if (op == 1) {
    if (f.ledger.common.Json()) {
      std::printf("{\"subject_id\":%s,\"hold\":false,\"position\":%llu}\n",
                  JsonStr(f.subject).c_str(),
                  static_cast<unsigned long long>(position));
    } else {
      std::printf("OK: legal hold on %s cleared (event position %llu)\n",
                  f.subject.c_str(), static_cast<unsigned long long>(position));
    }
    return kExitOk;
  }
  if (f.ledger.common.Json()) {
    std::printf(
        "{\"subject_id\":%s,\"hold\":%s,\"set_at\":%s,\"position\":%llu}\n",
        JsonStr(f.subject).c_str(), hold ? "true" : "false",
        hold ? JsonStr(FormatTimeMicros(hold->set_at_micros)).c_str() : "null",
        static_cast<unsigned long long>(hold ? hold->position : 0));
  } else if (f.ledger.common.csv) {
    std::fputs("subject_id,hold,set_at,position\n", stdout);
    std::fputs(CsvRow({f.subject, hold ? "true" : "false",
                       hold ? FormatTimeMicros(hold->set_at_micros) : "",
                       absl::StrCat(hold ? hold->position : 0)})
                   .c_str(),
               stdout);
  } else if (hold) {
    std::printf("%s: under legal hold since %s (event position %llu)\n",
                f.subject.c_str(),
                FormatTimeMicros(hold->set_at_micros).c_str(),
                static_cast<unsigned long long>(hold->position));
  } else {
    std::printf("%s: no legal hold\n", f.subject.c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterEraseCommands(CLI::App& app, CommandTable* table,
                           const bool* global_json) {
  auto ef = std::make_shared<EraseFlags>();
  ef->ledger.common.global_json = global_json;
  auto* erase = app.add_subcommand(
      "erase-subject",
      "crypto-shred a subject (patient): destroy its data key, purge it from "
      "RocksDB, append an erasure event (no PHI) and print a receipt. Online "
      "(--server/--token: a running carelogd, role ledger-admin, purpose "
      "HSYSADMIN) or offline (--data-dir: a STOPPED data directory)");
  erase->add_option("SUBJECT", ef->subject, "opaque subject (patient) id")
      ->required();
  erase
      ->add_option("--reason", ef->reason,
                   "why (ticket/request reference; encrypted in the event)")
      ->required();
  erase
      ->add_option("--basis", ef->basis,
                   "legal basis, e.g. GDPR-17 (encrypted in the event)")
      ->required();
  erase->add_flag("--yes", ef->yes, "confirm: erasure cannot be undone");
  erase->add_option("--checkpoint-key-file", ef->ledger.checkpoint_key_file,
                    "checkpoint signing key (carelogd's signing_key_file) to "
                    "sign a checkpoint covering the erasure");
  erase
      ->add_option("--checkpoint-origin", ef->ledger.checkpoint_origin,
                   "checkpoint origin (carelogd's checkpoint_origin)")
      ->default_str(storage::kDefaultCheckpointOrigin);
  AddLedgerFlags(erase, &ef->ledger, /*reason_flag=*/false);
  AddCsvFlag(erase, &ef->ledger.common);
  table->Add(erase, [ef] { return RunErase(*ef); });

  auto* hold = app.add_subcommand(
      "legal-hold",
      "legal holds that block erasure of a subject (online with "
      "--server/--token, offline with --data-dir on a STOPPED directory)");
  hold->require_subcommand(1);
  auto hf = std::make_shared<HoldFlags>();
  hf->ledger.common.global_json = global_json;
  const char* names[] = {"set", "clear", "show"};
  const char* helps[] = {
      "place a hold (recorded as an event); erasure is refused while it is on",
      "clear the hold (recorded as an event)", "show whether a hold is on"};
  for (int op = 0; op < 3; ++op) {
    auto* cmd = hold->add_subcommand(names[op], helps[op]);
    cmd->add_option("SUBJECT", hf->subject, "opaque subject (patient) id")
        ->required();
    if (op != 2) {
      cmd->add_option("--reference", hf->reference,
                      "case or ticket id (no patient data)")
          ->required();
    }
    AddLedgerFlags(cmd, &hf->ledger);
    if (op == 2)
      AddCsvFlag(cmd, &hf->ledger.common);
    table->Add(cmd, [hf, op] { return RunHold(*hf, op); });
  }
}

}  // namespace carelog::ctl
