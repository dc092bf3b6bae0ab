# Developer entry points for cmap. The build is CMake + Ninja; this file only drives it.
#   make test    the test matrix: GCC, Clang + ThreadSanitizer, Clang + AddressSanitizer/UBSan
#                (whose build also fuzzes each fuzz target under libFuzzer for
#                FUZZ_SECONDS_TEST), and cmap-bench's tests built with no optional peer, no
#                toml++ and no browser
#   make bench   Release build, then race-demo, cmap-bench --standard and the micro-benchmarks
#   make results regenerate docs/benchmarks.md and its charts (docs/benchmarks/*.svg) from one
#                run of cmap-bench --standard at 1, 2 and 8 threads (several minutes);
#                SCALING='DIR/json/*.json' adds a thread-scaling run (scripts/scaling-run.sh)
#   make results-ordered  regenerate docs/benchmarks-ordered.md and its charts from one run of
#                the ordered-* presets, every ordered map at 1, 2 and 8 threads (about 8 minutes)
#   make kill-soak  the crash soaks, KILL_TRIALS=2000 trials each (make test runs 200):
#                durable_map's kill test and cmap-statestore's (run SIGKILLed, then verify)
#   make fuzz    the fuzz targets of tests/fuzz under libFuzzer (Clang + ASan/UBSan),
#                FUZZ_SECONDS each (make test fuzzes them FUZZ_SECONDS_TEST each)
#   make deps    check (as root: install) the Debian packages
#   make clean   remove build/

JOBS ?= 2
CMAKE ?= cmake
CTEST ?= ctest
GENERATOR ?= Ninja
BUILD ?= build
CXX_GCC ?= g++
CXX_CLANG ?= clang++
FUZZ_SECONDS ?= 300
FUZZ_SECONDS_TEST ?= 30
BENCH_FLAGS ?= --benchmark_min_time=0.2 --benchmark_repetitions=3 \
               --benchmark_report_aggregates_only=true

.DEFAULT_GOAL := test
.PHONY: deps bench results results-ordered fuzz kill-soak test test-gcc test-tsan test-asan test-no-peers clean
# One configuration at a time: each already runs $(JOBS) jobs.
.NOTPARALLEL:

# Debug information in the test builds: line tables only, enough for every stack trace a
# failing test or a sanitizer prints, and a third less compile time than full -g.
LINES_GCC := -DCMAP_DEBUG_INFO=-g1
LINES_CLANG := -DCMAP_DEBUG_INFO=-gline-tables-only

# $(call cmap_test_config,<build dir>,<compiler>,<build type>,<sanitizer>,<extra cmake args>)
# Banner, configure, build, test; the first failing step fails make.
define cmap_test_config
	@echo "=== cmap test configuration $(1): $(2), $(3), CMAP_SANITIZE=$(4) ==="
	$(CMAKE) -S . -B $(BUILD)/$(1) -G $(GENERATOR) -DCMAKE_CXX_COMPILER=$(2) \
	  -DCMAKE_BUILD_TYPE=$(3) -DCMAP_SANITIZE=$(4) $(5)
	$(CMAKE) --build $(BUILD)/$(1) -j $(JOBS)
	$(CTEST) --test-dir $(BUILD)/$(1) --output-on-failure --no-tests=error -j $(JOBS)
endef

deps:
	bash scripts/deps.sh

test: test-gcc test-tsan test-asan test-no-peers

test-gcc: deps
	$(call cmap_test_config,test-gcc,$(CXX_GCC),RelWithDebInfo,none,$(LINES_GCC))

test-tsan: deps
	$(call cmap_test_config,test-tsan,$(CXX_CLANG),RelWithDebInfo,thread,$(LINES_CLANG))

# Debug so that assertions and debug-only checks run, at -O1 as ASan recommends. The same
# build makes the fuzz targets libFuzzer programs, and its tests fuzz each of them for
# FUZZ_SECONDS_TEST (their fixed inputs run as ordinary tests in the other configurations).
test-asan: deps
	$(call cmap_test_config,test-asan,$(CXX_CLANG),Debug,address,"-DCMAKE_CXX_FLAGS_DEBUG=-O1 -D_GLIBCXX_ASSERTIONS" $(LINES_CLANG) -DCMAP_FUZZ=ON -DCMAP_FUZZ_SECONDS=$(FUZZ_SECONDS_TEST))

# cmap-bench on a machine without the optional packages: every peer and toml++ switched off,
# and no browser for the HTML report test (which then parses the report), so that their
# absence gives a message rather than a build error or a wrong test. The probes are compiled
# out here too (CMAP_NO_PROBES, as where <sys/sdt.h> is missing), so that every map is built
# that way at -O3 with -Werror in one configuration.
NO_PEERS := $(foreach p,TBB libcuckoo absl Boost libcds RocksDB leveldb lmdb tomlplusplus,-DCMAKE_DISABLE_FIND_PACKAGE_$(p)=ON) \
            -DCMAP_BENCH_CHROMIUM=OFF
test-no-peers: deps
	@echo "=== cmap test configuration test-no-peers: $(CXX_GCC), Release, no peers, no toml++, no chromium, probes compiled out ==="
	$(CMAKE) -S . -B $(BUILD)/test-no-peers -G $(GENERATOR) -DCMAKE_CXX_COMPILER=$(CXX_GCC) \
	  -DCMAKE_BUILD_TYPE=Release -DCMAP_SANITIZE=none -DCMAP_BUILD_BENCH=OFF -DCMAP_NO_PROBES=ON $(NO_PEERS)
	$(CMAKE) --build $(BUILD)/test-no-peers -j $(JOBS) --target race-demo cmap-bench cmap_bench_tests
	$(CTEST) --test-dir $(BUILD)/test-no-peers --output-on-failure --no-tests=error -j $(JOBS) -L tools

# Clang + ASan/UBSan + libFuzzer, only the fuzz targets built; each fuzzes for FUZZ_SECONDS,
# its corpus kept in $(BUILD)/fuzz between runs.
fuzz: deps
	@echo "=== cmap fuzz configuration: $(CXX_CLANG), libFuzzer, $(FUZZ_SECONDS) s per target ==="
	$(CMAKE) -S . -B $(BUILD)/fuzz -G $(GENERATOR) -DCMAKE_CXX_COMPILER=$(CXX_CLANG) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAP_SANITIZE=address -DCMAP_FUZZ=ON \
	  -DCMAP_FUZZ_SECONDS=$(FUZZ_SECONDS) -DCMAP_BUILD_BENCH=OFF
	$(CMAKE) --build $(BUILD)/fuzz -j $(JOBS) --target cmap_fuzz_targets
	$(CTEST) --test-dir $(BUILD)/fuzz --output-on-failure --no-tests=error -j $(JOBS) -L fuzz

# The crash soaks, in the GCC test build: durable_map's kill test and cmap-statestore's, each
# with KILL_TRIALS trials (make test runs 200); the tests read their counts from the
# environment.
KILL_TRIALS ?= 2000
kill-soak: deps
	@echo "=== cmap kill soak: $(KILL_TRIALS) trials each ==="
	$(CMAKE) -S . -B $(BUILD)/test-gcc -G $(GENERATOR) -DCMAKE_CXX_COMPILER=$(CXX_GCC) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAP_SANITIZE=none
	$(CMAKE) --build $(BUILD)/test-gcc -j $(JOBS) --target durable_kill_test statestore_kill_test
	CMAP_KILL_TRIALS=$(KILL_TRIALS) $(BUILD)/test-gcc/tests/durable_kill_test
	CMAP_STATESTORE_KILL_TRIALS=$(KILL_TRIALS) $(BUILD)/test-gcc/tests/statestore_kill_test

# $(call cmap_release_config,<targets, or empty for all>): the Release build of make bench.
define cmap_release_config
	@echo "=== cmap release build: $(CXX_GCC), Release$(if $(1), ($(1) only)) ==="
	$(CMAKE) -S . -B $(BUILD)/release -G $(GENERATOR) -DCMAKE_CXX_COMPILER=$(CXX_GCC) \
	  -DCMAKE_BUILD_TYPE=Release -DCMAP_SANITIZE=none -DCMAP_BUILD_TESTS=OFF -DCMAP_BUILD_BENCH=ON
	$(CMAKE) --build $(BUILD)/release -j $(JOBS) $(if $(1),--target $(1))
endef

bench: deps
	$(call cmap_release_config,)
	@echo "=== cmap race-demo ==="
	$(BUILD)/release/tools/race-demo/race-demo
	@echo "=== cmap-bench --standard ==="
	$(BUILD)/release/tools/cmap-bench/cmap-bench --standard \
	  --json $(BUILD)/release/cmap-bench-standard.json --report $(BUILD)/release/cmap-bench-standard.html
	@echo "=== cmap micro-benchmarks ==="
	@found=0; \
	for b in $(BUILD)/release/bench/*_bench; do \
	  if [ -f "$$b" ] && [ -x "$$b" ]; then \
	    found=1; echo "--- $$b"; "$$b" $(BENCH_FLAGS) || exit 1; \
	  fi; \
	done; \
	[ $$found = 1 ] || echo "no micro-benchmarks in $(BUILD)/release/bench"

# The page is rendered from the run's JSON by the same binary; the charts folder is emptied
# first, so that a preset no longer run leaves no stale chart behind.
RESULTS_JSON := $(BUILD)/release/results.json
results: deps
	$(call cmap_release_config,cmap-bench)
	@echo "=== cmap-bench --standard --threads 1,2,8 ==="
	$(BUILD)/release/tools/cmap-bench/cmap-bench --standard --threads 1,2,8 --json $(RESULTS_JSON)
	rm -f docs/benchmarks/*.svg
	$(BUILD)/release/tools/cmap-bench/cmap-bench results $(RESULTS_JSON) \
	  --out docs/benchmarks.md --charts docs/benchmarks/ $(if $(SCALING),--scaling $(SCALING))

ORDERED_JSON := $(BUILD)/release/results-ordered.json
ORDERED_PRESETS := ordered-lookup,ordered-90-10,ordered-scan10,ordered-scan100,ordered-prefix,ordered-insert,ordered-uid
results-ordered: deps
	$(call cmap_release_config,cmap-bench)
	@echo "=== cmap-bench --preset $(ORDERED_PRESETS) ==="
	$(BUILD)/release/tools/cmap-bench/cmap-bench --preset $(ORDERED_PRESETS) --json $(ORDERED_JSON)
	rm -f docs/benchmarks-ordered/*.svg
	$(BUILD)/release/tools/cmap-bench/cmap-bench results $(ORDERED_JSON) \
	  --out docs/benchmarks-ordered.md --charts docs/benchmarks-ordered/ \
	  --what "cmap-bench's ordered-map presets" --regenerate "make results-ordered"

clean:
	rm -rf $(BUILD)
