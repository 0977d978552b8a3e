/*
 * fuzz_decode - libFuzzer target: the DER decoder of PKIMessage
 * (cmp_msg_parse, with its count and trailing-byte checks), then what the
 * engine reads first from a decoded message: the header checks and the
 * re-encoding that protection is computed over. See docs/hacking.md
 * ("Fuzzing").
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "tests/fuzz/cmp_mutate.h"

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
	static X509_NAME *ca;
	const char *why;
	unsigned char *der = NULL;
	CMP_MSG *m;
	int fail, len;

	if (ca == NULL && (ca = X509_NAME_new()) == NULL)
		abort();
	if ((m = cmp_msg_parse(data, size, &why)) == NULL) {
		if (why == NULL)
			abort(); /* every rejection has a reason */
		return 0;
	}
	(void)cmp_hdr_pvno(m->header);
	(void)cmp_hdr_implicit_confirm(m->header);
	(void)cmp_hdr_check(m->header, ca, 600, &fail, &why);
	(void)cmp_body_name(m->body->type);
	/* What was decoded must encode again: protection covers it. */
	if ((len = cmp_msg_encode(m, &der)) <= 0)
		abort();
	OPENSSL_free(der);
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
