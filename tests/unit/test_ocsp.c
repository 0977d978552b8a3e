/*
 * test_ocsp.c - the OCSP responder's decoder (ca/status/ocsp.c), before any
 * database or HSM access: hostile requests get malformedRequest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ocsp.h>

#include "ca/ca.h"
#include "ca/status/status.h"
#include "tests/unit/unitlib.h"

/*
 * The responder's decoder, before any database or HSM access: every
 * hostile request gets malformedRequest (30 03 0a 01 01), HTTP 200.
 */
static OCSP_REQUEST *
ocsp_req_new(int ncerts, int nonce_len, int nonces)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	X509_NAME *name = name_new(CA_CN);
	ASN1_BIT_STRING *key = ASN1_BIT_STRING_new();
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	unsigned char nonce[64];
	int i;

	assert_true(req != NULL && key != NULL && serial != NULL);
	EQ(ASN1_BIT_STRING_set(key, (unsigned char *)"key", 3), 1);
	for (i = 0; i < ncerts; i++) {
		OCSP_CERTID *id;

		EQ(ASN1_INTEGER_set(serial, i + 1), 1);
		id = OCSP_cert_id_new(EVP_sha1(), name, key, serial);
		assert_non_null(id);
		assert_non_null(OCSP_request_add0_id(req, id));
	}
	memset(nonce, 0x5a, sizeof(nonce));
	if (nonces > 0)
		EQ(OCSP_request_add1_nonce(req, nonce, nonce_len), 1);
	/* add1_nonce replaces: a second one is a copy of the first. */
	for (i = 1; i < nonces; i++)
		EQ(OCSP_REQUEST_add_ext(req, OCSP_REQUEST_get_ext(req, 0), -1),
		    1);
	X509_NAME_free(name);
	ASN1_BIT_STRING_free(key);
	ASN1_INTEGER_free(serial);
	return req;
}

static void
ocsp_expect_malformed(struct ocsp_srv *s, const unsigned char *der,
    size_t len)
{
	static const unsigned char want[] = { 0x30, 0x03, 0x0a, 0x01, 0x01 };
	unsigned char *resp = NULL;
	size_t resp_len = 0;

	EQ(ocsp_srv_process(s, der, len, &resp, &resp_len), 200);
	assert_non_null(resp);
	EQ(resp_len, sizeof(want));
	assert_memory_equal(resp, want, sizeof(want));
	OPENSSL_free(resp);
}

/* Encodes req (freed) into a malloc'ed buffer with room for one more
 * byte. */
static unsigned char *
ocsp_req_der(OCSP_REQUEST *req, size_t *len)
{
	unsigned char *der = NULL, *buf;
	int n = i2d_OCSP_REQUEST(req, &der);

	assert_true(n > 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	memcpy(buf, der, (size_t)n);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	*len = (size_t)n;
	return buf;
}

static void
test_ocsp_malformed(void **state)
{
	struct ocsp_srv *s = ocsp_srv_new(NULL, NULL, NULL);
	unsigned char junk[300], *der;
	size_t len, i;

	(void)state;
	assert_non_null(s);
	log_init("test_ocsp", 0, LOG_LVL_WARN); /* one line per request */
	ocsp_expect_malformed(s, NULL, 0);
	ocsp_expect_malformed(s, junk, 0);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 37 + 11);
	ocsp_expect_malformed(s, junk, sizeof(junk));
	junk[0] = 0x30;
	junk[1] = 0x80; /* indefinite length, then nothing sensible */
	ocsp_expect_malformed(s, junk, sizeof(junk));
	ocsp_expect_malformed(s, junk, CA_MAX_OCSP_REQUEST + 1);

	/* Trailing byte, and each truncation of a valid request. */
	der = ocsp_req_der(ocsp_req_new(1, 16, 1), &len);
	der[len] = 0;
	ocsp_expect_malformed(s, der, len + 1);
	for (i = 0; i < len; i++)
		ocsp_expect_malformed(s, der, i);
	free(der);
	/* No request, 17 requests (16 is the bound). */
	der = ocsp_req_der(ocsp_req_new(0, 16, 1), &len);
	ocsp_expect_malformed(s, der, len);
	free(der);
	der = ocsp_req_der(ocsp_req_new(CA_MAX_OCSP_CERTS + 1, 16, 1), &len);
	ocsp_expect_malformed(s, der, len);
	free(der);
	/* A nonce of 33 octets (RFC 8954 §2.1), and two nonces. */
	der = ocsp_req_der(ocsp_req_new(1, CA_MAX_OCSP_NONCE + 1, 1), &len);
	ocsp_expect_malformed(s, der, len);
	free(der);
	der = ocsp_req_der(ocsp_req_new(1, 16, 2), &len);
	ocsp_expect_malformed(s, der, len);
	free(der);
	ocsp_srv_free(s);
	ocsp_srv_free(NULL);
	log_init("test_ocsp", 0, LOG_LVL_INFO);
}

/*
 * The answer cache keeps several questions whose digests choose the same
 * set (ocsp_cache.c): asked in turn, each is answered from the cache; one
 * more than the set holds replaces the entry that expires first.
 */
static void
test_ocsp_cache_set(void **state)
{
	struct ocsp_cache *c = ocsp_cache_new();
	unsigned char req[CA_OCSP_CACHE_WAYS + 1][32], st[32] = {0};
	unsigned char der[1] = {0x30};
	const void *signer = &der;
	size_t len = 0;
	int i, round;

	(void)state;
	assert_non_null(c);
	for (i = 0; i <= CA_OCSP_CACHE_WAYS; i++) {
		memset(req[i], 0, sizeof(req[i]));
		req[i][0] = 0x12; /* one set for all */
		req[i][1] = 0x34;
		req[i][31] = (unsigned char)(i + 1);
	}
	for (i = 0; i < CA_OCSP_CACHE_WAYS; i++)
		ocsp_cache_put(c, req[i], st, signer, 1000 + i, der, 1);
	for (round = 0; round < 3; round++)
		for (i = 0; i < CA_OCSP_CACHE_WAYS; i++)
			assert_non_null(ocsp_cache_get(c, req[i], st, signer,
			    10, &len));
	assert_int_equal(len, 1);
	/* Expired, another status, another signer: a miss. */
	assert_null(ocsp_cache_get(c, req[0], st, signer, 1000, &len));
	st[0] = 1;
	assert_null(ocsp_cache_get(c, req[1], st, signer, 10, &len));
	st[0] = 0;
	assert_null(ocsp_cache_get(c, req[1], st, &len, 10, &len));
	/* One more: the entry that expires first (req[0]) gives way. */
	ocsp_cache_put(c, req[CA_OCSP_CACHE_WAYS], st, signer, 2000, der, 1);
	assert_null(ocsp_cache_get(c, req[0], st, signer, 10, &len));
	for (i = 1; i <= CA_OCSP_CACHE_WAYS; i++)
		assert_non_null(ocsp_cache_get(c, req[i], st, signer, 10,
		    &len));
	ocsp_cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest ocsp[] = {
		cmocka_unit_test(test_ocsp_malformed),
		cmocka_unit_test(test_ocsp_cache_set),
	};

	return cmocka_run_group_tests_name("ocsp", ocsp, NULL, NULL) != 0;
}
