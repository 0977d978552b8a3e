/*
 * fuzz_engine - libFuzzer target: the whole CMP engine in process
 * (cmp_srv_process: decode, CA lookup, header checks, protection,
 * dispatch, database, HSM signing, response), with the real PostgreSQL
 * and SoftHSM of a stack that scripts/fuzz brings up (no cmpcad traffic,
 * the stack's configuration, token and database are only borrowed).
 *
 * Mutation is structure-aware (cmp_mutate.c): the input is decoded as a
 * PKIMessage, fields change, and the message is re-protected with a PBM
 * under the stack's enrollment secret before it is stored, so that
 * mutations reach the body handlers instead of dying at the protection
 * check. At run time each decodable PBM input is re-protected again (the
 * secret is the stack's of this run, and the engine refuses a replayed
 * senderNonce); undecodable, unprotected and signature-protected inputs
 * (the seeds from cmp-messageflows, cmp_sig.c's path) are served as
 * they are. An answer carrying a certificate is followed by the second
 * message of the transaction - a certConf (right, rejecting, wrong hash,
 * wrong certReqId) or a pollReq, chosen by the input's last byte - so
 * that cmp_certconf.c and cmp_poll.c see live transactions.
 *
 * Environment (from $CMPCA_VAR/stack.env): CMPCA_CONF, SOFTHSM2_CONF,
 * CMPCA_HSM_LOCK, CMPCA_FUZZ_SECRET_FILE (the secret of reference
 * CMPCA_FUZZ_REF, default "demo").
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/crypto.h>

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
	fuzz_env_init("fuzz_engine", FUZZ_ENV_SRV);
	cmp_mutate_finish = fuzz_reprotect;
	return 0;
}

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed)
{
	return cmp_mutate(data, size, max, seed);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *der = NULL;
	const char *why;
	CMP_MSG *m, *a = NULL;
	int len;

	if ((m = cmp_msg_parse(data, size, &why)) == NULL ||
	    !cmp_alg_is_pbm(m->header->protectionAlg)) {
		CMP_MSG_free(fuzz_serve(data, size));
		goto out;
	}
	if (!fuzz_reprotect(m) || (len = cmp_msg_encode(m, &der)) <= 0)
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
