# shellcheck shell=bash
# Helpers for the suites that put load on the stack (faults.sh, load.sh):
# run the recording load client, wait for the housekeeper, and compare
# what the clients received with the inventory one to one. Sourced after
# lib.sh; the helpers need e2e_stack_up done and CMPCA_SECRET exported.
#
# A record file holds one line per enrollment (tests/bench/cmpload.c):
#   ok|unconfirmed TIME MS SERIAL SUBJECT
#   fail TIME MS CN REASON

# load_run NAME SECS CLIENTS [KIND [ARGS...]]: cmpload with CLIENTS threads
# for SECS seconds (KIND ir by default: ip, certConf, pkiConf), subjects
# CN=NAME-<client>-<n>, records in $work/NAME.rec, its summary line and
# error reasons in $work/NAME.out. A client that fails waits 50 ms before
# its next transaction, as a real one backs off.
load_run() {
	local name=$1 secs=$2 clients=$3 kind=${4:-ir}
	shift 3
	[ $# -gt 0 ] && shift
	"$bin/cmpload" --url "$CMPCA_URL" --clients "$clients" \
	    --duration "$secs" --kind "$kind" --ref "$CMPCA_SECRET_REF" \
	    --secret-env CMPCA_SECRET --recipient "$CMPCA_CA_SUBJECT" \
	    --cacert "$CMPCA_CA_CERT" --prefix "$name" --pause-on-error 50 \
	    --record "$work/$name.rec" "$@" >"$work/$name.out" 2>&1
}

# none NAME FILE: passes if FILE (one bad item per line) is empty.
none() {
	if [ ! -s "$2" ]; then pass "$1"; else fail "$1" "$(wc -l <"$2") bad: $(head -n 3 "$2" | tr '\n' ' ' | cut -c1-300)"; fi
}

# count KIND FILE: lines of FILE that start with KIND.
count() { awk -v k="$1" '$1 == k { n++ } END { print n + 0 }' "$2"; }

# after KIND T FILE: lines of kind KIND that ended after Unix time T.
after() { awk -v k="$1" -v t="$2" '$1 == k && $2 > t { n++ } END { print n + 0 }' "$3"; }

# sweep_wait SECS: waits until the housekeeper has left no certificate
# unconfirmed (transactions past txn_timeout), at most SECS seconds.
sweep_wait() {
	local i
	for i in $(seq "$(($1 * 2))"); do
		[ "$(q "select count(*) from cert where status = 'unconfirmed'")" = 0 ] && return 0
		sleep 0.5
	done
	return 1
}

# inventory_check REC: after the sweep, what the clients recorded in REC
# (every run concatenated) against the inventory, as an operator would
# compare them. The stack's OCSP signer is not a client's certificate.
inventory_check() {
	local rec=$1 d=$work/inv
	mkdir -p "$d"
	awk '$1 == "ok" { print $4 }' "$rec" | sort >"$d/ok"
	awk '$1 == "ok" || $1 == "unconfirmed" { print $4 }' "$rec" | sort >"$d/received"
	awk '$1 == "ok" { print $4, $5 }' "$rec" | sort >"$d/ok-subj"
	q "select serial from cert where status = 'valid' and profile is distinct from 'ocsp-signer'" | sort >"$d/db-valid"
	q "select serial || ' ' || subject from cert where profile is distinct from 'ocsp-signer'" | sort >"$d/db-subj"
	q "select serial || ' ' || status from cert where profile is distinct from 'ocsp-signer'" | sort >"$d/db-status"
	echo "info clients received $(wc -l <"$d/received") certificates ($(wc -l <"$d/ok") confirmed); inventory: $(awk '{ n[$2]++ } END { for (s in n) printf "%s %d ", s, n[s] }' "$d/db-status")"

	uniq -d "$d/received" >"$d/dup"
	none "no serial received twice" "$d/dup"
	q "select serial from cert group by serial having count(*) > 1" >"$d/db-dup"
	none "inventory: no serial twice" "$d/db-dup"
	comm -23 "$d/ok" "$d/db-valid" >"$d/bad-ok"
	none "inventory: every certificate a client confirmed is valid" "$d/bad-ok"
	comm -23 "$d/ok-subj" "$d/db-subj" >"$d/bad-subj"
	none "inventory: each with the subject the client received" "$d/bad-subj"
	comm -23 "$d/db-valid" "$d/received" >"$d/bad-valid"
	none "inventory: every valid certificate was received by a client" "$d/bad-valid"
	# Issued but the transaction broke off (answer lost, certConf
	# unanswered): the housekeeper rejected it, or the client's certConf
	# made it valid before the answer was lost.
	awk '$2 == "unconfirmed"' "$d/db-status" >"$d/bad-unconf"
	none "inventory: no certificate left unconfirmed after txn_timeout" "$d/bad-unconf"
	join -v1 "$d/db-status" "$d/received" | awk '$2 != "rejected"' >"$d/bad-unseen"
	none "inventory: certificates no client received are rejected" "$d/bad-unseen"
}
