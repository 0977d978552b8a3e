/*
 * audit.c - the audit hash chain's row hash and checkpoints.
 *
 * The chain itself is linked in the database (cmpca_audit_seal, migrations
 * 015 and 016). Here: audit_checkpoint() seals what is final, signs the
 * head with the audit key in the HSM, and writes the checkpoint outside
 * the database too (the log, audit_anchor_file: audit_anchor.c). The
 * verifier is audit_verify.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/ca.h"

#define AUDIT_ROW_TAG "cmpca-audit-1"
#define AUDIT_CKPT_TAG "cmpca-audit-checkpoint-1"

/* Adds "\n" and the field: "<octets>:<text>", or "-" for NULL. */
static int
row_text(EVP_MD_CTX *md, const char *s)
{
	char n[24];

	if (s == NULL)
		return EVP_DigestUpdate(md, "\n-", 2);
	snprintf(n, sizeof(n), "\n%zu:", strlen(s));
	return EVP_DigestUpdate(md, n, strlen(n)) &&
	    EVP_DigestUpdate(md, s, strlen(s));
}

/* Adds "\n" and the number as read (text), or "-" for NULL (""). */
static int
row_raw(EVP_MD_CTX *md, const char *s)
{
	if (*s == '\0')
		return EVP_DigestUpdate(md, "\n-", 2);
	return EVP_DigestUpdate(md, "\n", 1) &&
	    EVP_DigestUpdate(md, s, strlen(s));
}

/* Adds "\n" and the number, or "-" for NULL. */
static int
row_num(EVP_MD_CTX *md, long long v, int null)
{
	char n[24];

	if (null)
		return EVP_DigestUpdate(md, "\n-", 2);
	snprintf(n, sizeof(n), "\n%lld", v);
	return EVP_DigestUpdate(md, n, strlen(n));
}

/*
 * The row hash of cmpca_audit_row_hash() (migration 015), computed from
 * the row as read. Returns 1 or 0.
 */
int
audit_row_hash(const struct db_audit_link *l, unsigned char out[DB_HASH_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(md, AUDIT_ROW_TAG, strlen(AUDIT_ROW_TAG)) &&
	    row_num(md, l->audit_id, 0) && row_raw(md, l->at_us) &&
	    row_text(md, l->event) && row_num(md, l->ca_id, l->ca_null) &&
	    row_text(md, l->actor) && row_text(md, l->detail) &&
	    row_text(md, l->db_role) && EVP_DigestFinal_ex(md, out, &len) &&
	    len == DB_HASH_LEN;
	EVP_MD_CTX_free(md);
	return ok;
}

size_t
audit_ckpt_tbs(const struct db_audit_ckpt *c, char *buf, size_t size)
{
	char hex[2 * DB_HASH_LEN + 1];
	int n;

	log_hex(c->chain_hash, DB_HASH_LEN, hex, sizeof(hex));
	n = snprintf(buf, size, "%s\n%lld\n%s\n%lld", AUDIT_CKPT_TAG, c->seq,
	    hex, (long long)c->at);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* Writes a signed checkpoint outside the database: the log, and the
 * anchor file when one is configured. */
static void
ckpt_anchor(const struct db_audit_ckpt *c, const struct cfg *cfg,
    int create, const char *why)
{
	char line[CA_AUDIT_ANCHOR_LINE_MAX];

	if (audit_anchor_format(c, line, sizeof(line)) == 0) {
		log_err("audit checkpoint %lld (%s): no anchor line", c->id,
		    why);
		return;
	}
	log_info("audit checkpoint %lld (%s): seq %lld signed: %s", c->id, why,
	    c->seq, line);
	if (cfg != NULL && cfg->audit_anchor_file != NULL)
		(void)audit_anchor_append(cfg->audit_anchor_file, line, create);
}

int
audit_checkpoint(struct db *db, struct hsm *hsm, const struct cfg *cfg,
    int create, const char *why)
{
	struct db_audit_ckpt c, k;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY *key = NULL;
	char tbs[AUDIT_TBS_MAX];
	size_t tlen, slen = 0;
	long long last = 0;
	time_t last_at = 0, now = time(NULL);
	long max_age = cfg != NULL ? cfg->audit_ckpt_max_age : 0;
	int r, rc = -1;

	memset(&c, 0, sizeof(c));
	memset(&k, 0, sizeof(k));
	if (db_audit_seal(db, &c.seq, c.chain_hash) != 1 ||
	    db_audit_ckpt_last(db, &last, &last_at) != 1) {
		log_warn("audit seal (%s): %s", why, db_error(db));
		goto out;
	}
	if (c.seq < last && db_audit_seal(db, &c.seq, c.chain_hash) != 1) {
		log_warn("audit seal (%s): %s", why, db_error(db));
		goto out;
	}
	if (c.seq < last) {
		/* Never sign a chain shorter than one already signed. (A
		 * head that another host moved and signed meanwhile is read
		 * again just above.) */
		log_err("audit chain head seq %lld is behind checkpoint seq "
			"%lld: links removed, not signed (run cmpca audit "
			"verify)", c.seq, last);
		goto out;
	}
	/* The same head is signed again before the last checkpoint grows
	 * older than audit_checkpoint_max_age: a checkpoint that stops
	 * coming means the housekeeper stopped, or checkpoints were
	 * deleted. */
	if (c.seq == 0 || (c.seq == last && (max_age == 0 ||
	    now - last_at < max_age / 2))) {
		rc = 0;
		goto out;
	}
	if ((r = db_audit_key_latest(db, &k)) != 1) {
		if (r < 0)
			log_warn("audit checkpoint (%s): %s", why, db_error(db));
		rc = r < 0 ? -1 : 0; /* no audit key: linked, not signed */
		goto out;
	}
	if (hsm == NULL) {
		rc = 0; /* linked; signed when the HSM is back */
		goto out;
	}
	if ((key = hsm_key_load(hsm, k.key_uri)) == NULL) {
		log_warn("audit checkpoint (%s): cannot load audit key %s",
		    why, k.key_uri);
		log_openssl_errors(0);
		goto out;
	}
	c.key_id = k.key_id;
	c.at = now;
	if ((tlen = audit_ckpt_tbs(&c, tbs, sizeof(tbs))) == 0 ||
	    (mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(mctx, NULL, &slen, (unsigned char *)tbs, tlen) !=
		1 ||
	    (c.sig = malloc(slen)) == NULL ||
	    EVP_DigestSign(mctx, c.sig, &slen, (unsigned char *)tbs, tlen) !=
		1) {
		log_warn("audit checkpoint (%s): signing failed", why);
		log_openssl_errors(0);
		goto out;
	}
	c.sig_len = slen;
	if ((r = db_audit_ckpt_insert(db, &c)) < 0) {
		log_warn("audit checkpoint (%s): %s", why, db_error(db));
		goto out;
	}
	if (r == 0) {
		rc = 0; /* another host signed a later head meanwhile */
		goto out;
	}
	ckpt_anchor(&c, cfg, create, why);
	rc = 1;
out:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(key);
	free(c.sig);
	db_audit_ckpt_clear(&k);
	return rc;
}

int
ca_role_check(struct db *db, const char *who)
{
	struct db_role r;

	if (db_role_get(db, &r) != 1) {
		log_err("%s: database role check failed: %s", who,
		    db_error(db));
		return -1;
	}
	if (r.superuser) {
		log_err("database role %s is a superuser: %s refuses to run "
			"as one (least privilege: connect as cmpca_daemon, "
			"see \"Roles and grants\" in docs/operations.md)",
		    r.name, who);
		return 0;
	}
	if (r.owns > 0) {
		log_err("database role %s owns %d cmpca table(s): %s refuses "
			"to run as their owner (least privilege: connect as "
			"cmpca_daemon, see \"Roles and grants\" in "
			"docs/operations.md)",
		    r.name, r.owns, who);
		return 0;
	}
	return 1;
}
