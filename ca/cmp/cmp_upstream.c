/*
 * cmp_upstream.c - cmpca as an RA in front of another CA (RFC 9483 §5).
 *
 * An identity of status "upstream" (a CA row holding the upstream CA's
 * certificate, no key of ours) takes requests like any CA: the header,
 * the protection, the enrollment secret, the profile and the template
 * checks are the engine's own. Where the CA would issue (cmp_certreq.c),
 * the CertReqMsg goes upstream instead, re-protected with the RA's MAC
 * credential (RFC 9483 §5.2.3.2; the device's POP travels unchanged), and
 * what comes back must fit what was asked: the public key, the subject
 * and subjectAltNames of the template, a chain to the upstream CA's
 * certificate. The certificate is then stored and answered as if issued
 * here. The upstream transaction waits in ra_fwd (stored in the same
 * database transaction as the certificate) for the device's certConf,
 * which is forwarded before it is taken here; the device's error is
 * forwarded too. Under implicitConfirm the order is: the upstream's
 * answer, our commit of the certificate with its ra_fwd row marked
 * confirm, then the certConf upstream (cmp_upstream_confirm_owed), then
 * the device's answer; a certConf that does not get through stays owed
 * and the housekeeper sends it (client_upstream_resume()). An upstream that does not answer, or whose
 * answer fails a check, is the device's systemUnavail or systemFailure:
 * nothing is stored as issued. Requests whose end-to-end protection
 * must stay go upstream in nested instead (cmp_upstream_nest.c).
 *
 * The transport (HTTP, the RA's credential) sits above the engine:
 * ca/client/client_upstream.c, handed over by cmp_srv_set_upstream().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/issue/issue.h"

#define UP_ERR_MAX 512
#define UP_FWD_MAX_AGE (7L * 86400) /* seconds an ra_fwd row is kept */

/* See cmp.h. */
void
cmp_srv_set_upstream(struct cmp_srv *s, const struct cmp_upstream_io *io)
{
	s->up = io;
}

/* The body forwarded upstream for request m of r: the same type with m
 * alone (ir, cr), or the device's PKCS#10 (p10cr). NULL on error. */
static CMP_BODY *
fwd_body(const struct req *r, const CRMF_CERTREQMSG *m)
{
	CMP_BODY *b = CMP_BODY_new();
	CRMF_CERTREQMSG *dup = NULL;

	if (b == NULL)
		return NULL;
	b->type = r->msg->body->type;
	if (b->type == CMP_BODY_P10CR) {
		if ((b->value.p10cr = X509_REQ_dup(
			 r->msg->body->value.p10cr)) == NULL)
			goto fail;
		return b;
	}
	if ((b->value.ir = sk_CRMF_CERTREQMSG_new_null()) == NULL ||
	    (dup = ASN1_item_dup(ASN1_ITEM_rptr(CRMF_CERTREQMSG), m)) ==
		NULL ||
	    !sk_CRMF_CERTREQMSG_push(b->value.ir, dup))
		goto fail;
	return b;
fail:
	CRMF_CERTREQMSG_free(dup);
	CMP_BODY_free(b);
	return NULL;
}

/* See cmp.h. */
CMP_BODY *
cmp_upstream_certconf_body(X509 *x, long rid, const char *why)
{
	CMP_BODY *b = CMP_BODY_new();
	CMP_CERTSTATUS *cs = CMP_CERTSTATUS_new();
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mdlen = 0;
	int mdnid = NID_undef, len;
	const EVP_MD *h;

	if (b == NULL || cs == NULL ||
	    !OBJ_find_sigid_algs(X509_get_signature_nid(x), &mdnid, NULL) ||
	    (h = ca_md_fetch(mdnid)) == NULL ||
	    (len = i2d_X509(x, &der)) <= 0 ||
	    !EVP_Digest(der, (size_t)len, md, &mdlen, h, NULL) ||
	    !ASN1_OCTET_STRING_set(cs->certHash, md, (int)mdlen) ||
	    !ASN1_INTEGER_set(cs->certReqId, rid) ||
	    (why != NULL && (cs->statusInfo = cmp_pkisi_new(
		CMP_STATUS_REJECTION, CMP_FAIL_BAD_CERT_TEMPLATE, why)) ==
		NULL))
		goto fail;
	OPENSSL_free(der);
	der = NULL;
	b->type = CMP_BODY_CERTCONF;
	if ((b->value.certConf = sk_CMP_CERTSTATUS_new_null()) == NULL ||
	    !sk_CMP_CERTSTATUS_push(b->value.certConf, cs))
		goto fail;
	return b;
fail:
	OPENSSL_free(der);
	CMP_CERTSTATUS_free(cs);
	CMP_BODY_free(b);
	return NULL;
}

/* Sends body (consumed) in the upstream transaction st; expects
 * pkiConf. Returns 1, or 0 (logged). */
static int
upstream_confirm(struct req *r, struct db_up_state *st, CMP_BODY *body)
{
	char err[UP_ERR_MAX];
	CMP_MSG *a = NULL;
	int ok;

	if (body == NULL) {
		log_openssl_errors(1);
		return 0;
	}
	ok = r->srv->up->exchange(r->srv->db, r->srv->hsm, r->ca, st, 1, body,
	    CMP_BODY_PKICONF, &a, err, sizeof(err));
	if (ok && a->body->type != CMP_BODY_PKICONF) {
		ok = 0;
		snprintf(err, sizeof(err), "answered certConf with %s",
		    cmp_body_name(a->body->type));
	}
	if (!ok)
		log_warn("req %lu: upstream %s: certConf not taken: %s", r->id,
		    r->ca->label, err);
	CMP_MSG_free(a);
	return ok;
}

/* See cmp_srv.h. */
int
cmp_upstream_certreq(struct req *r, const CRMF_CERTREQMSG *m, int rid,
    EVP_PKEY *pub, int approval, X509 **cert, struct db_ra_fwd *fwd,
    CMP_CERTRESPONSE **resp, int *failp, const char **whyp)
{
	const CMP_HEADER *h = r->msg->header;
	/* RFC 9810 §5.3.4: cr and p10cr are answered with cp. */
	int want = r->msg->body->type == CMP_BODY_IR ? CMP_BODY_IP
						      : CMP_BODY_CP;
	char err[UP_ERR_MAX];
	struct db_ra_fwd f;
	CMP_CERTRESPONSE *cr;
	CMP_MSG *a = NULL;
	CMP_BODY *b;
	X509 *x = NULL;
	const char *bad;
	long status;
	int rc = -1;

	*cert = NULL;
	memset(&f, 0, sizeof(f));
	if (approval)
		return cmp_upstream_refuse(rid, CMP_FAIL_NOT_AUTHORIZED,
		    r->up_nested ? "approval at the RA is not available for "
				   "requests forwarded in nested"
				 : "approval at the RA is not available for p10cr",
		    resp, failp, whyp);
	if (r->up_nested)
		return cmp_upstream_nest_certreq(r, m, rid, pub, cert, fwd,
		    resp, failp, whyp);
	if (r->srv->up == NULL) {
		log_err("req %lu: upstream %s: no upstream transport in this "
			"process", r->id, r->ca->label);
		return cmp_upstream_refuse(rid, CMP_FAIL_SYSTEM_UNAVAIL,
		    "the upstream CA is not available, try again later", resp,
		    failp, whyp);
	}
	if ((b = fwd_body(r, m)) == NULL)
		return -1;
	if (!r->srv->up->exchange(r->srv->db, r->srv->hsm, r->ca, &f.up, 0, b,
		want, &a, err, sizeof(err))) {
		log_warn("req %lu: upstream %s: %s", r->id, r->ca->label, err);
		rc = cmp_upstream_refuse(rid, CMP_FAIL_SYSTEM_UNAVAIL,
		    "the upstream CA is not available, try again later", resp,
		    failp, whyp);
		goto out;
	}
	if (a->body->type == CMP_BODY_ERROR) {
		const CMP_PKISI *si = a->body->value.error->pKIStatusInfo;

		log_info("req %lu: upstream %s answered error (%s)", r->id,
		    r->ca->label, cmp_upstream_text(r, si));
		rc = cmp_upstream_refuse(rid, cmp_upstream_fail(si, CMP_FAIL_BAD_REQUEST),
		    r->why_buf, resp, failp, whyp);
		goto out;
	}
	if ((cr = cmp_upstream_find_resp(a->body->value.ip, rid)) == NULL) {
		log_warn("req %lu: upstream %s: no CertResponse for request %d",
		    r->id, r->ca->label, rid);
		rc = cmp_upstream_refuse(rid, CMP_FAIL_SYSTEM_FAILURE,
		    "the upstream CA's answer does not fit the request", resp,
		    failp, whyp);
		goto out;
	}
	status = ASN1_INTEGER_get(cr->status->status);
	if (status == CMP_STATUS_REJECTION) {
		rc = cmp_upstream_refuse(rid,
		    cmp_upstream_fail(cr->status, CMP_FAIL_BAD_REQUEST),
		    cmp_upstream_text(r, cr->status), resp, failp, whyp);
		goto out;
	}
	if (status == CMP_STATUS_WAITING) {
		/* Delayed delivery upstream: relayed to the device, whose
		 * pollReqs poll upstream (fwd_poll). */
		log_info("req %lu: upstream %s answered waiting", r->id,
		    r->ca->label);
		f.ca_id = r->ca->id;
		memcpy(f.txid, h->transactionID->data,
		    (size_t)h->transactionID->length);
		f.txid_len = (size_t)h->transactionID->length;
		f.cert_req_id = rid;
		f.waiting = 1;
		*fwd = f;
		rc = 2;
		goto out;
	}
	if ((x = cmp_upstream_issued(cr)) == NULL) {
		log_warn("req %lu: upstream %s: status %ld without a plain "
			 "certificate", r->id, r->ca->label, status);
		rc = cmp_upstream_refuse(rid, CMP_FAIL_SYSTEM_FAILURE,
		    "the upstream CA's answer does not fit the request", resp,
		    failp, whyp);
		goto out;
	}
	if ((bad = cmp_upstream_cert_check(r, x, m->certReq->certTemplate, pub,
		 a->extraCerts)) != NULL) {
		char subj[CA_LOG_SAN_MAX];
		char *s = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);

		log_sanitize((const unsigned char *)(s != NULL ? s : "?"),
		    s != NULL ? strlen(s) : 1, subj, sizeof(subj));
		OPENSSL_free(s);
		log_warn("req %lu: upstream %s: certificate \"%s\" refused: %s",
		    r->id, r->ca->label, subj, bad);
		(void)upstream_confirm(r, &f.up, cmp_upstream_certconf_body(x,
		    ASN1_INTEGER_get(cr->certReqId), bad));
		rc = cmp_upstream_refuse(rid, CMP_FAIL_SYSTEM_FAILURE,
		    "the upstream CA's certificate does not fit the request; "
		    "refused", resp, failp, whyp);
		goto out;
	}
	/* The upstream transaction, recorded with the certificate in one
	 * database transaction (cmp_certreq.c's persist_issue): confirmed
	 * upstream only after that commit, by the device's certConf or,
	 * under implicitConfirm, by cmp_upstream_confirm_owed(). Devices
	 * that never confirmed: the upstream CA expired those long ago. */
	if (db_ra_fwd_prune(r->srv->db, UP_FWD_MAX_AGE, NULL) < 0)
		log_warn("req %lu: %s", r->id, db_error(r->srv->db));
	f.ca_id = r->ca->id;
	memcpy(f.txid, h->transactionID->data,
	    (size_t)h->transactionID->length);
	f.txid_len = (size_t)h->transactionID->length;
	f.cert_req_id = rid;
	if (!X509_up_ref(x))
		goto out;
	*fwd = f;
	*cert = x;
	log_info("req %lu: upstream %s issued the certificate", r->id,
	    r->ca->label);
	rc = 1;
out:
	CMP_MSG_free(a);
	return rc;
}

/* See cmp_srv.h. */
void
cmp_upstream_confirm_owed(struct req *r, const struct db_ra_fwd *f, X509 *x)
{
	struct db_ra_fwd g = *f;

	if (r->srv->up == NULL)
		return;
	if (!upstream_confirm(r, &g.up,
		cmp_upstream_certconf_body(x, f->cert_req_id, NULL))) {
		log_warn("req %lu: upstream %s: certConf owed, the housekeeper "
			 "sends it again", r->id, r->ca->label);
		return;
	}
	log_info("req %lu: upstream %s: certConf taken upstream", r->id,
	    r->ca->label);
	if (db_ra_fwd_delete(r->srv->db, f) < 0)
		log_warn("req %lu: cannot delete the forwarded transaction: %s",
		    r->id, db_error(r->srv->db));
}

/* Forwards the device's certConf, CertStatus by CertStatus, to the
 * upstream transactions it confirms. Returns 1, or 0 (r set). */
static int
fwd_certconf(struct req *r)
{
	const CMP_HEADER *h = r->msg->header;
	STACK_OF(CMP_CERTSTATUS) *sk = r->msg->body->value.certConf;
	struct db_ra_fwd f;
	CMP_CERTSTATUS *dup;
	CMP_BODY *b;
	int i, rc;

	for (i = 0; i < sk_CMP_CERTSTATUS_num(sk); i++) {
		const CMP_CERTSTATUS *cs = sk_CMP_CERTSTATUS_value(sk, i);

		memset(&f, 0, sizeof(f));
		f.ca_id = r->ca->id;
		if ((size_t)h->transactionID->length > sizeof(f.txid))
			return 1; /* the engine refuses it below */
		memcpy(f.txid, h->transactionID->data,
		    (size_t)h->transactionID->length);
		f.txid_len = (size_t)h->transactionID->length;
		f.cert_req_id = (int)ASN1_INTEGER_get(cs->certReqId);
		rc = db_ra_fwd_get(r->srv->db, &f);
		if (rc < 0) {
			cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    db_error(r->srv->db));
			return 0;
		}
		if (rc == 0)
			continue; /* nothing forwarded: the engine answers */
		if ((b = CMP_BODY_new()) == NULL ||
		    (b->value.certConf = sk_CMP_CERTSTATUS_new_null()) ==
			NULL ||
		    (dup = ASN1_item_dup(ASN1_ITEM_rptr(CMP_CERTSTATUS), cs)) ==
			NULL) {
			CMP_BODY_free(b);
			cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
			    "cannot build the certConf for upstream");
			return 0;
		}
		b->type = CMP_BODY_CERTCONF;
		if (!sk_CMP_CERTSTATUS_push(b->value.certConf, dup)) {
			CMP_CERTSTATUS_free(dup);
			CMP_BODY_free(b);
			cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
			    "cannot build the certConf for upstream");
			return 0;
		}
		if (!upstream_confirm(r, &f.up, b)) {
			cmp_reject(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    "the upstream CA did not take the confirmation, "
			    "try again later");
			r->outcome = "error";
			return 0;
		}
		if (db_ra_fwd_delete(r->srv->db, &f) < 0)
			log_warn("req %lu: cannot delete the forwarded "
				 "transaction: %s", r->id,
			    db_error(r->srv->db));
	}
	return 1;
}

/* Forwards the device's error message to the upstream transaction of
 * its first request, if any (best effort: the engine answers it). */
static void
fwd_error(struct req *r)
{
	const CMP_HEADER *h = r->msg->header;
	struct db_ra_fwd f;
	char err[UP_ERR_MAX];
	CMP_MSG *a = NULL;
	CMP_BODY *b;

	memset(&f, 0, sizeof(f));
	f.ca_id = r->ca->id;
	if ((size_t)h->transactionID->length > sizeof(f.txid))
		return;
	memcpy(f.txid, h->transactionID->data,
	    (size_t)h->transactionID->length);
	f.txid_len = (size_t)h->transactionID->length;
	if (db_ra_fwd_get(r->srv->db, &f) != 1)
		return;
	if ((b = ASN1_item_dup(ASN1_ITEM_rptr(CMP_BODY), r->msg->body)) ==
	    NULL)
		return;
	if (!r->srv->up->exchange(r->srv->db, r->srv->hsm, r->ca, &f.up, 1, b,
		CMP_BODY_PKICONF, &a, err, sizeof(err)))
		log_warn("req %lu: upstream %s: error not forwarded: %s",
		    r->id, r->ca->label, err);
	else if (db_ra_fwd_delete(r->srv->db, &f) < 0)
		log_warn("req %lu: %s", r->id, db_error(r->srv->db));
	CMP_MSG_free(a);
}

/* The device's request p, as it was checked (its template and key). */
static CRMF_CERTREQMSG *
pending_msg(const struct db_pending *p)
{
	const unsigned char *der = p->request;

	return d2i_CRMF_CERTREQMSG(NULL, &der, (long)p->request_len);
}

/* The pollReq for upstream request rid. NULL on error. */
static CMP_BODY *
pollreq_body(int rid)
{
	CMP_BODY *b = CMP_BODY_new();
	CMP_POLLREQ *q = CMP_POLLREQ_new();

	if (b == NULL || q == NULL || !ASN1_INTEGER_set(q->certReqId, rid) ||
	    (b->value.pollReq = sk_CMP_POLLREQ_new_null()) == NULL ||
	    !sk_CMP_POLLREQ_push(b->value.pollReq, q)) {
		CMP_POLLREQ_free(q);
		CMP_BODY_free(b);
		return NULL;
	}
	b->type = CMP_BODY_POLLREQ;
	return b;
}

/* The upstream decided p (rejected: why); its ra_fwd row f goes. 1 or 0
 * (r set). */
static int
poll_rejected(struct req *r, const struct db_pending *p,
    const struct db_ra_fwd *f, const char *why)
{
	log_info("req %lu: upstream %s rejected request %d: %s", r->id,
	    r->ca->label, p->cert_req_id, why);
	if (db_pending_upstream_decide(r->srv->db, p->txid, p->txid_len,
		p->cert_req_id, p->status, DB_PENDING_REJECTED, why) < 0 ||
	    db_ra_fwd_delete(r->srv->db, f) < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
		return 0;
	}
	return 1;
}

/* The upstream issued x for p: checked against the device's request,
 * then kept with p approved, in one database transaction. 1 or 0 (r
 * set). */
static int
poll_issued(struct req *r, const struct db_pending *p, struct db_ra_fwd *f,
    X509 *x, STACK_OF(X509) *extra)
{
	CRMF_CERTREQMSG *m = pending_msg(p);
	EVP_PKEY *pub = NULL;
	unsigned char *der = NULL;
	const char *bad;
	int len, ok = 0;

	if (m == NULL || m->certReq->certTemplate->publicKey == NULL) {
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
		    "a pending request does not decode");
		goto out;
	}
	pub = cmp_spki_pkey(m->certReq->certTemplate->publicKey);
	if ((bad = cmp_upstream_cert_check(r, x, m->certReq->certTemplate, pub,
		 extra)) != NULL) {
		log_warn("req %lu: upstream %s: certificate refused: %s", r->id,
		    r->ca->label, bad);
		/* Nested: no certConf in the device's name; the device gets
		 * our refusal, not the upstream's answer. */
		if (r->up_nested) {
			CMP_MSG_free(r->relay);
			r->relay = NULL;
		} else
			(void)upstream_confirm(r, &f->up,
			    cmp_upstream_certconf_body(x, p->cert_req_id, bad));
		ok = poll_rejected(r, p, f, "the upstream CA's certificate "
		    "does not fit the request; refused");
		goto out;
	}
	if ((len = i2d_X509(x, &der)) <= 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "cannot encode");
		goto out;
	}
	f->waiting = 0;
	/* Approved here and forwarded now (fwd_approved): its row is new;
	 * waiting upstream: its row is there, the request decided now. */
	if (db_begin(r->srv->db) != 1 ||
	    (p->status == DB_PENDING_APPROVED &&
		db_ra_fwd_put(r->srv->db, f) != 1) ||
	    db_ra_fwd_update(r->srv->db, f, der, (size_t)len) != 1 ||
	    (p->status == DB_PENDING_UPSTREAM &&
		db_pending_upstream_decide(r->srv->db, p->txid, p->txid_len,
		    p->cert_req_id, DB_PENDING_UPSTREAM, DB_PENDING_APPROVED,
		    NULL) != 1) ||
	    db_commit(r->srv->db) != 1) {
		db_rollback(r->srv->db);
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
		goto out;
	}
	log_info("req %lu: upstream %s issued the certificate after polling",
	    r->id, r->ca->label);
	ok = 1;
out:
	OPENSSL_free(der);
	EVP_PKEY_free(pub);
	CRMF_CERTREQMSG_free(m);
	return ok;
}

/* The final answer to a pollReq for a request of kind (RFC 9483 §4.4). */
static int
want_after_poll(const char *kind)
{
	return strcmp(kind, "ir") == 0 ? CMP_BODY_IP
	    : strcmp(kind, "kur") == 0 ? CMP_BODY_KUP : CMP_BODY_CP;
}

/* Polls upstream for p (waiting there, f its upstream transaction), or
 * forwards p if the RA's operator approved it (f's key only, a new
 * upstream transaction). Returns 1, or 0 with r set. */
static int
poll_one(struct req *r, const struct db_pending *p, struct db_ra_fwd *f)
{
	char err[UP_ERR_MAX];
	CMP_CERTRESPONSE *cr;
	CMP_MSG *a = NULL;
	CMP_BODY *b;
	long status;
	int ok = 1;

	int fresh = p->status == DB_PENDING_APPROVED;

	if (fresh) {
		/* Approved by the RA's operator: it goes upstream now, in
		 * the body the device sent (RFC 9483 §5.2.3). */
		CRMF_CERTREQMSG *m = pending_msg(p);

		b = m != NULL ? CMP_BODY_new() : NULL;
		if (b != NULL) {
			b->type = strcmp(p->kind, "ir") == 0 ? CMP_BODY_IR
							     : CMP_BODY_CR;
			b->value.ir = sk_CRMF_CERTREQMSG_new_null();
		}
		if (b == NULL || b->value.ir == NULL ||
		    !sk_CRMF_CERTREQMSG_push(b->value.ir, m)) {
			CRMF_CERTREQMSG_free(m);
			CMP_BODY_free(b);
			cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
			    "cannot build the request for upstream");
			return 0;
		}
	} else if (r->up_nested) {
		/* The device's own pollReq, in nested; its answer is the
		 * device's, and our last nonce the upstream's. */
		int fail;
		const char *why;

		if (!cmp_upstream_nest_exchange(r, &f->up, &a, &fail, &why)) {
			/* No pollRep of ours: the device's next pollReq
			 * would not fit the upstream's nonce. */
			cmp_reject(r, fail, why);
			r->outcome = "error";
			return 0;
		}
		if (a->body->type == CMP_BODY_ERROR ||
		    a->body->type == CMP_BODY_POLLREP ||
		    a->body->type == want_after_poll(p->kind)) {
			memcpy(r->nonce, a->header->senderNonce->data,
			    sizeof(r->nonce));
			if ((r->relay = ASN1_item_dup(ASN1_ITEM_rptr(CMP_MSG),
				 a)) == NULL) {
				CMP_MSG_free(a);
				cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
				    "cannot keep the upstream's answer");
				return 0;
			}
		}
		goto answered;
	} else if ((b = pollreq_body(p->cert_req_id)) == NULL) {
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
		    "cannot build the pollReq for upstream");
		return 0;
	}
	if (!r->srv->up->exchange(r->srv->db, r->srv->hsm, r->ca, &f->up,
		!fresh, b, fresh ? (strcmp(p->kind, "ir") == 0 ? CMP_BODY_IP
							     : CMP_BODY_CP)
				 : CMP_BODY_POLLREP,
		&a, err, sizeof(err))) {
		/* The device polls again; so do we. */
		log_warn("req %lu: upstream %s: %s: %s", r->id, r->ca->label,
		    fresh ? "approved request not forwarded" : "poll", err);
		return 1;
	}
	if (fresh)
		log_info("req %lu: upstream %s: request %d approved here, "
			 "forwarded", r->id, r->ca->label, p->cert_req_id);
answered:
	if (a->body->type == CMP_BODY_POLLREP) {
		if (db_ra_fwd_update(r->srv->db, f, NULL, 0) < 0) {
			cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    db_error(r->srv->db));
			ok = 0;
		}
		goto out;
	}
	if (a->body->type == CMP_BODY_ERROR) {
		ok = poll_rejected(r, p, f, cmp_upstream_text(r,
		    a->body->value.error->pKIStatusInfo));
		goto out;
	}
	if ((r->up_nested && a->body->type != want_after_poll(p->kind)) ||
	    (cr = cmp_upstream_find_resp(a->body->value.ip, p->cert_req_id)) == NULL) {
		ok = poll_rejected(r, p, f, "the upstream CA's answer does "
		    "not fit the request");
		goto out;
	}
	status = ASN1_INTEGER_get(cr->status->status);
	if (status == CMP_STATUS_WAITING && fresh) {
		/* Approved here, waiting upstream now. */
		f->waiting = 1;
		if (db_begin(r->srv->db) != 1 ||
		    db_ra_fwd_put(r->srv->db, f) != 1 ||
		    db_pending_upstream_decide(r->srv->db, p->txid,
			p->txid_len, p->cert_req_id, DB_PENDING_APPROVED,
			DB_PENDING_UPSTREAM, NULL) != 1 ||
		    db_commit(r->srv->db) != 1) {
			db_rollback(r->srv->db);
			cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    db_error(r->srv->db));
			ok = 0;
		}
	} else if (status == CMP_STATUS_WAITING) {
		if (db_ra_fwd_update(r->srv->db, f, NULL, 0) < 0) {
			cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    db_error(r->srv->db));
			ok = 0;
		}
	} else if (cmp_upstream_issued(cr) != NULL)
		ok = poll_issued(r, p, f, cmp_upstream_issued(cr),
		    a->extraCerts);
	else
		ok = poll_rejected(r, p, f, cmp_upstream_text(r, cr->status));
out:
	CMP_MSG_free(a);
	return ok;
}

/* The device polls (RFC 9483 §4.4): each of its requests the upstream
 * CA answered waiting is polled upstream first, and each the RA's
 * operator approved (approval at the RA) is forwarded now; what the
 * upstream decided is then the engine's to answer (cmp_poll.c). 1, or 0
 * with r set. */
static int
fwd_poll(struct req *r)
{
	const CMP_HEADER *h = r->msg->header;
	struct db_pending *pend = NULL;
	struct db_ra_fwd f;
	struct db_txn t;
	size_t n = 0, i;
	int rc, ok = 1, checked = 0;

	if (db_pending_list_by_txn(r->srv->db, h->transactionID->data,
		(size_t)h->transactionID->length, &pend, &n) < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
		return 0;
	}
	for (i = 0; ok && i < n; i++) {
		if ((pend[i].status != DB_PENDING_UPSTREAM &&
			pend[i].status != DB_PENDING_APPROVED) ||
		    pend[i].ca_id != r->ca->id)
			continue;
		memset(&f, 0, sizeof(f));
		f.ca_id = r->ca->id;
		memcpy(f.txid, pend[i].txid, pend[i].txid_len);
		f.txid_len = pend[i].txid_len;
		f.cert_req_id = pend[i].cert_req_id;
		rc = db_ra_fwd_get(r->srv->db, &f);
		if (rc < 0) {
			cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    db_error(r->srv->db));
			ok = 0;
		} else if ((rc == 1 && f.waiting &&
			       pend[i].status == DB_PENDING_UPSTREAM) ||
		    (rc == 0 && pend[i].status == DB_PENDING_APPROVED)) {
			/* The pollReq continues the device's transaction (its
			 * sender, our last senderNonce) before anything goes
			 * upstream: another credential's or a replayed
			 * pollReq makes the RA poll nobody. */
			if (!checked && !cmp_txn_continue(r, &t,
				DB_TXN_WAITING, NULL, NULL)) {
				ok = 0;
				break;
			}
			checked = 1;
			ok = poll_one(r, &pend[i], &f);
		}
	}
	db_pending_array_free(pend, n);
	return ok;
}

/* See cmp_srv.h. */
X509 *
cmp_upstream_cert(struct req *r, const struct db_pending *p)
{
	struct db_ra_fwd f;
	unsigned char *der = NULL;
	const unsigned char *q;
	size_t len = 0;
	X509 *x = NULL;

	memset(&f, 0, sizeof(f));
	f.ca_id = r->ca->id;
	memcpy(f.txid, p->txid, p->txid_len);
	f.txid_len = p->txid_len;
	f.cert_req_id = p->cert_req_id;
	if (db_ra_fwd_cert(r->srv->db, &f, &der, &len) == 1) {
		q = der;
		x = d2i_X509(NULL, &q, (long)len);
	}
	free(der);
	return x;
}

/* See cmp_srv.h. */
int
cmp_upstream_take(struct req *r, CMP_MSG **out)
{
	*out = NULL;
	/* No key of ours answers here: a response is MAC-protected with
	 * the device's secret, the upstream CA's relayed unchanged, or not
	 * protected at all. */
	r->sign_resp = 0;
	if (!r->have_mac && !r->have_sig) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "this RA takes MAC- or signature-protected requests only "
		    "(RFC 9483 §5.1)");
		return 1;
	}
	/* End-to-end protection kept: nested (cmp_upstream_nest.c). */
	switch (cmp_upstream_nest_mode(r)) {
	case -1:
		return 1;
	case 1:
		if (r->msg->body->type == CMP_BODY_POLLREQ)
			return r->srv->up == NULL || fwd_poll(r) ? 0 : 1;
		if (r->msg->body->type == CMP_BODY_CERTCONF ||
		    r->msg->body->type == CMP_BODY_ERROR)
			return cmp_upstream_nest_continue(r, out);
		return 0;
	default:
		break;
	}
	switch (r->msg->body->type) {
	case CMP_BODY_IR:
	case CMP_BODY_CR:
	case CMP_BODY_P10CR:
	case CMP_BODY_GENM:
		return 0;
	case CMP_BODY_POLLREQ:
		if (r->srv->up == NULL || fwd_poll(r))
			return 0;
		return 1;
	case CMP_BODY_RR:
		if (r->srv->up == NULL) {
			cmp_reject(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    "the upstream CA is not available, try again later");
			return 1;
		}
		*out = cmp_upstream_rr(r);
		return 1;
	case CMP_BODY_CERTCONF:
		if (r->srv->up == NULL || fwd_certconf(r))
			return 0;
		return 1;
	case CMP_BODY_ERROR:
		if (r->srv->up != NULL)
			fwd_error(r);
		return 0;
	default:
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "this RA forwards ir, cr, p10cr, rr, certConf and error "
		    "only");
		return 1;
	}
}
