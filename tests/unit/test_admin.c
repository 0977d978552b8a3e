/*
 * test_admin.c - the operators' page (daemon/admin.c) without a database: the
 * HTML escaper (subjects are chosen by whoever enrolls), the query string
 * validator, and the answers given before the database is asked (403 when
 * nginx authenticated nobody, 405, 404, 400, 414), each with the security
 * headers; the reason phrases of every status cmpcad answers with
 * (daemon/http.c, shared with fcgi.c); and the CRLReason names the page
 * shows and the rule `cert revoke --reason` and rr share
 * (ca/crl_reason.c). The page itself is tested on the real stack by
 * tests/e2e/admin.sh. Also ca_serial_parse, the one reading of a serial
 * number that the page's search and `cmpca cert show|revoke` share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ca/ca.h"
#include "daemon/admin.h"
#include "daemon/http.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static char *
escaped(const char *in)
{
	static char out[1024];
	struct admin_buf b = {0};

	admin_html(&b, in);
	assert_false(b.bad);
	snprintf(out, sizeof(out), "%s", b.p != NULL ? b.p : "");
	admin_buf_free(&b);
	return out;
}

static void
test_escape(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""},
	    {"CN=plain,O=Example", "CN=plain,O=Example"},
	    {"CN=<script>alert(1)</script>",
		"CN=&lt;script&gt;alert(1)&lt;/script&gt;"},
	    {"CN=\\<script\\>", "CN=\\&lt;script\\&gt;"},
	    {"a&b", "a&amp;b"},
	    {"&amp;", "&amp;amp;"},
	    {"x\" onmouseover=\"y", "x&quot; onmouseover=&quot;y"},
	    {"it's", "it&#39;s"},
	    /* Control characters and DEL become U+FFFD. */
	    {"a\nb\tc\x7f", "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd"},
	    /* Well-formed UTF-8 passes: e acute, euro, an emoji. */
	    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
	    /* Not UTF-8: a stray byte, an overlong "<" (C0 BC), a truncated
	     * sequence, a surrogate, above U+10FFFF. */
	    {"\xff", "\xef\xbf\xbd"},
	    {"\xc0\xbc", "\xef\xbf\xbd\xef\xbf\xbd"},
	    {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"},
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	    {"\xf4\x90\x80\x80",
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	    {"\xe0\x80\xbc<", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd&lt;"},
	};
	struct admin_buf b = {0};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		if (strcmp(escaped(cases[i].in), cases[i].out) != 0)
			fail_msg("case %zu: got \"%s\"", i,
			    escaped(cases[i].in));
	}
	admin_html(&b, NULL);
	assert_int_equal(b.len, 0);
	admin_buf_free(&b);
}

static void
test_query(void **state)
{
	static const struct {
		const char *qs;
		int code;
		const char *subject, *serial;
		int page;
	} cases[] = {
	    {NULL, 0, "", "", 1},
	    {"", 0, "", "", 1},
	    {"q=web", 0, "web", "", 1},
	    {"q=a+b%20c", 0, "a b c", "", 1},
	    {"q=%3Cscript%3E", 0, "<script>", "", 1},
	    {"q=%C3%A9t%C3%A9", 0, "\xc3\xa9t\xc3\xa9", "", 1},
	    {"q=&serial=", 0, "", "", 1}, /* an empty form */
	    {"serial=0A:1B:ff", 0, "", "a1bff", 1},
	    {"serial=0x00ff", 0, "", "ff", 1},
	    {"serial=00:00", 0, "", "0", 1},
	    {"page=3&q=x", 0, "x", "", 3},
	    {"page=10000", 0, "", "", 10000},
	    /* Refused. */
	    {"page=0", 400, NULL, NULL, 0},
	    {"page=10001", 400, NULL, NULL, 0},
	    {"page=1a", 400, NULL, NULL, 0},
	    {"page=-1", 400, NULL, NULL, 0},
	    {"page=+1", 400, NULL, NULL, 0},
	    {"page=999999999999", 400, NULL, NULL, 0},
	    {"serial=xyz", 400, NULL, NULL, 0},
	    {"serial=0x", 400, NULL, NULL, 0},
	    {"serial=::", 400, NULL, NULL, 0},
	    {"serial=1'--", 400, NULL, NULL, 0},
	    {"q=a&q=b", 400, NULL, NULL, 0},
	    {"other=1", 400, NULL, NULL, 0},
	    {"q", 400, NULL, NULL, 0},
	    {"Q=a", 400, NULL, NULL, 0},
	    {"q=%zz", 400, NULL, NULL, 0},
	    {"q=%4", 400, NULL, NULL, 0},
	    {"q=a%00b", 400, NULL, NULL, 0},
	    {"q=a%0Ab", 400, NULL, NULL, 0},
	    {"q=%ff", 400, NULL, NULL, 0},
	    {"q=%C0%BC", 400, NULL, NULL, 0},
	};
	struct admin_query q;
	char qs[CA_MAX_ADMIN_QUERY + 16];
	size_t i;
	int code;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		code = admin_query_parse(cases[i].qs, &q);
		if (code != cases[i].code)
			fail_msg("case %zu (%s): %d", i, cases[i].qs, code);
		if (code != 0)
			continue;
		assert_string_equal(q.subject, cases[i].subject);
		assert_string_equal(q.serial, cases[i].serial);
		assert_int_equal(q.page, cases[i].page);
	}
	/* The longest search text passes, one byte more does not. */
	memcpy(qs, "q=", 2);
	memset(qs + 2, 'a', CA_MAX_ADMIN_SEARCH);
	qs[2 + CA_MAX_ADMIN_SEARCH] = '\0';
	assert_int_equal(admin_query_parse(qs, &q), 0);
	assert_int_equal(strlen(q.subject), CA_MAX_ADMIN_SEARCH);
	strcat(qs, "a");
	assert_int_equal(admin_query_parse(qs, &q), 400);
	/* The whole query string is bounded before it is decoded. */
	memset(qs, 'a', CA_MAX_ADMIN_QUERY + 1);
	memcpy(qs, "q=", 2);
	qs[CA_MAX_ADMIN_QUERY + 1] = '\0';
	assert_int_equal(admin_query_parse(qs, &q), 414);
	/* A serial longer than the inventory holds. */
	memcpy(qs, "serial=", 7);
	memset(qs + 7, 'f', DB_SERIAL_MAX);
	qs[7 + DB_SERIAL_MAX] = '\0';
	assert_int_equal(admin_query_parse(qs, &q), 400);
}

/*
 * The serial-number rule (ca/ca.h): hex in either case, optional 0x,
 * colons only between digits, no sign, at most 20 octets. The CLI once
 * refused "0x" and colons that the page accepted; both now call this.
 */
static void
test_serial_parse(void **state)
{
	static const struct {
		const char *in, *out, *why; /* out NULL: refused, why in *why */
	} cases[] = {
	    {"1a2B", "1a2b", NULL},
	    {"0x0A:1B:ff", "a1bff", NULL},
	    {"0X00ff", "ff", NULL},
	    {"00:00", "0", NULL},
	    {"0", "0", NULL},
	    /* openssl x509 -text of a 16-octet serial with the top bit set */
	    {"00:c4:1f:7a:00:00:00:00:00:00:00:00:00:00:00:00:01",
		"c41f7a00000000000000000000000001", NULL},
	    /* 40 digits: 20 octets, with leading zeros on top */
	    {"00000f123456789abcdef0123456789abcdef01234567",
		"f123456789abcdef0123456789abcdef01234567", NULL},
	    {"f123456789abcdef0123456789abcdef012345678", NULL, "20 octets"},
	    {"", NULL, "no hex digits"},
	    {"0x", NULL, "no hex digits"},
	    {"::", NULL, "colon"},
	    {":0a", NULL, "colon"},
	    {"0a:", NULL, "colon"},
	    {"0a::1b", NULL, "colon"},
	    {"0x:0a", NULL, "colon"},
	    {"-1a", NULL, "no sign"},
	    {"+1a", NULL, "no sign"},
	    {"1a 2b", NULL, "hex digits only"},
	    {"xyz", NULL, "hex digits only"},
	    {"1'--", NULL, "hex digits only"},
	};
	char out[DB_SERIAL_MAX], small[4];
	const char *why;
	size_t i;
	int ok;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		why = NULL;
		ok = ca_serial_parse(cases[i].in, out, sizeof(out), &why);
		if (ok != (cases[i].out != NULL))
			fail_msg("case %zu (%s): %d %s", i, cases[i].in, ok,
			    why != NULL ? why : "");
		if (ok) {
			assert_string_equal(out, cases[i].out);
			assert_null(why);
		} else {
			assert_non_null(why);
			if (strstr(why, cases[i].why) == NULL)
				fail_msg("case %zu (%s): %s", i, cases[i].in,
				    why);
		}
	}
	/* An output buffer too small is a refusal, never an overflow. */
	assert_int_equal(ca_serial_parse("12345", small, sizeof(small), &why),
	    0);
	assert_int_equal(ca_serial_parse("123", small, sizeof(small), &why),
	    1);
	assert_string_equal(small, "123");
	/* The page reads the search field with the same rule. */
	{
		struct admin_query q;

		assert_int_equal(admin_query_parse("serial=0x0A:1B:ff", &q), 0);
		assert_string_equal(q.serial, "a1bff");
		assert_int_equal(admin_query_parse("serial=0a::1b", &q), 400);
		assert_int_equal(admin_query_parse("serial=-1a", &q), 400);
	}
}

static void
test_is_path(void **state)
{
	(void)state;
	assert_true(admin_is_path("/admin"));
	assert_true(admin_is_path("/admin/"));
	assert_true(admin_is_path("/admin/x"));
	assert_false(admin_is_path("/administrator"));
	assert_false(admin_is_path("/ocsp"));
	assert_false(admin_is_path("/"));
	assert_false(admin_is_path(NULL));
}

/* admin_handle with no database: answers decided before any query. */
static int
handle(const char *method, const char *uri, const char *query,
    const char *user, const char *verify, struct admin_buf *out)
{
	struct admin_req rq = {method, uri, query, user, verify, 1, 5};

	memset(out, 0, sizeof(*out));
	return admin_handle(NULL, &rq, out);
}

static void
assert_headers(const struct admin_buf *b)
{
	assert_non_null(b->p);
	assert_non_null(strstr(b->p, "\r\nContent-Security-Policy: "
				     "default-src 'none'; style-src 'sha256-"));
	assert_non_null(strstr(b->p, "frame-ancestors 'none'"));
	assert_non_null(strstr(b->p, "\r\nX-Frame-Options: DENY\r\n"));
	assert_non_null(strstr(b->p, "\r\nCache-Control: no-store\r\n"));
	assert_non_null(strstr(b->p, "\r\nX-Content-Type-Options: nosniff"));
}

static void
test_handle_refusals(void **state)
{
	static const struct {
		const char *method, *uri, *query, *user, *verify;
		int code;
		const char *status;
	} cases[] = {
	    /* nginx authenticated nobody: a location without auth_basic. */
	    {"GET", "/admin/", NULL, NULL, NULL, 403, "403 Forbidden"},
	    {"GET", "/admin/", NULL, "", NULL, 403, "403 Forbidden"},
	    {"GET", "/admin/", NULL, NULL, "NONE", 403, "403 Forbidden"},
	    {"GET", "/admin/", NULL, NULL, "FAILED:x", 403, "403 Forbidden"},
	    {"POST", "/admin/", NULL, NULL, NULL, 403, "403 Forbidden"},
	    /* A verified certificate alone names nobody; a user with a
	     * certificate nginx did not verify is refused. */
	    {"GET", "/admin/", NULL, NULL, "SUCCESS", 403, "403 Forbidden"},
	    {"GET", "/admin/", NULL, "op", "FAILED:x", 403, "403 Forbidden"},
	    {"GET", "/admin/", NULL, "op", "NONE", 403, "403 Forbidden"},
	    /* Authenticated, but not a GET of the page. */
	    {"POST", "/admin/", NULL, "op", NULL, 405, "405 Method"},
	    {"HEAD", "/admin/", NULL, "op", NULL, 405, "405 Method"},
	    {"DELETE", "/admin/", NULL, "op", "SUCCESS", 405, "405 Method"},
	    {NULL, "/admin/", NULL, "op", NULL, 405, "405 Method"},
	    {"GET", "/admin/x", NULL, "op", NULL, 404, "404 Not Found"},
	    {"GET", "/admin", NULL, "op", NULL, 404, "404 Not Found"},
	    {"GET", "/admin/", "q=%zz", "op", NULL, 400, "400 Bad Request"},
	    {"GET", "/admin/", "drop=1", "op", NULL, 400, "400 Bad Request"},
	};
	struct admin_buf out;
	char status[64];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		assert_int_equal(handle(cases[i].method, cases[i].uri,
				     cases[i].query, cases[i].user,
				     cases[i].verify, &out),
		    cases[i].code);
		snprintf(status, sizeof(status), "Status: %s", cases[i].status);
		assert_memory_equal(out.p, status, strlen(status));
		assert_headers(&out);
		assert_non_null(strstr(out.p, "Content-Type: text/plain"));
		if (cases[i].code == 405)
			assert_non_null(strstr(out.p, "\r\nAllow: GET\r\n"));
		admin_buf_free(&out);
	}
}

/* One table for fcgi.c's and admin.c's status lines (RFC 9110 §15). */
static void
test_status_text(void **state)
{
	static const struct {
		int code;
		const char *text;
	} cases[] = {
	    {200, "OK"},
	    {400, "Bad Request"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {411, "Length Required"},
	    {413, "Payload Too Large"},
	    {414, "URI Too Long"},
	    {415, "Unsupported Media Type"},
	    {500, "Internal Server Error"},
	    {503, "Service Unavailable"},
	    {418, "Error"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		assert_string_equal(http_status_text(cases[i].code),
		    cases[i].text);
}

/* RFC 5280 §5.3.1 names; the reasons a revocation may carry; parsing. */
static void
test_crl_reasons(void **state)
{
	static const char *const names[] = {"unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation", "certificateHold", NULL, "removeFromCRL",
	    "privilegeWithdrawn", "aACompromise"};
	static const struct {
		const char *in;
		int ok;
		long want;
	} parse[] = {
	    {"0", 1, 0}, {"1", 1, 1}, {"5", 1, 5}, {"9", 1, 9}, {"10", 1, 10},
	    {"010", 1, 10},
	    /* certificateHold is a reason, removeFromCRL releases a hold
	     * (cert release); 7 is unused; 11 and above are no CRLReason. */
	    {"6", 1, 6}, {"7", 0, 0}, {"8", 0, 0}, {"11", 0, 0},
	    {"-1", 0, 0}, {"+1", 0, 0}, {" 1", 0, 0}, {"1 ", 0, 0},
	    {"1x", 0, 0}, {"", 0, 0}, {"keyCompromise", 0, 0},
	    {"99999999999999999999", 0, 0},
	};
	long r;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(names); i++) {
		if (names[i] == NULL)
			assert_null(ca_crl_reason_name((long)i));
		else
			assert_string_equal(ca_crl_reason_name((long)i),
			    names[i]);
		assert_int_equal(ca_crl_reason_ok((long)i),
		    names[i] != NULL && i != 8);
	}
	assert_null(ca_crl_reason_name(-1));
	assert_null(ca_crl_reason_name(11));
	assert_false(ca_crl_reason_ok(-1));
	assert_false(ca_crl_reason_ok(11));
	for (i = 0; i < NELEM(parse); i++) {
		r = -42;
		if (ca_crl_reason_parse(parse[i].in, &r) != parse[i].ok ||
		    r != (parse[i].ok ? parse[i].want : -42))
			fail_msg("\"%s\": got %ld, want %s %ld", parse[i].in, r,
			    parse[i].ok ? "ok" : "refused", parse[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_query),
	    cmocka_unit_test(test_serial_parse),
	    cmocka_unit_test(test_is_path),
	    cmocka_unit_test(test_handle_refusals),
	    cmocka_unit_test(test_status_text),
	    cmocka_unit_test(test_crl_reasons),
	};

	return cmocka_run_group_tests_name("admin", tests, NULL, NULL);
}
