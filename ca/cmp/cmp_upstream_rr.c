/*
 * cmp_upstream_rr.c - cmpca as an RA: a device's rr forwarded upstream
 * (RFC 9483 §5.2.3, §4.2). The device asks with the credential it
 * enrolled with here (the same enrollment secret); the RA forwards only
 * for a certificate it brokered, under this identity, for that very
 * credential (its requester), and re-protects the rr with its own
 * credential at the upstream CA (a cmpca upstream takes rr from a
 * registered RA, signed: `ca upstream --sign-ca`). The upstream's answer
 * decides: revoked there, the certificate is marked revoked here with the
 * reason asked for (audit event revoke) and the device gets rp accepted;
 * otherwise the upstream's rejection with its text.
 */
#include <stdio.h>
#include <string.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"

#define RR_SCOPE "certificate is not in the scope of this RA (obtained " \
		 "through it with this credential)"

/* The rp for the device: one status. NULL on error. */
static CMP_MSG *
rp_new(struct req *r, int status, int fail, const char *why)
{
	CMP_BODY *b = CMP_BODY_new();
	CMP_PKISI *si = NULL;

	if (b == NULL || (b->value.rp = CMP_REVREP_new()) == NULL ||
	    (si = cmp_pkisi_new(status, fail, why)) == NULL ||
	    !sk_CMP_PKISI_push(b->value.rp->status, si)) {
		CMP_PKISI_free(si);
		CMP_BODY_free(b);
		return NULL;
	}
	b->type = CMP_BODY_RP;
	if (status == CMP_STATUS_REJECTION) {
		r->fail = fail;
		r->why = why;
		r->outcome = "rejected";
	}
	return cmp_resp_new(r, b);
}

/* See cmp_srv.h. */
int
cmp_upstream_fail(const CMP_PKISI *si, int dflt)
{
	int i;

	for (i = 0; si != NULL && si->failInfo != NULL &&
	    i <= CMP_FAIL_DUPLICATE_CERT_REQ; i++)
		if (ASN1_BIT_STRING_get_bit(si->failInfo, i))
			return i;
	return dflt;
}

/* See cmp_srv.h. */
CMP_MSG *
cmp_upstream_rr(struct req *r)
{
	STACK_OF(CMP_REVDETAILS) *rr = r->msg->body->value.rr;
	const CMP_REVDETAILS *d;
	const CRMF_CERTTEMPLATE *t;
	char serial[80], err[512];
	struct db_up_state st;
	struct db_cert row;
	const CMP_PKISI *si = NULL;
	CMP_MSG *a = NULL, *out = NULL;
	CMP_BODY *b;
	long status;
	int reason, rc;

	memset(&row, 0, sizeof(row));
	memset(&st, 0, sizeof(st));
	if (sk_CMP_REVDETAILS_num(rr) != 1)
		return rp_new(r, CMP_STATUS_REJECTION, CMP_FAIL_BAD_REQUEST,
		    "this RA forwards one RevDetails per rr (RFC 9483 §4.2)");
	d = sk_CMP_REVDETAILS_value(rr, 0);
	t = d->certDetails;
	if (t == NULL || t->issuer == NULL || t->serialNumber == NULL)
		return rp_new(r, CMP_STATUS_REJECTION, CMP_FAIL_BAD_REQUEST,
		    "certDetails needs issuer and serialNumber "
		    "(RFC 9483 §4.2)");
	if ((reason = cmp_rr_reason(d)) < 0)
		return rp_new(r, CMP_STATUS_REJECTION, CMP_FAIL_BAD_REQUEST,
		    "unsupported or malformed reasonCode");
	/* Scope first: who is not the requester learns nothing. */
	if (X509_NAME_cmp(t->issuer, X509_get_subject_name(r->ca->cert)) != 0 ||
	    !ca_serial_hex(t->serialNumber, serial, sizeof(serial)))
		return rp_new(r, CMP_STATUS_REJECTION, CMP_FAIL_NOT_AUTHORIZED,
		    RR_SCOPE);
	rc = db_cert_get_by_serial(r->srv->db, r->ca->id, serial, &row);
	if (rc < 0)
		return cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
		    db_error(r->srv->db));
	if (rc == 0 || row.requester == NULL ||
	    strcmp(row.requester, r->sender) != 0) {
		out = rp_new(r, CMP_STATUS_REJECTION, CMP_FAIL_NOT_AUTHORIZED,
		    RR_SCOPE);
		goto out;
	}
	if (row.status != DB_CERT_VALID) {
		out = rp_new(r, CMP_STATUS_REJECTION,
		    CMP_FAIL_CERT_REVOKED, "certificate is not valid here "
		    "(revoked, on hold or never confirmed)");
		goto out;
	}
	/* The replay guard before anything goes upstream: the senderNonce
	 * claimed and the transactionID taken here, as a CA does, so that
	 * a replayed rr is refused at the RA (badSenderNonce or
	 * transactionIdInUse) instead of being forwarded again. */
	if (cmp_txn_record(r, DB_TXN_DONE) != 1)
		goto out;
	if ((b = ASN1_item_dup(ASN1_ITEM_rptr(CMP_BODY), r->msg->body)) ==
	    NULL) {
		out = cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
		    "cannot build the rr for upstream");
		goto out;
	}
	if (!r->srv->up->exchange(r->srv->db, r->srv->hsm, r->ca, &st, 0, b,
		CMP_BODY_RP, &a, err, sizeof(err))) {
		log_warn("req %lu: upstream %s: rr: %s", r->id, r->ca->label,
		    err);
		out = rp_new(r, CMP_STATUS_REJECTION, CMP_FAIL_SYSTEM_UNAVAIL,
		    "the upstream CA is not available, try again later");
		goto out;
	}
	if (a->body->type == CMP_BODY_ERROR)
		si = a->body->value.error->pKIStatusInfo;
	else if (sk_CMP_PKISI_num(a->body->value.rp->status) == 1)
		si = sk_CMP_PKISI_value(a->body->value.rp->status, 0);
	status = si != NULL ? ASN1_INTEGER_get(si->status) : -1;
	if (a->body->type == CMP_BODY_RP &&
	    (status == CMP_STATUS_ACCEPTED ||
		status == CMP_STATUS_GRANTED_WITH_MODS)) {
		if (db_cert_set_status(r->srv->db, row.id,
			1u << DB_CERT_VALID, DB_CERT_REVOKED, reason) < 0 ||
		    db_audit_add(r->srv->db, "revoke", r->ca->id, r->sender,
			serial) < 0) {
			/* Revoked upstream: say so, and log what is not
			 * recorded here. */
			log_err("req %lu: upstream %s revoked %s, not recorded "
				"here: %s", r->id, r->ca->label, serial,
			    db_error(r->srv->db));
		}
		log_info("req %lu: upstream %s revoked %s", r->id,
		    r->ca->label, serial);
		out = rp_new(r, CMP_STATUS_ACCEPTED, CMP_FAIL_NONE, NULL);
		goto out;
	}
	out = rp_new(r, CMP_STATUS_REJECTION,
	    cmp_upstream_fail(si, CMP_FAIL_BAD_REQUEST),
	    cmp_upstream_text(r, si));
out:
	CMP_MSG_free(a);
	db_cert_clear(&row);
	return out;
}
