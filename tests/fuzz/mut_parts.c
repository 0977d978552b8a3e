/*
 * mut_parts.c - the parts the structure-aware mutator puts into messages:
 * names, GeneralNames, extensions, algorithm identifiers, integers,
 * octet strings and three signing keys. Values are picked from what
 * parsers get wrong (boundaries, empty and long strings, wildcards,
 * control characters, bad UTF-8, unknown OIDs, garbage DER). See
 * mut_int.h.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "tests/fuzz/cmp_mutate.h"
#include "tests/fuzz/mut_int.h"

#define MUT_MAX_BYTES 512

static uint64_t mut_state = 1;

/* See mut_int.h. */
void
mut_seed(unsigned int seed)
{
	mut_state = ((uint64_t)seed << 1) | 1;
}

/* See mut_int.h (xorshift64*). */
unsigned
mut_rnd(unsigned n)
{
	mut_state ^= mut_state >> 12;
	mut_state ^= mut_state << 25;
	mut_state ^= mut_state >> 27;
	return (unsigned)((mut_state * 2685821657736338717ULL) >> 33) % n;
}

static const long int_vals[] = {
	-1, 0, 1, 2, 3, 15, 16, 17, 127, 128, 255, 256, 65535, INT_MAX,
	(long)INT_MAX + 1, LONG_MAX, LONG_MIN,
};

/* See mut_int.h. */
int
mut_int_set(ASN1_INTEGER **i)
{
	unsigned char big[40];
	BIGNUM *bn;
	int ok;

	if (*i == NULL && (*i = ASN1_INTEGER_new()) == NULL)
		return 0;
	if (mut_rnd(4) != 0)
		return ASN1_INTEGER_set_int64(*i,
		    int_vals[mut_rnd(sizeof(int_vals) / sizeof(int_vals[0]))]);
	/* A large one: 1 to 40 random octets, maybe negative. */
	for (size_t k = 0; k < sizeof(big); k++)
		big[k] = (unsigned char)mut_rnd(256);
	if ((bn = BN_bin2bn(big, (int)(1 + mut_rnd(sizeof(big))), NULL)) ==
	    NULL)
		return 0;
	BN_set_negative(bn, (int)mut_rnd(2));
	ok = BN_to_ASN1_INTEGER(bn, *i) != NULL;
	BN_free(bn);
	return ok;
}

/* See mut_int.h. */
void
mut_string_bytes(ASN1_STRING *s)
{
	unsigned char buf[MUT_MAX_BYTES];
	size_t n = 0;

	if (s->length > 0) {
		n = (size_t)s->length < sizeof(buf) ? (size_t)s->length
						    : sizeof(buf);
		memcpy(buf, s->data, n);
	}
	n = LLVMFuzzerMutate(buf, n, sizeof(buf));
	(void)ASN1_STRING_set(s, buf, (int)n);
}

static const int oct_lens[] = { 0, 1, 8, 15, 16, 17, 32, 33, 64, 129 };

/* See mut_int.h. */
int
mut_octets(ASN1_OCTET_STRING **o)
{
	unsigned char buf[129];
	int n = oct_lens[mut_rnd(sizeof(oct_lens) / sizeof(oct_lens[0]))];

	if (*o == NULL && (*o = ASN1_OCTET_STRING_new()) == NULL)
		return 0;
	if (mut_rnd(3) == 0) {
		mut_string_bytes(*o);
		return 1;
	}
	for (int k = 0; k < n; k++)
		buf[k] = (unsigned char)mut_rnd(256);
	return ASN1_OCTET_STRING_set(*o, buf, n);
}

static const char *const words[] = {
	"", "a", "*", "*.example.com", "www.example.com", "fuzz", "admin",
	"cmpca Demo CA", "user@example.com", "127.0.0.1", "..", "a\nb",
	"a\001b", "\xff\xfe", "\xc3\x28", "%s%n", "-", "DE", "ZZZ",
	"1.2.3.4", "http://x/", "O=evil,CN=x", "/CN=x",
};

/* A string: a word, a long run, or random bytes. */
static size_t
mut_text(unsigned char *buf, size_t cap)
{
	size_t n;

	switch (mut_rnd(4)) {
	case 0:
		n = 64 + mut_rnd(300);
		n = n < cap ? n : cap;
		memset(buf, 'A' + (int)mut_rnd(26), n);
		return n;
	case 1:
		n = mut_rnd(40);
		for (size_t k = 0; k < n; k++)
			buf[k] = (unsigned char)mut_rnd(256);
		return n;
	default: {
		const char *w = words[mut_rnd(sizeof(words) / sizeof(words[0]))];

		n = strlen(w);
		memcpy(buf, w, n);
		return n;
	}
	}
}

static const int name_nids[] = {
	NID_commonName, NID_organizationName, NID_organizationalUnitName,
	NID_countryName, NID_localityName, NID_stateOrProvinceName,
	NID_serialNumber, NID_pkcs9_emailAddress, NID_domainComponent,
	NID_userId, NID_title, NID_dnQualifier,
};
static const int str_types[] = {
	V_ASN1_UTF8STRING, V_ASN1_PRINTABLESTRING, V_ASN1_IA5STRING,
	V_ASN1_BMPSTRING, V_ASN1_T61STRING, V_ASN1_UNIVERSALSTRING,
	V_ASN1_OCTET_STRING,
};

/* Adds one attribute to n (maybe to the same RDN as the last one). */
static void
name_add(X509_NAME *n)
{
	unsigned char buf[400];
	const char *w;
	size_t len;
	int nid = name_nids[mut_rnd(sizeof(name_nids) / sizeof(name_nids[0]))];
	int type = str_types[mut_rnd(sizeof(str_types) / sizeof(str_types[0]))];

	if (mut_rnd(2) == 0) {
		w = words[mut_rnd(sizeof(words) / sizeof(words[0]))];
		len = strlen(w);
		memcpy(buf, w, len);
	} else {
		len = mut_text(buf, sizeof(buf));
	}
	(void)X509_NAME_add_entry_by_NID(n, nid, type, buf, (int)len,
	    mut_rnd(4) == 0 && X509_NAME_entry_count(n) > 0
		? X509_NAME_entry_count(n) - 1 : -1,
	    mut_rnd(4) == 0 ? -1 : 0);
}

/* See mut_int.h. */
X509_NAME *
mut_name(void)
{
	X509_NAME *n = X509_NAME_new();
	unsigned k = mut_rnd(4);

	if (n == NULL)
		return NULL;
	while (k-- > 0)
		name_add(n);
	return n;
}

/* See mut_int.h. */
void
mut_name_change(X509_NAME *n)
{
	X509_NAME_ENTRY *e;
	int c = X509_NAME_entry_count(n);

	if (c > 0 && mut_rnd(3) == 0) {
		X509_NAME_ENTRY_free(X509_NAME_delete_entry(n,
		    (int)mut_rnd((unsigned)c)));
		return;
	}
	if (c > 0 && mut_rnd(2) == 0) {
		e = X509_NAME_get_entry(n, (int)mut_rnd((unsigned)c));
		mut_string_bytes(X509_NAME_ENTRY_get_data(e));
		return;
	}
	name_add(n);
}

/* See mut_int.h. */
GENERAL_NAME *
mut_gn(void)
{
	static const unsigned char ips[][16] = {
		{ 127, 0, 0, 1 }, { 10, 0, 0, 1 }, { 0 },
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	};
	static const int ip_lens[] = { 4, 4, 5, 16, 8, 0 };
	unsigned char buf[400];
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s;
	size_t n;
	int t;

	if (g == NULL)
		return NULL;
	switch (mut_rnd(7)) {
	case 0:
		t = GEN_IPADD;
		break;
	case 1:
		t = GEN_DIRNAME;
		break;
	case 2:
		t = GEN_RID;
		break;
	case 3:
		t = GEN_EMAIL;
		break;
	case 4:
		t = GEN_URI;
		break;
	default:
		t = GEN_DNS;
		break;
	}
	if (t == GEN_DIRNAME) {
		X509_NAME *nm = mut_name();

		GENERAL_NAME_set0_value(g, t, nm);
		return g;
	}
	if (t == GEN_RID) {
		GENERAL_NAME_set0_value(g, t, OBJ_txt2obj(mut_rnd(2)
			? "1.3.6.1.4.1.99999.1" : "2.5.4.3", 1));
		return g;
	}
	if ((s = ASN1_IA5STRING_new()) == NULL) {
		GENERAL_NAME_free(g);
		return NULL;
	}
	if (t == GEN_IPADD) {
		int l = ip_lens[mut_rnd(sizeof(ip_lens) / sizeof(ip_lens[0]))];

		(void)ASN1_STRING_set(s, ips[mut_rnd(4)], l);
	} else {
		n = mut_text(buf, sizeof(buf));
		if (mut_rnd(2) == 0) {
			const char *w = t == GEN_EMAIL ? "u@example.com"
			    : t == GEN_URI ? "https://h.example/x"
					   : "h.example.com";

			n = strlen(w);
			memcpy(buf, w, n);
		}
		(void)ASN1_STRING_set(s, buf, (int)n);
	}
	GENERAL_NAME_set0_value(g, t, s);
	return g;
}

/* DER of value of item it as an extension (crit) of nid. */
static X509_EXTENSION *
ext_of(int nid, void *value)
{
	return X509V3_EXT_i2d(nid, (int)mut_rnd(2), value);
}

static const char *const ekus[] = {
	"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.3",
	"1.3.6.1.5.5.7.3.9", "2.5.29.37.0", "1.3.6.1.5.5.7.3.4",
	"1.3.6.1.4.1.99999.7",
};

/* See mut_int.h. */
X509_EXTENSION *
mut_ext(void)
{
	X509_EXTENSION *e = NULL;
	ASN1_OCTET_STRING *os;
	unsigned k;

	switch (mut_rnd(9)) {
	case 0:
	case 1: {
		GENERAL_NAMES *gs = GENERAL_NAMES_new();

		for (k = 1 + mut_rnd(3); gs != NULL && k > 0; k--)
			(void)sk_GENERAL_NAME_push(gs, mut_gn());
		e = ext_of(NID_subject_alt_name, gs);
		GENERAL_NAMES_free(gs);
		return e;
	}
	case 2: {
		ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();

		for (k = 0; ku != NULL && k < 9; k++)
			if (mut_rnd(3) == 0)
				(void)ASN1_BIT_STRING_set_bit(ku, (int)k, 1);
		e = ext_of(NID_key_usage, ku);
		ASN1_BIT_STRING_free(ku);
		return e;
	}
	case 3: {
		EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();

		for (k = 1 + mut_rnd(3); eku != NULL && k > 0; k--)
			(void)sk_ASN1_OBJECT_push(eku, OBJ_txt2obj(
			    ekus[mut_rnd(sizeof(ekus) / sizeof(ekus[0]))], 1));
		e = ext_of(NID_ext_key_usage, eku);
		sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
		return e;
	}
	case 4: {
		BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();

		if (bc != NULL) {
			bc->ca = (int)mut_rnd(2) ? 0xff : 0;
			if (mut_rnd(2))
				(void)mut_int_set(&bc->pathlen);
		}
		e = ext_of(NID_basic_constraints, bc);
		BASIC_CONSTRAINTS_free(bc);
		return e;
	}
	case 5: {
		ASN1_ENUMERATED *r = ASN1_ENUMERATED_new();

		(void)ASN1_ENUMERATED_set(r, (long)mut_rnd(12) - 1);
		e = ext_of(NID_crl_reason, r);
		ASN1_ENUMERATED_free(r);
		return e;
	}
	case 6: {
		static const char *const v[] = {
			"certificatePolicies", "2.5.29.32.0",
			"nameConstraints", "permitted;DNS:example.com",
			"subjectKeyIdentifier", "00112233",
			"nsComment", "fuzz",
		};
		X509V3_CTX ctx;

		k = 2 * mut_rnd(4);
		X509V3_set_ctx_nodb(&ctx);
		X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, X509V3_CTX_TEST);
		return X509V3_EXT_nconf(NULL, &ctx, v[k], v[k + 1]);
	}
	default: {
		/* A known or unknown type with garbage (or empty) content. */
		static const char *const oids[] = {
			"2.5.29.17", "2.5.29.15", "2.5.29.37", "2.5.29.19",
			"2.5.29.14", "2.5.29.35", "1.3.6.1.5.5.7.1.1",
			"1.3.6.1.4.1.99999.9", "2.5.29.30", "2.5.29.21",
		};
		ASN1_OBJECT *o = OBJ_txt2obj(
		    oids[mut_rnd(sizeof(oids) / sizeof(oids[0]))], 1);

		if ((os = ASN1_OCTET_STRING_new()) != NULL && o != NULL) {
			static const unsigned char seq[] = { 0x30, 0x00 };

			(void)ASN1_OCTET_STRING_set(os, seq, 2);
			mut_string_bytes(os);
			e = X509_EXTENSION_create_by_OBJ(NULL, o,
			    (int)mut_rnd(2), os);
		}
		ASN1_OCTET_STRING_free(os);
		ASN1_OBJECT_free(o);
		return e;
	}
	}
}

/* See mut_int.h. */
void
mut_exts(STACK_OF(X509_EXTENSION) **sk)
{
	X509_EXTENSION *e;
	int n;

	if (*sk == NULL && (*sk = sk_X509_EXTENSION_new_null()) == NULL)
		return;
	n = sk_X509_EXTENSION_num(*sk);
	switch (n > 0 ? mut_rnd(6) : 0) {
	case 0:
	case 1:
		if ((e = mut_ext()) != NULL &&
		    !sk_X509_EXTENSION_push(*sk, e))
			X509_EXTENSION_free(e);
		break;
	case 2:
		X509_EXTENSION_free(sk_X509_EXTENSION_delete(*sk,
		    (int)mut_rnd((unsigned)n)));
		break;
	case 3:
		e = X509_EXTENSION_dup(sk_X509_EXTENSION_value(*sk,
		    (int)mut_rnd((unsigned)n)));
		if (e != NULL && !sk_X509_EXTENSION_push(*sk, e))
			X509_EXTENSION_free(e);
		break;
	case 4:
		e = sk_X509_EXTENSION_value(*sk, (int)mut_rnd((unsigned)n));
		(void)X509_EXTENSION_set_critical(e,
		    !X509_EXTENSION_get_critical(e));
		break;
	default:
		e = sk_X509_EXTENSION_value(*sk, (int)mut_rnd((unsigned)n));
		mut_string_bytes(X509_EXTENSION_get_data(e));
		break;
	}
}

static const char *const algs[] = {
	"1.2.840.113533.7.66.13", /* PasswordBasedMac */
	"1.2.840.113549.1.5.14",  /* PBMAC1 */
	"1.2.840.113549.1.1.11",  /* sha256WithRSAEncryption */
	"1.2.840.113549.1.1.5",	  /* sha1WithRSAEncryption */
	"1.2.840.113549.1.1.4",	  /* md5WithRSAEncryption */
	"1.2.840.113549.1.1.10",  /* RSASSA-PSS */
	"1.2.840.10045.4.3.2",	  /* ecdsa-with-SHA256 */
	"1.2.840.10045.4.3.3",	  /* ecdsa-with-SHA384 */
	"1.3.101.112",		  /* Ed25519 */
	"1.3.101.113",		  /* Ed448 */
	"2.16.840.1.101.3.4.2.1", /* SHA-256 */
	"1.3.14.3.2.26",	  /* SHA-1 */
	"1.2.840.113549.2.9",	  /* hmacWithSHA256 */
	"1.3.6.1.5.5.8.1.2",	  /* hmac-sha1 */
	"2.16.840.1.101.3.4.3.17", /* ML-DSA-44 */
	"1.3.6.1.4.1.99999.3",
};

/* See mut_int.h. */
X509_ALGOR *
mut_alg(void)
{
	X509_ALGOR *a = X509_ALGOR_new();
	ASN1_OBJECT *o = OBJ_txt2obj(algs[mut_rnd(sizeof(algs) /
	    sizeof(algs[0]))], 1);
	int ptype = mut_rnd(3) == 0 ? V_ASN1_NULL : V_ASN1_UNDEF;

	if (a == NULL || o == NULL || !X509_ALGOR_set0(a, o, ptype, NULL)) {
		ASN1_OBJECT_free(o);
		X509_ALGOR_free(a);
		return NULL;
	}
	if (mut_rnd(5) == 0) {
		ASN1_TYPE_free(a->parameter);
		a->parameter = mut_any();
	}
	return a;
}

/* See mut_int.h. */
ASN1_TYPE *
mut_any(void)
{
	ASN1_TYPE *t = ASN1_TYPE_new();
	ASN1_STRING *s;
	ASN1_INTEGER *i = NULL;
	static const int kinds[] = {
		V_ASN1_OCTET_STRING, V_ASN1_UTF8STRING, V_ASN1_SEQUENCE,
		V_ASN1_BIT_STRING,
	};
	int k;

	if (t == NULL)
		return NULL;
	switch (mut_rnd(3)) {
	case 0:
		ASN1_TYPE_set(t, V_ASN1_NULL, NULL);
		return t;
	case 1:
		if (mut_int_set(&i))
			ASN1_TYPE_set(t, V_ASN1_INTEGER, i);
		else
			ASN1_INTEGER_free(i);
		return t;
	default:
		k = kinds[mut_rnd(sizeof(kinds) / sizeof(kinds[0]))];
		if ((s = ASN1_STRING_type_new(k)) == NULL) {
			ASN1_TYPE_free(t);
			return NULL;
		}
		if (k == V_ASN1_SEQUENCE)
			(void)ASN1_STRING_set(s, "\x02\x01\x00", 3);
		mut_string_bytes(s);
		ASN1_TYPE_set(t, k, s);
		return t;
	}
}

static EVP_PKEY *keys[3];

/* A P-256 key whose private scalar is the SHA-256 of label: the same on
 * every run, so that stored inputs keep valid POPs and signatures. Test
 * keys only, derived from a public label. */
static EVP_PKEY *
ec_fixed(const char *label)
{
	unsigned char d[32], pub[65];
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	EC_POINT *pt = NULL;
	BIGNUM *bn = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;

	SHA256((const unsigned char *)label, strlen(label), d);
	if (g == NULL || (bn = BN_bin2bn(d, sizeof(d), NULL)) == NULL ||
	    (pt = EC_POINT_new(g)) == NULL ||
	    !EC_POINT_mul(g, pt, bn, NULL, NULL, NULL) ||
	    EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub,
		sizeof(pub), NULL) != sizeof(pub) ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
		"prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
		pub, sizeof(pub)) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) <= 0)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bn);
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	OPENSSL_cleanse(d, sizeof(d));
	return k;
}

/* See mut_int.h. */
EVP_PKEY *
mut_key(int i)
{
	unsigned char d[32];

	if (keys[i] != NULL)
		return keys[i];
	switch (i) {
	case 0:
		keys[i] = ec_fixed("cmpca fuzz key 0 (P-256)");
		break;
	case 1:
		SHA256((const unsigned char *)"cmpca fuzz key 1 (Ed25519)", 26,
		    d);
		keys[i] = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
		    d, sizeof(d));
		break;
	default:
		/* Made per run: its POPs hold only within one run. */
		keys[i] = EVP_RSA_gen(2048);
		break;
	}
	return keys[i];
}

/* See mut_int.h. */
EVP_PKEY *
mut_key_of(EVP_PKEY *pkey)
{
	if (pkey == NULL)
		return NULL;
	for (int i = 0; i < 3; i++)
		if (keys[i] != NULL && EVP_PKEY_eq(keys[i], pkey) == 1)
			return keys[i];
	return NULL;
}

/* See mut_int.h. */
const EVP_MD *
mut_md(EVP_PKEY *key)
{
	return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL
							     : EVP_sha256();
}
