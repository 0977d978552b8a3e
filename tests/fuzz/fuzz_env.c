/*
 * fuzz_env.c - the stack the in-process targets borrow, and PBM
 * re-protection with its enrollment secret. See fuzz_env.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "db/db.h"
#include "tests/fuzz/fuzz_env.h"

struct fuzz_env fz;

static const char *fz_name = "fuzz";

static void
die(const char *what)
{
	fprintf(stderr, "%s: %s\n", fz_name, what);
	exit(1);
}

/* The credentials of fuzz_upstream(): the default CA's (saved at start),
 * fuzz-up's, and fuzz-up's under the profile approval (optional). */
static struct fuzz_env def, up, upw;
/* The nesting RA identities: a secret that serves any CA
 * (CMPCA_FUZZ_NEST_SECRET_FILE, reference CMPCA_FUZZ_NEST_REF), at
 * fuzz-nestmac (--nested) and fuzz-nest (signed requests only). */
static struct fuzz_env nmac, nsig, nwait;
/* The default CA's single-use secret (fuzz_once()). */
static struct fuzz_env once;

/* Reads the secret in path (one line) into buf. */
static void
secret_read(const char *path, unsigned char *buf, size_t *len)
{
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		die(path);
	*len = fread(buf, 1, sizeof(fz.secret), f);
	fclose(f);
	while (*len > 0 && buf[*len - 1] == '\n')
		(*len)--;
}

/* See fuzz_env.h. */
void
fuzz_env_init(const char *name, unsigned what)
{
	const char *conf = getenv("CMPCA_CONF");
	const char *sf = getenv("CMPCA_FUZZ_SECRET_FILE");

	fz_name = name;
	log_init(name, 0, getenv("CMPCA_FUZZ_VERBOSE") != NULL
		? LOG_LVL_DEBUG : LOG_LVL_ERR);
	if (conf == NULL || sf == NULL)
		die("run through scripts/fuzz (CMPCA_CONF and "
		    "CMPCA_FUZZ_SECRET_FILE unset)");
	if ((fz.cfg = cfg_load(conf)) == NULL)
		die("cannot load the configuration");
	if ((fz.hsm = hsm_open(fz.cfg->pkcs11_module, fz.cfg->token_label,
		 fz.cfg->pin_file)) == NULL)
		die(hsm_error());
	if (what & FUZZ_ENV_DB) {
		if ((fz.db = db_open(fz.cfg->db_conninfo)) == NULL ||
		    db_ensure(fz.db) != 1)
			die("cannot open the database");
	}
	if ((what & FUZZ_ENV_SRV) == FUZZ_ENV_SRV &&
	    (fz.srv = cmp_srv_new(fz.cfg, fz.db, fz.hsm)) == NULL)
		die("out of memory");
	secret_read(sf, fz.secret, &fz.secret_len);
	fz.ref = getenv("CMPCA_FUZZ_REF") != NULL ? getenv("CMPCA_FUZZ_REF")
						  : "demo";
	memcpy(def.secret, fz.secret, sizeof(def.secret));
	def.secret_len = fz.secret_len;
	def.ref = fz.ref;
	sf = getenv("CMPCA_FUZZ_ONCE_SECRET_FILE");
	if (sf != NULL && getenv("CMPCA_FUZZ_ONCE_REF") != NULL) {
		secret_read(sf, once.secret, &once.secret_len);
		once.ref = getenv("CMPCA_FUZZ_ONCE_REF");
	}
	sf = getenv("CMPCA_FUZZ_UP_SECRET_FILE");
	if (fz.srv != NULL && sf != NULL && getenv("CMPCA_FUZZ_UP_REF")) {
		secret_read(sf, up.secret, &up.secret_len);
		up.ref = getenv("CMPCA_FUZZ_UP_REF");
		up.label = "fuzz-up";
		sf = getenv("CMPCA_FUZZ_UP_WAIT_SECRET_FILE");
		if (sf != NULL && getenv("CMPCA_FUZZ_UP_WAIT_REF") != NULL) {
			secret_read(sf, upw.secret, &upw.secret_len);
			upw.ref = getenv("CMPCA_FUZZ_UP_WAIT_REF");
			upw.label = up.label;
		}
		sf = getenv("CMPCA_FUZZ_NEST_SECRET_FILE");
		if (sf != NULL && getenv("CMPCA_FUZZ_NEST_REF") != NULL) {
			secret_read(sf, nmac.secret, &nmac.secret_len);
			nmac.ref = getenv("CMPCA_FUZZ_NEST_REF");
			nmac.label = "fuzz-nestmac";
			nsig = nmac;
			nsig.label = "fuzz-nest";
			sf = getenv("CMPCA_FUZZ_NEST_WAIT_SECRET_FILE");
			if (sf != NULL &&
			    getenv("CMPCA_FUZZ_NEST_WAIT_REF") != NULL) {
				secret_read(sf, nwait.secret,
				    &nwait.secret_len);
				nwait.ref = getenv("CMPCA_FUZZ_NEST_WAIT_REF");
				nwait.label = nmac.label;
			}
		}
		/* The daemon's transport (HTTP to the stack's cmpcad),
		 * its answers twisted by fuzz_up_twist (fuzz_up.c). */
		cmp_srv_set_upstream(fz.srv, &fuzz_up_io);
	}
}

/* See fuzz_env.h. */
void
fuzz_srv_restart(void)
{
	cmp_srv_free(fz.srv);
	if ((fz.srv = cmp_srv_new(fz.cfg, fz.db, fz.hsm)) == NULL)
		die("out of memory");
	if (up.label != NULL)
		cmp_srv_set_upstream(fz.srv, &fuzz_up_io);
}

/* See fuzz_env.h. */
int
fuzz_upstream(int on)
{
	static int state;
	const struct fuzz_env *c;
	int was = state;

	if (up.label == NULL)
		return -1;
	if (on == 2 && upw.label == NULL)
		on = 1;
	if ((on >= 3 && nmac.label == NULL) || (on == 5 && nwait.label == NULL))
		return -1;
	if (on == state)
		return was;
	c = on == 5 ? &nwait : on == 4 ? &nsig : on == 3 ? &nmac : on == 2 ? &upw
	    : on ? &up : &def;
	memcpy(fz.secret, c->secret, sizeof(fz.secret));
	fz.secret_len = c->secret_len;
	fz.ref = c->ref;
	fz.label = c->label;
	state = on;
	return was;
}

/* See fuzz_env.h. */
int
fuzz_once(int on)
{
	const struct fuzz_env *c = on ? &once : &def;

	if (once.ref == NULL)
		return 0;
	memcpy(fz.secret, c->secret, sizeof(fz.secret));
	fz.secret_len = c->secret_len;
	fz.ref = c->ref;
	return 1;
}

/* The default PBM: SHA-256, 100 iterations, HMAC-SHA1 (RFC 4211 §4.4). */
static X509_ALGOR *
pbm_default(void)
{
	CMP_PBMPARAM *p = CMP_PBMPARAM_new();
	X509_ALGOR *alg = X509_ALGOR_new(), *ret = NULL;
	ASN1_STRING *seq = ASN1_STRING_new();

	if (p == NULL || alg == NULL || seq == NULL ||
	    !ASN1_OCTET_STRING_set(p->salt, (const unsigned char *)"saltsalt",
		8) ||
	    !X509_ALGOR_set0(p->owf, OBJ_nid2obj(NID_sha256), V_ASN1_UNDEF,
		NULL) ||
	    !ASN1_INTEGER_set(p->iterationCount, 100) ||
	    !X509_ALGOR_set0(p->mac, OBJ_nid2obj(NID_hmac_sha1), V_ASN1_UNDEF,
		NULL) ||
	    (seq->length = i2d_CMP_PBMPARAM(p, &seq->data)) <= 0 ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_id_PasswordBasedMAC),
		V_ASN1_SEQUENCE, seq))
		goto out;
	seq = NULL; /* owned by alg */
	ret = alg;
	alg = NULL;
out:
	ASN1_STRING_free(seq);
	X509_ALGOR_free(alg);
	CMP_PBMPARAM_free(p);
	return ret;
}

/* A 16-octet value never used before: a per-process random half and a
 * counter. */
static void
unique16(ASN1_OCTET_STRING *o)
{
	static unsigned char proc[8];
	static unsigned long long count;

	if (count == 0 && RAND_bytes(proc, sizeof(proc)) != 1)
		abort();
	count++;
	memcpy(o->data, proc, sizeof(proc));
	memcpy(o->data + 8, &count, sizeof(count));
}

/* See fuzz_env.h. */
void
fuzz_refresh(CMP_MSG *m)
{
	CMP_HEADER *h = m->header;

	if (h->senderNonce != NULL && h->senderNonce->length == 16)
		unique16(h->senderNonce);
	switch (m->body->type) {
	case CMP_BODY_CERTCONF:
	case CMP_BODY_POLLREQ:
	case CMP_BODY_ERROR:
	case CMP_BODY_PKICONF:
		break; /* they continue a transaction */
	default:
		if (h->transactionID != NULL &&
		    h->transactionID->length == 16)
			unique16(h->transactionID);
		break;
	}
	if (h->messageTime != NULL)
		(void)ASN1_GENERALIZEDTIME_set(h->messageTime, time(NULL));
}

/* See fuzz_env.h. */
int
fuzz_kid_set(CMP_MSG *m)
{
	ASN1_OCTET_STRING_free(m->header->senderKID);
	return (m->header->senderKID = ASN1_OCTET_STRING_new()) != NULL &&
	    ASN1_OCTET_STRING_set(m->header->senderKID,
		(const unsigned char *)fz.ref, (int)strlen(fz.ref));
}

/* See fuzz_env.h. */
int
fuzz_reprotect(CMP_MSG *m)
{
	struct cmp_mac mac;
	const char *why;
	X509_ALGOR *alg;
	int fail, ok = 0, derived;

	fuzz_refresh(m);
	derived = cmp_alg_is_pbm(m->header->protectionAlg) &&
	    cmp_pbm_derive(m->header->protectionAlg, fz.secret, fz.secret_len,
		1000, &mac, &fail, &why) == 1;
	if (!derived) {
		if ((alg = pbm_default()) == NULL)
			return 0;
		X509_ALGOR_free(m->header->protectionAlg);
		m->header->protectionAlg = alg;
		if (cmp_pbm_derive(alg, fz.secret, fz.secret_len, 1000, &mac,
			&fail, &why) != 1)
			return 0;
	}
	ok = cmp_pbm_protect(m, &mac);
	cmp_mac_clear(&mac);
	return ok;
}

/* See fuzz_env.h. */
CMP_MSG *
fuzz_serve(const unsigned char *der, size_t len)
{
	unsigned char *resp = NULL;
	size_t resp_len = 0;
	const char *why;
	CMP_MSG *m;
	int http;

	http = cmp_srv_process(fz.srv, fz.label, der, len, &resp,
	    &resp_len);
	/* Every answer is a decodable CMP message with 200 or 400. */
	if (resp == NULL || (http != 200 && http != 400))
		abort();
	if ((m = cmp_msg_parse(resp, resp_len, &why)) == NULL)
		abort();
	OPENSSL_free(resp);
	return m;
}

/* The first CertResponse of an ip/cp/kup/ccp, or NULL. */
static CMP_CERTRESPONSE *
first_response(const CMP_MSG *a)
{
	switch (a->body->type) {
	case CMP_BODY_IP:
	case CMP_BODY_CP:
	case CMP_BODY_KUP:
	case CMP_BODY_CCP:
		if (sk_CMP_CERTRESPONSE_num(a->body->value.ip->response) > 0)
			return sk_CMP_CERTRESPONSE_value(
			    a->body->value.ip->response, 0);
		return NULL;
	default:
		return NULL;
	}
}

/* See fuzz_env.h. */
int
fuzz_waiting(const CMP_MSG *a, long *id)
{
	CMP_CERTRESPONSE *cr;
	int i;

	switch (a->body->type) {
	case CMP_BODY_IP:
	case CMP_BODY_CP:
	case CMP_BODY_KUP:
	case CMP_BODY_CCP:
		for (i = 0; i < sk_CMP_CERTRESPONSE_num(a->body->value.ip->
		    response); i++) {
			cr = sk_CMP_CERTRESPONSE_value(a->body->value.ip->
			    response, i);
			if (ASN1_INTEGER_get(cr->status->status) ==
			    CMP_STATUS_WAITING) {
				*id = ASN1_INTEGER_get(cr->certReqId);
				return 1;
			}
		}
		return 0;
	case CMP_BODY_RP:
		/* RFC 9810 §5.3.22: the certReqId of a revocation is the
		 * index of its RevDetails. */
		for (i = 0; i < sk_CMP_PKISI_num(a->body->value.rp->status);
		     i++)
			if (ASN1_INTEGER_get(sk_CMP_PKISI_value(
				a->body->value.rp->status, i)->status) ==
			    CMP_STATUS_WAITING) {
				*id = i;
				return 1;
			}
		return 0;
	case CMP_BODY_POLLREP:
		if (sk_CMP_POLLREP_num(a->body->value.pollRep) < 1)
			return 0;
		*id = ASN1_INTEGER_get(sk_CMP_POLLREP_value(
		    a->body->value.pollRep, 0)->certReqId);
		return 1;
	default:
		return 0;
	}
}

int fuzz_stale_nonce;

/* The certificate the last transaction accepted in its certConf. */
static X509 *confirmed;

/* See fuzz_env.h. */
X509 *
fuzz_confirmed(void)
{
	return confirmed;
}

/* See fuzz_env.h. */
int
fuzz_follow_up(CMP_MSG *req, const CMP_MSG *a, unsigned how)
{
	CMP_CERTRESPONSE *cr = first_response(a);
	CMP_CERTSTATUS *cs = NULL;
	CMP_POLLREQ *pr = NULL;
	CMP_BODY *b = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	X509 *x = NULL;
	long id = 0;
	int waiting = fuzz_waiting(a, &id);

	if ((cr == NULL && !waiting) || (b = CMP_BODY_new()) == NULL)
		goto fail;
	if (cr != NULL && cr->certifiedKeyPair != NULL &&
	    cr->certifiedKeyPair->certOrEncCert->type == 0)
		x = cr->certifiedKeyPair->certOrEncCert->value.certificate;
	if (waiting || how % 6 == 5) {
		b->type = CMP_BODY_POLLREQ;
		if ((b->value.pollReq = sk_CMP_POLLREQ_new_null()) == NULL ||
		    (pr = CMP_POLLREQ_new()) == NULL ||
		    !ASN1_INTEGER_set(pr->certReqId, how % 6 == 5 ? 7
			: waiting ? id : ASN1_INTEGER_get(cr->certReqId)) ||
		    !sk_CMP_POLLREQ_push(b->value.pollReq, pr))
			goto fail;
		pr = NULL;
	} else if (x != NULL && how % 6 == 4) {
		/* The client gives up: an error message (RFC 9810 §5.3.21). */
		b->type = CMP_BODY_ERROR;
		if ((b->value.error = CMP_ERRORMSG_new()) == NULL ||
		    !ASN1_INTEGER_set(b->value.error->pKIStatusInfo->status,
			CMP_STATUS_REJECTION))
			goto fail;
	} else if (x != NULL) {
		b->type = CMP_BODY_CERTCONF;
		if ((b->value.certConf = sk_CMP_CERTSTATUS_new_null()) ==
			NULL ||
		    (cs = CMP_CERTSTATUS_new()) == NULL ||
		    !X509_digest(x, EVP_sha256(), md, &mdlen))
			goto fail;
		if (how % 6 == 2)
			md[0] ^= 1; /* wrong hash */
		if (!ASN1_OCTET_STRING_set(cs->certHash, md, (int)mdlen) ||
		    !ASN1_INTEGER_set(cs->certReqId, how % 6 == 3 ? 99
			: ASN1_INTEGER_get(cr->certReqId)))
			goto fail;
		if (how % 6 == 1 && ((cs->statusInfo = CMP_PKISI_new()) ==
			NULL || !ASN1_INTEGER_set(cs->statusInfo->status,
			CMP_STATUS_REJECTION)))
			goto fail;
		if (!sk_CMP_CERTSTATUS_push(b->value.certConf, cs))
			goto fail;
		cs = NULL;
		if (how % 6 == 0) {
			X509_free(confirmed);
			confirmed = X509_dup(x);
		}
	} else {
		goto fail;
	}
	CMP_BODY_free(req->body);
	req->body = b;
	ASN1_OCTET_STRING_free(req->header->recipNonce);
	req->header->recipNonce = ASN1_OCTET_STRING_dup(a->header->senderNonce);
	if (fuzz_stale_nonce && req->header->recipNonce != NULL &&
	    req->header->recipNonce->length > 0)
		req->header->recipNonce->data[0] ^= 1; /* not our last one */
	return fuzz_protect_again(req);
fail:
	CMP_POLLREQ_free(pr);
	CMP_CERTSTATUS_free(cs);
	CMP_BODY_free(b);
	return 0;
}

/* See fuzz_env.h. */
int
fuzz_decide(const CMP_MSG *req, unsigned how)
{
	static struct db *adb;
	const ASN1_OCTET_STRING *tid = req->header->transactionID;
	const char *ci = getenv("CMPCA_FUZZ_DB_ADMIN");
	struct db_pending *p = NULL;
	enum db_pending_status st;
	size_t n = 0, i;
	int decided = 0, rc;

	if (how % 4 == 0 || tid == NULL || ci == NULL)
		return 0;
	if (adb == NULL && (adb = db_open(ci)) == NULL)
		return 0;
	if (db_pending_list_by_txn(adb, tid->data, (size_t)tid->length, &p,
		&n) < 0) {
		db_close(adb); /* opened again at the next call */
		adb = NULL;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (p[i].status != DB_PENDING_PENDING)
			continue;
		/* 1: approve all; 2: reject all; 3: the first approved,
		 * the others rejected with the operator's text. */
		st = how % 4 == 1 || (how % 4 == 3 && decided == 0)
		    ? DB_PENDING_APPROVED : DB_PENDING_REJECTED;
		rc = db_pending_decide(adb, p[i].id, st,
		    st == DB_PENDING_REJECTED && how % 4 == 3
			? "fuzz: rejected by the operator" : NULL,
		    "fuzz", NULL);
		decided += rc == 1;
	}
	db_pending_array_free(p, n);
	return decided;
}

/* See fuzz_env.h. */
CMP_MSG *
fuzz_transact(CMP_MSG *req, unsigned how)
{
	unsigned char *der = NULL;
	CMP_MSG *a, *next;
	long id;
	int len, step;

	X509_free(confirmed);
	confirmed = NULL;
	if ((len = cmp_msg_encode(req, &der)) <= 0)
		return NULL;
	a = fuzz_serve(der, (size_t)len);
	OPENSSL_free(der);
	der = NULL;
	fuzz_signer_check(req, a);
	for (step = 0; step < 3; step++) {
		/* Left undecided: one poll (pollRep) is enough. */
		if (fuzz_waiting(a, &id) && fuzz_decide(req, how / 6) == 0 &&
		    step > 0)
			break;
		/* After the first, the certConf of a polled certificate:
		 * by how / 24, accepting, rejecting, wrong hash or id. */
		if (!fuzz_follow_up(req, a, step == 0 ? how : how / 24 % 5) ||
		    (len = cmp_msg_encode(req, &der)) <= 0)
			break;
		next = fuzz_serve(der, (size_t)len);
		OPENSSL_free(der);
		der = NULL;
		fuzz_signer_check(req, next);
		CMP_MSG_free(a);
		a = next;
	}
	fuzz_signer_settle();
	return a;
}

/* The inner messages of a nested body protected again (depth-bounded). */
static void
nested_again(CMP_MSG *m, int depth)
{
	ASN1_STRING *seq = m->body->value.other->value.sequence;
	const unsigned char *p = seq->data;
	unsigned char *der = NULL;
	STACK_OF(CMP_MSG) *sk;
	int len;

	if (depth > 3 || (sk = (STACK_OF(CMP_MSG) *)ASN1_item_d2i(NULL, &p,
	    seq->length, ASN1_ITEM_rptr(CMP_MSGS))) == NULL)
		return;
	for (int i = 0; i < sk_CMP_MSG_num(sk); i++) {
		CMP_MSG *in = sk_CMP_MSG_value(sk, i);

		if (in->body->type == CMP_BODY_NESTED &&
		    in->body->value.other->type == V_ASN1_SEQUENCE)
			nested_again(in, depth + 1);
		(void)fuzz_protect_again(in);
	}
	if ((len = ASN1_item_i2d((ASN1_VALUE *)sk, &der,
	    ASN1_ITEM_rptr(CMP_MSGS))) > 0)
		ASN1_STRING_set0(seq, der, len);
	sk_CMP_MSG_pop_free(sk, CMP_MSG_free);
}

/* See fuzz_env.h. */
int
fuzz_protect_again(CMP_MSG *m)
{
	if (m->body->type == CMP_BODY_NESTED &&
	    m->body->value.other->type == V_ASN1_SEQUENCE)
		nested_again(m, 0);
	if (m->header->protectionAlg == NULL) {
		fuzz_refresh(m);
		return 1;
	}
	if (cmp_alg_is_pbm(m->header->protectionAlg))
		return fuzz_reprotect(m);
	return fuzz_resign(m);
}
