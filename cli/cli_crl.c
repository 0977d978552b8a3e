/*
 * cli_crl.c - `cmpca crl issue`: sign the next CRL of a CA in the HSM,
 * store it and write crl_dir/<name>.crl.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "cli/cli.h"
#include "ca/status/status.h"

int
cmd_crl(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "hours", required_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *label = c->cfg->default_ca;
	struct ca_store st = { NULL, 0 };
	struct ca_ident *ca;
	struct db_crl crl;
	struct crl_spec spec = { 0, 0, NULL, NULL };
	long hours = c->cfg->crl_validity;
	char where[CA_CRL_NAME_MAX + 32] = "";
	int o, err = 0, rc;

	if (argc < 2 || strcmp(argv[1], "issue") != 0) {
		fputs(cli_usage(), stderr);
		return 2;
	}
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a')
			label = optarg;
		else if (o == 'h')
			hours = strtol(optarg, NULL, 10);
		else
			return 2;
	}
	if (hours < 1 || hours > 24 * 366) {
		log_err("--hours must be from 1 to 8784");
		return 2;
	}
	if (label == NULL || !cli_need_db(c) || !cli_need_hsm(c))
		return label == NULL ? 2 : 1;
	if ((ca = ca_store_get(&st, c->db, c->hsm, label, &err)) == NULL) {
		log_err("no usable ca %s", label);
		ca_store_clear(&st);
		return 1;
	}
	spec.hours = hours;
	spec.fresh_url = c->cfg->delta_crl_url;
	spec.dir = c->cfg->crl_dir;
	rc = crl_issue(c->db, ca, &spec, &crl);
	/* The file is named by the key, not the label (ca_crl_name). */
	if (c->cfg->crl_dir != NULL)
		snprintf(where, sizeof(where), ", file %s.crl%s", ca->crl_name,
		    rc < 0 ? " not written (stored)" : "");
	if (rc != 0)
		printf("ca %s: CRL %lld, %d entries, next update in %ld h%s\n",
		    label, crl.number, crl.entries, hours, where);
	/* Every CRL checkpoints the audit chain (a failure is logged: the
	 * CRL stands, the next checkpoint covers the rows). */
	if (rc != 0)
		(void)audit_checkpoint(c->db, c->hsm, c->cfg, 0, "crl");
	db_crl_clear(&crl);
	ca_store_clear(&st);
	return rc == 1 ? 0 : 1;
}
