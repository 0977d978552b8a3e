/*
 * cli_seal.c - the command line's side of sealed enrollment secrets: new
 * secrets are sealed in the HSM before they are stored (cmpca secret add),
 * and `cmpca db migrate` seals the secrets older versions stored in clear
 * (011 adds the sealed column) or sealed in the token's format 0x01 (the
 * daemon opens those with a token operation per request, see
 * hsm/hsm_aes.c), right after the SQL migrations. The daemon only ever
 * unseals. `cmpca secret reseal` moves every secret to the current key
 * version (cli_secrets_reseal), the RA identities' upstream secrets
 * included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ca/ca.h"
#include "cli/cli.h"

int
cli_secret_seal(struct ctx *c, struct db_secret *s)
{
	if (!cli_need_hsm(c))
		return 0;
	free(s->sealed);
	s->sealed = NULL;
	/* The reference is the AAD: the value opens in this row only. */
	if (!hsm_seal(c->hsm, s->ref, s->secret, s->secret_len, &s->sealed,
		&s->sealed_len)) {
		log_err("cannot seal secret %s: %s", s->ref, hsm_error());
		return 0;
	}
	return 1;
}

int
cli_secrets_seal_clear(struct ctx *c, int *n)
{
	struct db_secret *list = NULL;
	size_t cnt = 0, i;
	int rc = 0;

	*n = 0;
	if (db_secret_list_clear(c->db, &list, &cnt) < 0) {
		log_err("%s", db_error(c->db));
		return 0;
	}
	for (i = 0; i < cnt; i++) {
		if (list[i].secret == NULL && list[i].sealed != NULL &&
		    (!cli_need_hsm(c) ||
			hsm_unseal(c->hsm, list[i].ref, list[i].sealed,
			    list[i].sealed_len, &list[i].secret,
			    &list[i].secret_len) != 1)) {
			log_err("cannot open sealed secret %s: %s",
			    list[i].ref, hsm_error());
			goto out;
		}
		if (!cli_secret_seal(c, &list[i]))
			goto out;
		if (db_secret_set_sealed(c->db, list[i].ref, list[i].sealed,
			list[i].sealed_len) < 0) {
			log_err("cannot store sealed secret %s: %s",
			    list[i].ref, db_error(c->db));
			goto out;
		}
		(*n)++;
	}
	rc = 1;
out:
	db_secret_array_free(list, cnt);
	return rc;
}

/* Seals list[i] again under the current key version and stores it. */
static int
reseal_one(struct ctx *c, struct db_secret *s, unsigned long ver)
{
	if (s->secret == NULL && (s->sealed == NULL ||
		hsm_unseal(c->hsm, s->ref, s->sealed, s->sealed_len,
		    &s->secret, &s->secret_len) != 1)) {
		log_err("cannot open sealed secret %s: %s", s->ref,
		    hsm_error());
		return 0;
	}
	if (!cli_secret_seal(c, s))
		return 0;
	if (hsm_sealed_version(s->sealed, s->sealed_len) != ver) {
		log_err("secret %s was not sealed under key version %lu "
			"(the token refuses AES-ECB with it?)", s->ref, ver);
		return 0;
	}
	if (db_secret_set_sealed(c->db, s->ref, s->sealed, s->sealed_len) !=
	    1) {
		log_err("cannot store sealed secret %s: %s", s->ref,
		    db_error(c->db));
		return 0;
	}
	return 1;
}

/* Seals an RA identity's upstream secret again under key version ver
 * (AAD "upstream:LABEL", as cli_upstream.c seals it) and stores it. */
static int
reseal_upstream(struct ctx *c, const struct db_upstream_sealed *u,
    unsigned long ver)
{
	unsigned char *clear = NULL, *sealed = NULL;
	size_t clear_len = 0, sealed_len = 0;
	char aad[DB_LABEL_MAX + 16];
	int ok = 0;

	snprintf(aad, sizeof(aad), "upstream:%s", u->label);
	if (hsm_unseal(c->hsm, aad, u->sealed, u->sealed_len, &clear,
		&clear_len) != 1) {
		log_err("cannot open the upstream secret of ca %s: %s",
		    u->label, hsm_error());
		goto out;
	}
	if (!hsm_seal(c->hsm, aad, clear, clear_len, &sealed, &sealed_len) ||
	    hsm_sealed_version(sealed, sealed_len) != ver) {
		log_err("cannot seal the upstream secret of ca %s under key "
			"version %lu: %s", u->label, ver, hsm_error());
		goto out;
	}
	if (db_upstream_set_sealed(c->db, u->ca_id, sealed, sealed_len) != 1) {
		log_err("cannot store the upstream secret of ca %s: %s",
		    u->label, db_error(c->db));
		goto out;
	}
	ok = 1;
out:
	if (clear != NULL)
		OPENSSL_cleanse(clear, clear_len);
	free(clear);
	free(sealed);
	return ok;
}

int
cli_secrets_reseal(struct ctx *c, int new_key, unsigned long *ver,
    size_t *moved, size_t *left, size_t *up_moved, size_t *up_left)
{
	struct db_secret *list = NULL;
	struct db_upstream_sealed *ups = NULL;
	size_t cnt = 0, i, nup = 0;
	char detail[96];
	int rc = 0;

	*ver = 0;
	*moved = 0;
	*left = 0;
	*up_moved = 0;
	*up_left = 0;
	if (!cli_need_db(c) || !cli_need_hsm(c))
		return 0;
	if (new_key ? !hsm_seal_new_key(c->hsm, ver)
		    : !hsm_seal_current(c->hsm, ver)) {
		log_err("cannot %s the sealing key: %s",
		    new_key ? "generate" : "find", hsm_error());
		return 0;
	}
	if (new_key)
		fprintf(stderr, "sealing key version %lu generated\n", *ver);
	/* All or nothing: the rows stay locked until every one is moved. */
	if (!db_begin(c->db)) {
		log_err("%s", db_error(c->db));
		return 0;
	}
	if (db_secret_list_reseal(c->db, *ver, &list, &cnt) < 0) {
		log_err("%s", db_error(c->db));
		goto out;
	}
	for (i = 0; i < cnt; i++)
		if (!reseal_one(c, &list[i], *ver))
			goto out;
	/* The RA identities' upstream secrets, in the same transaction. */
	if (db_upstream_list_reseal(c->db, *ver, &ups, &nup) < 0) {
		log_err("%s", db_error(c->db));
		goto out;
	}
	for (i = 0; i < nup; i++)
		if (!reseal_upstream(c, &ups[i], *ver))
			goto out;
	snprintf(detail, sizeof(detail), "key version %lu, %zu moved, %zu "
	    "upstream", *ver, cnt, nup);
	if (db_audit_add(c->db, "secret-reseal", 0, "cli", detail) < 0 ||
	    !db_commit(c->db)) {
		log_err("cannot commit the resealed secrets: %s",
		    db_error(c->db));
		goto out;
	}
	*moved = cnt;
	*up_moved = nup;
	db_secret_array_free(list, cnt);
	list = NULL;
	cnt = 0;
	db_upstream_sealed_array_free(ups, nup);
	ups = NULL;
	nup = 0;
	/* Counted again after the commit: what still needs an older key. */
	if (db_secret_list_reseal(c->db, *ver, &list, &cnt) < 0 ||
	    db_upstream_list_reseal(c->db, *ver, &ups, &nup) < 0) {
		log_err("%s", db_error(c->db));
		goto out;
	}
	*left = cnt;
	*up_left = nup;
	rc = 1;
out:
	if (!rc)
		db_rollback(c->db);
	db_secret_array_free(list, cnt);
	db_upstream_sealed_array_free(ups, nup);
	return rc;
}
