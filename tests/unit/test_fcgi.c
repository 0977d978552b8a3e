/*
 * test_fcgi.c - the FastCGI front's request validation (daemon/fcgi.c):
 * CMP paths, labels, content types and lengths (fcgi_request_check), and
 * OCSP over HTTP by POST and GET (fcgi_is_ocsp, fcgi_ocsp_check).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "daemon/fcgi.h"
#include "tests/unit/unitlib.h"

/* FastCGI request validation. */

struct fcgi_case {
	const char *method, *uri, *ctype, *clen;
	int code;
	const char *label; /* when code is 0 */
	long len;
};

#define CT "application/pkixcmp"
#define WK "/.well-known/cmp"
#define L63 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789."

static const struct fcgi_case fcgi_cases[] = {
	{ "POST", WK, CT, "100", 0, NULL, 100 },
	{ "POST", WK "/", CT, "100", 0, NULL, 100 },
	{ "POST", WK "/p/demo", CT, "100", 0, "demo", 100 },
	{ "POST", WK "/p/demo/initialization", CT, "7", 0, "demo", 7 },
	{ "POST", WK "/p/" L63, CT, "7", 0, L63, 7 },
	{ "POST", WK "/p/" L63 "x", CT, "7", 404, NULL, 0 },
	{ "POST", WK "/p/", CT, "7", 404, NULL, 0 },
	{ "POST", WK "/p/demo/a/b", CT, "7", 404, NULL, 0 },
	{ "POST", WK "/p/de%2fmo", CT, "7", 404, NULL, 0 },
	{ "POST", "/other", CT, "100", 404, NULL, 0 },
	{ "POST", WK "x", CT, "100", 404, NULL, 0 },
	{ "POST", NULL, CT, "100", 404, NULL, 0 },
	{ "GET", WK, CT, "100", 405, NULL, 0 },
	{ NULL, WK, CT, "100", 405, NULL, 0 },
	{ "POST", WK, "text/plain", "100", 415, NULL, 0 },
	{ "POST", WK, NULL, "100", 415, NULL, 0 },
	{ "POST", WK, CT "x", "100", 415, NULL, 0 },
	{ "POST", WK, "application/x-pkixcmp", "100", 0, NULL, 100 },
	{ "POST", WK, "application/pkixcmp-poll", "100", 0, NULL, 100 },
	{ "POST", WK, "application/x-pkixcmp-poll", "100", 0, NULL, 100 },
	{ "POST", WK, CT "; charset=binary", "100", 0, NULL, 100 },
	{ "POST", WK, "Application/PKIXCMP", "100", 0, NULL, 100 },
	{ "POST", WK, CT, NULL, 411, NULL, 0 },
	{ "POST", WK, CT, "", 411, NULL, 0 },
	{ "POST", WK, CT, "12a", 400, NULL, 0 },
	{ "POST", WK, CT, "-1", 400, NULL, 0 },
	{ "POST", WK, CT, "+5", 400, NULL, 0 },
	{ "POST", WK, CT, " 5", 400, NULL, 0 },
	{ "POST", WK, CT, "0", 400, NULL, 0 },
	{ "POST", WK, CT, "262144", 0, NULL, CA_MAX_REQUEST },
	{ "POST", WK, CT, "262145", 413, NULL, 0 },
	{ "POST", WK, CT, "99999999999999999999", 413, NULL, 0 },
};

/* Dot segments are no labels: nginx normalises them, but fcgi.c must not
 * depend on the front end for that. */
static const struct fcgi_case fcgi_dot_cases[] = {
	{ "POST", WK "/p/../x", CT, "100", 404, NULL, 0 },
	{ "POST", WK "/p/..", CT, "100", 404, NULL, 0 },
	{ "POST", WK "/p/./x", CT, "100", 404, NULL, 0 },
};

/* /ocsp is no CMP path: fcgi_request_check keeps answering 404 for it
 * (serve_one routes it to fcgi_ocsp_check first). */
static const struct fcgi_case fcgi_ocsp_cmp_cases[] = {
	{ "POST", "/ocsp", CT, "100", 404, NULL, 0 },
	{ "POST", "/ocsp/", "application/ocsp-request", "100", 404, NULL, 0 },
	{ "GET", "/ocsp/MEUw", NULL, NULL, 404, NULL, 0 },
};

#define S(s) ((s) != NULL ? (s) : "(null)")

/* Runs a table with max = CA_MAX_REQUEST; returns the rows that differ. */
static size_t
fcgi_run(const struct fcgi_case *c, size_t n)
{
	char buf[DB_LABEL_MAX];
	const char *label;
	size_t i, bad = 0;
	long len;
	int code;

	for (i = 0; i < n; i++) {
		code = fcgi_request_check(c[i].method, c[i].uri, c[i].ctype,
		    c[i].clen, CA_MAX_REQUEST, buf, sizeof(buf), &label, &len);
		if (code == c[i].code &&
		    (code != 0 || (len == c[i].len &&
		                      strcmp(S(label), S(c[i].label)) == 0)))
			continue;
		print_error("%s %s [%s] [%s]: %d label %s len %ld, want %d "
		            "label %s len %ld\n",
		    S(c[i].method), S(c[i].uri), S(c[i].ctype), S(c[i].clen),
		    code, S(label), len, c[i].code, S(c[i].label), c[i].len);
		bad++;
	}
	return bad;
}

static void
test_fcgi_request_check(void **state)
{
	(void)state;
	EQ(fcgi_run(fcgi_cases, NELEM(fcgi_cases)), 0);
}

static void
test_fcgi_label_dot_segments(void **state)
{
	(void)state;
	EQ(fcgi_run(fcgi_dot_cases, NELEM(fcgi_dot_cases)), 0);
}

static void
test_fcgi_ocsp_not_cmp(void **state)
{
	(void)state;
	EQ(fcgi_run(fcgi_ocsp_cmp_cases, NELEM(fcgi_ocsp_cmp_cases)), 0);
}

static void
test_fcgi_is_ocsp(void **state)
{
	static const struct {
		const char *uri;
		int want;
	} c[] = {
		{ "/ocsp", 1 }, { "/ocsp/", 1 }, { "/ocsp/MEUw", 1 },
		{ "/ocsp//x/y", 1 }, { "/ocspx", 0 }, { "/ocs", 0 },
		{ "/OCSP", 0 }, { "/", 0 }, { "", 0 }, { NULL, 0 },
		{ WK, 0 }, { WK "/p/ocsp", 0 }, { "/x/ocsp", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(c); i++)
		if (fcgi_is_ocsp(c[i].uri) != c[i].want) {
			print_error("%s: want %d\n", S(c[i].uri), c[i].want);
			fail();
		}
}

/*
 * OCSP over HTTP (RFC 6960 Appendix A.1). der: the hex of the decoded GET
 * request, "" when it must not decode (answered malformedRequest), NULL
 * for a POST (the body is read later).
 */
struct ocsp_case {
	const char *method, *uri, *raw, *ctype, *clen;
	int code;
	const char *der;
	long len;
};

#define OCT "application/ocsp-request"
#define A80 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static const struct ocsp_case ocsp_cases[] = {
	/* POST: path, content type, length. */
	{ "POST", "/ocsp", NULL, OCT, "10", 0, NULL, 10 },
	{ "POST", "/ocsp/", NULL, OCT, "7", 0, NULL, 7 },
	{ "POST", "/ocsp", NULL, "Application/OCSP-Request; q=1", "7", 0,
	    NULL, 7 },
	{ "POST", "/ocsp/x", NULL, OCT, "7", 404, NULL, 0 },
	{ "POST", "/ocspx", NULL, OCT, "7", 404, NULL, 0 },
	{ "POST", NULL, NULL, OCT, "7", 404, NULL, 0 },
	{ "POST", "/ocsp", NULL, CT, "7", 415, NULL, 0 },
	{ "POST", "/ocsp", NULL, NULL, "7", 415, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT "x", "7", 415, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, NULL, 411, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "", 411, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "0", 400, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "-1", 400, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "7x", 400, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "16", 0, NULL, 16 },
	{ "POST", "/ocsp", NULL, OCT, "17", 413, NULL, 0 },
	{ "POST", "/ocsp", NULL, OCT, "99999999999999999999", 413, NULL, 0 },
	/* Other methods. */
	{ "PUT", "/ocsp", NULL, OCT, "7", 405, NULL, 0 },
	{ "HEAD", "/ocsp/AQID", NULL, NULL, NULL, 405, NULL, 0 },
	{ NULL, "/ocsp", NULL, OCT, "7", 405, NULL, 0 },
	/* GET: the raw URI, percent- then base64-decoded. */
	{ "GET", "/ocsp/AQID", "/ocsp/AQID", NULL, NULL, 0, "010203", 3 },
	{ "GET", "/ocsp/AQID", NULL, NULL, NULL, 0, "010203", 3 },
	{ "GET", "/ocsp/AQI=", "/ocsp/AQI%3D", NULL, NULL, 0, "0102", 2 },
	{ "GET", "/ocsp/AQI=", "/ocsp/AQI%3d", NULL, NULL, 0, "0102", 2 },
	{ "GET", "/ocsp/AQI=", "/ocsp/AQI=", NULL, NULL, 0, "0102", 2 },
	{ "GET", "/ocsp/AQI", "/ocsp/AQI", NULL, NULL, 0, "0102", 2 },
	{ "GET", "/ocsp/AQ==", "/ocsp/AQ==", NULL, NULL, 0, "01", 1 },
	{ "GET", "/ocsp/+/8=", "/ocsp/%2B%2F8%3D", NULL, NULL, 0, "fbff", 2 },
	{ "GET", "/ocsp/+/8=", "/ocsp/+/8=", NULL, NULL, 0, "fbff", 2 },
	{ "GET", "/ocsp/-_8", "/ocsp/-_8", NULL, NULL, 0, "fbff", 2 },
	/* nginx merges "//": the raw URI keeps them. */
	{ "GET", "/ocsp/AQ/", "/ocsp/AQ//", NULL, NULL, 0, "010fff", 3 },
	{ "GET", "/ocsp/AQID", "/ocsp//AQID", NULL, NULL, 0, "010203", 3 },
	{ "GET", "/ocsp/AQID", "/ocsp/AQID?x=1", NULL, NULL, 0, "010203", 3 },
	/* A content type or length on a GET does not matter. */
	{ "GET", "/ocsp/AQID", "/ocsp/AQID", "text/plain", "5", 0, "010203",
	    3 },
	/* Not decodable: malformedRequest from the responder. */
	{ "GET", "/ocsp", "/ocsp", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/A", "/ocsp/A", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/AQIDB", "/ocsp/AQIDB", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/AQ=", "/ocsp/AQ=", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/AQ===", "/ocsp/AQ===", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/A=QI", "/ocsp/A=QI", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQ%zz", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQI%3", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQI%", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQ%00", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQ ID", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/", "/ocsp/AQ.D", NULL, NULL, 0, "", 0 },
	{ "GET", "/ocsp/AQID", "/%6Fcsp/AQID", NULL, NULL, 0, "", 0 },
	/* Bounds (max 16): decoded 18 bytes, and a text too long to try. */
	{ "GET", "/ocsp/x", "/ocsp/AAAAAAAAAAAAAAAAAAAA", NULL, NULL, 0,
	    "000000000000000000000000000000", 15 },
	{ "GET", "/ocsp/x", "/ocsp/AAAAAAAAAAAAAAAAAAAAAAAA", NULL, NULL, 414,
	    NULL, 0 },
	{ "GET", "/ocsp/x", "/ocsp/" A80 "A", NULL, NULL, 414, NULL, 0 },
	/* Not OCSP at all. */
	{ "GET", "/ocspx/AQID", "/ocspx/AQID", NULL, NULL, 404, NULL, 0 },
};

static char *
hex_of(const unsigned char *p, long n)
{
	static char buf[256];
	long i;

	buf[0] = '\0';
	for (i = 0; i < n && (size_t)(2 * i + 2) < sizeof(buf); i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	return buf;
}

static void
test_fcgi_ocsp_check(void **state)
{
	const struct ocsp_case *c;
	unsigned char *der;
	size_t i, bad = 0;
	long len;
	int code, ok;

	(void)state;
	for (i = 0; i < NELEM(ocsp_cases); i++) {
		c = &ocsp_cases[i];
		der = (unsigned char *)"x";
		len = -1;
		code = fcgi_ocsp_check(c->method, c->uri, c->raw, c->ctype,
		    c->clen, 16, &der, &len);
		if (c->der == NULL)
			ok = der == NULL && len == c->len;
		else if (c->der[0] == '\0')
			ok = der == NULL && len == 0;
		else
			ok = der != NULL && len == c->len &&
			    strcmp(hex_of(der, len), c->der) == 0;
		if (code != c->code || !ok) {
			print_error("%s %s [%s]: %d der %s len %ld, want %d "
				    "der %s len %ld\n",
			    S(c->method), S(c->uri), S(c->raw), code,
			    der != NULL ? hex_of(der, len) : "(null)", len,
			    c->code, S(c->der), c->len);
			bad++;
		}
		free(der);
	}
	EQ(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest fcgi[] = {
		cmocka_unit_test(test_fcgi_request_check),
		cmocka_unit_test(test_fcgi_label_dot_segments),
		cmocka_unit_test(test_fcgi_ocsp_not_cmp),
		cmocka_unit_test(test_fcgi_is_ocsp),
		cmocka_unit_test(test_fcgi_ocsp_check),
	};

	return cmocka_run_group_tests_name("fcgi", fcgi, NULL, NULL) != 0;
}
