/*
 * ocsp_answer.c - OCSP answers: built from the inventory's statuses,
 * signed in the HSM by the CA's signer, and kept in the database
 * (ocsp_answer, migration 023) so that no request costs a signature.
 *
 * Decisions:
 * - valid -> good; revoked and rejected -> revoked with the row's time and
 *   CRLReason (reason absent when unspecified, as in CRLs); unconfirmed ->
 *   unknown (the certificate was sent but never accepted: it may still be
 *   rejected, so we vouch for nothing yet); not in the inventory ->
 *   unknown.
 * - Produced ahead of time (RFC 5019 §2.1.1, RFC 6960 §2.4): the
 *   housekeeper signs one answer per certificate of the inventory (valid
 *   or revoked, not expired; SHA-1 CertID, as RFC 5019 §2.2.1 clients
 *   send) and signs it again ocsp_refresh seconds before its nextUpdate,
 *   or at once when it is stale: a status change (revocation, hold,
 *   release, rejection) or a new signer marks it stale in the same
 *   transaction (cmpca_ocsp_stale). A worker serves a request for one
 *   certificate without nonce to echo from that row, the same bytes on
 *   every worker and host, after comparing the status it signs (the
 *   row's columns, then the DER itself, and its signature) with the
 *   certificate's status read in the same statement (a revocation is
 *   answered at once even before the housekeeper's next tick). A miss (a
 *   new certificate, another CertID hash, a stale row) is signed once
 *   and stored, only while the status it signs still holds.
 * - A request nonce is ignored by default (ocsp_nonce = no; RFC 8954 §3
 *   lets a responder leave it out): a nonced request is served from the
 *   store too. With ocsp_nonce = yes a nonce is echoed and its answer
 *   signed for it.
 * - Answers that are not stored (several CertIDs in one request, serials
 *   not in the inventory) are kept in the worker's memory (ocsp_cache.c)
 *   while the statuses read are the same.
 * - At most ocsp_sign_max OCSP signatures are under way at once across
 *   the host's workers and its housekeeper (metrics_ocsp_sign_enter); a
 *   request that would need one more is answered tryLater at once
 *   (unsigned, RFC 6960 §2.3), so that CMP keeps its share of the HSM.
 * - nextUpdate is ocsp_validity seconds ahead and never after the
 *   signer's notAfter; a signer past its notAfter signs nothing.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/status/ocsp_int.h"

/* The OCSP status of a certificate's state; st NULL: not ours. */
static void
status_of(const struct db_cert_state *st, int *status, int *reason,
    time_t *rev)
{
	*status = V_OCSP_CERTSTATUS_UNKNOWN;
	*reason = OCSP_REVOKED_STATUS_NOSTATUS;
	*rev = 0;
	if (st == NULL)
		return;
	switch (st->status) {
	case DB_CERT_VALID:
		*status = V_OCSP_CERTSTATUS_GOOD;
		break;
	case DB_CERT_REVOKED:
	case DB_CERT_REJECTED:
		*status = V_OCSP_CERTSTATUS_REVOKED;
		/* unspecified (0) is left out, as RFC 5280 §5.3.1 asks of
		 * CRL entries. */
		if (st->reason > CRL_REASON_UNSPECIFIED &&
		    ca_crl_reason_name(st->reason) != NULL)
			*reason = st->reason;
		*rev = st->revoked_at;
		break;
	default: /* unconfirmed: never accepted, may still be rejected */
		break;
	}
}

static enum db_ocsp_status
db_status_of(int status)
{
	switch (status) {
	case V_OCSP_CERTSTATUS_GOOD: return DB_OCSP_GOOD;
	case V_OCSP_CERTSTATUS_REVOKED: return DB_OCSP_REVOKED;
	default: return DB_OCSP_UNKNOWN;
	}
}

/*
 * The end of answers c's signer may sign at now: min(now + validity,
 * signer notAfter) into *next. 1, 0 the signer has expired, -1.
 */
static int
signer_next(const struct ocsp_srv *s, const struct ocsp_ca *c, time_t now,
    time_t *next)
{
	struct tm tm;
	time_t until;
	long validity = s->cfg != NULL ? s->cfg->ocsp_validity
				       : CA_DEFAULT_OCSP_VALIDITY;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(c->signer), &tm) != 1)
		return -1;
	until = timegm(&tm);
	if (until <= now)
		return 0;
	*next = now + validity;
	if (*next > until)
		*next = until;
	return 1;
}

/*
 * Signs bs with c's signer, responderID byKey and the signer certificate
 * in certs (RFC 6960 §4.2.1), under the host's cap (ocsp_sign_max).
 * Returns 1, 0 busy (nothing signed), -1 failure.
 */
static int
basic_sign(struct ocsp_srv *s, struct ocsp_ca *c, OCSP_BASICRESP *bs,
    enum metrics_ocsp_event ev)
{
	EVP_MD_CTX *mctx;
	long long t0;
	int ok;

	if (!metrics_ocsp_sign_enter(s->cfg != NULL ? s->cfg->ocsp_sign_max
						    : 1))
		return 0;
	t0 = metrics_now_us();
	ok = (mctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestSignInit(mctx, NULL, c->md, NULL, c->key) == 1 &&
	    OCSP_basic_sign_ctx(bs, c->signer, mctx, NULL, OCSP_RESPID_KEY) ==
		1;
	metrics_ocsp_sign_leave();
	EVP_MD_CTX_free(mctx);
	if (!ok)
		return -1;
	metrics_hsm(metrics_now_us() - t0);
	metrics_ocsp(ev);
	return 1;
}

/*
 * Does the stored answer's DER say what the inventory says now? The row's
 * columns are the daemon's to write, so an attacker with its database
 * login could put an older answer (good, signed before a revocation) in
 * a revoked certificate's row. What is served is what the bytes sign:
 * one SingleResponse for the request's CertID, the certificate's status,
 * reason and revocation time as read in the same statement, a nextUpdate
 * still ahead, and a signature by the CA entry's signer (no other
 * certificate of the response is looked at).
 */
static int
stored_matches(const struct oreq *r, time_t now, int status, int reason,
    time_t rev)
{
	const unsigned char *p = r->stored.der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_SINGLERESP *one;
	STACK_OF(X509) *certs = NULL;
	ASN1_GENERALIZEDTIME *rt = NULL, *thisu = NULL, *nextu = NULL;
	const OCSP_CERTID *cid;
	int st, rs = -1, ok = 0;

	if (r->stored.der_len > LONG_MAX ||
	    (resp = d2i_OCSP_RESPONSE(NULL, &p,
		 (long)r->stored.der_len)) == NULL ||
	    p != r->stored.der + r->stored.der_len ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL ||
	    OCSP_resp_count(bs) != 1 || (one = OCSP_resp_get0(bs, 0)) == NULL ||
	    (cid = OCSP_SINGLERESP_get0_id(one)) == NULL ||
	    OCSP_id_cmp(cid, OCSP_onereq_get0_id(
				 OCSP_request_onereq_get0(r->req, 0))) != 0)
		goto out;
	st = OCSP_single_get0_status(one, &rs, &rt, &thisu, &nextu);
	if (st != status || nextu == NULL ||
	    ASN1_TIME_cmp_time_t(nextu, now) <= 0 ||
	    (status == V_OCSP_CERTSTATUS_REVOKED &&
		(rs != reason || rt == NULL ||
		    ASN1_TIME_cmp_time_t(rt, rev) != 0)))
		goto out;
	if ((certs = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(certs, r->ca->signer))
		goto out;
	ok = OCSP_basic_verify(bs, certs, NULL,
		 OCSP_NOINTERN | OCSP_NOVERIFY | OCSP_NOCHECKS) == 1;
out:
	if (!ok)
		ERR_clear_error();
	sk_X509_free(certs);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return ok;
}

/*
 * Can the stored answer r->stored be served at now: not stale, made by
 * the CA entry's signer, before its nextUpdate, and signing the status
 * the certificate has now (read in the same statement), in its columns
 * and in its bytes (stored_matches)?
 */
static int
stored_usable(const struct oreq *r, time_t now)
{
	const struct db_ocsp_answer *a = &r->stored;
	int status, reason;
	time_t rev;

	if (a->der == NULL || a->stale || a->signer_id != r->ca->signer_id ||
	    a->next_update <= now)
		return 0;
	status_of(&r->cert, &status, &reason, &rev);
	if (a->status != db_status_of(status) || a->reason != reason ||
	    (status == V_OCSP_CERTSTATUS_REVOKED && a->revoked_at != rev))
		return 0;
	if (!stored_matches(r, now, status, reason, rev)) {
		log_warn("ocsp req %lu: ca %s serial %s: the stored answer "
			 "does not sign the inventory's status (or does not "
			 "verify): signed again",
		    r->id, r->ca->label, r->serial);
		return 0;
	}
	return 1;
}

/*
 * The store, for a request of one certificate of r->ca: its status and
 * stored answer, in one statement. Sets r->cached (served) or
 * r->store_after (sign and store). Returns 1, or 0 on a database error
 * (r->status tryLater).
 */
static int
store_get(struct ocsp_srv *s, struct oreq *r, time_t now)
{
	OCSP_CERTID *cid =
	    OCSP_onereq_get0_id(OCSP_request_onereq_get0(r->req, 0));
	ASN1_INTEGER *serial = NULL;
	int rc;

	if (!OCSP_id_get0_info(NULL, NULL, NULL, &serial, cid) ||
	    serial == NULL ||
	    ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ||
	    !ca_serial_hex(serial, r->serial, sizeof(r->serial)))
		return 1; /* a serial we never write: unknown */
	rc = db_ocsp_answer_get(s->db, r->ca->id, r->serial,
	    ocsp_cid_names[r->mdi], &r->cert, &r->stored);
	if (rc < 0) {
		log_warn("ocsp req %lu: %s", r->id, db_error(s->db));
		r->status = OCSP_RESPONSE_STATUS_TRYLATER;
		r->why = "database unavailable";
		return 0;
	}
	if (rc == 0)
		return 1; /* not in the inventory: signed, kept in memory */
	r->have_cert = 1;
	if (!stored_usable(r, now)) {
		r->store_after = 1;
		return 1;
	}
	r->cached = r->stored.der;
	r->cached_len = r->stored.der_len;
	r->from_store = 1;
	if (r->stored.status == DB_OCSP_GOOD)
		r->good++;
	else if (r->stored.status == DB_OCSP_REVOKED)
		r->revoked++;
	else
		r->unknown++;
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
	const struct db_cert_state *stp = NULL;
	char hex[DB_SERIAL_MAX];
	int status, reason, rc, ok;
	ASN1_TIME *rev = NULL;
	time_t rt;

	if (i == 0 && r->have_cert) {
		stp = &r->cert; /* read with the stored answer */
		goto add;
	}
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
	if (rc == 1)
		stp = &st;
add:
	status_of(stp, &status, &reason, &rt);
	if (status == V_OCSP_CERTSTATUS_REVOKED &&
	    (rev = ASN1_TIME_set(NULL, rt != 0 ? rt : time(NULL))) == NULL)
		return -1;
	r->st[i][0] = status;
	r->st[i][1] = reason;
	r->st[i][2] = rt;
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

/* Logs (at most once a minute) that c's signer has expired. */
static void
signer_expired(struct ocsp_ca *c, time_t now)
{
	if (now - c->warned >= 60) {
		c->warned = now;
		log_warn("ocsp: ca %s: signer %lld has expired, answering "
			 "tryLater: run cmpca ocsp signer --ca %s",
		    c->label, c->signer_id, c->label);
	}
}

/* See ocsp_int.h. */
int
ocsp_answer(struct ocsp_srv *s, struct oreq *r)
{
	time_t now = time(NULL), next = 0;
	int i, rc;

	if ((rc = signer_next(s, r->ca, now, &next)) != 1) {
		if (rc < 0)
			return -1;
		/* A relying party would reject the response anyway:
		 * tryLater, until `cmpca ocsp signer` makes a new one. */
		r->status = OCSP_RESPONSE_STATUS_TRYLATER;
		r->why = "the OCSP signer has expired (cmpca ocsp signer)";
		signer_expired(r->ca, now);
		return 0;
	}
	/* One certificate of ours, no nonce to echo: the stored answer. */
	if (r->reusable && r->n == 1 && r->cas[0] == r->ca) {
		if (!store_get(s, r, now))
			return 0;
		if (r->cached != NULL) {
			metrics_ocsp(METRICS_OCSP_STORED);
			return 1;
		}
	}
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
	/* Not for the store: the same question with the same statuses is
	 * answered from the worker's memory. */
	if (r->reusable && !r->store_after) {
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
	rc = basic_sign(s, r->ca, r->bs, METRICS_OCSP_SIGNED);
	if (rc == 0) {
		/* The HSM's share for OCSP: beyond it, tryLater unsigned. */
		metrics_ocsp(METRICS_OCSP_BUSY);
		r->status = OCSP_RESPONSE_STATUS_TRYLATER;
		r->why = "busy: ocsp_sign_max OCSP signatures under way";
		return 0;
	}
	if (rc < 0) {
		log_err("ocsp req %lu: signing with the signer of ca %s failed",
		    r->id, r->ca->label);
		return -1;
	}
	return 1;
}

/* See ocsp_int.h. */
void
ocsp_answer_keep(struct ocsp_srv *s, struct oreq *r,
    const unsigned char *der, size_t len)
{
	struct db_ocsp_answer a;

	if (!r->store_after || r->status != OCSP_RESPONSE_STATUS_SUCCESSFUL)
		return;
	memset(&a, 0, sizeof(a));
	a.ca_id = r->ca->id;
	snprintf(a.serial, sizeof(a.serial), "%s", r->serial);
	snprintf(a.md, sizeof(a.md), "%s", ocsp_cid_names[r->mdi]);
	a.status = db_status_of((int)r->st[0][0]);
	a.reason = (int)r->st[0][1];
	a.revoked_at = (time_t)r->st[0][2];
	a.signer_id = r->ca->signer_id;
	a.this_update = r->t_this;
	a.next_update = r->t_next;
	a.der = (unsigned char *)der; /* borrowed */
	a.der_len = len;
	if (db_ocsp_answer_put(s->db, &a) < 0)
		log_warn("ocsp req %lu: answer not stored: %s", r->id,
		    db_error(s->db));
}

/* The CertID of serial (hex) under c with digest mdi, or NULL. */
static OCSP_CERTID *
certid_new(const struct ocsp_ca *c, int mdi, const char *serial)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	OCSP_CERTID *cid = NULL;
	const EVP_MD *md = ca_md_fetch(ocsp_cid_nids[mdi]);

	if (md != NULL && BN_hex2bn(&bn, serial) > 0 &&
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL)
		cid = OCSP_cert_id_new(md, X509_get_subject_name(c->cert),
		    X509_get0_pubkey_bitstr(c->cert), ai);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return cid;
}

/*
 * Produces and stores the answer d names. Returns 1 stored, 0 not (the
 * CA cannot sign, the certificate changed or is gone: logged when it
 * matters), 2 busy (the cap: try at the next tick), -1 failure.
 */
static int
produce_one(struct ocsp_srv *s, const struct db_ocsp_due *d, time_t now)
{
	struct ocsp_ca *c = ocsp_ca_by_id(s, d->ca_id);
	struct db_ocsp_answer a;
	OCSP_CERTID *cid = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	ASN1_TIME *t_this = NULL, *t_next = NULL, *t_rev = NULL;
	unsigned char *der = NULL;
	time_t next, rt;
	int mdi, status, reason, len, rc = -1;

	memset(&a, 0, sizeof(a));
	for (mdi = 0; mdi < OCSP_NMD; mdi++)
		if (strcmp(ocsp_cid_names[mdi], d->md) == 0)
			break;
	if (c == NULL || c->key == NULL || mdi == OCSP_NMD)
		return 0; /* no signer here (the CA's log line says why) */
	if ((rc = signer_next(s, c, now, &next)) != 1) {
		if (rc == 0)
			signer_expired(c, now);
		return rc;
	}
	/* The state the due query read: db_ocsp_answer_put stores the
	 * answer only if the certificate still has it. */
	rc = -1;
	status_of(&d->cert, &status, &reason, &rt);
	if ((cid = certid_new(c, mdi, d->serial)) == NULL ||
	    (bs = OCSP_BASICRESP_new()) == NULL ||
	    (t_this = ASN1_TIME_set(NULL, now)) == NULL ||
	    (t_next = ASN1_TIME_set(NULL, next)) == NULL ||
	    (status == V_OCSP_CERTSTATUS_REVOKED &&
		(t_rev = ASN1_TIME_set(NULL, rt != 0 ? rt : now)) == NULL) ||
	    OCSP_basic_add1_status(bs, cid, status, reason, t_rev, t_this,
		t_next) == NULL)
		goto out;
	if ((rc = basic_sign(s, c, bs, METRICS_OCSP_PRODUCED)) != 1) {
		rc = rc == 0 ? 2 : -1;
		goto out;
	}
	rc = -1;
	if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL,
		 bs)) == NULL ||
	    (len = i2d_OCSP_RESPONSE(resp, &der)) <= 0)
		goto out;
	a.ca_id = c->id;
	snprintf(a.serial, sizeof(a.serial), "%s", d->serial);
	snprintf(a.md, sizeof(a.md), "%s", d->md);
	a.status = db_status_of(status);
	a.reason = reason;
	a.revoked_at = rt;
	a.signer_id = c->signer_id;
	a.this_update = now;
	a.next_update = next;
	a.der = der; /* borrowed */
	a.der_len = (size_t)len;
	rc = db_ocsp_answer_put(s->db, &a);
	if (rc < 0)
		log_warn("ocsp: ca %s: answer for %s not stored: %s", c->label,
		    d->serial, db_error(s->db));
out:
	if (rc < 0)
		log_openssl_errors(1);
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(cid);
	ASN1_TIME_free(t_this);
	ASN1_TIME_free(t_next);
	ASN1_TIME_free(t_rev);
	return rc;
}

/* See status.h. */
int
ocsp_srv_produce(struct ocsp_srv *s, int missing, long long *pruned)
{
	struct db_ocsp_due *due = NULL;
	time_t now = time(NULL);
	size_t n = 0, i;
	int made = 0, pending = 0, open = 0, rc;

	if (pruned != NULL)
		*pruned = 0;
	ERR_clear_error();
	if (s->loaded == 0 || now - s->checked >= CA_CACHE_CHECK)
		(void)ocsp_cas_check(s); /* logged; the old list stays */
	if (s->loaded == 0)
		return -1;
	if (missing && pruned != NULL &&
	    db_ocsp_answer_prune(s->db, pruned) != 1)
		log_warn("ocsp: answers not pruned: %s", db_error(s->db));
	if (db_ocsp_answer_due(s->db, s->cfg->ocsp_refresh, missing,
		CA_OCSP_PRODUCE_BATCH, &due, &n) != 1) {
		log_warn("ocsp: answers due not read: %s", db_error(s->db));
		return -1;
	}
	/* Committed CA_OCSP_PRODUCE_COMMIT answers at a time: one WAL flush
	 * for several answers rather than one each (issue 29). A failure
	 * ends the batch; what its transaction held is produced again at
	 * the next tick. A worker serving one of these certificates
	 * meanwhile signs its own answer, as before any was stored. */
	for (i = 0; i < n; i++) {
		if (!open && db_begin(s->db) != 1)
			break;
		open = 1;
		rc = produce_one(s, &due[i], now);
		if (rc == 2 || rc < 0)
			break; /* the workers sign: the rest at the next tick */
		pending += rc == 1;
		if ((i + 1) % CA_OCSP_PRODUCE_COMMIT == 0) {
			open = 0;
			if (db_commit(s->db) != 1)
				break;
			made += pending;
			pending = 0;
		}
	}
	if (open) {
		if (db_commit(s->db) == 1)
			made += pending;
		else
			log_warn("ocsp: answers not stored: %s",
			    db_error(s->db));
	}
	free(due);
	log_openssl_errors(0);
	return made;
}
