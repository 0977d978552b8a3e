/*
 * status.h - revocation status: CRLs, the OCSP responder, its cache and
 * its delegated signers.
 */
#ifndef CMPCA_STATUS_H
#define CMPCA_STATUS_H

#include "ca/ca.h"

/* crl.c - CRLs signed in the HSM. */
/* What crl_issue makes. */
struct crl_spec {
	long hours;	       /* a complete CRL's thisUpdate to nextUpdate */
	long delta;	       /* > 0: a delta CRL (RFC 5280 §5.2.4) valid
				* this many seconds; 0: a complete CRL */
	const char *fresh_url; /* complete CRLs' freshestCRL (delta_crl_url,
				* "%{crl}"), or NULL: none */
	const char *dir;       /* crl_dir, or NULL: no file */
};
/*
 * Issues the next CRL of ca as s says, stores it (one issuer at a time
 * per CA, by a database lock) and, when s->dir is set, writes
 * dir/<crl_name>.crl (a delta: dir/delta/<crl_name>.crl). A delta asked
 * for a CA without a complete CRL is a complete CRL (out->delta_of 0).
 * Returns 1, -1 if stored but not written, 0 on failure; out holds the
 * CRL (db_crl_clear).
 */
int crl_issue(struct db *db, const struct ca_ident *ca,
    const struct crl_spec *s, struct db_crl *out) CA_MUST_CHECK;
/*
 * As crl_issue, for a CA a status change marked (db_crl_due_list): 2 and
 * nothing signed when the mark is gone (another host issued first).
 */
int crl_issue_due(struct db *db, const struct ca_ident *ca,
    const struct crl_spec *s, struct db_crl *out) CA_MUST_CHECK;
/*
 * Publishes the newest CRL in the database for the CA row (whichever
 * host or CLI issued it) as dir/<CRL name of its key>.crl, and its newest
 * delta CRL, if any, as dir/delta/<name>.crl, unless the file holds it
 * already. deep: a file whose bytes differ from the CRL
 * published last is rewritten too (it is read and hashed); otherwise only
 * a new CRL number or a missing file is noticed. Returns 1 written, 0
 * unchanged or no CRL yet, -1 on failure (logged).
 */
int crl_publish(struct db *db, const struct db_ca *row, const char *dir,
    int deep);

/* ocsp.c - the OCSP responder (RFC 6960): DER in, DER out. */
/* Largest OCSPRequest accepted (bytes), POST body or decoded GET: 16
 * requests with SHA-512 CertIDs, a nonce and a signature fit in 4 KiB. */
#define CA_MAX_OCSP_REQUEST (16 * 1024)
/* Single requests in one OCSPRequest. */
#define CA_MAX_OCSP_CERTS 16
/* Nonce octets accepted (RFC 8954 §2.1: at most 32). */
#define CA_MAX_OCSP_NONCE 32
/* Seconds at least between two re-reads of a worker's CA and signer list
 * caused by an unknown issuer or a CA without signer (changes are found
 * every CA_CACHE_CHECK seconds by the CA version). */
#define CA_OCSP_MISS_REFRESH 5
/* Signed answers each worker keeps for reuse (ocsp_cache.c): those not
 * kept in the database (several certificates in one request, serials not
 * in the inventory), about 1-2 KiB each (the signer certificate is in
 * every answer), so a few MiB per worker at most. */
#define CA_OCSP_CACHE_SLOTS 4096
#define CA_OCSP_CACHE_WAYS 4 /* entries a request may take (a set) */

/* ocsp_cache.c - signed OCSP answers a worker reuses while the statuses
 * are the same, for requests the database's store does not answer (see
 * the file). */
struct ocsp_cache;
struct ocsp_cache *ocsp_cache_new(void);
void ocsp_cache_free(struct ocsp_cache *c);
/* Forgets every answer (a signer or CA entry changed). NULL-safe. */
void ocsp_cache_clear(struct ocsp_cache *c);
/*
 * The answer kept for the request digest req, if it was made by signer,
 * for the same status digest, and now is before its reuse limit; NULL
 * otherwise. The bytes stay the cache's.
 */
const unsigned char *ocsp_cache_get(struct ocsp_cache *c,
    const unsigned char *req, const unsigned char *status,
    const void *signer, time_t now, size_t *len);
/* Keeps a copy of der for reuse until until. NULL-safe; best effort. */
void ocsp_cache_put(struct ocsp_cache *c, const unsigned char *req,
    const unsigned char *status, const void *signer, time_t until,
    const unsigned char *der, size_t len);

struct ocsp_srv;
/* A responder for one worker; nothing is loaded until the first request.
 * cfg, db and hsm are borrowed and must outlive it. */
struct ocsp_srv *ocsp_srv_new(const struct cfg *cfg, struct db *db,
    struct hsm *hsm) CA_MUST_CHECK;
/* Safe to call with NULL. */
void ocsp_srv_free(struct ocsp_srv *s);
/* Forgets every CA and signer key (the HSM is being reopened); they are
 * read again on the next request. Safe to call with NULL. */
void ocsp_srv_keys_drop(struct ocsp_srv *s);
/*
 * Answers one OCSPRequest (req may be NULL: an undecodable GET). Returns
 * the HTTP status: 200 with *resp (an OCSPResponse the caller frees with
 * OPENSSL_free) for every answer, malformedRequest, unauthorized,
 * internalError and tryLater included; 500 with *resp NULL only when no
 * response could be encoded. Never crashes on any input.
 */
int ocsp_srv_process(struct ocsp_srv *s, const unsigned char *req,
    size_t req_len, unsigned char **resp, size_t *resp_len);

/*
 * ocsp_answer.c - answers produced ahead of time (the housekeeper): signs
 * and stores at most CA_OCSP_PRODUCE_BATCH answers that are stale or
 * within ocsp_refresh of their nextUpdate (found by index), and with
 * missing also those missing for a certificate of the inventory (a scan)
 * after pruning expired ones (*pruned, may be NULL). Returns the answers
 * stored, or -1 (logged).
 */
int ocsp_srv_produce(struct ocsp_srv *s, int missing, long long *pruned);

/* ocsp_signer.c - delegated OCSP signers (RFC 6960 §4.2.2.2). */
/*
 * Issues a delegated OCSP signer for ca: a key generated in the HSM (EC
 * P-256 for an EC CA, RSA 2048 otherwise), a certificate signed by the CA
 * key with id-kp-OCSPSigning and id-pkix-ocsp-nocheck, valid days days
 * (not past the CA certificate), stored in ocsp_signer and in the
 * inventory as valid, in one database transaction. On success *out
 * (may be NULL) is the new certificate (caller frees). Returns 1, or 0
 * with the reason logged.
 */
int ocsp_signer_issue(struct db *db, struct hsm *hsm, const struct db_ca *ca,
    long days, X509 **out) CA_MUST_CHECK;
/*
 * Can the active CA's newest signer answer now: it exists, has not
 * expired and (when hsm is given) its key loads and matches? 1 usable
 * (detail "signer N", *until its notAfter), 0 not (detail says why and
 * names the command to run), -1 database error (detail).
 */
int ocsp_signer_check(struct db *db, struct hsm *hsm, const struct db_ca *ca,
    time_t now, char *detail, size_t len, time_t *until);
/* As ocsp_signer_issue, inside the caller's database transaction (`ca
 * rollover`: the new key and its signer commit together). 1 or 0. */
int ocsp_signer_issue_in(struct db *db, struct hsm *hsm,
    const struct db_ca *ca, long days) CA_MUST_CHECK;

#endif
