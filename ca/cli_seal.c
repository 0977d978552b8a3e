/*
 * cli_seal.c - the command line's side of sealed enrollment secrets: new
 * secrets are sealed in the HSM before they are stored (cmpca secret add),
 * and `cmpca db migrate` seals the secrets older versions stored in clear
 * (011 adds the sealed column) or sealed in the token's format 0x01 (the
 * daemon opens those with a token operation per request, see
 * hsm/hsm_aes.c), right after the SQL migrations. The daemon only ever
 * unseals.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ca/ca.h"
#include "ca/cli.h"

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
