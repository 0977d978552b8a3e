/*
 * cli.h - what the cmpca command line's files share: the context of one
 * invocation (configuration, database and HSM opened on first use) and
 * the command groups, one file each (cli/cli_<group>.c; main, the command
 * table is in cli/cmpca.c, the usage text in cli/cli_ctx.c). Each command gets argv with
 * argv[0] its own name and returns the process exit status (0 ok, 1
 * failure, 2 usage).
 */
#ifndef CMPCA_CLI_H
#define CMPCA_CLI_H

#include <time.h>

#include <openssl/x509.h>

struct cfg;
struct db;
struct hsm;

struct ctx {
	struct cfg *cfg;
	struct db *db;
	struct hsm *hsm;
	int as_owner; /* connect with db_owner (cmpca db migrate) */
};

/* Open the database (migrated) or the HSM on first use; 0 and a logged
 * error when it cannot be done. */
int cli_need_db(struct ctx *c);
/* The conninfo the CLI uses: db_operator (else db), or with owner
 * db_owner (else the same). */
const char *cli_conninfo(const struct cfg *cfg, int owner);
/* `cmpca db roles` (cli/cli_audit.c). Returns an exit code. */
int cli_db_roles(struct ctx *c);
int cli_need_hsm(struct ctx *c);

/*
 * Enrollment secrets sealed in the HSM (cli/cli_seal.c). cli_secret_seal
 * seals s->secret (left as it is) into s->sealed, which db_secret_clear
 * frees. cli_secrets_seal_clear seals every secret still stored in clear
 * (rows from before migration 011) and empties the clear column; *n is
 * how many. Both return 1, or 0 with a logged error.
 */
struct db_secret;
int cli_secret_seal(struct ctx *c, struct db_secret *s);
int cli_secrets_seal_clear(struct ctx *c, int *n);
/*
 * `cmpca secret reseal`: with new_key a new sealing key version first;
 * then every secret not sealed under the current version *ver is sealed
 * under it, in one transaction. *moved counts them, *left the rows still
 * under an older key after the commit (0 unless secrets were added
 * meanwhile by an older version of cmpca). 1, or 0 with a logged error
 * (nothing moved). The MAC secrets of RA identities (`ca upstream`,
 * AAD "upstream:LABEL") move in the same transaction: *up_moved and
 * *up_left.
 */
int cli_secrets_reseal(struct ctx *c, int new_key, unsigned long *ver,
    size_t *moved, size_t *left, size_t *up_moved, size_t *up_left);

/* "/C=DE/O=Org/CN=name" (openssl -subj syntax); NULL when malformed. */
X509_NAME *cli_name_parse(const char *s);
/* A certificate from a PEM (or DER) file (caller frees); NULL with a
 * logged error. */
X509 *cli_cert_read(const char *path);

/*
 * The command groups, one file each: cli_<group>.c. argv[0] is the
 * group's name; the exit status as above.
 */
int cmd_db(struct ctx *c, int argc, char **argv);
int cmd_hsm(struct ctx *c, int argc, char **argv);
int cmd_secret(struct ctx *c, int argc, char **argv);
int cmd_cert(struct ctx *c, int argc, char **argv);
int cmd_request(struct ctx *c, int argc, char **argv);
int cmd_ra(struct ctx *c, int argc, char **argv);
int cmd_crl(struct ctx *c, int argc, char **argv);
int cmd_ocsp(struct ctx *c, int argc, char **argv);
/* cli_key.c: archived keys (`key ...`) and `ca archival-key LABEL`. */
int cmd_key(struct ctx *c, int argc, char **argv);
int cli_ca_archival_key(struct ctx *c, int argc, char **argv);

/* cli_cross.c */
int cli_partner(struct ctx *c, int argc, char **argv);
int cli_cross_certify(struct ctx *c, int argc, char **argv);
/* cli_audit.c: audit list. */
int cli_audit(struct ctx *c, int argc, char **argv);
/* cli_status.c: health checks with an exit status for monitoring. */
int cli_status(struct ctx *c, int argc, char **argv);

/* The usage text of cmpca (cli/cli_ctx.c). */
const char *cli_usage(void);

/* cli/cli_ca.c */
int cmd_ca(struct ctx *c, int argc, char **argv);

/* cli/cli_rollover.c: ca rollover LABEL [--key T] [--days N] */
int cli_ca_rollover(struct ctx *c, int argc, char **argv);

#endif
