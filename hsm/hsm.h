/*
 * hsm.h - the only interface to PKCS#11 in cmpca.
 *
 * A struct hsm is one PKCS#11 module, one token (selected by label), one
 * read-write session and a login. It is opened after fork(), in the process
 * that uses it, and never shared across a fork. Private keys never leave the
 * token: hsm_key_load() returns an EVP_PKEY whose signing operations are
 * performed by the token (through libp11), usable with EVP_DigestSign,
 * X509_sign_ctx and friends. libp11 and PKCS#11 types never appear here.
 *
 * Errors: every function that fails leaves a short, lower-case reason in a
 * per-thread buffer that hsm_error() returns (e.g. "login failed: wrong
 * PIN", "no such key: pkcs11:token=cmpca;object=x"). The PIN never appears
 * in it.
 */
#ifndef CMPCA_HSM_H
#define CMPCA_HSM_H

#include <stddef.h>
#include <openssl/evp.h>

#include "lib/lib.h"

struct hsm;

/*
 * Longest PKCS#11 URI, in bytes without the NUL, that hsm_key_load()
 * accepts and hsm_keygen() writes: a buffer for a key's URI is
 * char uri[HSM_URI_MAX + 1].
 */
#define HSM_URI_MAX 1024

/* Key types a CA key may have. */
enum hsm_keytype {
	HSM_KEY_RSA2048 = 1,
	HSM_KEY_RSA3072,
	HSM_KEY_RSA4096,
	HSM_KEY_EC_P256,
	HSM_KEY_EC_P384,
};

/*
 * Parses "rsa:2048", "rsa:3072", "rsa:4096", "ec:P-256", "ec:P-384" (also
 * "p256", "p384", "rsa2048" ...). Returns 1 and sets *type, or 0.
 */
int hsm_keytype_parse(const char *s, enum hsm_keytype *type) CA_MUST_CHECK;

/*
 * Reads a PIN from a file (first line, trailing newline stripped) into buf
 * of size len. The file must not be readable by group or others. Returns 1
 * on success, 0 on failure (reason in hsm_error()).
 */
int hsm_pin_read(const char *path, char *buf, size_t len) CA_MUST_CHECK;

/*
 * Loads the PKCS#11 module, finds the token whose label is token_label,
 * opens a read-write session and logs in as user with the PIN read from
 * pin_file (or, when pin_file is NULL, from the environment variable
 * CMPCA_HSM_PIN). Our copy of the PIN is wiped after login, but libp11
 * keeps its own (heap, its slot's prev_pin, to log in again) until
 * hsm_close(): callers must be non-dumpable and without core files. Returns a
 * handle or NULL (reason in hsm_error()). A failed login is not retried.
 */
struct hsm *hsm_open(const char *module, const char *token_label,
    const char *pin_file) CA_MUST_CHECK;

/*
 * What the open token can do: probed once per open (hsm_open(),
 * hsm_reopen()) with C_GetInfo, C_GetTokenInfo, C_GetMechanismList and
 * C_GetMechanismInfo (hsm_caps.c). hsm/ decides from it; callers show it.
 */
enum hsm_seal_via {
	HSM_SEAL_NONE = 0,  /* no sound way: sealing refused */
	HSM_SEAL_DEK_ECB,   /* data key by AES-ECB in the token (0x03) */
	HSM_SEAL_DEK_CBC,   /* the same data key by one-block AES-CBC (0x03) */
	HSM_SEAL_GCM,       /* AES-GCM in the token per value (0x01) */
	HSM_SEAL_RSA_SIG,   /* no AES keys: data key from an RSA key's
			     * deterministic signature (0x03, hsm_aes.c) */
};
/* Sessions one process holds on the token at most: libp11's, the sealing
 * one and a key generation's (hsm_keygen.c), p11-kit's client one. */
#define HSM_SESSIONS_PER_PROCESS 4
struct hsm_caps {
	int probed;
	char manufacturer[33], model[17], library[33];
	unsigned library_major, library_minor;
	unsigned keygen;  /* 1 << enum hsm_keytype: types it generates */
	unsigned sign;    /* 1 << enum hsm_keytype: types it signs with */
	int rsa_pss;      /* raw RSA (CKM_RSA_X_509): libp11's RSA-PSS */
	int rsa_pss_native; /* CKM_RSA_PKCS_PSS */
	int aes_keygen, aes_ecb, aes_cbc, aes_gcm;
	int seal;         /* enum hsm_seal_via */
	/* The sealing key was imported (its bytes from the token's RNG)
	 * because the token cannot generate secret keys (hsm_aes.c). */
	int seal_imported;
	unsigned long max_sessions, max_rw_sessions; /* as CK_TOKEN_INFO */
	int login_required, protected_path, rng;
	unsigned long nmech;  /* mechanisms listed */
	/* The key generation template the token took, once hsm_keygen()
	 * ran in this process: "full", "no-allowed-mechanisms", "minimal". */
	char keygen_template[32];
	int keygen_level; /* its index: where the next hsm_keygen() starts */
};

/* The table of an open handle, or NULL. */
const struct hsm_caps *hsm_caps_get(const struct hsm *h);
/* One line: model, library, key types, sealing, sessions. Returns buf. */
const char *hsm_caps_describe(const struct hsm_caps *c, char *buf,
    size_t len);
/* What a sealing way is called in messages. */
const char *hsm_seal_via_name(int via);
/*
 * Gap number i (0, 1, ...) between what cmpca uses and what the token
 * has, as a line "missing: X; fallback: Y" or "missing: X; refused: Z"
 * in buf. Returns HSM_GAP_FALLBACK (cmpca does it another sound way),
 * HSM_GAP_LIMIT (some choice is unavailable, such as a key type, and
 * cmpca works with the others), HSM_GAP_REFUSED (a feature is refused:
 * sealing enrollment secrets, key archival, serial numbers), or 0 when
 * there is no gap number i.
 */
#define HSM_GAP_FALLBACK 1
#define HSM_GAP_LIMIT 2
#define HSM_GAP_REFUSED 3
int hsm_caps_gap(const struct hsm_caps *c, int i, char *buf, size_t len);
/*
 * Can a token with capabilities c archive keys (hsm_archive.c: AES-256
 * key generation, AES-GCM encrypt and decrypt)? 1, or 0 with the missing
 * PKCS#11 mechanisms named in buf ("CKM_AES_GCM"). hsm_archive_key_create
 * refuses such a token; cmpcad -t names every profile with archive_keys
 * on it.
 */
int hsm_caps_archive(const struct hsm_caps *c, char *buf, size_t len);

/*
 * hsm_open() with arguments for the module's C_Initialize (pReserved of
 * CK_C_INITIALIZE_ARGS; NSS's soft token needs its configuration there:
 * "configdir='sql:/path' certPrefix='' keyPrefix='' secmod='secmod.db'
 * flags=..."). NULL or "" passes none, as hsm_open() does.
 */
struct hsm *hsm_open_args(const char *module, const char *token_label,
    const char *pin_file, const char *init_args) CA_MUST_CHECK;

/* Logs out, releases the module. Safe to call with NULL. */
void hsm_close(struct hsm *h);

/*
 * Finds the private key named by an RFC 7512 PKCS#11 URI
 * ("pkcs11:token=cmpca;object=issuing-2026", "pkcs11:object=x;id=%01%02",
 * type=private implied). The token attribute, when present, must match the
 * open token. Returns a new EVP_PKEY (caller frees) that signs in the token
 * and carries the public components (i2d_PUBKEY works on it), or NULL.
 */
EVP_PKEY *hsm_key_load(struct hsm *h, const char *uri) CA_MUST_CHECK;

/*
 * Generates a key pair in the token with C_GenerateKeyPair: the private key
 * is token, private, sensitive, not extractable, sign only; the public key
 * is token, verify only. Both carry CKA_LABEL = label and the same random
 * CKA_ID. Fails if a key with that label exists. On success returns 1,
 * sets *pub to a software copy of the public key (caller frees) and writes
 * the key's URI ("pkcs11:token=<token>;object=<label>") to uri (size
 * urilen). Returns 0 on failure.
 */
int hsm_keygen(struct hsm *h, const char *label, enum hsm_keytype type,
    EVP_PKEY **pub, char *uri, size_t urilen) CA_MUST_CHECK;

/*
 * Central key generation (RFC 9483 §4.1.6): a key pair of type generated
 * by the token for an end entity, as session objects that are destroyed
 * before return; the private key leaves the token only wrapped (AES key
 * wrap with padding under a one-time session key, hsm_eekey.c). Returns 1
 * and *key, a software key (caller frees; it is the end entity's private
 * key: never logged, stored or written in clear), or 0 (reason in
 * hsm_error()).
 */
int hsm_keygen_ee(struct hsm *h, enum hsm_keytype type, EVP_PKEY **key)
    CA_MUST_CHECK;

/*
 * Key archival (hsm_archive.c): an AES-256 key per CA on the token,
 * labelled HSM_ARCHIVE_PREFIX followed by the CA's label (token, private,
 * sensitive, not extractable, AES-GCM only), encrypts the PKCS#8 of keys
 * the CA generated for its end entities, in the token; aad (the CA label
 * and the certificate's serial) is authenticated with the value.
 *
 * hsm_archive_key_create: makes ca_label's archival key (refused if it
 * exists), its token label into label (size labellen); 1 or 0.
 * hsm_archive_wrap: 1 and *out (caller frees with OPENSSL_free; not
 * secret) of *outlen bytes, 0 when the CA has no archival key, -1 on
 * another error. hsm_archive_unwrap: 1 and *key (the end entity's private
 * key: caller frees, never logs or writes it in clear), 0 when the value
 * does not authenticate or there is no archival key, -1 on a token error.
 * Reasons in hsm_error().
 */
#define HSM_ARCHIVE_PREFIX "cmpca-archive-"
int hsm_archive_key_create(struct hsm *h, const char *ca_label, char *label,
    size_t labellen) CA_MUST_CHECK;

int hsm_archive_wrap(struct hsm *h, const char *ca_label, const char *aad,
    EVP_PKEY *key, unsigned char **out, size_t *outlen) CA_MUST_CHECK;
int hsm_archive_unwrap(struct hsm *h, const char *ca_label, const char *aad,
    const unsigned char *in, size_t inlen, EVP_PKEY **key) CA_MUST_CHECK;

/* Fills buf with len bytes from the token's RNG. Returns 1 or 0. */
int hsm_random(struct hsm *h, unsigned char *buf, size_t len) CA_MUST_CHECK;

/*
 * Losing the token. A PKCS#11 error that means the session, the login or
 * the key handles are gone (token removed, device or module failure,
 * session closed: CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_REMOVED,
 * CKR_DEVICE_ERROR, CKR_GENERAL_ERROR, CKR_SESSION_*, CKR_*_HANDLE_INVALID,
 * CKR_USER_NOT_LOGGED_IN ...) marks every handle of the process lost.
 * hsm/ notes the errors it sees itself; signing happens in OpenSSL
 * through libp11, so callers pass each error they drain from OpenSSL's
 * queue to hsm_err_note(), which returns 1 for such an error.
 */
int hsm_err_note(unsigned long e);

/* 1 if h is lost (see above) and not yet reopened. Safe with NULL. */
int hsm_lost(const struct hsm *h);

/* The last error that marked handles lost ("token not present (CKR
 * 0xe0)"), written to buf. Returns buf. */
const char *hsm_lost_reason(char *buf, size_t len);

/*
 * Reopens a lost handle: unloads the module (C_Finalize ends every session
 * of the process on it), loads it again, finds the token, opens a session
 * and logs in with the PIN read again from where hsm_open() read it. Every
 * EVP_PKEY loaded from h must be freed before: they die with the module.
 * One attempt per second at most; a login the token refused (wrong or
 * locked PIN) is never tried again. Returns 1 when h is usable (also when
 * it was not lost), 0 when not (reason in hsm_error(); every hsm_ call on
 * h then fails cleanly until a later hsm_reopen() succeeds).
 */
int hsm_reopen(struct hsm *h) CA_MUST_CHECK;

/* The token label of an open handle. */
const char *hsm_token_label(const struct hsm *h);

/*
 * Initialises a token in the first free slot (SoftHSM) with the given label,
 * SO PIN and user PIN (both read from files with hsm_pin_read). For test and
 * stack set-up; real HSMs are initialised with their vendor's tools. Returns
 * 1 on success, 0 on failure.
 */
int hsm_token_init(const char *module, const char *token_label,
    const char *so_pin_file, const char *pin_file) CA_MUST_CHECK;
/* The same with arguments for C_Initialize (see hsm_open_args()). */
int hsm_token_init_args(const char *module, const char *token_label,
    const char *so_pin_file, const char *pin_file,
    const char *init_args) CA_MUST_CHECK;

/*
 * Enrollment secrets sealed with a non-extractable AES key of the token,
 * labelled HSM_SEAL_LABEL (version 1, generated by the first hsm_seal())
 * or HSM_SEAL_LABEL-N (version N, hsm_seal_new_key()): AES-256-GCM under
 * a data key the token derives from it once per process, or in the token
 * itself (formats in hsm_aes.c). hsm_seal() uses the current (highest)
 * version and the value names it; hsm_unseal() opens any version still
 * on the token. aad (the secret's reference) is authenticated with the
 * value and its key version, so a sealed value opens only under the same
 * aad and version.
 *
 * hsm_seal: 1 and *out (caller wipes and frees with free()) of *outlen
 * bytes, or 0. hsm_unseal: 1 and *pt (NUL-terminated, not counted in
 * *ptlen; caller wipes and frees), 0 if the value does not authenticate,
 * -1 on a token error. Reasons in hsm_error().
 */
#define HSM_SEAL_LABEL "cmpca-secrets"
int hsm_seal(struct hsm *h, const char *aad, const unsigned char *pt,
    size_t ptlen, unsigned char **out, size_t *outlen) CA_MUST_CHECK;
int hsm_unseal(struct hsm *h, const char *aad, const unsigned char *in,
    size_t inlen, unsigned char **pt, size_t *ptlen) CA_MUST_CHECK;
/*
 * hsm_seal_new_key: generates the next key version (same attributes) and
 * makes it current for this process; *ver its number. hsm_seal_current:
 * the current version into *ver (generating version 1 if there is none).
 * Both return 1, or 0 (reason in hsm_error()).
 */
int hsm_seal_new_key(struct hsm *h, unsigned long *ver) CA_MUST_CHECK;
int hsm_seal_current(struct hsm *h, unsigned long *ver) CA_MUST_CHECK;
/* The key version a sealed value names (1 for formats 0x01 and 0x02), or 0
 * if it is not a sealed value. Not authenticated: hsm_unseal() checks. */
unsigned long hsm_sealed_version(const unsigned char *in, size_t inlen);

/* Last error of this thread, never NULL. */
const char *hsm_error(void);

#endif
