/*
 * cmpca - the operator's command line: database migrations, CA identities
 * (keys generated in the HSM), enrollment secrets and the certificate
 * inventory. Uses the same configuration, HSM and database as cmpcad.
 *
 * Secrets never travel on the command line: the HSM PIN comes from the
 * configured pin_file (or CMPCA_HSM_PIN), enrollment secrets are generated
 * from the HSM RNG and printed once, or read from a file.
 *
 * Hardened like cmpcad's workers before anything is read: not dumpable
 * and no core file, because the process holds the PIN (libp11 keeps a
 * copy for as long as the slot is open), the sealing data key and clear
 * enrollment secrets.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "cli/cli.h"
#include "ca/issue/issue.h"
#include "ca/status/status.h"

static const char usage_text[] =
    "usage: cmpca [-c FILE] COMMAND ...\n"
    "  db migrate                          apply schema migrations and "
    "grants (as db_owner)\n"
    "  db roles                            the database role of each "
    "component\n"
    "  hsm init-token --so-pin-file F      initialise the configured token "
    "(SoftHSM)\n"
    "  ca create LABEL --subject DN [--key TYPE] [--days N]\n"
    "            [--issuer PARENT [--pathlen N]]\n"
    "                                      key in the HSM, self-signed root "
    "or\n"
    "                                      subordinate of a local CA\n"
    "                                      TYPE: ec:P-256 (default), "
    "ec:P-384, rsa:2048|3072|4096\n"
    "  ca csr LABEL --subject DN [--key TYPE]  key in the HSM, PKCS#10 for "
    "an\n"
    "                                      external CA (status pending)\n"
    "  ca import-cert LABEL --cert FILE [--chain FILE]  install the "
    "external\n"
    "                                      CA's certificate and chain\n"
    "  ca retire LABEL                     stop issuing (CRLs still work)\n"
    "  ca rollover LABEL [--key TYPE] [--days N]  new root key "
    "(RFC 9810 §4.4)\n"
    "  ca list                             CA identities\n"
    "  ca export LABEL                     CA certificate and chain, PEM\n"
    "  secret add REF [--subject DN] [--san PATTERNS] [--uses N] [--days N]\n"
    "             [--profile P] [--ca LABEL] [--secret-file F]\n"
    "                                      prints the secret once\n"
    "  secret list                         references and limits\n"
    "  secret reseal [--new-key]           seal every secret again under the\n"
    "                                      current (with --new-key: a new)\n"
    "                                      sealing key version\n"
    "  cert list [--ca LABEL] [--status S] [--subject TEXT] [--limit N]\n"
    "  cert show SERIAL [--ca LABEL] [--pem]\n"
    "  cert revoke SERIAL [--ca LABEL] [--reason N]  operator revocation "
    "(CRLReason, default 0)\n"
    "  request list [--ca LABEL] [--all]  requests waiting for a decision\n"
    "  request approve ID                  issue at the client's next poll\n"
    "  request reject ID [--reason TEXT]   refuse at the client's next poll\n"
    "  ra add NAME --cert FILE [--profile P]  register an RA (pins the "
    "certificate)\n"
    "  ra list | ra remove NAME\n"
    "  crl issue [--ca LABEL] [--hours N]  sign and publish the next CRL\n"
    "  ocsp signer --ca LABEL [--days N]   new delegated OCSP signer (key in "
    "the HSM, default 30 days)\n"
    "  partner add NAME --cert FILE --ca LABEL [CONSTRAINTS]\n"
    "                                      register a partner CA for ccr\n"
    "  partner list | partner remove NAME\n"
    "  cross-certify local --issuer LABEL --subject LABEL [CONSTRAINTS]\n"
    "  cross-certify request --ca LABEL --url URL --partner-cert FILE "
    "[--days N]\n"
    "                [--tls-trusted FILE]\n"
    "                                      ccr to a partner CA over CMP\n"
    "  cross-certify list [--ca LABEL]     cross certificates issued and "
    "received\n"
    "  CONSTRAINTS: [--pathlen N] [--permit C]... [--exclude C]... "
    "[--policy OID]...\n"
    "    [--map OID:OID]... [--require-explicit N] [--inhibit-mapping N] "
    "[--eku OID]...\n"
    "    [--days N]   C: dns:NAME, email:NAME, uri:HOST, ip:ADDR/MASK, "
    "dirname:/DN\n"
    "  audit list [--ca LABEL] [--event E] [--since TIME] [--limit N]\n"
    "  audit verify [--since TIME]         recompute the audit chain, check "
    "checkpoints\n"
    "                                      and certificate statuses\n"
    "  audit key [--label L] [--key TYPE]  the audit key in the HSM\n"
    "  audit checkpoint                    link the audit rows, sign the "
    "head now\n"
    "                                      the audit log, newest first\n"
    "  status [--warn-days N] [--crl-warn-hours N] [--max-pending N]\n"
    "                                      health checks; exit 0 ok, 1 "
    "attention, 3 failing\n";

const char *
cli_usage(void)
{
	return usage_text;
}

/* The CLI's conninfo: the operator's, or the owner's for migrations. */
const char *
cli_conninfo(const struct cfg *cfg, int owner)
{
	const char *op = cfg->db_operator != NULL ? cfg->db_operator
						   : cfg->db_conninfo;

	return owner && cfg->db_owner != NULL ? cfg->db_owner : op;
}

int
cli_need_db(struct ctx *c)
{
	if (c->db != NULL)
		return 1;
	c->db = db_open(cli_conninfo(c->cfg, c->as_owner));
	if (c->db == NULL || db_ensure(c->db) != 1) {
		log_err("database: %s", c->db != NULL ? db_error(c->db)
						      : "no memory");
		db_close(c->db);
		c->db = NULL;
		return 0;
	}
	return 1;
}

int
cli_need_hsm(struct ctx *c)
{
	if (c->hsm != NULL)
		return 1;
	c->hsm = hsm_open(c->cfg->pkcs11_module, c->cfg->token_label,
	    c->cfg->pin_file);
	if (c->hsm == NULL) {
		log_err("hsm: %s", hsm_error());
		return 0;
	}
	return 1;
}

/* See cli/cli.h. */
X509_NAME *
cli_name_parse(const char *s)
{
	return ca_name_parse(s);
}

static int
cmd_db(struct ctx *c, int argc, char **argv)
{
	int applied = 0, version = 0, sealed = 0;

	if (argc == 2 && strcmp(argv[1], "roles") == 0)
		return cli_db_roles(c);
	if (argc < 2 || strcmp(argv[1], "migrate") != 0) {
		fputs(usage_text, stderr);
		return 2;
	}
	c->as_owner = 1; /* DDL and grants: the owner's conninfo */
	if (!cli_need_db(c))
		return 1;
	if (!db_migrate(c->db, c->cfg->schema_dir, &applied)) {
		log_err("migration failed: %s", db_error(c->db));
		return 1;
	}
	if (db_schema_version(c->db, &version) < 0)
		return 1;
	/* Secrets older versions stored in clear: sealed now (011). */
	if (!cli_secrets_seal_clear(c, &sealed))
		return 1;
	if (applied > 0) {
		char v[16];

		snprintf(v, sizeof(v), "%d", version);
		if (db_audit_add(c->db, "db-migrate", 0, "cli", v) < 0)
			log_warn("audit: %s", db_error(c->db));
	}
	printf("schema version %d (%d migration(s) applied)\n", version,
	    applied);
	if (sealed > 0)
		printf("%d enrollment secret(s) sealed in the HSM\n", sealed);
	return 0;
}

static int
cmd_hsm(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "so-pin-file", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *so = NULL;
	int o;

	if (argc < 2 || strcmp(argv[1], "init-token") != 0) {
		fputs(usage_text, stderr);
		return 2;
	}
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 's')
			return 2;
		so = optarg;
	}
	if (so == NULL || c->cfg->pin_file == NULL) {
		log_err("init-token needs --so-pin-file and pin_file in the "
			"configuration");
		return 2;
	}
	if (!hsm_token_init(c->cfg->pkcs11_module, c->cfg->token_label, so,
		c->cfg->pin_file)) {
		log_err("hsm: %s", hsm_error());
		return 1;
	}
	printf("token %s initialised\n", c->cfg->token_label);
	return 0;
}

/* A printable random secret: 24 bytes from the HSM, base64url. */
static int
secret_generate(struct ctx *c, char *out, size_t outlen)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char rnd[24];
	size_t i;

	if (outlen < sizeof(rnd) + 1 || !hsm_random(c->hsm, rnd, sizeof(rnd)))
		return 0;
	for (i = 0; i < sizeof(rnd); i++)
		out[i] = alphabet[rnd[i] & 63];
	out[sizeof(rnd)] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return 1;
}

static int
secret_read(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(out, 1, outlen - 1, f);
	fclose(f);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		n--;
	out[n] = '\0';
	return n > 0;
}

static int
secret_add(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "subject", required_argument, NULL, 's' },
		{ "uses", required_argument, NULL, 'u' },
		{ "days", required_argument, NULL, 'd' },
		{ "profile", required_argument, NULL, 'p' },
		{ "ca", required_argument, NULL, 'a' },
		{ "secret-file", required_argument, NULL, 'f' },
		{ "san", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct db_secret s;
	struct db_ca ca;
	const char *file = NULL, *ca_label = NULL;
	char secret[256];
	long days = 30;
	int o, rc = 1;

	memset(&s, 0, sizeof(s));
	memset(&ca, 0, sizeof(ca));
	s.uses_left = 1;
	snprintf(s.profile, sizeof(s.profile), "default");
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			s.allowed_subject = optarg;
			break;
		case 'u':
			s.uses_left = (int)strtol(optarg, NULL, 10);
			break;
		case 'd':
			days = strtol(optarg, NULL, 10);
			break;
		case 'p':
			snprintf(s.profile, sizeof(s.profile), "%s", optarg);
			break;
		case 'a':
			ca_label = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			s.allowed_san = optarg;
			break;
		default:
			return 2;
		}
	}
	if (argc < 3 || argv[2][0] == '-' || strlen(argv[2]) >= DB_REF_MAX) {
		log_err("secret add needs a reference");
		return 2;
	}
	if (s.allowed_san != NULL && !profile_san_patterns_ok(s.allowed_san)) {
		log_err("--san: bad pattern list \"%s\" (DNS:name, "
		    "DNS:*.domain, email:addr, email:*@domain, IP:addr[/bits], "
		    "URI:uri[*])", s.allowed_san);
		return 2;
	}
	if (cfg_profile_get(c->cfg, s.profile) == NULL) {
		log_err("no profile %s in %s", s.profile, c->cfg->path);
		return 2;
	}
	snprintf(s.ref, sizeof(s.ref), "%s", argv[2]);
	s.expires = days > 0 ? time(NULL) + days * 86400L : 0;
	if (!cli_need_db(c))
		return 1;
	if (ca_label != NULL) {
		if (db_ca_get_by_label(c->db, ca_label, &ca) != 1) {
			log_err("no such ca: %s", ca_label);
			goto out;
		}
		s.ca_id = ca.id;
	}
	if (file != NULL) {
		if (!secret_read(file, secret, sizeof(secret))) {
			log_err("cannot read a secret from %s", file);
			goto out;
		}
	} else if (!cli_need_hsm(c) || !secret_generate(c, secret, sizeof(secret)))
		goto out;
	s.secret_len = strlen(secret);
	s.secret = (unsigned char *)secret;
	if (!cli_secret_seal(c, &s))
		goto out;
	s.secret = NULL; /* only the sealed value is stored */
	rc = db_secret_insert(c->db, &s);
	if (rc != 1) {
		log_err(rc == 0 ? "secret %s exists" : "cannot store secret %s",
		    s.ref);
		rc = 1;
		goto out;
	}
	if (db_audit_add(c->db, "secret-add", s.ca_id, "cli", s.ref) < 0)
		log_warn("audit: %s", db_error(c->db));
	/* Printed once, on stdout only, for the operator to hand over. */
	if (file == NULL)
		printf("%s\n", secret);
	else
		fprintf(stderr, "secret %s stored\n", s.ref);
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	free(s.sealed);
	db_ca_clear(&ca);
	return rc;
}

static int
cmd_secret(struct ctx *c, int argc, char **argv)
{
	struct db_secret *list = NULL;
	size_t n = 0, i;

	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return secret_add(c, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "reseal") == 0 &&
	    (argc == 2 || (argc == 3 && strcmp(argv[2], "--new-key") == 0))) {
		unsigned long ver;
		size_t moved, left;

		if (!cli_secrets_reseal(c, argc == 3, &ver, &moved, &left))
			return 1;
		printf("%zu enrollment secret(s) resealed under key version "
		       "%lu, %zu left under older keys\n",
		    moved, ver, left);
		return left == 0 ? 0 : 1;
	}
	if (argc >= 2 && strcmp(argv[1], "list") == 0) {
		if (!cli_need_db(c))
			return 1;
		if (db_secret_list(c->db, &list, &n) < 0) {
			log_err("%s", db_error(c->db));
			return 1;
		}
		for (i = 0; i < n; i++)
			printf("%s\tprofile=%s\tuses_left=%d\tsubject=%s"
			       "%s%s\n",
			    list[i].ref, list[i].profile, list[i].uses_left,
			    list[i].allowed_subject ? list[i].allowed_subject
						    : "*",
			    list[i].allowed_san ? "\tsan=" : "",
			    list[i].allowed_san ? list[i].allowed_san : "");
		db_secret_array_free(list, n);
		return 0;
	}
	fputs(usage_text, stderr);
	return 2;
}

static int
status_parse(const char *s, enum db_cert_status *st)
{
	enum db_cert_status v;

	for (v = DB_CERT_UNCONFIRMED; v <= DB_CERT_REJECTED; v++)
		if (strcmp(s, db_cert_status_name(v)) == 0) {
			*st = v;
			return 1;
		}
	return 0;
}

/* Lowercase hex without leading zeros, as the inventory stores it. */
static int
serial_norm(const char *in, char *out, size_t outlen)
{
	size_t i, o = 0;

	while (*in == '0' && in[1] != '\0')
		in++;
	for (i = 0; in[i] != '\0'; i++) {
		char ch = in[i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch + 32);
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')) ||
		    o + 1 >= outlen)
			return 0;
		out[o++] = ch;
	}
	out[o] = '\0';
	return o > 0;
}

/* Operator revocation: valid (or unconfirmed) -> revoked, audited. */
static int
cert_revoke(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_label = c->cfg->default_ca;
	char serial[DB_SERIAL_MAX];
	struct db_cert cert;
	struct db_ca ca;
	long reason = 0;
	int o, rc = 1;

	memset(&cert, 0, sizeof(cert));
	memset(&ca, 0, sizeof(ca));
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a')
			ca_label = optarg;
		else if (o == 'r') {
			if (!ca_crl_reason_parse(optarg, &reason)) {
				log_err("--reason is a CRLReason: 0-5, 9 or 10 "
				    "(certificateHold is not supported: a hold "
				    "could not be released)");
				return 2;
			}
		} else
			return 2;
	}
	if (argc < 3 || !serial_norm(argv[2], serial, sizeof(serial))) {
		log_err("cert revoke needs a serial number (hex)");
		return 2;
	}
	if (!cli_need_db(c))
		return 1;
	if (ca_label == NULL || db_ca_get_by_label(c->db, ca_label, &ca) != 1) {
		log_err("no such ca: %s", ca_label ? ca_label : "(none)");
		goto out;
	}
	if (db_cert_get_by_serial(c->db, ca.id, serial, &cert) != 1) {
		log_err("no certificate with serial %s under ca %s", serial,
		    ca.label);
		goto out;
	}
	o = db_cert_set_status(c->db, cert.id,
	    (1u << DB_CERT_VALID) | (1u << DB_CERT_UNCONFIRMED),
	    DB_CERT_REVOKED, (int)reason);
	if (o != 1) {
		log_err(o == 0 ? "certificate %s is not valid (status %s)"
			       : "cannot revoke %s", serial,
		    db_cert_status_name(cert.status));
		goto out;
	}
	if (db_audit_add(c->db, "revoke", ca.id, "cli", serial) < 0)
		log_warn("audit: %s", db_error(c->db));
	printf("certificate %s revoked (reason %ld)\n", serial, reason);
	rc = 0;
out:
	db_cert_clear(&cert);
	db_ca_clear(&ca);
	return rc;
}

static int
cmd_cert(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "status", required_argument, NULL, 's' },
		{ "subject", required_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ "pem", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_label = NULL, *subject = NULL;
	enum db_cert_status st = 0;
	struct db_cert *list = NULL, one;
	struct db_ca ca;
	size_t n = 0, i;
	int o, limit = 100, pem = 0, rc = 1, show;

	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (strcmp(argv[1], "revoke") == 0)
		return cert_revoke(c, argc, argv);
	show = strcmp(argv[1], "show") == 0;
	if (!show && strcmp(argv[1], "list") != 0) {
		fputs(usage_text, stderr);
		return 2;
	}
	optind = show ? 3 : 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			ca_label = optarg;
			break;
		case 's':
			if (!status_parse(optarg, &st)) {
				log_err("status is unconfirmed, valid, revoked "
					"or rejected");
				return 2;
			}
			break;
		case 'j':
			subject = optarg;
			break;
		case 'l':
			limit = (int)strtol(optarg, NULL, 10);
			break;
		case 'p':
			pem = 1;
			break;
		default:
			return 2;
		}
	}
	memset(&ca, 0, sizeof(ca));
	memset(&one, 0, sizeof(one));
	if (!cli_need_db(c))
		return 1;
	if (ca_label == NULL)
		ca_label = c->cfg->default_ca;
	if (ca_label != NULL && db_ca_get_by_label(c->db, ca_label, &ca) != 1) {
		log_err("no such ca: %s", ca_label);
		goto out;
	}
	if (show) {
		char serial[DB_SERIAL_MAX];

		if (argc < 3 || strlen(argv[2]) >= sizeof(serial)) {
			log_err("cert show needs a serial number (hex)");
			rc = 2;
			goto out;
		}
		for (i = 0; argv[2][i] != '\0'; i++)
			serial[i] = (char)(argv[2][i] >= 'A' &&
			    argv[2][i] <= 'F' ? argv[2][i] + 32 : argv[2][i]);
		serial[i] = '\0';
		for (i = 0; serial[i] == '0' && serial[i + 1] != '\0'; i++)
			;
		if (db_cert_get_by_serial(c->db, ca.id, serial + i, &one) !=
		    1) {
			log_err("no certificate with serial %s", argv[2]);
			goto out;
		}
		list = &one;
		n = 1;
	} else if (db_cert_list(c->db, ca.id, st, subject, limit, &list, &n) <
	    0) {
		log_err("%s", db_error(c->db));
		goto out;
	}
	for (i = 0; i < n; i++) {
		char nb[32], na[32];

		strftime(nb, sizeof(nb), "%Y-%m-%dT%H:%M:%SZ",
		    gmtime(&list[i].not_before));
		strftime(na, sizeof(na), "%Y-%m-%dT%H:%M:%SZ",
		    gmtime(&list[i].not_after));
		printf("%s\t%s\t%s\t%s\t%s\t%s\n", list[i].serial,
		    db_cert_status_name(list[i].status), nb, na,
		    list[i].subject, list[i].requester ? list[i].requester
						       : "-");
		if (show && pem) {
			const unsigned char *p = list[i].der;
			X509 *x = d2i_X509(NULL, &p, (long)list[i].der_len);

			if (x != NULL)
				PEM_write_X509(stdout, x);
			X509_free(x);
		}
	}
	rc = 0;
out:
	if (list == &one)
		db_cert_clear(&one);
	else
		db_cert_array_free(list, n);
	db_ca_clear(&ca);
	return rc;
}

static int
cmd_request(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "all", no_argument, NULL, 'l' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_label = NULL, *reason = NULL;
	struct db_pending *list = NULL;
	struct db_ca ca;
	size_t n = 0, i;
	int o, all = 0, rc = 1, approve;
	long long id, ca_id = 0;
	char *end;

	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	optind = strcmp(argv[1], "list") == 0 ? 2 : 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			ca_label = optarg;
			break;
		case 'l':
			all = 1;
			break;
		case 'r':
			reason = optarg;
			break;
		default:
			return 2;
		}
	}
	memset(&ca, 0, sizeof(ca));
	if (!cli_need_db(c))
		return 1;
	if (strcmp(argv[1], "list") == 0) {
		if (ca_label != NULL &&
		    db_ca_get_by_label(c->db, ca_label, &ca) != 1) {
			log_err("no such ca: %s", ca_label);
			return 1;
		}
		if (db_pending_list(c->db, ca.id, all ? 0 : DB_PENDING_PENDING,
			0, &list, &n) < 0) {
			log_err("%s", db_error(c->db));
			db_ca_clear(&ca);
			return 1;
		}
		for (i = 0; i < n; i++) {
			char when[32];

			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
			    gmtime(&list[i].created));
			printf("%lld\t%s\t%s\t%s\t%s\t%s\t%s\n", list[i].id,
			    db_pending_status_name(list[i].status),
			    list[i].kind, when, list[i].subject,
			    list[i].profile, list[i].requester);
		}
		db_pending_array_free(list, n);
		db_ca_clear(&ca);
		return 0;
	}
	approve = strcmp(argv[1], "approve") == 0;
	if ((!approve && strcmp(argv[1], "reject") != 0) || argc < 3) {
		fputs(usage_text, stderr);
		return 2;
	}
	id = strtoll(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || id <= 0) {
		log_err("request id must be a number (see cmpca request list)");
		return 2;
	}
	rc = db_pending_decide(c->db, id,
	    approve ? DB_PENDING_APPROVED : DB_PENDING_REJECTED,
	    approve ? NULL : reason, "cli", &ca_id);
	if (rc < 0) {
		log_err("%s", db_error(c->db));
		return 1;
	}
	if (rc == 0) {
		log_err("request %lld is not pending", id);
		return 1;
	}
	if (db_audit_add(c->db, approve ? "request-approve" : "request-reject",
		ca_id, "cli", argv[2]) < 0)
		log_warn("audit: %s", db_error(c->db));
	printf("request %lld %s\n", id, approve ? "approved" : "rejected");
	return 0;
}

static int
ra_add(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "profile", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *profile = "default";
	struct db_ra ra;
	unsigned int mdlen = 0;
	X509 *x = NULL;
	FILE *f;
	int o, rc = 1, len;

	memset(&ra, 0, sizeof(ra));
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'c')
			file = optarg;
		else if (o == 'p')
			profile = optarg;
		else
			return 2;
	}
	if (argc < 3 || argv[2][0] == '-' || file == NULL ||
	    strlen(argv[2]) >= sizeof(ra.name)) {
		log_err("ra add needs NAME and --cert FILE");
		return 2;
	}
	if (cfg_profile_get(c->cfg, profile) == NULL) {
		log_err("no profile %s in %s", profile, c->cfg->path);
		return 2;
	}
	if ((f = fopen(file, "r")) == NULL ||
	    (x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		if (f != NULL)
			fclose(f);
		log_err("cannot read a PEM certificate from %s", file);
		return 1;
	}
	fclose(f);
	snprintf(ra.name, sizeof(ra.name), "%s", argv[2]);
	snprintf(ra.profile, sizeof(ra.profile), "%s", profile);
	if (!X509_digest(x, EVP_sha256(), ra.cert_sha256, &mdlen) ||
	    (len = i2d_X509(x, &ra.cert)) <= 0)
		goto out;
	ra.cert_len = (size_t)len;
	if ((ra.subject = malloc(512)) == NULL)
		goto out;
	X509_NAME_oneline(X509_get_subject_name(x), ra.subject, 512);
	if (!cli_need_db(c))
		goto out;
	rc = db_ra_insert(c->db, &ra);
	if (rc != 1) {
		log_err(rc == 0 ? "ra %s or its certificate is registered already"
				: "cannot register ra %s", ra.name);
		rc = 1;
		goto out;
	}
	if (db_audit_add(c->db, "ra-add", 0, "cli", ra.name) < 0)
		log_warn("audit: %s", db_error(c->db));
	printf("ra %s registered (%s, profile %s)\n", ra.name, ra.subject,
	    ra.profile);
	rc = 0;
out:
	if (ra.cert != NULL) {
		OPENSSL_free(ra.cert);
		ra.cert = NULL;
	}
	db_ra_clear(&ra);
	X509_free(x);
	return rc;
}

static int
cmd_crl(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "hours", required_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *label = c->cfg->default_ca;
	struct ca_store st = { NULL, 0 };
	struct ca_ident *ca;
	struct db_crl crl;
	long hours = c->cfg->crl_validity;
	char where[CA_CRL_NAME_MAX + 32] = "";
	int o, err = 0, rc;

	if (argc < 2 || strcmp(argv[1], "issue") != 0) {
		fputs(usage_text, stderr);
		return 2;
	}
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a')
			label = optarg;
		else if (o == 'h')
			hours = strtol(optarg, NULL, 10);
		else
			return 2;
	}
	if (hours < 1 || hours > 24 * 366) {
		log_err("--hours must be from 1 to 8784");
		return 2;
	}
	if (label == NULL || !cli_need_db(c) || !cli_need_hsm(c))
		return label == NULL ? 2 : 1;
	if ((ca = ca_store_get(&st, c->db, c->hsm, label, &err)) == NULL) {
		log_err("no usable ca %s", label);
		ca_store_clear(&st);
		return 1;
	}
	rc = crl_issue(c->db, ca, hours, c->cfg->crl_dir, &crl);
	/* The file is named by the key, not the label (ca_crl_name). */
	if (c->cfg->crl_dir != NULL)
		snprintf(where, sizeof(where), ", file %s.crl%s", ca->crl_name,
		    rc < 0 ? " not written (stored)" : "");
	if (rc != 0)
		printf("ca %s: CRL %lld, %d entries, next update in %ld h%s\n",
		    label, crl.number, crl.entries, hours, where);
	/* Every CRL checkpoints the audit chain (a failure is logged: the
	 * CRL stands, the next checkpoint covers the rows). */
	if (rc != 0)
		(void)audit_checkpoint(c->db, c->hsm, "crl");
	db_crl_clear(&crl);
	ca_store_clear(&st);
	return rc == 1 ? 0 : 1;
}

static int
cmd_ra(struct ctx *c, int argc, char **argv)
{
	struct db_ra *list = NULL;
	size_t n = 0, i;
	int rc;

	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return ra_add(c, argc, argv);
	if (!cli_need_db(c))
		return 1;
	if (argc >= 2 && strcmp(argv[1], "list") == 0) {
		if (db_ra_list(c->db, &list, &n) < 0) {
			log_err("%s", db_error(c->db));
			return 1;
		}
		for (i = 0; i < n; i++)
			printf("%s\t%s\tprofile=%s\n", list[i].name,
			    list[i].subject, list[i].profile);
		db_ra_array_free(list, n);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "remove") == 0) {
		rc = db_ra_delete(c->db, argv[2]);
		if (rc != 1) {
			log_err(rc == 0 ? "no ra %s" : "cannot remove ra %s",
			    argv[2]);
			return 1;
		}
		if (db_audit_add(c->db, "ra-remove", 0, "cli", argv[2]) < 0)
			log_warn("audit: %s", db_error(c->db));
		printf("ra %s removed\n", argv[2]);
		return 0;
	}
	fputs(usage_text, stderr);
	return 2;
}

/* ocsp signer: a delegated OCSP signer for a CA (ocsp_signer.c). */
static int
cmd_ocsp(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "days", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_label = NULL;
	char serial[DB_SERIAL_MAX], until[32], *end;
	struct db_ca ca;
	struct tm tm;
	X509 *x = NULL;
	long days = 30;
	int o, rc = 1;

	if (argc < 2 || strcmp(argv[1], "signer") != 0) {
		fputs(usage_text, stderr);
		return 2;
	}
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a')
			ca_label = optarg;
		else if (o == 'd') {
			days = strtol(optarg, &end, 10);
			if (*end != '\0' || days < 1 || days > 3650) {
				log_err("--days must be from 1 to 3650");
				return 2;
			}
		} else
			return 2;
	}
	if (ca_label == NULL) {
		log_err("ocsp signer needs --ca LABEL");
		return 2;
	}
	memset(&ca, 0, sizeof(ca));
	if (!cli_need_db(c) || !cli_need_hsm(c))
		return 1;
	if (db_ca_get_by_label(c->db, ca_label, &ca) != 1) {
		log_err("no such ca: %s", ca_label);
		goto out;
	}
	if (!ocsp_signer_issue(c->db, c->hsm, &ca, days, &x))
		goto out;
	if (!ca_serial_hex(X509_get0_serialNumber(x), serial, sizeof(serial)) ||
	    ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		goto out;
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("ocsp signer for ca %s: serial %s, valid until %s\n", ca.label,
	    serial, until);
	rc = 0;
out:
	X509_free(x);
	db_ca_clear(&ca);
	return rc;
}

/*
 * Top-level commands. Commands kept in their own file (ca/cli_*.c) are
 * declared in cli/cli.h; add one line here and their lines to usage_text.
 */
static const struct command {
	const char *name;
	int (*fn)(struct ctx *, int, char **);
} commands[] = {
	{ "db", cmd_db },
	{ "hsm", cmd_hsm },
	{ "ca", cmd_ca },
	{ "secret", cmd_secret },
	{ "cert", cmd_cert },
	{ "request", cmd_request },
	{ "ra", cmd_ra },
	{ "crl", cmd_crl },
	{ "ocsp", cmd_ocsp },
	{ "partner", cli_partner },
	{ "cross-certify", cli_cross_certify },
	{ "audit", cli_audit },
	{ "status", cli_status },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	const struct command *cmd;
	struct rlimit nocore = { 0, 0 };
	struct ctx c;
	const char *path = NULL;
	int o, rc;

	/* No ptrace or /proc/PID/mem by the same uid, no core file. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    setrlimit(RLIMIT_CORE, &nocore) != 0) {
		fprintf(stderr, "cmpca: cannot disable core dumps: %s\n",
		    strerror(errno));
		return 1;
	}
	memset(&c, 0, sizeof(c));
	log_init("cmpca", 0, LOG_LVL_INFO);
	while ((o = getopt(argc, argv, "+c:h")) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		default:
			fputs(usage_text, o == 'h' ? stdout : stderr);
			return o == 'h' ? 0 : 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fputs(usage_text, stderr);
		return 2;
	}
	if ((c.cfg = cfg_load(path)) == NULL)
		return 1;
	for (cmd = commands; cmd->name != NULL; cmd++)
		if (strcmp(argv[0], cmd->name) == 0)
			break;
	if (cmd->name != NULL)
		rc = cmd->fn(&c, argc, argv);
	else {
		fputs(usage_text, stderr);
		rc = 2;
	}
	db_close(c.db);
	hsm_close(c.hsm);
	cfg_free(c.cfg);
	return rc;
}
