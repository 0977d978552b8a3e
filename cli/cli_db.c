/*
 * cli_db.c - `cmpca db migrate`: the schema migrations and grants, run as
 * the database owner, then the secrets older versions stored in clear
 * sealed. `db roles` is in cli_audit.c.
 */
#include <stdio.h>
#include <string.h>

#include "ca/ca.h"
#include "cli/cli.h"

int
cmd_db(struct ctx *c, int argc, char **argv)
{
	int applied = 0, version = 0, sealed = 0;

	if (argc == 2 && strcmp(argv[1], "roles") == 0)
		return cli_db_roles(c);
	if (argc < 2 || strcmp(argv[1], "migrate") != 0) {
		fputs(cli_usage(), stderr);
		return 2;
	}
	c->as_owner = 1; /* DDL and grants: the owner's conninfo */
	if (!cli_need_db(c))
		return 1;
	if (!db_migrate(c->db, c->cfg->schema_dir, &applied)) {
		log_err("migration failed: %s", db_error(c->db));
		return 1;
	}
	if (db_schema_version(c->db, &version) < 0)
		return 1;
	/* Secrets older versions stored in clear: sealed now (011). */
	if (!cli_secrets_seal_clear(c, &sealed))
		return 1;
	if (applied > 0) {
		char v[16];

		snprintf(v, sizeof(v), "%d", version);
		if (db_audit_add(c->db, "db-migrate", 0, "cli", v) < 0)
			log_warn("audit: %s", db_error(c->db));
	}
	printf("schema version %d (%d migration(s) applied)\n", version,
	    applied);
	if (sealed > 0)
		printf("%d enrollment secret(s) sealed in the HSM\n", sealed);
	return 0;
}
