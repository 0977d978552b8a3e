/*
 * test_coap.c - the CoAP front's decisions without a socket
 * (daemon/coap_xfer.c): routing (RFC 9482 §2), Block options
 * (RFC 7959 §2.2), the bounded table of block-wise transfers and the
 * listen address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ca/ca.h"
#include "daemon/coap_xfer.h"
#include "tests/unit/unitlib.h"

#define WK ".well-known/cmp"
#define L63 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789."

struct route_case {
	int method;
	const char *path;
	int code;
	const char *label;
};

static const struct route_case route_cases[] = {
	{ 2, WK, 0, NULL },
	{ 2, WK "/", 0, NULL },
	{ 2, WK "/p/demo", 0, "demo" },
	{ 2, WK "/p/demo/ir", 0, "demo" },
	{ 2, WK "/p/" L63, 0, L63 },
	{ 2, WK "/p/" L63 "x", 404, NULL },
	{ 2, WK "/p/", 404, NULL },
	{ 2, WK "/p/..", 404, NULL },
	{ 2, WK "/p/.hidden", 404, NULL },
	{ 2, WK "/p/demo/a/b", 404, NULL },
	{ 2, WK "x", 404, NULL },
	{ 2, "", 404, NULL },
	{ 2, ".well-known/core", 404, NULL },
	{ 2, NULL, 404, NULL },
	{ 1, WK, 405, NULL },	       /* GET */
	{ 3, WK "/p/demo", 405, NULL }, /* PUT */
	{ 4, WK, 405, NULL },	       /* DELETE */
	{ 5, WK, 405, NULL },	       /* FETCH */
	{ 1, "other", 404, NULL },     /* 4.04 before 4.05 */
};

static void
test_route(void **state)
{
	char buf[DB_LABEL_MAX];
	const char *label;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
		const struct route_case *c = &route_cases[i];
		int rc = coap_xfer_route(c->method, c->path, buf, sizeof(buf),
		    &label);

		if (rc != c->code)
			fail_msg("case %zu (%s): %d, expected %d", i,
			    c->path ? c->path : "NULL", rc, c->code);
		if (rc == 0 && c->label == NULL)
			assert_null(label);
		if (rc == 0 && c->label != NULL)
			assert_string_equal(label, c->label);
	}
}

static void
test_blk(void **state)
{
	unsigned char v[4] = { 0, 0, 0, 0 };
	struct coap_blk b;

	(void)state;
	/* Empty: block 0, no more, 16 bytes. */
	assert_int_equal(coap_xfer_blk_decode(v, 0, &b), 1);
	assert_int_equal(b.num, 0);
	assert_int_equal(b.more, 0);
	assert_int_equal(b.szx, 0);
	v[0] = 0x1e; /* num 1, M, SZX 6 */
	assert_int_equal(coap_xfer_blk_decode(v, 1, &b), 1);
	assert_int_equal(b.num, 1);
	assert_int_equal(b.more, 1);
	assert_int_equal(b.szx, 6);
	assert_int_equal(coap_xfer_blk_value(&b), 0x1e);
	assert_int_equal(coap_xfer_blk_size(b.szx), 1024);
	v[0] = 0x12;
	v[1] = 0x34;
	v[2] = 0x5a; /* num 0x12345, M, SZX 2 */
	assert_int_equal(coap_xfer_blk_decode(v, 3, &b), 1);
	assert_int_equal(b.num, 0x12345);
	assert_int_equal(b.szx, 2);
	assert_int_equal(coap_xfer_blk_value(&b), 0x12345a);
	/* BERT (SZX 7) over UDP, and four bytes: malformed. */
	v[0] = 0x0f;
	assert_int_equal(coap_xfer_blk_decode(v, 1, &b), 0);
	memset(v, 0, 4);
	assert_int_equal(coap_xfer_blk_decode(v, 4, &b), 0);
}

static struct coap_xfer_key
key(const char *peer, const char *rtag)
{
	struct coap_xfer_key k;

	k.peer = peer;
	k.path = WK;
	k.rtag = (const unsigned char *)rtag;
	k.rtag_len = rtag != NULL ? strlen(rtag) : 0;
	return k;
}

/* Block num (SZX 2, 64 bytes) of a body of byte fill. */
static int
put(struct coap_xfers *t, const struct coap_xfer_key *k, unsigned long num,
    int more, size_t len, time_t now, unsigned char **body, size_t *blen)
{
	unsigned char data[64];
	struct coap_blk b = { num, more, 2 };

	memset(data, (int)('a' + num % 26), sizeof(data));
	return coap_xfer_put(t, k, &b, data, len, now, body, blen);
}

static void
test_put_complete(void **state)
{
	struct coap_xfers *t = coap_xfer_table_new(1000, 10);
	struct coap_xfer_key k = key("127.0.0.1:1000", "t1");
	unsigned char *body = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(t);
	assert_int_equal(put(t, &k, 0, 1, 64, 100, &body, &len), 231);
	assert_int_equal(put(t, &k, 1, 1, 64, 100, &body, &len), 231);
	/* A retransmitted block is taken again without effect. */
	assert_int_equal(put(t, &k, 1, 1, 64, 101, &body, &len), 231);
	assert_int_equal(coap_xfer_count(t), 1);
	assert_int_equal(put(t, &k, 2, 0, 10, 101, &body, &len), 0);
	assert_non_null(body);
	assert_int_equal(len, 138);
	assert_int_equal(body[0], 'a');
	assert_int_equal(body[64], 'b');
	assert_int_equal(body[137], 'c');
	free(body);
	/* Complete: nothing left. */
	assert_int_equal(coap_xfer_count(t), 0);
	/* A single block is never stored. */
	assert_int_equal(put(t, &k, 0, 0, 20, 102, &body, &len), 0);
	assert_int_equal(len, 20);
	free(body);
	assert_int_equal(coap_xfer_count(t), 0);
	coap_xfer_table_free(t);
}

static void
test_put_refused(void **state)
{
	struct coap_xfers *t = coap_xfer_table_new(200, 10);
	struct coap_xfer_key k = key("127.0.0.1:1000", NULL);
	struct coap_xfer_key other = key("127.0.0.1:1000", "x");
	unsigned char *body = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(t);
	/* No transfer to continue. */
	assert_int_equal(put(t, &k, 1, 1, 64, 100, &body, &len), 408);
	/* Out of order: the transfer is dropped. */
	assert_int_equal(put(t, &k, 0, 1, 64, 100, &body, &len), 231);
	assert_int_equal(put(t, &k, 2, 1, 64, 100, &body, &len), 408);
	assert_int_equal(coap_xfer_count(t), 0);
	/* A short block that is not the last. */
	assert_int_equal(put(t, &k, 0, 1, 64, 100, &body, &len), 231);
	assert_int_equal(put(t, &k, 1, 1, 63, 100, &body, &len), 400);
	assert_int_equal(coap_xfer_count(t), 0);
	/* Over max_body (200): 4.13, dropped. */
	assert_int_equal(put(t, &k, 0, 1, 64, 100, &body, &len), 231);
	assert_int_equal(put(t, &k, 1, 1, 64, 100, &body, &len), 231);
	assert_int_equal(put(t, &k, 2, 1, 64, 100, &body, &len), 231);
	assert_int_equal(put(t, &k, 3, 0, 64, 100, &body, &len), 413);
	assert_int_equal(coap_xfer_count(t), 0);
	/* Blocks larger than 1024 bytes (SZX 7 is refused when decoded). */
	{
		struct coap_blk big = { 0, 1, 7 };

		assert_int_equal(coap_xfer_put(t, &k, &big,
		    (const unsigned char *)"", 0, 100, &body, &len), 400);
	}
	/* A block number far beyond max_body, without a start. */
	assert_int_equal(put(t, &k, 100000, 1, 64, 100, &body, &len), 413);
	/* The Request-Tag separates transfers of one peer and path. */
	assert_int_equal(put(t, &k, 0, 1, 64, 100, &body, &len), 231);
	assert_int_equal(put(t, &other, 1, 1, 64, 100, &body, &len), 408);
	assert_int_equal(coap_xfer_count(t), 1);
	coap_xfer_drop(t, &k);
	assert_int_equal(coap_xfer_count(t), 0);
	assert_null(body);
	coap_xfer_table_free(t);
}

static void
test_expire(void **state)
{
	struct coap_xfers *t = coap_xfer_table_new(1000, 10);
	struct coap_xfer_key k = key("127.0.0.1:1000", NULL);
	struct coap_xfer_key k2 = key("127.0.0.2:1000", NULL);
	unsigned char *body = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(t);
	assert_int_equal(put(t, &k, 0, 1, 64, 100, &body, &len), 231);
	assert_int_equal(put(t, &k2, 0, 1, 64, 105, &body, &len), 231);
	assert_int_equal(coap_xfer_expire(t, 109), 0);
	assert_int_equal(coap_xfer_expire(t, 110), 1);
	assert_int_equal(coap_xfer_count(t), 1);
	/* The expired one cannot be continued. */
	assert_int_equal(put(t, &k, 1, 1, 64, 110, &body, &len), 408);
	assert_int_equal(put(t, &k2, 1, 1, 64, 110, &body, &len), 231);
	assert_int_equal(coap_xfer_expire(t, 120), 1);
	assert_int_equal(coap_xfer_count(t), 0);
	coap_xfer_table_free(t);
}

static void
test_bounds(void **state)
{
	struct coap_xfers *t = coap_xfer_table_new(1000, 10);
	unsigned char *body = NULL;
	char peer[48], tag[16];
	struct coap_xfer_key k;
	size_t len = 0;
	int i;

	(void)state;
	assert_non_null(t);
	/* One peer: its fifth transfer replaces its oldest. */
	for (i = 0; i < CA_COAP_MAX_XFERS_PEER + 1; i++) {
		snprintf(tag, sizeof(tag), "t%d", i);
		k = key("127.0.0.1:1", tag);
		assert_int_equal(put(t, &k, 0, 1, 64, 100 + i, &body, &len),
		    231);
	}
	assert_int_equal(coap_xfer_count(t), CA_COAP_MAX_XFERS_PEER);
	k = key("127.0.0.1:1", "t0");
	assert_int_equal(put(t, &k, 1, 1, 64, 110, &body, &len), 408);
	k = key("127.0.0.1:1", "t1");
	assert_int_equal(put(t, &k, 1, 1, 64, 110, &body, &len), 231);
	/* All peers: full table, the next new transfer gets 5.03. */
	for (i = 0; coap_xfer_count(t) < CA_COAP_MAX_XFERS; i++) {
		snprintf(peer, sizeof(peer), "10.0.0.%d:5683", i);
		k = key(peer, NULL);
		assert_int_equal(put(t, &k, 0, 1, 64, 110, &body, &len), 231);
	}
	k = key("10.1.1.1:5683", NULL);
	assert_int_equal(put(t, &k, 0, 1, 64, 110, &body, &len), 503);
	assert_int_equal(coap_xfer_count(t), CA_COAP_MAX_XFERS);
	/* A single-block request needs no room. */
	assert_int_equal(put(t, &k, 0, 0, 64, 110, &body, &len), 0);
	free(body);
	coap_xfer_table_free(t);
}

/* Regression: within one second the order of use decides which of a
 * peer's transfers is the oldest, not the slot order of the table. */
static void
test_peer_lru_same_second(void **state)
{
	struct coap_xfers *t = coap_xfer_table_new(1000, 10);
	unsigned char *body = NULL;
	struct coap_xfer_key k;
	char tag[16];
	size_t len = 0;
	int i;

	(void)state;
	assert_non_null(t);
	/* Leave holes in the table: a finished transfer before the others. */
	k = key("127.0.0.1:9", "hole");
	assert_int_equal(put(t, &k, 0, 1, 64, 100, &body, &len), 231);
	k = key("127.0.0.1:8", "x");
	assert_int_equal(put(t, &k, 0, 1, 64, 100, &body, &len), 231);
	k = key("127.0.0.1:9", "hole");
	assert_int_equal(put(t, &k, 1, 0, 10, 100, &body, &len), 0);
	free(body);
	for (i = 0; i < CA_COAP_MAX_XFERS_PEER + 1; i++) {
		snprintf(tag, sizeof(tag), "t%d", i);
		k = key("127.0.0.1:1", tag);
		assert_int_equal(put(t, &k, 0, 1, 64, 100, &body, &len), 231);
	}
	k = key("127.0.0.1:1", "t0");
	assert_int_equal(put(t, &k, 1, 1, 64, 100, &body, &len), 408);
	for (i = 1; i < CA_COAP_MAX_XFERS_PEER + 1; i++) {
		snprintf(tag, sizeof(tag), "t%d", i);
		k = key("127.0.0.1:1", tag);
		assert_int_equal(put(t, &k, 1, 1, 64, 100, &body, &len), 231);
	}
	coap_xfer_table_free(t);
}

static void
test_hold_get(void **state)
{
	struct coap_xfers *t = coap_xfer_table_new(1000, 10);
	struct coap_xfer_key k = key("127.0.0.1:1000", "a");
	struct coap_xfer_key k2 = key("127.0.0.1:1000", "b");
	struct coap_blk b = { 0, 0, 6 };
	const unsigned char *data;
	unsigned char *resp = OPENSSL_malloc(2500);
	size_t len, total;
	int more;

	(void)state;
	assert_non_null(t);
	assert_non_null(resp);
	memset(resp, 'x', 2500);
	resp[2048] = 'y';
	assert_int_equal(coap_xfer_hold(t, &k, resp, 2500, 100), 1);
	assert_int_equal(coap_xfer_count(t), 1);
	/* Block2 ignores the Request-Tag: any request of peer and path. */
	assert_int_equal(coap_xfer_get(t, &k2, &b, 100, &data, &len, &more,
	    &total), 1);
	assert_int_equal(len, 1024);
	assert_int_equal(more, 1);
	assert_int_equal(total, 2500);
	b.num = 3; /* beyond the end */
	assert_int_equal(coap_xfer_get(t, &k, &b, 100, &data, &len, &more,
	    &total), 0);
	b.num = 2;
	assert_int_equal(coap_xfer_get(t, &k, &b, 100, &data, &len, &more,
	    &total), 1);
	assert_int_equal(len, 452);
	assert_int_equal(more, 0);
	assert_int_equal(data[0], 'y');
	/* Fetched to the end: released. */
	assert_int_equal(coap_xfer_count(t), 0);
	b.num = 1;
	assert_int_equal(coap_xfer_get(t, &k, &b, 100, &data, &len, &more,
	    &total), 0);
	/* Another peer never sees it; a held response expires. */
	resp = OPENSSL_malloc(100);
	assert_non_null(resp);
	assert_int_equal(coap_xfer_hold(t, &k, resp, 100, 100), 1);
	k2.peer = "127.0.0.1:1001";
	b.num = 0;
	assert_int_equal(coap_xfer_get(t, &k2, &b, 100, &data, &len, &more,
	    &total), 0);
	assert_int_equal(coap_xfer_expire(t, 110), 1);
	coap_xfer_table_free(t);
}

static void
test_dups(void **state)
{
	struct coap_dups *d = coap_xfer_dups_new();
	const struct coap_ans *got;
	struct coap_ans a;
	char peer[48];
	int i;

	(void)state;
	assert_non_null(d);
	memset(&a, 0, sizeof(a));
	a.code = 204;
	a.cf = 1;
	a.len = 3;
	memcpy(a.data, "abc", 3);
	coap_xfer_dup_put(d, "127.0.0.1:1", 7, &a, 100);
	got = coap_xfer_dup_find(d, "127.0.0.1:1", 7, 100);
	assert_non_null(got);
	assert_int_equal(got->code, 204);
	assert_memory_equal(got->data, "abc", 3);
	/* Another Message ID, another peer: not a retransmission. */
	assert_null(coap_xfer_dup_find(d, "127.0.0.1:1", 8, 100));
	assert_null(coap_xfer_dup_find(d, "127.0.0.1:2", 7, 100));
	/* Past EXCHANGE_LIFETIME: forgotten. */
	assert_null(coap_xfer_dup_find(d, "127.0.0.1:1", 7,
	    100 + CA_COAP_EXCHANGE_LIFETIME));
	/* One entry per peer: its next request replaces it. */
	a.code = 231;
	coap_xfer_dup_put(d, "127.0.0.1:1", 8, &a, 101);
	assert_null(coap_xfer_dup_find(d, "127.0.0.1:1", 7, 101));
	assert_int_equal(coap_xfer_dup_find(d, "127.0.0.1:1", 8, 101)->code,
	    231);
	/* Full: the least recently answered peer goes. */
	for (i = 0; i < CA_COAP_MAX_DUPS; i++) {
		snprintf(peer, sizeof(peer), "10.0.%d.%d:5683", i / 250,
		    i % 250);
		coap_xfer_dup_put(d, peer, 1, &a, 102 + i);
	}
	assert_null(coap_xfer_dup_find(d, "127.0.0.1:1", 8, 200));
	assert_non_null(coap_xfer_dup_find(d, peer, 1, 200));
	coap_xfer_dups_free(d);
}

static void
test_addr(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;

	(void)state;
	assert_int_equal(coap_xfer_addr_parse("127.0.0.1:5683", &ss, &sl), 1);
	assert_int_equal(in4->sin_family, AF_INET);
	assert_int_equal(ntohs(in4->sin_port), 5683);
	assert_int_equal(ntohl(in4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(sl, sizeof(*in4));
	assert_int_equal(coap_xfer_addr_parse(":5683", &ss, &sl), 1);
	assert_int_equal(in4->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(coap_xfer_addr_parse("[::1]:61616", &ss, &sl), 1);
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 61616);
	assert_int_equal(coap_xfer_addr_parse("localhost:5683", &ss, &sl), 0);
	assert_int_equal(coap_xfer_addr_parse("127.0.0.1", &ss, &sl), 0);
	assert_int_equal(coap_xfer_addr_parse("127.0.0.1:0", &ss, &sl), 0);
	assert_int_equal(coap_xfer_addr_parse("127.0.0.1:65536", &ss, &sl),
	    0);
	assert_int_equal(coap_xfer_addr_parse("127.0.0.1:56x", &ss, &sl), 0);
	assert_int_equal(coap_xfer_addr_parse("::1:5683", &ss, &sl), 0);
	assert_int_equal(coap_xfer_addr_parse(NULL, &ss, &sl), 0);
}

int
main(void)
{
	const struct CMUnitTest coap[] = {
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_blk),
		cmocka_unit_test(test_put_complete),
		cmocka_unit_test(test_put_refused),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_peer_lru_same_second),
		cmocka_unit_test(test_hold_get),
		cmocka_unit_test(test_dups),
		cmocka_unit_test(test_addr),
	};

	return cmocka_run_group_tests_name("coap", coap, NULL, NULL) != 0;
}
