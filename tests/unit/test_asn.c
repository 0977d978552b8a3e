/*
 * test_asn.c - the bounded PKIMessage decoder (ca/cmp_asn.c, cmp_msg_parse):
 * the recorded message flows round-trip, and trailing bytes, truncation,
 * the size bound, random bytes, bit flips and the CertReqMsg count are
 * refused; a template's public key with parameters its algorithm does
 * not allow is not a usable key (test_spki_params).
 *
 * Run from the repository root: the fixtures are read from
 * $CMPCA_CMP_FLOWS, by default tests/data/cmp-messageflows (origin and
 * licence in its NOTICE), and the group fails when none is found.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"
#include "tests/unit/unitlib.h"

#define FLOWS_DEFAULT "tests/data/cmp-messageflows"
#define MAX_FIXTURES 256

/* Reads a whole file into a malloc'd buffer with one spare byte. */
static unsigned char *
file_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	EQ(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	EQ(fread(buf, 1, (size_t)n, f), n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Decoder: the recorded message flows, <flow>/<direction>_<TYPE>.der. */

static struct {
	char *path[MAX_FIXTURES];
	size_t n;
} flows;

static int
cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
flows_setup(void **state)
{
	const char *base = getenv("CMPCA_CMP_FLOWS");
	char dir[1024], path[1400];
	struct dirent *e, *f;
	DIR *top, *sub;

	(void)state;
	if (base == NULL)
		base = FLOWS_DEFAULT;
	if ((top = opendir(base)) == NULL) {
		print_error("cannot open %s: run from the repository root or "
		            "set CMPCA_CMP_FLOWS\n",
		    base);
		return -1;
	}
	while ((e = readdir(top)) != NULL) {
		snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
		if (e->d_name[0] == '.' || (sub = opendir(dir)) == NULL)
			continue;
		while ((f = readdir(sub)) != NULL && flows.n < MAX_FIXTURES)
			if (ends_with(f->d_name, ".der")) {
				snprintf(path, sizeof(path), "%s/%s", dir,
				    f->d_name);
				if ((flows.path[flows.n] = strdup(path)) ==
				    NULL)
					return -1;
				flows.n++;
			}
		closedir(sub);
	}
	closedir(top);
	if (flows.n == 0) {
		print_error("no */*.der fixtures under %s\n", base);
		return -1;
	}
	qsort(flows.path, flows.n, sizeof(flows.path[0]), cmp_path);
	print_message("%zu fixtures under %s\n", flows.n, base);
	return 0;
}

static int
flows_teardown(void **state)
{
	(void)state;
	while (flows.n > 0)
		free(flows.path[--flows.n]);
	return 0;
}

/* Reads the fixture whose path ends in suffix. */
static unsigned char *
fixture(const char *suffix, size_t *len)
{
	size_t i;

	for (i = 0; i < flows.n; i++)
		if (ends_with(flows.path[i], suffix))
			return file_read(flows.path[i], len);
	fail_msg("fixture *%s not found", suffix);
	return NULL;
}

/* The body type a file name promises, -1 for an unknown name. */
static int
body_of_name(const char *path)
{
	static const struct {
		const char *name;
		int type;
	} map[] = {
		{ "INIT_REQ", CMP_BODY_IR },
		{ "INIT_REP", CMP_BODY_IP },
		{ "CERT_REQ", CMP_BODY_CR },
		{ "CERT_REP", CMP_BODY_CP },
		{ "KEY_UPDATE_REQ", CMP_BODY_KUR },
		{ "KEY_UPDATE_REP", CMP_BODY_KUP },
		{ "REVOCATION_REQ", CMP_BODY_RR },
		{ "REVOCATION_REP", CMP_BODY_RP },
		{ "CONFIRM", CMP_BODY_PKICONF },
		{ "CERT_CONFIRM", CMP_BODY_CERTCONF },
		{ "POLL_REQ", CMP_BODY_POLLREQ },
		{ "POLL_REP", CMP_BODY_POLLREP },
	};
	const char *t = strchr(strrchr(path, '/') + 1, '_');
	size_t i, n;

	if (t == NULL)
		return -1;
	n = strlen(++t) - strlen(".der");
	for (i = 0; i < NELEM(map); i++)
		if (strlen(map[i].name) == n && strncmp(t, map[i].name, n) == 0)
			return map[i].type;
	return -1;
}

static int
len_ok(const ASN1_OCTET_STRING *s)
{
	return s != NULL && s->length >= 8 && s->length <= 64;
}

/* Returns NULL if the file decodes, re-encodes to the same bytes and fits
 * its name, else what is wrong. */
static const char *
fixture_check(const char *path)
{
	static char why[160];
	unsigned char *der, *enc = NULL;
	const char *err = NULL, *pwhy;
	CMP_MSG *m;
	size_t len;
	long pvno;
	int n, want = body_of_name(path);

	der = file_read(path, &len);
	if ((m = cmp_msg_parse(der, len, &pwhy)) == NULL) {
		snprintf(why, sizeof(why), "cmp_msg_parse: %s", pwhy);
		err = why;
	} else if ((n = cmp_msg_encode(m, &enc)) < 0 || (size_t)n != len ||
	           memcmp(enc, der, len) != 0)
		err = "re-encoding differs";
	else if (m->body->type != want) {
		snprintf(why, sizeof(why), "body %s, the name says %s",
		    cmp_body_name(m->body->type), cmp_body_name(want));
		err = why;
	} else if ((pvno = ASN1_INTEGER_get(m->header->pvno)) != 2 && pvno != 3)
		err = "pvno not 2 or 3";
	else if (!len_ok(m->header->transactionID))
		err = "transactionID missing or not 8..64 bytes";
	else if (!len_ok(m->header->senderNonce))
		err = "senderNonce missing or not 8..64 bytes";
	OPENSSL_free(enc);
	CMP_MSG_free(m);
	free(der);
	return err;
}

static void
test_fixtures_roundtrip(void **state)
{
	const char *err;
	size_t i, bad = 0;

	(void)state;
	assert_true(flows.n > 0);
	for (i = 0; i < flows.n; i++)
		if ((err = fixture_check(flows.path[i])) != NULL) {
			print_error("%s: %s\n", flows.path[i], err);
			bad++;
		}
	EQ(bad, 0);
}

static void
test_decode_trailing(void **state)
{
	unsigned char *der;
	const char *why;
	CMP_MSG *m;
	size_t i, len;

	(void)state;
	for (i = 0; i < flows.n; i++) {
		der = file_read(flows.path[i], &len);
		der[len] = 0x00; /* file_read leaves one spare byte */
		m = cmp_msg_parse(der, len + 1, &why);
		free(der);
		CMP_MSG_free(m);
		assert_null(m);
		assert_true(why != NULL && strstr(why, "trailing") != NULL);
	}
}

/* Every proper prefix of a message, the empty one included, is refused. */
static void
test_decode_truncated(void **state)
{
	unsigned char *der;
	const char *why;
	CMP_MSG *m;
	size_t n, len, decoded = 0;

	(void)state;
	der = fixture("IrWithMacProtection/downstream_INIT_REQ.der", &len);
	for (n = 0; n < len; n++) {
		if ((m = cmp_msg_parse(der, n, &why)) != NULL || why == NULL)
			decoded++;
		CMP_MSG_free(m);
	}
	free(der);
	EQ(decoded, 0);
}

/* A well-formed message padded with freeText to exactly size bytes. */
static unsigned char *
padded_msg(size_t size, size_t *len)
{
	unsigned char *der = NULL, *p;
	const unsigned char *q;
	size_t flen, pad;
	CMP_MSG *m;
	ASN1_UTF8STRING *t;
	int n, round;

	q = der = fixture("IrWithMacProtection/downstream_INIT_REQ.der", &flen);
	m = d2i_CMP_MSG(NULL, &q, (long)flen);
	assert_non_null(m);
	free(der);
	if (m->header->freeText == NULL)
		m->header->freeText = sk_ASN1_UTF8STRING_new_null();
	assert_non_null(t = ASN1_UTF8STRING_new());
	assert_true(sk_ASN1_UTF8STRING_push(m->header->freeText, t) > 0);
	/* The length octets grow with the text: converge in a few rounds. */
	pad = size > flen + 64 ? size - flen - 64 : 1;
	for (round = 0; round < 4; round++) {
		assert_non_null(p = malloc(pad));
		memset(p, 'a', pad);
		assert_int_equal(ASN1_STRING_set(t, p, (int)pad), 1);
		free(p);
		n = i2d_CMP_MSG(m, NULL);
		assert_true(n > 0);
		if ((size_t)n == size)
			break;
		pad = pad + size - (size_t)n;
	}
	assert_int_equal(n, (int)size);
	der = NULL;
	n = i2d_CMP_MSG(m, &der);
	CMP_MSG_free(m);
	*len = (size_t)n;
	return der;
}

/*
 * The size bound is the decoder's, not a side effect of malformed input:
 * a well-formed message of exactly CA_MAX_REQUEST bytes decodes, the same
 * message one byte longer is refused for its size (and would decode
 * without the bound), and an empty input is refused for its size.
 */
static void
test_decode_size_bounds(void **state)
{
	const unsigned char *q;
	unsigned char *der;
	const char *why = NULL;
	CMP_MSG *m;
	size_t len;

	(void)state;
	assert_null(cmp_msg_parse((const unsigned char *)"", 0, &why));
	assert_string_equal(why, "message size out of range");

	der = padded_msg(CA_MAX_REQUEST, &len);
	m = cmp_msg_parse(der, len, &why);
	assert_non_null(m);
	assert_null(why);
	CMP_MSG_free(m);
	OPENSSL_free(der);

	der = padded_msg(CA_MAX_REQUEST + 1, &len);
	assert_null(cmp_msg_parse(der, len, &why));
	assert_string_equal(why, "message size out of range");
	q = der;
	m = d2i_CMP_MSG(NULL, &q, (long)len);
	assert_non_null(m); /* control: only the bound refuses it */
	CMP_MSG_free(m);
	OPENSSL_free(der);
}

/* xorshift32: the same bytes on every run and every libc. */
static uint32_t
rng(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_decode_random(void **state)
{
	unsigned char buf[2048];
	uint32_t seed = 0x5eed1234;
	const char *why;
	CMP_MSG *m;
	size_t i, j, len, nrefused = 0;

	(void)state;
	for (i = 0; i < 1000; i++) {
		len = rng(&seed) % (sizeof(buf) + 1);
		for (j = 0; j < len; j++)
			buf[j] = (unsigned char)rng(&seed);
		/* Every other input is one SEQUENCE of the right length, to
		 * get past the outermost tag and length. */
		if (i % 2 == 1 && len >= 4) {
			buf[0] = 0x30;
			buf[1] = 0x82;
			buf[2] = (unsigned char)((len - 4) >> 8);
			buf[3] = (unsigned char)(len - 4);
		}
		m = cmp_msg_parse(buf, len, &why);
		if (m == NULL) {
			/* Every refusal says why. */
			assert_non_null(why);
			nrefused++;
		} else {
			/* Whatever is accepted is DER: it encodes to the very
			 * bytes received, nothing decoded leniently. */
			unsigned char *der = NULL;
			int n = i2d_CMP_MSG(m, &der);

			assert_null(why);
			assert_int_equal(n, (int)len);
			assert_memory_equal(der, buf, len);
			OPENSSL_free(der);
			CMP_MSG_free(m);
		}
	}
	assert_true(nrefused > 0);
}

/* Flips the low bit of each byte in turn: no crash, and what decodes
 * encodes again. */
static void
bitflip_sweep(const char *suffix)
{
	unsigned char *der, *enc;
	const char *why;
	CMP_MSG *m;
	size_t i, len, decoded = 0;

	der = fixture(suffix, &len);
	for (i = 0; i < len; i++) {
		der[i] ^= 0x01;
		if ((m = cmp_msg_parse(der, len, &why)) != NULL) {
			decoded++;
			enc = NULL;
			(void)cmp_msg_encode(m, &enc);
			OPENSSL_free(enc);
			CMP_MSG_free(m);
		}
		der[i] ^= 0x01;
	}
	free(der);
	/* Flips in the protection still decode; one in the outer tag never
	 * does. */
	assert_true(decoded > 0 && decoded < len);
}

static void
test_decode_bitflip(void **state)
{
	(void)state;
	bitflip_sweep("IrWithMacProtection/downstream_INIT_REQ.der");
	bitflip_sweep("CrWithSignatureProtection/downstream_CERT_REQ.der");
}

/* DER of an ir with n CertReqMsgs. */
static int
ir_encode(int n, unsigned char **der)
{
	CMP_MSG *m = CMP_MSG_new();
	CRMF_CERTREQMSG *crm;
	int i, len;

	assert_non_null(m);
	CMP_HEADER_free(m->header);
	m->header = hdr_new();
	m->body->type = CMP_BODY_IR;
	assert_non_null(m->body->value.ir = sk_CRMF_CERTREQMSG_new_null());
	for (i = 0; i < n; i++) {
		assert_non_null(crm = CRMF_CERTREQMSG_new());
		EQ(ASN1_INTEGER_set(crm->certReq->certReqId, i), 1);
		crm->certReq->certTemplate->subject = name_new("EE");
		assert_true(
		    sk_CRMF_CERTREQMSG_push(m->body->value.ir, crm) > 0);
	}
	len = cmp_msg_encode(m, der);
	CMP_MSG_free(m);
	assert_true(len > 0);
	return len;
}

static void
test_decode_certreq_count(void **state)
{
	static const struct {
		int n;
		const char *why; /* NULL: decodes */
	} cases[] = {
		{ 0, "empty" },
		{ 1, NULL },
		{ CA_MAX_CERTREQS, NULL },
		{ CA_MAX_CERTREQS + 1, "too many" },
	};
	unsigned char *der;
	const char *why;
	CMP_MSG *m;
	size_t i;
	int len, got;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		len = ir_encode(cases[i].n, &der);
		m = cmp_msg_parse(der, (size_t)len, &why);
		OPENSSL_free(der);
		got =
		    m != NULL ? sk_CRMF_CERTREQMSG_num(m->body->value.ir) : -1;
		CMP_MSG_free(m);
		EQ(got, cases[i].why == NULL ? cases[i].n : -1);
		if (cases[i].why != NULL)
			assert_true(why != NULL && strstr(why, cases[i].why));
	}
}

/* A CMP_SPKI of key with its algorithm parameters replaced by ptype
 * (V_ASN1_UNDEF: absent; V_ASN1_OCTET_STRING: four bytes of garbage). */
static CMP_SPKI *
spki_with(EVP_PKEY *key, int ptype)
{
	CMP_SPKI *spki = NULL;
	ASN1_OCTET_STRING *os = NULL;
	const ASN1_OBJECT *alg;

	assert_true(cmp_spki_set(&spki, key));
	X509_ALGOR_get0(&alg, NULL, NULL, spki->algor);
	if (ptype == V_ASN1_OCTET_STRING) {
		assert_non_null(os = ASN1_OCTET_STRING_new());
		assert_true(ASN1_OCTET_STRING_set(os,
		    (const unsigned char *)"BBBB", 4));
	}
	assert_true(X509_ALGOR_set0(spki->algor, OBJ_dup(alg), ptype, os));
	return spki;
}

/*
 * Regression (issue 30, found by fuzz_template): the Ed25519 and RSA
 * paths of cmp_spki_pkey ignored the algorithm parameters, so a template
 * whose key carried an OCTET STRING there passed the template checks and
 * its issuance failed inside the certificate builder (spki_copy) as an
 * internal error: systemFailure for a client's malformed request. Now
 * such a key does not decode, and the template is refused as
 * badCertTemplate ("no usable publicKey"); the usual encodings still do.
 */
static void
test_spki_params(void **state)
{
	static const struct {
		const char *alg;
		int ptype;
		int usable;
	} cases[] = {
		{ "ED25519", V_ASN1_UNDEF, 1 },	       /* RFC 8410 §3 */
		{ "ED25519", V_ASN1_NULL, 0 },
		{ "ED25519", V_ASN1_OCTET_STRING, 0 }, /* the fuzzer's input */
		{ "RSA", V_ASN1_NULL, 1 },	       /* RFC 3279 §2.3.1 */
		{ "RSA", V_ASN1_UNDEF, 1 },
		{ "RSA", V_ASN1_OCTET_STRING, 0 },
		{ "EC", V_ASN1_OCTET_STRING, 0 },
	};
	EVP_PKEY *keys[3], *key, *got;
	CMP_SPKI *spki;
	size_t i;

	(void)state;
	assert_non_null(keys[0] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
	assert_non_null(keys[1] = EVP_RSA_gen(2048));
	assert_non_null(keys[2] = EVP_EC_gen("P-256"));
	for (i = 0; i < NELEM(cases); i++) {
		key = keys[cases[i].alg[0] == 'E' && cases[i].alg[1] == 'D' ? 0
		    : cases[i].alg[0] == 'R' ? 1 : 2];
		spki = spki_with(key, cases[i].ptype);
		got = cmp_spki_pkey(spki);
		if (cases[i].usable) {
			assert_non_null(got);
			EQ(EVP_PKEY_eq(got, key), 1);
		} else {
			assert_null(got);
		}
		EVP_PKEY_free(got);
		CMP_SPKI_free(spki);
	}
	/* The EC key with its named curve, as clients send it. */
	spki = NULL;
	assert_true(cmp_spki_set(&spki, keys[2]) && spki != NULL);
	assert_non_null(got = cmp_spki_pkey(spki));
	EVP_PKEY_free(got);
	CMP_SPKI_free(spki);
	for (i = 0; i < NELEM(keys); i++)
		EVP_PKEY_free(keys[i]);
}

int
main(void)
{
	const struct CMUnitTest decoder[] = {
		cmocka_unit_test(test_fixtures_roundtrip),
		cmocka_unit_test(test_decode_trailing),
		cmocka_unit_test(test_decode_truncated),
		cmocka_unit_test(test_decode_size_bounds),
		cmocka_unit_test(test_decode_random),
		cmocka_unit_test(test_decode_bitflip),
		cmocka_unit_test(test_decode_certreq_count),
		cmocka_unit_test(test_spki_params),
	};

	return cmocka_run_group_tests_name(
	    "decoder", decoder, flows_setup, flows_teardown) != 0;
}
