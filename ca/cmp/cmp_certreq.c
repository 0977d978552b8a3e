/*
 * cmp_certreq.c - certificate requests (ir, cr, kur, p10cr), RFC 9810
 * §5.3.1-§5.3.5 and RFC 9483 §4.1: who may ask for what, and the first
 * answer (issued, rejected, or waiting for the operator).
 *
 * Issuance has two phases (cryptlib's ca_issue.c): each certificate is
 * signed in the HSM, then committed to PostgreSQL as unconfirmed (or valid
 * under implicitConfirm) together with the transaction, the claimed nonce
 * and the consumed enrollment-secret use, in one database transaction,
 * before the response that carries it exists. certConf then confirms or
 * rejects it (cmp_certconf.c).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crmf.h>
#include <openssl/err.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"

/* One accepted CertReqMsg: issued now, or waiting for the operator. */
struct issued {
	int rid;
	int waiting;		 /* delayed delivery: pend is set, no cert */
	X509 *cert;
	struct db_cert row;
	struct db_pending pend;
	/* archive_keys: the generated key under the CA's archival key,
	 * stored with the certificate (issue 26). */
	unsigned char *arch;
	size_t arch_len;
	int has_fwd;		 /* RA mode: fwd is the upstream transaction */
	struct db_ra_fwd fwd;
};

_Static_assert(CA_MAX_CERTREQS <= DB_ISSUE_MAX,
    "one db_issue() call stores every certificate of a response");

/* Stores the transaction and every issued certificate atomically, the
 * certificates in one db_issue() call; the requests waiting for the
 * operator, if any, in the same database transaction.
 * Returns 1, or 0 with the rejection or internal error recorded in r. */
static int
persist_issue(struct req *r, struct issued *iss, int n)
{
	struct db *db = r->srv->db;
	struct db_cert *rows[CA_MAX_CERTREQS];
	struct issued *src[CA_MAX_CERTREQS];
	int sup[CA_MAX_CERTREQS];
	struct db_issue is;
	struct db_txn t;
	enum db_refusal why;
	long long kga_ids[CA_MAX_CERTREQS];
	char arch_label[DB_LABEL_MAX + sizeof(HSM_ARCHIVE_PREFIX)];
	size_t k = 0, nkga = 0;
	int i, rc, nwait = 0, nfwd = 0;

	for (i = 0; i < n; i++) {
		nfwd += iss[i].has_fwd;
		if (iss[i].waiting) {
			nwait++;
			continue;
		}
		sup[k] = cmp_supersedes(r, &iss[i].row);
		src[k] = &iss[i];
		rows[k++] = &iss[i].row;
	}
	cmp_txn_fill(r, nwait > 0 ? DB_TXN_WAITING
	    : (n > 0 && !r->implicit) ? DB_TXN_WAIT_CONF : DB_TXN_DONE, &t);
	memset(&is, 0, sizeof(is));
	is.txn = DB_ISSUE_NEW;
	is.t = &t;
	is.nonce = r->msg->header->senderNonce->data;
	is.nonce_len = (size_t)r->msg->header->senderNonce->length;
	is.secret_ref = n > 0 && r->have_mac ? r->secret.ref : NULL;
	is.secret_version = r->secret.version;
	is.ca_sha256 = r->ca->cert_sha256;
	is.actor = r->sender;
	/* One use of a limited secret per certificate (issue 22), the
	 * requests waiting for the operator included. */
	is.secret_uses = n;
	/* Who asked, and with which of our certificates: cert revoke
	 * --cascade follows obtained_with. */
	is.credential = r->have_mac ? r->sender
	    : r->credential[0] != '\0' ? r->credential : NULL;
	is.obtained_with = r->have_sig ? r->prot_row.id : 0;
	/* The statement re-checks the protection path (no cache window). */
	is.path_ca = r->path_ca;
	is.npath_ca = r->npath_ca;
	is.path_cert = r->path_cert;
	is.npath_cert = r->npath_cert;
	for (i = 0; i < (int)k; i++)
		nkga += rows[i]->server_keygen != 0;
	(void)snprintf(arch_label, sizeof(arch_label), "%s%s",
	    HSM_ARCHIVE_PREFIX, r->ca->label);
	/* Without requests waiting, forwarded upstream or keys the CA
	 * generated, one statement is the whole of it. */
	if ((nwait > 0 || nfwd > 0 || nkga > 0) && db_begin(db) != 1)
		goto dberr;
	rc = db_issue(db, &is, rows, sup, k, &why);
	if (rc < 0)
		goto dberr;
	if (rc == 0) {
		db_rollback(db);
		cmp_refuse(r, why);
		return 0;
	}
	if (nkga > 0) {
		/* Marked in the transaction that stores them (issue 26). */
		for (i = 0, nkga = 0; i < (int)k; i++)
			if (rows[i]->server_keygen)
				kga_ids[nkga++] = rows[i]->id;
		if (db_cert_mark_keygen(db, kga_ids, nkga) != 1)
			goto dberr;
		/* Archived in the same transaction (audited by the
		 * table's trigger): no certificate without its key. */
		for (i = 0; i < (int)k; i++)
			if (src[i]->arch != NULL &&
			    db_keyarch_insert(db, rows[i]->id, r->ca->id,
				arch_label, src[i]->arch,
				src[i]->arch_len, NULL) != 1)
				goto dberr;
	}
	if (nwait == 0 && nfwd == 0) {
		if (nkga > 0 && db_commit(db) != 1)
			goto dberr;
		return 1;
	}
	for (i = 0; i < n; i++)
		if (iss[i].waiting &&
		    (db_pending_insert(db, &iss[i].pend) != 1 ||
		    db_audit_add(db, "request-pending", r->ca->id, r->sender,
			iss[i].pend.subject) < 0))
			goto dberr;
	/* RA mode: the upstream transactions with the certificates, so
	 * that no certConf goes upstream for a certificate not stored
	 * here (under implicitConfirm marked owed until it is taken). */
	for (i = 0; i < n; i++) {
		/* Nested under implicitConfirm: confirmed upstream by the
		 * device's own request, nothing owed. */
		if (!iss[i].has_fwd || (r->up_nested && r->implicit))
			continue;
		iss[i].fwd.confirm = r->implicit && !iss[i].waiting;
		if (db_ra_fwd_put(db, &iss[i].fwd) != 1)
			goto dberr;
	}
	if (db_commit(db) != 1)
		goto dberr;
	if (nfwd > 0)
		log_info("req %lu: upstream %s: %d certificate(s) committed%s",
		    r->id, r->ca->label, nfwd,
		    r->implicit ? ", certConf owed upstream" : "");
	return 1;
dberr:
	cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(db));
	db_rollback(db);
	return 0;
}

/* oldCertID control (RFC 4211 §6.5): must name the protection certificate. */
static int
old_cert_id_ok(const CRMF_CERTREQMSG *m, X509 *old)
{
	int i;

	for (i = 0; i < sk_CRMF_ATTR_num(m->certReq->controls); i++) {
		const CRMF_ATTR *a = sk_CRMF_ATTR_value(m->certReq->controls, i);
		const unsigned char *p;
		OSSL_CRMF_CERTID *cid;
		int ok;

		if (OBJ_obj2nid(a->type) != NID_id_regCtrl_oldCertID)
			continue;
		if (a->value->type != V_ASN1_SEQUENCE)
			return 0;
		p = a->value->value.sequence->data;
		cid = d2i_OSSL_CRMF_CERTID(NULL, &p,
		    a->value->value.sequence->length);
		if (cid == NULL)
			return 0;
		ok = OSSL_CRMF_CERTID_get0_issuer(cid) != NULL &&
		    X509_NAME_cmp(OSSL_CRMF_CERTID_get0_issuer(cid),
			X509_get_issuer_name(old)) == 0 &&
		    ASN1_INTEGER_cmp(OSSL_CRMF_CERTID_get0_serialNumber(cid),
			X509_get0_serialNumber(old)) == 0;
		OSSL_CRMF_CERTID_free(cid);
		return ok;
	}
	return 1;
}

/*
 * Who may ask for what (RFC 9483 §4.1): an end entity signing with its
 * certificate asks only for its own subject (cr, kur); kur must be signed
 * with the certificate it updates, issued by this CA, and bring a new key.
 * Fills a missing kur subject from the old certificate. Returns 1 or 0
 * (*fail, *why).
 */
static int
identity_check(struct req *r, CRMF_CERTREQMSG *m, EVP_PKEY *pub,
    const struct cfg_profile *prof, int *fail, const char **why)
{
	CRMF_CERTTEMPLATE *t = m->certReq->certTemplate;
	int type = r->msg->body->type;

	*fail = CMP_FAIL_NOT_AUTHORIZED;
	if (type == CMP_BODY_KUR) {
		if (!r->have_sig || r->prot_issuer != r->ca) {
			*why = "kur must be signed with the certificate to "
			       "update, issued by this CA (RFC 9483 §4.1.3)";
			return 0;
		}
		if (!old_cert_id_ok(m, r->prot_cert)) {
			*fail = CMP_FAIL_BAD_CERT_ID;
			*why = "oldCertID does not name the protection "
			       "certificate (RFC 4211 §6.5)";
			return 0;
		}
		if (t->subject == NULL &&
		    (t->subject = X509_NAME_dup(
			 X509_get_subject_name(r->prot_cert))) == NULL)
			return 0;
		/* Renewal with the same key only where the profile
		 * allows it (kur_same_key). */
		if (pub != NULL && !prof->kur_same_key &&
		    EVP_PKEY_eq(pub, X509_get0_pubkey(r->prot_cert)) == 1) {
			*fail = CMP_FAIL_BAD_CERT_TEMPLATE;
			*why = "key update needs a new key (RFC 9810 §5.3.5; "
			       "kur_same_key of the profile)";
			return 0;
		}
	}
	if (r->is_ra) {
		/* An RA asks for any subject, under its own profile; key
		 * updates come from the holder (forwarded, e.g. nested). */
		if (type == CMP_BODY_KUR) {
			*why = "an RA forwards kur with the holder's protection "
			       "(RFC 9483 §5.2)";
			return 0;
		}
		return 1;
	}
	/* ir signed by an end entity's certificate included: a certificate
	 * must never serve as an enrollment credential for other names,
	 * unless it is under an external anchor and the profile lets it. */
	if (r->have_sig &&
	    (type == CMP_BODY_IR || type == CMP_BODY_CR ||
		type == CMP_BODY_KUR || type == CMP_BODY_P10CR) &&
	    (t->subject == NULL ||
		X509_NAME_cmp(t->subject,
		    X509_get_subject_name(r->prot_cert)) != 0)) {
		if (profile_other_subject_ok(prof,
			r->prot_external && type != CMP_BODY_KUR, t->subject,
			r->why_buf, sizeof(r->why_buf)))
			return 1;
		*why = r->why_buf;
		return 0;
	}
	if (!r->have_sig && type == CMP_BODY_KUR) {
		*why = "kur needs signature protection (RFC 9483 §4.1.3)";
		return 0;
	}
	return 1;
}

/*
 * Delayed delivery (RFC 9810 §5.3.22): the checked request is kept for the
 * operator and answered with status waiting. Returns 2, or -1.
 */
static int
certreq_wait(struct req *r, const CRMF_CERTREQMSG *m, int rid,
    const struct cfg_profile *prof, struct issued *out,
    CMP_CERTRESPONSE **resp)
{
	struct db_pending *p = &out->pend;
	const X509_NAME *subj = m->certReq->certTemplate->subject;
	BIO *b = NULL;
	char *data;
	long len;
	int dlen;

	out->waiting = 1;
	memcpy(p->txid, r->msg->header->transactionID->data,
	    (size_t)r->msg->header->transactionID->length);
	p->txid_len = (size_t)r->msg->header->transactionID->length;
	p->cert_req_id = rid;
	p->ca_id = r->ca->id;
	snprintf(p->kind, sizeof(p->kind), "%s",
	    cmp_body_name(r->msg->body->type));
	snprintf(p->profile, sizeof(p->profile), "%s", prof->name);
	if (r->msg->body->type == CMP_BODY_KUR)
		p->replaces = r->prot_row.id;
	if ((p->requester = strdup(r->sender)) == NULL ||
	    (b = BIO_new(BIO_s_mem())) == NULL ||
	    X509_NAME_print_ex(b, subj, 0, XN_FLAG_RFC2253) < 0 ||
	    (len = BIO_get_mem_data(b, &data)) < 0 ||
	    (p->subject = strndup(data, (size_t)len)) == NULL)
		goto fail;
	BIO_free(b);
	b = NULL;
	p->request = NULL;
	if ((dlen = i2d_CRMF_CERTREQMSG(m, &p->request)) <= 0)
		goto fail;
	p->request_len = (size_t)dlen;
	if (out->has_fwd)
		p->status = DB_PENDING_UPSTREAM; /* not the operator's */
	*resp = cmp_certresp_new(rid, CMP_STATUS_WAITING, CMP_FAIL_NONE,
	    out->has_fwd ? "waiting for the upstream CA"
			 : "waiting for approval by the CA operator", NULL);
	return *resp != NULL ? 2 : -1;
fail:
	BIO_free(b);
	return -1;
}

/* Issues one certificate for one CertReqMsg; 1 issued, 2 waiting, 0
 * rejected into *resp, -1 internal. */
static int
certreq_one(struct req *r, CRMF_CERTREQMSG *m, int rid,
    const struct cfg_profile *prof, struct issued *out,
    CMP_CERTRESPONSE **resp, int *failp, const char **whyp)
{
	struct issue_req ir;
	EVP_PKEY *genkey = NULL; /* central key generation: the new key */
	const char *why = NULL;
	char mods[256] = "";
	int rc, fail = CMP_FAIL_NONE, kga;

	memset(&ir, 0, sizeof(ir));
	ir.tmpl = m->certReq->certTemplate;
	/* No key in the template (or only its algorithm): the CA is asked
	 * to make it (RFC 9483 §4.1.6). */
	kga = r->msg->body->type != CMP_BODY_P10CR &&
	    kga_requested(ir.tmpl);
	/* Decoded once for the checks, the POP and the certificate. */
	if (!kga)
		ir.pubkey = cmp_spki_pkey(ir.tmpl->publicKey);
	ir.profile = prof;
	ir.allowed_subject = r->secret.allowed_subject;
	ir.ca_name = X509_get_subject_name(r->ca->cert);
	ir.conf = r->srv->cfg->conf;
	ir.why_buf = r->why_buf;
	ir.why_len = sizeof(r->why_buf);
	ir.mods_buf = mods;
	ir.mods_len = sizeof(mods);
	/* No end entity named like a CA we know (profile_reserved.c). */
	ir.ca_chain = r->ca->chain;
	if (!prof->is_ca &&
	    (ir.reserved = profile_reserved_get(r->srv->db, r->srv->cfg)) ==
		NULL) {
		/* The database, not the request: the client may try again
		 * (systemUnavail, as every database failure here). */
		r->db_unavail = 1;
		rc = -1;
		goto out;
	}
	/* Names bound to the credential: a secret bound to a subject or to
	 * subjectAltName patterns gives only those; a certificate holder
	 * (not an RA) only its own names, unless the profile says any. */
	ir.san_bound = r->have_mac &&
	    ((r->secret.allowed_subject != NULL &&
		 r->secret.allowed_subject[0] != '\0') ||
		(r->secret.allowed_san != NULL &&
		    r->secret.allowed_san[0] != '\0'));
	ir.allowed_san = r->have_mac ? r->secret.allowed_san : NULL;
	ir.holder = r->have_sig && !r->is_ra ? r->prot_cert : NULL;
	if (ir.holder != NULL && r->prot_external &&
	    prof->external_san != NULL) {
		/* A certificate under an external anchor: the names the
		 * profile gives it, not its own (an IDevID's). */
		ir.holder = NULL;
		ir.san_bound = 1;
		ir.allowed_san = prof->external_san;
		ir.san_who = "certificate under an external trust anchor "
			     "(external_san of the profile)";
		ir.subject_fixed = prof->external_subject != NULL;
	}
	if (r->is_ra && prof->ra_san != NULL) {
		/* The names the profile lets its RAs ask for. */
		ir.san_bound = 1;
		ir.allowed_san = prof->ra_san;
		ir.san_who = "RA (ra_san of the profile)";
	}
	ERR_clear_error();
	rc = identity_check(r, m, ir.pubkey, prof, &fail, &why);
	if (rc == 1 && kga) {
		rc = cmp_kga_prepare(r, m, prof, &genkey, &fail, &why);
		if (rc == 1 && (ir.pubkey = genkey) != NULL &&
		    !EVP_PKEY_up_ref(genkey)) {
			ir.pubkey = NULL;
			rc = -1;
		}
		if (rc == 1 && prof->archive_keys)
			rc = cmp_kga_archive(r, genkey, &out->arch,
			    &out->arch_len, &fail, &why);
	}
	if (rc == 1)
		rc = cmp_template_check(&ir, &fail, &why);
	if (rc == 1 && r->msg->body->type == CMP_BODY_P10CR) {
		ERR_set_mark();
		rc = X509_REQ_verify(r->msg->body->value.p10cr, ir.pubkey) == 1;
		ERR_pop_to_mark();
		fail = CMP_FAIL_BAD_POP;
		why = "PKCS#10 signature does not verify (RFC 2986)";
	} else if (rc == 1 && !kga) {
		rc = cmp_popo_verify(m, ir.pubkey, r->is_ra, &why);
		fail = CMP_FAIL_BAD_POP;
	}
	if (rc < 0)
		goto out;
	if (rc == 0) {
		*failp = fail;
		*whyp = why;
		*resp = cmp_certresp_new(rid, CMP_STATUS_REJECTION, fail, why, NULL);
		rc = *resp != NULL ? 0 : -1;
		goto out;
	}
	out->rid = rid;
	if (r->ca->upstream && prof->approval && !r->up_nested &&
	    r->msg->body->type != CMP_BODY_P10CR) {
		/* Approval at the RA: the request waits for the RA's
		 * operator, and goes upstream at the device's poll after the
		 * approval (cmp_upstream.c). */
		rc = certreq_wait(r, m, rid, prof, out, resp);
		goto out;
	} else if (r->ca->upstream) {
		/* cmpca as an RA: the certificate comes from upstream. */
		rc = cmp_upstream_certreq(r, m, rid, ir.pubkey, prof->approval,
		    &out->cert, &out->fwd, resp, failp, whyp);
		if (rc == 2) {
			/* The upstream CA's delayed delivery, relayed. */
			out->has_fwd = 1;
			rc = certreq_wait(r, m, rid, prof, out, resp);
			goto out;
		}
		if (rc != 1)
			goto out;
		out->has_fwd = 1;
	} else if (prof->approval) {
		rc = certreq_wait(r, m, rid, prof, out, resp);
		goto out;
	}
	rc = -1;
	if ((out->cert == NULL &&
		(out->cert = cmp_cert_issue(&ir, r->ca, r->srv->hsm)) == NULL) ||
	    !ca_cert_to_row(out->cert, &out->row))
		goto out;
	out->row.ca_id = r->ca->id;
	out->row.status = r->implicit ? DB_CERT_VALID : DB_CERT_UNCONFIRMED;
	out->row.profile = strdup(prof->name);
	out->row.requester = strdup(r->sender);
	memcpy(out->row.txid, r->msg->header->transactionID->data,
	    (size_t)r->msg->header->transactionID->length);
	out->row.txid_len = (size_t)r->msg->header->transactionID->length;
	out->row.cert_req_id = rid;
	out->row.reason = -1;
	if (r->msg->body->type == CMP_BODY_KUR)
		out->row.replaces = r->prot_row.id;
	out->row.server_keygen = kga;
	if (out->row.profile == NULL || out->row.requester == NULL)
		goto out;
	/* What the profile dropped (other_extensions = drop): RFC 9810
	 * §5.2.3 grantedWithMods, naming it. */
	*resp = cmp_certresp_new(rid, mods[0] != '\0'
	    ? CMP_STATUS_GRANTED_WITH_MODS : CMP_STATUS_ACCEPTED,
	    CMP_FAIL_NONE, mods[0] != '\0' ? mods : NULL, out->cert);
	rc = *resp != NULL && (genkey == NULL ||
		 cmp_kga_attach(r, *resp, genkey)) ? 1 : -1;
out:
	EVP_PKEY_free(genkey);
	EVP_PKEY_free(ir.pubkey);
	return rc;
}

/* Checks certReqIds: RFC 9483 §4.1.1 wants 0 for a single request; several
 * must be distinct and non-negative. */
static int
certreqids_check(const STACK_OF(CRMF_CERTREQMSG) *reqs, int *rids)
{
	int i, j, n = sk_CRMF_CERTREQMSG_num(reqs);

	for (i = 0; i < n; i++) {
		const CRMF_CERTREQMSG *m = sk_CRMF_CERTREQMSG_value(reqs, i);
		long v = ASN1_INTEGER_get(m->certReq->certReqId);

		if (v < 0 || v > 0x7fffffffL)
			return 0;
		rids[i] = (int)v;
		for (j = 0; j < i; j++)
			if (rids[j] == rids[i])
				return 0;
	}
	return 1;
}

/*
 * p10cr (RFC 9810 §5.3.4, RFC 9483 §4.1.4): the PKCS#10 request as one
 * CertReqMsg with certReqId -1 and no POPO (the CSR signature is the
 * proof of possession, checked in certreq_one). NULL on error.
 */
static STACK_OF(CRMF_CERTREQMSG) *
p10_to_crmf(X509_REQ *req, const char **why)
{
	STACK_OF(CRMF_CERTREQMSG) *sk = sk_CRMF_CERTREQMSG_new_null();
	CRMF_CERTREQMSG *m = CRMF_CERTREQMSG_new();
	CRMF_CERTTEMPLATE *t;
	int nattr;

	if (sk == NULL || m == NULL ||
	    !ASN1_INTEGER_set(m->certReq->certReqId, -1))
		goto fail;
	t = m->certReq->certTemplate;
	if ((t->subject = X509_NAME_dup(X509_REQ_get_subject_name(req))) ==
		NULL ||
	    !cmp_spki_set(&t->publicKey, X509_REQ_get0_pubkey(req)))
		goto fail;
	/* One extensionRequest at most, and it must decode: what the
	 * CSR asks for is checked, never lost (issue 13). */
	nattr = (X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) >= 0) +
	    (X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, -1) >= 0);
	if (nattr > 1 || X509_REQ_get_attr_by_NID(req, NID_ext_req,
			     X509_REQ_get_attr_by_NID(req, NID_ext_req,
				 -1)) >= 0) {
		*why = "PKCS#10 request has more than one extensionRequest";
		goto fail;
	}
	ERR_set_mark();
	t->extensions = X509_REQ_get_extensions(req);
	ERR_pop_to_mark();
	if (t->extensions == NULL && nattr > 0) {
		*why = "PKCS#10 extensionRequest does not decode (RFC 2985)";
		goto fail;
	}
	if (!sk_CRMF_CERTREQMSG_push(sk, m))
		goto fail;
	return sk;
fail:
	CRMF_CERTREQMSG_free(m);
	sk_CRMF_CERTREQMSG_free(sk);
	return NULL;
}

/*
 * The profile a request is served under (issue 22): an RA's, an
 * enrollment secret's, or for a holder of one of our certificates the
 * profile that certificate was issued under (its renew_profile when it
 * names one), so approval, key types, validity and implicitConfirm carry
 * over; "default" for a certificate under an external anchor. NULL with
 * r set.
 */
static const struct cfg_profile *
certreq_profile(struct req *r)
{
	const struct cfg *cfg = r->srv->cfg;
	const struct cfg_profile *p;
	const char *name = cmp_profile_name(r);

	if ((p = cfg_profile_get(cfg, name)) != NULL)
		return p;
	if (r->have_sig && !r->is_ra) {
		snprintf(r->why_buf, sizeof(r->why_buf), "the profile %s of "
		    "the protection certificate is not configured any more",
		    name);
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED, r->why_buf);
	} else
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "profile of the "
		    "enrollment secret or RA is not configured");
	return NULL;
}

/* Response body type for a request body type. */
static int
rep_type(int req_type)
{
	switch (req_type) {
	case CMP_BODY_IR:
		return CMP_BODY_IP;
	case CMP_BODY_KUR:
		return CMP_BODY_KUP;
	default: /* cr, p10cr */
		return CMP_BODY_CP;
	}
}

/* ir, cr, kur and p10cr: RFC 9810 §5.3.1-§5.3.5. */
CMP_MSG *
cmp_certreq_handle(struct req *r)
{
	STACK_OF(CRMF_CERTREQMSG) *p10 = NULL;
	STACK_OF(CRMF_CERTREQMSG) *reqs = r->msg->body->value.ir;
	int n;
	int rids[CA_MAX_CERTREQS];
	struct issued iss[CA_MAX_CERTREQS];
	const struct cfg_profile *prof;
	CMP_CERTREPMESSAGE *rep = NULL;
	CMP_BODY *body = NULL;
	CMP_MSG *out = NULL;
	int i, rc, nissued = 0, nwait = 0, nent = 0, last_fail = CMP_FAIL_NONE;
	const char *last_why = NULL;

	memset(iss, 0, sizeof(iss));
	if (r->msg->body->type == CMP_BODY_P10CR) {
		const char *p10_why =
		    "PKCS#10 request lacks subject or public key";

		if ((p10 = p10_to_crmf(r->msg->body->value.p10cr,
			 &p10_why)) == NULL)
			return cmp_reject(r, CMP_FAIL_BAD_CERT_TEMPLATE,
			    p10_why);
		reqs = p10;
		rids[0] = -1;
	} else if (!certreqids_check(reqs, rids))
		return cmp_reject(r, CMP_FAIL_BAD_REQUEST,
		    "certReqIds must be distinct and non-negative "
		    "(RFC 9810 §5.3.1)");
	n = sk_CRMF_CERTREQMSG_num(reqs);
	if (r->msg->body->type == CMP_BODY_KUR && n != 1) {
		sk_CRMF_CERTREQMSG_pop_free(p10, CRMF_CERTREQMSG_free);
		return cmp_reject(r, CMP_FAIL_BAD_REQUEST,
		    "kur carries exactly one CertReqMsg (RFC 9483 §4.1.3)");
	}
	if ((prof = certreq_profile(r)) == NULL)
		goto done;
	r->implicit = r->srv->cfg->implicit_confirm &&
	    prof->implicit_confirm &&
	    cmp_hdr_implicit_confirm(r->msg->header);
	if ((rep = CMP_CERTREPMESSAGE_new()) == NULL)
		goto internal;
	for (i = 0; i < n; i++) {
		CMP_CERTRESPONSE *cr = NULL;

		/* Uses are counted per certificate: what the secret has
		 * left, and no more (the issuing statement checks again). */
		if (r->have_mac && r->secret.uses_left >= 0 &&
		    nent >= r->secret.uses_left) {
			last_fail = CMP_FAIL_NOT_AUTHORIZED;
			last_why = "the enrollment secret has no use left for "
				   "this request (one use per certificate)";
			if ((cr = cmp_certresp_new(rids[i],
				 CMP_STATUS_REJECTION, last_fail, last_why,
				 NULL)) == NULL ||
			    !sk_CMP_CERTRESPONSE_push(rep->response, cr)) {
				CMP_CERTRESPONSE_free(cr);
				goto internal;
			}
			continue;
		}
		rc = certreq_one(r, sk_CRMF_CERTREQMSG_value(reqs, i), rids[i],
		    prof, &iss[nent], &cr, &last_fail, &last_why);
		if (rc < 0) {
			CMP_CERTRESPONSE_free(cr);
			goto internal;
		}
		nissued += rc == 1;
		nwait += rc == 2;
		nent += rc >= 1;
		if (!sk_CMP_CERTRESPONSE_push(rep->response, cr)) {
			CMP_CERTRESPONSE_free(cr);
			goto internal;
		}
	}
	if (nissued == 0 || nwait > 0)
		r->implicit = 0;
	if (!persist_issue(r, iss, nent))
		goto done; /* whole message rejected or failed: out is NULL */
	/* RA mode under implicitConfirm: committed here, now confirmed
	 * upstream, then answered. */
	for (i = 0; r->implicit && !r->up_nested && i < nent; i++)
		if (iss[i].has_fwd)
			cmp_upstream_confirm_owed(r, &iss[i].fwd, iss[i].cert);
	r->fail = last_fail;
	r->why = last_why;
	if (nwait > 0)
		r->outcome = "waiting";
	else if (nissued < n)
		r->outcome = nissued == 0 ? "rejected" : "partial";
	/* caPubs: the root, for MAC-protected ir (RFC 9483 §4.1.1). */
	if (nissued > 0 && r->have_mac &&
	    r->msg->body->type == CMP_BODY_IR) {
		X509 *root = sk_X509_value(r->ca->chain,
		    sk_X509_num(r->ca->chain) - 1);

		if ((rep->caPubs = sk_X509_new_null()) == NULL ||
		    !X509_up_ref(root) || !sk_X509_push(rep->caPubs, root))
			goto internal;
	}
	if ((body = CMP_BODY_new()) == NULL)
		goto internal;
	body->type = rep_type(r->msg->body->type);
	body->value.ip = rep;
	rep = NULL;
	if ((out = cmp_certrep_new(r, body, nissued > 0)) == NULL)
		goto internal;
	goto done;
internal:
	out = r->db_unavail ? cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
				  db_error(r->srv->db))
			    : cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
				  "issuance failed");
done:
	sk_CRMF_CERTREQMSG_pop_free(p10, CRMF_CERTREQMSG_free);
	CMP_CERTREPMESSAGE_free(rep);
	for (i = 0; i < CA_MAX_CERTREQS; i++) {
		X509_free(iss[i].cert);
		db_cert_clear(&iss[i].row);
		db_pending_clear(&iss[i].pend);
		OPENSSL_free(iss[i].arch);
	}
	return out;
}

