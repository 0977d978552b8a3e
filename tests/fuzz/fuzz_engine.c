/*
 * fuzz_engine - libFuzzer target: the whole CMP engine in process
 * (cmp_srv_process: decode, CA lookup, header checks, protection,
 * dispatch, database, HSM signing, response), with the real PostgreSQL
 * and SoftHSM of a stack that scripts/fuzz brings up (no cmpcad traffic,
 * the stack's configuration, token and database are only borrowed).
 *
 * Mutation is structure-aware (cmp_mutate.c): the input is decoded as a
 * PKIMessage, fields change, and the message is protected again before
 * it is stored, so that mutations reach the body handlers instead of
 * dying at the protection check. At run time every decodable input is
 * protected again the way it was (fuzz_protect_again): a PBM under the
 * stack's enrollment secret, or a signature by an end entity the target
 * enrolls for itself (so cmp_sig.c, kur and rr are reached), with a fresh
 * senderNonce and messageTime (the engine refuses replays and stale
 * clocks; the stack's secret and CA differ per run); one signed input in
 * sixteen then has its signature spoilt (fuzz_flaw), and one input in
 * sixteen goes to the stack's RA identity fuzz-up instead, which forwards
 * it to the stack's daemon (RA mode, cmp_upstream.c), whose answers
 * the high half of that byte twists (fuzz_up.c), or under fuzz-up's
 * approval secret, so that the RA's operator decides first; a device
 * may then revoke what came back through it. Two single selector values
 * send a MAC under a secret with one use (and the request again), or
 * the second message with a stale recipNonce; 0x2b to 0xab follow a
 * transaction that confirmed a certificate with a krr for it (its key
 * archived when the CA generated it, cmp_krr.c), and 0xa sends the input
 * to a nesting RA identity (cmp_upstream_nest.c), 0xbb under its secret
 * of the profile approval. Undecodable inputs,
 * and a quarter of the others first, are served as they are. An answer
 * carrying a certificate is followed by the second message of the
 * transaction - a certConf (right, rejecting, wrong hash, wrong
 * certReqId) or a pollReq, chosen by the input's last byte - so that
 * cmp_certconf.c and cmp_poll.c see live transactions; a request that
 * waits for the operator is decided (approved, rejected, partly, or
 * left), polled for, and its certificate confirmed (fuzz_transact).
 *
 * Environment (from $CMPCA_VAR/stack.env): CMPCA_CONF, SOFTHSM2_CONF,
 * CMPCA_HSM_LOCK, CMPCA_FUZZ_SECRET_FILE (the secret of reference
 * CMPCA_FUZZ_REF, default "demo"); scripts/fuzz adds the others
 * (fuzz_env.h). The selectors are listed in docs/hacking.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "db/db.h"
#include "tests/fuzz/cmp_mutate.h"
#include "tests/fuzz/fuzz_env.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_env_init("fuzz_engine", FUZZ_ENV_SRV);
	cmp_mutate_finish = fuzz_protect_again;
	return 0;
}

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed)
{
	return cmp_mutate(data, size, max, seed);
}

/*
 * m's body becomes a krr (RFC 9810 §5.3.8) for x: one CertReqMsg whose
 * template names x's serialNumber and issuer. Returns 1 or 0.
 */
static int
krr_set(CMP_MSG *m, X509 *x)
{
	STACK_OF(CRMF_CERTREQMSG) *sk = sk_CRMF_CERTREQMSG_new_null();
	CRMF_CERTREQMSG *crm = CRMF_CERTREQMSG_new();
	ASN1_STRING *seq = ASN1_STRING_new();
	CMP_BODY *b = CMP_BODY_new();
	CRMF_CERTTEMPLATE *t;
	unsigned char *der = NULL;
	int len;

	if (sk == NULL || crm == NULL || seq == NULL || b == NULL ||
	    (b->value.other = ASN1_TYPE_new()) == NULL ||
	    !ASN1_INTEGER_set(crm->certReq->certReqId, 0))
		goto fail;
	t = crm->certReq->certTemplate;
	if ((t->serialNumber = ASN1_INTEGER_dup(
		 X509_get0_serialNumber(x))) == NULL ||
	    (t->issuer = X509_NAME_dup(X509_get_issuer_name(x))) == NULL ||
	    !sk_CRMF_CERTREQMSG_push(sk, crm))
		goto fail;
	crm = NULL;
	if ((len = ASN1_item_i2d((ASN1_VALUE *)sk, &der,
		 ASN1_ITEM_rptr(CMP_CERTREQMSGS))) <= 0)
		goto fail;
	ASN1_STRING_set0(seq, der, len);
	ASN1_TYPE_set(b->value.other, V_ASN1_SEQUENCE, seq);
	seq = NULL;
	b->type = CMP_BODY_KRR;
	CMP_BODY_free(m->body);
	m->body = b;
	sk_CRMF_CERTREQMSG_pop_free(sk, CRMF_CERTREQMSG_free);
	return 1;
fail:
	CRMF_CERTREQMSG_free(crm);
	sk_CRMF_CERTREQMSG_pop_free(sk, CRMF_CERTREQMSG_free);
	ASN1_STRING_free(seq);
	CMP_BODY_free(b);
	return 0;
}

/*
 * By bits of sel, makes m about the identities' own certificates: 0x20
 * an rr revokes the end entity's, a kur renews it, a ccr comes from the
 * partner for its own name and key; 0x10 the request comes from a
 * registered RA (signed by it, for any subject; an rr of the end
 * entity's certificate). With 0x08 the RA is the one whose profile waits
 * for approval, and the end entity the one it enrolled under that
 * profile, so its revocations and renewals wait for the operator too
 * (fuzz_transact then decides and polls). A krr then names that
 * certificate (the holder's own, or the RA's for one in its scope). ee
 * (when not -1) is the end entity instead: the one an RA identity
 * brokered (FUZZ_EE_NEST, FUZZ_EE_UP).
 */
static void
bind(CMP_MSG *m, unsigned sel, int prev, int ee)
{
	int type = m->body->type, owner, who;
	X509 *x;

	if (!(sel & 0x30))
		return;
	owner = type == CMP_BODY_CCR ? FUZZ_PARTNER
	    : ee >= 0 ? ee
	    : (sel & 0x08) ? FUZZ_EE_WAIT : FUZZ_EE;
	who = (sel & 0x10) && type != CMP_BODY_CCR
	    ? ((sel & 0x08) ? FUZZ_RA_WAIT : FUZZ_RA) : owner;
	if ((sel & 0x20) || (who != owner && type == CMP_BODY_RR)) {
		if ((x = fuzz_id_cert(owner)) == NULL)
			return;
		if (prev && fuzz_id_prev(owner) != NULL)
			x = fuzz_id_prev(owner); /* revoked or renewed */
		if (type == CMP_BODY_KRR)
			(void)krr_set(m, x);
		else
			cmp_mutate_bind(m, x);
	}
	/* Signed by who (fuzz_protect_again then signs). */
	if (fuzz_sender_set(m, who)) {
		X509_ALGOR_free(m->header->protectionAlg);
		if ((m->header->protectionAlg = X509_ALGOR_new()) != NULL)
			(void)X509_ALGOR_set0(m->header->protectionAlg,
			    OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF,
			    NULL);
	}
}

/*
 * By the high half k of the last byte but one, when its low half is 0xd:
 * the request goes to the stack's second CA or to a CA that does not
 * exist, or the engine loses its keys (HSM loss) or is made anew first.
 */
static void
endpoint(CMP_MSG *m, unsigned k)
{
	X509_NAME *empty;

	switch (k % 4) {
	case 0:
		/* Addressed to any CA (an empty recipient), so that the
		 * second CA's own checks are reached. */
		fz.label = "fuzz-second";
		if ((empty = X509_NAME_new()) == NULL)
			break;
		GENERAL_NAME_free(m->header->recipient);
		if ((m->header->recipient = GENERAL_NAME_new()) == NULL) {
			X509_NAME_free(empty);
			break;
		}
		GENERAL_NAME_set0_value(m->header->recipient, GEN_DIRNAME,
		    empty);
		break;
	case 1:
		fz.label = "no-such-ca";
		break;
	case 2:
		cmp_srv_keys_drop(fz.srv);
		break;
	default:
		fuzz_srv_restart();
		break;
	}
}

/*
 * m becomes an rr of x (its issuer and serial, no reason), a new
 * transaction under the same credential, and is served: at fuzz-up, the
 * device revokes the certificate the RA brokered for it
 * (cmp_upstream_rr.c). Returns the answer or NULL.
 */
static CMP_MSG *
revoke(CMP_MSG *m, X509 *x)
{
	CMP_REVDETAILS *d = NULL;
	CMP_BODY *b = CMP_BODY_new();

	if (b == NULL || (b->value.rr = sk_CMP_REVDETAILS_new_null()) == NULL ||
	    (d = CMP_REVDETAILS_new()) == NULL ||
	    (d->certDetails->serialNumber =
		ASN1_INTEGER_dup(X509_get0_serialNumber(x))) == NULL ||
	    (d->certDetails->issuer =
		X509_NAME_dup(X509_get_issuer_name(x))) == NULL ||
	    !sk_CMP_REVDETAILS_push(b->value.rr, d)) {
		CMP_REVDETAILS_free(d);
		CMP_BODY_free(b);
		return NULL;
	}
	b->type = CMP_BODY_RR;
	CMP_BODY_free(m->body);
	m->body = b;
	ASN1_OCTET_STRING_free(m->header->recipNonce);
	m->header->recipNonce = NULL;
	if (!fuzz_protect_again(m))
		return NULL;
	return fuzz_transact(m, 0);
}

/*
 * Edits the archived key of x in the database as the stack's owner
 * (CMPCA_FUZZ_DB_OWNER), the way a damaged or tampered database would
 * hold it: gone (what 0), or the blob of another certificate's key (1),
 * which the HSM does not open under x's serial. Returns 1 or 0.
 */
static int
arch_edit(X509 *x, int what)
{
	static struct db *adb;
	const char *ci = getenv("CMPCA_FUZZ_DB_OWNER");
	char serial[DB_SERIAL_MAX], sql[512];
	int ok;

	if (ci == NULL ||
	    !ca_serial_hex(X509_get0_serialNumber(x), serial, sizeof(serial)))
		return 0;
	if (adb == NULL && (adb = db_open(ci)) == NULL)
		return 0;
	/* serial is hex digits. */
	if (what == 0)
		snprintf(sql, sizeof(sql), "DELETE FROM key_archive WHERE "
		    "cert_id IN (SELECT id FROM cert WHERE serial = '%s')",
		    serial);
	else
		snprintf(sql, sizeof(sql), "UPDATE key_archive k SET wrapped "
		    "= coalesce((SELECT o.wrapped FROM key_archive o WHERE "
		    "o.cert_id <> k.cert_id LIMIT 1), k.wrapped) WHERE "
		    "k.cert_id IN (SELECT id FROM cert WHERE serial = '%s')",
		    serial);
	if (!(ok = db_exec_unsafe(adb, sql) == 1)) {
		log_err("fuzz: cannot edit the archived key: %s",
		    db_error(adb));
		db_close(adb); /* opened again at the next call */
		adb = NULL;
	}
	return ok;
}

/*
 * After a transaction that confirmed x (centrally generated keys are
 * archived: archive_keys in scripts/fuzz's profile), m becomes a krr for
 * x in a new transaction, by how % 6: under the same credential (the
 * secret that obtained it), signed by the registered RA (its scope by
 * ra_revoke_scope), by the end entity (another subject), under the
 * single-use secret (another scope), by the RA with ra_revoke_scope
 * profile or any; 6 and 7 under the same credential with the archived
 * key gone or another's (arch_edit), 8 the same krr twice (a replay).
 * Returns the answer or NULL.
 */
static CMP_MSG *
recover(CMP_MSG *m, X509 *x, unsigned how)
{
	unsigned char *der = NULL;
	int once = 0, len;
	CMP_MSG *a;

	if (!krr_set(m, x))
		return NULL;
	ASN1_OCTET_STRING_free(m->header->recipNonce);
	m->header->recipNonce = NULL;
	/* A new transaction: fuzz_refresh() makes the transactionID new. */
	switch (how) {
	case 6:
	case 7:
		(void)arch_edit(x, how == 7);
		break;
	case 8:
		if (!fuzz_protect_again(m) || (len = cmp_msg_encode(m, &der)) <= 0)
			return NULL;
		CMP_MSG_free(fuzz_serve(der, (size_t)len));
		a = fuzz_serve(der, (size_t)len);
		OPENSSL_free(der);
		return a;
	case 4:
	case 5:
		/* The caller restores the scope. */
		fz.cfg->ra_revoke_scope = how == 4 ? CFG_RA_REVOKE_PROFILE
						       : CFG_RA_REVOKE_ANY;
		/* FALLTHROUGH */
	case 1:
	case 2:
		if (!fuzz_sender_set(m, how == 2 ? FUZZ_EE : FUZZ_RA))
			return NULL;
		X509_ALGOR_free(m->header->protectionAlg);
		if ((m->header->protectionAlg = X509_ALGOR_new()) == NULL)
			return NULL;
		(void)X509_ALGOR_set0(m->header->protectionAlg,
		    OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL);
		break;
	case 3:
		once = fz.label == NULL &&
		    cmp_alg_is_pbm(m->header->protectionAlg) && fuzz_once(1);
		if (once)
			(void)fuzz_kid_set(m);
		break;
	}
	a = fuzz_protect_again(m) ? fuzz_transact(m, 0) : NULL;
	if (once)
		(void)fuzz_once(0);
	return a;
}

/* The twists (fuzz_env.h) of nested answers at fuzz-nestmac by the high
 * half of the selector (0x0a to 0xea; 0xfa: fuzz-nest, as answered). */
static const unsigned nest_twist[16] = { 0, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2,
	11, 12, 13, 14, 0 };

/* The twists (fuzz_env.h) of the upstream's answers to what the RA's
 * operator approved, by the high half of the selector less 12. */
static const unsigned wait_twist[4] = { 0, 4, 7, 3 };

static int
one_input(const uint8_t *data, size_t size)
{
	enum cfg_ra_revoke scope = fz.cfg->ra_revoke_scope;
	unsigned b2 = size >= 2 ? data[size - 2] : 0;
	const char *why;
	CMP_MSG *m, *a = NULL;
	int revoking, once = 0, nest = 0;
	CMP_MSG *again;

	if ((m = cmp_msg_parse(data, size, &why)) == NULL ||
	    (data[size - 1] & 0xc0) == 0xc0) {
		/* As sent: the protection and clock checks on stale input. */
		CMP_MSG_free(fuzz_serve(data, size));
		if (m == NULL)
			goto out;
	}
	/* By the low half of the last byte but one: 0xe the RA identity
	 * fuzz-up, which forwards to the stack's CA (cmp_upstream.c; the
	 * high half twists its answers; from 0xc on, under fuzz-up's
	 * approval secret: the RA's operator decides first, and the
	 * answers at the poll are as they come, waiting, of another key or
	 * a rejection); 0xa a nesting RA identity (fuzz-nestmac, 0xfa
	 * fuzz-nest), the high half twisting its nested answers,
	 * with 0x20 in the last byte about the end entity it brokered (at
	 * fuzz-up, not under approval, too);
	 * 0xd another endpoint or engine
	 * state; 0xc an RA's revocation scope (ra_revoke_scope by the high
	 * half % 3) and, with 0x80, a bound request about the earlier
	 * certificate; 0xf a spoilt protection (below). */
	if ((b2 & 0x0f) == 0x0e && fuzz_upstream(b2 >= 0xc0 ? 2 : 1) >= 0)
		fuzz_up_twist = b2 < 0xc0 ? b2 >> 4 : wait_twist[(b2 >> 4) - 12];
	else if ((b2 & 0x0f) == 0x0a &&
	    fuzz_upstream(b2 >= 0xf0 ? 4 : 3) >= 0) {
		/* 0xa: a nesting RA identity (cmp_upstream_nest.c), whose
		 * nested answers the high half twists. */
		nest = 1;
		fuzz_up_twist = nest_twist[b2 >> 4];
	} else if (b2 == 0xbb && fuzz_upstream(5) >= 0) {
		/* 0xbb: fuzz-nestmac under its approval secret. */
		nest = 1;
	} else if ((b2 & 0x0f) == 0x0d)
		endpoint(m, b2 >> 4);
	else if ((b2 & 0x0f) == 0x0c)
		fz.cfg->ra_revoke_scope = (enum cfg_ra_revoke)((b2 >> 4) % 3);
	bind(m, data[size - 1], (b2 & 0x8f) == 0x8c, nest ? FUZZ_EE_NEST
	    : (b2 & 0x0f) == 0x0e && b2 < 0xc0 ? FUZZ_EE_UP : -1);
	/* 0x0b: a MAC under the single-use secret (no identity bound), then
	 * the same request again, as a client that tries once more. */
	once = b2 == 0x0b && !(data[size - 1] & 0x30) &&
	    cmp_alg_is_pbm(m->header->protectionAlg) && fuzz_once(1);
	/* Other clients' MAC inputs name other secrets: ours, by a bit. */
	if ((once || (data[size - 1] & 0x04)) &&
	    cmp_alg_is_pbm(m->header->protectionAlg))
		(void)fuzz_kid_set(m);
	if (!fuzz_protect_again(m))
		goto out;
	/* One input in sixteen has its protection spoilt (the engine's
	 * MAC and signature refusals). */
	if ((b2 & 0x0f) == 0x0f)
		fuzz_flaw(m, b2 >> 4);
	/* At fuzz-up, with 0x40 (not 0x80): the device then revokes what
	 * it got, and the twist of the upstream's answers waits for that
	 * rr. */
	revoking = (b2 & 0x0f) == 0x0e && (data[size - 1] & 0xc0) == 0x40;
	/* 0x1b: the second message's recipNonce is not ours. */
	fuzz_stale_nonce = b2 == 0x1b;
	if (revoking)
		fuzz_up_twist = 0;
	if (once && (again = ASN1_item_dup(ASN1_ITEM_rptr(CMP_MSG), m)) !=
	    NULL) {
		a = fuzz_transact(m, data[size - 1]);
		CMP_MSG_free(a);
		CMP_MSG_free(m);
		m = again;
		if (!fuzz_protect_again(m)) {
			a = NULL;
			goto out;
		}
	}
	a = fuzz_transact(m, data[size - 1]);
	if (revoking && fuzz_confirmed() != NULL && a != NULL &&
	    a->body->type == CMP_BODY_PKICONF) {
		X509 *x = X509_dup(fuzz_confirmed());

		fuzz_up_twist = b2 >> 4;
		CMP_MSG_free(a);
		a = x != NULL ? revoke(m, x) : NULL;
		X509_free(x);
	} else if ((b2 & 0x0f) == 0x0b && b2 >= 0x2b && b2 <= 0xab &&
	    fuzz_confirmed() != NULL) {
		/* 0x2b to 0xab: a krr of the certificate just confirmed. */
		X509 *x = X509_dup(fuzz_confirmed());

		CMP_MSG_free(a);
		a = x != NULL ? recover(m, x, (b2 >> 4) - 2) : NULL;
		X509_free(x);
	}
out:
	(void)fuzz_upstream(0);
	fuzz_stale_nonce = 0;
	if (once)
		(void)fuzz_once(0);
	fuzz_up_twist = 0;
	fz.label = NULL;
	fz.cfg->ra_revoke_scope = scope;
	CMP_MSG_free(a);
	CMP_MSG_free(m);
	return 0;
}

/*
 * One input, then this thread's OpenSSL error queue emptied: OpenSSL 3.0
 * copies each queued error's file and function name to the heap and
 * frees them only when the entry is overwritten, by a later input. Left
 * queued, they made inputs end with more allocations than frees, and
 * libFuzzer answers that with a second run and a LeakSanitizer pass
 * over the whole heap (docs/hacking.md, "Fuzzing").
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)one_input(data, size);
	ERR_clear_error();
	return 0;
}
