/*
 * test_protect.c - PBM (RFC 4211 §4.4) and PBMAC1 (RFC 9481 §6.1.3) protection
 * (ca/cmp/cmp_protect.c): cross-checked with OpenSSL's OSSL_CRMF_pbm_new,
 * and the parameter sets that are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "tests/unit/unitlib.h"

/* PBM (RFC 4211 §4.4). */

/* A pkiconf whose protectionAlg is alg (taken). */
static CMP_MSG *
pbm_msg_new(X509_ALGOR *alg)
{
	CMP_MSG *m = CMP_MSG_new();

	assert_non_null(m);
	CMP_HEADER_free(m->header);
	m->header = hdr_new();
	m->header->protectionAlg = alg;
	m->header->senderKID = octets_new(6, 'k');
	m->body->type = CMP_BODY_PKICONF;
	m->body->value.pkiconf = ASN1_NULL_new();
	return m;
}

/* cmp_pbm_derive; a rejection without a reason counts as -2. */
static int
derive(const X509_ALGOR *alg, const char *secret, long max_iter,
    struct cmp_mac *mac, int *fail)
{
	const char *why = NULL;
	int rc;

	*fail = CMP_FAIL_NONE;
	rc = cmp_pbm_derive(alg, (const unsigned char *)secret, strlen(secret),
	    max_iter, mac, fail, &why);
	return rc != 1 && why == NULL ? -2 : rc;
}

/* OpenSSL's MAC for m: OSSL_CRMF_pbm_new over DER(ProtectedPart). */
static void
pbm_expected(const CMP_MSG *m, unsigned char **out, size_t *outlen)
{
	const ASN1_TYPE *param = m->header->protectionAlg->parameter;
	const ASN1_STRING *seq = param->value.sequence;
	const unsigned char *p = seq->data;
	OSSL_CRMF_PBMPARAMETER *pbmp;
	CMP_PROTECTEDPART pp;
	unsigned char *der = NULL;
	int len, ok;

	assert_non_null(
	    pbmp = d2i_OSSL_CRMF_PBMPARAMETER(NULL, &p, seq->length));
	pp.header = m->header;
	pp.body = m->body;
	assert_true((len = i2d_CMP_PROTECTEDPART(&pp, &der)) > 0);
	ok = OSSL_CRMF_pbm_new(NULL, NULL, pbmp, der, (size_t)len,
	    (const unsigned char *)SECRET, strlen(SECRET), out, outlen);
	OPENSSL_free(der);
	OSSL_CRMF_PBMPARAMETER_free(pbmp);
	if (ok != 1) {
		ERR_print_errors_fp(stderr);
		fail_msg("OSSL_CRMF_pbm_new failed");
	}
}

static struct pbm_set {
	int owf, mac;
	size_t mac_len;
} pbm_sets[] = {
	{ NID_sha256, NID_hmac_sha1, 20 },
	{ NID_sha256, NID_hmacWithSHA256, 32 },
	{ NID_sha1, NID_hmacWithSHA512, 64 },
};

/* A self-signed certificate for extraCerts (content does not matter). */
static X509 *
extra_cert(const char *cn)
{
	X509 *x = X509_new();
	EVP_PKEY *k = EVP_EC_gen("P-256");

	assert_non_null(x);
	assert_non_null(k);
	assert_true(X509_set_version(x, X509_VERSION_3) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 7) &&
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
		MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
	    X509_set_issuer_name(x, X509_get_subject_name(x)) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) != NULL &&
	    X509_set_pubkey(x, k) && X509_sign(x, k, EVP_sha256()) > 0);
	EVP_PKEY_free(k);
	return x;
}

/*
 * Protect, compare with OpenSSL, then verify what arrives on the wire:
 * intact (1), one protection bit flipped (0), wrong secret (0).
 * OSSL_CRMF_pbm_new refuses fewer than 100 iterations (RFC 4211 §4.4).
 */
static void
test_pbm_crosscheck(void **state)
{
	static const long iters[] = { 100, 500, 2047 };
	const struct pbm_set *s = *state; /* from the CMUnitTest entry */
	unsigned char *der = NULL, *want = NULL, *ref = NULL;
	const unsigned char *pp;
	struct cmp_mac mac, wrong;
	const char *why;
	CMP_MSG *m, *m2;
	size_t i, want_len = 0, pp_len;
	int fail, len, ref_len;

	for (i = 0; i < NELEM(iters); i++) {
		m = pbm_msg_new(pbm_alg_new(s->owf, s->mac, iters[i], 16));
		if (i > 0) { /* the kept encoding with extraCerts too */
			assert_non_null(m->extraCerts = sk_X509_new_null());
			assert_true(sk_X509_push(m->extraCerts, extra_cert("one")));
		}
		EQ(derive(m->header->protectionAlg, SECRET,
		       CA_DEFAULT_PBM_MAX_ITER, &mac, &fail),
		    1);
		EQ(cmp_pbm_protect(m, &mac), 1);
		cmp_mac_clear(&mac);
		/* extraCerts are outside the protection: responses get theirs
		 * after it. */
		if (i > 1)
			assert_true(sk_X509_push(m->extraCerts, extra_cert("two")));
		pbm_expected(m, &want, &want_len);
		EQ(want_len, s->mac_len);
		EQ(m->protection->length, (int)want_len);
		assert_memory_equal(m->protection->data, want, want_len);
		OPENSSL_free(want);

		/* The encoding kept by the protection is the message's. */
		assert_true((ref_len = i2d_CMP_MSG(m, &ref)) > 0);
		assert_true((len = cmp_msg_encode_protected(m, &der)) > 0);
		EQ(len, ref_len);
		assert_memory_equal(der, ref, (size_t)len);
		OPENSSL_free(ref);
		ref = NULL;
		CMP_MSG_free(m);
		m2 = cmp_msg_parse(der, (size_t)len, &why);
		assert_non_null(m2);
		assert_true(cmp_pp_slice(der, (size_t)len, &pp, &pp_len));
		EQ(derive(m2->header->protectionAlg, SECRET,
		       CA_DEFAULT_PBM_MAX_ITER, &mac, &fail),
		    1);
		EQ(derive(m2->header->protectionAlg, SECRET "x",
		       CA_DEFAULT_PBM_MAX_ITER, &wrong, &fail),
		    1);
		EQ(cmp_pbm_verify(m2, &mac, NULL, 0), 1);
		EQ(cmp_pbm_verify(m2, &mac, pp, pp_len), 1);
		EQ(cmp_pbm_verify(m2, &wrong, pp, pp_len), 0);
		/* Bytes on the wire that are not the DER the MAC is over
		 * (as from a BER sender): the re-encoding decides. */
		der[pp - der + pp_len - 1] ^= 0x01;
		EQ(cmp_pbm_verify(m2, &mac, pp, pp_len), 1);
		der[pp - der + pp_len - 1] ^= 0x01;
		m2->protection->data[m2->protection->length - 1] ^= 0x01;
		EQ(cmp_pbm_verify(m2, &mac, NULL, 0), 0);
		EQ(cmp_pbm_verify(m2, &mac, pp, pp_len), 0);
		OPENSSL_free(der);
		cmp_mac_clear(&mac);
		cmp_mac_clear(&wrong);
		CMP_MSG_free(m2);
	}
}

/* Derives with alg (freed); returns rc and fails unless the reason is
 * given and the key wiped. */
static int
derive_free(X509_ALGOR *alg, long max_iter, int *fail)
{
	struct cmp_mac mac;
	int rc = derive(alg, SECRET, max_iter, &mac, fail);

	X509_ALGOR_free(alg);
	if (rc != 1)
		EQ(mac.key_len, 0);
	cmp_mac_clear(&mac);
	return rc;
}

static void
test_pbm_reject(void **state)
{
	/* SEQUENCE { INTEGER 5 }: not a PBMParameter. */
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	static const struct {
		const char *name;
		int owf, mac, salt;
		long iter, max_iter;
		int rc, fail;
	} cases[] = {
		{ "iter at max", NID_sha256, NID_hmacWithSHA256, 16, 2047, 2047,
		    1, CMP_FAIL_NONE },
		{ "iter above max", NID_sha256, NID_hmacWithSHA256, 16, 2048,
		    2047, 0, CMP_FAIL_BAD_REQUEST },
		{ "iter 0", NID_sha256, NID_hmacWithSHA256, 16, 0, 2047, 0,
		    CMP_FAIL_BAD_REQUEST },
		{ "iter -5", NID_sha256, NID_hmacWithSHA256, 16, -5, 2047, 0,
		    CMP_FAIL_BAD_REQUEST },
		{ "owf md5", NID_md5, NID_hmacWithSHA256, 16, 500, 2047, 0,
		    CMP_FAIL_BAD_ALG },
		{ "mac hmac-md5", NID_sha256, NID_hmac_md5, 16, 500, 2047, 0,
		    CMP_FAIL_BAD_ALG },
		{ "mac sha256", NID_sha256, NID_sha256, 16, 500, 2047, 0,
		    CMP_FAIL_BAD_ALG },
		{ "salt too long", NID_sha256, NID_hmacWithSHA256,
		    CA_MAX_PBM_SALT + 1, 500, 2047, 0, CMP_FAIL_BAD_REQUEST },
	};
	static const struct {
		int nid, ptype;
	} not_pbm[] = {
		{ NID_sha256WithRSAEncryption, V_ASN1_NULL },
		{ NID_id_PasswordBasedMAC, V_ASN1_UNDEF },
		{ NID_id_PasswordBasedMAC, V_ASN1_NULL },
	};
	unsigned char good[256];
	X509_ALGOR *alg;
	size_t i;
	int rc, fail, len;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		rc = derive_free(pbm_alg_new(cases[i].owf, cases[i].mac,
		                     cases[i].iter, cases[i].salt),
		    cases[i].max_iter, &fail);
		if (rc != cases[i].rc || (rc == 0 && fail != cases[i].fail))
			fail_msg("%s: rc %d fail %d, want rc %d fail %d",
			    cases[i].name, rc, fail, cases[i].rc,
			    cases[i].fail);
	}
	for (i = 0; i < NELEM(not_pbm); i++) {
		assert_non_null(alg = X509_ALGOR_new());
		EQ(X509_ALGOR_set0(alg, OBJ_nid2obj(not_pbm[i].nid),
		       not_pbm[i].ptype, NULL),
		    1);
		EQ(derive_free(alg, 2047, &fail), 0);
		EQ(fail, CMP_FAIL_BAD_ALG);
	}
	/* Malformed parameters: junk, and a good one with a byte appended. */
	EQ(derive_free(pbm_alg_raw(junk, sizeof(junk)), 2047, &fail), 0);
	alg = pbm_alg_new(NID_sha256, NID_hmacWithSHA256, 500, 16);
	len = alg->parameter->value.sequence->length;
	assert_true((size_t)len < sizeof(good));
	memcpy(good, alg->parameter->value.sequence->data, (size_t)len);
	X509_ALGOR_free(alg);
	good[len] = 0x00;
	EQ(derive_free(pbm_alg_raw(good, len + 1), 2047, &fail), 0);
	EQ(derive_free(pbm_alg_raw(good, len), 2047, &fail), 1);
}

/*
 * RFC 4211 §4.4: "The iterationCount MUST be a minimum of 100."
 * OSSL_CRMF_pbm_new refuses less too; a count the client picks as 1 makes
 * its enrollment secret cheap to brute-force from one recorded message.
 */
static void
test_pbm_iter_minimum(void **state)
{
	static const long iters[] = { 1, 99 };
	size_t i;
	int rc, fail;

	(void)state;
	for (i = 0; i < NELEM(iters); i++) {
		rc = derive_free(
		    pbm_alg_new(NID_sha256, NID_hmacWithSHA256, iters[i], 16),
		    CA_DEFAULT_PBM_MAX_ITER, &fail);
		if (rc != 0 || fail != CMP_FAIL_BAD_REQUEST)
			fail_msg("iterationCount %ld: rc %d fail %d, want rc 0 "
			         "fail badRequest",
			    iters[i], rc, fail);
	}
}

/* PBMAC1 (RFC 9481 §6.1.3) with PBKDF2(prf, keylen) and HMAC-SHA256. */
static X509_ALGOR *
pbmac1_alg_new(int prf_nid, int keylen)
{
	static unsigned char salt[16] = { 1, 2, 3 };
	PBE2PARAM *pb = PBE2PARAM_new();
	ASN1_STRING *seq = NULL;
	X509_ALGOR *alg = X509_ALGOR_new();

	assert_true(pb != NULL && alg != NULL);
	X509_ALGOR_free(pb->keyfunc);
	assert_non_null(pb->keyfunc = PKCS5_pbkdf2_set(1000, salt,
	                    sizeof(salt), prf_nid, keylen));
	EQ(X509_ALGOR_set0(pb->encryption, OBJ_nid2obj(NID_hmacWithSHA256),
	       V_ASN1_NULL, NULL),
	    1);
	assert_non_null(ASN1_item_pack(pb, ASN1_ITEM_rptr(PBE2PARAM), &seq));
	EQ(X509_ALGOR_set0(alg, OBJ_nid2obj(NID_pbmac1), V_ASN1_SEQUENCE, seq),
	    1);
	PBE2PARAM_free(pb);
	return alg;
}

/*
 * PBMAC1's keyLength is at most the prf's output: every further PBKDF2
 * block costs iterationCount more HMACs, so a longer key would multiply
 * the iteration budget before anything is authenticated.
 */
static void
test_pbmac1_keylen(void **state)
{
	static const struct {
		int prf, keylen, want;
	} t[] = {
		{ NID_hmacWithSHA256, 32, 1 },
		{ NID_hmacWithSHA256, 33, 0 },
		{ NID_hmacWithSHA256, 64, 0 },
		{ NID_hmacWithSHA512, 64, 1 },
		{ NID_hmacWithSHA1, 21, 0 },
	};
	size_t i;
	int rc, fail;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		rc = derive_free(pbmac1_alg_new(t[i].prf, t[i].keylen),
		    CA_DEFAULT_PBM_MAX_ITER, &fail);
		if (rc != t[i].want ||
		    (rc == 0 && fail != CMP_FAIL_BAD_ALG))
			fail_msg("prf %s keyLength %d: rc %d fail %d, want rc "
			         "%d%s",
			    OBJ_nid2sn(t[i].prf), t[i].keylen, rc, fail,
			    t[i].want, t[i].want ? "" : " fail badAlg");
	}
}

int
main(void)
{
	const struct CMUnitTest pbm[] = {
		{ "test_pbm_sha256_hmac_sha1", test_pbm_crosscheck, NULL, NULL,
		    &pbm_sets[0] },
		{ "test_pbm_sha256_hmacWithSHA256", test_pbm_crosscheck, NULL,
		    NULL, &pbm_sets[1] },
		{ "test_pbm_sha1_hmacWithSHA512", test_pbm_crosscheck, NULL,
		    NULL, &pbm_sets[2] },
		cmocka_unit_test(test_pbm_reject),
		cmocka_unit_test(test_pbm_iter_minimum),
		cmocka_unit_test(test_pbmac1_keylen),
	};

	return cmocka_run_group_tests_name("pbm", pbm, NULL, NULL) != 0;
}
