/*
 * cli_upstream.c - `cmpca ca upstream LABEL --url URL --ca-cert FILE
 * (--ref REF --secret-file F | --sign-ca CA [--nested]) [--tls-trusted FILE]`:
 * cmpca as an RA (RFC 9483 §5). Adds an identity of status "upstream":
 * devices enroll at LABEL as at any CA, and their requests, once checked,
 * go to the CA at URL, protected with a MAC under the secret that CA gave
 * us (its reference REF), or signed with the key of our active CA
 * identity CA, whose certificate the upstream CA has registered as an
 * RA's (RFC 9483 §5.2.3). The secret is read from a file (or "-",
 * standard input), never from argv, and stored sealed in the HSM like
 * enrollment secrets (the AAD "upstream:LABEL"). FILE holds the upstream
 * CA's certificate first (its answers' certificates must chain to it),
 * then any issuers. --nested (with --sign-ca): the devices' MAC-protected
 * requests go upstream unchanged inside a nested message signed by CA
 * too, as signature-protected ones always do (RFC 9483 §5.2.2.1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/ca.h"
#include "cli/cli.h"
#include "cli/cli_ca.h"

#define UPSTREAM_SECRET_MAX 256

/* Reads the first line of path ("-": standard input, which a pipe from
 * another user can give where /dev/stdin cannot be opened) into buf; 1
 * or 0. */
static int
secret_line(const char *path, char *buf, size_t size)
{
	int in = strcmp(path, "-") == 0;
	FILE *f = in ? stdin : fopen(path, "r");
	size_t n;

	if (f == NULL)
		return 0;
	if (fgets(buf, (int)size, f) == NULL) {
		if (!in)
			fclose(f);
		return 0;
	}
	if (!in)
		fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return n > 0;
}

/* Every PEM certificate of path, in order; NULL if none. */
static STACK_OF(X509) *
certs_read(const char *path)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	FILE *f = fopen(path, "r");
	X509 *x;

	if (sk == NULL || f == NULL)
		goto fail;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto fail;
		}
	ERR_clear_error();
	fclose(f);
	if (sk_X509_num(sk) > 0)
		return sk;
	sk_X509_free(sk);
	return NULL;
fail:
	if (f != NULL)
		fclose(f);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

/* See cli_ca.h. */
int
cli_ca_upstream(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ca-cert", required_argument, NULL, 'c' },
		{ "ref", required_argument, NULL, 'r' },
		{ "secret-file", required_argument, NULL, 'f' },
		{ "tls-trusted", required_argument, NULL, 't' },
		{ "sign-ca", required_argument, NULL, 's' },
		{ "nested", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *cert_file = NULL, *file = NULL;
	const char *sign_label = NULL;
	char secret[UPSTREAM_SECRET_MAX], aad[DB_LABEL_MAX + 16];
	struct db_upstream u;
	struct db_ca row, sign;
	STACK_OF(X509) *certs = NULL;
	unsigned char *der = NULL;
	int o, len, rc = 1;

	memset(&u, 0, sizeof(u));
	memset(&row, 0, sizeof(row));
	memset(&sign, 0, sizeof(sign));
	secret[0] = '\0';
	snprintf(u.mode, sizeof(u.mode), "mac");
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			url = optarg;
			break;
		case 'c':
			cert_file = optarg;
			break;
		case 'r':
			u.ref = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 't':
			u.tls_trusted = optarg;
			break;
		case 's':
			sign_label = optarg;
			break;
		case 'n':
			u.nested = 1;
			break;
		default:
			return 2;
		}
	}
	if (argc < 3 || argv[2][0] == '-' || strlen(argv[2]) >= DB_LABEL_MAX ||
	    url == NULL || cert_file == NULL || optind != argc ||
	    (sign_label == NULL) != (u.ref != NULL && file != NULL) ||
	    (sign_label != NULL && (u.ref != NULL || file != NULL))) {
		log_err("usage: ca upstream LABEL --url URL --ca-cert FILE "
			"(--ref REF --secret-file F | --sign-ca CA [--nested]) "
			"[--tls-trusted FILE]");
		return 2;
	}
	if (u.nested && sign_label == NULL) {
		log_err("--nested needs --sign-ca: the nested message is signed "
			"by the RA (RFC 9483 §5.2.2.1)");
		return 2;
	}
	if (sign_label != NULL)
		snprintf(u.mode, sizeof(u.mode), "sig");
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		log_err("--url: %s is not an http:// or https:// URL", url);
		return 2;
	}
	u.url = (char *)(uintptr_t)url;
	snprintf(row.label, sizeof(row.label), "%s", argv[2]);
	if ((certs = certs_read(cert_file)) == NULL) {
		log_err("cannot read a PEM certificate from %s", cert_file);
		goto out;
	}
	if (file != NULL && !secret_line(file, secret, sizeof(secret))) {
		log_err("cannot read a secret from %s", file);
		goto out;
	}
	if (!cli_need_db(c) || !cli_need_hsm(c))
		goto out;
	if (sign_label != NULL) {
		/* The RA's signing key: one of our active CA identities. */
		if (db_ca_get_by_label(c->db, sign_label, &sign) != 1 ||
		    strcmp(sign.status, "active") != 0) {
			log_err("--sign-ca: %s is not an active CA", sign_label);
			goto out;
		}
		u.sign_ca_id = sign.id;
	} else {
		snprintf(aad, sizeof(aad), "upstream:%s", row.label);
		if (!hsm_seal(c->hsm, aad, (const unsigned char *)secret,
			strlen(secret), &u.sealed, &u.sealed_len)) {
			log_err("cannot seal the upstream secret: %s",
			    hsm_error());
			goto out;
		}
	}
	if ((len = i2d_X509(sk_X509_value(certs, 0), &der)) <= 0 ||
	    !ca_chain_encode(certs, 1, &row.chain, &row.chain_len))
		goto out;
	row.cert = der;
	row.cert_len = (size_t)len;
	row.key_uri = (char *)(uintptr_t)"";
	snprintf(row.status, sizeof(row.status), "upstream");
	if (db_begin(c->db) != 1)
		goto dberr;
	if ((rc = db_ca_insert(c->db, &row)) != 1) {
		db_rollback(c->db);
		if (rc == 0)
			log_err("ca %s exists", row.label);
		else
			log_err("cannot store ca %s: %s", row.label,
			    db_error(c->db));
		rc = 1;
		goto out;
	}
	rc = 1;
	u.ca_id = row.id;
	if (db_upstream_insert(c->db, &u) != 1 ||
	    db_audit_add(c->db, "ca-upstream", row.id, "cli", url) < 0 ||
	    db_commit(c->db) != 1) {
		db_rollback(c->db);
		goto dberr;
	}
	if (sign_label != NULL)
		printf("ca %s: RA in front of %s (signed by %s)\n", row.label,
		    url, sign_label);
	else
		printf("ca %s: RA in front of %s (MAC, reference %s)\n",
		    row.label, url, u.ref);
	rc = 0;
	goto out;
dberr:
	log_err("cannot store ca %s: %s", row.label, db_error(c->db));
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	if (u.sealed != NULL)
		OPENSSL_cleanse(u.sealed, u.sealed_len);
	free(u.sealed);
	free(row.chain);
	db_ca_clear(&sign);
	OPENSSL_free(der);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}
