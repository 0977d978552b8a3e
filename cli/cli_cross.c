/*
 * cli_cross.c - `cmpca partner` and `cmpca cross-certify`: partner CAs
 * and cross certificates (RFC 9810 §5.3.11).
 *
 *   partner add|list|remove        who may send us a ccr, and what the
 *                                  cross certificate for them carries
 *   cross-certify local            one of our CAs certifies another
 *   cross-certify request          a ccr to a partner's CMP endpoint
 *                                  through the CMP client (ca/client/):
 *                                  signed with our CA key in the HSM, the
 *                                  ccp verified against the partner's
 *                                  certificate and confirmed; stored here
 *   cross-certify list             cross certificates issued and received
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/client/client.h"
#include "ca/issue/issue.h"
#include "cli/cli.h"

/* ---- options shared by partner add and cross-certify local ---- */

/* Appends v to a newline-separated list. Returns 1 or 0. */
static int
list_append(char **list, const char *v)
{
	size_t a = *list != NULL ? strlen(*list) : 0, b = strlen(v);
	char *n;

	if (strchr(v, '\n') != NULL || b == 0)
		return 0;
	if ((n = realloc(*list, a + b + 2)) == NULL)
		return 0;
	if (a > 0)
		n[a++] = '\n';
	memcpy(n + a, v, b + 1);
	*list = n;
	return 1;
}

static int
num_arg(const char *s, int min, int max, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > max)
		return 0;
	*out = (int)v;
	return 1;
}

enum {
	OPT_PATHLEN = 1000,
	OPT_PERMIT,
	OPT_EXCLUDE,
	OPT_POLICY,
	OPT_MAP,
	OPT_REQUIRE,
	OPT_INHIBIT,
	OPT_EKU,
	OPT_DAYS,
};

#define CONSTRAINT_OPTIONS                                             \
	{ "pathlen", required_argument, NULL, OPT_PATHLEN },           \
	{ "permit", required_argument, NULL, OPT_PERMIT },             \
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },           \
	{ "policy", required_argument, NULL, OPT_POLICY },             \
	{ "map", required_argument, NULL, OPT_MAP },                   \
	{ "require-explicit", required_argument, NULL, OPT_REQUIRE },  \
	{ "inhibit-mapping", required_argument, NULL, OPT_INHIBIT },   \
	{ "eku", required_argument, NULL, OPT_EKU },                   \
	{ "days", required_argument, NULL, OPT_DAYS }

/* Takes one constraint option into p. Returns 1 taken, 0 bad value, -1
 * not a constraint option. */
static int
constraint_opt(int o, const char *arg, struct db_partner *p)
{
	switch (o) {
	case OPT_PATHLEN:
		return num_arg(arg, 0, 64, &p->path_len);
	case OPT_PERMIT:
		return list_append(&p->permitted, arg);
	case OPT_EXCLUDE:
		return list_append(&p->excluded, arg);
	case OPT_POLICY:
		return list_append(&p->policies, arg);
	case OPT_MAP:
		return list_append(&p->policy_map, arg);
	case OPT_REQUIRE:
		return num_arg(arg, 0, 64, &p->require_explicit);
	case OPT_INHIBIT:
		return num_arg(arg, 0, 64, &p->inhibit_mapping);
	case OPT_EKU:
		return list_append(&p->eku, arg);
	case OPT_DAYS:
		return num_arg(arg, 1, 36500, &p->days);
	default:
		return -1;
	}
}

static void
constraints_init(struct db_partner *p)
{
	memset(p, 0, sizeof(*p));
	p->path_len = -1;
	p->require_explicit = -1;
	p->inhibit_mapping = -1;
	p->days = 365;
}

/* Loads one of our CAs with its key. NULL with a message. */
static struct ca_ident *
ca_load(struct ctx *c, struct ca_store *st, const char *label)
{
	struct ca_ident *ca;
	int err = 0;

	if (!cli_need_db(c) || !cli_need_hsm(c))
		return NULL;
	ca = ca_store_get(st, c->db, c->hsm, label, &err);
	if (ca == NULL)
		log_err("%s: %s", label, err ? "cannot load this CA"
					      : "no such active CA");
	return ca;
}

/* Rewrites the published PEM bundle of each CA given. */
static void
publish(struct ctx *c, struct ca_ident *a, struct ca_ident *b)
{
	if (a != NULL && !ca_publish_bundle(c->db, a, c->cfg->crl_dir))
		log_warn("ca %s: published bundle not written", a->label);
	if (b != NULL && !ca_publish_bundle(c->db, b, c->cfg->crl_dir))
		log_warn("ca %s: published bundle not written", b->label);
}

/* ---- partner ---- */

static int
partner_add(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "ca", required_argument, NULL, 'a' },
		CONSTRAINT_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct db_partner p;
	struct db_ca ca;
	struct db_cert row;
	const char *name, *certfile = NULL, *label = NULL, *why = NULL;
	X509 *x = NULL;
	unsigned int len = 0;
	int o, rc = 1;

	constraints_init(&p);
	memset(&ca, 0, sizeof(ca));
	memset(&row, 0, sizeof(row));
	if (argc < 3 || argv[2][0] == '-')
		goto usage;
	name = argv[2];
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'c')
			certfile = optarg;
		else if (o == 'a')
			label = optarg;
		else if (constraint_opt(o, optarg, &p) != 1) {
			log_err("bad value for an option: %s", argv[optind - 1]);
			goto usage;
		}
	}
	if (certfile == NULL || label == NULL || optind != argc)
		goto usage;
	if (strlen(name) >= sizeof(p.name)) {
		log_err("partner name too long");
		goto out;
	}
	snprintf(p.name, sizeof(p.name), "%s", name);
	if (!cross_constraints_check(&p, &why)) {
		log_err("%s", why);
		goto out;
	}
	if ((x = cli_cert_read(certfile)) == NULL)
		goto out;
	if (X509_check_ca(x) < 1 ||
	    (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) == 0) {
		log_err("%s is not a CA certificate (basicConstraints cA, "
			"keyCertSign)", certfile);
		goto out;
	}
	if (!cli_need_db(c))
		goto out;
	if (db_ca_get_by_label(c->db, label, &ca) != 1 ||
	    strcmp(ca.status, "active") != 0) {
		log_err("%s: no such active CA", label);
		goto out;
	}
	if (!ca_cert_to_row(x, &row) ||
	    !X509_digest(x, EVP_sha256(), p.cert_sha256, &len)) {
		log_err("cannot encode %s", certfile);
		goto out;
	}
	p.ca_id = ca.id;
	p.cert = row.der;
	p.cert_len = row.der_len;
	p.subject = row.subject;
	row.der = NULL;
	row.subject = NULL;
	switch (db_partner_insert(c->db, &p)) {
	case 1:
		break;
	case 0:
		log_err("partner %s or this certificate is registered already",
		    name);
		goto out;
	default:
		log_err("database: %s", db_error(c->db));
		goto out;
	}
	if (db_audit_add(c->db, "partner-add", ca.id, "cli", p.name) < 0)
		log_warn("audit: %s", db_error(c->db));
	printf("partner %s: %s, cross certificates signed by %s\n", p.name,
	    p.subject, label);
	rc = 0;
out:
	X509_free(x);
	db_cert_clear(&row);
	db_ca_clear(&ca);
	db_partner_clear(&p);
	return rc;
usage:
	rc = 2;
	fputs("usage: cmpca partner add NAME --cert FILE --ca LABEL "
	      "[--pathlen N] [--permit C]... [--exclude C]... [--policy OID]... "
	      "[--map OID:OID]... [--require-explicit N] [--inhibit-mapping N] "
	      "[--eku OID]... [--days N]\n",
	    stderr);
	goto out;
}

/* Newline-separated list printed comma-separated, "-" when empty. */
static void
print_list(const char *tag, const char *list)
{
	const char *p;

	if (list == NULL || *list == '\0')
		return;
	printf(" %s=", tag);
	for (p = list; *p != '\0'; p++)
		putchar(*p == '\n' ? ',' : *p);
}

static int
partner_list(struct ctx *c)
{
	struct db_partner *a = NULL;
	struct db_ca ca;
	size_t i, n = 0;

	if (!cli_need_db(c))
		return 1;
	if (db_partner_list(c->db, &a, &n) < 0) {
		log_err("database: %s", db_error(c->db));
		return 1;
	}
	for (i = 0; i < n; i++) {
		memset(&ca, 0, sizeof(ca));
		if (db_ca_get(c->db, a[i].ca_id, &ca) != 1)
			snprintf(ca.label, sizeof(ca.label), "?");
		printf("%s\tca=%s\tdays=%d\t%s\t", a[i].name, ca.label,
		    a[i].days, a[i].subject);
		if (a[i].path_len >= 0)
			printf(" pathlen=%d", a[i].path_len);
		print_list("permit", a[i].permitted);
		print_list("exclude", a[i].excluded);
		print_list("policy", a[i].policies);
		print_list("map", a[i].policy_map);
		if (a[i].require_explicit >= 0)
			printf(" require-explicit=%d", a[i].require_explicit);
		if (a[i].inhibit_mapping >= 0)
			printf(" inhibit-mapping=%d", a[i].inhibit_mapping);
		print_list("eku", a[i].eku);
		putchar('\n');
		db_ca_clear(&ca);
	}
	db_partner_array_free(a, n);
	return 0;
}

int
cli_partner(struct ctx *c, int argc, char **argv)
{
	int rc;

	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return partner_add(c, argc, argv);
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return partner_list(c);
	if (argc == 3 && strcmp(argv[1], "remove") == 0) {
		if (!cli_need_db(c))
			return 1;
		rc = db_partner_delete(c->db, argv[2]);
		if (rc < 0) {
			log_err("database: %s", db_error(c->db));
			return 1;
		}
		if (rc == 0) {
			log_err("no partner %s", argv[2]);
			return 1;
		}
		if (db_audit_add(c->db, "partner-remove", 0, "cli", argv[2]) < 0)
			log_warn("audit: %s", db_error(c->db));
		return 0;
	}
	fputs("usage: cmpca partner add NAME --cert FILE --ca LABEL [...] | "
	      "partner list | partner remove NAME\n",
	    stderr);
	return 2;
}

/* ---- cross-certify local ---- */

/* A ca_cert row (kind cross) for our CA ca_id borrowing row's strings and
 * DER: the cross certificate it received. */
static void
received_fill(struct db_ca_cert *cc, long long ca_id, const struct db_cert *row)
{
	cc->ca_id = ca_id;
	snprintf(cc->kind, sizeof(cc->kind), "cross");
	cc->subject = row->subject;
	cc->issuer = row->issuer;
	cc->not_after = row->not_after;
	cc->der = row->der;
	cc->der_len = row->der_len;
}

/* Stores a cross certificate issuer -> subject issued here. */
static int
local_store(struct ctx *c, struct ca_ident *issuer, struct ca_ident *subject,
    X509 *x)
{
	struct db_cert row;
	struct db_ca_cert cc;
	int ok = 0;

	memset(&row, 0, sizeof(row));
	memset(&cc, 0, sizeof(cc));
	if (!ca_cert_to_row(x, &row))
		goto out;
	row.ca_id = issuer->id;
	row.status = DB_CERT_VALID;
	row.reason = -1;
	snprintf(row.kind, sizeof(row.kind), "cross");
	if ((row.profile = strdup("cross")) == NULL ||
	    (row.requester = strdup("cli")) == NULL)
		goto out;
	received_fill(&cc, subject->id, &row);
	if (db_begin(c->db) != 1 || db_cert_insert(c->db, &row) != 1 ||
	    db_ca_cert_insert(c->db, &cc) != 1 ||
	    db_audit_add(c->db, "cross-certify", issuer->id, "cli",
		row.serial) < 0 ||
	    db_commit(c->db) != 1) {
		log_err("database: %s", db_error(c->db));
		db_rollback(c->db);
		goto out;
	}
	ok = 1;
out:
	/* cc borrowed row's strings */
	db_cert_clear(&row);
	return ok;
}

static int
cross_local(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "issuer", required_argument, NULL, 'i' },
		{ "subject", required_argument, NULL, 's' },
		CONSTRAINT_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct ca_store st = { NULL, 0 };
	struct db_partner p;
	struct ca_ident *issuer, *subject;
	const char *il = NULL, *sl = NULL, *why = NULL;
	X509 *x = NULL;
	int o, rc = 1;

	constraints_init(&p);
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'i')
			il = optarg;
		else if (o == 's')
			sl = optarg;
		else if (constraint_opt(o, optarg, &p) != 1) {
			rc = 2;
			goto out;
		}
	}
	if (il == NULL || sl == NULL || optind != argc) {
		rc = 2;
		goto out;
	}
	if (strcmp(il, sl) == 0) {
		log_err("a CA does not cross-certify itself");
		goto out;
	}
	if (!cross_constraints_check(&p, &why)) {
		log_err("%s", why);
		goto out;
	}
	if ((issuer = ca_load(c, &st, il)) == NULL ||
	    (subject = ca_load(c, &st, sl)) == NULL)
		goto out;
	if ((x = cross_cert_issue(issuer, c->hsm, subject->cert, &p, NULL)) ==
		NULL) {
		log_err("cross certificate issuance failed");
		goto out;
	}
	if (!local_store(c, issuer, subject, x))
		goto out;
	publish(c, issuer, subject);
	PEM_write_X509(stdout, x);
	rc = 0;
out:
	if (rc == 2)
		fputs("usage: cmpca cross-certify local --issuer LABEL "
		      "--subject LABEL [--pathlen N] [--permit C]... "
		      "[--exclude C]... [--policy OID]... [--map OID:OID]... "
		      "[--require-explicit N] [--inhibit-mapping N] "
		      "[--eku OID]... [--days N]\n",
		    stderr);
	X509_free(x);
	ca_store_clear(&st);
	db_partner_clear(&p);
	return rc;
}

/* ---- cross-certify request: ccr through the CMP client ---- */

/* Stores the cross certificate our CA received. */
static int
received_store(struct ctx *c, const struct ca_ident *ca, X509 *x)
{
	struct db_cert row;
	struct db_ca_cert cc;
	int rc, ok = 0;

	memset(&row, 0, sizeof(row));
	memset(&cc, 0, sizeof(cc));
	if (!ca_cert_to_row(x, &row))
		goto out;
	received_fill(&cc, ca->id, &row);
	rc = db_ca_cert_insert(c->db, &cc);
	if (rc < 0) {
		log_err("database: %s", db_error(c->db));
		goto out;
	}
	if (db_audit_add(c->db, "cross-certified", ca->id, "cli",
		row.issuer) < 0)
		log_warn("audit: %s", db_error(c->db));
	ok = 1;
out:
	db_cert_clear(&row);
	return ok;
}

static int
cross_request(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "url", required_argument, NULL, 'u' },
		{ "partner-cert", required_argument, NULL, 'p' },
		{ "days", required_argument, NULL, 'd' },
		{ "tls-trusted", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_store st = { NULL, 0 };
	struct cmp_client *cl = NULL;
	struct ca_ident *ca;
	const char *label = NULL, *pfile = NULL, *url = NULL, *tls = NULL;
	X509 *partner = NULL, *x = NULL;
	int o, days = 0, rc = 1;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			label = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'p':
			pfile = optarg;
			break;
		case 't':
			tls = optarg;
			break;
		case 'd':
			if (!num_arg(optarg, 1, 36500, &days))
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (label == NULL || url == NULL || pfile == NULL || optind != argc)
		goto usage;
	if ((partner = cli_cert_read(pfile)) == NULL ||
	    (ca = ca_load(c, &st, label)) == NULL)
		goto out;
	if ((cl = cmp_client_new(ca, partner, url, tls)) == NULL) {
		log_err("out of memory");
		goto out;
	}
	if (!cmp_client_ccr(cl, days, &x)) {
		log_err("%s", cmp_client_error(cl));
		goto out;
	}
	if (!received_store(c, ca, x))
		goto out;
	publish(c, ca, NULL);
	PEM_write_X509(stdout, x);
	rc = 0;
	goto out;
usage:
	rc = 2;
	fputs("usage: cmpca cross-certify request --ca LABEL --url URL "
	      "--partner-cert FILE [--days N] [--tls-trusted FILE]\n",
	    stderr);
out:
	cmp_client_free(cl);
	X509_free(x);
	X509_free(partner);
	ca_store_clear(&st);
	return rc;
}

/* ---- cross-certify list ---- */

static int
cross_list(struct ctx *c, int argc, char **argv)
{
	struct db_ca *cas = NULL;
	struct db_cert *certs = NULL;
	struct db_ca_cert *got = NULL;
	size_t i, j, n = 0, nc = 0, ng = 0;
	const char *only = argc == 4 && strcmp(argv[2], "--ca") == 0 ? argv[3]
								       : NULL;
	int rc = 1;

	if ((argc != 2 && only == NULL) || !cli_need_db(c)) {
		if (argc != 2 && only == NULL) {
			fputs("usage: cmpca cross-certify list [--ca LABEL]\n",
			    stderr);
			return 2;
		}
		return 1;
	}
	if (db_ca_list(c->db, &cas, &n) < 0)
		goto dberr;
	for (i = 0; i < n; i++) {
		if (only != NULL && strcmp(cas[i].label, only) != 0)
			continue;
		if (db_cert_list_kind(c->db, cas[i].id, "cross", &certs,
			&nc) < 0 ||
		    db_ca_cert_list(c->db, cas[i].id, NULL, &got, &ng) < 0)
			goto dberr;
		for (j = 0; j < nc; j++)
			printf("%s\tissued\t%s\t%s\t%s\n", cas[i].label,
			    certs[j].serial,
			    db_cert_status_name(certs[j].status),
			    certs[j].subject);
		for (j = 0; j < ng; j++)
			printf("%s\treceived\t%s\t%s\n", cas[i].label,
			    got[j].kind, got[j].issuer);
		db_cert_array_free(certs, nc);
		db_ca_cert_array_free(got, ng);
		certs = NULL;
		got = NULL;
	}
	rc = 0;
	goto out;
dberr:
	log_err("database: %s", db_error(c->db));
out:
	db_cert_array_free(certs, nc);
	db_ca_cert_array_free(got, ng);
	db_ca_array_free(cas, n);
	return rc;
}

int
cli_cross_certify(struct ctx *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "local") == 0)
		return cross_local(c, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "request") == 0)
		return cross_request(c, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return cross_list(c, argc, argv);
	fputs("usage: cmpca cross-certify local|request|list ...\n", stderr);
	return 2;
}
