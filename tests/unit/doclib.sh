# shellcheck shell=bash
# doclib.sh - what the documentation checks read from the C sources, shared
# by tests/unit/test_docs.sh and tests/unit/test_install.sh. Sourced, not
# run. The C source is read with a small tokenizer in awk (comments, string
# literals, adjacent literals concatenated), not compiled.

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

# usage_subcommands FILE: the sub-commands of usage_text[] in FILE
# (cli/cli_ctx.c), one per line, sorted: "db migrate", "ra list", ...
# Command lines start with exactly two spaces; "a x | b y" holds two.
usage_subcommands() {
	c_strings usage_text "$1" | awk '
	/^  [a-z]/ {
		n = split($0, alt, /\|/)
		for (i = 1; i <= n; i++) {
			split(alt[i], w, " ")
			if (w[1] !~ /^[a-z][a-z0-9-]*$/) continue
			if (w[2] ~ /^[a-z][a-z0-9-]*$/) print w[1] " " w[2]
			else print w[1]
		}
	}' | sort -u
}

# fail_names DIR: the PKIFailureInfo names (badAlg, systemFailure, ...)
# that the CA sets: every CMP_FAIL_X in the engine's C files in DIR (not
# the CLI's, cmpca.c and cli_*.c, which only read a partner's answers),
# except where it is compared (==, <=, ...) rather than set, mapped to
# its name through fail_names[] in cmp/cmp_req.c, which is in the order of
# the enum in cmp_asn.h (CMP_FAIL_BAD_ALG = 0 is "badAlg", ...).
fail_names() {
	local dir=$1 names f files=()
	names=$(c_strings fail_names "$dir/cmp/cmp_req.c")
	[ -n "$names" ] || return 0
	for f in "$dir"/*.c "$dir"/*/*.c; do
		files+=("$f")
	done
	awk '{
		line = $0
		while (match(line, /CMP_FAIL_[A-Z_]+/)) {
			pre = substr(line, 1, RSTART - 1)
			sym = substr(line, RSTART, RLENGTH)
			sub(/[ \t]+$/, "", pre)
			if (pre !~ /[=!<>]=?$/ || pre ~ /[^=!<>]=$/)
				print sym
			line = substr(line, RSTART + RLENGTH)
		}
	}' "${files[@]}" | grep -v '^CMP_FAIL_NONE$' | sort -u |
	    while IFS= read -r sym; do
		# "CMP_FAIL_BAD_ALG = 0," in the enum gives the index.
		n=$(sed -n "s/^[[:space:]]*$sym[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p" \
		    "$dir/cmp_asn.h")
		if [ -z "$n" ]; then
			echo "?$sym"
			continue
		fi
		sed -n "$((n + 1))p" <<<"$names"
	done | sort -u
}
