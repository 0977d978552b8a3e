/*
 * admin_buf.c - the operators' page's output buffer (bounded by
 * CA_MAX_RESPONSE, with a sticky out-of-memory flag) and its HTML
 * escaping, shared by admin.c and admin_health.c.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/admin.h"

/* Output buffer. */

void
admin_buf_free(struct admin_buf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void
admin_buf_add(struct admin_buf *b, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->bad || n == 0)
		return;
	if (n > CA_MAX_RESPONSE || b->len + n > CA_MAX_RESPONSE) {
		b->bad = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap > 0 ? b->cap : 8192;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->bad = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_puts(struct admin_buf *b, const char *s)
{
	admin_buf_add(b, s, strlen(s));
}

/* Escaping. */

/* See admin.h.
 * Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0.
 */
size_t
admin_utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned long cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/* See admin.h. */
void
admin_html(struct admin_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (s == NULL)
		return;
	while (*p != '\0') {
		switch (*p) {
		case '&': buf_puts(b, "&amp;"); p++; continue;
		case '<': buf_puts(b, "&lt;"); p++; continue;
		case '>': buf_puts(b, "&gt;"); p++; continue;
		case '"': buf_puts(b, "&quot;"); p++; continue;
		case '\'': buf_puts(b, "&#39;"); p++; continue;
		default: break;
		}
		if (*p < 0x20 || *p == 0x7f || (n = admin_utf8_len(p)) == 0) {
			buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD */
			p++;
			continue;
		}
		admin_buf_add(b, (const char *)p, n);
		p += n;
	}
}
