/*
 * admin.h - the operators' read-only web page, served by cmpcad under
 * /admin/ (daemon/admin.c). fcgi.c routes the request here and writes the
 * response this module builds; nothing here knows FastCGI.
 *
 * nginx protects the location (basic auth or a client certificate); as a
 * second guard the page answers 403 unless nginx says who authenticated
 * in CMPCA_ADMIN_USER, which only that location sets (and, where nginx
 * passes SSL_CLIENT_VERIFY, it is "SUCCESS").
 */
#ifndef CMPCA_ADMIN_H
#define CMPCA_ADMIN_H

#include <stddef.h>

#include "ca/ca.h"

#define ADMIN_PATH "/admin/"
#define ADMIN_PAGE_ROWS 25   /* certificates per page */
#define ADMIN_LIST_ROWS 25   /* revocations, pending requests shown */
#define ADMIN_PLOT_HOURS 48  /* hours in the issuance plot */
#define ADMIN_MAX_PAGE 10000 /* page numbers accepted */

/* A growing output buffer with a sticky out-of-memory flag. */
struct admin_buf {
	char *p;
	size_t len;
	size_t cap;
	int bad;
};
void admin_buf_free(struct admin_buf *b);
void admin_buf_add(struct admin_buf *b, const char *s, size_t n);
/*
 * Appends s escaped for HTML text and quoted attribute values: & < > " '
 * as entities; control characters and bytes that are not well-formed UTF-8
 * as U+FFFD. NULL appends nothing.
 */
void admin_html(struct admin_buf *b, const char *s);
/* Length of the well-formed UTF-8 sequence at s (RFC 3629), or 0. */
size_t admin_utf8_len(const unsigned char *s);

/* The query string of the page, validated. */
struct admin_query {
	char subject[CA_MAX_ADMIN_SEARCH + 1]; /* substring, "" for none */
	char serial[DB_SERIAL_MAX];	       /* canonical hex, "" for none */
	int page;			       /* 1.. */
};
/*
 * Parses a query string of the keys q (subject substring), serial (hex,
 * optional 0x prefix and colons) and page (1..ADMIN_MAX_PAGE), each at
 * most once, percent-encoded, empty values ignored. Returns 0, or the
 * HTTP status to answer (400, 414 when longer than CA_MAX_ADMIN_QUERY).
 */
int admin_query_parse(const char *qs, struct admin_query *q);

/* 1 if uri (the decoded path) is "/admin" or under "/admin/". */
int admin_is_path(const char *uri);

/* What the page needs of one HTTP request (FastCGI parameters). */
struct admin_req {
	const char *method;
	const char *uri;	   /* DOCUMENT_URI */
	const char *query;	   /* QUERY_STRING */
	/* CMPCA_ADMIN_USER: who nginx authenticated, passed by the one
	 * location that authenticates. Not REMOTE_USER, which
	 * fastcgi_params fills from any Authorization: Basic header, in
	 * locations without auth_basic too. */
	const char *admin_user;
	const char *client_verify; /* SSL_CLIENT_VERIFY, if nginx passes it */
	int hsm; /* the serving worker's HSM: 1 logged in, 0 lost */
	long crl_delay; /* the configuration's, for the health section */
};
/*
 * Builds the whole CGI response (Status and other headers, then the body)
 * for one request into out and returns its HTTP status: 200, 400, 403,
 * 404, 405, 414, or 503 when the database or memory fails. Only reads the
 * database.
 */
int admin_handle(struct db *db, const struct admin_req *rq,
    struct admin_buf *out);

/* admin_health.c - what `cmpca status` checks (the HSM as rq says, each
 * active CA's certificate, CRL and OCSP signer, the audit chain's last
 * checkpoint), and the valid certificates expiring within 30 days. Each
 * returns 1, or -1 on a database error. */
int admin_health(struct admin_buf *b, struct db *db, const struct db_ca *cas,
    size_t n, const struct admin_req *rq, time_t now);
int admin_expiring(struct admin_buf *b, struct db *db);

#endif
