/*
 * lib_pct.c - percent-decoding, the one copy: RFC 7512 URIs (hsm/), the
 * operators' page's query string (daemon/admin.c).
 */
#include "lib/lib.h"

static int
lib_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 1 if RFC 7512 lets byte c stand unescaped in what we parse. */
static int
lib_uri_plain(int c)
{
	return c > 0x20 && c < 0x7f && c != '#' && c != '/' && c != '"' &&
	    c != '<' && c != '>' && c != '\\';
}

/* See lib.h. */
long
lib_pct_decode(const char *s, size_t n, char *out, size_t size,
    unsigned int flags)
{
	size_t i, o = 0;
	int hi, lo, c;

	if (size == 0)
		return -1;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n ||
			    (hi = lib_hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = lib_hexval((unsigned char)s[i + 2])) < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		} else if ((flags & LIB_PCT_URI) && !lib_uri_plain(c)) {
			return -1;
		} else if (c == '+' && (flags & LIB_PCT_PLUS)) {
			c = ' ';
		}
		if (c == 0 && (flags & (LIB_PCT_NO_NUL | LIB_PCT_NO_CTRL)))
			return -1;
		if ((c < 0x20 || c == 0x7f) && (flags & LIB_PCT_NO_CTRL))
			return -1;
		if (o + 1 >= size)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (long)o;
}
