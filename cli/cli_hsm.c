/*
 * cli_hsm.c - `cmpca hsm init-token`: initialise the configured token
 * (SoftHSM) with the SO PIN and the user PIN from files.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ca/ca.h"
#include "cli/cli.h"

int
cmd_hsm(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "so-pin-file", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *so = NULL;
	int o;

	if (argc < 2 || strcmp(argv[1], "init-token") != 0) {
		fputs(cli_usage(), stderr);
		return 2;
	}
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 's')
			return 2;
		so = optarg;
	}
	if (so == NULL || c->cfg->pin_file == NULL) {
		log_err("init-token needs --so-pin-file and pin_file in the "
			"configuration");
		return 2;
	}
	if (!hsm_token_init_args(c->cfg->pkcs11_module, c->cfg->token_label,
		so, c->cfg->pin_file, c->cfg->pkcs11_init_args)) {
		log_err("hsm: %s", hsm_error());
		return 1;
	}
	printf("token %s initialised\n", c->cfg->token_label);
	return 0;
}
