/*
 * test_log.c - logging helpers (ca/log.c): peer strings sanitised, hex
 * output bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/httperr.h>

#include "ca/ca.h"
#include "tests/unit/unitlib.h"

/* Logging helpers. */

/*
 * Peer strings in log lines: control characters and terminal escape
 * sequences become \xHH, quotes and backslashes are escaped (the line
 * quotes them), the length is bounded and a cut never splits an escape.
 */
static void
test_log_sanitize(void **state)
{
	const unsigned char in[] = "ab\ncd\x01\x7f\x80\xff ~\t";
	const unsigned char esc[] = "\x1b[31mred\x1b[0m \"q\" a\\b\r\n";
	unsigned char big[300];
	char out[CA_LOG_SAN_MAX], small[8];
	size_t i;

	(void)state;
	log_sanitize(in, sizeof(in) - 1, out, sizeof(out));
	assert_string_equal(out, "ab\\x0acd\\x01\\x7f\\x80\\xff ~\\x09");
	log_sanitize(esc, sizeof(esc) - 1, out, sizeof(out));
	assert_string_equal(out,
	    "\\x1b[31mred\\x1b[0m \\\"q\\\" a\\\\b\\x0d\\x0a");
	log_sanitize((const unsigned char *)"a\0b", 3, out, sizeof(out));
	assert_string_equal(out, "a\\x00b"); /* NUL is no terminator here */
	log_sanitize((const unsigned char *)"", 0, out, sizeof(out));
	assert_string_equal(out, "");
	/* Input bound: CA_MAX_LOG_STRING bytes, then "...". */
	memset(big, 'A', sizeof(big));
	log_sanitize(big, sizeof(big), out, sizeof(out));
	EQ(strlen(out), CA_MAX_LOG_STRING + 3);
	EQ(strspn(out, "A"), CA_MAX_LOG_STRING);
	assert_string_equal(out + CA_MAX_LOG_STRING, "...");
	/* Exactly CA_MAX_LOG_STRING bytes: whole, no "...". */
	log_sanitize(big, CA_MAX_LOG_STRING, out, sizeof(out));
	EQ(strlen(out), CA_MAX_LOG_STRING);
	/* The worst case fits CA_LOG_SAN_MAX. */
	memset(big, 0x1b, sizeof(big));
	log_sanitize(big, sizeof(big), out, sizeof(out));
	EQ(strlen(out), 4 * CA_MAX_LOG_STRING + 3);
	/* Output bound: no split escape, "..." at the end. */
	log_sanitize(big, sizeof(big), small, sizeof(small));
	assert_string_equal(small, "\\x1b...");
	log_sanitize(esc, sizeof(esc) - 1, small, sizeof(small));
	assert_string_equal(small, "\\x1b...");
	memset(big, 'A', sizeof(big));
	log_sanitize(big, sizeof(big), small, sizeof(small));
	assert_string_equal(small, "AAAA...");
	log_sanitize(big, 7, small, sizeof(small));
	assert_string_equal(small, "AAAAAAA"); /* fits exactly: no cut */
	for (i = 1; i < sizeof(small); i++) {
		log_sanitize(esc, sizeof(esc) - 1, small, i);
		assert_true(strlen(small) < i);
		assert_null(strchr(small, 0x1b));
	}
	memset(small, 'x', sizeof(small));
	log_sanitize(big, sizeof(big), small, 1);
	assert_string_equal(small, "");
	small[1] = 'x';
	log_sanitize(big, sizeof(big), small, 0);
	EQ(small[1], 'x');
}

static void
test_log_hex(void **state)
{
	const unsigned char in[16] = { 0x00, 0x01, 0x02, 0xab, 0xcd, 0xef };
	char out[64];

	(void)state;
	log_hex(in, 6, out, sizeof(out));
	assert_string_equal(out, "000102abcdef");
	log_hex(in, 0, out, sizeof(out));
	assert_string_equal(out, "");
	/* Too small: a prefix and "..", filling the buffer. */
	log_hex(in, sizeof(in), out, 10);
	assert_string_equal(out, "000102a..");
	log_hex(in, sizeof(in), out, 1);
	assert_string_equal(out, "");
	out[0] = 'x';
	log_hex(in, sizeof(in), out, 0);
	EQ(out[0], 'x');
}

/* 2 * inlen + 1 bytes hold the whole hex: not "too small", no cut. */
static void
test_log_hex_exact_fit(void **state)
{
	const unsigned char in[2] = { 0xab, 0xcd };
	char out[5];

	(void)state;
	log_hex(in, sizeof(in), out, sizeof(out));
	assert_string_equal(out, "abcd");
}

/*
 * A partner's HTTP answer reaches our log through OpenSSL's error data
 * (OSSL_HTTP_transfer: the reason phrase, the Content-Type): an escape
 * sequence and a CR LF forging a log line come out as \xHH, on one line.
 */
static void
test_log_openssl_peer_text(void **state)
{
	char path[] = "/tmp/test_log.XXXXXX", buf[2048];
	int fd, saved;
	size_t n;
	FILE *f;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	saved = dup(2);
	assert_true(saved >= 0 && dup2(fd, 2) == 2);
	ERR_raise_data(ERR_LIB_HTTP, HTTP_R_RECEIVED_ERROR,
	    "code=403, reason=Nope\x1b[2J\r\ncmpcad[1]: info: forged");
	ERR_raise_data(ERR_LIB_HTTP, HTTP_R_UNEXPECTED_CONTENT_TYPE,
	    "expected=application/pkixcmp, actual=text/\x07html");
	log_openssl_errors(1);
	fflush(stderr);
	assert_true(dup2(saved, 2) == 2);
	close(saved);
	close(fd);
	assert_non_null(f = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	assert_null(strchr(buf, '\x1b'));
	assert_null(strchr(buf, '\r'));
	assert_null(strchr(buf, '\x07'));
	assert_non_null(strstr(buf, "reason=Nope\\x1b[2J\\x0d\\x0acmpcad[1]"));
	assert_non_null(strstr(buf, "actual=text/\\x07html"));
	/* Two errors, two lines: nothing forged a third. */
	assert_int_equal(strchr(strchr(buf, '\n') + 1, '\n') - buf + 1,
	    (long)n);
}

int
main(void)
{
	const struct CMUnitTest logs[] = {
		cmocka_unit_test(test_log_sanitize),
		cmocka_unit_test(test_log_hex),
		cmocka_unit_test(test_log_hex_exact_fit),
		cmocka_unit_test(test_log_openssl_peer_text),
	};

	return cmocka_run_group_tests_name("log", logs, NULL, NULL) != 0;
}
