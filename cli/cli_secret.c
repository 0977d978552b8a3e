/*
 * cli_secret.c - `cmpca secret add|list|reseal`: enrollment secrets. A
 * secret is generated from the HSM RNG and printed once, or read from a
 * file, never taken from argv; it is stored sealed (cli_seal.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "ca/ca.h"
#include "cli/cli.h"

/* A printable random secret: 24 bytes from the HSM, base64url. */
static int
secret_generate(struct ctx *c, char *out, size_t outlen)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char rnd[24];
	size_t i;

	if (outlen < sizeof(rnd) + 1 || !hsm_random(c->hsm, rnd, sizeof(rnd)))
		return 0;
	for (i = 0; i < sizeof(rnd); i++)
		out[i] = alphabet[rnd[i] & 63];
	out[sizeof(rnd)] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return 1;
}

static int
secret_read(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(out, 1, outlen - 1, f);
	fclose(f);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		n--;
	out[n] = '\0';
	return n > 0;
}

static int
secret_add(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "subject", required_argument, NULL, 's' },
		{ "uses", required_argument, NULL, 'u' },
		{ "days", required_argument, NULL, 'd' },
		{ "profile", required_argument, NULL, 'p' },
		{ "ca", required_argument, NULL, 'a' },
		{ "secret-file", required_argument, NULL, 'f' },
		{ "san", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct db_secret s;
	struct db_ca ca;
	const char *file = NULL, *ca_label = NULL;
	char secret[256];
	long days = 30;
	int o, rc = 1;

	memset(&s, 0, sizeof(s));
	memset(&ca, 0, sizeof(ca));
	s.uses_left = 1;
	snprintf(s.profile, sizeof(s.profile), "default");
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			s.allowed_subject = optarg;
			break;
		case 'u':
			s.uses_left = (int)strtol(optarg, NULL, 10);
			break;
		case 'd':
			days = strtol(optarg, NULL, 10);
			break;
		case 'p':
			snprintf(s.profile, sizeof(s.profile), "%s", optarg);
			break;
		case 'a':
			ca_label = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			s.allowed_san = optarg;
			break;
		default:
			return 2;
		}
	}
	if (argc < 3 || argv[2][0] == '-' || strlen(argv[2]) >= DB_REF_MAX) {
		log_err("secret add needs a reference");
		return 2;
	}
	if (s.allowed_san != NULL && !profile_san_patterns_ok(s.allowed_san)) {
		log_err("--san: bad pattern list \"%s\" (DNS:name, "
		    "DNS:*.domain, email:addr, email:*@domain, IP:addr[/bits], "
		    "URI:uri[*])", s.allowed_san);
		return 2;
	}
	if (cfg_profile_get(c->cfg, s.profile) == NULL) {
		log_err("no profile %s in %s", s.profile, c->cfg->path);
		return 2;
	}
	snprintf(s.ref, sizeof(s.ref), "%s", argv[2]);
	s.expires = days > 0 ? time(NULL) + days * 86400L : 0;
	if (!cli_need_db(c))
		return 1;
	if (ca_label != NULL) {
		if (db_ca_get_by_label(c->db, ca_label, &ca) != 1) {
			log_err("no such ca: %s", ca_label);
			goto out;
		}
		s.ca_id = ca.id;
	}
	if (file != NULL) {
		if (!secret_read(file, secret, sizeof(secret))) {
			log_err("cannot read a secret from %s", file);
			goto out;
		}
	} else if (!cli_need_hsm(c) || !secret_generate(c, secret, sizeof(secret)))
		goto out;
	s.secret_len = strlen(secret);
	s.secret = (unsigned char *)secret;
	if (!cli_secret_seal(c, &s))
		goto out;
	s.secret = NULL; /* only the sealed value is stored */
	rc = db_secret_insert(c->db, &s);
	if (rc != 1) {
		log_err(rc == 0 ? "secret %s exists" : "cannot store secret %s",
		    s.ref);
		rc = 1;
		goto out;
	}
	if (db_audit_add(c->db, "secret-add", s.ca_id, "cli", s.ref) < 0)
		log_warn("audit: %s", db_error(c->db));
	/* Printed once, on stdout only, for the operator to hand over. */
	if (file == NULL)
		printf("%s\n", secret);
	else
		fprintf(stderr, "secret %s stored\n", s.ref);
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	free(s.sealed);
	db_ca_clear(&ca);
	return rc;
}

/*
 * `secret disable|enable|remove REF`: a leaked secret stops working at
 * once (a worker's cached copy fails the issuing statement's version
 * check and is read again, and a disabled or removed reference reads as
 * unknown), audited. Returns an exit status.
 */
static int
secret_state(struct ctx *c, const char *verb, const char *ref)
{
	int rc;

	if (!cli_need_db(c))
		return 1;
	if (db_begin(c->db) != 1)
		goto dberr;
	rc = strcmp(verb, "remove") == 0 ? db_secret_remove(c->db, ref)
	    : db_secret_set_disabled(c->db, ref, strcmp(verb, "disable") == 0);
	if (rc < 0)
		goto dberr;
	if (rc == 0) {
		db_rollback(c->db);
		log_err("no such enrollment secret: %s", ref);
		return 1;
	}
	if (db_audit_add(c->db, strcmp(verb, "remove") == 0 ? "secret-remove"
		: strcmp(verb, "disable") == 0 ? "secret-disable"
		: "secret-enable", 0, "cli", ref) < 0 ||
	    db_commit(c->db) != 1)
		goto dberr;
	printf("secret %s %s\n", ref, strcmp(verb, "remove") == 0 ? "removed"
	    : strcmp(verb, "disable") == 0 ? "disabled" : "enabled");
	return 0;
dberr:
	log_err("secret %s: %s", verb, db_error(c->db));
	db_rollback(c->db);
	return 1;
}

int
cmd_secret(struct ctx *c, int argc, char **argv)
{
	struct db_secret *list = NULL;
	size_t n = 0, i;

	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return secret_add(c, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "reseal") == 0 &&
	    (argc == 2 || (argc == 3 && strcmp(argv[2], "--new-key") == 0))) {
		unsigned long ver;
		size_t moved, left, up_moved, up_left;

		if (!cli_secrets_reseal(c, argc == 3, &ver, &moved, &left,
			&up_moved, &up_left))
			return 1;
		printf("%zu enrollment secret(s) resealed under key version "
		       "%lu, %zu left under older keys\n",
		    moved, ver, left);
		printf("upstream secrets (RA identities): %zu resealed, %zu "
		       "left under older keys\n",
		    up_moved, up_left);
		return left == 0 && up_left == 0 ? 0 : 1;
	}
	if (argc == 3 && (strcmp(argv[1], "disable") == 0 ||
		strcmp(argv[1], "enable") == 0 ||
		strcmp(argv[1], "remove") == 0))
		return secret_state(c, argv[1], argv[2]);
	if (argc >= 2 && strcmp(argv[1], "list") == 0) {
		if (!cli_need_db(c))
			return 1;
		if (db_secret_list(c->db, &list, &n) < 0) {
			log_err("%s", db_error(c->db));
			return 1;
		}
		for (i = 0; i < n; i++)
			printf("%s\tprofile=%s\tuses_left=%d\tsubject=%s"
			       "%s%s%s\n",
			    list[i].ref, list[i].profile, list[i].uses_left,
			    list[i].allowed_subject ? list[i].allowed_subject
						    : "*",
			    list[i].allowed_san ? "\tsan=" : "",
			    list[i].allowed_san ? list[i].allowed_san : "",
			    list[i].disabled ? "\tdisabled" : "");
		db_secret_array_free(list, n);
		return 0;
	}
	fputs(cli_usage(), stderr);
	return 2;
}
