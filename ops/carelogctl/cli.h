// ops/carelogctl/cli.h — carelogctl's whole command line: every subcommand
// registered, parsed and run. main() is only a call to Main(); the tests run
// the same entry point in process (tests/ops/ctl_driver.h).
//
// Exit codes (docs/runbooks/README.md): 0 success; 1 the operation failed
// (I/O, server error, refusal); 2 bad arguments or a bad policy/cases file
// (nothing was changed); 3 verification found damage, or policy test cases
// failed. `--help` at any level prints that level's help and exits 0.
//
// Single-threaded; prints to stdout/stderr. Not reentrant while a command
// runs (commands hold their parsed flags).
#ifndef CARELOG_OPS_CARELOGCTL_CLI_H_
#define CARELOG_OPS_CARELOGCTL_CLI_H_

namespace carelog::ctl {

// Parses argv (argv[0] is the program name) and runs the command; returns the
// process exit code. Blocks for as long as the command runs.
int Main(int argc, char** argv);

}  // namespace carelog::ctl

#endif  // CARELOG_OPS_CARELOGCTL_CLI_H_
