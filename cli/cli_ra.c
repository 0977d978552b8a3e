/*
 * cli_ra.c - `cmpca ra add|list|remove`: registered RAs, pinned by the
 * SHA-256 of their certificate.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "ca/ca.h"
#include "cli/cli.h"

static int
ra_add(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "profile", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *profile = "default";
	struct db_ra ra;
	unsigned int mdlen = 0;
	X509 *x = NULL;
	FILE *f;
	int o, rc = 1, len;

	memset(&ra, 0, sizeof(ra));
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'c')
			file = optarg;
		else if (o == 'p')
			profile = optarg;
		else
			return 2;
	}
	if (argc < 3 || argv[2][0] == '-' || file == NULL ||
	    strlen(argv[2]) >= sizeof(ra.name)) {
		log_err("ra add needs NAME and --cert FILE");
		return 2;
	}
	if (cfg_profile_get(c->cfg, profile) == NULL) {
		log_err("no profile %s in %s", profile, c->cfg->path);
		return 2;
	}
	if ((f = fopen(file, "r")) == NULL ||
	    (x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		if (f != NULL)
			fclose(f);
		log_err("cannot read a PEM certificate from %s", file);
		return 1;
	}
	fclose(f);
	snprintf(ra.name, sizeof(ra.name), "%s", argv[2]);
	snprintf(ra.profile, sizeof(ra.profile), "%s", profile);
	if (!X509_digest(x, EVP_sha256(), ra.cert_sha256, &mdlen) ||
	    (len = i2d_X509(x, &ra.cert)) <= 0)
		goto out;
	ra.cert_len = (size_t)len;
	if ((ra.subject = malloc(512)) == NULL)
		goto out;
	X509_NAME_oneline(X509_get_subject_name(x), ra.subject, 512);
	if (!cli_need_db(c))
		goto out;
	rc = db_ra_insert(c->db, &ra);
	if (rc != 1) {
		log_err(rc == 0 ? "ra %s or its certificate is registered already"
				: "cannot register ra %s", ra.name);
		rc = 1;
		goto out;
	}
	if (db_audit_add(c->db, "ra-add", 0, "cli", ra.name) < 0)
		log_warn("audit: %s", db_error(c->db));
	printf("ra %s registered (%s, profile %s)\n", ra.name, ra.subject,
	    ra.profile);
	rc = 0;
out:
	if (ra.cert != NULL) {
		OPENSSL_free(ra.cert);
		ra.cert = NULL;
	}
	db_ra_clear(&ra);
	X509_free(x);
	return rc;
}

int
cmd_ra(struct ctx *c, int argc, char **argv)
{
	struct db_ra *list = NULL;
	size_t n = 0, i;
	int rc;

	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return ra_add(c, argc, argv);
	if (!cli_need_db(c))
		return 1;
	if (argc >= 2 && strcmp(argv[1], "list") == 0) {
		if (db_ra_list(c->db, &list, &n) < 0) {
			log_err("%s", db_error(c->db));
			return 1;
		}
		for (i = 0; i < n; i++)
			printf("%s\t%s\tprofile=%s\n", list[i].name,
			    list[i].subject, list[i].profile);
		db_ra_array_free(list, n);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "remove") == 0) {
		rc = db_ra_delete(c->db, argv[2]);
		if (rc != 1) {
			log_err(rc == 0 ? "no ra %s" : "cannot remove ra %s",
			    argv[2]);
			return 1;
		}
		if (db_audit_add(c->db, "ra-remove", 0, "cli", argv[2]) < 0)
			log_warn("audit: %s", db_error(c->db));
		printf("ra %s removed\n", argv[2]);
		return 0;
	}
	fputs(cli_usage(), stderr);
	return 2;
}
