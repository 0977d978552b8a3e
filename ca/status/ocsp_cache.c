/*
 * ocsp_cache.c - signed OCSP responses kept per worker, so that a client
 * asking the same question again costs database reads but no HSM
 * signature (the signature is what a flood of /ocsp requests would make
 * every worker wait for, CMP included). Only for what the database's
 * store of answers (ocsp_answer.c) does not hold: requests naming several
 * certificates, and serials not in the inventory (stored, an attacker
 * could fill the table with serials of his choice).
 *
 * What may be reused: only the answer to a request without nonce, or
 * whose nonce the responder ignores (ocsp_nonce = no, the default; an
 * echoed nonce makes an answer single-use; RFC 5019 clients send none),
 * for the same CertIDs (the CA key's issuer hashes, the hash algorithm
 * and the serials: ocsp.c certids_md), the same CA entry and signer,
 * and the same statuses: the responder reads every status from the
 * database as for a fresh answer and passes their digest, so a
 * revocation (or any change of status, time or reason) misses the cache
 * at once, on every worker. An answer is reused until half its validity
 * has passed, so a client never gets one with less than half of
 * ocsp_validity left.
 *
 * The table is direct-mapped (CA_OCSP_CACHE_SLOTS entries, chosen by the
 * request digest): a collision replaces the older entry.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "ca/ca.h"
#include "ca/status/status.h"

struct ocsp_cache_slot {
	unsigned char req[SHA256_DIGEST_LENGTH];
	unsigned char status[SHA256_DIGEST_LENGTH];
	const void *signer; /* the signer certificate of the CA entry */
	time_t until;	    /* reuse before this time only */
	unsigned char *der;
	size_t len;
};

struct ocsp_cache {
	struct ocsp_cache_slot slot[CA_OCSP_CACHE_SLOTS];
	unsigned long hits, misses;
};

struct ocsp_cache *
ocsp_cache_new(void)
{
	return calloc(1, sizeof(struct ocsp_cache));
}

/* See ca.h. Safe to call with NULL. */
void
ocsp_cache_clear(struct ocsp_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < CA_OCSP_CACHE_SLOTS; i++) {
		free(c->slot[i].der);
		memset(&c->slot[i], 0, sizeof(c->slot[i]));
	}
}

void
ocsp_cache_free(struct ocsp_cache *c)
{
	ocsp_cache_clear(c);
	free(c);
}

static struct ocsp_cache_slot *
slot_of(struct ocsp_cache *c, const unsigned char *req)
{
	return &c->slot[(req[0] | (size_t)req[1] << 8) % CA_OCSP_CACHE_SLOTS];
}

/* See ca.h. */
const unsigned char *
ocsp_cache_get(struct ocsp_cache *c, const unsigned char *req,
    const unsigned char *status, const void *signer, time_t now,
    size_t *len)
{
	struct ocsp_cache_slot *s;

	if (c == NULL)
		return NULL;
	s = slot_of(c, req);
	if (s->der == NULL || s->signer != signer || now >= s->until ||
	    memcmp(s->req, req, sizeof(s->req)) != 0 ||
	    memcmp(s->status, status, sizeof(s->status)) != 0) {
		c->misses++;
		return NULL;
	}
	c->hits++;
	*len = s->len;
	return s->der;
}

/* See ca.h. */
void
ocsp_cache_put(struct ocsp_cache *c, const unsigned char *req,
    const unsigned char *status, const void *signer, time_t until,
    const unsigned char *der, size_t len)
{
	struct ocsp_cache_slot *s;
	unsigned char *copy;

	if (c == NULL || (copy = malloc(len)) == NULL)
		return; /* not kept: the next request signs again */
	memcpy(copy, der, len);
	s = slot_of(c, req);
	free(s->der);
	memcpy(s->req, req, sizeof(s->req));
	memcpy(s->status, status, sizeof(s->status));
	s->signer = signer;
	s->until = until;
	s->der = copy;
	s->len = len;
}
