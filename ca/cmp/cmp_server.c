/*
 * cmp_server.c - the CMP engine: one request's DER in, one response's DER
 * and an HTTP status out (the shape of OpenSSL's
 * OSSL_CMP_SRV_process_request), with every piece of transaction state in
 * PostgreSQL so that any worker on any host can take the next message.
 *
 * Per request: decode; find the CA; header checks; protection; dispatch by
 * body type; persist; build and protect the response. Every failure is a
 * CMP error message with a PKIFailureInfo bit and a statusString, or a
 * rejection inside the ip/cp.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"

/* Builds a PKIStatusInfo; fail < 0 means no failInfo. */
CMP_PKISI *
cmp_pkisi_new(int status, int fail, const char *text)
{
	CMP_PKISI *si = CMP_PKISI_new();
	ASN1_UTF8STRING *s = NULL;

	if (si == NULL || !ASN1_INTEGER_set(si->status, status))
		goto fail;
	if (text != NULL) {
		if ((si->statusString = sk_ASN1_UTF8STRING_new_null()) == NULL ||
		    (s = ASN1_UTF8STRING_new()) == NULL ||
		    !ASN1_STRING_set(s, text, -1) ||
		    !sk_ASN1_UTF8STRING_push(si->statusString, s))
			goto fail;
		s = NULL;
	}
	if (fail >= 0) {
		if ((si->failInfo = ASN1_BIT_STRING_new()) == NULL ||
		    !ASN1_BIT_STRING_set_bit(si->failInfo, fail, 1))
			goto fail;
	}
	return si;
fail:
	ASN1_UTF8STRING_free(s);
	CMP_PKISI_free(si);
	return NULL;
}

static const char *const fail_names[] = {
	"badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId",
	"badDataFormat", "wrongAuthority", "incorrectData",
	"missingTimeStamp", "badPOP", "certRevoked", "certConfirmed",
	"wrongIntegrity", "badRecipientNonce", "timeNotAvailable",
	"unacceptedPolicy", "unacceptedExtension", "addInfoNotAvailable",
	"badSenderNonce", "badCertTemplate", "signerNotTrusted",
	"transactionIdInUse", "unsupportedVersion", "notAuthorized",
	"systemUnavail", "systemFailure", "duplicateCertReq",
};

static const char *
fail_name(int f)
{
	if (f < 0 || f >= (int)(sizeof(fail_names) / sizeof(fail_names[0])))
		return "-";
	return fail_names[f];
}

/*
 * Signs a response with the CA key: senderKID is our SKI, extraCerts our
 * protection certificate (the CA certificate) first, then its chain
 * (RFC 9483 §3.3). Returns 1 or 0.
 */
static int
resp_sign(struct req *r, CMP_MSG *m)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(r->ca->cert);

	if (ski != NULL) {
		ASN1_OCTET_STRING_free(m->header->senderKID);
		if ((m->header->senderKID = ASN1_OCTET_STRING_dup(ski)) == NULL)
			return 0;
	}
	if (!cmp_sig_alg_set(m->header, r->ca) || !cmp_sig_protect(m, r->ca))
		return 0;
	return (m->extraCerts = ca_chain_copy(r->ca)) != NULL;
}

/*
 * Wraps a body into a response message with header and protection.
 * Takes ownership of body. Returns the message or NULL.
 */
CMP_MSG *
cmp_resp_new(struct req *r, CMP_BODY *body)
{
	CMP_MSG *m = CMP_MSG_new();
	const X509_NAME *ca_name = r->ca != NULL
	    ? X509_get_subject_name(r->ca->cert) : NULL;
	const CMP_HEADER *rh = r->msg != NULL ? r->msg->header : NULL;

	if (m == NULL) {
		CMP_BODY_free(body);
		return NULL;
	}
	CMP_BODY_free(m->body);
	m->body = body;
	CMP_HEADER_free(m->header);
	m->header = cmp_hdr_response(rh, ca_name, r->pvno, r->have_mac,
	    r->implicit, r->nonce);
	if (m->header == NULL)
		goto fail;
	if (r->have_mac && !cmp_pbm_protect(m, &r->mac))
		goto fail;
	if ((r->have_sig || r->sign_resp) && !resp_sign(r, m))
		goto fail;
	return m;
fail:
	CMP_MSG_free(m);
	return NULL;
}

/* An error message (RFC 9810 §5.3.21) for r->fail and r->why. */
static CMP_MSG *
resp_error(struct req *r)
{
	CMP_BODY *b = CMP_BODY_new();

	if (b == NULL)
		return NULL;
	b->type = CMP_BODY_ERROR;
	if ((b->value.error = CMP_ERRORMSG_new()) == NULL)
		goto fail;
	CMP_PKISI_free(b->value.error->pKIStatusInfo);
	b->value.error->pKIStatusInfo = cmp_pkisi_new(CMP_STATUS_REJECTION,
	    r->fail, r->why);
	if (b->value.error->pKIStatusInfo == NULL)
		goto fail;
	/* Never carry implicitConfirm on an error. */
	r->implicit = 0;
	return cmp_resp_new(r, b);
fail:
	CMP_BODY_free(b);
	return NULL;
}

/* Records a rejection of the whole message. Returns NULL for chaining. */
CMP_MSG *
cmp_reject(struct req *r, int fail, const char *why)
{
	r->fail = fail;
	r->why = why;
	r->outcome = "rejected";
	return NULL;
}

/* An internal failure: logged, answered with systemFailure/Unavail. */
CMP_MSG *
cmp_internal(struct req *r, int fail, const char *what)
{
	log_openssl_errors(1);
	/* The token went away under us: temporary, like a database outage. */
	if (hsm_lost(r->srv->hsm))
		fail = CMP_FAIL_SYSTEM_UNAVAIL;
	r->fail = fail;
	r->why = fail == CMP_FAIL_SYSTEM_UNAVAIL
	    ? "service temporarily unavailable, try again later"
	    : "internal error in the CA";
	r->outcome = "error";
	log_err("req %lu: %s", r->id, what);
	return NULL;
}

/* See cmp_srv.h. */
const char *
cmp_sender_id(const struct req *r)
{
	return r->sender_id[0] != '\0' ? r->sender_id : r->sender;
}

/* See cmp_srv.h. */
void
cmp_txn_fill(const struct req *r, enum db_txn_state state, struct db_txn *t)
{
	const CMP_HEADER *h = r->msg->header;

	memset(t, 0, sizeof(*t));
	memcpy(t->id, h->transactionID->data, (size_t)h->transactionID->length);
	t->id_len = (size_t)h->transactionID->length;
	t->ca_id = r->ca->id;
	snprintf(t->sender, sizeof(t->sender), "%s", cmp_sender_id(r));
	snprintf(t->kind, sizeof(t->kind), "%s",
	    cmp_body_name(r->msg->body->type));
	t->state = state;
	memcpy(t->last_nonce, r->nonce, sizeof(r->nonce));
	t->last_nonce_len = sizeof(r->nonce);
	t->pvno = r->pvno;
	t->expires = time(NULL) + r->srv->cfg->txn_timeout;
}

/* See cmp_srv.h. */
int
cmp_nonce_claim(struct req *r)
{
	const ASN1_OCTET_STRING *n = r->msg->header->senderNonce;
	int rc;

	rc = db_nonce_claim(r->srv->db, n->data, (size_t)n->length);
	if (rc == 0)
		cmp_reject(r, CMP_FAIL_BAD_SENDER_NONCE,
		    "senderNonce seen before: replayed message "
		    "(RFC 9810 §5.1.1)");
	else if (rc < 0)
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
	return rc;
}

/* See cmp_srv.h. */
int
cmp_txn_record(struct req *r, enum db_txn_state state)
{
	struct db *db = r->srv->db;
	struct db_txn t;
	int rc;

	cmp_txn_fill(r, state, &t);
	if ((rc = cmp_nonce_claim(r)) != 1)
		return rc;
	rc = db_txn_insert(db, &t);
	if (rc == 0) {
		cmp_reject(r, CMP_FAIL_TRANSACTION_ID_IN_USE,
		    "transactionID already used (RFC 9810 §5.1.1)");
		return 0;
	}
	if (rc < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(db));
		return -1;
	}
	return 1;
}

/* See cmp_srv.h. */
void
cmp_refuse(struct req *r, enum db_refusal why)
{
	switch (why) {
	case DB_REFUSE_REPLAY:
		cmp_reject(r, CMP_FAIL_BAD_SENDER_NONCE,
		    "senderNonce seen before: replayed message "
		    "(RFC 9810 §5.1.1)");
		break;
	case DB_REFUSE_TXID_IN_USE:
		cmp_reject(r, CMP_FAIL_TRANSACTION_ID_IN_USE,
		    "transactionID already used (RFC 9810 §5.1.1)");
		break;
	case DB_REFUSE_SECRET_USED:
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "enrollment secret used up or expired");
		cmp_secret_stale(r);
		break;
	case DB_REFUSE_STATE:
		cmp_reject(r, CMP_FAIL_BAD_REQUEST,
		    "transaction was finished concurrently");
		break;
	case DB_REFUSE_CA_CHANGED:
		/* Signed with a CA certificate the row no longer holds (a
		 * rollover since this worker read it): nothing is stored; the
		 * CA is read again at the next request, which the client
		 * may send at once. */
		r->ca->loaded = 0;
		log_warn("ca %s: certificate changed in the database since "
		    "this worker read it; nothing stored", r->ca->label);
		cmp_reject(r, CMP_FAIL_SYSTEM_UNAVAIL,
		    "CA certificate changed while issuing (rollover); "
		    "try again");
		break;
	default:
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
		    "serial number collision");
		break;
	}
}

/* See cmp_srv.h. */
int
cmp_ca_current(struct req *r)
{
	int rc = db_ca_cert_current(r->srv->db, r->ca->id,
	    r->ca->cert_sha256);

	if (rc < 0)
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
		    db_error(r->srv->db));
	else if (rc == 0)
		cmp_refuse(r, DB_REFUSE_CA_CHANGED);
	return rc == 1;
}

/* See cmp_srv.h. */
int
cmp_txn_move(struct req *r, enum db_txn_state from, enum db_txn_state to)
{
	const CMP_HEADER *h = r->msg->header;
	struct db_finish f;
	enum db_refusal why;
	int rc;

	memset(&f, 0, sizeof(f));
	f.txid = h->transactionID->data;
	f.txid_len = (size_t)h->transactionID->length;
	f.nonce = h->senderNonce->data;
	f.nonce_len = (size_t)h->senderNonce->length;
	f.from = from;
	f.to = to;
	f.last_nonce = r->nonce;
	f.last_nonce_len = sizeof(r->nonce);
	f.actor = r->sender;
	f.ca_id = r->ca->id;
	rc = db_txn_finish(r->srv->db, &f, &why);
	if (rc < 0)
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
	else if (rc == 0)
		cmp_refuse(r, why);
	return rc == 1;
}

/* "secret:<ref>" from a senderKID; 1 or 0 if not printable. */
static int
sender_from_kid(struct req *r, char *ref, size_t reflen)
{
	const ASN1_OCTET_STRING *kid = r->msg->header->senderKID;
	int i;

	if (kid == NULL || kid->length == 0 || (size_t)kid->length >= reflen)
		return 0;
	for (i = 0; i < kid->length; i++)
		if (kid->data[i] < 0x21 || kid->data[i] > 0x7e)
			return 0;
	memcpy(ref, kid->data, (size_t)kid->length);
	ref[kid->length] = '\0';
	snprintf(r->sender, sizeof(r->sender), "secret:%s", ref);
	return 1;
}

/* Body types that continue a transaction rather than start one. */
static int
continues_txn(int type)
{
	return type == CMP_BODY_CERTCONF || type == CMP_BODY_POLLREQ ||
	    type == CMP_BODY_ERROR;
}

/*
 * Unseals the enrollment secret of r in the HSM into r->secret.secret
 * (wiped with the request). Rows from before migration 011 still carry it
 * in clear until `cmpca db migrate` seals them. Returns 1, or 0 with an
 * internal error recorded.
 */
static int
secret_open(struct req *r)
{
	struct db_secret *s = &r->secret;
	int rc;

	if (s->sealed == NULL) {
		log_warn("req %lu: enrollment secret %s is stored in clear: "
			 "run cmpca db migrate", r->id, s->ref);
		return 1;
	}
	if (s->secret != NULL) {
		OPENSSL_cleanse(s->secret, s->secret_len);
		free(s->secret);
		s->secret = NULL;
	}
	rc = hsm_unseal(r->srv->hsm, s->ref, s->sealed, s->sealed_len,
	    &s->secret, &s->secret_len);
	if (rc != 1) {
		/* A value that does not open under its own reference was
		 * moved or damaged: our fault, not the client's. */
		cmp_internal(r, rc == 0 ? CMP_FAIL_SYSTEM_FAILURE
					: CMP_FAIL_SYSTEM_UNAVAIL, hsm_error());
		return 0;
	}
	return 1;
}

/*
 * The worker's cache of unlimited enrollment secrets. A request that
 * starts an issuance (ir, cr, kur, p10cr) may take its secret from here
 * and spare a database round trip: the statement that records the
 * issuance checks that the row is still the version read (cmpca_issue1,
 * db_secret_consume), and if not, the request is served again from a
 * fresh read (serve()). Other requests always read the row, so removing a
 * secret takes effect at once for them, and at the next issuance for the
 * cache. Only the sealed value is kept.
 */
static int
secret_cacheable(const struct req *r)
{
	switch (r->msg->body->type) {
	case CMP_BODY_IR:
	case CMP_BODY_CR:
	case CMP_BODY_KUR:
	case CMP_BODY_P10CR:
		return !r->secret_fresh;
	default:
		return 0;
	}
}

static int
secret_cache_get(struct cmp_srv *s, const char *ref, struct db_secret *out)
{
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < CMP_SECRET_CACHE; i++)
		if (s->secrets[i].at != 0 &&
		    now - s->secrets[i].at < CMP_SECRET_CACHE_TTL &&
		    strcmp(s->secrets[i].s.ref, ref) == 0)
			return db_secret_copy(out, &s->secrets[i].s);
	return 0;
}

/* Drops ref from the cache. */
static void
secret_cache_drop(struct cmp_srv *s, const char *ref)
{
	size_t i;

	for (i = 0; i < CMP_SECRET_CACHE; i++)
		if (s->secrets[i].at != 0 &&
		    strcmp(s->secrets[i].s.ref, ref) == 0) {
			db_secret_clear(&s->secrets[i].s);
			s->secrets[i].at = 0;
		}
}

/* Keeps a copy of sec if it is unlimited, sealed and versioned, in
 * the oldest (or a free) place. */
static void
secret_cache_put(struct cmp_srv *s, const struct db_secret *sec)
{
	size_t i, old = 0;

	if (sec->uses_left != -1 || sec->sealed == NULL ||
	    sec->version[0] == '\0')
		return;
	secret_cache_drop(s, sec->ref);
	for (i = 0; i < CMP_SECRET_CACHE; i++)
		if (s->secrets[i].at < s->secrets[old].at)
			old = i;
	db_secret_clear(&s->secrets[old].s);
	s->secrets[old].at = 0;
	if (db_secret_copy(&s->secrets[old].s, sec))
		s->secrets[old].at = time(NULL);
}

/* The row of r's cached secret is gone or another version now (or
 * cannot be read: then it counts as changed). */
static int
secret_row_changed(struct req *r)
{
	struct db_secret now;
	int rc, changed;

	rc = db_secret_get(r->srv->db, r->secret.ref, &now);
	changed = rc != 1 || strcmp(now.version, r->secret.version) != 0;
	db_secret_clear(&now);
	return changed;
}

/* See cmp_srv.h: the cached secret of r turned out stale. */
void
cmp_secret_stale(struct req *r)
{
	if (!r->secret_cached)
		return;
	secret_cache_drop(r->srv, r->secret.ref);
	r->secret_stale = 1;
}

/*
 * Derives r->mac from secret with the request's PBM parameters. Returns 1,
 * 0 with r rejected (parameters refused), or -1 with r failed internally.
 */
static int
mac_derive(struct req *r, const unsigned char *secret, size_t len)
{
	const char *why;
	int rc, fail;

	rc = cmp_pbm_derive(r->msg->header->protectionAlg, secret, len,
	    r->srv->cfg->pbm_max_iter, &r->mac, &fail, &why);
	if (rc == 0)
		cmp_reject(r, fail, why);
	else if (rc < 0)
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "PBM key derivation failed");
	return rc;
}

/*
 * A MAC-protected request whose senderKID names no secret: the same answer
 * as a wrong MAC after the same work (the parameters checked, a key
 * derived and a MAC computed, with a stand-in secret), so that neither
 * the answer nor its timing tells which references exist. Returns 0, or
 * -1 on an internal error.
 */
static int
unknown_ref(struct req *r)
{
	static const unsigned char standin[32];
	int rc;

	if ((rc = mac_derive(r, standin, sizeof(standin))) != 1)
		return rc;
	(void)cmp_pbm_verify(r->msg, &r->mac, r->pp, r->pp_len);
	cmp_mac_clear(&r->mac);
	cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
	    "MAC protection does not verify");
	return 0;
}

/*
 * Checks the protection of the request. Returns 1 if verified, 0 if
 * rejected (r->fail/why set), -1 on an internal error.
 */
static int
check_protection(struct req *r)
{
	const CMP_HEADER *h = r->msg->header;
	char ref[DB_REF_MAX];
	int rc;

	if (h->protectionAlg == NULL && r->msg->protection == NULL &&
	    (r->srv->cfg->unprotected_ok & (1ul << r->msg->body->type))) {
		/* Allowed by allow_unprotected for this body type; the answer
		 * is still signed, so the client can check it. */
		snprintf(r->sender, sizeof(r->sender), "unprotected");
		r->sign_resp = 1;
		return 1;
	}
	if (h->protectionAlg == NULL || r->msg->protection == NULL) {
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "message is not protected (RFC 9483 §3.2)");
		return 0;
	}
	if (!cmp_alg_is_pbm(h->protectionAlg))
		return cmp_sig_verify(r);
	if (!sender_from_kid(r, ref, sizeof(ref))) {
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "MAC protection needs the secret reference in senderKID "
		    "(RFC 9483 §3.1)");
		return 0;
	}
	if (secret_cacheable(r) &&
	    secret_cache_get(r->srv, ref, &r->secret) == 1) {
		r->secret_cached = 1;
		rc = 1;
	} else {
		rc = db_secret_get(r->srv->db, ref, &r->secret);
		if (rc < 0) {
			cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    db_error(r->srv->db));
			return -1;
		}
		if (rc == 1)
			secret_cache_put(r->srv, &r->secret);
	}
	if (rc == 0)
		return unknown_ref(r);
	if (!secret_open(r))
		return -1;
	if ((rc = mac_derive(r, r->secret.secret, r->secret.secret_len)) != 1)
		return rc;
	rc = cmp_pbm_verify(r->msg, &r->mac, r->pp, r->pp_len);
	if (rc < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "PBM computation failed");
		return -1;
	}
	if (rc == 0) {
		cmp_mac_clear(&r->mac);
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "MAC protection does not verify");
		/* With a kept copy: served again only if the row changed
		 * since (its version), so that a wrong MAC costs one PBM
		 * derivation, as without the cache. */
		if (r->secret_cached && secret_row_changed(r))
			cmp_secret_stale(r);
		return 0;
	}
	r->have_mac = 1;
	if (r->secret.ca_id != 0 && r->secret.ca_id != r->ca->id) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "enrollment secret is not valid for this CA");
		return 0;
	}
	/* An expired secret authenticates nothing; a used-up one only the
	 * end of the transactions it started (certConf, pollReq, error). */
	if (r->secret.expires != 0 && r->secret.expires <= time(NULL)) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "enrollment secret expired");
		return 0;
	}
	if (r->secret.uses_left == 0 && !continues_txn(r->msg->body->type)) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "enrollment secret used up or expired");
		return 0;
	}
	return 1;
}

static CMP_MSG *serve(struct cmp_srv *s, const char *label,
    const unsigned char *der, size_t len, int nested, int *http);
static CMP_MSG *nested_handle(struct req *r, const char *label);

/* Dispatches a verified request by body type. */
static CMP_MSG *
dispatch(struct req *r)
{
	/* A partner CA cross-certifies; it enrolls nothing else. */
	if (r->is_partner) {
		switch (r->msg->body->type) {
		case CMP_BODY_CCR:
		case CMP_BODY_CERTCONF:
		case CMP_BODY_POLLREQ:
		case CMP_BODY_GENM:
		case CMP_BODY_ERROR:
			break;
		default:
			return cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
			    "a partner CA may only cross-certify");
		}
	}
	switch (r->msg->body->type) {
	case CMP_BODY_CCR:
		return cmp_ccr_handle(r);
	case CMP_BODY_NESTED:
		return nested_handle(r, r->label);
	case CMP_BODY_IR:
	case CMP_BODY_CR:
	case CMP_BODY_KUR:
		return cmp_certreq_handle(r);
	case CMP_BODY_P10CR:
		return cmp_certreq_handle(r);
	case CMP_BODY_RR:
		return cmp_rr_handle(r);
	case CMP_BODY_GENM:
		return cmp_genm_handle(r);
	case CMP_BODY_POLLREQ:
		return cmp_poll_handle(r);
	case CMP_BODY_CERTCONF:
		return cmp_certconf_handle(r);
	case CMP_BODY_ERROR:
		return cmp_peer_error_handle(r);
	case CMP_BODY_IP:
	case CMP_BODY_CP:
	case CMP_BODY_KUP:
	case CMP_BODY_CCP:
	case CMP_BODY_PKICONF:
	case CMP_BODY_GENP:
	case CMP_BODY_POLLREP:
	case CMP_BODY_RP:
		return cmp_reject(r, CMP_FAIL_BAD_REQUEST,
		    "a response body type was sent to the CA");
	default:
		return cmp_reject(r, CMP_FAIL_BAD_REQUEST,
		    "body type not supported by this CA");
	}
}

/* Runs the request; returns the response or NULL with r->fail set. */
static CMP_MSG *
process(struct req *r, const char *label, const unsigned char *der,
    size_t len)
{
	const char *why = NULL;
	int err, rc, fail;

	r->msg = cmp_msg_parse(der, len, &why);
	if (r->msg == NULL) {
		r->http = 400;
		return cmp_reject(r, CMP_FAIL_BAD_DATA_FORMAT, why);
	}
	if (!cmp_pp_slice(der, len, &r->pp, &r->pp_len))
		r->pp = NULL;
	r->pvno = cmp_hdr_pvno(r->msg->header);
	if (hsm_lost(r->srv->hsm)) {
		/* Unprotected: our keys are in the HSM. Logged once per
		 * episode by the caller's HSM check (cmp_srv_keys_drop). */
		r->fail = CMP_FAIL_SYSTEM_UNAVAIL;
		r->why = "HSM unavailable, try again later";
		r->outcome = "error";
		return NULL;
	}
	r->label = label;
	if (label == NULL)
		label = r->srv->cfg->default_ca;
	r->ca = ca_store_get(&r->srv->store, r->srv->db, r->srv->hsm, label,
	    &err);
	if (r->ca == NULL) {
		if (err)
			return cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    "cannot load the CA");
		return cmp_reject(r, CMP_FAIL_WRONG_AUTHORITY,
		    "no such CA at this endpoint (RFC 9811 §3.3)");
	}
	if (r->ca->retired)
		return cmp_reject(r, CMP_FAIL_WRONG_AUTHORITY,
		    "this CA is retired and no longer serves requests");
	if (!cmp_hdr_check(r->msg->header,
		X509_get_subject_name(r->ca->cert), r->srv->cfg->clock_skew,
		&fail, &why))
		return cmp_reject(r, fail, why);
	rc = check_protection(r);
	if (rc != 1)
		return NULL;
	return dispatch(r);
}

/*
 * The subject a certificate request asks for (the first one), as
 * "/SN=value/..." with the raw value bytes: the peer chooses them, so the
 * caller sanitises the result. "" for other bodies.
 */
static void
req_subject(const CMP_MSG *m, char *out, size_t outlen)
{
	const X509_NAME *n = NULL;
	size_t o = 0;
	int i;

	out[0] = '\0';
	if (m == NULL)
		return;
	switch (m->body->type) {
	case CMP_BODY_IR:
	case CMP_BODY_CR:
	case CMP_BODY_KUR:
	case CMP_BODY_CCR:
		if (sk_CRMF_CERTREQMSG_num(m->body->value.ir) > 0)
			n = sk_CRMF_CERTREQMSG_value(m->body->value.ir, 0)
				->certReq->certTemplate->subject;
		break;
	case CMP_BODY_P10CR:
		n = X509_REQ_get_subject_name(m->body->value.p10cr);
		break;
	default:
		break;
	}
	for (i = 0; n != NULL && i < X509_NAME_entry_count(n); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
		const char *sn = OBJ_nid2sn(
		    OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)));
		int w = snprintf(out + o, outlen - o, "/%s=%.*s",
		    sn != NULL ? sn : "?", ASN1_STRING_length(v),
		    (const char *)ASN1_STRING_get0_data(v));

		if (w < 0 || (size_t)w >= outlen - o)
			break; /* log_sanitize bounds it anyway */
		o += (size_t)w;
	}
}

/*
 * Writes the request's one log line. Everything the peer chose (sender
 * name, subject, freeText) is sanitised: escaped and bounded.
 */
static void
req_log(const struct req *r, const CMP_MSG *out, const char *label,
    long long us)
{
	char tx[2 * 16 + 3] = "-", sender[CA_LOG_SAN_MAX];
	char subj[CA_LOG_SAN_MAX], text[CA_LOG_SAN_MAX], raw[512];
	const CMP_HEADER *h = r->msg != NULL ? r->msg->header : NULL;

	if (h != NULL && h->transactionID != NULL)
		log_hex(h->transactionID->data,
		    (size_t)h->transactionID->length, tx, sizeof(tx));
	log_sanitize((const unsigned char *)r->sender, strlen(r->sender),
	    sender, sizeof(sender));
	req_subject(r->msg, raw, sizeof(raw));
	log_sanitize((const unsigned char *)raw, strlen(raw), subj,
	    sizeof(subj));
	text[0] = '\0';
	if (h != NULL && sk_ASN1_UTF8STRING_num(h->freeText) > 0) {
		const ASN1_UTF8STRING *t = sk_ASN1_UTF8STRING_value(
		    h->freeText, 0);

		log_sanitize(ASN1_STRING_get0_data(t),
		    (size_t)ASN1_STRING_length(t), text, sizeof(text));
	}
	log_info("req %lu%s tx=%s body=%s ca=%s sender=\"%s\"%s%s%s%s%s%s "
		 "outcome=%s resp=%s failinfo=%s ms=%lld%s%s%s",
	    r->id, r->nested ? " (nested)" : "", tx,
	    r->msg != NULL ? cmp_body_name(r->msg->body->type) : "-",
	    r->ca != NULL ? r->ca->label : (label != NULL ? "?" : "-"),
	    sender[0] != '\0' ? sender : "-",
	    subj[0] != '\0' ? " subject=\"" : "", subj,
	    subj[0] != '\0' ? "\"" : "",
	    text[0] != '\0' ? " freetext=\"" : "", text,
	    text[0] != '\0' ? "\"" : "", r->outcome,
	    out != NULL ? cmp_body_name(out->body->type) : "-",
	    fail_name(r->fail), us / 1000, r->why != NULL ? " why=\"" : "",
	    r->why != NULL ? r->why : "", r->why != NULL ? "\"" : "");
}

static void
req_clear(struct req *r)
{
	CMP_MSG_free(r->msg);
	X509_free(r->prot_cert);
	db_cert_clear(&r->prot_row);
	db_ra_clear(&r->ra);
	db_partner_clear(&r->partner);
	cmp_mac_clear(&r->mac);
	db_secret_clear(&r->secret);
	db_rollback(r->srv->db);
}

/* Runs the message once on a fresh r; fresh: read the secret from the
 * database whatever the cache holds. */
static CMP_MSG *
attempt(struct req *r, struct cmp_srv *s, unsigned long id, int nested,
    int fresh, const char *label, const unsigned char *der, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->srv = s;
	r->id = id;
	r->nested = nested;
	r->pvno = 2;
	r->http = 200;
	r->fail = CMP_FAIL_NONE;
	r->outcome = "accepted";
	r->secret_fresh = fresh;
	if (RAND_bytes(r->nonce, sizeof(r->nonce)) != 1)
		return cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "no random");
	return process(r, label, der, len);
}

/*
 * Serves one message: runs it, turns any failure into an error message,
 * writes the request's log line and releases everything the request
 * allocated. Returns the response (caller frees) or NULL; *http is the
 * HTTP status. nested marks an inner message of a nested request.
 */
static CMP_MSG *
serve(struct cmp_srv *s, const char *label, const unsigned char *der,
    size_t len, int nested, int *http)
{
	struct req r;
	CMP_MSG *out;
	long long t0 = metrics_now_us(), us;

	out = attempt(&r, s, nested ? s->reqno : ++s->reqno, nested, 0,
	    label, der, len);
	if (r.secret_stale) {
		/* The secret taken from the cache changed (removed, replaced,
		 * resealed): nothing was stored or sent. Once more, with the
		 * row as it is now. */
		log_info("req %lu: enrollment secret changed since this worker "
			 "read it: served again", r.id);
		CMP_MSG_free(out);
		req_clear(&r);
		out = attempt(&r, s, r.id, nested, 1, label, der, len);
	}
	if (out == NULL) {
		if (r.fail == CMP_FAIL_NONE)
			cmp_internal(&r, CMP_FAIL_SYSTEM_FAILURE,
			    "response construction failed");
		out = resp_error(&r);
	}
	if (out == NULL && hsm_lost(s->hsm) && (r.have_sig || r.sign_resp)) {
		/* The CA key died with the token: the error goes unsigned. */
		log_openssl_errors(0);
		r.have_sig = r.sign_resp = 0;
		r.fail = CMP_FAIL_SYSTEM_UNAVAIL;
		r.why = "HSM unavailable, try again later";
		out = resp_error(&r);
	}
	if (out == NULL) {
		r.http = 500;
		r.outcome = "error";
	}
	us = metrics_now_us() - t0;
	req_log(&r, out, label, us);
	/* Inner messages of a nested one are counted with it, once. */
	if (!nested)
		metrics_request(r.msg != NULL ? r.msg->body->type : -1,
		    r.outcome, us);
	*http = r.http;
	req_clear(&r);
	return out;
}

/*
 * nested (RFC 9810 §5.1.3.4, RFC 9483 §5.2.2): a registered RA forwards
 * one or more requests, each keeping its own protection. Each inner
 * message is served as if it had come alone; the answers go back nested,
 * under our signature.
 */
static CMP_MSG *
nested_handle(struct req *r, const char *label)
{
	const ASN1_TYPE *v = r->msg->body->value.other;
	STACK_OF(CMP_MSG) *in = NULL, *outs = NULL;
	const unsigned char *p;
	unsigned char *der = NULL;
	CMP_BODY *body = NULL;
	CMP_MSG *out = NULL;
	int i, len, http, rc;

	if (r->nested)
		return cmp_reject(r, CMP_FAIL_BAD_REQUEST,
		    "nested messages inside nested messages are not accepted");
	if (!r->is_ra)
		return cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "nested messages are accepted from registered RAs only "
		    "(RFC 9483 §5.2.2)");
	if (v == NULL || v->type != V_ASN1_SEQUENCE)
		return cmp_reject(r, CMP_FAIL_BAD_DATA_FORMAT,
		    "nested body is not a SEQUENCE OF PKIMessage");
	p = v->value.sequence->data;
	in = (STACK_OF(CMP_MSG) *)ASN1_item_d2i(NULL, &p,
	    v->value.sequence->length, ASN1_ITEM_rptr(CMP_MSGS));
	if (in == NULL || sk_CMP_MSG_num(in) < 1 ||
	    sk_CMP_MSG_num(in) > CA_MAX_CERTREQS) {
		out = cmp_reject(r, CMP_FAIL_BAD_DATA_FORMAT,
		    "nested body must hold 1 to 16 PKIMessages");
		goto done;
	}
	if (db_begin(r->srv->db) != 1) {
		out = cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
		    db_error(r->srv->db));
		goto done;
	}
	rc = cmp_txn_record(r, DB_TXN_DONE);
	if (rc <= 0 || db_commit(r->srv->db) != 1) {
		if (rc > 0)
			cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    db_error(r->srv->db));
		db_rollback(r->srv->db);
		goto done;
	}
	if ((outs = sk_CMP_MSG_new_null()) == NULL)
		goto internal;
	for (i = 0; i < sk_CMP_MSG_num(in); i++) {
		CMP_MSG *o;

		der = NULL;
		if ((len = i2d_CMP_MSG(sk_CMP_MSG_value(in, i), &der)) <= 0)
			goto internal;
		o = serve(r->srv, label, der, (size_t)len, 1, &http);
		OPENSSL_free(der);
		der = NULL;
		if (o == NULL || !sk_CMP_MSG_push(outs, o)) {
			CMP_MSG_free(o);
			goto internal;
		}
	}
	if ((len = ASN1_item_i2d((const ASN1_VALUE *)outs, &der,
		 ASN1_ITEM_rptr(CMP_MSGS))) <= 0 ||
	    (body = CMP_BODY_new()) == NULL ||
	    (body->value.other = ASN1_TYPE_new()) == NULL)
		goto internal;
	body->type = CMP_BODY_NESTED;
	{
		ASN1_STRING *seq = ASN1_STRING_new();

		if (seq == NULL)
			goto internal;
		ASN1_STRING_set0(seq, der, len);
		der = NULL;
		ASN1_TYPE_set(body->value.other, V_ASN1_SEQUENCE, seq);
	}
	out = cmp_resp_new(r, body);
	body = NULL;
	goto done;
internal:
	out = cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "nested processing");
done:
	OPENSSL_free(der);
	CMP_BODY_free(body);
	sk_CMP_MSG_pop_free(in, CMP_MSG_free);
	sk_CMP_MSG_pop_free(outs, CMP_MSG_free);
	return out;
}

/* See ca.h. */
int
cmp_srv_process(struct cmp_srv *s, const char *label,
    const unsigned char *req, size_t req_len, unsigned char **resp,
    size_t *resp_len)
{
	CMP_MSG *out;
	int http, len;

	*resp = NULL;
	*resp_len = 0;
	ERR_clear_error();
	out = serve(s, label, req, req_len, 0, &http);
	if (out == NULL || (len = cmp_msg_encode_protected(out, resp)) <= 0) {
		log_err("cannot encode the response");
		http = 500;
	} else
		*resp_len = (size_t)len;
	log_openssl_errors(0);
	CMP_MSG_free(out);
	return http;
}

/* See ca.h. */
struct cmp_srv *
cmp_srv_new(const struct cfg *cfg, struct db *db, struct hsm *hsm)
{
	struct cmp_srv *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	s->db = db;
	s->hsm = hsm;
	return s;
}

/* See cmp.h. */
void
cmp_srv_keys_drop(struct cmp_srv *s)
{
	if (s != NULL)
		ca_store_clear(&s->store);
}

/* Safe to call with NULL. */
void
cmp_srv_free(struct cmp_srv *s)
{
	if (s == NULL)
		return;
	ca_store_clear(&s->store);
	cmp_sig_trust_free(s);
	for (size_t i = 0; i < CMP_SECRET_CACHE; i++)
		db_secret_clear(&s->secrets[i].s);
	free(s);
}
