#!/bin/bash
# test_docs.sh - the documentation keeps up with the code:
#   - every key of cfg_keys[] in ca/cfg.c appears in the "## [cmpca]"
#     section of docs/configuration.md, and every key of profile_keys[] in
#     its "## [profile.NAME]" section, as `key` or as a table cell;
#   - every sub-command of cmpca's usage text (usage_text[] in cli/cli_ctx.c)
#     appears in docs/operations.md outside code blocks (a copy of the
#     usage text alone does not count).
#   - the guides issue 8 asks for exist, and docs/operations.md has its
#     sections;
#   - every source file in ca/, hsm/, db/, lib/ (daemon/, cli/) has a row in the
#     module table of docs/architecture.md;
#   - every PKIFailureInfo the engine sets (ca/*.c, see fail_names in
#     doclib.sh) has a "### name (bit)" section in docs/troubleshooting.md
#     with the right bit, and every such section names one the code sets.
# The C sources are read by tests/unit/doclib.sh, not compiled.
#
# usage: tests/unit/test_docs.sh      (from anywhere; no build needed)
# Prints one line per check and a closing "N passed, N failed"; exits 1 if
# any check failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cfg_c=$top/ca/cfg.c
cli_c=$top/cli/cli_ctx.c
conf_md=$top/docs/configuration.md
ops_md=$top/docs/operations.md
npass=0
nfail=0
. "$top/tests/unit/doclib.sh"

pass() { npass=$((npass + 1)); echo "ok   $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $1: $2"; }

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
	subs=$(usage_subcommands "$cli_c")
	if [ -z "$subs" ]; then
		fail "usage_text parsed from cli/cli_ctx.c" "no sub-commands found"
	else
		pass "usage_text parsed from cli/cli_ctx.c ($(wc -l <<<"$subs") sub-commands)"
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

# 3. The guides, and the sections of the operations guide.
for f in architecture operations configuration troubleshooting; do
	if [ -s "$top/docs/$f.md" ]; then
		pass "docs/$f.md exists"
	else
		fail "docs/$f.md exists" "missing or empty"
	fi
done
for h in "Install on Debian 12" "systemd unit" "TLS in nginx" \
    "Key ceremony" "HSM PIN handling" "Backup and restore" \
    "Upgrading" "Several hosts"; do
	if grep -q "^## $h" "$ops_md"; then
		pass "operations.md has a section \"$h\""
	else
		fail "operations.md has a section \"$h\"" "no heading \"## $h...\""
	fi
done

# 4. Troubleshooting covers every PKIFailureInfo the engine sets.
ts_md=$top/docs/troubleshooting.md
set_names=$(fail_names "$top/ca")
names_table=$(c_strings fail_names "$top/ca/cmp/cmp_req.c")
if [ -z "$set_names" ] || [ -z "$names_table" ]; then
	fail "PKIFailureInfo names parsed from ca/*.c" "none found"
elif grep -q '^?' <<<"$set_names"; then
	fail "PKIFailureInfo names parsed from ca/*.c" \
	    "not in the enum: $(grep '^?' <<<"$set_names" | tr '\n' ' ')"
else
	pass "PKIFailureInfo names parsed from ca/*.c ($(wc -l <<<"$set_names") set)"
	while IFS= read -r name; do
		bit=$(($(grep -nx -- "$name" <<<"$names_table" | cut -d: -f1) - 1))
		if grep -qx "### $name ($bit)" "$ts_md" 2>/dev/null; then
			pass "troubleshooting.md explains $name ($bit)"
		else
			fail "troubleshooting.md explains $name ($bit)" \
			    "no heading \"### $name ($bit)\""
		fi
	done <<<"$set_names"
	# The other way: no section for a failInfo the CA never sends.
	while IFS= read -r name; do
		if grep -qx -- "$name" <<<"$set_names"; then
			pass "troubleshooting.md section $name is one the CA sends"
		else
			fail "troubleshooting.md section $name is one the CA sends" \
			    "no CMP_FAIL_ sets it in ca/*.c"
		fi
	done < <(sed -n 's/^### \([A-Za-z]*\) ([0-9]*)$/\1/p' "$ts_md" 2>/dev/null)
fi

# Every source file of the product has a row in the module table of
# docs/architecture.md ("## Module layout ..."): a row may name several
# files of one folder by their base names.
arch_md=$top/docs/architecture.md
mod_rows=$(md_section "$arch_md" '^## Module layout' | grep '^|')
nsrc=0
while IFS= read -r f; do
	nsrc=$((nsrc + 1))
	if grep -qF -- "\`${f##*/}\`" <<<"$mod_rows" ||
	    grep -qF -- "\`$f\`" <<<"$mod_rows"; then
		pass "architecture.md module table names $f"
	else
		fail "architecture.md module table names $f" "no row names it"
	fi
done < <(cd "$top" && ls -1 ca/*.[ch] ca/*/*.[ch] hsm/*.[ch] db/*.[ch] \
    daemon/*.[ch] cli/*.[ch] lib/*.[ch] 2>/dev/null)
[ "$nsrc" -gt 0 ] || fail "source files listed for the module table" "none found"

# Every folder holding product sources is one concern, named with one
# sentence in the folder table of the same section ("| `ca/cmp/` | ...").
ndir=0
while IFS= read -r d; do
	ndir=$((ndir + 1))
	if grep -qF -- "| \`$d/\` |" <<<"$mod_rows"; then
		pass "architecture.md folder table names $d/"
	else
		fail "architecture.md folder table names $d/" "no row names it"
	fi
done < <(cd "$top" && ls -1d ca ca/*/ hsm db daemon cli lib 2>/dev/null | sed 's#/$##')
[ "$ndir" -gt 0 ] || fail "source folders listed for the folder table" "none found"

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
