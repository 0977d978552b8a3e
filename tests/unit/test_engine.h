/*
 * test_engine.h - what the files of the test_engine program share: the
 * fixture its group set-up makes, the request builders and response
 * checks of test_engine_msg.c, and each file's tests.
 */
#ifndef CMPCA_TEST_ENGINE_H
#define CMPCA_TEST_ENGINE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"
#include "ca/status/status.h"

#define TOKEN "cmpca-engtest"
#define SECRET "s3cret"
#define OK(x) assert_true(x)
#define ACCEPT (-1)

/* The fixture, made by the group set-up (test_engine.c). */
struct engine_fx {
	char dir[64];
	const char *module;
	struct hsm *hsm;
	struct db *db;  /* the engine's connection */
	struct db *chk; /* for assertions */
	struct cfg *cfg;
	struct cmp_srv *srv;
	X509 *ca_cert;
	long long ca_id;
	EVP_PKEY *key;                /* the client's key, in software */
	EVP_PKEY *rsa1024;            /* a key too weak to certify */
	X509_NAME *client, *other_ca; /* CN=client: sender and subject */
	const char *conninfo;
	char pin[160];		      /* the PIN file */
};
extern struct engine_fx fx;

/* What a request looks like; rq_init() makes a good ir. */
struct rq {
	int body;
	long pvno;
	const char *ref;
	const char *secret; /* NULL: unprotected */
	long iter;
	int owf_nid, mac_nid;
	int implicit;
	int n;                      /* CertReqMsgs */
	int rid[3];                 /* their certReqIds */
	const char *cn;             /* subject CN, NULL: no subject */
	const X509_NAME *subject;   /* instead of cn, when set */
	EVP_PKEY *key;              /* template publicKey and POP key */
	int bad_pop;                /* 1: flipped bit, 2: other request */
	const X509_NAME *recipient; /* NULL: empty directoryName */
	STACK_OF(X509_EXTENSION) *exts; /* NULL: one SAN DNS:client.example */
	unsigned char txid[16], nonce[16];
};

/* test_engine.c: per-test messages, freed by gc_run() (every test's
 * teardown) even after a failed assertion. */
CMP_MSG *keep(CMP_MSG *m);
int gc_run(void **state);
/* The engine's configuration file, with lines added to [cmpca] (from
 * line 10) and to [profile.default] (from line 17 after one line in
 * [cmpca]). */
void conf_write(const char *path, const char *main_extra,
    const char *default_extra);

/* test_engine_msg.c: building requests. */
X509_NAME *name_cn(const char *cn);
void rq_init(struct rq *q);
ASN1_OCTET_STRING *octets(const void *data, int len);
void gn_dirname(GENERAL_NAME **gn, const X509_NAME *name);
/* A request header; recip_nonce may be NULL. */
CMP_HEADER *hdr_new(const struct rq *q, const ASN1_OCTET_STRING *recip_nonce);
/* Protects m with q's secret (a dummy MAC where the engine's PBM code
 * refuses the parameters). */
void protect(CMP_MSG *m, const struct rq *q);
CRMF_CERTREQMSG *certreqmsg_new(const struct rq *q, int rid);
/* The request q describes, protected; kept for the teardown. */
CMP_MSG *req_new(const struct rq *q);
#define CC_REJECT 1    /* statusInfo rejection */
#define CC_BAD_HASH 2  /* certHash of something else */
#define CC_BAD_NONCE 4 /* recipNonce not our last senderNonce */
/* A certConf for responses idx[0..n) of ip, continuing q's transaction
 * with a fresh senderNonce; recipNonce is the senderNonce of prev. */
CMP_MSG *certconf_new(struct rq *q, const CMP_MSG *ip, const CMP_MSG *prev,
    const int *idx, int n, int flags);

/* test_engine_msg.c: running the engine and checking its answers. */
/* Runs the engine on DER; returns the decoded response (kept). */
CMP_MSG *run_der(const unsigned char *der, size_t len, const char *label,
    int want_http);
CMP_MSG *run(const CMP_MSG *req, const char *label);
const char *si_text(const CMP_PKISI *si);
void check_error(const CMP_MSG *m, int fail);
/* mac 1: protection verifies with our secret; 0: unprotected. */
void check_prot(const CMP_MSG *m, int mac);
/* Response i of an ip/cp, with its PKIStatusInfo checked. */
const CMP_CERTRESPONSE *check_certresp(const CMP_MSG *m, int i, int rid,
    int status, int fail);
/* The certificate of accepted response i (owned by m). */
X509 *ip_cert(const CMP_MSG *m, int i, int rid);
/* Sends q with label and checks an ip accepting every request. */
CMP_MSG *ir_ok(const struct rq *q, const char *label);
/* Status of a certificate in the database (whose DER must be x). */
int db_status(X509 *x, int *reason);
/* State of q's transaction, 0 if it was never stored. */
int db_txn_state(const struct rq *q);
/* Certificates of q's transaction, or of the CA when q is NULL. */
size_t db_count(const struct rq *q);

/* The tests of fixed[] (test_engine.c), by file. */
void test_ir_accepted(void **state); /* test_engine_txn.c */
void test_implicit_confirm(void **state);
void test_replay(void **state);
void test_multi(void **state);
void test_garbage(void **state);
void test_genm_no_txn(void **state);
void test_delayed_refused(void **state);
void test_secret_once(void **state); /* test_engine_secret.c */
void test_unknown_ref_derives(void **state);
void test_unknown_ref_same_calls(void **state);
void test_mac_budget(void **state);
void test_secret_cache_stale(void **state);
void test_secret_rotate(void **state);
void test_ext_cache(void **state); /* test_engine_ext.c */
void test_ca_changed(void **state); /* test_engine_ca.c */
void test_crl_stale_key(void **state);
void test_crl_delta(void **state);
void test_ocsp(void **state); /* test_engine_ocsp.c */
void test_ocsp_signer_expired(void **state);
void test_ocsp_reuse(void **state);
void test_ocsp_store(void **state);
void test_worker_hsm_lost(void **state);
void test_idevid(void **state); /* test_engine_sig.c */
void test_central_keygen(void **state); /* test_engine_kga.c */
void test_key_recovery(void **state);	/* test_engine_kga.c */

/* The table-driven tests, one per row, run after fixed[]: each function
 * fills t with as many tests as its count says. */
extern const size_t test_engine_ncc; /* certConf: test_engine_txn.c */
void test_engine_cc_rows(struct CMUnitTest *t);
extern const size_t test_engine_ncases; /* single rejections: same file */
void test_engine_case_rows(struct CMUnitTest *t);
extern const size_t test_engine_nx; /* extensions: test_engine_ext.c */
void test_engine_ext_rows(struct CMUnitTest *t);

#endif
