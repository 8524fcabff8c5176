#!/usr/bin/env bash
# Channels against a raw futex ring, the named-buffer hand-off and iceoryx
# 2.0.3, in one run (bench/bench_channel.c), then system calls per ping-pong
# iteration for every transport, counted from outside with strace.
#   bench/bench_channel.sh [--quick] [--iox-spin]
# Installs what it needs (the build's packages, iceoryx, strace) with apt-get,
# as root or through sudo; builds bench_channel in build/ (-j2). Without
# iceoryx the benchmark still runs and prints iceoryx=not_installed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
orion_deps --plain

pkgs=(iceoryx libiceoryx-binding-c-dev strace)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    { $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null; } ||
        echo "bench_channel.sh: could not install ${missing[*]}; going on without" >&2
fi

# A fresh configure, so that CMake looks for iceoryx_binding_c again.
cmake -S . -B build >/dev/null
cmake --build build -j2 --target bench_channel >/dev/null
bin=build/bench/bench_channel

"$bin" "$@"

# System calls per 4 KiB hand-off ping-pong iteration, every process the
# benchmark starts included (both endpoints, orionrtd, iox-roudi): two runs
# of N and N+1000 iterations under strace -c -f, the difference over 1000,
# so that set-up and tear-down cancel. strace slows every call, so sides
# sleep more often than in the timed run: an upper bound for the timed run.
command -v strace >/dev/null || { echo "strace not installed: no system-call count"; exit 0; }
spin=()
for a in "$@"; do [ "$a" = "--iox-spin" ] && spin=(--iox-spin); done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
calls() { # KIND ITERS: the total line's calls column
    strace -f -c -o "$tmp/s" "$bin" "${spin[@]}" --pingpong "$1" "$2" >/dev/null 2>&1 || return 1
    awk '$NF == "total" { print $4 }' "$tmp/s"
}
echo "system calls per ping-pong iteration (4 KiB hand-off, strace -c -f, all processes):"
kv=""
for k in raw ring client buffer iceoryx; do
    if a=$(calls "$k" 300) && b=$(calls "$k" 1300); then
        per=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
        printf '  %-8s %6s\n' "$k" "$per"
        kv+=" strace_sys_per_iter_$k=$per"
    else
        printf '  %-8s %6s\n' "$k" "n/a"
        kv+=" strace_sys_per_iter_$k=n/a"
    fi
done
echo "${kv# }"
