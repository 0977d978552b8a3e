/*
 * test_hsm.c - hsm/ against a throwaway SoftHSM token, through hsm.h only
 * (no PKCS#11 here).
 *
 * Group set-up: a temporary directory with a softhsm2.conf, PIN files
 * (0600), a token made with hsm_token_init() and an open handle that the
 * tests share. The module is $CMPCA_PKCS11_MODULE or SoftHSM's default
 * path. Tests that need the module closed (wrong PIN, token init, ...)
 * close the shared handle and open it again.
 */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* hsm_int.h: hsm_seal_force_format(), and the module's function list,
 * to look at keys as another PKCS#11 user. */
#include "hsm/hsm_int.h"

#define TOKEN "cmpca-test"
#define USER_PIN "user-pin-4711"
#define SO_PIN "so-pin-0815"
#define WRONG_PIN "wrong-pin-1234"
#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"

static struct {
	char dir[64];
	char conf[128];
	char pin[128];
	char so_pin[128];
	char wrong_pin[128];
	char loose_pin[128];
	char lock[128];
	const char *module;
	struct hsm *h;
} fx;

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Opens the shared handle again after a test closed it. */
static void
reopen(void)
{
	if (fx.h == NULL)
		fx.h = hsm_open(fx.module, TOKEN, fx.pin);
	if (fx.h == NULL)
		fail_msg("hsm_open: %s", hsm_error());
}

static void
close_shared(void)
{
	hsm_close(fx.h);
	fx.h = NULL;
}

/* Milliseconds since t0. */
static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int
group_setup(void **state)
{
	char dir[192], text[512];
	struct timespec t0;

	(void)state;
	fx.module = getenv("CMPCA_PKCS11_MODULE");
	if (fx.module == NULL || *fx.module == '\0')
		fx.module = DEFAULT_MODULE;
	(void)snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_hsm.XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	(void)snprintf(dir, sizeof(dir), "%s/tokens", fx.dir);
	if (mkdir(dir, 0700) != 0)
		return -1;
	(void)snprintf(fx.conf, sizeof(fx.conf), "%s/softhsm2.conf", fx.dir);
	(void)snprintf(text, sizeof(text),
	    "directories.tokendir = %s\n"
	    "objectstore.backend = file\n"
	    "log.level = ERROR\n"
	    "slots.removable = false\n"
	    "library.reset_on_fork = true\n",
	    dir);
	write_file(fx.conf, text, 0600);
	setenv("SOFTHSM2_CONF", fx.conf, 1);
	/* A private lock file: the test does not touch the shared one. */
	(void)snprintf(fx.lock, sizeof(fx.lock), "%s/hsm.lock", fx.dir);
	setenv("CMPCA_HSM_LOCK", fx.lock, 1);
	unsetenv("CMPCA_HSM_PIN");

	(void)snprintf(fx.pin, sizeof(fx.pin), "%s/pin", fx.dir);
	(void)snprintf(fx.so_pin, sizeof(fx.so_pin), "%s/so-pin", fx.dir);
	(void)snprintf(
	    fx.wrong_pin, sizeof(fx.wrong_pin), "%s/wrong-pin", fx.dir);
	(void)snprintf(
	    fx.loose_pin, sizeof(fx.loose_pin), "%s/loose-pin", fx.dir);
	write_file(fx.pin, USER_PIN "\n", 0600);
	write_file(fx.so_pin, SO_PIN "\n", 0600);
	write_file(fx.wrong_pin, WRONG_PIN "\n", 0600);
	write_file(fx.loose_pin, USER_PIN "\n", 0644);

	if (!hsm_token_init(fx.module, TOKEN, fx.so_pin, fx.pin)) {
		print_error("hsm_token_init: %s\n", hsm_error());
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fx.h = hsm_open(fx.module, TOKEN, fx.pin);
	if (fx.h == NULL) {
		print_error("hsm_open: %s\n", hsm_error());
		return -1;
	}
	print_message("hsm_open took %.1f ms\n", ms_since(&t0));
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	hsm_close(fx.h);
	fx.h = NULL;
	if (fx.dir[0] != '\0')
		(void)nftw(fx.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void
test_keytype_parse(void **state)
{
	enum hsm_keytype t;

	(void)state;
	assert_true(hsm_keytype_parse("rsa:2048", &t));
	assert_int_equal(t, HSM_KEY_RSA2048);
	assert_true(hsm_keytype_parse("rsa2048", &t));
	assert_int_equal(t, HSM_KEY_RSA2048);
	assert_true(hsm_keytype_parse("rsa:3072", &t));
	assert_int_equal(t, HSM_KEY_RSA3072);
	assert_true(hsm_keytype_parse("rsa4096", &t));
	assert_int_equal(t, HSM_KEY_RSA4096);
	assert_true(hsm_keytype_parse("ec:P-256", &t));
	assert_int_equal(t, HSM_KEY_EC_P256);
	assert_true(hsm_keytype_parse("p256", &t));
	assert_int_equal(t, HSM_KEY_EC_P256);
	assert_true(hsm_keytype_parse("ec:P-384", &t));
	assert_int_equal(t, HSM_KEY_EC_P384);
	assert_true(hsm_keytype_parse("p384", &t));
	assert_int_equal(t, HSM_KEY_EC_P384);
	assert_false(hsm_keytype_parse("rsa:1024", &t));
	assert_non_null(strstr(hsm_error(), "unknown key type"));
	assert_false(hsm_keytype_parse("ec:P-521", &t));
	assert_false(hsm_keytype_parse("ed25519", &t));
	assert_false(hsm_keytype_parse("", &t));
	assert_false(hsm_keytype_parse("rsa:2048 ", &t));
	assert_false(hsm_keytype_parse(NULL, &t));
}

static void
test_pin_read(void **state)
{
	char buf[64], path[192];

	(void)state;
	assert_true(hsm_pin_read(fx.pin, buf, sizeof(buf)));
	assert_string_equal(buf, USER_PIN);

	/* CRLF, and only the first line counts. */
	(void)snprintf(path, sizeof(path), "%s/crlf-pin", fx.dir);
	write_file(path, "abc123\r\nsecond line\n", 0400);
	assert_true(hsm_pin_read(path, buf, sizeof(buf)));
	assert_string_equal(buf, "abc123");

	/* No trailing newline. */
	(void)snprintf(path, sizeof(path), "%s/bare-pin", fx.dir);
	write_file(path, "abc", 0600);
	assert_true(hsm_pin_read(path, buf, sizeof(buf)));
	assert_string_equal(buf, "abc");

	/* Group or other may not read it. */
	assert_false(hsm_pin_read(fx.loose_pin, buf, sizeof(buf)));
	assert_non_null(strstr(hsm_error(), "group or others"));
	assert_null(strstr(hsm_error(), USER_PIN));
	assert_string_equal(buf, "");

	/* Too long for the buffer. */
	assert_false(hsm_pin_read(fx.pin, buf, 5));
	assert_non_null(strstr(hsm_error(), "longer than"));
	assert_null(strstr(hsm_error(), USER_PIN));

	/* Empty, missing, a directory. */
	(void)snprintf(path, sizeof(path), "%s/empty-pin", fx.dir);
	write_file(path, "\n", 0600);
	assert_false(hsm_pin_read(path, buf, sizeof(buf)));
	assert_non_null(strstr(hsm_error(), "empty"));
	(void)snprintf(path, sizeof(path), "%s/no-such-pin", fx.dir);
	assert_false(hsm_pin_read(path, buf, sizeof(buf)));
	assert_false(hsm_pin_read(fx.dir, buf, sizeof(buf)));
}

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
static void
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

static void
test_keygen_rsa2048(void **state)
{
	(void)state;
	keygen_check(HSM_KEY_RSA2048, "rsa2048-key", 1);
}

static void
test_keygen_rsa3072(void **state)
{
	(void)state;
	keygen_check(HSM_KEY_RSA3072, "rsa3072-key", 0);
}

static void
test_keygen_rsa4096(void **state)
{
	(void)state;
	keygen_check(HSM_KEY_RSA4096, "rsa4096-key", 0);
}

static void
test_keygen_p256(void **state)
{
	(void)state;
	keygen_check(HSM_KEY_EC_P256, "p256-key", 0);
}

static void
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

static void
test_keygen_mechanisms(void **state)
{
	(void)state;
	mech_check("rsa2048-key", CKM_RSA_PKCS, CKM_RSA_X_509);
	mech_check("p256-key", CKM_ECDSA, CKM_ECDSA_SHA256);
}

/* Labels with URI-reserved bytes come back percent-encoded and load. */
static void
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

static void
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

static void
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

static void
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

static void
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

static void
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

static void
test_open_wrong_pin(void **state)
{
	struct hsm *h;
	struct timespec t0;

	(void)state;
	close_shared();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	h = hsm_open(fx.module, TOKEN, fx.wrong_pin);
	assert_null(h);
	/* No retries of a failed login: fast. */
	assert_true(ms_since(&t0) < 2000.0);
	assert_non_null(strstr(hsm_error(), "login failed"));
	assert_non_null(strstr(hsm_error(), "wrong PIN"));
	assert_null(strstr(hsm_error(), WRONG_PIN));
	assert_null(strstr(hsm_error(), USER_PIN));

	/* A PIN file group or others may read is refused before login. */
	assert_null(hsm_open(fx.module, TOKEN, fx.loose_pin));
	assert_non_null(strstr(hsm_error(), "group or others"));
	assert_null(strstr(hsm_error(), USER_PIN));

	/* The right PIN still works, and the keys are still there. */
	reopen();
	{
		EVP_PKEY *k = hsm_key_load(fx.h, "pkcs11:object=p256-key");

		if (k == NULL)
			fail_msg("hsm_key_load after reopen: %s", hsm_error());
		EVP_PKEY_free(k);
	}
}

static void
test_open_env_pin(void **state)
{
	struct hsm *h;

	(void)state;
	close_shared();
	unsetenv("CMPCA_HSM_PIN");
	assert_null(hsm_open(fx.module, TOKEN, NULL));
	assert_non_null(strstr(hsm_error(), "CMPCA_HSM_PIN"));
	setenv("CMPCA_HSM_PIN", WRONG_PIN, 1);
	assert_null(hsm_open(fx.module, TOKEN, NULL));
	assert_non_null(strstr(hsm_error(), "wrong PIN"));
	assert_null(strstr(hsm_error(), WRONG_PIN));
	setenv("CMPCA_HSM_PIN", USER_PIN, 1);
	h = hsm_open(fx.module, TOKEN, NULL);
	unsetenv("CMPCA_HSM_PIN");
	if (h == NULL)
		fail_msg("hsm_open with CMPCA_HSM_PIN: %s", hsm_error());
	assert_string_equal(hsm_token_label(h), TOKEN);
	hsm_close(h);
	reopen();
}

/* Signs a few bytes with k; returns 1 or 0. */
static int
sign_ok(EVP_PKEY *k)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t len = sizeof(sig);
	int ok;

	ok = m != NULL && EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k) == 1 &&
	     EVP_DigestSign(m, sig, &len, (const unsigned char *)"abc", 3) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

/* The token's directory under fx.dir/tokens, into path. */
static void
token_dir(char *path, size_t len)
{
	char dir[192];
	struct dirent *e;
	DIR *d;

	(void)snprintf(dir, sizeof(dir), "%s/tokens", fx.dir);
	assert_non_null(d = opendir(dir));
	path[0] = '\0';
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			(void)snprintf(path, len, "%s/%s", dir, e->d_name);
	(void)closedir(d);
	assert_true(path[0] != '\0');
}

/*
 * Regression: a token that went away (here its SoftHSM directory, as a
 * token pulled from its reader) left the handle's session and key handles
 * dead for ever: SoftHSM answers CKR_OBJECT_HANDLE_INVALID even after the
 * token is back, and sees it again only after C_Finalize/C_Initialize.
 * cmpcad then failed every request until restarted. Now the error marks
 * the handle lost and hsm_reopen() loads the module and logs in again.
 */
static void
test_token_lost(void **state)
{
	char tok[512], away[256];
	unsigned long e;
	unsigned char r[8];
	EVP_PKEY *k;
	int noted = 0;

	(void)state;
	reopen();
	assert_false(hsm_lost(fx.h));
	assert_true(hsm_reopen(fx.h)); /* not lost: nothing to do */
	if ((k = hsm_key_load(fx.h, "pkcs11:object=p256-key")) == NULL)
		fail_msg("hsm_key_load: %s", hsm_error());
	assert_true(sign_ok(k));
	token_dir(tok, sizeof(tok));
	(void)snprintf(away, sizeof(away), "%s/away", fx.dir);
	assert_int_equal(rename(tok, away), 0);
	assert_false(sign_ok(k));
	while ((e = ERR_get_error()) != 0)
		noted |= hsm_err_note(e);
	assert_true(noted);
	assert_true(hsm_lost(fx.h));
	EVP_PKEY_free(k); /* before the reopen: keys die with the module */
	/* Still away: the reopen fails, and so does everything else. */
	assert_false(hsm_reopen(fx.h));
	assert_non_null(strstr(hsm_error(), "token not found"));
	assert_true(hsm_lost(fx.h));
	assert_false(hsm_random(fx.h, r, sizeof(r)));
	assert_null(hsm_key_load(fx.h, "pkcs11:object=p256-key"));
	/* Back: after the one-second pause, a reopen brings it all back. */
	assert_int_equal(rename(away, tok), 0);
	assert_false(hsm_reopen(fx.h));
	assert_non_null(strstr(hsm_error(), "next attempt"));
	(void)usleep(1100 * 1000);
	if (!hsm_reopen(fx.h))
		fail_msg("hsm_reopen: %s", hsm_error());
	assert_false(hsm_lost(fx.h));
	if ((k = hsm_key_load(fx.h, "pkcs11:object=p256-key")) == NULL)
		fail_msg("hsm_key_load after reopen: %s", hsm_error());
	assert_true(sign_ok(k));
	EVP_PKEY_free(k);
	assert_true(hsm_random(fx.h, r, sizeof(r)));
}

static void
test_open_twice(void **state)
{
	(void)state;
	reopen();
	/* A second handle on the module would share (and end) the login. */
	assert_null(hsm_open(fx.module, TOKEN, fx.wrong_pin));
	assert_non_null(strstr(hsm_error(), "already open"));
	assert_false(hsm_token_init(fx.module, "other", fx.so_pin, fx.pin));
	assert_non_null(strstr(hsm_error(), "already open"));
	/* The first handle is unharmed. */
	{
		unsigned char r[8];

		assert_true(hsm_random(fx.h, r, sizeof(r)));
	}
}

/* The lock file is 0600, made so if an earlier version left it 0644. */
static void
test_lock_mode(void **state)
{
	struct stat st;

	(void)state;
	close_shared();
	assert_int_equal(chmod(fx.lock, 0644), 0);
	reopen();
	assert_int_equal(stat(fx.lock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* A process holding the lock delays hsm_open() by a bounded time only. */
static void
test_lock_deadline(void **state)
{
	struct timespec t0;
	double ms;
	int fd;

	(void)state;
	close_shared();
	fd = open(fx.lock, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	/* Without a deadline hsm_open() would never return: end the test
	 * binary instead of hanging the suite. */
	alarm(60);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fx.h = hsm_open(fx.module, TOKEN, fx.pin);
	ms = ms_since(&t0);
	alarm(0);
	(void)close(fd);
	assert_null(fx.h);
	print_message("held lock: gave up after %.0f ms\n", ms);
	assert_non_null(strstr(hsm_error(), "still held by another process"));
	assert_true(ms >= 9000 && ms < 15000);
	reopen();
}

/* Another user's lock file (which that user could hold) is refused. */
static void
test_lock_foreign(void **state)
{
	char dir[64], lock[96];
	pid_t pid;
	int status, fd;

	(void)state;
	(void)snprintf(dir, sizeof(dir), "/tmp/test_hsm_lock.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	(void)snprintf(lock, sizeof(lock), "%s/lock", dir);
	fd = open(lock, O_RDONLY | O_CREAT, 0644); /* root's, 0644 */
	assert_true(fd >= 0);
	(void)close(fd);
	close_shared();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hsm *h;

		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		setenv("CMPCA_HSM_LOCK", lock, 1);
		setenv("CMPCA_HSM_PIN", USER_PIN, 1);
		h = hsm_open(fx.module, TOKEN, NULL);
		_exit(h == NULL && strstr(hsm_error(), "owned by uid 0") != NULL
			  ? 0
			  : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	(void)unlink(lock);
	(void)rmdir(dir);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	reopen();
}

static void
test_open_bad(void **state)
{
	struct timespec t0;

	(void)state;
	close_shared();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_null(hsm_open(fx.module, "no-such-token", fx.pin));
	print_message("unknown token gave up after %.0f ms\n", ms_since(&t0));
	assert_non_null(strstr(hsm_error(), "token not found"));
	assert_null(hsm_open("/nonexistent/module.so", TOKEN, fx.pin));
	assert_non_null(strstr(hsm_error(), "module"));
	assert_null(hsm_open(fx.module, "", fx.pin));
	assert_null(hsm_open(
	    fx.module, "a-label-longer-than-thirty-two-bytes", fx.pin));
	assert_null(hsm_open(NULL, TOKEN, fx.pin));
	hsm_close(NULL);
	assert_string_equal(hsm_token_label(NULL), "");
	reopen();
}

static void
test_token_init_exists(void **state)
{
	(void)state;
	close_shared();
	assert_false(hsm_token_init(fx.module, TOKEN, fx.so_pin, fx.pin));
	assert_non_null(strstr(hsm_error(), "exists"));
	assert_false(
	    hsm_token_init(fx.module, "second", fx.so_pin, fx.loose_pin));
	assert_non_null(strstr(hsm_error(), "group or others"));
	/* A second token on the same module, usable by label. */
	if (!hsm_token_init(fx.module, "second", fx.so_pin, fx.pin))
		fail_msg("hsm_token_init second: %s", hsm_error());
	{
		struct hsm *h = hsm_open(fx.module, "second", fx.pin);

		if (h == NULL)
			fail_msg("hsm_open second: %s", hsm_error());
		assert_null(hsm_key_load(h, "pkcs11:object=p256-key"));
		assert_null(
		    hsm_key_load(h, "pkcs11:token=" TOKEN ";object=p256-key"));
		hsm_close(h);
	}
	reopen();
}

/*
 * Enrollment secrets sealed in the token: round trip, a fresh IV each
 * time, the reference (AAD) bound to the value, tampering detected, the
 * key not extractable, and the cost of one unseal (printed, not asserted:
 * the daemon pays it on every MAC-protected request).
 */
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

static void
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
static void
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

int
main(void)
{
	/* In order: later tests use the keys the keygen tests leave. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keytype_parse),
		cmocka_unit_test(test_pin_read),
		cmocka_unit_test(test_keygen_rsa2048),
		cmocka_unit_test(test_keygen_rsa3072),
		cmocka_unit_test(test_keygen_rsa4096),
		cmocka_unit_test(test_keygen_p256),
		cmocka_unit_test(test_keygen_p384),
		cmocka_unit_test(test_keygen_mechanisms),
		cmocka_unit_test(test_keygen_label_escaped),
		cmocka_unit_test(test_keygen_duplicate),
		cmocka_unit_test(test_keygen_bad_args),
		cmocka_unit_test(test_key_load_unknown),
		cmocka_unit_test(test_key_load_bad_uri),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_seal_rotate),
		cmocka_unit_test(test_open_wrong_pin),
		cmocka_unit_test(test_open_env_pin),
		cmocka_unit_test(test_open_twice),
		cmocka_unit_test(test_token_lost),
		cmocka_unit_test(test_open_bad),
		cmocka_unit_test(test_lock_mode),
		cmocka_unit_test(test_lock_deadline),
		cmocka_unit_test(test_lock_foreign),
		cmocka_unit_test(test_token_init_exists),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
