// ops/carelogctl/ops_commands.h — carelogctl's operations subcommands, each
// group in its own file: backup_cmd.cc (backup create|list|verify|restore),
// restore_cmd.cc (restore --as-of), keys_cmd.cc (keys rotate-kek),
// erase_cmd.cc (erase-subject, legal-hold set|clear|show), online_cmd.cc
// (projections) and verify_cmd.cc (verify). Each Register function adds its
// subcommands to `parent` and their runners to `table`;
// `global_json` is carelogctl's top-level --json flag (must outlive parsing).
#ifndef CARELOG_OPS_CARELOGCTL_OPS_COMMANDS_H_
#define CARELOG_OPS_CARELOGCTL_OPS_COMMANDS_H_

#include "CLI/CLI.hpp"
#include "ops/carelogctl/client.h"
#include "ops/carelogctl/ops_common.h"

namespace carelog::ctl {

void RegisterBackupCommands(CLI::App& app, CommandTable* table,
                            const bool* global_json);
void RegisterRestoreCommands(CLI::App& app, CommandTable* table,
                             const bool* global_json);
// `keys` is carelogctl's existing `keys` subcommand.
void RegisterKeysCommands(CLI::App& keys, CommandTable* table,
                          const bool* global_json);
void RegisterEraseCommands(CLI::App& app, CommandTable* table,
                           const bool* global_json);
// projections status | rebuild NAME (online_cmd.cc).
void RegisterProjectionsCommands(CLI::App& app, CommandTable* table,
                                 const bool* global_json);

// verify, offline (--data-dir), server-side (--server/--token) or with
// client-side proofs (--online); verify_cmd.cc.
void RegisterVerifyCommand(CLI::App& app, CommandTable* table,
                           const bool* global_json);

// `carelogctl verify --server …` without --online: the server checks its own
// chain, Merkle tree and checkpoints (AdminService.VerifyLedger) and reports
// the first bad position, as a table, --json or --csv. Exit 0 OK, 3 damaged,
// else as the call failed. Unless out.quiet or JSON, the server's progress
// lines (rate, ETA) go to stderr.
int RunVerifyServer(const ClientFlags& client, const CommonFlags& out);

}  // namespace carelog::ctl

#endif  // CARELOG_OPS_CARELOGCTL_OPS_COMMANDS_H_
