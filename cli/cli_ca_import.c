/*
 * cli_ca_import.c - `cmpca ca import-cert LABEL --cert FILE [--chain
 * FILE]`: installs the certificate an external CA returned for a pending
 * identity (`ca csr`, cli_ca.c), after checking it: the HSM key, a CA
 * certificate, the requested subject, a chain to a self-signed root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "cli/cli.h"
#include "cli/cli_ca.h"

/* Reads every PEM certificate of path into a new stack; NULL if none. */
static STACK_OF(X509) *
pem_certs_read(const char *path)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	FILE *f = fopen(path, "r");
	X509 *x;

	if (sk == NULL || f == NULL)
		goto fail;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto fail;
		}
	ERR_clear_error(); /* the end of the file */
	fclose(f);
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
fail:
	if (f != NULL)
		fclose(f);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

/*
 * Proves the HSM key behind key_uri and the certificate's public key are
 * one pair: the token signs a random challenge that the certificate's key
 * verifies. Returns 1, 0 (mismatch), -1.
 */
static int
key_matches(struct ctx *c, const char *key_uri, X509 *x)
{
	EVP_PKEY *key = hsm_key_load(c->hsm, key_uri);
	EVP_MD_CTX *mctx = NULL;
	unsigned char msg[32], sig[1024];
	size_t siglen = sizeof(sig);
	int rc = -1;

	if (key == NULL) {
		log_err("cannot load key %s: %s", key_uri, hsm_error());
		return -1;
	}
	if (!hsm_random(c->hsm, msg, sizeof(msg)) ||
	    (mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(mctx, sig, &siglen, msg, sizeof(msg)) != 1)
		goto out;
	EVP_MD_CTX_free(mctx);
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL,
		X509_get0_pubkey(x)) != 1) {
		rc = 0; /* e.g. an RSA certificate for an EC key */
		goto out;
	}
	rc = EVP_DigestVerify(mctx, sig, siglen, msg, sizeof(msg)) == 1;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(key);
	return rc;
}

/*
 * Verifies x up to a self-signed root among chain (which must hold one).
 * On success *issuers holds the issuers of x, nearest first, the root
 * last. Returns 1 or 0 (logged).
 */
static int
chain_verify(X509 *x, STACK_OF(X509) *chain, STACK_OF(X509) **issuers)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	STACK_OF(X509) *got = NULL;
	int i, roots = 0, ok = 0;

	*issuers = NULL;
	if (st == NULL || vctx == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *y = sk_X509_value(chain, i);

		if (X509_self_signed(y, 1) == 1) {
			if (!X509_STORE_add_cert(st, y))
				goto out;
			roots++;
		}
	}
	if (roots == 0) {
		log_err("the chain has no self-signed root: give the issuers "
			"up to the root with --chain");
		goto out;
	}
	if (!X509_STORE_CTX_init(vctx, st, x, chain))
		goto out;
	if (X509_verify_cert(vctx) != 1) {
		log_err("the certificate does not verify up to a root of the "
			"chain: %s", X509_verify_cert_error_string(
				X509_STORE_CTX_get_error(vctx)));
		goto out;
	}
	if ((got = X509_STORE_CTX_get1_chain(vctx)) == NULL)
		goto out;
	X509_free(sk_X509_shift(got)); /* x itself */
	*issuers = got;
	ok = 1;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(st);
	return ok;
}

/*
 * Checks the certificate an external CA returned for the pending row:
 * the HSM key, a CA certificate, the requested subject, a chain to a
 * root. Returns 1 and the issuers (*issuers), or 0 (logged).
 */
static int
import_check(struct ctx *c, const struct db_ca *row, X509 *x,
    STACK_OF(X509) *chain, STACK_OF(X509) **issuers)
{
	const unsigned char *p = row->csr;
	X509_REQ *req = NULL;
	int ok = 0, rc;

	if ((req = d2i_X509_REQ(NULL, &p, (long)row->csr_len)) == NULL) {
		log_err("ca %s: stored request does not decode", row->label);
		goto out;
	}
	if ((rc = key_matches(c, row->key_uri, x)) != 1) {
		if (rc == 0)
			log_err("the certificate's public key is not the key of "
				"ca %s (%s)", row->label, row->key_uri);
		goto out;
	}
	if ((X509_get_extension_flags(x) & EXFLAG_CA) == 0 ||
	    (X509_get_extension_flags(x) & EXFLAG_KUSAGE) == 0 ||
	    (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) == 0) {
		log_err("not a CA certificate: it needs basicConstraints cA "
			"and keyUsage keyCertSign");
		goto out;
	}
	if (X509_NAME_cmp(X509_get_subject_name(x),
		X509_REQ_get_subject_name(req)) != 0) {
		char want[256], got[256];

		X509_NAME_oneline(X509_REQ_get_subject_name(req), want,
		    sizeof(want));
		X509_NAME_oneline(X509_get_subject_name(x), got, sizeof(got));
		log_err("the certificate's subject %s is not the requested %s",
		    got, want);
		goto out;
	}
	ok = chain_verify(x, chain, issuers);
out:
	X509_REQ_free(req);
	return ok;
}

/* See cli_ca.h. */
int
cli_ca_import_cert(struct ctx *c, int argc, char **argv)
{
	struct ca_opts o;
	struct db_ca row;
	STACK_OF(X509) *certs = NULL, *chain = NULL, *issuers = NULL;
	unsigned char *der = NULL, *blob = NULL;
	size_t blob_len = 0;
	X509 *x;
	int rc = 1, len;

	memset(&row, 0, sizeof(row));
	if (!cli_ca_opts_parse(argc, argv, &o))
		return 2;
	if (o.cert_file == NULL) {
		log_err("ca import-cert needs --cert FILE");
		return 2;
	}
	if ((certs = pem_certs_read(o.cert_file)) == NULL) {
		log_err("cannot read a PEM certificate from %s", o.cert_file);
		return 1;
	}
	x = sk_X509_value(certs, 0);
	if (o.chain_file != NULL &&
	    (chain = pem_certs_read(o.chain_file)) == NULL) {
		log_err("cannot read PEM certificates from %s", o.chain_file);
		goto out;
	}
	/* Certificates after the first in --cert count as chain too. */
	if (chain == NULL && (chain = sk_X509_new_null()) == NULL)
		goto out;
	while (sk_X509_num(certs) > 1)
		if (!sk_X509_push(chain, sk_X509_pop(certs)))
			goto out;
	if (!cli_need_db(c) || !cli_need_hsm(c))
		goto out;
	if (db_ca_get_by_label(c->db, o.label, &row) != 1) {
		log_err("no such ca: %s", o.label);
		goto out;
	}
	if (strcmp(row.status, "pending") != 0 || row.csr == NULL) {
		log_err("ca %s is %s, not pending: nothing to import", o.label,
		    row.status);
		goto out;
	}
	if (!import_check(c, &row, x, chain, &issuers))
		goto out;
	if ((len = i2d_X509(x, &der)) <= 0 ||
	    !ca_chain_encode(issuers, 0, &blob, &blob_len))
		goto out;
	if ((len = db_ca_activate(c->db, row.id, der, (size_t)len, blob,
		 blob_len)) != 1) {
		log_err(len == 0 ? "ca %s is no longer pending"
				 : "cannot store ca %s", o.label);
		goto out;
	}
	if (db_audit_add(c->db, "ca-import-cert", row.id, "cli", o.cert_file) <
	    0)
		log_warn("audit: %s", db_error(c->db));
	printf("ca %s active, chain of %d certificate(s) to the root\n",
	    o.label, sk_X509_num(issuers));
	fprintf(stderr, "next: cmpca ocsp signer --ca %s (until then /ocsp "
	    "answers unauthorized and cmpca status fails)\n", o.label);
	rc = 0;
out:
	OPENSSL_free(der);
	free(blob);
	sk_X509_pop_free(issuers, X509_free);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(certs, X509_free);
	db_ca_clear(&row);
	return rc;
}
