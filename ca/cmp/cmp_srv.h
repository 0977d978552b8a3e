/*
 * cmp_srv.h - private to the CMP engine (ca/cmp/): the server and
 * per-request state, and what each file of the engine offers the files
 * above it. Calls go one way, top to bottom:
 *   cmp_server.c   entry, CA lookup, decode, header, dispatch, nested
 *   cmp_auth.c     protection of the request (MAC here, signature in
 *                  cmp_sig.c)
 *   handlers       cmp_certreq.c, cmp_certconf.c, cmp_ccr.c, cmp_genm.c,
 *                  cmp_poll.c, cmp_krr.c (above cmp_rr.c: the RA scope),
 *                  cmp_rr.c
 *   cmp_sig.c      verifying signature protection, the trust store
 *   cmp_kga.c      central key generation in a certificate request
 *   cmp_req.c      request helpers: reject, internal, responses,
 *                  transaction and nonce records
 *   cmp_secret.c   the worker's enrollment-secret cache
 *   cmp_sign.c, cmp_protect.c, cmp_hdr.c   (cmp.h) protection, headers
 * tests/unit/test_layers.sh fails on any call back up.
 */
#ifndef CMPCA_CMP_SRV_H
#define CMPCA_CMP_SRV_H

#include "ca/ca.h"
#include "ca/cmp/cmp.h"

/* Enrollment secrets a worker keeps, and for how long (seconds). */
#define CMP_SECRET_CACHE 16
#define CMP_SECRET_CACHE_TTL 60
/* Seconds of mac_fail_budget a worker banks (cmp_guard.c). */
#define CMP_GUARD_WINDOW 10

/* One of our CA rows, retired ones included, for finding which of our
 * keys signed a certificate of a protection path (cmp_sig.c). */
struct trust_ca {
	long long id;
	char label[DB_LABEL_MAX];
	int active;	/* else retired: anchors and vouches for nothing */
	long long key_of; /* an earlier key of identity key_of, or 0 */
	int old_key;	/* retired, an earlier key of an active identity
			   (a rollover): vouches for its own end entities'
			   kur and rr only */
	X509 *cert;	/* its certificate, public key decoded once */
};

struct cmp_srv {
	const struct cfg *cfg;
	struct db *db;
	struct hsm *hsm;
	struct ca_store store;
	unsigned long reqno;
	X509_STORE *trust;  /* our active CAs and the external anchors */
	struct trust_ca *tca; /* every CA row with a certificate, as of trust */
	size_t ntca;
	unsigned char trust_version[DB_CA_VERSION_LEN]; /* db_ca_version */
	time_t trust_checked; /* when the version was last compared */
	const struct cmp_upstream_io *up; /* RA mode's transport, or NULL */
	/* Unlimited enrollment secrets as last read (sealed), for requests
	 * whose database statement checks the row version (secret_cached). */
	struct {
		struct db_secret s;
		time_t at;
	} secrets[CMP_SECRET_CACHE];
	/* cmp_guard.c: the unknown-reference decoy and the budget of
	 * failed key derivations (microseconds left, as of budget_at). */
	unsigned char *decoy;
	size_t decoy_len;
	int decoy_failed;
	long long budget_us;
	long long budget_at;
	int budget_spent; /* logged once per episode */
};

/*
 * Everything one request allocates; released by req_clear() at the end of
 * cmp_srv_process, so nothing derived from an unverified message outlives
 * the request.
 */
struct req {
	struct cmp_srv *srv;
	unsigned long id;
	CMP_MSG *msg;
	const unsigned char *pp; /* header and body as received, or NULL */
	size_t pp_len;
	int pvno;
	struct ca_ident *ca;
	struct cmp_mac mac;
	int have_mac;
	int secret_cached;	     /* r->secret came from the worker's cache */
	int secret_stale;	     /* ... and the row changed: serve again */
	int secret_fresh;	     /* read the secret from the database */
	int db_unavail;		     /* a lookup failed: answer systemUnavail */
	struct db_secret secret;
	const unsigned char *der;    /* the request as received */
	size_t der_len;
	CMP_MSG *relay;		     /* RA mode, nested: the upstream CA's
					answer, given to the device unchanged
					instead of the handler's */
	int up_nested;		     /* RA mode: goes upstream in nested */
	int have_sig;		     /* signature protection verified */
	int sign_resp;		     /* sign the answer to an unprotected one */
	X509 *prot_cert;	     /* the protection certificate */
	struct ca_ident *prot_issuer; /* our CA that issued it, or NULL */
	struct db_cert prot_row;     /* its inventory row when ours */
	int prot_external;	     /* its path ends at an external anchor
					and holds nothing of ours */
	int is_ra;		     /* protected by a registered RA */
	struct db_ra ra;	     /* that RA */
	int is_partner;		     /* protected by a registered partner CA */
	struct db_partner partner;   /* that partner */
	int via_cross;		     /* path through our cross certificate
					for a partner CA */
	int via_old_key;	     /* the protection certificate was
					signed by an earlier key of r->ca's
					identity (after a rollover) */
	/* The protection path as the issuing statement re-checks it
	 * (db_issue): our CA rows whose keys signed a certificate of it,
	 * and the inventory rows of those certificates. */
	long long path_ca[DB_ISSUE_PATH_MAX];
	size_t npath_ca;
	long long path_cert[DB_ISSUE_PATH_MAX];
	size_t npath_cert;
	char credential[DB_SENDER_MAX]; /* cert.credential of what r obtains */
	int nested;		     /* an inner message of a nested one */
	const char *label;	     /* CA label from the path, or NULL */
	char sender[DB_SENDER_MAX];  /* who, for requester and audit rows */
	char sender_id[DB_SENDER_MAX]; /* whose transaction: sender, or for
					  a certificate its SHA-256 */
	char why_buf[256];	     /* a refusal text naming its subject */
	unsigned char nonce[CA_NONCE_LEN]; /* our senderNonce */
	int implicit;			   /* implicitConfirm granted */
	/* Outcome, for the log line. */
	int fail;
	const char *why;
	const char *outcome;
	int http;
};

/* cmp_req.c: the request helpers, below the handlers. */
/* Builds a PKIStatusInfo; fail < 0 means no failInfo. NULL on error. */
CMP_PKISI *cmp_pkisi_new(int status, int fail, const char *text);
/* A CertResponse; cert (may be NULL) is up-ref'ed. NULL on error. */
CMP_CERTRESPONSE *cmp_certresp_new(int rid, int status, int fail,
    const char *why, X509 *cert);
/* Wraps body (owned) into a protected response; NULL on error. */
CMP_MSG *cmp_resp_new(struct req *r, CMP_BODY *body);
/* cmp_resp_new() for an ip/cp/kup; with_chain: the issuing CA's chain
 * in extraCerts (a certificate was issued). NULL on error. */
CMP_MSG *cmp_certrep_new(struct req *r, CMP_BODY *body, int with_chain);
/* Records a rejection of the whole message; returns NULL. */
CMP_MSG *cmp_reject(struct req *r, int fail, const char *why);
/* Records and logs an internal failure; returns NULL. */
CMP_MSG *cmp_internal(struct req *r, int fail, const char *what);
/* Maps a refusal of the database's one-statement paths to a rejection. */
void cmp_refuse(struct req *r, enum db_refusal why);
/* Inside the caller's database transaction that stores what r->ca
 * signed: is r->ca's certificate still the CA row's? 1, or 0 with r set
 * (systemUnavail, the CA is read again next time). */
int cmp_ca_current(struct req *r);
/* The fields of a db_txn_finish() call every caller sets: this request's
 * transaction and nonces, the states, actor and CA. */
void cmp_finish_init(const struct req *r, struct db_finish *f,
    enum db_txn_state from, enum db_txn_state to);
/*
 * Claims the request's senderNonce and moves its transaction from -> to
 * with our new senderNonce, in one statement (inside or outside a
 * database transaction). Returns 1, or 0 with r->fail set.
 */
int cmp_txn_move(struct req *r, enum db_txn_state from,
    enum db_txn_state to);
/* Whose transactions r starts and continues: the sender, or for a
 * protection certificate its hash (r->sender_id). */
const char *cmp_sender_id(const struct req *r);
/* The transaction row of this request in state, with our nonce. */
void cmp_txn_fill(const struct req *r, enum db_txn_state state,
    struct db_txn *t);
/*
 * Claims the request's senderNonce (replay protection; the row is pruned
 * after nonce_max_age). Returns 1, 0 (replayed: r->fail set), -1
 * (internal, r set).
 */
int cmp_nonce_claim(struct req *r);
/*
 * Records the transaction of this request in state, claiming its
 * senderNonce, inside the caller's database transaction. Returns 1, 0
 * (replay or transactionID in use: r->fail set), -1 (internal, r set).
 */
int cmp_txn_record(struct req *r, enum db_txn_state state);
/*
 * Checks a message continuing a transaction: known, same sender and CA,
 * in state, not expired (wait_conf), recipNonce equal to our last
 * senderNonce. Returns 1 and fills t, or 0 (r->fail set). With certs,
 * also the transaction's certificates (*certs of *n, caller frees with
 * db_cert_array_free; read in the same round trip).
 */
int cmp_txn_continue(struct req *r, struct db_txn *t,
    enum db_txn_state state, struct db_cert **certs, size_t *n);
/* The name of the profile r's certificate requests are served under (an
 * RA's, an enrollment secret's, the protection certificate's or its
 * renew_profile, else "default"); it may not be configured. */
const char *cmp_profile_name(const struct req *r);
/* Does the profile of c revoke what c replaced (a kur) once c is
 * confirmed (kur_revokes_old)? 1 or 0. */
int cmp_supersedes(const struct req *r, const struct db_cert *c);

/* cmp_kga.c: central key generation (RFC 9483 §4.1.6), for
 * cmp_certreq.c. */
/*
 * For m, whose template asks the CA to make the key: checks the profile
 * generates the type asked for, that the requester can receive it (MAC,
 * or a signature by an RSA or EC key) and that m has no POP, then
 * generates the key in the HSM and puts its public key into the
 * template. Returns 1 and *key (caller frees), 0 (*fail, *why), -1.
 */
int cmp_kga_prepare(struct req *r, CRMF_CERTREQMSG *m,
    const struct cfg_profile *prof, EVP_PKEY **key, int *fail,
    const char **why);
/* Puts key, packaged for the requester of r, into resp's
 * CertifiedKeyPair.privateKey. Returns 1 or 0 (logged). */
int cmp_kga_attach(struct req *r, CMP_CERTRESPONSE *resp, EVP_PKEY *key);
/* archive_keys: key encrypted under r's CA's archival key in the HSM,
 * for the database (*out, caller frees with OPENSSL_free). Returns 1, 0
 * (*fail systemUnavail, *why: the CA has no archival key), -1 (logged). */
int cmp_kga_archive(struct req *r, EVP_PKEY *key, unsigned char **out,
    size_t *outlen, int *fail, const char **why);

/* cmp_secret.c: the worker's cache of unlimited enrollment secrets. */
/* Copies the cached row of ref into out: 1, or 0 if not cached (or kept
 * longer than CMP_SECRET_CACHE_TTL), -1 on error. */
int cmp_secret_cache_get(struct cmp_srv *s, const char *ref,
    struct db_secret *out);
/* Keeps a copy of sec if it is unlimited, sealed and versioned, in the
 * oldest (or a free) place. */
void cmp_secret_cache_put(struct cmp_srv *s, const struct db_secret *sec);
/* The row of r's secret is gone or another version now (or cannot be
 * read: then it counts as changed). 1 or 0. */
int cmp_secret_row_changed(struct req *r);
/* The secret r took from the worker's cache proved stale (its row
 * changed since it was read, found by the issuing statement or after a
 * MAC that did not verify): dropped from the cache, and the request is
 * served again from a fresh read. No-op otherwise. */
void cmp_secret_stale(struct req *r);

/* cmp_guard.c: the cost of a request before it is authenticated. */
/* db_secret_get() and hsm_unseal() for enrollment secrets, counted
 * (cmp_guard_counts). Same returns as those. */
int cmp_guard_secret_read(struct cmp_srv *s, const char *ref,
    struct db_secret *out);
int cmp_guard_unseal(struct cmp_srv *s, const char *ref,
    const unsigned char *in, size_t inlen, unsigned char **pt,
    size_t *ptlen);
/* The unseal an unknown reference costs: the worker's decoy (sealed on
 * first use), opened and wiped. */
void cmp_guard_decoy_unseal(struct cmp_srv *s);
/* Wipes and frees the decoy. */
void cmp_guard_free(struct cmp_srv *s);
/* May a MAC-protected request be derived now? 1, or 0 when this worker's
 * mac_fail_budget is spent (logged once per episode, counted). */
int cmp_guard_budget_ok(struct cmp_srv *s);
/* This process's CPU time, microseconds (what the budget counts). */
long long cmp_guard_cpu_us(void);
/* Charges us microseconds of a derivation whose MAC did not verify. */
void cmp_guard_budget_debit(struct cmp_srv *s, long long us);

/* cmp_sig.c: signature protection of requests. */
/* Verifies the request's signature protection; 1, 0 (rejected), -1. */
int cmp_sig_verify(struct req *r);
/* Frees the trust store and the CA rows that go with it. */
void cmp_sig_trust_free(struct cmp_srv *s);

/* cmp_auth.c */
/*
 * Checks the protection of the request: unprotected where allowed, MAC
 * with the enrollment secret, or signature (cmp_sig_verify). Returns 1 if
 * verified, 0 if rejected (r->fail/why set), -1 on an internal error.
 */
int cmp_auth_check(struct req *r);

/* The handlers, called by cmp_server.c's dispatch. */
/* cmp_rr.c, cmp_genm.c, cmp_poll.c. */
/* The reasonCode of RevDetails (unspecified if absent), -1 if bad.
 * removeFromCRL (8) asks for a hold's release. */
int cmp_rr_reason(const CMP_REVDETAILS *d);
/* rp for a polled rr transaction whose requests are all decided. */
CMP_MSG *cmp_rr_poll_final(struct req *r, const struct db_pending *pend,
    size_t n);
CMP_MSG *cmp_poll_handle(struct req *r);
CMP_MSG *cmp_rr_handle(struct req *r);
/* Is the certificate row in the scope of r's registered RA
 * (ra_revoke_scope)? 1 or 0. */
int cmp_rr_ra_scope(const struct req *r, const struct db_cert *row);

/* cmp_krr.c: key recovery (RFC 9810 §5.3.8): krr answered with krp. */
CMP_MSG *cmp_krr_handle(struct req *r);
CMP_MSG *cmp_genm_handle(struct req *r);
/* cmp_upstream.c: an identity of status upstream (RFC 9483 §5). */
/* cmp_upstream_rr.c: the first failInfo bit of an upstream's status si, or dflt (relayed
 * to the device as the upstream gave it). */
int cmp_upstream_fail(const CMP_PKISI *si, int dflt);
/*
 * Called first by the dispatch for such an identity: 1 if it answered the
 * request itself (a refusal in r; *out NULL), 0 to go on with the
 * engine's handler (certConf and error forwarded upstream first).
 */
int cmp_upstream_take(struct req *r, CMP_MSG **out);
/*
 * Instead of issuing: forwards m (a checked request; pub its key)
 * upstream and checks the certificate that comes back. 1 and *cert and
 * *fwd (the upstream transaction, for the caller to store with the
 * certificate), 2 and *fwd (waiting) if the upstream CA answered
 * waiting, 0 rejected (*resp, *failp, *whyp), -1 internal.
 */
int cmp_upstream_certreq(struct req *r, const CRMF_CERTREQMSG *m, int rid,
    EVP_PKEY *pub, int approval, X509 **cert, struct db_ra_fwd *fwd,
    CMP_CERTRESPONSE **resp, int *failp, const char **whyp);
/* cmp_upstream_nest.c: requests forwarded unchanged in nested (RFC 9483
 * §5.2.2.1), the upstream CA's answer relayed in r->relay. */
/*
 * Does r go upstream in nested? A signature-protected ir, cr or kur (and
 * its certConf, pollReq, error) always, if the identity signs upstream
 * (--sign-ca); a MAC-protected request when the identity says --nested.
 * Sets r->up_nested. Returns 1 or 0, or -1 with r refused.
 */
int cmp_upstream_nest_mode(struct req *r);
/*
 * Sends r's message upstream in nested (st: the outer transaction, for
 * ra_fwd) and takes the one inner answer, which must belong to the
 * device's transaction. Returns 1 and *inner (caller frees), or 0 with
 * *fail and *why for the device (logged).
 */
int cmp_upstream_nest_exchange(struct req *r, struct db_up_state *st,
    CMP_MSG **inner, int *fail, const char **why);
/* As cmp_upstream_certreq() for a request forwarded in nested; on an
 * answer the device gets, r->relay holds it. */
int cmp_upstream_nest_certreq(struct req *r, const CRMF_CERTREQMSG *m,
    int rid, EVP_PKEY *pub, X509 **cert, struct db_ra_fwd *fwd,
    CMP_CERTRESPONSE **resp, int *failp, const char **whyp);
/* The device's certConf or error of a nested transaction, forwarded in
 * nested (a pollReq: 0, cmp_upstream_take polls): 0 to go on with the engine's handler (r->relay the answer),
 * 1 answered here (*out, or a refusal in r). */
int cmp_upstream_nest_continue(struct req *r, CMP_MSG **out);
/* cmp_upstream_check.c: what the RA checks in the upstream's answer. */
/* A rejection CertResponse for one request; 0, or -1 if it cannot be
 * built. */
int cmp_upstream_refuse(int rid, int fail, const char *why,
    CMP_CERTRESPONSE **resp, int *failp, const char **whyp);
/* "the upstream CA refused: TEXT" into r->why_buf (the upstream's text,
 * sanitised; it reached us under our own credential). */
const char *cmp_upstream_text(struct req *r, const CMP_PKISI *si);
/* Checks the certificate the upstream CA issued for template t and key
 * pub (extra: the answer's extraCerts). NULL if it fits, else what does
 * not (for the log). */
const char *cmp_upstream_cert_check(const struct req *r, X509 *x,
    const CRMF_CERTTEMPLATE *t, EVP_PKEY *pub, STACK_OF(X509) *extra);
/* The plain certificate of a CertResponse accepted (or grantedWithMods),
 * or NULL (any other status, no certificate, an encrypted one). */
X509 *cmp_upstream_issued(const CMP_CERTRESPONSE *cr);
/* The CertResponse for rid in rep (the only one if there is one). */
CMP_CERTRESPONSE *cmp_upstream_find_resp(const CMP_CERTREPMESSAGE *rep,
    int rid);
/* cmp_upstream_rr.c: a device's rr for a certificate this RA brokered,
 * forwarded upstream; the rp (or error) for the device. */
CMP_MSG *cmp_upstream_rr(struct req *r);
/* The certificate the upstream CA issued for p after polling (kept in
 * ra_fwd), or NULL. */
X509 *cmp_upstream_cert(struct req *r, const struct db_pending *p);
/*
 * After the commit of x under implicitConfirm: the certConf upstream in
 * f's transaction, and f's row deleted once taken. A certConf that does
 * not get through stays owed (logged; the row stays for the housekeeper).
 */
void cmp_upstream_confirm_owed(struct req *r, const struct db_ra_fwd *f,
    X509 *x);
/* cmp_ccr.c: cross-certification request from a partner CA. */
CMP_MSG *cmp_ccr_handle(struct req *r);
/* cmp_certreq.c: ir, cr, kur, p10cr. */
CMP_MSG *cmp_certreq_handle(struct req *r);
/* cmp_certconf.c: certConf, and error from the client. */
CMP_MSG *cmp_certconf_handle(struct req *r);
CMP_MSG *cmp_peer_error_handle(struct req *r);

#endif
