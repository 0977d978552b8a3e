/*
 * audit.c - the audit hash chain's checkpoints and its verifier.
 *
 * The chain itself is linked in the database (cmpca_audit_seal, migration
 * 015). Here: audit_checkpoint() seals what is final and signs the head
 * with the audit key in the HSM; audit_verify() recomputes every row hash
 * and link in C from the rows as stored, checks every checkpoint's
 * signature with the public key read from the token (never the copy in
 * the database), and compares each certificate's status with its latest
 * cert-status row.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/ca.h"

#define AUDIT_ROW_TAG "cmpca-audit-1"
#define AUDIT_CKPT_TAG "cmpca-audit-checkpoint-1"
#define AUDIT_TBS_MAX 160 /* tag, seq, hex hash, time */

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
	    row_num(md, l->audit_id, 0) && row_num(md, l->at_us, l->at_null) &&
	    row_text(md, l->event) && row_num(md, l->ca_id, l->ca_null) &&
	    row_text(md, l->actor) && row_text(md, l->detail) &&
	    row_text(md, l->db_role) && EVP_DigestFinal_ex(md, out, &len) &&
	    len == DB_HASH_LEN;
	EVP_MD_CTX_free(md);
	return ok;
}

/* out = SHA-256(prev || row). Returns 1 or 0. */
static int
link_hash(const unsigned char *prev, const unsigned char *row,
    unsigned char *out)
{
	unsigned char in[2 * DB_HASH_LEN];
	unsigned int len = 0;

	memcpy(in, prev, DB_HASH_LEN);
	memcpy(in + DB_HASH_LEN, row, DB_HASH_LEN);
	return EVP_Digest(in, sizeof(in), out, &len, EVP_sha256(), NULL) &&
	    len == DB_HASH_LEN;
}

/* The bytes a checkpoint signs. Returns their length. */
static size_t
ckpt_tbs(const struct db_audit_ckpt *c, char *buf, size_t size)
{
	char hex[2 * DB_HASH_LEN + 1];
	int n;

	log_hex(c->chain_hash, DB_HASH_LEN, hex, sizeof(hex));
	n = snprintf(buf, size, "%s\n%lld\n%s\n%lld", AUDIT_CKPT_TAG, c->seq,
	    hex, (long long)c->at);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

int
audit_checkpoint(struct db *db, struct hsm *hsm, const char *why)
{
	struct db_audit_ckpt c, k;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY *key = NULL;
	char tbs[AUDIT_TBS_MAX];
	size_t tlen, slen = 0;
	long long upto = 0, last = 0;
	int r, rc = -1;

	memset(&c, 0, sizeof(c));
	memset(&k, 0, sizeof(k));
	if (db_audit_fence(db, &upto) != 1 ||
	    db_audit_seal(db, upto, &c.seq, c.chain_hash) != 1 ||
	    db_audit_ckpt_last(db, &last) != 1) {
		log_warn("audit seal (%s): %s", why, db_error(db));
		goto out;
	}
	if (c.seq < last && db_audit_seal(db, 0, &c.seq, c.chain_hash) !=
	    1) {
		log_warn("audit seal (%s): %s", why, db_error(db));
		goto out;
	}
	if (c.seq < last) {
		/* Never sign a chain shorter than one already signed. (A
		 * head that another host moved and signed meanwhile is read
		 * again just above: sealing up to 0 links nothing.) */
		log_err("audit chain head seq %lld is behind checkpoint seq "
			"%lld: links removed, not signed (run cmpca audit "
			"verify)", c.seq, last);
		goto out;
	}
	if (c.seq == 0 || c.seq <= last) {
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
	c.at = time(NULL);
	if ((tlen = ckpt_tbs(&c, tbs, sizeof(tbs))) == 0 ||
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
	if (db_audit_ckpt_insert(db, &c) != 1) {
		log_warn("audit checkpoint (%s): %s", why, db_error(db));
		goto out;
	}
	log_info("audit checkpoint %lld (%s): seq %lld signed", c.id, why,
	    c.seq);
	rc = 1;
out:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(key);
	free(c.sig);
	db_audit_ckpt_clear(&k);
	return rc;
}

/* Verifier state: keys read from the token, by audit_key id. */
struct vkey {
	long long id;
	EVP_PKEY *pub; /* software copy of the token's public key */
};

struct verify {
	struct db *db;
	struct hsm *hsm;
	FILE *out;
	struct vkey keys[CA_AUDIT_KEYS_MAX];
	size_t nkeys;
	int bad; /* problems reported */
};

static void
vfail(struct verify *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
vfail(struct verify *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("audit verify: ", v->out);
	vfprintf(v->out, fmt, ap);
	fputc('\n', v->out);
	va_end(ap);
	v->bad++;
}

/* The token's public key of checkpoint c's audit key; NULL (reported)
 * when it cannot be read or differs from the database's copy. */
static EVP_PKEY *
vkey_get(struct verify *v, const struct db_audit_ckpt *c)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *hk = NULL, *pub = NULL;
	size_t i;
	int len;

	/* Each key is read (and a problem with it reported) once. */
	for (i = 0; i < v->nkeys; i++)
		if (v->keys[i].id == c->key_id)
			return v->keys[i].pub;
	if (c->key_uri == NULL) {
		vfail(v, "checkpoint %lld: audit key %lld does not exist",
		    c->id, c->key_id);
		goto out;
	}
	if (v->hsm == NULL || (hk = hsm_key_load(v->hsm, c->key_uri)) ==
	    NULL) {
		vfail(v, "checkpoint %lld: audit key %s not found in the HSM",
		    c->id, c->key_uri);
		goto out;
	}
	if ((len = i2d_PUBKEY(hk, &der)) <= 0) {
		vfail(v, "checkpoint %lld: cannot read audit key %s", c->id,
		    c->key_uri);
		goto out;
	}
	if ((size_t)len != c->spki_len || memcmp(der, c->spki, len) != 0)
		vfail(v, "audit key %lld: the public key in the database is "
			 "not the one of %s in the HSM", c->key_id, c->key_uri);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
out:
	if (v->nkeys < CA_AUDIT_KEYS_MAX) {
		v->keys[v->nkeys].id = c->key_id;
		v->keys[v->nkeys++].pub = pub; /* NULL: unusable, reported */
	} else {
		EVP_PKEY_free(pub);
		pub = NULL;
		vfail(v, "more than %d audit keys", CA_AUDIT_KEYS_MAX);
	}
	OPENSSL_free(der);
	EVP_PKEY_free(hk);
	return pub;
}

/* 1 if c's signature verifies with its key from the token, else 0
 * (reported). */
static int
ckpt_check_sig(struct verify *v, const struct db_audit_ckpt *c)
{
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY *pub;
	char tbs[AUDIT_TBS_MAX];
	size_t tlen;
	int ok = 0;

	if ((pub = vkey_get(v, c)) == NULL)
		return 0;
	if ((tlen = ckpt_tbs(c, tbs, sizeof(tbs))) > 0 &&
	    (mctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(mctx, c->sig, c->sig_len, (unsigned char *)tbs,
		tlen) == 1)
		ok = 1;
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	if (!ok)
		vfail(v, "checkpoint %lld (seq %lld): signature does not "
			 "verify with audit key %lld: forged or altered",
		    c->id, c->seq, c->key_id);
	return ok;
}

/*
 * Walks the links after seq `from` (whose chain hash is `hash`), checking
 * each row hash, link and the checkpoints on the way (ck, sorted by seq,
 * those with a good signature marked in good[]). *last: the last seq.
 * Returns 1 (walked, problems reported), or -1 (database error).
 */
static int
chain_walk(struct verify *v, long long from, unsigned char *hash,
    const struct db_audit_ckpt *ck, const int *good, size_t nck,
    long long *last, long long *nlinks)
{
	struct db_audit_link *l = NULL;
	unsigned char rh[DB_HASH_LEN], ch[DB_HASH_LEN];
	size_t n = 0, i, k = 0;
	long long seq = from, prev_id = 0;
	int broken = 0;

	while (k < nck && ck[k].seq <= from)
		k++;
	for (;;) {
		if (db_audit_links(v->db, seq, DB_AUDIT_BATCH, &l, &n) != 1)
			return -1;
		if (n == 0)
			break;
		for (i = 0; i < n && !broken; i++) {
			const struct db_audit_link *x = &l[i];

			if (x->seq != seq + 1) {
				vfail(v, "chain broken after seq %lld: the "
					 "next link is seq %lld (links "
					 "removed)", seq, x->seq);
				broken = 1;
			} else if (!x->present) {
				vfail(v, "audit row %lld (seq %lld) is "
					 "missing: deleted", x->audit_id,
				    x->seq);
				broken = 1;
			} else if (x->audit_id <= prev_id) {
				vfail(v, "audit row %lld (seq %lld) is out of "
					 "order", x->audit_id, x->seq);
				broken = 1;
			} else if (!audit_row_hash(x, rh) ||
			    memcmp(rh, x->row_hash, DB_HASH_LEN) != 0) {
				vfail(v, "audit row %lld (seq %lld) does not "
					 "match its hash: changed", x->audit_id,
				    x->seq);
				broken = 1;
			} else if (!link_hash(hash, rh, ch) ||
			    memcmp(ch, x->chain_hash, DB_HASH_LEN) != 0) {
				vfail(v, "chain broken at audit row %lld (seq "
					 "%lld): the link does not follow "
					 "from the previous one",
				    x->audit_id, x->seq);
				broken = 1;
			}
			if (broken)
				break;
			memcpy(hash, ch, DB_HASH_LEN);
			seq = x->seq;
			prev_id = x->audit_id;
			(*nlinks)++;
			for (; k < nck && ck[k].seq == seq; k++)
				if (good[k] && memcmp(ck[k].chain_hash, hash,
						   DB_HASH_LEN) != 0)
					vfail(v, "checkpoint %lld (seq %lld) "
						 "does not match the chain: "
						 "rewritten before it",
					    ck[k].id, ck[k].seq);
		}
		db_audit_link_array_free(l, n);
		l = NULL;
		if (broken || n < DB_AUDIT_BATCH)
			break;
	}
	*last = seq;
	/* Checkpoints past the end: the chain was cut. */
	for (; !broken && k < nck; k++)
		if (good[k])
			vfail(v, "checkpoint %lld names seq %lld, the chain ends "
				 "at seq %lld: links removed", ck[k].id,
			    ck[k].seq, seq);
	return 1;
}

int
audit_verify(struct db *db, struct hsm *hsm, time_t since, FILE *out)
{
	struct verify v;
	struct db_audit_ckpt *ck = NULL;
	struct db_audit_mismatch m;
	unsigned char hash[DB_HASH_LEN];
	int *good = NULL, r, rc = -1;
	size_t nck = 0, i, ngood = 0;
	long long from = 0, last = 0, nlinks = 0, first = 0, waiting = 0;

	memset(&v, 0, sizeof(v));
	memset(hash, 0, sizeof(hash));
	v.db = db;
	v.hsm = hsm;
	v.out = out;
	if (db_begin_snapshot(db) != 1)
		goto dberr;
	if (db_audit_ckpt_list(db, &ck, &nck) != 1)
		goto dberr;
	if (nck > 0 && (good = calloc(nck, sizeof(*good))) == NULL) {
		log_err("audit verify: out of memory");
		db_rollback(db);
		goto out;
	}
	for (i = 0; i < nck; i++) {
		good[i] = ckpt_check_sig(&v, &ck[i]);
		ngood += good[i];
		/* --since: start at the last signed checkpoint before it. */
		if (since > 0 && good[i] && ck[i].at <= since &&
		    ck[i].seq >= from) {
			from = ck[i].seq;
			memcpy(hash, ck[i].chain_hash, DB_HASH_LEN);
		}
	}
	if (chain_walk(&v, from, hash, ck, good, nck, &last, &nlinks) != 1)
		goto dberr;
	if (db_audit_unlinked(db, &first, &waiting) != 1)
		goto dberr;
	if (first > 0)
		vfail(&v, "audit row %lld is not in the chain, below linked "
			  "rows: inserted behind the chain", first);
	memset(&m, 0, sizeof(m));
	if ((r = db_audit_cert_check(db, &m)) < 0)
		goto dberr;
	if (r == 1 && m.audited[0] == '\0')
		vfail(&v, "certificate %lld (serial %s) is \"%s\" and has no "
			  "cert-status audit row", m.cert_id, m.serial,
		    m.status);
	else if (r == 1)
		vfail(&v, "certificate %lld (serial %s) is \"%s\", its audit "
			  "rows say \"%s\": status rewritten",
		    m.cert_id, m.serial, m.status, m.audited);
	db_rollback(db);
	fprintf(out, "audit verify: %lld links checked (seq %lld to %lld), "
		     "%zu of %zu checkpoints signed by an audit key, %lld "
		     "rows wait for the next seal\n",
	    nlinks, from + (nlinks > 0), last, ngood, nck, waiting);
	if (v.bad > 0)
		fprintf(out, "audit verify: FAILED, %d problem(s)\n", v.bad);
	else
		fprintf(out, "audit verify: ok\n");
	rc = v.bad > 0 ? 0 : 1;
	goto out;
dberr:
	log_err("audit verify: %s", db_error(db));
	db_rollback(db);
out:
	for (i = 0; i < v.nkeys; i++)
		EVP_PKEY_free(v.keys[i].pub);
	free(good);
	db_audit_ckpt_array_free(ck, nck);
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
