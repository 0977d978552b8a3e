/*
 * cmp_ccr.c - cross-certification request (RFC 9810 §5.3.11): a partner
 * CA, registered with `cmpca partner add` and authenticated by the key of
 * its pinned certificate (cmp_sig.c), asks one of our CAs for a cross
 * certificate. The answer, ccp, carries exactly one certificate with the
 * constraints registered for the partner; it is stored with kind 'cross'
 * and confirmed by certConf like any other (cmp_certreq.c).
 *
 * What the partner may ask for is fixed by the registration: its own
 * subject and the pinned key, proven by a signature POP. Extensions in the
 * template are not copied: a CA decides the constraints of its cross
 * certificates, not the CA certified.
 */
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"

/* Checks the one CertReqMsg against the partner registration. Returns 1,
 * or 0 with *fail and *why. */
static int
ccr_template_check(struct req *r, const CRMF_CERTREQMSG *m, X509 *pinned,
    EVP_PKEY *pub, int *fail, const char **why)
{
	const CRMF_CERTTEMPLATE *t = m->certReq->certTemplate;

	*fail = CMP_FAIL_BAD_CERT_TEMPLATE;
	if (t->subject == NULL || t->publicKey == NULL) {
		*why = "a ccr template needs the subject and the public key of "
		       "the CA to certify (RFC 9810 §5.3.11)";
		return 0;
	}
	if (X509_NAME_cmp(t->subject, X509_get_subject_name(pinned)) != 0) {
		*fail = CMP_FAIL_NOT_AUTHORIZED;
		*why = "the template subject is not the partner CA's";
		return 0;
	}
	if (pub == NULL) {
		*fail = CMP_FAIL_BAD_ALG;
		*why = "the template public key cannot be decoded";
		return 0;
	}
	if (EVP_PKEY_eq(pub, X509_get0_pubkey(pinned)) != 1) {
		*why = "the template key is not the pinned partner CA key";
		return 0;
	}
	if (t->issuer != NULL && X509_NAME_cmp(t->issuer,
		X509_get_subject_name(r->ca->cert)) != 0) {
		*why = "the template names another issuer";
		return 0;
	}
	if (m->popo == NULL || m->popo->type != CRMF_POPO_SIGNATURE) {
		*fail = CMP_FAIL_BAD_POP;
		*why = "a CA proves possession of its key by signature "
		       "(RFC 4211 §4.1)";
		return 0;
	}
	return 1;
}

/* Stores the transaction and the cross certificate in one statement,
 * the way every certificate of a response is stored (db_issue).
 * Returns 1, or 0 with r set. */
static int
ccr_persist(struct req *r, struct db_cert *row)
{
	struct db *db = r->srv->db;
	struct db_issue is;
	struct db_txn t;
	enum db_refusal why;
	int rc;

	cmp_txn_fill(r, r->implicit ? DB_TXN_DONE : DB_TXN_WAIT_CONF, &t);
	memset(&is, 0, sizeof(is));
	is.txn = DB_ISSUE_NEW;
	is.t = &t;
	is.nonce = r->msg->header->senderNonce->data;
	is.nonce_len = (size_t)r->msg->header->senderNonce->length;
	is.ca_sha256 = r->ca->cert_sha256;
	is.actor = r->sender;
	is.credential = r->credential; /* "partner:<name>" */
	rc = db_issue(db, &is, &row, NULL, 1, &why);
	if (rc < 0)
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(db));
	else if (rc == 0)
		cmp_refuse(r, why);
	return rc == 1;
}

/* Fills the inventory row of a cross certificate. Returns 1 or 0. */
static int
ccr_row(struct req *r, X509 *cert, int rid, struct db_cert *row)
{
	const ASN1_OCTET_STRING *tid = r->msg->header->transactionID;

	if (!ca_cert_to_row(cert, row))
		return 0;
	row->ca_id = r->ca->id;
	row->status = r->implicit ? DB_CERT_VALID : DB_CERT_UNCONFIRMED;
	snprintf(row->kind, sizeof(row->kind), "cross");
	row->profile = strdup("cross");
	row->requester = strdup(r->sender);
	memcpy(row->txid, tid->data, (size_t)tid->length);
	row->txid_len = (size_t)tid->length;
	row->cert_req_id = rid;
	row->reason = -1;
	return row->profile != NULL && row->requester != NULL;
}

/* ccp with one CertResponse (rejected responses included). */
static CMP_MSG *
ccp_new(struct req *r, CMP_CERTRESPONSE *cr)
{
	CMP_CERTREPMESSAGE *rep = CMP_CERTREPMESSAGE_new();
	CMP_BODY *body = NULL;

	if (rep == NULL || !sk_CMP_CERTRESPONSE_push(rep->response, cr)) {
		CMP_CERTRESPONSE_free(cr);
		CMP_CERTREPMESSAGE_free(rep);
		return NULL;
	}
	if ((body = CMP_BODY_new()) == NULL) {
		CMP_CERTREPMESSAGE_free(rep);
		return NULL;
	}
	body->type = CMP_BODY_CCP;
	body->value.ccp = rep;
	return cmp_resp_new(r, body);
}

/* See cmp_srv.h. */
CMP_MSG *
cmp_ccr_handle(struct req *r)
{
	STACK_OF(CRMF_CERTREQMSG) *reqs = r->msg->body->value.ccr;
	CRMF_CERTREQMSG *m;
	CMP_CERTRESPONSE *cr = NULL;
	CMP_MSG *out = NULL;
	const unsigned char *p;
	X509 *pinned = NULL, *cert = NULL;
	EVP_PKEY *pub = NULL;
	struct db_cert row;
	const char *why = NULL;
	long rid;
	int fail;

	memset(&row, 0, sizeof(row));
	if (!r->is_partner)
		return cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "ccr must be protected by a registered partner CA "
		    "(RFC 9810 §5.3.11)");
	if (r->partner.ca_id != r->ca->id)
		return cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "this partner is registered for another of our CAs");
	if (sk_CRMF_CERTREQMSG_num(reqs) != 1)
		return cmp_reject(r, CMP_FAIL_BAD_REQUEST,
		    "ccr asks for exactly one cross certificate");
	m = sk_CRMF_CERTREQMSG_value(reqs, 0);
	rid = ASN1_INTEGER_get(m->certReq->certReqId);
	if (rid < 0 || rid > 0x7fffffffL)
		return cmp_reject(r, CMP_FAIL_BAD_REQUEST,
		    "certReqId must be non-negative");
	p = r->partner.cert;
	if ((pinned = d2i_X509(NULL, &p, (long)r->partner.cert_len)) == NULL)
		return cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
		    "stored partner certificate does not decode");
	pub = cmp_spki_pkey(m->certReq->certTemplate->publicKey);
	if (ccr_template_check(r, m, pinned, pub, &fail, &why)) {
		switch (cmp_popo_verify(m, pub, 0, &why)) {
		case 1:
			goto issue;
		case 0:
			fail = CMP_FAIL_BAD_POP;
			break;
		default:
			out = cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "POP");
			goto done;
		}
	}
	/* Rejected: answered with a ccp carrying the reason (§5.3.4). */
	r->fail = fail;
	r->why = why;
	r->outcome = "rejected";
	if ((cr = cmp_certresp_new((int)rid, CMP_STATUS_REJECTION, fail, why,
		 NULL)) != NULL)
		out = ccp_new(r, cr);
	goto done;
issue:
	r->implicit = r->srv->cfg->implicit_confirm &&
	    cmp_hdr_implicit_confirm(r->msg->header);
	if ((cert = cross_cert_issue(r->ca, r->srv->hsm, pinned, &r->partner,
		 m->certReq->certTemplate->validity != NULL
		     ? m->certReq->certTemplate->validity->notAfter : NULL)) ==
		NULL ||
	    !ccr_row(r, cert, (int)rid, &row)) {
		out = cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
		    "cross certificate issuance failed");
		goto done;
	}
	if (!ccr_persist(r, &row))
		goto done;
	log_info("req %lu: cross certificate %s for partner %s", r->id,
	    row.serial, r->partner.name);
	if ((cr = cmp_certresp_new((int)rid, CMP_STATUS_ACCEPTED, CMP_FAIL_NONE,
		 NULL, cert)) == NULL ||
	    (out = ccp_new(r, cr)) == NULL)
		out = cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "ccp");
done:
	db_cert_clear(&row);
	X509_free(cert);
	X509_free(pinned);
	EVP_PKEY_free(pub);
	return out;
}
