/*
 * cmp_poll.c - delayed delivery (RFC 9810 §5.3.22, RFC 9483 §4.4): a
 * client whose requests wait for the operator polls with pollReq. While
 * any request of the transaction is undecided it gets pollRep with
 * checkAfter; once all are decided, the worker that takes the poll issues
 * the approved certificates (signed in the HSM, committed as unconfirmed)
 * and answers with the ip/cp/kup the original request expected; certConf
 * then completes the transaction as usual. A waiting rr ends with rp once
 * decided (cmp_rr_poll_final).
 */
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"

/* pollRep: one entry per polled certReqId. */
static CMP_MSG *
pollrep_new(struct req *r)
{
	STACK_OF(CMP_POLLREQ) *q = r->msg->body->value.pollReq;
	CMP_BODY *b = CMP_BODY_new();
	int i;

	if (b == NULL || (b->value.pollRep = sk_CMP_POLLREP_new_null()) == NULL)
		goto fail;
	b->type = CMP_BODY_POLLREP;
	for (i = 0; i < sk_CMP_POLLREQ_num(q); i++) {
		CMP_POLLREP *p = CMP_POLLREP_new();

		if (p == NULL ||
		    !ASN1_INTEGER_set(p->certReqId,
			ASN1_INTEGER_get(sk_CMP_POLLREQ_value(q, i)->certReqId)) ||
		    !ASN1_INTEGER_set(p->checkAfter,
			r->srv->cfg->poll_check_after) ||
		    !sk_CMP_POLLREP_push(b->value.pollRep, p)) {
			CMP_POLLREP_free(p);
			goto fail;
		}
	}
	return cmp_resp_new(r, b);
fail:
	CMP_BODY_free(b);
	return NULL;
}

/*
 * Issues the certificate of an approved request. NULL on error, or with
 * *refused set (failInfo, r->why_buf the reason) when the profile as
 * configured now refuses what the request asks for.
 */
static X509 *
issue_pending(struct req *r, const struct db_pending *p,
    const struct cfg_profile *prof, int *refused)
{
	const unsigned char *der = p->request;
	CRMF_CERTREQMSG *m;
	struct issue_req ir;
	X509 *x = NULL;

	m = d2i_CRMF_CERTREQMSG(NULL, &der, (long)p->request_len);
	if (m == NULL || m->certReq->certTemplate->publicKey == NULL)
		goto out;
	memset(&ir, 0, sizeof(ir));
	ir.tmpl = m->certReq->certTemplate;
	ir.pubkey = cmp_spki_pkey(ir.tmpl->publicKey);
	ir.profile = prof;
	ir.ca_name = X509_get_subject_name(r->ca->cert);
	ir.conf = r->srv->cfg->conf;
	if (!profile_exts_check(&ir, refused, r->why_buf,
		sizeof(r->why_buf)))
		goto key_out;
	*refused = 0;
	if (ir.pubkey != NULL)
		x = cmp_cert_issue(&ir, r->ca, r->srv->hsm);
key_out:
	EVP_PKEY_free(ir.pubkey);
out:
	CRMF_CERTREQMSG_free(m);
	return x;
}

/* Fills a certificate row for an issued pending request. */
static int
row_fill(struct req *r, X509 *x, const struct db_pending *p,
    struct db_cert *row)
{
	if (!ca_cert_to_row(x, row))
		return 0;
	row->ca_id = r->ca->id;
	row->status = DB_CERT_UNCONFIRMED;
	row->profile = strdup(p->profile);
	row->requester = strdup(p->requester);
	memcpy(row->txid, p->txid, p->txid_len);
	row->txid_len = p->txid_len;
	row->cert_req_id = p->cert_req_id;
	row->reason = -1;
	row->replaces = p->replaces;
	return row->profile != NULL && row->requester != NULL;
}

/* The final response type for the transaction's request type. */
static int
final_type(const char *kind)
{
	if (strcmp(kind, "ir") == 0)
		return CMP_BODY_IP;
	if (strcmp(kind, "kur") == 0)
		return CMP_BODY_KUP;
	return CMP_BODY_CP;
}

/* Stores the issued certificates and moves the transaction on, in one
 * db_issue() call (unconfirmed: nothing is superseded before certConf). */
static int
persist_final(struct req *r, struct db_cert *rows, size_t n, int nissued)
{
	const CMP_HEADER *h = r->msg->header;
	struct db_cert *store[CA_MAX_CERTREQS];
	struct db_issue is;
	struct db_txn t;
	enum db_refusal why;
	size_t i, k = 0;
	int rc;

	for (i = 0; i < n && k < CA_MAX_CERTREQS; i++)
		if (rows[i].der != NULL)
			store[k++] = &rows[i];
	memset(&t, 0, sizeof(t));
	memcpy(t.id, h->transactionID->data, (size_t)h->transactionID->length);
	t.id_len = (size_t)h->transactionID->length;
	t.ca_id = r->ca->id;
	t.state = nissued > 0 ? DB_TXN_WAIT_CONF : DB_TXN_DONE;
	memcpy(t.last_nonce, r->nonce, sizeof(r->nonce));
	t.last_nonce_len = sizeof(r->nonce);
	memset(&is, 0, sizeof(is));
	is.txn = DB_ISSUE_MOVE;
	is.t = &t;
	is.from = DB_TXN_WAITING;
	is.nonce = h->senderNonce->data;
	is.nonce_len = (size_t)h->senderNonce->length;
	is.ca_sha256 = r->ca->cert_sha256;
	is.actor = r->sender;
	/* The poller continues the transaction it started (same sender):
	 * its credential and path, as in cmp_certreq.c. */
	is.credential = r->have_mac ? r->sender
	    : r->credential[0] != '\0' ? r->credential : NULL;
	is.obtained_with = r->have_sig ? r->prot_row.id : 0;
	is.path_ca = r->path_ca;
	is.npath_ca = r->npath_ca;
	is.path_cert = r->path_cert;
	is.npath_cert = r->npath_cert;
	rc = db_issue(r->srv->db, &is, store, NULL, k, &why);
	if (rc < 0)
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
	else if (rc == 0)
		cmp_refuse(r, why);
	return rc == 1;
}

/* Still waiting: record our new nonce and answer pollRep. */
static CMP_MSG *
still_waiting(struct req *r)
{
	if (!cmp_txn_move(r, DB_TXN_WAITING, DB_TXN_WAITING))
		return NULL;
	r->outcome = "waiting";
	return pollrep_new(r);
}

/* pollReq: see the file comment. */
CMP_MSG *
cmp_poll_handle(struct req *r)
{
	struct db_txn t;
	struct db_pending *pend = NULL;
	struct db_cert rows[CA_MAX_CERTREQS];
	X509 *certs[CA_MAX_CERTREQS];
	CMP_CERTREPMESSAGE *rep = NULL;
	CMP_BODY *body = NULL;
	CMP_MSG *out = NULL;
	size_t n = 0, i;
	int nissued = 0, undecided = 0;

	memset(rows, 0, sizeof(rows));
	memset(certs, 0, sizeof(certs));
	if (!cmp_txn_continue(r, &t, DB_TXN_WAITING, NULL, NULL))
		return NULL;
	if (db_pending_list_by_txn(r->srv->db, t.id, t.id_len, &pend, &n) < 0)
		return cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
		    db_error(r->srv->db));
	if (n == 0 || n > CA_MAX_CERTREQS) {
		out = cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
		    "waiting transaction without pending requests");
		goto done;
	}
	for (i = 0; i < n; i++) {
		undecided += pend[i].status == DB_PENDING_PENDING ||
		    pend[i].status == DB_PENDING_UPSTREAM;
		/* RA mode: approved, but what the upstream CA issued is not
		 * here yet (the upstream did not answer): still waiting. */
		if (pend[i].status == DB_PENDING_APPROVED && r->ca->upstream &&
		    (certs[i] = cmp_upstream_cert(r, &pend[i])) == NULL)
			undecided++;
	}
	if (undecided > 0) {
		out = still_waiting(r);
		goto done;
	}
	if (strcmp(t.kind, "rr") == 0) {
		out = cmp_rr_poll_final(r, pend, n);
		goto done;
	}
	if ((rep = CMP_CERTREPMESSAGE_new()) == NULL)
		goto internal;
	for (i = 0; i < n; i++) {
		const struct cfg_profile *prof =
		    cfg_profile_get(r->srv->cfg, pend[i].profile);
		CMP_CERTRESPONSE *cr;
		int refused = 0;

		/* RA mode: what the upstream CA issued (cmp_upstream.c). */
		if (pend[i].status == DB_PENDING_APPROVED && r->ca->upstream)
			; /* certs[i] read above */
		else if (pend[i].status == DB_PENDING_APPROVED && prof != NULL)
			certs[i] = issue_pending(r, &pend[i], prof, &refused);
		if (pend[i].status == DB_PENDING_APPROVED &&
		    certs[i] == NULL && refused != 0) {
			/* The profile changed since: refused as at request
			 * time, not an internal error at every poll. */
			cr = cmp_certresp_new(pend[i].cert_req_id,
			    CMP_STATUS_REJECTION, refused, r->why_buf, NULL);
			r->fail = refused;
			r->why = r->why_buf;
		} else if (pend[i].status == DB_PENDING_APPROVED) {
			if (certs[i] == NULL ||
			    !row_fill(r, certs[i], &pend[i], &rows[i]))
				goto internal;
			nissued++;
			cr = cmp_certresp_new(pend[i].cert_req_id,
			    CMP_STATUS_ACCEPTED, CMP_FAIL_NONE, NULL, certs[i]);
		} else
			cr = cmp_certresp_new(pend[i].cert_req_id,
			    CMP_STATUS_REJECTION, CMP_FAIL_NOT_AUTHORIZED,
			    pend[i].reason != NULL ? pend[i].reason
						   : "rejected by the CA operator",
			    NULL);
		if (cr == NULL || !sk_CMP_CERTRESPONSE_push(rep->response, cr)) {
			CMP_CERTRESPONSE_free(cr);
			goto internal;
		}
	}
	if (!persist_final(r, rows, n, nissued))
		goto done;
	if (nissued == 0)
		r->outcome = r->fail != CMP_FAIL_NONE ? "rejected"
						      : "rejected-by-operator";
	if ((body = CMP_BODY_new()) == NULL)
		goto internal;
	body->type = final_type(t.kind);
	body->value.ip = rep;
	rep = NULL;
	if ((out = cmp_certrep_new(r, body, nissued > 0)) == NULL)
		goto internal;
	goto done;
internal:
	out = cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "delayed issuance");
done:
	CMP_CERTREPMESSAGE_free(rep);
	for (i = 0; i < CA_MAX_CERTREQS; i++) {
		X509_free(certs[i]);
		db_cert_clear(&rows[i]);
	}
	db_pending_array_free(pend, n);
	return out;
}
