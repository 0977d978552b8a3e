/*
 * cmp.h - the CMP engine's public interface (DER in, DER out) and the
 * protection and header helpers the CMP client (ca/client/) shares.
 */
#ifndef CMPCA_CMP_H
#define CMPCA_CMP_H

#include "ca/ca.h"

/* cmp_protect.c - PBM (RFC 4211 §4.4). */
struct cmp_mac {
	int mac_nid;	 /* digest of the HMAC */
	unsigned char key[EVP_MAX_MD_SIZE];
	size_t key_len;	 /* derived base key */
};
/*
 * Derives the PBM base key for alg (the PKIMessage protectionAlg) and
 * secret. Returns 1, 0 (client fault: *fail and *why set), -1 internal.
 */
int cmp_pbm_derive(const X509_ALGOR *alg, const unsigned char *secret,
    size_t secret_len, long max_iter, struct cmp_mac *mac, int *fail,
    const char **why);
/*
 * Verifies msg->protection with the derived key: over raw (raw_len bytes,
 * header and body as received, cmp_pp_slice) if given, then over the
 * re-encoded message. Returns 1, 0, -1.
 */
int cmp_pbm_verify(const CMP_MSG *msg, const struct cmp_mac *mac,
    const unsigned char *raw, size_t raw_len);
/* Sets msg->protection with the derived key. Returns 1 or 0. */
int cmp_pbm_protect(CMP_MSG *msg, const struct cmp_mac *mac) CA_MUST_CHECK;
/* Wipes a derived key. */
void cmp_mac_clear(struct cmp_mac *mac);
/* Key derivations (PBM, PBMAC1) this process has run: every MAC-protected
 * request costs one, whether its secret reference exists or not (tests). */
unsigned long cmp_pbm_derivations(void);
/* cmp_guard.c - enrollment-secret row reads and unseals this process has
 * made (known and unknown references make the same calls: tests). */
void cmp_guard_counts(unsigned long *reads, unsigned long *unseals);
/* Returns 1 if alg is a password-based MAC (PBM or PBMAC1). */
int cmp_alg_is_pbm(const X509_ALGOR *alg);

/* cmp_sign.c - signature protection with a CA key in the HSM. */
/* Sets protectionAlg of h for signing with ca's key. Returns 1 or 0. */
int cmp_sig_alg_set(CMP_HEADER *h, const struct ca_ident *ca);
/* Signs m (header and body) with ca's key in the HSM. Returns 1 or 0. */
int cmp_sig_protect(CMP_MSG *m, const struct ca_ident *ca);

/* cmp_req.c - the name of PKIFailureInfo bit (CMP_FAIL_BAD_ALG is
 * "badAlg", RFC 9810 §5.2.3), or NULL if bit names none. */
const char *cmp_fail_name(int bit);

/* cmp_hdr.c - PKIHeader checks and response headers (RFC 9810 §5.1.1). */
/*
 * Checks a request header: pvno 2 or 3, transactionID and senderNonce
 * present and of sane length, messageTime within skew seconds (less than
 * a day), recipient empty or ca_name. Returns 1, 0 (*fail, *why).
 */
int cmp_hdr_check(const CMP_HEADER *h, const X509_NAME *ca_name, long skew,
    int *fail, const char **why);
/* The pvno to answer with: the request's when 2 or 3, else 2. */
int cmp_hdr_pvno(const CMP_HEADER *h);
/* 1 if generalInfo carries implicitConfirm (RFC 9810 §5.1.1.1). */
int cmp_hdr_implicit_confirm(const CMP_HEADER *h);
/*
 * A response header for req: our name as sender, the request's sender as
 * recipient, same transactionID, recipNonce = request senderNonce, our
 * senderNonce nonce (CA_NONCE_LEN bytes), messageTime now,
 * the request's protectionAlg and senderKID when mac is set, and
 * implicitConfirm when granted. req may be NULL (undecodable request).
 */
CMP_HEADER *cmp_hdr_response(const CMP_HEADER *req, const X509_NAME *ca_name,
    int pvno, int mac, int implicit_confirm, const unsigned char *nonce);

/*
 * cmp_sig.c - signature protection with one of our CA keys in the HSM:
 * the engine's responses and the CMP client's requests (ca/client/).
 */
/* Sets protectionAlg of h for signing with ca's key. Returns 1 or 0. */
int cmp_sig_alg_set(CMP_HEADER *h, const struct ca_ident *ca);
/* Signs m (header and body) with ca's key in the HSM. Returns 1 or 0. */
int cmp_sig_protect(CMP_MSG *m, const struct ca_ident *ca);

/*
 * cmp_upstream.c - cmpca as an RA (RFC 9483 §5): certificate requests to
 * an identity of status "upstream" are checked as for any CA, then
 * forwarded to the upstream CA. The transport sits above the engine
 * (ca/client/client_upstream.c) and is handed to it here, the way
 * OpenSSL's CMP context takes a transfer callback.
 *
 * exchange: sends body (always consumed) to the upstream CA of ca, in a
 * new upstream transaction or, with cont, in the one *st describes; *st
 * is the transaction's state after the answer. *answer is the answer,
 * its protection, transaction and nonces checked: of type want or an
 * error message (the caller reads its PKIStatusInfo). Returns 1, or 0
 * with a log-safe reason in err (no answer, or one that failed a check).
 */
struct cmp_upstream_io {
	int (*exchange)(struct db *db, struct hsm *hsm,
	    const struct ca_ident *ca, struct db_up_state *st, int cont,
	    CMP_BODY *body, int want, CMP_MSG **answer, char *err,
	    size_t errlen);
};
/* A certConf body for x (certReqId rid) accepting it, or rejecting it
 * with why (badCertTemplate). NULL on error. */
CMP_BODY *cmp_upstream_certconf_body(X509 *x, long rid, const char *why);
struct cmp_srv;
/* Gives the engine its upstream transport; without one, requests to an
 * upstream identity are answered systemUnavail. */
void cmp_srv_set_upstream(struct cmp_srv *s, const struct cmp_upstream_io *io);

/* cmp_server.c - the engine: DER in, DER out. */
struct cmp_srv;
struct cmp_srv *cmp_srv_new(const struct cfg *cfg, struct db *db,
    struct hsm *hsm) CA_MUST_CHECK;
void cmp_srv_free(struct cmp_srv *s);
/*
 * Frees every key the engine loaded from its HSM (the CA store); each is
 * loaded again when a request needs it. A caller that finds the HSM lost
 * (hsm_lost()) calls it before hsm_reopen(): keys die with the module.
 * While the HSM is lost, the engine answers systemUnavail. NULL-safe.
 */
void cmp_srv_keys_drop(struct cmp_srv *s);
/*
 * Processes one request for the CA named label (NULL: default). Returns the
 * HTTP status; on 200 *resp and *resp_len hold a DER PKIMessage the caller
 * frees with OPENSSL_free. Never crashes on any input.
 */
int cmp_srv_process(struct cmp_srv *s, const char *label,
    const unsigned char *req, size_t req_len, unsigned char **resp,
    size_t *resp_len);

#endif
