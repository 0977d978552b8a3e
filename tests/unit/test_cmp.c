/*
 * test_cmp.c - the CMP engine's parts that need neither a token nor a
 * database: the bounded DER decoder (recorded message flows, hostile
 * input), PBM protection (cross-checked with OpenSSL's OSSL_CRMF_pbm_new),
 * PKIHeader checks and response headers, FastCGI request validation, the
 * configuration loader, log sanitising and the shared metrics counters.
 *
 * Run from the repository root: the decoder fixtures are read from
 * $CMPCA_CMP_FLOWS, by default tests/data/cmp-messageflows (origin and
 * licence in its NOTICE), and the decoder group fails when none is found.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>

#include "ca/ca.h"
#include "daemon/fcgi.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"
#include "ca/status/status.h"

#define FLOWS_DEFAULT "tests/data/cmp-messageflows"
#define CA_CN "cmpca Test CA"
#define SECRET "enrollment-secret-0815"
#define MAX_FIXTURES 256
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define EQ(a, b) assert_int_equal((a), (b))

/* Helpers. */

/* CN=cn, or the NULL-DN when cn is NULL. */
static X509_NAME *
name_new(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	if (cn != NULL)
		EQ(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
		       (const unsigned char *)cn, -1, -1, 0),
		    1);
	return n;
}

static GENERAL_NAME *
gn_dir(const char *cn)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();

	assert_non_null(gn);
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, name_new(cn));
	return gn;
}

static ASN1_OCTET_STRING *
octets_new(int len, int fill)
{
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
	unsigned char buf[256];

	assert_true(s != NULL && len >= 0 && (size_t)len <= sizeof(buf));
	memset(buf, fill, sizeof(buf));
	EQ(ASN1_OCTET_STRING_set(s, buf, len), 1);
	return s;
}

/* A valid request header: pvno 2, EE to CA_CN, 16-byte txid and nonce. */
static CMP_HEADER *
hdr_new(void)
{
	CMP_HEADER *h = CMP_HEADER_new();

	assert_non_null(h);
	EQ(ASN1_INTEGER_set(h->pvno, 2), 1);
	GENERAL_NAME_free(h->sender);
	h->sender = gn_dir("EE");
	GENERAL_NAME_free(h->recipient);
	h->recipient = gn_dir(CA_CN);
	h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL));
	assert_non_null(h->messageTime);
	h->transactionID = octets_new(16, 0x11);
	h->senderNonce = octets_new(16, 0x22);
	return h;
}

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

/* PBM (RFC 4211 §4.4). */

/* id-PasswordBasedMac whose parameter is the given DER, unchecked. */
static X509_ALGOR *
pbm_alg_raw(const unsigned char *der, int len)
{
	ASN1_STRING *seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	X509_ALGOR *alg = X509_ALGOR_new();

	assert_true(alg != NULL && seq != NULL);
	EQ(ASN1_STRING_set(seq, der, len), 1);
	EQ(X509_ALGOR_set0(
	       alg, OBJ_nid2obj(NID_id_PasswordBasedMAC), V_ASN1_SEQUENCE, seq),
	    1);
	return alg;
}

/* id-PasswordBasedMac with a PBMParameter. */
static X509_ALGOR *
pbm_alg_new(int owf, int mac, long iter, int saltlen)
{
	CMP_PBMPARAM *p = CMP_PBMPARAM_new();
	unsigned char salt[128], *der = NULL;
	X509_ALGOR *alg;
	int i, len;

	assert_true(p != NULL && saltlen <= (int)sizeof(salt));
	for (i = 0; i < saltlen; i++)
		salt[i] = (unsigned char)(0xa0 + i);
	EQ(ASN1_OCTET_STRING_set(p->salt, salt, saltlen), 1);
	EQ(X509_ALGOR_set0(p->owf, OBJ_nid2obj(owf), V_ASN1_UNDEF, NULL), 1);
	EQ(ASN1_INTEGER_set(p->iterationCount, iter), 1);
	EQ(X509_ALGOR_set0(p->mac, OBJ_nid2obj(mac), V_ASN1_UNDEF, NULL), 1);
	assert_true((len = i2d_CMP_PBMPARAM(p, &der)) > 0);
	alg = pbm_alg_raw(der, len);
	OPENSSL_free(der);
	CMP_PBMPARAM_free(p);
	return alg;
}

/* A pkiconf whose protectionAlg is alg (taken). */
static CMP_MSG *
pbm_msg_new(X509_ALGOR *alg)
{
	CMP_MSG *m = CMP_MSG_new();

	assert_non_null(m);
	CMP_HEADER_free(m->header);
	m->header = hdr_new();
	m->header->protectionAlg = alg;
	m->header->senderKID = octets_new(6, 'k');
	m->body->type = CMP_BODY_PKICONF;
	m->body->value.pkiconf = ASN1_NULL_new();
	return m;
}

/* cmp_pbm_derive; a rejection without a reason counts as -2. */
static int
derive(const X509_ALGOR *alg, const char *secret, long max_iter,
    struct cmp_mac *mac, int *fail)
{
	const char *why = NULL;
	int rc;

	*fail = CMP_FAIL_NONE;
	rc = cmp_pbm_derive(alg, (const unsigned char *)secret, strlen(secret),
	    max_iter, mac, fail, &why);
	return rc != 1 && why == NULL ? -2 : rc;
}

/* OpenSSL's MAC for m: OSSL_CRMF_pbm_new over DER(ProtectedPart). */
static void
pbm_expected(const CMP_MSG *m, unsigned char **out, size_t *outlen)
{
	const ASN1_TYPE *param = m->header->protectionAlg->parameter;
	const ASN1_STRING *seq = param->value.sequence;
	const unsigned char *p = seq->data;
	OSSL_CRMF_PBMPARAMETER *pbmp;
	CMP_PROTECTEDPART pp;
	unsigned char *der = NULL;
	int len, ok;

	assert_non_null(
	    pbmp = d2i_OSSL_CRMF_PBMPARAMETER(NULL, &p, seq->length));
	pp.header = m->header;
	pp.body = m->body;
	assert_true((len = i2d_CMP_PROTECTEDPART(&pp, &der)) > 0);
	ok = OSSL_CRMF_pbm_new(NULL, NULL, pbmp, der, (size_t)len,
	    (const unsigned char *)SECRET, strlen(SECRET), out, outlen);
	OPENSSL_free(der);
	OSSL_CRMF_PBMPARAMETER_free(pbmp);
	if (ok != 1) {
		ERR_print_errors_fp(stderr);
		fail_msg("OSSL_CRMF_pbm_new failed");
	}
}

static struct pbm_set {
	int owf, mac;
	size_t mac_len;
} pbm_sets[] = {
	{ NID_sha256, NID_hmac_sha1, 20 },
	{ NID_sha256, NID_hmacWithSHA256, 32 },
	{ NID_sha1, NID_hmacWithSHA512, 64 },
};

/* A self-signed certificate for extraCerts (content does not matter). */
static X509 *
extra_cert(const char *cn)
{
	X509 *x = X509_new();
	EVP_PKEY *k = EVP_EC_gen("P-256");

	assert_non_null(x);
	assert_non_null(k);
	assert_true(X509_set_version(x, X509_VERSION_3) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 7) &&
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
		MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
	    X509_set_issuer_name(x, X509_get_subject_name(x)) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) != NULL &&
	    X509_set_pubkey(x, k) && X509_sign(x, k, EVP_sha256()) > 0);
	EVP_PKEY_free(k);
	return x;
}

/*
 * Protect, compare with OpenSSL, then verify what arrives on the wire:
 * intact (1), one protection bit flipped (0), wrong secret (0).
 * OSSL_CRMF_pbm_new refuses fewer than 100 iterations (RFC 4211 §4.4).
 */
static void
test_pbm_crosscheck(void **state)
{
	static const long iters[] = { 100, 500, 2047 };
	const struct pbm_set *s = *state; /* from the CMUnitTest entry */
	unsigned char *der = NULL, *want = NULL, *ref = NULL;
	const unsigned char *pp;
	struct cmp_mac mac, wrong;
	const char *why;
	CMP_MSG *m, *m2;
	size_t i, want_len = 0, pp_len;
	int fail, len, ref_len;

	for (i = 0; i < NELEM(iters); i++) {
		m = pbm_msg_new(pbm_alg_new(s->owf, s->mac, iters[i], 16));
		if (i > 0) { /* the kept encoding with extraCerts too */
			assert_non_null(m->extraCerts = sk_X509_new_null());
			assert_true(sk_X509_push(m->extraCerts, extra_cert("one")));
		}
		EQ(derive(m->header->protectionAlg, SECRET,
		       CA_DEFAULT_PBM_MAX_ITER, &mac, &fail),
		    1);
		EQ(cmp_pbm_protect(m, &mac), 1);
		cmp_mac_clear(&mac);
		/* extraCerts are outside the protection: responses get theirs
		 * after it. */
		if (i > 1)
			assert_true(sk_X509_push(m->extraCerts, extra_cert("two")));
		pbm_expected(m, &want, &want_len);
		EQ(want_len, s->mac_len);
		EQ(m->protection->length, (int)want_len);
		assert_memory_equal(m->protection->data, want, want_len);
		OPENSSL_free(want);

		/* The encoding kept by the protection is the message's. */
		assert_true((ref_len = i2d_CMP_MSG(m, &ref)) > 0);
		assert_true((len = cmp_msg_encode_protected(m, &der)) > 0);
		EQ(len, ref_len);
		assert_memory_equal(der, ref, (size_t)len);
		OPENSSL_free(ref);
		ref = NULL;
		CMP_MSG_free(m);
		m2 = cmp_msg_parse(der, (size_t)len, &why);
		assert_non_null(m2);
		assert_true(cmp_pp_slice(der, (size_t)len, &pp, &pp_len));
		EQ(derive(m2->header->protectionAlg, SECRET,
		       CA_DEFAULT_PBM_MAX_ITER, &mac, &fail),
		    1);
		EQ(derive(m2->header->protectionAlg, SECRET "x",
		       CA_DEFAULT_PBM_MAX_ITER, &wrong, &fail),
		    1);
		EQ(cmp_pbm_verify(m2, &mac, NULL, 0), 1);
		EQ(cmp_pbm_verify(m2, &mac, pp, pp_len), 1);
		EQ(cmp_pbm_verify(m2, &wrong, pp, pp_len), 0);
		/* Bytes on the wire that are not the DER the MAC is over
		 * (as from a BER sender): the re-encoding decides. */
		der[pp - der + pp_len - 1] ^= 0x01;
		EQ(cmp_pbm_verify(m2, &mac, pp, pp_len), 1);
		der[pp - der + pp_len - 1] ^= 0x01;
		m2->protection->data[m2->protection->length - 1] ^= 0x01;
		EQ(cmp_pbm_verify(m2, &mac, NULL, 0), 0);
		EQ(cmp_pbm_verify(m2, &mac, pp, pp_len), 0);
		OPENSSL_free(der);
		cmp_mac_clear(&mac);
		cmp_mac_clear(&wrong);
		CMP_MSG_free(m2);
	}
}

/* Derives with alg (freed); returns rc and fails unless the reason is
 * given and the key wiped. */
static int
derive_free(X509_ALGOR *alg, long max_iter, int *fail)
{
	struct cmp_mac mac;
	int rc = derive(alg, SECRET, max_iter, &mac, fail);

	X509_ALGOR_free(alg);
	if (rc != 1)
		EQ(mac.key_len, 0);
	cmp_mac_clear(&mac);
	return rc;
}

static void
test_pbm_reject(void **state)
{
	/* SEQUENCE { INTEGER 5 }: not a PBMParameter. */
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	static const struct {
		const char *name;
		int owf, mac, salt;
		long iter, max_iter;
		int rc, fail;
	} cases[] = {
		{ "iter at max", NID_sha256, NID_hmacWithSHA256, 16, 2047, 2047,
		    1, CMP_FAIL_NONE },
		{ "iter above max", NID_sha256, NID_hmacWithSHA256, 16, 2048,
		    2047, 0, CMP_FAIL_BAD_REQUEST },
		{ "iter 0", NID_sha256, NID_hmacWithSHA256, 16, 0, 2047, 0,
		    CMP_FAIL_BAD_REQUEST },
		{ "iter -5", NID_sha256, NID_hmacWithSHA256, 16, -5, 2047, 0,
		    CMP_FAIL_BAD_REQUEST },
		{ "owf md5", NID_md5, NID_hmacWithSHA256, 16, 500, 2047, 0,
		    CMP_FAIL_BAD_ALG },
		{ "mac hmac-md5", NID_sha256, NID_hmac_md5, 16, 500, 2047, 0,
		    CMP_FAIL_BAD_ALG },
		{ "mac sha256", NID_sha256, NID_sha256, 16, 500, 2047, 0,
		    CMP_FAIL_BAD_ALG },
		{ "salt too long", NID_sha256, NID_hmacWithSHA256,
		    CA_MAX_PBM_SALT + 1, 500, 2047, 0, CMP_FAIL_BAD_REQUEST },
	};
	static const struct {
		int nid, ptype;
	} not_pbm[] = {
		{ NID_sha256WithRSAEncryption, V_ASN1_NULL },
		{ NID_id_PasswordBasedMAC, V_ASN1_UNDEF },
		{ NID_id_PasswordBasedMAC, V_ASN1_NULL },
	};
	unsigned char good[256];
	X509_ALGOR *alg;
	size_t i;
	int rc, fail, len;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		rc = derive_free(pbm_alg_new(cases[i].owf, cases[i].mac,
		                     cases[i].iter, cases[i].salt),
		    cases[i].max_iter, &fail);
		if (rc != cases[i].rc || (rc == 0 && fail != cases[i].fail))
			fail_msg("%s: rc %d fail %d, want rc %d fail %d",
			    cases[i].name, rc, fail, cases[i].rc,
			    cases[i].fail);
	}
	for (i = 0; i < NELEM(not_pbm); i++) {
		assert_non_null(alg = X509_ALGOR_new());
		EQ(X509_ALGOR_set0(alg, OBJ_nid2obj(not_pbm[i].nid),
		       not_pbm[i].ptype, NULL),
		    1);
		EQ(derive_free(alg, 2047, &fail), 0);
		EQ(fail, CMP_FAIL_BAD_ALG);
	}
	/* Malformed parameters: junk, and a good one with a byte appended. */
	EQ(derive_free(pbm_alg_raw(junk, sizeof(junk)), 2047, &fail), 0);
	alg = pbm_alg_new(NID_sha256, NID_hmacWithSHA256, 500, 16);
	len = alg->parameter->value.sequence->length;
	assert_true((size_t)len < sizeof(good));
	memcpy(good, alg->parameter->value.sequence->data, (size_t)len);
	X509_ALGOR_free(alg);
	good[len] = 0x00;
	EQ(derive_free(pbm_alg_raw(good, len + 1), 2047, &fail), 0);
	EQ(derive_free(pbm_alg_raw(good, len), 2047, &fail), 1);
}

/*
 * RFC 4211 §4.4: "The iterationCount MUST be a minimum of 100."
 * OSSL_CRMF_pbm_new refuses less too; a count the client picks as 1 makes
 * its enrollment secret cheap to brute-force from one recorded message.
 */
static void
test_pbm_iter_minimum(void **state)
{
	static const long iters[] = { 1, 99 };
	size_t i;
	int rc, fail;

	(void)state;
	for (i = 0; i < NELEM(iters); i++) {
		rc = derive_free(
		    pbm_alg_new(NID_sha256, NID_hmacWithSHA256, iters[i], 16),
		    CA_DEFAULT_PBM_MAX_ITER, &fail);
		if (rc != 0 || fail != CMP_FAIL_BAD_REQUEST)
			fail_msg("iterationCount %ld: rc %d fail %d, want rc 0 "
			         "fail badRequest",
			    iters[i], rc, fail);
	}
}

/* PBMAC1 (RFC 9481 §6.1.3) with PBKDF2(prf, keylen) and HMAC-SHA256. */
static X509_ALGOR *
pbmac1_alg_new(int prf_nid, int keylen)
{
	static unsigned char salt[16] = { 1, 2, 3 };
	PBE2PARAM *pb = PBE2PARAM_new();
	ASN1_STRING *seq = NULL;
	X509_ALGOR *alg = X509_ALGOR_new();

	assert_true(pb != NULL && alg != NULL);
	X509_ALGOR_free(pb->keyfunc);
	assert_non_null(pb->keyfunc = PKCS5_pbkdf2_set(1000, salt,
	                    sizeof(salt), prf_nid, keylen));
	EQ(X509_ALGOR_set0(pb->encryption, OBJ_nid2obj(NID_hmacWithSHA256),
	       V_ASN1_NULL, NULL),
	    1);
	assert_non_null(ASN1_item_pack(pb, ASN1_ITEM_rptr(PBE2PARAM), &seq));
	EQ(X509_ALGOR_set0(alg, OBJ_nid2obj(NID_pbmac1), V_ASN1_SEQUENCE, seq),
	    1);
	PBE2PARAM_free(pb);
	return alg;
}

/*
 * PBMAC1's keyLength is at most the prf's output: every further PBKDF2
 * block costs iterationCount more HMACs, so a longer key would multiply
 * the iteration budget before anything is authenticated.
 */
static void
test_pbmac1_keylen(void **state)
{
	static const struct {
		int prf, keylen, want;
	} t[] = {
		{ NID_hmacWithSHA256, 32, 1 },
		{ NID_hmacWithSHA256, 33, 0 },
		{ NID_hmacWithSHA256, 64, 0 },
		{ NID_hmacWithSHA512, 64, 1 },
		{ NID_hmacWithSHA1, 21, 0 },
	};
	size_t i;
	int rc, fail;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		rc = derive_free(pbmac1_alg_new(t[i].prf, t[i].keylen),
		    CA_DEFAULT_PBM_MAX_ITER, &fail);
		if (rc != t[i].want ||
		    (rc == 0 && fail != CMP_FAIL_BAD_ALG))
			fail_msg("prf %s keyLength %d: rc %d fail %d, want rc "
			         "%d%s",
			    OBJ_nid2sn(t[i].prf), t[i].keylen, rc, fail,
			    t[i].want, t[i].want ? "" : " fail badAlg");
	}
}

/* PKIHeader (RFC 9810 §5.1.1). */

enum hdr_mut { M_PVNO, M_TXID, M_NONCE, M_TIME, M_RECIP, M_RECIP_URI };

static void
hdr_mutate(CMP_HEADER *h, enum hdr_mut mut, long arg, const char *cn)
{
	ASN1_IA5STRING *uri;

	switch (mut) {
	case M_PVNO:
		EQ(ASN1_INTEGER_set(h->pvno, arg), 1);
		break;
	case M_TXID: /* arg < 0: absent */
		ASN1_OCTET_STRING_free(h->transactionID);
		h->transactionID = arg < 0 ? NULL : octets_new((int)arg, 7);
		break;
	case M_NONCE:
		ASN1_OCTET_STRING_free(h->senderNonce);
		h->senderNonce = arg < 0 ? NULL : octets_new((int)arg, 7);
		break;
	case M_TIME:
		assert_non_null(
		    ASN1_GENERALIZEDTIME_set(h->messageTime, time(NULL) + arg));
		break;
	case M_RECIP:
		GENERAL_NAME_free(h->recipient);
		h->recipient = gn_dir(cn);
		break;
	case M_RECIP_URI:
		assert_non_null(uri = ASN1_IA5STRING_new());
		EQ(ASN1_STRING_set(uri, "http://ca.example", -1), 1);
		GENERAL_NAME_free(h->recipient);
		assert_non_null(h->recipient = GENERAL_NAME_new());
		GENERAL_NAME_set0_value(h->recipient, GEN_URI, uri);
		break;
	}
}

static void
test_hdr_check(void **state)
{
	static const struct {
		const char *name;
		enum hdr_mut mut;
		long arg;
		const char *cn;
		int fail; /* CMP_FAIL_NONE: accepted */
	} cases[] = {
		{ "pvno 1", M_PVNO, 1, NULL, CMP_FAIL_UNSUPPORTED_VERSION },
		{ "pvno 99", M_PVNO, 99, NULL, CMP_FAIL_UNSUPPORTED_VERSION },
		{ "pvno 2", M_PVNO, 2, NULL, CMP_FAIL_NONE },
		{ "pvno 3", M_PVNO, 3, NULL, CMP_FAIL_NONE },
		{ "no txid", M_TXID, -1, NULL, CMP_FAIL_BAD_REQUEST },
		{ "65-byte txid", M_TXID, 65, NULL, CMP_FAIL_BAD_REQUEST },
		{ "64-byte txid", M_TXID, 64, NULL, CMP_FAIL_NONE },
		{ "no nonce", M_NONCE, -1, NULL, CMP_FAIL_BAD_SENDER_NONCE },
		{ "4-byte nonce", M_NONCE, 4, NULL, CMP_FAIL_BAD_SENDER_NONCE },
		{ "8-byte nonce", M_NONCE, 8, NULL, CMP_FAIL_NONE },
		{ "time +1h", M_TIME, 3600, NULL, CMP_FAIL_BAD_TIME },
		{ "time -1h", M_TIME, -3600, NULL, CMP_FAIL_BAD_TIME },
		{ "time +1d", M_TIME, 86400, NULL, CMP_FAIL_BAD_TIME },
		{ "time -60s", M_TIME, -60, NULL, CMP_FAIL_NONE },
		{ "other CA", M_RECIP, 0, "Other CA",
		    CMP_FAIL_WRONG_AUTHORITY },
		{ "NULL-DN recipient", M_RECIP, 0, NULL, CMP_FAIL_NONE },
		{ "this CA", M_RECIP, 0, CA_CN, CMP_FAIL_NONE },
		{ "URI recipient", M_RECIP_URI, 0, NULL, CMP_FAIL_BAD_REQUEST },
	};
	X509_NAME *ca = name_new(CA_CN);
	CMP_HEADER *h;
	const char *why;
	size_t i, bad = 0;
	int rc, fail, want;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		h = hdr_new();
		hdr_mutate(h, cases[i].mut, cases[i].arg, cases[i].cn);
		fail = CMP_FAIL_NONE;
		why = NULL;
		rc = cmp_hdr_check(h, ca, CA_MAX_CLOCK_SKEW, &fail, &why);
		CMP_HEADER_free(h);
		want = cases[i].fail == CMP_FAIL_NONE;
		if (rc != want ||
		    (!want && (fail != cases[i].fail || why == NULL))) {
			print_error("%s: rc %d fail %d, want fail %d\n",
			    cases[i].name, rc, fail, cases[i].fail);
			bad++;
		}
	}
	X509_NAME_free(ca);
	EQ(bad, 0);
}

static void
hdr_add_itav(CMP_HEADER *h, ASN1_OBJECT *obj)
{
	CMP_ITAV *itav = CMP_ITAV_new();

	assert_true(itav != NULL && obj != NULL);
	itav->infoType = obj;
	if (h->generalInfo == NULL)
		h->generalInfo = sk_CMP_ITAV_new_null();
	assert_true(sk_CMP_ITAV_push(h->generalInfo, itav) > 0);
}

static void
test_hdr_pvno_implicit_confirm(void **state)
{
	CMP_HEADER *h = hdr_new();

	(void)state;
	EQ(cmp_hdr_pvno(h), 2);
	hdr_mutate(h, M_PVNO, 3, NULL);
	EQ(cmp_hdr_pvno(h), 3);
	hdr_mutate(h, M_PVNO, 99, NULL);
	EQ(cmp_hdr_pvno(h), 2);
	EQ(cmp_hdr_pvno(NULL), 2);
	EQ(cmp_hdr_implicit_confirm(h), 0);
	/* id-it-certProfile (RFC 9480 §4.1.4) is not implicitConfirm. */
	hdr_add_itav(h, OBJ_txt2obj("1.3.6.1.5.5.7.4.21", 1));
	EQ(cmp_hdr_implicit_confirm(h), 0);
	hdr_add_itav(h, OBJ_nid2obj(NID_id_it_implicitConfirm));
	EQ(cmp_hdr_implicit_confirm(h), 1);
	CMP_HEADER_free(h);
}

static void
test_hdr_response(void **state)
{
	unsigned char nonce[CA_NONCE_LEN], *der = NULL;
	X509_NAME *ca = name_new(CA_CN);
	CMP_HEADER *req = hdr_new(), *h;
	int mac;

	(void)state;
	memset(nonce, 0x5a, sizeof(nonce));
	hdr_mutate(req, M_PVNO, 3, NULL);
	req->protectionAlg =
	    pbm_alg_new(NID_sha256, NID_hmacWithSHA256, 500, 16);
	req->senderKID = octets_new(9, 'k');
	for (mac = 0; mac <= 1; mac++) {
		h = cmp_hdr_response(
		    req, ca, cmp_hdr_pvno(req), mac, mac, nonce);
		assert_non_null(h);
		EQ(ASN1_INTEGER_get(h->pvno), 3);
		EQ(ASN1_OCTET_STRING_cmp(h->recipNonce, req->senderNonce), 0);
		EQ(ASN1_OCTET_STRING_cmp(h->transactionID, req->transactionID),
		    0);
		EQ(h->senderNonce->length, CA_NONCE_LEN);
		assert_memory_equal(h->senderNonce->data, nonce, CA_NONCE_LEN);
		EQ(h->sender->type, GEN_DIRNAME);
		EQ(X509_NAME_cmp(h->sender->d.directoryName, ca), 0);
		EQ(GENERAL_NAME_cmp(h->recipient, req->sender), 0);
		assert_non_null(h->messageTime);
		EQ(h->protectionAlg != NULL, mac);
		EQ(h->senderKID != NULL, mac);
		if (mac) {
			EQ(X509_ALGOR_cmp(h->protectionAlg, req->protectionAlg),
			    0);
			EQ(ASN1_OCTET_STRING_cmp(h->senderKID, req->senderKID),
			    0);
		}
		EQ(cmp_hdr_implicit_confirm(h), mac);
		assert_true(i2d_CMP_HEADER(h, &der) > 0);
		OPENSSL_free(der);
		der = NULL;
		CMP_HEADER_free(h);
	}
	CMP_HEADER_free(req);
	X509_NAME_free(ca);
}

/*
 * With no decodable request the recipient is unknown, which RFC 9810
 * §5.1.1 writes as the NULL-DN; the CA must not address the answer to
 * itself.
 */
static void
test_hdr_response_no_request(void **state)
{
	unsigned char nonce[CA_NONCE_LEN] = { 0 };
	X509_NAME *ca = name_new(CA_CN);
	CMP_HEADER *h = cmp_hdr_response(NULL, ca, 2, 0, 0, nonce);
	int type, entries = -1;

	(void)state;
	X509_NAME_free(ca);
	assert_non_null(h);
	type = h->recipient->type;
	if (type == GEN_DIRNAME)
		entries = X509_NAME_entry_count(h->recipient->d.directoryName);
	assert_true(h->transactionID == NULL && h->recipNonce == NULL);
	CMP_HEADER_free(h);
	EQ(type, GEN_DIRNAME);
	EQ(entries, 0);
}

/* FastCGI request validation. */

struct fcgi_case {
	const char *method, *uri, *ctype, *clen;
	int code;
	const char *label; /* when code is 0 */
	long len;
};

#define CT "application/pkixcmp"
#define WK "/.well-known/cmp"
#define L63 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789."

static const struct fcgi_case fcgi_cases[] = {
	{ "POST", WK, CT, "100", 0, NULL, 100 },
	{ "POST", WK "/", CT, "100", 0, NULL, 100 },
	{ "POST", WK "/p/demo", CT, "100", 0, "demo", 100 },
	{ "POST", WK "/p/demo/initialization", CT, "7", 0, "demo", 7 },
	{ "POST", WK "/p/" L63, CT, "7", 0, L63, 7 },
	{ "POST", WK "/p/" L63 "x", CT, "7", 404, NULL, 0 },
	{ "POST", WK "/p/", CT, "7", 404, NULL, 0 },
	{ "POST", WK "/p/demo/a/b", CT, "7", 404, NULL, 0 },
	{ "POST", WK "/p/de%2fmo", CT, "7", 404, NULL, 0 },
	{ "POST", "/other", CT, "100", 404, NULL, 0 },
	{ "POST", WK "x", CT, "100", 404, NULL, 0 },
	{ "POST", NULL, CT, "100", 404, NULL, 0 },
	{ "GET", WK, CT, "100", 405, NULL, 0 },
	{ NULL, WK, CT, "100", 405, NULL, 0 },
	{ "POST", WK, "text/plain", "100", 415, NULL, 0 },
	{ "POST", WK, NULL, "100", 415, NULL, 0 },
	{ "POST", WK, CT "x", "100", 415, NULL, 0 },
	{ "POST", WK, "application/x-pkixcmp", "100", 0, NULL, 100 },
	{ "POST", WK, "application/pkixcmp-poll", "100", 0, NULL, 100 },
	{ "POST", WK, "application/x-pkixcmp-poll", "100", 0, NULL, 100 },
	{ "POST", WK, CT "; charset=binary", "100", 0, NULL, 100 },
	{ "POST", WK, "Application/PKIXCMP", "100", 0, NULL, 100 },
	{ "POST", WK, CT, NULL, 411, NULL, 0 },
	{ "POST", WK, CT, "", 411, NULL, 0 },
	{ "POST", WK, CT, "12a", 400, NULL, 0 },
	{ "POST", WK, CT, "-1", 400, NULL, 0 },
	{ "POST", WK, CT, "+5", 400, NULL, 0 },
	{ "POST", WK, CT, " 5", 400, NULL, 0 },
	{ "POST", WK, CT, "0", 400, NULL, 0 },
	{ "POST", WK, CT, "262144", 0, NULL, CA_MAX_REQUEST },
	{ "POST", WK, CT, "262145", 413, NULL, 0 },
	{ "POST", WK, CT, "99999999999999999999", 413, NULL, 0 },
};

/* Dot segments are no labels: nginx normalises them, but fcgi.c must not
 * depend on the front end for that. */
static const struct fcgi_case fcgi_dot_cases[] = {
	{ "POST", WK "/p/../x", CT, "100", 404, NULL, 0 },
	{ "POST", WK "/p/..", CT, "100", 404, NULL, 0 },
	{ "POST", WK "/p/./x", CT, "100", 404, NULL, 0 },
};

/* /ocsp is no CMP path: fcgi_request_check keeps answering 404 for it
 * (serve_one routes it to fcgi_ocsp_check first). */
static const struct fcgi_case fcgi_ocsp_cmp_cases[] = {
	{ "POST", "/ocsp", CT, "100", 404, NULL, 0 },
	{ "POST", "/ocsp/", "application/ocsp-request", "100", 404, NULL, 0 },
	{ "GET", "/ocsp/MEUw", NULL, NULL, 404, NULL, 0 },
};

#define S(s) ((s) != NULL ? (s) : "(null)")

/* Runs a table with max = CA_MAX_REQUEST; returns the rows that differ. */
static size_t
fcgi_run(const struct fcgi_case *c, size_t n)
{
	char buf[DB_LABEL_MAX];
	const char *label;
	size_t i, bad = 0;
	long len;
	int code;

	for (i = 0; i < n; i++) {
		code = fcgi_request_check(c[i].method, c[i].uri, c[i].ctype,
		    c[i].clen, CA_MAX_REQUEST, buf, sizeof(buf), &label, &len);
		if (code == c[i].code &&
		    (code != 0 || (len == c[i].len &&
		                      strcmp(S(label), S(c[i].label)) == 0)))
			continue;
		print_error("%s %s [%s] [%s]: %d label %s len %ld, want %d "
		            "label %s len %ld\n",
		    S(c[i].method), S(c[i].uri), S(c[i].ctype), S(c[i].clen),
		    code, S(label), len, c[i].code, S(c[i].label), c[i].len);
		bad++;
	}
	return bad;
}

static void
test_fcgi_request_check(void **state)
{
	(void)state;
	EQ(fcgi_run(fcgi_cases, NELEM(fcgi_cases)), 0);
}

static void
test_fcgi_label_dot_segments(void **state)
{
	(void)state;
	EQ(fcgi_run(fcgi_dot_cases, NELEM(fcgi_dot_cases)), 0);
}

static void
test_fcgi_ocsp_not_cmp(void **state)
{
	(void)state;
	EQ(fcgi_run(fcgi_ocsp_cmp_cases, NELEM(fcgi_ocsp_cmp_cases)), 0);
}

static void
test_fcgi_is_ocsp(void **state)
{
	static const struct {
		const char *uri;
		int want;
	} c[] = {
		{ "/ocsp", 1 }, { "/ocsp/", 1 }, { "/ocsp/MEUw", 1 },
		{ "/ocsp//x/y", 1 }, { "/ocspx", 0 }, { "/ocs", 0 },
		{ "/OCSP", 0 }, { "/", 0 }, { "", 0 }, { NULL, 0 },
		{ WK, 0 }, { WK "/p/ocsp", 0 }, { "/x/ocsp", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(c); i++)
		if (fcgi_is_ocsp(c[i].uri) != c[i].want) {
			print_error("%s: want %d\n", S(c[i].uri), c[i].want);
			fail();
		}
}

/*
 * OCSP over HTTP (RFC 6960 Appendix A.1). der: the hex of the decoded GET
 * request, "" when it must not decode (answered malformedRequest), NULL
 * for a POST (the body is read later).
 */
struct ocsp_case {
	const char *method, *uri, *raw, *ctype, *clen;
	int code;
	const char *der;
	long len;
};

#define OCT "application/ocsp-request"
#define A80 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static const struct ocsp_case ocsp_cases[] = {
	/* POST: path, content type, length. */
	{ "POST", "/ocsp", NULL, OCT, "10", 0, NULL, 10 },
	{ "POST", "/ocsp/", NULL, OCT, "7", 0, NULL, 7 },
	{ "POST", "/ocsp", NULL, "Application/OCSP-Request; q=1", "7", 0,
	    NULL, 7 },
	{ "POST", "/ocsp/x", NULL, OCT, "7", 404, NULL, 0 },
	{ "POST", "/ocspx", NULL, OCT, "7", 404, NULL, 0 },
	{ "POST", NULL, NULL, OCT, "7", 404, NULL, 0 },
	{ "POST", "/ocsp", NULL, CT, "7", 415, NULL, 0 },
	{ "POST", "/ocsp", NULL, NULL, "7", 415, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT "x", "7", 415, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, NULL, 411, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "", 411, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "0", 400, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "-1", 400, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "7x", 400, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "16", 0, NULL, 16 },
	{ "POST", "/ocsp", NULL, OCT, "17", 413, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "99999999999999999999", 413, NULL, 0 },
	/* Other methods. */
	{ "PUT", "/ocsp", NULL, OCT, "7", 405, NULL, 0 },
	{ "HEAD", "/ocsp/AQID", NULL, NULL, NULL, 405, NULL, 0 },
	{ NULL, "/ocsp", NULL, OCT, "7", 405, NULL, 0 },
	/* GET: the raw URI, percent- then base64-decoded. */
	{ "GET", "/ocsp/AQID", "/ocsp/AQID", NULL, NULL, 0, "010203", 3 },
	{ "GET", "/ocsp/AQID", NULL, NULL, NULL, 0, "010203", 3 },
	{ "GET", "/ocsp/AQI=", "/ocsp/AQI%3D", NULL, NULL, 0, "0102", 2 },
	{ "GET", "/ocsp/AQI=", "/ocsp/AQI%3d", NULL, NULL, 0, "0102", 2 },
	{ "GET", "/ocsp/AQI=", "/ocsp/AQI=", NULL, NULL, 0, "0102", 2 },
	{ "GET", "/ocsp/AQI", "/ocsp/AQI", NULL, NULL, 0, "0102", 2 },
	{ "GET", "/ocsp/AQ==", "/ocsp/AQ==", NULL, NULL, 0, "01", 1 },
	{ "GET", "/ocsp/+/8=", "/ocsp/%2B%2F8%3D", NULL, NULL, 0, "fbff", 2 },
	{ "GET", "/ocsp/+/8=", "/ocsp/+/8=", NULL, NULL, 0, "fbff", 2 },
	{ "GET", "/ocsp/-_8", "/ocsp/-_8", NULL, NULL, 0, "fbff", 2 },
	/* nginx merges "//": the raw URI keeps them. */
	{ "GET", "/ocsp/AQ/", "/ocsp/AQ//", NULL, NULL, 0, "010fff", 3 },
	{ "GET", "/ocsp/AQID", "/ocsp//AQID", NULL, NULL, 0, "010203", 3 },
	{ "GET", "/ocsp/AQID", "/ocsp/AQID?x=1", NULL, NULL, 0, "010203", 3 },
	/* A content type or length on a GET does not matter. */
	{ "GET", "/ocsp/AQID", "/ocsp/AQID", "text/plain", "5", 0, "010203",
	    3 },
	/* Not decodable: malformedRequest from the responder. */
	{ "GET", "/ocsp", "/ocsp", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/A", "/ocsp/A", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/AQIDB", "/ocsp/AQIDB", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/AQ=", "/ocsp/AQ=", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/AQ===", "/ocsp/AQ===", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/A=QI", "/ocsp/A=QI", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQ%zz", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQI%3", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQI%", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQ%00", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQ ID", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQ.D", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/AQID", "/%6Fcsp/AQID", NULL, NULL, 0, "", 0 },
	/* Bounds (max 16): decoded 18 bytes, and a text too long to try. */
	{ "GET", "/ocsp/x", "/ocsp/AAAAAAAAAAAAAAAAAAAA", NULL, NULL, 0,
	    "000000000000000000000000000000", 15 },
	{ "GET", "/ocsp/x", "/ocsp/AAAAAAAAAAAAAAAAAAAAAAAA", NULL, NULL, 414,
	    NULL, 0 },
	{ "GET", "/ocsp/x", "/ocsp/" A80 "A", NULL, NULL, 414, NULL, 0 },
	/* Not OCSP at all. */
	{ "GET", "/ocspx/AQID", "/ocspx/AQID", NULL, NULL, 404, NULL, 0 },
};

static char *
hex_of(const unsigned char *p, long n)
{
	static char buf[256];
	long i;

	buf[0] = '\0';
	for (i = 0; i < n && (size_t)(2 * i + 2) < sizeof(buf); i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	return buf;
}

/* Partner constraints (cross.c): what `cmpca partner add` accepts. */
static void
test_cross_constraints(void **state)
{
	static const struct {
		const char *permit, *exclude, *policies, *map, *eku;
		int days, want;
	} c[] = {
		{ "", "", "", "", "", 365, 1 },
		{ "dns:beta.example\ndns:.beta.example", "", "", "", "", 1, 1 },
		{ "email:beta.example\nuri:.beta.example", "", "", "", "", 1, 1 },
		{ "ip:10.0.0.0/8\nip:2001:db8::/32", "", "", "", "", 1, 1 },
		{ "dirname:/O=Beta/OU=Unit", "dirname:/O=Beta/OU=Bad", "", "", "",
		    1, 1 },
		{ "DNS:upper.example", "", "", "", "", 1, 1 },
		{ "host:x", "", "", "", "", 1, 0 },
		{ "dns:", "", "", "", "", 1, 0 },
		{ "nocolon", "", "", "", "", 1, 0 },
		{ "ip:10.0.0.1", "", "", "", "", 1, 0 },	   /* no mask */
		{ "ip:10.0.0.0/99", "", "", "", "", 1, 0 },
		{ "dirname:O=Beta", "", "", "", "", 1, 0 },	   /* not /DN */
		{ "", "email:", "", "", "", 1, 0 },
		{ "", "", "1.3.6.1.4.1.99999.1\n2.5.29.32.0", "", "", 1, 1 },
		{ "", "", "notanoid", "", "", 1, 0 },
		{ "", "", "", "1.2.3.4:1.2.3.5", "", 1, 1 },
		{ "", "", "", "1.2.3.4", "", 1, 0 },
		{ "", "", "", "2.5.29.32.0:1.2.3.5", "", 1, 0 }, /* anyPolicy */
		{ "", "", "", "1.2.3.4:2.5.29.32.0", "", 1, 0 },
		{ "", "", "", "", "clientAuth\n1.3.6.1.5.5.7.3.1", 1, 1 },
		{ "", "", "", "", "no-such-usage", 1, 0 },
		{ "", "", "", "", "", 0, 0 },
		{ "", "", "", "", "", 36501, 0 },
	};
	struct db_partner p;
	const char *why;
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < NELEM(c); i++) {
		memset(&p, 0, sizeof(p));
		p.permitted = (char *)c[i].permit;
		p.excluded = (char *)c[i].exclude;
		p.policies = (char *)c[i].policies;
		p.policy_map = (char *)c[i].map;
		p.eku = (char *)c[i].eku;
		p.days = c[i].days;
		why = NULL;
		got = cross_constraints_check(&p, &why);
		if (got != c[i].want || (got == 0 && why == NULL)) {
			print_error("case %zu (%s|%s|%s|%s|%s|%d): got %d\n", i,
			    c[i].permit, c[i].exclude, c[i].policies, c[i].map,
			    c[i].eku, c[i].days, got);
			fail();
		}
	}
}

static void
test_fcgi_ocsp_check(void **state)
{
	const struct ocsp_case *c;
	unsigned char *der;
	size_t i, bad = 0;
	long len;
	int code, ok;

	(void)state;
	for (i = 0; i < NELEM(ocsp_cases); i++) {
		c = &ocsp_cases[i];
		der = (unsigned char *)"x";
		len = -1;
		code = fcgi_ocsp_check(c->method, c->uri, c->raw, c->ctype,
		    c->clen, 16, &der, &len);
		if (c->der == NULL)
			ok = der == NULL && len == c->len;
		else if (c->der[0] == '\0')
			ok = der == NULL && len == 0;
		else
			ok = der != NULL && len == c->len &&
			    strcmp(hex_of(der, len), c->der) == 0;
		if (code != c->code || !ok) {
			print_error("%s %s [%s]: %d der %s len %ld, want %d "
				    "der %s len %ld\n",
			    S(c->method), S(c->uri), S(c->raw), code,
			    der != NULL ? hex_of(der, len) : "(null)", len,
			    c->code, S(c->der), c->len);
			bad++;
		}
		free(der);
	}
	EQ(bad, 0);
}

/*
 * The responder's decoder, before any database or HSM access: every
 * hostile request gets malformedRequest (30 03 0a 01 01), HTTP 200.
 */
static OCSP_REQUEST *
ocsp_req_new(int ncerts, int nonce_len, int nonces)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	X509_NAME *name = name_new(CA_CN);
	ASN1_BIT_STRING *key = ASN1_BIT_STRING_new();
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	unsigned char nonce[64];
	int i;

	assert_true(req != NULL && key != NULL && serial != NULL);
	EQ(ASN1_BIT_STRING_set(key, (unsigned char *)"key", 3), 1);
	for (i = 0; i < ncerts; i++) {
		OCSP_CERTID *id;

		EQ(ASN1_INTEGER_set(serial, i + 1), 1);
		id = OCSP_cert_id_new(EVP_sha1(), name, key, serial);
		assert_non_null(id);
		assert_non_null(OCSP_request_add0_id(req, id));
	}
	memset(nonce, 0x5a, sizeof(nonce));
	if (nonces > 0)
		EQ(OCSP_request_add1_nonce(req, nonce, nonce_len), 1);
	/* add1_nonce replaces: a second one is a copy of the first. */
	for (i = 1; i < nonces; i++)
		EQ(OCSP_REQUEST_add_ext(req, OCSP_REQUEST_get_ext(req, 0), -1),
		    1);
	X509_NAME_free(name);
	ASN1_BIT_STRING_free(key);
	ASN1_INTEGER_free(serial);
	return req;
}

static void
ocsp_expect_malformed(struct ocsp_srv *s, const unsigned char *der,
    size_t len)
{
	static const unsigned char want[] = { 0x30, 0x03, 0x0a, 0x01, 0x01 };
	unsigned char *resp = NULL;
	size_t resp_len = 0;

	EQ(ocsp_srv_process(s, der, len, &resp, &resp_len), 200);
	assert_non_null(resp);
	EQ(resp_len, sizeof(want));
	assert_memory_equal(resp, want, sizeof(want));
	OPENSSL_free(resp);
}

/* Encodes req (freed) into a malloc'ed buffer with room for one more
 * byte. */
static unsigned char *
ocsp_req_der(OCSP_REQUEST *req, size_t *len)
{
	unsigned char *der = NULL, *buf;
	int n = i2d_OCSP_REQUEST(req, &der);

	assert_true(n > 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	memcpy(buf, der, (size_t)n);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	*len = (size_t)n;
	return buf;
}

static void
test_ocsp_malformed(void **state)
{
	struct ocsp_srv *s = ocsp_srv_new(NULL, NULL, NULL);
	unsigned char junk[300], *der;
	size_t len, i;

	(void)state;
	assert_non_null(s);
	log_init("test_cmp", 0, LOG_LVL_WARN); /* one line per request */
	ocsp_expect_malformed(s, NULL, 0);
	ocsp_expect_malformed(s, junk, 0);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 37 + 11);
	ocsp_expect_malformed(s, junk, sizeof(junk));
	junk[0] = 0x30;
	junk[1] = 0x80; /* indefinite length, then nothing sensible */
	ocsp_expect_malformed(s, junk, sizeof(junk));
	ocsp_expect_malformed(s, junk, CA_MAX_OCSP_REQUEST + 1);

	/* Trailing byte, and each truncation of a valid request. */
	der = ocsp_req_der(ocsp_req_new(1, 16, 1), &len);
	der[len] = 0;
	ocsp_expect_malformed(s, der, len + 1);
	for (i = 0; i < len; i++)
		ocsp_expect_malformed(s, der, i);
	free(der);
	/* No request, 17 requests (16 is the bound). */
	der = ocsp_req_der(ocsp_req_new(0, 16, 1), &len);
	ocsp_expect_malformed(s, der, len);
	free(der);
	der = ocsp_req_der(ocsp_req_new(CA_MAX_OCSP_CERTS + 1, 16, 1), &len);
	ocsp_expect_malformed(s, der, len);
	free(der);
	/* A nonce of 33 octets (RFC 8954 §2.1), and two nonces. */
	der = ocsp_req_der(ocsp_req_new(1, CA_MAX_OCSP_NONCE + 1, 1), &len);
	ocsp_expect_malformed(s, der, len);
	free(der);
	der = ocsp_req_der(ocsp_req_new(1, 16, 2), &len);
	ocsp_expect_malformed(s, der, len);
	free(der);
	ocsp_srv_free(s);
	ocsp_srv_free(NULL);
	log_init("test_cmp", 0, LOG_LVL_INFO);
}

/* Configuration. */

static char cfg_dir[64], cfg_path[128];

static int
cfg_setup(void **state)
{
	(void)state;
	snprintf(cfg_dir, sizeof(cfg_dir), "/tmp/cmpca-test-cmp.XXXXXX");
	if (mkdtemp(cfg_dir) == NULL)
		return -1;
	snprintf(cfg_path, sizeof(cfg_path), "%s/t.conf", cfg_dir);
	return 0;
}

static int
cfg_teardown(void **state)
{
	(void)state;
	unlink(cfg_path);
	return rmdir(cfg_dir);
}

/* cfg_load(path) with what it logs to stderr captured into err. */
static struct cfg *
cfg_load_logged(const char *path, char *err, size_t errlen)
{
	FILE *tmp = tmpfile();
	struct cfg *c;
	size_t n;
	int saved;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0 && dup2(fileno(tmp), STDERR_FILENO) >= 0);
	c = cfg_load(path);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, errlen - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return c;
}

/* Writes text to cfg_path and loads it. */
static struct cfg *
cfg_try(const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(cfg_path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	EQ(fclose(f), 0);
	return cfg_load_logged(cfg_path, err, errlen);
}

/*
 * The CRL name of a CA key (ca_crl_name) is the key's object label, so
 * that it moves with the key when `ca rollover` gives the label a new
 * key: a regression test for issue 17, where the old key's certificates
 * named a URL that then served the new key's CRL.
 */
static void
test_crl_name(void **state)
{
	static const struct {
		const char *uri, *label, *want;
	} cases[] = {
		/* The first key: ca create names the object after the CA. */
		{ "pkcs11:token=cmpca;object=rr", "rr", "rr" },
		/* The old key after a rollover keeps the name of its CRLs. */
		{ "pkcs11:token=cmpca;object=rr", "rr.old1", "rr" },
		/* The rollover's key: a name of its own. */
		{ "pkcs11:token=cmpca;object=rr-k20261202085400", "rr",
		    "rr-k20261202085400" },
		{ "pkcs11:object=sub.1;token=cmpca;type=private", "sub.1",
		    "sub.1" },
		/* No usable object: the row's label. */
		{ "pkcs11:token=cmpca;id=%01%02", "rr", "rr" },
		{ "pkcs11:token=cmpca;object=a%2Fb", "rr", "rr" },
		{ "pkcs11:token=cmpca;object=", "rr", "rr" },
		{ "pkcs11:token=cmpca;object=-x", "rr", "rr" },
		{ NULL, "rr", "rr" },
	};
	char name[CA_CRL_NAME_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		ca_crl_name(cases[i].uri, cases[i].label, name, sizeof(name));
		if (strcmp(name, cases[i].want) != 0)
			fail_msg("%s: got %s, want %s",
			    cases[i].uri != NULL ? cases[i].uri : "(null)", name,
			    cases[i].want);
	}
}

#define CFG_MAIN "[cmpca]\ntoken = tok\n"
#define CFG_PROFILE "[profile.default]\ndays = 42\n"

static void
test_cfg_valid(void **state)
{
	const struct cfg_profile *p;
	char err[4096];
	struct cfg *c;

	(void)state;
	c = cfg_try(CFG_MAIN "workers = 4\n" CFG_PROFILE
	                     "extensions = ext_ee\ncopy_san = no\n"
	                     "[profile.server]\ndays = 7\n"
	                     "crl_url = http://x/crl/%{crl}.crl\n"
	                     "[ext_ee]\nbasicConstraints = critical,CA:FALSE\n"
	                     "keyUsage = critical,digitalSignature\n",
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("cfg_load failed: %s", err);
	assert_string_equal(c->token_label, "tok");
	EQ(c->workers, 4);
	EQ(c->max_request, CA_MAX_REQUEST);
	EQ(c->pbm_max_iter, CA_DEFAULT_PBM_MAX_ITER);
	EQ(c->txn_timeout, CA_DEFAULT_TXN_TIMEOUT);
	EQ(c->implicit_confirm, 1);
	assert_null(c->pin_file);
	assert_non_null(p = cfg_profile_get(c, "default"));
	EQ(p->days, 42);
	assert_string_equal(p->ext_section, "ext_ee");
	EQ(p->copy_san, 0);
	EQ(p->copy_key_usage, 1);
	/* The allow-lists default to what the profile itself gives. */
	EQ(p->ku_allowed, KU_DIGITAL_SIGNATURE);
	EQ(p->neku_allowed, 0);
	EQ(p->ncopy_exts, 0);
	EQ(p->holder_san_any, 0);
	EQ(p->kur_same_key, 0);
	assert_null(p->crl_url);
	assert_non_null(p = cfg_profile_get(c, "server"));
	EQ(p->days, 7);
	assert_null(p->ext_section);
	assert_string_equal(p->crl_url, "http://x/crl/%{crl}.crl");
	assert_null(cfg_profile_get(c, "nosuch"));
	cfg_free(c);
	cfg_free(NULL);
}

static void
test_cfg_errors(void **state)
{
	static const struct {
		const char *name, *text;
		int line; /* 0: the message names no line */
		const char *msg;
	} cases[] = {
		{ "unknown key", CFG_MAIN "tokn = x\n" CFG_PROFILE, 3,
		    "unknown setting \"tokn\"" },
		{ "unknown profile key", CFG_MAIN CFG_PROFILE "dayz = 1\n", 5,
		    "unknown setting \"dayz\"" },
		{ "bad number", CFG_MAIN "workers = abc\n" CFG_PROFILE, 3,
		    "workers must be a number" },
		{ "out of range", CFG_MAIN "workers = 65\n" CFG_PROFILE, 3,
		    "workers must be a number" },
		{ "bad days", CFG_MAIN "[profile.default]\ndays = 0\n", 4,
		    "days must be a number" },
		{ "bad bool", CFG_MAIN "implicit_confirm = maybe\n" CFG_PROFILE,
		    3, "implicit_confirm must be yes or no" },
		{ "bad log level", CFG_MAIN "log_level = loud\n" CFG_PROFILE, 3,
		    "log_level must be" },
		{ "no extensions section",
		    CFG_MAIN CFG_PROFILE "extensions = nosuch\n", 5,
		    "extensions section \"nosuch\" does not exist" },
		{ "bad extension value",
		    CFG_MAIN CFG_PROFILE "extensions = ext\n"
		                         "[ext]\nkeyUsage = nonsense\n",
		    5, "bad extensions in section \"ext\"" },
		{ "syntax error", CFG_MAIN "[profile.default\ndays = 1\n", 3,
		    "syntax error" },
		{ "no equal sign", CFG_MAIN "workers\n" CFG_PROFILE, 3,
		    "syntax error" },
		{ "no token", "[cmpca]\nworkers = 2\n" CFG_PROFILE, 0,
		    "[cmpca]: token is required" },
		{ "no main section", CFG_PROFILE, 0,
		    "missing section [cmpca]" },
		{ "no default profile", CFG_MAIN "[profile.x]\ndays = 1\n", 0,
		    "missing section [profile.default]" },
		/* No profile hands out OCSP signing, every purpose, or CA
		 * key usages to end entities (issue 13). */
		{ "OCSPSigning listed",
		    CFG_MAIN CFG_PROFILE "ext_key_usage = clientAuth, "
		                         "OCSPSigning\n",
		    5, "OCSPSigning may not be in ext_key_usage" },
		{ "anyExtendedKeyUsage listed",
		    CFG_MAIN CFG_PROFILE "ext_key_usage = anyExtendedKeyUsage\n",
		    5, "anyExtendedKeyUsage may not be in ext_key_usage" },
		{ "keyCertSign for end entities",
		    CFG_MAIN CFG_PROFILE "key_usage = digitalSignature, "
		                         "keyCertSign\n",
		    5, "keyCertSign and cRLSign may not be in key_usage" },
		{ "unknown key usage",
		    CFG_MAIN CFG_PROFILE "key_usage = digitalSig\n", 5,
		    "unknown keyUsage \"digitalSig\" in key_usage" },
		{ "OCSPSigning in the section",
		    CFG_MAIN CFG_PROFILE "extensions = ext\n"
		                         "[ext]\nextendedKeyUsage = OCSPSigning\n",
		    5, "OCSPSigning in the extensions of a profile" },
		{ "keyCertSign in an end-entity section",
		    CFG_MAIN CFG_PROFILE "extensions = ext\n"
		                         "[ext]\nkeyUsage = keyCertSign\n",
		    5, "keyCertSign or cRLSign in the extensions of an "
		       "end-entity profile" },
		{ "basicConstraints copied",
		    CFG_MAIN CFG_PROFILE "copy_extensions = basicConstraints\n",
		    5, "basicConstraints may not be in copy_extensions" },
		{ "bad holder_san", CFG_MAIN CFG_PROFILE "holder_san = all\n", 5,
		    "holder_san must be own or any" },
		{ "crl_url with a blank",
		    CFG_MAIN CFG_PROFILE "crl_url = http://x/a b.crl\n", 5,
		    "crl_url must be a URI" },
		{ "crl_url with another substitution",
		    CFG_MAIN CFG_PROFILE "crl_url = http://x/%{label}.crl\n", 5,
		    "crl_url must be a URI" },
		{ "crl_url and a section CDP",
		    CFG_MAIN CFG_PROFILE "crl_url = http://x/%{ca}.crl\n"
		                         "extensions = ext\n[ext]\n"
		                         "crlDistributionPoints = URI:http://y/\n",
		    6, "the extensions section sets crlDistributionPoints" },
		{ "bad kur_same_key", CFG_MAIN CFG_PROFILE "kur_same_key = 2\n",
		    5, "kur_same_key must be yes or no" },
	};
	char err[4096], want[256], nosuch[160];
	struct cfg *c;
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		c = cfg_try(cases[i].text, err, sizeof(err));
		if (cases[i].line > 0)
			snprintf(want, sizeof(want), "%s:%d: %s", cfg_path,
			    cases[i].line, cases[i].msg);
		else
			snprintf(want, sizeof(want), "%s: %s", cfg_path,
			    cases[i].msg);
		if (c != NULL || strstr(err, want) == NULL) {
			print_error("%s: cfg %s, log \"%s\", want \"%s\"\n",
			    cases[i].name, c != NULL ? "loaded" : "NULL", err,
			    want);
			bad++;
		}
		cfg_free(c);
	}
	snprintf(nosuch, sizeof(nosuch), "%s/nosuch.conf", cfg_dir);
	c = cfg_load_logged(nosuch, err, sizeof(err));
	cfg_free(c);
	assert_null(c);
	assert_non_null(strstr(err, nosuch));
	EQ(bad, 0);
}

/* Logging helpers. */

/*
 * Peer strings in log lines: control characters and terminal escape
 * sequences become \xHH, quotes and backslashes are escaped (the line
 * quotes them), the length is bounded and a cut never splits an escape.
 */
static void
test_log_sanitize(void **state)
{
	const unsigned char in[] = "ab\ncd\x01\x7f\x80\xff ~\t";
	const unsigned char esc[] = "\x1b[31mred\x1b[0m \"q\" a\\b\r\n";
	unsigned char big[300];
	char out[CA_LOG_SAN_MAX], small[8];
	size_t i;

	(void)state;
	log_sanitize(in, sizeof(in) - 1, out, sizeof(out));
	assert_string_equal(out, "ab\\x0acd\\x01\\x7f\\x80\\xff ~\\x09");
	log_sanitize(esc, sizeof(esc) - 1, out, sizeof(out));
	assert_string_equal(out,
	    "\\x1b[31mred\\x1b[0m \\\"q\\\" a\\\\b\\x0d\\x0a");
	log_sanitize((const unsigned char *)"a\0b", 3, out, sizeof(out));
	assert_string_equal(out, "a\\x00b"); /* NUL is no terminator here */
	log_sanitize((const unsigned char *)"", 0, out, sizeof(out));
	assert_string_equal(out, "");
	/* Input bound: CA_MAX_LOG_STRING bytes, then "...". */
	memset(big, 'A', sizeof(big));
	log_sanitize(big, sizeof(big), out, sizeof(out));
	EQ(strlen(out), CA_MAX_LOG_STRING + 3);
	EQ(strspn(out, "A"), CA_MAX_LOG_STRING);
	assert_string_equal(out + CA_MAX_LOG_STRING, "...");
	/* Exactly CA_MAX_LOG_STRING bytes: whole, no "...". */
	log_sanitize(big, CA_MAX_LOG_STRING, out, sizeof(out));
	EQ(strlen(out), CA_MAX_LOG_STRING);
	/* The worst case fits CA_LOG_SAN_MAX. */
	memset(big, 0x1b, sizeof(big));
	log_sanitize(big, sizeof(big), out, sizeof(out));
	EQ(strlen(out), 4 * CA_MAX_LOG_STRING + 3);
	/* Output bound: no split escape, "..." at the end. */
	log_sanitize(big, sizeof(big), small, sizeof(small));
	assert_string_equal(small, "\\x1b...");
	log_sanitize(esc, sizeof(esc) - 1, small, sizeof(small));
	assert_string_equal(small, "\\x1b...");
	memset(big, 'A', sizeof(big));
	log_sanitize(big, sizeof(big), small, sizeof(small));
	assert_string_equal(small, "AAAA...");
	log_sanitize(big, 7, small, sizeof(small));
	assert_string_equal(small, "AAAAAAA"); /* fits exactly: no cut */
	for (i = 1; i < sizeof(small); i++) {
		log_sanitize(esc, sizeof(esc) - 1, small, i);
		assert_true(strlen(small) < i);
		assert_null(strchr(small, 0x1b));
	}
	memset(small, 'x', sizeof(small));
	log_sanitize(big, sizeof(big), small, 1);
	assert_string_equal(small, "");
	small[1] = 'x';
	log_sanitize(big, sizeof(big), small, 0);
	EQ(small[1], 'x');
}

static void
test_log_hex(void **state)
{
	const unsigned char in[16] = { 0x00, 0x01, 0x02, 0xab, 0xcd, 0xef };
	char out[64];

	(void)state;
	log_hex(in, 6, out, sizeof(out));
	assert_string_equal(out, "000102abcdef");
	log_hex(in, 0, out, sizeof(out));
	assert_string_equal(out, "");
	/* Too small: a prefix and "..", filling the buffer. */
	log_hex(in, sizeof(in), out, 10);
	assert_string_equal(out, "000102a..");
	log_hex(in, sizeof(in), out, 1);
	assert_string_equal(out, "");
	out[0] = 'x';
	log_hex(in, sizeof(in), out, 0);
	EQ(out[0], 'x');
}

/* 2 * inlen + 1 bytes hold the whole hex: not "too small", no cut. */
static void
test_log_hex_exact_fit(void **state)
{
	const unsigned char in[2] = { 0xab, 0xcd };
	char out[5];

	(void)state;
	log_hex(in, sizeof(in), out, sizeof(out));
	assert_string_equal(out, "abcd");
}

/* Metrics: counters shared across fork, rendered in the text format. */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

static void
test_metrics(void **state)
{
	char *text;
	size_t len;
	pid_t pid;
	int st, i;

	(void)state;
	/* Before init: no-ops, nothing to render. */
	metrics_request(CMP_BODY_IR, "accepted", 10);
	assert_null(metrics_render(NULL, 2, &len));
	EQ(metrics_init(), 1);
	EQ(metrics_init(), 1); /* idempotent */
	metrics_request(CMP_BODY_IR, "accepted", 1500);	 /* le 0.0025 */
	metrics_request(CMP_BODY_CERTCONF, "accepted", 20000000); /* +Inf */
	metrics_request(-1, "rejected", 10);
	metrics_request(CMP_BODY_RR, "no-such-outcome", 10);
	metrics_hsm(300);
	metrics_db_error("23505"); /* a refusal: not counted */
	metrics_db_error("CA001");
	metrics_db_error("08006");
	metrics_db_error("");
	metrics_worker_restart(1);
	metrics_worker_restart(CA_MAX_WORKERS + 1); /* ignored */
	/* A child's adds land in the same counters (a forked worker). */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (i = 0; i < 1000; i++)
			metrics_request(CMP_BODY_IR, "accepted", 1500);
		_exit(0);
	}
	for (i = 0; i < 1000; i++)
		metrics_request(CMP_BODY_IR, "accepted", 1500);
	EQ(waitpid(pid, &st, 0), pid);
	text = metrics_render(NULL, 2, &len);
	assert_non_null(text);
	EQ(strlen(text), len);
	assert_true(has_line(text, "cmpca_requests_total{body=\"ir\","
				   "outcome=\"accepted\"} 2001"));
	assert_true(has_line(text, "cmpca_requests_total{body=\"certConf\","
				   "outcome=\"accepted\"} 1"));
	assert_true(has_line(text, "cmpca_requests_total{body=\"none\","
				   "outcome=\"rejected\"} 1"));
	assert_true(has_line(text, "cmpca_requests_total{body=\"rr\","
				   "outcome=\"other\"} 1"));
	assert_true(has_line(text,
	    "cmpca_request_duration_seconds_bucket{le=\"0.001\"} 2"));
	assert_true(has_line(text,
	    "cmpca_request_duration_seconds_bucket{le=\"0.0025\"} 2003"));
	assert_true(has_line(text,
	    "cmpca_request_duration_seconds_bucket{le=\"10\"} 2003"));
	assert_true(has_line(text,
	    "cmpca_request_duration_seconds_bucket{le=\"+Inf\"} 2004"));
	assert_true(has_line(text, "cmpca_request_duration_seconds_count 2004"));
	assert_true(has_line(text, "cmpca_hsm_operation_seconds_count 1"));
	assert_true(has_line(text,
	    "cmpca_hsm_operation_seconds_bucket{le=\"0.00025\"} 0"));
	assert_true(has_line(text,
	    "cmpca_hsm_operation_seconds_bucket{le=\"0.0005\"} 1"));
	assert_true(has_line(text, "cmpca_db_errors_total 2"));
	assert_true(has_line(text, "cmpca_worker_restarts_total{slot=\"1\"} 1"));
	assert_true(has_line(text, "cmpca_worker_restarts_total{slot=\"2\"} 0"));
	assert_false(has_line(text, "cmpca_worker_restarts_total{slot=\"3\"} 0"));
	assert_true(has_line(text, "cmpca_db_up 0"));
	assert_null(strstr(text, "cmpca_pending_approvals"));
	free(text);
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
	};
	const struct CMUnitTest pbm[] = {
		{ "test_pbm_sha256_hmac_sha1", test_pbm_crosscheck, NULL, NULL,
		    &pbm_sets[0] },
		{ "test_pbm_sha256_hmacWithSHA256", test_pbm_crosscheck, NULL,
		    NULL, &pbm_sets[1] },
		{ "test_pbm_sha1_hmacWithSHA512", test_pbm_crosscheck, NULL,
		    NULL, &pbm_sets[2] },
		cmocka_unit_test(test_pbm_reject),
		cmocka_unit_test(test_pbm_iter_minimum),
		cmocka_unit_test(test_pbmac1_keylen),
	};
	const struct CMUnitTest hdr[] = {
		cmocka_unit_test(test_hdr_check),
		cmocka_unit_test(test_hdr_pvno_implicit_confirm),
		cmocka_unit_test(test_hdr_response),
		cmocka_unit_test(test_hdr_response_no_request),
	};
	const struct CMUnitTest fcgi[] = {
		cmocka_unit_test(test_fcgi_request_check),
		cmocka_unit_test(test_fcgi_label_dot_segments),
		cmocka_unit_test(test_fcgi_ocsp_not_cmp),
		cmocka_unit_test(test_fcgi_is_ocsp),
		cmocka_unit_test(test_fcgi_ocsp_check),
		cmocka_unit_test(test_cross_constraints),
		cmocka_unit_test(test_ocsp_malformed),
	};
	const struct CMUnitTest cfg[] = {
		cmocka_unit_test(test_cfg_valid),
		cmocka_unit_test(test_cfg_errors),
		cmocka_unit_test(test_crl_name),
	};
	const struct CMUnitTest logs[] = {
		cmocka_unit_test(test_log_sanitize),
		cmocka_unit_test(test_log_hex),
		cmocka_unit_test(test_log_hex_exact_fit),
		cmocka_unit_test(test_metrics),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name(
	    "decoder", decoder, flows_setup, flows_teardown);
	failed += cmocka_run_group_tests_name("pbm", pbm, NULL, NULL);
	failed += cmocka_run_group_tests_name("hdr", hdr, NULL, NULL);
	failed += cmocka_run_group_tests_name("fcgi", fcgi, NULL, NULL);
	failed +=
	    cmocka_run_group_tests_name("cfg", cfg, cfg_setup, cfg_teardown);
	failed += cmocka_run_group_tests_name("log", logs, NULL, NULL);
	return failed != 0;
}
