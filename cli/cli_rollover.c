/*
 * cli_rollover.c - `cmpca ca rollover LABEL [--key TYPE] [--days N]`: root
 * CA key update (RFC 9810 §4.4).
 *
 * A new key is generated in the HSM and three certificates are made:
 * newWithNew (self-signed, becomes the identity's certificate), newWithOld
 * (the new key certified by the old one) and oldWithNew (the old key
 * certified by the new one). The pair is stored in ca_cert and served
 * through genm rootCaKeyUpdate (cmp_genm.c).
 *
 * How the old key lives on: a sibling row LABEL.oldN (status 'retired',
 * key_of = the identity) keeps the old key and certificate, and every
 * certificate, CRL and OCSP signer the old key signed moves to it. The
 * label, the endpoint, enrollment secrets and partners stay with the
 * identity, which now signs with the new key. Certificates issued under
 * the old key stay revocable: `cmpca cert revoke SERIAL --ca LABEL.oldN`
 * and `cmpca crl issue --ca LABEL.oldN` (a CRL signed by the old key).
 * Its CRLs keep the name the old key's certificates carry (ca_crl_name:
 * the key's object label), the new key's get the new object's name.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "cli/cli.h"
#include "cli/cli_ca.h"
#include "ca/issue/issue.h"
#include "ca/status/status.h"

/* Sibling labels tried: LABEL.old1 .. LABEL.old<max>. */
#define ROLLOVER_MAX_SIBLINGS 99

/* The key type of the old key, as hsm_keytype_parse() reads it. */
static const char *
keyspec_of(EVP_PKEY *k)
{
	int bits = EVP_PKEY_get_bits(k);

	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC)
		return bits >= 384 ? "ec:P-384" : "ec:P-256";
	return bits >= 4096 ? "rsa:4096" : bits >= 3072 ? "rsa:3072"
							 : "rsa:2048";
}

/* Stores one certificate of the key update pair. Returns 1 or 0. */
static int
keyupd_store(struct db *db, long long ca_id, const char *kind, X509 *x)
{
	struct db_cert row;
	unsigned char md[32];
	unsigned int mdlen = 0;
	int ok;

	memset(&row, 0, sizeof(row));
	ok = ca_cert_to_row(x, &row) &&
	    X509_digest(x, EVP_sha256(), md, &mdlen) && mdlen == sizeof(md) &&
	    db_keyupd_add(db, ca_id, kind, row.subject, row.issuer,
		row.not_after, row.der, row.der_len, md) == 1;
	db_cert_clear(&row);
	return ok;
}

/* Finds a free LABEL.oldN into out. Returns 1, or 0 (logged). */
static int
sibling_label(struct db *db, const char *label, char *out, size_t outlen)
{
	struct db_ca row;
	int i, rc;

	for (i = 1; i <= ROLLOVER_MAX_SIBLINGS; i++) {
		if ((size_t)snprintf(out, outlen, "%s.old%d", label, i) >=
		    outlen)
			break;
		rc = db_ca_get_by_label(db, out, &row);
		db_ca_clear(&row);
		if (rc < 0) {
			log_err("database: %s", db_error(db));
			return 0;
		}
		if (rc == 0)
			return 1;
	}
	log_err("no free label for the old key of %s", label);
	return 0;
}

/* The new key's object label in the token: LABEL-kYYYYMMDDHHMMSS. */
static void
key_label(const char *label, char *out, size_t outlen)
{
	time_t now = time(NULL);
	char stamp[16];

	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", gmtime(&now));
	snprintf(out, outlen, "%s-k%s", label, stamp);
}

/*
 * Warns about profiles whose crl_url names the CA's label rather than the
 * key's CRL name: the new key's certificates would name the URL of the
 * old key's CRL (crl_dir/LABEL.crl), one that cannot verify them.
 */
static void
crl_url_warn(const struct cfg *cfg, const char *label)
{
	size_t i;

	for (i = 0; i < cfg->nprofiles; i++)
		if (cfg->profiles[i].crl_url != NULL &&
		    strstr(cfg->profiles[i].crl_url, "%{ca}") != NULL)
			log_warn("profile %s: crl_url names %%{ca}: certificates "
				 "of the new key of %s will name the old key's "
				 "CRL; use %%{crl}",
			    cfg->profiles[i].name, label);
}

struct rollover {
	struct db_ca row;     /* the identity */
	struct db_ca sib;     /* the old key's new home */
	X509 *old;	      /* the old root */
	EVP_PKEY *old_key;
	EVP_PKEY *new_pub, *new_key;
	char new_uri[HSM_URI_MAX + 1];
	X509 *nwn, *nwo, *own;
};

/* Days of the new key's first OCSP signer (as `cmpca ocsp signer`). */
#define ROLLOVER_SIGNER_DAYS 30

/*
 * Stores everything in one transaction, the new key's delegated OCSP
 * signer included: without it /ocsp would answer unauthorized for every
 * certificate the new key signs. Returns 1 or 0 (logged).
 */
static int
rollover_store(struct db *db, struct hsm *hsm, struct rollover *ro)
{
	struct db_ca now_row;
	long long crlno;
	int len;

	snprintf(ro->sib.status, sizeof(ro->sib.status), "retired");
	ro->sib.key_of = ro->row.id;
	if ((ro->sib.key_uri = strdup(ro->row.key_uri)) == NULL ||
	    (ro->sib.cert = malloc(ro->row.cert_len)) == NULL)
		return 0;
	memcpy(ro->sib.cert, ro->row.cert, ro->row.cert_len);
	ro->sib.cert_len = ro->row.cert_len;
	/*
	 * The identity's CRL lock first (db_crl_next; the number is not
	 * used): a CRL being signed with the old key commits before and
	 * moves with it, one that waits sees the new certificate and is not
	 * signed with the old key (crl_issue).
	 */
	if (db_begin(db) != 1 || db_crl_next(db, ro->row.id, &crlno) != 1)
		goto dberr;
	if (db_ca_insert(db, &ro->sib) != 1) {
		log_err("cannot store %s: %s", ro->sib.label, db_error(db));
		db_rollback(db);
		return 0;
	}
	free(ro->row.cert);
	ro->row.cert = NULL;
	if ((len = i2d_X509(ro->nwn, &ro->row.cert)) <= 0 ||
	    db_ca_rekey(db, ro->row.id, ro->sib.id, ro->new_uri, ro->row.cert,
		(size_t)len) != 1)
		goto dberr;
	/* Everything a CA key signs is in the inventory of that key. */
	if (!cli_ca_inventory_add(db, ro->sib.id, ro->nwo) ||
	    !cli_ca_inventory_add(db, ro->row.id, ro->own))
		goto fail;
	/* The identity as it is now: the new key and certificate. */
	now_row = ro->row;
	now_row.key_uri = ro->new_uri;
	now_row.cert_len = (size_t)len;
	if (!ocsp_signer_issue_in(db, hsm, &now_row, ROLLOVER_SIGNER_DAYS)) {
		log_err("no OCSP signer for the new key: rollover not done");
		goto fail;
	}
	if (!keyupd_store(db, ro->row.id, "new-with-old", ro->nwo) ||
	    !keyupd_store(db, ro->row.id, "old-with-new", ro->own) ||
	    db_audit_add(db, "ca-rollover", ro->row.id, "cli", ro->new_uri) !=
		1 ||
	    db_commit(db) != 1)
		goto dberr;
	return 1;
dberr:
	log_err("cannot store the rollover: %s", db_error(db));
fail:
	db_rollback(db);
	return 0;
}

/*
 * Builds the three certificates of RFC 9810 §4.4. The links name each
 * key by the identifier of its own root (newWithNew's, the old root's),
 * which the certificates under that key carry as AKI. Returns 1 or 0.
 */
static int
rollover_certs(struct ctx *c, struct rollover *ro, long days)
{
	struct ca_ident issuer;
	struct cert_req req = { .kind = CERT_CA_ROOT,
		.subject = X509_get_subject_name(ro->old),
		.pubkey = ro->new_pub,
		.days = days,
		.pathlen = (int)X509_get_pathlen(ro->old) };
	time_t cap = ca_time_of(X509_get0_notAfter(ro->old));

	/* The links end with the old root: after that nobody trusts it. */
	if (cap == 0)
		return 0;
	cert_issuer_init(&issuer, ro->row.label, NULL, ro->new_key);
	if ((ro->nwn = cert_build(c->hsm, &issuer, &req)) == NULL)
		return 0;
	req.kind = CERT_LINK;
	req.cap = cap;
	req.ski = X509_get0_subject_key_id(ro->nwn);
	cert_issuer_init(&issuer, ro->row.label, ro->old, ro->old_key);
	if ((ro->nwo = cert_build(c->hsm, &issuer, &req)) == NULL)
		return 0;
	req.pubkey = X509_get0_pubkey(ro->old);
	req.ski = X509_get0_subject_key_id(ro->old);
	cert_issuer_init(&issuer, ro->row.label, ro->nwn, ro->new_key);
	ro->own = cert_build(c->hsm, &issuer, &req);
	return ro->own != NULL;
}

/* Loads the identity and its old key; refuses anything but a root. */
static int
rollover_load(struct ctx *c, const char *label, struct rollover *ro)
{
	const unsigned char *p;

	if (db_ca_get_by_label(c->db, label, &ro->row) != 1) {
		log_err("no such ca: %s", label);
		return 0;
	}
	if (strcmp(ro->row.status, "active") != 0) {
		log_err("ca %s is %s, not active", label, ro->row.status);
		return 0;
	}
	p = ro->row.cert;
	if ((ro->old = d2i_X509(NULL, &p, (long)ro->row.cert_len)) == NULL)
		return 0;
	if (X509_self_signed(ro->old, 1) != 1) {
		ERR_clear_error();
		log_err("ca %s is not a root: a subordinate gets a new key with "
			"ca create --issuer or ca csr under a new label", label);
		return 0;
	}
	if ((ro->old_key = hsm_key_load(c->hsm, ro->row.key_uri)) == NULL) {
		log_err("cannot load key %s: %s", ro->row.key_uri, hsm_error());
		return 0;
	}
	return sibling_label(c->db, label, ro->sib.label, sizeof(ro->sib.label));
}

/* See cli.h. */
int
cli_ca_rollover(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct rollover ro;
	const char *keyspec = NULL;
	enum hsm_keytype kt;
	char klabel[DB_LABEL_MAX + 24], *end;
	long days = 3650;
	int o, rc = 1;

	memset(&ro, 0, sizeof(ro));
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'k')
			keyspec = optarg;
		else if (o == 'd') {
			days = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || days < 1 ||
			    days > 36500) {
				log_err("--days must be from 1 to 36500");
				return 2;
			}
		} else
			return 2;
	}
	if (argc < 3 || argv[2][0] == '-') {
		log_err("ca rollover needs a LABEL");
		return 2;
	}
	if (!cli_need_db(c) || !cli_need_hsm(c) ||
	    !rollover_load(c, argv[2], &ro))
		goto out;
	if (keyspec == NULL)
		keyspec = keyspec_of(ro.old_key);
	if (!hsm_keytype_parse(keyspec, &kt)) {
		log_err("unknown key type %s", keyspec);
		rc = 2;
		goto out;
	}
	key_label(argv[2], klabel, sizeof(klabel));
	if (!hsm_keygen(c->hsm, klabel, kt, &ro.new_pub, ro.new_uri,
		sizeof(ro.new_uri)) ||
	    (ro.new_key = hsm_key_load(c->hsm, ro.new_uri)) == NULL) {
		log_err("key generation failed: %s", hsm_error());
		goto out;
	}
	if (!rollover_certs(c, &ro, days) || !rollover_store(c->db, c->hsm, &ro)) {
		log_err("rollover of %s failed; key %s stays in the token "
			"unused", argv[2], ro.new_uri);
		goto out;
	}
	printf("ca %s rolled over to key %s, with its OCSP signer (%d days); "
	       "the old key is ca %s (retired, still signs CRLs and OCSP "
	       "answers for what it issued)\n", argv[2], ro.new_uri,
	    ROLLOVER_SIGNER_DAYS, ro.sib.label);
	crl_url_warn(c->cfg, argv[2]);
	rc = 0;
out:
	db_ca_clear(&ro.row);
	db_ca_clear(&ro.sib);
	X509_free(ro.old);
	X509_free(ro.nwn);
	X509_free(ro.nwo);
	X509_free(ro.own);
	EVP_PKEY_free(ro.old_key);
	EVP_PKEY_free(ro.new_pub);
	EVP_PKEY_free(ro.new_key);
	return rc;
}
