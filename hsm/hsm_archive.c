/*
 * hsm_archive.c - archival of keys the CA generated for its end entities
 * (central key generation with key archival, issue 26): a private key is
 * kept in the database encrypted under an archival key of its CA that
 * never leaves the token.
 *
 * The archival key: CKK_AES, 32 bytes, token, private, sensitive, not
 * extractable, encrypt/decrypt only, CKA_ALLOWED_MECHANISMS AES-GCM, its
 * own label per CA (HSM_ARCHIVE_PREFIX followed by the CA's label). It is
 * made once, in the key ceremony (`cmpca ca archival-key LABEL`), never
 * at first use: a CA that archives without one refuses to generate keys
 * rather than hand out a key nobody could recover.
 *
 * The archived value: 0x01 || IV (12 bytes, the token's RNG) ||
 * AES-256-GCM of the key's PKCS#8 in the token || tag (16 bytes). The AAD
 * is the caller's (the CA label and the certificate's serial), so a value
 * copied to another row does not open there. The PKCS#8 is in this
 * process only as long as the call; it is wiped before return.
 *
 * Each call opens its own session and closes it: archival happens once
 * per generated key and recovery rarely, next to a key generation that
 * costs milliseconds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hsm/hsm_int.h"

/* Format byte of an archived value. */
#define ARCH_V1 0x01
#define ARCH_IV_LEN 12
#define ARCH_TAG_LEN 16
#define ARCH_KEY_LEN 32
/* Largest PKCS#8 archived (RSA-4096 is about 2.4 KB). */
#define ARCH_MAX 8192

/* The token label of ca_label's archival key into buf. 1, or 0 if it is
 * too long. */
static int
arch_label(const char *ca_label, char *buf, size_t len)
{
	int n;

	if (ca_label == NULL || ca_label[0] == '\0')
		return 0;
	n = snprintf(buf, len, "%s%s", HSM_ARCHIVE_PREFIX, ca_label);
	return n > 0 && (size_t)n < len && (size_t)n <= HSM_LABEL_MAX;
}

/* A session of h in *s. 1, or 0 (reason set). */
static int
arch_session(struct hsm *h, CK_FUNCTION_LIST_PTR *fl, CK_SESSION_HANDLE *s)
{
	unsigned long slot;
	char why[64];
	CK_RV rv;

	*s = CK_INVALID_HANDLE;
	if ((*fl = hsm_p11_funcs(h, &slot)) == NULL)
		return 0;
	rv = (*fl)->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, s);
	if (rv != CKR_OK) {
		*s = CK_INVALID_HANDLE;
		hsm_err_set("archival key: cannot open session: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		return 0;
	}
	return 1;
}

/* Finds the key labelled label. 1 (*key), 0 none, -1 error or several. */
static int
arch_find(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s, const char *label,
    CK_OBJECT_HANDLE *key)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	char why[64];
	CK_RV rv;

	rv = fl->C_FindObjectsInit(s, t, sizeof(t) / sizeof(t[0]));
	if (rv == CKR_OK) {
		rv = fl->C_FindObjects(s, found, 2, &n);
		(void)fl->C_FindObjectsFinal(s);
	}
	if (rv != CKR_OK) {
		hsm_err_set("archival key lookup: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		return -1;
	}
	if (n > 1) {
		hsm_err_set("several keys labelled %s on the token: keep one",
		    label);
		return -1;
	}
	if (n == 0) {
		hsm_err_set("no archival key %s on the token (create it: "
			    "cmpca ca archival-key)", label);
		return 0;
	}
	*key = found[0];
	return 1;
}

/* See hsm.h. */
int
hsm_archive_key_create(struct hsm *h, const char *ca_label, char *label,
    size_t labellen)
{
	CK_FUNCTION_LIST_PTR fl = NULL;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG len = ARCH_KEY_LEN;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM_TYPE allowed[] = { CKM_AES_GCM };
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
		/* Last: a token that refuses it gets the key without. */
		{ CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed) },
	};
	CK_ULONG n = sizeof(t) / sizeof(t[0]);
	char why[64];
	CK_RV rv;
	int rc = 0;

	if (!arch_label(ca_label, label, labellen)) {
		hsm_err_set("archival key: bad or too long CA label");
		return 0;
	}
	t[n - 2].ulValueLen = strlen(label);
	if (!hsm_caps_archive(hsm_caps_get(h), why, sizeof(why))) {
		hsm_err_set("token %s cannot archive keys: no %s (the archival "
			    "key is AES-256, used with AES-GCM in the token)",
		    h->label, why);
		return 0;
	}
	if (!arch_session(h, &fl, &s))
		return 0;
	switch (arch_find(fl, s, label, &key)) {
	case 1:
		hsm_err_set("the archival key %s exists already", label);
		goto out;
	case -1:
		goto out;
	default:
		break;
	}
	rv = fl->C_GenerateKey(s, &mech, t, n, &key);
	if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN &&
	    rv != CKR_SESSION_HANDLE_INVALID && rv != CKR_MECHANISM_INVALID)
		rv = fl->C_GenerateKey(s, &mech, t, n - 1, &key);
	if (rv != CKR_OK) {
		hsm_err_set("cannot generate the archival key %s: %s", label,
		    hsm_ckr_str(rv, why, sizeof(why)));
		goto out;
	}
	rc = 1;
out:
	(void)fl->C_CloseSession(s);
	return rc;
}

/* GCM parameters: iv (ARCH_IV_LEN bytes), aad. */
static void
arch_gcm(CK_GCM_PARAMS *gcm, const unsigned char *iv, const char *aad)
{
	memset(gcm, 0, sizeof(*gcm));
	gcm->iv_ptr = (unsigned char *)(uintptr_t)iv;
	gcm->iv_len = ARCH_IV_LEN;
	gcm->iv_bits = ARCH_IV_LEN * 8;
	gcm->aad_ptr = (unsigned char *)(uintptr_t)aad;
	gcm->aad_len = strlen(aad);
	gcm->tag_bits = ARCH_TAG_LEN * 8;
}

/* See hsm.h. */
int
hsm_archive_wrap(struct hsm *h, const char *ca_label, const char *aad,
    EVP_PKEY *key, unsigned char **out, size_t *outlen)
{
	CK_FUNCTION_LIST_PTR fl = NULL;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech = { CKM_AES_GCM, &gcm, sizeof(gcm) };
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL, *buf = NULL;
	char label[HSM_LABEL_MAX + 1], why[64];
	size_t cap = 0;
	CK_ULONG n;
	CK_RV rv;
	int len = 0, rc = -1;

	*out = NULL;
	*outlen = 0;
	if (aad == NULL || key == NULL ||
	    !arch_label(ca_label, label, sizeof(label))) {
		hsm_err_set("archive: bad argument");
		return -1;
	}
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL ||
	    (len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0 || len > ARCH_MAX) {
		hsm_err_set("archive: cannot encode the key");
		goto out;
	}
	cap = 1 + ARCH_IV_LEN + (size_t)len + ARCH_TAG_LEN;
	if ((buf = OPENSSL_malloc(cap)) == NULL) {
		hsm_err_set("archive: out of memory");
		goto out;
	}
	if (!arch_session(h, &fl, &s))
		goto out;
	if ((rc = arch_find(fl, s, label, &k)) != 1)
		goto out;
	rc = -1;
	buf[0] = ARCH_V1;
	rv = fl->C_GenerateRandom(s, buf + 1, ARCH_IV_LEN);
	arch_gcm(&gcm, buf + 1, aad);
	n = (CK_ULONG)(cap - 1 - ARCH_IV_LEN);
	if (rv == CKR_OK)
		rv = fl->C_EncryptInit(s, &mech, k);
	if (rv == CKR_OK)
		rv = fl->C_Encrypt(s, der, (CK_ULONG)len, buf + 1 + ARCH_IV_LEN,
		    &n);
	if (rv != CKR_OK || n != (CK_ULONG)len + ARCH_TAG_LEN) {
		hsm_err_set("archive: AES-GCM in the token: %s", rv != CKR_OK
			? hsm_ckr_str(rv, why, sizeof(why))
			: "unexpected ciphertext length");
		goto out;
	}
	*out = buf;
	*outlen = cap;
	buf = NULL;
	rc = 1;
out:
	if (s != CK_INVALID_HANDLE)
		(void)fl->C_CloseSession(s);
	if (buf != NULL)
		OPENSSL_clear_free(buf, cap);
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	ERR_clear_error();
	return rc;
}

/* See hsm.h. */
int
hsm_archive_unwrap(struct hsm *h, const char *ca_label, const char *aad,
    const unsigned char *in, size_t inlen, EVP_PKEY **key)
{
	CK_FUNCTION_LIST_PTR fl = NULL;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech = { CKM_AES_GCM, &gcm, sizeof(gcm) };
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *buf = NULL;
	const unsigned char *p;
	char label[HSM_LABEL_MAX + 1], why[64];
	size_t cap = 0;
	CK_ULONG n;
	CK_RV rv;
	int rc = -1;

	*key = NULL;
	if (aad == NULL || in == NULL ||
	    !arch_label(ca_label, label, sizeof(label))) {
		hsm_err_set("recover: bad argument");
		return -1;
	}
	if (inlen <= 1 + ARCH_IV_LEN + ARCH_TAG_LEN ||
	    inlen > 1 + ARCH_IV_LEN + ARCH_MAX + ARCH_TAG_LEN ||
	    in[0] != ARCH_V1) {
		hsm_err_set("recover: not an archived key");
		return 0;
	}
	cap = inlen - 1 - ARCH_IV_LEN;
	if ((buf = OPENSSL_malloc(cap)) == NULL) {
		hsm_err_set("recover: out of memory");
		return -1;
	}
	if (!arch_session(h, &fl, &s))
		goto out;
	if ((rc = arch_find(fl, s, label, &k)) != 1)
		goto out;
	rc = -1;
	arch_gcm(&gcm, in + 1, aad);
	n = (CK_ULONG)cap;
	rv = fl->C_DecryptInit(s, &mech, k);
	if (rv == CKR_OK)
		rv = fl->C_Decrypt(s, (unsigned char *)(uintptr_t)(in + 1 +
					  ARCH_IV_LEN),
		    (CK_ULONG)cap, buf, &n);
	/* SoftHSM 2.6 answers a wrong tag with CKR_GENERAL_ERROR. */
	if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_GENERAL_ERROR ||
	    rv == CKR_FUNCTION_FAILED || rv == CKR_ENCRYPTED_DATA_LEN_RANGE) {
		hsm_err_set("recover: the archived key does not authenticate "
			    "(another CA, serial or archival key)");
		rc = 0;
		goto out;
	}
	if (rv != CKR_OK || n != cap - ARCH_TAG_LEN) {
		hsm_err_set("recover: AES-GCM in the token: %s", rv != CKR_OK
			? hsm_ckr_str(rv, why, sizeof(why))
			: "unexpected length");
		goto out;
	}
	p = buf;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)n)) == NULL ||
	    p != buf + n || (*key = EVP_PKCS82PKEY(p8)) == NULL) {
		hsm_err_set("recover: the archived PKCS#8 does not decode");
		goto out;
	}
	rc = 1;
out:
	if (s != CK_INVALID_HANDLE)
		(void)fl->C_CloseSession(s);
	OPENSSL_clear_free(buf, cap);
	PKCS8_PRIV_KEY_INFO_free(p8);
	ERR_clear_error();
	return rc;
}
