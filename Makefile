# carelog — the two commands a newcomer needs:
#   make run    install dependencies, build, start the service on ./var/data
#   make test   install dependencies, build, run every test (the CI legs in
#               CI_LEGS; .ci/run calls it)
# Other targets: deps, build, bench, loadbench, soak, asan-test, clean.
#
# Test legs, each in its own build directory:
#   test-gcc    g++ (BUILD_TYPE), every test
#   test-asan   ASan+UBSan (Debug at -O1), the unit and integration tests
#               (ctest label `soak` excluded)
#   test-clang  clang++ with -Werror=thread-safety: libraries and test
#               binaries; with -DCARELOG_FUZZ=ON and `ctest -L fuzz` once the
#               CMake option exists
# `make soak` runs the long fault trials (CARELOG_SOAK=1) on the g++ build.

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
DATA_DIR ?= var/data
CMAKE_FLAGS ?=
ASAN_DIR ?= build-asan
CLANG_DIR ?= build-clang
CTEST = ctest -j $(JOBS) --output-on-failure
# Fuzz targets build in the clang leg when the option exists (tests/fuzz).
HAVE_FUZZ := $(shell grep -q 'option(CARELOG_FUZZ' CMakeLists.txt && echo 1)

.PHONY: all deps build run test test-gcc test-asan test-clang soak bench loadbench asan-test clean

all: build

deps:
	./ops/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./ops/run-dev.sh $(BUILD_DIR) $(DATA_DIR)

# The legs `make test` runs. test-asan and test-clang are not in yet: their
# time on the 2-core CI machine is still to be measured (45-minute budget).
CI_LEGS ?= test-gcc

test: $(CI_LEGS)

test-gcc: build
	cd $(BUILD_DIR) && $(CTEST) --timeout 600

$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
	  -DCARELOG_SANITIZE=ON $(CMAKE_FLAGS)

test-asan: deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && $(CTEST) --timeout 900 -LE soak

asan-test: test-asan

$(CLANG_DIR)/build.ninja:
	cmake -S . -B $(CLANG_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_C_FLAGS_DEBUG="-g0 -O1" -DCMAKE_CXX_FLAGS_DEBUG="-g0 -O1" \
	  -DCARELOG_THREAD_SAFETY=ON $(if $(HAVE_FUZZ),-DCARELOG_FUZZ=ON) $(CMAKE_FLAGS)

test-clang: deps $(CLANG_DIR)/build.ninja
	cmake --build $(CLANG_DIR) -j $(JOBS)
ifneq ($(HAVE_FUZZ),)
	cd $(CLANG_DIR) && $(CTEST) --timeout 600 -L fuzz
endif

soak: build
	cd $(BUILD_DIR) && CARELOG_SOAK=1 $(CTEST) --timeout 7200 -L 'trial|soak'

bench: build
	./$(BUILD_DIR)/ops/carelog-ledger-bench

# carelogd vs the no-op gRPC ceiling vs hash-chained PostgreSQL (docs/performance.md).
loadbench: build
	./ops/bench/run-loadbench.sh $(BUILD_DIR) --seconds 10 --warmup 2

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(CLANG_DIR)
