/*
 * crl.c - CRLs (RFC 5280 §5) from the inventory, signed with the CA key in
 * the HSM: v2, CRL number, authority key identifier, one entry per
 * revoked or rejected unexpired certificate with its revocation date,
 * reason code and, when the revocation request gave one, invalidity date.
 * Stored in the database and written, atomically, to
 * <crl_dir>/<name>.crl (DER) where nginx serves /crl/<name>.crl; the
 * name is the signing key's (ca_crl_name), not the row's label, so that
 * it survives `ca rollover`.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/status/status.h"

/* CAs whose last published CRL number crl_publish() remembers. */
#define CRL_SEEN_MAX 64

struct crl_build {
	X509_CRL *crl;
	int entries;
};

/* Adds one revoked entry. Returns 1 or 0. */
static int
crl_add(void *arg, const char *serial, time_t when, int reason, time_t invalid)
{
	struct crl_build *b = arg;
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_INTEGER *sn = NULL;
	ASN1_TIME *t = NULL;
	ASN1_ENUMERATED *rc = NULL;
	BIGNUM *bn = NULL;
	int ok = 0;

	if (rev == NULL || !BN_hex2bn(&bn, serial) ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    !X509_REVOKED_set_serialNumber(rev, sn) ||
	    (t = ASN1_TIME_set(NULL, when)) == NULL ||
	    !X509_REVOKED_set_revocationDate(rev, t))
		goto out;
	/* reasonCode is omitted for unspecified (RFC 5280 §5.3.1). */
	if (reason > 0) {
		if ((rc = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(rc, reason) ||
		    !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, rc, 0, 0))
			goto out;
	}
	if (invalid != 0) {
		ASN1_GENERALIZEDTIME *g = ASN1_GENERALIZEDTIME_set(NULL, invalid);
		int added = g != NULL && X509_REVOKED_add1_ext_i2d(rev,
		    NID_invalidity_date, g, 0, 0);

		ASN1_GENERALIZEDTIME_free(g);
		if (!added)
			goto out;
	}
	if (!X509_CRL_add0_revoked(b->crl, rev))
		goto out;
	rev = NULL;
	b->entries++;
	ok = 1;
out:
	X509_REVOKED_free(rev);
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(rc);
	BN_free(bn);
	return ok;
}

/*
 * Is ca's key still the key of its row? A process that loaded the CA
 * before a `ca rollover` holds the old key under the identity's id (for
 * up to CA_STORE_REFRESH seconds): a CRL it signed would be stored as the
 * identity's and published under the old key's name. 1 yes, 0 no
 * (logged), -1 database error.
 */
static int
crl_key_current(struct db *db, const struct ca_ident *ca)
{
	struct db_ca row;
	unsigned char md[32];
	int rc;

	memset(&row, 0, sizeof(row));
	if ((rc = db_ca_get(db, ca->id, &row)) == 1) {
		rc = row.cert != NULL &&
		    SHA256(row.cert, row.cert_len, md) != NULL &&
		    memcmp(md, ca->cert_sha256, sizeof(md)) == 0;
		if (!rc)
			log_warn("ca %s: CA certificate changed (rollover); "
				 "CRL not issued with the old key, next time "
				 "with the current one", ca->label);
	}
	db_ca_clear(&row);
	return rc;
}

/* Writes der to dir/label.crl atomically (lib_file_write). */
static int
crl_write(const char *dir, const char *label, const unsigned char *der,
    size_t len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.crl", dir, label);
	if (!lib_file_write(path, der, len)) {
		log_err("crl %s: cannot write: %s", path, strerror(errno));
		return 0;
	}
	return 1;
}

/* 1 if dir/label.crl holds exactly der, else 0 (missing, other bytes). */
static int
crl_same(const char *dir, const char *label, const unsigned char *der,
    size_t len)
{
	char path[4096];
	unsigned char *buf;
	size_t n;
	FILE *f;
	int same;

	snprintf(path, sizeof(path), "%s/%s.crl", dir, label);
	if ((f = fopen(path, "rb")) == NULL)
		return 0;
	if ((buf = malloc(len + 1)) == NULL) {
		fclose(f);
		return 0;
	}
	n = fread(buf, 1, len + 1, f); /* one more: a longer file differs */
	same = n == len && memcmp(buf, der, len) == 0;
	free(buf);
	fclose(f);
	return same;
}

/* What this process published last, per CA: an unchanged CRL number and
 * a file that still hashes to what was published spare reading the CRL
 * (megabytes for a large CA) from the database every sweep; a file whose
 * bytes changed (corrupted, truncated, replaced) is rewritten. */
static struct {
	long long ca_id, number;
	unsigned char md[SHA256_DIGEST_LENGTH];
} crl_seen[CRL_SEEN_MAX];

/* SHA-256 of the file at path: 1, or 0 if it cannot be read. */
static int
crl_file_md(const char *path, unsigned char *md)
{
	unsigned char buf[16384];
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	size_t n;
	FILE *f = NULL;
	int ok = 0;

	if (mc == NULL || (f = fopen(path, "rb")) == NULL ||
	    EVP_DigestInit_ex(mc, EVP_sha256(), NULL) != 1)
		goto out;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (EVP_DigestUpdate(mc, buf, n) != 1)
			goto out;
	ok = !ferror(f) && EVP_DigestFinal_ex(mc, md, NULL) == 1;
out:
	if (f != NULL)
		fclose(f);
	EVP_MD_CTX_free(mc);
	return ok;
}

/* See ca.h. */
int
crl_publish(struct db *db, const struct db_ca *row, const char *dir,
    int deep)
{
	struct db_crl latest;
	long long ca_id = row->id;
	const char *label = row->label;
	char path[4096], name[CA_CRL_NAME_MAX];
	unsigned char md[SHA256_DIGEST_LENGTH];
	long long number;
	size_t i, slot = CRL_SEEN_MAX;
	int rc;

	if ((rc = db_crl_latest_number(db, ca_id, &number)) != 1) {
		if (rc < 0)
			log_warn("ca %s: crl publish: %s", label, db_error(db));
		return rc;
	}
	for (i = 0; i < CRL_SEEN_MAX; i++)
		if (crl_seen[i].ca_id == ca_id ||
		    (slot == CRL_SEEN_MAX && crl_seen[i].ca_id == 0))
			slot = i;
	ca_crl_name(row->key_uri, label, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s.crl", dir, name);
	if (slot < CRL_SEEN_MAX && crl_seen[slot].ca_id == ca_id &&
	    crl_seen[slot].number == number &&
	    (deep ? crl_file_md(path, md) &&
		memcmp(md, crl_seen[slot].md, sizeof(md)) == 0
		  : access(path, F_OK) == 0))
		return 0;
	memset(&latest, 0, sizeof(latest));
	if ((rc = db_crl_latest(db, ca_id, &latest)) != 1) {
		if (rc < 0)
			log_warn("ca %s: crl publish: %s", label, db_error(db));
		return rc;
	}
	rc = 0;
	if (!crl_same(dir, name, latest.der, latest.der_len))
		rc = crl_write(dir, name, latest.der, latest.der_len) ? 1 : -1;
	if (rc == 1)
		log_info("ca %s: CRL %lld published to %s/%s.crl", label,
		    latest.number, dir, name);
	if (rc == 0 && slot < CRL_SEEN_MAX && crl_seen[slot].ca_id == ca_id &&
	    crl_seen[slot].number == latest.number)
		; /* the same bytes as before */
	else if (rc == 0)
		log_debug("ca %s: %s/%s.crl already holds the database's CRL "
			  "%lld", label, dir, name, latest.number);
	if (rc >= 0 && slot < CRL_SEEN_MAX) {
		crl_seen[slot].ca_id = ca_id;
		crl_seen[slot].number = latest.number;
		SHA256(latest.der, latest.der_len, crl_seen[slot].md);
	}
	db_crl_clear(&latest);
	return rc;
}

/*
 * crl_issue, and crl_issue_due when only_due: nothing is signed (2) when
 * no status change marked the CA since its last CRL (another host took
 * the mark first).
 */
static int
crl_make(struct db *db, const struct ca_ident *ca, long hours,
    const char *dir, struct db_crl *out, int only_due)
{
	struct crl_build b = { NULL, 0 };
	ASN1_INTEGER *num = NULL;
	AUTHORITY_KEYID *akid = NULL;
	const ASN1_OCTET_STRING *ski;
	EVP_MD_CTX *mctx = NULL;
	unsigned char *der = NULL;
	time_t now = time(NULL);
	int len, rc = 0, took;

	memset(out, 0, sizeof(*out));
	/*
	 * The CA's mark (017) first, in a statement of its own: a status
	 * change committed before it is read by this CRL (the entries are
	 * read later), one committed after it marks the CA again, and no
	 * revocation waits for this CRL's signature on the mark's row lock.
	 * A CRL that fails puts the mark back.
	 */
	if ((took = db_crl_due_take(db, ca->id)) < 0) {
		log_err("ca %s: CRL: %s", ca->label, db_error(db));
		return 0;
	}
	if (took == 0 && only_due)
		return 2; /* another host issued it */
	if (db_begin(db) != 1)
		goto dberr;
	if (db_crl_next(db, ca->id, &out->number) != 1)
		goto dberr;
	switch (crl_key_current(db, ca)) {
	case 1:
		break;
	case 0:
		goto fail;
	default:
		goto dberr;
	}
	if ((b.crl = X509_CRL_new()) == NULL ||
	    !X509_CRL_set_version(b.crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(b.crl, X509_get_subject_name(ca->cert)))
		goto fail;
	out->this_update = now;
	out->next_update = now + hours * 3600L;
	{
		ASN1_TIME *t1 = ASN1_TIME_set(NULL, out->this_update);
		ASN1_TIME *t2 = ASN1_TIME_set(NULL, out->next_update);
		int ok = t1 != NULL && t2 != NULL &&
		    X509_CRL_set1_lastUpdate(b.crl, t1) &&
		    X509_CRL_set1_nextUpdate(b.crl, t2);

		ASN1_TIME_free(t1);
		ASN1_TIME_free(t2);
		if (!ok)
			goto fail;
	}
	if (db_cert_revoked_each(db, ca->id, crl_add, &b) != 1)
		goto dberr;
	if ((num = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(num, out->number) ||
	    !X509_CRL_add1_ext_i2d(b.crl, NID_crl_number, num, 0, 0))
		goto fail;
	if ((ski = X509_get0_subject_key_id(ca->cert)) != NULL) {
		if ((akid = AUTHORITY_KEYID_new()) == NULL ||
		    (akid->keyid = ASN1_OCTET_STRING_dup(ski)) == NULL ||
		    !X509_CRL_add1_ext_i2d(b.crl, NID_authority_key_identifier,
			akid, 0, 0))
			goto fail;
	}
	if (!X509_CRL_sort(b.crl))
		goto fail;
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, NULL, ca->md, NULL, ca->key) != 1 ||
	    X509_CRL_sign_ctx(b.crl, mctx) <= 0) {
		log_err("ca %s: CRL signing failed in the HSM", ca->label);
		goto fail;
	}
	if ((len = i2d_X509_CRL(b.crl, &der)) <= 0)
		goto fail;
	out->entries = b.entries;
	out->der_len = (size_t)len;
	if ((out->der = malloc(out->der_len)) == NULL)
		goto fail;
	memcpy(out->der, der, out->der_len);
	if (db_crl_insert(db, ca->id, out) != 1 ||
	    db_audit_add(db, "crl-issue", ca->id, "cmpca", "") != 1)
		goto dberr;
	if (db_commit(db) != 1)
		goto dberr;
	/* The database has it; the file is a publication of it. */
	if (dir != NULL && !crl_write(dir, ca->crl_name, der, out->der_len))
		rc = -1;
	else
		rc = 1;
	goto out;
dberr:
	log_err("ca %s: CRL: %s", ca->label, db_error(db));
fail:
	log_openssl_errors(1);
	db_rollback(db);
	db_crl_clear(out);
	if (took == 1 && db_crl_due_mark(db, ca->id) != 1)
		log_warn("ca %s: the status change waits for the CRL after "
			 "next: %s", ca->label, db_error(db));
	rc = 0;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(num);
	X509_CRL_free(b.crl);
	return rc;
}

/* See status.h. */
int
crl_issue(struct db *db, const struct ca_ident *ca, long hours,
    const char *dir, struct db_crl *out)
{
	return crl_make(db, ca, hours, dir, out, 0);
}

/* See status.h. */
int
crl_issue_due(struct db *db, const struct ca_ident *ca, long hours,
    const char *dir, struct db_crl *out)
{
	return crl_make(db, ca, hours, dir, out, 1);
}
