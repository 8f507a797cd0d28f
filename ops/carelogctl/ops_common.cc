#include "ops/carelogctl/ops_common.h"

#include <sys/stat.h>

#include <cstdio>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

#include "crypto/key_file.h"

namespace carelog::ctl {

void AddCommonFlags(CLI::App* cmd, CommonFlags* flags) {
  cmd->add_flag("--json", flags->json, "machine-readable JSON output");
  cmd->add_flag("--quiet", flags->quiet, "no progress lines on stderr");
}

void AddCsvFlag(CLI::App* cmd, CommonFlags* flags) {
  cmd->add_flag("--csv", flags->csv, "CSV output (a header line, then rows)");
}

int Fail(int code, absl::string_view what, const absl::Status& s) {
  std::fprintf(stderr, "carelogctl %s: %s\n", std::string(what).c_str(),
               std::string(s.message()).c_str());
  return code;
}

int ExitCodeFor(const absl::Status& s) {
  if (s.ok())
    return kExitOk;
  if (absl::IsInvalidArgument(s) || absl::IsNotFound(s) ||
      absl::IsAlreadyExists(s)) {
    return kExitUsage;
  }
  if (absl::IsDataLoss(s))
    return kExitVerifyFailed;
  return kExitFailed;
}

std::string JsonStr(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

std::string CsvRow(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0)
      line.push_back(',');
    const std::string& f = fields[i];
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
      line += f;
      continue;
    }
    line.push_back('"');
    for (char c : f) {
      if (c == '"')
        line.push_back('"');
      line.push_back(c);
    }
    line.push_back('"');
  }
  line.push_back('\n');
  return line;
}

std::string VerifyCsvRow(absl::string_view check, bool ok, uint64_t checked,
                         uint64_t position, uint64_t first_bad_position,
                         absl::string_view hash, absl::string_view problem) {
  return CsvRow({std::string(check), ok ? "true" : "false",
                 absl::StrCat(checked), absl::StrCat(position),
                 absl::StrCat(first_bad_position), std::string(hash),
                 std::string(problem)});
}

std::string LedgerDirOf(const std::string& data_dir) {
  return absl::StrCat(data_dir, "/ledger");
}

absl::Status CheckLedgerExists(const std::string& data_dir,
                               absl::string_view flag) {
  if (data_dir.empty())
    return absl::InvalidArgumentError(absl::StrCat(flag, ": required"));
  struct stat st;
  const std::string current = absl::StrCat(LedgerDirOf(data_dir), "/CURRENT");
  if (::stat(current.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": no ledger in ", data_dir, " (expected ",
                     LedgerDirOf(data_dir), ", carelogd's --data-dir layout)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<crypto::SecretKey>> LoadKek(
    const std::string& key_file, absl::string_view flag) {
  absl::StatusOr<std::unique_ptr<crypto::SecretKey>> k =
      key_file.empty() ? crypto::LoadKeyFromEnv("CARELOG_KEK")
                       : crypto::LoadKeyFile(key_file);
  if (k.ok())
    return k;
  if (key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": required (or set CARELOG_KEK): ", k.status().message()));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": ", k.status().message()));
}

storage::ProgressFn ProgressPrinter::Fn() {
  if (!enabled_)
    return nullptr;
  return [this](const storage::Progress& p) { Print(p); };
}

void ProgressPrinter::Print(const storage::Progress& p) {
  const absl::Time now = absl::Now();
  if (phase_ != p.phase) {
    phase_ = p.phase;
    phase_start_ = now;
    last_print_ = absl::InfinitePast();
  }
  const bool end = p.total > 0 && p.done >= p.total;
  if (!end && now - last_print_ < absl::Seconds(1))
    return;
  last_print_ = now;
  const double secs = absl::ToDoubleSeconds(now - phase_start_);
  const double rate = secs > 0 ? static_cast<double>(p.done) / secs : 0;
  std::string line = absl::StrCat(p.phase, "  ", p.done);
  if (p.total > 0) {
    absl::StrAppend(&line, "/", p.total, " ", p.unit, "  ",
                    p.done * 100 / p.total, "%");
  } else {
    absl::StrAppend(&line, " ", p.unit);
  }
  if (rate > 0)
    absl::StrAppend(&line, "  ", static_cast<uint64_t>(rate), " ", p.unit,
                    "/s");
  if (!end && p.total > 0 && rate > 0) {
    absl::StrAppend(&line, "  ETA ",
                    static_cast<uint64_t>((p.total - p.done) / rate), "s");
  }
  if (end)
    absl::StrAppend(&line, "  done in ", absl::StrFormat("%.2fs", secs));
  std::fprintf(stderr, "%s\n", line.c_str());
}

std::string FormatTimeMicros(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

}  // namespace carelog::ctl
