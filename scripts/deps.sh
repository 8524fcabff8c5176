#!/usr/bin/env bash
# Install the Debian packages orionrtd needs to build and test, if any is
# missing. Sourced by scripts/demo.sh and scripts/test.sh. prometheus is for
# promtool, which tests/test_ops.c checks the metrics with.
orion_deps() {
    local pkgs=(build-essential cmake pkg-config libuv1-dev libprotobuf-c-dev
                protobuf-c-compiler check libsubunit-dev libjansson-dev libinih-dev
                prometheus python3-dev python3-numpy python3-onnx python3-flatbuffers
                python3-pytest mandoc)
    [ "${1:-}" = "--valgrind" ] && pkgs+=(valgrind)
    # The fuzz targets' bounded runs (scripts/test.sh, all modes but --plain).
    case "${1:-}" in ""|--sanitize|--fuzz) pkgs+=(clang libclang-rt-14-dev) ;; esac
    local missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
