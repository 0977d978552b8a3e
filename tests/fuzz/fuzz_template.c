/*
 * fuzz_template - libFuzzer target: a CRMF CertReqMsg (RFC 4211) through
 * what the engine does with a template once the message is authenticated:
 * the public key decoding (cmp_spki_pkey), profile evaluation
 * (cmp_template_check: key type and size, subject attributes, every
 * extension against the profile, subjectAltNames against a secret's
 * patterns or an RA's, the issuer), the POP signature (cmp_popo_verify),
 * subject patterns, and for an accepted template the certificate builder
 * with the profile's extensions (cmp_cert_issue), whose result must
 * decode and verify under the issuing key.
 *
 * The configuration and token (serial numbers) are the borrowed stack's,
 * the issuing CA is a software key made here. The input's last byte picks
 * the profile and the credential's restrictions. The mutator
 * (cmp_mutate_certreqmsg) changes template fields, extensions, controls
 * and POP, and signs the POP again with its own keys.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"
#include "tests/fuzz/cmp_mutate.h"
#include "tests/fuzz/fuzz_env.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed);

static struct ca_ident ca;
static X509_NAME *ca_name;

static const char *const san_patterns[] = {
	"DNS:*.example.com,IP:127.0.0.1/8,email:*@example.com",
	"DNS:host.example,URI:https://a.example/*",
	"IP:2001:db8::/32,DNS:*",
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	EVP_PKEY *key;
	X509 *x;

	(void)argc;
	(void)argv;
	fuzz_env_init("fuzz_template", 0);
	if ((key = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL ||
	    (ca_name = ca_name_parse("/O=cmpca fuzz/CN=Template CA")) ==
		NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_set_issuer_name(x, ca_name) ||
	    !X509_set_subject_name(x, ca_name) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 3650) == NULL ||
	    !X509_set_pubkey(x, key))
		abort();
	/* The profiles' authorityKeyIdentifier needs the CA's SKI. */
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_nconf(NULL, &ctx, "subjectKeyIdentifier",
		 "hash")) == NULL || !X509_add_ext(x, ext, -1) ||
	    X509_sign(x, key, EVP_sha256()) <= 0)
		abort();
	X509_EXTENSION_free(ext);
	cert_issuer_init(&ca, "fuzz", x, key);
	return 0;
}

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed)
{
	return cmp_mutate_certreqmsg(data, size, max, seed);
}

/* An issued certificate must decode and verify under the CA key. */
static void
issued_check(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *y;
	int len;

	if ((len = i2d_X509(x, &der)) <= 0)
		abort();
	p = der;
	if ((y = d2i_X509(NULL, &p, len)) == NULL || p != der + len ||
	    X509_verify(y, ca.key) != 1 ||
	    X509_NAME_cmp(X509_get_issuer_name(y), ca_name) != 0)
		abort();
	X509_free(y);
	OPENSSL_free(der);
}

static int
one_input(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	CRMF_CERTREQMSG *m;
	struct issue_req r;
	char why_buf[256];
	const char *why = NULL;
	unsigned sel;
	int fail = -1, rc;
	X509 *x;

	if ((m = d2i_CRMF_CERTREQMSG(NULL, &p, (long)size)) == NULL)
		return 0;
	sel = data[size - 1];
	memset(&r, 0, sizeof(r));
	r.tmpl = m->certReq->certTemplate;
	r.pubkey = cmp_spki_pkey(r.tmpl->publicKey);
	r.profile = fz.cfg->nprofiles > 0
	    ? &fz.cfg->profiles[sel % fz.cfg->nprofiles] : NULL;
	r.ca_name = ca_name;
	r.conf = fz.cfg->conf;
	r.san_bound = (sel >> 3) & 1;
	r.allowed_san = san_patterns[(sel >> 4) % 3];
	r.san_who = "fuzz";
	r.allowed_subject = (sel & 0x80) ? "/CN=fz-ir" : NULL;
	r.why_buf = why_buf;
	r.why_len = sizeof(why_buf);
	if (r.profile == NULL)
		goto out;
	rc = cmp_template_check(&r, &fail, &why);
	if (rc == 0 && (why == NULL || fail < 0))
		abort(); /* a rejection names its reason and failinfo */
	if (r.tmpl->subject != NULL)
		(void)profile_subject_match("/O=cmpca/CN=*;/CN=*.example",
		    r.tmpl->subject);
	if (r.pubkey != NULL)
		(void)cmp_popo_verify(m, r.pubkey, (sel >> 2) & 1, &why);
	if (rc == 1) {
		if ((x = cmp_cert_issue(&r, &ca, fz.hsm)) == NULL)
			abort(); /* an accepted template is issuable */
		issued_check(x);
		X509_free(x);
	}
out:
	EVP_PKEY_free(r.pubkey);
	CRMF_CERTREQMSG_free(m);
	return 0;
}

/*
 * One input, then this thread's OpenSSL error queue emptied: OpenSSL 3.0
 * copies each queued error's file and function name to the heap and
 * frees them only when the entry is overwritten, by a later input. Left
 * queued, they made inputs end with more allocations than frees, and
 * libFuzzer answers that with a second run and a LeakSanitizer pass
 * over the whole heap (docs/hacking.md, "Fuzzing").
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)one_input(data, size);
	ERR_clear_error();
	return 0;
}
