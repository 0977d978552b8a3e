/*
 * cert_build.c - the one builder of every certificate this CA signs: end
 * entities (issue.c), self-signed roots and local subordinates
 * (cli_ca.c), cross certificates (cross.c), root key update links
 * (cli_rollover.c) and delegated OCSP signers (ocsp_signer.c).
 *
 * The caller states the kind and the inputs (subject, public key,
 * validity, and for an end entity the template and profile that passed
 * the profile check, for a cross certificate the partner's constraints).
 * The builder makes the frame (version 3, a serial number from the HSM's
 * RNG, validity never past the issuer's notAfter), adds every extension
 * by the rule of the kind (kind_rules[] here, the profile's part of an
 * end entity in cert_profile.c) and signs with the issuer's key in the
 * HSM. No other file adds an extension to a certificate or signs one.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"

/* Octets of a serial number: 126 random bits (RFC 5280 §4.1.2.2 allows
 * up to 20 octets; CA/Browser Forum asks for at least 64 random bits). */
#define CERT_SERIAL_LEN 16

/*
 * The extensions each kind gets, in this order: basicConstraints
 * (critical), keyUsage (critical), extendedKeyUsage, subjectKeyIdentifier,
 * authorityKeyIdentifier (the issuer's SKI), id-pkix-ocsp-nocheck, then
 * what the caller gives (a cross certificate's constraints). An end
 * entity's come from its profile instead (cert_profile.c).
 */
static const struct kind_rule {
	const char *name;
	int ca;		 /* basicConstraints cA */
	const char *ku;	 /* keyUsage bits */
	const char *eku; /* extendedKeyUsage, or NULL */
	int nocheck;	 /* id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1) */
	int issuer;	 /* 1: needs an issuer certificate, 0: self-signed */
} kind_rules[] = {
	[CERT_EE] = { "end-entity", 0, NULL, NULL, 0, 1 },
	/* digitalSignature too: a CA key signs CMP responses. */
	[CERT_CA_ROOT] = { "root CA", 1, "keyCertSign,cRLSign,digitalSignature",
	    NULL, 0, 0 },
	[CERT_CA_SUB] = { "subordinate CA", 1,
	    "keyCertSign,cRLSign,digitalSignature", NULL, 0, 1 },
	[CERT_LINK] = { "root key update link", 1,
	    "keyCertSign,cRLSign,digitalSignature", NULL, 0, 1 },
	/* Another CA's key, for path building: it signs nothing of ours. */
	[CERT_CROSS] = { "cross", 1, "keyCertSign,cRLSign", NULL, 0, 1 },
	/* Answers for every certificate of the CA (RFC 6960 §4.2.2.2):
	 * no other use, and short-lived instead of checked. */
	[CERT_OCSP] = { "OCSP signer", 0, "digitalSignature", "OCSPSigning",
	    1, 1 },
};

/* A serial number from the HSM's RNG: 16 octets, positive, never zero.
 * Returns 1 or 0. */
static int
cert_serial_set(X509 *x, struct hsm *hsm)
{
	unsigned char rnd[CERT_SERIAL_LEN];
	BIGNUM *bn;
	int ok;

	if (!hsm_random(hsm, rnd, sizeof(rnd))) {
		log_err("serial number: %s", hsm_error());
		return 0;
	}
	/* Positive (top bit clear), never zero and always of full length
	 * (next bit set), so every serial encodes in 16 octets. */
	rnd[0] = (unsigned char)((rnd[0] & 0x7f) | 0x40);
	if ((bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL)
		return 0;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

/*
 * Version 3, the serial, the issuer's subject as issuer name (subject
 * itself when issuer is NULL: self-signed), subject, notBefore now,
 * notAfter now + days but not after cap (0: none), nor after the
 * issuer's notAfter, nor after want (a requested end; ignored unless
 * after notBefore). Returns 1 or 0.
 */
static int
cert_frame(X509 *x, struct hsm *hsm, X509 *issuer, const X509_NAME *subject,
    long days, time_t cap, const ASN1_TIME *want)
{
	time_t now = time(NULL), end = now + days * 86400L;

	if (cap != 0 && cap < end)
		end = cap;
	if (!X509_set_version(x, X509_VERSION_3) || !cert_serial_set(x, hsm) ||
	    !X509_set_issuer_name(
	        x, issuer != NULL ? X509_get_subject_name(issuer) : subject) ||
	    !X509_set_subject_name(x, subject) ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &end) == NULL)
		return 0;
	/* Never beyond the issuer: a relying party would refuse it. */
	if (issuer != NULL &&
	    ASN1_TIME_compare(
	        X509_get0_notAfter(x), X509_get0_notAfter(issuer)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(issuer)))
		return 0;
	if (want != NULL &&
	    ASN1_TIME_compare(X509_get0_notAfter(x), want) > 0 &&
	    ASN1_TIME_compare(want, X509_get0_notBefore(x)) > 0 &&
	    !X509_set1_notAfter(x, want))
		return 0;
	return 1;
}

/*
 * Copies a template's SubjectPublicKeyInfo into the certificate as it
 * is. X509_set_pubkey() would encode the decoded key again through
 * OpenSSL 3.0's encoder, a fifth of the issuance cost. Returns 1 or 0.
 */
static int
spki_copy(X509 *x, const CMP_SPKI *from)
{
	const ASN1_OBJECT *alg;
	const unsigned char *bits = from->public_key->data;
	const void *pval;
	void *pcopy = NULL;
	unsigned char *bcopy = NULL;
	int blen = from->public_key->length, ptype;

	X509_ALGOR_get0(&alg, &ptype, &pval, from->algor);
	if (ptype == V_ASN1_OBJECT)
		pcopy = OBJ_dup(pval);
	else if (ptype == V_ASN1_SEQUENCE)
		pcopy = ASN1_STRING_dup(pval);
	else if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
		return 0;
	if ((ptype == V_ASN1_OBJECT || ptype == V_ASN1_SEQUENCE) &&
	    pcopy == NULL)
		return 0;
	if ((bcopy = OPENSSL_memdup(bits, (size_t)blen)) == NULL)
		goto fail;
	if (!X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_dup(alg),
		ptype, pcopy, bcopy, blen))
		goto fail;
	return 1;
fail:
	OPENSSL_free(bcopy);
	if (ptype == V_ASN1_OBJECT)
		ASN1_OBJECT_free(pcopy);
	else
		ASN1_STRING_free(pcopy);
	return 0;
}

/* Adds e (consumed, may be NULL: failure). Returns 1 or 0. */
static int
ext_add0(X509 *x, X509_EXTENSION *e)
{
	int ok = e != NULL && X509_add_ext(x, e, -1);

	X509_EXTENSION_free(e);
	return ok;
}

/* Adds one extension from its OpenSSL configuration text. 1 or 0. */
static int
ext_conf(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	return ext_add0(x, X509V3_EXT_conf_nid(NULL, v3, nid, value));
}

/*
 * The extensions of every kind but an end entity, by its rule. The
 * subject's key identifier is the one its own certificate carries when
 * the caller has one (cross, link: the certificates it issued name it in
 * their AKI), else the SHA-1 of the key (RFC 5280 §4.2.1.2 (1)). The AKI
 * is the issuer's SKI, for a root its own. Returns 1 or 0.
 */
static int
kind_exts(X509 *x, X509 *issuer, const struct kind_rule *rule,
    const struct cert_req *req)
{
	const unsigned char *bits;
	X509V3_CTX v3;
	char bc[48], ku[80];
	int i, len;

	if (!rule->ca)
		snprintf(bc, sizeof(bc), "critical,CA:FALSE");
	else if (req->pathlen >= 0)
		snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d",
		    req->pathlen);
	else
		snprintf(bc, sizeof(bc), "critical,CA:TRUE");
	snprintf(ku, sizeof(ku), "critical,%s", rule->ku);
	/* Self-signed: the issuer is x itself, so AKI = its own SKI. */
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if (!ext_conf(x, &v3, NID_basic_constraints, bc) ||
	    !ext_conf(x, &v3, NID_key_usage, ku) ||
	    (rule->eku != NULL &&
		!ext_conf(x, &v3, NID_ext_key_usage, rule->eku)))
		return 0;
	if (req->ski != NULL) {
		if (!ext_add0(x, X509V3_EXT_i2d(NID_subject_key_identifier, 0,
				  (void *)req->ski)))
			return 0;
	} else {
		X509_PUBKEY_get0_param(NULL, &bits, &len, NULL,
		    X509_get_X509_PUBKEY(x));
		if (!ext_add0(x, cert_ski_ext(bits, len, 0)))
			return 0;
	}
	if (!ext_conf(x, &v3, NID_authority_key_identifier, "keyid:always"))
		return 0;
	/* id-pkix-ocsp-nocheck: extnValue is a NULL (RFC 6960 §4.2.2.2.1). */
	if (rule->nocheck) {
		ASN1_NULL *null = ASN1_NULL_new();
		int ok = null != NULL &&
		    X509_add1_ext_i2d(x, NID_id_pkix_OCSP_noCheck, null, 0,
			X509V3_ADD_APPEND) == 1;

		ASN1_NULL_free(null);
		if (!ok)
			return 0;
	}
	for (i = 0; i < sk_X509_EXTENSION_num(req->exts); i++)
		if (!X509_add_ext(x, sk_X509_EXTENSION_value(req->exts, i), -1))
			return 0;
	return 1;
}

/* The inputs the kind needs, and nothing it does not take. Programmer
 * errors only. Returns 1 or 0 (logged). */
static int
req_ok(const struct ca_ident *issuer, const struct cert_req *req)
{
	const struct kind_rule *rule = NULL;

	if ((unsigned)req->kind >= sizeof(kind_rules) / sizeof(kind_rules[0]))
		goto bad;
	rule = &kind_rules[req->kind];
	if ((issuer->cert != NULL) != rule->issuer || issuer->key == NULL)
		goto bad;
	if (req->kind == CERT_EE) {
		if (req->ee != NULL && req->ee->tmpl->subject != NULL &&
		    req->ee->tmpl->publicKey != NULL && req->exts == NULL)
			return 1;
		goto bad;
	}
	if (req->subject == NULL || req->pubkey == NULL ||
	    (req->exts != NULL && req->kind != CERT_CROSS))
		goto bad;
	return 1;
bad:
	log_err("certificate builder: inputs do not fit the kind: %s",
	    rule != NULL ? rule->name : "unknown");
	return 0;
}

/* See issue.h. */
void
cert_issuer_init(struct ca_ident *id, const char *label, X509 *cert,
    EVP_PKEY *key)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->label, sizeof(id->label), "%s", label);
	id->cert = cert;
	id->key = key;
	id->md = ca_sign_md(key);
}

/* See issue.h. */
X509 *
cert_build(struct hsm *hsm, const struct ca_ident *issuer,
    const struct cert_req *req)
{
	const struct kind_rule *rule;
	const X509_NAME *subject;
	X509 *x = NULL;
	int ee;

	if (!req_ok(issuer, req))
		return NULL;
	rule = &kind_rules[req->kind];
	ee = req->kind == CERT_EE;
	subject = ee ? req->ee->tmpl->subject : req->subject;
	if ((x = X509_new()) == NULL ||
	    !cert_frame(x, hsm, issuer->cert, subject,
		ee ? req->ee->profile->days : req->days, req->cap,
		req->not_after))
		goto fail;
	if (ee ? !spki_copy(x, req->ee->tmpl->publicKey)
	       : !X509_set_pubkey(x, req->pubkey))
		goto fail;
	if (ee ? !cert_profile_exts(x, req->ee, issuer)
	       : !kind_exts(x, issuer->cert, rule, req))
		goto fail;
	if (!ca_x509_sign(x, issuer->key, issuer->md)) {
		log_err("ca %s: signing a %s certificate failed in the HSM",
		    issuer->label, rule->name);
		goto fail;
	}
	return x;
fail:
	log_openssl_errors(1);
	X509_free(x);
	return NULL;
}
