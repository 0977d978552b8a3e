/*
 * fuzz_admin - libFuzzer target: what the operators' page (daemon/
 * admin.c) parses from a request without the database: the query string
 * (admin_query_parse: q, serial, page, percent-decoding, repeats, the
 * length cap), the HTML escaping of text a peer chose (admin_html) and
 * the path test. Asserts admin.h's promises: 0, 400 or 414; a page in
 * 1..ADMIN_MAX_PAGE; a canonical serial; escaped output without markup.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ca/ca.h"
#include "daemon/admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
one_input(const uint8_t *data, size_t size)
{
	struct admin_query q;
	struct admin_buf b = { 0 };
	char *s;
	int code;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	code = admin_query_parse(s, &q);
	if (code != 0 && code != 400 && code != 414)
		abort();
	if (code == 0) {
		if (q.page < 1 || q.page > ADMIN_MAX_PAGE ||
		    strlen(q.subject) > CA_MAX_ADMIN_SEARCH ||
		    strspn(q.serial, "0123456789abcdef") != strlen(q.serial))
			abort();
		admin_html(&b, q.subject);
	}
	admin_html(&b, s);
	if (!b.bad && b.p != NULL && memchr(b.p, '<', b.len) != NULL)
		abort();
	if (!b.bad && b.p != NULL && memchr(b.p, '"', b.len) != NULL)
		abort();
	(void)admin_is_path(s);
	admin_buf_free(&b);
	free(s);
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
