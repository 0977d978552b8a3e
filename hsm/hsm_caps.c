/*
 * hsm_caps.c - what the token can do, probed once per open (hsm_open(),
 * hsm_reopen()) into the handle's capability table: C_GetInfo and
 * C_GetTokenInfo (who made it, session limits, login, RNG), then
 * C_GetMechanismList and C_GetMechanismInfo for every mechanism cmpca
 * uses. The other files of hsm/ decide from this table (hsm_caps_get()),
 * never from the token's name: differences between tokens are facts here,
 * not ifs elsewhere.
 *
 * What was measured on the Debian 12 tokens (docs/operations.md, "Tokens")
 * shaped the fallbacks:
 * - the sealing key's data key (hsm_aes.c) is AES-ECB of two blocks; a
 *   token without CKM_AES_ECB that has CKM_AES_CBC gives the same bytes
 *   with a zero IV, one block per call (CBC of one block is ECB), so the
 *   values stay format 0x03 and open on any token holding the key;
 * - without either, AES-GCM in the token (format 0x01, one C_Decrypt per
 *   value);
 * - without AES key generation or any of the three, sealing is refused
 *   (enrollment secrets cannot be stored; signature-protected CMP still
 *   works).
 * Key generation templates are learned the first time hsm_keygen() runs
 * (hsm_keygen.c records the variant the token accepted here).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/hsm_int.h"

/* Mechanisms a token can list; more are ignored (we look for a few). */
#define HSM_MECH_MAX 512

/* Copies a blank-padded CK_UTF8CHAR field into buf, trimmed, printable. */
static void
caps_field(const CK_UTF8CHAR *f, size_t flen, char *buf, size_t len)
{
	size_t n = flen < len - 1 ? flen : len - 1, i;

	for (i = 0; i < n; i++)
		buf[i] = f[i] >= 0x20 && f[i] < 0x7f ? (char)f[i] : '?';
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
}

/* Does the list hold m? */
static int
caps_has(const CK_MECHANISM_TYPE *l, CK_ULONG n, CK_MECHANISM_TYPE m)
{
	CK_ULONG i;

	for (i = 0; i < n; i++)
		if (l[i] == m)
			return 1;
	return 0;
}

/*
 * Mechanism m, listed, with all of flags set: 1 and *info, else 0. A
 * token whose C_GetMechanismInfo fails for a listed mechanism is taken at
 * its list's word with no size limits.
 */
static int
caps_mech(CK_FUNCTION_LIST_PTR fl, CK_SLOT_ID slot, const CK_MECHANISM_TYPE *l,
    CK_ULONG n, CK_MECHANISM_TYPE m, CK_FLAGS flags, CK_MECHANISM_INFO *info)
{
	if (!caps_has(l, n, m))
		return 0;
	memset(info, 0, sizeof(*info));
	if (fl->C_GetMechanismInfo(slot, m, info) != CKR_OK) {
		info->ulMinKeySize = 0;
		info->ulMaxKeySize = ~(CK_ULONG)0;
		info->flags = flags;
	}
	return (info->flags & flags) == flags;
}

/* The key size in info covers bits (some tokens give 0 for no limit). */
static int
caps_size(const CK_MECHANISM_INFO *info, CK_ULONG bits)
{
	if (info->ulMaxKeySize == 0)
		return 1;
	return bits >= info->ulMinKeySize && bits <= info->ulMaxKeySize;
}

/*
 * Does the token hold an RSA private key labelled HSM_SEAL_LABEL (the
 * sealing key of a token without AES keys, hsm_aes.c)? 1 or 0.
 */
static int
caps_rsa_seal_key(CK_FUNCTION_LIST_PTR fl, CK_SLOT_ID slot)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_LABEL, (void *)(uintptr_t)HSM_SEAL_LABEL,
		    sizeof(HSM_SEAL_LABEL) - 1 },
	};
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE o;
	CK_ULONG n = 0;

	if (fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) !=
	    CKR_OK)
		return 0;
	if (fl->C_FindObjectsInit(s, t, 3) == CKR_OK) {
		if (fl->C_FindObjects(s, &o, 1, &n) != CKR_OK)
			n = 0;
		(void)fl->C_FindObjectsFinal(s);
	}
	(void)fl->C_CloseSession(s);
	return n == 1;
}

/*
 * Fills h->caps for the token of h (slot h->slot_id, functions h->fl).
 * Returns 1, or 0 when the token cannot even describe itself (reason
 * set).
 */
int
hsm_caps_probe(struct hsm *h)
{
	struct hsm_caps *c = &h->caps;
	CK_FUNCTION_LIST_PTR fl = h->fl;
	CK_SLOT_ID slot = h->slot_id;
	CK_MECHANISM_TYPE *l = NULL;
	CK_MECHANISM_INFO mi;
	CK_TOKEN_INFO ti;
	CK_INFO ci;
	CK_ULONG n = 0;
	CK_RV rv;
	char why[64];
	int rsa_gen = 0, ec_gen = 0, rsa_sign, ec_sign, rc = 0;
	CK_MECHANISM_INFO rsa_gi, ec_gi;

	memset(c, 0, sizeof(*c));
	if (fl->C_GetInfo(&ci) == CKR_OK) {
		caps_field(ci.libraryDescription,
		    sizeof(ci.libraryDescription), c->library,
		    sizeof(c->library));
		c->library_major = ci.libraryVersion.major;
		c->library_minor = ci.libraryVersion.minor;
	}
	if ((rv = fl->C_GetTokenInfo(slot, &ti)) != CKR_OK) {
		hsm_err_set("token info: %s", hsm_ckr_str(rv, why, sizeof(why)));
		goto out;
	}
	caps_field(ti.manufacturerID, sizeof(ti.manufacturerID),
	    c->manufacturer, sizeof(c->manufacturer));
	caps_field(ti.model, sizeof(ti.model), c->model, sizeof(c->model));
	/* openCryptoki 3.8 answers ~0 - 1 for "no information". */
	c->max_sessions = ti.ulMaxSessionCount >= CK_UNAVAILABLE_INFORMATION - 1
	    ? CK_UNAVAILABLE_INFORMATION : ti.ulMaxSessionCount;
	c->max_rw_sessions = ti.ulMaxRwSessionCount >=
		CK_UNAVAILABLE_INFORMATION - 1 ? CK_UNAVAILABLE_INFORMATION :
	    ti.ulMaxRwSessionCount;
	c->login_required = (ti.flags & CKF_LOGIN_REQUIRED) != 0;
	c->protected_path = (ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0;
	c->rng = (ti.flags & CKF_RNG) != 0;

	rv = fl->C_GetMechanismList(slot, NULL, &n);
	if (rv == CKR_OK && n > HSM_MECH_MAX)
		n = HSM_MECH_MAX;
	if (rv == CKR_OK && n > 0 &&
	    (l = calloc(n, sizeof(*l))) == NULL) {
		hsm_err_set("mechanism list: out of memory");
		goto out;
	}
	if (rv == CKR_OK && n > 0)
		rv = fl->C_GetMechanismList(slot, l, &n);
	if (rv == CKR_BUFFER_TOO_SMALL)
		rv = CKR_OK; /* more than HSM_MECH_MAX: the first ones */
	if (rv != CKR_OK) {
		hsm_err_set("mechanism list: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		goto out;
	}
	c->nmech = (unsigned long)n;

	rsa_gen = caps_mech(fl, slot, l, n, CKM_RSA_PKCS_KEY_PAIR_GEN,
	    CKF_GENERATE_KEY_PAIR, &rsa_gi);
	ec_gen = caps_mech(fl, slot, l, n, CKM_EC_KEY_PAIR_GEN,
	    CKF_GENERATE_KEY_PAIR, &ec_gi);
	rsa_sign = caps_mech(fl, slot, l, n, CKM_RSA_PKCS, CKF_SIGN, &mi);
	ec_sign = caps_mech(fl, slot, l, n, CKM_ECDSA, CKF_SIGN, &mi);
	/* libp11 sends RSA-PSS to the token as raw RSA. */
	c->rsa_pss = caps_mech(fl, slot, l, n, CKM_RSA_X_509, CKF_SIGN, &mi);
	c->rsa_pss_native = caps_mech(fl, slot, l, n, CKM_RSA_PKCS_PSS,
	    CKF_SIGN, &mi);
	if (rsa_gen && rsa_sign) {
		if (caps_size(&rsa_gi, 2048))
			c->keygen |= 1u << HSM_KEY_RSA2048;
		if (caps_size(&rsa_gi, 3072))
			c->keygen |= 1u << HSM_KEY_RSA3072;
		if (caps_size(&rsa_gi, 4096))
			c->keygen |= 1u << HSM_KEY_RSA4096;
	}
	if (rsa_sign)
		c->sign |= 1u << HSM_KEY_RSA2048 | 1u << HSM_KEY_RSA3072 |
			   1u << HSM_KEY_RSA4096;
	/* EC sizes are the field's bits; a token may also list no sizes. */
	if (ec_gen && ec_sign) {
		if (caps_size(&ec_gi, 256))
			c->keygen |= 1u << HSM_KEY_EC_P256;
		if (caps_size(&ec_gi, 384))
			c->keygen |= 1u << HSM_KEY_EC_P384;
	}
	if (ec_sign)
		c->sign |= 1u << HSM_KEY_EC_P256 | 1u << HSM_KEY_EC_P384;

	c->aes_keygen = caps_mech(fl, slot, l, n, CKM_AES_KEY_GEN,
	    CKF_GENERATE, &mi) && caps_size(&mi, 32);
	c->aes_ecb = caps_mech(fl, slot, l, n, CKM_AES_ECB, CKF_ENCRYPT, &mi);
	c->aes_cbc = caps_mech(fl, slot, l, n, CKM_AES_CBC, CKF_ENCRYPT, &mi);
	c->aes_gcm = caps_mech(fl, slot, l, n, CKM_AES_GCM,
	    CKF_ENCRYPT | CKF_DECRYPT, &mi);
	if (!c->aes_keygen)
		c->seal = HSM_SEAL_NONE;
	else if (c->aes_ecb)
		c->seal = HSM_SEAL_DEK_ECB;
	else if (c->aes_cbc)
		c->seal = HSM_SEAL_DEK_CBC;
	else if (c->aes_gcm)
		c->seal = HSM_SEAL_GCM;
	else
		c->seal = HSM_SEAL_NONE;
	/* A token that made its sealing key as RSA before (hsm_aes.c). */
	if (c->seal != HSM_SEAL_NONE && caps_rsa_seal_key(fl, slot))
		c->seal = HSM_SEAL_RSA_SIG;
	c->probed = 1;
	rc = 1;
out:
	free(l);
	return rc;
}

const struct hsm_caps *
hsm_caps_get(const struct hsm *h)
{
	if (h == NULL || !h->caps.probed)
		return NULL;
	return &h->caps;
}

/* Names of the key types, by enum hsm_keytype. */
static const char *const caps_key_names[] = {
	[HSM_KEY_RSA2048] = "rsa:2048",
	[HSM_KEY_RSA3072] = "rsa:3072",
	[HSM_KEY_RSA4096] = "rsa:4096",
	[HSM_KEY_EC_P256] = "ec:P-256",
	[HSM_KEY_EC_P384] = "ec:P-384",
};

/* Appends printf output to buf (size len) at *off; cut when full. */
static void
caps_put(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
caps_put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*off += (size_t)n < len - *off ? (size_t)n : len - *off - 1;
}

/* The key types of mask, comma-separated, or "none". */
static void
caps_keys(unsigned mask, char *buf, size_t len, size_t *off)
{
	int t, first = 1;

	for (t = HSM_KEY_RSA2048; t <= HSM_KEY_EC_P384; t++) {
		if (!(mask & 1u << t))
			continue;
		caps_put(buf, len, off, "%s%s", first ? "" : ",",
		    caps_key_names[t]);
		first = 0;
	}
	if (first)
		caps_put(buf, len, off, "none");
}

const char *
hsm_seal_via_name(int via)
{
	switch (via) {
	case HSM_SEAL_DEK_ECB:
		return "AES-256 data key derived with AES-ECB (format 0x03)";
	case HSM_SEAL_DEK_CBC:
		return "AES-256 data key derived with AES-CBC, one block, "
		       "zero IV (format 0x03)";
	case HSM_SEAL_GCM:
		return "AES-256-GCM in the token (format 0x01)";
	case HSM_SEAL_RSA_SIG:
		return "AES-256 data key, HKDF-SHA256 of a token RSA-2048 key's "
		       "PKCS#1 v1.5 signature of a fixed block (format 0x03)";
	default:
		return "none";
	}
}

const char *
hsm_caps_describe(const struct hsm_caps *c, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return "";
	buf[0] = '\0';
	if (c == NULL)
		return buf;
	caps_put(buf, len, &off, "%s %s (%s %u.%u); keygen ", c->manufacturer,
	    c->model, c->library, c->library_major, c->library_minor);
	caps_keys(c->keygen, buf, len, &off);
	caps_put(buf, len, &off, "; sign ");
	caps_keys(c->sign, buf, len, &off);
	caps_put(buf, len, &off, "; rsa-pss %s; sealing %s; aes gcm %s ecb "
	    "%s cbc %s; sessions %s; rng %s; %lu mechanisms",
	    c->rsa_pss || c->rsa_pss_native ? "yes" : "no",
	    c->seal == HSM_SEAL_NONE ? "none" :
	    c->seal == HSM_SEAL_GCM ? "gcm-in-token" :
	    c->seal == HSM_SEAL_RSA_SIG ? "dek-rsa" :
	    c->seal == HSM_SEAL_DEK_CBC ? "dek-cbc" : "dek-ecb",
	    c->aes_gcm ? "yes" : "no", c->aes_ecb ? "yes" : "no",
	    c->aes_cbc ? "yes" : "no",
	    c->max_sessions == CK_EFFECTIVELY_INFINITE ? "unlimited" :
	    c->max_sessions == CK_UNAVAILABLE_INFORMATION ? "unknown" :
	    "limited", c->rng ? "yes" : "no", c->nmech);
	if (c->max_sessions != CK_EFFECTIVELY_INFINITE &&
	    c->max_sessions != CK_UNAVAILABLE_INFORMATION)
		caps_put(buf, len, &off, " (max %lu)", c->max_sessions);
	if (c->seal_imported)
		caps_put(buf, len, &off, "; sealing key imported (C_GenerateKey "
		    "not supported)");
	if (c->keygen_template[0] != '\0')
		caps_put(buf, len, &off, "; keygen template %s",
		    c->keygen_template);
	return buf;
}

int
hsm_caps_gap(const struct hsm_caps *c, int i, char *buf, size_t len)
{
	unsigned all = 0, miss;
	size_t off = 0;
	char what[64];
	int t, k = 0;

	if (c == NULL || len == 0)
		return 0;
	buf[0] = '\0';
	for (t = HSM_KEY_RSA2048; t <= HSM_KEY_EC_P384; t++)
		all |= 1u << t;
	/* Gap 0..: key types, sealing, archival, RNG, sessions; in that
	 * order. */
	miss = all & ~c->keygen;
	if (miss != 0 && k++ == i) {
		caps_put(buf, len, &off, "missing: key generation of ");
		caps_keys(miss, buf, len, &off);
		caps_put(buf, len, &off, "; refused: cmpca ca create --key with "
		    "those types fails (CA keys are made in the token only), "
		    "use ");
		caps_keys(c->keygen, buf, len, &off);
		return HSM_GAP_LIMIT;
	}
	if (c->seal == HSM_SEAL_NONE && k++ == i) {
		caps_put(buf, len, &off, "missing: AES-256 key generation with "
		    "AES-ECB, AES-CBC or AES-GCM; refused: enrollment secrets "
		    "cannot be sealed (MAC-protected enrollment unavailable, "
		    "signature-protected CMP works)");
		return HSM_GAP_REFUSED;
	}
	if (c->seal == HSM_SEAL_RSA_SIG && k++ == i) {
		caps_put(buf, len, &off, "missing: AES key generation and "
		    "import; fallback: %s", hsm_seal_via_name(c->seal));
		return HSM_GAP_FALLBACK;
	}
	if ((c->seal == HSM_SEAL_DEK_CBC || c->seal == HSM_SEAL_GCM) &&
	    k++ == i) {
		caps_put(buf, len, &off, "missing: AES-ECB%s; fallback: %s",
		    c->seal == HSM_SEAL_GCM ? " and AES-CBC" : "",
		    hsm_seal_via_name(c->seal));
		return HSM_GAP_FALLBACK;
	}
	if (!hsm_caps_archive(c, what, sizeof(what)) && k++ == i) {
		caps_put(buf, len, &off, "missing: %s; refused: key archival "
		    "(cmpca ca archival-key; profiles with archive_keys)",
		    what);
		return HSM_GAP_REFUSED;
	}
	if (!c->rng && k++ == i) {
		caps_put(buf, len, &off, "missing: the token reports no RNG "
		    "(CKF_RNG); refused: serial numbers come from the token's "
		    "C_GenerateRandom, which must work");
		return HSM_GAP_REFUSED;
	}
	if (c->max_sessions != CK_EFFECTIVELY_INFINITE &&
	    c->max_sessions != CK_UNAVAILABLE_INFORMATION &&
	    c->max_sessions < HSM_SESSIONS_PER_PROCESS * 4 && k++ == i) {
		caps_put(buf, len, &off, "limited: the token allows %lu "
		    "sessions, each process holds up to %d (keep workers * %d "
		    "below it)", c->max_sessions, HSM_SESSIONS_PER_PROCESS,
		    HSM_SESSIONS_PER_PROCESS);
		return HSM_GAP_LIMIT;
	}
	return 0;
}

int
hsm_caps_archive(const struct hsm_caps *c, char *buf, size_t len)
{
	int gen = c != NULL && c->aes_keygen, gcm = c != NULL && c->aes_gcm;

	if (len > 0)
		buf[0] = '\0';
	if (gen && gcm)
		return 1;
	(void)snprintf(buf, len, "%s%s%s",
	    gen ? "" : "CKM_AES_KEY_GEN (AES-256)", gen || gcm ? "" : " and ",
	    gcm ? "" : "CKM_AES_GCM");
	return 0;
}
