/*
 * fcgi.h - the FastCGI front of cmpcad. fcgi.c is the only file that
 * includes fcgiapp.h.
 */
#ifndef CMPCA_FCGI_H
#define CMPCA_FCGI_H

#include <signal.h>
#include <sys/types.h>

#include "ca/ca.h"

struct worker;

/*
 * Opens the FastCGI socket: a unix socket at path (created 0660, then
 * given to owner and group where they are not -1), or HOST:PORT when
 * fcgi_is_tcp(path), left as libfcgi makes it and nothing touched in the
 * file system. Returns the listening fd, or -1 with the reason logged.
 */
int fcgi_listen(const char *path, uid_t owner, gid_t group);

/* 1 if path names a TCP socket (HOST:PORT or :PORT), 0 for a unix one. */
int fcgi_is_tcp(const char *path);

/*
 * Serves requests on fd until *stop becomes non-zero: validates method,
 * path, content type and length (answering 404, 405, 411, 413, 415, 400)
 * before handing the body to the worker's CMP engine, or for /ocsp to its
 * OCSP responder (daemon/worker.h); checks the worker's HSM before each
 * request. Returns 0 when stopped, -1 on a fatal error.
 */
int fcgi_serve(int fd, struct worker *w, volatile sig_atomic_t *stop);

/* Async-signal-safe: makes a blocked accept return (SIGTERM handler). */
void fcgi_shutdown(void);

/*
 * Table-driven request validation, separated for unit tests: returns 0 if
 * acceptable, else the HTTP status to answer. On success *label is the CA
 * label from the path (NULL for the default CA) copied into labelbuf, and
 * *len the body length.
 */
int fcgi_request_check(const char *method, const char *uri,
    const char *ctype, const char *clen, long max, char *labelbuf,
    size_t labellen, const char **label, long *len);

/* 1 if uri (the decoded path) is "/ocsp" or under "/ocsp/". */
int fcgi_is_ocsp(const char *uri);

/*
 * OCSP over HTTP (RFC 6960 Appendix A.1), for a path fcgi_is_ocsp()
 * accepts (else 404). Returns 0 if acceptable, else the HTTP status
 * (404, 405, 411, 413, 414, 415, 400).
 * - POST to "/ocsp" or "/ocsp/" with application/ocsp-request and a
 *   Content-Length of 1..max: *len is the body length, *der NULL.
 * - GET "/ocsp/<base64>", read from raw_uri (REQUEST_URI, before nginx
 *   decodes it; uri if NULL): the URL-encoded base64 (standard or
 *   URL-safe alphabet, padding optional) decoded into *der (malloc, the
 *   caller frees) of *len bytes, at most max (else 414). Text that does
 *   not decode gives 0 with *der NULL and *len 0: the responder answers
 *   malformedRequest.
 */
int fcgi_ocsp_check(const char *method, const char *uri,
    const char *raw_uri, const char *ctype, const char *clen, long max,
    unsigned char **der, long *len);

#endif
