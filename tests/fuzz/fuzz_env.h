/*
 * fuzz_env.h - what the libFuzzer targets that serve requests in process
 * share (fuzz_env.c): the borrowed stack (configuration, SoftHSM token,
 * PostgreSQL database of a throwaway stack that scripts/fuzz brings up)
 * and PBM re-protection with the stack's enrollment secret, so that
 * mutated messages get past the protection check.
 */
#ifndef CMPCA_FUZZ_ENV_H
#define CMPCA_FUZZ_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"

struct fuzz_env {
	struct cfg *cfg;
	struct hsm *hsm;
	struct db *db;		/* NULL unless asked for */
	struct cmp_srv *srv;	/* NULL unless asked for */
	unsigned char secret[256];
	size_t secret_len;
	const char *ref;	/* the secret's reference (senderKID) */
	const char *label;	/* the CA requests go to (NULL: default) */
};

extern struct fuzz_env fz;

#define FUZZ_ENV_DB 0x01  /* open the database */
#define FUZZ_ENV_SRV 0x03 /* and a CMP engine on it */

/*
 * Opens what what asks for from the environment of $CMPCA_VAR/stack.env
 * (CMPCA_CONF, SOFTHSM2_CONF, CMPCA_HSM_LOCK) and reads the secret of
 * CMPCA_FUZZ_REF (default "demo") from CMPCA_FUZZ_SECRET_FILE. Exits
 * with a message when the stack is missing: run through scripts/fuzz.
 */
void fuzz_env_init(const char *name, unsigned what);

/*
 * on: requests go to the stack's RA identity fuzz-up (an upstream
 * identity in front of the stack's own CA, whose daemon then answers the
 * forwarded requests; scripts/fuzz makes it) and are MACed with its
 * secret (CMPCA_FUZZ_UP_SECRET_FILE, reference CMPCA_FUZZ_UP_REF); 2:
 * the same under its second secret, whose profile is approval
 * (CMPCA_FUZZ_UP_WAIT_SECRET_FILE and _REF; 1 without them), so that
 * requests wait for the RA's operator and go upstream at the device's
 * poll after the approval; 3: the nesting RA identity fuzz-nestmac
 * (`--sign-ca --nested`: MAC-protected ir/cr/p10cr and signed requests of
 * certificates it brokered go upstream in nested, cmp_upstream_nest.c),
 * 4: fuzz-nest (`--sign-ca`: signed ones only), both with a secret
 * that serves any CA (CMPCA_FUZZ_NEST_SECRET_FILE and _REF); 5:
 * fuzz-nestmac under its secret of the profile approval
 * (CMPCA_FUZZ_NEST_WAIT_SECRET_FILE and _REF); 0: the
 * default CA and its secret. Returns the previous state, or -1 (and
 * nothing changes) when the stack has no fuzz-up (for 3 to 5: no
 * nesting identities, or no such secret).
 */
int fuzz_upstream(int on);

/*
 * on: MACs are made with the default CA's secret that has one use
 * (CMPCA_FUZZ_ONCE_SECRET_FILE, reference CMPCA_FUZZ_ONCE_REF; scripts/fuzz
 * makes it with --uses 1), so that its last use and its refusals once used
 * up are reached; off: the default secret. Returns 1, or 0 (nothing
 * changes) when the stack has none. Not with fuzz_upstream() on.
 */
int fuzz_once(int on);

/*
 * The engine's upstream transport in the targets (fuzz_up.c): the
 * daemon's, with the upstream's answer twisted by fuzz_up_twist: 1 no
 * answer, 2 an error body, 3 a rejection, 4 waiting, 5 another
 * certReqId, 6 no certificate, 7-10 a certificate of another key, of
 * another subject, with names not asked for, that chains to nothing; 11
 * the device's certConf refused. 0 (and the others): as answered.
 * A nested exchange (cmp_upstream_nest.c) is twisted instead by: 1 no
 * answer, 2 an error body, 3 another inner transactionID, 4 another
 * inner recipNonce, 5 two inner messages, 6 an inner message of another
 * type, 7 an inner certificate of another key, 8 an inner error, 9 an
 * inner waiting status, 10 no SEQUENCE of messages, 11 an inner
 * rejection, 12 no inner certificate, 13 an inner error for a pkiConf, 14
 * no answer to a nested certConf, pollReq or error.
 */
extern unsigned fuzz_up_twist;
extern const struct cmp_upstream_io fuzz_up_io;

/*
 * Replaces m's protection with a PBM under the stack's secret: m's own
 * PBM parameters when they derive within 1000 iterations, else SHA-256,
 * 100 iterations and HMAC-SHA1. senderKID stays as it is (the stack's
 * reference in real clients' messages; a mutated or missing one reaches
 * the engine's unknown-reference and missing-KID paths); fuzz_refresh()
 * first. Returns 1 or 0.
 */
int fuzz_reprotect(CMP_MSG *m);

/* senderKID becomes the stack secret's reference. Returns 1 or 0. */
int fuzz_kid_set(CMP_MSG *m);

/*
 * Makes a 16-octet senderNonce, and the transactionID of a message that
 * starts a transaction, unique (never seen by this or an earlier run) and
 * messageTime now: stored inputs would otherwise meet only the replay,
 * transactionID and clock checks.
 */
void fuzz_refresh(CMP_MSG *m);

/* The identities signature-protected requests are signed with
 * (fuzz_ids.c). */
enum fuzz_who {
	FUZZ_EE,      /* an end entity of the stack's CA */
	FUZZ_RA,      /* a registered RA (its certificate from the CA) */
	FUZZ_RA_WAIT, /* one whose profile waits for approval */
	FUZZ_PARTNER, /* a registered cross-certification partner CA */
	FUZZ_EE_WAIT, /* an end entity enrolled by FUZZ_RA_WAIT, approved:
		       * its certificate's profile waits (rr, kur) */
	FUZZ_EE_NEST, /* an end entity brokered by the RA fuzz-nestmac (its
		       * ir nested upstream): its kur/cr there go nested */
	FUZZ_EE_UP,   /* an end entity brokered by the RA fuzz-up */
	FUZZ_WHO_N,
};

/* The certificate of who, made (enrolled, registered) on first use or
 * after it went stale; NULL on failure. */
X509 *fuzz_id_cert(int who);

/* who's certificate before its last renewal or revocation, or NULL. */
X509 *fuzz_id_prev(int who);

/* The engine made anew (a restarted worker), with its upstream
 * transport. */
void fuzz_srv_restart(void);

/*
 * A new certificate of who (an end entity), revoked at once with reason
 * (CRLReason) in the database as the operator's `cmpca cert revoke`
 * would; who is made again at its next use. The certificate stays valid
 * until then; NULL on failure.
 */
X509 *fuzz_id_revoked(int who, int reason);

/*
 * Replaces m's protection with a signature by the identity its sender
 * names (else by body type: ccr the partner, nested the RA, otherwise
 * the end entity): sender, senderKID, extraCerts (its certificate and
 * chain) and protectionAlg follow; fuzz_refresh() first. Returns 1 or 0.
 */
int fuzz_resign(CMP_MSG *m);

/*
 * Spoils the protection of m (nothing if it has none) the way a broken or
 * hostile client would. A MAC by flaw % 3: no senderKID, the reference
 * of another CA's secret, a MAC that does not verify. A signature by
 * flaw % 6: no extraCerts, a senderKID of another key, a signature that
 * does not verify, a self-signed certificate we do not trust, the
 * signer's earlier certificate (revoked or renewed since), a sender that
 * is not the certificate's subject.
 */
void fuzz_flaw(CMP_MSG *m, unsigned flaw);

/* m's sender becomes who's subject (so fuzz_resign signs as who).
 * Returns 1 or 0. */
int fuzz_sender_set(CMP_MSG *m, int who);

/* Notes an answer to req that may have revoked the signer or the end
 * entity (an accepted rr or kur): they are made again before their
 * first use after fuzz_signer_settle() (the transaction ends first: its
 * certConf comes from the same certificate). */
void fuzz_signer_check(const CMP_MSG *req, const CMP_MSG *a);
void fuzz_signer_settle(void);

/*
 * A request of type (ir, cr, kur, ccr) for subject with the mutator's
 * fixed P-256 key and a signature POP, unprotected; NULL on error.
 */
CMP_MSG *fuzz_request(int type, const char *subject);

/*
 * Protects m again the way it was protected: PBM (fuzz_reprotect), a
 * signature (fuzz_resign), or nothing (fuzz_refresh only); the inner
 * messages of a nested body first, the same way. Returns 1 or 0.
 */
int fuzz_protect_again(CMP_MSG *m);

/*
 * Serves der to the engine (to the CA fz.label, NULL: the default). Every
 * answer must be a decodable PKIMessage with HTTP 200 or 400, else
 * abort().
 * Returns the answer (caller frees).
 */
CMP_MSG *fuzz_serve(const unsigned char *der, size_t len);

/*
 * Does answer a wait for the operator (an ip/cp/kup/ccp or rp with a
 * waiting status, a pollRep)? 1 with *id the certReqId to poll for (of
 * a revocation: the index of its RevDetails), else 0.
 */
int fuzz_waiting(const CMP_MSG *a, long *id);

/*
 * Decides the pending requests of req's transaction as the operator does
 * (cmpca request approve/reject, through CMPCA_FUZZ_DB_ADMIN): by how % 4,
 * none (the poll keeps waiting), all approved, all rejected, or the
 * first approved and the others rejected with a reason. Returns how
 * many it decided.
 */
int fuzz_decide(const CMP_MSG *req, unsigned how);

/* When set, fuzz_follow_up() answers with a recipNonce that is not the
 * answer's senderNonce (a client that lost track). */
extern int fuzz_stale_nonce;

/*
 * The second message of the transaction req opened, for its answer a
 * (with a certificate or waiting): by how % 6, a certConf accepting,
 * rejecting, with a wrong hash or a wrong certReqId, an error message
 * (the client gives up), or a pollReq; a
 * pollReq whenever a waits (fuzz_waiting). req takes the new body and
 * recipNonce and is protected again (fuzz_protect_again). Returns 1, or
 * 0 when a calls for no second message.
 */
int fuzz_follow_up(CMP_MSG *req, const CMP_MSG *a, unsigned how);

/* The certificate that the last fuzz_transact() accepted in a certConf
 * (whatever the answer to it), or NULL; valid until the next. */
X509 *fuzz_confirmed(void);

/*
 * Serves req, then follows the transaction up to three messages on
 * (fuzz_follow_up, deciding waiting requests by how / 6 with
 * fuzz_decide, accepting a certificate that comes after a poll), as a
 * client and the operator would. req is changed. Returns the last
 * answer (caller frees) or NULL if req cannot be encoded.
 */
CMP_MSG *fuzz_transact(CMP_MSG *req, unsigned how);

#endif
