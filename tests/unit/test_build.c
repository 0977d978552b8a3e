/*
 * test_build.c - the certificate builder (ca/issue/cert_build.c), one
 * test per kind, linked into test_engine (its group set-up opens the
 * SoftHSM token the serial numbers come from: test_build_hsm).
 *
 * Each certificate is read back from its DER, the way a relying party
 * gets it, and checked for what a relying party checks: the signature
 * with the issuer's key, basicConstraints and keyUsage (and their
 * criticality), extendedKeyUsage, SKI and AKI matching the issuer's
 * SKI, the per-CA URLs, validity inside the issuer's, the serial, and a
 * path to the trust anchor with OpenSSL's verifier. Issuer keys are in
 * software: the builder signs with whatever EVP_PKEY it is given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"
#include "tests/unit/test_build.h"

#define OK(x) assert_true(x)
#define DAY 86400L

struct hsm *test_build_hsm;

static X509_NAME *
name_of(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	OK(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
	    (const unsigned char *)"cmpca build tests", -1, -1, 0));
	OK(X509_NAME_add_entry_by_txt(
	    n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0));
	return n;
}

/* x as a relying party reads it: decoded from its DER (x is freed). */
static X509 *
reread(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len;
	X509 *y;

	assert_non_null(x);
	OK((len = i2d_X509(x, &der)) > 0);
	p = der;
	assert_non_null(y = d2i_X509(NULL, &p, len));
	OK(p == der + len);
	OPENSSL_free(der);
	X509_free(x);
	/* Computes the cached extension flags; fails on a bad extension. */
	OK((X509_get_extension_flags(y) & EXFLAG_INVALID) == 0);
	return y;
}

/* Criticality of x's extension nid: 1, 0, or -1 when absent. */
static int
crit_of(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	if (i < 0)
		return -1;
	OK(X509_get_ext_by_NID(x, nid, i) < 0); /* once only */
	return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* What every kind shares: v3, a positive serial of 16 octets (at most
 * 20, RFC 5280 §4.1.2.2), the signature with issuer_key, the SKI the
 * SHA-1 of x's key unless ski is given, the AKI the issuer's SKI, and
 * validity inside the issuer's. */
static void
check_common(X509 *x, X509 *issuer, EVP_PKEY *issuer_key,
    const ASN1_OCTET_STRING *ski)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	const ASN1_OCTET_STRING *got = X509_get0_subject_key_id(x);
	const unsigned char *bits;
	unsigned char md[SHA_DIGEST_LENGTH];
	BIGNUM *bn;
	int blen;

	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_non_null(bn = ASN1_INTEGER_to_BN(serial, NULL));
	OK(!BN_is_negative(bn) && !BN_is_zero(bn));
	assert_int_equal(BN_num_bytes(bn), 16);
	BN_free(bn);
	assert_int_equal(X509_verify(x, issuer_key), 1);
	assert_int_equal(crit_of(x, NID_subject_key_identifier), 0);
	assert_non_null(got);
	if (ski != NULL)
		assert_int_equal(ASN1_OCTET_STRING_cmp(got, ski), 0);
	else {
		X509_PUBKEY_get0_param(NULL, &bits, &blen, NULL,
		    X509_get_X509_PUBKEY(x));
		OK(SHA1(bits, (size_t)blen, md) != NULL);
		assert_int_equal(ASN1_STRING_length(got), SHA_DIGEST_LENGTH);
		assert_memory_equal(ASN1_STRING_get0_data(got), md,
		    SHA_DIGEST_LENGTH);
	}
	assert_int_equal(crit_of(x, NID_authority_key_identifier), 0);
	assert_non_null(X509_get0_authority_key_id(x));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
	    X509_get0_subject_key_id(issuer != NULL ? issuer : x)), 0);
	if (issuer != NULL) {
		assert_int_equal(X509_check_issued(issuer, x), X509_V_OK);
		OK(ASN1_TIME_compare(X509_get0_notAfter(x),
		    X509_get0_notAfter(issuer)) <= 0);
	}
	OK(ASN1_TIME_compare(X509_get0_notBefore(x),
	    X509_get0_notAfter(x)) < 0);
}

/* A CA certificate of ours: cA TRUE (critical) with pathLen, and
 * keyUsage (critical) exactly ku. */
static void
check_ca(X509 *x, long pathlen, uint32_t ku)
{
	assert_int_equal(crit_of(x, NID_basic_constraints), 1);
	OK(X509_get_extension_flags(x) & EXFLAG_CA);
	assert_int_equal(X509_get_pathlen(x), pathlen);
	assert_int_equal(crit_of(x, NID_key_usage), 1);
	assert_int_equal(X509_get_key_usage(x), ku);
}

#define KU_CA (KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE)

/* Days from notBefore to notAfter. */
static int
days_of(X509 *x)
{
	int days = 0, secs = 0;

	OK(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)));
	return days;
}

/* A root by the builder, with a software key (*key, new). */
static X509 *
root_new(const char *cn, long days, EVP_PKEY **key)
{
	struct ca_ident iss;
	struct cert_req req = { .kind = CERT_CA_ROOT, .days = days,
		.pathlen = -1 };
	X509_NAME *n = name_of(cn);
	X509 *x;

	assert_non_null(*key = EVP_EC_gen("P-256"));
	req.subject = n;
	req.pubkey = *key;
	cert_issuer_init(&iss, cn, NULL, *key);
	x = reread(cert_build(test_build_hsm, &iss, &req));
	X509_NAME_free(n);
	return x;
}

/* Does leaf verify up to anchor through untrusted (may be NULL)? */
static int
path_ok(X509 *anchor, X509 *untrusted, X509 *leaf)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *sk = sk_X509_new_null();
	int ok;

	OK(st != NULL && ctx != NULL && sk != NULL);
	OK(X509_STORE_add_cert(st, anchor));
	if (untrusted != NULL)
		OK(sk_X509_push(sk, untrusted));
	OK(X509_STORE_CTX_init(ctx, st, leaf, sk));
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	ok = X509_verify_cert(ctx) == 1;
	if (!ok)
		print_message("verify: %s\n", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	sk_X509_free(sk);
	X509_STORE_free(st);
	ERR_clear_error();
	return ok;
}

/* A self-signed root: cA without pathLen, keyCertSign, cRLSign and
 * digitalSignature (the CA key signs CMP responses), AKI = its own SKI,
 * no extendedKeyUsage, nothing else; a trust anchor for itself. */
static void
test_build_root(void **state)
{
	EVP_PKEY *k;
	X509 *x;

	(void)state;
	x = root_new("Build Root", 3650, &k);
	check_common(x, NULL, k, NULL);
	check_ca(x, -1, KU_CA);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_issuer_name(x)), 0);
	assert_int_equal(crit_of(x, NID_ext_key_usage), -1);
	assert_int_equal(X509_get_ext_count(x), 4);
	assert_int_equal(days_of(x), 3650);
	OK(path_ok(x, NULL, x));
	X509_free(x);
	EVP_PKEY_free(k);
}

/* A subordinate: pathLen as asked, AKI = the root's SKI, notAfter cut
 * to the root's (asked for 100 years) and to cap when earlier. */
static void
test_build_sub(void **state)
{
	struct ca_ident iss;
	struct cert_req req = { .kind = CERT_CA_SUB, .days = 36500,
		.pathlen = 0 };
	EVP_PKEY *rk, *sk;
	X509_NAME *n = name_of("Build Sub");
	X509 *root, *x;
	time_t cap = time(NULL) + 10 * DAY;

	(void)state;
	root = root_new("Build Root", 3650, &rk);
	assert_non_null(sk = EVP_EC_gen("P-256"));
	req.subject = n;
	req.pubkey = sk;
	cert_issuer_init(&iss, "root", root, rk);
	x = reread(cert_build(test_build_hsm, &iss, &req));
	check_common(x, root, rk, NULL);
	check_ca(x, 0, KU_CA);
	assert_int_equal(X509_get_ext_count(x), 4);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x),
	    X509_get0_notAfter(root)), 0);
	OK(path_ok(root, NULL, x));
	X509_free(x);
	req.cap = cap;
	x = reread(cert_build(test_build_hsm, &iss, &req));
	assert_int_equal(ca_time_of(X509_get0_notAfter(x)), cap);
	X509_free(x);
	X509_free(root);
	X509_NAME_free(n);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(sk);
}

/* A cross certificate: the other CA's name, key and own SKI (so its
 * certificates' AKI matches), keyCertSign and cRLSign only, the
 * partner's pathLen, name constraints (critical), policies, policy
 * constraints and EKU, notAfter no later than the request asked; a
 * subordinate of the other CA verifies to our root through it. */
static void
test_build_cross(void **state)
{
	struct db_partner p;
	struct ca_ident ca;
	struct cert_req req = { .kind = CERT_CA_SUB, .days = 365,
		.pathlen = 0 };
	EVP_PKEY *rk, *ok_, *sk;
	X509 *root, *other, *x, *sub;
	X509_NAME *n = name_of("Partner Sub");
	ASN1_TIME *want;
	NAME_CONSTRAINTS *nc;
	CERTIFICATEPOLICIES *cp;
	const GENERAL_SUBTREE *st;

	(void)state;
	root = root_new("Build Root", 3650, &rk);
	other = root_new("Partner Root", 3650, &ok_);
	memset(&p, 0, sizeof(p));
	p.path_len = 1;
	p.permitted = (char *)"dns:.partner.example";
	p.policies = (char *)"1.3.6.1.4.1.99999.7";
	p.require_explicit = -1;
	p.inhibit_mapping = 1;
	p.eku = (char *)"serverAuth";
	p.days = 365;
	cert_issuer_init(&ca, "root", root, rk);
	assert_non_null(want = ASN1_TIME_adj(NULL, time(NULL), 20, 0));
	x = reread(cross_cert_issue(&ca, test_build_hsm, other, &p, want));
	check_common(x, root, rk, X509_get0_subject_key_id(other));
	check_ca(x, 1, KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_subject_name(other)), 0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), ok_), 1);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x), want), 0);
	assert_int_equal(crit_of(x, NID_name_constraints), 1);
	assert_non_null(nc = X509_get_ext_d2i(x, NID_name_constraints, NULL,
	    NULL));
	assert_int_equal(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees), 1);
	assert_null(nc->excludedSubtrees);
	st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 0);
	assert_int_equal(st->base->type, GEN_DNS);
	assert_string_equal((const char *)ASN1_STRING_get0_data(
	    st->base->d.dNSName), ".partner.example");
	NAME_CONSTRAINTS_free(nc);
	assert_int_equal(crit_of(x, NID_certificate_policies), 0);
	assert_non_null(cp = X509_get_ext_d2i(x, NID_certificate_policies,
	    NULL, NULL));
	assert_int_equal(sk_POLICYINFO_num(cp), 1);
	CERTIFICATEPOLICIES_free(cp);
	assert_int_equal(crit_of(x, NID_policy_constraints), 1);
	assert_int_equal(crit_of(x, NID_policy_mappings), -1);
	assert_int_equal(crit_of(x, NID_ext_key_usage), 0);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	assert_int_equal(X509_get_ext_count(x), 8);
	/* The partner's subordinate, seen from our root. */
	assert_non_null(sk = EVP_EC_gen("P-256"));
	req.subject = n;
	req.pubkey = sk;
	cert_issuer_init(&ca, "partner", other, ok_);
	sub = reread(cert_build(test_build_hsm, &ca, &req));
	OK(path_ok(root, x, sub));
	X509_free(sub);
	X509_free(x);
	X509_free(other);
	X509_free(root);
	ASN1_TIME_free(want);
	X509_NAME_free(n);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ok_);
	EVP_PKEY_free(sk);
}

/*
 * Root key update (RFC 9810 §4.4): newWithOld certifies the new key
 * under the old root, oldWithNew the old key under the new root, each
 * with the SKI of its key's own root and ending with the old root. A
 * relying party that trusts only the new root still validates what the
 * old key signed (through oldWithNew), and one that trusts only the old
 * root validates the new root's certificates (through newWithOld).
 */
static void
test_build_link(void **state)
{
	struct ca_ident iss;
	struct cert_req req = { .kind = CERT_CA_ROOT, .days = 3650,
		.pathlen = -1 };
	EVP_PKEY *ok_, *nk, *sk;
	X509 *old, *nwn, *nwo, *own, *sub_old, *sub_new;
	X509_NAME *sn = name_of("Build Sub");

	(void)state;
	old = root_new("Build Root", 365, &ok_);
	assert_non_null(nk = EVP_EC_gen("P-256"));
	req.subject = X509_get_subject_name(old);
	req.pubkey = nk;
	cert_issuer_init(&iss, "root", NULL, nk);
	nwn = reread(cert_build(test_build_hsm, &iss, &req));
	req.kind = CERT_LINK;
	req.cap = ca_time_of(X509_get0_notAfter(old));
	req.ski = X509_get0_subject_key_id(nwn);
	cert_issuer_init(&iss, "root", old, ok_);
	nwo = reread(cert_build(test_build_hsm, &iss, &req));
	req.pubkey = X509_get0_pubkey(old);
	req.ski = X509_get0_subject_key_id(old);
	cert_issuer_init(&iss, "root", nwn, nk);
	own = reread(cert_build(test_build_hsm, &iss, &req));

	check_common(nwo, old, ok_, X509_get0_subject_key_id(nwn));
	check_ca(nwo, -1, KU_CA);
	check_common(own, nwn, nk, X509_get0_subject_key_id(old));
	check_ca(own, -1, KU_CA);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(own), ok_), 1);
	OK(ASN1_TIME_compare(X509_get0_notAfter(own),
	    X509_get0_notAfter(old)) <= 0);
	OK(ASN1_TIME_compare(X509_get0_notAfter(nwo),
	    X509_get0_notAfter(old)) <= 0);

	req = (struct cert_req){ .kind = CERT_CA_SUB, .subject = sn,
		.days = 30, .pathlen = 0 };
	assert_non_null(sk = EVP_EC_gen("P-256"));
	req.pubkey = sk;
	cert_issuer_init(&iss, "root", old, ok_);
	sub_old = reread(cert_build(test_build_hsm, &iss, &req));
	cert_issuer_init(&iss, "root", nwn, nk);
	sub_new = reread(cert_build(test_build_hsm, &iss, &req));
	OK(path_ok(nwn, own, sub_old));
	OK(path_ok(old, nwo, sub_new));
	X509_free(sub_old);
	X509_free(sub_new);
	X509_free(old);
	X509_free(nwn);
	X509_free(nwo);
	X509_free(own);
	X509_NAME_free(sn);
	EVP_PKEY_free(ok_);
	EVP_PKEY_free(nk);
	EVP_PKEY_free(sk);
}

/* A delegated OCSP signer (RFC 6960 §4.2.2.2): cA FALSE (critical),
 * digitalSignature only (critical), id-kp-OCSPSigning only, and
 * id-pkix-ocsp-nocheck (not critical, a NULL). */
static void
test_build_ocsp(void **state)
{
	static const unsigned char null_der[] = { 0x05, 0x00 };
	struct ca_ident iss;
	struct cert_req req = { .kind = CERT_OCSP, .days = 30 };
	EVP_PKEY *rk, *k;
	X509_NAME *n = name_of("Build Root OCSP Signer");
	X509 *root, *x;
	const ASN1_OCTET_STRING *v;

	(void)state;
	root = root_new("Build Root", 3650, &rk);
	assert_non_null(k = EVP_EC_gen("P-256"));
	req.subject = n;
	req.pubkey = k;
	cert_issuer_init(&iss, "root", root, rk);
	x = reread(cert_build(test_build_hsm, &iss, &req));
	check_common(x, root, rk, NULL);
	assert_int_equal(crit_of(x, NID_basic_constraints), 1);
	OK((X509_get_extension_flags(x) & EXFLAG_CA) == 0);
	assert_int_equal(crit_of(x, NID_key_usage), 1);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(crit_of(x, NID_ext_key_usage), 0);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_OCSP_SIGN);
	assert_int_equal(crit_of(x, NID_id_pkix_OCSP_noCheck), 0);
	v = X509_EXTENSION_get_data(X509_get_ext(x,
	    X509_get_ext_by_NID(x, NID_id_pkix_OCSP_noCheck, -1)));
	assert_int_equal(ASN1_STRING_length(v), 2);
	assert_memory_equal(ASN1_STRING_get0_data(v), null_der, 2);
	assert_int_equal(X509_get_ext_count(x), 6);
	assert_int_equal(days_of(x), 30);
	assert_int_equal(X509_check_purpose(x, X509_PURPOSE_OCSP_HELPER, 0),
	    1);
	X509_free(x);
	X509_free(root);
	X509_NAME_free(n);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(k);
}

/*
 * keyUsage follows the subject key (RFC 8813 §3, RFC 4055): a profile
 * section with digitalSignature and keyEncipherment gives an EC key
 * digitalSignature only and an RSA key both; a section that leaves an EC
 * key nothing is refused; a request asking for keyEncipherment with an EC
 * key is refused by the profile check, with an RSA key allowed. And a
 * section without key identifiers still gives SKI and AKI.
 */
static void
test_build_ee_ku_fit(void **state)
{
	static const char conf_text[] =
	    "[e]\nbasicConstraints = critical,CA:FALSE\n"
	    "keyUsage = critical,digitalSignature,keyEncipherment\n"
	    "subjectKeyIdentifier = hash\n"
	    "authorityKeyIdentifier = keyid:always\n"
	    "[enc]\nkeyUsage = critical,keyEncipherment\n"
	    "[bare]\nbasicConstraints = critical,CA:FALSE\n";
	struct cfg_profile prof;
	struct ca_ident ca;
	struct issue_req r;
	CRMF_CERTTEMPLATE *t;
	CONF *conf = NCONF_new(NULL);
	BIO *b = BIO_new_mem_buf(conf_text, -1);
	EVP_PKEY *rk, *ec, *rsa;
	X509 *root, *x;
	X509_EXTENSION *ku;
	char why[256];
	long eline;
	int fail = 0;

	(void)state;
	OK(conf != NULL && b != NULL && NCONF_load_bio(conf, b, &eline));
	BIO_free(b);
	root = root_new("Build Root", 3650, &rk);
	assert_non_null(ec = EVP_EC_gen("P-256"));
	assert_non_null(rsa = EVP_RSA_gen(2048));
	memset(&prof, 0, sizeof(prof));
	snprintf(prof.name, sizeof(prof.name), "build");
	prof.days = 30;
	prof.ext_section = (char *)"e";
	prof.copy_key_usage = 1;
	prof.ku_allowed = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
	cert_issuer_init(&ca, "sub1", root, rk);
	assert_non_null(t = CRMF_CERTTEMPLATE_new());
	assert_non_null(t->subject = name_of("ee.example"));
	memset(&r, 0, sizeof(r));
	r.tmpl = t;
	r.profile = &prof;
	r.conf = conf;

	OK(cmp_spki_set(&t->publicKey, ec));
	x = reread(cmp_cert_issue(&r, &ca, test_build_hsm));
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(crit_of(x, NID_key_usage), 1);
	X509_free(x);
	OK(cmp_spki_set(&t->publicKey, rsa));
	x = reread(cmp_cert_issue(&r, &ca, test_build_hsm));
	assert_int_equal(X509_get_key_usage(x),
	    KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	X509_free(x);
	/* Another section under the same profile: not from the cache. */
	cmp_issue_ext_cache(0);
	prof.ext_section = (char *)"enc";
	OK(cmp_spki_set(&t->publicKey, ec));
	assert_null(cmp_cert_issue(&r, &ca, test_build_hsm));
	ERR_clear_error();
	/* A section without key identifiers: the builder adds both, the
	 * AKI naming the issuer's SKI. */
	prof.ext_section = (char *)"bare";
	x = reread(cmp_cert_issue(&r, &ca, test_build_hsm));
	assert_non_null(X509_get0_subject_key_id(x));
	assert_non_null(X509_get0_authority_key_id(x));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
	    X509_get0_subject_key_id(root)), 0);
	assert_int_equal(crit_of(x, NID_subject_key_identifier), 0);
	assert_int_equal(crit_of(x, NID_authority_key_identifier), 0);
	X509_free(x);
	cmp_issue_ext_cache(1);

	/* What a request asks for. */
	prof.ext_section = (char *)"e";
	assert_non_null(t->extensions = sk_X509_EXTENSION_new_null());
	assert_non_null(ku = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
	    "digitalSignature,keyEncipherment"));
	OK(sk_X509_EXTENSION_push(t->extensions, ku));
	r.pubkey = ec;
	assert_int_equal(profile_exts_check(&r, &fail, why, sizeof(why)), 0);
	assert_string_equal(why, "keyUsage keyEncipherment does not fit an EC "
	    "key (RFC 8813, RFC 4055)");
	r.pubkey = rsa;
	assert_int_equal(profile_exts_check(&r, &fail, why, sizeof(why)), 1);

	CRMF_CERTTEMPLATE_free(t);
	NCONF_free(conf);
	X509_free(root);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}

/*
 * An end entity under a profile: the profile's section (cA FALSE,
 * keyUsage, EKU, SKI, AKI), the CRL and OCSP URLs naming the issuing CA
 * ("%{ca}") and its key's CRL ("%{crl}"), and the subjectAltName the
 * request asked for (copied, not critical); it verifies to the root.
 */
static void
test_build_ee(void **state)
{
	static const char conf_text[] =
	    "[e]\nbasicConstraints = critical,CA:FALSE\n"
	    "keyUsage = critical,digitalSignature\n"
	    "extendedKeyUsage = clientAuth\n"
	    "subjectKeyIdentifier = hash\n"
	    "authorityKeyIdentifier = keyid:always\n";
	struct cfg_profile prof;
	struct ca_ident ca;
	struct issue_req r;
	CRMF_CERTTEMPLATE *t;
	CONF *conf = NCONF_new(NULL);
	BIO *b = BIO_new_mem_buf(conf_text, -1);
	EVP_PKEY *rk, *k;
	X509 *root, *x;
	X509_EXTENSION *san;
	CRL_DIST_POINTS *cdp;
	AUTHORITY_INFO_ACCESS *aia;
	const ACCESS_DESCRIPTION *ad;
	const GENERAL_NAME *gn;
	long eline;

	(void)state;
	OK(conf != NULL && b != NULL && NCONF_load_bio(conf, b, &eline));
	BIO_free(b);
	root = root_new("Build Root", 3650, &rk);
	assert_non_null(k = EVP_EC_gen("P-256"));
	memset(&prof, 0, sizeof(prof));
	snprintf(prof.name, sizeof(prof.name), "build");
	prof.days = 30;
	prof.ext_section = (char *)"e";
	prof.copy_san = 1;
	prof.san_types = CFG_SAN_DNS;
	prof.crl_url = (char *)"http://crl.example/%{crl}.crl";
	prof.ocsp_url = (char *)"http://ocsp.example/%{ca}";
	cert_issuer_init(&ca, "sub1", root, rk);
	snprintf(ca.crl_name, sizeof(ca.crl_name), "sub1-k20261202000000");
	assert_non_null(t = CRMF_CERTTEMPLATE_new());
	assert_non_null(t->subject = name_of("ee.example"));
	OK(cmp_spki_set(&t->publicKey, k));
	assert_non_null(t->extensions = sk_X509_EXTENSION_new_null());
	assert_non_null(san = X509V3_EXT_conf_nid(NULL, NULL,
	    NID_subject_alt_name, "DNS:ee.example"));
	OK(sk_X509_EXTENSION_push(t->extensions, san));
	memset(&r, 0, sizeof(r));
	r.tmpl = t;
	r.profile = &prof;
	r.conf = conf;
	x = reread(cmp_cert_issue(&r, &ca, test_build_hsm));
	check_common(x, root, rk, NULL);
	assert_int_equal(crit_of(x, NID_basic_constraints), 1);
	OK((X509_get_extension_flags(x) & EXFLAG_CA) == 0);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
	assert_int_equal(crit_of(x, NID_subject_alt_name), 0);
	assert_non_null(cdp = X509_get_ext_d2i(x, NID_crl_distribution_points,
	    NULL, NULL));
	gn = sk_GENERAL_NAME_value(sk_DIST_POINT_value(cdp, 0)
	    ->distpoint->name.fullname, 0);
	assert_int_equal(gn->type, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(
	    gn->d.uniformResourceIdentifier),
	    "http://crl.example/sub1-k20261202000000.crl");
	CRL_DIST_POINTS_free(cdp);
	assert_non_null(aia = X509_get_ext_d2i(x, NID_info_access, NULL,
	    NULL));
	assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 1);
	ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
	assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_OCSP);
	assert_string_equal((const char *)ASN1_STRING_get0_data(
	    ad->location->d.uniformResourceIdentifier),
	    "http://ocsp.example/sub1");
	AUTHORITY_INFO_ACCESS_free(aia);
	assert_int_equal(X509_get_ext_count(x), 8);
	assert_int_equal(days_of(x), 30);
	OK(path_ok(root, NULL, x));
	X509_free(x);
	CRMF_CERTTEMPLATE_free(t);
	NCONF_free(conf);
	X509_free(root);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(k);
}

/* Inputs that do not fit the kind build nothing: a root with an issuer
 * certificate, a subordinate without one, extensions handed to any kind
 * but a cross certificate. */
static void
test_build_refuses(void **state)
{
	struct ca_ident iss;
	struct cert_req req = { .kind = CERT_CA_ROOT, .days = 30,
		.pathlen = -1 };
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	EVP_PKEY *rk, *k;
	X509_NAME *n = name_of("Refused");
	X509 *root;

	(void)state;
	assert_non_null(exts);
	root = root_new("Build Root", 3650, &rk);
	assert_non_null(k = EVP_EC_gen("P-256"));
	req.subject = n;
	req.pubkey = k;
	cert_issuer_init(&iss, "root", root, rk);
	assert_null(cert_build(test_build_hsm, &iss, &req));
	req.kind = CERT_CA_SUB;
	cert_issuer_init(&iss, "root", NULL, rk);
	assert_null(cert_build(test_build_hsm, &iss, &req));
	req.kind = CERT_OCSP;
	req.exts = exts;
	cert_issuer_init(&iss, "root", root, rk);
	assert_null(cert_build(test_build_hsm, &iss, &req));
	req.kind = CERT_CROSS;
	X509_free(reread(cert_build(test_build_hsm, &iss, &req)));
	sk_X509_EXTENSION_free(exts);
	X509_NAME_free(n);
	X509_free(root);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(k);
}

const struct CMUnitTest test_build_cases[] = {
	cmocka_unit_test(test_build_root),
	cmocka_unit_test(test_build_sub),
	cmocka_unit_test(test_build_cross),
	cmocka_unit_test(test_build_link),
	cmocka_unit_test(test_build_ocsp),
	cmocka_unit_test(test_build_ee),
	cmocka_unit_test(test_build_ee_ku_fit),
	cmocka_unit_test(test_build_refuses),
};
const size_t test_build_ncases =
    sizeof(test_build_cases) / sizeof(test_build_cases[0]);
