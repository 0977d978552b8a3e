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

#endif
