/*
 * cli_ca_sign.c - `cmpca ca sign-csr PARENT --csr FILE [--days N]
 * [--pathlen N]`: a local CA (typically an offline root) certifies a
 * subordinate CA whose key lives elsewhere, from the PKCS#10 request
 * `cmpca ca csr` made on the other host. The request's signature must
 * verify (proof of possession); its subject and key are taken, nothing
 * else: the builder (CERT_CA_SUB) decides every extension, as for
 * `ca create --issuer`. The certificate goes into the parent's inventory
 * (so its CRL can revoke it) and to standard output as PEM, for `ca
 * import-cert` on the other host.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "cli/cli.h"
#include "cli/cli_ca.h"
#include "ca/issue/issue.h"

/* Reads and checks the request: PEM or DER, self-signed. NULL (logged). */
static X509_REQ *
csr_read(const char *path)
{
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		log_err("ca sign-csr: cannot open %s", path);
		return NULL;
	}
	if ((req = PEM_read_X509_REQ(f, NULL, NULL, NULL)) == NULL) {
		ERR_clear_error();
		rewind(f);
		req = d2i_X509_REQ_fp(f, NULL);
	}
	fclose(f);
	if (req == NULL) {
		log_err("ca sign-csr: %s is not a PKCS#10 request", path);
		return NULL;
	}
	if ((pub = X509_REQ_get0_pubkey(req)) == NULL ||
	    X509_REQ_verify(req, pub) != 1) {
		log_err("ca sign-csr: the request's signature does not verify "
			"with its key (no proof of possession)");
		X509_REQ_free(req);
		return NULL;
	}
	if (X509_NAME_entry_count(X509_REQ_get_subject_name(req)) == 0) {
		log_err("ca sign-csr: the request has an empty subject");
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

/* See cli_ca.h. */
int
cli_ca_sign_csr(struct ctx *c, int argc, char **argv)
{
	struct ca_opts o;
	struct db_ca parent;
	struct ca_ident issuer;
	struct cert_req creq;
	X509_REQ *req = NULL;
	X509 *pcert = NULL, *x = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = 1, pathlen, began = 0;

	memset(&parent, 0, sizeof(parent));
	memset(&creq, 0, sizeof(creq));
	if (!cli_ca_opts_parse(argc, argv, &o))
		return 2;
	if (o.csr_file == NULL || o.subject != NULL || o.issuer != NULL) {
		log_err("usage: ca sign-csr PARENT --csr FILE [--days N] "
			"[--pathlen N]");
		return 2;
	}
	if (!cli_need_db(c) || !cli_need_hsm(c))
		return 1;
	if ((req = csr_read(o.csr_file)) == NULL)
		goto out;
	if (db_ca_get_by_label(c->db, o.label, &parent) != 1) {
		log_err("no such ca: %s", o.label);
		goto out;
	}
	if (strcmp(parent.status, "active") != 0) {
		log_err("ca %s is %s", o.label, parent.status);
		goto out;
	}
	if ((pcert = cli_ca_row_cert(&parent)) == NULL ||
	    (pathlen = cli_ca_sub_pathlen(pcert, o.pathlen)) < 0)
		goto out;
	if (EVP_PKEY_eq(X509_get0_pubkey(pcert), X509_REQ_get0_pubkey(req)) ==
	    1) {
		log_err("ca sign-csr: the request carries %s's own key",
		    o.label);
		goto out;
	}
	if (X509_NAME_cmp(X509_get_subject_name(pcert),
		X509_REQ_get_subject_name(req)) == 0) {
		log_err("ca sign-csr: the request names %s itself", o.label);
		goto out;
	}
	if ((pkey = hsm_key_load(c->hsm, parent.key_uri)) == NULL) {
		log_err("cannot load the key of %s: %s", o.label, hsm_error());
		goto out;
	}
	creq.kind = CERT_CA_SUB;
	creq.subject = X509_REQ_get_subject_name(req);
	creq.pubkey = X509_REQ_get0_pubkey(req);
	creq.days = o.days;
	creq.cap = ca_time_of(X509_get0_notAfter(pcert));
	creq.pathlen = pathlen;
	cert_issuer_init(&issuer, o.label, pcert, pkey);
	if ((x = cert_build(c->hsm, &issuer, &creq)) == NULL)
		goto out;
	if (db_begin(c->db) != 1)
		goto dberr;
	began = 1;
	if (!cli_ca_inventory_add(c->db, parent.id, x))
		goto out;
	if (db_commit(c->db) != 1)
		goto dberr;
	began = 0;
	if (PEM_write_X509(stdout, x) != 1 || fflush(stdout) != 0) {
		log_err("ca sign-csr: cannot write the certificate");
		goto out;
	}
	rc = 0;
	goto out;
dberr:
	log_err("cannot store the certificate: %s", db_error(c->db));
out:
	if (began)
		db_rollback(c->db);
	db_ca_clear(&parent);
	X509_REQ_free(req);
	X509_free(pcert);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}
