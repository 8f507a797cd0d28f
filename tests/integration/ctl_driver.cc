#include "tests/integration/ctl_driver.h"

#include <exception>
#include <string>
#include <utility>

#include "gtest/gtest.h"

#include "CLI/CLI.hpp"
#include "ops/carelogctl/ops_commands.h"

namespace carelog::integration {

CtlResult RunCtl(std::vector<std::string> args) {
  CLI::App app{"carelogctl"};
  app.require_subcommand(1);
  bool json = false;
  app.add_flag("--json", json, "json");
  auto* keys = app.add_subcommand("keys", "keys");
  keys->require_subcommand(1);
  ctl::CommandTable table;
  ctl::RegisterBackupCommands(app, &table, &json);
  ctl::RegisterRestoreCommands(app, &table, &json);
  ctl::RegisterKeysCommands(*keys, &table, &json);
  ctl::RegisterEraseCommands(app, &table, &json);
  ctl::RegisterProjectionsCommands(app, &table, &json);
  args.insert(args.begin(), "carelogctl");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  CtlResult r;
  ::testing::internal::CaptureStdout();
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    if (!table.RunParsed(&r.exit_code))
      r.exit_code = -1;
  } catch (const CLI::ParseError& e) {
    r.exit_code = app.exit(e) == 0 ? ctl::kExitOk : ctl::kExitUsage;
  } catch (const std::exception& e) {
    // Never leave stdout captured: report it as a failed run.
    r.out = ::testing::internal::GetCapturedStdout();
    r.exit_code = -2;
    r.out += std::string("\nexception: ") + e.what();
    return r;
  }
  r.out = ::testing::internal::GetCapturedStdout();
  return r;
}

}  // namespace carelog::integration
