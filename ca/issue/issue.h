/*
 * issue.h - what the CA signs: profiles, the certificate frame every
 * certificate shares, certificates from CRMF templates, cross certificates.
 */
#ifndef CMPCA_ISSUE_H
#define CMPCA_ISSUE_H

#include "ca/ca.h"

/* cert_build.c - what every certificate this CA signs shares. */
/* A serial number from the HSM's RNG: 16 octets, positive, never zero.
 * Returns 1 or 0. */
int cert_serial_set(X509 *x, struct hsm *hsm) CA_MUST_CHECK;
/*
 * Version 3, cert_serial_set(), the issuer's subject as issuer name
 * (subject itself when issuer is NULL: self-signed), subject, notBefore
 * now, notAfter now + days but not after cap (0: none) nor after the
 * issuer's notAfter. The caller adds the key and extensions and signs
 * with ca_x509_sign. Returns 1 or 0.
 */
int cert_frame(X509 *x, struct hsm *hsm, X509 *issuer,
    const X509_NAME *subject, long days, time_t cap) CA_MUST_CHECK;

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
/* Builds and signs a certificate; serial from the HSM RNG. NULL on error. */
X509 *cmp_cert_issue(const struct issue_req *r, const struct ca_ident *ca,
    struct hsm *hsm) CA_MUST_CHECK;
/* Tests: 0 evaluates the profile's extensions section for every
 * certificate, 1 (the default) caches them per profile and CA. */
void cmp_issue_ext_cache(int on);

#endif
