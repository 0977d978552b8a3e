/*
 * ocsp.c - the OCSP responder (RFC 6960): one OCSPRequest's DER in, one
 * OCSPResponse's DER out, from the PostgreSQL inventory, signed in the
 * HSM by the CA's delegated signer (ocsp_signer.c).
 *
 * Per request: decode (every byte consumed, 1..16 single requests, nonce
 * at most 32 octets); find each CertID's CA by issuerNameHash and
 * issuerKeyHash (SHA-1, SHA-256, SHA-384, SHA-512); look each serial up
 * in the inventory; sign with the CA's newest signer; echo the nonce.
 *
 * Decisions:
 * - valid -> good; revoked and rejected -> revoked with the row's time and
 *   CRLReason (reason absent when unspecified, as in CRLs); unconfirmed ->
 *   unknown (the certificate was sent but never accepted: it may still be
 *   rejected, so we vouch for nothing yet); not in the inventory ->
 *   unknown.
 * - One answer, one signer: a request whose CertIDs name two or more of
 *   our CAs gets unauthorized (a delegated signer speaks for its own CA
 *   only, RFC 6960 §4.2.2.2). CertIDs of issuers we do not serve next to
 *   ones we do are answered unknown (§2.2; OpenSSL then refuses to verify
 *   the response, as it does any response about two issuers); a request
 *   naming none of our CAs gets unauthorized (RFC 5019 §2.2.3).
 * - A CA without signer: unauthorized and a log line; a signer whose key
 *   cannot be loaded: internalError; the database unreachable, or the
 *   newest signer past its notAfter: tryLater. nextUpdate is at most
 *   CA_OCSP_VALIDITY ahead and never after the signer's notAfter.
 * - Per worker, the CA list and each CA's newest signer (certificate and
 *   HSM key handle) are cached and follow the rule of every per-worker
 *   cache (CA_CACHE_CHECK): after 5 s the next request compares
 *   db_ca_version() and reads them again when it changed; a request that
 *   names an unknown issuer or a CA without signer reads them again (at
 *   most every CA_OCSP_MISS_REFRESH seconds).
 * - What an HSM can afford (issue 23): an answer is kept per worker for
 *   the CertIDs asked (CA key, hash algorithm, serial) and the statuses
 *   read, and served without a signature until half its validity has
 *   passed or a status changes (ocsp_cache.c). A request nonce is ignored
 *   by default (ocsp_nonce = no; RFC 8954 §3 lets a responder leave it
 *   out): the answer then carries none and is reused like any other, so
 *   a flood of nonced requests costs no signature per request; every
 *   ignored nonce is counted (cmpca_ocsp_total{event="nonce_ignored"}).
 *   With ocsp_nonce = yes a nonce is echoed and its answer signed for it.
 * - At most ocsp_sign_max OCSP signatures are under way at once across
 *   the host's workers (metrics_ocsp_sign_enter); a request that would
 *   need one more is answered tryLater at once (unsigned, RFC 6960
 *   §2.3), so that CMP keeps its share of the HSM.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/status/status.h"

/* Digests a CertID may use; the issuer hashes are computed once per CA. */
static const int cid_nids[] = {
	NID_sha1,
	NID_sha256,
	NID_sha384,
	NID_sha512,
};
#define OCSP_NMD (sizeof(cid_nids) / sizeof(cid_nids[0]))

struct ocsp_ca {
	long long id;
	char label[DB_LABEL_MAX];
	X509 *cert;
	OCSP_CERTID *cid[OCSP_NMD]; /* issuer hashes, no serial */
	long long signer_id;	    /* 0: no signer row */
	X509 *signer;		    /* NULL: none usable */
	EVP_PKEY *key;		    /* signer key in the HSM */
	const EVP_MD *md;
	int key_err; /* a signer row exists but cannot be used */
	int old_key; /* an earlier key of an identity: signs itself */
	time_t warned; /* last "no signer" log line, at most one a minute */
};

struct ocsp_srv {
	const struct cfg *cfg;
	struct db *db;
	struct hsm *hsm;
	struct ocsp_ca **ca;
	size_t nca;
	time_t loaded; /* 0: never */
	unsigned char version[DB_CA_VERSION_LEN]; /* db_ca_version, loaded */
	time_t checked;	/* when the version was last compared */
	unsigned long reqno;
	struct ocsp_cache *answers; /* signed answers for reuse, or NULL */
};

/* One request; everything it allocates, released by oreq_clear(). */
struct oreq {
	unsigned long id;
	OCSP_REQUEST *req;
	OCSP_BASICRESP *bs;
	ASN1_TIME *this_upd, *next_upd;
	EVP_MD_CTX *mctx;
	struct ocsp_ca *ca; /* the CA whose signer answers */
	struct ocsp_ca *cas[CA_MAX_OCSP_CERTS]; /* per request, or NULL */
	int status;	    /* OCSP_RESPONSE_STATUS_* */
	const char *why;
	int no_signer; /* the CA has no signer row (for the log) */
	int n, good, revoked, unknown;
	/* Reuse of signed answers (ocsp_cache.c): requests without nonce,
	 * or with one ignored. */
	int reusable;
	int echo_nonce; /* a nonce to copy into the answer */
	unsigned char req_md[SHA256_DIGEST_LENGTH]; /* the CertIDs asked */
	unsigned char st_md[SHA256_DIGEST_LENGTH];  /* the statuses read */
	long long st[CA_MAX_OCSP_CERTS][3];	    /* status, reason, time */
	time_t t_this, t_next;
	const unsigned char *cached; /* the cache's bytes, on a hit */
	size_t cached_len;
};

static const char *
status_name(int s)
{
	switch (s) {
	case OCSP_RESPONSE_STATUS_SUCCESSFUL: return "successful";
	case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST: return "malformedRequest";
	case OCSP_RESPONSE_STATUS_INTERNALERROR: return "internalError";
	case OCSP_RESPONSE_STATUS_TRYLATER: return "tryLater";
	case OCSP_RESPONSE_STATUS_SIGREQUIRED: return "sigRequired";
	case OCSP_RESPONSE_STATUS_UNAUTHORIZED: return "unauthorized";
	default: return "-";
	}
}

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

static void
cache_clear(struct ocsp_srv *s)
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
		const EVP_MD *md = ca_md_fetch(cid_nids[i]);

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
static int cache_refresh(struct ocsp_srv *s);
static int
cache_check(struct ocsp_srv *s)
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
	return cache_refresh(s);
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
static int
cache_refresh(struct ocsp_srv *s)
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
	cache_clear(s); /* what was not moved: CAs retired or removed */
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

/* The CA whose issuer hashes match cid, or NULL. */
static struct ocsp_ca *
ca_find(struct ocsp_srv *s, OCSP_CERTID *cid)
{
	ASN1_OBJECT *alg = NULL;
	size_t i, m;
	int nid;

	if (!OCSP_id_get0_info(NULL, &alg, NULL, NULL, cid) || alg == NULL)
		return NULL;
	nid = OBJ_obj2nid(alg);
	for (m = 0; m < OCSP_NMD && cid_nids[m] != nid; m++)
		;
	if (m == OCSP_NMD)
		return NULL;
	for (i = 0; i < s->nca; i++)
		if (OCSP_id_issuer_cmp(cid, s->ca[i]->cid[m]) == 0)
			return s->ca[i];
	return NULL;
}

/*
 * Decides which of our CAs answers: the one every known CertID names.
 * Sets r->ca, r->cas, and *miss when a CertID names an issuer we do not
 * know or the CA has no usable signer. Returns 1, or 0 with r->status and
 * r->why.
 */
static int
choose_ca(struct ocsp_srv *s, struct oreq *r, int *miss)
{
	struct ocsp_ca *c;
	int i;

	r->ca = NULL;
	r->status = OCSP_RESPONSE_STATUS_SUCCESSFUL;
	r->why = NULL;
	r->no_signer = 0;
	*miss = 0;
	for (i = 0; i < r->n; i++) {
		c = ca_find(s,
		    OCSP_onereq_get0_id(OCSP_request_onereq_get0(r->req, i)));
		r->cas[i] = c;
		if (c == NULL) {
			*miss = 1;
			continue;
		}
		if (r->ca != NULL && r->ca != c) {
			r->status = OCSP_RESPONSE_STATUS_UNAUTHORIZED;
			r->why = "certificates of several CAs in one request";
			return 0;
		}
		r->ca = c;
	}
	if (r->ca == NULL) {
		r->status = OCSP_RESPONSE_STATUS_UNAUTHORIZED;
		r->why = "no certificate of a CA served here (RFC 5019 §2.2.3)";
		return 0;
	}
	if (r->ca->key == NULL) {
		*miss = 1;
		r->status = r->ca->key_err
		    ? OCSP_RESPONSE_STATUS_INTERNALERROR
		    : OCSP_RESPONSE_STATUS_UNAUTHORIZED;
		r->why = r->ca->key_err ? "the OCSP signer cannot be used"
					: "no OCSP signer for this CA";
		r->no_signer = !r->ca->key_err;
		return 0;
	}
	return 1;
}

/* Checks the decoded request's shape. Returns 1, or 0 with r->why. */
static int
request_check(struct oreq *r)
{
	X509_EXTENSION *e;
	int i;

	r->n = OCSP_request_onereq_count(r->req);
	if (r->n < 1 || r->n > CA_MAX_OCSP_CERTS) {
		r->why = "requestList must hold 1 to 16 requests";
		return 0;
	}
	i = OCSP_REQUEST_get_ext_by_NID(r->req, NID_id_pkix_OCSP_Nonce, -1);
	if (i >= 0) {
		e = OCSP_REQUEST_get_ext(r->req, i);
		/* extnValue: OCTET STRING (2 header bytes) of 1..32 octets. */
		if (e == NULL || X509_EXTENSION_get_data(e)->length >
		    CA_MAX_OCSP_NONCE + 2) {
			r->why = "nonce longer than 32 octets (RFC 8954 §2.1)";
			return 0;
		}
		if (OCSP_REQUEST_get_ext_by_NID(r->req, NID_id_pkix_OCSP_Nonce,
			i) >= 0) {
			r->why = "more than one nonce";
			return 0;
		}
	}
	return 1;
}

/*
 * Adds the status of request i to the basic response. Returns 1, 0 on a
 * database error (r->status tryLater), -1 internal.
 */
static int
single_add(struct ocsp_srv *s, struct oreq *r, int i)
{
	OCSP_CERTID *cid =
	    OCSP_onereq_get0_id(OCSP_request_onereq_get0(r->req, i));
	ASN1_INTEGER *serial = NULL;
	struct db_cert_state st;
	char hex[DB_SERIAL_MAX];
	int status = V_OCSP_CERTSTATUS_UNKNOWN;
	int reason = OCSP_REVOKED_STATUS_NOSTATUS, rc, ok;
	ASN1_TIME *rev = NULL;

	if (r->cas[i] != r->ca ||
	    !OCSP_id_get0_info(NULL, NULL, NULL, &serial, cid) ||
	    serial == NULL ||
	    ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ||
	    !ca_serial_hex(serial, hex, sizeof(hex)))
		goto add; /* another issuer, or a serial we never write */
	rc = db_cert_get_status(s->db, r->ca->id, hex, &st);
	if (rc < 0) {
		log_warn("ocsp req %lu: %s", r->id, db_error(s->db));
		r->status = OCSP_RESPONSE_STATUS_TRYLATER;
		r->why = "database unavailable";
		return 0;
	}
	if (rc == 0)
		goto add;
	switch (st.status) {
	case DB_CERT_VALID:
		status = V_OCSP_CERTSTATUS_GOOD;
		break;
	case DB_CERT_REVOKED:
	case DB_CERT_REJECTED:
		status = V_OCSP_CERTSTATUS_REVOKED;
		/* unspecified (0) is left out, as RFC 5280 §5.3.1 asks of
		 * CRL entries. */
		if (st.reason > CRL_REASON_UNSPECIFIED &&
		    ca_crl_reason_name(st.reason) != NULL)
			reason = st.reason;
		rev = ASN1_TIME_set(NULL,
		    st.revoked_at != 0 ? st.revoked_at : time(NULL));
		if (rev == NULL)
			return -1;
		break;
	default: /* unconfirmed: never accepted, may still be rejected */
		break;
	}
add:
	r->st[i][0] = status;
	r->st[i][1] = reason;
	r->st[i][2] = status == V_OCSP_CERTSTATUS_REVOKED ? st.revoked_at : 0;
	if (status == V_OCSP_CERTSTATUS_GOOD)
		r->good++;
	else if (status == V_OCSP_CERTSTATUS_REVOKED)
		r->revoked++;
	else
		r->unknown++;
	ok = OCSP_basic_add1_status(r->bs, cid, status, reason, rev,
	    r->this_upd, r->next_upd) != NULL;
	ASN1_TIME_free(rev);
	return ok ? 1 : -1;
}

/*
 * Builds the signed basic response. A signer past its notAfter signs
 * nothing (a relying party would reject the response anyway): tryLater,
 * until `cmpca ocsp signer` makes a new one. nextUpdate never falls after
 * the signer's notAfter. Returns 1, 0 (r->status set), -1.
 */
static int
answer(struct ocsp_srv *s, struct oreq *r)
{
	time_t now = time(NULL), next = now + CA_OCSP_VALIDITY, until;
	struct tm tm;
	long long t0;
	int i, rc;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(r->ca->signer), &tm) != 1)
		return -1;
	until = timegm(&tm);
	if (until <= now) {
		r->status = OCSP_RESPONSE_STATUS_TRYLATER;
		r->why = "the OCSP signer has expired (cmpca ocsp signer)";
		if (now - r->ca->warned >= 60) {
			r->ca->warned = now;
			log_warn("ocsp: ca %s: signer %lld has expired, answering "
				 "tryLater: run cmpca ocsp signer --ca %s",
			    r->ca->label, r->ca->signer_id, r->ca->label);
		}
		return 0;
	}
	if (next > until)
		next = until;
	r->t_this = now;
	r->t_next = next;
	if ((r->bs = OCSP_BASICRESP_new()) == NULL ||
	    (r->this_upd = ASN1_TIME_set(NULL, now)) == NULL ||
	    (r->next_upd = ASN1_TIME_set(NULL, next)) == NULL)
		return -1;
	for (i = 0; i < r->n; i++)
		if ((rc = single_add(s, r, i)) != 1)
			return rc;
	if (r->echo_nonce && OCSP_copy_nonce(r->bs, r->req) <= 0)
		return -1;
	/* The same question with the same statuses: the answer signed
	 * before, without the HSM. */
	if (r->reusable) {
		if (SHA256((const unsigned char *)r->st,
			(size_t)r->n * sizeof(r->st[0]), r->st_md) == NULL)
			return -1;
		r->cached = ocsp_cache_get(s->answers, r->req_md, r->st_md,
		    r->ca->signer, now, &r->cached_len);
		if (r->cached != NULL) {
			metrics_ocsp(METRICS_OCSP_REUSED);
			return 1;
		}
	}
	/* The HSM's share for OCSP: beyond it, tryLater without signing. */
	if (!metrics_ocsp_sign_enter(s->cfg != NULL ? s->cfg->ocsp_sign_max
						    : 1)) {
		metrics_ocsp(METRICS_OCSP_BUSY);
		r->status = OCSP_RESPONSE_STATUS_TRYLATER;
		r->why = "busy: ocsp_sign_max OCSP signatures under way";
		return 0;
	}
	/* responderID byKey, the signer certificate in certs (§4.2.1). */
	t0 = metrics_now_us();
	if ((r->mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(r->mctx, NULL, r->ca->md, NULL, r->ca->key) !=
		1 ||
	    OCSP_basic_sign_ctx(r->bs, r->ca->signer, r->mctx, NULL,
		OCSP_RESPID_KEY) != 1) {
		metrics_ocsp_sign_leave();
		log_err("ocsp req %lu: signing with the signer of ca %s failed",
		    r->id, r->ca->label);
		return -1;
	}
	metrics_ocsp_sign_leave();
	metrics_hsm(metrics_now_us() - t0);
	metrics_ocsp(METRICS_OCSP_SIGNED);
	return 1;
}

/*
 * The key of an answer in the cache: SHA-256 over the DER of the CertIDs
 * asked, in order (issuer hashes with their algorithm, and serial), so
 * that requests differing only in a nonce, a requestorName or a
 * signature share one answer. Returns 1 or 0 (then not reused).
 */
static int
certids_md(struct oreq *r)
{
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	int i, len, ok = mc != NULL &&
	    EVP_DigestInit_ex(mc, EVP_sha256(), NULL) == 1;

	for (i = 0; ok && i < r->n; i++) {
		len = i2d_OCSP_CERTID(OCSP_onereq_get0_id(
		    OCSP_request_onereq_get0(r->req, i)), &der);
		ok = len > 0 && EVP_DigestUpdate(mc, der, (size_t)len) == 1;
		OPENSSL_free(der);
		der = NULL;
	}
	ok = ok && EVP_DigestFinal_ex(mc, r->req_md, NULL) == 1;
	EVP_MD_CTX_free(mc);
	return ok;
}

/* Runs one request; sets r->status (and r->bs when successful). */
static void
process(struct ocsp_srv *s, struct oreq *r, const unsigned char *der,
    size_t len)
{
	const unsigned char *p = der;
	time_t now = time(NULL);
	int miss, ok;

	r->status = OCSP_RESPONSE_STATUS_MALFORMEDREQUEST;
	if (der == NULL || len == 0 || len > CA_MAX_OCSP_REQUEST) {
		r->why = "no request, or not base64 (RFC 6960 Appendix A.1)";
		return;
	}
	r->req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	if (r->req == NULL || p != der + len) {
		r->why = "not an OCSPRequest, or trailing bytes (RFC 6960 §4.1)";
		return;
	}
	if (!request_check(r))
		return;
	if (OCSP_REQUEST_get_ext_by_NID(r->req, NID_id_pkix_OCSP_Nonce,
		-1) >= 0) {
		if (s->cfg != NULL && s->cfg->ocsp_nonce)
			r->echo_nonce = 1;
		else
			metrics_ocsp(METRICS_OCSP_NONCE_IGNORED);
	}
	r->reusable = !r->echo_nonce && certids_md(r);
	if (now - s->checked >= CA_CACHE_CHECK)
		(void)cache_check(s); /* logged; the old cache stays */
	if (s->loaded == 0) {
		r->status = OCSP_RESPONSE_STATUS_TRYLATER;
		r->why = "database unavailable";
		return;
	}
	ok = choose_ca(s, r, &miss);
	/* Something we do not know yet: read again, if not too soon. */
	if (miss && now - s->loaded >= CA_OCSP_MISS_REFRESH &&
	    cache_refresh(s))
		ok = choose_ca(s, r, &miss);
	if (!ok) {
		if (r->no_signer && now - r->ca->warned >= 60) {
			r->ca->warned = now;
			log_warn("ocsp: ca %s has no OCSP signer: run cmpca "
				 "ocsp signer --ca %s",
			    r->ca->label, r->ca->label);
		}
		return;
	}
	if (answer(s, r) < 0) {
		log_openssl_errors(1);
		r->status = OCSP_RESPONSE_STATUS_INTERNALERROR;
		r->why = "response construction failed";
	}
}

static void
oreq_clear(struct oreq *r)
{
	OCSP_REQUEST_free(r->req);
	OCSP_BASICRESP_free(r->bs);
	ASN1_TIME_free(r->this_upd);
	ASN1_TIME_free(r->next_upd);
	EVP_MD_CTX_free(r->mctx);
	memset(r, 0, sizeof(*r));
}

/* See ca.h. */
int
ocsp_srv_process(struct ocsp_srv *s, const unsigned char *req,
    size_t req_len, unsigned char **resp, size_t *resp_len)
{
	OCSP_RESPONSE *out = NULL;
	struct oreq r;
	int len, http = 200;

	*resp = NULL;
	*resp_len = 0;
	ERR_clear_error();
	memset(&r, 0, sizeof(r));
	r.id = ++s->reqno;
	process(s, &r, req, req_len);
	if (r.status == OCSP_RESPONSE_STATUS_SUCCESSFUL && r.cached != NULL) {
		if ((*resp = OPENSSL_memdup(r.cached, r.cached_len)) == NULL)
			http = 503;
		else
			*resp_len = r.cached_len;
		goto logged;
	}
	out = OCSP_response_create(r.status,
	    r.status == OCSP_RESPONSE_STATUS_SUCCESSFUL ? r.bs : NULL);
	if (out == NULL || (len = i2d_OCSP_RESPONSE(out, resp)) <= 0) {
		log_err("ocsp req %lu: cannot encode the response", r.id);
		OPENSSL_free(*resp);
		*resp = NULL;
		http = 500;
	} else {
		*resp_len = (size_t)len;
		/* Reused until half its validity has passed. */
		if (r.reusable && r.status == OCSP_RESPONSE_STATUS_SUCCESSFUL)
			ocsp_cache_put(s->answers, r.req_md, r.st_md,
			    r.ca->signer, r.t_this + (r.t_next - r.t_this) / 2,
			    *resp, *resp_len);
	}
logged:
	log_info("ocsp req %lu ca=%s certs=%d good=%d revoked=%d unknown=%d "
		 "status=%s%s%s%s%s",
	    r.id, r.ca != NULL ? r.ca->label : "-", r.n, r.good, r.revoked,
	    r.unknown, status_name(r.status), r.cached != NULL ? " reused" : "",
	    r.why != NULL ? ": \"" : "", r.why != NULL ? r.why : "",
	    r.why != NULL ? "\"" : "");
	OCSP_RESPONSE_free(out);
	oreq_clear(&r);
	log_openssl_errors(0);
	return http;
}

/* See ca.h. */
struct ocsp_srv *
ocsp_srv_new(const struct cfg *cfg, struct db *db, struct hsm *hsm)
{
	struct ocsp_srv *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	s->db = db;
	s->hsm = hsm;
	/* Without it every answer is signed: slower, not wrong. */
	s->answers = ocsp_cache_new();
	return s;
}

/* Safe to call with NULL. */
void
ocsp_srv_keys_drop(struct ocsp_srv *s)
{
	if (s == NULL)
		return;
	cache_clear(s);
	ocsp_cache_clear(s->answers);
	s->loaded = s->checked = 0;
}

/* See ca.h. */
void
ocsp_srv_free(struct ocsp_srv *s)
{
	if (s == NULL)
		return;
	cache_clear(s);
	ocsp_cache_free(s->answers);
	free(s);
}
