/*
 * cli_key.c - archived end-entity keys (issue 26): `cmpca ca archival-key
 * LABEL` (the key ceremony: the CA's archival key in the HSM) and
 * `cmpca key request|approve|reject|recover` (recovery by the operator,
 * with a second operator's approval).
 *
 * Recovery has three steps, each audited: one operator asks (key
 * request), another decides (key approve or reject: the asker may not),
 * and the key is then delivered once (key recover --request ID), never
 * in clear: the HSM decrypts the archived value, the key is checked
 * against the certificate and written to a new file of mode 0600 in the
 * package krr and central key generation return (ca/issue/kga.c,
 * RFC 9483 §4.1.6): a CMS EnvelopedData whose content is a SignedData by
 * the CA (the key generation authority) of an AsymmetricKeyPackage,
 * encrypted to a password read from a file (PasswordRecipientInfo,
 * PBKDF2, AES key wrap) or to the key of a certificate (RSA:
 * KeyTransRecipientInfo, RSA-OAEP; EC: KeyAgreeRecipientInfo, ECDH).
 * --format pkcs8 writes an encrypted PKCS#8 (PBES2, PBKDF2 with
 * HMAC-SHA256, AES-256-CBC) under the password instead, for software
 * that imports keys but not CMS. The request is marked done in the
 * transaction that audits the recovery, committed only once the file is
 * written.
 *
 * Who is the operator: SUDO_USER when the CLI runs under sudo (a shared
 * service account), else the login name of the real user id. It is an
 * accountability rule (names in key_recovery and the audit), not
 * authentication: that is the database role's and the HSM PIN's.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* pem.h first: cms.h declares PEM_write_bio_CMS only after it. */
#include <openssl/pem.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"
#include "cli/cli.h"

/* Shortest recovery password, in bytes. */
#define KEY_PW_MIN 12
/* Longest operator name kept. */
#define KEY_OP_MAX 64

/* The operator's name into buf (see the file comment). 1 or 0. */
static int
key_operator(char *buf, size_t len)
{
	const char *s = getenv("SUDO_USER");
	struct passwd *pw;

	if (s == NULL || s[0] == '\0') {
		pw = getpwuid(getuid());
		s = pw != NULL ? pw->pw_name : NULL;
	}
	if (s == NULL || s[0] == '\0' || strlen(s) >= len) {
		log_err("cannot tell who the operator is (no login name)");
		return 0;
	}
	(void)snprintf(buf, len, "%s", s);
	return 1;
}

/* ca archival-key LABEL: the key ceremony. */
int
cli_ca_archival_key(struct ctx *c, int argc, char **argv)
{
	struct db_ca ca;
	char label[256], actor[KEY_OP_MAX + 8], op[KEY_OP_MAX];
	int rc = 1;

	memset(&ca, 0, sizeof(ca));
	if (argc < 3) {
		log_err("ca archival-key needs a LABEL");
		return 2;
	}
	if (!key_operator(op, sizeof(op)) || !cli_need_db(c))
		return 1;
	if (db_ca_get_by_label(c->db, argv[2], &ca) != 1) {
		log_err("no such ca: %s", argv[2]);
		goto out;
	}
	if (!cli_need_hsm(c))
		goto out;
	if (!hsm_archive_key_create(c->hsm, ca.label, label, sizeof(label))) {
		log_err("ca %s: %s", ca.label, hsm_error());
		goto out;
	}
	(void)snprintf(actor, sizeof(actor), "cli:%s", op);
	if (db_audit_add(c->db, "archival-key-create", ca.id, actor, label) < 0)
		log_warn("audit: %s", db_error(c->db));
	printf("ca %s: archival key %s created in the HSM (back up the token; "
	       "see Key archival in docs/operations.md)\n", ca.label, label);
	rc = 0;
out:
	db_ca_clear(&ca);
	return rc;
}

/* The CA (--ca, else the default) and the serial in argv[2]. 1 or 0. */
static int
key_target(struct ctx *c, int argc, char **argv, const char *ca_label,
    struct db_ca *ca, char *serial, size_t len)
{
	const char *why;

	if (argc < 3 || !ca_serial_parse(argv[2], serial, len, &why)) {
		log_err("key %s needs a serial number (hex)", argv[1]);
		return 0;
	}
	if (ca_label == NULL)
		ca_label = c->cfg->default_ca;
	if (ca_label == NULL || db_ca_get_by_label(c->db, ca_label, ca) != 1) {
		log_err("no such ca: %s", ca_label ? ca_label : "(none)");
		return 0;
	}
	return 1;
}

/* What key recover writes (--format). */
enum key_format {
	KEY_FMT_DER,   /* CMS EnvelopedData, DER (the default) */
	KEY_FMT_PEM,   /* the same, PEM ("CMS") */
	KEY_FMT_PKCS8, /* encrypted PKCS#8 PEM under the password */
};

/* Where and how key recover delivers the key. */
struct key_out {
	const char *pwfile; /* --password-file: PasswordRecipientInfo */
	const char *to;     /* --to CERT: KTRI (RSA) or KARI (EC) */
	const char *path;   /* --out: a new file, 0600 */
	enum key_format format;
};

/*
 * Writes to a new file path (0600): cms (DER or PEM), or with
 * KEY_FMT_PKCS8 key encrypted under pw. 1 or 0 (the file removed).
 */
static int
key_write(const char *path, enum key_format fmt, CMS_ContentInfo *cms,
    EVP_PKEY *key, const char *pw)
{
	FILE *f = NULL;
	BIO *b = NULL;
	int fd, rc = 0, ok = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_err("cannot create %s: %s (it must not exist)", path,
		    strerror(errno));
		return 0;
	}
	if ((f = fdopen(fd, "wb")) == NULL) {
		(void)close(fd);
		goto out;
	}
	if ((b = BIO_new_fp(f, BIO_NOCLOSE)) == NULL)
		goto out;
	switch (fmt) {
	case KEY_FMT_DER:
		ok = i2d_CMS_bio(b, cms) == 1;
		break;
	case KEY_FMT_PEM:
		ok = PEM_write_bio_CMS(b, cms) == 1;
		break;
	case KEY_FMT_PKCS8:
		ok = PEM_write_bio_PKCS8PrivateKey(b, key, EVP_aes_256_cbc(),
		    NULL, 0, NULL, (void *)(uintptr_t)pw) == 1;
		break;
	}
	rc = ok && BIO_flush(b) == 1;
out:
	BIO_free(b);
	if (f != NULL && fclose(f) != 0)
		rc = 0;
	if (!rc) {
		log_err("cannot write the recovered key to %s", path);
		(void)unlink(path);
	}
	ERR_clear_error();
	return rc;
}

/*
 * The recovery password (ko->pwfile, at least KEY_PW_MIN bytes) into pw,
 * and the recipient's certificate (ko->to: an RSA or EC key) into *rcpt.
 * 1, or 0 with a logged error.
 */
static int
key_recipient(const struct key_out *ko, char *pw, size_t pwlen, X509 **rcpt)
{
	int base;

	*rcpt = NULL;
	if (ko->pwfile != NULL) {
		if (!hsm_pin_read(ko->pwfile, pw, pwlen)) {
			log_err("password file: %s", hsm_error());
			return 0;
		}
		if (strlen(pw) < KEY_PW_MIN) {
			log_err("the recovery password must have %d characters "
			    "at least", KEY_PW_MIN);
			return 0;
		}
		return 1;
	}
	if ((*rcpt = cli_cert_read(ko->to)) == NULL)
		return 0;
	base = X509_get0_pubkey(*rcpt) != NULL
	    ? EVP_PKEY_get_base_id(X509_get0_pubkey(*rcpt)) : EVP_PKEY_NONE;
	if (base != EVP_PKEY_RSA && base != EVP_PKEY_EC) {
		log_err("--to %s: the recipient's key must be RSA (key "
		    "transport, RSA-OAEP) or EC (key agreement, ECDH)", ko->to);
		X509_free(*rcpt);
		*rcpt = NULL;
		return 0;
	}
	return 1;
}

/*
 * ca's identity with its key in the HSM, the key generation authority
 * that signs the package (as for krr and central key generation). NULL
 * with a logged error.
 */
static struct ca_ident *
key_signer(struct ctx *c, struct ca_store *st, const struct db_ca *ca)
{
	struct ca_ident *id;
	int err = 0;

	if (!cli_need_hsm(c))
		return NULL;
	id = ca_store_get(st, c->db, c->hsm, ca->label, &err);
	if (id == NULL || id->key == NULL) {
		log_err("ca %s: %s: it signs the recovered key's package (an "
		    "active CA with its key in the HSM)", ca->label,
		    err ? "cannot load its key" : "not an active CA");
		return NULL;
	}
	return id;
}

/* key recover SERIAL --request ID (--password-file F | --to CERT)
 * --out FILE [--format der|pem|pkcs8]. */
static int
key_recover(struct ctx *c, struct db_ca *ca, const char *serial,
    long long req, const struct key_out *ko, const char *op)
{
	struct ca_store st = { NULL, 0 };
	struct ca_ident *signer = NULL;
	struct db_keyarch ka;
	struct db_cert cert;
	CMS_ContentInfo *cms = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL, *rcpt = NULL;
	const unsigned char *p;
	char pw[256], aad[KGA_AAD_MAX], actor[KEY_OP_MAX + 8], detail[160];
	int rc = 1, n, began = 0, wrote = 0;

	memset(&ka, 0, sizeof(ka));
	memset(&cert, 0, sizeof(cert));
	pw[0] = '\0';
	if (!key_recipient(ko, pw, sizeof(pw), &rcpt))
		goto out;
	if (ko->format != KEY_FMT_PKCS8 &&
	    (signer = key_signer(c, &st, ca)) == NULL)
		goto out;
	if ((n = db_keyarch_get(c->db, ca->id, serial, &ka)) != 1 ||
	    db_cert_get_by_serial(c->db, ca->id, serial, &cert) != 1) {
		if (n < 0)
			log_err("%s", db_error(c->db));
		else
			log_err("no archived key for serial %s under ca %s",
			    serial, ca->label);
		goto out;
	}
	p = cert.der;
	if ((x = d2i_X509(NULL, &p, (long)cert.der_len)) == NULL ||
	    !kga_archive_aad(ca->label, X509_get0_pubkey(x), aad, sizeof(aad))) {
		log_err("serial %s: the certificate does not decode", serial);
		goto out;
	}
	if (db_begin(c->db) != 1)
		goto dberr;
	began = 1;
	if ((n = db_keyrec_take(c->db, req, ka.id)) < 0)
		goto dberr;
	if (n == 0) {
		log_err("recovery refused: request %lld is not an approved, "
		    "undelivered request for serial %s under ca %s (a "
		    "recovery needs `cmpca key request`, then `cmpca key "
		    "approve` by another operator)", req, serial, ca->label);
		goto out;
	}
	(void)snprintf(actor, sizeof(actor), "cli:%s", op);
	(void)snprintf(detail, sizeof(detail), "%s request %lld", serial, req);
	if (db_audit_add(c->db, "key-recover", ca->id, actor, detail) < 0)
		goto dberr;
	if (!cli_need_hsm(c))
		goto out;
	if (hsm_archive_unwrap(c->hsm, ca->label, aad, ka.wrapped,
		ka.wrapped_len, &key) != 1) {
		log_err("serial %s: %s", serial, hsm_error());
		goto out;
	}
	if (EVP_PKEY_eq(key, X509_get0_pubkey(x)) != 1) {
		log_err("serial %s: the archived key does not match the "
		    "certificate", serial);
		goto out;
	}
	/* The same package as krr's and central key generation's. */
	if (ko->format != KEY_FMT_PKCS8 &&
	    (cms = kga_envelope(key, signer, rcpt == NULL ?
		(const unsigned char *)pw : NULL, rcpt == NULL ? strlen(pw) : 0,
		rcpt)) == NULL) {
		log_err("serial %s: cannot package the recovered key (CMS "
		    "EnvelopedData)", serial);
		goto out;
	}
	if (!key_write(ko->path, ko->format, cms, key, pw))
		goto out;
	wrote = 1;
	if (db_commit(c->db) != 1)
		goto dberr;
	began = 0;
	if (ko->format == KEY_FMT_PKCS8)
		printf("key of serial %s (ca %s) written to %s, encrypted under "
		       "the password (PKCS#8, PBES2 AES-256-CBC)\n", serial,
		    ca->label, ko->path);
	else
		printf("key of serial %s (ca %s) written to %s: CMS "
		       "EnvelopedData (%s) to %s, content SignedData by ca %s "
		       "(AsymmetricKeyPackage)\n", serial, ca->label, ko->path,
		    ko->format == KEY_FMT_PEM ? "PEM" : "DER",
		    rcpt == NULL ? "the password" : "the certificate's key",
		    signer->label);
	rc = 0;
	goto out;
dberr:
	log_err("%s", db_error(c->db));
out:
	if (began)
		db_rollback(c->db);
	if (rc != 0 && wrote)
		(void)unlink(ko->path);
	OPENSSL_cleanse(pw, sizeof(pw));
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(key);
	X509_free(x);
	X509_free(rcpt);
	ca_store_clear(&st);
	db_cert_clear(&cert);
	db_keyarch_clear(&ka);
	return rc;
}

/* cmpca key ...: see the file comment. */
int
cmd_key(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "request", required_argument, NULL, 'q' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'o' },
		{ "to", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct key_out ko = { NULL, NULL, NULL, KEY_FMT_DER };
	const char *ca_label = NULL;
	char serial[DB_SERIAL_MAX], op[KEY_OP_MAX], actor[KEY_OP_MAX + 8];
	char detail[160], *end;
	struct db_keyarch ka;
	struct db_ca ca;
	long long req = 0, id, ca_id = 0;
	int o, rc = 1, approve;

	if (argc < 3) {
		fputs(cli_usage(), stderr);
		return 2;
	}
	memset(&ca, 0, sizeof(ca));
	memset(&ka, 0, sizeof(ka));
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			ca_label = optarg;
			break;
		case 'q':
			req = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || req <= 0) {
				log_err("--request is a recovery request id");
				return 2;
			}
			break;
		case 'p':
			ko.pwfile = optarg;
			break;
		case 'o':
			ko.path = optarg;
			break;
		case 't':
			ko.to = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "der") == 0)
				ko.format = KEY_FMT_DER;
			else if (strcmp(optarg, "pem") == 0)
				ko.format = KEY_FMT_PEM;
			else if (strcmp(optarg, "pkcs8") == 0)
				ko.format = KEY_FMT_PKCS8;
			else {
				log_err("--format is der, pem or pkcs8");
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (!key_operator(op, sizeof(op)))
		return 1;
	(void)snprintf(actor, sizeof(actor), "cli:%s", op);
	approve = strcmp(argv[1], "approve") == 0;
	if (approve || strcmp(argv[1], "reject") == 0) {
		id = strtoll(argv[2], &end, 10);
		if (*argv[2] == '\0' || *end != '\0' || id <= 0) {
			log_err("key %s needs a recovery request id", argv[1]);
			return 2;
		}
		if (!cli_need_db(c))
			return 1;
		rc = db_keyrec_decide(c->db, id, approve, op, &ca_id);
		if (rc < 0) {
			log_err("%s", db_error(c->db));
			return 1;
		}
		if (rc == 0) {
			log_err("recovery request %lld is not pending, or was "
			    "asked by %s: another operator decides (four "
			    "eyes)", id, op);
			return 1;
		}
		if (db_audit_add(c->db, approve ? "key-recover-approve"
						: "key-recover-reject",
			ca_id, actor, argv[2]) < 0)
			log_warn("audit: %s", db_error(c->db));
		printf("recovery request %lld %s\n", id,
		    approve ? "approved" : "rejected");
		return 0;
	}
	if (strcmp(argv[1], "request") != 0 && strcmp(argv[1], "recover") != 0) {
		fputs(cli_usage(), stderr);
		return 2;
	}
	if (strcmp(argv[1], "recover") == 0 &&
	    (req == 0 || ko.path == NULL ||
		(ko.pwfile == NULL) == (ko.to == NULL))) {
		log_err("key recover needs --request ID, --out FILE and one "
		    "recipient: --password-file F or --to CERT");
		return 2;
	}
	if (ko.format == KEY_FMT_PKCS8 && ko.pwfile == NULL) {
		log_err("--format pkcs8 encrypts under a password: it needs "
		    "--password-file F, not --to");
		return 2;
	}
	if (!cli_need_db(c))
		return 1;
	if (!key_target(c, argc, argv, ca_label, &ca, serial, sizeof(serial)))
		goto out;
	if (strcmp(argv[1], "recover") == 0) {
		rc = key_recover(c, &ca, serial, req, &ko, op);
		goto out;
	}
	if ((o = db_keyarch_get(c->db, ca.id, serial, &ka)) != 1) {
		if (o < 0)
			log_err("%s", db_error(c->db));
		else
			log_err("no archived key for serial %s under ca %s: "
			    "only keys the CA generated under a profile with "
			    "archive_keys are archived", serial, ca.label);
		goto out;
	}
	if (db_keyrec_request(c->db, ka.id, op, &id) != 1) {
		log_err("%s", db_error(c->db));
		goto out;
	}
	(void)snprintf(detail, sizeof(detail), "%s request %lld", serial, id);
	if (db_audit_add(c->db, "key-recover-request", ca.id, actor, detail) <
	    0)
		log_warn("audit: %s", db_error(c->db));
	printf("recovery request %lld for serial %s (ca %s) pending: another "
	       "operator approves it (cmpca key approve %lld)\n", id, serial,
	    ca.label, id);
	rc = 0;
out:
	db_keyarch_clear(&ka);
	db_ca_clear(&ca);
	return rc;
}
