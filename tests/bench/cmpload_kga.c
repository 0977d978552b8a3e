/*
 * cmpload: the kgaimp kind - central key generation (RFC 9483 §4.1.6).
 *
 * OpenSSL 3.0's client always puts the new key's public key into the
 * CertTemplate. For kgaimp it builds the ir as for irimp (with no POP:
 * OSSL_CRMF_POPO_NONE) and the transfer callback rewrites the DER of the
 * outgoing ir: each template's publicKey becomes the algorithm alone with
 * an empty BIT STRING, any POP is dropped; OSSL_CMP_MSG_update_transactionID
 * then protects it again (MAC with the secret), and the callback sends it
 * itself with OSSL_HTTP_transfer() (see kga_transfer() for why).
 *
 * On the answer the callback checks what a client checks cheaply: an ip,
 * status accepted (or grantedWithMods), a certificate, and a privateKey
 * field. It does not open the EnvelopedData (that is the client's CPU,
 * not the server's; tests/e2e/kga.sh checks the key itself). one_tx then
 * checks the certificate against the CA (not against the pool key: the
 * CA made the key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/cmp.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/x509.h>

#include "cmpload.h"

#define BODY_IR 0 /* PKIBody ir; OpenSSL 3.0 keeps its name internal */

struct buf {
	unsigned char *p;
	size_t n, cap;
};

struct tlv {
	const unsigned char *start; /* header */
	const unsigned char *c;     /* content */
	long len;                   /* content length */
	long total;                 /* header + content */
	int tag, xclass, cons;
};

/* Reads the next TLV at *p (left bytes remain). Returns 1 or 0. */
static int
tlv_next(const unsigned char **p, long *left, struct tlv *t)
{
	const unsigned char *q = *p;
	int r;

	if (*left <= 0)
		return 0;
	r = ASN1_get_object(&q, &t->len, &t->tag, &t->xclass, *left);
	if (r & 0x80)
		return 0;
	t->start = *p;
	t->c = q;
	t->cons = (r & V_ASN1_CONSTRUCTED) != 0;
	t->total = (long)(q - *p) + t->len;
	*p += t->total;
	*left -= t->total;
	return 1;
}

/* Enters t: reads the first TLV of its content next. Returns 1. */
static int
tlv_into(const struct tlv *t, const unsigned char **p, long *left)
{
	*p = t->c;
	*left = t->len;
	return 1;
}

static int
buf_put(struct buf *b, const void *d, size_t n)
{
	unsigned char *np;

	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		if ((np = realloc(b->p, b->cap)) == NULL)
			return 0;
		b->p = np;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
	return 1;
}

/* Appends a TLV of t's tag and class around content c. */
static int
buf_wrap(struct buf *b, const struct tlv *t, const unsigned char *c, long len)
{
	unsigned char hdr[16], *q = hdr;

	ASN1_put_object(&q, t->cons, len, t->tag, t->xclass);
	return buf_put(b, hdr, (size_t)(q - hdr)) && buf_put(b, c, (size_t)len);
}

/*
 * Copies the content c of a structure at the given level into out,
 * rewriting on the way down to the template's publicKey:
 * 0 PKIMessage, 1 body [0] (ir), 2 CertReqMessages, 3 CertReqMsg,
 * 4 CertRequest, 5 CertTemplate, 6 its publicKey [6]. Counts the keys
 * rewritten in *n. Returns 1 or 0.
 */
static int
rewrite(const unsigned char *c, long len, int level, struct buf *out, int *n)
{
	static const unsigned char empty_bits[] = { 0x03, 0x01, 0x00 };
	struct buf sub = { NULL, 0, 0 };
	struct tlv t;
	int idx, down, ok = 1;

	for (idx = 0; ok && len > 0; idx++) {
		if (!tlv_next(&c, &len, &t))
			return 0;
		switch (level) {
		case 0: down = idx == 1; break;
		case 1: down = idx == 0; break;
		case 2: down = 1; break;
		case 3:
			/* The POP (a context-tagged CHOICE) goes. */
			if (idx > 0 && t.xclass == V_ASN1_CONTEXT_SPECIFIC)
				continue;
			down = idx == 0;
			break;
		case 4: down = idx == 1; break;
		case 5:
			down = t.xclass == V_ASN1_CONTEXT_SPECIFIC && t.tag == 6;
			break;
		default:
			/* SubjectPublicKeyInfo: the algorithm, no key. */
			if (idx == 1) {
				ok = buf_put(out, empty_bits, sizeof(empty_bits));
				(*n)++;
				continue;
			}
			down = 0;
		}
		if (!down) {
			ok = buf_put(out, t.start, (size_t)t.total);
			continue;
		}
		sub.n = 0;
		ok = rewrite(t.c, t.len, level + 1, &sub, n) &&
		     buf_wrap(out, &t, sub.p, (long)sub.n);
	}
	free(sub.p);
	return ok;
}

/*
 * The ir req with algorithm-only publicKeys and no POP, protected again.
 * Returns a new message or NULL.
 */
static OSSL_CMP_MSG *
ir_rewrite(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	struct buf body = { NULL, 0, 0 }, msg = { NULL, 0, 0 };
	struct tlv t;
	OSSL_CMP_MSG *rc = NULL;
	long left;
	int len, n = 0;

	if ((len = i2d_OSSL_CMP_MSG(req, &der)) <= 0)
		return NULL;
	p = der;
	left = len;
	if (tlv_next(&p, &left, &t) &&
	    rewrite(t.c, t.len, 0, &body, &n) && n > 0 &&
	    buf_wrap(&msg, &t, body.p, (long)body.n)) {
		p = msg.p;
		rc = d2i_OSSL_CMP_MSG(NULL, &p, (long)msg.n);
	}
	if (rc != NULL && !OSSL_CMP_MSG_update_transactionID(ctx, rc)) {
		OSSL_CMP_MSG_free(rc);
		rc = NULL;
	}
	OPENSSL_free(der);
	free(body.p);
	free(msg.p);
	return rc;
}

/* PKIFailureInfo's bits (RFC 4210 §5.2.3), for the reasons of refusals. */
static const char *const fail_names[] = { "badAlg", "badMessageCheck",
	"badRequest", "badTime", "badCertId", "badDataFormat",
	"wrongAuthority", "incorrectData", "missingTimeStamp", "badPOP",
	"certRevoked", "certConfirmed", "wrongIntegrity", "badRecipientNonce",
	"timeNotAvailable", "unacceptedPolicy", "unacceptedExtension",
	"addInfoNotAvailable", "badSenderNonce", "badCertTemplate",
	"signerNotTrusted", "transactionIdInUse", "unsupportedVersion",
	"notAuthorized", "systemUnavail", "systemFailure", "duplicateCertReq" };

/*
 * Reads a PKIStatusInfo (content c, len). Returns its status, or -1; a
 * refusal's reason ("rejection, failInfo badPOP") goes to why.
 */
static int
status_read(const unsigned char *c, long len, char *why, size_t wlen)
{
	struct tlv t;
	int st, bit;

	if (!tlv_next(&c, &len, &t) || t.tag != V_ASN1_INTEGER || t.len != 1)
		return -1;
	st = t.c[0];
	snprintf(why, wlen, "PKIStatus %d", st);
	while (tlv_next(&c, &len, &t))
		if (t.tag == V_ASN1_BIT_STRING && t.len > 1)
			for (bit = 0; bit < (t.len - 1) * 8 &&
			              bit < (int)(sizeof(fail_names) /
			                          sizeof(*fail_names));
			     bit++)
				if (t.c[1 + bit / 8] & (0x80 >> (bit % 8))) {
					snprintf(why, wlen,
					    "PKIStatus %d, failInfo %s", st,
					    fail_names[bit]);
					break;
				}
	return st;
}

/*
 * Checks an ip's DER: the first CertResponse accepted, with a certificate
 * (in *cert, caller frees) and a privateKey. Returns NULL or what is
 * wrong (a refusal's status and failInfo written to why).
 */
static const char *
ip_check(const unsigned char *der, long len, X509 **cert, char *why,
    size_t wlen)
{
	const unsigned char *p = der, *q;
	struct tlv t;
	long left = len;

	/* PKIMessage: past the header, the body must be ip [1]. */
	if (!tlv_next(&p, &left, &t))
		return "answer is not DER";
	p = t.c;
	left = t.len;
	if (!tlv_next(&p, &left, &t) || !tlv_next(&p, &left, &t))
		return "answer is not a PKIMessage";
	if (t.xclass == V_ASN1_CONTEXT_SPECIFIC && t.tag == 23 &&
	    tlv_into(&t, &p, &left) && tlv_next(&p, &left, &t) &&
	    tlv_into(&t, &p, &left) && tlv_next(&p, &left, &t) &&
	    status_read(t.c, t.len, why, wlen) >= 0)
		return why; /* error message */
	if (t.xclass != V_ASN1_CONTEXT_SPECIFIC || t.tag != 1)
		return "answer is not an ip";
	/* CertRepMessage: caPubs [1] optional, then the responses. */
	if (!tlv_into(&t, &p, &left) || !tlv_next(&p, &left, &t) ||
	    !tlv_into(&t, &p, &left) || !tlv_next(&p, &left, &t))
		return "ip is malformed";
	if (t.xclass == V_ASN1_CONTEXT_SPECIFIC && !tlv_next(&p, &left, &t))
		return "ip is malformed";
	/* The first CertResponse: certReqId, status, certifiedKeyPair. */
	if (!tlv_into(&t, &p, &left) || !tlv_next(&p, &left, &t) ||
	    !tlv_into(&t, &p, &left) || !tlv_next(&p, &left, &t) ||
	    t.tag != V_ASN1_INTEGER)
		return "ip has no CertResponse";
	if (!tlv_next(&p, &left, &t) || t.tag != V_ASN1_SEQUENCE)
		return "ip has no PKIStatusInfo";
	switch (status_read(t.c, t.len, why, wlen)) {
	case OSSL_CMP_PKISTATUS_accepted:
	case OSSL_CMP_PKISTATUS_grantedWithMods:
		break;
	case -1:
		return "ip has no PKIStatus";
	default:
		return why; /* refused */
	}
	if (!tlv_next(&p, &left, &t) || t.tag != V_ASN1_SEQUENCE)
		return "ip has no certifiedKeyPair";
	p = t.c;
	left = t.len;
	/* certOrEncCert [0] the certificate, then privateKey [0]. */
	if (!tlv_next(&p, &left, &t) || t.xclass != V_ASN1_CONTEXT_SPECIFIC ||
	    t.tag != 0)
		return "ip carries no certificate";
	q = t.c;
	X509_free(*cert);
	if ((*cert = d2i_X509(NULL, &q, t.len)) == NULL)
		return "ip's certificate does not decode";
	if (!tlv_next(&p, &left, &t) || t.xclass != V_ASN1_CONTEXT_SPECIFIC ||
	    t.tag != 0 || t.len == 0)
		return "ip carries no privateKey";
	return NULL;
}

/*
 * POSTs the DER of ir to the server on a new connection (http_cb counts
 * it and sets TCP_NODELAY). Returns the answer's DER (caller frees) and
 * its length in *len, or NULL with c->kga_why set.
 */
static unsigned char *
kga_post(struct client *c, const OSSL_CMP_MSG *ir, long *len)
{
	struct shared *sh = c->sh;
	BIO *req = NULL, *rsp = NULL;
	struct buf b = { NULL, 0, 0 };
	unsigned char chunk[4096];
	int n;

	if ((req = BIO_new(BIO_s_mem())) == NULL ||
	    i2d_OSSL_CMP_MSG_bio(req, ir) <= 0) {
		snprintf(c->kga_why, sizeof(c->kga_why), "cannot encode the ir");
		goto out;
	}
	rsp = OSSL_HTTP_transfer(NULL, sh->host, sh->port, sh->path, 0, NULL,
	    NULL, NULL, NULL, http_cb, c, 0, NULL, "application/pkixcmp", req,
	    "application/pkixcmp", 1, 0, MSG_TIMEOUT, 0);
	if (rsp == NULL) {
		unsigned long e = ERR_peek_last_error();

		snprintf(c->kga_why, sizeof(c->kga_why),
		    "HTTP exchange failed: %s",
		    e != 0 && ERR_reason_error_string(e) != NULL
		        ? ERR_reason_error_string(e) : "no answer");
		goto out;
	}
	while ((n = BIO_read(rsp, chunk, sizeof(chunk))) > 0)
		if (!buf_put(&b, chunk, (size_t)n)) {
			free(b.p);
			b.p = NULL;
			break;
		}
	if (b.p == NULL)
		snprintf(c->kga_why, sizeof(c->kga_why), "empty answer");
	*len = (long)b.n;
out:
	BIO_free(req);
	BIO_free(rsp);
	return b.p;
}

/*
 * The transfer callback. OpenSSL 3.0 cannot decode an ip whose privateKey
 * is an EnvelopedData (RFC 9483; its CertifiedKeyPair knows EncryptedValue
 * only), so the exchange happens here: rewrite the ir, POST it, check the
 * answer's DER (c->kga_why, c->kga_cert), and return NULL, which ends
 * OpenSSL's session; one_tx reads the outcome from c. The answer's MAC is
 * not verified and certConf is not sent (implicitConfirm, granted by
 * cmpca for MAC-protected kga requests).
 */
static OSSL_CMP_MSG *
kga_transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
	struct client *c = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
	OSSL_CMP_MSG *ir;
	unsigned char *der;
	const char *bad;
	char why[REASON_LEN];
	long len = 0;

	if (OSSL_CMP_MSG_get_bodytype(req) != BODY_IR) {
		snprintf(c->kga_why, sizeof(c->kga_why), "not an ir");
		return NULL;
	}
	if ((ir = ir_rewrite(ctx, req)) == NULL) {
		snprintf(c->kga_why, sizeof(c->kga_why),
		    "cannot rewrite the ir for central key generation");
		return NULL;
	}
	der = kga_post(c, ir, &len);
	OSSL_CMP_MSG_free(ir);
	if (der == NULL)
		return NULL;
	if ((bad = ip_check(der, len, &c->kga_cert, why, sizeof(why))) != NULL)
		snprintf(c->kga_why, sizeof(c->kga_why), "%s", bad);
	else
		c->kga_why[0] = '\0';
	free(der);
	return NULL;
}

/* See cmpload.h. */
int
kga_ctx_setup(struct client *c, OSSL_CMP_CTX *ctx)
{
	return OSSL_CMP_CTX_set_transfer_cb(ctx, kga_transfer) &&
	       OSSL_CMP_CTX_set_transfer_cb_arg(ctx, c) &&
	       OSSL_CMP_CTX_set_option(
	           ctx, OSSL_CMP_OPT_POPO_METHOD, OSSL_CRMF_POPO_NONE);
}
