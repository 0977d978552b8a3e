/*
 * cli_ca.c - `cmpca ca`: CA identities. Every key is generated in the HSM
 * and every signature is made there.
 *
 *   ca create LABEL --subject DN [--key T] [--days N]
 *                    [--issuer PARENT [--pathlen N]]
 *       a self-signed root, or a subordinate certified by the local CA
 *       PARENT (its certificate goes into PARENT's inventory, kind 'ca')
 *   ca csr LABEL --subject DN [--key T]
 *       a subordinate of an external CA: the key and a PKCS#10 request
 *       signed in the HSM; the row waits as 'pending' with no certificate
 *   ca import-cert LABEL --cert FILE [--chain FILE]   (cli_ca_import.c)
 *       installs what the external CA returned, after checking it
 *   ca retire LABEL
 *   ca rollover LABEL [--key T] [--days N]   (cli_rollover.c)
 *   ca list | ca export LABEL
 *
 * The chain of an identity (its issuers up to the root) is stored with it
 * (ca.chain) so that responses carry it in extraCerts and caPubs. The
 * certificates are made by cert_build() (ca/issue/cert_build.c).
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "cli/cli.h"
#include "cli/cli_ca.h"
#include "ca/issue/issue.h"

/* A new CA label must be usable in a URL path and as a key label. */
static int
label_ok(const char *label)
{
	if (strlen(label) >= DB_LABEL_MAX || !isalnum((unsigned char)label[0]) ||
	    strspn(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789-_.") != strlen(label)) {
		log_err("bad CA label: a letter or digit, then letters, "
			"digits, '-', '_', '.'");
		return 0;
	}
	return 1;
}

/*
 * Sets row->chain for a subordinate of parent: the parent's certificate,
 * then the parent's own chain. Returns 1 or 0.
 */
static int
sub_chain(struct db_ca *row, const struct db_ca *parent)
{
	size_t n = parent->cert_len + parent->chain_len;

	if ((row->chain = malloc(n)) == NULL)
		return 0;
	memcpy(row->chain, parent->cert, parent->cert_len);
	if (parent->chain_len > 0)
		memcpy(row->chain + parent->cert_len, parent->chain,
		    parent->chain_len);
	row->chain_len = n;
	return 1;
}

/* Generates the key of a new CA in the HSM; *key loaded for signing. */
static int
ca_keygen(struct ctx *c, const char *label, const char *keyspec,
    EVP_PKEY **pub, EVP_PKEY **key, char *uri, size_t urilen)
{
	enum hsm_keytype kt;

	if (!hsm_keytype_parse(keyspec, &kt)) {
		log_err("unknown key type %s", keyspec);
		return 0;
	}
	if (!hsm_keygen(c->hsm, label, kt, pub, uri, urilen)) {
		log_err("key generation failed: %s", hsm_error());
		return 0;
	}
	if ((*key = hsm_key_load(c->hsm, uri)) == NULL) {
		log_err("cannot load the new key: %s", hsm_error());
		return 0;
	}
	return 1;
}

/* Checks what create and csr share; loads db and HSM. Returns 1 or 0. */
static int
new_ca_prepare(struct ctx *c, const struct ca_opts *o, X509_NAME **subj)
{
	struct db_ca row;
	int rc;

	if (!label_ok(o->label))
		return 0;
	if (o->subject == NULL) {
		log_err("ca %s needs --subject", o->label);
		return 0;
	}
	if ((*subj = cli_name_parse(o->subject)) == NULL) {
		log_err("bad subject %s: use /C=../O=../CN=..", o->subject);
		return 0;
	}
	if (!cli_need_db(c) || !cli_need_hsm(c))
		return 0;
	rc = db_ca_get_by_label(c->db, o->label, &row);
	db_ca_clear(&row);
	if (rc != 0) {
		log_err(rc > 0 ? "ca %s already exists" : "database: %s",
		    rc > 0 ? o->label : db_error(c->db));
		return 0;
	}
	return 1;
}

static int
ca_create(struct ctx *c, int argc, char **argv)
{
	struct ca_opts o;
	char uri[HSM_URI_MAX + 1];
	EVP_PKEY *pub = NULL, *key = NULL, *pkey = NULL;
	X509_NAME *subj = NULL;
	X509 *x = NULL, *pcert = NULL;
	struct db_ca row, parent;
	struct ca_ident issuer;
	struct cert_req req;
	int rc = 1, len, pathlen = -1, began = 0;
	time_t cap = 0;

	memset(&req, 0, sizeof(req));
	memset(&row, 0, sizeof(row));
	memset(&parent, 0, sizeof(parent));
	if (!cli_ca_opts_parse(argc, argv, &o))
		return 2;
	if (o.pathlen >= 0 && o.issuer == NULL) {
		log_err("--pathlen applies to subordinates (--issuer)");
		return 2;
	}
	if (!new_ca_prepare(c, &o, &subj))
		goto out;
	if (o.issuer != NULL) {
		if (db_ca_get_by_label(c->db, o.issuer, &parent) != 1) {
			log_err("no such issuer ca: %s", o.issuer);
			goto out;
		}
		if (strcmp(parent.status, "active") != 0) {
			log_err("issuer ca %s is %s", o.issuer, parent.status);
			goto out;
		}
		if ((pcert = cli_ca_row_cert(&parent)) == NULL ||
		    (pathlen = cli_ca_sub_pathlen(pcert, o.pathlen)) < 0)
			goto out;
		if ((pkey = hsm_key_load(c->hsm, parent.key_uri)) == NULL) {
			log_err("cannot load the key of %s: %s", o.issuer,
			    hsm_error());
			goto out;
		}
		/* Inside the parent's validity (RFC 5280 §6.1.3 checks it). */
		cap = ca_time_of(X509_get0_notAfter(pcert));
	}
	if (!ca_keygen(c, o.label, o.keyspec, &pub, &key, uri, sizeof(uri)))
		goto out;
	req.kind = pcert != NULL ? CERT_CA_SUB : CERT_CA_ROOT;
	req.subject = subj;
	req.pubkey = pub;
	req.days = o.days;
	req.cap = cap;
	req.pathlen = pathlen;
	cert_issuer_init(&issuer, pcert != NULL ? o.issuer : o.label, pcert,
	    pcert != NULL ? pkey : key);
	if ((x = cert_build(c->hsm, &issuer, &req)) == NULL)
		goto out;
	snprintf(row.label, sizeof(row.label), "%s", o.label);
	snprintf(row.status, sizeof(row.status), "active");
	if ((row.key_uri = strdup(uri)) == NULL ||
	    (len = i2d_X509(x, &row.cert)) <= 0 ||
	    (pcert != NULL && !sub_chain(&row, &parent)))
		goto out;
	row.cert_len = (size_t)len;
	if (db_begin(c->db) != 1)
		goto dberr;
	began = 1;
	if (db_ca_insert(c->db, &row) != 1 ||
	    db_audit_add(c->db, "ca-create", row.id, "cli", uri) != 1)
		goto dberr;
	if (pcert != NULL && !cli_ca_inventory_add(c->db, parent.id, x))
		goto out;
	if (db_commit(c->db) != 1)
		goto dberr;
	began = 0;
	if (pcert != NULL)
		printf("ca %s created, issued by %s, key %s\n", o.label,
		    o.issuer, uri);
	else
		printf("ca %s created, key %s\n", o.label, uri);
	/* Issue 32, no silent half-set-up CA: status fails until then. */
	fprintf(stderr, "next: cmpca ocsp signer --ca %s (until then /ocsp "
	    "answers unauthorized and cmpca status fails)\n", o.label);
	rc = 0;
	goto out;
dberr:
	log_err("cannot store ca %s: %s", o.label, db_error(c->db));
out:
	if (began)
		db_rollback(c->db);
	if (rc != 0 && pub != NULL)
		log_err("key %s stays in the token unused", uri);
	/* row.cert came from i2d_X509 (OPENSSL_malloc, which is malloc). */
	db_ca_clear(&row);
	db_ca_clear(&parent);
	X509_free(x);
	X509_free(pcert);
	X509_NAME_free(subj);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pkey);
	return rc;
}

/* A PKCS#10 request for a CA key, signed in the HSM. NULL on error. */
static X509_REQ *
csr_new(const X509_NAME *subj, EVP_PKEY *pub, EVP_PKEY *key)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *e;
	EVP_MD_CTX *mctx = NULL;
	int ok = 0;

	if (req == NULL || exts == NULL ||
	    !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(req, subj) ||
	    !X509_REQ_set_pubkey(req, pub))
		goto out;
	/* What we ask for; the external CA decides. */
	if ((e = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints,
		 "critical,CA:TRUE")) == NULL ||
	    !sk_X509_EXTENSION_push(exts, e)) {
		X509_EXTENSION_free(e);
		goto out;
	}
	if ((e = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
		 "critical,keyCertSign,cRLSign,digitalSignature")) == NULL ||
	    !sk_X509_EXTENSION_push(exts, e)) {
		X509_EXTENSION_free(e);
		goto out;
	}
	if (!X509_REQ_add_extensions(req, exts) ||
	    (mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, NULL, ca_sign_md(key), NULL, key) != 1 ||
	    X509_REQ_sign_ctx(req, mctx) <= 0)
		goto out;
	ok = 1;
out:
	EVP_MD_CTX_free(mctx);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (!ok) {
		log_openssl_errors(1);
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

static int
ca_csr(struct ctx *c, int argc, char **argv)
{
	struct ca_opts o;
	char uri[HSM_URI_MAX + 1];
	EVP_PKEY *pub = NULL, *key = NULL;
	X509_NAME *subj = NULL;
	X509_REQ *req = NULL;
	struct db_ca row;
	int rc = 1, len;

	memset(&row, 0, sizeof(row));
	if (!cli_ca_opts_parse(argc, argv, &o))
		return 2;
	if (o.issuer != NULL || o.pathlen >= 0) {
		log_err("ca csr: the external CA chooses issuer and pathLen");
		return 2;
	}
	if (!new_ca_prepare(c, &o, &subj) ||
	    !ca_keygen(c, o.label, o.keyspec, &pub, &key, uri, sizeof(uri)) ||
	    (req = csr_new(subj, pub, key)) == NULL)
		goto out;
	snprintf(row.label, sizeof(row.label), "%s", o.label);
	snprintf(row.status, sizeof(row.status), "pending");
	if ((row.key_uri = strdup(uri)) == NULL ||
	    (len = i2d_X509_REQ(req, &row.csr)) <= 0)
		goto out;
	row.csr_len = (size_t)len;
	if (db_ca_insert(c->db, &row) != 1 ||
	    db_audit_add(c->db, "ca-csr", row.id, "cli", uri) != 1) {
		log_err("cannot store ca %s: %s", o.label, db_error(c->db));
		goto out;
	}
	if (!PEM_write_X509_REQ(stdout, req))
		goto out;
	fprintf(stderr, "ca %s pending, key %s: have the request signed, "
			"then run cmpca ca import-cert %s --cert FILE\n",
	    o.label, uri, o.label);
	rc = 0;
out:
	if (rc != 0 && pub != NULL)
		log_err("key %s stays in the token unused", uri);
	db_ca_clear(&row);
	X509_REQ_free(req);
	X509_NAME_free(subj);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(key);
	return rc;
}

static int
ca_retire(struct ctx *c, int argc, char **argv)
{
	struct db_ca row;
	int rc;

	if (argc < 3) {
		log_err("ca retire needs a LABEL");
		return 2;
	}
	if (!cli_need_db(c))
		return 1;
	if (db_ca_get_by_label(c->db, argv[2], &row) != 1) {
		log_err("no such ca: %s", argv[2]);
		db_ca_clear(&row);
		return 1;
	}
	rc = db_ca_retire(c->db, row.id);
	if (rc != 1) {
		log_err(rc == 0 ? "ca %s is %s, not active" : "cannot retire "
			"ca %s", row.label, row.status);
		db_ca_clear(&row);
		return 1;
	}
	if (db_audit_add(c->db, "ca-retire", row.id, "cli", row.label) < 0)
		log_warn("audit: %s", db_error(c->db));
	printf("ca %s retired: it issues nothing more; its CRLs can still "
	       "be issued (cmpca crl issue --ca %s)\n", row.label, row.label);
	db_ca_clear(&row);
	return 0;
}

static int
ca_list(struct ctx *c)
{
	struct db_ca *cas = NULL;
	size_t n = 0, i;
	X509 *x;

	if (db_ca_list(c->db, &cas, &n) < 0) {
		log_err("%s", db_error(c->db));
		return 1;
	}
	for (i = 0; i < n; i++) {
		char subj[512] = "-";
		const unsigned char *p = cas[i].csr;
		X509_REQ *req = NULL;

		if ((x = cli_ca_row_cert(&cas[i])) != NULL)
			X509_NAME_oneline(X509_get_subject_name(x), subj,
			    sizeof(subj));
		else if (p != NULL &&
		    (req = d2i_X509_REQ(NULL, &p, (long)cas[i].csr_len)) !=
			NULL)
			X509_NAME_oneline(X509_REQ_get_subject_name(req), subj,
			    sizeof(subj));
		printf("%s\t%s\t%s\t%s\n", cas[i].label, cas[i].status, subj,
		    cas[i].key_uri);
		X509_free(x);
		X509_REQ_free(req);
	}
	db_ca_array_free(cas, n);
	return 0;
}

/* ca export LABEL: the certificate, then its chain, PEM. */
static int
ca_export(struct ctx *c, const char *label)
{
	struct db_ca row;
	STACK_OF(X509) *sk = NULL;
	X509 *x = NULL;
	int rc = 1, i;

	if (db_ca_get_by_label(c->db, label, &row) != 1) {
		log_err("no such ca: %s", label);
		goto out;
	}
	if ((x = cli_ca_row_cert(&row)) == NULL) {
		log_err("ca %s has no certificate (status %s)", label,
		    row.status);
		goto out;
	}
	if ((sk = sk_X509_new_null()) == NULL ||
	    (row.chain != NULL &&
		!ca_chain_parse(row.chain, row.chain_len, sk)) ||
	    !PEM_write_X509(stdout, x))
		goto out;
	for (i = 0; i < sk_X509_num(sk); i++)
		if (!PEM_write_X509(stdout, sk_X509_value(sk, i)))
			goto out;
	rc = 0;
out:
	sk_X509_pop_free(sk, X509_free);
	X509_free(x);
	db_ca_clear(&row);
	return rc;
}

/* cmpca ca ...: see the file comment. */
int
cmd_ca(struct ctx *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct ctx *, int, char **);
	} subs[] = {
		{ "create", ca_create },
		{ "csr", ca_csr },
		{ "import-cert", cli_ca_import_cert },
		{ "sign-csr", cli_ca_sign_csr },
		{ "retire", ca_retire },
		{ "rollover", cli_ca_rollover },
		{ "upstream", cli_ca_upstream },
		{ "archival-key", cli_ca_archival_key },
	};
	size_t i;

	for (i = 0; argc >= 2 && i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(c, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return cli_need_db(c) ? ca_list(c) : 1;
	if (argc >= 3 && strcmp(argv[1], "export") == 0)
		return cli_need_db(c) ? ca_export(c, argv[2]) : 1;
	fputs(cli_usage(), stderr);
	return 2;
}
