/*
 * fuzz_p10cr - libFuzzer target: PKCS#10 requests (RFC 2986) as a p10cr
 * (RFC 9810 §5.3.4) through the whole engine of a borrowed stack, as
 * fuzz_engine does. The input is the DER CertificationRequest; the
 * target wraps it in a PKIMessage (empty recipient, fresh transactionID
 * and senderNonce) protected by PBM under the stack's secret, so every
 * input reaches cmp_certreq.c's p10_to_crmf, the CSR signature check and
 * the profile. The mutator (cmp_mutate_p10) changes subject, requested
 * extensions, attributes and key, and signs again with its own key, so
 * mutated requests pass the signature check and reach issuance; an
 * issued certificate gets its certConf (fuzz_follow_up).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
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
	fuzz_env_init("fuzz_p10cr", FUZZ_ENV_SRV);
	return 0;
}

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed)
{
	return cmp_mutate_p10(data, size, max, seed);
}

/* *g becomes a directoryName of n. Returns 1 or 0. */
static int
dirname_set(GENERAL_NAME **g, const X509_NAME *n)
{
	X509_NAME *d = X509_NAME_dup(n);

	GENERAL_NAME_free(*g);
	if (d == NULL || (*g = GENERAL_NAME_new()) == NULL) {
		X509_NAME_free(d);
		return 0;
	}
	GENERAL_NAME_set0_value(*g, GEN_DIRNAME, d);
	return 1;
}

/* A p10cr message for req (taken), unprotected yet; NULL on error. */
static CMP_MSG *
wrap(X509_REQ *req)
{
	static unsigned long long n;
	unsigned char id[16] = "fuzz-p10cr-txid";
	CMP_MSG *m = CMP_MSG_new();
	X509_NAME *empty = X509_NAME_new();
	const X509_NAME *subj = X509_REQ_get_subject_name(req);

	if (m == NULL || empty == NULL)
		goto fail;
	n++;
	memcpy(id + 8, &n, sizeof(n));
	if (!ASN1_INTEGER_set(m->header->pvno, 2) ||
	    !dirname_set(&m->header->sender, subj) ||
	    !dirname_set(&m->header->recipient, empty) ||
	    (m->header->transactionID = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(m->header->transactionID, id, 16) ||
	    (m->header->senderNonce = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(m->header->senderNonce, id, 16) ||
	    (m->header->messageTime = ASN1_GENERALIZEDTIME_set(NULL,
		time(NULL))) == NULL)
		goto fail;
	m->body->type = CMP_BODY_P10CR;
	m->body->value.p10cr = req;
	X509_NAME_free(empty);
	return m;
fail:
	X509_NAME_free(empty);
	CMP_MSG_free(m);
	X509_REQ_free(req);
	return NULL;
}

static int
one_input(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	unsigned char *der = NULL;
	X509_REQ *req;
	CMP_MSG *m = NULL, *a = NULL;
	int len;

	if ((req = d2i_X509_REQ(NULL, &p, (long)size)) == NULL ||
	    (m = wrap(req)) == NULL)
		return 0;
	if (!fuzz_kid_set(m) || !fuzz_reprotect(m) ||
	    (len = cmp_msg_encode(m, &der)) <= 0)
		goto out;
	a = fuzz_serve(der, (size_t)len);
	OPENSSL_free(der);
	der = NULL;
	if (fuzz_follow_up(m, a, data[size - 1]) &&
	    (len = cmp_msg_encode(m, &der)) > 0)
		CMP_MSG_free(fuzz_serve(der, (size_t)len));
out:
	OPENSSL_free(der);
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
