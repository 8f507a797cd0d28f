#!/usr/bin/env bash
# Starts carelogd for development on loopback with working defaults:
#   - a key-encryption key in var/dev/kek.hex (mode 0600, outside the data dir),
#   - an embedded RocksDB ledger in DATA_DIR/ledger,
#   - the development token issuer (DATA_DIR/dev-issuer),
#   - gRPC on 127.0.0.1:50051, Prometheus metrics on 127.0.0.1:9464.
# Usage: ops/run-dev.sh [BUILD_DIR] [DATA_DIR] [extra carelogd flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
DATA_DIR=${2:-var/data}
shift $(( $# > 2 ? 2 : $# )) || true
KEY_DIR=var/dev
mkdir -p "$KEY_DIR" && chmod 700 "$KEY_DIR"
if [ ! -f "$KEY_DIR/kek.hex" ]; then
  "$BUILD_DIR/ops/carelogctl" keys generate --out "$KEY_DIR/kek.hex"
fi
cat <<MSG
carelogd (development) on 127.0.0.1:50051, data in $DATA_DIR. In another shell:
  TOKEN=\$($BUILD_DIR/ops/carelogctl dev token --data-dir $DATA_DIR --sub ops-alice --roles ledger-admin)
  $BUILD_DIR/ops/carelogctl head --token "\$TOKEN"
  curl -s 127.0.0.1:9464/metrics | grep carelog_
Stop with Ctrl-C (graceful drain).
MSG
exec "$BUILD_DIR/services/carelogd" --dev --data-dir "$DATA_DIR" --key-file "$KEY_DIR/kek.hex" "$@"
