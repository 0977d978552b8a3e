/*
 * unitlib.h - helpers shared by the unit programs that need neither a
 * token nor a database (test_asn, test_protect, test_hdr, test_ocsp, ...).
 * Each fails the running cmocka test when OpenSSL cannot build the value.
 */
#ifndef CMPCA_UNITLIB_H
#define CMPCA_UNITLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/cmp_asn.h"

#define CA_CN "cmpca Test CA"
#define SECRET "enrollment-secret-0815"
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define EQ(a, b) assert_int_equal((a), (b))

/* CN=cn, or the NULL-DN when cn is NULL. */
X509_NAME *name_new(const char *cn);
/* A directoryName GeneralName CN=cn. */
GENERAL_NAME *gn_dir(const char *cn);
/* An OCTET STRING of len (at most 256) bytes of value fill. */
ASN1_OCTET_STRING *octets_new(int len, int fill);
/* A valid request header: pvno 2, EE to CA_CN, 16-byte txid and nonce. */
CMP_HEADER *hdr_new(void);
/* id-PasswordBasedMac whose parameter is the given DER, unchecked. */
X509_ALGOR *pbm_alg_raw(const unsigned char *der, int len);
/* id-PasswordBasedMac with a PBMParameter: owf and mac are NIDs, the
 * salt saltlen (at most 128) bytes. */
X509_ALGOR *pbm_alg_new(int owf, int mac, long iter, int saltlen);

#endif
