/*
 * cli_ocsp.c - `cmpca ocsp signer`: a delegated OCSP signer for a CA
 * (key in the HSM, ocsp_signer.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "cli/cli.h"
#include "ca/status/status.h"

/* ocsp signer: a delegated OCSP signer for a CA (ocsp_signer.c). */
int
cmd_ocsp(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "days", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_label = NULL;
	char serial[DB_SERIAL_MAX], until[32], *end;
	struct db_ca ca;
	struct tm tm;
	X509 *x = NULL;
	long days = 30;
	int o, rc = 1;

	if (argc < 2 || strcmp(argv[1], "signer") != 0) {
		fputs(cli_usage(), stderr);
		return 2;
	}
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a')
			ca_label = optarg;
		else if (o == 'd') {
			days = strtol(optarg, &end, 10);
			if (*end != '\0' || days < 1 || days > 3650) {
				log_err("--days must be from 1 to 3650");
				return 2;
			}
		} else
			return 2;
	}
	if (ca_label == NULL) {
		log_err("ocsp signer needs --ca LABEL");
		return 2;
	}
	memset(&ca, 0, sizeof(ca));
	if (!cli_need_db(c) || !cli_need_hsm(c))
		return 1;
	if (db_ca_get_by_label(c->db, ca_label, &ca) != 1) {
		log_err("no such ca: %s", ca_label);
		goto out;
	}
	if (!ocsp_signer_issue(c->db, c->hsm, &ca, days, &x))
		goto out;
	if (!ca_serial_hex(X509_get0_serialNumber(x), serial, sizeof(serial)) ||
	    ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		goto out;
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("ocsp signer for ca %s: serial %s, valid until %s\n", ca.label,
	    serial, until);
	rc = 0;
out:
	X509_free(x);
	db_ca_clear(&ca);
	return rc;
}
