/*
 * fuzz_fcgi - libFuzzer target: the checks daemon/fcgi.c makes on the
 * FastCGI parameters nginx passes before a body is read (method, path,
 * CA label, content type, Content-Length: fcgi_request_check), the OCSP
 * front's GET and POST checks with its URL-encoded base64 decoder
 * (fcgi_ocsp_check), the path routing (fcgi_is_ocsp, admin_is_path,
 * fcgi_is_tcp) and the status texts of daemon/http.c.
 *
 * Input: the parameters separated by newlines - REQUEST_METHOD,
 * DOCUMENT_URI, REQUEST_URI, CONTENT_TYPE, CONTENT_LENGTH - where a
 * missing line is an unset parameter, then one byte choosing the body
 * limit. Asserts what fcgi.h promises: the codes, the label and length
 * of an accepted request, the size of a decoded GET.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ca/ca.h"
#include "daemon/admin.h"
#include "daemon/fcgi.h"
#include "daemon/http.h"

#define FIELDS 5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long limits[] = { 1, 100, 4096, 16384, 65536, 1L << 30 };

static void
code_ok(int code, const int *allowed)
{
	for (; *allowed != 0; allowed++)
		if (code == *allowed)
			return;
	abort();
}

static int
one_input(const uint8_t *data, size_t size)
{
	static const int req_codes[] = { 404, 405, 411, 413, 415, 400, 0 };
	static const int ocsp_codes[] = { 404, 405, 411, 413, 414, 415, 400,
		0 };
	char *buf, *f[FIELDS] = { NULL }, *p, label[DB_LABEL_MAX];
	unsigned char *der = NULL;
	const char *lab = NULL;
	long max, len = -1;
	int code, i;

	if (size == 0)
		return 0;
	max = limits[data[0] % (sizeof(limits) / sizeof(limits[0]))];
	if ((buf = malloc(size)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	for (i = 0, p = buf; i < FIELDS && p != NULL; i++) {
		f[i] = p;
		if ((p = strchr(p, '\n')) != NULL)
			*p++ = '\0';
	}
	code = fcgi_request_check(f[0], f[1], f[3], f[4], max, label,
	    sizeof(label), &lab, &len);
	if (code == 0) {
		if (len < 1 || len > max)
			abort();
		if (lab != NULL && (lab != label || strlen(label) == 0))
			abort();
	} else {
		code_ok(code, req_codes);
	}
	(void)http_status_text(code);
	if (f[1] != NULL && fcgi_is_ocsp(f[1])) {
		len = -1;
		code = fcgi_ocsp_check(f[0], f[1], f[2], f[3], f[4], max, &der,
		    &len);
		if (code != 0)
			code_ok(code, ocsp_codes);
		else if (len < 0 || len > max || (der == NULL && len != 0 &&
		    f[0] != NULL && strcmp(f[0], "GET") == 0))
			abort();
		free(der);
	}
	if (f[1] != NULL) {
		(void)admin_is_path(f[1]);
		(void)fcgi_is_tcp(f[1]);
	}
	free(buf);
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
