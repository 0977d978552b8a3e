/*
 * cli_ca.h - what the files of `cmpca ca` share (cli_ca.c,
 * cli_ca_import.c, cli_rollover.c; cli_ca_common.c below them all);
 * nothing else includes it.
 */
#ifndef CMPCA_CLI_CA_H
#define CMPCA_CLI_CA_H

#include "cli/cli.h"

/* Options shared by the sub-commands; not all apply to each. */
struct ca_opts {
	const char *label;
	const char *subject;
	const char *keyspec;
	const char *issuer;
	const char *cert_file;
	const char *chain_file;
	const char *csr_file;
	long days;
	int pathlen; /* -1: none given */
};

/* cli_ca_common.c */
/* Parses argv[3..] into o. Returns 1, or 0 (usage error logged). */
int cli_ca_opts_parse(int argc, char **argv, struct ca_opts *o);
/* Stores a CA certificate we signed in the inventory of ca_id (kind
 * 'ca', valid) and audits it, in the caller's transaction. 1 or 0. */
int cli_ca_inventory_add(struct db *db, long long ca_id, X509 *x);

/* The certificate of a CA row, or NULL (pending, or undecodable). */
X509 *cli_ca_row_cert(const struct db_ca *row);
/*
 * The parent's constraints on a subordinate: pathLen one less than its
 * own (0 when the parent sets none and --pathlen is absent). Returns the
 * pathLen to use, or -1 (logged) when the parent may not have one.
 */
int cli_ca_sub_pathlen(X509 *parent, int want);

/* ca sign-csr PARENT --csr FILE [--days N] [--pathlen N] (cli_ca_sign.c). */
int cli_ca_sign_csr(struct ctx *c, int argc, char **argv);

/* ca import-cert LABEL --cert FILE [--chain FILE] (cli_ca_import.c). */
int cli_ca_import_cert(struct ctx *c, int argc, char **argv);

/* ca upstream LABEL --url URL --ca-cert FILE --ref REF --secret-file F
 * [--tls-trusted FILE] (cli_upstream.c): cmpca as an RA. */
int cli_ca_upstream(struct ctx *c, int argc, char **argv);

#endif
