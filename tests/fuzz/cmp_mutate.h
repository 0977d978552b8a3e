/*
 * cmp_mutate.h - a structure-aware libFuzzer mutator for PKIMessages
 * (cmp_mutate.c). It decodes the input with the project's own ASN.1 model
 * (ca/cmp_asn.c), changes fields the way a hostile client would (body
 * type, certReqIds, template fields and extensions, names, nonces,
 * algorithm identifiers, nested depth, extraCerts, generalInfo, POP),
 * re-signs what it can (the POP of a template carrying one of the
 * mutator's keys, a PKCS#10 of one of them) and encodes it again. Inputs
 * that do not decode, and one call in eight, get libFuzzer's own byte
 * mutation instead.
 */
#ifndef CMPCA_CMP_MUTATE_H
#define CMPCA_CMP_MUTATE_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"

/* libFuzzer's byte mutator (declared by the fuzzer runtime). */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/*
 * Called on the mutated message before it is encoded (may be NULL): the
 * engine target re-protects it with the stack's secret. A return of 0
 * keeps the message as it is.
 */
extern int (*cmp_mutate_finish)(CMP_MSG *m);

/* Adds x (up-ref'ed) to the certificates whose names, serials and
 * issuers mutations use (a target's own enrolled certificate). */
void cmp_mutate_pool_add(X509 *x);

/*
 * Makes m about certificate x, as its holder would ask: an rr revokes x
 * (serial, issuer), a kur names it in oldCertID and brings a new key (the
 * mutator's Ed25519), every request of a CertReqMessages body takes x's
 * subject (a ccr also the mutator's P-256 key) and its POP is signed
 * again.
 */
void cmp_mutate_bind(CMP_MSG *m, X509 *x);

/* Mutates the PKIMessage in data[0..size) in place (at most max bytes);
 * returns the new size. */
size_t cmp_mutate(uint8_t *data, size_t size, size_t max, unsigned int seed);

/*
 * Mutates a PKCS#10 request (the p10cr target) the same way: subject,
 * requested extensions, key, then signs it again with the mutator's key
 * when it carries one. Returns the new size.
 */
size_t cmp_mutate_p10(uint8_t *data, size_t size, size_t max,
    unsigned int seed);

/*
 * Mutates one CertReqMsg (the template target): template fields,
 * extensions, certReqId, POP, controls. Returns the new size.
 */
size_t cmp_mutate_certreqmsg(uint8_t *data, size_t size, size_t max,
    unsigned int seed);

#endif
