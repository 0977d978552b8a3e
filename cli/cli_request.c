/*
 * cli_request.c - `cmpca request list|approve|reject`: requests of
 * profiles with approval, waiting for the operator; the client gets the
 * decision at its next poll.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "cli/cli.h"

int
cmd_request(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "all", no_argument, NULL, 'l' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_label = NULL, *reason = NULL;
	struct db_pending *list = NULL;
	struct db_ca ca;
	size_t n = 0, i;
	int o, all = 0, rc = 1, approve;
	long long id, ca_id = 0;
	char *end;

	if (argc < 2) {
		fputs(cli_usage(), stderr);
		return 2;
	}
	optind = strcmp(argv[1], "list") == 0 ? 2 : 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			ca_label = optarg;
			break;
		case 'l':
			all = 1;
			break;
		case 'r':
			reason = optarg;
			break;
		default:
			return 2;
		}
	}
	memset(&ca, 0, sizeof(ca));
	if (!cli_need_db(c))
		return 1;
	if (strcmp(argv[1], "list") == 0) {
		if (ca_label != NULL &&
		    db_ca_get_by_label(c->db, ca_label, &ca) != 1) {
			log_err("no such ca: %s", ca_label);
			return 1;
		}
		if (db_pending_list(c->db, ca.id, all ? 0 : DB_PENDING_PENDING,
			0, &list, &n) < 0) {
			log_err("%s", db_error(c->db));
			db_ca_clear(&ca);
			return 1;
		}
		for (i = 0; i < n; i++) {
			char when[32];

			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
			    gmtime(&list[i].created));
			printf("%lld\t%s\t%s\t%s\t%s\t%s\t%s\n", list[i].id,
			    db_pending_status_name(list[i].status),
			    list[i].kind, when, list[i].subject,
			    list[i].profile, list[i].requester);
		}
		db_pending_array_free(list, n);
		db_ca_clear(&ca);
		return 0;
	}
	approve = strcmp(argv[1], "approve") == 0;
	if ((!approve && strcmp(argv[1], "reject") != 0) || argc < 3) {
		fputs(cli_usage(), stderr);
		return 2;
	}
	id = strtoll(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || id <= 0) {
		log_err("request id must be a number (see cmpca request list)");
		return 2;
	}
	rc = db_pending_decide(c->db, id,
	    approve ? DB_PENDING_APPROVED : DB_PENDING_REJECTED,
	    approve ? NULL : reason, "cli", &ca_id);
	if (rc < 0) {
		log_err("%s", db_error(c->db));
		return 1;
	}
	if (rc == 0) {
		log_err("request %lld is not pending", id);
		return 1;
	}
	if (db_audit_add(c->db, approve ? "request-approve" : "request-reject",
		ca_id, "cli", argv[2]) < 0)
		log_warn("audit: %s", db_error(c->db));
	printf("request %lld %s\n", id, approve ? "approved" : "rejected");
	return 0;
}
