/*
 * coap_xfer.h - what the CoAP front end (coap_srv.c) decides without
 * libcoap: which requests it takes (RFC 9482 §2), the Block1/Block2
 * options (RFC 7959 §2.2), and the bounded table of block-wise transfers
 * in progress. Pure functions over bytes and strings, so the unit tests
 * (tests/unit/test_coap.c) call them without a socket.
 *
 * CoAP codes are written as class * 100 + detail: 204 is 2.04 Changed,
 * 415 is 4.15 Unsupported Content-Format.
 */
#ifndef CMPCA_COAP_XFER_H
#define CMPCA_COAP_XFER_H

#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/lib.h"

/* CoAP Content-Format of application/pkixcmp (RFC 9482). */
#define COAP_XFER_CF_PKIXCMP 259
/* Method codes (RFC 7252 §12.1.1). */
#define COAP_XFER_POST 2

/*
 * Which resource a request names, from its Uri-Path options joined with
 * '/' (no leading '/'; the caller has refused segments that hold '/' or
 * NUL): ".well-known/cmp" (also with a trailing "/") for the default CA,
 * ".well-known/cmp/p/<label>" with an optional "/<operation>" for the CA
 * of that label (copied into labelbuf). Then the method: POST only.
 * Returns 0 with *label set (NULL: default CA), 404 or 405.
 */
int coap_xfer_route(int method, const char *path, char *labelbuf,
    size_t labellen, const char **label) CA_MUST_CHECK;

/* A Block1 or Block2 option (RFC 7959 §2.2). */
struct coap_blk {
	unsigned long num; /* block number */
	int more;	   /* M: more blocks follow */
	unsigned szx;	   /* size exponent: 2^(szx + 4) bytes */
};

/*
 * Decodes a Block option value of len bytes (0..3). SZX 7 (BERT) exists
 * only over reliable transports (RFC 8323) and is refused. Returns 1, or
 * 0 when the value is malformed.
 */
int coap_xfer_blk_decode(const unsigned char *val, size_t len,
    struct coap_blk *b) CA_MUST_CHECK;
/* The option value of b (as libcoap's coap_encode_var_safe takes it). */
unsigned long coap_xfer_blk_value(const struct coap_blk *b);
/* Block size of an SZX. */
size_t coap_xfer_blk_size(unsigned szx);

/*
 * The table of transfers in progress. Each is keyed by the peer (its
 * address as text), the path and the Request-Tag (RFC 9175), and is one
 * of: a request body arriving in Block1 blocks, or a response waiting to
 * be fetched in Block2 blocks. Bounded by CA_COAP_MAX_XFERS in all and
 * CA_COAP_MAX_XFERS_PEER per peer; each holds at most max_body bytes; one
 * idle for timeout seconds is dropped by coap_xfer_expire().
 */
struct coap_xfers;

struct coap_xfers *coap_xfer_table_new(size_t max_body, long timeout)
    CA_MUST_CHECK;
/* NULL-safe. */
void coap_xfer_table_free(struct coap_xfers *t);
/* Transfers held now (both kinds). */
size_t coap_xfer_count(const struct coap_xfers *t);
/* Drops every transfer idle since now - timeout. Returns how many. */
size_t coap_xfer_expire(struct coap_xfers *t, time_t now);

/* The key of one transfer. */
struct coap_xfer_key {
	const char *peer;	  /* "addr:port" */
	const char *path;	  /* as given to coap_xfer_route */
	const unsigned char *rtag; /* Request-Tag, or NULL */
	size_t rtag_len;
};

/*
 * One Block1 block of a request body, data of len bytes, at time now.
 * Block 0 starts a transfer (replacing one of the same key); a later
 * block must continue it at the next offset (a retransmitted one is
 * taken again without effect). Every block but the last carries exactly
 * one block of data (RFC 7959 §2.3).
 * Returns
 *   231  stored, more to come: answer 2.31 Continue;
 *   0    the body is complete: *body (malloc, the caller frees) of
 *        *body_len bytes; nothing of it stays in the table;
 *   400  malformed (block size, a short block);
 *   408  no transfer to continue, or a block out of order (4.08 Request
 *        Entity Incomplete, RFC 7959 §2.9.2);
 *   413  the body would exceed max_body;
 *   503  the table is full, or out of memory.
 * On any answer but 231 the transfer of that key is gone.
 */
int coap_xfer_put(struct coap_xfers *t, const struct coap_xfer_key *k,
    const struct coap_blk *b, const unsigned char *data, size_t len,
    time_t now, unsigned char **body, size_t *body_len) CA_MUST_CHECK;

/* Drops the transfer of k, if any (a refused block of it). */
void coap_xfer_drop(struct coap_xfers *t, const struct coap_xfer_key *k);

/*
 * Keeps a response of len bytes (taken over: freed by the table, with
 * OPENSSL_free as the engine allocated it) for the Block2 requests of k's
 * peer and path, which name no Request-Tag. Replaces an earlier response
 * for them; when the table or the peer's share is full, the least
 * recently used transfer goes. Returns 1, or 0 (out of memory: resp
 * freed).
 */
int coap_xfer_hold(struct coap_xfers *t, const struct coap_xfer_key *k,
    unsigned char *resp, size_t len, time_t now) CA_MUST_CHECK;

/*
 * Block b->num of size b->szx of the response held for k's peer and
 * path: *data, *len (valid until the next call on the table), *more and
 * *total. The last block releases the response. Returns 1, or 0 when no
 * response is held or the block lies beyond its end.
 */
int coap_xfer_get(struct coap_xfers *t, const struct coap_xfer_key *k,
    const struct coap_blk *b, time_t now, const unsigned char **data,
    size_t *len, int *more, size_t *total) CA_MUST_CHECK;

/*
 * An answer as coap_srv.c sends it: a code, the options it may carry and
 * a payload of at most one block (a larger response goes in Block2
 * blocks). Kept to repeat it to a retransmission.
 */
struct coap_ans {
	int code;	/* 0: none yet */
	int cf;		/* carries Content-Format 259 */
	int has_b1, has_b2, has_size1, has_size2, has_max_age;
	struct coap_blk b1, b2;
	unsigned long size1, size2;
	unsigned long max_age; /* 5.03: seconds until a retry may succeed */
	size_t len;
	unsigned char data[1024]; /* coap_xfer_blk_size(CA_COAP_SZX) */
};

/*
 * The answers to the last Confirmable request of each peer, so that a
 * retransmitted one (same peer, same Message ID) gets the same answer
 * without being served again (RFC 7252 §4.5): the engine would refuse a
 * replayed CMP message, a finished transfer would answer 4.08. At most
 * CA_COAP_MAX_DUPS peers (the least recently answered goes), each for
 * CA_COAP_EXCHANGE_LIFETIME seconds.
 */
struct coap_dups;

struct coap_dups *coap_xfer_dups_new(void) CA_MUST_CHECK;
/* NULL-safe. */
void coap_xfer_dups_free(struct coap_dups *d);
/* The answer kept for peer's request mid, or NULL. */
const struct coap_ans *coap_xfer_dup_find(struct coap_dups *d,
    const char *peer, unsigned mid, time_t now);
/* Keeps a copy of a as the answer to peer's request mid. */
void coap_xfer_dup_put(struct coap_dups *d, const char *peer, unsigned mid,
    const struct coap_ans *a, time_t now);

/*
 * Parses a listen address: "HOST:PORT" with an IPv4 or IPv6 literal
 * ("[::1]:5683"), or ":PORT" for every IPv4 address. Returns 1 with *ss
 * and *sslen set, or 0.
 */
int coap_xfer_addr_parse(const char *s, struct sockaddr_storage *ss,
    socklen_t *sslen) CA_MUST_CHECK;

#endif
