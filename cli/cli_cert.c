/*
 * cli_cert.c - `cmpca cert list|show|revoke|release`: the certificate
 * inventory and operator revocation (with --cascade, of what a
 * compromised credential obtained too: cert.obtained_with, migration
 * 018). Serial numbers are read with ca_serial_parse (the rule the
 * operators' page uses too).
 *
 * The CLI changes the status only: the housekeeper of cmpcad issues the
 * CRL that shows it within crl_delay seconds (a compromise at once), so
 * the CRL is signed where the daemon's CRL lock, crl_dir and audit
 * checkpoint are (`cmpca crl issue` signs one here and now). OCSP answers
 * from the database: the change shows at once.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "ca/ca.h"
#include "cli/cli.h"

static int
status_parse(const char *s, enum db_cert_status *st)
{
	enum db_cert_status v;

	for (v = DB_CERT_UNCONFIRMED; v <= DB_CERT_REJECTED; v++)
		if (strcmp(s, db_cert_status_name(v)) == 0) {
			*st = v;
			return 1;
		}
	return 0;
}

/*
 * Revokes what was obtained with certificate root (recursively), with
 * reason, inside the caller's database transaction, each audited.
 * Returns the number revoked, or -1.
 */
static long
revoke_cascade(struct ctx *c, const struct db_cert *root, long reason)
{
	struct db_cert *list = NULL;
	char detail[DB_SERIAL_MAX * 2 + 32];
	size_t n = 0, i;
	long done = 0;
	int o;

	if (db_cert_obtained_with(c->db, root->id, &list, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		o = db_cert_set_status(c->db, list[i].id,
		    (1u << DB_CERT_VALID) | (1u << DB_CERT_UNCONFIRMED),
		    DB_CERT_REVOKED, (int)reason);
		if (o < 0)
			goto fail;
		if (o == 0)
			continue; /* revoked meanwhile */
		snprintf(detail, sizeof(detail), "%s (cascade from %s)",
		    list[i].serial, root->serial);
		if (db_audit_add(c->db, "revoke", list[i].ca_id, "cli",
			detail) < 0)
			goto fail;
		printf("certificate %s revoked (obtained with %s)\n",
		    list[i].serial, root->serial);
		done++;
	}
	db_cert_array_free(list, n);
	return done;
fail:
	db_cert_array_free(list, n);
	return -1;
}

/*
 * Operator revocation: valid (or unconfirmed) -> revoked, audited; a
 * certificate on hold (certificateHold) gets its permanent reason. With
 * release: a hold ends, the certificate is valid again (removeFromCRL).
 */
static int
cert_revoke(struct ctx *c, int argc, char **argv, int release)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'r' },
		{ "cascade", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_label = c->cfg->default_ca, *why;
	int cascade = 0;
	long more = 0;
	char serial[DB_SERIAL_MAX];
	struct db_cert cert;
	struct db_ca ca;
	long reason = 0;
	int o, rc = 1, on_hold;

	memset(&cert, 0, sizeof(cert));
	memset(&ca, 0, sizeof(ca));
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a')
			ca_label = optarg;
		else if (o == 'c' && !release)
			cascade = 1;
		else if (o == 'r' && !release) {
			if (!ca_crl_reason_parse(optarg, &reason)) {
				log_err("--reason is a CRLReason: 0-6, 9 or 10 "
				    "(6 certificateHold; a hold ends with cert "
				    "release)");
				return 2;
			}
		} else
			return 2;
	}
	if (argc < 3) {
		log_err("cert %s needs a serial number (hex)", argv[1]);
		return 2;
	}
	if (!ca_serial_parse(argv[2], serial, sizeof(serial), &why)) {
		log_err("cert %s: bad serial number: %s", argv[1], why);
		return 2;
	}
	if (!cli_need_db(c))
		return 1;
	if (ca_label == NULL || db_ca_get_by_label(c->db, ca_label, &ca) != 1) {
		log_err("no such ca: %s", ca_label ? ca_label : "(none)");
		goto out;
	}
	if (db_cert_get_by_serial(c->db, ca.id, serial, &cert) != 1) {
		log_err("no certificate with serial %s under ca %s", serial,
		    ca.label);
		goto out;
	}
	on_hold = cert.status == DB_CERT_REVOKED &&
	    cert.reason == CRL_REASON_CERTIFICATE_HOLD;
	if (db_begin(c->db) != 1)
		goto dberr;
	if (release || (on_hold && reason != CRL_REASON_CERTIFICATE_HOLD))
		o = on_hold ? db_cert_hold_end(c->db, cert.id,
				  release ? -1 : (int)reason)
			    : 0;
	else
		o = db_cert_set_status(c->db, cert.id,
		    (1u << DB_CERT_VALID) | (1u << DB_CERT_UNCONFIRMED),
		    DB_CERT_REVOKED, (int)reason);
	/* With --cascade, a certificate revoked before still has its
	 * descendants revoked (the usual order: revoke, then find out). */
	if (o < 0 || (o == 0 && !cascade)) {
		db_rollback(c->db);
		if (o < 0)
			log_err("cannot %s %s: %s", argv[1], serial,
			    db_error(c->db));
		else if (release)
			log_err("certificate %s is not on hold (status %s)",
			    serial, db_cert_status_name(cert.status));
		else
			log_err("certificate %s is not valid (status %s)",
			    serial, db_cert_status_name(cert.status));
		goto out;
	}
	if ((o == 1 && db_audit_add(c->db, release ? "release" : "revoke",
			   ca.id, "cli", serial) < 0) ||
	    (cascade && (more = revoke_cascade(c, &cert, reason)) < 0) ||
	    db_commit(c->db) != 1)
		goto dberr;
	if (o == 1 && release)
		printf("certificate %s released from hold: valid again\n",
		    serial);
	else if (o == 1)
		printf("certificate %s %s (reason %ld)\n", serial,
		    reason == CRL_REASON_CERTIFICATE_HOLD ? "on hold"
		    : on_hold ? "revoked permanently" : "revoked", reason);
	if (cascade)
		printf("%ld certificate(s) obtained with %s revoked\n", more,
		    serial);
	if (c->cfg->crl_auto)
		printf("the CRL shows it within %ld s (cmpcad's "
		       "housekeeper; cmpca crl issue for one now)\n",
		    reason == CRL_REASON_KEY_COMPROMISE ||
			reason == CRL_REASON_CA_COMPROMISE ||
			reason == CRL_REASON_AA_COMPROMISE ? 1L
			: c->cfg->crl_delay + 1);
	rc = 0;
	goto out;
dberr:
	log_err("cert revoke: %s", db_error(c->db));
	db_rollback(c->db);
out:
	db_cert_clear(&cert);
	db_ca_clear(&ca);
	return rc;
}

int
cmd_cert(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "status", required_argument, NULL, 's' },
		{ "subject", required_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ "pem", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_label = NULL, *subject = NULL;
	enum db_cert_status st = 0;
	struct db_cert *list = NULL, one;
	struct db_ca ca;
	size_t n = 0, i;
	int o, limit = 100, pem = 0, rc = 1, show;

	if (argc < 2) {
		fputs(cli_usage(), stderr);
		return 2;
	}
	if (strcmp(argv[1], "revoke") == 0)
		return cert_revoke(c, argc, argv, 0);
	if (strcmp(argv[1], "release") == 0)
		return cert_revoke(c, argc, argv, 1);
	show = strcmp(argv[1], "show") == 0;
	if (!show && strcmp(argv[1], "list") != 0) {
		fputs(cli_usage(), stderr);
		return 2;
	}
	optind = show ? 3 : 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			ca_label = optarg;
			break;
		case 's':
			if (!status_parse(optarg, &st)) {
				log_err("status is unconfirmed, valid, revoked "
					"or rejected");
				return 2;
			}
			break;
		case 'j':
			subject = optarg;
			break;
		case 'l':
			limit = (int)strtol(optarg, NULL, 10);
			break;
		case 'p':
			pem = 1;
			break;
		default:
			return 2;
		}
	}
	memset(&ca, 0, sizeof(ca));
	memset(&one, 0, sizeof(one));
	if (!cli_need_db(c))
		return 1;
	if (ca_label == NULL)
		ca_label = c->cfg->default_ca;
	if (ca_label != NULL && db_ca_get_by_label(c->db, ca_label, &ca) != 1) {
		log_err("no such ca: %s", ca_label);
		goto out;
	}
	if (show) {
		char serial[DB_SERIAL_MAX];
		const char *why;

		if (argc < 3) {
			log_err("cert show needs a serial number (hex)");
			rc = 2;
			goto out;
		}
		if (!ca_serial_parse(argv[2], serial, sizeof(serial), &why)) {
			log_err("cert show: bad serial number: %s", why);
			rc = 2;
			goto out;
		}
		if (db_cert_get_by_serial(c->db, ca.id, serial, &one) != 1) {
			log_err("no certificate with serial %s", argv[2]);
			goto out;
		}
		list = &one;
		n = 1;
	} else if (db_cert_list(c->db, ca.id, st, subject, limit, &list, &n) <
	    0) {
		log_err("%s", db_error(c->db));
		goto out;
	}
	for (i = 0; i < n; i++) {
		char nb[32], na[32];

		strftime(nb, sizeof(nb), "%Y-%m-%dT%H:%M:%SZ",
		    gmtime(&list[i].not_before));
		strftime(na, sizeof(na), "%Y-%m-%dT%H:%M:%SZ",
		    gmtime(&list[i].not_after));
		printf("%s\t%s\t%s\t%s\t%s\t%s\n", list[i].serial,
		    db_cert_status_name(list[i].status), nb, na,
		    list[i].subject, list[i].requester ? list[i].requester
						       : "-");
		if (show)
			printf("credential\t%s\nobtained_with\t%lld\n"
			       "profile\t%s\nserver_keygen\t%s\n",
			    list[i].credential ? list[i].credential : "-",
			    list[i].obtained_with,
			    list[i].profile ? list[i].profile : "-",
			    list[i].server_keygen ? "yes" : "no");
		if (show && pem) {
			const unsigned char *p = list[i].der;
			X509 *x = d2i_X509(NULL, &p, (long)list[i].der_len);

			if (x != NULL)
				PEM_write_X509(stdout, x);
			X509_free(x);
		}
	}
	rc = 0;
out:
	if (list == &one)
		db_cert_clear(&one);
	else
		db_cert_array_free(list, n);
	db_ca_clear(&ca);
	return rc;
}
