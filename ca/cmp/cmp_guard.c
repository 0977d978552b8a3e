/*
 * cmp_guard.c - what a MAC-protected request may cost before anyone knows
 * who sent it (issues 22 and 33).
 *
 * 1. The same work for every senderKID. A reference that exists costs a
 *    row read, an unseal in the HSM and a key derivation; one that does
 *    not costs the same: the row read (which finds nothing), an unseal of
 *    the worker's decoy (a random value sealed once per worker under a
 *    reference no senderKID can spell) and the derivation with a stand-in
 *    secret (cmp_auth.c). The calls are counted here, so a unit test
 *    checks both paths call alike without measuring time.
 * 2. A budget for failed derivations. Each worker may spend mac_fail_budget
 *    milliseconds of CPU a second (its own CPU time, so that a loaded host
 *    does not make each derivation look dearer), banked for
 *    CMP_GUARD_WINDOW seconds, on requests whose MAC then does not verify (a wrong secret or
 *    an unknown reference: the same to the budget). While it is spent,
 *    every MAC-protected request is answered systemUnavail before its
 *    reference is looked at, whoever sent it, so the refusal tells nothing
 *    about references; signature-protected traffic is served as before.
 *
 * Below every other file of the engine: it calls only db/ and hsm/.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"

/* The decoy's reference: a space, which no senderKID may hold. */
#define CMP_GUARD_DECOY_REF " decoy"

/* Calls made by this process (cmp_guard_counts). */
static unsigned long n_reads, n_unseals;

/* See cmp_srv.h. */
int
cmp_guard_secret_read(struct cmp_srv *s, const char *ref,
    struct db_secret *out)
{
	n_reads++;
	return db_secret_get(s->db, ref, out);
}

/* See cmp_srv.h. */
int
cmp_guard_unseal(struct cmp_srv *s, const char *ref, const unsigned char *in,
    size_t inlen, unsigned char **pt, size_t *ptlen)
{
	n_unseals++;
	return hsm_unseal(s->hsm, ref, in, inlen, pt, ptlen);
}

/* See cmp_srv.h. */
void
cmp_guard_decoy_unseal(struct cmp_srv *s)
{
	unsigned char v[32], *pt = NULL;
	size_t len = 0;

	if (s->decoy == NULL && !s->decoy_failed) {
		if (RAND_bytes(v, sizeof(v)) != 1 ||
		    hsm_seal(s->hsm, CMP_GUARD_DECOY_REF, v, sizeof(v),
			&s->decoy, &s->decoy_len) != 1) {
			/* Without it, unknown references skip the unseal:
			 * logged, since that is the oracle again. */
			log_warn("cannot seal the unknown-reference decoy: %s",
			    hsm_error());
			s->decoy = NULL;
			s->decoy_failed = 1;
		}
		OPENSSL_cleanse(v, sizeof(v));
	}
	if (s->decoy == NULL)
		return;
	if (cmp_guard_unseal(s, CMP_GUARD_DECOY_REF, s->decoy, s->decoy_len,
		&pt, &len) == 1) {
		OPENSSL_cleanse(pt, len);
		free(pt);
	}
}

/* See cmp_srv.h. */
void
cmp_guard_free(struct cmp_srv *s)
{
	if (s->decoy != NULL) {
		OPENSSL_cleanse(s->decoy, s->decoy_len);
		free(s->decoy);
		s->decoy = NULL;
	}
	s->decoy_failed = 0;
}

/* See cmp.h. */
void
cmp_guard_counts(unsigned long *reads, unsigned long *unseals)
{
	*reads = n_reads;
	*unseals = n_unseals;
}

/* Adds what the clock gave since the last look, up to the window. */
static void
budget_refill(struct cmp_srv *s, long long now)
{
	long long rate = s->cfg->mac_fail_budget; /* ms per s = us per ms */
	long long cap = rate * 1000 * CMP_GUARD_WINDOW;

	if (s->budget_at == 0) {
		s->budget_us = cap;
		s->budget_at = now;
		return;
	}
	s->budget_us += (now - s->budget_at) * rate / 1000;
	if (s->budget_us > cap)
		s->budget_us = cap;
	s->budget_at = now;
}

/* See cmp_srv.h. */
int
cmp_guard_budget_ok(struct cmp_srv *s)
{
	if (s->cfg->mac_fail_budget == 0)
		return 1;
	budget_refill(s, metrics_now_us());
	if (s->budget_us > 0) {
		s->budget_spent = 0;
		return 1;
	}
	if (!s->budget_spent) {
		log_warn("MAC budget spent: %ld ms/s of failed key derivations; "
			 "MAC-protected requests answered systemUnavail until "
			 "it refills",
		    s->cfg->mac_fail_budget);
		s->budget_spent = 1;
	}
	metrics_mac_refused();
	return 0;
}

/* See cmp_srv.h. */
long long
cmp_guard_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* See cmp_srv.h. */
void
cmp_guard_budget_debit(struct cmp_srv *s, long long us)
{
	if (s->cfg->mac_fail_budget == 0 || us <= 0)
		return;
	budget_refill(s, metrics_now_us());
	s->budget_us -= us;
}
