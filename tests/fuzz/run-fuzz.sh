#!/usr/bin/env bash
# Long fuzzing runs: each libFuzzer target for SECONDS (default 600) from its
# committed seeds, new inputs kept in FUZZ_DIR/fuzz-corpus/<target>, crashes
# in FUZZ_DIR/fuzz-artifacts/. Exits non-zero if any target found a crash.
# Usage: tests/fuzz/run-fuzz.sh [FUZZ_DIR] [SECONDS] [target...]
#   (FUZZ_DIR configured with -DCARELOG_FUZZ=ON; `make fuzz` does it all)
set -uo pipefail
cd "$(dirname "$0")/../.."
FUZZ_DIR=${1:-build-fuzz}
SECONDS_EACH=${2:-600}
shift $(( $# > 2 ? 2 : $# ))
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(record_fuzz jwt_fuzz policy_fuzz command_validation_fuzz signed_note_fuzz merkle_verifier_fuzz)
fi
mkdir -p "$FUZZ_DIR/fuzz-artifacts"
failed=()
for t in "${TARGETS[@]}"; do
  bin="$FUZZ_DIR/tests/fuzz/$t"
  [ -x "$bin" ] || { echo "run-fuzz: $bin missing (make fuzz-build)" >&2; exit 2; }
  mkdir -p "$FUZZ_DIR/fuzz-corpus/$t"
  echo "== $t for ${SECONDS_EACH}s"
  if ! "$bin" -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 \
      -artifact_prefix="$FUZZ_DIR/fuzz-artifacts/$t-" \
      "$FUZZ_DIR/fuzz-corpus/$t" "tests/fuzz/corpus/$t"; then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "run-fuzz: crashes in ${failed[*]} (inputs in $FUZZ_DIR/fuzz-artifacts/)" >&2
  exit 1
fi
echo "run-fuzz: no crash in ${TARGETS[*]}"
