/*
 * cli_audit.c - `cmpca audit list|verify|key` and `cmpca db roles`.
 *
 * `audit list`: the append-only audit table, newest first, one
 * tab-separated line per entry:
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

#include <openssl/x509.h>

#include "ca/ca.h"
#include "cli/cli.h"

static const char audit_usage[] =
    "usage: cmpca audit list [--ca LABEL] [--event E] [--since TIME] "
    "[--limit N]\n"
    "       cmpca audit verify [--since TIME] [--anchor FILE]\n"
    "       cmpca audit key [--label L] [--key TYPE]\n"
    "       cmpca audit checkpoint\n"
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

/*
 * audit verify [--since TIME] [--anchor FILE]: the chain from the last
 * good checkpoint at or before TIME (default: from the first row), every
 * checkpoint (and every anchor line of FILE), every certificate's status,
 * the database's safeguards. Exit 0 clean, 1 problems found or error.
 */
static int
audit_cmd_verify(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "anchor", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_vopts vo;
	int o;

	memset(&vo, 0, sizeof(vo));
	vo.max_age = c->cfg->audit_ckpt_max_age;
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a') {
			vo.anchor = optarg;
			continue;
		}
		if (o != 's' || !since_parse(optarg, time(NULL), &vo.since)) {
			fputs(audit_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(audit_usage, stderr);
		return 2;
	}
	if (!cli_need_db(c) || !cli_need_hsm(c))
		return 1;
	return audit_verify(c->db, c->hsm, &vo, stdout) == 1 ? 0 : 1;
}

/*
 * audit key [--label L] [--key TYPE]: a new audit key in the HSM (its own,
 * used for nothing else), recorded in audit_key; checkpoints are signed
 * with the newest one from then on.
 */
static int
audit_cmd_key(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'l' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *label = "cmpca-audit", *type = "ec:P-256";
	enum hsm_keytype kt;
	EVP_PKEY *pub = NULL;
	unsigned char *der = NULL;
	char uri[HSM_URI_MAX + 1];
	long long id = 0;
	int o, len, rc = 1;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'l')
			label = optarg;
		else if (o == 'k')
			type = optarg;
		else {
			fputs(audit_usage, stderr);
			return 2;
		}
	}
	if (optind != argc || !hsm_keytype_parse(type, &kt)) {
		fputs(audit_usage, stderr);
		return 2;
	}
	if (!cli_need_db(c) || !cli_need_hsm(c))
		return 1;
	if (!hsm_keygen(c->hsm, label, kt, &pub, uri, sizeof(uri))) {
		log_err("audit key %s: %s", label, hsm_error());
		return 1;
	}
	if ((len = i2d_PUBKEY(pub, &der)) <= 0) {
		log_err("audit key %s: cannot encode the public key", label);
		goto out;
	}
	if (db_audit_key_insert(c->db, uri, der, (size_t)len, &id) != 1) {
		log_err("audit key %s: %s", uri, db_error(c->db));
		goto out;
	}
	if (db_audit_add(c->db, "audit-key", 0, "cli", uri) < 0)
		log_warn("audit: %s", db_error(c->db));
	printf("audit key %lld: %s\n", id, uri);
	rc = 0;
out:
	OPENSSL_free(der);
	EVP_PKEY_free(pub);
	return rc;
}

/* One component's connection: its role, and whether it may be used. */
static int
role_line(const char *component, const char *conninfo, int owner)
{
	struct db *db = db_open(conninfo);
	struct db_role r;
	const char *verdict;
	int ok = 0;

	if (db == NULL || db_ensure(db) != 1 || db_role_get(db, &r) != 1) {
		printf("%s\t-\tcannot connect: %s\n", component,
		    db_error(db));
		db_close(db);
		return 0;
	}
	if (owner) {
		ok = r.owns > 0;
		verdict = ok ? "ok (owner)" : "not the tables' owner";
	} else if (r.superuser) {
		verdict = "REFUSED: a superuser";
	} else if (r.owns > 0) {
		verdict = "REFUSED: owns the tables";
	} else {
		ok = 1;
		verdict = "ok";
	}
	printf("%s\t%s\t%s\n", component, r.name, verdict);
	db_close(db);
	return ok;
}

/* See cli/cli.h: db roles. */
int
cli_db_roles(struct ctx *c)
{
	const struct cfg *cfg = c->cfg;
	int ok = 1;

	ok &= role_line("cmpcad (db)", cfg->db_conninfo, 0);
	ok &= role_line("operators' page, /metrics (db_reader)",
	    cfg->db_reader != NULL ? cfg->db_reader : cfg->db_conninfo, 0);
	ok &= role_line("cmpca (db_operator)", cli_conninfo(cfg, 0), 0);
	ok &= role_line("cmpca db migrate (db_owner)", cli_conninfo(cfg, 1),
	    1);
	return ok ? 0 : 1;
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

	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return audit_cmd_verify(c, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "key") == 0)
		return audit_cmd_key(c, argc, argv);
	if (argc == 2 && strcmp(argv[1], "checkpoint") == 0) {
		if (!cli_need_db(c) || !cli_need_hsm(c))
			return 1;
		return audit_checkpoint(c->db, c->hsm, c->cfg, 0, "cli") < 0;
	}
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
