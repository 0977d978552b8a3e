/*
 * hsm_aes.c - enrollment secrets sealed under an AES-256 key that never
 * leaves the token (AES-GCM through the module's function list).
 *
 * libp11 0.4.12 has no symmetric-key API, so this file talks to the
 * module's CK_FUNCTION_LIST, the instance libp11 loaded and logged in
 * (hsm_p11_funcs(), see hsm.c): C_GenerateKey for the keys, C_Encrypt and
 * C_Decrypt with CKM_AES_GCM, C_GenerateRandom for the IVs.
 *
 * The keys: CKK_AES, 32 bytes, token, private, sensitive, not extractable,
 * encrypt/decrypt only, CKA_ALLOWED_MECHANISMS the two used here, GCM and
 * ECB (keys made since issue 23; older ones keep working as they are). They are numbered: version 1 is labelled
 * HSM_SEAL_LABEL, version N > 1 HSM_SEAL_LABEL-N; the highest version on
 * the token is the current one, which hsm_seal() uses. hsm_seal() generates
 * version 1 the first time, hsm_seal_new_key() the next version (`cmpca
 * secret reseal --new-key`); hsm_unseal() never generates one. Older keys
 * stay on the token until no value names them (see docs/operations.md).
 *
 * Formats, each IV (12 bytes, from the token's RNG, fresh per value)
 * || ciphertext || tag (16 bytes) after a header; the caller's AAD
 * (the secret's reference) is authenticated with the value, so a sealed
 * value copied to another row does not open there.
 *
 *   0x03  header 0x03 || key version (4 bytes, big-endian). AES-256-GCM in
 *         software under the data key derived in the token from that key
 *         version: DEK = AES-ECB_K(B1) || AES-ECB_K(B2), B_i =
 *         "cmpca-seal-dek" || 0x00 || i (a counter-mode KDF with the block
 *         cipher as PRF, NIST SP 800-108). The AAD is the header followed
 *         by the reference, so a value relabelled with another version
 *         does not open. Workers derive a DEK once per key version (one
 *         C_Encrypt) and then open a value in about a microsecond; a
 *         C_DecryptInit in SoftHSM re-reads the key object from disk, some
 *         80 us per request.
 *   0x02  as 0x03 under key version 1, header 0x02 only (before issue 17).
 *   0x01  AES-256-GCM in the token under key version 1 (C_Decrypt per
 *         value); AAD the reference. Written when the token refuses
 *         CKM_AES_ECB with key version 1, and by versions before issue 6;
 *         always readable.
 *
 * The DEKs live in the process as long as its session does (they are no
 * more than what the logged-in session can compute), are wiped when the
 * handle is closed or the token is lost, and never leave the process: a
 * copy of the database alone opens nothing, as before.
 *
 * One session and the handles of a few key versions are kept per process
 * (workers decrypt on every MAC-protected request); hsm_close() drops
 * them. A session or handle the token no longer knows is reopened once.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "hsm/hsm_int.h"

/* Format bytes of a sealed value. */
#define SEAL_V1 0x01
#define SEAL_V2 0x02
#define SEAL_V3 0x03
/* Header lengths: format byte, and key version for 0x03. */
#define SEAL_HDR_V3 5
/* GCM IV and tag lengths (NIST SP 800-38D recommendations). */
#define SEAL_IV_LEN 12
#define SEAL_TAG_LEN 16
/* AES-256. */
#define SEAL_KEY_LEN 32
/* Largest secret we seal; enrollment secrets are short. */
#define SEAL_MAX 4096
/* Key versions whose handle and DEK a process keeps at once. */
#define SEAL_KEYS 4
/* Highest key version (kept positive as a 32-bit signed integer, the
 * way the database reads it). */
#define SEAL_VER_MAX 0x7fffffffUL

struct seal_key {
	unsigned long ver; /* 0: free */
	CK_OBJECT_HANDLE key;
	int dek_state; /* 0 not derived yet, 1 dek set, -1 token refuses */
	int rsa;       /* an RSA key: the DEK from its signature */
	unsigned char dek[SEAL_KEY_LEN];
};

static pthread_mutex_t seal_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct hsm *h; /* handle the session belongs to */
	pid_t pid;
	CK_SESSION_HANDLE s;
	unsigned long cur; /* current key version, 0 not looked up yet */
	size_t next;	   /* keys[] slot to reuse next */
	struct seal_key keys[SEAL_KEYS];
} seal_cache = { NULL, 0, CK_INVALID_HANDLE, 0, 0, { { 0 } } };
/* Tests: seal in format 0x01 or 0x02 (key version 1) rather than 0x03. */
static int seal_force;

/* Wipes and frees p (len bytes). Safe with NULL. */
static void
wipe_free(unsigned char *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

/* Forgets the key versions' handles and DEKs. */
static void
seal_keys_drop(void)
{
	size_t i;

	for (i = 0; i < SEAL_KEYS; i++) {
		OPENSSL_cleanse(&seal_cache.keys[i], sizeof(seal_cache.keys[i]));
		seal_cache.keys[i].key = CK_INVALID_HANDLE;
	}
	seal_cache.next = 0;
	seal_cache.cur = 0;
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
	seal_keys_drop();
}

/* See hsm_int.h: called by hsm_close() before the module goes. */
void
hsm_aes_forget(struct hsm *h)
{
	(void)pthread_mutex_lock(&seal_lock);
	if (seal_cache.h == h)
		seal_drop(seal_cache.pid == getpid() ? h->fl : NULL);
	(void)pthread_mutex_unlock(&seal_lock);
}

/* The label of key version ver into buf. */
static void
seal_label(unsigned long ver, char *buf, size_t len)
{
	if (ver <= 1)
		(void)snprintf(buf, len, "%s", HSM_SEAL_LABEL);
	else
		(void)snprintf(buf, len, "%s-%lu", HSM_SEAL_LABEL, ver);
}

/*
 * The key version a label names: 1 for HSM_SEAL_LABEL, N for
 * HSM_SEAL_LABEL-N (N > 1, decimal, no leading zero), else 0.
 */
static unsigned long
seal_label_ver(const unsigned char *l, size_t len)
{
	size_t base = sizeof(HSM_SEAL_LABEL) - 1, i;
	unsigned long v = 0;

	if (len < base || memcmp(l, HSM_SEAL_LABEL, base) != 0)
		return 0;
	if (len == base)
		return 1;
	if (len < base + 2 || l[base] != '-' || l[base + 1] == '0' ||
	    len - base - 1 > 10)
		return 0;
	for (i = base + 1; i < len; i++) {
		if (l[i] < '0' || l[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(l[i] - '0');
	}
	return v >= 2 && v <= SEAL_VER_MAX ? v : 0;
}

/*
 * Finds the key of version ver in session s. Returns 1 (*key set), 0 if
 * there is none, -1 on error or when there are several.
 */
static int
seal_key_find1(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s, unsigned long ver,
    CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_OBJECT_HANDLE *key)
{
	char label[64];
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_LABEL, label, 0 },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv;
	char why[64];

	seal_label(ver, label, sizeof(label));
	t[2].ulValueLen = strlen(label);
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
		    label);
		return -1;
	}
	if (n == 1)
		*key = found[0];
	return n == 1;
}

/*
 * Finds the key of version ver: the AES key, or else the RSA key of a
 * token that has no secret keys (*rsa set; see seal_dek()). Returns as
 * seal_key_find1().
 */
static int
seal_key_find(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s, unsigned long ver,
    CK_OBJECT_HANDLE *key, int *rsa)
{
	int rc;

	*rsa = 0;
	rc = seal_key_find1(fl, s, ver, CKO_SECRET_KEY, CKK_AES, key);
	if (rc != 0)
		return rc;
	rc = seal_key_find1(fl, s, ver, CKO_PRIVATE_KEY, CKK_RSA, key);
	*rsa = rc == 1;
	return rc;
}

/*
 * The highest key version on the token into *ver (0 if there is no
 * sealing key). Returns 1, or 0 (reason set).
 */
static int
seal_key_latest1(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
    CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, unsigned long *ver)
{
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
	};
	CK_OBJECT_HANDLE found[16];
	unsigned char label[64];
	CK_ATTRIBUTE a = { CKA_LABEL, label, sizeof(label) };
	CK_ULONG n = 0, i;
	unsigned long v;
	CK_RV rv;
	char why[64];

	if ((rv = fl->C_FindObjectsInit(s, t, sizeof(t) / sizeof(t[0]))) !=
	    CKR_OK)
		goto fail;
	do {
		if ((rv = fl->C_FindObjects(s, found, 16, &n)) != CKR_OK)
			break;
		for (i = 0; i < n; i++) {
			a.ulValueLen = sizeof(label);
			if (fl->C_GetAttributeValue(s, found[i], &a, 1) !=
			    CKR_OK)
				continue; /* unlabelled or too long: not ours */
			v = seal_label_ver(label, a.ulValueLen);
			if (v > *ver)
				*ver = v;
		}
	} while (n == 16);
	(void)fl->C_FindObjectsFinal(s);
	if (rv == CKR_OK)
		return 1;
fail:
	hsm_err_set("secret key lookup: %s", hsm_ckr_str(rv, why, sizeof(why)));
	return 0;
}

/* The highest version of either kind (see seal_key_find()). */
static int
seal_key_latest(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
    unsigned long *ver)
{
	*ver = 0;
	return seal_key_latest1(fl, s, CKO_SECRET_KEY, CKK_AES, ver) &&
	    seal_key_latest1(fl, s, CKO_PRIVATE_KEY, CKK_RSA, ver);
}

/*
 * A token that cannot generate secret keys (tpm2-pkcs11 1.9 answers
 * C_GenerateKey with CKR_FUNCTION_NOT_SUPPORTED) but imports them: the
 * key's 32 bytes come from the token's RNG, are imported with
 * C_CreateObject under the same template (sensitive, not extractable:
 * the token keeps it so) and wiped here at once. The key was in this
 * process for that moment only, as its data key is for the process's
 * life anyway (the top of this file). The capability table says so.
 * Returns the token's answer.
 */
static CK_RV
seal_key_import(struct hsm *h, CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
    const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *key)
{
	CK_ATTRIBUTE tt[20];
	unsigned char val[SEAL_KEY_LEN];
	CK_ULONG i, m = 0;
	CK_RV rv;

	if (n + 1 > sizeof(tt) / sizeof(tt[0]))
		return CKR_GENERAL_ERROR;
	for (i = 0; i < n; i++)
		if (t[i].type != CKA_VALUE_LEN) /* implied by CKA_VALUE */
			tt[m++] = t[i];
	rv = fl->C_GenerateRandom(s, val, sizeof(val));
	if (rv == CKR_OK) {
		tt[m].type = CKA_VALUE;
		tt[m].pValue = val;
		tt[m].ulValueLen = sizeof(val);
		rv = fl->C_CreateObject(s, tt, m + 1, key);
		/* Some tokens refuse CKA_ALLOWED_MECHANISMS on import. */
		if (rv != CKR_OK && m > 0 &&
		    tt[m - 1].type == CKA_ALLOWED_MECHANISMS) {
			tt[m - 1] = tt[m];
			rv = fl->C_CreateObject(s, tt, m, key);
		}
	}
	OPENSSL_cleanse(val, sizeof(val));
	if (rv == CKR_OK)
		h->caps.seal_imported = 1;
	return rv;
}

/*
 * A token that neither generates nor imports AES keys (tpm2-pkcs11 1.9:
 * C_GenerateKey not supported, C_CreateObject only for RSA public keys
 * and data objects): the sealing key is an RSA-2048 key of the token
 * (sign only, sensitive, not extractable, hsm_keygen()), and the data
 * key is HKDF-SHA256 of its RSA PKCS#1 v1.5 signature of a fixed block
 * (seal_dek()). That signature is deterministic and needs the private
 * key, as AES-ECB under the AES key does. Returns 1 or 0 (reason set).
 */
static int
seal_key_rsa(struct hsm *h, const char *label)
{
	EVP_PKEY *pub = NULL;
	char uri[HSM_URI_MAX + 1];

	if (!hsm_keygen(h, label, HSM_KEY_RSA2048, &pub, uri, sizeof(uri)))
		return 0;
	EVP_PKEY_free(pub);
	h->caps.seal = HSM_SEAL_RSA_SIG;
	return 1;
}

/* Generates key version ver in session s. Returns 1 or 0 (reason set). */
static int
seal_key_generate(struct hsm *h, CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
    unsigned long ver, CK_OBJECT_HANDLE *key)
{
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG len = SEAL_KEY_LEN;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	/* Format 0x01 (GCM in the token) and the DEK derivation (ECB, or
	 * CBC on a token without ECB: hsm_caps.c). */
	CK_MECHANISM_TYPE allowed[] = { CKM_AES_GCM, CKM_AES_ECB, CKM_AES_CBC };
	CK_ULONG nallowed = h->caps.seal == HSM_SEAL_DEK_CBC ? 3 : 2;
	char label[64];
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
		{ CKA_LABEL, label, 0 },
		/* Last, so that a token that refuses it gets the key without
		 * (NSS 3.87 answers CKR_GENERAL_ERROR): the capability table
		 * says so (keygen template). */
		{ CKA_ALLOWED_MECHANISMS, allowed, 0 },
	};
	CK_ULONG n = sizeof(t) / sizeof(t[0]);
	CK_RV rv;
	char why[64];

	if (h->caps.seal == HSM_SEAL_NONE) {
		hsm_err_set("cannot seal: the token lacks AES-256 key generation "
			    "or AES-ECB, AES-CBC and AES-GCM (cmpcad -t lists "
			    "what it has)");
		return 0;
	}
	t[n - 1].ulValueLen = nallowed * sizeof(allowed[0]);
	seal_label(ver, label, sizeof(label));
	t[n - 2].ulValueLen = strlen(label);
	if (h->caps.keygen_level > 0)
		n--;
	rv = fl->C_GenerateKey(s, &mech, t, n, key);
	if (rv != CKR_OK && h->caps.keygen_level == 0 &&
	    rv != CKR_USER_NOT_LOGGED_IN && rv != CKR_SESSION_HANDLE_INVALID &&
	    rv != CKR_MECHANISM_INVALID) {
		rv = fl->C_GenerateKey(s, &mech, t, n - 1, key);
		if (rv == CKR_OK) {
			h->caps.keygen_level = 1;
			(void)snprintf(h->caps.keygen_template,
			    sizeof(h->caps.keygen_template),
			    "no-allowed-mechanisms");
		}
	}
	if (rv == CKR_FUNCTION_NOT_SUPPORTED || rv == CKR_MECHANISM_INVALID)
		rv = seal_key_import(h, fl, s, t, n, key);
	if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN &&
	    rv != CKR_SESSION_HANDLE_INVALID && (h->caps.keygen &
	    1u << HSM_KEY_RSA2048) && (h->caps.sign & 1u << HSM_KEY_RSA2048))
		return seal_key_rsa(h, label);
	if (rv != CKR_OK) {
		hsm_err_set("cannot generate the secret key %s: %s", label,
		    hsm_ckr_str(rv, why, sizeof(why)));
		return 0;
	}
	return 1;
}

/*
 * Makes sure this process has a session of h. Called with seal_lock held.
 * Returns 1, or 0 (reason set).
 */
static int
seal_session(struct hsm *h, CK_FUNCTION_LIST_PTR fl, unsigned long slot)
{
	CK_RV rv;
	char why[64];

	if (seal_cache.h != h || seal_cache.pid != getpid())
		seal_drop(seal_cache.pid == getpid() ? fl : NULL);
	if (seal_cache.s != CK_INVALID_HANDLE)
		return 1;
	rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
	    NULL, &seal_cache.s);
	if (rv != CKR_OK) {
		seal_cache.s = CK_INVALID_HANDLE;
		hsm_err_set("secret key: cannot open session: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		hsm_mark_lost(why);
		return 0;
	}
	seal_cache.h = h;
	seal_cache.pid = getpid();
	return 1;
}

/*
 * The cache entry of key version ver with its handle, after seal_session().
 * Called with seal_lock held. Returns it, or NULL (reason set).
 */
static struct seal_key *
seal_key_get(CK_FUNCTION_LIST_PTR fl, unsigned long ver)
{
	struct seal_key *k;
	char label[64];
	size_t i;
	int rc;

	for (i = 0; i < SEAL_KEYS; i++)
		if (seal_cache.keys[i].ver == ver)
			return &seal_cache.keys[i];
	k = &seal_cache.keys[seal_cache.next];
	seal_cache.next = (seal_cache.next + 1) % SEAL_KEYS;
	OPENSSL_cleanse(k, sizeof(*k));
	k->key = CK_INVALID_HANDLE;
	rc = seal_key_find(fl, seal_cache.s, ver, &k->key, &k->rsa);
	if (rc < 0)
		return NULL;
	if (rc == 0) {
		seal_label(ver, label, sizeof(label));
		hsm_err_set("no key labelled %s on the token", label);
		/* Version 1 was there when anything was sealed: a token that
		 * lost its objects is one to reopen (hsm_reopen()). A later
		 * version may simply not exist: the value names it. */
		if (ver == 1)
			hsm_mark_lost("the secret key vanished from the token");
		return NULL;
	}
	k->ver = ver;
	if (k->rsa) /* what the token made before: see seal_key_rsa() */
		seal_cache.h->caps.seal = HSM_SEAL_RSA_SIG;
	return k;
}

/*
 * The current key version into seal_cache.cur, generating version 1 when
 * the token has no sealing key yet. Called with seal_lock held after
 * seal_session(). Returns 1, or 0 (reason set).
 */
static int
seal_current(CK_FUNCTION_LIST_PTR fl)
{
	CK_OBJECT_HANDLE key;

	if (seal_cache.cur != 0)
		return 1;
	if (!seal_key_latest(fl, seal_cache.s, &seal_cache.cur))
		return 0;
	if (seal_cache.cur == 0) {
		if (!seal_key_generate(seal_cache.h, fl, seal_cache.s, 1, &key))
			return 0;
		seal_cache.cur = 1;
	}
	return 1;
}

int
hsm_seal_new_key(struct hsm *h, unsigned long *ver)
{
	CK_FUNCTION_LIST_PTR fl;
	CK_OBJECT_HANDLE key;
	unsigned long slot, latest;
	int rc = 0;

	*ver = 0;
	if ((fl = hsm_p11_funcs(h, &slot)) == NULL)
		return 0;
	(void)pthread_mutex_lock(&seal_lock);
	if (!seal_session(h, fl, slot) ||
	    !seal_key_latest(fl, seal_cache.s, &latest))
		goto out;
	if (latest >= SEAL_VER_MAX) {
		hsm_err_set("no key version left after %lu", latest);
		goto out;
	}
	if (!seal_key_generate(h, fl, seal_cache.s, latest + 1, &key))
		goto out;
	seal_cache.cur = latest + 1;
	*ver = seal_cache.cur;
	rc = 1;
out:
	(void)pthread_mutex_unlock(&seal_lock);
	return rc;
}

int
hsm_seal_current(struct hsm *h, unsigned long *ver)
{
	CK_FUNCTION_LIST_PTR fl;
	unsigned long slot;
	int rc = 0;

	*ver = 0;
	if ((fl = hsm_p11_funcs(h, &slot)) == NULL)
		return 0;
	(void)pthread_mutex_lock(&seal_lock);
	if (seal_session(h, fl, slot) && seal_current(fl)) {
		*ver = seal_cache.cur;
		rc = 1;
	}
	(void)pthread_mutex_unlock(&seal_lock);
	return rc;
}

unsigned long
hsm_sealed_version(const unsigned char *in, size_t inlen)
{
	if (in == NULL || inlen < 1)
		return 0;
	if (in[0] == SEAL_V1 || in[0] == SEAL_V2)
		return 1;
	if (in[0] != SEAL_V3 || inlen < SEAL_HDR_V3)
		return 0;
	return (unsigned long)in[1] << 24 | (unsigned long)in[2] << 16 |
	    (unsigned long)in[3] << 8 | (unsigned long)in[4];
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

/* One C_EncryptInit + C_Encrypt (or decrypt) under key k. */
static CK_RV
seal_run(CK_FUNCTION_LIST_PTR fl, const struct seal_key *k, int enc,
    CK_GCM_PARAMS *gcm, const unsigned char *in, size_t inlen,
    unsigned char *out, size_t *outlen)
{
	CK_MECHANISM mech = { CKM_AES_GCM, gcm, sizeof(*gcm) };
	CK_ULONG n = (CK_ULONG)*outlen;
	CK_RV rv;

	if (enc) {
		rv = fl->C_EncryptInit(seal_cache.s, &mech, k->key);
		if (rv == CKR_OK)
			rv = fl->C_Encrypt(seal_cache.s,
			    (unsigned char *)(uintptr_t)in, (CK_ULONG)inlen, out,
			    &n);
	} else {
		rv = fl->C_DecryptInit(seal_cache.s, &mech, k->key);
		if (rv == CKR_OK)
			rv = fl->C_Decrypt(seal_cache.s,
			    (unsigned char *)(uintptr_t)in, (CK_ULONG)inlen, out,
			    &n);
	}
	*outlen = (size_t)n;
	return rv;
}

/*
 * The data key of an RSA sealing key (seal_key_rsa()): HKDF-SHA256, salt
 * "cmpca-seal-rsa", info "cmpca-seal-dek", of the key's RSA PKCS#1 v1.5
 * signature of in. Returns as seal_dek().
 */
static CK_RV
seal_dek_rsa(CK_FUNCTION_LIST_PTR fl, struct seal_key *k, unsigned char *in,
    size_t inlen)
{
	static const char salt[] = "cmpca-seal-rsa", info[] = "cmpca-seal-dek";
	CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };
	unsigned char sig[512];
	CK_ULONG n = sizeof(sig);
	OSSL_PARAM p[5], *q = p;
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kc = NULL;
	CK_RV rv;

	rv = fl->C_SignInit(seal_cache.s, &mech, k->key);
	if (rv == CKR_OK)
		rv = fl->C_Sign(seal_cache.s, in, (CK_ULONG)inlen, sig, &n);
	if (rv != CKR_OK)
		goto out;
	*q++ = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string("key", sig, n);
	*q++ = OSSL_PARAM_construct_octet_string("salt", (char *)salt,
	    sizeof(salt) - 1);
	*q++ = OSSL_PARAM_construct_octet_string("info", (char *)info,
	    sizeof(info) - 1);
	*q = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kc = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(kc, k->dek, sizeof(k->dek), p) != 1) {
		OPENSSL_cleanse(k->dek, sizeof(k->dek));
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	k->dek_state = 1;
out:
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	OPENSSL_cleanse(sig, sizeof(sig));
	return rv;
}

/*
 * Derives the data key of k (see the top of this file). Called with
 * seal_lock held. Returns CKR_OK, with dek_state 1, or -1 when the token
 * refuses ECB with the key; another value is the token's error.
 */
static CK_RV
seal_dek(CK_FUNCTION_LIST_PTR fl, struct seal_key *k)
{
	static const char label[] = "cmpca-seal-dek";
	CK_MECHANISM mech = { CKM_AES_ECB, NULL, 0 };
	unsigned char zero_iv[16] = { 0 };
	CK_MECHANISM cbc = { CKM_AES_CBC, zero_iv, sizeof(zero_iv) };
	unsigned char in[2 * 16];
	CK_ULONG n = sizeof(k->dek);
	CK_RV rv;
	int i;

	if (k->dek_state != 0)
		return CKR_OK;
	memset(in, 0, sizeof(in));
	for (i = 0; i < 2; i++) {
		memcpy(in + 16 * i, label, sizeof(label) - 1);
		in[16 * i + 15] = (unsigned char)(i + 1);
	}
	if (k->rsa)
		return seal_dek_rsa(fl, k, in, sizeof(in));
	if (seal_cache.h->caps.seal == HSM_SEAL_GCM) {
		/* No ECB nor CBC (hsm_caps.c): format 0x01. */
		k->dek_state = -1;
		return CKR_OK;
	}
	if (seal_cache.h->caps.seal == HSM_SEAL_DEK_CBC) {
		/* One block with a zero IV is ECB of that block. */
		for (i = 0, rv = CKR_OK; i < 2 && rv == CKR_OK; i++) {
			n = 16;
			rv = fl->C_EncryptInit(seal_cache.s, &cbc, k->key);
			if (rv == CKR_OK)
				rv = fl->C_Encrypt(seal_cache.s, in + 16 * i,
				    16, k->dek + 16 * i, &n);
			if (rv == CKR_OK && n != 16)
				rv = CKR_FUNCTION_FAILED;
		}
		n = rv == CKR_OK ? sizeof(k->dek) : 0;
	} else {
		rv = fl->C_EncryptInit(seal_cache.s, &mech, k->key);
		if (rv == CKR_OK)
			rv = fl->C_Encrypt(seal_cache.s, in, sizeof(in), k->dek,
			    &n);
	}
	if (rv == CKR_OK && n != sizeof(k->dek))
		rv = CKR_FUNCTION_FAILED;
	if (rv == CKR_MECHANISM_INVALID || rv == CKR_KEY_FUNCTION_NOT_PERMITTED ||
	    rv == CKR_KEY_TYPE_INCONSISTENT || rv == CKR_FUNCTION_FAILED) {
		OPENSSL_cleanse(k->dek, sizeof(k->dek));
		k->dek_state = -1;
		return CKR_OK;
	}
	if (rv != CKR_OK) {
		OPENSSL_cleanse(k->dek, sizeof(k->dek));
		return rv;
	}
	k->dek_state = 1;
	return CKR_OK;
}

/*
 * AES-256-GCM under the DEK of k in software, formats 0x02 and 0x03: the
 * AAD is hdr (hdrlen bytes: the format byte and, for 0x03, the key
 * version) then aad; in is inlen bytes of plain text (enc) or ciphertext
 * || tag (!enc); iv 12 bytes. Returns 1, 0 if the value does not
 * authenticate, -1 on a library error.
 */
static int
seal_soft(const struct seal_key *k, int enc, const unsigned char *hdr,
    size_t hdrlen, const unsigned char *iv, const char *aad,
    const unsigned char *in, size_t inlen, unsigned char *out)
{
	static EVP_CIPHER *gcm;
	EVP_CIPHER_CTX *c;
	size_t len = enc ? inlen : inlen - SEAL_TAG_LEN;
	int n = 0, rc = -1;

	if (gcm == NULL && (gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM",
				NULL)) == NULL)
		return -1;
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_CipherInit_ex2(c, gcm, k->dek, iv, enc, NULL) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, hdr, (int)hdrlen) != 1 ||
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

/* See hsm_int.h. */
void
hsm_seal_force_format(int fmt)
{
	seal_force = fmt == SEAL_V1 || fmt == SEAL_V2 ? fmt : 0;
}

int
hsm_seal(struct hsm *h, const char *aad, const unsigned char *pt,
    size_t ptlen, unsigned char **out, size_t *outlen)
{
	CK_FUNCTION_LIST_PTR fl;
	CK_GCM_PARAMS gcm;
	struct seal_key *k;
	unsigned long slot, ver;
	unsigned char *buf = NULL;
	size_t n = 0, cap, hdr = 1;
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
	cap = SEAL_HDR_V3 + SEAL_IV_LEN + ptlen + SEAL_TAG_LEN;
	if ((buf = malloc(cap)) == NULL) {
		hsm_err_set("seal: out of memory");
		return 0;
	}
	(void)pthread_mutex_lock(&seal_lock);
	for (tries = 0; tries < 2; tries++) {
		if (!seal_session(h, fl, slot) || !seal_current(fl))
			goto out;
		ver = seal_force ? 1 : seal_cache.cur;
		if ((k = seal_key_get(fl, ver)) == NULL)
			goto out;
		rv = seal_force == SEAL_V1 ? CKR_OK : seal_dek(fl, k);
		if (rv == CKR_OK && seal_force != SEAL_V1 &&
		    k->dek_state != 1 && ver != 1) {
			/* Format 0x01 names no version: it is key 1's. */
			hsm_err_set("seal: the token refuses AES-ECB with key "
				    "version %lu", ver);
			goto out;
		}
		hdr = !seal_force && k->dek_state == 1 ? SEAL_HDR_V3 : 1;
		if (rv == CKR_OK)
			rv = fl->C_GenerateRandom(seal_cache.s, buf + hdr,
			    SEAL_IV_LEN);
		if (rv == CKR_OK && (hdr == SEAL_HDR_V3 ||
			(seal_force == SEAL_V2 && k->dek_state == 1))) {
			buf[0] = hdr == 1 ? SEAL_V2 : SEAL_V3;
			if (hdr == SEAL_HDR_V3) {
				buf[1] = (unsigned char)(ver >> 24);
				buf[2] = (unsigned char)(ver >> 16);
				buf[3] = (unsigned char)(ver >> 8);
				buf[4] = (unsigned char)ver;
			}
			n = ptlen + SEAL_TAG_LEN;
			if (seal_soft(k, 1, buf, hdr, buf + hdr, aad, pt, ptlen,
				buf + hdr + SEAL_IV_LEN) != 1) {
				hsm_err_set("seal: AES-GCM failed");
				goto out;
			}
		} else if (rv == CKR_OK) {
			buf[0] = SEAL_V1;
			gcm_params(&gcm, buf + 1, aad);
			n = cap - 1 - SEAL_IV_LEN;
			rv = seal_run(fl, k, 1, &gcm, pt, ptlen,
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
	*outlen = hdr + SEAL_IV_LEN + n;
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
	struct seal_key *k = NULL;
	unsigned long slot, ver;
	unsigned char *buf = NULL;
	size_t n = 0, cap, hdr;
	CK_RV rv = CKR_OK;
	char why[64];
	int tries, rc = -1;

	*pt = NULL;
	*ptlen = 0;
	hdr = in != NULL && inlen > 0 && in[0] == SEAL_V3 ? SEAL_HDR_V3 : 1;
	ver = hsm_sealed_version(in, inlen);
	if (aad == NULL || in == NULL || ver == 0 ||
	    inlen <= hdr + SEAL_IV_LEN + SEAL_TAG_LEN ||
	    inlen > hdr + SEAL_IV_LEN + SEAL_MAX + SEAL_TAG_LEN) {
		hsm_err_set("unseal: not a sealed value");
		return 0;
	}
	if ((fl = hsm_p11_funcs(h, &slot)) == NULL)
		return -1;
	/* Room for the tag too: some modules want it before they check. */
	cap = inlen - hdr - SEAL_IV_LEN;
	if ((buf = malloc(cap + 1)) == NULL) {
		hsm_err_set("unseal: out of memory");
		return -1;
	}
	(void)pthread_mutex_lock(&seal_lock);
	/* Once derived, a version's DEK opens values without the token. */
	for (tries = 0; tries < 2 && in[0] != SEAL_V1; tries++) {
		if (!seal_session(h, fl, slot) ||
		    (k = seal_key_get(fl, ver)) == NULL)
			goto out;
		if ((rv = seal_dek(fl, k)) == CKR_OK || !seal_stale(rv))
			break;
		seal_drop(fl);
	}
	if (in[0] != SEAL_V1) {
		if (rv != CKR_OK || k->dek_state != 1) {
			hsm_err_set("unseal: %s", rv != CKR_OK
				? hsm_ckr_str(rv, why, sizeof(why))
				: "the token cannot derive the data key "
				  "(AES-ECB refused)");
			if (seal_stale(rv))
				hsm_mark_lost(why);
			goto out;
		}
		n = inlen - hdr - SEAL_IV_LEN - SEAL_TAG_LEN;
		rc = seal_soft(k, 0, in, hdr, in + hdr, aad,
		    in + hdr + SEAL_IV_LEN, inlen - hdr - SEAL_IV_LEN, buf);
		if (rc == 0)
			hsm_err_set("unseal: value does not authenticate "
				    "(wrong reference, key version or data)");
		else if (rc < 0)
			hsm_err_set("unseal: AES-GCM failed");
		if (rc != 1)
			goto out;
		goto done;
	}
	for (tries = 0; tries < 2; tries++) {
		if (!seal_session(h, fl, slot) ||
		    (k = seal_key_get(fl, 1)) == NULL)
			goto out;
		gcm_params(&gcm, in + 1, aad);
		n = cap;
		rv = seal_run(fl, k, 0, &gcm, in + 1 + SEAL_IV_LEN,
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
