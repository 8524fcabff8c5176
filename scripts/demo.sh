#!/usr/bin/env bash
# Build orionrtd, start it on a private socket and arena, and run a demo
# workload against it: two processes sharing a tensor buffer with no copy, a
# real model graph registered and planned, the daemon's stats. Installs what
# it needs. Stops the daemon (which removes its socket and arena) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
orion_deps

cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

run=$(mktemp -d /tmp/orion-demo.XXXXXX)
sock="$run/orionrtd.sock"
ctl=(build/tools/orionctl --socket "$sock")

build/daemon/orionrtd --socket "$sock" --arena-size 256M \
    2> >(sed -u 's/^/    | /' >&2) &
daemon=$!
stop() {
    kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    rm -rf "$run"
}
trap stop EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "orionrtd did not start" >&2; exit 1; }

step() { printf '\n== %s\n' "$*"; }

step "1. Plan MobileNetV2 offline (orionctl plan): the first and last tensors, then the summary"
build/tools/orionctl plan examples/graphs/mobilenet_v2.json | sed -n '1,6p;$p'

step "2. A producer and a consumer process share a 16 MiB tensor through the arena, zero-copy"
build/examples/orion-producer --socket "$sock" demo/frame0 16777216 &
producer=$!
build/examples/orion-consumer --socket "$sock" demo/frame0
wait "$producer"

step "3. Register MobileNetV2 with the daemon (orionctl register): offsets in the shared arena"
"${ctl[@]}" register examples/graphs/mobilenet_v2.json | sed -n '1,4p;$p'

step "4. A two-stage pipeline in two processes over a channel, 10,000 iterations (orion-pipeline)"
build/examples/orion-pipeline --socket "$sock" --iters 10000 stage2 > "$run/stage2.out" &
stage2=$!
build/examples/orion-pipeline --socket "$sock" --iters 10000 stage1
wait "$stage2"
cat "$run/stage2.out"

step "5. The daemon's stats once every client has gone: nothing is left allocated"
"${ctl[@]}" stats
