// tests/ops/ctl_driver.h — runs carelogctl in process through its real entry
// point (ops/carelogctl/cli.h: the same parsing, dispatch and exit codes as
// the binary) and captures what it prints on stdout and stderr; parses the
// CSV its listings print.
// Not thread-safe: one call at a time (it redirects the process's stdout and
// stderr while the command runs).
#ifndef CARELOG_TESTS_OPS_CTL_DRIVER_H_
#define CARELOG_TESTS_OPS_CTL_DRIVER_H_

#include <string>
#include <vector>

namespace carelog::testing {

struct CtlResult {
  int exit_code = -1;  // -2: the command threw (a bug; `err` says what)
  std::string out;     // stdout
  std::string err;     // stderr: error messages, progress lines
};

// `args` without the program name. Blocks while the command runs.
CtlResult RunCtl(std::vector<std::string> args);

// The rows of RFC 4180 CSV text (quoted fields, doubled quotes, CRLF or LF
// line ends), header first; a malformed quote fails the test.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text);

// The values of the column whose header is `name`, one per data row; fails
// the test when the header lacks it or a row is short.
std::vector<std::string> CsvColumn(
    const std::vector<std::vector<std::string>>& rows, const std::string& name);

}  // namespace carelog::testing

#endif  // CARELOG_TESTS_OPS_CTL_DRIVER_H_
