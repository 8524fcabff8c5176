#!/usr/bin/env bash
# Build orionrtd, start it on a private socket and arena, and run a demo
# workload against it: two processes sharing a tensor buffer with no copy, a
# real model graph registered and planned, the daemon's stats. Installs what
# it needs. Stops the daemon (which removes its socket and arena) on exit.
#
# The workload is the list STEPS below, one function step_NAME per entry,
# run in order and numbered as they run. To add a step, write its function
# and put its name in STEPS (before `stats`, which checks that every client
# has gone).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

say() { printf '%s\n' "-- $*"; }
step() { printf '\n== %s\n' "$*"; }

say "checking the Debian packages it needs (scripts/deps.sh)"
orion_deps
say "configuring the build in build/ (cmake)"
cmake -S . -B build >/dev/null
say "compiling orionrtd, liborion-client, orionctl and the examples ($(nproc) jobs; a minute the first time)"
cmake --build build -j"$(nproc)" >/dev/null

run=$(mktemp -d /tmp/orion-demo.XXXXXX)
sock="$run/orionrtd.sock"
ctl=(build/tools/orionctl --socket "$sock")

say "starting orionrtd on $sock with a 256 MiB arena (its log lines start with '|')"
build/daemon/orionrtd --config /dev/null --socket "$sock" --arena-size 256M \
    2> >(sed -u 's/^/    | /' >&2) &
daemon=$!
stop() {
    kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    rm -rf "$run"
}
trap stop EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "orionrtd did not start" >&2; exit 1; }

step_plan() {
    step "$1. Plan MobileNetV2 offline (orionctl plan): the first and last tensors, then the summary"
    build/tools/orionctl plan examples/graphs/mobilenet_v2.json | sed -n '1,6p;$p'
}

# same_checksum A_OUT A_WORDS B_OUT B_WORDS MATCH_WORDS: the last checksum= line
# of two outputs, labelled; fails unless they are equal.
same_checksum() {
    local a b
    a=$(sed -n 's/^checksum=//p' "$1" | tail -n 1)
    b=$(sed -n 's/^checksum=//p' "$3" | tail -n 1)
    printf '%-52s %s\n' "$2:" "$a" "$4:" "$b"
    if [ -n "$a" ] && [ "$a" = "$b" ]; then
        echo "they match: $5"
    else
        echo "they DO NOT match" >&2
        return 1
    fi
}

step_share() {
    step "$1. A producer and a consumer process share a 16 MiB tensor through the arena, zero-copy"
    build/examples/orion-producer --socket "$sock" demo/frame0 16777216 > "$run/producer.out" &
    local producer=$!
    build/examples/orion-consumer --socket "$sock" demo/frame0 > "$run/consumer.out"
    wait "$producer"
    same_checksum "$run/producer.out" "producer's checksum (of the bytes it wrote)" \
        "$run/consumer.out" "consumer's checksum (of the bytes it read in place)" \
        "the consumer read the producer's bytes, with no copy"
}

step_register() {
    step "$1. Register MobileNetV2 with the daemon (orionctl register): offsets in the shared arena"
    "${ctl[@]}" register examples/graphs/mobilenet_v2.json | sed -n '1,4p;$p'
}

# The one client the daemon counts here is this stats request itself.
step_stats() {
    step "$1. The daemon's stats once every demo client has gone: nothing is left allocated"
    local json field
    json=$("${ctl[@]}" stats --json)
    field() { sed -n "s/.*\"$1\":\\([0-9]*\\).*/\\1/p" <<< "$json"; }
    "${ctl[@]}" stats | awk '$1 == "clients" { $0 = $0 "  (this orionctl stats itself)" } { print }'
    local used graphs buffers channels others
    used=$(field used_bytes)
    graphs=$(field graphs)
    buffers=$(field buffers)
    channels=$(field channels)
    others=$(( $(field clients) - 1 ))
    if [ "$used" = 0 ] && [ "$graphs" = 0 ] && [ "$buffers" = 0 ] && [ "${channels:-0}" = 0 ] &&
       [ "$others" = 0 ]; then
        echo "every demo client has gone: 0 bytes used, no graph, no buffer, no channel, no other client"
    else
        echo "left behind: $used bytes used, $graphs graphs, $buffers buffers, $channels channels, $others other clients" >&2
        return 1
    fi
}

step_pipeline() {
    step "$1. A two-stage pipeline in two processes over a channel, 10,000 iterations (orion-pipeline)"
    build/examples/orion-pipeline --socket "$sock" --iters 10000 stage2 > "$run/stage2.out" &
    local stage2=$!
    build/examples/orion-pipeline --socket "$sock" --iters 10000 stage1 > "$run/stage1.out"
    wait "$stage2"
    grep -v '^checksum=' "$run/stage1.out" "$run/stage2.out" | sed 's|^.*/stage[12].out:||'
    same_checksum "$run/stage1.out" "stage 1's checksum (of what it published)" \
        "$run/stage2.out" "stage 2's checksum (of what it received, in place)" \
        "every message crossed the channel intact, in order"
}

STEPS=(plan share register pipeline stats)
n=0
for s in "${STEPS[@]}"; do
    n=$((n + 1))
    "step_$s" "$n"
done
