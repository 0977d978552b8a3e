/*
 * cmp_req.c - what every part of the engine does with a request: record a
 * rejection or an internal failure, build a PKIStatusInfo, a CertResponse
 * and the protected response, and record, claim and move the request's
 * transaction and nonce in the database.
 *
 * These helpers sit below the dispatcher (cmp_server.c) and the handlers,
 * and call nothing above them: a handler never calls back into the file
 * that called it.
 */
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"

/* PKIFailureInfo bit names (RFC 9810 §5.2.3), in the order of
 * CMP_FAIL_* in ca/cmp_asn.h: fail_names[CMP_FAIL_BAD_ALG] is "badAlg". */
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

/* See cmp.h. */
const char *
cmp_fail_name(int bit)
{
	if (bit < 0 || bit >= (int)(sizeof(fail_names) / sizeof(fail_names[0])))
		return NULL;
	return fail_names[bit];
}

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
	/* An RA's upstream identity holds no key of ours: what it answers
	 * to a signed request (a refusal) goes unprotected. */
	if (r->ca != NULL && r->ca->key == NULL)
		r->have_sig = r->sign_resp = 0;
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

/* See cmp_srv.h. */
CMP_MSG *
cmp_certrep_new(struct req *r, CMP_BODY *body, int with_chain)
{
	CMP_MSG *m = cmp_resp_new(r, body);

	/* extraCerts: the chain of the issued certificates (RFC 9483); a
	 * signed response already carries it. It is outside the protection:
	 * nothing to protect again. */
	if (m != NULL && with_chain && m->extraCerts == NULL &&
	    (m->extraCerts = ca_chain_copy(r->ca)) == NULL) {
		CMP_MSG_free(m);
		return NULL;
	}
	return m;
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
	case DB_REFUSE_PATH_CA:
		/* Retired since this worker's trust store was built: built
		 * again at the next request. */
		r->srv->trust_checked = 0;
		cmp_reject(r, CMP_FAIL_SIGNER_NOT_TRUSTED,
		    "a CA of the protection path is retired (retired CAs "
		    "vouch for nothing)");
		break;
	case DB_REFUSE_PATH_CERT:
		cmp_reject(r, CMP_FAIL_CERT_REVOKED,
		    "a certificate of the protection path is revoked or no "
		    "longer valid");
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
void
cmp_finish_init(const struct req *r, struct db_finish *f,
    enum db_txn_state from, enum db_txn_state to)
{
	const CMP_HEADER *h = r->msg->header;

	memset(f, 0, sizeof(*f));
	f->txid = h->transactionID->data;
	f->txid_len = (size_t)h->transactionID->length;
	f->nonce = h->senderNonce->data;
	f->nonce_len = (size_t)h->senderNonce->length;
	f->from = from;
	f->to = to;
	f->last_nonce = r->nonce;
	f->last_nonce_len = sizeof(r->nonce);
	f->actor = r->sender;
	f->ca_id = r->ca->id;
}

/* See cmp_srv.h. */
int
cmp_txn_move(struct req *r, enum db_txn_state from, enum db_txn_state to)
{
	struct db_finish f;
	enum db_refusal why;
	int rc;

	cmp_finish_init(r, &f, from, to);
	rc = db_txn_finish(r->srv->db, &f, &why);
	if (rc < 0)
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
	else if (rc == 0)
		cmp_refuse(r, why);
	return rc == 1;
}

/* See cmp_srv.h. */
CMP_CERTRESPONSE *
cmp_certresp_new(int rid, int status, int fail, const char *why, X509 *cert)
{
	CMP_CERTRESPONSE *cr = CMP_CERTRESPONSE_new();

	if (cr == NULL || !ASN1_INTEGER_set(cr->certReqId, rid))
		goto fail;
	CMP_PKISI_free(cr->status);
	if ((cr->status = cmp_pkisi_new(status, fail, why)) == NULL)
		goto fail;
	if (cert != NULL) {
		if ((cr->certifiedKeyPair = CMP_CERTIFIEDKEYPAIR_new()) == NULL)
			goto fail;
		cr->certifiedKeyPair->certOrEncCert->type = 0;
		if (!X509_up_ref(cert))
			goto fail;
		cr->certifiedKeyPair->certOrEncCert->value.certificate = cert;
	}
	return cr;
fail:
	CMP_CERTRESPONSE_free(cr);
	return NULL;
}

/* See cmp_srv.h. */
int
cmp_txn_continue(struct req *r, struct db_txn *t, enum db_txn_state state,
    struct db_cert **certs, size_t *n)
{
	const CMP_HEADER *h = r->msg->header;
	int rc;

	if (certs != NULL && n != NULL)
		rc = db_txn_get_certs(r->srv->db, h->transactionID->data,
		    (size_t)h->transactionID->length, t, certs, n);
	else
		rc = db_txn_get(r->srv->db, h->transactionID->data,
		    (size_t)h->transactionID->length, t);
	if (rc < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
		return 0;
	}
	if (rc == 0) {
		cmp_reject(r, CMP_FAIL_BAD_REQUEST,
		    "no such transaction (RFC 9810 §5.3.18)");
		return 0;
	}
	if (t->ca_id != r->ca->id || strcmp(t->sender, cmp_sender_id(r)) != 0) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "transaction belongs to another sender or CA");
		return 0;
	}
	if (t->state != state) {
		cmp_reject(r, CMP_FAIL_BAD_REQUEST,
		    state == DB_TXN_WAITING
			? "transaction is not waiting for a decision"
			: "transaction is not waiting for a confirmation");
		return 0;
	}
	if (state == DB_TXN_WAIT_CONF && t->expires < time(NULL)) {
		/* The housekeeper rejects its certificates. */
		cmp_reject(r, CMP_FAIL_BAD_REQUEST,
		    "transaction expired before its confirmation");
		return 0;
	}
	if (h->recipNonce == NULL ||
	    (size_t)h->recipNonce->length != t->last_nonce_len ||
	    memcmp(h->recipNonce->data, t->last_nonce, t->last_nonce_len) !=
		0) {
		cmp_reject(r, CMP_FAIL_BAD_RECIPIENT_NONCE,
		    "recipNonce does not match our last senderNonce "
		    "(RFC 9810 §5.1.1)");
		return 0;
	}
	return 1;
}

/* See cmp_srv.h. */
int
cmp_supersedes(const struct req *r, const struct db_cert *c)
{
	const struct cfg_profile *p;

	if (c->replaces == 0)
		return 0;
	p = cfg_profile_get(r->srv->cfg, c->profile ? c->profile : "default");
	return p == NULL || p->kur_revokes_old;
}

/* See cmp_srv.h. */
const char *
cmp_profile_name(const struct req *r)
{
	const struct cfg_profile *p;
	const char *name = "default";

	if (r->is_ra)
		name = r->ra.profile;
	else if (r->have_mac && r->secret.profile[0] != '\0')
		name = r->secret.profile;
	else if (r->have_sig && r->prot_row.id != 0 &&
	    r->prot_row.profile != NULL) {
		name = r->prot_row.profile;
		if ((p = cfg_profile_get(r->srv->cfg, name)) != NULL &&
		    p->renew_profile != NULL)
			name = p->renew_profile;
	}
	return name;
}
