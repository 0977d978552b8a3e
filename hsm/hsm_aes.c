/*
 * hsm_aes.c - enrollment secrets sealed under an AES-256 key that never
 * leaves the token (AES-GCM through the module's function list).
 *
 * libp11 0.4.12 has no symmetric-key API, so this file talks to the
 * module's CK_FUNCTION_LIST, the instance libp11 loaded and logged in
 * (hsm_p11_funcs(), see hsm.c): C_GenerateKey for the key, C_Encrypt and
 * C_Decrypt with CKM_AES_GCM, C_GenerateRandom for the IVs.
 *
 * The key: CKK_AES, 32 bytes, token, private, sensitive, not extractable,
 * encrypt/decrypt only, labelled HSM_SEAL_LABEL. hsm_seal() generates it
 * the first time; hsm_unseal() never does (no key, nothing to open).
 *
 * Two formats, both IV (12 bytes, from the token's RNG, fresh per value)
 * || ciphertext || tag (16 bytes) after a format byte; the caller's AAD
 * (the secret's reference) is authenticated with the value, so a sealed
 * value copied to another row does not open there.
 *
 *   0x02  AES-256-GCM in software under a data key derived in the token:
 *         DEK = AES-ECB_K(B1) || AES-ECB_K(B2), B_i = "cmpca-seal-dek"
 *         || 0x00 || i (a counter-mode KDF with the block cipher as PRF,
 *         NIST SP 800-108). The AAD is the format byte followed by the
 *         reference. Workers derive the DEK once (one C_Encrypt) and then
 *         open a value in about a microsecond; a C_DecryptInit in SoftHSM
 *         re-reads the key object from disk, some 80 us per request.
 *   0x01  AES-256-GCM in the token (C_Decrypt per value); AAD the
 *         reference. Written when the token refuses CKM_AES_ECB with the
 *         key, and by versions before issue 6; always readable.
 *
 * The DEK lives in the process as long as its session does (it is no more
 * than what the logged-in session can compute), is wiped when the handle
 * is closed or the token is lost, and never leaves the process: a copy
 * of the database alone opens nothing, as before.
 *
 * One session and the key's handle are kept per process (workers decrypt
 * on every MAC-protected request); hsm_close() drops them. A session or
 * handle the token no longer knows is reopened once.
 */
#define HSM_INTERNAL

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit-1/p11-kit/pkcs11.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hsm/hsm.h"

/* Format bytes of a sealed value. */
#define SEAL_V1 0x01
#define SEAL_V2 0x02
/* GCM IV and tag lengths (NIST SP 800-38D recommendations). */
#define SEAL_IV_LEN 12
#define SEAL_TAG_LEN 16
/* AES-256. */
#define SEAL_KEY_LEN 32
/* Largest secret we seal; enrollment secrets are short. */
#define SEAL_MAX 4096

static pthread_mutex_t seal_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct hsm *h; /* handle the session belongs to */
	pid_t pid;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key;
	int dek_state; /* 0 not derived yet, 1 dek set, -1 token refuses */
	unsigned char dek[SEAL_KEY_LEN];
} seal_cache = { NULL, 0, CK_INVALID_HANDLE, CK_INVALID_HANDLE, 0, { 0 } };
/* Tests: seal in format 0x01 even when a DEK can be derived. */
static int seal_force_v1;

/* Wipes and frees p (len bytes). Safe with NULL. */
static void
wipe_free(unsigned char *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

/* Closes the cached session. Called with seal_lock held. */
static void
seal_drop(CK_FUNCTION_LIST_PTR fl)
{
	if (seal_cache.s != CK_INVALID_HANDLE && fl != NULL &&
	    seal_cache.pid == getpid())
		(void)fl->C_CloseSession(seal_cache.s);
	seal_cache.h = NULL;
	seal_cache.pid = 0;
	seal_cache.s = CK_INVALID_HANDLE;
	seal_cache.key = CK_INVALID_HANDLE;
	seal_cache.dek_state = 0;
	OPENSSL_cleanse(seal_cache.dek, sizeof(seal_cache.dek));
}

/* See hsm.h (HSM_INTERNAL): called by hsm_close() before the module goes. */
void
hsm_aes_forget(struct hsm *h)
{
	unsigned long slot;
	CK_FUNCTION_LIST_PTR fl;

	(void)pthread_mutex_lock(&seal_lock);
	if (seal_cache.h == h) {
		fl = seal_cache.pid == getpid() ? hsm_p11_funcs(h, &slot) : NULL;
		seal_drop(fl);
	}
	(void)pthread_mutex_unlock(&seal_lock);
}

/*
 * Finds the key labelled HSM_SEAL_LABEL in session s. Returns 1 (*key
 * set), 0 if there is none, -1 on error or when there are several.
 */
static int
seal_key_find(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE *key)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_LABEL, (void *)(uintptr_t)HSM_SEAL_LABEL,
		    sizeof(HSM_SEAL_LABEL) - 1 },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv;
	char why[64];

	rv = fl->C_FindObjectsInit(s, t, sizeof(t) / sizeof(t[0]));
	if (rv == CKR_OK) {
		rv = fl->C_FindObjects(s, found, 2, &n);
		(void)fl->C_FindObjectsFinal(s);
	}
	if (rv != CKR_OK) {
		hsm_err_set("secret key lookup: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		return -1;
	}
	if (n > 1) {
		hsm_err_set("several keys labelled %s on the token: keep one",
		    HSM_SEAL_LABEL);
		return -1;
	}
	if (n == 1)
		*key = found[0];
	return n == 1;
}

/* Generates the sealing key in session s. Returns 1 or 0 (reason set). */
static int
seal_key_generate(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE *key)
{
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG len = SEAL_KEY_LEN;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_SIGN, &no, sizeof(no) },
		{ CKA_VERIFY, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)(uintptr_t)HSM_SEAL_LABEL,
		    sizeof(HSM_SEAL_LABEL) - 1 },
	};
	CK_RV rv;
	char why[64];

	rv = fl->C_GenerateKey(s, &mech, t, sizeof(t) / sizeof(t[0]), key);
	if (rv != CKR_OK) {
		hsm_err_set("cannot generate the secret key: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		return 0;
	}
	return 1;
}

/*
 * Makes sure this process has a session and the key's handle, generating
 * the key when create is set and there is none. Called with seal_lock
 * held. Returns 1, or 0 (reason set).
 */
static int
seal_ready(struct hsm *h, CK_FUNCTION_LIST_PTR fl, unsigned long slot,
    int create)
{
	CK_RV rv;
	char why[64];
	int rc;

	if (seal_cache.h != h || seal_cache.pid != getpid())
		seal_drop(seal_cache.pid == getpid() ? fl : NULL);
	if (seal_cache.s == CK_INVALID_HANDLE) {
		rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
		    NULL, NULL, &seal_cache.s);
		if (rv != CKR_OK) {
			seal_cache.s = CK_INVALID_HANDLE;
			hsm_err_set("secret key: cannot open session: %s",
			    hsm_ckr_str(rv, why, sizeof(why)));
			hsm_mark_lost(why);
			return 0;
		}
		seal_cache.h = h;
		seal_cache.pid = getpid();
	}
	if (seal_cache.key != CK_INVALID_HANDLE)
		return 1;
	rc = seal_key_find(fl, seal_cache.s, &seal_cache.key);
	if (rc < 0)
		return 0;
	if (rc == 0 && !create) {
		/* Something sealed needs it, so the key was there: a token
		 * that lost its objects is one to reopen (hsm_reopen()). */
		hsm_err_set("no key labelled %s on the token", HSM_SEAL_LABEL);
		hsm_mark_lost("the secret key vanished from the token");
		return 0;
	}
	if (rc == 0 && !seal_key_generate(fl, seal_cache.s, &seal_cache.key)) {
		seal_cache.key = CK_INVALID_HANDLE;
		return 0;
	}
	return 1;
}

/* Return values after which the cached session or handle is stale. */
static int
seal_stale(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	    rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID ||
	    rv == CKR_USER_NOT_LOGGED_IN;
}

/* Fills gcm for a SEAL_IV_LEN-byte IV, aad and a SEAL_TAG_LEN tag. */
static void
gcm_params(CK_GCM_PARAMS *gcm, const unsigned char *iv, const char *aad)
{
	memset(gcm, 0, sizeof(*gcm));
	gcm->iv_ptr = (unsigned char *)(uintptr_t)iv;
	gcm->iv_len = SEAL_IV_LEN;
	gcm->iv_bits = SEAL_IV_LEN * 8;
	gcm->aad_ptr = (unsigned char *)(uintptr_t)aad;
	gcm->aad_len = strlen(aad);
	gcm->tag_bits = SEAL_TAG_LEN * 8;
}

/* One C_EncryptInit + C_Encrypt (or decrypt) under the cached key. */
static CK_RV
seal_run(CK_FUNCTION_LIST_PTR fl, int enc, CK_GCM_PARAMS *gcm,
    const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
	CK_MECHANISM mech = { CKM_AES_GCM, gcm, sizeof(*gcm) };
	CK_ULONG n = (CK_ULONG)*outlen;
	CK_RV rv;

	if (enc) {
		rv = fl->C_EncryptInit(seal_cache.s, &mech, seal_cache.key);
		if (rv == CKR_OK)
			rv = fl->C_Encrypt(seal_cache.s,
			    (unsigned char *)(uintptr_t)in, (CK_ULONG)inlen, out,
			    &n);
	} else {
		rv = fl->C_DecryptInit(seal_cache.s, &mech, seal_cache.key);
		if (rv == CKR_OK)
			rv = fl->C_Decrypt(seal_cache.s,
			    (unsigned char *)(uintptr_t)in, (CK_ULONG)inlen, out,
			    &n);
	}
	*outlen = (size_t)n;
	return rv;
}

/*
 * Derives the data key into seal_cache (see the top of this file). Called
 * with seal_lock held after seal_ready(). Returns CKR_OK, with dek_state
 * 1, or -1 when the token refuses ECB with the key (format 0x01 only);
 * another value is the token's error.
 */
static CK_RV
seal_dek(CK_FUNCTION_LIST_PTR fl)
{
	static const char label[] = "cmpca-seal-dek";
	CK_MECHANISM mech = { CKM_AES_ECB, NULL, 0 };
	unsigned char in[2 * 16];
	CK_ULONG n = sizeof(seal_cache.dek);
	CK_RV rv;
	int i;

	if (seal_cache.dek_state != 0)
		return CKR_OK;
	memset(in, 0, sizeof(in));
	for (i = 0; i < 2; i++) {
		memcpy(in + 16 * i, label, sizeof(label) - 1);
		in[16 * i + 15] = (unsigned char)(i + 1);
	}
	rv = fl->C_EncryptInit(seal_cache.s, &mech, seal_cache.key);
	if (rv == CKR_OK)
		rv = fl->C_Encrypt(seal_cache.s, in, sizeof(in), seal_cache.dek,
		    &n);
	if (rv == CKR_OK && n != sizeof(seal_cache.dek))
		rv = CKR_FUNCTION_FAILED;
	if (rv == CKR_MECHANISM_INVALID || rv == CKR_KEY_FUNCTION_NOT_PERMITTED ||
	    rv == CKR_KEY_TYPE_INCONSISTENT || rv == CKR_FUNCTION_FAILED) {
		OPENSSL_cleanse(seal_cache.dek, sizeof(seal_cache.dek));
		seal_cache.dek_state = -1;
		return CKR_OK;
	}
	if (rv != CKR_OK) {
		OPENSSL_cleanse(seal_cache.dek, sizeof(seal_cache.dek));
		return rv;
	}
	seal_cache.dek_state = 1;
	return CKR_OK;
}

/*
 * AES-256-GCM under the DEK in software, format 0x02: in is inlen bytes of
 * plain text (enc) or ciphertext || tag (!enc); iv 12 bytes. Returns 1, 0
 * if the value does not authenticate, -1 on a library error.
 */
static int
seal_soft(int enc, const unsigned char *iv, const char *aad,
    const unsigned char *in, size_t inlen, unsigned char *out)
{
	static EVP_CIPHER *gcm;
	static const unsigned char v2 = SEAL_V2;
	EVP_CIPHER_CTX *c;
	size_t len = enc ? inlen : inlen - SEAL_TAG_LEN;
	int n = 0, rc = -1;

	if (gcm == NULL && (gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM",
				NULL)) == NULL)
		return -1;
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_CipherInit_ex2(c, gcm, seal_cache.dek, iv, enc, NULL) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, &v2, 1) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)aad,
		(int)strlen(aad)) != 1 ||
	    EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG_LEN,
			(void *)(uintptr_t)(in + len)) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &n) != 1) {
		rc = enc ? -1 : 0;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG_LEN,
			out + len) != 1)
		goto out;
	rc = 1;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* See hsm.h (HSM_INTERNAL). */
void
hsm_seal_force_v1(int on)
{
	seal_force_v1 = on;
}

int
hsm_seal(struct hsm *h, const char *aad, const unsigned char *pt,
    size_t ptlen, unsigned char **out, size_t *outlen)
{
	CK_FUNCTION_LIST_PTR fl;
	CK_GCM_PARAMS gcm;
	unsigned long slot;
	unsigned char *buf = NULL;
	size_t n = 0, cap;
	CK_RV rv = CKR_OK;
	char why[64];
	int tries, rc = 0;

	*out = NULL;
	*outlen = 0;
	if (aad == NULL || pt == NULL || ptlen == 0 || ptlen > SEAL_MAX) {
		hsm_err_set("seal: bad argument");
		return 0;
	}
	if ((fl = hsm_p11_funcs(h, &slot)) == NULL)
		return 0;
	cap = 1 + SEAL_IV_LEN + ptlen + SEAL_TAG_LEN;
	if ((buf = malloc(cap)) == NULL) {
		hsm_err_set("seal: out of memory");
		return 0;
	}
	(void)pthread_mutex_lock(&seal_lock);
	for (tries = 0; tries < 2; tries++) {
		if (!seal_ready(h, fl, slot, 1))
			goto out;
		if (!seal_force_v1)
			rv = seal_dek(fl);
		if (rv == CKR_OK)
			rv = fl->C_GenerateRandom(seal_cache.s, buf + 1,
			    SEAL_IV_LEN);
		if (rv == CKR_OK && seal_cache.dek_state == 1 &&
		    !seal_force_v1) {
			buf[0] = SEAL_V2;
			n = ptlen + SEAL_TAG_LEN;
			if (seal_soft(1, buf + 1, aad, pt, ptlen,
				buf + 1 + SEAL_IV_LEN) != 1) {
				hsm_err_set("seal: AES-GCM failed");
				goto out;
			}
		} else if (rv == CKR_OK) {
			buf[0] = SEAL_V1;
			gcm_params(&gcm, buf + 1, aad);
			n = cap - 1 - SEAL_IV_LEN;
			rv = seal_run(fl, 1, &gcm, pt, ptlen,
			    buf + 1 + SEAL_IV_LEN, &n);
		}
		if (rv == CKR_OK)
			break;
		if (!seal_stale(rv))
			break;
		seal_drop(fl);
	}
	if (seal_stale(rv))
		hsm_mark_lost(hsm_ckr_str(rv, why, sizeof(why)));
	if (rv != CKR_OK || n != ptlen + SEAL_TAG_LEN) {
		hsm_err_set("seal: %s", rv != CKR_OK
			? hsm_ckr_str(rv, why, sizeof(why))
			: "unexpected ciphertext length");
		goto out;
	}
	*out = buf;
	*outlen = cap;
	buf = NULL;
	rc = 1;
out:
	(void)pthread_mutex_unlock(&seal_lock);
	wipe_free(buf, cap);
	return rc;
}

int
hsm_unseal(struct hsm *h, const char *aad, const unsigned char *in,
    size_t inlen, unsigned char **pt, size_t *ptlen)
{
	CK_FUNCTION_LIST_PTR fl;
	CK_GCM_PARAMS gcm;
	unsigned long slot;
	unsigned char *buf = NULL;
	size_t n = 0, cap;
	CK_RV rv = CKR_OK;
	char why[64];
	int tries, rc = -1;

	*pt = NULL;
	*ptlen = 0;
	if (aad == NULL || in == NULL ||
	    inlen <= 1 + SEAL_IV_LEN + SEAL_TAG_LEN ||
	    inlen > 1 + SEAL_IV_LEN + SEAL_MAX + SEAL_TAG_LEN ||
	    (in[0] != SEAL_V1 && in[0] != SEAL_V2)) {
		hsm_err_set("unseal: not a sealed value");
		return 0;
	}
	if ((fl = hsm_p11_funcs(h, &slot)) == NULL)
		return -1;
	/* Room for the tag too: some modules want it before they check. */
	cap = inlen - 1 - SEAL_IV_LEN;
	if ((buf = malloc(cap + 1)) == NULL) {
		hsm_err_set("unseal: out of memory");
		return -1;
	}
	(void)pthread_mutex_lock(&seal_lock);
	for (tries = 0; tries < 2 && in[0] == SEAL_V2; tries++) {
		if (seal_cache.dek_state == 1 && seal_cache.h == h &&
		    seal_cache.pid == getpid())
			break;
		if (!seal_ready(h, fl, slot, 0))
			goto out;
		if ((rv = seal_dek(fl)) == CKR_OK || !seal_stale(rv))
			break;
		seal_drop(fl);
	}
	if (in[0] == SEAL_V2) {
		if (rv != CKR_OK || seal_cache.dek_state != 1) {
			hsm_err_set("unseal: %s", rv != CKR_OK
				? hsm_ckr_str(rv, why, sizeof(why))
				: "the token cannot derive the data key "
				  "(AES-ECB refused)");
			if (seal_stale(rv))
				hsm_mark_lost(why);
			goto out;
		}
		n = inlen - 1 - SEAL_IV_LEN - SEAL_TAG_LEN;
		rc = seal_soft(0, in + 1, aad, in + 1 + SEAL_IV_LEN,
		    inlen - 1 - SEAL_IV_LEN, buf);
		if (rc == 0)
			hsm_err_set("unseal: value does not authenticate "
				    "(wrong reference, key or data)");
		else if (rc < 0)
			hsm_err_set("unseal: AES-GCM failed");
		if (rc != 1)
			goto out;
		goto done;
	}
	for (tries = 0; tries < 2; tries++) {
		if (!seal_ready(h, fl, slot, 0))
			goto out;
		gcm_params(&gcm, in + 1, aad);
		n = cap;
		rv = seal_run(fl, 0, &gcm, in + 1 + SEAL_IV_LEN,
		    inlen - 1 - SEAL_IV_LEN, buf, &n);
		if (rv == CKR_OK || !seal_stale(rv))
			break;
		seal_drop(fl);
	}
	/* SoftHSM 2.6 answers a wrong tag with CKR_GENERAL_ERROR. */
	if (rv == CKR_ENCRYPTED_DATA_INVALID ||
	    rv == CKR_ENCRYPTED_DATA_LEN_RANGE || rv == CKR_GENERAL_ERROR ||
	    rv == CKR_FUNCTION_FAILED ||
	    (rv == CKR_OK && n != cap - SEAL_TAG_LEN)) {
		hsm_err_set("unseal: value does not authenticate (wrong "
			    "reference, key or data; %s)",
		    hsm_ckr_str(rv, why, sizeof(why)));
		rc = 0;
		goto out;
	}
	if (rv != CKR_OK) {
		hsm_err_set("unseal: %s", hsm_ckr_str(rv, why, sizeof(why)));
		if (seal_stale(rv))
			hsm_mark_lost(why);
		goto out;
	}
done:
	buf[n] = '\0'; /* convenience for text secrets; not counted */
	*pt = buf;
	*ptlen = n;
	buf = NULL;
	rc = 1;
out:
	(void)pthread_mutex_unlock(&seal_lock);
	wipe_free(buf, cap + 1);
	return rc;
}
