#!/bin/bash
# test_docs.sh - the documentation keeps up with the code:
#   - every key of cfg_keys[] in ca/cfg.c appears in the "## [cmpca]"
#     section of docs/configuration.md, and every key of profile_keys[] in
#     its "## [profile.NAME]" section, as `key` or as a table cell;
#   - every sub-command of cmpca's usage text (usage_text[] in ca/cmpca.c)
#     appears in docs/operations.md outside code blocks (a copy of the
#     usage text alone does not count).
# The C source is read with a small tokenizer in awk (comments, string
# literals, adjacent literals concatenated), not compiled.
#
# usage: tests/unit/test_docs.sh      (from anywhere; no build needed)
# Prints one line per check and a closing "N passed, N failed"; exits 1 if
# any check failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cfg_c=$top/ca/cfg.c
cli_c=$top/ca/cmpca.c
conf_md=$top/docs/configuration.md
ops_md=$top/docs/operations.md
npass=0
nfail=0

pass() { npass=$((npass + 1)); echo "ok   $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $1: $2"; }

# c_strings NAME FILE: the initializer of `NAME[...] = ...` in a C file.
# For a brace list, one line per element (adjacent literals joined); for a
# plain string initializer, the joined string with \n, \t, \" and \\
# decoded. Prints nothing if NAME is not defined with an initializer.
c_strings() {
	awk -v name="$1" '
	{ src = src $0 "\n" }
	function unescape(s,   out, i, c, d) {
		out = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c != "\\") { out = out c; continue }
			d = substr(s, ++i, 1)
			if (d == "n") out = out "\n"
			else if (d == "t") out = out "\t"
			else out = out d
		}
		return out
	}
	END {
		n = length(src); i = 1; nt = 0
		while (i <= n) {
			c = substr(src, i, 1)
			if (c == "/" && substr(src, i + 1, 1) == "*") {
				j = index(substr(src, i + 2), "*/")
				if (j == 0) break
				i += j + 3
				continue
			}
			if (c == "/" && substr(src, i + 1, 1) == "/") {
				j = index(substr(src, i), "\n")
				if (j == 0) break
				i += j
				continue
			}
			if (c == "\"" || c == "\047") {
				s = ""
				for (j = i + 1; j <= n; j++) {
					d = substr(src, j, 1)
					if (d == "\\") { s = s d substr(src, j + 1, 1); j++; continue }
					if (d == c) break
					s = s d
				}
				nt++; ty[nt] = (c == "\"") ? "s" : "c"; tv[nt] = s
				i = j + 1
				continue
			}
			if (c ~ /[A-Za-z_]/) {
				for (j = i; j <= n && substr(src, j, 1) ~ /[A-Za-z0-9_]/; j++)
					;
				nt++; ty[nt] = "i"; tv[nt] = substr(src, i, j - i)
				i = j
				continue
			}
			if (c ~ /[[:space:]]/) { i++; continue }
			nt++; ty[nt] = "p"; tv[nt] = c
			i++
		}
		for (k = 1; k < nt; k++) {
			if (ty[k] != "i" || tv[k] != name || tv[k + 1] != "[")
				continue
			for (m = k + 1; m <= nt && !(ty[m] == "p" && tv[m] == "]"); m++)
				;
			if (m >= nt || tv[m + 1] != "=" || ty[m + 1] != "p")
				continue
			m += 2
			if (ty[m] == "p" && tv[m] == "{") {
				depth = 1; cur = ""; have = 0
				for (m++; m <= nt && depth > 0; m++) {
					if (ty[m] == "s") { cur = cur tv[m]; have = 1; continue }
					if (ty[m] != "p") continue
					if (tv[m] == "{") depth++
					else if (tv[m] == "}") depth--
					if ((tv[m] == "," && depth == 1) || depth == 0) {
						if (have) print cur
						cur = ""; have = 0
					}
				}
			} else {
				cur = ""
				for (; m <= nt && !(ty[m] == "p" && tv[m] == ";"); m++)
					if (ty[m] == "s")
						cur = cur tv[m]
				printf "%s", unescape(cur)
			}
			exit
		}
	}' "$2"
}

# md_section FILE HEADING-REGEX: the lines of the "## " section whose
# heading matches, up to the next "## " heading.
md_section() {
	awk -v re="$2" '
	/^## / { on = ($0 ~ re) ; next }
	on' "$1"
}

# prose FILE: the file without fenced code blocks.
prose() {
	awk '/^[[:space:]]*```/ { fence = !fence; next } !fence' "$1"
}

# documented KEY TEXT: KEY as `KEY`, or as a whole markdown table cell.
documented() {
	local key=$1 text=$2
	grep -qF -- "\`$key\`" <<<"$text" && return 0
	awk -F'|' -v k="$key" '
	/^[[:space:]]*\|/ {
		for (i = 2; i < NF; i++) {
			c = $i
			gsub(/^[[:space:]]+|[[:space:]]+$/, "", c)
			if (c == k) found = 1
		}
	}
	END { exit !found }' <<<"$text"
}

# 1. Configuration keys.
check_keys() { # array heading-regex section-name
	local array=$1 re=$2 secname=$3 keys section key
	keys=$(c_strings "$array" "$cfg_c")
	if [ -z "$keys" ]; then
		fail "$array[] parsed from ca/cfg.c" "no keys found"
		return
	fi
	pass "$array[] parsed from ca/cfg.c ($(wc -l <<<"$keys") keys)"
	section=$(md_section "$conf_md" "$re")
	if [ -z "$section" ]; then
		fail "docs/configuration.md has a $secname section" "no heading matching '$re'"
		return
	fi
	while IFS= read -r key; do
		if documented "$key" "$section"; then
			pass "configuration.md $secname documents $key"
		else
			fail "configuration.md $secname documents $key" \
			    "neither \`$key\` nor a table cell $key in that section"
		fi
	done <<<"$keys"
}

if [ ! -r "$cfg_c" ] || [ ! -r "$conf_md" ]; then
	fail "sources present" "cannot read $cfg_c or $conf_md"
else
	check_keys cfg_keys '^## .*\[cmpca\]' '[cmpca]'
	check_keys profile_keys '^## .*\[profile\.' '[profile.NAME]'
fi

# 2. CLI sub-commands.
if [ ! -r "$cli_c" ] || [ ! -r "$ops_md" ]; then
	fail "sources present" "cannot read $cli_c or $ops_md"
else
	usage=$(c_strings usage_text "$cli_c")
	# Command lines start with exactly two spaces; "a x | b y" holds two.
	subs=$(awk '
	/^  [a-z]/ {
		n = split($0, alt, /\|/)
		for (i = 1; i <= n; i++) {
			split(alt[i], w, " ")
			if (w[1] !~ /^[a-z][a-z0-9-]*$/) continue
			if (w[2] ~ /^[a-z][a-z0-9-]*$/) print w[1] " " w[2]
			else print w[1]
		}
	}' <<<"$usage" | sort -u)
	if [ -z "$subs" ]; then
		fail "usage_text parsed from ca/cmpca.c" "no sub-commands found"
	else
		pass "usage_text parsed from ca/cmpca.c ($(wc -l <<<"$subs") sub-commands)"
		text=$(prose "$ops_md")
		while IFS= read -r sub; do
			if grep -qF -- "$sub" <<<"$text"; then
				pass "operations.md documents cmpca $sub"
			else
				fail "operations.md documents cmpca $sub" \
				    "\"$sub\" appears only in code blocks, or not at all"
			fi
		done <<<"$subs"
	fi
fi

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
