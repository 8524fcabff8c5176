#!/usr/bin/env bash
# Build everything and run every test suite. Installs what it needs.
#   scripts/test.sh              warnings as errors, all suites under CTest
#   scripts/test.sh --sanitize   the same with ASan + UBSan (build-asan/)
#   scripts/test.sh --valgrind   the suites under valgrind (build-vg/)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

mode="${1:-}"
build=build
cmake_args=(-DORION_WERROR=ON)
case "$mode" in
    "") ;;
    --sanitize) build=build-asan; cmake_args+=(-DORION_SANITIZE=ON) ;;
    --valgrind) build=build-vg
        cmake_args+=("-DORION_TEST_WRAPPER=valgrind;-q;--error-exitcode=99;--leak-check=full;--errors-for-leak-kinds=definite") ;;
    *) echo "usage: scripts/test.sh [--sanitize|--valgrind]" >&2; exit 2 ;;
esac
orion_deps "$mode"

cmake -S . -B "$build" "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
if [ "$mode" = --valgrind ]; then
    # One process per suite (CK_FORK=no) so valgrind sees every test, and the
    # daemon that the integration suites start runs under valgrind too: a
    # leak or an error in it makes it exit non-zero, which fails the test.
    export CK_FORK=no
    export ORIONRTD="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite $PWD/$build/daemon/orionrtd"
fi
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
