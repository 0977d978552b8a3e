/*
 * cli_ca_common.c - what the `cmpca ca` sub-commands share, below them
 * (cli_ca.c, cli_ca_import.c, cli_rollover.c call it; it calls none of
 * them): the option parser and storing a CA certificate we signed in the
 * inventory.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "cli/cli.h"
#include "cli/cli_ca.h"

/* Default validity of a CA certificate, days. */
#define CA_DEFAULT_DAYS 3650

/* See cli_ca.h. */
int
cli_ca_opts_parse(int argc, char **argv, struct ca_opts *o)
{
	static const struct option opts[] = {
		{ "subject", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'd' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "pathlen", required_argument, NULL, 'p' },
		{ "cert", required_argument, NULL, 'c' },
		{ "chain", required_argument, NULL, 'C' },
		{ "csr", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long v;
	int ch;

	memset(o, 0, sizeof(*o));
	o->keyspec = "ec:P-256";
	o->days = CA_DEFAULT_DAYS;
	o->pathlen = -1;
	optind = 3;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->subject = optarg;
			break;
		case 'k':
			o->keyspec = optarg;
			break;
		case 'd':
		case 'p':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' ||
			    (ch == 'd' && (v < 1 || v > 36500)) ||
			    (ch == 'p' && (v < 0 || v > 16))) {
				log_err(ch == 'd' ? "--days must be from 1 to 36500"
						  : "--pathlen must be from 0 to 16");
				return 0;
			}
			if (ch == 'd')
				o->days = v;
			else
				o->pathlen = (int)v;
			break;
		case 'i':
			o->issuer = optarg;
			break;
		case 'c':
			o->cert_file = optarg;
			break;
		case 'C':
			o->chain_file = optarg;
			break;
		case 'r':
			o->csr_file = optarg;
			break;
		default:
			return 0;
		}
	}
	if (argc < 3 || argv[2][0] == '-') {
		log_err("ca %s needs a LABEL", argv[1]);
		return 0;
	}
	o->label = argv[2];
	return 1;
}

/* See cli_ca.h. */
int
cli_ca_inventory_add(struct db *db, long long ca_id, X509 *x)
{
	struct db_cert row;
	int rc = 0;

	memset(&row, 0, sizeof(row));
	if (!ca_cert_to_row(x, &row)) {
		log_err("cannot describe the CA certificate");
		goto out;
	}
	row.ca_id = ca_id;
	row.status = DB_CERT_VALID;
	row.reason = -1;
	if ((row.profile = strdup("ca")) == NULL ||
	    (row.requester = strdup("cli")) == NULL)
		goto out;
	if (db_cert_insert(db, &row) != 1 ||
	    db_cert_set_kind(db, row.id, "ca") != 1 ||
	    db_audit_add(db, "issue-ca", ca_id, "cli", row.serial) != 1) {
		log_err("cannot store the CA certificate: %s", db_error(db));
		goto out;
	}
	rc = 1;
out:
	db_cert_clear(&row);
	return rc;
}

/* See cli_ca.h. */
X509 *
cli_ca_row_cert(const struct db_ca *row)
{
	const unsigned char *p = row->cert;

	if (row->cert == NULL)
		return NULL;
	return d2i_X509(NULL, &p, (long)row->cert_len);
}

/* See cli_ca.h. */
int
cli_ca_sub_pathlen(X509 *parent, int want)
{
	long plen = X509_get_pathlen(parent);

	if ((X509_get_extension_flags(parent) & EXFLAG_CA) == 0 ||
	    (X509_get_key_usage(parent) & KU_KEY_CERT_SIGN) == 0) {
		log_err("the issuer's certificate is not a CA certificate");
		return -1;
	}
	if (plen == 0) {
		log_err("the issuer's pathLenConstraint is 0: it may not "
			"certify CAs");
		return -1;
	}
	if (want < 0)
		return 0;
	if (plen > 0 && want > plen - 1) {
		log_err("--pathlen %d exceeds what the issuer allows (%ld)",
		    want, plen - 1);
		return -1;
	}
	return want;
}
