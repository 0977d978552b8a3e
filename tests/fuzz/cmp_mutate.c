/*
 * cmp_mutate.c - the structure-aware mutator of PKIMessages, PKCS#10
 * requests and CertReqMsgs (see cmp_mutate.h): the request parts here,
 * the message level in cmp_mutate_msg.c. A mutation decodes with
 * ca/cmp_asn.c's model, changes one to three fields, repairs what a
 * verifier would check first where it can (a POP or CSR signature by one
 * of the mutator's keys), lets the target re-protect the message
 * (cmp_mutate_finish) and encodes it. The parts come from mut_parts.c.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca/issue/issue.h"
#include "tests/fuzz/cmp_mutate.h"
#include "tests/fuzz/mut_int.h"

#define POOL_MAX 16 /* certificates remembered from extraCerts */

int (*cmp_mutate_finish)(CMP_MSG *m);

/* Certificates seen in inputs: extraCerts, issuers and serials to use. */
static STACK_OF(X509) *pool;

/* See mut_int.h. */
void
mut_pool_learn(const STACK_OF(X509) *sk)
{
	X509 *x;

	if (pool == NULL && (pool = sk_X509_new_null()) == NULL)
		return;
	for (int i = 0; i < sk_X509_num(sk) && sk_X509_num(pool) < POOL_MAX;
	     i++) {
		x = sk_X509_value(sk, i);
		if (X509_up_ref(x) && !sk_X509_push(pool, x))
			X509_free(x);
	}
}

/* See cmp_mutate.h. */
void
cmp_mutate_pool_add(X509 *x)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	if (sk_X509_num(pool) >= POOL_MAX)
		X509_free(sk_X509_shift(pool)); /* room for it */
	if (sk != NULL && sk_X509_push(sk, x))
		mut_pool_learn(sk);
	sk_X509_free(sk);
}

/* See mut_int.h. */
X509 *
mut_pool_pick(void)
{
	if (sk_X509_num(pool) == 0)
		return NULL;
	return sk_X509_value(pool, (int)mut_rnd((unsigned)sk_X509_num(pool)));
}

/* See mut_int.h. */
int
mut_is_certreq(int type)
{
	return type == CMP_BODY_IR || type == CMP_BODY_CR ||
	    type == CMP_BODY_KUR || type == CMP_BODY_CCR;
}

/* The template's key becomes one of ours (and its POP is re-signed). */
static void
tmpl_key(CRMF_CERTTEMPLATE *t)
{
	EVP_PKEY *k = mut_key((int)mut_rnd(3));

	if (k != NULL)
		(void)cmp_spki_set(&t->publicKey, k);
}

/* See mut_int.h. */
void
mut_tmpl_mutate(CRMF_CERTTEMPLATE *t)
{
	X509 *x;

	switch (mut_rnd(14)) {
	case 0:
		(void)mut_int_set(&t->version);
		break;
	case 1:
		if ((x = mut_pool_pick()) != NULL && mut_rnd(2)) {
			ASN1_INTEGER_free(t->serialNumber);
			t->serialNumber =
			    ASN1_INTEGER_dup(X509_get0_serialNumber(x));
		} else {
			(void)mut_int_set(&t->serialNumber);
		}
		break;
	case 2:
		X509_ALGOR_free(t->signingAlg);
		t->signingAlg = mut_rnd(3) ? mut_alg() : NULL;
		break;
	case 3:
		X509_NAME_free(t->issuer);
		if ((x = mut_pool_pick()) != NULL && mut_rnd(2))
			t->issuer = X509_NAME_dup(X509_get_issuer_name(x));
		else
			t->issuer = mut_rnd(3) ? mut_name() : NULL;
		break;
	case 4:
		if (t->validity == NULL)
			t->validity = CRMF_OPTVALIDITY_new();
		if (t->validity != NULL) {
			ASN1_TIME **tm = mut_rnd(2) ? &t->validity->notBefore
						    : &t->validity->notAfter;
			static const long offs[] = {
				-86400L * 400, -60, 0, 3600, 86400L * 30,
				86400L * 365 * 40, 86400L * 365 * 90,
			};

			ASN1_TIME_free(*tm);
			*tm = mut_rnd(5) ? ASN1_TIME_adj(NULL, time(NULL),
			    0, offs[mut_rnd(sizeof(offs) / sizeof(offs[0]))])
					 : NULL;
		}
		break;
	case 5:
	case 6:
		if ((x = mut_pool_pick()) != NULL && mut_rnd(4) == 0) {
			X509_NAME_free(t->subject);
			t->subject = X509_NAME_dup(X509_get_subject_name(x));
		} else if (t->subject != NULL && mut_rnd(3)) {
			mut_name_change(t->subject);
		} else {
			X509_NAME_free(t->subject);
			t->subject = mut_rnd(5) ? mut_name() : NULL;
		}
		break;
	case 7:
		if (t->publicKey != NULL && mut_rnd(3) == 0) {
			mut_string_bytes(t->publicKey->public_key);
		} else if (t->publicKey != NULL && mut_rnd(3) == 0) {
			X509_ALGOR_free(t->publicKey->algor);
			t->publicKey->algor = mut_alg();
			if (t->publicKey->algor == NULL)
				t->publicKey->algor = X509_ALGOR_new();
		} else if (mut_rnd(6) == 0) {
			CMP_SPKI_free(t->publicKey);
			t->publicKey = NULL;
		} else {
			tmpl_key(t);
		}
		break;
	case 8:
		ASN1_BIT_STRING_free(t->issuerUID);
		t->issuerUID = ASN1_BIT_STRING_new();
		break;
	case 9:
		ASN1_BIT_STRING_free(t->subjectUID);
		t->subjectUID = mut_rnd(2) ? ASN1_BIT_STRING_new() : NULL;
		break;
	default:
		mut_exts(&t->extensions);
		break;
	}
}

/* An oldCertID control (id-regCtrl-oldCertID, RFC 4211 §6.5) naming x,
 * or NULL. */
static CRMF_ATTR *
oldcertid(X509 *x)
{
	CRMF_ATTR *a = CRMF_ATTR_new();
	GENERAL_NAME *g = GENERAL_NAME_new();
	X509_NAME *nm = X509_NAME_dup(X509_get_issuer_name(x));
	ASN1_STRING *seq = NULL;
	unsigned char *der = NULL, *p;
	int n1, n2;

	if (a == NULL || g == NULL || nm == NULL)
		goto fail;
	GENERAL_NAME_set0_value(g, GEN_DIRNAME, nm);
	nm = NULL;
	n1 = i2d_GENERAL_NAME(g, NULL);
	n2 = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), NULL);
	if (n1 <= 0 || n2 <= 0 || n1 + n2 >= 60000 ||
	    (der = OPENSSL_malloc((size_t)n1 + (size_t)n2 + 4)) == NULL)
		goto fail;
	p = der;
	*p++ = 0x30;
	*p++ = 0x82;
	*p++ = (unsigned char)((n1 + n2) >> 8);
	*p++ = (unsigned char)(n1 + n2);
	(void)i2d_GENERAL_NAME(g, &p);
	(void)i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &p);
	if ((seq = ASN1_STRING_new()) == NULL)
		goto fail;
	ASN1_STRING_set0(seq, der, n1 + n2 + 4);
	der = NULL;
	ASN1_OBJECT_free(a->type);
	ASN1_TYPE_free(a->value);
	a->type = OBJ_txt2obj("1.3.6.1.5.5.7.5.1.5", 1);
	if ((a->value = ASN1_TYPE_new()) == NULL || a->type == NULL)
		goto fail;
	ASN1_TYPE_set(a->value, V_ASN1_SEQUENCE, seq);
	GENERAL_NAME_free(g);
	return a;
fail:
	OPENSSL_free(der);
	ASN1_STRING_free(seq);
	X509_NAME_free(nm);
	GENERAL_NAME_free(g);
	CRMF_ATTR_free(a);
	return NULL;
}

/* controls: oldCertID of a pool certificate, or another control with
 * garbage; or regInfo. */
static void
controls_mutate(CRMF_CERTREQMSG *m)
{
	static const char *const ctl[] = {
		"1.3.6.1.5.5.7.5.1.5", "1.3.6.1.5.5.7.5.1.1",
		"1.3.6.1.5.5.7.5.1.4", "1.3.6.1.5.5.7.5.2.1",
	};
	STACK_OF(CRMF_ATTR) **sk = mut_rnd(3) ? &m->certReq->controls
					      : &m->regInfo;
	CRMF_ATTR *a = NULL;
	X509 *x;

	if (*sk != NULL && sk_CRMF_ATTR_num(*sk) > 0 && mut_rnd(3) == 0) {
		CRMF_ATTR_free(sk_CRMF_ATTR_pop(*sk));
		return;
	}
	if ((x = mut_pool_pick()) != NULL && mut_rnd(2))
		a = oldcertid(x);
	if (a == NULL) {
		if ((a = CRMF_ATTR_new()) == NULL)
			return;
		ASN1_OBJECT_free(a->type);
		ASN1_TYPE_free(a->value);
		a->type = OBJ_txt2obj(ctl[mut_rnd(sizeof(ctl) /
		    sizeof(ctl[0]))], 1);
		a->value = mut_any();
	}
	if (a->type == NULL || a->value == NULL ||
	    (*sk == NULL && (*sk = sk_CRMF_ATTR_new_null()) == NULL) ||
	    !sk_CRMF_ATTR_push(*sk, a))
		CRMF_ATTR_free(a);
}

static void
popo_mutate(CRMF_CERTREQMSG *m)
{
	CRMF_POPO *po;

	switch (mut_rnd(6)) {
	case 0:
		CRMF_POPO_free(m->popo);
		m->popo = NULL;
		return;
	case 1:
		if ((po = CRMF_POPO_new()) == NULL)
			return;
		po->type = CRMF_POPO_RAVERIFIED;
		po->value.raVerified = ASN1_NULL_new();
		break;
	case 2:
		if ((po = CRMF_POPO_new()) == NULL)
			return;
		po->type = mut_rnd(2) ? CRMF_POPO_KEYENC : CRMF_POPO_KEYAGREE;
		po->value.keyEncipherment = mut_any();
		break;
	case 3:
		if (m->popo != NULL && m->popo->type == CRMF_POPO_SIGNATURE) {
			mut_string_bytes(m->popo->value.signature->signature);
			return;
		}
		/* FALLTHROUGH */
	default:
		if ((po = CRMF_POPO_new()) == NULL)
			return;
		po->type = CRMF_POPO_SIGNATURE;
		if ((po->value.signature = CRMF_POPOSIGNINGKEY_new()) == NULL)
			break;
		X509_ALGOR_free(po->value.signature->algorithmIdentifier);
		po->value.signature->algorithmIdentifier = mut_alg();
		if (po->value.signature->algorithmIdentifier == NULL)
			po->value.signature->algorithmIdentifier =
			    X509_ALGOR_new();
		if (mut_rnd(4) == 0)
			po->value.signature->poposkInput =
			    CRMF_POPOSKINPUT_new();
		break;
	}
	CRMF_POPO_free(m->popo);
	m->popo = po;
}

/* A signature POP by one of our keys is signed again over the request as
 * it is now (RFC 4211 §4.1), so that template changes survive it; one
 * time in 16 it is left broken, unless always. */
void
mut_crm_fix(CRMF_CERTREQMSG *m, int always)
{
	CRMF_POPOSIGNINGKEY *sk;
	EVP_PKEY *pub, *k;
	X509_ALGOR *a1;

	if (m->popo == NULL || m->popo->type != CRMF_POPO_SIGNATURE ||
	    m->certReq->certTemplate->publicKey == NULL)
		return;
	sk = m->popo->value.signature;
	pub = cmp_spki_pkey(m->certReq->certTemplate->publicKey);
	k = mut_key_of(pub);
	EVP_PKEY_free(pub);
	if (k == NULL || sk->poposkInput != NULL ||
	    (!always && mut_rnd(16) == 0))
		return;
	if ((a1 = X509_ALGOR_new()) == NULL)
		return;
	if (ASN1_item_sign(ASN1_ITEM_rptr(CRMF_CERTREQUEST), a1, NULL,
		sk->signature, m->certReq, k, mut_md(k)) > 0) {
		X509_ALGOR_free(sk->algorithmIdentifier);
		sk->algorithmIdentifier = a1;
		a1 = NULL;
	}
	X509_ALGOR_free(a1);
}

/* See cmp_mutate.h: one mutation of a CertReqMsg. */
void
mut_crm_mutate(CRMF_CERTREQMSG *m)
{
	switch (mut_rnd(8)) {
	case 0:
		(void)mut_int_set(&m->certReq->certReqId);
		break;
	case 1:
		popo_mutate(m);
		break;
	case 2:
		controls_mutate(m);
		break;
	default:
		mut_tmpl_mutate(m->certReq->certTemplate);
		break;
	}
}

/* A new CertReqMsg: our key, a name, signature POP (fixed later). */
CRMF_CERTREQMSG *
mut_crm_new(void)
{
	CRMF_CERTREQMSG *m = CRMF_CERTREQMSG_new();

	if (m == NULL)
		return NULL;
	(void)ASN1_INTEGER_set(m->certReq->certReqId, 0);
	m->certReq->certTemplate->subject = mut_name();
	tmpl_key(m->certReq->certTemplate);
	if ((m->popo = CRMF_POPO_new()) != NULL) {
		m->popo->type = CRMF_POPO_SIGNATURE;
		m->popo->value.signature = CRMF_POPOSIGNINGKEY_new();
		if (m->popo->value.signature == NULL) {
			CRMF_POPO_free(m->popo);
			m->popo = NULL;
		}
	}
	return m;
}

/* A PKCS#10 request of our key for the first template, signed. */
X509_REQ *
mut_p10_from(CMP_MSG *msg)
{
	X509_REQ *r = X509_REQ_new();
	EVP_PKEY *k = mut_key((int)mut_rnd(3));
	const CRMF_CERTTEMPLATE *t = NULL;

	if (r == NULL || k == NULL)
		goto fail;
	if (mut_is_certreq(msg->body->type) &&
	    sk_CRMF_CERTREQMSG_num(msg->body->value.ir) > 0)
		t = sk_CRMF_CERTREQMSG_value(msg->body->value.ir, 0)
			->certReq->certTemplate;
	if (t != NULL && t->subject != NULL)
		(void)X509_REQ_set_subject_name(r, t->subject);
	if (t != NULL && t->extensions != NULL)
		(void)X509_REQ_add_extensions(r, t->extensions);
	if (!X509_REQ_set_pubkey(r, k) || X509_REQ_sign(r, k, mut_md(k)) <= 0)
		goto fail;
	return r;
fail:
	X509_REQ_free(r);
	return NULL;
}

/* See cmp_mutate.h: one mutation of a PKCS#10 request, re-signed. */
void
mut_p10_mutate(X509_REQ *r)
{
	STACK_OF(X509_EXTENSION) *exts;
	EVP_PKEY *k;
	X509_NAME *n;
	int loc;

	switch (mut_rnd(6)) {
	case 0:
	case 1:
		if ((n = X509_NAME_dup(X509_REQ_get_subject_name(r))) != NULL) {
			mut_name_change(n);
			(void)X509_REQ_set_subject_name(r, n);
			X509_NAME_free(n);
		}
		break;
	case 2:
	case 3:
		exts = X509_REQ_get_extensions(r);
		mut_exts(&exts);
		while ((loc = X509_REQ_get_attr_by_NID(r, NID_ext_req, -1)) >=
		    0)
			X509_ATTRIBUTE_free(X509_REQ_delete_attr(r, loc));
		if (exts != NULL)
			(void)X509_REQ_add_extensions(r, exts);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		break;
	case 4:
		(void)X509_REQ_add1_attr_by_NID(r, NID_pkcs9_challengePassword,
		    MBSTRING_UTF8, (const unsigned char *)"fuzz", -1);
		break;
	default:
		(void)X509_REQ_set_pubkey(r, mut_key((int)mut_rnd(3)));
		break;
	}
	if ((k = mut_key_of(X509_REQ_get0_pubkey(r))) != NULL &&
	    mut_rnd(16) != 0)
		(void)X509_REQ_sign(r, k, mut_md(k));
}

static const char *const itavs[] = {
	"1.3.6.1.5.5.7.4.17", "1.3.6.1.5.5.7.4.20", "1.3.6.1.5.5.7.4.19",
	"1.3.6.1.5.5.7.4.22", "1.3.6.1.5.5.7.4.2", "1.3.6.1.5.5.7.4.6",
	"1.3.6.1.5.5.7.4.13", "1.3.6.1.5.5.7.4.14", "1.3.6.1.5.5.7.4.21",
	"1.3.6.1.5.5.7.4.16", "1.3.6.1.5.5.7.4.18", "1.3.6.1.4.1.99999.4",
};

/* See mut_int.h. */
CMP_ITAV *
mut_itav_new(void)
{
	CMP_ITAV *v = CMP_ITAV_new();

	if (v == NULL)
		return NULL;
	ASN1_OBJECT_free(v->infoType);
	v->infoType = OBJ_txt2obj(itavs[mut_rnd(sizeof(itavs) /
	    sizeof(itavs[0]))], 1);
	v->infoValue = mut_rnd(2) ? mut_any() : NULL;
	if (v->infoType == NULL) {
		CMP_ITAV_free(v);
		return NULL;
	}
	return v;
}

/* Adds, removes or changes one element of a stack (of ITAV). */
void
mut_itavs_mutate(STACK_OF(CMP_ITAV) **sk)
{
	CMP_ITAV *v;

	if (*sk == NULL && (*sk = sk_CMP_ITAV_new_null()) == NULL)
		return;
	if (sk_CMP_ITAV_num(*sk) > 0 && mut_rnd(3) == 0) {
		CMP_ITAV_free(sk_CMP_ITAV_delete(*sk,
		    (int)mut_rnd((unsigned)sk_CMP_ITAV_num(*sk))));
		return;
	}
	if ((v = mut_itav_new()) != NULL && !sk_CMP_ITAV_push(*sk, v))
		CMP_ITAV_free(v);
}

/* Writes out into data when it fits; returns the new size or 0. */
size_t
mut_put(uint8_t *data, size_t max, const unsigned char *der, int len)
{
	if (len <= 0 || (size_t)len > max)
		return 0;
	memcpy(data, der, (size_t)len);
	return (size_t)len;
}

/* See cmp_mutate.h. */
size_t
cmp_mutate_p10(uint8_t *data, size_t size, size_t max, unsigned int seed)
{
	const unsigned char *p = data;
	unsigned char *der = NULL;
	X509_REQ *r;
	size_t out;
	int len;

	mut_seed(seed);
	if (mut_rnd(8) == 0 || (r = d2i_X509_REQ(NULL, &p, (long)size)) ==
	    NULL)
		return LLVMFuzzerMutate(data, size, max);
	for (unsigned k = 1 + mut_rnd(2); k > 0; k--)
		mut_p10_mutate(r);
	len = i2d_X509_REQ(r, &der);
	out = mut_put(data, max, der, len);
	OPENSSL_free(der);
	X509_REQ_free(r);
	return out > 0 ? out : LLVMFuzzerMutate(data, size, max);
}

/* See cmp_mutate.h. */
size_t
cmp_mutate_certreqmsg(uint8_t *data, size_t size, size_t max,
    unsigned int seed)
{
	const unsigned char *p = data;
	unsigned char *der = NULL;
	CRMF_CERTREQMSG *m;
	size_t out;
	int len;

	mut_seed(seed);
	if (mut_rnd(8) == 0 ||
	    (m = d2i_CRMF_CERTREQMSG(NULL, &p, (long)size)) == NULL)
		return LLVMFuzzerMutate(data, size, max);
	for (unsigned k = 1 + mut_rnd(3); k > 0; k--)
		mut_crm_mutate(m);
	mut_crm_fix(m, 0);
	len = i2d_CRMF_CERTREQMSG(m, &der);
	out = mut_put(data, max, der, len);
	OPENSSL_free(der);
	CRMF_CERTREQMSG_free(m);
	return out > 0 ? out : LLVMFuzzerMutate(data, size, max);
}

/* See cmp_mutate.h. */
void
cmp_mutate_bind(CMP_MSG *m, X509 *x)
{
	CRMF_CERTREQMSG *crm;
	CMP_REVDETAILS *d;
	CRMF_ATTR *a;
	int i;

	if (m->body->type == CMP_BODY_RR &&
	    sk_CMP_REVDETAILS_num(m->body->value.rr) > 0) {
		d = sk_CMP_REVDETAILS_value(m->body->value.rr, 0);
		ASN1_INTEGER_free(d->certDetails->serialNumber);
		d->certDetails->serialNumber =
		    ASN1_INTEGER_dup(X509_get0_serialNumber(x));
		X509_NAME_free(d->certDetails->issuer);
		d->certDetails->issuer =
		    X509_NAME_dup(X509_get_issuer_name(x));
		return;
	}
	if (!mut_is_certreq(m->body->type))
		return;
	for (i = 0; i < sk_CRMF_CERTREQMSG_num(m->body->value.ir); i++) {
		crm = sk_CRMF_CERTREQMSG_value(m->body->value.ir, i);
		X509_NAME_free(crm->certReq->certTemplate->subject);
		crm->certReq->certTemplate->subject =
		    X509_NAME_dup(X509_get_subject_name(x));
		if (m->body->type == CMP_BODY_KUR) {
			sk_CRMF_ATTR_pop_free(crm->certReq->controls,
			    CRMF_ATTR_free);
			crm->certReq->controls = sk_CRMF_ATTR_new_null();
			if ((a = oldcertid(x)) != NULL &&
			    (crm->certReq->controls == NULL ||
				!sk_CRMF_ATTR_push(crm->certReq->controls, a)))
				CRMF_ATTR_free(a);
		}
		if (m->body->type == CMP_BODY_CCR)
			(void)cmp_spki_set(&crm->certReq->certTemplate->publicKey,
			    mut_key(0));
		/* A new key of the mutator's (the holder's is key 0), so
		 * that the POP is signed again and the update is one. */
		if (m->body->type == CMP_BODY_KUR)
			(void)cmp_spki_set(
			    &crm->certReq->certTemplate->publicKey, mut_key(1));
		mut_crm_fix(crm, 1);
	}
}
