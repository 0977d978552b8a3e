/*
 * cmp_server.c - the CMP engine: one request's DER in, one response's DER
 * and an HTTP status out (the shape of OpenSSL's
 * OSSL_CMP_SRV_process_request), with every piece of transaction state in
 * PostgreSQL so that any worker on any host can take the next message.
 *
 * Per request: decode; find the CA; header checks; protection
 * (cmp_auth.c); dispatch by body type to the handlers, which persist and
 * build the protected response with the request helpers of cmp_req.c.
 * Every failure is a CMP error message with a PKIFailureInfo bit and a
 * statusString, or a rejection inside the ip/cp. nested lives here,
 * because it re-enters the engine (serve()).
 *
 * Calls go one way: this file -> cmp_auth.c and the handlers -> cmp_req.c
 * and below; nothing in ca/cmp/ calls back into this file.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"

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

static CMP_MSG *serve(struct cmp_srv *s, const char *label,
    const unsigned char *der, size_t len, int nested, int *http);
static CMP_MSG *nested_handle(struct req *r, const char *label);

static CMP_MSG *dispatch_body(struct req *r);

/* Dispatches a verified request by body type. */
static CMP_MSG *
dispatch(struct req *r)
{
	CMP_MSG *up, *out;

	/* cmpca as an RA: what goes upstream (cmp_upstream.c). */
	if (r->ca->upstream && cmp_upstream_take(r, &up))
		return up;
	out = dispatch_body(r);
	/* RA mode, nested (RFC 9483 §5.2.2.1): the handler recorded the
	 * request here; the device gets the upstream CA's own answer. */
	if (out != NULL && r->relay != NULL) {
		CMP_MSG_free(out);
		out = r->relay;
		r->relay = NULL;
	}
	return out;
}

/* The handler of a verified request by body type. */
static CMP_MSG *
dispatch_body(struct req *r)
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
	case CMP_BODY_KRR:
		return cmp_krr_handle(r);
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

	r->der = der;
	r->der_len = len;
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
	rc = cmp_auth_check(r);
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
	const char *failinfo = cmp_fail_name(r->fail);

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
	    failinfo != NULL ? failinfo : "-", us / 1000,
	    r->why != NULL ? " why=\"" : "",
	    r->why != NULL ? r->why : "", r->why != NULL ? "\"" : "");
}

static void
req_clear(struct req *r)
{
	CMP_MSG_free(r->msg);
	CMP_MSG_free(r->relay);
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
	cmp_guard_free(s);
	for (size_t i = 0; i < CMP_SECRET_CACHE; i++)
		db_secret_clear(&s->secrets[i].s);
	free(s);
}
