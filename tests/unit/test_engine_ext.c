/*
 * test_engine_ext.c - requested extensions against the profile, and
 * the profile's cached extensions (part of test_engine, see
 * test_engine.c).
 */
#include <string.h>

#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "tests/unit/test_engine.h"

/*
 * Requested extensions against the profile (issue 13): the test profile
 * "default" gives keyUsage digitalSignature, no extendedKeyUsage, and
 * copies subjectAltName of the four usual types. Each row is the
 * template's extensions (by name and value in openssl.cnf syntax, or by
 * OID and DER in hex) and the answer: ACCEPT, or a rejection inside the
 * ip with badCertTemplate and a statusString that starts with text.
 */
struct xspec {
	const char *name, *value, *hex;
};
static const struct xcase {
	const char *name;
	struct xspec x[3];
	int want;
	const char *text;
	const char *ref, *cn; /* NULL: ref1, client */
	const char *subj;     /* instead of cn ("/O=x"), or NULL */
} xcases[] = {
	{ "ext_san_dns_ok", .x = { { "subjectAltName", "DNS:a.example",
				    NULL } },
	    .want = ACCEPT },
	{ "ext_ku_narrower_ok", .x = { { "keyUsage",
					"critical,digitalSignature", NULL } },
	    .want = ACCEPT },
	/* The request decides values, not criticality: keyUsage as critical
	 * as the profile's, subjectAltName next to a subject never. */
	{ "ext_criticality_profile", .x = { { "keyUsage", "digitalSignature",
					     NULL },
					   { "subjectAltName",
					     "critical,DNS:a.example", NULL } },
	    .want = ACCEPT },
	{ "ext_bc_false_ok", .x = { { "basicConstraints", "CA:FALSE", NULL } },
	    .want = ACCEPT },
	{ "rej_ext_dup_san",
	    .x = { { "subjectAltName", "DNS:a.example", NULL },
	        { "2.5.29.17", NULL, "300687040a000001" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "duplicate extension subjectAltName" },
	{ "rej_ext_san_undecodable", .x = { { "2.5.29.17", NULL, "0101ff" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "extension subjectAltName does not decode" },
	{ "rej_ext_san_trailing",
	    .x = { { "2.5.29.17", NULL, "300b8209612e6578616d706c6500" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "extension subjectAltName does not decode" },
	{ "rej_ext_san_dirname",
	    .x = { { "2.5.29.17", NULL,
	        "3010a40e300c310a300806035504030c0178" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "subjectAltName dirName not allowed by profile default" },
	{ "rej_ext_eku_ocsp",
	    .x = { { "extendedKeyUsage", "OCSPSigning", NULL } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "extendedKeyUsage OCSPSigning not allowed by profile "
	            "default" },
	{ "rej_ext_eku_client",
	    .x = { { "extendedKeyUsage", "clientAuth", NULL } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "extendedKeyUsage clientAuth not allowed by profile "
	            "default" },
	{ "rej_ext_ku_certsign",
	    .x = { { "keyUsage", "digitalSignature,keyCertSign", NULL } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "keyUsage keyCertSign not allowed by profile default" },
	{ "rej_ext_bc_ca",
	    .x = { { "basicConstraints", "critical,CA:TRUE", NULL } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "basicConstraints CA:TRUE not allowed by profile default" },
	{ "rej_ext_unknown_oid", .x = { { "1.2.3.4", NULL, "0500" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "extension 1.2.3.4 not allowed by profile default" },
	{ "rej_ext_dup_unknown",
	    .x = { { "1.2.3.4", NULL, "0500" }, { "1.2.3.4", NULL, "0500" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "duplicate extension 1.2.3.4" },
	/* Names bound to the secret: "subj" to CN=allowed and nothing else,
	 * "sanpat" to DNS:*.dev.example and IP:10.0.0.1. */
	{ "ir_subject_allowed", .want = ACCEPT, .ref = "subj",
	    .cn = "allowed" },
	{ "rej_subject_bound_san",
	    .x = { { "subjectAltName", "DNS:a.example", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName DNS:a.example not allowed for this "
	            "enrollment secret",
	    .ref = "subj", .cn = "allowed" },
	{ "ir_san_pattern",
	    .x = { { "subjectAltName",
	        "DNS:a.dev.example,DNS:b.dev.example,IP:10.0.0.1", NULL } },
	    .want = ACCEPT, .ref = "sanpat", .cn = "a.dev.example" },
	/* Issue 22: the pattern's "*" is one label, never itself. */
	{ "rej_san_pattern_two_labels",
	    .x = { { "subjectAltName", "DNS:b.c.dev.example", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName DNS:b.c.dev.example not allowed for "
	            "this enrollment secret",
	    .ref = "sanpat", .cn = "b.c.dev.example" },
	{ "rej_san_pattern_literal_star",
	    .x = { { "subjectAltName", "DNS:*.dev.example", NULL } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "subjectAltName DNS:*.dev.example: a wildcard the profile "
	            "does not allow",
	    .ref = "sanpat", .cn = "a.dev.example" },
	/* Issue 22: a SAN-scoped secret asks for a CN outside its scope. */
	{ "rej_san_scope_cn",
	    .x = { { "subjectAltName", "DNS:a.dev.example", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subject commonName is not a dNSName granted to this "
	            "enrollment secret",
	    .ref = "sanpat", .cn = "www.bank.example" },
	{ "ir_san_scope_no_cn",
	    .x = { { "subjectAltName", "DNS:a.dev.example", NULL } },
	    .want = ACCEPT, .ref = "sanpat", .subj = "/O=Example/OU=dev" },
	/* Issue 22: names in the syntax of their type. */
	{ "rej_san_dns_nul",
	    .x = { { "2.5.29.17", NULL,
	        "300a8208612e6578002e6576" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "subjectAltName DNS:" },
	{ "rej_san_ip_5",
	    .x = { { "2.5.29.17", NULL, "30078705" "0a00000101" } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "subjectAltName IP:...: not 4 or 16 octets" },
	{ "rej_san_email",
	    .x = { { "subjectAltName", "email:not-an-email", NULL } },
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "subjectAltName email:not-an-email: not local-part@domain" },
	{ "rej_subject_esc", .cn = "a\x1b[31mb",
	    .want = CMP_FAIL_BAD_CERT_TEMPLATE,
	    .text = "subject attribute CN: a control character" },
	{ "rej_san_pattern_other",
	    .x = { { "subjectAltName", "DNS:a.dev.example,DNS:login.bank.example",
	        NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName DNS:login.bank.example not allowed for "
	            "this enrollment secret",
	    .ref = "sanpat" },
	{ "rej_san_pattern_apex",
	    .x = { { "subjectAltName", "DNS:dev.example", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName DNS:dev.example not allowed",
	    .ref = "sanpat" },
	{ "rej_san_pattern_ip",
	    .x = { { "subjectAltName", "IP:10.0.0.2", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName IP:10.0.0.2 not allowed", .ref = "sanpat" },
	/* "sancidr": IP:192.0.2.0/24 and IP:2001:db8::/32. */
	{ "ir_san_cidr",
	    .x = { { "subjectAltName", "IP:192.0.2.77,IP:2001:db8:1::5",
	        NULL } },
	    .want = ACCEPT, .ref = "sancidr", .subj = "/O=Example/OU=net" },
	{ "rej_san_cidr_outside",
	    .x = { { "subjectAltName", "IP:192.0.3.1", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName IP:192.0.3.1 not allowed", .ref = "sancidr" },
	{ "rej_san_cidr_v6_outside",
	    .x = { { "subjectAltName", "IP:2001:db9::1", NULL } },
	    .want = CMP_FAIL_NOT_AUTHORIZED,
	    .text = "subjectAltName IP:2001:db9::1 not allowed",
	    .ref = "sancidr" },
};

static X509_EXTENSION *
xspec_ext(const struct xspec *x)
{
	X509_EXTENSION *e;
	ASN1_OBJECT *obj;
	ASN1_OCTET_STRING *os;
	unsigned char *bin;
	long len;

	if (x->hex == NULL) {
		assert_non_null(e = X509V3_EXT_nconf(NULL, NULL, x->name,
		                    x->value));
		return e;
	}
	assert_non_null(obj = OBJ_txt2obj(x->name, 1));
	assert_non_null(bin = OPENSSL_hexstr2buf(x->hex, &len));
	os = octets(bin, (int)len);
	assert_non_null(e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os));
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	OPENSSL_free(bin);
	return e;
}

static void
test_ext(void **state)
{
	const struct xcase *c = *state;
	size_t before = db_count(NULL), i;
	const CMP_CERTRESPONSE *cr;
	struct rq q;
	CMP_MSG *resp;
	X509 *cert;

	X509_NAME *subj = NULL;

	rq_init(&q);
	q.ref = c->ref != NULL ? c->ref : q.ref;
	q.cn = c->cn != NULL ? c->cn : q.cn;
	if (c->subj != NULL)
		assert_non_null(q.subject = subj = ca_name_parse(c->subj));
	assert_non_null(q.exts = sk_X509_EXTENSION_new_null());
	for (i = 0; i < 3 && c->x[i].name != NULL; i++)
		OK(sk_X509_EXTENSION_push(q.exts, xspec_ext(&c->x[i])));
	resp = run(req_new(&q), NULL);
	sk_X509_EXTENSION_pop_free(q.exts, X509_EXTENSION_free);
	if (c->want == ACCEPT) {
		cert = ip_cert(resp, 0, 0);
		assert_int_equal(db_count(NULL), before + 1);
		/* What the profile decides, whatever was asked. */
		assert_int_equal(X509_check_ca(cert), 0);
		assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
		assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(cert,
		    X509_get_ext_by_NID(cert, NID_key_usage, -1))), 1);
		if (X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) >= 0)
			assert_int_equal(X509_EXTENSION_get_critical(
			    X509_get_ext(cert, X509_get_ext_by_NID(cert,
			        NID_subject_alt_name, -1))), 0);
		X509_NAME_free(subj);
		return;
	}
	cr = check_certresp(resp, 0, 0, CMP_STATUS_REJECTION, c->want);
	if (strncmp(si_text(cr->status), c->text, strlen(c->text)) != 0)
		fail_msg("statusString \"%s\", want \"%s...\"",
		    si_text(cr->status), c->text);
	assert_int_equal(db_count(&q), 0);
	assert_int_equal(db_count(NULL), before);
	X509_NAME_free(subj);
}

/* The extensions of x, each DER-encoded, concatenated in order. */
static size_t
exts_der(X509 *x, unsigned char *buf, size_t cap)
{
	size_t n = 0;
	int i;

	for (i = 0; i < X509_get_ext_count(x); i++) {
		unsigned char *d = NULL;
		int len = i2d_X509_EXTENSION(X509_get_ext(x, i), &d);

		OK(len > 0 && n + (size_t)len <= cap);
		memcpy(buf + n, d, (size_t)len);
		n += (size_t)len;
		OPENSSL_free(d);
	}
	return n;
}

/*
 * The profile's extensions cached per (profile, CA) give the same
 * certificate extensions, byte for byte and in order, as evaluating the
 * section for each certificate: a static profile, one that copies the
 * subject's e-mail (not cacheable: evaluated each time), one with a
 * critical SKI and policies, and none at all. Two keys each, so a cached
 * subjectKeyIdentifier that did not follow the key would show.
 */
void
test_ext_cache(void **state)
{
	static const char conf_text[] =
	    "[e_demo]\nbasicConstraints = critical,CA:FALSE\n"
	    "keyUsage = critical,digitalSignature,keyEncipherment\n"
	    "extendedKeyUsage = clientAuth,serverAuth\n"
	    "subjectKeyIdentifier = hash\n"
	    "authorityKeyIdentifier = keyid:always\n"
	    "crlDistributionPoints = URI:http://127.0.0.1/crl/t.crl\n"
	    "authorityInfoAccess = OCSP;URI:http://127.0.0.1/ocsp\n"
	    "[e_mail]\nsubjectKeyIdentifier = hash\n"
	    "subjectAltName = email:copy,DNS:fixed.example\n"
	    "[e_pol]\nsubjectKeyIdentifier = critical,hash\n"
	    "certificatePolicies = 1.2.3.4,1.3.6.1.4.1.99999.1\n"
	    "authorityKeyIdentifier = keyid,issuer\n"
	    "nsComment = \"cmpca test\"\n";
	static const char *sections[] = { "e_demo", "e_mail", "e_pol", NULL };
	struct cfg_profile prof[4];
	struct ca_ident ca;
	struct issue_req r;
	CRMF_CERTTEMPLATE *t = NULL;
	CONF *conf = NCONF_new(NULL);
	BIO *b = BIO_new_mem_buf(conf_text, -1);
	EVP_PKEY *keys[2];
	X509_NAME *subj = X509_NAME_new();
	unsigned char a[4096], c[4096];
	size_t alen, clen, i, k;
	long eline;

	(void)state;
	assert_non_null(conf);
	assert_non_null(b);
	OK(NCONF_load_bio(conf, b, &eline));
	BIO_free(b);
	OK(subj != NULL && X509_NAME_add_entry_by_txt(subj, "CN",
	    MBSTRING_ASC, (const unsigned char *)"ext test", -1, -1, 0) &&
	    X509_NAME_add_entry_by_txt(subj, "emailAddress", MBSTRING_ASC,
		(const unsigned char *)"ext@example.org", -1, -1, 0));
	keys[0] = fx.key;
	assert_non_null(keys[1] = EVP_EC_gen("P-384"));
	memset(&ca, 0, sizeof(ca));
	ca.cert = fx.ca_cert;
	assert_non_null(ca.key = EVP_EC_gen("P-256")); /* signs, unchecked */
	ca.md = EVP_sha256();
	snprintf(ca.label, sizeof(ca.label), "ext-test");
	for (i = 0; i < 4; i++) {
		memset(&prof[i], 0, sizeof(prof[i]));
		prof[i].days = 30;
		prof[i].ext_section = (char *)sections[i];
	}
	for (i = 0; i < 4; i++)
		for (k = 0; k < 2; k++) {
			X509 *x, *y;

			assert_non_null(t = CRMF_CERTTEMPLATE_new());
			assert_non_null(t->subject = X509_NAME_dup(subj));
			OK(cmp_spki_set(&t->publicKey, keys[k]));
			memset(&r, 0, sizeof(r));
			r.tmpl = t;
			r.profile = &prof[i];
			r.conf = conf;
			cmp_issue_ext_cache(0);
			assert_non_null(x = cmp_cert_issue(&r, &ca, fx.hsm));
			cmp_issue_ext_cache(1);
			assert_non_null(y = cmp_cert_issue(&r, &ca, fx.hsm));
			alen = exts_der(x, a, sizeof(a));
			clen = exts_der(y, c, sizeof(c));
			if (alen != clen || memcmp(a, c, alen) != 0)
				fail_msg("profile %s, key %zu: cached "
				         "extensions differ", sections[i]
				             ? sections[i] : "(none)", k);
			/* The builder adds SKI and AKI where the section
			 * has none (e_mail: AKI; no section: both). */
			assert_int_equal(X509_get_ext_count(y),
			    i == 0 ? 7 : i == 1 ? 3 : i == 2 ? 4 : 2);
			{ /* as a relying party reads it */
				unsigned char *der = NULL;
				const unsigned char *p;
				int dlen = i2d_X509(y, &der);
				X509 *z;

				p = der;
				assert_non_null(z = d2i_X509(NULL, &p, dlen));
				assert_int_equal(EVP_PKEY_eq(
				    X509_get0_pubkey(z), keys[k]), 1);
				X509_free(z);
				OPENSSL_free(der);
			}
			if (i < 3) {
				const ASN1_OCTET_STRING *ski =
				    X509_get0_subject_key_id(y);
				const unsigned char *bits;
				unsigned char md[20];
				int blen;

				assert_non_null(ski);
				X509_PUBKEY_get0_param(NULL, &bits, &blen,
				    NULL, X509_get_X509_PUBKEY(y));
				OK(SHA1(bits, (size_t)blen, md) != NULL);
				assert_int_equal(ASN1_STRING_length(ski), 20);
				assert_memory_equal(
				    ASN1_STRING_get0_data(ski), md, 20);
			}
			X509_free(x);
			X509_free(y);
			CRMF_CERTTEMPLATE_free(t);
		}
	NCONF_free(conf);
	X509_NAME_free(subj);
	EVP_PKEY_free(keys[1]);
	EVP_PKEY_free(ca.key);
}

#define NX (sizeof(xcases) / sizeof(xcases[0]))

const size_t test_engine_nx = NX;

void
test_engine_ext_rows(struct CMUnitTest *t)
{
	size_t i;

	for (i = 0; i < NX; i++)
		t[i] = (struct CMUnitTest){ xcases[i].name, test_ext, NULL,
			gc_run, (void *)&xcases[i] };
}
