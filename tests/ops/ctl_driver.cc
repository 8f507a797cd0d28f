#include "tests/ops/ctl_driver.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "gtest/gtest.h"

#include "ops/carelogctl/cli.h"

namespace carelog::testing {

CtlResult RunCtl(std::vector<std::string> args) {
  args.insert(args.begin(), "carelogctl");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  CtlResult r;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  try {
    r.exit_code = ctl::Main(static_cast<int>(args.size()), argv.data());
  } catch (const std::exception& e) {
    // Never leave stdout/stderr captured: report it as a failed run.
    r.exit_code = -2;
    r.err = std::string("exception: ") + e.what() + "\n";
  }
  r.out = ::testing::internal::GetCapturedStdout();
  r.err += ::testing::internal::GetCapturedStderr();
  return r;
}

std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, in_row = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c != '"') {
        field.push_back(c);
      } else if (i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else {
        quoted = false;
      }
      continue;
    }
    in_row = true;
    if (c == '"') {
      EXPECT_TRUE(field.empty()) << "quote inside an unquoted field: " << text;
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
        ++i;
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      in_row = false;
    } else {
      field.push_back(c);
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quote: " << text;
  if (in_row) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::string> CsvColumn(
    const std::vector<std::vector<std::string>>& rows,
    const std::string& name) {
  std::vector<std::string> out;
  if (rows.empty()) {
    ADD_FAILURE() << "no CSV header";
    return out;
  }
  const auto& header = rows[0];
  const auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) {
    ADD_FAILURE() << "no CSV column " << name;
    return out;
  }
  const size_t col = static_cast<size_t>(it - header.begin());
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].size(), header.size()) << "CSV row " << i;
    out.push_back(col < rows[i].size() ? rows[i][col] : "");
  }
  return out;
}

}  // namespace carelog::testing
