/*
 * test_names.c - names checked for what they are (ca/profile_names.c,
 * issue 22 finding 4): dNSName, rfc822Name, URI and iPAddress syntax,
 * subject attribute types and control characters; the one-label
 * wildcard of a credential's patterns (profile_san.c), the CN of a
 * SAN-scoped credential (finding 5), reserved CA names compared
 * canonically (profile_reserved.c, finding 1), and certificatePolicies by
 * allow-list with other_extensions = drop (finding 10).
 *
 * Root cause of the findings: values were copied as DER that decoded,
 * never read as the names they are; "www.bank.example\0.evil.example", a
 * bare "*", a 5-octet address and "CN=x\x1b[31m" all decoded fine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crmf.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "tests/unit/unitlib.h"

struct syn {
	const char *v;
	size_t len; /* 0: strlen */
	int ok;
};

static size_t
syn_len(const struct syn *c)
{
	return c->len != 0 ? c->len : strlen(c->v);
}

static void
test_dns(void **state)
{
	static const struct syn plain[] = {
		{ "www.example.org", 0, 1 },
		{ "localhost", 0, 1 },
		{ "xn--bcher-kva.example", 0, 1 },
		{ "3com.example", 0, 1 },
		{ "WWW.Example.ORG", 0, 1 },
		{ "www.bank.example\0.evil.example", 30, 0 },
		{ "*", 0, 0 },
		{ "*.site.example", 0, 0 },
		{ "a b<script>", 0, 0 },
		{ "a..example", 0, 0 },
		{ ".example", 0, 0 },
		{ "example.", 0, 0 },
		{ "-a.example", 0, 0 },
		{ "a-.example", 0, 0 },
		{ "a_b.example", 0, 0 },
		{ "", 0, 0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  ".example", 0, 1 }, /* 63 */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  ".example", 0, 0 }, /* 64 */
	};
	static const struct syn wild[] = {
		{ "*.site.example", 0, 1 },
		{ "*.*.site.example", 0, 0 },
		{ "a.*.site.example", 0, 0 },
		{ "w*.site.example", 0, 0 },
		{ "*", 0, 0 },
		{ "*.example", 0, 0 }, /* over one label only */
		{ "www.example.org", 0, 1 },
	};
	char big[300];
	const char *why = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(plain); i++)
		if (profile_dns_ok((const unsigned char *)plain[i].v,
		        syn_len(&plain[i]), 0, &why) != plain[i].ok)
			fail_msg("dNSName %zu (%s): want %d", i, plain[i].v,
			    plain[i].ok);
	for (i = 0; i < NELEM(wild); i++)
		if (profile_dns_ok((const unsigned char *)wild[i].v,
		        syn_len(&wild[i]), 1, &why) != wild[i].ok)
			fail_msg("wildcard dNSName %s: want %d", wild[i].v,
			    wild[i].ok);
	/* 254 characters: too long (RFC 1034 §3.1). */
	for (i = 0; i < 254; i++)
		big[i] = i % 50 == 49 ? '.' : 'a';
	assert_int_equal(profile_dns_ok((unsigned char *)big, 253, 0, &why),
	    1);
	assert_int_equal(profile_dns_ok((unsigned char *)big, 254, 0, &why),
	    0);
}

static void
test_email_uri(void **state)
{
	static const struct syn mail[] = {
		{ "alice@example.org", 0, 1 },
		{ "a.b+tag@mail.example.org", 0, 1 },
		{ "not-an-email", 0, 0 },
		{ "a@b@example.org", 0, 0 },
		{ "@example.org", 0, 0 },
		{ "alice@", 0, 0 },
		{ ".alice@example.org", 0, 0 },
		{ "al..ice@example.org", 0, 0 },
		{ "al ice@example.org", 0, 0 },
		{ "\"al ice\"@example.org", 0, 0 },
		{ "alice@exa mple.org", 0, 0 },
		{ "alice@example.org\0x", 19, 0 },
	};
	static const struct syn uri[] = {
		{ "https://login.example.org/path?q=1#f", 0, 1 },
		{ "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", 0, 1 },
		{ "http://x/%41", 0, 1 },
		{ "http://x/%4", 0, 0 },
		{ "//no.scheme.example/", 0, 0 },
		{ "https:", 0, 0 },
		{ "1http://x", 0, 0 },
		{ "http://x/a b", 0, 0 },
		{ "http://x/<script>", 0, 0 },
		{ "http://x/\r\nX: y", 0, 0 },
		{ "http://x/\0y", 10, 0 },
	};
	const char *why = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(mail); i++)
		if (profile_email_ok((const unsigned char *)mail[i].v,
		        syn_len(&mail[i]), &why) != mail[i].ok)
			fail_msg("rfc822Name %s: want %d", mail[i].v,
			    mail[i].ok);
	for (i = 0; i < NELEM(uri); i++)
		if (profile_uri_ok((const unsigned char *)uri[i].v,
		        syn_len(&uri[i]), &why) != uri[i].ok)
			fail_msg("URI %zu %s: want %d", i, uri[i].v, uri[i].ok);
}

static void
test_ip(void **state)
{
	static const unsigned char a[16] = { 10, 0, 0, 1, 5 };
	const int lens[] = { 4, 16, 5, 0, 3, 8 };
	const char *why = NULL;
	GENERAL_NAME *gn;
	ASN1_OCTET_STRING *os;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(lens); i++) {
		assert_non_null(gn = GENERAL_NAME_new());
		assert_non_null(os = ASN1_OCTET_STRING_new());
		assert_true(ASN1_OCTET_STRING_set(os, a, lens[i]));
		GENERAL_NAME_set0_value(gn, GEN_IPADD, os);
		assert_int_equal(profile_gn_ok(gn, 0, &why),
		    lens[i] == 4 || lens[i] == 16);
		GENERAL_NAME_free(gn);
	}
}

/* A name of one attribute: nid, string type, value of len bytes. */
static X509_NAME *
name1(int nid, int type, const char *v, int len)
{
	X509_NAME *n = X509_NAME_new();
	ASN1_STRING *s = ASN1_STRING_type_new(type);
	X509_NAME_ENTRY *e = NULL;

	if (n == NULL || s == NULL || !ASN1_STRING_set(s, v, len) ||
	    (e = X509_NAME_ENTRY_create_by_NID(NULL, nid, type,
	         ASN1_STRING_get0_data(s), len)) == NULL ||
	    !X509_NAME_add_entry(n, e, -1, 0)) {
		X509_NAME_free(n);
		n = NULL;
	}
	X509_NAME_ENTRY_free(e);
	ASN1_STRING_free(s);
	return n;
}

static void
test_subject(void **state)
{
	static const struct {
		int nid, type;
		const char *v;
		int len, ok;
	} cases[] = {
		{ NID_commonName, V_ASN1_UTF8STRING, "device-1", 0, 1 },
		{ NID_commonName, V_ASN1_PRINTABLESTRING, "device 1", 0, 1 },
		{ NID_commonName, V_ASN1_UTF8STRING, "J\xc3\xbcrgen", 0, 1 },
		{ NID_commonName, V_ASN1_UTF8STRING, "a\x1b[31mb", 0, 0 },
		{ NID_commonName, V_ASN1_UTF8STRING, "a\r\nb", 0, 0 },
		{ NID_commonName, V_ASN1_UTF8STRING, "a\0b", 3, 0 },
		{ NID_commonName, V_ASN1_UTF8STRING, "a\xc2\x85" "b", 0, 0 },
		{ NID_commonName, V_ASN1_UTF8STRING, "\xff\xfe", 0, 0 },
		{ NID_commonName, V_ASN1_PRINTABLESTRING, "a@b", 0, 0 },
		{ NID_commonName, V_ASN1_T61STRING, "teletex", 0, 0 },
		{ NID_commonName, V_ASN1_BMPSTRING, "\0a\0b", 4, 0 },
		{ NID_commonName, V_ASN1_IA5STRING, "ia5", 0, 0 },
		{ NID_commonName, V_ASN1_UTF8STRING, "", 0, 0 },
		{ NID_organizationalUnitName, V_ASN1_UTF8STRING, "ops\n", 0,
		    0 },
		{ NID_countryName, V_ASN1_PRINTABLESTRING, "DE", 0, 1 },
		{ NID_countryName, V_ASN1_PRINTABLESTRING, "DEU", 0, 0 },
		{ NID_countryName, V_ASN1_UTF8STRING, "DE", 0, 0 },
		{ NID_countryName, V_ASN1_PRINTABLESTRING, "D1", 0, 0 },
		{ NID_serialNumber, V_ASN1_PRINTABLESTRING, "1234", 0, 1 },
		{ NID_serialNumber, V_ASN1_UTF8STRING, "1234", 0, 0 },
		{ NID_pkcs9_emailAddress, V_ASN1_IA5STRING, "a@example.org",
		    0, 1 },
		{ NID_pkcs9_emailAddress, V_ASN1_IA5STRING, "no-mail", 0, 0 },
		{ NID_pkcs9_emailAddress, V_ASN1_UTF8STRING, "a@example.org",
		    0, 0 },
		{ NID_domainComponent, V_ASN1_IA5STRING, "example", 0, 1 },
		{ NID_domainComponent, V_ASN1_IA5STRING, "a.b", 0, 0 },
		{ NID_commonName, V_ASN1_UTF8STRING,
		    "0123456789012345678901234567890123456789012345678901234567"
		    "890123", 0, 1 }, /* 64 */
		{ NID_commonName, V_ASN1_UTF8STRING,
		    "0123456789012345678901234567890123456789012345678901234567"
		    "8901234", 0, 0 }, /* 65 */
	};
	char why[256];
	X509_NAME *n;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		int len = cases[i].len != 0 ? cases[i].len
					    : (int)strlen(cases[i].v);

		assert_non_null(n = name1(cases[i].nid, cases[i].type,
				    cases[i].v, len));
		why[0] = '\0';
		if (profile_subject_syntax_ok(n, why, sizeof(why)) !=
		    cases[i].ok)
			fail_msg("subject case %zu: want %d (%s)", i,
			    cases[i].ok, why);
		if (!cases[i].ok && strstr(why, "subject attribute") == NULL)
			fail_msg("subject case %zu: why \"%s\"", i, why);
		X509_NAME_free(n);
	}
}

/* The credential's patterns: "*" stands for one label, and a pattern
 * never grants the literal "*.site.example" without wildcards. */
static void
test_scope(void **state)
{
	static const struct {
		const char *cn;
		int wildcards, ok;
	} cases[] = {
		{ "dev1.site.example", 0, 1 },
		{ "DEV1.Site.Example", 0, 1 },
		{ "a.b.site.example", 0, 0 },
		{ "site.example", 0, 0 },
		{ "*.site.example", 0, 0 },
		{ "*.*.site.example", 0, 0 },
		{ "*.site.example", 1, 1 },
		{ "*.*.site.example", 1, 0 },
		{ "www.bank.example", 0, 0 },
		{ "Site RA", 0, 0 },
	};
	struct cfg_profile prof;
	struct issue_req r;
	char why[256];
	X509_NAME *n;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		memset(&prof, 0, sizeof(prof));
		snprintf(prof.name, sizeof(prof.name), "site");
		prof.wildcards = cases[i].wildcards;
		memset(&r, 0, sizeof(r));
		r.profile = &prof;
		r.san_bound = 1;
		r.allowed_san = "DNS:*.site.example, IP:10.20.0.0/16";
		r.san_who = "RA (ra_san of the profile)";
		assert_non_null(n = name1(NID_commonName, V_ASN1_UTF8STRING,
				    cases[i].cn, (int)strlen(cases[i].cn)));
		if (profile_cn_scope_ok(&r, n, why, sizeof(why)) !=
		    cases[i].ok)
			fail_msg("CN %s (wildcards %d): want %d", cases[i].cn,
			    cases[i].wildcards, cases[i].ok);
		/* No CN at all: nothing to fall back on. */
		X509_NAME_free(n);
	}
	assert_non_null(n = name1(NID_organizationName, V_ASN1_UTF8STRING,
			    "Site", 4));
	assert_int_equal(profile_cn_scope_ok(&r, n, why, sizeof(why)), 1);
	X509_NAME_free(n);
}

/* Reserved names compare canonically: case and inner spaces folded. */
static void
test_reserved(void **state)
{
	STACK_OF(X509_NAME) *sk = sk_X509_NAME_new_null();
	X509_NAME *ca = ca_name_parse("/O=cmpca/CN=cmpca Demo CA");
	X509_NAME *v1 = ca_name_parse("/O=CMPCA/CN=CMPCA  demo   ca");
	X509_NAME *v2 = ca_name_parse("/O=cmpca/CN= cmpca Demo CA ");
	X509_NAME *other = ca_name_parse("/O=cmpca/CN=cmpca Demo CA 2");
	X509_NAME *order = ca_name_parse("/CN=cmpca Demo CA/O=cmpca");

	(void)state;
	assert_non_null(sk);
	assert_non_null(ca);
	assert_non_null(v1);
	assert_non_null(v2);
	assert_non_null(other);
	assert_non_null(order);
	assert_true(sk_X509_NAME_push(sk, ca));
	assert_int_equal(profile_name_reserved(sk, NULL, ca), 1);
	assert_int_equal(profile_name_reserved(sk, NULL, v1), 1);
	assert_int_equal(profile_name_reserved(sk, NULL, v2), 1);
	assert_int_equal(profile_name_reserved(sk, NULL, other), 0);
	assert_int_equal(profile_name_reserved(sk, NULL, order), 0);
	assert_int_equal(profile_name_reserved(NULL, NULL, v1), 0);
	sk_X509_NAME_pop_free(sk, X509_NAME_free);
	X509_NAME_free(v1);
	X509_NAME_free(v2);
	X509_NAME_free(other);
	X509_NAME_free(order);
}

/* A template with the extensions of conf section [ev] (openssl.cnf). */
static CRMF_CERTTEMPLATE *
tmpl_with(const char *conf_text)
{
	CRMF_CERTTEMPLATE *t = CRMF_CERTTEMPLATE_new();
	CONF *conf = NCONF_new(NULL);
	BIO *b = BIO_new_mem_buf(conf_text, -1);
	X509V3_CTX ctx;
	long eline;

	assert_non_null(t);
	assert_non_null(conf);
	assert_non_null(b);
	assert_true(NCONF_load_bio(conf, b, &eline));
	BIO_free(b);
	X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, X509V3_CTX_TEST);
	X509V3_set_nconf(&ctx, conf);
	assert_true(X509V3_EXT_add_nconf_sk(conf, &ctx, "ev",
	    &t->extensions));
	NCONF_free(conf);
	return t;
}

/*
 * certificatePolicies by allow-list (finding 10): refused, or dropped
 * with the drop named; a taken policy merged into the profile's own,
 * identifiers only, as critical as the profile's; a copied extension
 * never as critical as the request says (finding 9).
 */
static void
test_policies(void **state)
{
	static const char req_text[] =
	    "[ev]\ncertificatePolicies = 1.3.6.1.4.1.99999.7, 1.2.3.4\n"
	    "1.3.6.1.4.1.99999.42 = critical,DER:0500\n"
	    "nsComment = hello\n";
	struct cfg_profile prof;
	struct issue_req r;
	CRMF_CERTTEMPLATE *t = tmpl_with(req_text);
	X509 *x = X509_new();
	X509_EXTENSION *own = NULL, *out = NULL;
	CERTIFICATEPOLICIES *pol;
	POLICYINFO *pi;
	char why[256], mods[256];
	int fail, i;

	(void)state;
	assert_non_null(x);
	memset(&prof, 0, sizeof(prof));
	snprintf(prof.name, sizeof(prof.name), "pol");
	snprintf(prof.policies[0], CFG_OID_MAX, "1.3.6.1.4.1.99999.7");
	snprintf(prof.policies[1], CFG_OID_MAX, "1.3.6.1.4.1.99999.1");
	prof.npolicies = 2;
	snprintf(prof.copy_exts[0], CFG_OID_MAX, "1.3.6.1.4.1.99999.42");
	prof.ncopy_exts = 1;
	memset(&r, 0, sizeof(r));
	r.tmpl = t;
	r.profile = &prof;
	r.mods_buf = mods;
	r.mods_len = sizeof(mods);
	/* refuse: the first thing not taken is named. */
	assert_int_equal(profile_exts_check(&r, &fail, why, sizeof(why)), 0);
	assert_int_equal(fail, CMP_FAIL_BAD_CERT_TEMPLATE);
	assert_string_equal(why,
	    "certificatePolicies 1.2.3.4 not allowed by profile pol");
	/* drop: both named, in order. */
	prof.drop_exts = 1;
	assert_int_equal(profile_exts_check(&r, &fail, why, sizeof(why)), 1);
	assert_string_equal(mods, "profile pol dropped: certificatePolicies "
	    "1.2.3.4, extension nsComment");
	/* The profile's own policy, critical; the requested one added. */
	assert_non_null(pol = sk_POLICYINFO_new_null());
	assert_non_null(pi = POLICYINFO_new());
	ASN1_OBJECT_free(pi->policyid);
	assert_non_null(pi->policyid = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1));
	assert_true(sk_POLICYINFO_push(pol, pi));
	assert_non_null(own = X509V3_EXT_i2d(NID_certificate_policies, 1,
	    pol));
	CERTIFICATEPOLICIES_free(pol);
	assert_true(X509_add_ext(x, own, -1));
	for (i = 0; i < sk_X509_EXTENSION_num(t->extensions); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(t->extensions, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));

		assert_true(profile_ext_copy(&r, e, x, &out));
		if (nid == NID_certificate_policies) {
			assert_non_null(out);
			assert_int_equal(X509_EXTENSION_get_critical(out), 1);
			assert_non_null(pol = X509V3_EXT_d2i(out));
			assert_int_equal(sk_POLICYINFO_num(pol), 2);
			assert_int_equal(OBJ_obj2nid(sk_POLICYINFO_value(pol,
			    0)->policyid), NID_undef);
			CERTIFICATEPOLICIES_free(pol);
		} else if (nid == NID_netscape_comment)
			assert_null(out); /* dropped */
		else {
			/* the private OID: copied, not critical */
			assert_non_null(out);
			assert_int_equal(X509_EXTENSION_get_critical(out), 0);
		}
		X509_EXTENSION_free(out);
	}
	X509_EXTENSION_free(own);
	X509_free(x);
	CRMF_CERTTEMPLATE_free(t);
}

/* A copied extension OpenSSL does not know: one well-formed DER value. */
static void
test_unknown_der(void **state)
{
	static const struct {
		const char *der;
		int ok;
	} cases[] = {
		{ "DER:0500", 1 },
		{ "DER:3006010101020100", 1 },
		{ "DER:3005", 0 },            /* length past the end */
		{ "DER:05000500", 0 },        /* two values */
		{ "DER:30800201000000", 0 }, /* indefinite length (BER) */
		{ "DER:3003020500", 0 },      /* inner length past its parent */
	};
	struct cfg_profile prof;
	struct issue_req r;
	CRMF_CERTTEMPLATE *t;
	char text[128], why[256];
	int fail;
	size_t i;

	(void)state;
	memset(&prof, 0, sizeof(prof));
	snprintf(prof.name, sizeof(prof.name), "x");
	snprintf(prof.copy_exts[0], CFG_OID_MAX, "1.3.6.1.4.1.99999.42");
	prof.ncopy_exts = 1;
	for (i = 0; i < NELEM(cases); i++) {
		snprintf(text, sizeof(text), "[ev]\n1.3.6.1.4.1.99999.42 = %s\n",
		    cases[i].der);
		t = tmpl_with(text);
		memset(&r, 0, sizeof(r));
		r.tmpl = t;
		r.profile = &prof;
		if (profile_exts_check(&r, &fail, why, sizeof(why)) !=
		    cases[i].ok)
			fail_msg("%s: want %d (%s)", cases[i].der, cases[i].ok,
			    why);
		CRMF_CERTTEMPLATE_free(t);
	}
}

int
main(void)
{
	const struct CMUnitTest names[] = {
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_email_uri),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_policies),
		cmocka_unit_test(test_unknown_der),
	};

	return cmocka_run_group_tests_name("names", names, NULL, NULL) != 0;
}
