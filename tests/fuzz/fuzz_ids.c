/*
 * fuzz_ids.c - the identities the engine targets sign with, so that
 * mutated signature-protected requests reach the handlers behind a valid
 * signature (see fuzz_env.h):
 * - an end entity of the stack's CA, enrolled through the engine itself
 *   (ir, certConf) and enrolled again when an rr or kur may have revoked
 *   or replaced it;
 * - two registered RAs: end entities enrolled the same way and entered
 *   in the ra table (RFC 9483 §5: nested requests, raVerified POP, other
 *   subjects), one with the profile default, one with the stack's profile
 *   approval, whose requests wait for an operator (pollReq, RFC 9483
 *   §4.4);
 * - a registered cross-certification partner: a self-signed CA entered
 *   in the partner table (ccr, RFC 9810 §5.3.11);
 * - an end entity whose certificate has the profile approval: requested
 *   by the approval RA, approved as the operator would (fuzz_decide),
 *   fetched with pollReq and confirmed, so that its rr and kur wait for
 *   the operator too and their polls end in rp and kup;
 * - an end entity brokered by the nesting RA identity fuzz-nestmac (its
 *   ir and certConf nested upstream to the stack's CA), so that its
 *   signed kur and cr at that RA go upstream in nested too; and one
 *   brokered by fuzz-up (re-protected upstream), whose signed requests
 *   fuzz-up, which does not sign upstream, refuses to nest or revokes.
 * Their names end in the process id: targets running at the same time
 * on one stack keep their own rows. Registration needs a database role
 * that may write those tables:
 * CMPCA_FUZZ_DB_ADMIN (scripts/fuzz passes the stack's owner conninfo);
 * without it the RA and partner sign as unregistered certificates.
 * All three use the mutator's fixed P-256 key, so the POPs of stored
 * inputs stay valid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca/issue/issue.h"
#include "db/db.h"
#include "tests/fuzz/cmp_mutate.h"
#include "tests/fuzz/fuzz_env.h"
#include "tests/fuzz/mut_int.h"

static struct fuzz_id {
	const char *subject;
	X509 *cert;
	STACK_OF(X509) *chain; /* the rest of extraCerts */
	int stale;	       /* 1: enroll again before use; 2: after
				* the transaction under way */
	X509 *prev;	       /* the one before (revoked, renewed) */
} ids[FUZZ_WHO_N] = {
	{ "/CN=fuzz-signer", NULL, NULL, 1, NULL },
	{ "/CN=fuzz-ra", NULL, NULL, 1, NULL },
	{ "/CN=fuzz-ra-approval", NULL, NULL, 1, NULL },
	{ "/O=cmpca fuzz/CN=Partner CA", NULL, NULL, 1, NULL },
	{ "/CN=fuzz-signer-approval", NULL, NULL, 1, NULL },
	{ "/CN=fuzz-signer-nested", NULL, NULL, 1, NULL },
	{ "/CN=fuzz-signer-up", NULL, NULL, 1, NULL },
};

/* *g becomes a directoryName of n. Returns 1 or 0. */
static int
dirname_set(GENERAL_NAME **g, const X509_NAME *n)
{
	X509_NAME *d = X509_NAME_dup(n);

	GENERAL_NAME_free(*g);
	*g = NULL;
	if (d == NULL || (*g = GENERAL_NAME_new()) == NULL) {
		X509_NAME_free(d);
		return 0;
	}
	GENERAL_NAME_set0_value(*g, GEN_DIRNAME, d);
	return 1;
}

/* See fuzz_env.h. */
CMP_MSG *
fuzz_request(int type, const char *subject)
{
	unsigned char id[16] = "fuzz-request-id";
	CMP_MSG *m = CMP_MSG_new();
	CRMF_CERTREQMSG *crm = CRMF_CERTREQMSG_new();
	X509_NAME *subj = ca_name_parse(subject);
	X509_NAME *empty = X509_NAME_new();
	CRMF_CERTTEMPLATE *t;
	EVP_PKEY *key = mut_key(0);

	if (m == NULL || crm == NULL || subj == NULL || empty == NULL)
		goto fail;
	t = crm->certReq->certTemplate;
	if (!ASN1_INTEGER_set(m->header->pvno, 2) ||
	    !dirname_set(&m->header->sender, subj) ||
	    !dirname_set(&m->header->recipient, empty) ||
	    (m->header->transactionID = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(m->header->transactionID, id, 16) ||
	    (m->header->senderNonce = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(m->header->senderNonce, id, 16) ||
	    (m->header->messageTime = ASN1_GENERALIZEDTIME_set(NULL,
		time(NULL))) == NULL ||
	    !ASN1_INTEGER_set(crm->certReq->certReqId, 0) ||
	    (t->subject = X509_NAME_dup(subj)) == NULL ||
	    !cmp_spki_set(&t->publicKey, key) ||
	    (crm->popo = CRMF_POPO_new()) == NULL)
		goto fail;
	crm->popo->type = CRMF_POPO_SIGNATURE;
	if ((crm->popo->value.signature = CRMF_POPOSIGNINGKEY_new()) == NULL ||
	    ASN1_item_sign(ASN1_ITEM_rptr(CRMF_CERTREQUEST),
		crm->popo->value.signature->algorithmIdentifier, NULL,
		crm->popo->value.signature->signature, crm->certReq, key,
		EVP_sha256()) <= 0)
		goto fail;
	m->body->type = type;
	if ((m->body->value.ir = sk_CRMF_CERTREQMSG_new_null()) == NULL ||
	    !sk_CRMF_CERTREQMSG_push(m->body->value.ir, crm))
		goto fail;
	X509_NAME_free(subj);
	X509_NAME_free(empty);
	return m;
fail:
	CRMF_CERTREQMSG_free(crm);
	X509_NAME_free(subj);
	X509_NAME_free(empty);
	CMP_MSG_free(m);
	return NULL;
}

/* Sets m's protectionAlg to ECDSA with SHA-256 (the identities' key):
 * fuzz_protect_again then signs instead of MACing. */
static void
sig_alg_set(CMP_MSG *m)
{
	X509_ALGOR_free(m->header->protectionAlg);
	if ((m->header->protectionAlg = X509_ALGOR_new()) != NULL)
		(void)X509_ALGOR_set0(m->header->protectionAlg,
		    OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL);
}

/* Adds subjectAltName san to the first request of m and signs its POP
 * again. Returns 1 or 0. */
static int
san_add(CMP_MSG *m, const char *san)
{
	CRMF_CERTREQMSG *crm = sk_CRMF_CERTREQMSG_value(m->body->value.ir, 0);
	CRMF_CERTTEMPLATE *t = crm->certReq->certTemplate;
	X509_EXTENSION *e;
	int ok;

	if ((e = X509V3_EXT_nconf(NULL, NULL, "subjectAltName", san)) == NULL)
		return 0;
	if (t->extensions == NULL)
		t->extensions = sk_X509_EXTENSION_new_null();
	ok = t->extensions != NULL && sk_X509_EXTENSION_push(t->extensions, e);
	if (!ok)
		X509_EXTENSION_free(e);
	mut_crm_fix(crm, 1);
	return ok;
}

/*
 * An end entity certificate for id through the engine: ir (MAC, or for
 * FUZZ_EE_WAIT signed by the approval RA, approved and polled for),
 * certConf; FUZZ_EE_NEST's at the RA fuzz-nestmac, nested upstream,
 * FUZZ_EE_UP's at fuzz-up.
 */
static int
enroll(int who, struct fuzz_id *id)
{
	CMP_MSG *m = NULL, *a = NULL, *c = NULL, *next;
	CMP_CERTRESPONSE *cr;
	unsigned char *der = NULL;
	long rid;
	int len, ok = 0, polls = 0;
	/* At the default CA with its secret, whatever the input asks
	 * (FUZZ_EE_NEST: at fuzz-nestmac, FUZZ_EE_UP: at fuzz-up), the
	 * upstream's answers as they come. */
	const char *label = fz.label;
	unsigned twist = fuzz_up_twist;
	int ra = who == FUZZ_EE_NEST || who == FUZZ_EE_UP;
	int was_up = fuzz_upstream(who == FUZZ_EE_NEST ? 3
	    : who == FUZZ_EE_UP ? 1 : 0);

	fuzz_up_twist = 0;
	if (!ra)
		fz.label = NULL;
	else if (was_up < 0)
		goto out;

	if ((m = fuzz_request(CMP_BODY_IR, id->subject)) == NULL)
		goto out;
	/* The end entities get the names the seeds' templates carry (a
	 * certificate of ours asks for its own names only). */
	if ((who == FUZZ_EE || who == FUZZ_EE_WAIT || ra) &&
	    !san_add(m, "DNS:a.example,IP:127.0.0.1"))
		goto out;
	if (who == FUZZ_EE_WAIT) {
		if (!fuzz_sender_set(m, FUZZ_RA_WAIT))
			goto out;
		sig_alg_set(m);
		if (!fuzz_protect_again(m))
			goto out;
	} else if (!fuzz_kid_set(m) || !fuzz_reprotect(m))
		goto out;
	if ((len = cmp_msg_encode(m, &der)) <= 0)
		goto out;
	a = fuzz_serve(der, (size_t)len);
	OPENSSL_free(der);
	der = NULL;
	/* Waiting for the operator: approve, poll. */
	while (fuzz_waiting(a, &rid) && polls++ < 2) {
		if (fuzz_decide(m, 1) < 0 || !fuzz_follow_up(m, a, 0) ||
		    (len = cmp_msg_encode(m, &der)) <= 0)
			goto out;
		next = fuzz_serve(der, (size_t)len);
		OPENSSL_free(der);
		der = NULL;
		CMP_MSG_free(a);
		a = next;
	}
	if (a->body->type != CMP_BODY_IP ||
	    sk_CMP_CERTRESPONSE_num(a->body->value.ip->response) != 1)
		goto out;
	cr = sk_CMP_CERTRESPONSE_value(a->body->value.ip->response, 0);
	if (cr->certifiedKeyPair == NULL ||
	    cr->certifiedKeyPair->certOrEncCert->type != 0)
		goto out;
	id->cert = X509_dup(
	    cr->certifiedKeyPair->certOrEncCert->value.certificate);
	id->chain = X509_chain_up_ref(a->extraCerts);
	if (fuzz_follow_up(m, a, 0) && (len = cmp_msg_encode(m, &der)) > 0)
		c = fuzz_serve(der, (size_t)len);
	ok = id->cert != NULL && c != NULL &&
	    c->body->type == CMP_BODY_PKICONF;
out:
	if (was_up >= 0)
		(void)fuzz_upstream(was_up);
	fz.label = label;
	fuzz_up_twist = twist;
	OPENSSL_free(der);
	CMP_MSG_free(c);
	CMP_MSG_free(a);
	CMP_MSG_free(m);
	return ok;
}

/* A self-signed CA certificate for subject with the mutator's P-256
 * key, or NULL. */
static X509 *
self_signed(const char *subject)
{
	X509_NAME *n = ca_name_parse(subject);
	X509_EXTENSION *e = NULL;
	EVP_PKEY *key = mut_key(0);
	X509V3_CTX ctx;
	X509 *x = X509_new();
	int ok;

	ok = x != NULL && n != NULL && X509_set_version(x, X509_VERSION_3) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL)) &&
	    X509_set_issuer_name(x, n) && X509_set_subject_name(x, n) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 3650) != NULL &&
	    X509_set_pubkey(x, key);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ok = ok && (e = X509V3_EXT_nconf(NULL, &ctx, "basicConstraints",
	    "critical,CA:TRUE")) != NULL && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	e = NULL;
	ok = ok && (e = X509V3_EXT_nconf(NULL, &ctx, "subjectKeyIdentifier",
	    "hash")) != NULL && X509_add_ext(x, e, -1) &&
	    X509_sign(x, key, EVP_sha256()) > 0;
	X509_EXTENSION_free(e);
	X509_NAME_free(n);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The partner's certificate (self-signed, registered later). */
static int
partner_cert(struct fuzz_id *id)
{
	if ((id->cert = self_signed(id->subject)) == NULL)
		return 0;
	id->chain = sk_X509_new_null();
	return id->chain != NULL;
}

/* Enters id's certificate in the ra or partner table. */
static void
register_id(int who, struct fuzz_id *id)
{
	const char *ci = getenv("CMPCA_FUZZ_DB_ADMIN");
	unsigned char *der = NULL;
	unsigned int hl = 0;
	struct db_ca ca;
	struct db *db;
	int len;

	if (ci == NULL || (db = db_open(ci)) == NULL)
		return;
	memset(&ca, 0, sizeof(ca));
	if (db_ensure(db) != 1 || (len = i2d_X509(id->cert, &der)) <= 0)
		goto out;
	if (who == FUZZ_RA || who == FUZZ_RA_WAIT) {
		struct db_ra ra = { 0 };

		snprintf(ra.name, sizeof(ra.name), "%s-%ld",
		    who == FUZZ_RA ? "fuzz-ra" : "fuzz-ra-approval",
		    (long)getpid());
		snprintf(ra.profile, sizeof(ra.profile), "%s",
		    who == FUZZ_RA ? "default" : "approval");
		ra.cert = der;
		ra.cert_len = (size_t)len;
		ra.subject = (char *)(who == FUZZ_RA ? "CN=fuzz-ra"
						     : "CN=fuzz-ra-approval");
		(void)X509_digest(id->cert, EVP_sha256(), ra.cert_sha256, &hl);
		if (db_ra_insert(db, &ra) == 0 &&
		    (db_ra_delete(db, ra.name) != 1 ||
			db_ra_insert(db, &ra) != 1))
			log_err("fuzz: cannot register the RA");
	} else if (db_ca_get_by_label(db, fz.cfg->default_ca != NULL
		       ? fz.cfg->default_ca : "demo", &ca) == 1) {
		struct db_partner p = { 0 };

		snprintf(p.name, sizeof(p.name), "fuzz-partner-%ld",
		    (long)getpid());
		p.ca_id = ca.id;
		p.cert = der;
		p.cert_len = (size_t)len;
		p.subject = (char *)"CN=Partner CA,O=cmpca fuzz";
		p.path_len = -1;
		p.require_explicit = -1;
		p.inhibit_mapping = -1;
		p.days = 30;
		(void)X509_digest(id->cert, EVP_sha256(), p.cert_sha256, &hl);
		if (db_partner_insert(db, &p) == 0 &&
		    (db_partner_delete(db, p.name) != 1 ||
			db_partner_insert(db, &p) != 1))
			log_err("fuzz: cannot register the partner");
	}
out:
	db_ca_clear(&ca);
	OPENSSL_free(der);
	db_close(db);
}

/* id, ready to sign: (re-)enrolled and registered. NULL on failure. */
static struct fuzz_id *
id_get(int who)
{
	struct fuzz_id *id = &ids[who];
	int ok;

	if (!(id->stale & 1))
		return id; /* 2: after the transaction (fuzz_signer_settle) */
	if (id->cert != NULL) {
		X509_free(id->prev);
		id->prev = id->cert;
	}
	id->cert = NULL;
	sk_X509_pop_free(id->chain, X509_free);
	id->chain = NULL;
	ok = who == FUZZ_PARTNER ? partner_cert(id) : enroll(who, id);
	if (!ok) {
		log_err("fuzz: cannot make the identity %s", id->subject);
		return NULL;
	}
	if (who != FUZZ_EE && who != FUZZ_EE_WAIT && who != FUZZ_EE_NEST &&
	    who != FUZZ_EE_UP)
		register_id(who, id);
	cmp_mutate_pool_add(id->cert);
	id->stale = 0;
	return id;
}

/* See fuzz_env.h. */
X509 *
fuzz_id_cert(int who)
{
	struct fuzz_id *id = id_get(who);

	return id != NULL ? id->cert : NULL;
}

/* Which identity m's sender names (the end entity if none). */
static int
who_of(const CMP_MSG *m)
{
	const GENERAL_NAME *s = m->header->sender;

	if (m->body->type == CMP_BODY_NESTED)
		return FUZZ_RA;
	for (int w = 0; w < FUZZ_WHO_N; w++)
		if (ids[w].cert != NULL && s != NULL &&
		    s->type == GEN_DIRNAME &&
		    X509_NAME_cmp(s->d.directoryName,
			X509_get_subject_name(ids[w].cert)) == 0)
			return w;
	if (m->body->type == CMP_BODY_CCR)
		return FUZZ_PARTNER;
	return FUZZ_EE;
}

/* Signs ProtectedPart with the identities' key under protectionAlg
 * (made anew). Returns 1 or 0. */
static int
sign_pp(CMP_MSG *m)
{
	CMP_PROTECTEDPART pp;

	X509_ALGOR_free(m->header->protectionAlg);
	if ((m->header->protectionAlg = X509_ALGOR_new()) == NULL ||
	    (m->protection == NULL &&
		(m->protection = ASN1_BIT_STRING_new()) == NULL))
		return 0;
	pp.header = m->header;
	pp.body = m->body;
	return ASN1_item_sign(ASN1_ITEM_rptr(CMP_PROTECTEDPART),
	    m->header->protectionAlg, NULL, m->protection, &pp, mut_key(0),
	    EVP_sha256()) > 0;
}

/* Signs m as the holder of cert: sender, senderKID and extraCerts (cert,
 * then chain) follow. Returns 1 or 0. */
static int
sign_as(CMP_MSG *m, X509 *cert, STACK_OF(X509) *chain)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cert);
	int i;

	ASN1_OCTET_STRING_free(m->header->senderKID);
	m->header->senderKID = ski != NULL ? ASN1_OCTET_STRING_dup(ski) : NULL;
	if (!dirname_set(&m->header->sender, X509_get_subject_name(cert)))
		return 0;
	sk_X509_pop_free(m->extraCerts, X509_free);
	if ((m->extraCerts = sk_X509_new_null()) == NULL ||
	    !X509_up_ref(cert) || !sk_X509_push(m->extraCerts, cert))
		return 0;
	for (i = 0; i < sk_X509_num(chain); i++)
		if (X509_up_ref(sk_X509_value(chain, i)) &&
		    !sk_X509_push(m->extraCerts, sk_X509_value(chain, i)))
			X509_free(sk_X509_value(chain, i));
	return sign_pp(m);
}

/* See fuzz_env.h. */
int
fuzz_resign(CMP_MSG *m)
{
	struct fuzz_id *id;

	if ((id = id_get(who_of(m))) == NULL)
		return 0;
	fuzz_refresh(m);
	return sign_as(m, id->cert, id->chain);
}

/* See fuzz_env.h. */
void
fuzz_flaw(CMP_MSG *m, unsigned flaw)
{
	static X509 *stranger;
	struct fuzz_id *id;
	X509_NAME *n;

	if (m->header->protectionAlg == NULL || m->protection == NULL)
		return;
	if (cmp_alg_is_pbm(m->header->protectionAlg)) {
		switch (flaw % 3) {
		case 0: /* no senderKID */
			ASN1_OCTET_STRING_free(m->header->senderKID);
			m->header->senderKID = NULL;
			(void)fuzz_reprotect(m);
			break;
		case 1: /* the reference of a secret of another CA */
			ASN1_OCTET_STRING_free(m->header->senderKID);
			m->header->senderKID = ASN1_OCTET_STRING_new();
			if (m->header->senderKID != NULL)
				(void)ASN1_OCTET_STRING_set(
				    m->header->senderKID,
				    (const unsigned char *)"fuzz-up", 7);
			(void)fuzz_reprotect(m);
			break;
		default: /* a MAC that does not verify */
			if (m->protection->length > 0)
				m->protection->data[0] ^= 0x01;
			break;
		}
		return;
	}
	switch (flaw % 6) {
	case 0: /* no protection certificate */
		sk_X509_pop_free(m->extraCerts, X509_free);
		m->extraCerts = NULL;
		break;
	case 1: /* senderKID of another key */
		ASN1_OCTET_STRING_free(m->header->senderKID);
		if ((m->header->senderKID = ASN1_OCTET_STRING_new()) != NULL)
			(void)ASN1_OCTET_STRING_set(m->header->senderKID,
			    (const unsigned char *)"fuzz-another-kid", 16);
		(void)sign_pp(m);
		break;
	case 2: /* a signature that does not verify */
		if (m->protection->length > 0)
			m->protection->data[m->protection->length / 2] ^= 0x01;
		break;
	case 3: /* a certificate that chains to nothing we trust */
		if (stranger == NULL)
			stranger = self_signed("/CN=fuzz-stranger");
		if (stranger != NULL)
			(void)sign_as(m, stranger, NULL);
		break;
	case 4: /* the signer's earlier certificate (revoked, renewed) */
		id = &ids[who_of(m)];
		if (id->prev != NULL)
			(void)sign_as(m, id->prev, id->chain);
		break;
	default: /* a sender that is not the certificate's subject */
		if ((n = ca_name_parse("/CN=fuzz-nobody")) != NULL &&
		    dirname_set(&m->header->sender, n))
			(void)sign_pp(m);
		X509_NAME_free(n);
		break;
	}
}

/* Did answer a accept something: a revocation (rp) or a new
 * certificate for an old one (kup)? */
static int
accepted(const CMP_MSG *a)
{
	int i;

	if (a->body->type == CMP_BODY_RP) {
		for (i = 0;
		     i < sk_CMP_PKISI_num(a->body->value.rp->status); i++)
			if (ASN1_INTEGER_get(sk_CMP_PKISI_value(
				a->body->value.rp->status, i)->status) ==
			    CMP_STATUS_ACCEPTED)
				return 1;
	} else if (a->body->type == CMP_BODY_KUP) {
		for (i = 0; i < sk_CMP_CERTRESPONSE_num(a->body->value.kup->
		    response); i++)
			if (ASN1_INTEGER_get(sk_CMP_CERTRESPONSE_value(
				a->body->value.kup->response, i)->status->
				status) == CMP_STATUS_ACCEPTED)
				return 1;
	}
	return 0;
}

/* See fuzz_env.h. */
void
fuzz_signer_check(const CMP_MSG *req, const CMP_MSG *a)
{
	/* An accepted rr or kur (or the poll that ended a waiting one) may
	 * have revoked a certificate we sign with; a waiting one not yet
	 * (its poll must come from the same signer). */
	if (accepted(a)) {
		ids[who_of(req)].stale |= 2;
		ids[FUZZ_EE].stale |= 2; /* an RA may have revoked it */
		ids[FUZZ_EE_WAIT].stale |= 2;
	}
}

/* See fuzz_env.h. */
void
fuzz_signer_settle(void)
{
	for (int w = 0; w < FUZZ_WHO_N; w++)
		if (ids[w].stale & 2)
			ids[w].stale = 1;
}

/* See fuzz_env.h. */
X509 *
fuzz_id_prev(int who)
{
	return ids[who].prev;
}

/* See fuzz_env.h. */
X509 *
fuzz_id_revoked(int who, int reason)
{
	char hex[DB_SERIAL_MAX];
	struct db_cert row;
	struct db_ca ca;
	X509 *x;
	int ok;

	ids[who].stale = 1; /* a certificate no answer has cached yet */
	if ((x = fuzz_id_cert(who)) == NULL || fz.db == NULL)
		return x;
	memset(&ca, 0, sizeof(ca));
	memset(&row, 0, sizeof(row));
	ok = ca_serial_hex(X509_get0_serialNumber(x), hex, sizeof(hex)) &&
	    db_ca_get_by_label(fz.db, fz.cfg->default_ca != NULL
		? fz.cfg->default_ca : "demo", &ca) == 1 &&
	    db_cert_get_by_serial(fz.db, ca.id, hex, &row) == 1 &&
	    db_cert_set_status(fz.db, row.id, 1u << DB_CERT_VALID,
		DB_CERT_REVOKED, reason) == 1;
	if (!ok)
		log_err("fuzz: cannot revoke %s", ids[who].subject);
	db_cert_clear(&row);
	db_ca_clear(&ca);
	ids[who].stale = 1; /* made again at its next use */
	return x;
}

/* See fuzz_env.h. */
int
fuzz_sender_set(CMP_MSG *m, int who)
{
	X509 *x = fuzz_id_cert(who);

	return x != NULL &&
	    dirname_set(&m->header->sender, X509_get_subject_name(x));
}
