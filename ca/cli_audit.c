/*
 * cli_audit.c - `cmpca audit list`: the append-only audit table, newest
 * first, one tab-separated line per entry:
 *   id  time (UTC)  event  CA label or "-"  actor  detail
 * Details can hold names a client chose (request-pending records the
 * requested subject), so actor and detail are printed sanitised like log
 * lines: control characters and escape sequences never reach the
 * terminal.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "ca/cli.h"

static const char audit_usage[] =
    "usage: cmpca audit list [--ca LABEL] [--event E] [--since TIME] "
    "[--limit N]\n"
    "  TIME: 2026-01-31, 2026-01-31T12:00:00Z, epoch seconds, or an age "
    "such as 30m, 12h, 7d\n";

/*
 * Parses --since: an age ("90s", "30m", "12h", "7d") before now, epoch
 * seconds, or an ISO 8601 date or UTC date-time. Returns 1 or 0.
 */
static int
since_parse(const char *s, time_t now, time_t *out)
{
	static const char *const fmts[] = { "%Y-%m-%dT%H:%M:%SZ",
		"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M",
		"%Y-%m-%d", NULL };
	const char *const *f;
	struct tm tm;
	char *end;
	long long n;

	n = strtoll(s, &end, 10);
	if (end != s && n >= 0) {
		long long unit = 0;

		if (*end == '\0')
			unit = -1; /* epoch seconds */
		else if (end[1] == '\0')
			unit = *end == 's' ? 1 : *end == 'm' ? 60
			    : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
		if (unit == -1) {
			*out = (time_t)n;
			return 1;
		}
		if (unit > 0 && n <= 36500LL * 86400 / unit) {
			*out = now - (time_t)(n * unit);
			return 1;
		}
	}
	for (f = fmts; *f != NULL; f++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, *f, &tm);
		if (end != NULL && *end == '\0') {
			*out = timegm(&tm);
			return 1;
		}
	}
	return 0;
}

int
cli_audit(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "event", required_argument, NULL, 'e' },
		{ "since", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_label = NULL, *event = NULL;
	struct db_audit *list = NULL;
	struct db_ca ca;
	size_t n = 0, i;
	time_t since = 0;
	long limit = DB_AUDIT_LIST_DEFAULT;
	char *end;
	int o, rc = 1;

	if (argc < 2 || strcmp(argv[1], "list") != 0) {
		fputs(audit_usage, stderr);
		return 2;
	}
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			ca_label = optarg;
			break;
		case 'e':
			event = optarg;
			break;
		case 's':
			if (!since_parse(optarg, time(NULL), &since)) {
				log_err("--since: cannot read \"%s\"", optarg);
				fputs(audit_usage, stderr);
				return 2;
			}
			break;
		case 'l':
			limit = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || limit < 1 ||
			    limit > 1000000) {
				log_err("--limit must be a number from 1 to "
					"1000000");
				return 2;
			}
			break;
		default:
			fputs(audit_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(audit_usage, stderr);
		return 2;
	}
	memset(&ca, 0, sizeof(ca));
	if (!cli_need_db(c))
		return 1;
	if (ca_label != NULL && db_ca_get_by_label(c->db, ca_label, &ca) != 1) {
		log_err("no such ca: %s", ca_label);
		goto out;
	}
	if (db_audit_list(c->db, ca.id, event, since, (int)limit, &list, &n) <
	    0) {
		log_err("%s", db_error(c->db));
		goto out;
	}
	for (i = 0; i < n; i++) {
		char at[32], actor[CA_LOG_SAN_MAX], detail[CA_LOG_SAN_MAX];
		const char *a = list[i].actor != NULL ? list[i].actor : "-";
		const char *d = list[i].detail != NULL ? list[i].detail : "";

		strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ",
		    gmtime(&list[i].at));
		log_sanitize((const unsigned char *)a, strlen(a), actor,
		    sizeof(actor));
		log_sanitize((const unsigned char *)d, strlen(d), detail,
		    sizeof(detail));
		printf("%lld\t%s\t%s\t%s\t%s\t%s\n", list[i].id, at,
		    list[i].event,
		    list[i].ca_label[0] != '\0' ? list[i].ca_label : "-",
		    actor, detail);
	}
	rc = 0;
out:
	db_audit_array_free(list, n);
	db_ca_clear(&ca);
	return rc;
}
