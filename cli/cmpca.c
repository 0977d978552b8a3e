/*
 * cmpca - the operator's command line: database migrations, CA identities
 * (keys generated in the HSM), enrollment secrets and the certificate
 * inventory. Uses the same configuration, HSM and database as cmpcad.
 *
 * This file holds main() and the command table; the usage text and the
 * context every command shares (database and HSM opened on first use) are
 * in cli/cli_ctx.c, each command group in its own cli/cli_<group>.c.
 *
 * Secrets never travel on the command line: the HSM PIN comes from the
 * configured pin_file (or CMPCA_HSM_PIN), enrollment secrets are generated
 * from the HSM RNG and printed once, or read from a file.
 *
 * Hardened like cmpcad's workers before anything is read: not dumpable
 * and no core file, because the process holds the PIN (libp11 keeps a
 * copy for as long as the slot is open), the sealing data key and clear
 * enrollment secrets.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"
#include "cli/cli.h"

/*
 * Top-level commands, each in its own file (cli/cli_*.c) and declared in
 * cli/cli.h; a new one gets a line here and its lines in usage_text
 * (cli/cli_ctx.c).
 */
static const struct command {
	const char *name;
	int (*fn)(struct ctx *, int, char **);
} commands[] = {
	{ "db", cmd_db },
	{ "hsm", cmd_hsm },
	{ "ca", cmd_ca },
	{ "secret", cmd_secret },
	{ "cert", cmd_cert },
	{ "request", cmd_request },
	{ "ra", cmd_ra },
	{ "crl", cmd_crl },
	{ "ocsp", cmd_ocsp },
	{ "key", cmd_key },
	{ "partner", cli_partner },
	{ "cross-certify", cli_cross_certify },
	{ "audit", cli_audit },
	{ "status", cli_status },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	const struct command *cmd;
	struct rlimit nocore = { 0, 0 };
	struct ctx c;
	const char *path = NULL;
	int o, rc;

	/* No ptrace or /proc/PID/mem by the same uid, no core file. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    setrlimit(RLIMIT_CORE, &nocore) != 0) {
		fprintf(stderr, "cmpca: cannot disable core dumps: %s\n",
		    strerror(errno));
		return 1;
	}
	memset(&c, 0, sizeof(c));
	log_init("cmpca", 0, LOG_LVL_INFO);
	while ((o = getopt(argc, argv, "+c:h")) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		default:
			fputs(cli_usage(), o == 'h' ? stdout : stderr);
			return o == 'h' ? 0 : 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fputs(cli_usage(), stderr);
		return 2;
	}
	if ((c.cfg = cfg_load(path)) == NULL)
		return 1;
	for (cmd = commands; cmd->name != NULL; cmd++)
		if (strcmp(argv[0], cmd->name) == 0)
			break;
	if (cmd->name != NULL)
		rc = cmd->fn(&c, argc, argv);
	else {
		fputs(cli_usage(), stderr);
		rc = 2;
	}
	db_close(c.db);
	hsm_close(c.hsm);
	cfg_free(c.cfg);
	return rc;
}
