/*
 * hsm_keygen.c - CA keys: key types and key generation in the token (the
 * URIs, and loading the key one names, are in hsm_uri.c).
 *
 * libp11 0.4.12 generates only RSA keys and marks them for decryption and
 * unwrapping too, so every CA key is generated here with C_GenerateKeyPair
 * through the module's own function list (the instance libp11 loaded and
 * initialised; see hsm_p11_funcs() in hsm.c). A second read-write session
 * on the token's slot shares the login of the process. C_Finalize is never
 * called here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "hsm/hsm_int.h"

/* Length of the random CKA_ID given to both halves of a key pair. */
#define HSM_KEYID_LEN 16
/* Longest URI we build: scheme, token, object, each byte escaped. */
#define HSM_GEN_URI_MAX                                                        \
	(7 + 6 + 3 * HSM_TOKEN_LABEL_MAX + 8 + 3 * HSM_LABEL_MAX + 1)
_Static_assert(HSM_GEN_URI_MAX <= HSM_URI_MAX + 1,
    "a generated uri fits the buffers of hsm.h");
/* Longest public attribute we read back (a 4096-bit modulus is 512). */
#define HSM_ATTR_MAX 1024
/* Entries in a key generation template. */
#define HSM_TMPL_MAX 14

int
hsm_keytype_parse(const char *s, enum hsm_keytype *type)
{
	static const struct {
		const char *name;
		enum hsm_keytype type;
	} names[] = {
		{ "rsa:2048", HSM_KEY_RSA2048 },
		{ "rsa2048", HSM_KEY_RSA2048 },
		{ "rsa:3072", HSM_KEY_RSA3072 },
		{ "rsa3072", HSM_KEY_RSA3072 },
		{ "rsa:4096", HSM_KEY_RSA4096 },
		{ "rsa4096", HSM_KEY_RSA4096 },
		{ "ec:P-256", HSM_KEY_EC_P256 },
		{ "ec:p256", HSM_KEY_EC_P256 },
		{ "ec:prime256v1", HSM_KEY_EC_P256 },
		{ "P-256", HSM_KEY_EC_P256 },
		{ "p256", HSM_KEY_EC_P256 },
		{ "ec:P-384", HSM_KEY_EC_P384 },
		{ "ec:p384", HSM_KEY_EC_P384 },
		{ "ec:secp384r1", HSM_KEY_EC_P384 },
		{ "P-384", HSM_KEY_EC_P384 },
		{ "p384", HSM_KEY_EC_P384 },
	};
	char buf[64];
	size_t i;

	if (s == NULL || type == NULL) {
		hsm_err_set("key type: missing argument");
		return 0;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*type = names[i].type;
			return 1;
		}
	}
	hsm_err_set("unknown key type: %s (rsa:2048, rsa:3072, rsa:4096, "
	            "ec:P-256, ec:P-384)",
	    hsm_sanitise(s, buf, sizeof(buf)));
	return 0;
}

/* What each key type means to the token and to OpenSSL (hsm_int.h). */
static const struct hsm_keyspec hsm_keyspecs[] = {
	{ HSM_KEY_RSA2048, NID_undef, CKK_RSA, 2048, NULL, 0 },
	{ HSM_KEY_RSA3072, NID_undef, CKK_RSA, 3072, NULL, 0 },
	{ HSM_KEY_RSA4096, NID_undef, CKK_RSA, 4096, NULL, 0 },
	{ HSM_KEY_EC_P256, NID_X9_62_prime256v1, CKK_EC, 0, "P-256", 65 },
	{ HSM_KEY_EC_P384, NID_secp384r1, CKK_EC, 0, "P-384", 97 },
};

/* See hsm_int.h. */
const struct hsm_keyspec *
hsm_keyspec_get(enum hsm_keytype type)
{
	size_t i;

	for (i = 0; i < sizeof(hsm_keyspecs) / sizeof(hsm_keyspecs[0]); i++)
		if (hsm_keyspecs[i].type == type)
			return &hsm_keyspecs[i];
	return NULL;
}

/*
 * Tells whether an object of class cls labelled label exists. Returns 1
 * (exists), 0 (does not) or -1 (error, reason set).
 */
static int
hsm_label_exists(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
    CK_OBJECT_CLASS cls, const char *label)
{
	CK_ATTRIBUTE tmpl[2];
	CK_OBJECT_HANDLE o;
	CK_ULONG n = 0;
	CK_RV rv;
	char why[64];

	tmpl[0].type = CKA_CLASS;
	tmpl[0].pValue = &cls;
	tmpl[0].ulValueLen = sizeof(cls);
	tmpl[1].type = CKA_LABEL;
	tmpl[1].pValue = (void *)(uintptr_t)label;
	tmpl[1].ulValueLen = strlen(label);
	rv = fl->C_FindObjectsInit(s, tmpl, 2);
	if (rv == CKR_OK) {
		rv = fl->C_FindObjects(s, &o, 1, &n);
		(void)fl->C_FindObjectsFinal(s);
	}
	if (rv != CKR_OK) {
		hsm_err_set("cannot search the token: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		return -1;
	}
	return n > 0;
}

/*
 * Reads attribute type of object o into buf (size len), setting *out_len.
 * Returns 1 or 0 (reason set).
 */
static int
hsm_attr_get(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
    CK_ATTRIBUTE_TYPE type, unsigned char *buf, size_t len, size_t *out_len)
{
	CK_ATTRIBUTE a;
	CK_RV rv;
	char why[64];

	a.type = type;
	a.pValue = buf;
	a.ulValueLen = len;
	rv = fl->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK || a.ulValueLen == (CK_ULONG)-1 ||
	    a.ulValueLen > len) {
		hsm_err_set("cannot read public key attribute 0x%lx: %s",
		    (unsigned long)type, hsm_ckr_str(rv, why, sizeof(why)));
		return 0;
	}
	*out_len = a.ulValueLen;
	return 1;
}

/*
 * Builds a software EVP_PKEY from OpenSSL parameters. Returns it or NULL
 * (reason set).
 */
static EVP_PKEY *
hsm_pkey_fromdata(const char *alg, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		hsm_err_set("cannot build the %s public key from the token's "
		            "attributes",
		    alg);
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pk;
}

/*
 * Returns a software copy of the public key object o, or NULL (reason
 * set).
 */
static EVP_PKEY *
hsm_pub_read(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
    const struct hsm_keyspec *ks)
{
	unsigned char a[HSM_ATTR_MAX], b[HSM_ATTR_MAX];
	const unsigned char *p, *pt;
	ASN1_OCTET_STRING *os = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *n = NULL, *e = NULL;
	EVP_PKEY *pk = NULL;
	size_t alen, blen, ptlen;

	if ((bld = OSSL_PARAM_BLD_new()) == NULL) {
		hsm_err_set("public key: out of memory");
		goto out;
	}
	if (ks->key_type == CKK_RSA) {
		if (!hsm_attr_get(fl, s, o, CKA_MODULUS, a, sizeof(a), &alen) ||
		    !hsm_attr_get(
		        fl, s, o, CKA_PUBLIC_EXPONENT, b, sizeof(b), &blen))
			goto out;
		n = BN_bin2bn(a, (int)alen, NULL);
		e = BN_bin2bn(b, (int)blen, NULL);
		if (n == NULL || e == NULL ||
		    (CK_ULONG)BN_num_bits(n) != ks->bits) {
			hsm_err_set("token returned a bad RSA public key");
			goto out;
		}
		if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
			hsm_err_set("public key: out of memory");
			goto out;
		}
		pk = hsm_pkey_fromdata("RSA", bld);
		goto out;
	}
	if (!hsm_attr_get(fl, s, o, CKA_EC_POINT, a, sizeof(a), &alen))
		goto out;
	/* PKCS#11 says DER OCTET STRING; some tokens give the raw point. */
	p = a;
	if ((os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)alen)) != NULL &&
	    p == a + alen) {
		pt = ASN1_STRING_get0_data(os);
		ptlen = (size_t)ASN1_STRING_length(os);
	} else {
		pt = a;
		ptlen = alen;
	}
	if (ptlen != ks->point_len || pt[0] != 0x04) {
		hsm_err_set("token returned a bad EC point");
		goto out;
	}
	if (OSSL_PARAM_BLD_push_utf8_string(
	        bld, OSSL_PKEY_PARAM_GROUP_NAME, ks->group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(
	        bld, OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen) != 1) {
		hsm_err_set("public key: out of memory");
		goto out;
	}
	pk = hsm_pkey_fromdata("EC", bld);
out:
	ASN1_OCTET_STRING_free(os);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	ERR_clear_error();
	return pk;
}

/* Appends an attribute to a template of at most max entries. */
static void
hsm_attr_add(CK_ATTRIBUTE *t, CK_ULONG *n, CK_ULONG max, CK_ATTRIBUTE_TYPE type,
    void *value, CK_ULONG len)
{
	if (*n >= max)
		abort(); /* programmer error: template too small */
	t[*n].type = type;
	t[*n].pValue = value;
	t[*n].ulValueLen = len;
	(*n)++;
}

/* The key generation templates, fullest first (see hsm_keygen()). */
#define HSM_TMPL_LEVELS 3
static const char *const hsm_tmpl_names[HSM_TMPL_LEVELS] = {
	"full",
	"no-allowed-mechanisms",
	"minimal",
};

/*
 * Fills the common part of the templates of level (0 full, 1 without
 * CKA_ALLOWED_MECHANISMS, which the caller adds at level 0, 2 without the
 * optional usage flags set to false: the token's defaults then hold for
 * them).
 */
static void
hsm_tmpl_build(int level, CK_ATTRIBUTE *pubt, CK_ULONG *npub,
    CK_ATTRIBUTE *privt, CK_ULONG *npriv, CK_OBJECT_CLASS *pubcls,
    CK_OBJECT_CLASS *privcls, CK_KEY_TYPE *ktype, CK_BBOOL *yes, CK_BBOOL *no,
    const char *label, size_t lablen, CK_BYTE *id, size_t idlen)
{
	const CK_ULONG m = HSM_TMPL_MAX;

	hsm_attr_add(pubt, npub, m, CKA_CLASS, pubcls, sizeof(*pubcls));
	hsm_attr_add(pubt, npub, m, CKA_KEY_TYPE, ktype, sizeof(*ktype));
	hsm_attr_add(pubt, npub, m, CKA_TOKEN, yes, sizeof(*yes));
	hsm_attr_add(pubt, npub, m, CKA_VERIFY, yes, sizeof(*yes));
	hsm_attr_add(pubt, npub, m, CKA_LABEL, (void *)(uintptr_t)label,
	    lablen);
	hsm_attr_add(pubt, npub, m, CKA_ID, id, idlen);
	if (level < 2) {
		hsm_attr_add(pubt, npub, m, CKA_PRIVATE, no, sizeof(*no));
		hsm_attr_add(pubt, npub, m, CKA_ENCRYPT, no, sizeof(*no));
		hsm_attr_add(pubt, npub, m, CKA_WRAP, no, sizeof(*no));
	}
	hsm_attr_add(privt, npriv, m, CKA_CLASS, privcls, sizeof(*privcls));
	hsm_attr_add(privt, npriv, m, CKA_KEY_TYPE, ktype, sizeof(*ktype));
	hsm_attr_add(privt, npriv, m, CKA_TOKEN, yes, sizeof(*yes));
	hsm_attr_add(privt, npriv, m, CKA_PRIVATE, yes, sizeof(*yes));
	hsm_attr_add(privt, npriv, m, CKA_SENSITIVE, yes, sizeof(*yes));
	hsm_attr_add(privt, npriv, m, CKA_EXTRACTABLE, no, sizeof(*no));
	hsm_attr_add(privt, npriv, m, CKA_SIGN, yes, sizeof(*yes));
	hsm_attr_add(privt, npriv, m, CKA_LABEL, (void *)(uintptr_t)label,
	    lablen);
	hsm_attr_add(privt, npriv, m, CKA_ID, id, idlen);
	if (level < 2) {
		hsm_attr_add(privt, npriv, m, CKA_DECRYPT, no, sizeof(*no));
		hsm_attr_add(privt, npriv, m, CKA_UNWRAP, no, sizeof(*no));
		hsm_attr_add(privt, npriv, m, CKA_DERIVE, no, sizeof(*no));
		hsm_attr_add(privt, npriv, m, CKA_SIGN_RECOVER, no,
		    sizeof(*no));
	}
}

/* Refusals a smaller template cannot cure: the session, login or token. */
static int
hsm_tmpl_fatal(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_SESSION_READ_ONLY:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED:
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_MEMORY:
	case CKR_MECHANISM_INVALID:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return 1;
	default:
		return 0;
	}
}

/*
 * A private key made with a smaller template: it must still be sensitive
 * and not extractable, whatever the token's defaults. Returns 1, or 0
 * (reason set).
 */
static int
hsm_priv_check(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE o)
{
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE;
	CK_ATTRIBUTE a[] = {
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
		{ CKA_EXTRACTABLE, &extr, sizeof(extr) },
	};
	CK_RV rv;
	char why[64];

	rv = fl->C_GetAttributeValue(s, o, a, 2);
	if (rv != CKR_OK || sens != CK_TRUE || extr != CK_FALSE) {
		hsm_err_set("keygen: the token made the private key %s: "
			    "refused (destroyed)", rv != CKR_OK ?
		    hsm_ckr_str(rv, why, sizeof(why)) :
		    "not sensitive or extractable");
		return 0;
	}
	return 1;
}

int
hsm_keygen(struct hsm *h, const char *label, enum hsm_keytype type,
    EVP_PKEY **pub, char *uri, size_t urilen)
{
	const struct hsm_keyspec *ks;
	CK_FUNCTION_LIST_PTR fl;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
	CK_SESSION_INFO si;
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_ATTRIBUTE pubt[HSM_TMPL_MAX], privt[HSM_TMPL_MAX];
	CK_ULONG npub = 0, npriv = 0, bits;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS pubcls = CKO_PUBLIC_KEY, privcls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE ktype;
	CK_MECHANISM_TYPE allowed;
	CK_BYTE exp[] = { 0x01, 0x00, 0x01 }; /* 65537 */
	CK_RV rv, rv2 = CKR_OK;
	CK_BYTE id[HSM_KEYID_LEN];
	int level;
	unsigned char *ecparams = NULL, *q;
	char ubuf[HSM_GEN_URI_MAX], why[64], name[64];
	unsigned long slot_id;
	size_t off = 0, lablen;
	int eclen = 0, ex, rc = 0;

	if (pub != NULL)
		*pub = NULL;
	if (uri != NULL && urilen > 0)
		uri[0] = '\0';
	if (pub == NULL || uri == NULL || label == NULL) {
		hsm_err_set("keygen: missing argument");
		return 0;
	}
	if ((ks = hsm_keyspec_get(type)) == NULL) {
		hsm_err_set("keygen: unknown key type %d", (int)type);
		return 0;
	}
	lablen = strlen(label);
	if (lablen == 0 || lablen > HSM_LABEL_MAX) {
		hsm_err_set("key label must have 1 to %d bytes", HSM_LABEL_MAX);
		return 0;
	}
	for (off = 0; off < lablen; off++) {
		if ((unsigned char)label[off] < 0x20 || label[off] == 0x7f) {
			hsm_err_set("key label contains a control character");
			return 0;
		}
	}
	hsm_sanitise(label, name, sizeof(name));
	if ((fl = hsm_p11_funcs(h, &slot_id)) == NULL)
		return 0;
	/* What the token said it can make (hsm_caps.c). */
	if (h->caps.probed && !(h->caps.keygen & 1u << type)) {
		hsm_err_set("keygen: token %s cannot generate this key type "
			    "(no mechanism or key size for it; cmpcad -t lists "
			    "the types it can)", hsm_token_label(h));
		return 0;
	}
	/* The URI first: nothing is generated that cannot be named. */
	off = 0;
	if (!hsm_uri_put(ubuf, sizeof(ubuf), &off, "pkcs11:token=", 0) ||
	    !hsm_uri_put(ubuf, sizeof(ubuf), &off, hsm_token_label(h), 1) ||
	    !hsm_uri_put(ubuf, sizeof(ubuf), &off, ";object=", 0) ||
	    !hsm_uri_put(ubuf, sizeof(ubuf), &off, label, 1) ||
	    off + 1 > urilen) {
		hsm_err_set(
		    "keygen: uri buffer too small (%zu bytes needed)", off + 1);
		return 0;
	}

	rv = fl->C_OpenSession(
	    slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		s = CK_INVALID_HANDLE;
		hsm_err_set("keygen: cannot open session: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		goto out;
	}
	rv = fl->C_GetSessionInfo(s, &si);
	if (rv != CKR_OK || si.state != CKS_RW_USER_FUNCTIONS) {
		hsm_err_set("keygen: session is not logged in as user");
		goto out;
	}
	if ((ex = hsm_label_exists(fl, s, privcls, label)) == 0)
		ex = hsm_label_exists(fl, s, pubcls, label);
	if (ex == -1)
		goto out;
	if (ex) {
		hsm_err_set("key exists: a key labelled %s is on token %s",
		    name, hsm_token_label(h));
		goto out;
	}
	rv = fl->C_GenerateRandom(s, id, sizeof(id));
	if (rv != CKR_OK) {
		hsm_err_set(
		    "keygen: random id: %s", hsm_ckr_str(rv, why, sizeof(why)));
		goto out;
	}

	ktype = ks->key_type;
	if (ks->key_type == CKK_RSA) {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		bits = ks->bits;
	} else {
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		/* CKA_EC_PARAMS: DER of the named curve's OID. */
		eclen = i2d_ASN1_OBJECT(OBJ_nid2obj(ks->nid), NULL);
		if (eclen <= 0 || (ecparams = OPENSSL_malloc(eclen)) == NULL) {
			hsm_err_set("keygen: cannot encode the curve");
			goto out;
		}
		q = ecparams;
		if (i2d_ASN1_OBJECT(OBJ_nid2obj(ks->nid), &q) != eclen) {
			hsm_err_set("keygen: cannot encode the curve");
			goto out;
		}
	}
	/*
	 * Only the mechanism cmpca signs with (libp11 sends RSA PKCS#1 v1.5
	 * as CKM_RSA_PKCS and ECDSA as CKM_ECDSA). Otherwise CKA_SIGN lets an
	 * RSA key do a raw private-key operation (CKM_RSA_X_509) for whoever
	 * holds a session.
	 */
	allowed = ktype == CKK_RSA ? CKM_RSA_PKCS : CKM_ECDSA;
	/*
	 * Templates from the fullest down (hsm_tmpl_names): a token that
	 * refuses one gets the next; which one it took is recorded in the
	 * capability table, and a key made without the full one is checked
	 * below for what matters (sensitive, not extractable).
	 */
	rv = CKR_OK;
	for (level = h->caps.keygen_level; level < HSM_TMPL_LEVELS; level++) {
		npub = npriv = 0;
		hsm_tmpl_build(level, pubt, &npub, privt, &npriv, &pubcls,
		    &privcls, &ktype, &yes, &no, label, lablen, id, sizeof(id));
		if (ks->key_type == CKK_RSA) {
			hsm_attr_add(pubt, &npub, HSM_TMPL_MAX,
			    CKA_MODULUS_BITS, &bits, sizeof(bits));
			hsm_attr_add(pubt, &npub, HSM_TMPL_MAX,
			    CKA_PUBLIC_EXPONENT, exp, sizeof(exp));
		} else {
			hsm_attr_add(pubt, &npub, HSM_TMPL_MAX, CKA_EC_PARAMS,
			    ecparams, (CK_ULONG)eclen);
		}
		if (level == 0)
			hsm_attr_add(privt, &npriv, HSM_TMPL_MAX,
			    CKA_ALLOWED_MECHANISMS, &allowed, sizeof(allowed));
		rv2 = fl->C_GenerateKeyPair(
		    s, &mech, pubt, npub, privt, npriv, &hpub, &hpriv);
		if (level == h->caps.keygen_level)
			rv = rv2; /* the first refusal is the one to name */
		if (rv2 == CKR_OK || hsm_tmpl_fatal(rv2))
			break;
	}
	if (rv2 != CKR_OK) {
		hpub = hpriv = CK_INVALID_HANDLE;
		hsm_err_set("keygen: C_GenerateKeyPair: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		goto out;
	}
	if (level > 0 && !hsm_priv_check(fl, s, hpriv))
		goto out;
	h->caps.keygen_level = level;
	(void)snprintf(h->caps.keygen_template,
	    sizeof(h->caps.keygen_template), "%s", hsm_tmpl_names[level]);
	if ((*pub = hsm_pub_read(fl, s, hpub, ks)) == NULL)
		goto out;
	memcpy(uri, ubuf, off + 1);
	rc = 1;
out:
	if (!rc && hpriv != CK_INVALID_HANDLE)
		(void)fl->C_DestroyObject(s, hpriv);
	if (!rc && hpub != CK_INVALID_HANDLE)
		(void)fl->C_DestroyObject(s, hpub);
	if (s != CK_INVALID_HANDLE)
		(void)fl->C_CloseSession(s);
	if (!rc && *pub != NULL) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
	}
	OPENSSL_free(ecparams);
	OPENSSL_cleanse(id, sizeof(id));
	return rc;
}
