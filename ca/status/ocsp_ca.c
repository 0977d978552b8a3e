/*
 * ocsp_ca.c - the responder's CAs and their signers, per worker (and in
 * the housekeeper, which produces answers ahead of time).
 *
 * The CA list and each CA's newest signer (certificate and HSM key
 * handle) are cached and follow the rule of every per-worker cache
 * (CA_CACHE_CHECK): after 5 s the next request compares db_ca_version()
 * and reads them again when it changed; a request that names an unknown
 * issuer or a CA without signer reads them again (at most every
 * CA_OCSP_MISS_REFRESH seconds, ocsp.c).
 *
 * An active CA answers through its newest delegated signer; an earlier
 * key of an identity (LABEL.oldN after `ca rollover`) signs itself.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/status/ocsp_int.h"

const int ocsp_cid_nids[OCSP_NMD] = {
	NID_sha1,
	NID_sha256,
	NID_sha384,
	NID_sha512,
};
const char *const ocsp_cid_names[OCSP_NMD] = {
	"sha1",
	"sha256",
	"sha384",
	"sha512",
};

static void
ocsp_ca_free(struct ocsp_ca *c)
{
	size_t i;

	if (c == NULL)
		return;
	X509_free(c->cert);
	for (i = 0; i < OCSP_NMD; i++)
		OCSP_CERTID_free(c->cid[i]);
	X509_free(c->signer);
	EVP_PKEY_free(c->key);
	free(c);
}

void
ocsp_cas_clear(struct ocsp_srv *s)
{
	size_t i;

	for (i = 0; i < s->nca; i++)
		ocsp_ca_free(s->ca[i]);
	free(s->ca);
	s->ca = NULL;
	s->nca = 0;
}


/* A CA entry from its row, with issuer hashes; no signer yet. */
static struct ocsp_ca *
ocsp_ca_new(const struct db_ca *row)
{
	const unsigned char *p = row->cert;
	struct ocsp_ca *c = calloc(1, sizeof(*c));
	size_t i;

	if (c == NULL)
		return NULL;
	c->id = row->id;
	snprintf(c->label, sizeof(c->label), "%s", row->label);
	if ((c->cert = d2i_X509(NULL, &p, (long)row->cert_len)) == NULL) {
		log_err("ocsp: ca %s: stored certificate does not decode",
		    row->label);
		goto fail;
	}
	for (i = 0; i < OCSP_NMD; i++) {
		const EVP_MD *md = ca_md_fetch(ocsp_cid_nids[i]);

		if (md == NULL ||
		    (c->cid[i] = OCSP_cert_to_id(md, NULL, c->cert)) == NULL)
			goto fail;
	}
	return c;
fail:
	ocsp_ca_free(c);
	return NULL;
}

/*
 * Brings c's signer up to date with row (rc: 1 a row, 0 none): loads the
 * certificate and the HSM key when the newest row changed. A signer that
 * cannot be used is logged once and marked (key_err).
 */
static void
signer_apply(struct ocsp_srv *s, struct ocsp_ca *c,
    const struct db_ocsp_signer *row, int rc)
{
	const unsigned char *p;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;

	if (rc == 0 || row->id != c->signer_id) {
		X509_free(c->signer);
		EVP_PKEY_free(c->key);
		c->signer = NULL;
		c->key = NULL;
		c->key_err = 0;
		c->signer_id = rc == 0 ? 0 : row->id;
	}
	if (rc == 0 || c->signer != NULL || c->key_err)
		return;
	p = row->cert;
	if ((x = d2i_X509(NULL, &p, (long)row->cert_len)) == NULL ||
	    X509_check_issued(c->cert, x) != X509_V_OK) {
		log_err("ocsp: ca %s: signer %lld: certificate does not decode "
			"or was not issued by the CA",
		    c->label, row->id);
		c->key_err = 1;
		goto out;
	}
	if ((k = hsm_key_load(s->hsm, row->key_uri)) == NULL) {
		log_err("ocsp: ca %s: cannot load signer key %s: %s", c->label,
		    row->key_uri, hsm_error());
		c->key_err = 1;
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		log_err("ocsp: ca %s: signer %lld: key does not match the "
			"certificate",
		    c->label, row->id);
		c->key_err = 1;
		goto out;
	}
	c->md = ca_sign_md(k);
	c->signer = x; /* transfer to the cache */
	c->key = k;
	x = NULL;
	k = NULL;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
}

/*
 * The invalidation rule of per-worker caches (CA_CACHE_CHECK): compares
 * db_ca_version() with the one the cache was built from and rebuilds it
 * when the CAs or their signers changed. Returns 1, or 0 on a database
 * error (the cache stays as it was, logged).
 */
int
ocsp_cas_check(struct ocsp_srv *s)
{
	unsigned char version[DB_CA_VERSION_LEN];

	if (s->loaded != 0) {
		if (db_ca_version(s->db, version) != 1) {
			log_warn("ocsp: cannot read the CAs: %s",
			    db_error(s->db));
			return 0;
		}
		if (memcmp(version, s->version, sizeof(version)) == 0) {
			s->checked = time(NULL);
			return 1;
		}
	}
	return ocsp_cas_refresh(s);
}


/*
 * An earlier key of an identity (LABEL.oldN after `ca rollover`) answers
 * for the certificates it signed with its own key: RFC 6960 §4.2.2.2 lets
 * the CA sign, and the old key, unlike a delegated signer, lasts as long
 * as its certificates. Loaded once; a failure is logged and marked.
 */
static void
self_apply(struct ocsp_srv *s, struct ocsp_ca *c, const struct db_ca *row)
{
	EVP_PKEY *k;

	if (c->signer != NULL || c->key_err)
		return;
	if ((k = hsm_key_load(s->hsm, row->key_uri)) == NULL) {
		log_err("ocsp: ca %s: cannot load the old key %s: %s", c->label,
		    row->key_uri, hsm_error());
		c->key_err = 1;
		ERR_clear_error();
		return;
	}
	X509_up_ref(c->cert);
	c->signer = c->cert;
	c->key = k;
	c->md = ca_sign_md(k);
	c->signer_id = 0;
}

/* Rows the responder serves: active CAs and the old keys of identities. */
static int
row_served(const struct db_ca *row)
{
	return strcmp(row->status, "active") == 0 ||
	    (strcmp(row->status, "retired") == 0 && row->key_of != 0);
}

/* 1 if the cached entry still holds the row's certificate. */
static int
same_cert(const struct ocsp_ca *c, const struct db_ca *row)
{
	unsigned char *der = NULL;
	int len = i2d_X509(c->cert, &der), same;

	same = len > 0 && (size_t)len == row->cert_len &&
	    memcmp(der, row->cert, row->cert_len) == 0;
	OPENSSL_free(der);
	return same;
}

/*
 * Reads the CA list and every active CA's newest signer, then rebuilds the
 * cache, keeping the entries (and HSM key handles) of CAs whose signer and
 * certificate did not change: after `ca rollover` the identity's id has a
 * new certificate, so its entry (issuer hashes, signer) is made again, and
 * the old key's row LABEL.oldN answers for the old certificates. Returns
 * 1, or 0 on a database error: the cache stays as it was.
 */
int
ocsp_cas_refresh(struct ocsp_srv *s)
{
	struct db_ca *rows = NULL;
	struct db_ocsp_signer *sig = NULL;
	struct ocsp_ca **next = NULL;
	unsigned char version[DB_CA_VERSION_LEN];
	int *have = NULL;
	size_t n = 0, nn = 0, i, j;
	int ok = 0, changed = 0;

	/* The version first: a change after it is read finds the next
	 * check. */
	if (db_ca_version(s->db, version) != 1 ||
	    db_ca_list(s->db, &rows, &n) < 0) {
		log_warn("ocsp: cannot read the CAs: %s", db_error(s->db));
		return 0;
	}
	if (n > 0 && ((next = calloc(n, sizeof(*next))) == NULL ||
			 (sig = calloc(n, sizeof(*sig))) == NULL ||
			 (have = calloc(n, sizeof(*have))) == NULL))
		goto out;
	/* Every read first, so that a failure changes nothing. */
	for (i = 0; i < n; i++) {
		if (strcmp(rows[i].status, "active") != 0)
			continue; /* old keys sign themselves */
		have[i] = db_ocsp_signer_latest(s->db, rows[i].id, &sig[i]);
		if (have[i] < 0) {
			log_warn("ocsp: cannot read the signer of ca %s: %s",
			    rows[i].label, db_error(s->db));
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		struct ocsp_ca *c = NULL;
		const X509 *was;
		long long was_id;

		if (!row_served(&rows[i]))
			continue;
		for (j = 0; j < s->nca && c == NULL; j++)
			if (s->ca[j] != NULL && s->ca[j]->id == rows[i].id) {
				c = s->ca[j]; /* moved to next */
				s->ca[j] = NULL;
			}
		if (c != NULL && (!same_cert(c, &rows[i]) ||
		    c->old_key != (strcmp(rows[i].status, "active") != 0))) {
			ocsp_ca_free(c); /* rolled over: made again */
			c = NULL;
		}
		if (c == NULL) {
			changed = 1;
			if ((c = ocsp_ca_new(&rows[i])) == NULL)
				continue; /* logged; the others are served */
		}
		c->old_key = strcmp(rows[i].status, "active") != 0;
		was = c->signer;
		was_id = c->signer_id;
		if (c->old_key)
			self_apply(s, c, &rows[i]);
		else
			signer_apply(s, c, &sig[i], have[i]);
		changed |= c->signer != was || c->signer_id != was_id;
		next[nn++] = c;
	}
	for (j = 0; j < s->nca; j++)
		changed |= s->ca[j] != NULL;
	/* Answers signed by a signer that is gone, or for an entry made
	 * again, are not reused (the cache keys them by signer). */
	if (changed)
		ocsp_cache_clear(s->answers);
	ocsp_cas_clear(s); /* what was not moved: CAs retired or removed */
	s->ca = next;	/* transfer to the server */
	s->nca = nn;
	next = NULL;
	s->loaded = s->checked = time(NULL);
	memcpy(s->version, version, sizeof(version));
	ok = 1;
out:
	free(next);
	for (i = 0; sig != NULL && i < n; i++)
		db_ocsp_signer_clear(&sig[i]);
	free(sig);
	free(have);
	db_ca_array_free(rows, n);
	return ok;
}

/* See ocsp_int.h. */
struct ocsp_ca *
ocsp_ca_find(struct ocsp_srv *s, OCSP_CERTID *cid, int *mdi)
{
	ASN1_OBJECT *alg = NULL;
	size_t i, m;
	int nid;

	if (!OCSP_id_get0_info(NULL, &alg, NULL, NULL, cid) || alg == NULL)
		return NULL;
	nid = OBJ_obj2nid(alg);
	for (m = 0; m < OCSP_NMD && ocsp_cid_nids[m] != nid; m++)
		;
	if (m == OCSP_NMD)
		return NULL;
	*mdi = (int)m;
	for (i = 0; i < s->nca; i++)
		if (OCSP_id_issuer_cmp(cid, s->ca[i]->cid[m]) == 0)
			return s->ca[i];
	return NULL;
}

/* See ocsp_int.h. */
struct ocsp_ca *
ocsp_ca_by_id(struct ocsp_srv *s, long long id)
{
	size_t i;

	for (i = 0; i < s->nca; i++)
		if (s->ca[i]->id == id)
			return s->ca[i];
	return NULL;
}
