// ops/carelogctl/ops_common.h — shared plumbing of carelogctl's operations
// commands (backup, restore, keys rotate-kek, erase-subject, legal-hold):
// the command table that main() dispatches to after parsing, exit codes,
// progress lines with rate and ETA, JSON strings, and the data-dir layout.
// Single-threaded CLI code.
#ifndef CARELOG_OPS_CARELOGCTL_OPS_COMMON_H_
#define CARELOG_OPS_CARELOGCTL_OPS_COMMON_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "CLI/CLI.hpp"
#include "crypto/secret_key.h"
#include "storage/progress.h"

namespace carelog::ctl {

// Exit codes (as cli.h and docs/operations documents them).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitVerifyFailed = 3;

// Subcommands registered by the Register*Commands functions; main() calls
// RunParsed() after CLI11 has parsed the command line.
class CommandTable {
 public:
  void Add(CLI::App* command, std::function<int()> run) {
    entries_.emplace_back(command, std::move(run));
  }
  // Runs the registered command that was parsed, if any: true and its exit
  // code in *exit_code; false when none of ours was on the command line.
  bool RunParsed(int* exit_code) const {
    for (const auto& [cmd, run] : entries_) {
      if (cmd->parsed()) {
        *exit_code = run();
        return true;
      }
    }
    return false;
  }

 private:
  std::vector<std::pair<CLI::App*, std::function<int()>>> entries_;
};

// Options every operations command shares.
struct CommonFlags {
  const bool* global_json = nullptr;  // carelogctl --json …
  bool json = false;                  // … or the subcommand's own --json
  bool quiet = false;                 // no progress lines
  bool csv = false;                   // listings: CSV with a header line
  bool Json() const { return json || (global_json != nullptr && *global_json); }
};
void AddCommonFlags(CLI::App* cmd, CommonFlags* flags);
// --csv, for commands that print a listing.
void AddCsvFlag(CLI::App* cmd, CommonFlags* flags);

// Prints "carelogctl <what>: <message>" to stderr and returns `code`.
int Fail(int code, absl::string_view what, const absl::Status& s);
// The exit code for an operation's status: 0 OK; 2 INVALID_ARGUMENT /
// NOT_FOUND / ALREADY_EXISTS (bad arguments: nothing changed); 3 DATA_LOSS;
// 1 otherwise.
int ExitCodeFor(const absl::Status& s);

// A JSON string literal (quoted, escaped).
std::string JsonStr(absl::string_view s);

// One CSV line (RFC 4180, ending in "\n"): a field holding a comma, quote or
// line break is quoted, quotes doubled.
std::string CsvRow(const std::vector<std::string>& fields);

// verify --csv (every mode): one row per check — chain, merkle, checkpoints
// (offline); chain, merkle (--server); proofs (--online). `checked` counts
// events, leaves, checkpoints or proven positions; `position` is the head,
// tree size or latest checkpoint verified through; `hash` the chain hash,
// Merkle root or the checkpoint key's name; `problem` empty when ok.
inline constexpr char kVerifyCsvHeader[] =
    "check,ok,checked,position,first_bad_position,hash,problem\n";
std::string VerifyCsvRow(absl::string_view check, bool ok, uint64_t checked,
                         uint64_t position, uint64_t first_bad_position,
                         absl::string_view hash, absl::string_view problem);

// carelogd's layout: DATA_DIR/ledger is the RocksDB directory.
std::string LedgerDirOf(const std::string& data_dir);
// OK if DATA_DIR/ledger holds a ledger (a CURRENT file); INVALID_ARGUMENT
// naming `flag` otherwise.
absl::Status CheckLedgerExists(const std::string& data_dir,
                               absl::string_view flag);

// The KEK from `key_file`, else from $CARELOG_KEK. Errors as
// crypto::LoadKeyFile / LoadKeyFromEnv, as INVALID_ARGUMENT naming `flag`.
absl::StatusOr<std::unique_ptr<crypto::SecretKey>> LoadKek(
    const std::string& key_file, absl::string_view flag);

// Progress lines on stderr ("verifying  120000/1000000 events  12%  85000
// events/s  ETA 10s"), at most one a second per phase plus each phase's end.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool enabled) : enabled_(enabled) {}
  storage::ProgressFn Fn();

 private:
  void Print(const storage::Progress& p);
  bool enabled_;
  std::string phase_;
  absl::Time phase_start_;
  absl::Time last_print_;
};

std::string FormatTimeMicros(int64_t micros);

}  // namespace carelog::ctl

#endif  // CARELOG_OPS_CARELOGCTL_OPS_COMMON_H_
