/*
 * http.h - what the daemon's HTTP answers share (http.c): the reason
 * phrases of the status codes fcgi.c and admin.c answer with.
 */
#ifndef CMPCA_HTTP_H
#define CMPCA_HTTP_H

/* The reason phrase of code (RFC 9110 §15), "Error" for one we never
 * answer with. */
const char *http_status_text(int code);

#endif
