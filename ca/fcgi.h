/*
 * fcgi.h - the FastCGI front of cmpcad. fcgi.c is the only file that
 * includes fcgiapp.h.
 */
#ifndef CMPCA_FCGI_H
#define CMPCA_FCGI_H

#include <signal.h>

#include "ca/ca.h"

/* Opens (creates) the FastCGI unix socket; returns the fd or -1. */
int fcgi_listen(const char *path);

/*
 * Serves requests on fd until *stop becomes non-zero: validates method,
 * path, content type and length (answering 404, 405, 411, 413, 415, 400)
 * before handing the body to the CMP engine. Returns 0 when stopped, -1
 * on a fatal error.
 */
int fcgi_serve(int fd, const struct cfg *cfg, struct cmp_srv *srv,
    volatile sig_atomic_t *stop);

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

#endif
