/*
 * cmp_certconf.c - the end of a certificate transaction (RFC 9810
 * §5.3.18, §5.3.21): certConf accepts or rejects each certificate issued
 * in it (checked by certHash), an error from the client rejects them all.
 * Either ends in one database statement (cmpca_finish): confirmed
 * certificates become valid, a confirmed kur revokes what it replaced
 * where the profile says so, the others are rejected; answered with
 * pkiConf.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"

/*
 * The digest the certificate was signed with, read from the outer
 * signatureAlgorithm of the stored DER (only the two headers are
 * decoded): a `ca rollover` between issuance and certConf may have given
 * the CA a key of another type (P-256 -> P-384), so the CA's current
 * digest is not necessarily the certificate's. Falls back to the CA's.
 */
static const EVP_MD *
cert_sig_md(const struct req *r, const struct db_cert *row)
{
	const unsigned char *p = row->der, *end = row->der + row->der_len;
	X509_ALGOR *alg = NULL;
	long len;
	int tag, cls, md_nid = NID_undef;

	/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, */
	if (!(ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80) &&
	    tag == V_ASN1_SEQUENCE &&
	    !(ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80) &&
	    len <= end - p) {
		p += len;
		alg = d2i_X509_ALGOR(NULL, &p, end - p);
	}
	if (alg == NULL ||
	    !OBJ_find_sigid_algs(OBJ_obj2nid(alg->algorithm), &md_nid, NULL))
		md_nid = EVP_MD_get_type(r->ca->md);
	X509_ALGOR_free(alg);
	return ca_md_fetch(md_nid);
}

/*
 * certHash check (RFC 9810 §5.3.18): the digest named by hashAlg (v3), or
 * else the one the CA signed the certificate with. Hashes the stored DER
 * directly, without decoding the certificate again.
 */
static int
cert_hash_matches(const struct req *r, const CMP_CERTSTATUS *cs,
    const struct db_cert *row)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	const EVP_MD *h;

	h = cs->hashAlg != NULL
	    ? ca_md_fetch(OBJ_obj2nid(cs->hashAlg->algorithm))
	    : cert_sig_md(r, row);
	if (h == NULL || !EVP_Digest(row->der, row->der_len, md, &len, h, NULL))
		return 0;
	return (int)len == cs->certHash->length &&
	    CRYPTO_memcmp(md, cs->certHash->data, len) == 0;
}

static CMP_MSG *
pkiconf_new(struct req *r)
{
	CMP_BODY *b = CMP_BODY_new();

	if (b == NULL)
		return NULL;
	b->type = CMP_BODY_PKICONF;
	if ((b->value.pkiconf = ASN1_NULL_new()) == NULL) {
		CMP_BODY_free(b);
		return NULL;
	}
	return cmp_resp_new(r, b);
}

/*
 * Ends a transaction in one database statement: each unconfirmed
 * certificate becomes valid (accept[i]) or rejected, a confirmed kur
 * revokes what it replaced, the transaction moves to state to with our
 * new nonce, and the client's nonce is claimed. Returns NULL on success.
 */
static CMP_MSG *
txn_finish(struct req *r, const struct db_cert *certs, const int *accept,
    size_t n, enum db_txn_state to)
{
	struct db_finish f;
	enum db_refusal why;
	size_t i;
	int rc;

	cmp_finish_init(r, &f, DB_TXN_WAIT_CONF, to);
	/* What a certificate the client rejects is revoked with. */
	f.reason = CRL_REASON_CESSATION_OF_OPERATION;
	for (i = 0; i < n && i < DB_FINISH_MAX; i++) {
		if (certs[i].status != DB_CERT_UNCONFIRMED)
			continue;
		if (accept[i]) {
			f.accept[f.naccept++] = certs[i].id;
			if (cmp_supersedes(r, &certs[i]))
				f.supersede[f.nsupersede++] = certs[i].replaces;
		} else
			f.reject[f.nreject++] = certs[i].id;
	}
	rc = db_txn_finish(r->srv->db, &f, &why);
	if (rc < 0)
		return cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
		    db_error(r->srv->db));
	if (rc == 0) {
		cmp_refuse(r, why);
		return NULL;
	}
	return NULL;
}

/* certConf: RFC 9810 §5.3.18. */
CMP_MSG *
cmp_certconf_handle(struct req *r)
{
	STACK_OF(CMP_CERTSTATUS) *sts = r->msg->body->value.certConf;
	struct db_txn t;
	struct db_cert *certs = NULL;
	int accept[CA_MAX_CERTREQS] = { 0 };
	CMP_MSG *out = NULL;
	size_t n = 0, k;
	int i;

	if (!cmp_txn_continue(r, &t, DB_TXN_WAIT_CONF, &certs, &n))
		goto done;
	if (n > CA_MAX_CERTREQS) {
		out = cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
		    "too many certificates in one transaction");
		goto done;
	}
	for (i = 0; i < sk_CMP_CERTSTATUS_num(sts); i++) {
		const CMP_CERTSTATUS *cs = sk_CMP_CERTSTATUS_value(sts, i);
		long rid = ASN1_INTEGER_get(cs->certReqId);

		for (k = 0; k < n; k++)
			if (certs[k].cert_req_id == rid)
				break;
		if (k == n) {
			out = cmp_reject(r, CMP_FAIL_BAD_CERT_ID,
			    "certConf names a certReqId we did not issue");
			goto done;
		}
		if (!cert_hash_matches(r, cs, &certs[k])) {
			out = cmp_reject(r, CMP_FAIL_BAD_CERT_ID,
			    "certHash does not match the issued certificate "
			    "(RFC 9810 §5.3.18)");
			goto done;
		}
		accept[k] = cs->statusInfo == NULL ||
		    ASN1_INTEGER_get(cs->statusInfo->status) ==
			CMP_STATUS_ACCEPTED ||
		    ASN1_INTEGER_get(cs->statusInfo->status) ==
			CMP_STATUS_GRANTED_WITH_MODS;
	}
	/* Certificates the client did not mention count as rejected. */
	out = txn_finish(r, certs, accept, n, DB_TXN_DONE);
	if (out == NULL && r->fail == CMP_FAIL_NONE) {
		for (k = 0; k < n; k++)
			if (!accept[k])
				r->outcome = "cert-rejected-by-client";
		out = pkiconf_new(r);
	}
done:
	db_cert_array_free(certs, n);
	return out;
}

/* error from the client (RFC 9810 §5.3.21): the transaction is aborted
 * and its unconfirmed certificates are rejected. Answered with pkiConf. */
CMP_MSG *
cmp_peer_error_handle(struct req *r)
{
	struct db_txn t;
	struct db_cert *certs = NULL;
	int accept[CA_MAX_CERTREQS] = { 0 };
	CMP_MSG *out = NULL;
	size_t n = 0;

	if (!cmp_txn_continue(r, &t, DB_TXN_WAIT_CONF, &certs, &n))
		goto done;
	if (n > CA_MAX_CERTREQS) {
		out = cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
		    "too many certificates in one transaction");
		goto done;
	}
	out = txn_finish(r, certs, accept, n, DB_TXN_ABORTED);
	if (out == NULL && r->fail == CMP_FAIL_NONE) {
		r->outcome = "aborted-by-client";
		out = pkiconf_new(r);
	}
done:
	db_cert_array_free(certs, n);
	return out;
}
