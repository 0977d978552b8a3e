/*
 * ocsp_signer.c - delegated OCSP signing certificates (RFC 6960
 * §4.2.2.2): a key generated in the HSM and a certificate the CA signs
 * with id-kp-OCSPSigning and id-pkix-ocsp-nocheck (§4.2.2.2.1), so that
 * relying parties need no revocation check of the signer itself. Short
 * validity (30 days by default) makes up for nocheck.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"
#include "ca/status/status.h"

/* Suffix appended to the CA's common name. */
#define SIGNER_CN_SUFFIX " OCSP Signer"

/*
 * The signer's subject: the CA subject with " OCSP Signer" appended to
 * its (last) commonName, or a commonName "OCSP Signer" added when it has
 * none. NULL on error.
 */
static X509_NAME *
signer_name(const X509_NAME *ca_name)
{
	X509_NAME *n = X509_NAME_dup(ca_name);
	X509_NAME_ENTRY *e;
	ASN1_STRING *v;
	unsigned char *utf8 = NULL;
	char *cn = NULL;
	int i, len;

	if (n == NULL)
		return NULL;
	i = -1;
	for (int j = X509_NAME_get_index_by_NID(n, NID_commonName, -1); j >= 0;
	     j = X509_NAME_get_index_by_NID(n, NID_commonName, j))
		i = j;
	if (i < 0) {
		if (!X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
			(const unsigned char *)"OCSP Signer", -1, -1, 0))
			goto fail;
		return n;
	}
	e = X509_NAME_get_entry(n, i);
	v = X509_NAME_ENTRY_get_data(e);
	if ((len = ASN1_STRING_to_UTF8(&utf8, v)) < 0)
		goto fail;
	/* ub-common-name is 64 characters (RFC 5280 Appendix A.1). */
	if ((size_t)len + strlen(SIGNER_CN_SUFFIX) > 64)
		len = 64 - (int)strlen(SIGNER_CN_SUFFIX);
	if ((cn = malloc((size_t)len + sizeof(SIGNER_CN_SUFFIX))) == NULL)
		goto fail;
	memcpy(cn, utf8, (size_t)len);
	memcpy(cn + len, SIGNER_CN_SUFFIX, sizeof(SIGNER_CN_SUFFIX));
	/* Replaced, not edited in place: the name caches its encoding. */
	X509_NAME_ENTRY_free(X509_NAME_delete_entry(n, i));
	if (!X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
		(const unsigned char *)cn, -1, i, 0))
		goto fail;
	OPENSSL_free(utf8);
	free(cn);
	return n;
fail:
	OPENSSL_free(utf8);
	free(cn);
	X509_NAME_free(n);
	return NULL;
}

/*
 * The signer certificate for pub, issued by cacert and signed by cakey in
 * the HSM (cert_build: id-kp-OCSPSigning, ocsp-nocheck). NULL on error.
 */
static X509 *
signer_cert_new(struct hsm *hsm, const char *label, X509 *cacert,
    EVP_PKEY *cakey, EVP_PKEY *pub, long days)
{
	struct ca_ident issuer;
	struct cert_req req = { .kind = CERT_OCSP, .pubkey = pub,
		.days = days };
	X509_NAME *subj;
	X509 *x;

	if ((subj = signer_name(X509_get_subject_name(cacert))) == NULL)
		return NULL;
	req.subject = subj;
	cert_issuer_init(&issuer, label, cacert, cakey);
	x = cert_build(hsm, &issuer, &req);
	X509_NAME_free(subj);
	return x;
}

/* ocsp_signer_issue, in its own database transaction when own_txn. */
static int
signer_make(struct db *db, struct hsm *hsm, const struct db_ca *ca,
    long days, X509 **out, int own_txn)
{
	const unsigned char *p = ca->cert;
	struct db_ocsp_signer sig;
	struct db_cert row;
	EVP_PKEY *cakey = NULL, *pub = NULL, *key = NULL;
	X509 *cacert = NULL, *x = NULL;
	enum hsm_keytype kt;
	unsigned char rnd[4];
	char label[DB_LABEL_MAX + 32], uri[HSM_URI_MAX + 1], stamp[16];
	time_t now = time(NULL);
	int rc = 0, len, began = 0;

	memset(&sig, 0, sizeof(sig));
	memset(&row, 0, sizeof(row));
	if (out != NULL)
		*out = NULL;
	if (strcmp(ca->status, "active") != 0) {
		log_err("ca %s is %s: no new OCSP signer", ca->label,
		    ca->status);
		goto out;
	}
	if ((cacert = d2i_X509(NULL, &p, (long)ca->cert_len)) == NULL) {
		log_err("ca %s: stored certificate does not decode", ca->label);
		goto out;
	}
	if ((cakey = hsm_key_load(hsm, ca->key_uri)) == NULL) {
		log_err("ca %s: cannot load key %s: %s", ca->label, ca->key_uri,
		    hsm_error());
		goto out;
	}
	kt = EVP_PKEY_get_base_id(cakey) == EVP_PKEY_EC ? HSM_KEY_EC_P256
							 : HSM_KEY_RSA2048;
	/* A fresh label per signer: hsm_keygen refuses existing labels. */
	if (!hsm_random(hsm, rnd, sizeof(rnd))) {
		log_err("hsm: %s", hsm_error());
		goto out;
	}
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", gmtime(&now));
	snprintf(label, sizeof(label), "%s-ocsp-%s-%02x%02x%02x%02x",
	    ca->label, stamp, rnd[0], rnd[1], rnd[2], rnd[3]);
	if (!hsm_keygen(hsm, label, kt, &pub, uri, sizeof(uri))) {
		log_err("key generation failed: %s", hsm_error());
		goto out;
	}
	/* The new key must sign in the token; checked before we rely on it. */
	if ((key = hsm_key_load(hsm, uri)) == NULL) {
		log_err("cannot load the new key: %s", hsm_error());
		goto out;
	}
	if ((x = signer_cert_new(hsm, ca->label, cacert, cakey, pub,
		 days)) == NULL) {
		log_err("cannot build the OCSP signer certificate");
		goto out;
	}
	if (!ca_cert_to_row(x, &row)) {
		log_err("cannot describe the OCSP signer certificate");
		goto out;
	}
	row.ca_id = ca->id;
	row.status = DB_CERT_VALID;
	row.reason = -1;
	if ((row.profile = strdup("ocsp-signer")) == NULL ||
	    (row.requester = strdup("cli")) == NULL ||
	    (sig.key_uri = strdup(uri)) == NULL)
		goto out;
	len = i2d_X509(x, &sig.cert);
	if (len <= 0)
		goto out;
	sig.cert_len = (size_t)len;
	sig.ca_id = ca->id;
	if (own_txn && db_begin(db) != 1)
		goto dberr;
	began = own_txn;
	if ((len = db_cert_insert(db, &row)) != 1) {
		if (len == 0)
			log_err("serial number collision, try again");
		else
			goto dberr;
		goto out;
	}
	if (db_ocsp_signer_insert(db, &sig) != 1 ||
	    db_audit_add(db, "ocsp-signer", ca->id, "cli", uri) != 1 ||
	    (own_txn && db_commit(db) != 1))
		goto dberr;
	began = 0;
	if (out != NULL) {
		*out = x; /* transfer to the caller */
		x = NULL;
	}
	rc = 1;
	goto out;
dberr:
	log_err("cannot store the OCSP signer: %s", db_error(db));
out:
	if (began)
		db_rollback(db);
	if (!rc && pub != NULL)
		log_err("key %s stays in the token unused", uri);
	db_cert_clear(&row);
	/* sig.cert came from i2d_X509 (OPENSSL_malloc, which is malloc). */
	db_ocsp_signer_clear(&sig);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(key);
	X509_free(cacert);
	X509_free(x);
	return rc;
}

/* See status.h. */
int
ocsp_signer_issue(struct db *db, struct hsm *hsm, const struct db_ca *ca,
    long days, X509 **out)
{
	return signer_make(db, hsm, ca, days, out, 1);
}

/* See status.h. */
int
ocsp_signer_issue_in(struct db *db, struct hsm *hsm, const struct db_ca *ca,
    long days)
{
	return signer_make(db, hsm, ca, days, NULL, 0);
}

/* See status.h. */
int
ocsp_signer_check(struct db *db, struct hsm *hsm, const struct db_ca *ca,
    time_t now, char *detail, size_t len, time_t *until)
{
	struct db_ocsp_signer sig;
	const unsigned char *p;
	struct tm tm;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	int rc;

	*until = 0;
	memset(&sig, 0, sizeof(sig));
	if ((rc = db_ocsp_signer_latest(db, ca->id, &sig)) < 0) {
		snprintf(detail, len, "%s", db_error(db));
		return -1;
	}
	if (rc == 0) {
		snprintf(detail, len, "no OCSP signer: /ocsp answers "
		    "unauthorized for this CA (run cmpca ocsp signer --ca %s)",
		    ca->label);
		return 0;
	}
	rc = 0;
	p = sig.cert;
	if ((x = d2i_X509(NULL, &p, (long)sig.cert_len)) == NULL ||
	    ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
		snprintf(detail, len, "signer %lld: certificate unreadable "
		    "(run cmpca ocsp signer --ca %s)", sig.id, ca->label);
		goto out;
	}
	*until = timegm(&tm);
	if (*until <= now) {
		char t[32];

		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(detail, len, "signer %lld expired %s: /ocsp answers "
		    "tryLater (run cmpca ocsp signer --ca %s)", sig.id, t,
		    ca->label);
		goto out;
	}
	if (hsm != NULL && ((k = hsm_key_load(hsm, sig.key_uri)) == NULL ||
	    X509_check_private_key(x, k) != 1)) {
		snprintf(detail, len, "signer %lld: key %s not usable in the "
		    "HSM (run cmpca ocsp signer --ca %s)", sig.id, sig.key_uri,
		    ca->label);
		goto out;
	}
	snprintf(detail, len, "signer %lld", sig.id);
	rc = 1;
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	db_ocsp_signer_clear(&sig);
	return rc;
}
