/*
 * db.h - the only interface to SQL in cmpca: a repository API over libpq.
 *
 * Callers see C structs, never a PGresult. Every statement is a named
 * prepared statement with bound parameters; bytea travels in binary.
 * A struct db is one connection, owned by one process (opened after fork).
 * When the connection is lost, the next call fails (-1) and the one after
 * reconnects and re-prepares by itself (db_ensure()).
 *
 * Return contract for lookups and conditional writes (the three-way
 * contract of validators): 1 found/done, 0 not found/condition not met,
 * -1 database error (reason in db_error()). Plain writes return 1 or -1.
 *
 * Strings in structs are owned by the struct and released with the
 * matching _clear() function; _clear() is safe on a zeroed struct.
 */
#ifndef CMPCA_DB_H
#define CMPCA_DB_H

#include <stddef.h>
#include <time.h>

#include "lib/lib.h"

#define DB_LABEL_MAX 64	 /* CA labels, profile names */
#define DB_REF_MAX 128	 /* enrollment secret references */
#define DB_SERIAL_MAX 80 /* serial number, lowercase hex, NUL */
#define DB_TXID_MAX 64	 /* transactionID bytes (RFC 9810: 128 bits) */
#define DB_NONCE_MAX 64	 /* nonce bytes */
#define DB_SENDER_MAX 256

struct db;

/* Connection. */
struct db *db_open(const char *conninfo) CA_MUST_CHECK;
void db_close(struct db *db);
/* Reconnects if the connection is bad. Returns 1 if usable, 0 if not. */
int db_ensure(struct db *db) CA_MUST_CHECK;
/*
 * The server this connection reached (host and port as libpq chose them
 * from a multi-host conninfo) and whether it is the primary (1) or a
 * standby in recovery (0). Returns 1, or -1 (error set).
 */
int db_server_get(struct db *db, char *host, size_t hostlen, char *port,
    size_t portlen, int *primary) CA_MUST_CHECK;
/* Last error message of this connection, never NULL. */
const char *db_error(const struct db *db);
int db_begin(struct db *db) CA_MUST_CHECK;
int db_commit(struct db *db) CA_MUST_CHECK;
/* Rolls back if a transaction is open; safe to call any time. */
void db_rollback(struct db *db);

/*
 * Applies every db/schema/NNN_name.sql file in schema_dir whose number is
 * not recorded yet, in order, each in its own transaction, and
 * records it in schema_version. Idempotent. Sets *applied to the number of
 * files applied. Returns 1 or 0.
 */
int db_migrate(struct db *db, const char *schema_dir, int *applied)
    CA_MUST_CHECK;
/* Highest applied migration number (0 if none). Returns 1 or -1. */
int db_schema_version(struct db *db, int *version) CA_MUST_CHECK;
/* Highest migration number shipped in schema_dir (0 if none), what
 * db_migrate() would bring the database to. Returns 1 or -1 (db_error). */
int db_schema_shipped(struct db *db, const char *schema_dir, int *version)
    CA_MUST_CHECK;
/* Shipped migrations in schema_dir not applied yet (whatever their
 * number). Returns 1 or -1 (db_error). */
int db_schema_pending(struct db *db, const char *schema_dir, int *pending)
    CA_MUST_CHECK;

/* CA identities. */
struct db_ca {
	long long id;
	char label[DB_LABEL_MAX];
	char *key_uri;
	unsigned char *cert; /* DER */
	size_t cert_len;
	char status[16]; /* "active", "retired", "pending" */
	time_t created;
	unsigned char *chain; /* issuers of cert up to the root, DER, or NULL */
	size_t chain_len;
	unsigned char *csr; /* PKCS#10 of a pending CA, or NULL */
	size_t csr_len;
	long long key_of; /* an earlier key of that identity, or 0 */
};
void db_ca_clear(struct db_ca *ca);
/* Inserts; sets ca->id. Returns 1, 0 if the label exists, -1. */
int db_ca_insert(struct db *db, struct db_ca *ca) CA_MUST_CHECK;
int db_ca_get_by_label(struct db *db, const char *label, struct db_ca *out)
    CA_MUST_CHECK;
int db_ca_get(struct db *db, long long id, struct db_ca *out) CA_MUST_CHECK;
/* All CAs ordered by id; *out is an array of *n (free db_ca_array_free). */
int db_ca_list(struct db *db, struct db_ca **out, size_t *n) CA_MUST_CHECK;
/*
 * A hash of what per-worker caches of CAs are built from: every CA row's
 * (id, status, certificate) and the newest OCSP signer. It changes with
 * every create, activate, retire, import-cert, rollover and OCSP signer.
 * Returns 1 or -1.
 */
#define DB_CA_VERSION_LEN 32
int db_ca_version(struct db *db, unsigned char out[DB_CA_VERSION_LEN])
    CA_MUST_CHECK;
void db_ca_array_free(struct db_ca *a, size_t n);
/* pending -> active with its certificate and chain (chain may be NULL).
 * Returns 1, 0 if the CA is not pending, -1. */
int db_ca_activate(struct db *db, long long id, const unsigned char *cert,
    size_t cert_len, const unsigned char *chain, size_t chain_len)
    CA_MUST_CHECK;
/* active -> retired. Returns 1, 0 if the CA is not active, -1. */
int db_ca_retire(struct db *db, long long id) CA_MUST_CHECK;
/*
 * Key rollover, inside the caller's transaction: the identity id gets
 * key_uri and cert (chain unchanged); everything the previous key signed
 * (certificates, CRLs, OCSP signers) moves to the row old_id, which holds
 * the previous key. Returns 1 or -1.
 */
int db_ca_rekey(struct db *db, long long id, long long old_id,
    const char *key_uri, const unsigned char *cert, size_t cert_len)
    CA_MUST_CHECK;
/* Marks an inventory row as a CA certificate ('ca', 'cross'). 1 or -1. */
int db_cert_set_kind(struct db *db, long long cert_id, const char *kind)
    CA_MUST_CHECK;

/* The RFC 9810 §4.4 root key update pair of a CA (table ca_cert). */
struct db_keyupd {
	unsigned char *new_with_old; /* DER */
	size_t new_with_old_len;
	unsigned char *old_with_new; /* DER */
	size_t old_with_new_len;
};
void db_keyupd_clear(struct db_keyupd *k);
/* Stores one certificate of the pair; kind "new-with-old" or
 * "old-with-new". Returns 1 or -1. */
int db_keyupd_add(struct db *db, long long ca_id, const char *kind,
    const char *subject, const char *issuer, time_t not_after,
    const unsigned char *der, size_t der_len,
    const unsigned char sha256[32]) CA_MUST_CHECK;
/* The newest pair of ca_id. Returns 1, 0 if there is none, -1. */
int db_keyupd_latest(struct db *db, long long ca_id, struct db_keyupd *out)
    CA_MUST_CHECK;

/* Issued certificates. */
enum db_cert_status {
	DB_CERT_UNCONFIRMED = 1,
	DB_CERT_VALID,
	DB_CERT_REVOKED,
	DB_CERT_REJECTED,
};
const char *db_cert_status_name(enum db_cert_status s);

struct db_cert {
	long long id;
	long long ca_id;
	char serial[DB_SERIAL_MAX]; /* lowercase hex, no leading zeros */
	char *subject;		    /* RFC 2253 */
	char *issuer;		    /* RFC 2253 */
	unsigned char spki_sha256[32];
	time_t not_before;
	time_t not_after;
	enum db_cert_status status;
	unsigned char *der;
	size_t der_len;
	char *profile;
	char *requester; /* e.g. "secret:<ref>" */
	unsigned char txid[DB_TXID_MAX];
	size_t txid_len; /* 0: no transaction */
	int cert_req_id;
	time_t revoked_at; /* 0 if not revoked */
	int reason;	   /* CRLReason, -1 if none */
	time_t created;
	long long replaces; /* kur: id of the certificate it replaces, 0 */
	char kind[8];	    /* "ee" ("" on insert), "ca" or "cross" */
	char *credential;   /* who asked: "secret:<ref>", "ra:<name>",
			       "cert:sha256:<hex>", or NULL */
	long long obtained_with; /* the certificate of ours that asked, 0 */
	int server_keygen; /* the CA generated its key (RFC 9483 §4.1.6):
			    * read; stored by db_cert_mark_keygen */
};
void db_cert_clear(struct db_cert *c);
void db_cert_array_free(struct db_cert *a, size_t n);
/* Inserts; sets c->id. Returns 1, 0 if (ca_id, serial) exists, -1. */
int db_cert_insert(struct db *db, struct db_cert *c) CA_MUST_CHECK;
int db_cert_get(struct db *db, long long id, struct db_cert *out)
    CA_MUST_CHECK;
/*
 * Marks the certificates ids[0..n) as certifying a key the CA generated
 * (cert.server_keygen, central key generation), inside the caller's
 * database transaction that stored them. Returns 1, 0 if none changed,
 * -1.
 */
int db_cert_mark_keygen(struct db *db, const long long *ids, size_t n)
    CA_MUST_CHECK;
int db_cert_get_by_serial(struct db *db, long long ca_id, const char *serial,
    struct db_cert *out) CA_MUST_CHECK;
/* Certificates of one CMP transaction, ordered by cert_req_id. */
int db_cert_list_by_txn(struct db *db, const unsigned char *txid,
    size_t txid_len, struct db_cert **out, size_t *n) CA_MUST_CHECK;
/*
 * Newest first; ca_id 0 means every CA, status 0 every status, subject
 * NULL any (else a case-insensitive substring), limit <= 0 means 100.
 */
int db_cert_list(struct db *db, long long ca_id, enum db_cert_status status,
    const char *subject, int limit, struct db_cert **out, size_t *n)
    CA_MUST_CHECK;
/* Certificates of one CA of one kind ("ca", "cross"), oldest first. */
int db_cert_list_kind(struct db *db, long long ca_id, const char *kind,
    struct db_cert **out, size_t *n) CA_MUST_CHECK;
/*
 * Sets status; for DB_CERT_REVOKED and DB_CERT_REJECTED also revoked_at =
 * now() and reason (CRLReason, -1 none). Only from a status in from_mask
 * (bit 1 << status). Returns 1, 0 if no row matched, -1.
 */
int db_cert_set_status(struct db *db, long long id, unsigned from_mask,
    enum db_cert_status status, int reason) CA_MUST_CHECK;
/*
 * The certificates obtained with certificate id (obtained_with), and
 * those obtained with them, recursively, that are valid or unconfirmed;
 * nearest first. *out of *n, caller frees with db_cert_array_free.
 * Returns 1 or -1.
 */
int db_cert_obtained_with(struct db *db, long long id, struct db_cert **out,
    size_t *n) CA_MUST_CHECK;

/* CMP transactions. */
enum db_txn_state {
	DB_TXN_WAIT_CONF = 1, /* certificates sent, certConf expected */
	DB_TXN_DONE,	      /* confirmed or implicitly confirmed */
	DB_TXN_ABORTED,	      /* rejected, error from client, or expired */
	DB_TXN_WAITING,	      /* requests wait for an operator decision */
};
const char *db_txn_state_name(enum db_txn_state s);

struct db_txn {
	unsigned char id[DB_TXID_MAX];
	size_t id_len;
	long long ca_id;
	char sender[DB_SENDER_MAX]; /* "secret:<ref>" or a DN */
	char kind[16];		    /* request body type: "ir", "cr", ... */
	enum db_txn_state state;
	unsigned char last_nonce[DB_NONCE_MAX]; /* our last senderNonce */
	size_t last_nonce_len;
	int pvno;
	time_t expires;
	time_t created;
};
/* Returns 1, 0 if the transactionID is in use, -1. */
int db_txn_insert(struct db *db, const struct db_txn *t) CA_MUST_CHECK;
/*
 * db_txn_get and the transaction's certificates (ordered by certReqId)
 * in one round trip: *certs (free with db_cert_array_free) of *n, none
 * when it has none. Returns 1, 0 if no such transaction, -1.
 */
int db_txn_get_certs(struct db *db, const unsigned char *id, size_t id_len,
    struct db_txn *out, struct db_cert **certs, size_t *n) CA_MUST_CHECK;
int db_txn_get(struct db *db, const unsigned char *id, size_t id_len,
    struct db_txn *out) CA_MUST_CHECK;
/*
 * Moves a transaction from state `from` to `to` and records our new
 * senderNonce, atomically (UPDATE ... WHERE state = from). Returns 1, 0 if
 * it was not in state `from`, -1.
 */
int db_txn_advance(struct db *db, const unsigned char *id, size_t id_len,
    enum db_txn_state from, enum db_txn_state to, const unsigned char *nonce,
    size_t nonce_len) CA_MUST_CHECK;

/*
 * Housekeeping: aborts every transaction still waiting for certConf after
 * its expiry and rejects its unconfirmed certificates (revoked_at = now(),
 * the given CRLReason), with an audit entry each, atomically. Sets the
 * counts. Returns 1 or -1.
 */
int db_txn_expire(struct db *db, int reason, long long *txns,
    long long *certs) CA_MUST_CHECK;
/* Deletes replay nonces older than older_than seconds. Returns 1 or -1. */
int db_nonce_prune(struct db *db, long long older_than, long long *pruned)
    CA_MUST_CHECK;
/* Deletes finished transactions (done, aborted) not updated for
 * older_than seconds and without requests kept for the operator
 * (txn_retention; the audit chain keeps the history). Returns 1 or -1. */
int db_txn_prune(struct db *db, long long older_than, long long *pruned)
    CA_MUST_CHECK;

/* Requests waiting for an operator (delayed delivery). */
enum db_pending_status {
	DB_PENDING_PENDING = 1,
	DB_PENDING_APPROVED,
	DB_PENDING_REJECTED,
	DB_PENDING_UPSTREAM, /* RA mode: the upstream CA answered waiting */
};
const char *db_pending_status_name(enum db_pending_status s);

struct db_pending {
	long long id;
	unsigned char txid[DB_TXID_MAX];
	size_t txid_len;
	int cert_req_id;
	long long ca_id;
	char kind[16];
	char *requester;
	char profile[DB_LABEL_MAX];
	char *subject;
	unsigned char *request; /* DER of the CertReqMsg */
	size_t request_len;
	long long replaces;	/* kur: the certificate it replaces, 0 */
	enum db_pending_status status;
	char *reason;		/* operator's text on rejection, or NULL */
	char *decided_by;
	time_t created;
};
void db_pending_clear(struct db_pending *p);
void db_pending_array_free(struct db_pending *a, size_t n);
/* Inserts (status pending, or p->status if it is DB_PENDING_UPSTREAM);
 * sets p->id. Returns 1 or -1. */
int db_pending_insert(struct db *db, struct db_pending *p) CA_MUST_CHECK;
/* Requests of one transaction ordered by cert_req_id. */
int db_pending_list_by_txn(struct db *db, const unsigned char *txid,
    size_t txid_len, struct db_pending **out, size_t *n) CA_MUST_CHECK;
/* Requests with the given status (0: all), oldest first, of one CA (0:
 * all), at most limit (<= 0: 100). */
int db_pending_list(struct db *db, long long ca_id,
    enum db_pending_status status, int limit, struct db_pending **out,
    size_t *n) CA_MUST_CHECK;
/* Decides a pending request: 1, 0 if it is not pending (or unknown), -1.
 * On 1, *ca_id (may be NULL) is the request's CA, for the audit entry. */
int db_pending_decide(struct db *db, long long id,
    enum db_pending_status status, const char *reason, const char *by,
    long long *ca_id) CA_MUST_CHECK;

/* RA mode: the upstream CA's answer moves a request from status from
 * (upstream: it had answered waiting; approved: the RA's operator
 * approved it and it went upstream) to status (approved, rejected with
 * reason, or upstream). 1, 0 if it is not in status from, -1. */
int db_pending_upstream_decide(struct db *db, const unsigned char *txid,
    size_t txid_len, int cert_req_id, enum db_pending_status from,
    enum db_pending_status status, const char *reason) CA_MUST_CHECK;

/*
 * Archived end-entity keys (db_keyarch.c, issue 26): the key the CA
 * generated, encrypted under its CA's archival key in the HSM.
 */
struct db_keyarch {
	long long id;
	long long cert_id;
	long long ca_id;
	char serial[DB_SERIAL_MAX]; /* the certificate's */
	char *key_label;	    /* the archival key's token label */
	unsigned char *wrapped;	    /* hsm_archive_wrap()'s value */
	size_t wrapped_len;
	time_t created;
};
void db_keyarch_clear(struct db_keyarch *k);
/* Archives a key (audited by the table's trigger), *id (may be NULL) the
 * row. Returns 1 or -1. */
int db_keyarch_insert(struct db *db, long long cert_id, long long ca_id,
    const char *key_label, const unsigned char *wrapped, size_t len,
    long long *id) CA_MUST_CHECK;
/* The archived key of certificate serial of CA ca_id (the operator's
 * role only may read it): 1, 0 none, -1. */
int db_keyarch_get(struct db *db, long long ca_id, const char *serial,
    struct db_keyarch *out) CA_MUST_CHECK;
/* krr (the daemon): the archived value of certificate cert_id in
 * *wrapped (caller frees with free()), the recovery audited with actor
 * (cmpca_key_archive_fetch, in the caller's transaction): 1, 0 none,
 * -1. */
int db_keyarch_fetch(struct db *db, long long cert_id, const char *actor,
    unsigned char **wrapped, size_t *len) CA_MUST_CHECK;
/* Recoveries: a request (status pending) in *id, 1 or -1; decided by an
 * operator other than the requester (1, 0 not pending, unknown or asked
 * by the same operator, -1; *ca_id for the audit); taken once, approved
 * to done, for the archive row archive_id (1, 0 not approved or another
 * key's request, -1). */
int db_keyrec_request(struct db *db, long long archive_id, const char *by,
    long long *id) CA_MUST_CHECK;
int db_keyrec_decide(struct db *db, long long id, int approve, const char *by,
    long long *ca_id) CA_MUST_CHECK;
int db_keyrec_take(struct db *db, long long id, long long archive_id)
    CA_MUST_CHECK;

/* Registration authorities, pinned by their certificate's SHA-256. */
struct db_ra {
	long long id;
	char name[DB_LABEL_MAX];
	unsigned char cert_sha256[32];
	unsigned char *cert; /* DER */
	size_t cert_len;
	char *subject;	     /* RFC 2253, for listing */
	char profile[DB_LABEL_MAX];
};
void db_ra_clear(struct db_ra *ra);
void db_ra_array_free(struct db_ra *a, size_t n);
/* Returns 1, 0 if the name or certificate is registered, -1. */
int db_ra_insert(struct db *db, struct db_ra *ra) CA_MUST_CHECK;
int db_ra_get_by_hash(struct db *db, const unsigned char *sha256,
    struct db_ra *out) CA_MUST_CHECK;
int db_ra_list(struct db *db, struct db_ra **out, size_t *n) CA_MUST_CHECK;
/* Returns 1, 0 if no such name, -1. */
int db_ra_delete(struct db *db, const char *name) CA_MUST_CHECK;

/*
 * cmpca as an RA (RFC 9483 §5): the upstream CA of an identity of status
 * "upstream" (db_upstream_*), and a forwarded certificate request waiting
 * for the device's certConf (db_ra_fwd_*), so that any worker forwards it.
 */
struct db_upstream {
	long long ca_id;	/* the identity (a ca row of status upstream) */
	char *url;		/* the upstream CA's CMP URL */
	char mode[16];		/* "mac" or "sig" */
	char *ref;		/* mac: senderKID of our credential ("" sig) */
	unsigned char *sealed;	/* mac: its secret, sealed (hsm_seal) */
	size_t sealed_len;
	char *tls_trusted;	/* PEM anchors for https://, or NULL */
	long long sign_ca_id;	/* sig: our CA identity that signs, or 0 */
	int nested;		/* sig: MAC-protected requests nested too
				   (026_ra_nested.sql) */
};
void db_upstream_clear(struct db_upstream *u);
/* Returns 1, 0 if the identity has one already, -1. */
int db_upstream_insert(struct db *db, const struct db_upstream *u)
    CA_MUST_CHECK;
/* Returns 1, 0 if none, -1. */
int db_upstream_get(struct db *db, long long ca_id, struct db_upstream *out)
    CA_MUST_CHECK;

/* An upstream MAC secret to seal again (`cmpca secret reseal`). */
struct db_upstream_sealed {
	long long ca_id;
	char label[DB_LABEL_MAX]; /* the identity's: the AAD is "upstream:" */
	unsigned char *sealed;
	size_t sealed_len;
};
void db_upstream_sealed_array_free(struct db_upstream_sealed *a, size_t n);
/* The upstream secrets not sealed under key version ver (as
 * db_secret_list_reseal), locked until the caller commits. 1 or -1. */
int db_upstream_list_reseal(struct db *db, unsigned long ver,
    struct db_upstream_sealed **out, size_t *n) CA_MUST_CHECK;
/* Stores the identity's secret sealed anew; 1, 0 if no such row, -1. */
int db_upstream_set_sealed(struct db *db, long long ca_id,
    const unsigned char *sealed, size_t len) CA_MUST_CHECK;

/* Where an upstream transaction stands (the CMP client's state). */
#define DB_UP_ID_LEN 16
struct db_up_state {
	unsigned char txid[DB_UP_ID_LEN];  /* the upstream transactionID */
	unsigned char nonce[DB_UP_ID_LEN]; /* our last senderNonce */
	unsigned char peer_nonce[DB_NONCE_MAX]; /* the upstream's last */
	size_t peer_nonce_len;
};
struct db_ra_fwd {
	long long ca_id;
	unsigned char txid[DB_TXID_MAX]; /* the device's transaction */
	size_t txid_len;
	int cert_req_id;
	struct db_up_state up;
	int confirm; /* committed here under implicitConfirm: a certConf
		      * to the upstream CA is owed (024_ra_relay.sql) */
	int waiting; /* the upstream CA answered waiting: polled upstream
		      * at each pollReq of the device */
};
/* Records f; 1, 0 if recorded already, -1. */
int db_ra_fwd_put(struct db *db, const struct db_ra_fwd *f) CA_MUST_CHECK;
/* Fills f->up for (ca_id, txid, cert_req_id); 1, 0 if none, -1. */
int db_ra_fwd_get(struct db *db, struct db_ra_fwd *f) CA_MUST_CHECK;
/* Records f's upstream state (nonces, waiting) and, unless cert is NULL,
 * the certificate the upstream CA issued; 1, 0 if no such row, -1. */
int db_ra_fwd_update(struct db *db, const struct db_ra_fwd *f,
    const unsigned char *cert, size_t cert_len) CA_MUST_CHECK;
/* The certificate recorded for f into *der (malloc'd); 1, 0 if none, -1. */
int db_ra_fwd_cert(struct db *db, const struct db_ra_fwd *f,
    unsigned char **der, size_t *len) CA_MUST_CHECK;
/* Deletes it; 1, 0 if none, -1. */
int db_ra_fwd_delete(struct db *db, const struct db_ra_fwd *f) CA_MUST_CHECK;
/* Deletes the rows older than age seconds (devices that never confirmed;
 * the upstream CA expires those certificates itself); *n how many. 1, 0
 * if none, -1. */
int db_ra_fwd_prune(struct db *db, long age, long long *n) CA_MUST_CHECK;
/* A certConf owed upstream: the row and the certificate it confirms. */
struct db_ra_owed {
	struct db_ra_fwd f;
	unsigned char *der; /* the certificate stored under f's identity */
	size_t der_len;
};
void db_ra_owed_array_free(struct db_ra_owed *a, size_t n);
/* The rows marked confirm older than age seconds, oldest first, at most
 * limit; 1 (*n may be 0), -1. */
int db_ra_fwd_owed(struct db *db, long age, int limit,
    struct db_ra_owed **out, size_t *n) CA_MUST_CHECK;

/*
 * Partner CAs for cross-certification, pinned by their CA certificate's
 * SHA-256, with what our cross certificate for them carries. List
 * members are newline-separated ("" for none).
 */
struct db_partner {
	long long id;
	char name[DB_LABEL_MAX];
	long long ca_id;	  /* our CA that signs the cross certificate */
	unsigned char cert_sha256[32];
	unsigned char *cert;	  /* DER of the partner CA certificate */
	size_t cert_len;
	char *subject;		  /* RFC 2253, for listing */
	int path_len;		  /* -1: no pathLenConstraint */
	char *permitted;	  /* name constraints, "dns:x", "dirname:/O=x" */
	char *excluded;
	char *policies;		  /* certificatePolicies OIDs */
	char *policy_map;	  /* "issuerDomainOID:subjectDomainOID" */
	int require_explicit;	  /* policyConstraints, -1: absent */
	int inhibit_mapping;	  /* -1: absent */
	char *eku;		  /* extendedKeyUsage OIDs; "" none */
	int days;		  /* validity of the cross certificate */
};
void db_partner_clear(struct db_partner *p);
void db_partner_array_free(struct db_partner *a, size_t n);
/* Returns 1, 0 if the name or certificate is registered, -1. */
int db_partner_insert(struct db *db, struct db_partner *p) CA_MUST_CHECK;
int db_partner_get_by_hash(struct db *db, const unsigned char *sha256,
    struct db_partner *out) CA_MUST_CHECK;
int db_partner_get_by_name(struct db *db, const char *name,
    struct db_partner *out) CA_MUST_CHECK;
int db_partner_list(struct db *db, struct db_partner **out, size_t *n)
    CA_MUST_CHECK;
/* Returns 1, 0 if no such name, -1. */
int db_partner_delete(struct db *db, const char *name) CA_MUST_CHECK;

/* Certificates one of our CAs holds from others (cross certificates
 * received) or from its own earlier key (root key update). */
struct db_ca_cert {
	long long id;
	long long ca_id;
	char kind[16]; /* "cross", "new-with-old", "old-with-new" */
	char *subject; /* RFC 2253 */
	char *issuer;
	time_t not_after;
	unsigned char *der;
	size_t der_len;
};
void db_ca_cert_clear(struct db_ca_cert *c);
void db_ca_cert_array_free(struct db_ca_cert *a, size_t n);
/* Returns 1, 0 if the same certificate is stored already, -1. */
int db_ca_cert_insert(struct db *db, struct db_ca_cert *c) CA_MUST_CHECK;
/* kind NULL: every kind. Ordered by id. */
int db_ca_cert_list(struct db *db, long long ca_id, const char *kind,
    struct db_ca_cert **out, size_t *n) CA_MUST_CHECK;

/* A DER blob. */
struct db_blob {
	unsigned char *der;
	size_t len;
};
void db_blob_array_free(struct db_blob *a, size_t n);
/* What a CA publishes besides its chain: unexpired certificates it
 * received (ca_cert), then the valid cross certificates it issued. */
int db_ca_published(struct db *db, long long ca_id, struct db_blob **out,
    size_t *n) CA_MUST_CHECK;

/* Refusals of the one-round-trip paths. */
enum db_refusal {
	DB_REFUSE_REPLAY = 1,  /* senderNonce seen before */
	DB_REFUSE_TXID_IN_USE, /* transactionID recorded before */
	DB_REFUSE_SECRET_USED, /* enrollment secret used up or expired */
	DB_REFUSE_SERIAL,      /* serial number exists for this CA */
	DB_REFUSE_STATE,       /* transaction not in the expected state */
	DB_REFUSE_CA_CHANGED,  /* the CA row holds another certificate */
	DB_REFUSE_PATH_CA,     /* a CA of the protection path is retired */
	DB_REFUSE_PATH_CERT,   /* a certificate of that path is not valid */
};

/*
 * Storing issued certificates: every certificate a CMP response carries is
 * stored by one SQL function, cmpca_cert_store (014_issue_one_path.sql,
 * 018_scope.sql), those of one response in one call, with what happens to
 * its transaction:
 *   DB_ISSUE_NEW    claims nonce, inserts transaction t, consumes
 *                   secret_uses uses (at least one) of secret_ref unless
 *                   NULL (an unlimited secret must still be
 *                   secret_version of its row when that is given; a
 *                   disabled one is refused)
 *   DB_ISSUE_MOVE   claims nonce, moves t->id from state from to t->state
 *                   with t->last_nonce (delayed delivery's final answer)
 *   DB_ISSUE_STORE  nothing: the caller's transaction did that
 * Refused with DB_REFUSE_CA_CHANGED unless ca_sha256 is the current
 * certificate of the CA (db_ca_cert_current), DB_REFUSE_SERIAL on a
 * serial collision, DB_REFUSE_PATH_CA / DB_REFUSE_PATH_CERT when a CA or
 * certificate of the protection path (path_ca, path_cert) is no longer
 * active or valid.
 */
enum db_issue_txn {
	DB_ISSUE_NEW = 1,
	DB_ISSUE_MOVE,
	DB_ISSUE_STORE,
};
#define DB_ISSUE_MAX 16 /* certificates in one call */
struct db_issue {
	enum db_issue_txn txn;
	const struct db_txn *t;	       /* NEW, MOVE; NULL for STORE */
	enum db_txn_state from;	       /* MOVE: the state t must be in */
	const unsigned char *nonce;    /* NEW, MOVE: the client's senderNonce */
	size_t nonce_len;
	const char *secret_ref;	       /* NEW: a use of it is consumed */
	const char *secret_version;    /* NEW: its row version, or NULL */
	const unsigned char *ca_sha256; /* [32] the CA certificate signed under */
	const char *actor;	       /* of the audit entries */
	int secret_uses;	       /* NEW: uses of secret_ref (0: one) */
	const char *credential;	       /* of every certificate, or NULL */
	long long obtained_with;       /* of every certificate, or 0 */
	/* The protection path, checked in the same statement: CA rows
	 * whose keys signed one of its certificates (active, or an earlier
	 * key of an active identity) and the inventory rows of those
	 * certificates (valid). May be NULL with 0. */
	const long long *path_ca;
	size_t npath_ca;
	const long long *path_cert;
	size_t npath_cert;
};
/*
 * Stores the n certificates c[] of one response (sets c[i]->id) as is->txn
 * says, each audited by is->actor ("issue"; kind "cross": "cross-certify"),
 * and revokes c[i]->replaces (superseded) when c[i] is valid and
 * supersede[i] is set (supersede may be NULL). One CA, one transaction
 * (t's when given). One statement: a refusal stores nothing (and aborts
 * the caller's transaction). Returns 1, 0 with *why, -1.
 */
int db_issue(struct db *db, const struct db_issue *is,
    struct db_cert *const *c, const int *supersede, size_t n,
    enum db_refusal *why) CA_MUST_CHECK;
/* db_issue() of one certificate, DB_ISSUE_NEW, actor t->sender. */
int db_issue1(struct db *db, const struct db_txn *t,
    const unsigned char *nonce, size_t nonce_len, const char *secret_ref,
    const char *secret_version, const unsigned char ca_sha256[32],
    struct db_cert *c, int supersede, enum db_refusal *why) CA_MUST_CHECK;
/* db_issue() of one certificate, DB_ISSUE_STORE. */
int db_cert_store(struct db *db, const unsigned char ca_sha256[32],
    const char *actor, struct db_cert *c, int supersede,
    enum db_refusal *why) CA_MUST_CHECK;
/*
 * Is ca_sha256 (SHA-256 of the DER) the certificate of CA ca_id, which
 * is active? The certificate a worker signed with must be, for what it
 * signed to be stored under that CA (after a rollover it is not). 1 yes,
 * 0 no, -1 error.
 */
int db_ca_cert_current(struct db *db, long long ca_id,
    const unsigned char ca_sha256[32]) CA_MUST_CHECK;

/* Certificates of a protection path db_issue() re-checks (CA_MAX_CHAIN
 * and more). */
#define DB_ISSUE_PATH_MAX 16

#define DB_FINISH_MAX 16
/* Ends or advances a transaction in one statement (see db_txn_finish). */
struct db_finish {
	const unsigned char *txid;
	size_t txid_len;
	const unsigned char *nonce; /* the client's senderNonce, claimed */
	size_t nonce_len;
	enum db_txn_state from, to;
	const unsigned char *last_nonce; /* our new senderNonce */
	size_t last_nonce_len;
	long long accept[DB_FINISH_MAX]; /* unconfirmed -> valid */
	size_t naccept;
	long long reject[DB_FINISH_MAX]; /* unconfirmed -> rejected */
	size_t nreject;
	int reason;			    /* CRLReason of the rejections */
	long long supersede[DB_FINISH_MAX]; /* valid -> revoked (superseded) */
	size_t nsupersede;
	const char *actor;
	long long ca_id;
};
/* Claims the nonce, moves the transaction from -> to with our nonce, and
 * applies the certificate changes with audit entries, atomically. Returns
 * 1, 0 with *why (replay, state), -1. */
int db_txn_finish(struct db *db, const struct db_finish *f,
    enum db_refusal *why) CA_MUST_CHECK;

/* CRLs (RFC 5280 §5). */
struct db_crl {
	long long number;
	time_t this_update;
	time_t next_update;
	int entries;
	unsigned char *der;
	size_t der_len;
	long long delta_of; /* a delta CRL (028): its base CRL's number; 0 */
};
void db_crl_clear(struct db_crl *c);
/*
 * Inside a database transaction: takes the CRL lock of the CA's issuer
 * name (the identity and its old keys; held until commit or rollback, so
 * one worker or host issues at a time), then returns the next CRL number
 * of that issuer name. Returns 1 or -1.
 */
int db_crl_next(struct db *db, long long ca_id, long long *number)
    CA_MUST_CHECK;
/* Stores an issued CRL, a delta CRL when delta_of is set. Returns 1 or
 * -1. */
int db_crl_insert(struct db *db, long long ca_id, const struct db_crl *c)
    CA_MUST_CHECK;
/* The number of the CA's newest complete CRL, without its bytes. Returns
 * 1, 0 (no CRL yet) or -1. */
int db_crl_latest_number(struct db *db, long long ca_id, long long *number)
    CA_MUST_CHECK;
/* The newest complete CRL of a CA (no delta): 1, 0 if none, -1. */
int db_crl_latest(struct db *db, long long ca_id, struct db_crl *out)
    CA_MUST_CHECK;
/* The newest delta CRL of a CA (RFC 5280 §5.2.4; delta_of set): 1, 0 if
 * none, -1. */
int db_crl_delta_latest(struct db *db, long long ca_id, struct db_crl *out)
    CA_MUST_CHECK;
/* Its number, without its bytes: 1, 0 if none, -1. */
int db_crl_delta_latest_number(struct db *db, long long ca_id,
    long long *number) CA_MUST_CHECK;
/* Calls cb for each revoked or rejected, unexpired certificate of a CA
 * (serial, revocation time, CRLReason, invalidity date or 0); cb returns 1
 * to go on. 1 or -1. */
int db_cert_revoked_each(struct db *db, long long ca_id,
    int (*cb)(void *arg, const char *serial, time_t when, int reason,
	time_t invalid),
    void *arg) CA_MUST_CHECK;
/*
 * CRLs due (017): a status change a CRL must show marks its CA. Before
 * the CRL's transaction, in a statement of its own: takes the CA's mark.
 * 1 taken, 0 none, -1.
 */
int db_crl_due_take(struct db *db, long long ca_id) CA_MUST_CHECK;
/* Marks the CA's CRL due again, urgent (a CRL that took the mark failed).
 * 1 or -1. */
int db_crl_due_mark(struct db *db, long long ca_id) CA_MUST_CHECK;
/* Since when a status change of the CA waits for its CRL: 1 (*since), 0
 * none waits, -1. */
int db_crl_due_since(struct db *db, long long ca_id, time_t *since)
    CA_MUST_CHECK;
/* CAs whose next CRL is due: marked delay seconds ago or more, or marked
 * urgent (a compromise). *ids (free()) and *n. 1 or -1. */
int db_crl_due_list(struct db *db, long delay, long long **ids, size_t *n)
    CA_MUST_CHECK;
/*
 * Ends a hold (revoked with certificateHold): reason < 0 releases it
 * (valid again, removeFromCRL), any other CRLReason makes it permanent
 * (still revoked, the hold's time kept). 1, 0 if not on hold, -1.
 */
int db_cert_hold_end(struct db *db, long long id, int reason) CA_MUST_CHECK;
/* Records the invalidityDate of a revocation. Returns 1 or -1. */
int db_cert_set_invalidity(struct db *db, long long id, time_t when)
    CA_MUST_CHECK;

/* Replay protection: returns 1 if the nonce is new (and records it), 0 if
 * seen before, -1. */
int db_nonce_claim(struct db *db, const unsigned char *nonce, size_t len)
    CA_MUST_CHECK;

/* Enrollment secrets (MAC-based protection). */
struct db_secret {
	char ref[DB_REF_MAX];
	unsigned char *secret; /* in clear; wiped by db_secret_clear */
	size_t secret_len;
	unsigned char *sealed; /* sealed in the HSM (hsm_seal), or NULL */
	size_t sealed_len;
	char *allowed_subject; /* NULL: any subject */
	char *allowed_san;     /* subjectAltName patterns, or NULL */
	char profile[DB_LABEL_MAX];
	long long ca_id;       /* 0: any CA */
	int uses_left;	       /* -1: unlimited */
	time_t expires;	       /* 0: never */
	time_t created;
	char version[24];      /* the row's version (db_secret_get), or "" */
	int disabled;	       /* cmpca secret disable (db_secret_list) */
};
void db_secret_clear(struct db_secret *s);
/* Returns 1, 0 if the reference exists, -1. */
/* Stores secret (clear) and/or sealed: callers store sealed only. */
int db_secret_insert(struct db *db, const struct db_secret *s) CA_MUST_CHECK;
int db_secret_get(struct db *db, const char *ref, struct db_secret *out)
    CA_MUST_CHECK;
/*
 * Consumes one use if uses are left and the secret has not expired; with
 * version (from db_secret_get, may be NULL), an unlimited secret must
 * still be that version of the row. Returns 1, 0 if exhausted, expired or
 * changed, -1.
 */
int db_secret_consume(struct db *db, const char *ref, const char *version)
    CA_MUST_CHECK;
/* Disables (disabled 1) or enables a secret: a disabled one is not
 * returned by db_secret_get. Returns 1, 0 if ref is unknown, -1. */
int db_secret_set_disabled(struct db *db, const char *ref, int disabled)
    CA_MUST_CHECK;
/* Deletes a secret. Returns 1, 0 if ref is unknown, -1. */
int db_secret_remove(struct db *db, const char *ref) CA_MUST_CHECK;
/* A copy of src without the secret in clear (sealed only), for a worker's
 * cache. Returns 1, or 0 (out of memory; dst cleared). */
int db_secret_copy(struct db_secret *dst, const struct db_secret *src);
/*
 * Rows to seal (again): secret still in clear (written before migration
 * 011; ref and secret set), or sealed in format 0x01 (ref and sealed set).
 * Returns 1 (possibly none), -1.
 */
int db_secret_list_clear(struct db *db, struct db_secret **out, size_t *n)
    CA_MUST_CHECK;
/* Stores sealed for ref and empties its clear column. 1, 0 none, -1. */
/*
 * Rows `cmpca secret reseal` moves to key version ver: in clear (ref and
 * secret set) or sealed under anything but format 0x03 of ver (ref and
 * sealed set), locked FOR UPDATE: call inside db_begin()/db_commit().
 * 1 or -1.
 */
int db_secret_list_reseal(struct db *db, unsigned long ver,
    struct db_secret **out, size_t *n) CA_MUST_CHECK;
int db_secret_set_sealed(struct db *db, const char *ref,
    const unsigned char *sealed, size_t len) CA_MUST_CHECK;
/* References only (secret fields left NULL), ordered by ref. */
int db_secret_list(struct db *db, struct db_secret **out, size_t *n)
    CA_MUST_CHECK;
void db_secret_array_free(struct db_secret *a, size_t n);

/* Append-only audit log. ca_id 0: none. Returns 1 or -1. */
int db_audit_add(struct db *db, const char *event, long long ca_id,
    const char *actor, const char *detail) CA_MUST_CHECK;

/* One audit row as read back (cmpca audit list). */
struct db_audit {
	long long id;
	time_t at;
	char *event;
	char ca_label[DB_LABEL_MAX]; /* "" when the entry names no CA */
	char *actor;		     /* may be NULL */
	char *detail;		     /* may be NULL */
};
#define DB_AUDIT_LIST_DEFAULT 100
/*
 * The newest limit rows (<= 0: DB_AUDIT_LIST_DEFAULT), newest first, of
 * CA ca_id (0: all), event (NULL: all), at or after since (0: any time).
 * Returns 1 or -1.
 */
int db_audit_list(struct db *db, long long ca_id, const char *event,
    time_t since, int limit, struct db_audit **out, size_t *n)
    CA_MUST_CHECK;
void db_audit_clear(struct db_audit *a);
void db_audit_array_free(struct db_audit *a, size_t n);

/*
 * The audit hash chain (db_chain.c, migration 015). Rows are linked by
 * seq in audit_seal: chain_hash(n) = SHA-256(chain_hash(n-1) ||
 * row_hash(n)). The verifier recomputes both in C (ca/audit.c).
 */
#define DB_HASH_LEN 32	    /* SHA-256 */
#define DB_AUDIT_BATCH 5000 /* links read per query by the verifier */
/* Links every final audit row after the last linked one (cmpca_audit_seal
 * fences by itself, migration 016); the new head in *seq and hash (seq 0:
 * empty chain). Own transaction. Returns 1 or -1. */
int db_audit_seal(struct db *db, long long *seq,
    unsigned char hash[DB_HASH_LEN]) CA_MUST_CHECK;
/* A link and the audit row it links, as stored. */
struct db_audit_link {
	long long seq, audit_id;
	unsigned char row_hash[DB_HASH_LEN], chain_hash[DB_HASH_LEN];
	int present;	/* the audit row exists */
	int ca_null;
	char at_us[32]; /* microseconds since 1970, as text; "" for NULL */
	long long ca_id;
	char *event, *actor, *detail, *db_role; /* NULL: SQL NULL */
};
/* Up to limit links after seq after_seq, in order. Returns 1 or -1. */
int db_audit_links(struct db *db, long long after_seq, int limit,
    struct db_audit_link **out, size_t *n) CA_MUST_CHECK;
void db_audit_link_clear(struct db_audit_link *l);
void db_audit_link_array_free(struct db_audit_link *a, size_t n);
/* *first: the lowest audit id below the highest linked one that is not
 * linked (0: none); *waiting: rows after it, not linked yet. 1 or -1. */
int db_audit_unlinked(struct db *db, long long *first, long long *waiting)
    CA_MUST_CHECK;
/* A signed checkpoint, with its key (from audit_key) when read back. */
struct db_audit_ckpt {
	long long id, seq, key_id;
	unsigned char chain_hash[DB_HASH_LEN];
	time_t at;
	unsigned char *sig;
	size_t sig_len;
	char *key_uri;	     /* NULL: no such key row */
	unsigned char *spki; /* DER SubjectPublicKeyInfo, the stored copy */
	size_t spki_len;
};
/* Adds c (seq, chain_hash, key_id, at, sig) through
 * cmpca_audit_checkpoint_add; sets c->id. Returns 1, 0 (seq behind the
 * last checkpoint: not added) or -1. */
int db_audit_ckpt_insert(struct db *db, struct db_audit_ckpt *c)
    CA_MUST_CHECK;
/* The last checkpoint's seq and time (0 and 0: none). 1 or -1. */
int db_audit_ckpt_last(struct db *db, long long *seq, time_t *at)
    CA_MUST_CHECK;
/* Checkpoint ids: *gap_from..*gap_to, the first ids missing between 1 and
 * the highest (0, 0: none); *top, the highest id. Returns 1 or -1. */
int db_audit_ckpt_ids(struct db *db, long long *gap_from, long long *gap_to,
    long long *top) CA_MUST_CHECK;
/* *drawn: the highest checkpoint id its sequence gave out, once every
 * transaction that could have been inserting one then has ended (waits
 * up to 10 s). Call before taking the snapshot that is compared with it.
 * Returns 1 or -1. */
int db_audit_ckpt_drawn(struct db *db, long long *drawn) CA_MUST_CHECK;
/* Every checkpoint, by seq. Returns 1 or -1. */
int db_audit_ckpt_list(struct db *db, struct db_audit_ckpt **out, size_t *n)
    CA_MUST_CHECK;
void db_audit_ckpt_clear(struct db_audit_ckpt *c);
void db_audit_ckpt_array_free(struct db_audit_ckpt *a, size_t n);
/* Records an audit key. Returns 1 (sets *id), 0 (URI known) or -1. */
int db_audit_key_insert(struct db *db, const char *uri,
    const unsigned char *spki, size_t spki_len, long long *id) CA_MUST_CHECK;
/* The newest audit key into k (key_id, key_uri, spki). 1, 0 none, -1. */
int db_audit_key_latest(struct db *db, struct db_audit_ckpt *k)
    CA_MUST_CHECK;
/* Audit key id into k (key_id, key_uri, spki). 1, 0 none, -1. */
int db_audit_key_get(struct db *db, long long id, struct db_audit_ckpt *k)
    CA_MUST_CHECK;
/* A certificate whose status is not the one its audit rows say. */
struct db_audit_mismatch {
	long long cert_id;
	char serial[DB_SERIAL_MAX];
	char status[64];   /* "<status> <reason|-> <revoked_at|->" in cert */
	char audited[128]; /* the same from its latest cert-status row */
};
/* The first such certificate. Returns 1 (found), 0 (none) or -1. */
int db_audit_cert_check(struct db *db, struct db_audit_mismatch *m)
    CA_MUST_CHECK;
/* A certificate status change in the history that the CA never makes
 * (db_harden.c; the rule of migration 016's cert_status_transition). */
struct db_audit_transition {
	long long audit_id, cert_id;
	char serial[DB_SERIAL_MAX];
	char from[64], to[64]; /* "<status> <reason|->" */
	long long count;       /* how many such rows in all */
};
/* The first one. Returns 1 (found), 0 (none) or -1. */
int db_audit_transition_check(struct db *db, struct db_audit_transition *t)
    CA_MUST_CHECK;
/* BEGIN a read-only REPEATABLE READ transaction (one snapshot for a
 * consistent read); end it with db_commit or db_rollback. 1 or 0. */
int db_begin_snapshot(struct db *db) CA_MUST_CHECK;

/* The database role of this connection (db_chain.c). */
struct db_role {
	char name[DB_LABEL_MAX];
	int superuser;
	int owns; /* tables of the schema it owns or may become owner of */
};
/* Returns 1 or -1. */
int db_role_get(struct db *db, struct db_role *w) CA_MUST_CHECK;
/* Calls cmpca_grants() (migration 015) if it exists: the roles get
 * exactly their grants. Returns 1, 0 (no such function) or -1. */
int db_grants_apply(struct db *db) CA_MUST_CHECK;
/* Records what the roles hold now as what cmpca_grants() gave
 * (grant_baseline, migration 016; db_grants_apply calls it). Returns 1,
 * 0 (no such table) or -1. */
int db_grants_baseline(struct db *db) CA_MUST_CHECK;
#define DB_PROBLEM_MAX 256 /* one sentence of db_schema_check */
/*
 * The audit trail's safeguards in the database (db_harden.c): every audit
 * trigger present and enabled; every SECURITY DEFINER function of the
 * schema with search_path pg_catalog, <schema>, pg_temp; PUBLIC and the
 * three roles without TEMP and without any privilege beyond what
 * grant_baseline records. Calls report(arg, sentence) per problem.
 * Returns the number of problems, or -1.
 */
int db_schema_check(struct db *db, void (*report)(void *, const char *),
    void *arg) CA_MUST_CHECK;

/* Counts of open work for monitoring (db_stats.c). */
struct db_stats {
	long long pending_approvals; /* requests waiting for the operator */
	long long txn_waiting;	     /* polled transactions, undecided */
	long long txn_wait_conf;     /* certificates waiting for certConf */
};
/* Returns 1 or -1. */
int db_stats_get(struct db *db, struct db_stats *out) CA_MUST_CHECK;

/*
 * Called (in the failing process) whenever a statement fails, with its
 * SQLSTATE ("" for a connection failure); for metrics. NULL: none.
 */
void db_error_hook_set(void (*fn)(const char *sqlstate));

/* OCSP (RFC 6960): delegated signers, newest per CA used. */
struct db_ocsp_signer {
	long long id;
	long long ca_id;
	char *key_uri;	     /* PKCS#11 URI of the signer key */
	unsigned char *cert; /* DER */
	size_t cert_len;
	time_t created;
};
void db_ocsp_signer_clear(struct db_ocsp_signer *s);
/* Inserts; sets s->id. Returns 1 or -1. */
int db_ocsp_signer_insert(struct db *db, struct db_ocsp_signer *s)
    CA_MUST_CHECK;
/* The newest signer of a CA: 1, 0 if none, -1. */
int db_ocsp_signer_latest(struct db *db, long long ca_id,
    struct db_ocsp_signer *out) CA_MUST_CHECK;
/* What an OCSP answer needs of a certificate (no DER). */
struct db_cert_state {
	enum db_cert_status status;
	time_t revoked_at; /* 0 if not revoked or rejected */
	int reason;	   /* CRLReason, -1 if none */
};
/* Status of the certificate (ca_id, serial): 1, 0 if none, -1. */
int db_cert_get_status(struct db *db, long long ca_id, const char *serial,
    struct db_cert_state *out) CA_MUST_CHECK;

/*
 * OCSP answers produced ahead of time (migration 023): one signed
 * OCSPResponse per CA key row, serial and CertID hash (md: "sha1",
 * "sha256", "sha384" or "sha512"), with the status it signs.
 */
enum db_ocsp_status {
	DB_OCSP_NONE,
	DB_OCSP_GOOD,
	DB_OCSP_REVOKED,
	DB_OCSP_UNKNOWN
};
struct db_ocsp_answer {
	long long ca_id;
	char serial[DB_SERIAL_MAX];
	char md[8];
	enum db_ocsp_status status;
	int reason;	   /* CRLReason signed, -1 if none */
	time_t revoked_at; /* revocationTime signed, 0 if not revoked */
	long long signer_id; /* ocsp_signer.id, 0: the CA key itself */
	time_t this_update, next_update;
	int stale;	     /* a status or signer changed since */
	unsigned char *der;  /* the OCSPResponse; NULL: no row */
	size_t der_len;
};
void db_ocsp_answer_clear(struct db_ocsp_answer *a);
/*
 * The certificate (ca_id, serial)'s status into *cert and its stored
 * answer for md into *out (out->der NULL when there is none), in one
 * statement. Returns 1, 0 if no such certificate, -1.
 */
int db_ocsp_answer_get(struct db *db, long long ca_id, const char *serial,
    const char *md, struct db_cert_state *cert, struct db_ocsp_answer *out)
    CA_MUST_CHECK;
/*
 * Stores (or replaces) an answer, only while the certificate still has
 * the status it signs (a status change committed meanwhile leaves the
 * newer row, or none). Returns 1 stored, 0 not (the certificate changed
 * or is gone), -1.
 */
int db_ocsp_answer_put(struct db *db, const struct db_ocsp_answer *a)
    CA_MUST_CHECK;
/* An answer to (re)produce: the key of its row. */
struct db_ocsp_due {
	long long ca_id;
	char serial[DB_SERIAL_MAX];
	char md[8];
	struct db_cert_state cert; /* as the query read it */
};
/*
 * Up to max answers to produce now, stale ones first: stored answers that
 * are stale or whose nextUpdate is within margin seconds; with missing,
 * also the valid and revoked certificates (not expired) of CA rows with
 * a key here that can sign (active with an OCSP signer, or an earlier
 * key) that have no SHA-1 answer. Only
 * certificates in the inventory. *out is freed with free(). 1 or -1.
 */
int db_ocsp_answer_due(struct db *db, long margin, int missing, size_t max,
    struct db_ocsp_due **out, size_t *n) CA_MUST_CHECK;
/*
 * Deletes answers past their nextUpdate whose certificate is gone or has
 * expired (nothing refreshes them). *rows: how many. 1 or -1.
 */
int db_ocsp_answer_prune(struct db *db, long long *rows) CA_MUST_CHECK;
/* Stored answers: all, and those not stale. 1 or -1. */
int db_ocsp_answer_count(struct db *db, long long *all, long long *fresh)
    CA_MUST_CHECK;

/*
 * The operators' web page (read-only): certificates with the label of
 * their CA and without the DER, and issuances per hour.
 */
#define DB_ADMIN_MAX_HOURS 168 /* a week of hourly buckets */
struct db_admin_cert {
	long long id;
	char ca_label[DB_LABEL_MAX];
	char serial[DB_SERIAL_MAX];
	char *subject; /* RFC 2253 */
	char *profile; /* NULL if none */
	enum db_cert_status status;
	time_t not_after;
	time_t created;
	time_t revoked_at; /* 0 if not revoked or rejected */
	int reason;	   /* CRLReason, -1 if none */
};
/* Filters: NULL/0 match everything. subject is a case-insensitive
 * substring, serial the canonical lowercase hex. limit > 0, offset >= 0. */
struct db_admin_filter {
	const char *subject;
	const char *serial;
	enum db_cert_status status;
	int limit;
	int offset;
	int expiring_days; /* > 0: valid ones expiring within, soonest first */
};
void db_admin_cert_clear(struct db_admin_cert *c);
void db_admin_cert_array_free(struct db_admin_cert *a, size_t n);
/* Newest first (revoked: most recently revoked first). Returns 1 or -1. */
int db_admin_cert_list(struct db *db, const struct db_admin_filter *f,
    struct db_admin_cert **out, size_t *n) CA_MUST_CHECK;
/*
 * Certificates created in each of the last `hours` hours (UTC, the current
 * hour last) into counts[0..hours-1]; *first is the start of the oldest
 * hour. hours is 1..DB_ADMIN_MAX_HOURS. Returns 1 or -1.
 */
int db_admin_hourly(struct db *db, int hours, long long *counts,
    time_t *first) CA_MUST_CHECK;
/* The audit chain's newest signed checkpoint: its seq and time. 1, 0
 * none yet, -1. */
int db_admin_ckpt_last(struct db *db, long long *seq, time_t *at)
    CA_MUST_CHECK;

/*
 * Added by the db layer; notes on the contract above.
 *
 * db_open() returns NULL only when out of memory. If the server cannot be
 * reached it still returns a handle: db_error() says why, and every call
 * (or db_ensure()) tries to connect again, so call db_ensure() after
 * db_open() to know whether the database is usable now. A NULL or empty
 * conninfo uses libpq's defaults (PGHOST, PGSERVICE, ...).
 * db_error() is meaningful only after a call failed (-1, or 0 from
 * db_migrate()); it is not cleared by successful calls.
 * List functions return 1 (with *n possibly 0 and *out NULL) or -1; get
 * functions overwrite *out without freeing it first.
 * Inserts use ON CONFLICT DO NOTHING: a duplicate returns 0 without
 * aborting an open transaction. Any other -1 inside db_begin() aborts it:
 * only db_rollback() is useful then (db_commit() fails).
 * If the connection is lost inside a transaction, every call fails (-1)
 * until db_commit() or db_rollback(); the call after that reconnects.
 */

/* Tests and migrations only. */
/*
 * Runs sql (several statements allowed) with the simple protocol, no
 * parameters, results discarded. Returns 1 or -1.
 */
int db_exec_unsafe(struct db *db, const char *sql) CA_MUST_CHECK;
/* PostgreSQL backend process id of the connection, 0 if not connected. */
int db_backend_pid(struct db *db);

#endif
