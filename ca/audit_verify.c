/*
 * audit_verify.c - `cmpca audit verify`: the audit chain recomputed in C.
 *
 * Every row hash and link is recomputed from the rows as stored, every
 * checkpoint's signature checked with the public key read from the token
 * (never the copy in the database), the checkpoints checked for gaps and
 * age, and against the copies outside the database (--anchor: the anchor
 * file or the daemon's log, audit_anchor.c); then the database's own
 * safeguards (db_schema_check), each certificate's status against its
 * latest cert-status row, and the status transitions in those rows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/ca.h"

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

/* A checkpoint to check the chain against: from the database, or a line
 * of the anchor file. */
struct vck {
	struct db_audit_ckpt *c;
	int good;   /* its signature verifies */
	int anchor; /* from the anchor file */
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
ckpt_check_sig(struct verify *v, const struct db_audit_ckpt *c, int anchor)
{
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY *pub;
	char tbs[AUDIT_TBS_MAX];
	size_t tlen;
	int ok = 0;

	if ((pub = vkey_get(v, c)) == NULL)
		return 0;
	if ((tlen = audit_ckpt_tbs(c, tbs, sizeof(tbs))) > 0 &&
	    (mctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(mctx, c->sig, c->sig_len, (unsigned char *)tbs,
		tlen) == 1)
		ok = 1;
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	if (!ok)
		vfail(v, "checkpoint %lld%s (seq %lld): signature does not "
			 "verify with audit key %lld: forged or altered",
		    c->id, anchor ? " of the anchor file" : "", c->seq,
		    c->key_id);
	return ok;
}

static const char *
src(const struct vck *k)
{
	return k->anchor ? " (anchor file)" : "";
}

/*
 * Walks the links after seq `from` (whose chain hash is `hash`), checking
 * each row hash, link and the checkpoints on the way (ck, sorted by seq;
 * those whose signature is good are compared). *last: the last seq.
 * Returns 1 (walked, problems reported), or -1 (database error).
 */
static int
chain_walk(struct verify *v, long long from, unsigned char *hash,
    const struct vck *ck, size_t nck, long long *last, long long *nlinks)
{
	struct db_audit_link *l = NULL;
	unsigned char rh[DB_HASH_LEN], ch[DB_HASH_LEN];
	size_t n = 0, i, k = 0;
	long long seq = from, prev_id = 0;
	int broken = 0;

	while (k < nck && ck[k].c->seq <= from)
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
			for (; k < nck && ck[k].c->seq == seq; k++)
				if (ck[k].good && memcmp(ck[k].c->chain_hash,
						      hash, DB_HASH_LEN) != 0)
					vfail(v, "checkpoint %lld%s (seq %lld) "
						 "does not match the chain: "
						 "rewritten before it",
					    ck[k].c->id, src(&ck[k]),
					    ck[k].c->seq);
		}
		db_audit_link_array_free(l, n);
		l = NULL;
		if (broken || n < DB_AUDIT_BATCH)
			break;
	}
	*last = seq;
	/* Checkpoints past the end: the chain was cut. */
	for (; !broken && k < nck; k++)
		if (ck[k].good)
			vfail(v, "checkpoint %lld%s names seq %lld, the chain "
				 "ends at seq %lld: links removed", ck[k].c->id,
			    src(&ck[k]), ck[k].c->seq, seq);
	return 1;
}

static int
vck_by_seq(const void *a, const void *b)
{
	const struct vck *x = a, *y = b;

	if (x->c->seq != y->c->seq)
		return x->c->seq < y->c->seq ? -1 : 1;
	return x->anchor - y->anchor;
}

static int
ckpt_by_id(const void *a, const void *b)
{
	const struct db_audit_ckpt *const *x = a, *const *y = b;

	return (*x)->id < (*y)->id ? -1 : (*x)->id > (*y)->id;
}

/*
 * The anchors against the database's checkpoints: each one must be there
 * as written; its key (by id) is read from audit_key for its signature.
 * Returns 1 or -1 (database error).
 */
static int
anchors_check(struct verify *v, struct db_audit_ckpt *an, size_t nan,
    struct db_audit_ckpt *ck, size_t nck, struct vck *all, size_t *nall)
{
	struct db_audit_ckpt **byid = NULL, key, *want, **hit;
	size_t i;
	int r, rc = -1;

	if (nck > 0 && (byid = calloc(nck, sizeof(*byid))) == NULL) {
		log_err("audit verify: out of memory");
		return -1;
	}
	for (i = 0; i < nck; i++)
		byid[i] = &ck[i];
	if (nck > 0)
		qsort(byid, nck, sizeof(*byid), ckpt_by_id);
	for (i = 0; i < nan; i++) {
		struct db_audit_ckpt *a = &an[i], tmp = an[i];
		size_t j;

		/* The key's row is read only for a key not loaded yet (keys
		 * rotate rarely; anchors are many). */
		memset(&key, 0, sizeof(key));
		for (j = 0; j < v->nkeys && v->keys[j].id != a->key_id; j++)
			;
		if (j == v->nkeys) {
			if ((r = db_audit_key_get(v->db, a->key_id, &key)) < 0)
				goto out;
			tmp.key_uri = key.key_uri;
			tmp.spki = key.spki;
			tmp.spki_len = key.spki_len;
		}
		all[*nall].c = a;
		all[*nall].anchor = 1;
		all[*nall].good = ckpt_check_sig(v, &tmp, 1);
		(*nall)++;
		db_audit_ckpt_clear(&key);
		want = a;
		hit = nck > 0 ? bsearch(&want, byid, nck, sizeof(*byid),
		    ckpt_by_id) : NULL;
		if (hit == NULL)
			vfail(v, "checkpoint %lld (seq %lld) of the anchor "
				 "file is not in the database: deleted",
			    a->id, a->seq);
		else if ((*hit)->seq != a->seq || (*hit)->at != a->at ||
		    (*hit)->key_id != a->key_id ||
		    memcmp((*hit)->chain_hash, a->chain_hash, DB_HASH_LEN) !=
			0 ||
		    (*hit)->sig_len != a->sig_len ||
		    memcmp((*hit)->sig, a->sig, a->sig_len) != 0)
			vfail(v, "checkpoint %lld in the database (seq %lld) "
				 "is not the one of the anchor file (seq "
				 "%lld): replaced", a->id, (*hit)->seq,
			    a->seq);
	}
	rc = 1;
out:
	free(byid);
	return rc;
}

/* Gaps in the checkpoint ids (from 1) and a deleted tail: drawn, the
 * highest id given out before the snapshot (db_audit_ckpt_drawn). 1 or
 * -1. */
static int
ids_check(struct verify *v, long long drawn)
{
	long long from = 0, to = 0, top = 0;

	if (db_audit_ckpt_ids(v->db, &from, &to, &top) != 1)
		return -1;
	if (from > 0)
		vfail(v, "checkpoint ids %lld to %lld are missing: deleted",
		    from, to);
	if (drawn > top)
		vfail(v, "checkpoint ids %lld to %lld were given out but are "
			 "not in the database: deleted", top + 1, drawn);
	return 1;
}

static void
schema_report(void *arg, const char *msg)
{
	vfail(arg, "%s", msg);
}

/* The database's safeguards, the status transitions in the history and
 * each certificate's status against it. 1 or -1. */
static int
rows_check(struct verify *v)
{
	struct db_audit_mismatch m;
	struct db_audit_transition t;
	int r;

	if (db_schema_check(v->db, schema_report, v) < 0)
		return -1;
	memset(&t, 0, sizeof(t));
	if ((r = db_audit_transition_check(v->db, &t)) < 0)
		return -1;
	if (r == 1)
		vfail(v, "audit row %lld: certificate %lld (serial %s) went "
			 "from \"%s\" to \"%s\", a transition the CA never "
			 "makes (%lld such row(s))", t.audit_id, t.cert_id,
		    t.serial, t.from, t.to, t.count);
	memset(&m, 0, sizeof(m));
	if ((r = db_audit_cert_check(v->db, &m)) < 0)
		return -1;
	if (r == 1 && m.audited[0] == '\0')
		vfail(v, "certificate %lld (serial %s) is \"%s\" and has no "
			 "cert-status audit row", m.cert_id, m.serial,
		    m.status);
	else if (r == 1)
		vfail(v, "certificate %lld (serial %s) is \"%s\", its audit "
			 "rows say \"%s\": status rewritten",
		    m.cert_id, m.serial, m.status, m.audited);
	return 1;
}

int
audit_verify(struct db *db, struct hsm *hsm, const struct audit_vopts *o,
    FILE *out)
{
	struct verify v;
	struct db_audit_ckpt *ck = NULL, *an = NULL;
	struct vck *all = NULL;
	const struct db_audit_ckpt *newest = NULL;
	unsigned char hash[DB_HASH_LEN];
	int r, rc = -1;
	size_t nck = 0, nan = 0, nall = 0, i, ngood = 0;
	long long from = 0, last = 0, nlinks = 0, first = 0, waiting = 0;
	long long drawn = 0;

	memset(&v, 0, sizeof(v));
	memset(hash, 0, sizeof(hash));
	v.db = db;
	v.hsm = hsm;
	v.out = out;
	if (o->anchor != NULL) {
		if ((r = audit_anchor_read(o->anchor, &an, &nan, out)) < 0)
			goto out;
		if (r == 0)
			v.bad++;
		else if (nan == 0)
			vfail(&v, "no anchor line (%s) in %s", AUDIT_ANCHOR_TAG,
			    o->anchor);
	}
	/* Before the snapshot: a checkpoint being inserted while verify
	 * reads is not a deleted one. */
	if (db_audit_ckpt_drawn(db, &drawn) != 1)
		goto dberr;
	if (db_begin_snapshot(db) != 1)
		goto dberr;
	if (db_audit_ckpt_list(db, &ck, &nck) != 1)
		goto dberr;
	if ((all = calloc(nck + nan + 1, sizeof(*all))) == NULL) {
		log_err("audit verify: out of memory");
		db_rollback(db);
		goto out;
	}
	for (i = 0; i < nck; i++) {
		all[nall].c = &ck[i];
		all[nall].good = ckpt_check_sig(&v, &ck[i], 0);
		if (all[nall].good) {
			ngood++;
			if (newest == NULL || ck[i].at > newest->at)
				newest = &ck[i];
		}
		/* --since: start at the last signed checkpoint before it. */
		if (o->since > 0 && all[nall].good && ck[i].at <= o->since &&
		    ck[i].seq >= from) {
			from = ck[i].seq;
			memcpy(hash, ck[i].chain_hash, DB_HASH_LEN);
		}
		nall++;
	}
	if (nan > 0 && anchors_check(&v, an, nan, ck, nck, all, &nall) < 0)
		goto dberr;
	qsort(all, nall, sizeof(*all), vck_by_seq);
	if (chain_walk(&v, from, hash, all, nall, &last, &nlinks) != 1)
		goto dberr;
	if (db_audit_unlinked(db, &first, &waiting) != 1)
		goto dberr;
	if (first > 0)
		vfail(&v, "audit row %lld is not in the chain, below linked "
			  "rows: inserted behind the chain", first);
	if (ids_check(&v, drawn) < 0)
		goto dberr;
	if (newest == NULL && (last > 0 || waiting > 0))
		vfail(&v, "no signed checkpoint: the audit rows are linked but "
			  "signed by no audit key (run cmpca audit key; the "
			  "housekeeper signs within housekeeping_interval, "
			  "or run cmpca audit checkpoint)");
	else if (newest != NULL && o->max_age > 0 &&
	    time(NULL) - newest->at > o->max_age)
		vfail(&v, "the last signed checkpoint (%lld, seq %lld) is %lld "
			  "s old, more than audit_checkpoint_max_age (%ld s): "
			  "later ones deleted, or none signed (is cmpcad "
			  "running, with its HSM?)", newest->id, newest->seq,
		    (long long)(time(NULL) - newest->at), o->max_age);
	if (rows_check(&v) < 0)
		goto dberr;
	db_rollback(db);
	fprintf(out, "audit verify: %lld links checked (seq %lld to %lld), "
		     "%zu of %zu checkpoints signed by an audit key, %zu "
		     "anchors, %lld rows wait for the next seal\n",
	    nlinks, from + (nlinks > 0), last, ngood, nck, nan, waiting);
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
	free(all);
	db_audit_ckpt_array_free(ck, nck);
	db_audit_ckpt_array_free(an, nan);
	return rc;
}
