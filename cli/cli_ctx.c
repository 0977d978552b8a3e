/*
 * cli_ctx.c - what every command of cmpca shares: the usage text, the
 * database and HSM opened on first use, name and certificate file
 * parsing. Below every command file and main() (cmpca.c), so no command
 * calls back into the dispatcher.
 */
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/pem.h>

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
    "  ca sign-csr PARENT --csr FILE [--days N] [--pathlen N]\n"
    "                                      certify another host's `ca csr`"
    "\n"
    "                                      (an offline root); PEM on stdout\n"
    "  ca import-cert LABEL --cert FILE [--chain FILE]  install the "
    "external\n"
    "                                      CA's certificate and chain\n"
    "  ca retire LABEL                     stop issuing (CRLs still work)\n"
    "  ca rollover LABEL [--key TYPE] [--days N]  new root key "
    "(RFC 9810 §4.4)\n"
    "  ca upstream LABEL --url URL --ca-cert FILE [--tls-trusted FILE]\n"
    "            (--ref REF --secret-file F | --sign-ca CA [--nested])\n"
    "                                      cmpca as an RA: requests to LABEL\n"
    "                                      go to the CA at URL (MAC, or\n"
    "                                      signed with CA's key; --nested:\n"
    "                                      MAC-protected ones nested too)\n"
    "  ca archival-key LABEL               the CA's key-archival key in "
    "the HSM\n"
    "                                      (key ceremony; archive_keys)\n"
    "  ca list                             CA identities\n"
    "  ca export LABEL                     CA certificate and chain, PEM\n"
    "  secret add REF [--subject DN] [--san PATTERNS] [--uses N] [--days N]\n"
    "             [--profile P] [--ca LABEL] [--secret-file F]\n"
    "                                      prints the secret once\n"
    "  secret list                         references and limits\n"
    "  secret disable|enable REF           refuse a secret like an unknown\n"
    "                                      one (audited), or again accept it\n"
    "  secret remove REF                   delete it (audited)\n"
    "  secret reseal [--new-key]           seal every secret again under the\n"
    "                                      current (with --new-key: a new)\n"
    "                                      sealing key version\n"
    "  cert list [--ca LABEL] [--status S] [--subject TEXT] [--limit N]\n"
    "  cert show SERIAL [--ca LABEL] [--pem]\n"
    "  cert revoke SERIAL [--ca LABEL] [--reason N] [--cascade]\n"
    "                                      operator revocation (CRLReason,\n"
    "                                      default 0; 6 certificateHold; a\n"
    "                                      hold revoked again is permanent);\n"
    "                                      --cascade: and what was obtained\n"
    "                                      with it, recursively\n"
    "  cert release SERIAL [--ca LABEL]   end a hold: valid again "
    "(removeFromCRL)\n"
    "  request list [--ca LABEL] [--all]  requests waiting for a decision\n"
    "  request approve ID                  issue at the client's next poll\n"
    "  request reject ID [--reason TEXT]   refuse at the client's next poll\n"
    "  key request SERIAL [--ca LABEL]     ask to recover an archived "
    "key\n"
    "  key approve ID | key reject ID      decide a recovery (not its "
    "asker)\n"
    "  key recover SERIAL [--ca LABEL] --request ID --out FILE\n"
    "            (--password-file F | --to CERT) [--format der|pem|pkcs8]\n"
    "                                      the approved key, once: CMS\n"
    "                                      EnvelopedData (to the password or\n"
    "                                      the certificate's RSA/EC key) of\n"
    "                                      the CA's SignedData; pkcs8:\n"
    "                                      PKCS#8 under the password\n"
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
    "                                      the audit log, newest first\n"
    "  audit verify [--since TIME] [--anchor FILE]  recompute the audit "
    "chain, check\n"
    "                                      checkpoints (and anchors), "
    "certificate\n"
    "                                      statuses, the database's "
    "safeguards\n"
    "  audit key [--label L] [--key TYPE]  the audit key in the HSM\n"
    "  audit checkpoint                    link the audit rows, sign the "
    "head now\n"
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
	c->hsm = hsm_open_args(c->cfg->pkcs11_module, c->cfg->token_label,
	    c->cfg->pin_file, c->cfg->pkcs11_init_args);
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

/* See cli/cli.h. */
X509 *
cli_cert_read(const char *path)
{
	BIO *b = BIO_new_file(path, "rb");
	X509 *x = NULL;

	if (b == NULL) {
		log_err("cannot read %s", path);
		return NULL;
	}
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x == NULL) {
		ERR_clear_error();
		(void)BIO_reset(b);
		x = d2i_X509_bio(b, NULL);
	}
	BIO_free(b);
	if (x == NULL) {
		ERR_clear_error();
		log_err("%s: not a certificate (PEM or DER)", path);
	}
	return x;
}
