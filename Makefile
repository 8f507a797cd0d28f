# carelog — the two commands a newcomer needs:
#   make run    install dependencies, build, start the service on ./var/data
#   make test   install dependencies, build, run every test
# Other targets: deps, build, bench, loadbench, asan-test, clean.

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
DATA_DIR ?= var/data
CMAKE_FLAGS ?=

.PHONY: all deps build run test bench loadbench asan-test clean

all: build

deps:
	./ops/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./ops/run-dev.sh $(BUILD_DIR) $(DATA_DIR)

test: build
	cd $(BUILD_DIR) && ctest -j $(JOBS) --output-on-failure --timeout 600

bench: build
	./$(BUILD_DIR)/ops/carelog-ledger-bench

# carelogd vs the no-op gRPC ceiling vs hash-chained PostgreSQL (docs/performance.md).
loadbench: build
	./ops/bench/run-loadbench.sh $(BUILD_DIR) --seconds 10 --warmup 2

asan-test: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCARELOG_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest -j $(JOBS) --output-on-failure --timeout 900

clean:
	rm -rf $(BUILD_DIR) build-asan
