#!/bin/sh
# test_install.sh - an installed tree runs: `cmake --install BUILD --prefix`
# a scratch directory, then its orionrtd, orionctl and examples run with no
# LD_LIBRARY_PATH (they find liborion-client through their RUNPATH,
# $ORIGIN/../lib, even once the tree is moved), the installed daemon serves
# the installed orionctl, the manual pages and units are in place, and the
# `uninstall` target removes every file installed.
#
# usage: test_install.sh BUILD_DIR
# BUILD_DIR/install_manifest.txt (a real install's record, which `uninstall`
# reads) is put back as it was when the test ends.
set -u
build=$(cd "$1" && pwd)
status=0
fail() { echo "test_install: FAIL: $*"; status=1; }
unset DESTDIR LD_LIBRARY_PATH

tmp=$(mktemp -d /tmp/orion-install-XXXXXX) || exit 1
prefix="$tmp/prefix"
manifest="$build/install_manifest.txt"
[ -f "$manifest" ] && cp "$manifest" "$tmp/manifest.saved"
daemon=
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    if [ -f "$tmp/manifest.saved" ]; then
        cp "$tmp/manifest.saved" "$manifest"
    else
        rm -f "$manifest"
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    fail "cmake --install --prefix $prefix"
    exit 1
fi

# runs DIR: every installed executable finds its libraries and runs.
runs() {
    p=$1
    for exe in sbin/orionrtd bin/orionctl; do
        out=$("$p/$exe" --version 2>&1)
        rc=$?
        name=$(basename "$exe")
        case "$out" in
            "$name "[0-9]*) [ $rc -eq 0 ] || fail "$p/$exe --version: exit $rc" ;;
            *) fail "$p/$exe --version (exit $rc): $out" ;;
        esac
    done
    for exe in bin/orion-producer bin/orion-consumer; do
        [ -x "$p/$exe" ] || { fail "$p/$exe not installed"; continue; }
        out=$("$p/$exe" 2>&1) # no arguments: its usage, exit 2
        rc=$?
        [ $rc -eq 2 ] || fail "$p/$exe (exit $rc, want its usage's 2): $out"
    done
    for exe in bin/orionctl bin/orion-producer bin/orion-consumer; do
        lib=$(ldd "$p/$exe" | grep 'liborion-client')
        case "$lib" in
            *"=> $p/"*) ;;
            *) fail "$p/$exe: liborion-client is not the installed one: $lib" ;;
        esac
    done
}
runs "$prefix"

# Moved elsewhere, the tree still runs: the RUNPATH is relative.
mv "$prefix" "$tmp/moved"
runs "$tmp/moved"
mv "$tmp/moved" "$prefix"

# The installed daemon serves the installed orionctl.
sock="$tmp/orionrtd.sock"
"$prefix/sbin/orionrtd" --config /dev/null --socket "$sock" --arena-size 16M \
    > "$tmp/daemon.log" 2>&1 &
daemon=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
if out=$("$prefix/bin/orionctl" --socket "$sock" stats --json 2>&1); then
    case "$out" in
        *'"arena_bytes": 16777216'*|*'"arena_bytes":16777216'*) ;;
        *) fail "installed orionctl stats --json: $out" ;;
    esac
else
    fail "installed orionctl stats against the installed orionrtd: $out; daemon: $(cat "$tmp/daemon.log")"
fi
kill "$daemon" && wait "$daemon"
rc=$?
daemon=
[ $rc -eq 0 ] || fail "installed orionrtd exit $rc on SIGTERM: $(cat "$tmp/daemon.log")"

for f in share/man/man8/orionrtd.8 share/man/man1/orionctl.1 include/orion/orion.h \
         lib/systemd/system/orionrtd.service lib/systemd/system/orionrtd.socket; do
    [ -f "$prefix/$f" ] || fail "$f not installed"
done
grep -q -- '--socket-group orionrt' "$prefix/lib/systemd/system/orionrtd.service" ||
    fail "the installed orionrtd.service does not pass --socket-group orionrt"

# The Python extension links liborion-client statically: it imports from the
# prefix alone (not in a sanitizer build, whose runtime Python lacks).
ext=$(find "$prefix" -name '_orion*.so' | head -n 1)
if [ -n "$ext" ] && ! grep -q '^ORION_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
    site=$(dirname "$(dirname "$ext")")
    out=$(cd "$tmp" && PYTHONPATH="$site" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -c \
        'import orion, orion._orion; print(orion._orion.__file__)' 2>&1)
    case "$out" in
        "$site/"*) ;;
        *) fail "import orion from $site: $out" ;;
    esac
fi

# uninstall removes every file the install wrote, and our own directories.
n=$(wc -l < "$manifest")
[ "$n" -gt 10 ] || fail "install_manifest.txt lists only $n files"
if ! cmake --build "$build" --target uninstall > "$tmp/uninstall.log" 2>&1; then
    cat "$tmp/uninstall.log"
    fail "the uninstall target failed"
fi
left=$(find "$prefix" ! -type d)
[ -z "$left" ] || fail "left after uninstall: $left"
for d in include/orion lib/cmake/orion-client; do
    [ ! -e "$prefix/$d" ] || fail "$d left after uninstall"
done

[ $status -eq 0 ] && echo "test_install: ok: $n files installed under a scratch prefix run" \
    "(and moved), the daemon serves, uninstall removes them all"
exit $status
