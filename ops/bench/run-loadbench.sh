#!/usr/bin/env bash
# Runs carelog-loadbench end to end on this machine, loopback only:
#   - carelogd --dev in a fresh temp dir (KEK from carelogctl keys generate),
#   - carelog-noop-server (the transport ceiling),
#   - PostgreSQL (Debian's, initdb + pg_ctl in the temp dir, as user postgres
#     when run as root; synchronous_commit on, fsync on, max_connections 300),
# then drives all three and stops them. Results: the table on stdout and JSON
# in $OUT. See docs/performance.md, "Load".
# Usage: ops/bench/run-loadbench.sh [BUILD_DIR] [carelog-loadbench flags...]
#   e.g. ops/bench/run-loadbench.sh build --seconds 10 --warmup 2
# Env: OUT (default BUILD_DIR/loadbench.json), LOADBENCH_TMP (default /tmp),
#      NO_PG=1 to leave PostgreSQL out.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${1:-build}
shift $(( $# > 0 ? 1 : 0 ))
OUT=${OUT:-$BUILD_DIR/loadbench.json}
for b in services/carelogd ops/carelogctl ops/carelog-noop-server ops/carelog-loadbench; do
  [ -x "$BUILD_DIR/$b" ] || { echo "run-loadbench: $BUILD_DIR/$b missing (cmake --build $BUILD_DIR)" >&2; exit 2; }
done

TMP=$(mktemp -d "${LOADBENCH_TMP:-/tmp}/carelog-loadbench.XXXXXX")
chmod 755 "$TMP"
PIDS=()
PG_CTL=""
RUN_PG=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$PG_CTL" ]; then "${RUN_PG[@]}" "$PG_CTL" -D "$TMP/pg/data" -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# carelogd, development mode, fresh data directory.
"$BUILD_DIR/ops/carelogctl" keys generate --out "$TMP/kek.hex" >/dev/null
CL_PORT=$(free_port)
"$BUILD_DIR/services/carelogd" --dev --data-dir "$TMP/carelog" --key-file "$TMP/kek.hex" \
  --listen "127.0.0.1:$CL_PORT" --metrics-listen "127.0.0.1:$(free_port)" 2>"$TMP/carelogd.log" &
CL_PID=$!
PIDS+=("$CL_PID")

# The no-op ceiling.
NP_PORT=$(free_port)
"$BUILD_DIR/ops/carelog-noop-server" --listen "127.0.0.1:$NP_PORT" >"$TMP/noop.out" &
PIDS+=("$!")

# PostgreSQL in the temp dir (initdb refuses root: run it as postgres).
PG_ARGS=()
if [ -z "${NO_PG:-}" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$PG_BIN/initdb" ] || { echo "run-loadbench: PostgreSQL not installed (ops/install-deps.sh)" >&2; exit 2; }
  mkdir -p "$TMP/pg"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$TMP/pg"
    RUN_PG=(runuser -u postgres --)
  fi
  PG_PORT=$(free_port)
  "${RUN_PG[@]}" "$PG_BIN/initdb" -D "$TMP/pg/data" -A trust -U bench -E UTF8 >"$TMP/pg/initdb.log"
  PG_CTL="$PG_BIN/pg_ctl"
  "${RUN_PG[@]}" "$PG_CTL" -D "$TMP/pg/data" -l "$TMP/pg/server.log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$TMP/pg -c max_connections=300 -c synchronous_commit=on -c fsync=on" \
    start >/dev/null
  PG_ARGS=(--pg "host=127.0.0.1 port=$PG_PORT user=bench dbname=postgres")
fi

# carelogd creates its dev issuer key at start.
for _ in $(seq 1 600); do
  [ -f "$TMP/carelog/dev-issuer/issuer.pem" ] && break
  kill -0 "$CL_PID" 2>/dev/null || { cat "$TMP/carelogd.log" >&2; exit 1; }
  sleep 0.1
done

rc=0
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
"$BUILD_DIR/ops/carelog-loadbench" --carelog "127.0.0.1:$CL_PORT" --carelog-data-dir "$TMP/carelog" \
  --carelogd-pid "$CL_PID" --noop "127.0.0.1:$NP_PORT" "${PG_ARGS[@]}" --json "$OUT" "$@" || rc=$?
echo "# on disk: carelogd $(du -sk "$TMP/carelog" | cut -f1) KiB$([ -n "$PG_CTL" ] && echo ", postgres $(du -sk "$TMP/pg/data" | cut -f1) KiB"); JSON in $OUT"
exit $rc
