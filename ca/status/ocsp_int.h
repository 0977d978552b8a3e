/*
 * ocsp_int.h - what the responder's files share (ca/status/ only):
 * ocsp.c reads requests, ocsp_ca.c keeps the CAs and their signers,
 * ocsp_answer.c builds, signs, stores and produces answers.
 */
#ifndef CMPCA_OCSP_INT_H
#define CMPCA_OCSP_INT_H

#include <openssl/ocsp.h>
#include <openssl/sha.h>

#include "ca/ca.h"
#include "ca/status/status.h"

/* Digests a CertID may use (ocsp_ca.c); the issuer hashes are computed
 * once per CA. */
#define OCSP_NMD 4
extern const int ocsp_cid_nids[OCSP_NMD];
extern const char *const ocsp_cid_names[OCSP_NMD]; /* ocsp_answer.md */

struct ocsp_ca {
	long long id;
	char label[DB_LABEL_MAX];
	X509 *cert;
	OCSP_CERTID *cid[OCSP_NMD]; /* issuer hashes, no serial */
	long long signer_id;	    /* 0: no signer row, or the CA key */
	X509 *signer;		    /* NULL: none usable */
	EVP_PKEY *key;		    /* signer key in the HSM */
	const EVP_MD *md;
	int key_err; /* a signer row exists but cannot be used */
	int old_key; /* an earlier key of an identity: signs itself */
	time_t warned; /* last "no signer" log line, at most one a minute */
};

struct ocsp_srv {
	const struct cfg *cfg;
	struct db *db;
	struct hsm *hsm;
	struct ocsp_ca **ca;
	size_t nca;
	time_t loaded; /* 0: never */
	unsigned char version[DB_CA_VERSION_LEN]; /* db_ca_version, loaded */
	time_t checked;	/* when the version was last compared */
	unsigned long reqno;
	struct ocsp_cache *answers; /* signed answers for reuse, or NULL */
};

/* One request; everything it allocates, released by oreq_clear(). */
struct oreq {
	unsigned long id;
	OCSP_REQUEST *req;
	OCSP_BASICRESP *bs;
	ASN1_TIME *this_upd, *next_upd;
	EVP_MD_CTX *mctx;
	struct ocsp_ca *ca; /* the CA whose signer answers */
	struct ocsp_ca *cas[CA_MAX_OCSP_CERTS]; /* per request, or NULL */
	int status;	    /* OCSP_RESPONSE_STATUS_* */
	const char *why;
	int no_signer; /* the CA has no signer row (for the log) */
	int n, good, revoked, unknown;
	/* Reuse of signed answers: requests without nonce, or with one
	 * ignored (the database's store for one certificate of the
	 * inventory, ocsp_cache.c for the others). */
	int reusable;
	int echo_nonce; /* a nonce to copy into the answer */
	unsigned char req_md[SHA256_DIGEST_LENGTH]; /* the CertIDs asked */
	unsigned char st_md[SHA256_DIGEST_LENGTH];  /* the statuses read */
	long long st[CA_MAX_OCSP_CERTS][3];	    /* status, reason, time */
	time_t t_this, t_next;
	const unsigned char *cached; /* the cache's or store's bytes */
	size_t cached_len;
	/* The store (ocsp_answer table): the one certificate's row. */
	int have_cert;		     /* cert holds its status */
	struct db_cert_state cert;
	struct db_ocsp_answer stored; /* its answer, der NULL if none */
	int from_store;		      /* cached points into stored */
	int store_after;	      /* store the answer signed now */
	char serial[DB_SERIAL_MAX];
	int mdi; /* ocsp_cid_nids index of the CertID */
};

/* ocsp_ca.c */
void ocsp_cas_clear(struct ocsp_srv *s);
/* Reads the CAs again when db_ca_version() changed. 1, or 0 (logged). */
int ocsp_cas_check(struct ocsp_srv *s);
/* Reads the CAs and signers again. 1, or 0 (logged; nothing changed). */
int ocsp_cas_refresh(struct ocsp_srv *s);
/* The CA whose issuer hashes match cid, or NULL; *mdi its digest. */
struct ocsp_ca *ocsp_ca_find(struct ocsp_srv *s, OCSP_CERTID *cid,
    int *mdi);
/* The CA entry of row id, or NULL. */
struct ocsp_ca *ocsp_ca_by_id(struct ocsp_srv *s, long long id);

/* ocsp_answer.c */
/*
 * Builds the answer of a checked request whose CA (r->ca) has a usable
 * signer: from the store, the worker's cache, or signed now. Returns 1,
 * 0 (r->status set), -1 internal.
 */
int ocsp_answer(struct ocsp_srv *s, struct oreq *r);
/* After the response was encoded: stores what was signed now for one
 * certificate of the inventory (r->store_after). Best effort. */
void ocsp_answer_keep(struct ocsp_srv *s, struct oreq *r,
    const unsigned char *der, size_t len);

#endif
