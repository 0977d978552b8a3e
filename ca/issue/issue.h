/*
 * issue.h - what the CA signs: the one certificate builder, certificates
 * from CRMF templates, cross certificates.
 */
#ifndef CMPCA_ISSUE_H
#define CMPCA_ISSUE_H

#include <openssl/cms.h>

#include "ca/ca.h"

/* cert_profile.c: a URI GeneralName for url (a crl_url, ocsp_url,
 * delta_crl_url...) with "%{ca}" replaced by the CA's label and "%{crl}"
 * by the CRL name of its key; NULL if it would not fit or on error. */
GENERAL_NAME *cert_url_gn(const char *url, const struct ca_ident *ca);

/* cert_build.c - the one builder of every certificate this CA signs. */
enum cert_kind {
	CERT_EE,      /* an end entity from a CRMF template, by its profile */
	CERT_CA_ROOT, /* a self-signed root (ca create, ca rollover) */
	CERT_CA_SUB,  /* a subordinate of a local CA (ca create --issuer) */
	CERT_CROSS,   /* another CA's name and key (ccr, cross-certify) */
	CERT_LINK,    /* root key update: newWithOld, oldWithNew */
	CERT_OCSP,    /* a delegated OCSP signer (ocsp signer) */
};

/* What the caller decides; the builder decides everything else. */
struct cert_req {
	enum cert_kind kind;
	/* CERT_EE: subject, key, validity and extensions come from the
	 * template and profile (checked with cmp_template_check). */
	const struct issue_req *ee;
	const X509_NAME *subject;
	EVP_PKEY *pubkey;
	/* The key's identifier in its own certificate (cross, link), or
	 * NULL: the SHA-1 of the key. */
	const ASN1_OCTET_STRING *ski;
	long days;
	time_t cap;		    /* notAfter at most (0: no cap) */
	const ASN1_TIME *not_after; /* a requested end (ccr), or NULL */
	int pathlen;		    /* CA kinds: pathLenConstraint, -1 none */
	/* CERT_CROSS: the partner's constraints (cross.c), appended. */
	STACK_OF(X509_EXTENSION) *exts;
};
/* An issuer for cert_build from a certificate (NULL: the certificate
 * built signs itself) and its key in the HSM; label for messages. */
void cert_issuer_init(struct ca_ident *id, const char *label, X509 *cert,
    EVP_PKEY *key);
/*
 * Builds and signs a certificate of req->kind: version 3, a serial from
 * the HSM's RNG (16 octets, positive), validity from now, capped by
 * req->cap, req->not_after and the issuer's notAfter, the kind's
 * extensions, signed with issuer->key. NULL on error (logged).
 */
X509 *cert_build(struct hsm *hsm, const struct ca_ident *issuer,
    const struct cert_req *req) CA_MUST_CHECK;
/* cert_profile.c - the part of cert_build an end-entity profile decides
 * (below cert_build.c). */
/* subjectKeyIdentifier by the "hash" method: SHA-1 of the key's bits. */
X509_EXTENSION *cert_ski_ext(const unsigned char *bits, int len, int crit);
/* Adds the profile's section, per-CA URLs and the copied requested
 * extensions of r to x, issued by ca. Returns 1 or 0. */
int cert_profile_exts(X509 *x, const struct issue_req *r,
    const struct ca_ident *ca) CA_MUST_CHECK;
/* Tests: 0 evaluates the profile's extensions section for every
 * certificate, 1 (the default) caches them per profile and CA. */
void cmp_issue_ext_cache(int on);

/* cross.c - cross certificates and what a CA publishes with them. */
/* Checks a partner's constraints parse. Returns 1 or 0 (*why). */
int cross_constraints_check(const struct db_partner *p, const char **why);
/*
 * A cross certificate signed by ca for subject_ca's name and key with the
 * constraints of p (path length, name constraints, policies, mappings,
 * policy constraints, EKU) and validity p->days, capped by ca's own
 * certificate and req_end (may be NULL). NULL on error.
 */
X509 *cross_cert_issue(const struct ca_ident *ca, struct hsm *hsm,
    X509 *subject_ca, const struct db_partner *p, const ASN1_TIME *req_end)
    CA_MUST_CHECK;
/* ca's chain, then the certificates it received (cross, root key update)
 * and the valid cross certificates it issued. NULL on error. */
STACK_OF(X509) *ca_published(struct db *db, const struct ca_ident *ca);
/* Writes ca_published() to dir/<label>.pem (atomically); 1 or 0. A NULL
 * or empty dir does nothing. */
int ca_publish_bundle(struct db *db, const struct ca_ident *ca,
    const char *dir);

/* issue.c - certificates from templates. */
/* The public key of a template SPKI (new, caller frees), or NULL. */
EVP_PKEY *cmp_spki_pkey(const CMP_SPKI *spki);
/* Sets *out to the SPKI of key. Returns 1 or 0. */
int cmp_spki_set(CMP_SPKI **out, EVP_PKEY *key);
/*
 * Checks the template against the profile and the secret's restrictions.
 * Returns 1 acceptable, 0 rejected (*fail, *why), -1 internal.
 */
int cmp_template_check(const struct issue_req *r, int *fail,
    const char **why);
/* Verifies a signature POP over the CertRequest (RFC 4211 §4.1);
 * raVerified only when from_ra. Returns 1, 0 (*why), -1. */
int cmp_popo_verify(const CRMF_CERTREQMSG *m, EVP_PKEY *pubkey, int from_ra,
    const char **why);
/* cert_build() of an end entity for r, issued by ca. NULL on error. */
X509 *cmp_cert_issue(const struct issue_req *r, const struct ca_ident *ca,
    struct hsm *hsm) CA_MUST_CHECK;

/* kga.c - central key generation (RFC 9483 §4.1.6). */
/* 1 if template t asks the CA to generate the key: no publicKey, or one
 * naming only the algorithm (an empty subjectPublicKey). */
int kga_requested(const CRMF_CERTTEMPLATE *t);
/*
 * The key type to generate for t under profile p: the template's
 * algorithm (and curve) among the profile's central_keygen types, or the
 * first of them without a publicKey. Returns 1 and *type, or 0 with
 * *fail (notAuthorized: the profile generates none; badAlg: not that
 * algorithm) and *why.
 */
int kga_key_type(const struct cfg_profile *p, const CRMF_CERTTEMPLATE *t,
    enum hsm_keytype *type, int *fail, const char **why);
/*
 * CertifiedKeyPair.privateKey for key: EncryptedKey [0] EnvelopedData of
 * a SignedData by ca's key of an AsymmetricKeyPackage, encrypted to the
 * password pw (PasswordRecipientInfo) or, when pw is NULL, to the key of
 * rcpt. A new ASN1_TYPE (caller frees), or NULL.
 */
ASN1_TYPE *kga_package(EVP_PKEY *key, const struct ca_ident *ca,
    const unsigned char *pw, size_t pwlen, X509 *rcpt);
/*
 * The same EnvelopedData as a CMS ContentInfo of its own (what `cmpca key
 * recover` writes; openssl cms -decrypt opens it): a new object (caller
 * frees), or NULL. rcpt must hold an RSA or EC key.
 */
CMS_ContentInfo *kga_envelope(EVP_PKEY *key, const struct ca_ident *ca,
    const unsigned char *pw, size_t pwlen, X509 *rcpt);
/*
 * The AAD under which a key of the public key pub is archived for CA
 * ca_label (hsm_archive_wrap): "cmpca-archive/<ca label>/<hex SHA-256
 * of the SubjectPublicKeyInfo>", so an archived value opens only for
 * its CA and the certificate of its own key. Returns 1 or 0.
 */
#define KGA_AAD_MAX 320
int kga_archive_aad(const char *ca_label, EVP_PKEY *pub, char *buf,
    size_t len);

#endif
