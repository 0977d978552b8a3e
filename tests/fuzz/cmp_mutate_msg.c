/*
 * cmp_mutate_msg.c - the message level of the structure-aware mutator
 * (see cmp_mutate.h): header fields, body types and bodies, nested
 * wrapping, extraCerts, and cmp_mutate() itself. The request parts
 * (templates, POP, controls, PKCS#10, ITAVs) are in cmp_mutate.c, the
 * values in mut_parts.c.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca/issue/issue.h"
#include "tests/fuzz/cmp_mutate.h"
#include "tests/fuzz/mut_int.h"

/* Copies through DER (the model declares no _dup functions). */
#define DUP(type, x) ((type *)ASN1_item_dup(ASN1_ITEM_rptr(type), (x)))

/* A new body of a random type, built from what msg has where it can. */
static CMP_BODY *
body_new(CMP_MSG *msg)
{
	static const int types[] = {
		CMP_BODY_IR, CMP_BODY_P10CR, CMP_BODY_RR, CMP_BODY_PKICONF,
		CMP_BODY_GENM, CMP_BODY_ERROR, CMP_BODY_CERTCONF,
		CMP_BODY_POLLREQ, CMP_BODY_KRR, CMP_BODY_IP, CMP_BODY_RP,
		CMP_BODY_GENP, CMP_BODY_POLLREP, CMP_BODY_CANN,
	};
	CMP_BODY *b = CMP_BODY_new();
	X509 *x = mut_pool_pick();
	void *e = NULL;
	int ok = 0;

	if (b == NULL)
		return NULL;
	b->type = types[mut_rnd(sizeof(types) / sizeof(types[0]))];
	switch (b->type) {
	case CMP_BODY_IR:
		if ((b->value.ir = sk_CRMF_CERTREQMSG_new_null()) != NULL &&
		    (e = mut_crm_new()) != NULL)
			ok = sk_CRMF_CERTREQMSG_push(b->value.ir, e) > 0;
		break;
	case CMP_BODY_P10CR:
		ok = (b->value.p10cr = mut_p10_from(msg)) != NULL;
		break;
	case CMP_BODY_RR:
		if ((b->value.rr = sk_CMP_REVDETAILS_new_null()) != NULL &&
		    (e = CMP_REVDETAILS_new()) != NULL) {
			CRMF_CERTTEMPLATE *t = ((CMP_REVDETAILS *)e)->certDetails;

			if (x != NULL) {
				t->serialNumber = ASN1_INTEGER_dup(
				    X509_get0_serialNumber(x));
				t->issuer = X509_NAME_dup(
				    X509_get_issuer_name(x));
			}
			ok = sk_CMP_REVDETAILS_push(b->value.rr, e) > 0;
		}
		break;
	case CMP_BODY_PKICONF:
		ok = (b->value.pkiconf = ASN1_NULL_new()) != NULL;
		break;
	case CMP_BODY_GENM:
	case CMP_BODY_GENP:
		if ((b->value.genm = sk_CMP_ITAV_new_null()) != NULL &&
		    (e = mut_itav_new()) != NULL)
			ok = sk_CMP_ITAV_push(b->value.genm, e) > 0;
		break;
	case CMP_BODY_ERROR:
		ok = (b->value.error = CMP_ERRORMSG_new()) != NULL &&
		    mut_int_set(&b->value.error->pKIStatusInfo->status);
		break;
	case CMP_BODY_CERTCONF:
		if ((b->value.certConf = sk_CMP_CERTSTATUS_new_null()) !=
			NULL &&
		    (e = CMP_CERTSTATUS_new()) != NULL) {
			unsigned char md[32];
			unsigned int mdlen = 0;

			if (x != NULL && X509_digest(x, EVP_sha256(), md, &mdlen))
				(void)ASN1_OCTET_STRING_set(
				    ((CMP_CERTSTATUS *)e)->certHash, md,
				    (int)mdlen);
			ok = sk_CMP_CERTSTATUS_push(b->value.certConf, e) > 0;
		}
		break;
	case CMP_BODY_POLLREQ:
		if ((b->value.pollReq = sk_CMP_POLLREQ_new_null()) != NULL &&
		    (e = CMP_POLLREQ_new()) != NULL)
			ok = sk_CMP_POLLREQ_push(b->value.pollReq, e) > 0;
		break;
	case CMP_BODY_IP:
		ok = (b->value.ip = CMP_CERTREPMESSAGE_new()) != NULL;
		break;
	case CMP_BODY_RP:
		ok = (b->value.rp = CMP_REVREP_new()) != NULL;
		break;
	case CMP_BODY_POLLREP:
		ok = (b->value.pollRep = sk_CMP_POLLREP_new_null()) != NULL;
		break;
	default:
		ok = (b->value.other = mut_any()) != NULL;
		break;
	}
	if (!ok) {
		/* e was not pushed: free it by type, then the body. */
		if (e != NULL) {
			if (b->type == CMP_BODY_IR)
				CRMF_CERTREQMSG_free(e);
			else if (b->type == CMP_BODY_RR)
				CMP_REVDETAILS_free(e);
			else if (b->type == CMP_BODY_GENM ||
			    b->type == CMP_BODY_GENP)
				CMP_ITAV_free(e);
			else if (b->type == CMP_BODY_CERTCONF)
				CMP_CERTSTATUS_free(e);
			else if (b->type == CMP_BODY_POLLREQ)
				CMP_POLLREQ_free(e);
		}
		CMP_BODY_free(b);
		return NULL;
	}
	return b;
}

/* nested (RFC 9810 §5.1.3.4): msg inside a new message, or the reverse. */
static CMP_MSG *
nest(CMP_MSG *msg)
{
	STACK_OF(CMP_MSG) *sk = NULL;
	CMP_MSG *outer = NULL, *inner;
	ASN1_STRING *seq = NULL;
	const unsigned char *p;
	unsigned char *der = NULL;
	int len;

	if (msg->body->type == CMP_BODY_NESTED &&
	    msg->body->value.other->type == V_ASN1_SEQUENCE) {
		/* Unwrap: the first inner message. */
		seq = msg->body->value.other->value.sequence;
		p = seq->data;
		sk = (STACK_OF(CMP_MSG) *)ASN1_item_d2i(NULL, &p, seq->length,
		    ASN1_ITEM_rptr(CMP_MSGS));
		if (sk_CMP_MSG_num(sk) > 0 && mut_rnd(2)) {
			inner = sk_CMP_MSG_shift(sk);
			sk_CMP_MSG_pop_free(sk, CMP_MSG_free);
			CMP_MSG_free(msg);
			return inner;
		}
		sk_CMP_MSG_pop_free(sk, CMP_MSG_free);
	}
	if ((sk = sk_CMP_MSG_new_null()) == NULL ||
	    (outer = CMP_MSG_new()) == NULL ||
	    !sk_CMP_MSG_push(sk, msg))
		goto fail;
	/* Sometimes two inner messages: the second a copy. */
	if (mut_rnd(4) == 0 && (inner = DUP(CMP_MSG, msg)) != NULL &&
	    !sk_CMP_MSG_push(sk, inner))
		CMP_MSG_free(inner);
	len = ASN1_item_i2d((ASN1_VALUE *)sk, &der, ASN1_ITEM_rptr(CMP_MSGS));
	(void)sk_CMP_MSG_shift(sk); /* msg stays the caller's */
	if (len <= 0 || (seq = ASN1_STRING_new()) == NULL)
		goto fail;
	ASN1_STRING_set0(seq, der, len);
	der = NULL;
	CMP_HEADER_free(outer->header);
	if ((outer->header = DUP(CMP_HEADER, msg->header)) == NULL)
		goto fail;
	outer->body->type = CMP_BODY_NESTED;
	if ((outer->body->value.other = ASN1_TYPE_new()) == NULL)
		goto fail;
	ASN1_TYPE_set(outer->body->value.other, V_ASN1_SEQUENCE, seq);
	seq = NULL;
	sk_CMP_MSG_pop_free(sk, CMP_MSG_free);
	CMP_MSG_free(msg);
	return outer;
fail:
	OPENSSL_free(der);
	ASN1_STRING_free(seq);
	if (sk != NULL && sk_CMP_MSG_value(sk, 0) == msg)
		(void)sk_CMP_MSG_shift(sk);
	sk_CMP_MSG_pop_free(sk, CMP_MSG_free);
	CMP_MSG_free(outer);
	return msg;
}

static void
header_mutate(CMP_HEADER *h)
{
	X509 *x;

	switch (mut_rnd(12)) {
	case 0:
		(void)mut_int_set(&h->pvno);
		if (mut_rnd(2))
			(void)ASN1_INTEGER_set(h->pvno, 2 + (long)mut_rnd(2));
		break;
	case 1:
		GENERAL_NAME_free(h->sender);
		if ((x = mut_pool_pick()) != NULL && mut_rnd(2) &&
		    (h->sender = GENERAL_NAME_new()) != NULL)
			GENERAL_NAME_set0_value(h->sender, GEN_DIRNAME,
			    X509_NAME_dup(X509_get_subject_name(x)));
		else
			h->sender = mut_gn();
		break;
	case 2:
		GENERAL_NAME_free(h->recipient);
		h->recipient = mut_gn();
		break;
	case 3:
		ASN1_GENERALIZEDTIME_free(h->messageTime);
		h->messageTime = mut_rnd(4) ? ASN1_GENERALIZEDTIME_adj(NULL,
		    time(NULL), 0, (long)mut_rnd(7200) - 3600)
					    : NULL;
		break;
	case 4:
		X509_ALGOR_free(h->protectionAlg);
		h->protectionAlg = mut_rnd(5) ? mut_alg() : NULL;
		break;
	case 5:
		if (mut_rnd(4) == 0) {
			ASN1_OCTET_STRING_free(h->senderKID);
			h->senderKID = NULL;
		} else {
			(void)mut_octets(mut_rnd(2) ? &h->senderKID
						    : &h->recipKID);
		}
		break;
	case 6:
		(void)mut_octets(&h->transactionID);
		break;
	case 7:
		(void)mut_octets(&h->senderNonce);
		break;
	case 8:
		(void)mut_octets(&h->recipNonce);
		break;
	case 9:
		if (h->freeText == NULL)
			h->freeText = sk_ASN1_UTF8STRING_new_null();
		if (h->freeText != NULL) {
			ASN1_UTF8STRING *s = ASN1_UTF8STRING_new();

			if (s != NULL)
				mut_string_bytes(s);
			if (s != NULL && !sk_ASN1_UTF8STRING_push(h->freeText,
			    s))
				ASN1_UTF8STRING_free(s);
		}
		break;
	default:
		mut_itavs_mutate(&h->generalInfo);
		break;
	}
}

static void
body_mutate(CMP_MSG *msg)
{
	static const int reqtypes[] = {
		CMP_BODY_IR, CMP_BODY_CR, CMP_BODY_KUR, CMP_BODY_CCR,
	};
	CMP_BODY *b = msg->body, *nb;
	int n;

	if (mut_rnd(6) == 0 && (nb = body_new(msg)) != NULL) {
		CMP_BODY_free(msg->body);
		msg->body = nb;
		return;
	}
	if (mut_is_certreq(b->type)) {
		n = sk_CRMF_CERTREQMSG_num(b->value.ir);
		if (mut_rnd(6) == 0) {
			b->type = reqtypes[mut_rnd(4)];
		} else if (mut_rnd(8) == 0 && n > 0 && n < 17) {
			CRMF_CERTREQMSG *c = DUP(CRMF_CERTREQMSG,
			    sk_CRMF_CERTREQMSG_value(b->value.ir, 0));

			if (c != NULL && !sk_CRMF_CERTREQMSG_push(b->value.ir,
			    c))
				CRMF_CERTREQMSG_free(c);
		} else if (n > 0) {
			mut_crm_mutate(sk_CRMF_CERTREQMSG_value(b->value.ir,
			    (int)mut_rnd((unsigned)n)));
		}
		for (int i = 0; i < sk_CRMF_CERTREQMSG_num(b->value.ir); i++)
			mut_crm_fix(sk_CRMF_CERTREQMSG_value(b->value.ir, i), 0);
		return;
	}
	switch (b->type) {
	case CMP_BODY_P10CR:
		mut_p10_mutate(b->value.p10cr);
		break;
	case CMP_BODY_RR:
		if ((n = sk_CMP_REVDETAILS_num(b->value.rr)) > 0) {
			CMP_REVDETAILS *d = sk_CMP_REVDETAILS_value(b->value.rr,
			    (int)mut_rnd((unsigned)n));

			if (mut_rnd(2))
				mut_exts(&d->crlEntryDetails);
			else
				mut_tmpl_mutate(d->certDetails);
		}
		break;
	case CMP_BODY_CERTCONF:
		if ((n = sk_CMP_CERTSTATUS_num(b->value.certConf)) > 0) {
			CMP_CERTSTATUS *c = sk_CMP_CERTSTATUS_value(
			    b->value.certConf, (int)mut_rnd((unsigned)n));

			switch (mut_rnd(4)) {
			case 0:
				(void)mut_int_set(&c->certReqId);
				break;
			case 1:
				(void)mut_octets(&c->certHash);
				break;
			case 2:
				if (c->statusInfo == NULL)
					c->statusInfo = CMP_PKISI_new();
				if (c->statusInfo != NULL)
					(void)mut_int_set(
					    &c->statusInfo->status);
				break;
			default:
				X509_ALGOR_free(c->hashAlg);
				c->hashAlg = mut_rnd(3) ? mut_alg() : NULL;
				break;
			}
		}
		break;
	case CMP_BODY_POLLREQ:
		if ((n = sk_CMP_POLLREQ_num(b->value.pollReq)) > 0)
			(void)mut_int_set(&sk_CMP_POLLREQ_value(
			    b->value.pollReq, (int)mut_rnd((unsigned)n))
				->certReqId);
		break;
	case CMP_BODY_GENM:
		mut_itavs_mutate(&b->value.genm);
		break;
	default:
		if ((nb = body_new(msg)) != NULL) {
			CMP_BODY_free(msg->body);
			msg->body = nb;
		}
		break;
	}
}

static void
extracerts_mutate(CMP_MSG *msg)
{
	X509 *x;
	int n = sk_X509_num(msg->extraCerts);

	if (n > 0 && mut_rnd(3) == 0) {
		X509_free(sk_X509_delete(msg->extraCerts,
		    (int)mut_rnd((unsigned)n)));
		return;
	}
	if ((x = mut_pool_pick()) == NULL)
		return;
	if (msg->extraCerts == NULL &&
	    (msg->extraCerts = sk_X509_new_null()) == NULL)
		return;
	for (int k = mut_rnd(8) == 0 ? 12 : 1; k > 0; k--)
		if (X509_up_ref(x) && !sk_X509_insert(msg->extraCerts, x,
		    (int)mut_rnd((unsigned)sk_X509_num(msg->extraCerts) + 1)))
			X509_free(x);
}

/* See cmp_mutate.h. */
size_t
cmp_mutate(uint8_t *data, size_t size, size_t max, unsigned int seed)
{
	const unsigned char *p = data;
	unsigned char *der = NULL;
	CMP_MSG *msg;
	size_t out = 0;
	int len;

	mut_seed(seed);
	if (mut_rnd(8) == 0 ||
	    (msg = d2i_CMP_MSG(NULL, &p, (long)size)) == NULL)
		return LLVMFuzzerMutate(data, size, max);
	mut_pool_learn(msg->extraCerts);
	for (unsigned k = 1 + mut_rnd(3); k > 0; k--) {
		switch (mut_rnd(10)) {
		case 0:
		case 1:
		case 2:
			header_mutate(msg->header);
			break;
		case 3:
			extracerts_mutate(msg);
			break;
		case 4:
			if (mut_rnd(4) == 0) {
				msg = nest(msg);
				break;
			}
			/* FALLTHROUGH */
		default:
			body_mutate(msg);
			break;
		}
	}
	if (cmp_mutate_finish != NULL)
		(void)cmp_mutate_finish(msg);
	len = i2d_CMP_MSG(msg, &der);
	out = mut_put(data, max, der, len);
	OPENSSL_free(der);
	CMP_MSG_free(msg);
	return out > 0 ? out : LLVMFuzzerMutate(data, size, max);
}

