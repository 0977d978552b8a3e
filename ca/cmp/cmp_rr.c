/*
 * cmp_rr.c - revocation requests (RFC 9810 §5.3.9-§5.3.10, RFC 9483
 * §4.2): rr answered with rp.
 *
 * The holder revokes with a request signed by the very certificate it
 * revokes (RFC 9483 §4.2), also one issued under an earlier key of this
 * CA (after a rollover); a registered RA revokes the end entities in its
 * scope (ra_revoke_scope: those obtained through it by default); the
 * operator revokes with the CLI. Each RevDetails names issuer and
 * serialNumber; the reason comes from the crlEntryDetails reasonCode.
 *
 * Suspension (RFC 5280 §5.3.1): certificateHold puts a certificate on
 * hold (revoked, reason 6: listed in the CRL, revoked in OCSP). A hold
 * ends by an RA's rr with removeFromCRL (valid again: the next CRL drops
 * it, OCSP says good) or by an rr with another reason (permanent). The
 * holder's own certificate cannot sign while on hold, so only an RA (or
 * the operator, cmpca cert release / revoke) ends one.
 */
#include <string.h>

#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"

/* See cmp_srv.h. */
int
cmp_rr_reason(const CMP_REVDETAILS *d)
{
	ASN1_ENUMERATED *e;
	int crit = 0;
	long v;

	e = X509V3_get_d2i(d->crlEntryDetails, NID_crl_reason, &crit, NULL);
	if (e == NULL)
		return crit == -1 ? CRL_REASON_UNSPECIFIED : -1;
	v = ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	if (ca_crl_reason_name(v) == NULL)
		return -1;
	return (int)v;
}

/*
 * Is the row an end entity's certificate: kind "ee", not CA:TRUE, no
 * id-kp-OCSPSigning (a delegated OCSP signer is stored as "ee")?
 */
static int
rr_end_entity(const struct db_cert *row)
{
	const unsigned char *p = row->der;
	X509 *x;
	int ee;

	if (strcmp(row->kind, "ee") != 0 && row->kind[0] != '\0')
		return 0;
	if ((x = d2i_X509(NULL, &p, (long)row->der_len)) == NULL)
		return 0;
	ee = X509_check_ca(x) == 0 &&
	    !(X509_get_extension_flags(x) & EXFLAG_XKUSAGE &&
		X509_get_extended_key_usage(x) & XKU_OCSP_SIGN);
	X509_free(x);
	return ee;
}

/* The refusal of a certificate outside an RA's scope, the same whether
 * or not the serial exists (no oracle). */
#define RR_RA_SCOPE "certificate is not in the scope of this RA " \
	"(ra_revoke_scope: those obtained through it)"

/* Are the subjectAltNames of row (at least one) all within patterns? */
static int
rr_names_within(const char *patterns, const struct db_cert *row)
{
	const unsigned char *p = row->der;
	GENERAL_NAMES *sans = NULL;
	X509 *x;
	int ok = 0;

	if ((x = d2i_X509(NULL, &p, (long)row->der_len)) != NULL &&
	    (sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
		 NULL)) != NULL)
		ok = profile_san_within(patterns, sans);
	GENERAL_NAMES_free(sans);
	X509_free(x);
	return ok;
}

/*
 * Is row in the revocation scope of RA r->ra (ra_revoke_scope)? own:
 * obtained through it (its credential, or requester for rows before
 * migration 018); profile: or issued under its profile, with every
 * subjectAltName within the profile's ra_san when it has one; any: every
 * end entity of the CA. 1 or 0. (Also the scope of its key recoveries,
 * cmp_krr.c.)
 */
int
cmp_rr_ra_scope(const struct req *r, const struct db_cert *row)
{
	const struct cfg_profile *prof;
	char who[DB_SENDER_MAX];

	snprintf(who, sizeof(who), "ra:%s", r->ra.name);
	switch (r->srv->cfg->ra_revoke_scope) {
	case CFG_RA_REVOKE_ANY:
		return 1;
	case CFG_RA_REVOKE_PROFILE:
		prof = cfg_profile_get(r->srv->cfg, r->ra.profile);
		if (row->profile != NULL && prof != NULL &&
		    strcmp(row->profile, r->ra.profile) == 0 &&
		    (prof->ra_san == NULL ||
			rr_names_within(prof->ra_san, row)))
			return 1;
		/* FALLTHROUGH */
	default:
		return (row->credential != NULL &&
			   strcmp(row->credential, who) == 0) ||
		    (row->credential == NULL && row->requester != NULL &&
			strcmp(row->requester, who) == 0);
	}
}

/* The invalidityDate of crlEntryDetails (RFC 5280 §5.3.2), or 0. */
static time_t
rr_invalidity(const CMP_REVDETAILS *d)
{
	ASN1_GENERALIZEDTIME *g;
	struct tm tm;
	time_t t = 0;

	g = X509V3_get_d2i(d->crlEntryDetails, NID_invalidity_date, NULL, NULL);
	if (g != NULL && ASN1_TIME_to_tm(g, &tm) == 1)
		t = timegm(&tm);
	ASN1_GENERALIZEDTIME_free(g);
	return t;
}

/* Checks one RevDetails; fills *row. Returns 1 ok, 0 rejected (*fail,
 * *why, *status), -1 internal. */
static int
rr_one(struct req *r, const CMP_REVDETAILS *d, struct db_cert *row,
    int *reason, int *fail, const char **why)
{
	const CRMF_CERTTEMPLATE *t = d->certDetails;
	char serial[DB_SERIAL_MAX];
	int rc, own;

	*fail = CMP_FAIL_BAD_CERT_ID;
	if (t->issuer == NULL || t->serialNumber == NULL) {
		*fail = CMP_FAIL_BAD_REQUEST;
		*why = "certDetails needs issuer and serialNumber "
		       "(RFC 9483 §4.2)";
		return 0;
	}
	if (X509_NAME_cmp(t->issuer, X509_get_subject_name(r->ca->cert)) !=
	    0) {
		*why = "certificate to revoke was not issued by this CA";
		return 0;
	}
	if ((*reason = cmp_rr_reason(d)) < 0) {
		*fail = CMP_FAIL_BAD_REQUEST;
		*why = "unsupported or malformed reasonCode";
		return 0;
	}
	/* Authorization before any lookup: an unauthorized requester must
	 * not learn which serial numbers exist. */
	own = r->have_sig && r->prot_issuer == r->ca &&
	    ASN1_INTEGER_cmp(t->serialNumber,
		X509_get0_serialNumber(r->prot_cert)) == 0;
	if (!r->is_ra && !own) {
		*fail = CMP_FAIL_NOT_AUTHORIZED;
		*why = "rr must be signed with the certificate to revoke, or "
		       "by a registered RA (RFC 9483 §4.2)";
		return 0;
	}
	if (!ca_serial_hex(t->serialNumber, serial, sizeof(serial)))
		return -1;
	/* Its own certificate, also one under an earlier key's CA row
	 * (a rollover): the protection certificate's row. */
	if (!r->is_ra && r->via_old_key)
		rc = db_cert_get(r->srv->db, r->prot_row.id, row);
	else
		rc = db_cert_get_by_serial(r->srv->db, r->ca->id, serial, row);
	if (rc < 0)
		return -1;
	/* CA, cross and OCSP signer certificates are public: the RA learns
	 * nothing from this refusal coming first. */
	if (rc == 1 && r->is_ra && !rr_end_entity(row)) {
		*fail = CMP_FAIL_NOT_AUTHORIZED;
		*why = "an RA revokes end-entity certificates only; CA, cross "
		       "and OCSP signer certificates are revoked by the "
		       "operator (cmpca cert revoke)";
		return 0;
	}
	if (rc == 1 && r->is_ra && !own && !cmp_rr_ra_scope(r, row)) {
		db_cert_clear(row);
		rc = 0;
	}
	if (rc == 0) {
		if (r->is_ra) {
			*fail = CMP_FAIL_NOT_AUTHORIZED;
			*why = RR_RA_SCOPE;
			return 0;
		}
		*why = "no certificate with this serial number";
		return 0;
	}
	if (*reason == CRL_REASON_REMOVE_FROM_CRL) {
		if (row->status != DB_CERT_REVOKED ||
		    row->reason != CRL_REASON_CERTIFICATE_HOLD) {
			*fail = CMP_FAIL_BAD_REQUEST;
			*why = "removeFromCRL releases a certificate on hold "
			       "(certificateHold) only";
			return 0;
		}
	} else if (row->status == DB_CERT_REVOKED &&
	    row->reason == CRL_REASON_CERTIFICATE_HOLD) {
		if (*reason == CRL_REASON_CERTIFICATE_HOLD) {
			*fail = CMP_FAIL_CERT_REVOKED;
			*why = "certificate is on hold already";
			return 0;
		}
		/* A hold made permanent. */
	} else if (row->status != DB_CERT_VALID) {
		*fail = CMP_FAIL_CERT_REVOKED;
		*why = "certificate is already revoked or not valid";
		return 0;
	}
	return 1;
}

/*
 * Keeps a revocation for the operator (delayed delivery, RFC 9810
 * §5.3.22): kind "rr", the RevDetails as request, and the certificate to
 * revoke in the replaces column. Returns 1 or -1.
 */
static int
rr_pending(struct req *r, int idx, const struct db_cert *row)
{
	const CMP_REVDETAILS *d = sk_CMP_REVDETAILS_value(r->msg->body->value.rr,
	    idx);
	struct db_pending p;
	int len, rc = -1;

	memset(&p, 0, sizeof(p));
	memcpy(p.txid, r->msg->header->transactionID->data,
	    (size_t)r->msg->header->transactionID->length);
	p.txid_len = (size_t)r->msg->header->transactionID->length;
	p.cert_req_id = idx;
	p.ca_id = r->ca->id;
	snprintf(p.kind, sizeof(p.kind), "rr");
	snprintf(p.profile, sizeof(p.profile), "%s",
	    row->profile != NULL ? row->profile : "default");
	p.replaces = row->id;
	if ((p.requester = strdup(r->sender)) == NULL ||
	    (p.subject = strdup(row->subject)) == NULL)
		goto out;
	if ((len = i2d_CMP_REVDETAILS(d, &p.request)) <= 0)
		goto out;
	p.request_len = (size_t)len;
	rc = db_pending_insert(r->srv->db, &p);
	if (rc == 1)
		rc = db_audit_add(r->srv->db, "revoke-pending", r->ca->id,
		    r->sender, row->serial);
out:
	if (p.request != NULL) {
		OPENSSL_free(p.request);
		p.request = NULL;
	}
	db_pending_clear(&p);
	return rc;
}

/* Revokes, records the transaction and the nonce atomically. */
static int
rr_persist(struct req *r, const struct db_cert *rows, const int *reasons,
    const time_t *invalid, const int *ok, const int *wait, int n)
{
	struct db *db = r->srv->db;
	int i, rc, nwait = 0;

	for (i = 0; i < n; i++)
		nwait += wait[i];
	if (db_begin(db) != 1)
		goto dberr;
	rc = cmp_txn_record(r, nwait > 0 ? DB_TXN_WAITING : DB_TXN_DONE);
	if (rc <= 0) {
		db_rollback(db);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (wait[i]) {
			if (rr_pending(r, i, &rows[i]) != 1)
				goto dberr;
			continue;
		}
		if (!ok[i])
			continue;
		if (rows[i].status == DB_CERT_REVOKED)
			/* A hold released or made permanent. */
			rc = db_cert_hold_end(db, rows[i].id,
			    reasons[i] == CRL_REASON_REMOVE_FROM_CRL ? -1
								     : reasons[i]);
		else
			rc = db_cert_set_status(db, rows[i].id,
			    1u << DB_CERT_VALID, DB_CERT_REVOKED, reasons[i]);
		if (rc < 0)
			goto dberr;
		if (rc == 0) {
			db_rollback(db);
			cmp_reject(r, CMP_FAIL_CERT_REVOKED,
			    "certificate status changed concurrently");
			return 0;
		}
		if (db_audit_add(db, reasons[i] == CRL_REASON_REMOVE_FROM_CRL
			? "release" : "revoke", r->ca->id, r->sender,
			rows[i].serial) < 0)
			goto dberr;
		if (reasons[i] != CRL_REASON_REMOVE_FROM_CRL && invalid[i] != 0 &&
		    db_cert_set_invalidity(db, rows[i].id, invalid[i]) < 0)
			goto dberr;
	}
	if (db_commit(db) != 1)
		goto dberr;
	return 1;
dberr:
	cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(db));
	db_rollback(db);
	return 0;
}

/* rr: see the file comment. */
CMP_MSG *
cmp_rr_handle(struct req *r)
{
	STACK_OF(CMP_REVDETAILS) *rr = r->msg->body->value.rr;
	int n = sk_CMP_REVDETAILS_num(rr), i, rc, nok = 0;
	struct db_cert rows[CA_MAX_CERTREQS];
	int reasons[CA_MAX_CERTREQS], ok[CA_MAX_CERTREQS];
	int wait[CA_MAX_CERTREQS] = { 0 }, nwait = 0;
	time_t invalid[CA_MAX_CERTREQS] = { 0 };
	CMP_REVREP *rep = NULL;
	CMP_BODY *body = NULL;
	CMP_MSG *out = NULL;

	memset(rows, 0, sizeof(rows));
	if ((rep = CMP_REVREP_new()) == NULL)
		goto internal;
	for (i = 0; i < n; i++) {
		const char *why = NULL;
		int fail = CMP_FAIL_NONE;
		CMP_PKISI *si;

		rc = rr_one(r, sk_CMP_REVDETAILS_value(rr, i), &rows[i],
		    &reasons[i], &fail, &why);
		if (rc < 0)
			goto internal;
		ok[i] = rc;
		nok += rc;
		invalid[i] = rr_invalidity(sk_CMP_REVDETAILS_value(rr, i));
		if (rc == 0) {
			r->fail = fail;
			r->why = why;
		}
		if (rc == 1) {
			const struct cfg_profile *p = cfg_profile_get(
			    r->srv->cfg, rows[i].profile != NULL
				? rows[i].profile : "default");

			/* Approval is for new revocations; a hold ends at
			 * once. */
			wait[i] = p != NULL && p->approval &&
			    rows[i].status == DB_CERT_VALID;
			nwait += wait[i];
		}
		si = wait[i] ? cmp_pkisi_new(CMP_STATUS_WAITING, CMP_FAIL_NONE,
				   "waiting for approval by the CA operator")
		    : cmp_pkisi_new(rc ? CMP_STATUS_ACCEPTED
				       : CMP_STATUS_REJECTION,
			  rc ? CMP_FAIL_NONE : fail, rc ? NULL : why);
		if (si == NULL || !sk_CMP_PKISI_push(rep->status, si)) {
			CMP_PKISI_free(si);
			goto internal;
		}
	}
	if (!rr_persist(r, rows, reasons, invalid, ok, wait, n))
		goto done;
	if (nwait > 0)
		r->outcome = "waiting";
	else if (nok < n)
		r->outcome = nok == 0 ? "rejected" : "partial";
	if ((body = CMP_BODY_new()) == NULL)
		goto internal;
	body->type = CMP_BODY_RP;
	body->value.rp = rep;
	rep = NULL;
	if ((out = cmp_resp_new(r, body)) == NULL)
		goto internal;
	goto done;
internal:
	out = cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "revocation failed");
done:
	CMP_REVREP_free(rep);
	for (i = 0; i < CA_MAX_CERTREQS; i++)
		db_cert_clear(&rows[i]);
	return out;
}

/*
 * The answer to a poll once the operator decided every waiting
 * revocation: approved ones are revoked now, in one database transaction
 * with the nonce and the transaction's end. Returns rp, or NULL (r set).
 */
CMP_MSG *
cmp_rr_poll_final(struct req *r, const struct db_pending *pend, size_t n)
{
	struct db *db = r->srv->db;
	CMP_REVREP *rep = CMP_REVREP_new();
	CMP_BODY *body = NULL;
	size_t i;
	int rc;

	if (rep == NULL)
		goto internal;
	if (db_begin(db) != 1)
		goto dberr;
	if (!cmp_txn_move(r, DB_TXN_WAITING, DB_TXN_DONE)) {
		db_rollback(db);
		CMP_REVREP_free(rep);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		const unsigned char *p = pend[i].request;
		CMP_REVDETAILS *d = d2i_CMP_REVDETAILS(NULL, &p,
		    (long)pend[i].request_len);
		int reason = d != NULL ? cmp_rr_reason(d) : -1;
		CMP_PKISI *si;

		CMP_REVDETAILS_free(d);
		if (pend[i].status != DB_PENDING_APPROVED) {
			si = cmp_pkisi_new(CMP_STATUS_REJECTION,
			    CMP_FAIL_NOT_AUTHORIZED, pend[i].reason != NULL
				? pend[i].reason : "rejected by the CA operator");
		} else {
			if (reason < 0)
				goto dberr;
			struct db_cert c;

			memset(&c, 0, sizeof(c));
			rc = db_cert_set_status(db, pend[i].replaces,
			    1u << DB_CERT_VALID, DB_CERT_REVOKED, reason);
			if (rc == 1 && (db_cert_get(db, pend[i].replaces, &c) != 1 ||
					   db_audit_add(db, "revoke", r->ca->id,
					       r->sender, c.serial) < 0))
				rc = -1;
			db_cert_clear(&c);
			if (rc < 0)
				goto dberr;
			si = rc == 1 ? cmp_pkisi_new(CMP_STATUS_ACCEPTED,
					   CMP_FAIL_NONE, NULL)
				     : cmp_pkisi_new(CMP_STATUS_REJECTION,
					   CMP_FAIL_CERT_REVOKED,
					   "certificate is no longer valid");
		}
		if (si == NULL || !sk_CMP_PKISI_push(rep->status, si)) {
			CMP_PKISI_free(si);
			goto dberr;
		}
	}
	if (db_commit(db) != 1)
		goto dberr;
	if ((body = CMP_BODY_new()) == NULL)
		goto internal;
	body->type = CMP_BODY_RP;
	body->value.rp = rep;
	return cmp_resp_new(r, body);
dberr:
	db_rollback(db);
	CMP_REVREP_free(rep);
	return cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(db));
internal:
	CMP_REVREP_free(rep);
	return cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "rp construction");
}
