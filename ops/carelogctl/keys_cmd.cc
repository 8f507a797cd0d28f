// carelogctl keys rotate-kek --data-dir --old-key-file --new-key-file.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "crypto/key_file.h"
#include "ops/carelogctl/ops_commands.h"
#include "storage/maintenance.h"

namespace carelog::ctl {
namespace {

struct RotateFlags {
  CommonFlags common;
  std::string data_dir;
  std::string old_key_file;
  std::string new_key_file;
};

int RunRotate(const RotateFlags& f) {
  constexpr char kWhat[] = "keys rotate-kek";
  if (auto s = CheckLedgerExists(f.data_dir, "--data-dir"); !s.ok())
    return Fail(kExitUsage, kWhat, s);
  auto old_kek = crypto::LoadKeyFile(f.old_key_file);
  if (!old_kek.ok()) {
    return Fail(kExitUsage, kWhat,
                absl::InvalidArgumentError(absl::StrCat(
                    "--old-key-file: ", old_kek.status().message())));
  }
  auto new_kek = crypto::LoadKeyFile(f.new_key_file);
  if (!new_kek.ok()) {
    return Fail(
        kExitUsage, kWhat,
        absl::InvalidArgumentError(absl::StrCat(
            "--new-key-file: ", new_kek.status().message(),
            " (create one with: carelogctl keys generate --out FILE)")));
  }
  ProgressPrinter progress(!f.common.quiet);
  const absl::Time t0 = absl::Now();
  auto r = storage::RotateKek(LedgerDirOf(f.data_dir), **old_kek, **new_kek,
                              progress.Fn());
  if (!r.ok()) {
    absl::Status s = r.status();
    if (absl::IsFailedPrecondition(s) &&
        s.message().find("lock") != absl::string_view::npos) {
      s = absl::FailedPreconditionError(
          absl::StrCat(s.message(),
                       " — stop carelogd first: rotation runs on a stopped "
                       "data directory"));
    }
    return Fail(ExitCodeFor(s), kWhat, s);
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  if (f.common.Json()) {
    std::printf(
        "{\"ok\":true,\"keys_rewrapped\":%llu,\"tombstones\":%llu,"
        "\"seconds\":%.3f}\n",
        static_cast<unsigned long long>(r->keys_rewrapped),
        static_cast<unsigned long long>(r->tombstones), secs);
  } else {
    std::printf(
        "OK: %llu data keys re-wrapped under the new KEK (%llu erased "
        "subjects left erased) in %.2fs; old wrapped records purged\n"
        "next: point carelogd's key_file (or CARELOG_KEK) at %s and start it;"
        " the old KEK no longer opens this data directory (keep it only while "
        "backups taken before now are retained)\n",
        static_cast<unsigned long long>(r->keys_rewrapped),
        static_cast<unsigned long long>(r->tombstones), secs,
        f.new_key_file.c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterKeysCommands(CLI::App& keys, CommandTable* table,
                          const bool* global_json) {
  auto flags = std::make_shared<RotateFlags>();
  flags->common.global_json = global_json;
  auto* rotate = keys.add_subcommand(
      "rotate-kek",
      "re-wrap every data key of a STOPPED data directory under a new KEK "
      "(one synced batch; events untouched); afterwards the old KEK opens "
      "nothing");
  rotate->add_option("--data-dir", flags->data_dir, "carelogd's data directory")
      ->required();
  rotate
      ->add_option("--old-key-file", flags->old_key_file,
                   "the current KEK file (mode 0600)")
      ->required();
  rotate
      ->add_option("--new-key-file", flags->new_key_file,
                   "the new KEK file (mode 0600; from keys generate)")
      ->required();
  AddCommonFlags(rotate, &flags->common);
  table->Add(rotate, [flags] { return RunRotate(*flags); });
}

}  // namespace carelog::ctl
