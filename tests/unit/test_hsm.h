/*
 * test_hsm.h - what the parts of test_hsm share: the throwaway token's
 * fixture (test_hsm.c sets it up) and its helpers.
 */
#ifndef CMPCA_TEST_HSM_H
#define CMPCA_TEST_HSM_H

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* hsm_int.h: hsm_seal_force_format(), and the module's function list,
 * to look at keys as another PKCS#11 user. */
#include "hsm/hsm_int.h"

#define TOKEN "cmpca-test"
#define USER_PIN "user-pin-4711"
#define SO_PIN "so-pin-0815"
#define WRONG_PIN "wrong-pin-1234"
#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"

struct hsm_fx {
	char dir[64];
	char conf[128];
	char pin[128];
	char so_pin[128];
	char wrong_pin[128];
	char loose_pin[128];
	char lock[128];
	const char *module;
	struct hsm *h;
};
extern struct hsm_fx fx;

void write_file(const char *path, const char *text, mode_t mode);
/* Opens the shared handle again after a test closed it. */
void reopen(void);
void close_shared(void);
/* Milliseconds since t0. */
double ms_since(const struct timespec *t0);
/* Signs and verifies with a key pair from the token (pss: RSA-PSS too). */
void sign_verify(EVP_PKEY *priv, EVP_PKEY *pub, int pss);

/* test_hsm_keys.c */
void test_keygen_rsa2048(void **state);
void test_keygen_rsa3072(void **state);
void test_keygen_rsa4096(void **state);
void test_keygen_p256(void **state);
void test_keygen_p384(void **state);
void test_keygen_mechanisms(void **state);
void test_keygen_ee(void **state);
void test_archive(void **state);
void test_keygen_label_escaped(void **state);
void test_keygen_duplicate(void **state);
void test_keygen_bad_args(void **state);
void test_key_load_unknown(void **state);
void test_key_load_bad_uri(void **state);
void test_random(void **state);
/* test_hsm_seal.c */
void test_seal(void **state);
void test_seal_rotate(void **state);
void test_seal_mechanisms(void **state);
void test_seal_caps(void **state);

#endif
