/*
 * client.h - the CMP client (RFC 9810, HTTP transfer RFC 9811): one of
 * our CAs as the requester towards another CMP server. Used today by
 * `cmpca cross-certify request` (ccr); the exchange is generic, so an RA
 * mode can send ir/cr/kur/p10cr/rr through it with its own body builders.
 *
 * Every request is signed with the CA's key in the HSM (cmp_sig_protect)
 * with the CA's chain in extraCerts. Every answer must be signed by the
 * pinned certificate of the server (the peer), name the peer as sender,
 * carry our transactionID and our senderNonce as recipNonce, and be of
 * the body type asked for. The client logs nothing but OpenSSL's errors:
 * a failure leaves one message in cmp_client_error() for the caller.
 */
#ifndef CMPCA_CLIENT_H
#define CMPCA_CLIENT_H

#include "ca/ca.h"

struct cmp_client;

/*
 * A client that speaks for our CA ca to the server at url (http:// or
 * https://), whose answers must be signed by peer's key; peer's subject
 * is the recipient. tls_trusted: a PEM file of the anchors for an
 * https:// server's certificate (NULL: the system store). ca and peer are
 * borrowed and must outlive the client. NULL on error (out of memory).
 */
struct cmp_client *cmp_client_new(const struct ca_ident *ca, X509 *peer,
    const char *url, const char *tls_trusted);
/*
 * A client that speaks for an RA towards its upstream CA (RFC 9483 §5)
 * with a MAC credential: requests are protected with PBM under secret
 * (copied) and name ref as senderKID; answers must be MAC-protected with
 * the same secret or signed by peer's key, and may be errors (the caller
 * reads their PKIStatusInfo). NULL on error.
 */
struct cmp_client *cmp_client_new_mac(X509 *peer, const char *url,
    const char *tls_trusted, const char *ref, const unsigned char *secret,
    size_t secret_len);
/* The current transaction's state, to continue it in another process
 * (an RA keeps it in the database between the device's messages). */
void cmp_client_state_get(const struct cmp_client *cl,
    struct db_up_state *st);
void cmp_client_state_set(struct cmp_client *cl,
    const struct db_up_state *st);
/* Safe to call with NULL. */
void cmp_client_free(struct cmp_client *cl);
/*
 * Why the last call failed, in the log's style ("URL: no CMP answer",
 * "the answer is not signed by the partner CA key", "partner answered
 * with an error: status 2: TEXT", ...); peer-chosen text only from a
 * signed answer, and sanitised (log_sanitize). "" when nothing failed.
 */
const char *cmp_client_error(const struct cmp_client *cl);

/*
 * One request and its answer. body (always consumed) goes out in a new
 * signed request: ir, cr, kur, p10cr, ccr, rr and genm start a new
 * transaction, anything else (certConf, pollReq) continues the current
 * one. The answer must pass the checks above and be of type want (for
 * want pollRep: or ip, cp, kup, the final answer to a pollReq).
 * *answer is the checked message (caller frees with CMP_MSG_free).
 * Returns 1, or 0 with cmp_client_error() set.
 */
int cmp_client_exchange(struct cmp_client *cl, CMP_BODY *body, int want,
    CMP_MSG **answer) CA_MUST_CHECK;
/*
 * Confirms certificate x of request 0 of the current transaction (a
 * certConf with its hash, RFC 9810 §5.3.18) and expects pkiConf. Returns
 * 1, or 0 with cmp_client_error() set.
 */
int cmp_client_confirm(struct cmp_client *cl, X509 *x) CA_MUST_CHECK;

/*
 * client_ccr.c - cross-certification (RFC 9810 §5.3.11): a ccr for our
 * CA's name and key (POP by signature; notAfter days from now, 0: the
 * peer decides), the ccp's certificate checked (issued by the peer for
 * our name and key, CA:TRUE, its signature by the peer's key), then
 * certConf and pkiConf. *cross is the certificate (caller frees).
 * Returns 1, or 0 with cmp_client_error() set.
 */
int cmp_client_ccr(struct cmp_client *cl, int days, X509 **cross)
    CA_MUST_CHECK;

/*
 * client_upstream.c - the RA mode's transport (cmp_srv_set_upstream):
 * the upstream of an identity read from the database, its secret
 * unsealed in the HSM, one exchange in a MAC-mode client.
 */
extern const struct cmp_upstream_io client_upstream_io;
/*
 * The certConfs the RA owes its upstream CAs (024_ra_relay.sql): each
 * certificate committed under implicitConfirm whose certConf did not get
 * through (the worker died, the upstream did not answer) for longer than
 * CA_RA_OWED_AGE seconds is confirmed again in its upstream transaction.
 * Taken, or refused by the upstream CA (logged and audited
 * 'upstream-confirm-refused'): the row goes; no answer: it stays for the
 * next sweep. Called by the housekeeper.
 */
void client_upstream_resume(struct db *db, struct hsm *hsm);

#endif
