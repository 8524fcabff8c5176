#!/usr/bin/env bash
# Build everything and run every test suite. Installs what it needs.
#   scripts/test.sh              all suites twice: a plain build (build/) and an
#                                ASan+UBSan build (build-asan/), warnings as errors
#   scripts/test.sh --plain      the plain build only
#   scripts/test.sh --sanitize   the ASan+UBSan build only (with allocation-
#                                failure injection: test_fault)
#   scripts/test.sh --valgrind   every suite, and the daemon under test, under
#                                valgrind (build-vg/; a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

mode="${1:-}"
case "$mode" in
    ""|--plain|--sanitize|--valgrind) ;;
    *) echo "usage: scripts/test.sh [--plain|--sanitize|--valgrind]" >&2; exit 2 ;;
esac
orion_deps "$mode"

# One verdict line at the end, whatever happened.
verdict() {
    local rc=$?
    if [ $rc -eq 0 ]; then
        echo "== verdict: PASS (${mode:-plain and sanitize})"
    else
        echo "== verdict: FAIL (${mode:-plain and sanitize}; exit $rc: see the output above)"
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

case "$mode" in
    "")
        run_suites build
        ORION_TEST_SLOWDOWN=3 run_suites build-asan -DORION_SANITIZE=ON -DORION_FAULT_INJECTION=ON
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
        export ORIONRTD="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite $PWD/build-vg/daemon/orionrtd"
        run_suites build-vg \
            "-DORION_TEST_WRAPPER=valgrind;-q;--error-exitcode=99;--leak-check=full;--errors-for-leak-kinds=definite"
        ;;
esac
