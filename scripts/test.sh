#!/usr/bin/env bash
# Build everything and run every test suite. Installs what it needs.
#   scripts/test.sh              all suites twice: a plain build (build/) and an
#                                ASan+UBSan build (build-asan/), warnings as errors
#   scripts/test.sh --plain      the plain build only
#   scripts/test.sh --sanitize   the ASan+UBSan build only (with allocation-
#                                failure injection: test_fault)
#   scripts/test.sh --fuzz       only the fuzz targets' bounded runs
#   scripts/test.sh --valgrind   every suite, and the daemon under test, under
#                                valgrind (build-vg/; a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

mode="${1:-}"
case "$mode" in
    ""|--plain|--sanitize|--fuzz|--valgrind) ;;
    *) echo "usage: scripts/test.sh [--plain|--sanitize|--fuzz|--valgrind]" >&2; exit 2 ;;
esac
orion_deps "$mode"

# One verdict line at the end, whatever happened.
verdict() {
    local rc=$?
    if [ $rc -eq 0 ]; then
        echo "== verdict: PASS (${mode:-plain, sanitize and fuzz})"
    else
        echo "== verdict: FAIL (${mode:-plain, sanitize and fuzz}; exit $rc: see the output above)"
    fi
}
trap verdict EXIT

# run_suites BUILD_DIR [CMAKE_ARGS...]
run_suites() {
    local build="$1"
    shift
    echo "== $build: building"
    cmake -S . -B "$build" -DORION_WERROR=ON "$@" >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
    echo "== $build: testing"
    ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
}

# run_fuzz: every libFuzzer target (clang, ASan+UBSan) for
# $ORION_FUZZ_SECONDS each (default 30), from the corpus the runs before
# grew in build-fuzz/corpus/. A crash, a leak or a sanitizer report fails.
run_fuzz() {
    local secs="${ORION_FUZZ_SECONDS:-30}"
    local targets=(fuzz_buddy fuzz_frame fuzz_request fuzz_chan)
    echo "== build-fuzz: building ${targets[*]}"
    CC=clang cmake -S . -B build-fuzz -DORION_WERROR=ON -DORION_SANITIZE=ON \
        -DORION_BUILD_BENCH=OFF >/dev/null
    cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}" >/dev/null
    for t in "${targets[@]}"; do
        mkdir -p "build-fuzz/corpus/$t"
        echo "== fuzzing $t for ${secs} s"
        if ! "build-fuzz/tests/$t" -max_total_time="$secs" -print_final_stats=1 \
                -artifact_prefix="build-fuzz/$t-" "build-fuzz/corpus/$t" \
                > "build-fuzz/$t.log" 2>&1; then
            tail -40 "build-fuzz/$t.log"
            echo "$t: FAILED (log: build-fuzz/$t.log)"
            return 1
        fi
        grep -E "stat::number_of_executed_units" "build-fuzz/$t.log" | sed "s/^/   $t /"
    done
}

case "$mode" in
    --fuzz)
        run_fuzz ;;
    "")
        run_suites build
        ORION_TEST_SLOWDOWN=3 run_suites build-asan -DORION_SANITIZE=ON -DORION_FAULT_INJECTION=ON
        run_fuzz
        ;;
    --plain)
        run_suites build ;;
    --sanitize)
        # Sanitized code is slower: the tests' time bounds stretch by this.
        # It also injects allocation failures (test_fault), which ASan's leak
        # checker makes worth running.
        ORION_TEST_SLOWDOWN=3 run_suites build-asan -DORION_SANITIZE=ON -DORION_FAULT_INJECTION=ON ;;
    --valgrind)
        # One process per suite (CK_FORK=no) so valgrind sees every test, and
        # the daemon that the integration suites start runs under valgrind too:
        # an error or a leak in it makes it exit non-zero, which fails the test.
        export CK_FORK=no
        # Every time bound in the suites (the harness's and test_planner's)
        # stretches by this: valgrind slows code down 20-50x.
        export ORION_TEST_SLOWDOWN="${ORION_TEST_SLOWDOWN:-20}"
        export ORIONRTD="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite $PWD/build-vg/daemon/orionrtd"
        run_suites build-vg \
            "-DORION_TEST_WRAPPER=valgrind;-q;--error-exitcode=99;--leak-check=full;--errors-for-leak-kinds=definite"
        ;;
esac
