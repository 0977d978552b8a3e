#!/bin/bash
# test_db_api.sh - every function db/db.h declares is called by the
# test_db program (tests/unit/test_db*.c), or listed with the reason it
# is not in tests/unit/test_db_api.exempt (a reviewed list: an entry for
# a function the tests call, or that db.h no longer declares, fails too).
#
# usage: tests/unit/test_db_api.sh      (from anywhere; no build needed)
# Prints one line per function and a closing "N passed, N failed"; exits
# 1 if any check failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
hdr=$top/db/db.h
exempt=$top/tests/unit/test_db_api.exempt
npass=0
nfail=0

pass() { npass=$((npass + 1)); echo "ok   $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $1: $2"; }

# The functions db.h declares: comments removed, every "db_name(" that
# starts a declaration (preceded by a type, "*" or a newline).
declared=$(sed -e ':a' -e '/\/\*/{/\*\//!{N;ba' -e '}}' \
    -e 's|/\*.*\*/||g' "$hdr" |
    grep -oE '(^|[ *])db_[a-z0-9_]+\(' | grep -oE 'db_[a-z0-9_]+' |
    sort -u)
if [ -z "$declared" ]; then
	fail "db.h" "no function declarations found in $hdr"
fi

# Calls in the test program, comments included as code (a name in a
# comment does not count: strip them first).
called=$(cat "$top"/tests/unit/test_db*.c |
    sed -e ':a' -e '/\/\*/{/\*\//!{N;ba' -e '}}' -e 's|/\*.*\*/||g' |
    grep -oE '\bdb_[a-z0-9_]+\(' | tr -d '(' | sort -u)

reason() {
	awk -F '\t' -v f="$1" '$1 == f && !/^#/ { print $2; exit }' "$exempt"
}

for f in $declared; do
	r=$(reason "$f")
	if grep -qx "$f" <<<"$called"; then
		if [ -n "$r" ]; then
			fail "$f" "called by the tests and listed in $(basename "$exempt"): remove the entry"
		else
			pass "$f called by test_db"
		fi
	elif [ -n "$r" ]; then
		pass "$f exempt: $r"
	else
		fail "$f" "declared in db/db.h, called by no tests/unit/test_db*.c and not in $(basename "$exempt")"
	fi
done
while IFS=$'\t' read -r f r; do
	case $f in '#'* | '') continue ;; esac
	if ! grep -qx "$f" <<<"$declared"; then
		fail "$f" "in $(basename "$exempt") but not declared in db/db.h"
	elif [ -z "$r" ]; then
		fail "$f" "in $(basename "$exempt") without a reason"
	fi
done <"$exempt"

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
