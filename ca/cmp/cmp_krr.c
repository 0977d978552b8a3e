/*
 * cmp_krr.c - key recovery (RFC 9810 §5.3.8, issue 26): a krr names the
 * certificate whose archived key the requester wants back, and is
 * answered with a krp whose keyPairHist holds that certificate and the
 * key, packaged as in central key generation (ca/issue/kga.c): an
 * EnvelopedData to the requester (the enrollment secret of a
 * MAC-protected krr, the protection certificate's key of a signed one)
 * of a SignedData by the CA of an AsymmetricKeyPackage.
 *
 * The krr holds one CertReqMsg whose certTemplate names the certificate
 * by serialNumber (and issuer, which must be this CA), without POP. Who
 * may recover a key (else notAuthorized, the same answer whether or not
 * the serial exists, so no requester learns which keys are archived):
 *   - the holder: a signature by a certificate of this CA (in the
 *     inventory, valid: the protection check) for the same subject;
 *   - the enrollment secret that obtained the certificate (MAC with the
 *     same reference; another secret is another scope);
 *   - a registered RA for certificates in its scope (ra_revoke_scope,
 *     as for its revocations: cmp_rr.c).
 * Keys archived under archive_keys only; the daemon reads the archived
 * value through cmpca_key_archive_fetch(), which audits the recovery
 * (migration 027), in the database transaction that records the
 * transaction and its nonce, committed only once the key is packaged.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"

/* The refusal, the same for a key that is not the requester's and for
 * one that is not archived (or does not exist). */
#define KRR_NOT_YOURS                                                      \
	"key recovery is for an archived key (archive_keys) of the holder "  \
	"(signed with a certificate of this CA for the same subject), of the " \
	"enrollment secret that obtained it, or of a registered RA in its "  \
	"scope (RFC 9810 §5.3.8)"

/* The CertReqMsg of the krr, or NULL (*why). The stack is freed with
 * the returned message by the caller (*msgs). */
static CRMF_CERTREQMSG *
krr_msg(struct req *r, STACK_OF(CRMF_CERTREQMSG) **msgs, const char **why)
{
	const ASN1_TYPE *v = r->msg->body->value.other;
	const unsigned char *p;

	*msgs = NULL;
	*why = "krr must hold one CertReqMsg (RFC 9810 §5.3.8)";
	if (v == NULL || v->type != V_ASN1_SEQUENCE)
		return NULL;
	p = v->value.sequence->data;
	*msgs = (STACK_OF(CRMF_CERTREQMSG) *)ASN1_item_d2i(NULL, &p,
	    v->value.sequence->length, ASN1_ITEM_rptr(CMP_CERTREQMSGS));
	if (*msgs == NULL ||
	    p != v->value.sequence->data + v->value.sequence->length ||
	    sk_CRMF_CERTREQMSG_num(*msgs) != 1) {
		ERR_clear_error();
		return NULL;
	}
	return sk_CRMF_CERTREQMSG_value(*msgs, 0);
}

/* May r recover the key of row? 1 or 0. */
static int
krr_allowed(const struct req *r, const struct db_cert *row)
{
	if (r->is_ra)
		return cmp_rr_ra_scope(r, row);
	if (r->have_mac)
		return row->credential != NULL &&
		    strcmp(row->credential, r->sender) == 0;
	if (!r->have_sig || r->prot_external || r->prot_issuer != r->ca ||
	    r->prot_row.subject == NULL || row->subject == NULL)
		return 0;
	return r->prot_row.id == row->id ||
	    strcmp(r->prot_row.subject, row->subject) == 0;
}

/*
 * Checks the krr and finds the certificate. Returns 1 (*row, *x), 0
 * rejected (*fail, *why), -1 internal.
 */
static int
krr_check(struct req *r, struct db_cert *row, X509 **x, int *fail,
    const char **why)
{
	STACK_OF(CRMF_CERTREQMSG) *msgs = NULL;
	CRMF_CERTREQMSG *m;
	const CRMF_CERTTEMPLATE *t;
	const unsigned char *p;
	char serial[DB_SERIAL_MAX];
	int rc = 0;

	*fail = CMP_FAIL_BAD_REQUEST;
	if ((m = krr_msg(r, &msgs, why)) == NULL)
		goto out;
	t = m->certReq->certTemplate;
	*fail = CMP_FAIL_BAD_CERT_TEMPLATE;
	if (t->serialNumber == NULL) {
		*why = "krr: the certTemplate names the certificate whose key "
		       "to recover by serialNumber (RFC 9810 §5.3.8)";
		goto out;
	}
	*fail = CMP_FAIL_BAD_CERT_ID;
	if (t->issuer != NULL &&
	    X509_NAME_cmp(t->issuer, X509_get_subject_name(r->ca->cert)) != 0) {
		*why = "krr: the certificate was not issued by this CA";
		goto out;
	}
	*fail = CMP_FAIL_BAD_POP;
	if (m->popo != NULL) {
		*why = "krr: proof of possession must be absent (the key is "
		       "the CA's to return)";
		goto out;
	}
	rc = -1;
	if (!ca_serial_hex(t->serialNumber, serial, sizeof(serial)))
		goto out;
	rc = db_cert_get_by_serial(r->srv->db, r->ca->id, serial, row);
	if (rc < 0) {
		r->db_unavail = 1;
		goto out;
	}
	*fail = CMP_FAIL_NOT_AUTHORIZED;
	*why = KRR_NOT_YOURS;
	if (rc == 0 || !row->server_keygen || !krr_allowed(r, row)) {
		rc = 0;
		goto out;
	}
	rc = -1;
	p = row->der;
	if ((*x = d2i_X509(NULL, &p, (long)row->der_len)) == NULL)
		goto out;
	rc = 1;
out:
	sk_CRMF_CERTREQMSG_pop_free(msgs, CRMF_CERTREQMSG_free);
	return rc;
}

/*
 * Inside the open database transaction: reads the archived key (audited
 * by the database), opens it in the HSM, checks it against x and
 * packages it for r's requester. Returns the CertifiedKeyPair, or NULL:
 * *none set when the key is not archived, else internal (logged).
 */
static CMP_CERTIFIEDKEYPAIR *
krr_keypair(struct req *r, const struct db_cert *row, X509 *x, int *none)
{
	CMP_CERTIFIEDKEYPAIR *kp = NULL;
	unsigned char *w = NULL;
	size_t wlen = 0;
	EVP_PKEY *key = NULL;
	char aad[KGA_AAD_MAX];
	int rc;

	*none = 0;
	rc = db_keyarch_fetch(r->srv->db, row->id, r->sender, &w, &wlen);
	if (rc < 0) {
		r->db_unavail = 1;
		goto out;
	}
	if (rc == 0) {
		*none = 1;
		goto out;
	}
	if (!kga_archive_aad(r->ca->label, X509_get0_pubkey(x), aad,
		sizeof(aad)))
		goto out;
	if (hsm_archive_unwrap(r->srv->hsm, r->ca->label, aad, w, wlen,
		&key) != 1) {
		log_err("req %lu: cannot open the archived key of %s: %s", r->id,
		    row->serial, hsm_error());
		goto out;
	}
	if (EVP_PKEY_eq(key, X509_get0_pubkey(x)) != 1) {
		log_err("req %lu: the archived key of %s does not match its "
		    "certificate", r->id, row->serial);
		goto out;
	}
	if ((kp = CMP_CERTIFIEDKEYPAIR_new()) == NULL)
		goto err;
	kp->certOrEncCert->type = 0;
	if (!X509_up_ref(x))
		goto err;
	kp->certOrEncCert->value.certificate = x;
	kp->privateKey = kga_package(key, r->ca,
	    r->have_mac ? r->secret.secret : NULL,
	    r->have_mac ? r->secret.secret_len : 0,
	    r->have_mac ? NULL : r->prot_cert);
	if (kp->privateKey == NULL) {
		log_err("req %lu: cannot package the recovered key for the "
		    "requester", r->id);
		goto err;
	}
	goto out;
err:
	CMP_CERTIFIEDKEYPAIR_free(kp);
	kp = NULL;
out:
	EVP_PKEY_free(key);
	free(w);
	return kp;
}

/* The krp body around kp (owned; NULL: a rejection). NULL on error. */
static CMP_BODY *
krp_body(CMP_CERTIFIEDKEYPAIR *kp, int fail, const char *why)
{
	CMP_KRP *krp = NULL;
	CMP_BODY *body = NULL;
	ASN1_STRING *seq = NULL;
	unsigned char *der = NULL;
	int len;

	if ((krp = CMP_KRP_new()) == NULL)
		goto err;
	CMP_PKISI_free(krp->status);
	if ((krp->status = cmp_pkisi_new(kp != NULL ? CMP_STATUS_ACCEPTED
						: CMP_STATUS_REJECTION,
		 kp != NULL ? CMP_FAIL_NONE : fail, kp != NULL ? NULL : why)) ==
	    NULL)
		goto err;
	if (kp != NULL) {
		if ((krp->keyPairHist = sk_CMP_CERTIFIEDKEYPAIR_new_null()) ==
			NULL ||
		    !sk_CMP_CERTIFIEDKEYPAIR_push(krp->keyPairHist, kp))
			goto err;
		kp = NULL; /* in krp */
	}
	if ((len = i2d_CMP_KRP(krp, &der)) <= 0 ||
	    (body = CMP_BODY_new()) == NULL ||
	    (body->value.other = ASN1_TYPE_new()) == NULL ||
	    (seq = ASN1_STRING_new()) == NULL)
		goto err;
	body->type = CMP_BODY_KRP;
	ASN1_STRING_set0(seq, der, len);
	der = NULL;
	ASN1_TYPE_set(body->value.other, V_ASN1_SEQUENCE, seq);
	seq = NULL;
	CMP_KRP_free(krp);
	return body;
err:
	CMP_CERTIFIEDKEYPAIR_free(kp);
	CMP_KRP_free(krp);
	CMP_BODY_free(body);
	ASN1_STRING_free(seq);
	/* The key's package is wiped by its free; the DER holds it too. */
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)len);
	return NULL;
}

/* krr: see the file comment. */
CMP_MSG *
cmp_krr_handle(struct req *r)
{
	struct db *db = r->srv->db;
	struct db_cert row;
	CMP_CERTIFIEDKEYPAIR *kp = NULL;
	CMP_BODY *body = NULL;
	X509 *x = NULL;
	const char *why = NULL;
	int rc, ok, fail = CMP_FAIL_NONE, none = 0, began = 0;
	CMP_MSG *out = NULL;

	memset(&row, 0, sizeof(row));
	if (r->ca->upstream) {
		out = cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "an upstream identity recovers no keys (they are the "
		    "upstream CA's)");
		goto done;
	}
	if ((ok = krr_check(r, &row, &x, &fail, &why)) < 0)
		goto internal;
	if (db_begin(db) != 1) {
		r->db_unavail = 1;
		goto internal;
	}
	began = 1;
	if ((rc = cmp_txn_record(r, DB_TXN_DONE)) <= 0) {
		db_rollback(db);
		began = 0;
		goto done; /* replay, transactionID in use: r is set */
	}
	if (ok == 1 && (kp = krr_keypair(r, &row, x, &none)) == NULL &&
	    !none)
		goto internal;
	if (kp == NULL && ok == 1) {
		fail = CMP_FAIL_NOT_AUTHORIZED;
		why = KRR_NOT_YOURS;
	}
	if (kp == NULL) {
		r->fail = fail;
		r->why = why;
		r->outcome = "rejected";
	}
	if ((body = krp_body(kp, fail, why)) == NULL) {
		kp = NULL; /* freed by krp_body */
		goto internal;
	}
	kp = NULL;
	if (db_commit(db) != 1) {
		r->db_unavail = 1;
		began = 0;
		goto internal;
	}
	began = 0;
	out = cmp_resp_new(r, body);
	body = NULL;
	goto done;
internal:
	if (began)
		db_rollback(db);
	out = r->db_unavail ? cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
				  db_error(db))
			    : cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
				  "key recovery failed");
done:
	CMP_BODY_free(body);
	CMP_CERTIFIEDKEYPAIR_free(kp);
	X509_free(x);
	db_cert_clear(&row);
	return out;
}
