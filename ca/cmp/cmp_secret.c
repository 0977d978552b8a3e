/*
 * cmp_secret.c - the worker's cache of unlimited enrollment secrets.
 *
 * A request that starts an issuance (ir, cr, kur, p10cr) may take its
 * secret from here and spare a database round trip: the statement that
 * records the issuance checks that the row is still the version read
 * (cmpca_cert_store, migration 014), and if not, the request is served
 * again from a fresh read (serve() in cmp_server.c). Other requests always
 * read the row, so removing a secret takes effect at once for them, and at
 * the next issuance for the cache. Only the sealed value is kept.
 *
 * Below every other file of the engine but cmp_guard.c, whose counted
 * row read it uses.
 */
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"

/* See cmp_srv.h. */
int
cmp_secret_cache_get(struct cmp_srv *s, const char *ref,
    struct db_secret *out)
{
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < CMP_SECRET_CACHE; i++)
		if (s->secrets[i].at != 0 &&
		    now - s->secrets[i].at < CMP_SECRET_CACHE_TTL &&
		    strcmp(s->secrets[i].s.ref, ref) == 0)
			return db_secret_copy(out, &s->secrets[i].s);
	return 0;
}

/* Drops ref from the cache. */
static void
secret_cache_drop(struct cmp_srv *s, const char *ref)
{
	size_t i;

	for (i = 0; i < CMP_SECRET_CACHE; i++)
		if (s->secrets[i].at != 0 &&
		    strcmp(s->secrets[i].s.ref, ref) == 0) {
			db_secret_clear(&s->secrets[i].s);
			s->secrets[i].at = 0;
		}
}

/* See cmp_srv.h. */
void
cmp_secret_cache_put(struct cmp_srv *s, const struct db_secret *sec)
{
	size_t i, old = 0;

	if (sec->uses_left != -1 || sec->sealed == NULL ||
	    sec->version[0] == '\0')
		return;
	secret_cache_drop(s, sec->ref);
	for (i = 0; i < CMP_SECRET_CACHE; i++)
		if (s->secrets[i].at < s->secrets[old].at)
			old = i;
	db_secret_clear(&s->secrets[old].s);
	s->secrets[old].at = 0;
	if (db_secret_copy(&s->secrets[old].s, sec))
		s->secrets[old].at = time(NULL);
}

/* See cmp_srv.h. */
int
cmp_secret_row_changed(struct req *r)
{
	struct db_secret now;
	int rc, changed;

	rc = cmp_guard_secret_read(r->srv, r->secret.ref, &now);
	changed = rc != 1 || strcmp(now.version, r->secret.version) != 0;
	db_secret_clear(&now);
	return changed;
}

/* See cmp_srv.h. */
void
cmp_secret_stale(struct req *r)
{
	if (!r->secret_cached)
		return;
	secret_cache_drop(r->srv, r->secret.ref);
	r->secret_stale = 1;
}
