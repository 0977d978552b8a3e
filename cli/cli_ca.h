/*
 * cli_ca.h - what the files of `cmpca ca` share (cli_ca.c,
 * cli_ca_import.c); nothing else includes it.
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
	long days;
	int pathlen; /* -1: none given */
};

/* Parses argv[3..] into o (cli_ca.c). Returns 1, or 0 (usage error
 * logged). */
int cli_ca_opts_parse(int argc, char **argv, struct ca_opts *o);
/* ca import-cert LABEL --cert FILE [--chain FILE] (cli_ca_import.c). */
int cli_ca_import_cert(struct ctx *c, int argc, char **argv);

#endif
