/*
 * hsm_uri.c - RFC 7512 PKCS#11 URIs: parsing the URI that names a private
 * key (percent-decoded by lib_pct_decode()), checking its token
 * attributes against the open token, loading the key it names, and
 * building the URI of a key we generate (hsm_uri_put()).
 *
 * Keys are loaded through libp11, which finds keys generated since the
 * handle was opened because it enumerates anew each time.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hsm/hsm_int.h"
#include "lib/lib.h"

/* A parsed RFC 7512 URI naming a private key. */
struct hsm_uri {
	char token[HSM_TOKEN_LABEL_MAX + 1];
	char manufacturer[HSM_TOKEN_LABEL_MAX + 1];
	char model[HSM_TOKEN_LABEL_MAX + 1];
	char serial[HSM_TOKEN_LABEL_MAX + 1];
	char object[HSM_LABEL_MAX + 1];
	unsigned char id[HSM_ID_MAX + 1]; /* lib_pct_decode() ends it */
	size_t id_len;
	int has_token, has_manufacturer, has_model, has_serial;
	int has_object, has_id, has_type;
};

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
	size_t dstlen, alen;
	long olen;
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
		olen = lib_pct_decode(eq + 1, (size_t)(end - eq - 1),
		    (char *)dst, dstlen,
		    LIB_PCT_URI | (text ? LIB_PCT_NO_NUL : 0));
		if (olen < 0) {
			hsm_err_set(
			    "pkcs11 uri: bad or too long %s value", attr);
			return 0;
		}
		if (!text)
			u->id_len = (size_t)olen;
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

/*
 * Appends s to buf (size len) at *off, percent-encoding every byte that is
 * not an RFC 3986 unreserved character (when escape is set). Returns 1, or
 * 0 if it does not fit. See hsm_int.h.
 */
int
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
