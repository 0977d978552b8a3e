/*
 * cmp_sig.c - signature-based protection (RFC 9810 §5.1.3.3, RFC 9483
 * §3.2): verifying a request signed by an end entity's or an RA's
 * certificate, and signing our responses with the CA key in the HSM.
 *
 * A protecting certificate is accepted when it is the first of extraCerts
 * (RFC 9483 §3.3), names the header sender, matches senderKID, verifies
 * the signature over ProtectedPart, chains to a trust anchor (our CAs and
 * the configured external anchors), is within validity, allows
 * digitalSignature, and, when one of our CAs issued it, is valid in our
 * inventory (not revoked, rejected or unconfirmed).
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/cmp_srv.h"

/* Seconds between rebuilds of the trust store. */
#define TRUST_REFRESH 30

/* Adds the external trust anchors of the configuration. Returns 1 or 0. */
static int
anchors_add_file(X509_STORE *st, const char *path)
{
	STACK_OF(X509_INFO) *infos = NULL;
	BIO *b = BIO_new_file(path, "r");
	int i, ok = 0;

	if (b == NULL) {
		log_err("trust_anchors %s: cannot open", path);
		return 0;
	}
	if ((infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL)) == NULL)
		goto out;
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (xi->x509 != NULL && !X509_STORE_add_cert(st, xi->x509))
			goto out;
	}
	ok = 1;
out:
	if (!ok)
		log_err("trust_anchors %s: cannot load certificates", path);
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(b);
	return ok;
}

/*
 * The trust store of this process: every active CA of the database plus
 * the external anchors. Built on first use; checked again every
 * TRUST_REFRESH seconds and rebuilt when the number of CAs changed.
 * Returns the store or NULL.
 */
static X509_STORE *
trust_store(struct req *r)
{
	struct cmp_srv *s = r->srv;
	struct db_ca *cas = NULL;
	size_t n = 0, i;
	X509_STORE *st = NULL;

	/* Rebuilt at most every TRUST_REFRESH seconds: new CAs and anchors
	 * become trusted within that delay, without a query per request. */
	if (s->trust != NULL && time(NULL) - s->trust_built < TRUST_REFRESH)
		return s->trust;
	if (db_ca_list(s->db, &cas, &n) < 0) {
		log_err("ca list failed: %s", db_error(s->db));
		return NULL;
	}
	s->trust_built = time(NULL);
	if (s->trust != NULL && s->trust_ncas == n)
		goto out;
	if ((st = X509_STORE_new()) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		const unsigned char *p = cas[i].cert;
		X509 *x;

		if (strcmp(cas[i].status, "active") != 0)
			continue; /* retired CAs anchor nothing */
		x = d2i_X509(NULL, &p, (long)cas[i].cert_len);

		if (x == NULL || !X509_STORE_add_cert(st, x)) {
			X509_free(x);
			goto fail;
		}
		X509_free(x);
	}
	if (s->cfg->trust_anchors != NULL &&
	    !anchors_add_file(st, s->cfg->trust_anchors))
		goto fail;
	X509_STORE_free(s->trust);
	s->trust = st;
	s->trust_ncas = n;
	goto out;
fail:
	X509_STORE_free(st);
out:
	db_ca_array_free(cas, n);
	return s->trust;
}

/* Returns the CA of ours that issued x (by issuer name and signature), or
 * NULL. */
static struct ca_ident *
our_issuer(struct req *r, X509 *x, int *err)
{
	struct ca_ident *ca;

	ca = ca_store_by_name(&r->srv->store, r->srv->db, r->srv->hsm,
	    X509_get_issuer_name(x), err);
	if (ca == NULL)
		return NULL;
	if (X509_check_issued(ca->cert, x) != X509_V_OK)
		return NULL;
	return ca;
}

/* Is x the pinned certificate of a registered RA? 1, 0, -1. */
static int
ra_lookup(struct req *r, X509 *x)
{
	unsigned char md[32];
	unsigned int len = 0;
	int rc;

	if (!X509_digest(x, EVP_sha256(), md, &len) || len != sizeof(md))
		return -1;
	rc = db_ra_get_by_hash(r->srv->db, md, &r->ra);
	if (rc < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
		return -1;
	}
	if (rc == 1) {
		r->is_ra = 1;
		snprintf(r->sender, sizeof(r->sender), "ra:%s", r->ra.name);
	}
	return rc;
}

/*
 * Is x the pinned certificate of a registered partner CA? A partner's
 * certificate is trusted by the pin alone (it need not chain to any of
 * our anchors). Returns 1 (accepted: r is authenticated as the partner),
 * 0 not a partner, -1 (internal, or the pinned certificate expired: r
 * set).
 */
static int
partner_lookup(struct req *r, X509 *x)
{
	unsigned char md[32];
	unsigned int len = 0;
	int rc;

	if (!X509_digest(x, EVP_sha256(), md, &len) || len != sizeof(md)) {
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "certificate digest");
		return -1;
	}
	rc = db_partner_get_by_hash(r->srv->db, md, &r->partner);
	if (rc < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
		return -1;
	}
	if (rc == 0)
		return 0;
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0 ||
	    X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		cmp_reject(r, CMP_FAIL_SIGNER_NOT_TRUSTED,
		    "the partner CA certificate is not valid now");
		return -1;
	}
	if (!X509_up_ref(x)) {
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "no memory");
		return -1;
	}
	r->prot_cert = x;
	r->is_partner = 1;
	r->have_sig = 1;
	snprintf(r->sender, sizeof(r->sender), "partner:%s", r->partner.name);
	return 1;
}

/* See cmp_srv.h. */
int
cmp_sig_verify(struct req *r)
{
	const CMP_HEADER *h = r->msg->header;
	CMP_PROTECTEDPART pp;
	X509_STORE *st;
	X509_STORE_CTX *vctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	struct ca_ident *issuer;
	const ASN1_OCTET_STRING *ski;
	X509 *x;
	EVP_PKEY *pk;
	char name[DB_SENDER_MAX - 8];
	int i, rc = -1, err = 0, verr;

	if (sk_X509_num(r->msg->extraCerts) < 1) {
		cmp_reject(r, CMP_FAIL_SIGNER_NOT_TRUSTED,
		    "signature protection needs the protection certificate "
		    "first in extraCerts (RFC 9483 §3.3)");
		return 0;
	}
	x = sk_X509_value(r->msg->extraCerts, 0);
	if (h->sender->type != GEN_DIRNAME ||
	    X509_NAME_cmp(h->sender->d.directoryName,
		X509_get_subject_name(x)) != 0) {
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "sender does not name the protection certificate's "
		    "subject (RFC 9483 §3.1)");
		return 0;
	}
	ski = X509_get0_subject_key_id(x);
	if (h->senderKID != NULL && ski != NULL &&
	    ASN1_OCTET_STRING_cmp(h->senderKID, ski) != 0) {
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "senderKID does not match the protection certificate "
		    "(RFC 9483 §3.1)");
		return 0;
	}
	if ((pk = X509_get0_pubkey(x)) == NULL) {
		cmp_reject(r, CMP_FAIL_BAD_ALG,
		    "protection certificate key cannot be used");
		return 0;
	}
	pp.header = r->msg->header;
	pp.body = r->msg->body;
	ERR_set_mark();
	if (ASN1_item_verify(ASN1_ITEM_rptr(CMP_PROTECTEDPART),
		h->protectionAlg, r->msg->protection, &pp, pk) != 1) {
		ERR_pop_to_mark();
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "signature protection does not verify");
		return 0;
	}
	ERR_pop_to_mark();
	/* A cross-certification request comes from a registered partner
	 * CA, protected with the key of its pinned certificate. */
	if (r->msg->body->type == CMP_BODY_CCR) {
		rc = partner_lookup(r, x);
		if (rc == 0)
			cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
			    "ccr must be protected by a registered partner CA "
			    "(RFC 9810 §5.3.11)");
		return rc < 0 ? 0 : rc;
	}
	if ((st = trust_store(r)) == NULL) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, "no trust store");
		return -1;
	}
	if ((untrusted = sk_X509_new_null()) == NULL ||
	    (vctx = X509_STORE_CTX_new()) == NULL)
		goto out;
	for (i = 1; i < sk_X509_num(r->msg->extraCerts); i++)
		if (!sk_X509_push(untrusted,
			sk_X509_value(r->msg->extraCerts, i)))
			goto out;
	if (!X509_STORE_CTX_init(vctx, st, x, untrusted))
		goto out;
	ERR_set_mark();
	if (X509_verify_cert(vctx) != 1) {
		verr = X509_STORE_CTX_get_error(vctx);
		ERR_pop_to_mark();
		/* A partner continuing its ccr transaction (certConf). */
		if ((rc = partner_lookup(r, x)) != 0) {
			rc = rc < 0 ? 0 : rc;
			goto out;
		}
		rc = -1;
		log_info("req %lu: protection certificate rejected: %s", r->id,
		    X509_verify_cert_error_string(verr));
		cmp_reject(r, CMP_FAIL_SIGNER_NOT_TRUSTED,
		    verr == X509_V_ERR_CERT_HAS_EXPIRED
			? "protection certificate has expired"
			: verr == X509_V_ERR_CERT_NOT_YET_VALID
			? "protection certificate is not yet valid"
			: "protection certificate does not chain to a trust "
			  "anchor of this CA");
		rc = 0;
		goto out;
	}
	ERR_pop_to_mark();
	if ((X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE) == 0) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "protection certificate does not allow digitalSignature");
		rc = 0;
		goto out;
	}
	/* Authenticated from here on: answers, errors included, are signed. */
	if (!X509_up_ref(x))
		goto out;
	r->prot_cert = x;
	X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
	snprintf(r->sender, sizeof(r->sender), "cert:%s", name);
	r->have_sig = 1;
	if (ra_lookup(r, x) < 0)
		goto out;
	/* Issued by one of ours: the inventory has the last word. */
	issuer = our_issuer(r, x, &err);
	if (err) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, "ca lookup failed");
		goto out;
	}
	if (issuer != NULL) {
		char serial[DB_SERIAL_MAX];

		if (!ca_serial_hex(X509_get0_serialNumber(x), serial,
			sizeof(serial)))
			goto out;
		i = db_cert_get_by_serial(r->srv->db, issuer->id, serial,
		    &r->prot_row);
		if (i < 0) {
			cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    db_error(r->srv->db));
			goto out;
		}
		if (i == 0 || r->prot_row.status != DB_CERT_VALID) {
			cmp_reject(r, i == 0 ? CMP_FAIL_SIGNER_NOT_TRUSTED
					     : CMP_FAIL_CERT_REVOKED,
			    i == 0 ? "protection certificate is not in our "
				     "inventory"
				   : "protection certificate is revoked or "
				     "was never confirmed");
			rc = 0;
			goto out;
		}
		r->prot_issuer = issuer;
	}
	rc = 1;
out:
	if (rc < 0 && r->fail == CMP_FAIL_NONE)
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
		    "signature verification failed");
	X509_STORE_CTX_free(vctx);
	sk_X509_free(untrusted);
	return rc;
}

/* See cmp_srv.h. */
int
cmp_sig_alg_set(CMP_HEADER *h, const struct ca_ident *ca)
{
	int nid;

	if (!OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(ca->md),
		EVP_PKEY_get_base_id(ca->key)))
		return 0;
	X509_ALGOR_free(h->protectionAlg);
	if ((h->protectionAlg = X509_ALGOR_new()) == NULL)
		return 0;
	/* RSA PKCS#1 v1.5 carries a NULL parameter, ECDSA none. */
	return X509_ALGOR_set0(h->protectionAlg, OBJ_nid2obj(nid),
	    EVP_PKEY_get_base_id(ca->key) == EVP_PKEY_RSA ? V_ASN1_NULL
							  : V_ASN1_UNDEF,
	    NULL);
}

/* See cmp_srv.h. */
int
cmp_sig_protect(CMP_MSG *m, const struct ca_ident *ca)
{
	CMP_PROTECTEDPART pp;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	unsigned char *der = NULL, *sig = NULL;
	size_t siglen = 0;
	long long t0;
	int len, ok = 0;

	if (mctx == NULL)
		return 0;
	pp.header = m->header;
	pp.body = m->body;
	if ((len = i2d_CMP_PROTECTEDPART(&pp, &der)) <= 0)
		goto out;
	t0 = metrics_now_us();
	if (EVP_DigestSignInit(mctx, NULL, ca->md, NULL, ca->key) != 1 ||
	    EVP_DigestSign(mctx, NULL, &siglen, der, (size_t)len) != 1 ||
	    (sig = OPENSSL_malloc(siglen)) == NULL ||
	    EVP_DigestSign(mctx, sig, &siglen, der, (size_t)len) != 1)
		goto out;
	metrics_hsm(metrics_now_us() - t0);
	ASN1_BIT_STRING_free(m->protection);
	if ((m->protection = ASN1_BIT_STRING_new()) == NULL)
		goto out;
	ASN1_STRING_set0(m->protection, sig, (int)siglen);
	sig = NULL;
	m->protection->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	m->protection->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	/* The encoding follows from der (cmp_msg_encode_protected). */
	(void)cmp_msg_keep_encoding(m, der, (size_t)len);
	ok = 1;
out:
	OPENSSL_free(sig);
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	return ok;
}
