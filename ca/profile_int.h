/*
 * profile_int.h - what profile.c takes from profile_san.c (private to
 * the two; ca/ca.h is the public interface).
 */
#ifndef CMPCA_PROFILE_INT_H
#define CMPCA_PROFILE_INT_H

#include <openssl/x509v3.h>

#include "ca/ca.h"

/* The openssl.cnf name of a GeneralName type ("DNS", "IP", ...). */
const char *gen_name(int type);
/* Splits a list on commas and blanks ("none" skipped); calls f for each
 * token. 1, or 0 when the list is too long or f says no. */
int list_each(const char *v, int (*f)(const char *tok, void *arg),
    void *arg);
/* A GeneralName as "TYPE:value" for messages (value sanitised). */
const char *gn_print(const GENERAL_NAME *gn, char *out, size_t len);
/* A requested subjectAltName against the profile's types and the
 * credential's names (r->san_bound patterns, r->holder's names). 1, or 0
 * with *fail and why. */
int san_check(const struct issue_req *r, const GENERAL_NAMES *sans,
    int *fail, char *why, size_t len);

/* A requested extension (or part: what) the profile does not take:
 * refused (0, why) or, with other_extensions = drop, noted in
 * r->mods_buf and dropped (2). */
int ext_not_taken(const struct issue_req *r, const char *what, char *why,
    size_t len);
/* Every GeneralName of names (in extension ext) in its syntax
 * (profile_gn_ok). 1, or 0 with why. */
int names_syntax_check(const struct issue_req *r, const GENERAL_NAMES *names,
    const char *ext, char *why, size_t len);

/* profile_policy.c */
/* A requested certificatePolicies against the profile's policies: 1
 * (what is not taken noted as dropped), or 0 with why. */
int policies_check(const struct issue_req *r, const CERTIFICATEPOLICIES *pol,
    char *why, size_t len);
/* The certificatePolicies to put into x for the requested e (see
 * profile_ext_copy): *out, or NULL when x's own stays as it is. 1 or 0. */
int policies_merge(const struct issue_req *r, X509_EXTENSION *e, X509 *x,
    int crit, X509_EXTENSION **out);
/* Is os exactly one well-formed DER value (definite lengths, nested
 * values filling their parents)? 1 or 0. */
int der_one_ok(const ASN1_OCTET_STRING *os);

#endif
