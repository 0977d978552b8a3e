/*
 * test_hdr.c - PKIHeader checks and response headers (ca/cmp/cmp_hdr.c,
 * RFC 9810 §5.1.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/objects.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "tests/unit/unitlib.h"

/* PKIHeader (RFC 9810 §5.1.1). */

enum hdr_mut { M_PVNO, M_TXID, M_NONCE, M_TIME, M_RECIP, M_RECIP_URI };

static void
hdr_mutate(CMP_HEADER *h, enum hdr_mut mut, long arg, const char *cn)
{
	ASN1_IA5STRING *uri;

	switch (mut) {
	case M_PVNO:
		EQ(ASN1_INTEGER_set(h->pvno, arg), 1);
		break;
	case M_TXID: /* arg < 0: absent */
		ASN1_OCTET_STRING_free(h->transactionID);
		h->transactionID = arg < 0 ? NULL : octets_new((int)arg, 7);
		break;
	case M_NONCE:
		ASN1_OCTET_STRING_free(h->senderNonce);
		h->senderNonce = arg < 0 ? NULL : octets_new((int)arg, 7);
		break;
	case M_TIME:
		assert_non_null(
		    ASN1_GENERALIZEDTIME_set(h->messageTime, time(NULL) + arg));
		break;
	case M_RECIP:
		GENERAL_NAME_free(h->recipient);
		h->recipient = gn_dir(cn);
		break;
	case M_RECIP_URI:
		assert_non_null(uri = ASN1_IA5STRING_new());
		EQ(ASN1_STRING_set(uri, "http://ca.example", -1), 1);
		GENERAL_NAME_free(h->recipient);
		assert_non_null(h->recipient = GENERAL_NAME_new());
		GENERAL_NAME_set0_value(h->recipient, GEN_URI, uri);
		break;
	}
}

static void
test_hdr_check(void **state)
{
	static const struct {
		const char *name;
		enum hdr_mut mut;
		long arg;
		const char *cn;
		int fail; /* CMP_FAIL_NONE: accepted */
	} cases[] = {
		{ "pvno 1", M_PVNO, 1, NULL, CMP_FAIL_UNSUPPORTED_VERSION },
		{ "pvno 99", M_PVNO, 99, NULL, CMP_FAIL_UNSUPPORTED_VERSION },
		{ "pvno 2", M_PVNO, 2, NULL, CMP_FAIL_NONE },
		{ "pvno 3", M_PVNO, 3, NULL, CMP_FAIL_NONE },
		{ "no txid", M_TXID, -1, NULL, CMP_FAIL_BAD_REQUEST },
		{ "65-byte txid", M_TXID, 65, NULL, CMP_FAIL_BAD_REQUEST },
		{ "64-byte txid", M_TXID, 64, NULL, CMP_FAIL_NONE },
		{ "no nonce", M_NONCE, -1, NULL, CMP_FAIL_BAD_SENDER_NONCE },
		{ "4-byte nonce", M_NONCE, 4, NULL, CMP_FAIL_BAD_SENDER_NONCE },
		{ "8-byte nonce", M_NONCE, 8, NULL, CMP_FAIL_NONE },
		{ "time +1h", M_TIME, 3600, NULL, CMP_FAIL_BAD_TIME },
		{ "time -1h", M_TIME, -3600, NULL, CMP_FAIL_BAD_TIME },
		{ "time +1d", M_TIME, 86400, NULL, CMP_FAIL_BAD_TIME },
		{ "time -60s", M_TIME, -60, NULL, CMP_FAIL_NONE },
		{ "other CA", M_RECIP, 0, "Other CA",
		    CMP_FAIL_WRONG_AUTHORITY },
		{ "NULL-DN recipient", M_RECIP, 0, NULL, CMP_FAIL_NONE },
		{ "this CA", M_RECIP, 0, CA_CN, CMP_FAIL_NONE },
		{ "URI recipient", M_RECIP_URI, 0, NULL, CMP_FAIL_BAD_REQUEST },
	};
	X509_NAME *ca = name_new(CA_CN);
	CMP_HEADER *h;
	const char *why;
	size_t i, bad = 0;
	int rc, fail, want;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		h = hdr_new();
		hdr_mutate(h, cases[i].mut, cases[i].arg, cases[i].cn);
		fail = CMP_FAIL_NONE;
		why = NULL;
		rc = cmp_hdr_check(h, ca, CA_MAX_CLOCK_SKEW, &fail, &why);
		CMP_HEADER_free(h);
		want = cases[i].fail == CMP_FAIL_NONE;
		if (rc != want ||
		    (!want && (fail != cases[i].fail || why == NULL))) {
			print_error("%s: rc %d fail %d, want fail %d\n",
			    cases[i].name, rc, fail, cases[i].fail);
			bad++;
		}
	}
	X509_NAME_free(ca);
	EQ(bad, 0);
}

static void
hdr_add_itav(CMP_HEADER *h, ASN1_OBJECT *obj)
{
	CMP_ITAV *itav = CMP_ITAV_new();

	assert_true(itav != NULL && obj != NULL);
	itav->infoType = obj;
	if (h->generalInfo == NULL)
		h->generalInfo = sk_CMP_ITAV_new_null();
	assert_true(sk_CMP_ITAV_push(h->generalInfo, itav) > 0);
}

static void
test_hdr_pvno_implicit_confirm(void **state)
{
	CMP_HEADER *h = hdr_new();

	(void)state;
	EQ(cmp_hdr_pvno(h), 2);
	hdr_mutate(h, M_PVNO, 3, NULL);
	EQ(cmp_hdr_pvno(h), 3);
	hdr_mutate(h, M_PVNO, 99, NULL);
	EQ(cmp_hdr_pvno(h), 2);
	EQ(cmp_hdr_pvno(NULL), 2);
	EQ(cmp_hdr_implicit_confirm(h), 0);
	/* id-it-certProfile (RFC 9480 §4.1.4) is not implicitConfirm. */
	hdr_add_itav(h, OBJ_txt2obj("1.3.6.1.5.5.7.4.21", 1));
	EQ(cmp_hdr_implicit_confirm(h), 0);
	hdr_add_itav(h, OBJ_nid2obj(NID_id_it_implicitConfirm));
	EQ(cmp_hdr_implicit_confirm(h), 1);
	CMP_HEADER_free(h);
}

static void
test_hdr_response(void **state)
{
	unsigned char nonce[CA_NONCE_LEN], *der = NULL;
	X509_NAME *ca = name_new(CA_CN);
	CMP_HEADER *req = hdr_new(), *h;
	int mac;

	(void)state;
	memset(nonce, 0x5a, sizeof(nonce));
	hdr_mutate(req, M_PVNO, 3, NULL);
	req->protectionAlg =
	    pbm_alg_new(NID_sha256, NID_hmacWithSHA256, 500, 16);
	req->senderKID = octets_new(9, 'k');
	for (mac = 0; mac <= 1; mac++) {
		h = cmp_hdr_response(
		    req, ca, cmp_hdr_pvno(req), mac, mac, nonce);
		assert_non_null(h);
		EQ(ASN1_INTEGER_get(h->pvno), 3);
		EQ(ASN1_OCTET_STRING_cmp(h->recipNonce, req->senderNonce), 0);
		EQ(ASN1_OCTET_STRING_cmp(h->transactionID, req->transactionID),
		    0);
		EQ(h->senderNonce->length, CA_NONCE_LEN);
		assert_memory_equal(h->senderNonce->data, nonce, CA_NONCE_LEN);
		EQ(h->sender->type, GEN_DIRNAME);
		EQ(X509_NAME_cmp(h->sender->d.directoryName, ca), 0);
		EQ(GENERAL_NAME_cmp(h->recipient, req->sender), 0);
		assert_non_null(h->messageTime);
		EQ(h->protectionAlg != NULL, mac);
		EQ(h->senderKID != NULL, mac);
		if (mac) {
			EQ(X509_ALGOR_cmp(h->protectionAlg, req->protectionAlg),
			    0);
			EQ(ASN1_OCTET_STRING_cmp(h->senderKID, req->senderKID),
			    0);
		}
		EQ(cmp_hdr_implicit_confirm(h), mac);
		assert_true(i2d_CMP_HEADER(h, &der) > 0);
		OPENSSL_free(der);
		der = NULL;
		CMP_HEADER_free(h);
	}
	CMP_HEADER_free(req);
	X509_NAME_free(ca);
}

/*
 * With no decodable request the recipient is unknown, which RFC 9810
 * §5.1.1 writes as the NULL-DN; the CA must not address the answer to
 * itself.
 */
static void
test_hdr_response_no_request(void **state)
{
	unsigned char nonce[CA_NONCE_LEN] = { 0 };
	X509_NAME *ca = name_new(CA_CN);
	CMP_HEADER *h = cmp_hdr_response(NULL, ca, 2, 0, 0, nonce);
	int type, entries = -1;

	(void)state;
	X509_NAME_free(ca);
	assert_non_null(h);
	type = h->recipient->type;
	if (type == GEN_DIRNAME)
		entries = X509_NAME_entry_count(h->recipient->d.directoryName);
	assert_true(h->transactionID == NULL && h->recipNonce == NULL);
	CMP_HEADER_free(h);
	EQ(type, GEN_DIRNAME);
	EQ(entries, 0);
}

int
main(void)
{
	const struct CMUnitTest hdr[] = {
		cmocka_unit_test(test_hdr_check),
		cmocka_unit_test(test_hdr_pvno_implicit_confirm),
		cmocka_unit_test(test_hdr_response),
		cmocka_unit_test(test_hdr_response_no_request),
	};

	return cmocka_run_group_tests_name("hdr", hdr, NULL, NULL) != 0;
}
