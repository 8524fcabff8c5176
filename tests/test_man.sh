#!/bin/sh
# test_man.sh - the manual pages render without a warning (groff -ww, and
# mandoc -T lint and man -l where installed), and say everything the
# programs' --help says: every long flag of `orionrtd --help` is in
# orionrtd.8; every command of `orionctl --help`, and every long option of
# each command's --help, is in orionctl.1. A flag added to a program and not
# to its page fails here.
#
# usage: test_man.sh MAN_DIR ORIONRTD ORIONCTL   (MAN_DIR: the configured pages)
set -u
dir=$1
rtd=$2
ctl=$3
status=0
fail() { echo "test_man: FAIL: $*"; status=1; }

command -v groff >/dev/null 2>&1 || command -v mandoc >/dev/null 2>&1 ||
    fail "neither groff (groff-base) nor mandoc is installed: nothing to render the pages with"

for page in "$dir/orionrtd.8" "$dir/orionctl.1"; do
    [ -f "$page" ] || { fail "$page missing"; continue; }
    if command -v groff >/dev/null 2>&1; then
        out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
        rc=$?
        [ $rc -eq 0 ] && [ -z "$out" ] || fail "groff -man -ww on $page (exit $rc): $out"
    fi
    if command -v mandoc >/dev/null 2>&1; then
        out=$(mandoc -T lint -W warning "$page" 2>&1)
        rc=$?
        [ $rc -eq 0 ] && [ -z "$out" ] || fail "mandoc -T lint on $page (exit $rc): $out"
    fi
    if command -v man >/dev/null 2>&1; then
        out=$(MANWIDTH=80 man -l "$page" 2>&1 >/dev/null)
        [ -z "$out" ] || fail "man -l $page: $out"
        [ "$(MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)" -gt 40 ] ||
            fail "man -l $page renders almost nothing"
    fi
done

# In roff a flag's dashes are written \-\- ; compare in that form.
has() { grep -qF -- "$(printf '%s' "$2" | sed 's/-/\\-/g')" "$1"; }

flags=$("$rtd" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
[ -n "$flags" ] || fail "orionrtd --help printed no flags"
for f in $flags; do
    has "$dir/orionrtd.8" "$f" || fail "orionrtd.8 does not document $f (orionrtd --help has it)"
done

cmds=$("$ctl" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ -n "$cmds" ] || fail "orionctl --help listed no commands"
for f in $("$ctl" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    has "$dir/orionctl.1" "$f" || fail "orionctl.1 does not document $f (orionctl --help has it)"
done
for c in $cmds; do
    grep -q "^\.SS $c\$" "$dir/orionctl.1" || fail "orionctl.1 has no section for the command $c"
    for f in $("$ctl" "$c" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        has "$dir/orionctl.1" "$f" ||
            fail "orionctl.1 does not document $c $f (orionctl $c --help has it)"
    done
done

[ $status -eq 0 ] && echo "test_man: ok: orionrtd.8 and orionctl.1 render clean and cover every flag"
exit $status
