/*
 * test_engine_sig.c - requests protected by a signature: an IDevID
 * enrolling under an external trust anchor (part of test_engine, see
 * test_engine.c).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tests/unit/cfglog.h"
#include "tests/unit/test_engine.h"

/* A name from "/A=v/B=w" (openssl -subj syntax). */
static X509_NAME *
name_of(const char *s)
{
	X509_NAME *n = ca_name_parse(s);

	assert_non_null(n);
	return n;
}

/* A certificate for key, signed by ca_key (issuer: ca, or itself). */
static X509 *
cert_make(const char *subj, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key)
{
	X509 *x = X509_new();
	X509_NAME *n = name_of(subj);
	X509_EXTENSION *e;
	X509V3_CTX v3;

	assert_non_null(x);
	OK(X509_set_version(x, X509_VERSION_3) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 4711) &&
	    X509_set_subject_name(x, n) &&
	    X509_set_issuer_name(x, ca != NULL ? X509_get_subject_name(ca) : n) &&
	    X509_set_pubkey(x, key) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL);
	X509V3_set_ctx(&v3, ca != NULL ? ca : x, x, NULL, NULL, 0);
	assert_non_null(e = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
	    ca != NULL ? "critical,digitalSignature"
	               : "critical,keyCertSign,cRLSign"));
	OK(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	assert_non_null(e = X509V3_EXT_conf_nid(NULL, &v3,
	    NID_basic_constraints, ca != NULL ? "CA:FALSE" : "critical,CA:TRUE"));
	OK(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	OK(X509_sign(x, ca_key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

/* Signature protection of m by cert and key (RFC 9483 §3.2): sender,
 * protectionAlg, protection, the certificate first in extraCerts. */
static void
sig_protect(CMP_MSG *m, X509 *cert, EVP_PKEY *key)
{
	CMP_PROTECTEDPART pp;

	gn_dirname(&m->header->sender, X509_get_subject_name(cert));
	assert_non_null(m->header->protectionAlg = X509_ALGOR_new());
	assert_non_null(m->protection = ASN1_BIT_STRING_new());
	assert_non_null(m->extraCerts = sk_X509_new_null());
	OK(X509_up_ref(cert) && sk_X509_push(m->extraCerts, cert));
	pp.header = m->header;
	pp.body = m->body;
	OK(ASN1_item_sign(ASN1_ITEM_rptr(CMP_PROTECTEDPART),
	    m->header->protectionAlg, NULL, m->protection, &pp, key,
	    EVP_sha256()) > 0);
}

/* An ir for subject (and one SAN, or none) signed with cert and key,
 * sent to srv; the ip's first response is checked for fail (-1: the
 * certificate is returned). *q is the request's. */
static X509 *
sig_ir(struct cmp_srv *srv, struct rq *q, X509 *cert, EVP_PKEY *key,
    const char *subject, const char *san, int fail, const char *text)
{
	struct cmp_srv *saved = fx.srv;
	X509_NAME *n = name_of(subject);
	X509_EXTENSION *e;
	const CMP_CERTRESPONSE *cr;
	CMP_MSG *m, *resp;

	rq_init(q);
	q->ref = NULL;
	q->secret = NULL;
	q->subject = n;
	assert_non_null(q->key = EVP_EC_gen("P-256"));
	assert_non_null(q->exts = sk_X509_EXTENSION_new_null());
	if (san != NULL) {
		assert_non_null(e = X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, san));
		OK(sk_X509_EXTENSION_push(q->exts, e));
	} else {
		assert_non_null(e = X509V3_EXT_conf_nid(NULL, NULL,
		    NID_key_usage, "digitalSignature"));
		OK(sk_X509_EXTENSION_push(q->exts, e));
	}
	m = req_new(q);
	sk_X509_EXTENSION_pop_free(q->exts, X509_EXTENSION_free);
	q->exts = NULL;
	X509_NAME_free(n);
	q->subject = NULL;
	sig_protect(m, cert, key);
	fx.srv = srv;
	resp = run(m, NULL);
	fx.srv = saved;
	if (fail < 0) {
		X509 *x = ip_cert(resp, 0, 0);

		/* The subject asked for and the key of the request. */
		assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x),
		    q->subject = name_of(subject)), 0);
		X509_NAME_free((X509_NAME *)q->subject);
		q->subject = NULL;
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), q->key), 1);
		EVP_PKEY_free(q->key);
		return x;
	}
	EVP_PKEY_free(q->key);
	cr = check_certresp(resp, 0, 0, CMP_STATUS_REJECTION, fail);
	if (strstr(si_text(cr->status), text) == NULL)
		fail_msg("statusString \"%s\", want \"%s\"", si_text(cr->status),
		    text);
	assert_int_equal(db_count(q), 0);
	return NULL;
}

/*
 * An IDevID enrolling for an LDevID (RFC 9483 §4.1.1, issue 13): an ir
 * signed by a device certificate under an external trust anchor asks for
 * a subject in the operator's naming. Refused by default ("own subject
 * only"), issued when [profile.default] external_subject matches, with
 * the names of external_san; refused outside the patterns. A certificate
 * of ours never gets another subject, whatever the profile says.
 */
void
test_idevid(void **state)
{
	static const struct {
		const char *line, *want;
	} bad[] = {
		{ "external_subject = O=Example/CN=*", "external_subject must" },
		{ "external_subject = /CN=a*b*", "external_subject must" },
		{ "external_subject = /NoSuchAttr=x", "external_subject must" },
		{ "external_subject = /CN=", "external_subject must" },
		{ "external_subject = any", "external_subject must" },
		{ "external_san = DNS:*", "external_san must" },
	};
	EVP_PKEY *anchor_key, *dev_key;
	X509 *anchor, *dev, *ours, *x;
	struct cfg *def, *allow, *c;
	struct cmp_srv *sdef, *sallow;
	char path[192], main_line[256], want[320], err[2048];
	struct rq q;
	FILE *f;
	size_t i;

	(void)state;
	assert_non_null(anchor_key = EVP_EC_gen("P-256"));
	assert_non_null(dev_key = EVP_EC_gen("P-256"));
	anchor = cert_make("/O=Maker/CN=Maker Device CA", anchor_key, NULL,
	    anchor_key);
	dev = cert_make("/O=Maker/serialNumber=1234/CN=idev-1234", dev_key,
	    anchor, anchor_key);
	snprintf(path, sizeof(path), "%s/anchors.pem", fx.dir);
	OK((f = fopen(path, "w")) != NULL && PEM_write_X509(f, anchor) &&
	    fclose(f) == 0);
	snprintf(main_line, sizeof(main_line), "trust_anchors = %s\n", path);
	snprintf(path, sizeof(path), "%s/idev-default.conf", fx.dir);
	conf_write(path, main_line, "");
	assert_non_null(def = cfg_load(path));
	snprintf(path, sizeof(path), "%s/idev-allow.conf", fx.dir);
	conf_write(path, main_line,
	    "external_subject = /O=Example/CN=ldev-* ; "
	    "/O=Example/OU=Gateways/CN=*\n"
	    "external_san = DNS:*.devices.example\n");
	c = cfg_load_logged(path, err, sizeof(err));
	if (c == NULL)
		fail_msg("external_subject and external_san refused: %s", err);
	allow = c;
	assert_non_null(sdef = cmp_srv_new(def, fx.db, fx.hsm));
	assert_non_null(sallow = cmp_srv_new(allow, fx.db, fx.hsm));

	/* Default: own subject only, the rule and the profile named. */
	(void)sig_ir(sdef, &q, dev, dev_key, "/O=Example/CN=ldev-1234", NULL,
	    CMP_FAIL_NOT_AUTHORIZED,
	    "subject /O=Example/CN=ldev-1234 differs from the protection "
	    "certificate's and profile default allows only its own "
	    "(external_subject)");
	/* Allowed: the subject and SAN asked for, the request's key, in
	 * the database as the device's request. */
	x = sig_ir(sallow, &q, dev, dev_key, "/O=Example/CN=ldev-1234",
	    "DNS:ldev-1234.devices.example", -1, NULL);
	assert_int_equal(db_status(x, NULL), DB_CERT_UNCONFIRMED);
	assert_int_equal(db_count(&q), 1);
	OK(X509_check_host(x, "ldev-1234.devices.example", 0, 0, NULL) == 1);
	(void)sig_ir(sallow, &q, dev, dev_key, "/O=Example/OU=Gateways/CN=gw-7",
	    NULL, -1, NULL);
	/* Outside the patterns: subject, then subjectAltName. */
	(void)sig_ir(sallow, &q, dev, dev_key, "/O=Other/CN=ldev-1234", NULL,
	    CMP_FAIL_NOT_AUTHORIZED,
	    "subject /O=Other/CN=ldev-1234 differs from the protection "
	    "certificate's and matches no external_subject of profile "
	    "default");
	(void)sig_ir(sallow, &q, dev, dev_key, "/O=Example/CN=ldev-",
	    NULL, CMP_FAIL_NOT_AUTHORIZED, "matches no external_subject");
	(void)sig_ir(sallow, &q, dev, dev_key, "/O=Example/CN=ldev-1234/OU=x",
	    NULL, CMP_FAIL_NOT_AUTHORIZED, "matches no external_subject");
	(void)sig_ir(sallow, &q, dev, dev_key, "/O=Example/CN=ldev-1234",
	    "DNS:login.bank.example", CMP_FAIL_NOT_AUTHORIZED,
	    "subjectAltName DNS:login.bank.example not allowed for this "
	    "certificate under an external trust anchor");
	/* A certificate of ours: its own subject only, whatever the
	 * profile allows external ones. */
	rq_init(&q);
	q.cn = "ours-holder";
	q.implicit = 1;
	ours = X509_dup(ip_cert(ir_ok(&q, NULL), 0, 0));
	assert_non_null(ours);
	(void)sig_ir(sallow, &q, ours, fx.key, "/O=Example/CN=ldev-1234",
	    NULL, CMP_FAIL_NOT_AUTHORIZED,
	    "subject /O=Example/CN=ldev-1234 differs from the protection "
	    "certificate's: a certificate of ours asks for its own subject "
	    "only");

	/* Start-up: malformed values refused with file:line. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[128];

		snprintf(line, sizeof(line), "%s\n", bad[i].line);
		conf_write(path, main_line, line);
		c = cfg_load_logged(path, err, sizeof(err));
		snprintf(want, sizeof(want), "%s:17: %s", path, bad[i].want);
		if (c != NULL || strstr(err, want) == NULL)
			fail_msg("%s: want \"%s\", got \"%s\"", bad[i].line,
			    want, err);
	}
	cmp_srv_free(sdef);
	cmp_srv_free(sallow);
	cfg_free(def);
	cfg_free(allow);
	X509_free(ours);
	X509_free(dev);
	X509_free(anchor);
	EVP_PKEY_free(dev_key);
	EVP_PKEY_free(anchor_key);
}
