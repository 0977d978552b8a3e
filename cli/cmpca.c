/*
 * cmpca - the operator's command line: database migrations, CA identities
 * (keys generated in the HSM), enrollment secrets and the certificate
 * inventory. Uses the same configuration, HSM and database as cmpcad.
 *
 * This file holds main(), the command table, the usage text and the
 * context every command shares (database and HSM opened on first use);
 * each command group lives in its own cli/cli_<group>.c.
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

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"
#include "cli/cli.h"

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

/*
 * Top-level commands, each in its own file (cli/cli_*.c) and declared in
 * cli/cli.h; a new one gets a line here and its lines in usage_text.
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
