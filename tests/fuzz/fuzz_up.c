/*
 * fuzz_up.c - the upstream transport of the engine targets: the daemon's
 * own (client_upstream_io: HTTP to the stack's cmpcad, which answers as
 * the upstream CA), with the answer twisted the way a broken or hostile
 * upstream CA would answer (fuzz_env.h, fuzz_up_twist), so that the RA's
 * checks of what comes back (cmp_upstream.c, and of nested answers
 * cmp_upstream_nest.c) are reached.
 */
#include <string.h>

#include <openssl/x509v3.h>

#include "ca/client/client.h"
#include "ca/issue/issue.h"
#include "tests/fuzz/fuzz_env.h"
#include "tests/fuzz/mut_int.h"

unsigned fuzz_up_twist;

/* A PKIStatusInfo: rejection, badRequest, a text. */
static CMP_PKISI *
rejection(void)
{
	CMP_PKISI *si = CMP_PKISI_new();
	ASN1_UTF8STRING *s = ASN1_UTF8STRING_new();

	if (si == NULL || s == NULL ||
	    !ASN1_INTEGER_set(si->status, CMP_STATUS_REJECTION) ||
	    (si->failInfo = ASN1_BIT_STRING_new()) == NULL ||
	    !ASN1_BIT_STRING_set_bit(si->failInfo, CMP_FAIL_BAD_REQUEST, 1) ||
	    (si->statusString = sk_ASN1_UTF8STRING_new_null()) == NULL ||
	    !ASN1_STRING_set(s, "fuzz: the upstream \x01refuses", -1) ||
	    !sk_ASN1_UTF8STRING_push(si->statusString, s)) {
		ASN1_UTF8STRING_free(s);
		CMP_PKISI_free(si);
		return NULL;
	}
	return si;
}

/*
 * A certificate for pub and subj (with san when not NULL) that no CA of
 * ours or upstream issued: signed by the mutator's key under its own
 * name. NULL on error.
 */
static X509 *
fake_cert(EVP_PKEY *pub, const X509_NAME *subj, const char *san)
{
	X509_NAME *iss = ca_name_parse("/CN=fuzz-fake-upstream");
	X509_EXTENSION *e = NULL;
	X509 *x = X509_new();
	int ok;

	ok = x != NULL && iss != NULL && pub != NULL &&
	    X509_set_version(x, X509_VERSION_3) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242) &&
	    X509_set_issuer_name(x, iss) &&
	    X509_set_subject_name(x, subj != NULL ? subj : iss) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL &&
	    X509_set_pubkey(x, pub);
	if (ok && san != NULL)
		ok = (e = X509V3_EXT_nconf(NULL, NULL, "subjectAltName",
		    san)) != NULL && X509_add_ext(x, e, -1);
	ok = ok && X509_sign(x, mut_key(0), EVP_sha256()) > 0;
	X509_EXTENSION_free(e);
	X509_NAME_free(iss);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The key and subject the forwarded body asks for (the caller frees the
 * key), or 0. */
static int
asked(const CMP_BODY *b, EVP_PKEY **pub, X509_NAME **subj)
{
	CRMF_CERTREQMSG *m;

	*pub = NULL;
	*subj = NULL;
	if (b->type == CMP_BODY_P10CR) {
		if ((*pub = X509_REQ_get_pubkey(b->value.p10cr)) == NULL)
			return 0;
		*subj = X509_REQ_get_subject_name(b->value.p10cr);
		return 1;
	}
	if ((b->type != CMP_BODY_IR && b->type != CMP_BODY_CR) ||
	    sk_CRMF_CERTREQMSG_num(b->value.ir) < 1)
		return 0;
	m = sk_CRMF_CERTREQMSG_value(b->value.ir, 0);
	if (m->certReq->certTemplate->publicKey == NULL)
		return 0;
	*pub = cmp_spki_pkey(m->certReq->certTemplate->publicKey);
	*subj = m->certReq->certTemplate->subject;
	return *pub != NULL;
}

/*
 * Twists answer a to a request for pub and subj: by fuzz_up_twist, an
 * error body, a rejection, waiting, another certReqId, no certificate,
 * or a certificate of another key, of another subject, with names not
 * asked for, or that chains to nothing.
 */
static void
twist(CMP_MSG *a, EVP_PKEY *pub, const X509_NAME *subj)
{
	CMP_CERTRESPONSE *cr;
	CMP_CERTORENCCERT *c;
	X509_NAME *other;
	X509 *x = NULL;

	if (fuzz_up_twist == 2) {
		CMP_BODY *b = CMP_BODY_new();

		if (b == NULL ||
		    (b->value.error = CMP_ERRORMSG_new()) == NULL) {
			CMP_BODY_free(b);
			return;
		}
		b->type = CMP_BODY_ERROR;
		CMP_PKISI_free(b->value.error->pKIStatusInfo);
		if ((b->value.error->pKIStatusInfo = rejection()) == NULL) {
			CMP_BODY_free(b);
			return;
		}
		CMP_BODY_free(a->body);
		a->body = b;
		return;
	}
	if ((a->body->type != CMP_BODY_IP && a->body->type != CMP_BODY_CP) ||
	    sk_CMP_CERTRESPONSE_num(a->body->value.ip->response) < 1)
		return;
	cr = sk_CMP_CERTRESPONSE_value(a->body->value.ip->response, 0);
	switch (fuzz_up_twist) {
	case 3:
		CMP_PKISI_free(cr->status);
		cr->status = rejection();
		CMP_CERTIFIEDKEYPAIR_free(cr->certifiedKeyPair);
		cr->certifiedKeyPair = NULL;
		return;
	case 4:
		(void)ASN1_INTEGER_set(cr->status->status, CMP_STATUS_WAITING);
		return;
	case 5:
		(void)ASN1_INTEGER_set(cr->certReqId, 77);
		return;
	case 6:
		CMP_CERTIFIEDKEYPAIR_free(cr->certifiedKeyPair);
		cr->certifiedKeyPair = NULL;
		return;
	case 7:
		/* Key 1, or key 0 when the device asked for key 1. */
		x = fake_cert(mut_key(EVP_PKEY_eq(pub, mut_key(1)) != 1),
		    subj, NULL);
		break;
	case 8:
		other = ca_name_parse("/CN=fuzz-not-asked");
		x = fake_cert(pub, other, NULL);
		X509_NAME_free(other);
		break;
	case 9:
		x = fake_cert(pub, subj, "DNS:not-asked.example");
		break;
	case 10:
		x = fake_cert(pub, subj, NULL);
		break;
	default:
		return;
	}
	if (x == NULL || cr->certifiedKeyPair == NULL ||
	    (c = cr->certifiedKeyPair->certOrEncCert)->type != 0) {
		X509_free(x);
		return;
	}
	X509_free(c->value.certificate);
	c->value.certificate = x;
}

/* An error body with a rejection, or NULL. */
static CMP_BODY *
error_body(void)
{
	CMP_BODY *b = CMP_BODY_new();

	if (b == NULL || (b->value.error = CMP_ERRORMSG_new()) == NULL) {
		CMP_BODY_free(b);
		return NULL;
	}
	b->type = CMP_BODY_ERROR;
	CMP_PKISI_free(b->value.error->pKIStatusInfo);
	if ((b->value.error->pKIStatusInfo = rejection()) == NULL) {
		CMP_BODY_free(b);
		return NULL;
	}
	return b;
}

/* The body of m becomes b (when not NULL). */
static void
body_set(CMP_MSG *m, CMP_BODY *b)
{
	if (b == NULL)
		return;
	CMP_BODY_free(m->body);
	m->body = b;
}

/* One octet of s changed (none if empty). */
static void
octet_flip(ASN1_OCTET_STRING *s)
{
	if (s != NULL && s->length > 0)
		s->data[0] ^= 0x5a;
}

/*
 * Twists the inner message m of a nested answer by fuzz_up_twist
 * (fuzz_env.h, 3 to 9); *two: the caller sends m twice.
 */
static void
nest_inner(CMP_MSG *m, int *two)
{
	CMP_CERTRESPONSE *cr = NULL;
	CMP_CERTORENCCERT *c;
	X509 *x;
	int t = m->body->type;

	if ((t == CMP_BODY_IP || t == CMP_BODY_CP || t == CMP_BODY_KUP) &&
	    sk_CMP_CERTRESPONSE_num(m->body->value.ip->response) > 0)
		cr = sk_CMP_CERTRESPONSE_value(m->body->value.ip->response, 0);
	switch (fuzz_up_twist) {
	case 3:
		octet_flip(m->header->transactionID);
		break;
	case 4:
		octet_flip(m->header->recipNonce);
		break;
	case 5:
		*two = 1;
		break;
	case 6:
		/* ip, cp and kup share their value: another of them. */
		if (cr != NULL)
			m->body->type = t == CMP_BODY_CP ? CMP_BODY_IP
								 : CMP_BODY_CP;
		else
			body_set(m, error_body());
		break;
	case 7:
		if (cr == NULL || cr->certifiedKeyPair == NULL ||
		    (c = cr->certifiedKeyPair->certOrEncCert)->type != 0)
			break;
		x = c->value.certificate;
		/* Key 1, or key 0 when the certificate has key 1. */
		if ((x = fake_cert(mut_key(EVP_PKEY_eq(X509_get0_pubkey(x),
			 mut_key(1)) != 1), X509_get_subject_name(x), NULL)) ==
		    NULL)
			break;
		X509_free(c->value.certificate);
		c->value.certificate = x;
		break;
	case 8:
		body_set(m, error_body());
		break;
	case 9:
		if (cr != NULL)
			(void)ASN1_INTEGER_set(cr->status->status,
			    CMP_STATUS_WAITING);
		break;
	case 11:
		if (cr == NULL)
			break;
		CMP_PKISI_free(cr->status);
		cr->status = rejection();
		CMP_CERTIFIEDKEYPAIR_free(cr->certifiedKeyPair);
		cr->certifiedKeyPair = NULL;
		break;
	case 12:
		if (cr == NULL)
			break;
		CMP_CERTIFIEDKEYPAIR_free(cr->certifiedKeyPair);
		cr->certifiedKeyPair = NULL;
		break;
	case 13:
		if (t == CMP_BODY_PKICONF)
			body_set(m, error_body());
		break;
	}
}

/*
 * The RA and its upstream CA share the fuzz stack's database, which
 * holds every transactionID and senderNonce once: the device's message
 * that the RA nests would be a replay at the upstream CA, or the RA's
 * record of it one after the upstream's. So the inner message goes
 * upstream under a transactionID and senderNonce of its own (protected
 * again, as the device would: the secret or the identity it names), and
 * the inner answer comes back with the device's, as from an upstream CA
 * with a database of its own. The mapping of the last transaction:
 */
static unsigned char dev_tx[16], up_tx[16], dev_nonce[16], up_nonce[16];
/* Was the last nested message a certConf, pollReq or error? */
static int nest_cont;

/* An octet string of 16 octets into buf, or 0. */
static int
o16(const ASN1_OCTET_STRING *o, unsigned char *buf)
{
	if (o == NULL || o->length != 16)
		return 0;
	memcpy(buf, o->data, 16);
	return 1;
}

/* Does o hold the 16 octets of buf? */
static int
is16(const ASN1_OCTET_STRING *o, const unsigned char *buf)
{
	return o != NULL && o->length == 16 && memcmp(o->data, buf, 16) == 0;
}

/* The inner messages of the nested body b, or NULL. */
static STACK_OF(CMP_MSG) *
inner_get(const CMP_BODY *b)
{
	const ASN1_TYPE *v = b->value.other;
	const unsigned char *p;

	if (b->type != CMP_BODY_NESTED || v == NULL ||
	    v->type != V_ASN1_SEQUENCE)
		return NULL;
	p = v->value.sequence->data;
	return (STACK_OF(CMP_MSG) *)ASN1_item_d2i(NULL, &p,
	    v->value.sequence->length, ASN1_ITEM_rptr(CMP_MSGS));
}

/* b's inner messages become in (encoded again). */
static void
inner_set(CMP_BODY *b, STACK_OF(CMP_MSG) *in)
{
	unsigned char *der = NULL;
	int len;

	if ((len = ASN1_item_i2d((ASN1_VALUE *)in, &der,
		 ASN1_ITEM_rptr(CMP_MSGS))) > 0)
		ASN1_STRING_set0(b->value.other->value.sequence, der, len);
}

/* The device's inner message in b goes upstream under ids of its own. */
static void
nest_out(CMP_BODY *b)
{
	STACK_OF(CMP_MSG) *in = inner_get(b);
	CMP_MSG *m;
	int cont;

	if (in == NULL || sk_CMP_MSG_num(in) != 1)
		goto out;
	m = sk_CMP_MSG_value(in, 0);
	cont = nest_cont = m->body->type == CMP_BODY_CERTCONF ||
	    m->body->type == CMP_BODY_POLLREQ ||
	    m->body->type == CMP_BODY_ERROR;
	if (!o16(m->header->senderNonce, dev_nonce))
		goto out;
	if (cont) {
		if (!is16(m->header->transactionID, dev_tx))
			goto out;
		memcpy(m->header->transactionID->data, up_tx, 16);
	} else if (!o16(m->header->transactionID, dev_tx))
		goto out;
	if (!fuzz_protect_again(m) ||
	    !o16(m->header->transactionID, up_tx) ||
	    !o16(m->header->senderNonce, up_nonce))
		goto out;
	inner_set(b, in);
out:
	sk_CMP_MSG_pop_free(in, CMP_MSG_free);
}

/* The inner answer in a comes back with the device's ids. */
static void
nest_back(CMP_MSG *a)
{
	STACK_OF(CMP_MSG) *in = inner_get(a->body);
	CMP_MSG *m;
	int i;

	for (i = 0; i < sk_CMP_MSG_num(in); i++) {
		m = sk_CMP_MSG_value(in, i);
		if (is16(m->header->transactionID, up_tx))
			memcpy(m->header->transactionID->data, dev_tx, 16);
		if (is16(m->header->recipNonce, up_nonce))
			memcpy(m->header->recipNonce->data, dev_nonce, 16);
	}
	if (in != NULL)
		inner_set(a->body, in);
	sk_CMP_MSG_pop_free(in, CMP_MSG_free);
}

/* Twists the nested answer a by fuzz_up_twist (fuzz_env.h). */
static void
nest_twist(CMP_MSG *a)
{
	STACK_OF(CMP_MSG) *in = NULL;
	ASN1_TYPE *v = a->body->value.other;
	const unsigned char *p;
	unsigned char *der = NULL;
	CMP_MSG *dup;
	int len, two = 0;

	if (fuzz_up_twist == 2) {
		body_set(a, error_body());
		return;
	}
	if (a->body->type != CMP_BODY_NESTED || v == NULL ||
	    v->type != V_ASN1_SEQUENCE)
		return;
	if (fuzz_up_twist == 10) {
		ASN1_TYPE_set(v, V_ASN1_NULL, NULL);
		return;
	}
	p = v->value.sequence->data;
	in = (STACK_OF(CMP_MSG) *)ASN1_item_d2i(NULL, &p,
	    v->value.sequence->length, ASN1_ITEM_rptr(CMP_MSGS));
	if (in == NULL || sk_CMP_MSG_num(in) < 1)
		goto out;
	nest_inner(sk_CMP_MSG_value(in, 0), &two);
	if (two && ((dup = ASN1_item_dup(ASN1_ITEM_rptr(CMP_MSG),
			 sk_CMP_MSG_value(in, 0))) == NULL ||
		       !sk_CMP_MSG_push(in, dup))) {
		CMP_MSG_free(dup);
		goto out;
	}
	/* The inner messages encoded again (their protection no longer
	 * fits: the device checks it, not the RA). */
	if ((len = ASN1_item_i2d((ASN1_VALUE *)in, &der,
		 ASN1_ITEM_rptr(CMP_MSGS))) > 0)
		ASN1_STRING_set0(v->value.sequence, der, len);
out:
	sk_CMP_MSG_pop_free(in, CMP_MSG_free);
}

/* The exchange of struct cmp_upstream_io (cmp.h). */
static int
exchange(struct db *db, struct hsm *hsm, const struct ca_ident *ca,
    struct db_up_state *st, int cont, CMP_BODY *body, int want,
    CMP_MSG **answer, char *err, size_t errlen)
{
	EVP_PKEY *pub = NULL;
	X509_NAME *subj = NULL;
	int ok;

	if (want == CMP_BODY_NESTED)
		nest_out(body);
	if (fuzz_up_twist == 1 || (fuzz_up_twist == 14 &&
		want == CMP_BODY_NESTED && nest_cont)) {
		/* The upstream does not answer (14: to a nested certConf,
		 * pollReq or error). */
		CMP_BODY_free(body);
		*answer = NULL;
		snprintf(err, errlen, "fuzz: the upstream CA does not answer");
		return 0;
	}
	/* A copy: body goes to the exchange. */
	if (!cont && asked(body, &pub, &subj))
		subj = subj != NULL ? X509_NAME_dup(subj) : NULL;
	else
		subj = NULL;
	ok = client_upstream_io.exchange(db, hsm, ca, st, cont, body, want,
	    answer, err, errlen);
	if (ok && want == CMP_BODY_NESTED) {
		nest_back(*answer);
		nest_twist(*answer);
	}
	else if (ok && !cont && pub != NULL)
		twist(*answer, pub, subj);
	else if (ok && cont && fuzz_up_twist == 11) {
		/* The upstream refuses the device's certConf. */
		CMP_BODY *b = CMP_BODY_new();

		if (b != NULL &&
		    (b->value.error = CMP_ERRORMSG_new()) != NULL) {
			b->type = CMP_BODY_ERROR;
			CMP_BODY_free((*answer)->body);
			(*answer)->body = b;
		} else
			CMP_BODY_free(b);
	}
	EVP_PKEY_free(pub);
	X509_NAME_free(subj);
	return ok;
}

const struct cmp_upstream_io fuzz_up_io = { exchange };
