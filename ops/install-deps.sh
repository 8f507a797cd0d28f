#!/usr/bin/env bash
# Installs every Debian package carelog needs to build, run and test.
# Idempotent: packages already present are skipped; safe to run repeatedly.
# Usage: ops/install-deps.sh            (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang lld libclang-rt-14-dev clang-format
  # contract and transport
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev libgrpc-dev
  # storage and crypto
  librocksdb-dev libsodium-dev libssl-dev openssl
  # base libraries
  libabsl-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev prometheus-cpp-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # end-to-end clients (tests/e2e/python; run under /usr/bin/python3)
  python3-grpcio python3-grpc-tools python3-jwt python3-cryptography
  # load benchmark baseline (carelog-loadbench): PostgreSQL server and libpq
  postgresql libpq-dev
)

# Node for the e2e client (tests/e2e/node): a node and npm already on PATH (e.g.
# a NodeSource build, which bundles npm and conflicts with Debian's npm) are
# used as they are; otherwise Debian's nodejs and npm.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Node e2e client's npm packages, exactly as pinned in its
# package-lock.json (npm ci; no install scripts). Skipped while node_modules
# matches the lock: a stamp file there holds the lock's SHA-256.
NODE_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e/node"
if [ -f "$NODE_DIR/package-lock.json" ]; then
  want=$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)
  stamp="$NODE_DIR/node_modules/.carelog-lock-sha256"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "install-deps: tests/e2e/node packages present"
  else
    echo "install-deps: npm ci in tests/e2e/node"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --ignore-scripts)
    echo "$want" >"$stamp"
  fi
fi
