/*
 * test_build.h - the certificate builder's tests (test_build.c), run by
 * test_engine in its group with the token it opened.
 */
#ifndef CMPCA_TEST_BUILD_H
#define CMPCA_TEST_BUILD_H

#include <stddef.h>

#include "hsm/hsm.h"

/* Set by test_engine's group set-up: serial numbers come from it. */
extern struct hsm *test_build_hsm;
extern const struct CMUnitTest test_build_cases[];
extern const size_t test_build_ncases;

#endif
