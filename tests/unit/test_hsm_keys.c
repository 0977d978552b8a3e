/*
 * test_hsm_keys.c - key generation in the token (every key type, its
 * mechanisms and attributes), loading keys by URI, signing, random.
 */
#include "tests/unit/test_hsm.h"

/*
 * RSA-PSS through libp11 is a raw RSA operation in the token
 * (CKM_RSA_X_509), which keys from hsm_keygen do not allow: cmpca signs
 * with PKCS#1 v1.5 only.
 */
static void
pss_refused(EVP_PKEY *priv)
{
	unsigned char data[] = "cmpca: PSS", sig[1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	assert_non_null(md);
	assert_int_equal(
	    EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, priv), 1);
	assert_int_equal(
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_not_equal(
	    EVP_DigestSign(md, sig, &siglen, data, sizeof(data)), 1);
	ERR_clear_error();
	EVP_MD_CTX_free(md);
}

/* Signs data with priv (in the token) and checks it with pub. */
void
sign_verify(EVP_PKEY *priv, EVP_PKEY *pub, int pss)
{
	unsigned char data[] = "cmpca: to be signed by the token";
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md;
	EVP_PKEY_CTX *pctx = NULL;

	md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(
	    EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, priv), 1);
	if (pss) {
		assert_int_equal(
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING),
		    1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(
		                     pctx, RSA_PSS_SALTLEN_DIGEST),
		    1);
	}
	if (EVP_DigestSign(md, sig, &siglen, data, sizeof(data)) != 1) {
		ERR_print_errors_fp(stderr);
		fail_msg("EVP_DigestSign failed");
	}
	EVP_MD_CTX_free(md);

	md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(
	    EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pub), 1);
	if (pss) {
		assert_int_equal(
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING),
		    1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(
		                     pctx, RSA_PSS_SALTLEN_DIGEST),
		    1);
	}
	assert_int_equal(
	    EVP_DigestVerify(md, sig, siglen, data, sizeof(data)), 1);
	/* The same signature over other data must not verify. */
	assert_int_equal(
	    EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pub), 1);
	if (pss) {
		assert_int_equal(
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING),
		    1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(
		                     pctx, RSA_PSS_SALTLEN_DIGEST),
		    1);
	}
	data[0] ^= 0x01;
	assert_int_not_equal(
	    EVP_DigestVerify(md, sig, siglen, data, sizeof(data)), 1);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
}

/*
 * The private half must not come out of the token: no private scalar or
 * exponent on the EVP_PKEY, no private key encoding, and (RSA) no
 * decryption, since the key is sign only.
 */
static void
check_private_stays(EVP_PKEY *priv, EVP_PKEY *pub)
{
	unsigned char ct[1024], pt[1024];
	size_t ctlen = sizeof(ct), ptlen = sizeof(pt);
	const unsigned char msg[] = "secret";
	unsigned char *der = NULL;
	BIGNUM *bn = NULL;
	EVP_PKEY_CTX *ctx;
	int len;

	if (EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 ||
	    EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_RSA_D, &bn) == 1)
		assert_true(BN_is_zero(bn));
	BN_free(bn);
	len = i2d_PrivateKey(priv, &der);
	if (len > 0) {
		/* An encoding may exist only if it holds no secret. */
		BIGNUM *d = NULL;
		EVP_PKEY *back;
		const unsigned char *p = der;

		back = d2i_AutoPrivateKey(NULL, &p, len);
		if (back != NULL && (EVP_PKEY_get_bn_param(back,
		                         OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 ||
		                        EVP_PKEY_get_bn_param(back,
		                            OSSL_PKEY_PARAM_RSA_D, &d) == 1))
			assert_true(BN_is_zero(d));
		BN_free(d);
		EVP_PKEY_free(back);
	}
	OPENSSL_free(der);
	ERR_clear_error();

	if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA)
		return;
	ctx = EVP_PKEY_CTX_new(pub, NULL);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
	assert_int_equal(
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
	assert_int_equal(
	    EVP_PKEY_encrypt(ctx, ct, &ctlen, msg, sizeof(msg)), 1);
	EVP_PKEY_CTX_free(ctx);
	ctx = EVP_PKEY_CTX_new(priv, NULL);
	assert_non_null(ctx);
	if (EVP_PKEY_decrypt_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1)
		assert_int_not_equal(
		    EVP_PKEY_decrypt(ctx, pt, &ptlen, ct, ctlen), 1);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
}

/*
 * Generates a key of type in the token, loads it back by URI, signs with
 * it and checks the signature with the software public key.
 */
static void
keygen_check(enum hsm_keytype type, const char *label, int pss)
{
	EVP_PKEY *pub = NULL, *priv, *priv2;
	char uri[HSM_URI_MAX + 1], want[256], alt[256];
	unsigned char *d1 = NULL, *d2 = NULL;
	struct timespec t0;
	int l1, l2;

	reopen();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!hsm_keygen(fx.h, label, type, &pub, uri, sizeof(uri)))
		fail_msg("hsm_keygen %s: %s", label, hsm_error());
	print_message("keygen %s: %.0f ms\n", label, ms_since(&t0));
	assert_non_null(pub);
	(void)snprintf(
	    want, sizeof(want), "pkcs11:token=%s;object=%s", TOKEN, label);
	assert_string_equal(uri, want);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	priv = hsm_key_load(fx.h, uri);
	if (priv == NULL)
		fail_msg("hsm_key_load %s: %s", uri, hsm_error());
	print_message("key load %s: %.1f ms\n", label, ms_since(&t0));
	assert_int_equal(EVP_PKEY_eq(priv, pub), 1);
	l1 = i2d_PUBKEY(priv, &d1);
	l2 = i2d_PUBKEY(pub, &d2);
	assert_true(l1 > 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, (size_t)l1);
	OPENSSL_free(d1);
	OPENSSL_free(d2);

	sign_verify(priv, pub, 0);
	if (pss)
		pss_refused(priv);
	check_private_stays(priv, pub);

	/* The same key without the token attribute, with type=private. */
	(void)snprintf(
	    alt, sizeof(alt), "pkcs11:object=%s;type=private", label);
	priv2 = hsm_key_load(fx.h, alt);
	if (priv2 == NULL)
		fail_msg("hsm_key_load %s: %s", alt, hsm_error());
	assert_int_equal(EVP_PKEY_eq(priv2, pub), 1);
	sign_verify(priv2, pub, 0);
	EVP_PKEY_free(priv2);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
}

void
test_keygen_rsa2048(void **state)
{
	(void)state;
	keygen_check(HSM_KEY_RSA2048, "rsa2048-key", 1);
}

void
test_keygen_rsa3072(void **state)
{
	(void)state;
	keygen_check(HSM_KEY_RSA3072, "rsa3072-key", 0);
}

void
test_keygen_rsa4096(void **state)
{
	(void)state;
	keygen_check(HSM_KEY_RSA4096, "rsa4096-key", 0);
}

void
test_keygen_p256(void **state)
{
	(void)state;
	keygen_check(HSM_KEY_EC_P256, "p256-key", 0);
}

void
test_keygen_p384(void **state)
{
	(void)state;
	keygen_check(HSM_KEY_EC_P384, "p384-key", 0);
}

/*
 * A CA key signs with the one mechanism cmpca uses and nothing else: no
 * raw RSA (CKM_RSA_X_509), no sign-recover. SoftHSM 2.6 enforces
 * CKA_ALLOWED_MECHANISMS.
 */
static void
mech_check(const char *label, CK_MECHANISM_TYPE want, CK_MECHANISM_TYPE bad)
{
	CK_FUNCTION_LIST_PTR fl;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE o;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE find[2] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
	};
	CK_MECHANISM_TYPE mechs[8];
	CK_BBOOL recover = CK_TRUE;
	CK_ATTRIBUTE get[2] = {
		{ CKA_SIGN_RECOVER, &recover, sizeof(recover) },
		{ CKA_ALLOWED_MECHANISMS, mechs, sizeof(mechs) },
	};
	CK_MECHANISM m = { 0, NULL, 0 };
	CK_ULONG n = 0;
	unsigned long slot;

	reopen();
	assert_non_null(fl = hsm_p11_funcs(fx.h, &slot));
	assert_int_equal(fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL,
	    &s), CKR_OK);
	assert_int_equal(fl->C_FindObjectsInit(s, find, 2), CKR_OK);
	assert_int_equal(fl->C_FindObjects(s, &o, 1, &n), CKR_OK);
	(void)fl->C_FindObjectsFinal(s);
	assert_int_equal(n, 1);
	assert_int_equal(fl->C_GetAttributeValue(s, o, get, 2), CKR_OK);
	assert_int_equal(recover, CK_FALSE);
	assert_int_equal(get[1].ulValueLen, sizeof(CK_MECHANISM_TYPE));
	assert_int_equal(mechs[0], want);
	m.mechanism = bad;
	assert_int_not_equal(fl->C_SignInit(s, &m, o), CKR_OK);
	m.mechanism = want;
	assert_int_equal(fl->C_SignInit(s, &m, o), CKR_OK);
	(void)fl->C_CloseSession(s); /* ends the operation begun */
}

void
test_keygen_mechanisms(void **state)
{
	(void)state;
	mech_check("rsa2048-key", CKM_RSA_PKCS, CKM_RSA_X_509);
	mech_check("p256-key", CKM_ECDSA, CKM_ECDSA_SHA256);
}

/* Labels with URI-reserved bytes come back percent-encoded and load. */
void
test_keygen_label_escaped(void **state)
{
	EVP_PKEY *pub = NULL, *priv;
	char uri[HSM_URI_MAX + 1];

	(void)state;
	reopen();
	if (!hsm_keygen(fx.h, "CA key;2026/a%b", HSM_KEY_EC_P256, &pub, uri,
	        sizeof(uri)))
		fail_msg("hsm_keygen: %s", hsm_error());
	assert_string_equal(
	    uri, "pkcs11:token=" TOKEN ";object=CA%20key%3B2026%2Fa%25b");
	priv = hsm_key_load(fx.h, uri);
	if (priv == NULL)
		fail_msg("hsm_key_load %s: %s", uri, hsm_error());
	assert_int_equal(EVP_PKEY_eq(priv, pub), 1);
	sign_verify(priv, pub, 0);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
}

void
test_keygen_duplicate(void **state)
{
	EVP_PKEY *pub = NULL;
	char uri[HSM_URI_MAX + 1];

	(void)state;
	reopen();
	if (!hsm_keygen(
	        fx.h, "dup-key", HSM_KEY_EC_P256, &pub, uri, sizeof(uri)))
		fail_msg("hsm_keygen: %s", hsm_error());
	EVP_PKEY_free(pub);
	pub = NULL;
	assert_false(hsm_keygen(
	    fx.h, "dup-key", HSM_KEY_RSA2048, &pub, uri, sizeof(uri)));
	assert_null(pub);
	assert_string_equal(uri, "");
	assert_non_null(strstr(hsm_error(), "key exists"));
	assert_non_null(strstr(hsm_error(), "dup-key"));
}

void
test_keygen_bad_args(void **state)
{
	EVP_PKEY *pub = NULL;
	char uri[HSM_URI_MAX + 1], small[16];

	(void)state;
	reopen();
	assert_false(
	    hsm_keygen(fx.h, "", HSM_KEY_EC_P256, &pub, uri, sizeof(uri)));
	assert_false(hsm_keygen(
	    fx.h, "bad\nlabel", HSM_KEY_EC_P256, &pub, uri, sizeof(uri)));
	assert_false(hsm_keygen(
	    fx.h, "x", (enum hsm_keytype)99, &pub, uri, sizeof(uri)));
	assert_false(hsm_keygen(
	    fx.h, "small-uri", HSM_KEY_EC_P256, &pub, small, sizeof(small)));
	assert_non_null(strstr(hsm_error(), "too small"));
	assert_false(
	    hsm_keygen(NULL, "x", HSM_KEY_EC_P256, &pub, uri, sizeof(uri)));
	assert_null(pub);
	/* Nothing was generated for the refused label. */
	assert_null(hsm_key_load(fx.h, "pkcs11:object=small-uri"));
}

void
test_key_load_unknown(void **state)
{
	(void)state;
	reopen();
	assert_null(
	    hsm_key_load(fx.h, "pkcs11:token=" TOKEN ";object=no-such-key"));
	assert_non_null(strstr(hsm_error(), "no such key"));
	assert_non_null(strstr(hsm_error(), "no-such-key"));
	assert_null(hsm_key_load(fx.h, "pkcs11:id=%01%02%03"));
	assert_non_null(strstr(hsm_error(), "no such key"));
}

void
test_key_load_bad_uri(void **state)
{
	(void)state;
	reopen();
	/* A PIN never travels in a URI, and is not echoed. */
	assert_null(hsm_key_load(fx.h,
	    "pkcs11:token=" TOKEN ";object=p256-key?pin-value=" USER_PIN));
	assert_non_null(strstr(hsm_error(), "query"));
	assert_null(strstr(hsm_error(), USER_PIN));
	assert_null(
	    hsm_key_load(fx.h, "pkcs11:object=p256-key?pin-source=/etc/pin"));
	/* Another token. */
	assert_null(hsm_key_load(fx.h, "pkcs11:token=other;object=p256-key"));
	assert_non_null(strstr(hsm_error(), "token"));
	/* Malformed or unsupported. */
	assert_null(hsm_key_load(fx.h, "file:///etc/key.pem"));
	assert_null(hsm_key_load(fx.h, "pkcs11:"));
	assert_null(hsm_key_load(fx.h, "pkcs11:token=" TOKEN));
	assert_null(hsm_key_load(fx.h, "pkcs11:object=p256-key;type=public"));
	assert_null(hsm_key_load(fx.h, "pkcs11:object=p256-key;slot-id=0"));
	assert_null(hsm_key_load(fx.h, "pkcs11:object=p256-key;object=x"));
	assert_null(hsm_key_load(fx.h, "pkcs11:object=p256%2"));
	assert_null(hsm_key_load(fx.h, "pkcs11:object=p256%zzkey"));
	assert_null(hsm_key_load(fx.h, "pkcs11:object=a%00b"));
	assert_null(hsm_key_load(fx.h, "pkcs11:object=p256 key"));
	assert_null(hsm_key_load(fx.h, "pkcs11:object"));
	assert_null(hsm_key_load(fx.h, "pkcs11:id="));
	assert_null(hsm_key_load(fx.h, NULL));
	assert_null(hsm_key_load(NULL, "pkcs11:object=p256-key"));
	/* Token attributes other than the label must match too. */
	assert_null(hsm_key_load(fx.h, "pkcs11:manufacturer=Other;"
	                               "object=p256-key"));
	assert_non_null(strstr(hsm_error(), "manufacturer"));
	/* Accepted forms, for contrast. */
	{
		EVP_PKEY *k;

		k = hsm_key_load(fx.h, "pkcs11:object=p%32%356-key;");
		if (k == NULL)
			fail_msg("hsm_key_load: %s", hsm_error());
		EVP_PKEY_free(k);
		k = hsm_key_load(fx.h, "pkcs11:manufacturer=SoftHSM%20project;"
		                       "model=SoftHSM%20v2;object=p256-key");
		if (k == NULL)
			fail_msg("hsm_key_load: %s", hsm_error());
		EVP_PKEY_free(k);
		k = hsm_key_load(fx.h, "PKCS11:token=cmpca%2Dtest;"
		                       "object=p256-key;type=private");
		if (k == NULL)
			fail_msg("hsm_key_load: %s", hsm_error());
		EVP_PKEY_free(k);
	}
}

void
test_random(void **state)
{
	unsigned char a[32], b[32], zero[32], big[10000];

	(void)state;
	reopen();
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(zero, 0, sizeof(zero));
	assert_true(hsm_random(fx.h, a, sizeof(a)));
	assert_true(hsm_random(fx.h, b, sizeof(b)));
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_true(hsm_random(fx.h, big, sizeof(big)));
	assert_memory_not_equal(big + sizeof(big) - 32, zero, 32);
	assert_true(hsm_random(fx.h, a, 0));
	assert_false(hsm_random(NULL, a, sizeof(a)));
}

/* Objects on the token a fresh session sees (session objects of other
 * sessions included). */
static unsigned long
token_objects(void)
{
	CK_FUNCTION_LIST_PTR fl;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE o[256];
	CK_ULONG n = 0;
	unsigned long slot;

	assert_non_null(fl = hsm_p11_funcs(fx.h, &slot));
	assert_int_equal(fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL,
			     NULL, &s), CKR_OK);
	assert_int_equal(fl->C_FindObjectsInit(s, NULL, 0), CKR_OK);
	assert_int_equal(fl->C_FindObjects(s, o, 256, &n), CKR_OK);
	(void)fl->C_FindObjectsFinal(s);
	(void)fl->C_CloseSession(s);
	return n;
}

/*
 * Central key generation: the token makes the pair, the private key comes
 * out (wrapped, unwrapped in memory) as a working key of the type asked
 * for, two calls give two keys, and nothing is left on the token.
 */
void
test_keygen_ee(void **state)
{
	static const struct {
		enum hsm_keytype t;
		int base, bits;
	} kt[] = {
		{ HSM_KEY_EC_P256, EVP_PKEY_EC, 256 },
		{ HSM_KEY_RSA2048, EVP_PKEY_RSA, 2048 },
		{ HSM_KEY_EC_P384, EVP_PKEY_EC, 384 },
	};
	EVP_PKEY *k1 = NULL, *k2 = NULL;
	unsigned long before;
	size_t i;

	(void)state;
	reopen();
	before = token_objects();
	for (i = 0; i < sizeof(kt) / sizeof(kt[0]); i++) {
		if (!hsm_keygen_ee(fx.h, kt[i].t, &k1) ||
		    !hsm_keygen_ee(fx.h, kt[i].t, &k2))
			fail_msg("hsm_keygen_ee: %s", hsm_error());
		assert_int_equal(EVP_PKEY_get_base_id(k1), kt[i].base);
		assert_int_equal(EVP_PKEY_get_bits(k1), kt[i].bits);
		assert_int_not_equal(EVP_PKEY_eq(k1, k2), 1);
		sign_verify(k1, k1, 0);
		EVP_PKEY_free(k1);
		EVP_PKEY_free(k2);
		k1 = k2 = NULL;
	}
	assert_int_equal(token_objects(), before);
	assert_int_equal(hsm_keygen_ee(fx.h, (enum hsm_keytype)99, &k1), 0);
	assert_null(k1);
}

/*
 * Key archival: the CA's archival key is made once (one object on the
 * token, a second refused); a generated key wrapped under it opens only
 * with the same AAD and CA, and the value holds no clear PKCS#8. A token
 * without AES-GCM or AES key generation (openCryptoki's software token,
 * tpm2-pkcs11: their capability tables) cannot archive: the gap is named,
 * and the key ceremony is refused naming the token and the mechanism,
 * with nothing made.
 */
void
test_archive(void **state)
{
	EVP_PKEY *k = NULL, *back = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *w = NULL, *der = NULL;
	size_t wlen = 0;
	unsigned long before;
	struct hsm_caps *c, saved;
	char label[256], why[256];
	int dlen, i;

	(void)state;
	reopen();
	c = &fx.h->caps;
	assert_int_equal(hsm_caps_archive(c, why, sizeof(why)), 1);
	assert_string_equal(why, "");
	for (i = 0; hsm_caps_gap(c, i, why, sizeof(why)) != 0; i++)
		assert_null(strstr(why, "key archival"));
	saved = *c;
	c->aes_gcm = 0;
	assert_int_equal(hsm_caps_archive(c, why, sizeof(why)), 0);
	assert_string_equal(why, "CKM_AES_GCM");
	assert_int_equal(hsm_caps_gap(c, 0, why, sizeof(why)),
	    HSM_GAP_REFUSED);
	assert_string_equal(why, "missing: CKM_AES_GCM; refused: key archival "
	    "(cmpca ca archival-key; profiles with archive_keys)");
	before = token_objects();
	assert_int_equal(hsm_archive_key_create(fx.h, "arch-ca", label,
	    sizeof(label)), 0);
	assert_non_null(strstr(hsm_error(), "token " TOKEN " cannot archive "
	    "keys: no CKM_AES_GCM"));
	assert_int_equal(token_objects(), before);
	c->aes_keygen = 0;
	assert_int_equal(hsm_caps_archive(c, why, sizeof(why)), 0);
	assert_string_equal(why, "CKM_AES_KEY_GEN (AES-256) and CKM_AES_GCM");
	*c = saved;
	if (!hsm_keygen_ee(fx.h, HSM_KEY_EC_P256, &k))
		fail_msg("hsm_keygen_ee: %s", hsm_error());
	/* No archival key yet: 0, nothing made. */
	assert_int_equal(hsm_archive_wrap(fx.h, "arch-ca", "aad-1", k, &w,
	    &wlen), 0);
	assert_null(w);
	before = token_objects();
	if (!hsm_archive_key_create(fx.h, "arch-ca", label, sizeof(label)))
		fail_msg("hsm_archive_key_create: %s", hsm_error());
	assert_string_equal(label, HSM_ARCHIVE_PREFIX "arch-ca");
	assert_int_equal(token_objects(), before + 1);
	assert_int_equal(hsm_archive_key_create(fx.h, "arch-ca", label,
	    sizeof(label)), 0);
	assert_int_equal(hsm_archive_wrap(fx.h, "arch-ca", "aad-1", k, &w,
	    &wlen), 1);
	p8 = EVP_PKEY2PKCS8(k);
	assert_non_null(p8);
	dlen = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	assert_true(dlen > 0 && wlen > (size_t)dlen);
	for (i = 0; (size_t)i + (size_t)dlen <= wlen; i++)
		assert_int_not_equal(memcmp(w + i, der, (size_t)dlen), 0);
	assert_int_equal(hsm_archive_unwrap(fx.h, "arch-ca", "aad-1", w, wlen,
	    &back), 1);
	assert_int_equal(EVP_PKEY_eq(k, back), 1);
	EVP_PKEY_free(back);
	back = NULL;
	/* Another AAD, another CA (no key), a flipped byte: nothing. */
	assert_int_equal(hsm_archive_unwrap(fx.h, "arch-ca", "aad-2", w, wlen,
	    &back), 0);
	assert_int_equal(hsm_archive_unwrap(fx.h, "other-ca", "aad-1", w,
	    wlen, &back), 0);
	w[wlen - 1] ^= 1;
	assert_int_equal(hsm_archive_unwrap(fx.h, "arch-ca", "aad-1", w, wlen,
	    &back), 0);
	assert_null(back);
	OPENSSL_clear_free(der, (size_t)dlen);
	PKCS8_PRIV_KEY_INFO_free(p8);
	OPENSSL_free(w);
	EVP_PKEY_free(k);
}
