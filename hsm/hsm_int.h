/*
 * hsm_int.h - internals shared by the files in hsm/. Nothing outside hsm/
 * includes this header (but test_hsm, which looks at the token through
 * it): callers see hsm.h only, never libp11 or PKCS#11 types.
 *
 * The files: hsm.c (module, token, session, login, the handles of the
 * process), hsm_err.c (error text, PKCS#11 return values, losing the
 * token), hsm_token.c (token set-up), hsm_uri.c (RFC 7512 URIs, loading
 * the key a URI names), hsm_keygen.c (key types and generation),
 * hsm_aes.c (sealed enrollment secrets), hsm_caps.c (what the token can
 * do, probed once per open), hsm_eekey.c (key pairs generated for end
 * entities, central key generation), hsm_archive.c (their archival
 * under a per-CA key).
 */
#ifndef CMPCA_HSM_INT_H
#define CMPCA_HSM_INT_H

#include <limits.h>
#include <sys/types.h>
#include <time.h>

#include <p11-kit-1/p11-kit/pkcs11.h>
#include <libp11.h>

#include "hsm/hsm.h"

/* Longest PIN we accept, in bytes. */
#define HSM_PIN_MAX 256
/* A token label is CK_UTF8CHAR[32] in CK_TOKEN_INFO. */
#define HSM_TOKEN_LABEL_MAX 32
/* Longest CKA_LABEL of a key we generate or a URI names, in bytes. */
#define HSM_LABEL_MAX 128
/* Longest CKA_ID a URI may name, in bytes. */
#define HSM_ID_MAX 64

/* One open module, token, session and login (see hsm.h). */
struct hsm {
	PKCS11_CTX *ctx;
	PKCS11_SLOT *slots;
	unsigned int nslots;
	PKCS11_SLOT *slot;       /* the token's slot, in slots */
	void *dl;                /* our reference to the module */
	CK_FUNCTION_LIST_PTR fl; /* the module's functions (keygen) */
	/* fl is an instance of our own (p11-kit's client module): its
	 * logged-in session, held while h is open. */
	CK_SESSION_HANDLE own_session;
	int own;
	unsigned long slot_id;
	pid_t pid; /* process that opened the handle */
	char label[HSM_TOKEN_LABEL_MAX + 1];
	char module[PATH_MAX]; /* realpath of the module */
	char *pin_file;        /* where the PIN is read; NULL: environment */
	unsigned long gen;     /* hsm_lost_gen() when last (re)opened */
	int lost;              /* released after a failed reopen */
	int no_login;          /* a reopen's login was refused: stop trying */
	struct timespec tried; /* last reopen attempt */
	char *init_args;       /* for C_Initialize, or NULL */
	struct hsm_caps caps;  /* probed at each (re)open (hsm_caps.c) */
	struct hsm *next;      /* in the handles of the process (hsm.c) */
};

/* hsm_err.c: this thread's error text (callers never pass a PIN). */
void hsm_err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* s with bytes that are not printable ASCII as '?', cut with "...". */
const char *hsm_sanitise(const char *s, char *buf, size_t len);
/* "wrong PIN (CKR 0xa0)". */
const char *hsm_ckr_str(unsigned long rv, char *buf, size_t len);
/* Drains OpenSSL's error queue: its first PKCS#11 error (*rv), or its
 * first error (*rv CKR_GENERAL_ERROR). */
const char *hsm_ossl_str(char *buf, size_t len, unsigned long *rv);
/* Marks every handle of this process lost (hsm_lost() true, reason why),
 * as hsm_err_note() does for a PKCS#11 error seen through OpenSSL. */
void hsm_mark_lost(const char *why);
/* Bumped by each hsm_mark_lost(): a handle opened before is lost. */
unsigned long hsm_lost_gen(void);

/* hsm.c, for hsm_token.c: the handles of the process, the lock across
 * processes, libp11's module and slots. Each returns 1 or 0 (reason
 * set); hsm_lock() the locked descriptor or -1. */
int hsm_reg_claim(struct hsm *h);
void hsm_reg_release(struct hsm *h);
int hsm_lock(void);
void hsm_unlock(int fd);
int hsm_p11_load(struct hsm *h);
void hsm_p11_release(struct hsm *h);
PKCS11_SLOT *hsm_slot_by_label(struct hsm *h, const char *label);
/* hsm_err.c: may h be used in this process? 1, or 0 (reason set). */
int hsm_usable(const struct hsm *h);
/* The module's CK_FUNCTION_LIST of an open handle, or NULL. */
void *hsm_p11_funcs(struct hsm *h, unsigned long *slot_id);
/* The libp11 PKCS11_TOKEN of an open handle, or NULL. */
PKCS11_TOKEN *hsm_p11_token(struct hsm *h);

/* hsm_caps.c: fills h->caps after login. 1, or 0 (reason set). */
int hsm_caps_probe(struct hsm *h);

/* hsm_uri.c: appends s to buf (size len) at *off, every byte but RFC
 * 3986's unreserved ones percent-encoded when escape is set. 1, or 0 if
 * it does not fit. */
int hsm_uri_put(char *buf, size_t len, size_t *off, const char *s,
    int escape);

/* hsm_keygen.c: what each key type means to the token and to OpenSSL,
 * or NULL for an unknown type. */
struct hsm_keyspec {
	enum hsm_keytype type;
	int nid; /* EC curve */
	CK_KEY_TYPE key_type;
	CK_ULONG bits;     /* RSA modulus size */
	const char *group; /* OpenSSL group name */
	size_t point_len;  /* uncompressed point */
};
const struct hsm_keyspec *hsm_keyspec_get(enum hsm_keytype type);

/* hsm_aes.c. Tests: hsm_seal() writes format fmt (0x01 sealed in the
 * token, 0x02 under key version 1's data key) while set; 0 for the
 * current format. */
void hsm_seal_force_format(int fmt);
/* Drops hsm_aes.c's session of h; hsm_close() and hsm_reopen() call it. */
void hsm_aes_forget(struct hsm *h);

#endif
