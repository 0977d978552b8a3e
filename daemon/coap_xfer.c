/*
 * coap_xfer.c - the CoAP front end's decisions that need no libcoap:
 * routing (RFC 9482 §2), Block options (RFC 7959 §2.2) and the
 * bounded table of block-wise transfers. See coap_xfer.h.
 *
 * libcoap can reassemble Block1 bodies itself (COAP_BLOCK_USE_LIBCOAP),
 * but libcoap 4.3.1 sizes the body from the peer's Size1 option and
 * bounds neither the body nor the transfers per peer; so the CoAP
 * process does block-wise transfer here, within named limits.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ca/ca_limits.h"
#include "daemon/coap_xfer.h"

#define CMP_PATH ".well-known/cmp"
#define CMP_PATH_P ".well-known/cmp/p/"

enum xfer_kind { XFER_FREE, XFER_BODY, XFER_RESP };

struct xfer {
	enum xfer_kind kind;
	char peer[CA_COAP_PEER_MAX];
	char path[128];
	unsigned char rtag[CA_COAP_RTAG_MAX];
	size_t rtag_len;
	unsigned char *buf; /* BODY: malloc; RESP: OPENSSL_malloc */
	size_t len, cap;
	time_t last;	    /* for expiry */
	unsigned long used; /* the table's tick when last used: LRU order */
};

struct coap_xfers {
	struct xfer x[CA_COAP_MAX_XFERS];
	size_t max_body;
	long timeout;
	unsigned long tick; /* counts every use of a transfer */
	unsigned char *released; /* the last response fetched: freed on the
				  * next call (coap_xfer_get's *data) */
};

/* Starts with a letter or digit: no ".", "..", hidden names. */
static int
label_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* See coap_xfer.h. */
int
coap_xfer_route(int method, const char *path, char *labelbuf,
    size_t labellen, const char **label)
{
	const char *p;
	size_t l;

	*label = NULL;
	if (path == NULL)
		return 404;
	if (strcmp(path, CMP_PATH) == 0 || strcmp(path, CMP_PATH "/") == 0)
		;
	else if (strncmp(path, CMP_PATH_P, strlen(CMP_PATH_P)) == 0) {
		/* p/<label>[/<operation>] */
		p = path + strlen(CMP_PATH_P);
		l = strcspn(p, "/");
		if (!label_ok(p, l) || l >= labellen)
			return 404;
		if (p[l] == '/' && strchr(p + l + 1, '/') != NULL)
			return 404;
		memcpy(labelbuf, p, l);
		labelbuf[l] = '\0';
		*label = labelbuf;
	} else
		return 404;
	return method == COAP_XFER_POST ? 0 : 405;
}

/* See coap_xfer.h. */
int
coap_xfer_blk_decode(const unsigned char *val, size_t len, struct coap_blk *b)
{
	unsigned long v = 0;
	size_t i;

	if (len > 3)
		return 0;
	for (i = 0; i < len; i++)
		v = v << 8 | val[i];
	b->num = v >> 4;
	b->more = (v >> 3) & 1;
	b->szx = v & 7;
	return b->szx != 7;
}

/* See coap_xfer.h. */
unsigned long
coap_xfer_blk_value(const struct coap_blk *b)
{
	return b->num << 4 | (unsigned long)(b->more ? 8 : 0) | b->szx;
}

/* See coap_xfer.h. */
size_t
coap_xfer_blk_size(unsigned szx)
{
	return (size_t)1 << (szx + 4);
}

/* See coap_xfer.h. */
struct coap_xfers *
coap_xfer_table_new(size_t max_body, long timeout)
{
	struct coap_xfers *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->max_body = max_body;
	t->timeout = timeout;
	return t;
}

static void
xfer_clear(struct xfer *x)
{
	if (x->kind == XFER_RESP)
		OPENSSL_free(x->buf);
	else
		free(x->buf);
	memset(x, 0, sizeof(*x));
}

static void
released_free(struct coap_xfers *t)
{
	OPENSSL_free(t->released);
	t->released = NULL;
}

/* See coap_xfer.h. */
void
coap_xfer_table_free(struct coap_xfers *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < CA_COAP_MAX_XFERS; i++)
		xfer_clear(&t->x[i]);
	released_free(t);
	free(t);
}

/* See coap_xfer.h. */
size_t
coap_xfer_count(const struct coap_xfers *t)
{
	size_t i, n = 0;

	for (i = 0; i < CA_COAP_MAX_XFERS; i++)
		n += t->x[i].kind != XFER_FREE;
	return n;
}

/* See coap_xfer.h. */
size_t
coap_xfer_expire(struct coap_xfers *t, time_t now)
{
	size_t i, n = 0;

	released_free(t);
	for (i = 0; i < CA_COAP_MAX_XFERS; i++)
		if (t->x[i].kind != XFER_FREE &&
		    now - t->x[i].last >= t->timeout) {
			xfer_clear(&t->x[i]);
			n++;
		}
	return n;
}

/* 1 if x is the transfer of kind for k; RESP ignores the Request-Tag. */
static int
xfer_is(const struct xfer *x, enum xfer_kind kind,
    const struct coap_xfer_key *k)
{
	if (x->kind != kind || strcmp(x->peer, k->peer) != 0 ||
	    strcmp(x->path, k->path) != 0)
		return 0;
	if (kind == XFER_RESP)
		return 1;
	return x->rtag_len == k->rtag_len &&
	    (k->rtag_len == 0 || memcmp(x->rtag, k->rtag, k->rtag_len) == 0);
}

static struct xfer *
xfer_find(struct coap_xfers *t, enum xfer_kind kind,
    const struct coap_xfer_key *k)
{
	size_t i;

	for (i = 0; i < CA_COAP_MAX_XFERS; i++)
		if (xfer_is(&t->x[i], kind, k))
			return &t->x[i];
	return NULL;
}

/*
 * A free slot for a new transfer of k's peer. The peer's oldest goes when
 * it holds CA_COAP_MAX_XFERS_PEER; when the table is full, the least
 * recently used one if evict, else none (NULL).
 */
static struct xfer *
xfer_slot(struct coap_xfers *t, const struct coap_xfer_key *k, int evict)
{
	struct xfer *free_x = NULL, *peer_old = NULL, *old = NULL, *x;
	size_t i, mine = 0;

	for (i = 0; i < CA_COAP_MAX_XFERS; i++) {
		x = &t->x[i];
		if (x->kind == XFER_FREE) {
			if (free_x == NULL)
				free_x = x;
			continue;
		}
		if (old == NULL || x->used < old->used)
			old = x;
		if (strcmp(x->peer, k->peer) == 0) {
			mine++;
			if (peer_old == NULL || x->used < peer_old->used)
				peer_old = x;
		}
	}
	if (mine >= CA_COAP_MAX_XFERS_PEER) {
		xfer_clear(peer_old);
		return peer_old;
	}
	if (free_x != NULL)
		return free_x;
	if (!evict)
		return NULL;
	xfer_clear(old);
	return old;
}

static int
key_ok(const struct coap_xfer_key *k)
{
	return strlen(k->peer) < CA_COAP_PEER_MAX &&
	    strlen(k->path) < sizeof(((struct xfer *)0)->path) &&
	    k->rtag_len <= CA_COAP_RTAG_MAX;
}

static void
xfer_init(struct coap_xfers *t, struct xfer *x, enum xfer_kind kind,
    const struct coap_xfer_key *k, time_t now)
{
	x->kind = kind;
	strcpy(x->peer, k->peer);
	strcpy(x->path, k->path);
	if (k->rtag_len > 0)
		memcpy(x->rtag, k->rtag, k->rtag_len);
	x->rtag_len = k->rtag_len;
	x->last = now;
	x->used = ++t->tick;
}

/* Appends len bytes to a body transfer. Returns 0, 413 or 503. */
static int
body_append(struct coap_xfers *t, struct xfer *x, const unsigned char *data,
    size_t len)
{
	size_t cap;
	unsigned char *p;

	if (len > t->max_body - x->len)
		return 413;
	if (x->len + len > x->cap) {
		cap = x->cap == 0 ? 4096 : x->cap;
		while (cap < x->len + len)
			cap *= 2;
		if (cap > t->max_body)
			cap = t->max_body;
		if ((p = realloc(x->buf, cap)) == NULL)
			return 503;
		x->buf = p;
		x->cap = cap;
	}
	if (len > 0)
		memcpy(x->buf + x->len, data, len);
	x->len += len;
	return 0;
}

/* See coap_xfer.h. */
int
coap_xfer_put(struct coap_xfers *t, const struct coap_xfer_key *k,
    const struct coap_blk *b, const unsigned char *data, size_t len,
    time_t now, unsigned char **body, size_t *body_len)
{
	size_t bs = coap_xfer_blk_size(b->szx), off;
	struct xfer *x;
	int rc;

	*body = NULL;
	*body_len = 0;
	released_free(t);
	if (!key_ok(k) || b->szx > CA_COAP_SZX || len > bs ||
	    (b->more && len != bs)) {
		coap_xfer_drop(t, k);
		return 400;
	}
	if (b->num > (t->max_body + bs) / bs) {
		coap_xfer_drop(t, k);
		return 413;
	}
	off = (size_t)b->num * bs;
	x = xfer_find(t, XFER_BODY, k);
	if (b->num == 0) {
		if (x != NULL)
			xfer_clear(x); /* the client starts over */
		if (len > t->max_body)
			return 413;
		if (!b->more) {
			/* One block: nothing to keep. */
			if ((*body = malloc(len > 0 ? len : 1)) == NULL)
				return 503;
			memcpy(*body, data, len);
			*body_len = len;
			return 0;
		}
		if ((x = xfer_slot(t, k, 0)) == NULL)
			return 503;
		xfer_init(t, x, XFER_BODY, k, now);
	} else {
		if (x == NULL)
			return 408;
		if (off + len <= x->len && b->more) {
			/* A retransmission: already have it. */
			x->last = now;
			x->used = ++t->tick;
			return 231;
		}
		if (off != x->len) {
			xfer_clear(x);
			return 408;
		}
	}
	if ((rc = body_append(t, x, data, len)) != 0) {
		xfer_clear(x);
		return rc;
	}
	x->last = now;
	x->used = ++t->tick;
	if (b->more)
		return 231;
	*body = x->buf; /* ownership to the caller */
	*body_len = x->len;
	x->buf = NULL;
	xfer_clear(x);
	return 0;
}

/* See coap_xfer.h. */
void
coap_xfer_drop(struct coap_xfers *t, const struct coap_xfer_key *k)
{
	struct xfer *x;

	if (key_ok(k) && (x = xfer_find(t, XFER_BODY, k)) != NULL)
		xfer_clear(x);
}

/* See coap_xfer.h. */
int
coap_xfer_hold(struct coap_xfers *t, const struct coap_xfer_key *k,
    unsigned char *resp, size_t len, time_t now)
{
	struct xfer *x;

	released_free(t);
	if (!key_ok(k)) {
		OPENSSL_free(resp);
		return 0;
	}
	if ((x = xfer_find(t, XFER_RESP, k)) != NULL)
		xfer_clear(x);
	if ((x = xfer_slot(t, k, 1)) == NULL) {
		OPENSSL_free(resp);
		return 0;
	}
	xfer_init(t, x, XFER_RESP, k, now);
	x->rtag_len = 0;
	x->buf = resp;
	x->len = x->cap = len;
	return 1;
}

/* See coap_xfer.h. */
int
coap_xfer_get(struct coap_xfers *t, const struct coap_xfer_key *k,
    const struct coap_blk *b, time_t now, const unsigned char **data,
    size_t *len, int *more, size_t *total)
{
	size_t bs = coap_xfer_blk_size(b->szx), off;
	struct xfer *x;

	*data = NULL;
	*len = 0;
	*more = 0;
	*total = 0;
	released_free(t);
	if (!key_ok(k) || (x = xfer_find(t, XFER_RESP, k)) == NULL)
		return 0;
	if (b->num > x->len / bs || (off = (size_t)b->num * bs) >= x->len)
		return 0;
	*data = x->buf + off;
	*len = x->len - off < bs ? x->len - off : bs;
	*more = off + *len < x->len;
	*total = x->len;
	x->last = now;
	x->used = ++t->tick;
	if (!*more) {
		/* Fetched to the end: the buffer lives until the next call. */
		t->released = x->buf;
		x->buf = NULL;
		xfer_clear(x);
	}
	return 1;
}

struct coap_dup {
	char peer[CA_COAP_PEER_MAX]; /* "": free */
	unsigned mid;
	time_t at;
	struct coap_ans a;
};

struct coap_dups {
	struct coap_dup d[CA_COAP_MAX_DUPS];
};

/* See coap_xfer.h. */
struct coap_dups *
coap_xfer_dups_new(void)
{
	return calloc(1, sizeof(struct coap_dups));
}

/* See coap_xfer.h. */
void
coap_xfer_dups_free(struct coap_dups *d)
{
	free(d);
}

/* See coap_xfer.h. */
const struct coap_ans *
coap_xfer_dup_find(struct coap_dups *d, const char *peer, unsigned mid,
    time_t now)
{
	size_t i;

	for (i = 0; i < CA_COAP_MAX_DUPS; i++)
		if (d->d[i].peer[0] != '\0' && d->d[i].mid == mid &&
		    now - d->d[i].at < CA_COAP_EXCHANGE_LIFETIME &&
		    strcmp(d->d[i].peer, peer) == 0)
			return &d->d[i].a;
	return NULL;
}

/* See coap_xfer.h. */
void
coap_xfer_dup_put(struct coap_dups *d, const char *peer, unsigned mid,
    const struct coap_ans *a, time_t now)
{
	struct coap_dup *e = NULL;
	size_t i;

	if (strlen(peer) >= CA_COAP_PEER_MAX)
		return;
	/* The peer's own entry, else a free one, else the oldest. */
	for (i = 0; e == NULL && i < CA_COAP_MAX_DUPS; i++)
		if (strcmp(d->d[i].peer, peer) == 0)
			e = &d->d[i];
	for (i = 0; e == NULL && i < CA_COAP_MAX_DUPS; i++)
		if (d->d[i].peer[0] == '\0')
			e = &d->d[i];
	if (e == NULL) {
		e = &d->d[0];
		for (i = 1; i < CA_COAP_MAX_DUPS; i++)
			if (d->d[i].at < e->at)
				e = &d->d[i];
	}
	strcpy(e->peer, peer);
	e->mid = mid;
	e->at = now;
	e->a = *a;
}

/* See coap_xfer.h. */
int
coap_xfer_addr_parse(const char *s, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *colon, *h, *p;
	size_t hl;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	*sslen = 0;
	if (s == NULL)
		return 0;
	if (s[0] == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return 0;
		h = s + 1;
		hl = (size_t)(colon - h);
		p = colon + 2;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return 0;
		h = s;
		hl = (size_t)(colon - s);
		p = colon + 1;
	}
	if (hl >= sizeof(host) || !isdigit((unsigned char)*p))
		return 0;
	errno = 0;
	port = strtol(p, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		return 0;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (s[0] == '[') {
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return 0;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		*sslen = sizeof(*in6);
		return 1;
	}
	if (hl == 0)
		in4->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		return 0;
	in4->sin_family = AF_INET;
	in4->sin_port = htons((unsigned short)port);
	*sslen = sizeof(*in4);
	return 1;
}
