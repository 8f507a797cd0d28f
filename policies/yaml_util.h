// policies/yaml_util.h — internal to policies/: yaml-cpp helpers that turn
// every problem into INVALID_ARGUMENT naming the line (yaml-cpp Mark()).
// Not a public header (yaml-cpp is a PRIVATE dependency of carelog_policies).
// Thread-safety: pure functions.
#ifndef CARELOG_POLICIES_YAML_UTIL_H_
#define CARELOG_POLICIES_YAML_UTIL_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

#include "yaml-cpp/yaml.h"

namespace carelog::policies::yaml_util {

inline int Line(const YAML::Node& n) {
  return n.Mark().line + 1;
}

inline absl::Status ErrorAt(absl::string_view file_kind, const YAML::Node& n,
                            absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(file_kind, " line ", Line(n), ": ", what));
}

// Parses YAML text. Errors: INVALID_ARGUMENT with the line of a syntax error.
inline absl::StatusOr<YAML::Node> LoadYaml(absl::string_view file_kind,
                                           absl::string_view text) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        file_kind, " line ", e.mark.line + 1, ": YAML syntax error: ", e.msg));
  }
}

// Checks that `map` is a mapping with only `allowed` keys.
inline absl::Status CheckKeys(absl::string_view file_kind,
                              const YAML::Node& map,
                              const std::set<std::string>& allowed,
                              absl::string_view where) {
  if (!map.IsMap())
    return ErrorAt(file_kind, map, absl::StrCat(where, ": expected a mapping"));
  for (const auto& kv : map) {
    if (!kv.first.IsScalar())
      return ErrorAt(file_kind, kv.first,
                     absl::StrCat(where, ": keys must be names"));
    const std::string key = kv.first.Scalar();
    if (!allowed.count(key)) {
      return ErrorAt(file_kind, kv.first,
                     absl::StrCat("unknown key \"", key, "\" in ", where,
                                  "; known: ", absl::StrJoin(allowed, ", ")));
    }
  }
  return absl::OkStatus();
}

inline absl::StatusOr<std::string> Scalar(absl::string_view file_kind,
                                          const YAML::Node& n,
                                          absl::string_view what) {
  if (!n.IsScalar())
    return ErrorAt(file_kind, n,
                   absl::StrCat(what, ": expected a single value"));
  return n.Scalar();
}

inline absl::StatusOr<bool> Bool(absl::string_view file_kind,
                                 const YAML::Node& n, absl::string_view what) {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true")
      return true;
    if (s == "false")
      return false;
  }
  return ErrorAt(file_kind, n, absl::StrCat(what, ": expected true or false"));
}

// A list of names: a sequence of scalars, or a single scalar (e.g. "*").
// Each element keeps its node so errors can name its own line.
inline absl::StatusOr<std::vector<YAML::Node>> Names(
    absl::string_view file_kind, const YAML::Node& n, absl::string_view what) {
  std::vector<YAML::Node> out;
  if (n.IsScalar()) {
    out.push_back(n);
    return out;
  }
  if (!n.IsSequence())
    return ErrorAt(file_kind, n,
                   absl::StrCat(what, ": expected a list of names"));
  for (const auto& e : n) {
    if (!e.IsScalar())
      return ErrorAt(file_kind, e, absl::StrCat(what, ": expected a name"));
    out.push_back(e);
  }
  return out;
}

}  // namespace carelog::policies::yaml_util

#endif  // CARELOG_POLICIES_YAML_UTIL_H_
