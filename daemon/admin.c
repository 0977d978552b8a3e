/*
 * admin.c - the operators' read-only web page under /admin/: the CA
 * identities, their health (admin_health.c), a plot of issuances per hour
 * (inline SVG), the recent issuances (paged, searchable), certificates
 * expiring soon, revocations and requests waiting for approval.
 *
 * Everything shown comes from the database and much of it from the
 * network (subjects are chosen by whoever enrolls), so every value goes
 * through admin_html(). The page has no JavaScript and loads nothing:
 * its Content-Security-Policy allows only its own stylesheet, by hash.
 * GET only, and only SELECTs (db/db_admin.c): nothing here changes state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "daemon/admin.h"
#include "lib/lib.h"
#include "daemon/http.h"

/* The stylesheet; the CSP names its SHA-256, so any other style (or an
 * injected one) is refused by the browser. */
static const char style[] =
    "body{font:14px/1.4 sans-serif;margin:0;color:#1b1f24;background:#fff}"
    "header{background:#1f2937;color:#fff;padding:12px 24px}"
    "header h1{margin:0;font-size:20px}header p{margin:2px 0 0;color:#d0d7de}"
    "main{padding:0 24px 24px}"
    "h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid #d0d7de}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eaeef2;"
    "vertical-align:top}"
    "th{background:#f6f8fa}"
    ".serial{font-family:monospace;word-break:break-all}"
    ".st-revoked,.st-rejected,.h-fail{color:#b42318}.h-warn{color:#9a6700}"
    ".empty{color:#57606a;font-style:italic}"
    "svg text{font:11px sans-serif;fill:#57606a}"
    "nav a{margin-right:12px}"
    "input{margin-right:8px}";

#define PLOT_LEFT 40  /* room for the y labels */
#define PLOT_TOP 12
#define PLOT_SLOT 18  /* pixels per hour */
#define PLOT_BAR 14   /* bar width */
#define PLOT_H 160    /* height of the tallest bar */
#define PLOT_BOTTOM 28 /* room for the x labels */
#define PLOT_FILL "#2f6fb1"

static void
buf_puts(struct admin_buf *b, const char *s)
{
	admin_buf_add(b, s, strlen(s));
}

/* Formatted text: numbers and our own strings only, never data. */
static void __attribute__((format(printf, 2, 3)))
buf_printf(struct admin_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->bad = 1;
		return;
	}
	admin_buf_add(b, tmp, (size_t)n);
}

/* Appends s percent-encoded for a query string value (RFC 3986
 * unreserved characters as they are). The result needs no HTML escaping
 * but for the "&" the caller puts between parameters. */
static void
url_add(struct admin_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char e[3];

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~') {
			admin_buf_add(b, (const char *)p, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[*p >> 4];
		e[2] = hex[*p & 0xf];
		admin_buf_add(b, e, 3);
	}
}

/* Query string. */

/*
 * Percent-decodes s[0..n) ("+" is a space) into out (size bytes, NUL
 * terminated). Refuses bad escapes, control characters, NUL and text that
 * is not UTF-8. Returns the length, or -1.
 */
static long
pct_decode(const char *s, size_t n, char *out, size_t size)
{
	size_t i, k;
	long o;

	o = lib_pct_decode(s, n, out, size, LIB_PCT_PLUS | LIB_PCT_NO_CTRL);
	if (o < 0)
		return -1;
	for (k = 0; k < (size_t)o; k += i)
		if ((i = admin_utf8_len((const unsigned char *)out + k)) == 0)
			return -1;
	return o;
}

/* See admin.h. */
int
admin_query_parse(const char *qs, struct admin_query *q)
{
	char val[CA_MAX_ADMIN_QUERY + 1];
	const char *p, *eq, *end, *why;
	int seen_q = 0, seen_s = 0, seen_p = 0, *seen;
	size_t klen;
	long len;
	char *e;

	memset(q, 0, sizeof(*q));
	q->page = 1;
	if (qs == NULL || *qs == '\0')
		return 0;
	if (strlen(qs) > CA_MAX_ADMIN_QUERY)
		return 414;
	for (p = qs; *p != '\0'; p = *end == '&' ? end + 1 : end) {
		end = p + strcspn(p, "&");
		if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL)
			return 400;
		klen = (size_t)(eq - p);
		if (klen == 1 && p[0] == 'q')
			seen = &seen_q;
		else if (klen == 6 && memcmp(p, "serial", 6) == 0)
			seen = &seen_s;
		else if (klen == 4 && memcmp(p, "page", 4) == 0)
			seen = &seen_p;
		else
			return 400;
		if ((*seen)++)
			return 400;
		len = pct_decode(eq + 1, (size_t)(end - eq - 1), val,
		    sizeof(val));
		if (len < 0)
			return 400;
		if (len == 0)
			continue; /* an empty form field */
		if (seen == &seen_q) {
			if ((size_t)len > CA_MAX_ADMIN_SEARCH)
				return 400;
			memcpy(q->subject, val, (size_t)len + 1);
		} else if (seen == &seen_s) {
			if (!ca_serial_parse(val, q->serial, sizeof(q->serial),
			    &why))
				return 400;
		} else {
			if (val[0] < '1' || val[0] > '9' || len > 5)
				return 400;
			q->page = (int)strtol(val, &e, 10);
			if (*e != '\0' || q->page > ADMIN_MAX_PAGE)
				return 400;
		}
	}
	return 0;
}

/* See admin.h. */
int
admin_is_path(const char *uri)
{
	return uri != NULL && strncmp(uri, "/admin", 6) == 0 &&
	    (uri[6] == '\0' || uri[6] == '/');
}

/* Page pieces. */

/* "2026-05-01 14:03" in UTC, or "-" for 0. */
static void
time_add(struct admin_buf *b, time_t t)
{
	char s[32];
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%d %H:%M", &tm) == 0) {
		buf_puts(b, "-");
		return;
	}
	buf_puts(b, s);
}

/* "EC P-256", "RSA 3072", or the algorithm's short name. */
static void
keytype_add(struct admin_buf *b, X509 *x)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	const char *nist;
	char group[64];
	size_t glen;

	if (k == NULL) {
		buf_puts(b, "-");
		return;
	}
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
		buf_printf(b, "RSA %d", EVP_PKEY_get_bits(k));
		break;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(k, group, sizeof(group), &glen) !=
		    1)
			group[0] = '\0';
		/* "P-256" rather than "prime256v1" where NIST names it. */
		nist = EC_curve_nid2nist(OBJ_txt2nid(group));
		buf_puts(b, "EC ");
		admin_html(b, nist != NULL ? nist : group);
		break;
	default:
		admin_html(b, OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
	}
}

static void
td(struct admin_buf *b, const char *cls, const char *text)
{
	if (cls != NULL) {
		buf_puts(b, "<td class=\"");
		buf_puts(b, cls);
		buf_puts(b, "\">");
	} else
		buf_puts(b, "<td>");
	admin_html(b, text);
	buf_puts(b, "</td>");
}

static void
td_time(struct admin_buf *b, time_t t)
{
	buf_puts(b, "<td>");
	time_add(b, t);
	buf_puts(b, "</td>");
}

/* CA identities: label, subject, key type, not-after, status. */
static void
sec_cas(struct admin_buf *b, const struct db_ca *cas, size_t n, time_t now)
{
	const unsigned char *p;
	struct db_cert row;
	X509 *x;
	size_t i;

	buf_puts(b, "<section id=\"cas\"><h2>CA identities</h2>");
	if (n == 0) {
		buf_puts(b, "<p class=\"empty\">No CA yet.</p></section>");
		return;
	}
	buf_puts(b, "<table><tr><th>Label</th><th>Subject</th><th>Key</th>"
		    "<th>Not after (UTC)</th><th>Status</th></tr>");
	for (i = 0; i < n; i++) {
		memset(&row, 0, sizeof(row));
		p = cas[i].cert;
		x = d2i_X509(NULL, &p, (long)cas[i].cert_len);
		buf_puts(b, "<tr>");
		td(b, NULL, cas[i].label);
		if (x != NULL && ca_cert_to_row(x, &row)) {
			td(b, NULL, row.subject);
			buf_puts(b, "<td>");
			keytype_add(b, x);
			buf_puts(b, "</td>");
			td_time(b, row.not_after);
		} else
			buf_puts(b, "<td>(certificate does not decode)</td>"
				    "<td>-</td><td>-</td>");
		buf_puts(b, "<td class=\"st-");
		admin_html(b, cas[i].status);
		buf_puts(b, "\">");
		admin_html(b, cas[i].status);
		if (row.not_after != 0 && row.not_after < now)
			buf_puts(b, ", expired");
		buf_puts(b, "</td></tr>");
		db_cert_clear(&row);
		X509_free(x);
	}
	buf_puts(b, "</table></section>");
}

/* Issuances per hour as an SVG bar chart, oldest hour on the left. */
static void
sec_plot(struct admin_buf *b, const long long *counts, int hours,
    time_t first)
{
	long long max = 1, total = 0;
	int i, h, x, y, w;
	time_t t;
	struct tm tm;

	for (i = 0; i < hours; i++) {
		total += counts[i];
		if (counts[i] > max)
			max = counts[i];
	}
	w = PLOT_LEFT + hours * PLOT_SLOT + 8;
	buf_printf(b, "<section id=\"plot\"><h2>Issuances per hour, last %d "
		      "hours (UTC)</h2><p>%lld certificate%s issued.</p>",
	    hours, total, total == 1 ? "" : "s");
	buf_printf(b, "<svg id=\"plot-svg\" "
		      "xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		      "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
		      "aria-label=\"issuances per hour\">",
	    w, PLOT_TOP + PLOT_H + PLOT_BOTTOM, w,
	    PLOT_TOP + PLOT_H + PLOT_BOTTOM);
	/* Axes and the y scale (0 and the maximum). */
	buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
		      "stroke=\"#8c959f\"/>",
	    PLOT_LEFT, PLOT_TOP + PLOT_H, w - 4, PLOT_TOP + PLOT_H);
	buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
		      "stroke=\"#8c959f\"/>",
	    PLOT_LEFT, PLOT_TOP, PLOT_LEFT, PLOT_TOP + PLOT_H);
	buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%lld</text>"
		      "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>",
	    PLOT_LEFT - 4, PLOT_TOP + 10, max, PLOT_LEFT - 4,
	    PLOT_TOP + PLOT_H);
	for (i = 0; i < hours; i++) {
		t = first + (time_t)i * 3600;
		if (gmtime_r(&t, &tm) == NULL)
			continue;
		x = PLOT_LEFT + i * PLOT_SLOT + (PLOT_SLOT - PLOT_BAR) / 2;
		if (counts[i] > 0) {
			/* At least 2 px, so one certificate is visible. */
			h = (int)(counts[i] * PLOT_H / max);
			if (h < 2)
				h = 2;
			y = PLOT_TOP + PLOT_H - h;
			buf_printf(b, "<rect class=\"bar\" x=\"%d\" y=\"%d\" "
				      "width=\"%d\" height=\"%d\" fill=\""
				      PLOT_FILL "\"><title>",
			    x, y, PLOT_BAR, h);
			time_add(b, t);
			buf_printf(b, " UTC: %lld</title></rect>", counts[i]);
		}
		if (tm.tm_hour % 6 == 0)
			buf_printf(b, "<text x=\"%d\" y=\"%d\" "
				      "text-anchor=\"middle\">%02d:00</text>",
			    x + PLOT_BAR / 2, PLOT_TOP + PLOT_H + 18,
			    tm.tm_hour);
	}
	buf_puts(b, "</svg></section>");
}

static void
sec_search(struct admin_buf *b, const struct admin_query *q)
{
	buf_puts(b, "<section id=\"search\"><h2>Search</h2>"
		    "<form method=\"get\" action=\"" ADMIN_PATH "\">"
		    "<label>Subject contains <input name=\"q\" maxlength=\"");
	buf_printf(b, "%d", CA_MAX_ADMIN_SEARCH);
	buf_puts(b, "\" value=\"");
	admin_html(b, q->subject);
	buf_puts(b, "\"></label><label>Serial (hex) <input name=\"serial\" "
		    "value=\"");
	admin_html(b, q->serial);
	buf_puts(b, "\"></label><button type=\"submit\">Search</button>"
		    "</form></section>");
}

/* A link to another page of the same search. */
static void
page_link(struct admin_buf *b, const struct admin_query *q, int page,
    const char *text)
{
	buf_printf(b, "<a href=\"?page=%d", page);
	if (q->subject[0] != '\0') {
		buf_puts(b, "&amp;q=");
		url_add(b, q->subject);
	}
	if (q->serial[0] != '\0') {
		buf_puts(b, "&amp;serial=");
		url_add(b, q->serial);
	}
	buf_puts(b, "\">");
	buf_puts(b, text);
	buf_puts(b, "</a>");
}

static void
cert_rows(struct admin_buf *b, const struct db_admin_cert *c, size_t n,
    int revoked)
{
	char cls[32];
	size_t i;

	if (revoked)
		buf_puts(b, "<table><tr><th>Serial</th><th>Subject</th>"
			    "<th>CA</th><th>Revoked (UTC)</th><th>Reason</th>"
			    "</tr>");
	else
		buf_puts(b, "<table><tr><th>Serial</th><th>Subject</th>"
			    "<th>CA</th><th>Profile</th><th>Status</th>"
			    "<th>Issued (UTC)</th><th>Not after (UTC)</th>"
			    "</tr>");
	for (i = 0; i < n; i++) {
		buf_puts(b, "<tr>");
		td(b, "serial", c[i].serial);
		td(b, NULL, c[i].subject);
		td(b, NULL, c[i].ca_label);
		if (revoked) {
			const char *rn = ca_crl_reason_name(c[i].reason);

			td_time(b, c[i].revoked_at);
			td(b, NULL, c[i].reason < 0 ? "-"
			    : rn != NULL ? rn : "unknown");
		} else {
			td(b, NULL, c[i].profile != NULL ? c[i].profile : "-");
			snprintf(cls, sizeof(cls), "st-%s",
			    db_cert_status_name(c[i].status));
			td(b, cls, db_cert_status_name(c[i].status));
			td_time(b, c[i].created);
			td_time(b, c[i].not_after);
		}
		buf_puts(b, "</tr>");
	}
	buf_puts(b, "</table>");
}

/* Recent issuances or search results, one page. Returns 1, or -1 on a
 * database error. */
static int
sec_certs(struct admin_buf *b, struct db *db, const struct admin_query *q)
{
	struct db_admin_filter f = {0};
	struct db_admin_cert *c = NULL;
	size_t got = 0, n;
	int more;

	f.subject = q->subject[0] != '\0' ? q->subject : NULL;
	f.serial = q->serial[0] != '\0' ? q->serial : NULL;
	f.limit = ADMIN_PAGE_ROWS + 1; /* one more: is there a next page? */
	f.offset = (q->page - 1) * ADMIN_PAGE_ROWS;
	if (db_admin_cert_list(db, &f, &c, &got) != 1)
		return -1;
	more = got > ADMIN_PAGE_ROWS;
	n = more ? ADMIN_PAGE_ROWS : got;
	buf_puts(b, "<section id=\"issuances\">");
	if (f.subject != NULL || f.serial != NULL) {
		buf_puts(b, "<h2>Search results</h2><p>");
		if (f.subject != NULL) {
			buf_puts(b, "Subject contains \xe2\x80\x9c");
			admin_html(b, f.subject);
			buf_puts(b, "\xe2\x80\x9d. ");
		}
		if (f.serial != NULL) {
			buf_puts(b, "Serial ");
			admin_html(b, f.serial);
			buf_puts(b, ". ");
		}
		buf_puts(b, "</p>");
	} else
		buf_puts(b, "<h2>Recent issuances</h2>");
	if (n == 0)
		buf_puts(b, "<p class=\"empty\">No certificates.</p>");
	else
		cert_rows(b, c, n, 0);
	buf_printf(b, "<nav>Page %d ", q->page);
	if (q->page > 1)
		page_link(b, q, q->page - 1, "&laquo; newer");
	if (more && q->page < ADMIN_MAX_PAGE)
		page_link(b, q, q->page + 1, "older &raquo;");
	buf_puts(b, "</nav></section>");
	db_admin_cert_array_free(c, got);
	return 1;
}

static int
sec_revoked(struct admin_buf *b, struct db *db)
{
	struct db_admin_filter f = {0};
	struct db_admin_cert *c = NULL;
	size_t n = 0;

	f.status = DB_CERT_REVOKED;
	f.limit = ADMIN_LIST_ROWS;
	if (db_admin_cert_list(db, &f, &c, &n) != 1)
		return -1;
	buf_puts(b, "<section id=\"revocations\"><h2>Revocations</h2>");
	if (n == 0)
		buf_puts(b, "<p class=\"empty\">No revoked certificates.</p>");
	else
		cert_rows(b, c, n, 1);
	buf_puts(b, "</section>");
	db_admin_cert_array_free(c, n);
	return 1;
}

static const char *
ca_label_of(const struct db_ca *cas, size_t n, long long id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cas[i].id == id)
			return cas[i].label;
	return "-";
}

static int
sec_pending(struct admin_buf *b, struct db *db, const struct db_ca *cas,
    size_t ncas)
{
	struct db_pending *p = NULL;
	size_t n = 0, i;
	char id[32];

	if (db_pending_list(db, 0, DB_PENDING_PENDING, ADMIN_LIST_ROWS, &p,
	    &n) != 1)
		return -1;
	buf_puts(b, "<section id=\"pending\"><h2>Pending approvals</h2>");
	if (n == 0)
		buf_puts(b, "<p class=\"empty\">No request waits for "
			    "approval.</p>");
	else
		buf_puts(b, "<table><tr><th>Request</th><th>Subject</th>"
			    "<th>CA</th><th>Kind</th><th>Profile</th>"
			    "<th>Requester</th><th>Since (UTC)</th></tr>");
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%lld", p[i].id);
		buf_puts(b, "<tr>");
		td(b, NULL, id);
		td(b, NULL, p[i].subject);
		td(b, NULL, ca_label_of(cas, ncas, p[i].ca_id));
		td(b, NULL, p[i].kind);
		td(b, NULL, p[i].profile);
		td(b, NULL, p[i].requester);
		td_time(b, p[i].created);
		buf_puts(b, "</tr>");
	}
	if (n > 0)
		buf_puts(b, "</table><p>Decide with <code>cmpca request "
			    "approve</code> or <code>cmpca request "
			    "reject</code>.</p>");
	buf_puts(b, "</section>");
	db_pending_array_free(p, n);
	return 1;
}

/* The whole page into body. Returns 1, or -1 on a database error. */
static int
page_build(struct admin_buf *b, struct db *db, const struct admin_query *q,
    const struct admin_req *rq)
{
	long long counts[ADMIN_PLOT_HOURS];
	struct db_ca *cas = NULL;
	size_t ncas = 0;
	time_t now = time(NULL), first;
	int rc = -1;

	if (db_ca_list(db, &cas, &ncas) != 1 ||
	    db_admin_hourly(db, ADMIN_PLOT_HOURS, counts, &first) != 1)
		goto out;
	buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		    "<meta charset=\"utf-8\"><title>cmpca operators</title>"
		    "<meta name=\"viewport\" content=\"width=device-width\">"
		    "<style>");
	buf_puts(b, style);
	buf_puts(b, "</style></head><body><header><h1>cmpca</h1><p>"
		    "Read-only operators&#39; view, generated ");
	time_add(b, now);
	buf_puts(b, " UTC</p></header><main>");
	if (admin_health(b, db, cas, ncas, rq, now) != 1)
		goto out;
	sec_plot(b, counts, ADMIN_PLOT_HOURS, first);
	sec_cas(b, cas, ncas, now);
	sec_search(b, q);
	if (sec_certs(b, db, q) != 1 || admin_expiring(b, db) != 1 ||
	    sec_revoked(b, db) != 1 || sec_pending(b, db, cas, ncas) != 1)
		goto out;
	buf_puts(b, "</main></body></html>\n");
	rc = 1;
out:
	db_ca_array_free(cas, ncas);
	return rc;
}

/* Response. */

/*
 * Headers and body into out. Every answer, errors too, carries the same
 * policy: nothing but our stylesheet may load or run, no framing, no
 * caching (the page shows who holds which certificate).
 */
static int
respond(struct admin_buf *out, int code, const char *ctype,
    const struct admin_buf *body)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];

	if (!EVP_Digest(style, sizeof(style) - 1, md, &mdlen, EVP_sha256(),
	    NULL))
		return -1;
	EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
	buf_printf(out, "Status: %d %s\r\nContent-Type: %s\r\n", code,
	    http_status_text(code), ctype);
	buf_printf(out, "Content-Security-Policy: default-src 'none'; "
			"style-src 'sha256-%s'; form-action 'self'; "
			"frame-ancestors 'none'; base-uri 'none'\r\n",
	    b64);
	buf_puts(out, "X-Frame-Options: DENY\r\n"
		      "X-Content-Type-Options: nosniff\r\n"
		      "Referrer-Policy: no-referrer\r\n"
		      "Cache-Control: no-store\r\n");
	if (code == 405)
		buf_puts(out, "Allow: GET\r\n");
	buf_printf(out, "Content-Length: %lu\r\n\r\n",
	    (unsigned long)body->len);
	admin_buf_add(out, body->p, body->len);
	return out->bad ? -1 : code;
}

static int
respond_text(struct admin_buf *out, int code)
{
	struct admin_buf body = {0};
	int rc;

	buf_printf(&body, "%d %s\n", code, http_status_text(code));
	rc = respond(out, code, "text/plain; charset=utf-8", &body);
	admin_buf_free(&body);
	return rc;
}

/* See admin.h. */
int
admin_handle(struct db *db, const struct admin_req *rq,
    struct admin_buf *out)
{
	struct admin_buf body = {0};
	struct admin_query q;
	int code, rc;

	/* nginx must say whom it let in, in a parameter only the /admin/
	 * location sets; a client certificate nginx did not verify is
	 * refused even then. */
	if (rq->admin_user == NULL || rq->admin_user[0] == '\0' ||
	    (rq->client_verify != NULL &&
	    strcmp(rq->client_verify, "SUCCESS") != 0))
		code = 403;
	else if (rq->method == NULL || strcmp(rq->method, "GET") != 0)
		code = 405;
	else if (rq->uri == NULL || strcmp(rq->uri, ADMIN_PATH) != 0)
		code = 404;
	else
		code = admin_query_parse(rq->query, &q);
	if (code != 0)
		goto fail;
	if (page_build(&body, db, &q, rq) != 1) {
		log_err("admin: %s", db_error(db));
		code = 503;
		goto fail;
	}
	if (body.bad) {
		log_err("admin: page larger than %d bytes or out of memory",
		    CA_MAX_RESPONSE);
		code = 503;
		goto fail;
	}
	rc = respond(out, 200, "text/html; charset=utf-8", &body);
	admin_buf_free(&body);
	if (rc < 0) {
		admin_buf_free(out);
		code = 503;
		goto fail;
	}
	return rc;
fail:
	admin_buf_free(&body);
	if (respond_text(out, code) < 0)
		return 503; /* out->bad: the caller answers plainly */
	return code;
}
