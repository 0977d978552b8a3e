/*
 * worker.c - one cmpcad worker: the CMP engine and the OCSP responder over
 * the worker's configuration, database and HSM, and what they share. The
 * HSM is theirs jointly, so its loss is handled here, before each request:
 * neither of them knows the other.
 */
#include <stdlib.h>

#include "ca/client/client.h"
#include "daemon/worker.h"

/* See worker.h. */
struct worker *
worker_new(const struct cfg *cfg, struct db *db, struct hsm *hsm)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->cfg = cfg;
	w->db = db;
	w->hsm = hsm;
	if ((w->cmp = cmp_srv_new(cfg, db, hsm)) == NULL) {
		free(w);
		return NULL;
	}
	/* cmpca as an RA: the engine's way upstream (ca/client). */
	cmp_srv_set_upstream(w->cmp, &client_upstream_io);
	/* The responder reads nothing until its first request. */
	if ((w->ocsp = ocsp_srv_new(cfg, db, hsm)) == NULL)
		log_err("ocsp: out of memory, /ocsp answers 503");
	return w;
}

/* See worker.h. */
void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	ocsp_srv_free(w->ocsp);
	cmp_srv_free(w->cmp);
	db_close(w->ro);
	free(w);
}

/* See worker.h. */
int
worker_hsm_check(struct worker *w)
{
	char why[128];

	if (!hsm_lost(w->hsm))
		return 1;
	if (!w->hsm_down) {
		log_err("hsm: token %s unavailable: %s; answering systemUnavail "
			"and reconnecting",
		    hsm_token_label(w->hsm), hsm_lost_reason(why, sizeof(why)));
		w->hsm_down = 1;
	}
	/* Keys from the old module instance die with it. */
	cmp_srv_keys_drop(w->cmp);
	ocsp_srv_keys_drop(w->ocsp);
	if (!hsm_reopen(w->hsm))
		return 0;
	/* OCSP may have failed to load a signer meanwhile: read again. */
	ocsp_srv_keys_drop(w->ocsp);
	log_info("hsm: token %s back: session reopened, logged in",
	    hsm_token_label(w->hsm));
	w->hsm_down = 0;
	return 1;
}

/* See worker.h. */
struct db *
worker_reader_db(struct worker *w)
{
	if (w->cfg->db_reader == NULL)
		return w->db;
	if (w->ro == NULL)
		w->ro = db_open(w->cfg->db_reader);
	return w->ro != NULL ? w->ro : w->db;
}
