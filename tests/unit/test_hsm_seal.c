/*
 * test_hsm_seal.c - sealing enrollment secrets under the token's AES key:
 * formats, the data key, key versions and rotation.
 */
#include "tests/unit/test_hsm.h"

/* Format 0x01 (sealed in the token, as before issue 6) still opens, and
 * only with its own reference and bits; one unseal timed. */
static void
seal_v1_check(const unsigned char *secret, size_t len)
{
	unsigned char *v = NULL, *pt = NULL;
	size_t vlen, ptlen, i;
	struct timespec t0;
	const int rounds = 500;

	hsm_seal_force_format(0x01);
	if (!hsm_seal(fx.h, "ref-v1", secret, len, &v, &vlen))
		fail_msg("hsm_seal v1: %s", hsm_error());
	hsm_seal_force_format(0);
	assert_int_equal(v[0], 0x01);
	assert_int_equal(vlen, 1 + 12 + len + 16);
	assert_int_equal(hsm_unseal(fx.h, "ref-v1", v, vlen, &pt, &ptlen), 1);
	assert_int_equal(ptlen, len);
	assert_memory_equal(pt, secret, len);
	OPENSSL_cleanse(pt, ptlen);
	free(pt);
	assert_int_equal(hsm_unseal(fx.h, "ref-1", v, vlen, &pt, &ptlen), 0);
	for (i = 1; i < vlen; i += 5) {
		v[i] ^= 0x80;
		assert_int_equal(
		    hsm_unseal(fx.h, "ref-v1", v, vlen, &pt, &ptlen), 0);
		v[i] ^= 0x80;
	}
	v[0] = 0x02;
	assert_int_equal(hsm_unseal(fx.h, "ref-v1", v, vlen, &pt, &ptlen), 0);
	v[0] = 0x01;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < (size_t)rounds; i++) {
		assert_int_equal(
		    hsm_unseal(fx.h, "ref-v1", v, vlen, &pt, &ptlen), 1);
		OPENSSL_cleanse(pt, ptlen);
		free(pt);
	}
	print_message("unseal, format 0x01 (in the token): %.1f us each\n",
	    ms_since(&t0) * 1000.0 / rounds);
	free(v);
}

void
test_seal(void **state)
{
	static const unsigned char secret[] = "correct horse battery staple";
	unsigned char *a = NULL, *b = NULL, *pt = NULL;
	size_t alen, blen, ptlen, i;
	struct timespec t0;
	double ms;
	const int rounds = 2000;

	(void)state;
	if (!hsm_seal(fx.h, "ref-1", secret, sizeof(secret) - 1, &a, &alen))
		fail_msg("hsm_seal: %s", hsm_error());
	/* Format 0x03: the key version (4 bytes) follows the format byte. */
	assert_int_equal(alen, 5 + 12 + (sizeof(secret) - 1) + 16);
	assert_int_equal(a[0], 0x03);
	assert_int_equal(hsm_sealed_version(a, alen), 1);
	assert_null(memmem(a, alen, secret, sizeof(secret) - 1));
	assert_true(hsm_seal(fx.h, "ref-1", secret, sizeof(secret) - 1, &b,
	    &blen));
	assert_int_equal(alen, blen);
	assert_memory_not_equal(a + 5, b + 5, 12); /* fresh IV */
	assert_int_equal(hsm_unseal(fx.h, "ref-1", a, alen, &pt, &ptlen), 1);
	assert_int_equal(ptlen, sizeof(secret) - 1);
	assert_memory_equal(pt, secret, ptlen);
	OPENSSL_cleanse(pt, ptlen);
	free(pt);
	/* Another row's reference: does not open. */
	if (hsm_unseal(fx.h, "ref-2", a, alen, &pt, &ptlen) != 0)
		fail_msg("unseal ref-2: %s", hsm_error());
	assert_null(pt);
	/* One flipped bit in the ciphertext, the tag or the IV (the key
	 * version's bytes: test_seal_rotate). */
	for (i = 5; i < alen; i += 7) {
		a[i] ^= 0x01;
		assert_int_equal(
		    hsm_unseal(fx.h, "ref-1", a, alen, &pt, &ptlen), 0);
		a[i] ^= 0x01;
	}
	assert_int_equal(hsm_unseal(fx.h, "ref-1", a, 10, &pt, &ptlen), 0);
	/* Format 0x03 (data key derived in the token); relabelled as 0x01,
	 * 0x02 or an unknown format, it does not open. */
	a[0] = 0x01;
	assert_int_equal(hsm_unseal(fx.h, "ref-1", a, alen, &pt, &ptlen), 0);
	a[0] = 0x02;
	assert_int_equal(hsm_unseal(fx.h, "ref-1", a, alen, &pt, &ptlen), 0);
	a[0] = 0x04;
	assert_int_equal(hsm_unseal(fx.h, "ref-1", a, alen, &pt, &ptlen), 0);
	a[0] = 0x03;
	seal_v1_check(secret, sizeof(secret) - 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < (size_t)rounds; i++) {
		assert_int_equal(
		    hsm_unseal(fx.h, "ref-1", b, blen, &pt, &ptlen), 1);
		OPENSSL_cleanse(pt, ptlen);
		free(pt);
	}
	ms = ms_since(&t0);
	print_message("unseal, format 0x03 (data key): %.1f us each (%d "
		      "rounds)\n",
	    ms * 1000.0 / rounds, rounds);
	free(a);
	/* The key survives a new login (a fresh session and handle). */
	reopen();
	assert_int_equal(hsm_unseal(fx.h, "ref-1", b, blen, &pt, &ptlen), 1);
	assert_memory_equal(pt, secret, ptlen);
	OPENSSL_cleanse(pt, ptlen);
	free(pt);
	free(b);
}

/* Opens v under aad and checks the plain text. */
static void
unseal_ok(const char *aad, const unsigned char *v, size_t vlen,
    const char *want)
{
	unsigned char *pt = NULL;
	size_t ptlen;

	if (hsm_unseal(fx.h, aad, v, vlen, &pt, &ptlen) != 1)
		fail_msg("unseal %s: %s", aad, hsm_error());
	assert_int_equal(ptlen, strlen(want));
	assert_memory_equal(pt, want, ptlen);
	OPENSSL_cleanse(pt, ptlen);
	free(pt);
}

/*
 * Key rotation (issue 17): values sealed under key version 1 in every
 * format still open after a new key version becomes current; new values
 * name the new version; a value whose version is changed does not open
 * under the other key, nor under a version the token lacks (and that does
 * not make the token count as lost).
 */
void
test_seal_rotate(void **state)
{
	static const char secret[] = "rotate-me";
	const unsigned char *p = (const unsigned char *)secret;
	unsigned char *v1 = NULL, *v2 = NULL, *v3 = NULL, *n = NULL, *pt = NULL;
	size_t l1, l2, l3, ln, ptlen;
	unsigned long cur, next;

	(void)state;
	reopen();
	if (!hsm_seal_current(fx.h, &cur))
		fail_msg("hsm_seal_current: %s", hsm_error());
	assert_true(cur >= 1);
	hsm_seal_force_format(0x01);
	assert_true(hsm_seal(fx.h, "rot", p, strlen(secret), &v1, &l1));
	hsm_seal_force_format(0x02);
	assert_true(hsm_seal(fx.h, "rot", p, strlen(secret), &v2, &l2));
	hsm_seal_force_format(0);
	assert_true(hsm_seal(fx.h, "rot", p, strlen(secret), &v3, &l3));
	assert_int_equal(v1[0], 0x01);
	assert_int_equal(v2[0], 0x02);
	assert_int_equal(hsm_sealed_version(v3, l3), cur);
	if (!hsm_seal_new_key(fx.h, &next))
		fail_msg("hsm_seal_new_key: %s", hsm_error());
	assert_int_equal(next, cur + 1);
	assert_true(hsm_seal(fx.h, "rot", p, strlen(secret), &n, &ln));
	assert_int_equal(n[0], 0x03);
	assert_int_equal(hsm_sealed_version(n, ln), next);
	unseal_ok("rot", v1, l1, secret);
	unseal_ok("rot", v2, l2, secret);
	unseal_ok("rot", v3, l3, secret);
	unseal_ok("rot", n, ln, secret);
	/* Another process (a fresh handle) finds the new key current and
	 * still opens both versions. */
	close_shared();
	reopen();
	next = 0;
	assert_true(hsm_seal_current(fx.h, &next));
	assert_int_equal(next, cur + 1);
	unseal_ok("rot", v3, l3, secret);
	unseal_ok("rot", n, ln, secret);
	/* The version is authenticated: moved to the other key, or to a
	 * version the token lacks, the value does not open. */
	n[4] = (unsigned char)cur;
	assert_int_equal(hsm_sealed_version(n, ln), cur);
	assert_int_equal(hsm_unseal(fx.h, "rot", n, ln, &pt, &ptlen), 0);
	v3[4] = (unsigned char)(cur + 1);
	assert_int_equal(hsm_unseal(fx.h, "rot", v3, l3, &pt, &ptlen), 0);
	n[4] = (unsigned char)(cur + 40);
	assert_int_equal(hsm_unseal(fx.h, "rot", n, ln, &pt, &ptlen), -1);
	assert_non_null(strstr(hsm_error(), "no key labelled"));
	assert_null(pt);
	assert_false(hsm_lost(fx.h));
	n[4] = 0;
	n[1] = 0;
	assert_int_equal(hsm_sealed_version(n, ln), 0);
	assert_int_equal(hsm_unseal(fx.h, "rot", n, ln, &pt, &ptlen), 0);
	free(v1);
	free(v2);
	free(v3);
	free(n);
}

/*
 * The sealing key is used with AES-GCM and AES-ECB only
 * (CKA_ALLOWED_MECHANISMS, issue 23): the token refuses CBC with it.
 */
void
test_seal_mechanisms(void **state)
{
	static const char label[] = HSM_SEAL_LABEL;
	CK_FUNCTION_LIST_PTR fl;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE o;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE find[2] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)(uintptr_t)label, sizeof(label) - 1 },
	};
	CK_MECHANISM_TYPE mechs[8];
	CK_ATTRIBUTE get = { CKA_ALLOWED_MECHANISMS, mechs, sizeof(mechs) };
	unsigned char iv[16] = { 0 }, *v = NULL;
	CK_MECHANISM cbc = { CKM_AES_CBC, iv, sizeof(iv) };
	CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 };
	CK_ULONG n = 0;
	unsigned long slot;
	size_t vlen;

	(void)state;
	/* The first seal makes the key, if no test made it before. */
	if (!hsm_seal(fx.h, "ref-mech", (const unsigned char *)"x", 1, &v,
		&vlen))
		fail_msg("hsm_seal: %s", hsm_error());
	free(v);
	assert_non_null(fl = hsm_p11_funcs(fx.h, &slot));
	assert_int_equal(fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL,
	    &s), CKR_OK);
	assert_int_equal(fl->C_FindObjectsInit(s, find, 2), CKR_OK);
	assert_int_equal(fl->C_FindObjects(s, &o, 1, &n), CKR_OK);
	(void)fl->C_FindObjectsFinal(s);
	assert_int_equal(n, 1);
	assert_int_equal(fl->C_GetAttributeValue(s, o, &get, 1), CKR_OK);
	assert_int_equal(get.ulValueLen, 2 * sizeof(CK_MECHANISM_TYPE));
	/* A set: SoftHSM returns it in its own order. */
	assert_true((mechs[0] == CKM_AES_GCM && mechs[1] == CKM_AES_ECB) ||
	    (mechs[0] == CKM_AES_ECB && mechs[1] == CKM_AES_GCM));
	assert_int_not_equal(fl->C_EncryptInit(s, &cbc, o), CKR_OK);
	assert_int_equal(fl->C_EncryptInit(s, &ecb, o), CKR_OK);
	(void)fl->C_CloseSession(s); /* ends the operation begun */
}

/*
 * The capability table of SoftHSM (issue 27): every key type, AES-ECB
 * sealing, no gaps. Then the fallback for a token without AES-ECB: the
 * data key by one-block AES-CBC with a zero IV must be the same bytes, so
 * a value sealed that way opens through AES-ECB (and the gap is named).
 */
void
test_seal_caps(void **state)
{
	static const unsigned char secret[] = "cbc and ecb agree";
	struct hsm_caps *c = &fx.h->caps;
	unsigned char *v = NULL, *pt = NULL;
	size_t vlen, ptlen;
	unsigned long ver;
	char buf[1024];

	(void)state;
	assert_non_null(hsm_caps_get(fx.h));
	assert_int_equal(c->keygen, 1u << HSM_KEY_RSA2048 |
	    1u << HSM_KEY_RSA3072 | 1u << HSM_KEY_RSA4096 |
	    1u << HSM_KEY_EC_P256 | 1u << HSM_KEY_EC_P384);
	assert_int_equal(c->seal, HSM_SEAL_DEK_ECB);
	assert_true(c->aes_gcm && c->aes_cbc && c->rng && c->rsa_pss);
	assert_non_null(strstr(hsm_caps_describe(c, buf, sizeof(buf)),
	    "SoftHSM"));
	assert_int_equal(hsm_caps_gap(c, 0, buf, sizeof(buf)), 0);

	c->seal = HSM_SEAL_DEK_CBC;
	assert_int_equal(hsm_caps_gap(c, 0, buf, sizeof(buf)),
	    HSM_GAP_FALLBACK);
	assert_non_null(strstr(buf, "missing: AES-ECB; fallback"));
	if (!hsm_seal_new_key(fx.h, &ver))
		fail_msg("hsm_seal_new_key: %s", hsm_error());
	if (!hsm_seal(fx.h, "ref-cbc", secret, sizeof(secret), &v, &vlen))
		fail_msg("hsm_seal (cbc): %s", hsm_error());
	assert_int_equal(v[0], 0x03);
	assert_int_equal(hsm_sealed_version(v, vlen), ver);
	/* A fresh process's view: the data key derived again, by ECB. */
	c->seal = HSM_SEAL_DEK_ECB;
	hsm_aes_forget(fx.h);
	assert_int_equal(hsm_unseal(fx.h, "ref-cbc", v, vlen, &pt, &ptlen), 1);
	assert_memory_equal(pt, secret, sizeof(secret));
	OPENSSL_cleanse(pt, ptlen);
	free(pt);
	free(v);
}
