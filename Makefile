# carelog — the two commands a newcomer needs:
#   make run    install dependencies, build, start the service on ./var/data
#   make test   install dependencies, build, run every test (the CI legs in
#               CI_LEGS; .ci/run calls it)
# Other targets: deps, build, bench, loadbench, soak, test-asan, fuzz,
# fuzz-smoke, clean.
#
# Test legs, each in its own build directory (`make test` runs CI_LEGS):
#   test-gcc    g++ (BUILD_TYPE), every test, fault trials included
#   test-clang  clang++ 14 (build-clang): everything compiled with
#               -Werror=thread-safety, ASan+UBSan and libFuzzer coverage;
#               every unit, integration and end-to-end test under the
#               sanitizers (label `trial` excluded: the process-level fault
#               trials run in test-gcc) and the six fuzz targets fuzzed for
#               10 s each from their committed seeds (label `fuzz`)
# On demand:
#   fuzz-smoke  only the fuzz targets of the clang build, and their 10 s runs
#   test-asan   g++ ASan+UBSan (Debug at -O1)
# `make soak` runs the long fault trials (CARELOG_SOAK=1) on the g++ build;
# `make fuzz` runs every fuzz target FUZZ_SECONDS (tests/fuzz/README.md).

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
DATA_DIR ?= var/data
CMAKE_FLAGS ?=
ASAN_DIR ?= build-asan
CLANG_DIR ?= build-clang
CTEST = ctest -j $(JOBS) --output-on-failure
FUZZ_SECONDS ?= 600

.PHONY: all deps build run test test-gcc test-asan test-clang soak bench loadbench asan-test fuzz-build fuzz-smoke fuzz clean

all: build

deps:
	./ops/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./ops/run-dev.sh $(BUILD_DIR) $(DATA_DIR)

# The legs `make test` runs (timings on the 2-core CI machine: README.md).
CI_LEGS ?= test-gcc test-clang

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

# Line tables only: sanitizer reports name files and lines, at a fraction of
# full debug info's compile and link time.
$(CLANG_DIR)/build.ninja:
	cmake -S . -B $(CLANG_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_C_FLAGS_DEBUG="-gline-tables-only -O1" \
	  -DCMAKE_CXX_FLAGS_DEBUG="-gline-tables-only -O1" \
	  -DCARELOG_THREAD_SAFETY=ON -DCARELOG_FUZZ=ON -DCARELOG_BUILD_BENCH=OFF \
	  $(CMAKE_FLAGS)

test-clang: deps $(CLANG_DIR)/build.ninja
	cmake --build $(CLANG_DIR) -j $(JOBS)
	cd $(CLANG_DIR) && $(CTEST) --timeout 900 -LE 'soak|trial'

# The fuzz targets alone (the clang leg's build), their smoke runs, and long
# runs of FUZZ_SECONDS each (new inputs stay in the build tree).
fuzz-build: deps $(CLANG_DIR)/build.ninja
	cmake --build $(CLANG_DIR) -j $(JOBS) --target carelog_fuzzers

fuzz-smoke: fuzz-build
	cd $(CLANG_DIR) && $(CTEST) -L fuzz

fuzz: fuzz-build
	./tests/fuzz/run-fuzz.sh $(CLANG_DIR) $(FUZZ_SECONDS)

soak: build
	cd $(BUILD_DIR) && CARELOG_SOAK=1 $(CTEST) --timeout 7200 -L 'trial|soak'

bench: build
	./$(BUILD_DIR)/ops/carelog-ledger-bench

# carelogd vs the no-op gRPC ceiling vs hash-chained PostgreSQL (docs/performance.md).
loadbench: build
	./ops/bench/run-loadbench.sh $(BUILD_DIR) --seconds 10 --warmup 2

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(CLANG_DIR)
