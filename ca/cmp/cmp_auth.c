/*
 * cmp_auth.c - who sent a request: its protection checked (RFC 9810
 * §5.1.3, RFC 9483 §3). Unprotected only for the body types
 * allow_unprotected names; a password-based MAC with the enrollment secret
 * senderKID names (read from the worker's cache in cmp_secret.c or the
 * database, unsealed in the HSM); a signature through cmp_sig.c.
 *
 * Called by the dispatcher (cmp_server.c) before any handler runs.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"

/* "secret:<ref>" from a senderKID; 1 or 0 if not printable. */
static int
sender_from_kid(struct req *r, char *ref, size_t reflen)
{
	const ASN1_OCTET_STRING *kid = r->msg->header->senderKID;
	int i;

	if (kid == NULL || kid->length == 0 || (size_t)kid->length >= reflen)
		return 0;
	for (i = 0; i < kid->length; i++)
		if (kid->data[i] < 0x21 || kid->data[i] > 0x7e)
			return 0;
	memcpy(ref, kid->data, (size_t)kid->length);
	ref[kid->length] = '\0';
	snprintf(r->sender, sizeof(r->sender), "secret:%s", ref);
	return 1;
}

/* Body types that continue a transaction rather than start one. */
static int
continues_txn(int type)
{
	return type == CMP_BODY_CERTCONF || type == CMP_BODY_POLLREQ ||
	    type == CMP_BODY_ERROR;
}

/*
 * Unseals the enrollment secret of r in the HSM into r->secret.secret
 * (wiped with the request). Rows from before migration 011 still carry it
 * in clear until `cmpca db migrate` seals them. Returns 1, or 0 with an
 * internal error recorded.
 */
static int
secret_open(struct req *r)
{
	struct db_secret *s = &r->secret;
	int rc;

	if (s->sealed == NULL) {
		log_warn("req %lu: enrollment secret %s is stored in clear: "
			 "run cmpca db migrate", r->id, s->ref);
		return 1;
	}
	if (s->secret != NULL) {
		OPENSSL_cleanse(s->secret, s->secret_len);
		free(s->secret);
		s->secret = NULL;
	}
	rc = cmp_guard_unseal(r->srv, s->ref, s->sealed, s->sealed_len,
	    &s->secret, &s->secret_len);
	if (rc != 1) {
		/* A value that does not open under its own reference was
		 * moved or damaged: our fault, not the client's. */
		cmp_internal(r, rc == 0 ? CMP_FAIL_SYSTEM_FAILURE
					: CMP_FAIL_SYSTEM_UNAVAIL, hsm_error());
		return 0;
	}
	return 1;
}

/* Requests that may take their secret from the worker's cache
 * (cmp_secret.c): those that start an issuance, unless served again for
 * a stale copy. */
static int
secret_cacheable(const struct req *r)
{
	switch (r->msg->body->type) {
	case CMP_BODY_IR:
	case CMP_BODY_CR:
	case CMP_BODY_KUR:
	case CMP_BODY_P10CR:
		return !r->secret_fresh;
	default:
		return 0;
	}
}

/*
 * Derives r->mac from secret with the request's PBM parameters. Returns 1,
 * 0 with r rejected (parameters refused), or -1 with r failed internally.
 */
static int
mac_derive(struct req *r, const unsigned char *secret, size_t len)
{
	const char *why;
	int rc, fail;

	rc = cmp_pbm_derive(r->msg->header->protectionAlg, secret, len,
	    r->srv->cfg->pbm_max_iter, &r->mac, &fail, &why);
	if (rc == 0)
		cmp_reject(r, fail, why);
	else if (rc < 0)
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "PBM key derivation failed");
	return rc;
}

/*
 * A MAC-protected request whose senderKID names no secret: the same answer
 * as a wrong MAC after the same work (the row read already made, an
 * unseal of the worker's decoy, the parameters checked, a key derived and
 * a MAC computed with a stand-in secret), so that neither the answer nor
 * its timing tells which references exist (cmp_guard.c counts the calls).
 * Returns 0, or -1 on an internal error.
 */
static int
unknown_ref(struct req *r)
{
	static const unsigned char standin[32];
	int rc;

	cmp_guard_decoy_unseal(r->srv);
	if ((rc = mac_derive(r, standin, sizeof(standin))) != 1)
		return rc;
	(void)cmp_pbm_verify(r->msg, &r->mac, r->pp, r->pp_len);
	cmp_mac_clear(&r->mac);
	cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
	    "MAC protection does not verify");
	return 0;
}

/*
 * The MAC of r with the secret its senderKID names: mac_check() below,
 * charged to the worker's budget of failed derivations when it does not
 * verify (cmp_guard.c). Returns as mac_check().
 */
static int mac_check(struct req *r, const char *ref);

static int
mac_check_charged(struct req *r, const char *ref)
{
	long long t0;
	int rc;

	/* Before the reference is looked at: the refusal is the same for
	 * every reference and every sender. */
	if (!cmp_guard_budget_ok(r->srv)) {
		/* Not cmp_internal(): no error line per refused request
		 * (cmp_guard.c logs the episode once). */
		r->fail = CMP_FAIL_SYSTEM_UNAVAIL;
		r->why = "too many MAC-protected requests failed, try again "
			 "later";
		r->outcome = "error";
		return -1;
	}
	t0 = cmp_guard_cpu_us();
	rc = mac_check(r, ref);
	if (rc == 0 && !r->have_mac)
		cmp_guard_budget_debit(r->srv, cmp_guard_cpu_us() - t0);
	return rc;
}

/* See cmp_srv.h. */
int
cmp_auth_check(struct req *r)
{
	const CMP_HEADER *h = r->msg->header;
	char ref[DB_REF_MAX];

	if (h->protectionAlg == NULL && r->msg->protection == NULL &&
	    (r->srv->cfg->unprotected_ok & (1ul << r->msg->body->type))) {
		/* Allowed by allow_unprotected for this body type; the answer
		 * is still signed, so the client can check it. */
		snprintf(r->sender, sizeof(r->sender), "unprotected");
		r->sign_resp = 1;
		return 1;
	}
	if (h->protectionAlg == NULL || r->msg->protection == NULL) {
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "message is not protected (RFC 9483 §3.2)");
		return 0;
	}
	if (!cmp_alg_is_pbm(h->protectionAlg))
		return cmp_sig_verify(r);
	if (!sender_from_kid(r, ref, sizeof(ref))) {
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "MAC protection needs the secret reference in senderKID "
		    "(RFC 9483 §3.1)");
		return 0;
	}
	return mac_check_charged(r, ref);
}

/* Checks the MAC of r with the secret ref names, and what the secret
 * allows. Returns 1, 0 (rejected), -1 (internal). */
static int
mac_check(struct req *r, const char *ref)
{
	int rc;

	if (secret_cacheable(r) &&
	    cmp_secret_cache_get(r->srv, ref, &r->secret) == 1) {
		r->secret_cached = 1;
		rc = 1;
	} else {
		rc = cmp_guard_secret_read(r->srv, ref, &r->secret);
		if (rc < 0) {
			cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    db_error(r->srv->db));
			return -1;
		}
		if (rc == 1)
			cmp_secret_cache_put(r->srv, &r->secret);
	}
	if (rc == 0)
		return unknown_ref(r);
	if (!secret_open(r))
		return -1;
	if ((rc = mac_derive(r, r->secret.secret, r->secret.secret_len)) != 1)
		return rc;
	rc = cmp_pbm_verify(r->msg, &r->mac, r->pp, r->pp_len);
	if (rc < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "PBM computation failed");
		return -1;
	}
	if (rc == 0) {
		cmp_mac_clear(&r->mac);
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "MAC protection does not verify");
		/* With a kept copy: served again only if the row changed
		 * since (its version), so that a wrong MAC costs one PBM
		 * derivation, as without the cache. */
		if (r->secret_cached && cmp_secret_row_changed(r))
			cmp_secret_stale(r);
		return 0;
	}
	r->have_mac = 1;
	if (r->secret.ca_id != 0 && r->secret.ca_id != r->ca->id) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "enrollment secret is not valid for this CA");
		return 0;
	}
	/* An expired secret authenticates nothing; a used-up one only the
	 * end of the transactions it started (certConf, pollReq, error). */
	if (r->secret.expires != 0 && r->secret.expires <= time(NULL)) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "enrollment secret expired");
		return 0;
	}
	if (r->secret.uses_left == 0 && !continues_txn(r->msg->body->type)) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "enrollment secret used up or expired");
		return 0;
	}
	return 1;
}
