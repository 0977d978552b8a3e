/*
 * worker.h - one cmpcad worker process (worker.c): the configuration, the
 * database and HSM it opened after the fork, and the CMP engine and OCSP
 * responder that serve through them. cmpcad.c makes it and frees it;
 * fcgi.c serves every request through it and reads nothing of the engine.
 */
#ifndef CMPCA_WORKER_H
#define CMPCA_WORKER_H

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "ca/status/status.h"

struct worker {
	const struct cfg *cfg;
	struct db *db;	       /* the worker's connection (borrowed) */
	struct hsm *hsm;       /* the worker's token (borrowed) */
	struct cmp_srv *cmp;   /* the CMP engine */
	struct ocsp_srv *ocsp; /* the OCSP responder; NULL: /ocsp is 503 */
	struct db *ro;	       /* db_reader's connection, on first use */
	int hsm_down;	       /* the loss of the HSM was logged */
	int slot;	       /* the master's slot (1..workers), for the
				  watchdog; 0 in tests */
};

/*
 * The worker of cfg over an open database and HSM, which it borrows (they
 * must outlive it). An OCSP responder that cannot be made is logged and
 * left out (/ocsp answers 503, CMP is served). Returns NULL when the
 * engine cannot be made.
 */
struct worker *worker_new(const struct cfg *cfg, struct db *db,
    struct hsm *hsm) CA_MUST_CHECK;
/* Frees the engine, the responder and db_reader's connection. NULL-safe. */
void worker_free(struct worker *w);

/*
 * Called before each request: when the HSM handle is lost (hsm_lost()),
 * drops every key loaded from it (the engine's CAs, the responder's
 * signers) and tries hsm_reopen(). Logs the loss once per episode and the
 * recovery. Returns 1 when the HSM is usable; while it is not, the engine
 * answers systemUnavail and the responder tryLater or internalError.
 */
int worker_hsm_check(struct worker *w);

/*
 * The connection /admin/ and /metrics read through: db_reader's (role
 * cmpca_reader, read only), opened on first use; without db_reader, or
 * while it cannot be opened, the worker's own.
 */
struct db *worker_reader_db(struct worker *w);

#endif
