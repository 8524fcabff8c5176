#!/bin/sh
# test_systemd.sh - `systemd-analyze verify` on the unit files, configured
# with the build tree's orionrtd so that ExecStart= names a real executable.
#
# usage: test_systemd.sh SYSTEMD_SRC_DIR ORIONRTD_BINARY
# Exit 0 clean, 1 on any diagnostic, 77 (CTest SKIP_RETURN_CODE) when
# systemd-analyze is not installed.
set -u
src=$1
bin=$2

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "test_systemd: SKIP: systemd-analyze not found"
    exit 77
fi
if [ ! -x "$bin" ]; then
    echo "test_systemd: FAIL: $bin is not an executable"
    exit 1
fi

tmp=$(mktemp -d /tmp/orion-units-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
sbindir=$(cd "$(dirname "$bin")" && pwd)
name=$(basename "$bin")

status=0
for unit in orionrtd.service orionrtd.socket orionrtd-metrics.service; do
    if [ ! -f "$src/$unit.in" ]; then
        echo "test_systemd: FAIL: $src/$unit.in missing"
        exit 1
    fi
    # The installed binary is called orionrtd; point at the build tree's.
    sed -e "s|@CMAKE_INSTALL_FULL_SBINDIR@/orionrtd|$sbindir/$name|g" \
        -e "s|@CMAKE_INSTALL_FULL_SBINDIR@|$sbindir|g" \
        -e "s|@CMAKE_INSTALL_FULL_BINDIR@|$sbindir|g" "$src/$unit.in" > "$tmp/$unit"
    if grep -n '@[A-Z_]*@' "$tmp/$unit"; then
        echo "test_systemd: FAIL: $unit has a placeholder this test does not fill"
        status=1
    fi
done

cp "$src/orionrtd-metrics.timer" "$tmp/" || exit 1

# Type=notify with the sandbox the daemon relies on: a unit edit that drops
# one of these should be a deliberate change, caught here.
for key in Type=notify RuntimeDirectory=orionrt RestrictAddressFamilies=AF_UNIX \
           PrivateDevices=yes ProtectSystem=strict NoNewPrivileges=yes Restart=on-failure \
           SupplementaryGroups=orionrt; do
    if ! grep -qx "$key" "$tmp/orionrtd.service"; then
        echo "test_systemd: FAIL: orionrtd.service lacks $key"
        status=1
    fi
done
# Without the socket unit the daemon gives its socket to the group itself.
if ! grep -q '^ExecStart=.* --socket-group orionrt' "$tmp/orionrtd.service"; then
    echo "test_systemd: FAIL: orionrtd.service's ExecStart= lacks --socket-group orionrt"
    status=1
fi
for key in ListenStream=/run/orionrt/orionrtd.sock SocketMode=0660; do
    if ! grep -qx "$key" "$tmp/orionrtd.socket"; then
        echo "test_systemd: FAIL: orionrtd.socket lacks $key"
        status=1
    fi
done

# verify prints diagnostics on stderr and may still exit 0 for warnings:
# any output at all is a failure.
out=$(cd "$tmp" && systemd-analyze verify --man=no ./orionrtd.socket ./orionrtd.service \
    ./orionrtd-metrics.service ./orionrtd-metrics.timer 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
    echo "test_systemd: FAIL: systemd-analyze verify (exit $rc):"
    echo "$out"
    status=1
fi
if [ $status -eq 0 ]; then
    echo "test_systemd: ok: orionrtd.service, orionrtd.socket and the metrics units verify clean"
    # Informational: how exposed the sandboxed service is (lower is better).
    (cd "$tmp" && systemd-analyze security --offline=yes ./orionrtd.service 2>/dev/null |
        tail -n 1) || true
fi
exit $status
