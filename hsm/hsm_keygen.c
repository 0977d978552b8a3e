/*
 * hsm_keygen.c - CA keys: key types, RFC 7512 URIs (parse and build),
 * loading a key by URI, and key generation in the token.
 *
 * libp11 0.4.12 generates only RSA keys and marks them for decryption and
 * unwrapping too, so every CA key is generated here with C_GenerateKeyPair
 * through the module's own function list (the instance libp11 loaded and
 * initialised; see hsm_p11_funcs() in hsm.c). A second read-write session
 * on the token's slot shares the login of the process. C_Finalize is never
 * called here. Keys are loaded through libp11, which finds keys generated
 * since the handle was opened because it enumerates anew each time.
 */
#define HSM_INTERNAL

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <p11-kit-1/p11-kit/pkcs11.h>
#include <libp11.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "hsm/hsm.h"

/* Length of the random CKA_ID given to both halves of a key pair. */
#define HSM_KEYID_LEN 16
/* A token label is CK_UTF8CHAR[32] in CK_TOKEN_INFO. */
#define HSM_TOKEN_LABEL_MAX 32
/* Longest CKA_LABEL of a key we generate or a URI names, in bytes. */
#define HSM_LABEL_MAX 128
/* Longest CKA_ID a URI may name, in bytes. */
#define HSM_ID_MAX 64
/* Longest URI hsm_key_load() accepts. */
#define HSM_URI_MAX 1024
/* Longest URI we build: scheme, token, object, each byte escaped. */
#define HSM_GEN_URI_MAX                                                        \
	(7 + 6 + 3 * HSM_TOKEN_LABEL_MAX + 8 + 3 * HSM_LABEL_MAX + 1)
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

/* A parsed RFC 7512 URI naming a private key. */
struct hsm_uri {
	char token[HSM_TOKEN_LABEL_MAX + 1];
	char manufacturer[HSM_TOKEN_LABEL_MAX + 1];
	char model[HSM_TOKEN_LABEL_MAX + 1];
	char serial[HSM_TOKEN_LABEL_MAX + 1];
	char object[HSM_LABEL_MAX + 1];
	unsigned char id[HSM_ID_MAX];
	size_t id_len;
	int has_token, has_manufacturer, has_model, has_serial;
	int has_object, has_id, has_type;
};

static int
hsm_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes the n bytes at s into out (size outlen). With text set,
 * the result is a NUL-terminated string without NUL bytes inside. Sets
 * *olen to the decoded length. Returns 1, or 0 on a bad escape, a byte
 * RFC 7512 does not allow unescaped, or overflow.
 */
static int
hsm_pct_decode(const char *s, size_t n, unsigned char *out, size_t outlen,
    int text, size_t *olen)
{
	size_t i, o = 0;
	int hi, lo, c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return 0;
			hi = hsm_hexval((unsigned char)s[i + 1]);
			lo = hsm_hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return 0;
			c = hi << 4 | lo;
			i += 2;
		} else if (c <= 0x20 || c >= 0x7f || c == '#' || c == '/' ||
		           c == '"' || c == '<' || c == '>' || c == '\\') {
			return 0;
		}
		if (text && c == 0)
			return 0;
		if (o + (text ? 1 : 0) >= outlen)
			return 0;
		out[o++] = (unsigned char)c;
	}
	if (text)
		out[o] = '\0';
	*olen = o;
	return 1;
}

/*
 * Parses an RFC 7512 URI naming one private key. Query attributes (such as
 * pin-value) are refused: a PIN never travels in a URI. Returns 1, or 0
 * (reason set; the reason never repeats a query).
 */
static int
hsm_uri_parse(const char *uri, struct hsm_uri *u)
{
	const char *p, *end, *eq;
	char attr[24];
	unsigned char *dst;
	size_t dstlen, olen, alen;
	int *seen, text;

	memset(u, 0, sizeof(*u));
	if (strlen(uri) > HSM_URI_MAX) {
		hsm_err_set("pkcs11 uri longer than %d bytes", HSM_URI_MAX);
		return 0;
	}
	if (strncasecmp(uri, "pkcs11:", 7) != 0) {
		hsm_err_set("not a pkcs11 uri: want pkcs11:token=...;"
		            "object=...");
		return 0;
	}
	if (strchr(uri, '?') != NULL) {
		hsm_err_set("pkcs11 uri with a query refused: the PIN comes "
		            "from the pin file, never from the uri");
		return 0;
	}
	for (p = uri + 7; *p != '\0'; p = *end == ';' ? end + 1 : end) {
		end = p + strcspn(p, ";");
		if (end == p)
			continue;
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL || eq == p || (size_t)(eq - p) >= sizeof(attr)) {
			hsm_err_set("pkcs11 uri: malformed attribute");
			return 0;
		}
		alen = (size_t)(eq - p);
		memcpy(attr, p, alen);
		attr[alen] = '\0';
		text = 1;
		if (strcmp(attr, "token") == 0) {
			dst = (unsigned char *)u->token;
			dstlen = sizeof(u->token);
			seen = &u->has_token;
		} else if (strcmp(attr, "object") == 0) {
			dst = (unsigned char *)u->object;
			dstlen = sizeof(u->object);
			seen = &u->has_object;
		} else if (strcmp(attr, "id") == 0) {
			dst = u->id;
			dstlen = sizeof(u->id);
			seen = &u->has_id;
			text = 0;
		} else if (strcmp(attr, "manufacturer") == 0) {
			dst = (unsigned char *)u->manufacturer;
			dstlen = sizeof(u->manufacturer);
			seen = &u->has_manufacturer;
		} else if (strcmp(attr, "model") == 0) {
			dst = (unsigned char *)u->model;
			dstlen = sizeof(u->model);
			seen = &u->has_model;
		} else if (strcmp(attr, "serial") == 0) {
			dst = (unsigned char *)u->serial;
			dstlen = sizeof(u->serial);
			seen = &u->has_serial;
		} else if (strcmp(attr, "type") == 0) {
			if ((size_t)(end - eq - 1) != 7 ||
			    strncmp(eq + 1, "private", 7) != 0) {
				hsm_err_set("pkcs11 uri: type must be private");
				return 0;
			}
			if (u->has_type) {
				hsm_err_set("pkcs11 uri: type given twice");
				return 0;
			}
			u->has_type = 1;
			continue;
		} else {
			/* Only printable names get here: they were copied. */
			hsm_err_set("pkcs11 uri: unsupported attribute %s",
			    hsm_sanitise(attr, attr, sizeof(attr)));
			return 0;
		}
		if (*seen) {
			hsm_err_set("pkcs11 uri: %s given twice", attr);
			return 0;
		}
		if (!hsm_pct_decode(eq + 1, (size_t)(end - eq - 1), dst, dstlen,
		        text, &olen)) {
			hsm_err_set(
			    "pkcs11 uri: bad or too long %s value", attr);
			return 0;
		}
		if (!text)
			u->id_len = olen;
		*seen = 1;
	}
	if (!u->has_object && !u->has_id) {
		hsm_err_set("pkcs11 uri names no key: want object= or id=");
		return 0;
	}
	if (u->has_id && u->id_len == 0) {
		hsm_err_set("pkcs11 uri: empty id");
		return 0;
	}
	return 1;
}

/*
 * Checks the token attributes of u against the open token. Returns 1 or 0
 * (reason set).
 */
static int
hsm_uri_token_check(
    const struct hsm *h, const PKCS11_TOKEN *t, const struct hsm_uri *u)
{
	char a[64], b[64];

	if (u->has_token && strcmp(u->token, hsm_token_label(h)) != 0) {
		hsm_err_set("pkcs11 uri names token %s, the open token is %s",
		    hsm_sanitise(u->token, a, sizeof(a)),
		    hsm_sanitise(hsm_token_label(h), b, sizeof(b)));
		return 0;
	}
	if ((u->has_manufacturer &&
	        (t->manufacturer == NULL ||
	            strcmp(u->manufacturer, t->manufacturer) != 0)) ||
	    (u->has_model &&
	        (t->model == NULL || strcmp(u->model, t->model) != 0)) ||
	    (u->has_serial &&
	        (t->serialnr == NULL || strcmp(u->serial, t->serialnr) != 0))) {
		hsm_err_set("pkcs11 uri: manufacturer, model or serial do "
		            "not match token %s",
		    hsm_sanitise(hsm_token_label(h), a, sizeof(a)));
		return 0;
	}
	return 1;
}

EVP_PKEY *
hsm_key_load(struct hsm *h, const char *uri)
{
	struct hsm_uri u;
	PKCS11_TOKEN *t;
	PKCS11_KEY *keys, *key = NULL;
	EVP_PKEY *pk = NULL;
	unsigned int nkeys, i, found = 0;
	unsigned long rv;
	char why[128], name[160];

	if ((t = hsm_p11_token(h)) == NULL)
		return NULL;
	if (uri == NULL) {
		hsm_err_set("no pkcs11 uri");
		return NULL;
	}
	if (!hsm_uri_parse(uri, &u))
		return NULL;
	hsm_sanitise(uri, name, sizeof(name));
	if (!hsm_uri_token_check(h, t, &u))
		return NULL;
	/* Enumerates anew each time: keys generated since are found. */
	if (PKCS11_enumerate_keys(t, &keys, &nkeys) != 0) {
		hsm_err_set("cannot list keys: %s",
		    hsm_ossl_str(why, sizeof(why), &rv));
		return NULL;
	}
	for (i = 0; i < nkeys; i++) {
		if (!keys[i].isPrivate)
			continue;
		if (u.has_object && (keys[i].label == NULL ||
		                        strcmp(keys[i].label, u.object) != 0))
			continue;
		if (u.has_id && (keys[i].id_len != u.id_len ||
		                    memcmp(keys[i].id, u.id, u.id_len) != 0))
			continue;
		key = &keys[i];
		found++;
	}
	if (found == 0) {
		hsm_err_set("no such key: %s", name);
		return NULL;
	}
	if (found > 1) {
		hsm_err_set("ambiguous key uri: %u keys match %s (add id=)",
		    found, name);
		return NULL;
	}
	if ((pk = PKCS11_get_private_key(key)) == NULL) {
		hsm_err_set("cannot load key %s: %s", name,
		    hsm_ossl_str(why, sizeof(why), &rv));
		return NULL;
	}
	/*
	 * libp11 takes the public half from the private key object or, for
	 * EC, from the public key object with the same CKA_ID.
	 */
	if (i2d_PUBKEY(pk, NULL) <= 0) {
		hsm_err_set("key %s has no public components (is its public "
		            "key object, with the same id, on the token?)",
		    name);
		EVP_PKEY_free(pk);
		ERR_clear_error();
		return NULL;
	}
	return pk;
}

/* What each key type means to the token and to OpenSSL. */
static const struct hsm_keyspec {
	enum hsm_keytype type;
	int nid; /* EC curve */
	CK_KEY_TYPE key_type;
	CK_ULONG bits;     /* RSA modulus size */
	const char *group; /* OpenSSL group name */
	size_t point_len;  /* uncompressed point */
} hsm_keyspecs[] = {
	{ HSM_KEY_RSA2048, NID_undef, CKK_RSA, 2048, NULL, 0 },
	{ HSM_KEY_RSA3072, NID_undef, CKK_RSA, 3072, NULL, 0 },
	{ HSM_KEY_RSA4096, NID_undef, CKK_RSA, 4096, NULL, 0 },
	{ HSM_KEY_EC_P256, NID_X9_62_prime256v1, CKK_EC, 0, "P-256", 65 },
	{ HSM_KEY_EC_P384, NID_secp384r1, CKK_EC, 0, "P-384", 97 },
};

static const struct hsm_keyspec *
hsm_keyspec_get(enum hsm_keytype type)
{
	size_t i;

	for (i = 0; i < sizeof(hsm_keyspecs) / sizeof(hsm_keyspecs[0]); i++)
		if (hsm_keyspecs[i].type == type)
			return &hsm_keyspecs[i];
	return NULL;
}

/*
 * Appends s to buf (size len) at *off, percent-encoding every byte that is
 * not an RFC 3986 unreserved character. Returns 1, or 0 if it does not
 * fit.
 */
static int
hsm_uri_put(char *buf, size_t len, size_t *off, const char *s, int escape)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (!escape || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			if (*off + 1 >= len)
				return 0;
			buf[(*off)++] = (char)c;
		} else {
			if (*off + 3 >= len)
				return 0;
			buf[(*off)++] = '%';
			buf[(*off)++] = hex[c >> 4];
			buf[(*off)++] = hex[c & 0xf];
		}
	}
	buf[*off] = '\0';
	return 1;
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
	CK_RV rv;
	CK_BYTE id[HSM_KEYID_LEN];
	unsigned char *ecparams = NULL, *q;
	char ubuf[HSM_GEN_URI_MAX], why[64], name[64];
	unsigned long slot_id;
	size_t off = 0, lablen;
	int eclen, ex, rc = 0;

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
	hsm_attr_add(
	    pubt, &npub, HSM_TMPL_MAX, CKA_CLASS, &pubcls, sizeof(pubcls));
	hsm_attr_add(
	    pubt, &npub, HSM_TMPL_MAX, CKA_KEY_TYPE, &ktype, sizeof(ktype));
	hsm_attr_add(pubt, &npub, HSM_TMPL_MAX, CKA_TOKEN, &yes, sizeof(yes));
	hsm_attr_add(pubt, &npub, HSM_TMPL_MAX, CKA_PRIVATE, &no, sizeof(no));
	hsm_attr_add(pubt, &npub, HSM_TMPL_MAX, CKA_VERIFY, &yes, sizeof(yes));
	hsm_attr_add(pubt, &npub, HSM_TMPL_MAX, CKA_ENCRYPT, &no, sizeof(no));
	hsm_attr_add(pubt, &npub, HSM_TMPL_MAX, CKA_WRAP, &no, sizeof(no));
	hsm_attr_add(pubt, &npub, HSM_TMPL_MAX, CKA_LABEL,
	    (void *)(uintptr_t)label, lablen);
	hsm_attr_add(pubt, &npub, HSM_TMPL_MAX, CKA_ID, id, sizeof(id));

	hsm_attr_add(
	    privt, &npriv, HSM_TMPL_MAX, CKA_CLASS, &privcls, sizeof(privcls));
	hsm_attr_add(
	    privt, &npriv, HSM_TMPL_MAX, CKA_KEY_TYPE, &ktype, sizeof(ktype));
	hsm_attr_add(privt, &npriv, HSM_TMPL_MAX, CKA_TOKEN, &yes, sizeof(yes));
	hsm_attr_add(
	    privt, &npriv, HSM_TMPL_MAX, CKA_PRIVATE, &yes, sizeof(yes));
	hsm_attr_add(
	    privt, &npriv, HSM_TMPL_MAX, CKA_SENSITIVE, &yes, sizeof(yes));
	hsm_attr_add(
	    privt, &npriv, HSM_TMPL_MAX, CKA_EXTRACTABLE, &no, sizeof(no));
	hsm_attr_add(privt, &npriv, HSM_TMPL_MAX, CKA_SIGN, &yes, sizeof(yes));
	hsm_attr_add(privt, &npriv, HSM_TMPL_MAX, CKA_DECRYPT, &no, sizeof(no));
	hsm_attr_add(privt, &npriv, HSM_TMPL_MAX, CKA_UNWRAP, &no, sizeof(no));
	hsm_attr_add(privt, &npriv, HSM_TMPL_MAX, CKA_DERIVE, &no, sizeof(no));
	hsm_attr_add(
	    privt, &npriv, HSM_TMPL_MAX, CKA_SIGN_RECOVER, &no, sizeof(no));
	hsm_attr_add(privt, &npriv, HSM_TMPL_MAX, CKA_LABEL,
	    (void *)(uintptr_t)label, lablen);
	hsm_attr_add(privt, &npriv, HSM_TMPL_MAX, CKA_ID, id, sizeof(id));

	if (ks->key_type == CKK_RSA) {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		bits = ks->bits;
		hsm_attr_add(pubt, &npub, HSM_TMPL_MAX, CKA_MODULUS_BITS, &bits,
		    sizeof(bits));
		hsm_attr_add(pubt, &npub, HSM_TMPL_MAX, CKA_PUBLIC_EXPONENT,
		    exp, sizeof(exp));
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
		hsm_attr_add(pubt, &npub, HSM_TMPL_MAX, CKA_EC_PARAMS, ecparams,
		    (CK_ULONG)eclen);
	}

	/*
	 * Last, so that it can be dropped: only the mechanism cmpca signs
	 * with (libp11 sends RSA PKCS#1 v1.5 as CKM_RSA_PKCS and ECDSA as
	 * CKM_ECDSA). Otherwise CKA_SIGN lets an RSA key do a raw private-key
	 * operation (CKM_RSA_X_509) for whoever holds a session. A token
	 * without CKA_ALLOWED_MECHANISMS (PKCS#11 2.40) gets the key without.
	 */
	allowed = ktype == CKK_RSA ? CKM_RSA_PKCS : CKM_ECDSA;
	hsm_attr_add(privt, &npriv, HSM_TMPL_MAX, CKA_ALLOWED_MECHANISMS,
	    &allowed, sizeof(allowed));
	rv = fl->C_GenerateKeyPair(
	    s, &mech, pubt, npub, privt, npriv, &hpub, &hpriv);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    rv == CKR_ATTRIBUTE_VALUE_INVALID ||
	    rv == CKR_TEMPLATE_INCONSISTENT)
		rv = fl->C_GenerateKeyPair(
		    s, &mech, pubt, npub, privt, npriv - 1, &hpub, &hpriv);
	if (rv != CKR_OK) {
		hpub = hpriv = CK_INVALID_HANDLE;
		hsm_err_set("keygen: C_GenerateKeyPair: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		goto out;
	}
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
