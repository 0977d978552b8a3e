/*
 * cmp_sign.c - signing a PKIMessage with one of our CA keys in the HSM
 * (RFC 9810 §5.1.3.3): the protectionAlg for the key, and the signature
 * over ProtectedPart. Used for the engine's responses (cmp_req.c) and for
 * the CLI's own requests to partner CAs; verifying a request's signature
 * is cmp_sig.c.
 */
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"

/* See cmp.h. */
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

/* See cmp.h. */
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
