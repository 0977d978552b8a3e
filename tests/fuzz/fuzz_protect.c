/*
 * fuzz_protect - libFuzzer target: the MAC protection check with a fixed
 * secret: PBM (RFC 4211 §4.4) and PBMAC1 (RFC 9481 §6.1.3) parameter
 * parsing, key derivation and verification (cmp_pbm_derive,
 * cmp_pbm_verify), as cmp_auth_check in cmp_auth.c runs them. The
 * iteration cap is low so that one input stays fast; the signature path
 * needs the trust store from the database and is fuzzed by fuzz_engine.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "tests/fuzz/cmp_mutate.h"

#define SECRET "fuzz-secret"
#define MAX_ITER 2000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed);

/* Structure-aware: fields of a decoded PKIMessage (cmp_mutate.c). */
size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed)
{
	return cmp_mutate(data, size, max, seed);
}

static int
one_input(const uint8_t *data, size_t size)
{
	struct cmp_mac mac;
	const char *why = NULL;
	CMP_MSG *m;
	int fail = -1, rc;

	if ((m = cmp_msg_parse(data, size, &why)) == NULL)
		return 0;
	if (cmp_alg_is_pbm(m->header->protectionAlg)) {
		rc = cmp_pbm_derive(m->header->protectionAlg,
		    (const unsigned char *)SECRET, strlen(SECRET), MAX_ITER,
		    &mac, &fail, &why);
		if (rc == 0 && (why == NULL || fail < 0))
			abort(); /* a rejection names its reason and failinfo */
		if (rc == 1) {
			if (mac.key_len == 0 || mac.key_len > sizeof(mac.key))
				abort();
			const unsigned char *pp;
			size_t pp_len;

			if (cmp_pp_slice(data, size, &pp, &pp_len))
				(void)cmp_pbm_verify(m, &mac, pp, pp_len);
			(void)cmp_pbm_verify(m, &mac, NULL, 0);
			/* Protecting must work for any message that verified. */
			if (!cmp_pbm_protect(m, &mac) ||
			    cmp_pbm_verify(m, &mac, NULL, 0) != 1)
				abort();
		}
		cmp_mac_clear(&mac);
	}
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
