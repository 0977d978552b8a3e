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
 * The table holds CA_OCSP_CACHE_SLOTS entries in sets of
 * CA_OCSP_CACHE_WAYS, the set chosen by the request digest: a new answer
 * takes its own entry again, else an empty one, else the one of its set
 * that expires first. (Direct-mapped, two of 32 questions asked in turn
 * shared an entry about one time in eight and each was signed again at
 * every turn.)
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

/* The first entry of req's set. */
static struct ocsp_cache_slot *
set_of(struct ocsp_cache *c, const unsigned char *req)
{
	size_t set = (req[0] | (size_t)req[1] << 8) %
	    (CA_OCSP_CACHE_SLOTS / CA_OCSP_CACHE_WAYS);

	return &c->slot[set * CA_OCSP_CACHE_WAYS];
}

/* The entry of req's set that holds req, or NULL. */
static struct ocsp_cache_slot *
slot_find(struct ocsp_cache *c, const unsigned char *req)
{
	struct ocsp_cache_slot *s = set_of(c, req);
	size_t i;

	for (i = 0; i < CA_OCSP_CACHE_WAYS; i++)
		if (s[i].der != NULL &&
		    memcmp(s[i].req, req, sizeof(s[i].req)) == 0)
			return &s[i];
	return NULL;
}

/* The entry a new answer to req takes: its own, an empty one, or the
 * one of the set that expires first. */
static struct ocsp_cache_slot *
slot_for(struct ocsp_cache *c, const unsigned char *req)
{
	struct ocsp_cache_slot *s = set_of(c, req), *v;
	size_t i;

	if ((v = slot_find(c, req)) != NULL)
		return v;
	v = &s[0];
	for (i = 0; i < CA_OCSP_CACHE_WAYS; i++) {
		if (s[i].der == NULL)
			return &s[i];
		if (s[i].until < v->until)
			v = &s[i];
	}
	return v;
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
	s = slot_find(c, req);
	if (s == NULL || s->signer != signer || now >= s->until ||
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
	s = slot_for(c, req);
	free(s->der);
	memcpy(s->req, req, sizeof(s->req));
	memcpy(s->status, status, sizeof(s->status));
	s->signer = signer;
	s->until = until;
	s->der = copy;
	s->len = len;
}
