/*
 * cmp_client.c - the CMP client's generic part: requests from one of our
 * CAs (header, signature with its key in the HSM, extraCerts), HTTP(S)
 * transfer (RFC 9811), and the checks every answer must pass before
 * anything in it is used (client.h). Body builders for one kind of
 * request live beside it (client_ccr.c).
 *
 * Written with the engine's own ASN.1 templates: OpenSSL 3.0's CMP
 * client knows no ccr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "ca/client/client_int.h"

#define CLIENT_MAX_RESPONSE (1024 * 1024)
#define CLIENT_HTTP_TIMEOUT 30 /* seconds per message */

/* See client.h. */
struct cmp_client *
cmp_client_new(const struct ca_ident *ca, X509 *peer, const char *url,
    const char *tls_trusted)
{
	struct cmp_client *cl = calloc(1, sizeof(*cl));

	if (cl == NULL)
		return NULL;
	cl->ca = ca;
	cl->peer = peer;
	if ((cl->url = strdup(url)) == NULL ||
	    (tls_trusted != NULL &&
		(cl->tls_trusted = strdup(tls_trusted)) == NULL)) {
		cmp_client_free(cl);
		return NULL;
	}
	return cl;
}

/* See client.h. */
struct cmp_client *
cmp_client_new_mac(X509 *peer, const char *url, const char *tls_trusted,
    const char *ref, const unsigned char *secret, size_t secret_len)
{
	struct cmp_client *cl = cmp_client_new(NULL, peer, url, tls_trusted);

	if (cl == NULL)
		return NULL;
	if ((cl->ref = strdup(ref)) == NULL ||
	    (cl->secret = malloc(secret_len + 1)) == NULL) {
		cmp_client_free(cl);
		return NULL;
	}
	memcpy(cl->secret, secret, secret_len);
	cl->secret_len = secret_len;
	cl->errors_ok = 1;
	return cl;
}

/* See client.h. */
void
cmp_client_state_get(const struct cmp_client *cl, struct db_up_state *st)
{
	memcpy(st->txid, cl->txid, sizeof(st->txid));
	memcpy(st->nonce, cl->nonce, sizeof(st->nonce));
	memcpy(st->peer_nonce, cl->peer_nonce, cl->peer_nonce_len);
	st->peer_nonce_len = cl->peer_nonce_len;
}

/* See client.h. */
void
cmp_client_state_set(struct cmp_client *cl, const struct db_up_state *st)
{
	memcpy(cl->txid, st->txid, sizeof(cl->txid));
	memcpy(cl->nonce, st->nonce, sizeof(cl->nonce));
	cl->peer_nonce_len = st->peer_nonce_len <= sizeof(cl->peer_nonce)
	    ? st->peer_nonce_len : 0;
	memcpy(cl->peer_nonce, st->peer_nonce, cl->peer_nonce_len);
}

/* See client.h. */
void
cmp_client_free(struct cmp_client *cl)
{
	if (cl == NULL)
		return;
	if (cl->secret != NULL)
		OPENSSL_cleanse(cl->secret, cl->secret_len);
	free(cl->secret);
	free(cl->ref);
	SSL_CTX_free(cl->tls);
	free(cl->host);
	free(cl->url);
	free(cl->tls_trusted);
	free(cl);
}

/* See client.h. */
const char *
cmp_client_error(const struct cmp_client *cl)
{
	return cl->err;
}

/* See client_int.h. */
int
client_fail(struct cmp_client *cl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cl->err, sizeof(cl->err), fmt, ap);
	va_end(ap);
	return 0;
}

/* See client_int.h. */
int
client_fail_pkisi(struct cmp_client *cl, const char *what,
    const CMP_PKISI *si, int with_text)
{
	char one[CA_LOG_SAN_MAX];
	size_t used;
	int i, n, bits = 0;

	used = (size_t)snprintf(cl->err, sizeof(cl->err), "%s: status %ld",
	    what, si != NULL ? ASN1_INTEGER_get(si->status) : -1L);
	for (i = 0; with_text && si != NULL && used < sizeof(cl->err) &&
	    i < sk_ASN1_UTF8STRING_num(si->statusString); i++) {
		const ASN1_UTF8STRING *s =
		    sk_ASN1_UTF8STRING_value(si->statusString, i);

		log_sanitize(s->data, (size_t)s->length, one, sizeof(one));
		n = snprintf(cl->err + used, sizeof(cl->err) - used, "%s%s",
		    i > 0 ? "; " : ": ", one);
		if (n < 0)
			break;
		used += (size_t)n; /* a cut text stays cut */
	}
	for (i = 0; si != NULL && si->failInfo != NULL &&
	    i <= CMP_FAIL_DUPLICATE_CERT_REQ && used < sizeof(cl->err); i++) {
		if (!ASN1_BIT_STRING_get_bit(si->failInfo, i))
			continue;
		n = snprintf(cl->err + used, sizeof(cl->err) - used, "%s%d",
		    bits++ == 0 ? " (failInfo bit " : ", ", i);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (bits > 0 && used + 1 < sizeof(cl->err))
		strcat(cl->err, ")");
	return 0;
}

static ASN1_OCTET_STRING *
octets(const unsigned char *p, size_t n)
{
	ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();

	if (o != NULL && !ASN1_OCTET_STRING_set(o, p, (int)n)) {
		ASN1_OCTET_STRING_free(o);
		return NULL;
	}
	return o;
}

static GENERAL_NAME *
dirname(const X509_NAME *n)
{
	GENERAL_NAME *g = GENERAL_NAME_new();

	if (g == NULL)
		return NULL;
	if ((g->d.directoryName = X509_NAME_dup(n)) == NULL) {
		GENERAL_NAME_free(g);
		return NULL;
	}
	g->type = GEN_DIRNAME;
	return g;
}

/* A request header from our CA to the peer with a new senderNonce
 * (cl->nonce) and the peer's last one as recipNonce. */
static CMP_HEADER *
req_header(struct cmp_client *cl)
{
	CMP_HEADER *h = CMP_HEADER_new();
	const ASN1_OCTET_STRING *ski = cl->ca != NULL
	    ? X509_get0_subject_key_id(cl->ca->cert) : NULL;
	X509_NAME *null_dn = NULL;

	if (h == NULL || RAND_bytes(cl->nonce, sizeof(cl->nonce)) != 1)
		goto fail;
	GENERAL_NAME_free(h->sender);
	GENERAL_NAME_free(h->recipient);
	h->sender = h->recipient = NULL;
	/* MAC mode: the NULL-DN as sender, the reference as senderKID
	 * (RFC 9483 §3.1). */
	if (cl->ca == NULL &&
	    ((null_dn = X509_NAME_new()) == NULL ||
		(h->sender = dirname(null_dn)) == NULL ||
		(h->senderKID = octets((const unsigned char *)cl->ref,
		     strlen(cl->ref))) == NULL ||
		!client_mac_alg_set(h)))
		goto fail;
	X509_NAME_free(null_dn);
	null_dn = NULL;
	if (!ASN1_INTEGER_set(h->pvno, 2) ||
	    (h->sender == NULL && (h->sender = dirname(
		X509_get_subject_name(cl->ca->cert))) == NULL) ||
	    (h->recipient = dirname(X509_get_subject_name(cl->peer))) ==
		NULL ||
	    (h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL))) ==
		NULL ||
	    (h->transactionID = octets(cl->txid, sizeof(cl->txid))) == NULL ||
	    (h->senderNonce = octets(cl->nonce, sizeof(cl->nonce))) == NULL ||
	    (ski != NULL && (h->senderKID = ASN1_OCTET_STRING_dup(ski)) ==
		NULL) ||
	    (cl->peer_nonce_len > 0 &&
		(h->recipNonce = octets(cl->peer_nonce, cl->peer_nonce_len)) ==
		    NULL) ||
	    (cl->ca != NULL && !cmp_sig_alg_set(h, cl->ca)))
		goto fail;
	return h;
fail:
	X509_NAME_free(null_dn);
	CMP_HEADER_free(h);
	return NULL;
}

/* A signed request carrying body (consumed); our chain in extraCerts. */
static CMP_MSG *
req_new(struct cmp_client *cl, CMP_BODY *body)
{
	CMP_MSG *m = CMP_MSG_new();

	if (m == NULL) {
		CMP_BODY_free(body);
		return NULL;
	}
	CMP_BODY_free(m->body);
	m->body = body;
	CMP_HEADER_free(m->header);
	if ((m->header = req_header(cl)) == NULL)
		goto fail;
	if (cl->ca == NULL) {
		if (!client_mac_protect(cl, m)) {
			client_fail(cl, "cannot MAC the request");
			goto fail;
		}
	} else if (!cmp_sig_protect(m, cl->ca) ||
	    (m->extraCerts = ca_chain_copy(cl->ca)) == NULL)
		goto fail;
	return m;
fail:
	CMP_MSG_free(m);
	return NULL;
}

/*
 * OSSL_HTTP_transfer's hook: puts TLS on the connected socket BIO for an
 * https:// URL, with SNI and the server name checked against its
 * certificate (RFC 9811 §3.6 leaves TLS to the transport; RFC 9110).
 */
static BIO *
tls_hook(BIO *bio, void *arg, int connect, int detail)
{
	struct cmp_client *cl = arg;
	ASN1_OCTET_STRING *ip;
	BIO *sbio;
	SSL *ssl;

	if (!connect)
		return bio; /* the caller frees the BIO chain */
	if (!detail)
		return bio; /* plain http */
	if ((sbio = BIO_new_ssl(cl->tls, 1)) == NULL)
		return NULL;
	BIO_get_ssl(sbio, &ssl);
	if (ssl == NULL)
		goto fail;
	if ((ip = a2i_IPADDRESS(cl->host)) != NULL) {
		/* an address: checked against iPAddress, no SNI (RFC 6066) */
		ASN1_OCTET_STRING_free(ip);
		if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			cl->host))
			goto fail;
	} else if (!SSL_set_tlsext_host_name(ssl, cl->host) ||
	    !SSL_set1_host(ssl, cl->host))
		goto fail;
	return BIO_push(sbio, bio);
fail:
	ERR_clear_error();
	BIO_free(sbio);
	return NULL;
}

/* The TLS client context: TLS 1.2 or newer, the server certificate
 * verified against tls_trusted or the system store. Returns 1 or 0. */
static int
tls_setup(struct cmp_client *cl)
{
	if (cl->tls != NULL)
		return 1;
	if ((cl->tls = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !SSL_CTX_set_min_proto_version(cl->tls, TLS1_2_VERSION))
		return client_fail(cl, "cannot set up TLS");
	SSL_CTX_set_verify(cl->tls, SSL_VERIFY_PEER, NULL);
	if (cl->tls_trusted != NULL
		? SSL_CTX_load_verify_locations(cl->tls, cl->tls_trusted, NULL)
		: SSL_CTX_set_default_verify_paths(cl->tls))
		return 1;
	return client_fail(cl, "cannot load the TLS trust anchors %s",
	    cl->tls_trusted != NULL ? cl->tls_trusted : "(system)");
}

/* POSTs m to the peer and returns the decoded answer, or NULL. */
static CMP_MSG *
transfer(struct cmp_client *cl, const CMP_MSG *m)
{
	char *host = NULL, *port = NULL, *path = NULL;
	unsigned char *der = NULL, *buf = NULL;
	BIO *req = NULL, *resp = NULL;
	CMP_MSG *out = NULL;
	const char *why = NULL;
	int ssl = 0, len, n;
	size_t total = 0;

	if (!OSSL_HTTP_parse_url(cl->url, &ssl, NULL, &host, &port, NULL,
		&path, NULL, NULL)) {
		ERR_clear_error();
		client_fail(cl, "%s: not a URL", cl->url);
		goto out;
	}
	free(cl->host);
	if ((cl->host = strdup(host)) == NULL) {
		client_fail(cl, "out of memory");
		goto out;
	}
	if (ssl && !tls_setup(cl)) {
		log_openssl_errors(1);
		goto out;
	}
	if ((len = cmp_msg_encode(m, &der)) <= 0 ||
	    (req = BIO_new_mem_buf(der, len)) == NULL) {
		client_fail(cl, "cannot encode the request");
		goto out;
	}
	resp = OSSL_HTTP_transfer(NULL, host, port, path, ssl, NULL, NULL, NULL,
	    NULL, ssl ? tls_hook : NULL, cl, 0, NULL, "application/pkixcmp", req,
	    "application/pkixcmp", 1, CLIENT_MAX_RESPONSE, CLIENT_HTTP_TIMEOUT,
	    0);
	if (resp == NULL) {
		/* OpenSSL's queue says why (connection, TLS verification,
		 * HTTP status, content type): into the log. */
		log_openssl_errors(1);
		client_fail(cl, "%s: no CMP answer", cl->url);
		goto out;
	}
	if ((buf = malloc(CLIENT_MAX_RESPONSE)) == NULL) {
		client_fail(cl, "out of memory");
		goto out;
	}
	while (total < CLIENT_MAX_RESPONSE &&
	    (n = BIO_read(resp, buf + total,
		 (int)(CLIENT_MAX_RESPONSE - total))) > 0)
		total += (size_t)n;
	if ((out = cmp_msg_parse(buf, total, &why)) == NULL)
		client_fail(cl, "%s: %s", cl->url,
		    why != NULL ? why : "bad answer");
out:
	free(buf);
	BIO_free(resp);
	BIO_free(req);
	OPENSSL_free(der);
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	return out;
}

/*
 * Checks an answer: signed by the peer's pinned key, sender the peer,
 * same transaction, recipNonce our senderNonce, the expected body. An
 * error is reported with its text only once its signature and sender are
 * checked; an unsigned one with its status and bits alone. Records the
 * peer's nonce. Returns 1 or 0.
 */
static int
answer_check(struct cmp_client *cl, const CMP_MSG *a, int want)
{
	const CMP_HEADER *h = a->header;
	CMP_PROTECTEDPART pp;
	int ok, err = a->body->type == CMP_BODY_ERROR;

	if (h->protectionAlg == NULL || a->protection == NULL)
		ok = 0;
	else if (cl->ca == NULL && cmp_alg_is_pbm(h->protectionAlg))
		ok = client_mac_verify(cl, a);
	else {
		pp.header = a->header;
		pp.body = a->body;
		ERR_set_mark();
		ok = ASN1_item_verify(ASN1_ITEM_rptr(CMP_PROTECTEDPART),
		    h->protectionAlg, a->protection, &pp,
		    X509_get0_pubkey(cl->peer)) == 1;
		ERR_pop_to_mark();
	}
	/* MAC mode: the MAC is the authentication, whatever the name. */
	if (ok && cl->ca != NULL &&
	    (h->sender == NULL || h->sender->type != GEN_DIRNAME ||
	    X509_NAME_cmp(h->sender->d.directoryName,
		X509_get_subject_name(cl->peer)) != 0))
		return client_fail(cl,
		    "the answer's sender is not the partner CA");
	if (err && !(ok && cl->errors_ok))
		return client_fail_pkisi(cl,
		    ok ? "partner answered with an error"
		       : "partner answered with an error not signed by its CA "
			 "key (text not shown)",
		    a->body->value.error->pKIStatusInfo, ok);
	if (!ok)
		return client_fail(cl, "%s",
		    h->protectionAlg == NULL || a->protection == NULL
			? "the answer is not protected"
			: "the answer is not signed by the partner CA key");
	if (h->transactionID == NULL ||
	    h->transactionID->length != (int)sizeof(cl->txid) ||
	    memcmp(h->transactionID->data, cl->txid, sizeof(cl->txid)) != 0 ||
	    h->recipNonce == NULL ||
	    h->recipNonce->length != (int)sizeof(cl->nonce) ||
	    memcmp(h->recipNonce->data, cl->nonce, sizeof(cl->nonce)) != 0)
		return client_fail(cl,
		    "the answer belongs to another transaction");
	/* A pollReq is answered pollRep, or with the final ip/cp/kup
	 * (RFC 9483 §4.4). */
	if (a->body->type != want && !err &&
	    !(want == CMP_BODY_POLLREP && (a->body->type == CMP_BODY_IP ||
		a->body->type == CMP_BODY_CP || a->body->type == CMP_BODY_KUP)))
		return client_fail(cl, "expected %s, got %s",
		    cmp_body_name(want), cmp_body_name(a->body->type));
	if (h->senderNonce == NULL || h->senderNonce->length < 1 ||
	    (size_t)h->senderNonce->length > sizeof(cl->peer_nonce))
		return client_fail(cl,
		    "the answer has no usable senderNonce");
	memcpy(cl->peer_nonce, h->senderNonce->data,
	    (size_t)h->senderNonce->length);
	cl->peer_nonce_len = (size_t)h->senderNonce->length;
	return 1;
}

/* Body types that open a transaction (RFC 9810 §5.1.1: a new
 * transactionID); the others continue the current one. */
static int
starts_transaction(int type)
{
	switch (type) {
	case CMP_BODY_IR:
	case CMP_BODY_CR:
	case CMP_BODY_P10CR:
	case CMP_BODY_KUR:
	case CMP_BODY_CCR:
	case CMP_BODY_RR:
	case CMP_BODY_GENM:
	case CMP_BODY_NESTED: /* a one-message transaction of its own */
		return 1;
	default:
		return 0;
	}
}

/* See client.h. */
int
cmp_client_exchange(struct cmp_client *cl, CMP_BODY *body, int want,
    CMP_MSG **answer)
{
	CMP_MSG *m = NULL, *a = NULL;
	int type, ok = 0;

	*answer = NULL;
	cl->err[0] = '\0';
	if (body == NULL)
		return client_fail(cl, "no request to send");
	type = body->type;
	if (starts_transaction(type)) {
		if (RAND_bytes(cl->txid, sizeof(cl->txid)) != 1) {
			CMP_BODY_free(body);
			log_openssl_errors(1);
			return client_fail(cl, "cannot draw a transactionID");
		}
		cl->peer_nonce_len = 0;
	}
	if ((m = req_new(cl, body)) == NULL) {
		log_openssl_errors(1);
		client_fail(cl, "cannot build the %s", cmp_body_name(type));
		goto out;
	}
	if ((a = transfer(cl, m)) == NULL || !answer_check(cl, a, want))
		goto out;
	*answer = a; /* the caller's now */
	a = NULL;
	ok = 1;
out:
	CMP_MSG_free(m);
	CMP_MSG_free(a);
	return ok;
}

/* certConf for request 0 with the certificate's hash (RFC 9810 §5.3.18:
 * the digest of the certificate's signature algorithm). */
static CMP_BODY *
certconf_body(X509 *x)
{
	CMP_BODY *b = CMP_BODY_new();
	CMP_CERTSTATUS *cs = CMP_CERTSTATUS_new();
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mdlen = 0;
	int mdnid = NID_undef, len;
	const EVP_MD *h;

	if (b == NULL || cs == NULL ||
	    !OBJ_find_sigid_algs(X509_get_signature_nid(x), &mdnid, NULL) ||
	    (h = ca_md_fetch(mdnid)) == NULL ||
	    (len = i2d_X509(x, &der)) <= 0 ||
	    !EVP_Digest(der, (size_t)len, md, &mdlen, h, NULL) ||
	    !ASN1_OCTET_STRING_set(cs->certHash, md, (int)mdlen) ||
	    !ASN1_INTEGER_set(cs->certReqId, 0))
		goto fail;
	OPENSSL_free(der);
	b->type = CMP_BODY_CERTCONF;
	if ((b->value.certConf = sk_CMP_CERTSTATUS_new_null()) == NULL ||
	    !sk_CMP_CERTSTATUS_push(b->value.certConf, cs))
		goto fail;
	return b;
fail:
	OPENSSL_free(der);
	CMP_CERTSTATUS_free(cs);
	CMP_BODY_free(b);
	return NULL;
}

/* See client.h. */
int
cmp_client_confirm(struct cmp_client *cl, X509 *x)
{
	CMP_BODY *b;
	CMP_MSG *a = NULL;
	int ok;

	if ((b = certconf_body(x)) == NULL) {
		log_openssl_errors(1);
		return client_fail(cl, "cannot build the certConf");
	}
	ok = cmp_client_exchange(cl, b, CMP_BODY_PKICONF, &a);
	CMP_MSG_free(a);
	return ok;
}
