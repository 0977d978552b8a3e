/*
 * mut_int.h - private to the structure-aware mutator (cmp_mutate.c,
 * mut_parts.c): a seeded random source and builders of the parts a
 * mutation puts into a message (names, extensions, algorithm identifiers,
 * integers, octet strings, keys).
 */
#ifndef CMPCA_MUT_INT_H
#define CMPCA_MUT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"

/* The random source of one mutation (seeded by libFuzzer). */
void mut_seed(unsigned int seed);
/* A number in [0, n), n > 0. */
unsigned mut_rnd(unsigned n);

/* One of a few interesting INTEGER values, or a random one, into *i
 * (allocated when NULL). Returns 1 or 0. */
int mut_int_set(ASN1_INTEGER **i);
/* An OCTET STRING of an interesting length (0, 1, 16, 17, 64, 129), or
 * the old bytes mutated. Returns 1 or 0. */
int mut_octets(ASN1_OCTET_STRING **o);
/* The bytes of s through libFuzzer's mutator (at most 512). */
void mut_string_bytes(ASN1_STRING *s);
/* A random name: 0 to 3 attributes of assorted types and string kinds
 * (empty, long, wildcard, control characters, bad UTF-8). */
X509_NAME *mut_name(void);
/* Adds, removes or alters one attribute of n. */
void mut_name_change(X509_NAME *n);
/* A GeneralName of a random type. */
GENERAL_NAME *mut_gn(void);
/* An extension a request could carry (SAN, KU, EKU, basicConstraints,
 * policies, name constraints, CRL reason, unknown, or garbage DER). */
X509_EXTENSION *mut_ext(void);
/* Mutates a stack of extensions: add, delete, duplicate, flip
 * criticality, garble a value. *sk is created when NULL. */
void mut_exts(STACK_OF(X509_EXTENSION) **sk);
/* An algorithm identifier: signature, MAC, PBM, PBMAC1, digest, random
 * OID, with or without NULL parameters. */
X509_ALGOR *mut_alg(void);
/* An ASN1_TYPE of a random kind (NULL, INTEGER, OCTET STRING, UTF8,
 * SEQUENCE of garbage). */
ASN1_TYPE *mut_any(void);
/* Key i (0: EC P-256, 1: Ed25519, both the same on every run; 2: RSA
 * 2048, made once per run). */
EVP_PKEY *mut_key(int i);
/* The key of the mutator that pkey equals, or NULL. */
EVP_PKEY *mut_key_of(EVP_PKEY *pkey);
/* Digest to sign with key (NULL for EdDSA). */
const EVP_MD *mut_md(EVP_PKEY *key);

/* Shared by cmp_mutate.c (requests) and cmp_mutate_msg.c (messages). */
/* Certificates seen in inputs (extraCerts, the targets' identities). */
void mut_pool_learn(const STACK_OF(X509) *sk);
X509 *mut_pool_pick(void);
/* 1 for the CertReqMessages bodies: ir, cr, kur, ccr. */
int mut_is_certreq(int type);
/* One mutation of a CertReqMsg / a template / a PKCS#10 request. */
void mut_crm_mutate(CRMF_CERTREQMSG *m);
void mut_tmpl_mutate(CRMF_CERTTEMPLATE *t);
void mut_p10_mutate(X509_REQ *r);
/* A signature POP by a mutator key signed again (always, or 15 in 16). */
void mut_crm_fix(CRMF_CERTREQMSG *m, int always);
/* A new CertReqMsg for a mutator key; a PKCS#10 for msg's first
 * template; a random ITAV. NULL on error. */
CRMF_CERTREQMSG *mut_crm_new(void);
X509_REQ *mut_p10_from(CMP_MSG *msg);
CMP_ITAV *mut_itav_new(void);
/* Adds, removes or changes one ITAV of *sk (created when NULL). */
void mut_itavs_mutate(STACK_OF(CMP_ITAV) **sk);
/* der (len) into data when it fits max; the new size or 0. */
size_t mut_put(uint8_t *data, size_t max, const unsigned char *der,
    int len);

#endif
