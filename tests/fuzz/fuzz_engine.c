/*
 * fuzz_engine - libFuzzer target: the whole CMP engine in process
 * (cmp_srv_process: decode, CA lookup, header checks, protection,
 * dispatch, database, HSM signing, response), with the real PostgreSQL
 * and SoftHSM of a stack that scripts/fuzz brings up (no cmpcad traffic,
 * the stack's configuration, token and database are only borrowed).
 *
 * Each input is served twice: as sent, and (when it decodes) again with
 * its protection replaced by a valid PBM under the stack's enrollment
 * secret, so that mutations reach the body handlers behind the
 * protection check instead of dying at it. Signature-protected inputs
 * (the seeds from cmp-messageflows) exercise cmp_sig.c's path.
 *
 * Environment (from $CMPCA_VAR/stack.env): CMPCA_CONF, SOFTHSM2_CONF,
 * CMPCA_HSM_LOCK, CMPCA_FUZZ_SECRET_FILE (the secret of reference
 * CMPCA_FUZZ_REF, default "demo").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct cfg *cfg;
	struct hsm *hsm;
	struct db *db;
	struct cmp_srv *srv;
	unsigned char secret[256];
	size_t secret_len;
	const char *ref;
} fz;

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_engine: %s\n", what);
	exit(1);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *conf = getenv("CMPCA_CONF");
	const char *sf = getenv("CMPCA_FUZZ_SECRET_FILE");
	FILE *f;

	(void)argc;
	(void)argv;
	log_init("fuzz_engine", 0, getenv("CMPCA_FUZZ_VERBOSE") != NULL
		? LOG_LVL_DEBUG : LOG_LVL_ERR);
	if (conf == NULL || sf == NULL)
		die("run through scripts/fuzz (CMPCA_CONF and "
		    "CMPCA_FUZZ_SECRET_FILE unset)");
	if ((fz.cfg = cfg_load(conf)) == NULL)
		die("cannot load the configuration");
	if ((fz.hsm = hsm_open(fz.cfg->pkcs11_module, fz.cfg->token_label,
		 fz.cfg->pin_file)) == NULL)
		die(hsm_error());
	if ((fz.db = db_open(fz.cfg->db_conninfo)) == NULL ||
	    db_ensure(fz.db) != 1)
		die("cannot open the database");
	if ((fz.srv = cmp_srv_new(fz.cfg, fz.db, fz.hsm)) == NULL)
		die("out of memory");
	if ((f = fopen(sf, "r")) == NULL)
		die(sf);
	fz.secret_len = fread(fz.secret, 1, sizeof(fz.secret), f);
	fclose(f);
	while (fz.secret_len > 0 && fz.secret[fz.secret_len - 1] == '\n')
		fz.secret_len--;
	fz.ref = getenv("CMPCA_FUZZ_REF") != NULL ? getenv("CMPCA_FUZZ_REF")
						  : "demo";
	return 0;
}

static void
serve(const unsigned char *der, size_t len)
{
	unsigned char *resp = NULL;
	size_t resp_len = 0;
	const char *why;
	CMP_MSG *m;
	int http;

	http = cmp_srv_process(fz.srv, NULL, der, len, &resp, &resp_len);
	/* Every answer is a decodable CMP message with 200 or 400. */
	if (resp == NULL || (http != 200 && http != 400))
		abort();
	if ((m = cmp_msg_parse(resp, resp_len, &why)) == NULL)
		abort();
	CMP_MSG_free(m);
	OPENSSL_free(resp);
}

/* PBM with the smallest allowed iteration count, keyed to our secret. */
static int
reprotect(CMP_MSG *m)
{
	CMP_PBMPARAM *p = CMP_PBMPARAM_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_STRING *seq = ASN1_STRING_new();
	struct cmp_mac mac;
	const char *why;
	int fail, ok = 0;

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
	X509_ALGOR_free(m->header->protectionAlg);
	m->header->protectionAlg = alg;
	alg = NULL;
	ASN1_OCTET_STRING_free(m->header->senderKID);
	if ((m->header->senderKID = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(m->header->senderKID,
		(const unsigned char *)fz.ref, (int)strlen(fz.ref)))
		goto out;
	if (cmp_pbm_derive(m->header->protectionAlg, fz.secret, fz.secret_len,
		1000, &mac, &fail, &why) != 1)
		goto out;
	ok = cmp_pbm_protect(m, &mac);
	cmp_mac_clear(&mac);
out:
	ASN1_STRING_free(seq);
	X509_ALGOR_free(alg);
	CMP_PBMPARAM_free(p);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *der = NULL;
	const char *why;
	CMP_MSG *m;
	int len;

	serve(data, size);
	if ((m = cmp_msg_parse(data, size, &why)) == NULL)
		return 0;
	if (reprotect(m) && (len = cmp_msg_encode(m, &der)) > 0)
		serve(der, (size_t)len);
	OPENSSL_free(der);
	CMP_MSG_free(m);
	return 0;
}
