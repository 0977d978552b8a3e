# nginx-limits.sh - sourced by scripts/stack and scripts/cluster (needs
# $top): the shipped nginx limits rendered for a test or local topology.
# The shipped limits (nginx/cmpca-limits.conf, nginx/cmp-locations.conf)
# into DIR, with the numbers CMPCA_NGINX_* replace; unset, unchanged.
nginx_limits() { # DIR
	local l=() c=()
	[ -n "${CMPCA_NGINX_CMP_RATE:-}" ] &&
		l+=(-e "s|zone=cmpca_cmp:10m rate=[0-9]*r/s|zone=cmpca_cmp:10m rate=${CMPCA_NGINX_CMP_RATE}r/s|")
	[ -n "${CMPCA_NGINX_CMP_ALL_RATE:-}" ] && {
		l+=(-e "s|zone=cmpca_cmp_all:1m rate=[0-9]*r/s|zone=cmpca_cmp_all:1m rate=${CMPCA_NGINX_CMP_ALL_RATE}r/s|")
		c+=(-e "s|zone=cmpca_cmp_all burst=[0-9]*|zone=cmpca_cmp_all burst=${CMPCA_NGINX_CMP_ALL_RATE}|")
	}
	[ -n "${CMPCA_NGINX_CMP_BURST:-}" ] &&
		c+=(-e "s|zone=cmpca_cmp burst=[0-9]*|zone=cmpca_cmp burst=${CMPCA_NGINX_CMP_BURST}|")
	[ -n "${CMPCA_NGINX_CMP_CONN:-}" ] &&
		c+=(-e "s|limit_conn cmpca_cmp_conn [0-9]*|limit_conn cmpca_cmp_conn ${CMPCA_NGINX_CMP_CONN}|")
	[ -n "${CMPCA_NGINX_CMP_ALL_CONN:-}" ] &&
		c+=(-e "s|limit_conn cmpca_cmp_all_conn [0-9]*|limit_conn cmpca_cmp_all_conn ${CMPCA_NGINX_CMP_ALL_CONN}|")
	sed "${l[@]}" -e '' "$top/nginx/cmpca-limits.conf" >"$1/nginx-limits.conf"
	sed "${c[@]}" -e '' "$top/nginx/cmp-locations.conf" >"$1/cmp-locations.conf"
}
