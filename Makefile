# The two commands: `make run` and `make test`. Everything else is a convenience.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:8080
STORE ?= sqlite:var/threatdesk.db

.PHONY: run test build release asan deps fuzz bench fmt fmt-check web clean

deps:
	@scripts/install-deps

web: deps
	@if [ -f web/package.json ]; then scripts/build-web; fi

release: deps web
	@cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DTD_BUILD_TESTS=OFF >/dev/null
	@cmake --build build/release -j $(JOBS)

build: release

run: release
	@mkdir -p var
	build/release/threatdesk serve --listen $(LISTEN) --store $(STORE) --demo

asan: deps web
	@cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTD_SANITIZE=ON \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
	@cmake --build build/asan -j $(JOBS)

test: asan
	cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900

fuzz: deps
	@cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DTD_BUILD_FUZZ=ON -DTD_BUILD_TESTS=OFF >/dev/null
	@cmake --build build/fuzz -j $(JOBS)
	@echo "fuzzers in build/fuzz/fuzz/ (run one: build/fuzz/fuzz/NAME_fuzzer fuzz/NAME/corpus)"

bench: deps
	@cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DTD_BUILD_BENCH=ON \
	  -DTD_BUILD_TESTS=OFF >/dev/null
	@cmake --build build/bench -j $(JOBS)

fmt:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

fmt-check:
	@git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror

clean:
	rm -rf build
