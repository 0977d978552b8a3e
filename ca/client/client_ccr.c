/*
 * client_ccr.c - cross-certification as the requester (RFC 9810
 * §5.3.11): the ccr for one of our CAs, the check of the cross
 * certificate the peer answers with, and its confirmation. The exchange
 * and every check of the answer's envelope are cmp_client.c's.
 */
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"
#include "ca/client/client_int.h"

/* The ccr body: our CA's subject and key, POP by signature over the
 * CertRequest (RFC 4211 §4.1, poposkInput absent). */
static CMP_BODY *
ccr_body(struct cmp_client *cl, int days)
{
	CMP_BODY *b = CMP_BODY_new();
	CRMF_CERTREQMSG *m = CRMF_CERTREQMSG_new();
	CRMF_CERTTEMPLATE *t;
	CRMF_POPOSIGNINGKEY *sk;
	EVP_MD_CTX *mctx = NULL;
	unsigned char *der = NULL, *sig = NULL;
	size_t siglen = 0;
	int len, nid;

	if (b == NULL || m == NULL)
		goto fail;
	t = m->certReq->certTemplate;
	if (!ASN1_INTEGER_set(m->certReq->certReqId, 0) ||
	    (t->subject = X509_NAME_dup(X509_get_subject_name(cl->ca->cert))) ==
		NULL ||
	    !cmp_spki_set(&t->publicKey, X509_get0_pubkey(cl->ca->cert)))
		goto fail;
	if (days > 0) {
		time_t end = time(NULL) + (time_t)days * 86400;

		if ((t->validity = CRMF_OPTVALIDITY_new()) == NULL ||
		    (t->validity->notAfter = ASN1_TIME_set(NULL, end)) == NULL)
			goto fail;
	}
	if ((len = i2d_CRMF_CERTREQUEST(m->certReq, &der)) <= 0 ||
	    (mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, NULL, cl->ca->md, NULL, cl->ca->key) != 1 ||
	    EVP_DigestSign(mctx, NULL, &siglen, der, (size_t)len) != 1 ||
	    (sig = OPENSSL_malloc(siglen)) == NULL ||
	    EVP_DigestSign(mctx, sig, &siglen, der, (size_t)len) != 1)
		goto fail;
	if ((m->popo = CRMF_POPO_new()) == NULL ||
	    (sk = CRMF_POPOSIGNINGKEY_new()) == NULL)
		goto fail;
	m->popo->type = CRMF_POPO_SIGNATURE;
	m->popo->value.signature = sk;
	if (!OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(cl->ca->md),
		EVP_PKEY_get_base_id(cl->ca->key)) ||
	    !X509_ALGOR_set0(sk->algorithmIdentifier, OBJ_nid2obj(nid),
		EVP_PKEY_get_base_id(cl->ca->key) == EVP_PKEY_RSA ? V_ASN1_NULL
								  : V_ASN1_UNDEF,
		NULL))
		goto fail;
	ASN1_STRING_set0(sk->signature, sig, (int)siglen);
	sig = NULL;
	sk->signature->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	sk->signature->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	b->type = CMP_BODY_CCR;
	if ((b->value.ccr = sk_CRMF_CERTREQMSG_new_null()) == NULL ||
	    !sk_CRMF_CERTREQMSG_push(b->value.ccr, m))
		goto fail;
	m = NULL;
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	return b;
fail:
	OPENSSL_free(sig);
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	CRMF_CERTREQMSG_free(m);
	CMP_BODY_free(b);
	return NULL;
}

/* The cross certificate of a ccp, checked: issued by the peer for our
 * name and key. Returns it (up-ref'ed), or NULL with cl->err set. */
static X509 *
ccp_cert(struct cmp_client *cl, const CMP_MSG *a)
{
	const CMP_CERTREPMESSAGE *rep = a->body->value.ccp;
	const CMP_CERTRESPONSE *r;
	X509 *x;
	long st;

	if (sk_CMP_CERTRESPONSE_num(rep->response) != 1) {
		client_fail(cl, "ccp must carry exactly one response");
		return NULL;
	}
	r = sk_CMP_CERTRESPONSE_value(rep->response, 0);
	st = ASN1_INTEGER_get(r->status->status);
	if (st != CMP_STATUS_ACCEPTED && st != CMP_STATUS_GRANTED_WITH_MODS) {
		/* The answer's signature is checked: its text may show. */
		client_fail_pkisi(cl, "cross-certification refused",
		    r->status, 1);
		return NULL;
	}
	if (ASN1_INTEGER_get(r->certReqId) != 0 || r->certifiedKeyPair == NULL ||
	    r->certifiedKeyPair->certOrEncCert->type != 0) {
		client_fail(cl, "ccp carries no plain certificate for "
		    "request 0");
		return NULL;
	}
	x = r->certifiedKeyPair->certOrEncCert->value.certificate;
	if (X509_NAME_cmp(X509_get_issuer_name(x),
		X509_get_subject_name(cl->peer)) != 0 ||
	    X509_NAME_cmp(X509_get_subject_name(x),
		X509_get_subject_name(cl->ca->cert)) != 0 ||
	    EVP_PKEY_eq(X509_get0_pubkey(x), cl->ca->key) != 1 ||
	    X509_verify(x, X509_get0_pubkey(cl->peer)) != 1 ||
	    X509_check_ca(x) < 1) {
		ERR_clear_error();
		client_fail(cl, "the certificate received is not a CA "
		    "certificate for our name and key signed by the partner");
		return NULL;
	}
	return X509_up_ref(x) ? x : NULL;
}

/* See client.h. */
int
cmp_client_ccr(struct cmp_client *cl, int days, X509 **cross)
{
	CMP_BODY *b;
	CMP_MSG *a = NULL;
	X509 *x = NULL;
	int ok = 0;

	*cross = NULL;
	if ((b = ccr_body(cl, days)) == NULL) {
		log_openssl_errors(1);
		return client_fail(cl, "cannot build the ccr");
	}
	if (!cmp_client_exchange(cl, b, CMP_BODY_CCP, &a) ||
	    (x = ccp_cert(cl, a)) == NULL || !cmp_client_confirm(cl, x))
		goto out;
	*cross = x; /* the caller's now */
	x = NULL;
	ok = 1;
out:
	CMP_MSG_free(a);
	X509_free(x);
	return ok;
}
