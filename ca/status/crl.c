/*
 * crl.c - CRLs (RFC 5280 §5) from the inventory, signed with the CA key in
 * the HSM: v2, CRL number, authority key identifier, one entry per
 * revoked or rejected unexpired certificate with its revocation date,
 * reason code and, when the revocation request gave one, invalidity date.
 * Stored in the database and written, atomically, to
 * <crl_dir>/<name>.crl (DER) where nginx serves /crl/<name>.crl; the
 * name is the signing key's (ca_crl_name), not the row's label, so that
 * it survives `ca rollover`.
 *
 * Delta CRLs (RFC 5280 §5.2.4), with delta_crl_interval: the same
 * signature path and CRL number sequence, a critical deltaCRLIndicator
 * naming the newest complete CRL (the base), and as entries what changed
 * since the base: certificates revoked since (or whose reason or date
 * changed), and removeFromCRL (§5.3.1) for those the base lists and a
 * complete CRL now would not (a hold released, an expiry). Stored in
 * table crl with delta_of (028) and written to <crl_dir>/delta/<name>.crl
 * (/crl/delta/<name>.crl: a subfolder, since any name next to the base
 * files could be another key's); complete CRLs then carry freshestCRL
 * (§5.2.6) with delta_crl_url.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"
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

/* The file of CRL name (a key's, ca_crl_name) in dir: dir/name.crl, or
 * dir/delta/name.crl for its delta CRLs. */
static void
crl_path(const char *dir, const char *name, int delta, char *path,
    size_t len)
{
	snprintf(path, len, "%s/%s%s.crl", dir, delta ? "delta/" : "", name);
}

/* Writes der to the CRL file of name (crl_path), atomically
 * (lib_file_write); dir/delta is made for the first delta. */
static int
crl_write(const char *dir, const char *name, int delta,
    const unsigned char *der, size_t len)
{
	char path[4096];

	if (delta) {
		snprintf(path, sizeof(path), "%s/delta", dir);
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			log_err("crl %s: cannot make the folder of delta CRLs: "
				"%s", path, strerror(errno));
			return 0;
		}
	}
	crl_path(dir, name, delta, path, sizeof(path));
	if (!lib_file_write(path, der, len)) {
		log_err("crl %s: cannot write: %s", path, strerror(errno));
		return 0;
	}
	return 1;
}

/* 1 if the CRL file of name (crl_path) holds exactly der, else 0
 * (missing, other bytes). */
static int
crl_same(const char *dir, const char *name, int delta,
    const unsigned char *der, size_t len)
{
	char path[4096];
	unsigned char *buf;
	size_t n;
	FILE *f;
	int same;

	crl_path(dir, name, delta, path, sizeof(path));
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
} crl_seen[2][CRL_SEEN_MAX]; /* complete CRLs, delta CRLs */

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

/* crl_publish for the complete CRLs (delta 0) or the delta CRLs (1). */
static int
crl_publish_kind(struct db *db, const struct db_ca *row, const char *dir,
    int deep, int delta)
{
	struct db_crl latest;
	long long ca_id = row->id;
	const char *label = row->label, *what = delta ? "delta CRL" : "CRL";
	char path[4096], name[CA_CRL_NAME_MAX];
	unsigned char md[SHA256_DIGEST_LENGTH];
	long long number;
	size_t i, slot = CRL_SEEN_MAX;
	int rc;

	rc = delta ? db_crl_delta_latest_number(db, ca_id, &number)
		   : db_crl_latest_number(db, ca_id, &number);
	if (rc != 1) {
		if (rc < 0)
			log_warn("ca %s: %s publish: %s", label, what,
			    db_error(db));
		return rc;
	}
	for (i = 0; i < CRL_SEEN_MAX; i++)
		if (crl_seen[delta][i].ca_id == ca_id ||
		    (slot == CRL_SEEN_MAX && crl_seen[delta][i].ca_id == 0))
			slot = i;
	ca_crl_name(row->key_uri, label, name, sizeof(name));
	crl_path(dir, name, delta, path, sizeof(path));
	if (slot < CRL_SEEN_MAX && crl_seen[delta][slot].ca_id == ca_id &&
	    crl_seen[delta][slot].number == number &&
	    (deep ? crl_file_md(path, md) &&
		memcmp(md, crl_seen[delta][slot].md, sizeof(md)) == 0
		  : access(path, F_OK) == 0))
		return 0;
	memset(&latest, 0, sizeof(latest));
	rc = delta ? db_crl_delta_latest(db, ca_id, &latest)
		   : db_crl_latest(db, ca_id, &latest);
	if (rc != 1) {
		if (rc < 0)
			log_warn("ca %s: %s publish: %s", label, what,
			    db_error(db));
		return rc;
	}
	rc = 0;
	if (!crl_same(dir, name, delta, latest.der, latest.der_len))
		rc = crl_write(dir, name, delta, latest.der, latest.der_len)
		    ? 1
		    : -1;
	if (rc == 1)
		log_info("ca %s: %s %lld published to %s", label, what,
		    latest.number, path);
	if (rc == 0 && slot < CRL_SEEN_MAX &&
	    crl_seen[delta][slot].ca_id == ca_id &&
	    crl_seen[delta][slot].number == latest.number)
		; /* the same bytes as before */
	else if (rc == 0)
		log_debug("ca %s: %s already holds the database's %s %lld",
		    label, path, what, latest.number);
	if (rc >= 0 && slot < CRL_SEEN_MAX) {
		crl_seen[delta][slot].ca_id = ca_id;
		crl_seen[delta][slot].number = latest.number;
		SHA256(latest.der, latest.der_len, crl_seen[delta][slot].md);
	}
	db_crl_clear(&latest);
	return rc;
}

/* See status.h. */
int
crl_publish(struct db *db, const struct db_ca *row, const char *dir,
    int deep)
{
	int rc = crl_publish_kind(db, row, dir, deep, 0);
	int rd = crl_publish_kind(db, row, dir, deep, 1);

	return rc < 0 || rd < 0 ? -1 : rc > rd ? rc : rd;
}

/* The CRLReason of a CRL entry, 0 (unspecified) when it has none. */
static int
crl_entry_reason(const X509_REVOKED *rev)
{
	ASN1_ENUMERATED *e;
	long r = 0;

	e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	if (e != NULL) {
		r = ASN1_ENUMERATED_get(e);
		ASN1_ENUMERATED_free(e);
	}
	return (int)r;
}

/* Adds to d a removeFromCRL entry (RFC 5280 §5.3.1) for serial, dated
 * when. Returns 1 or 0. */
static int
crl_add_remove(X509_CRL *d, const ASN1_INTEGER *serial, time_t when)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, when);
	ASN1_ENUMERATED *rc = ASN1_ENUMERATED_new();
	int ok = 0;

	if (rev == NULL || t == NULL || rc == NULL ||
	    !X509_REVOKED_set_serialNumber(rev, (ASN1_INTEGER *)serial) ||
	    !X509_REVOKED_set_revocationDate(rev, t) ||
	    !ASN1_ENUMERATED_set(rc, CRL_REASON_REMOVE_FROM_CRL) ||
	    !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, rc, 0, 0) ||
	    !X509_CRL_add0_revoked(d, rev))
		goto out;
	rev = NULL;
	ok = 1;
out:
	X509_REVOKED_free(rev);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(rc);
	return ok;
}

/*
 * Fills the delta CRL d with what changed from the base CRL to cur (the
 * complete CRL it would be now), RFC 5280 §5.2.4: each entry of cur that
 * the base lacks or lists with another reason or date, and removeFromCRL
 * for each entry of the base that cur lacks. Returns the entries added,
 * or -1.
 */
static int
crl_delta_fill(X509_CRL *d, X509_CRL *base, X509_CRL *cur, time_t now)
{
	STACK_OF(X509_REVOKED) *sk = X509_CRL_get_REVOKED(cur);
	X509_REVOKED *rev, *old, *dup;
	const ASN1_INTEGER *sn;
	int i, n = 0;

	for (i = 0; i < sk_X509_REVOKED_num(sk); i++) {
		rev = sk_X509_REVOKED_value(sk, i);
		sn = X509_REVOKED_get0_serialNumber(rev);
		old = NULL;
		if (X509_CRL_get0_by_serial(base, &old, sn) > 0 && old != NULL &&
		    crl_entry_reason(old) == crl_entry_reason(rev) &&
		    ASN1_TIME_compare(X509_REVOKED_get0_revocationDate(old),
			X509_REVOKED_get0_revocationDate(rev)) == 0)
			continue; /* listed by the base as it is now */
		if ((dup = X509_REVOKED_dup(rev)) == NULL ||
		    !X509_CRL_add0_revoked(d, dup)) {
			X509_REVOKED_free(dup);
			return -1;
		}
		n++;
	}
	sk = X509_CRL_get_REVOKED(base);
	for (i = 0; i < sk_X509_REVOKED_num(sk); i++) {
		rev = sk_X509_REVOKED_value(sk, i);
		sn = X509_REVOKED_get0_serialNumber(rev);
		old = NULL;
		if (X509_CRL_get0_by_serial(cur, &old, sn) > 0)
			continue;
		if (!crl_add_remove(d, sn, now))
			return -1;
		n++;
	}
	return n;
}

/*
 * The entries of a delta CRL into b (crl_delta_fill): the CA's newest
 * complete CRL, read inside the CRL lock, is its base (*base_no). 1, 0
 * when the CA has no complete CRL yet (the caller issues one instead),
 * -1 database error, -2 other error.
 */
static int
crl_delta_entries(struct db *db, const struct ca_ident *ca,
    struct crl_build *b, long long *base_no, time_t now)
{
	struct db_crl base_row;
	struct crl_build cur = { NULL, 0 };
	X509_CRL *base = NULL;
	const unsigned char *p;
	int rc, n;

	memset(&base_row, 0, sizeof(base_row));
	if ((rc = db_crl_latest(db, ca->id, &base_row)) != 1)
		return rc;
	rc = -2;
	p = base_row.der;
	if ((base = d2i_X509_CRL(NULL, &p, (long)base_row.der_len)) == NULL ||
	    p != base_row.der + base_row.der_len) {
		log_err("ca %s: CRL %lld in the database does not decode: no "
			"delta CRL on it", ca->label, base_row.number);
		goto out;
	}
	if ((cur.crl = X509_CRL_new()) == NULL)
		goto out;
	if (db_cert_revoked_each(db, ca->id, crl_add, &cur) != 1) {
		rc = -1;
		goto out;
	}
	if ((n = crl_delta_fill(b->crl, base, cur.crl, now)) < 0)
		goto out;
	b->entries = n;
	*base_no = base_row.number;
	rc = 1;
out:
	X509_CRL_free(cur.crl);
	X509_CRL_free(base);
	db_crl_clear(&base_row);
	return rc;
}

/* Adds freshestCRL (RFC 5280 §5.2.6) naming url (its "%{crl}" the key's
 * CRL name) to a complete CRL. Returns 1 or 0. */
static int
crl_add_freshest(X509_CRL *crl, const char *url, const struct ca_ident *ca)
{
	CRL_DIST_POINTS *cdp = NULL;
	DIST_POINT *dp = NULL;
	GENERAL_NAME *gn = NULL;
	int ok = 0;

	if ((cdp = sk_DIST_POINT_new_null()) == NULL ||
	    (dp = DIST_POINT_new()) == NULL ||
	    !sk_DIST_POINT_push(cdp, dp)) {
		DIST_POINT_free(dp);
		goto out;
	}
	if ((dp->distpoint = DIST_POINT_NAME_new()) == NULL)
		goto out;
	dp->distpoint->type = 0; /* fullName */
	if ((dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL ||
	    (gn = cert_url_gn(url, ca)) == NULL ||
	    !sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn))
		goto out;
	gn = NULL;
	ok = X509_CRL_add1_ext_i2d(crl, NID_freshest_crl, cdp, 0, 0) == 1;
out:
	GENERAL_NAME_free(gn);
	CRL_DIST_POINTS_free(cdp);
	return ok;
}

/*
 * crl_issue, and crl_issue_due when only_due: nothing is signed (2) when
 * no status change marked the CA since its last CRL (another host took
 * the mark first).
 */
static int
crl_make(struct db *db, const struct ca_ident *ca, const struct crl_spec *s,
    struct db_crl *out, int only_due)
{
	struct crl_build b = { NULL, 0 };
	int delta = s->delta > 0;
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
	/* A delta (and its base) only: a CRL of either kind shows every
	 * change read after the mark was taken. */
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
	if (delta) {
		switch (crl_delta_entries(db, ca, &b, &out->delta_of, now)) {
		case 1:
			break;
		case 0: /* no base yet: this one is the base */
			log_info("ca %s: no complete CRL to be the base of a "
				 "delta: a complete CRL instead", ca->label);
			delta = 0;
			break;
		case -1:
			goto dberr;
		default:
			goto fail;
		}
	}
	out->this_update = now;
	out->next_update = delta ? now + s->delta : now + s->hours * 3600L;
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
	if (!delta && db_cert_revoked_each(db, ca->id, crl_add, &b) != 1)
		goto dberr;
	if ((num = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(num, out->number) ||
	    !X509_CRL_add1_ext_i2d(b.crl, NID_crl_number, num, 0, 0))
		goto fail;
	/* deltaCRLIndicator, critical (RFC 5280 §5.2.4): the base's number. */
	if (delta && (!ASN1_INTEGER_set_int64(num, out->delta_of) ||
			 !X509_CRL_add1_ext_i2d(b.crl, NID_delta_crl, num, 1,
			     0)))
		goto fail;
	if (!delta && s->fresh_url != NULL &&
	    !crl_add_freshest(b.crl, s->fresh_url, ca))
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
		log_err("ca %s: %s signing failed in the HSM", ca->label,
		    delta ? "delta CRL" : "CRL");
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
	    db_audit_add(db, delta ? "crl-delta-issue" : "crl-issue", ca->id,
		"cmpca", "") != 1)
		goto dberr;
	if (db_commit(db) != 1)
		goto dberr;
	/* The database has it; the file is a publication of it. */
	if (s->dir != NULL &&
	    !crl_write(s->dir, ca->crl_name, delta, der, out->der_len))
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
crl_issue(struct db *db, const struct ca_ident *ca, const struct crl_spec *s,
    struct db_crl *out)
{
	return crl_make(db, ca, s, out, 0);
}

/* See status.h. */
int
crl_issue_due(struct db *db, const struct ca_ident *ca,
    const struct crl_spec *s, struct db_crl *out)
{
	return crl_make(db, ca, s, out, 1);
}
