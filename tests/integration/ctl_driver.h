// tests/integration/ctl_driver.h — runs carelogctl's operations subcommands
// in process, wired exactly as main() wires them (parse errors exit 2,
// --help 0), and captures what they print. Not thread-safe: one call at a
// time (it captures the process's stdout).
#ifndef CARELOG_TESTS_INTEGRATION_CTL_DRIVER_H_
#define CARELOG_TESTS_INTEGRATION_CTL_DRIVER_H_

#include <string>
#include <vector>

namespace carelog::integration {

struct CtlResult {
  int exit_code = -1;  // -1: no operations subcommand was parsed
  std::string out;     // what it printed on stdout
};

// `args` without the program name.
CtlResult RunCtl(std::vector<std::string> args);

}  // namespace carelog::integration

#endif  // CARELOG_TESTS_INTEGRATION_CTL_DRIVER_H_
