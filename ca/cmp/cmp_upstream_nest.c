/*
 * cmp_upstream_nest.c - cmpca as an RA: requests whose end-to-end
 * protection must stay go upstream unchanged inside a nested message
 * (RFC 9483 §5.2.2.1, RFC 9810 §5.1.3.4), the outer message signed with
 * the RA's signing identity (`ca upstream --sign-ca`).
 *
 * Which: a kur, ir or cr signed by the device with a certificate this RA
 * brokered (cmp_sig.c checked the signature, the certificate in this
 * identity's inventory and its validity), and with `--nested` the
 * MAC-protected ir, cr and p10cr too. The RA's own checks (profile,
 * template, POP, kur rules) run first, as for any request; then the
 * device's PKIMessage, byte for byte, is the one inner message of a
 * nested request in a transaction of its own (a fresh transactionID and
 * nonces: the outer message is a one-message transaction at the upstream
 * CA, which serves the inner one as if it came alone).
 *
 * The upstream CA's inner answer goes to the device unchanged (r->relay):
 * the device checks the CA's protection itself. Before that the RA
 * checks that it belongs to the device's transaction (transactionID, the
 * device's senderNonce as recipNonce), is of the expected type, and for a
 * certificate the same as for re-protected requests
 * (cmp_upstream_cert_check: the requested key, subject and names, a chain
 * to the upstream CA's certificate); the certificate is then stored here
 * (audit issue-upstream) with the upstream's senderNonce as our last
 * nonce, so that the device's certConf, which answers the CA, continues
 * the transaction here too. That certConf (and an error) goes upstream in
 * nested as well, and the pkiConf comes back unchanged. A certificate
 * that fails the RA's checks cannot be refused upstream in the device's
 * name (a certConf needs the device's protection): the device gets
 * systemFailure, and the upstream CA's unconfirmed certificate is revoked
 * there when its transaction expires. An upstream answer of waiting is
 * relayed to the device as it came (kept in ra_fwd as waiting), and each
 * pollReq of the device goes upstream in nested the same way (fwd_poll).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"

#define NEST_ERR_MAX 512
#define NEST_UNAVAIL "the upstream CA is not available, try again later"
#define NEST_MISFIT "the upstream CA's answer does not fit the request"

/* See cmp_srv.h. */
int
cmp_upstream_nest_mode(struct req *r)
{
	struct db_upstream u;
	int type = r->msg->body->type, rc;

	memset(&u, 0, sizeof(u));
	r->up_nested = 0;
	if (r->have_mac) {
		switch (type) {
		case CMP_BODY_IR:
		case CMP_BODY_CR:
		case CMP_BODY_P10CR:
		case CMP_BODY_CERTCONF:
		case CMP_BODY_POLLREQ:
		case CMP_BODY_ERROR:
			break;
		default:
			return 0;
		}
	}
	rc = db_upstream_get(r->srv->db, r->ca->id, &u);
	if (rc < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
		return -1;
	}
	if (r->have_mac) {
		r->up_nested = rc == 1 && u.nested;
		db_upstream_clear(&u);
		return r->up_nested;
	}
	rc = rc == 1 && strcmp(u.mode, "sig") == 0;
	db_upstream_clear(&u);
	if (!rc) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "this RA forwards signature-protected requests in nested, "
		    "which its upstream configuration does not sign (cmpca ca "
		    "upstream --sign-ca; RFC 9483 §5.2.2.1)");
		return -1;
	}
	switch (type) {
	case CMP_BODY_IR:
	case CMP_BODY_CR:
	case CMP_BODY_KUR:
	case CMP_BODY_CERTCONF:
	case CMP_BODY_POLLREQ:
	case CMP_BODY_ERROR:
		r->up_nested = 1;
		return 1;
	default:
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "this RA forwards signature-protected ir, cr, kur, "
		    "certConf, pollReq and error only (nested, RFC 9483 "
		    "§5.2.2.1)");
		return -1;
	}
}

/* The nested body holding the device's message as received. NULL on
 * error. */
static CMP_BODY *
nest_body(const struct req *r)
{
	CMP_BODY *b = CMP_BODY_new();
	ASN1_STRING *seq = ASN1_STRING_new();
	unsigned char *der = NULL, *p;
	int len;

	if (b == NULL || seq == NULL || r->der == NULL ||
	    r->der_len > CA_MAX_REQUEST ||
	    (len = ASN1_object_size(1, (int)r->der_len, V_ASN1_SEQUENCE)) <=
		0 ||
	    (der = OPENSSL_malloc((size_t)len)) == NULL ||
	    (b->value.other = ASN1_TYPE_new()) == NULL)
		goto fail;
	/* SEQUENCE OF PKIMessage with one element, the device's bytes. */
	p = der;
	ASN1_put_object(&p, 1, (int)r->der_len, V_ASN1_SEQUENCE,
	    V_ASN1_UNIVERSAL);
	memcpy(p, r->der, r->der_len);
	ASN1_STRING_set0(seq, der, len);
	ASN1_TYPE_set(b->value.other, V_ASN1_SEQUENCE, seq);
	b->type = CMP_BODY_NESTED;
	return b;
fail:
	OPENSSL_free(der);
	ASN1_STRING_free(seq);
	CMP_BODY_free(b);
	return NULL;
}

/* See cmp_srv.h. */
int
cmp_upstream_nest_exchange(struct req *r, struct db_up_state *st, CMP_MSG **inner,
    int *fail, const char **why)
{
	const CMP_HEADER *h = r->msg->header;
	char err[NEST_ERR_MAX];
	STACK_OF(CMP_MSG) *in = NULL;
	const ASN1_TYPE *v;
	const unsigned char *p;
	const CMP_HEADER *ih;
	CMP_MSG *a = NULL, *m;
	CMP_BODY *b;
	int ok = 0;

	*inner = NULL;
	*fail = CMP_FAIL_SYSTEM_UNAVAIL;
	*why = NEST_UNAVAIL;
	if (r->srv->up == NULL) {
		log_err("req %lu: upstream %s: no upstream transport in this "
			"process", r->id, r->ca->label);
		return 0;
	}
	if ((b = nest_body(r)) == NULL) {
		log_openssl_errors(1);
		*fail = CMP_FAIL_SYSTEM_FAILURE;
		*why = "cannot build the nested request";
		return 0;
	}
	if (!r->srv->up->exchange(r->srv->db, r->srv->hsm, r->ca, st, 0, b,
		CMP_BODY_NESTED, &a, err, sizeof(err))) {
		log_warn("req %lu: upstream %s: nested: %s", r->id,
		    r->ca->label, err);
		return 0;
	}
	*fail = CMP_FAIL_SYSTEM_FAILURE;
	*why = NEST_MISFIT;
	if (a->body->type == CMP_BODY_ERROR) {
		const CMP_PKISI *si = a->body->value.error->pKIStatusInfo;

		/* The RA's own message refused (the device's is not
		 * answered): not the device's fault. */
		*why = cmp_upstream_text(r, si);
		log_warn("req %lu: upstream %s refused the nested message: %s",
		    r->id, r->ca->label, *why);
		goto out;
	}
	v = a->body->value.other;
	if (v != NULL && v->type == V_ASN1_SEQUENCE) {
		p = v->value.sequence->data;
		in = (STACK_OF(CMP_MSG) *)ASN1_item_d2i(NULL, &p,
		    v->value.sequence->length, ASN1_ITEM_rptr(CMP_MSGS));
	}
	if (in == NULL || sk_CMP_MSG_num(in) != 1) {
		log_warn("req %lu: upstream %s: the nested answer does not hold "
			 "one message", r->id, r->ca->label);
		goto out;
	}
	m = sk_CMP_MSG_value(in, 0);
	ih = m->header;
	if (ih->transactionID == NULL ||
	    ASN1_OCTET_STRING_cmp(ih->transactionID, h->transactionID) != 0 ||
	    ih->recipNonce == NULL ||
	    ASN1_OCTET_STRING_cmp(ih->recipNonce, h->senderNonce) != 0 ||
	    ih->senderNonce == NULL ||
	    ih->senderNonce->length != (int)sizeof(r->nonce)) {
		log_warn("req %lu: upstream %s: the inner answer does not "
			 "belong to the device's transaction (transactionID, "
			 "recipNonce or senderNonce)", r->id, r->ca->label);
		goto out;
	}
	*inner = sk_CMP_MSG_shift(in);
	ok = 1;
out:
	ERR_clear_error();
	sk_CMP_MSG_pop_free(in, CMP_MSG_free);
	CMP_MSG_free(a);
	return ok;
}

/* The answer type of a certificate request type (RFC 9810 §5.3.4). */
static int
want_type(int type)
{
	return type == CMP_BODY_IR ? CMP_BODY_IP
	    : type == CMP_BODY_KUR ? CMP_BODY_KUP : CMP_BODY_CP;
}

/* See cmp_srv.h. */
int
cmp_upstream_nest_certreq(struct req *r, const CRMF_CERTREQMSG *m, int rid,
    EVP_PKEY *pub, X509 **cert, struct db_ra_fwd *fwd,
    CMP_CERTRESPONSE **resp, int *failp, const char **whyp)
{
	const CMP_HEADER *h = r->msg->header;
	const CMP_PKISI *si;
	CMP_CERTRESPONSE *cr;
	struct db_ra_fwd f;
	CMP_MSG *in = NULL;
	const char *why, *bad;
	X509 *x;
	long status;
	int fail, rc;

	*cert = NULL;
	memset(&f, 0, sizeof(f));
	if (r->msg->body->type != CMP_BODY_P10CR &&
	    sk_CRMF_CERTREQMSG_num(r->msg->body->value.ir) > 1)
		return cmp_upstream_refuse(rid, CMP_FAIL_BAD_REQUEST,
		    "this RA forwards one CertReqMsg per nested request "
		    "(RFC 9483 §5.2.2.1)", resp, failp, whyp);
	if (!cmp_upstream_nest_exchange(r, &f.up, &in, &fail, &why))
		return cmp_upstream_refuse(rid, fail, why, resp, failp, whyp);
	if (in->body->type == CMP_BODY_ERROR) {
		si = in->body->value.error->pKIStatusInfo;
		log_info("req %lu: upstream %s answered error (%s), relayed",
		    r->id, r->ca->label, cmp_upstream_text(r, si));
		r->relay = in;
		return cmp_upstream_refuse(rid,
		    cmp_upstream_fail(si, CMP_FAIL_BAD_REQUEST), r->why_buf,
		    resp, failp, whyp);
	}
	if (in->body->type != want_type(r->msg->body->type) ||
	    (cr = cmp_upstream_find_resp(in->body->value.ip, rid)) == NULL) {
		log_warn("req %lu: upstream %s: nested answer %s does not fit "
			 "request %d", r->id, r->ca->label,
		    cmp_body_name(in->body->type), rid);
		rc = cmp_upstream_refuse(rid, CMP_FAIL_SYSTEM_FAILURE,
		    NEST_MISFIT, resp, failp, whyp);
		goto out;
	}
	status = ASN1_INTEGER_get(cr->status->status);
	if (status == CMP_STATUS_REJECTION) {
		log_info("req %lu: upstream %s rejected the request (%s), "
			 "relayed", r->id, r->ca->label,
		    cmp_upstream_text(r, cr->status));
		rc = cmp_upstream_refuse(rid,
		    cmp_upstream_fail(cr->status, CMP_FAIL_BAD_REQUEST),
		    r->why_buf, resp, failp, whyp);
		r->relay = in;
		in = NULL;
		goto out;
	}
	if (status == CMP_STATUS_WAITING) {
		/* Delayed delivery upstream: relayed; the device's pollReqs
		 * go upstream in nested too (cmp_upstream.c's fwd_poll). */
		log_info("req %lu: upstream %s answered waiting (nested), "
			 "relayed", r->id, r->ca->label);
		memcpy(r->nonce, in->header->senderNonce->data,
		    sizeof(r->nonce));
		f.ca_id = r->ca->id;
		memcpy(f.txid, h->transactionID->data,
		    (size_t)h->transactionID->length);
		f.txid_len = (size_t)h->transactionID->length;
		f.cert_req_id = rid;
		f.waiting = 1;
		*fwd = f;
		r->relay = in;
		in = NULL;
		rc = 2;
		goto out;
	}
	if ((x = cmp_upstream_issued(cr)) == NULL) {
		log_warn("req %lu: upstream %s: status %ld without a plain "
			 "certificate", r->id, r->ca->label, status);
		rc = cmp_upstream_refuse(rid, CMP_FAIL_SYSTEM_FAILURE,
		    NEST_MISFIT, resp, failp, whyp);
		goto out;
	}
	if ((bad = cmp_upstream_cert_check(r, x, m->certReq->certTemplate, pub,
		 in->extraCerts)) != NULL) {
		log_warn("req %lu: upstream %s: certificate refused: %s (left "
			 "unconfirmed upstream)", r->id, r->ca->label, bad);
		rc = cmp_upstream_refuse(rid, CMP_FAIL_SYSTEM_FAILURE,
		    "the upstream CA's certificate does not fit the request; "
		    "refused", resp, failp, whyp);
		goto out;
	}
	/* The device answers the CA: our last nonce is the CA's, and
	 * implicitConfirm is the CA's decision. */
	memcpy(r->nonce, in->header->senderNonce->data, sizeof(r->nonce));
	r->implicit = cmp_hdr_implicit_confirm(in->header);
	f.ca_id = r->ca->id;
	memcpy(f.txid, h->transactionID->data,
	    (size_t)h->transactionID->length);
	f.txid_len = (size_t)h->transactionID->length;
	f.cert_req_id = rid;
	if (!X509_up_ref(x)) {
		rc = -1;
		goto out;
	}
	*fwd = f;
	*cert = x;
	r->relay = in;
	in = NULL;
	log_info("req %lu: upstream %s issued the certificate (nested)", r->id,
	    r->ca->label);
	rc = 1;
out:
	CMP_MSG_free(in);
	return rc;
}

/* The ra_fwd row of r's transaction for its first CertStatus (certConf)
 * or request 0 (error): 1, 0 none, -1 (r set). */
static int
nest_row(struct req *r, struct db_ra_fwd *f)
{
	const CMP_HEADER *h = r->msg->header;
	STACK_OF(CMP_CERTSTATUS) *sk;
	int rc;

	memset(f, 0, sizeof(*f));
	f->ca_id = r->ca->id;
	if ((size_t)h->transactionID->length > sizeof(f->txid))
		return 0;
	memcpy(f->txid, h->transactionID->data,
	    (size_t)h->transactionID->length);
	f->txid_len = (size_t)h->transactionID->length;
	if (r->msg->body->type == CMP_BODY_CERTCONF) {
		sk = r->msg->body->value.certConf;
		if (sk_CMP_CERTSTATUS_num(sk) != 1)
			return 0; /* the engine answers */
		f->cert_req_id = (int)ASN1_INTEGER_get(
		    sk_CMP_CERTSTATUS_value(sk, 0)->certReqId);
	}
	rc = db_ra_fwd_get(r->srv->db, f);
	if (rc < 0)
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
	return rc;
}

/* See cmp_srv.h. */
int
cmp_upstream_nest_continue(struct req *r, CMP_MSG **out)
{
	struct db_ra_fwd f;
	CMP_MSG *in = NULL;
	const char *why;
	int rc, fail, type = r->msg->body->type;

	*out = NULL;
	if (type != CMP_BODY_CERTCONF && type != CMP_BODY_ERROR)
		return 0; /* pollReq: cmp_upstream.c's fwd_poll */
	if ((rc = nest_row(r, &f)) < 0)
		return 1;
	if (rc == 0)
		return 0; /* nothing forwarded: the engine answers */
	if (!cmp_upstream_nest_exchange(r, &f.up, &in, &fail, &why)) {
		if (type == CMP_BODY_ERROR)
			return 0; /* best effort: the engine answers */
		cmp_reject(r, fail, fail == CMP_FAIL_SYSTEM_UNAVAIL
		    ? "the upstream CA did not take the confirmation, try "
		      "again later" : why);
		r->outcome = "error";
		return 1;
	}
	if (type == CMP_BODY_CERTCONF && in->body->type != CMP_BODY_PKICONF) {
		/* Refused upstream: relayed, and nothing confirmed here (the
		 * certificate expires unconfirmed, as at the CA). */
		log_warn("req %lu: upstream %s answered certConf with %s, "
			 "relayed", r->id, r->ca->label,
		    cmp_body_name(in->body->type));
		r->outcome = "rejected";
		*out = in;
		return 1;
	}
	if (db_ra_fwd_delete(r->srv->db, &f) < 0)
		log_warn("req %lu: cannot delete the forwarded transaction: %s",
		    r->id, db_error(r->srv->db));
	log_info("req %lu: upstream %s: %s taken upstream (nested)", r->id,
	    r->ca->label, cmp_body_name(type));
	if (type == CMP_BODY_ERROR) {
		CMP_MSG_free(in);
		return 0;
	}
	r->relay = in;
	return 0;
}
