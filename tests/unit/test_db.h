/*
 * test_db.h - what the files of the test_db program share: the
 * connection, the fixtures its group setup makes, and each file's tests.
 */
#ifndef CMPCA_TEST_DB_H
#define CMPCA_TEST_DB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "db/db.h"

extern struct db *db;
extern long long ca_a, ca_b; /* fixtures made by the group setup */
extern const unsigned char der[5]; /* a DER blob for certificate rows */

/* Asserts that expr == want, printing db_error() otherwise. */
#define CHECK(expr, want)                                                  \
	do {                                                               \
		int r_ = (expr);                                           \
		if (r_ != (want))                                          \
			fail_msg("%s = %d, want %d (db_error: %s)", #expr, \
			    r_, (want), db_error(db));                     \
	} while (0)

/* Inserts a CA identity; returns its id. */
long long make_ca(const char *label);
/* A certificate with borrowed pointers: never pass it to db_cert_clear. */
void make_cert(struct db_cert *c, long long ca_id, const char *serial,
    const char *subject, enum db_cert_status status);

/* Each file's tests, run after those of test_db.c. */
extern const struct CMUnitTest test_db_cert_tests[];
extern const size_t test_db_cert_n;
extern const struct CMUnitTest test_db_secret_tests[];
extern const size_t test_db_secret_n;
extern const struct CMUnitTest test_db_issue_tests[];
extern const size_t test_db_issue_n;
extern const struct CMUnitTest test_db_more_tests[];
extern const size_t test_db_more_n;
extern const struct CMUnitTest test_db_scope_tests[];
extern const size_t test_db_scope_n;

#endif
