/*
 * fuzz_client - libFuzzer target: the CMP client (ca/client/) reading a
 * partner's answers: the HTTP transfer, cmp_msg_parse, answer_check
 * (signature by the pinned partner key, sender, transactionID,
 * recipNonce, body type, senderNonce), error bodies with their PKISI
 * text, and client_ccr.c's ccp checks (one response, status, certReqId,
 * a CA certificate for our name and key signed by the partner), then the
 * certConf/pkiConf exchange.
 *
 * A thread plays the partner on 127.0.0.1 (an ephemeral port): to the
 * ccr it answers with the input as a PKIMessage, to the certConf with a
 * valid pkiConf. Both CAs are software keys made here. So that inputs get
 * past the first checks, the partner repairs the input unless a bit of
 * its last byte says not to: bit 0 the header (our transactionID and
 * nonce, its name as sender), bit 1 the certificate of a cp/ip/kup/ccp
 * (issued by it for our name and key, CA:TRUE, signed again), bit 2 the
 * body type (a CertRepMessage becomes a ccp), bit 3 the signature over
 * the message. The mutator is cmp_mutate's.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/client/client.h"
#include "ca/issue/issue.h"
#include "tests/fuzz/cmp_mutate.h"

#define MAX_HTTP (64 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed);

static struct ca_ident ours;
static X509 *peer;
static EVP_PKEY *peer_key;
static int lfd = -1;
static char url[64];
/* The input the partner answers with (set before each exchange). */
static const uint8_t *in_data;
static size_t in_size;

/* A self-signed CA certificate for name and key. */
static X509 *
ca_cert(const char *name, EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *n = ca_name_parse(name);
	X509_EXTENSION *e = NULL;
	X509V3_CTX ctx;
	int ok;

	ok = x != NULL && n != NULL && X509_set_version(x, X509_VERSION_3) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
	    X509_set_issuer_name(x, n) && X509_set_subject_name(x, n) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 3650) != NULL &&
	    X509_set_pubkey(x, key);
	if (ok) {
		X509V3_set_ctx_nodb(&ctx);
		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		ok = (e = X509V3_EXT_nconf(NULL, &ctx, "basicConstraints",
		    "critical,CA:TRUE")) != NULL && X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		ok = ok && (e = X509V3_EXT_nconf(NULL, &ctx,
		    "subjectKeyIdentifier", "hash")) != NULL &&
		    X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
	}
	X509_NAME_free(n);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The CertRepMessage of a cp/ip/kup/ccp, or NULL. */
static CMP_CERTREPMESSAGE *
certrep(CMP_MSG *a)
{
	switch (a->body->type) {
	case CMP_BODY_IP:
	case CMP_BODY_CP:
	case CMP_BODY_KUP:
	case CMP_BODY_CCP:
		return a->body->value.ccp;
	default:
		return NULL;
	}
}

/* Makes the first certificate of rep one the partner issued to us. */
static void
fix_cert(CMP_CERTREPMESSAGE *rep)
{
	CMP_CERTRESPONSE *r;
	X509 *x;
	int i;

	if (sk_CMP_CERTRESPONSE_num(rep->response) < 1)
		return;
	r = sk_CMP_CERTRESPONSE_value(rep->response, 0);
	if (r->certifiedKeyPair == NULL ||
	    r->certifiedKeyPair->certOrEncCert->type != 0)
		return;
	x = r->certifiedKeyPair->certOrEncCert->value.certificate;
	(void)X509_set_issuer_name(x, X509_get_subject_name(peer));
	(void)X509_set_subject_name(x, X509_get_subject_name(ours.cert));
	(void)X509_set_pubkey(x, ours.key);
	if ((i = X509_get_ext_by_NID(x, NID_basic_constraints, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	{
		BASIC_CONSTRAINTS bc = { .ca = 0xff, .pathlen = NULL };

		(void)X509_add1_ext_i2d(x, NID_basic_constraints, &bc, 1, 0);
	}
	(void)X509_sign(x, peer_key, EVP_sha256());
}

/* Signs a (header and body) with the partner's key. */
static void
sign(CMP_MSG *a)
{
	CMP_PROTECTEDPART pp = { .header = a->header, .body = a->body };

	if (a->protection == NULL &&
	    (a->protection = ASN1_BIT_STRING_new()) == NULL)
		return;
	X509_ALGOR_free(a->header->protectionAlg);
	if ((a->header->protectionAlg = X509_ALGOR_new()) == NULL)
		return;
	(void)ASN1_item_sign(ASN1_ITEM_rptr(CMP_PROTECTEDPART),
	    a->header->protectionAlg, NULL, a->protection, &pp, peer_key,
	    EVP_sha256());
}

/* The answer to req: the input repaired as its last byte says, or for a
 * certConf a pkiConf. DER into *out (OPENSSL_free), length or 0. */
static int
answer(const CMP_MSG *req, unsigned char **out)
{
	const unsigned char *p = in_data;
	unsigned fix = in_size > 0 ? in_data[in_size - 1] : 0;
	CMP_CERTREPMESSAGE *rep;
	CMP_MSG *a;
	int len;

	*out = NULL;
	if (req->body->type == CMP_BODY_CERTCONF) {
		fix = 0;
		if ((a = CMP_MSG_new()) == NULL)
			return 0;
		a->body->type = CMP_BODY_PKICONF;
		a->body->value.pkiconf = ASN1_NULL_new();
	} else if ((a = d2i_CMP_MSG(NULL, &p, (long)in_size)) == NULL) {
		/* Not a message: the bytes as they are. */
		if ((*out = OPENSSL_memdup(in_data, in_size)) == NULL)
			return 0;
		return (int)in_size;
	}
	if (!(fix & 1)) {
		ASN1_OCTET_STRING_free(a->header->transactionID);
		a->header->transactionID =
		    ASN1_OCTET_STRING_dup(req->header->transactionID);
		ASN1_OCTET_STRING_free(a->header->recipNonce);
		a->header->recipNonce =
		    ASN1_OCTET_STRING_dup(req->header->senderNonce);
		if (a->header->senderNonce == NULL)
			a->header->senderNonce =
			    ASN1_OCTET_STRING_dup(req->header->senderNonce);
		GENERAL_NAME_free(a->header->sender);
		if ((a->header->sender = GENERAL_NAME_new()) != NULL)
			GENERAL_NAME_set0_value(a->header->sender,
			    GEN_DIRNAME,
			    X509_NAME_dup(X509_get_subject_name(peer)));
	}
	if (!(fix & 4) && certrep(a) != NULL)
		a->body->type = CMP_BODY_CCP;
	if (!(fix & 2) && (rep = certrep(a)) != NULL)
		fix_cert(rep);
	if (!(fix & 8))
		sign(a);
	len = i2d_CMP_MSG(a, out);
	CMP_MSG_free(a);
	return len > 0 ? len : 0;
}

/* Reads one HTTP request (headers, Content-Length body) from fd. */
static CMP_MSG *
read_request(int fd, unsigned char *buf)
{
	size_t got = 0;
	const unsigned char *body;
	const char *why, *cl;
	char *end;
	long n;
	ssize_t r;

	while (got < MAX_HTTP - 1 &&
	    (r = read(fd, buf + got, MAX_HTTP - 1 - got)) > 0) {
		got += (size_t)r;
		buf[got] = '\0';
		if ((end = strstr((char *)buf, "\r\n\r\n")) == NULL)
			continue;
		if ((cl = strcasestr((char *)buf, "Content-Length:")) == NULL)
			return NULL;
		n = strtol(cl + 15, NULL, 10);
		body = (unsigned char *)end + 4;
		if (n < 0 || n > MAX_HTTP)
			return NULL;
		if ((size_t)(body - buf) + (size_t)n <= got)
			return cmp_msg_parse(body, (size_t)n, &why);
	}
	return NULL;
}

static void *
partner(void *arg)
{
	unsigned char *buf = malloc(MAX_HTTP), *der;
	char head[160];
	CMP_MSG *req;
	int fd, len;

	(void)arg;
	if (buf == NULL)
		abort();
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			continue;
		if ((req = read_request(fd, buf)) != NULL &&
		    (len = answer(req, &der)) > 0) {
			snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\n"
			    "Content-Type: application/pkixcmp\r\n"
			    "Content-Length: %d\r\n\r\n", len);
			if (write(fd, head, strlen(head)) < 0 ||
			    write(fd, der, (size_t)len) < 0)
				(void)0; /* the client sees a short answer */
			OPENSSL_free(der);
		}
		CMP_MSG_free(req);
		close(fd);
	}
	return NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	pthread_t th;
	EVP_PKEY *key;
	X509 *cert;

	(void)argc;
	(void)argv;
	log_init("fuzz_client", getenv("CMPCA_FUZZ_VERBOSE") == NULL,
	    LOG_LVL_ERR);
	if ((key = EVP_EC_gen("P-256")) == NULL ||
	    (cert = ca_cert("/O=cmpca fuzz/CN=Our CA", key)) == NULL ||
	    (peer_key = EVP_EC_gen("P-256")) == NULL ||
	    (peer = ca_cert("/O=cmpca fuzz/CN=Partner CA", peer_key)) == NULL)
		abort();
	cert_issuer_init(&ours, "fuzz", cert, key);
	if ((ours.chain = sk_X509_new_null()) == NULL ||
	    !X509_up_ref(cert) || !sk_X509_push(ours.chain, cert))
		abort();
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 8) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
		abort();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/.well-known/cmp",
	    ntohs(sa.sin_port));
	if (pthread_create(&th, NULL, partner, NULL) != 0)
		abort();
	return 0;
}

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed)
{
	return cmp_mutate(data, size, max, seed);
}

static int
one_input(const uint8_t *data, size_t size)
{
	struct cmp_client *cl;
	X509 *cross = NULL;
	int ok;

	if (size == 0)
		return 0;
	in_data = data;
	in_size = size;
	if ((cl = cmp_client_new(&ours, peer, url, NULL)) == NULL)
		abort();
	ok = cmp_client_ccr(cl, 30, &cross);
	if (getenv("CMPCA_FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_client: %s\n", ok ? "cross certificate"
		    : cmp_client_error(cl));
	/* Success means a certificate; failure a reason. */
	if (ok ? cross == NULL : cmp_client_error(cl)[0] == '\0')
		abort();
	if (ok && (X509_verify(cross, X509_get0_pubkey(peer)) != 1 ||
	    X509_check_ca(cross) < 1))
		abort();
	X509_free(cross);
	cmp_client_free(cl);
	return 0;
}

/*
 * One input, then this thread's OpenSSL error queue emptied: OpenSSL 3.0
 * copies each queued error's file and function name to the heap and
 * frees them only when the entry is overwritten, by a later input. Left
 * queued, they made inputs end with more allocations than frees, and
 * libFuzzer answers that with a second run and a LeakSanitizer pass
 * over the whole heap (docs/hacking.md, "Fuzzing").
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)one_input(data, size);
	ERR_clear_error();
	return 0;
}
