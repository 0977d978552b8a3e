/*
 * coap_srv.c - CMP over CoAP (RFC 9482) on libcoap: the only file that
 * includes libcoap's headers. Transport only: a request body goes to the
 * worker's CMP engine (DER in, DER out) and its answer comes back as
 * 2.04 Changed with Content-Format 259; everything the transport refuses
 * gets a CoAP error code before the engine sees it:
 *   4.04 a path other than /.well-known/cmp[/p/<label>[/<op>]]
 *   4.05 a method other than POST
 *   4.15 no Content-Format, or not application/pkixcmp (259)
 *   4.13 a body larger than max_request (Size1 says how much fits)
 *   4.00 a malformed Block or Request-Tag option, an empty body
 *   4.08 a block out of order, or of a transfer no longer held
 *   5.03 the table of transfers is full; 5.00/5.03 the engine gave no
 *        CMP message at all (an internal failure, logged)
 * libcoap itself answers 4.02 to an unknown critical option and a Reset
 * to a datagram that does not parse. CMP errors travel as CMP messages.
 * A retransmitted Confirmable request gets the answer it got the first
 * time, without being served twice (libcoap 4.3.1 does not deduplicate).
 *
 * Block-wise transfer (RFC 7959) is done here with coap_xfer.c's bounded
 * table, not by libcoap (see there why). A response larger than one block
 * goes out in Block2 blocks of at most 1024 bytes, or of the size the
 * client asked for in the request's Block2 option; the client fetches
 * the others with POSTs to the same path carrying Block2 num > 0.
 *
 * DTLS is optional (RFC 9482: CMP protects its own messages): with
 * coaps_listen, the same handler also serves coaps:// through libcoap's
 * OpenSSL backend, with a server certificate and key from PEM files and
 * no client certificate asked for (docs/architecture.md, "CoAP").
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <coap3/coap.h>

#include "ca/ca.h"
#include "daemon/coap_srv.h"
#include "daemon/coap_xfer.h"
#include "daemon/worker.h"

/* One per process: libcoap 4.3.1 has no per-context user pointer. */
struct coap_srv {
	struct worker *w;
	struct coap_xfers *xf;
	struct coap_dups *dups;
	size_t max_body;
	long timeout;
};
static struct coap_srv *srv;

static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* libcoap's own messages (a malformed datagram, a socket error). */
static void
on_coap_log(coap_log_t level, const char *msg)
{
	size_t n = strlen(msg);

	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	if (level <= LOG_ERR)
		log_warn("coap: %.*s", (int)n, msg);
	else if (level <= LOG_WARNING)
		log_info("coap: %.*s", (int)n, msg);
	else
		log_debug("coap: %.*s", (int)n, msg);
}

/* An error answer with a short diagnostic payload (RFC 7252 §5.5.2). */
static void
reply(struct coap_ans *a, const char *peer, int code, const char *why)
{
	size_t n = strlen(why);

	log_info("coap %d.%02d from %s: %s", code / 100, code % 100, peer,
	    why);
	a->code = code;
	a->len = n < sizeof(a->data) ? n : sizeof(a->data);
	memcpy(a->data, why, a->len);
}

/* 4.13 with Size1: the largest body we take (RFC 7959 §4). */
static void
reply_too_large(struct coap_ans *a, const char *peer)
{
	a->has_size1 = 1;
	a->size1 = srv->max_body;
	reply(a, peer, 413, "request larger than max_request");
}

/*
 * The Uri-Path options joined with '/' into buf. Returns 1, or 0 when a
 * segment holds '/' or NUL or the path does not fit (no resource of ours).
 */
static int
path_of(const coap_pdu_t *rq, char *buf, size_t len)
{
	coap_opt_iterator_t it;
	coap_opt_filter_t f;
	coap_opt_t *o;
	size_t used = 0, l;
	const uint8_t *v;

	coap_option_filter_clear(&f);
	coap_option_filter_set(&f, COAP_OPTION_URI_PATH);
	coap_option_iterator_init(rq, &it, &f);
	buf[0] = '\0';
	while ((o = coap_option_next(&it)) != NULL) {
		v = coap_opt_value(o);
		l = coap_opt_length(o);
		if (memchr(v, '/', l) != NULL || memchr(v, '\0', l) != NULL ||
		    used + l + 2 > len)
			return 0;
		if (used > 0)
			buf[used++] = '/';
		memcpy(buf + used, v, l);
		used += l;
		buf[used] = '\0';
	}
	return 1;
}

/* Option number of rq as an unsigned integer: 1 found, 0 absent, -1 too
 * long for an int of up to 4 bytes. */
static int
opt_uint(const coap_pdu_t *rq, coap_option_num_t num, unsigned *v)
{
	coap_opt_iterator_t it;
	coap_opt_t *o = coap_check_option(rq, num, &it);

	*v = 0;
	if (o == NULL)
		return 0;
	if (coap_opt_length(o) > 4)
		return -1;
	*v = coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
	return 1;
}

/* A Block option of rq: 1 found, 0 absent, -1 malformed. */
static int
opt_blk(const coap_pdu_t *rq, coap_option_num_t num, struct coap_blk *b)
{
	coap_opt_iterator_t it;
	coap_opt_t *o = coap_check_option(rq, num, &it);

	memset(b, 0, sizeof(*b));
	if (o == NULL)
		return 0;
	return coap_xfer_blk_decode(coap_opt_value(o), coap_opt_length(o), b)
	    ? 1 : -1;
}

static void
add_uint(coap_pdu_t *resp, coap_option_num_t num, unsigned long v)
{
	uint8_t buf[4];

	coap_add_option(resp, num,
	    coap_encode_var_safe(buf, sizeof(buf), (unsigned)v), buf);
}

/* Writes a into the response PDU, options in ascending order. */
static void
emit(coap_pdu_t *resp, const struct coap_ans *a)
{
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE(a->code));
	if (a->cf)
		add_uint(resp, COAP_OPTION_CONTENT_FORMAT,
		    COAP_XFER_CF_PKIXCMP);
	if (a->has_max_age)
		add_uint(resp, COAP_OPTION_MAXAGE, a->max_age);
	if (a->has_b2)
		add_uint(resp, COAP_OPTION_BLOCK2, coap_xfer_blk_value(&a->b2));
	if (a->has_b1)
		add_uint(resp, COAP_OPTION_BLOCK1, coap_xfer_blk_value(&a->b1));
	if (a->has_size2)
		add_uint(resp, COAP_OPTION_SIZE2, a->size2);
	if (a->has_size1)
		add_uint(resp, COAP_OPTION_SIZE1, a->size1);
	if (a->len > 0)
		(void)coap_add_data(resp, a->len, a->data);
}

/*
 * One block of the response held for k: 2.04 with Content-Format, Block2,
 * the request's final Block1 (b1, if any) and Size2. Returns 1, or 0 when
 * nothing is held (the caller answers).
 */
static int
send_block(struct coap_ans *a, const struct coap_xfer_key *k,
    const struct coap_blk *want, const struct coap_blk *b1)
{
	const unsigned char *data;
	size_t len, total;
	int more;

	if (!coap_xfer_get(srv->xf, k, want, mono_now(), &data, &len, &more,
		&total) || len > sizeof(a->data))
		return 0;
	a->code = 204;
	a->cf = 1;
	a->has_b2 = 1;
	a->b2 = *want;
	a->b2.more = more;
	if (b1 != NULL) {
		a->has_b1 = 1;
		a->b1 = *b1;
	}
	a->has_size2 = 1;
	a->size2 = total;
	memcpy(a->data, data, len);
	a->len = len;
	return 1;
}

/*
 * The engine's answer to body: 2.04 with the CMP message, in one piece or
 * as the first of its Block2 blocks (szx the block size to use); b1 the
 * request's final Block1 option, echoed (RFC 7959 §2.3), or NULL.
 */
static void
answer(struct coap_ans *a, const char *peer, const struct coap_xfer_key *k,
    const char *label, const unsigned char *body, size_t len, unsigned szx,
    const struct coap_blk *b1)
{
	struct coap_blk b2 = { 0, 0, szx };
	unsigned char *out = NULL;
	size_t out_len = 0;
	int code;

	/* The master's watchdog reads this (worker_timeout). */
	metrics_busy_set(srv->w->slot, metrics_now_us());
	(void)worker_hsm_check(srv->w);
	code = cmp_srv_process(srv->w->cmp, label, body, len, &out, &out_len);
	metrics_busy_set(srv->w->slot, 0);
	if (out == NULL) {
		reply(a, peer, code == 503 ? 503 : 500,
		    "no CMP answer (see the log)");
		return;
	}
	/* The CMP message says it all, its errors included (RFC 9482 §2):
	 * whatever the engine's HTTP status, 2.04 carries it. */
	if (out_len > coap_xfer_blk_size(szx)) {
		if (!coap_xfer_hold(srv->xf, k, out, out_len, mono_now()) ||
		    !send_block(a, k, &b2, b1))
			reply(a, peer, 503, "out of memory");
		return;
	}
	a->code = 204;
	a->cf = 1;
	if (b1 != NULL) {
		a->has_b1 = 1;
		a->b1 = *b1;
	}
	memcpy(a->data, out, out_len);
	a->len = out_len;
	OPENSSL_free(out);
}

/*
 * The answer to rq (see the top of this file) into a: the transport's
 * checks, the block-wise transfer, the engine.
 */
static void
serve(coap_session_t *s, const coap_pdu_t *rq, const char *peer,
    struct coap_ans *a)
{
	char path[160], labelbuf[DB_LABEL_MAX];
	unsigned char *body = NULL;
	const uint8_t *data = NULL;
	const char *label;
	struct coap_xfer_key k;
	struct coap_blk b1, b2;
	coap_opt_iterator_t it;
	coap_opt_t *o;
	size_t len = 0, body_len;
	unsigned cf, size1, szx = CA_COAP_SZX;
	int has_b1, has_b2, rc;

	(void)s;
	if (!path_of(rq, path, sizeof(path))) {
		reply(a, peer, 404, "no such resource (RFC 9482 sec. 2)");
		return;
	}
	rc = coap_xfer_route(coap_pdu_get_code(rq), path, labelbuf,
	    sizeof(labelbuf), &label);
	if (rc != 0) {
		reply(a, peer, rc, rc == 405 ? "POST only (RFC 9482 sec. 2)"
		    : "no such resource (RFC 9482 sec. 2)");
		return;
	}
	k.peer = peer;
	k.path = path;
	k.rtag = NULL;
	k.rtag_len = 0;
	if ((o = coap_check_option(rq, COAP_OPTION_RTAG, &it)) != NULL) {
		k.rtag = coap_opt_value(o);
		k.rtag_len = coap_opt_length(o);
		if (k.rtag_len > CA_COAP_RTAG_MAX) {
			reply(a, peer, 400, "Request-Tag longer than 8 bytes");
			return;
		}
	}
	has_b1 = opt_blk(rq, COAP_OPTION_BLOCK1, &b1);
	has_b2 = opt_blk(rq, COAP_OPTION_BLOCK2, &b2);
	if (has_b1 < 0 || has_b2 < 0) {
		coap_xfer_drop(srv->xf, &k);
		reply(a, peer, 400,
		    "malformed Block option (RFC 7959 sec. 2.2)");
		return;
	}
	if (has_b2 && b2.szx < szx)
		szx = b2.szx; /* the client asks for smaller blocks */
	if (has_b2 && b2.num > 0) {
		/* The next block of a response we hold. */
		b2.szx = szx;
		if (!send_block(a, &k, &b2, NULL))
			reply(a, peer, 408, "no response held for this block");
		return;
	}
	/* Content-Format 259; a later Block1 block may leave it out (the
	 * first one of its transfer had it), but not change it. */
	rc = opt_uint(rq, COAP_OPTION_CONTENT_FORMAT, &cf);
	if ((rc == 1 && cf != COAP_XFER_CF_PKIXCMP) ||
	    (rc != 1 && !(has_b1 == 1 && b1.num > 0))) {
		coap_xfer_drop(srv->xf, &k);
		reply(a, peer, 415, "Content-Format must be 259, "
		    "application/pkixcmp (RFC 9482 sec. 2)");
		return;
	}
	if ((rc = opt_uint(rq, COAP_OPTION_SIZE1, &size1)) < 0 ||
	    (rc == 1 && size1 > srv->max_body)) {
		coap_xfer_drop(srv->xf, &k);
		reply_too_large(a, peer);
		return;
	}
	(void)coap_get_data(rq, &len, &data);
	if (!has_b1) {
		if (len == 0)
			reply(a, peer, 400, "empty body");
		else if (len > srv->max_body)
			reply_too_large(a, peer);
		else
			answer(a, peer, &k, label, data, len, szx, NULL);
		return;
	}
	rc = coap_xfer_put(srv->xf, &k, &b1, data, len, mono_now(), &body,
	    &body_len);
	if (rc == 231) {
		a->code = 231;
		a->has_b1 = 1;
		a->b1 = b1;
		a->b1.more = 1;
	} else if (rc == 413)
		reply_too_large(a, peer);
	else if (rc != 0) {
		/* 5.03 with Max-Age: when the oldest transfer may be gone
		 * (RFC 7252 §5.9.3.4). */
		a->has_max_age = rc == 503;
		a->max_age = (unsigned long)srv->timeout;
		reply(a, peer, rc, rc == 408 ? "block out of order or "
		    "transfer expired (RFC 7959 sec. 2.9.2)"
		    : rc == 400 ? "wrong block size (RFC 7959 sec. 2.3)"
		    : "too many transfers, try later");
	} else if (body_len == 0)
		reply(a, peer, 400, "empty body");
	else
		answer(a, peer, &k, label, body, body_len, szx, &b1);
	free(body);
}

/*
 * Every request to any path, any method. A retransmitted Confirmable
 * request (same peer, same Message ID) gets the answer kept for it,
 * without being served again (RFC 7252 §4.5).
 */
static void
on_request(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *rq,
    const coap_string_t *q, coap_pdu_t *resp)
{
	struct coap_ans a;
	const struct coap_ans *dup;
	char peer[CA_COAP_PEER_MAX];
	int con = coap_pdu_get_type(rq) == COAP_MESSAGE_CON;
	unsigned mid = (unsigned)coap_pdu_get_mid(rq);

	(void)r;
	(void)q;
	if (coap_print_addr(coap_session_get_addr_remote(s),
		(unsigned char *)peer, sizeof(peer) - 1) == 0)
		strcpy(peer, "?");
	peer[sizeof(peer) - 1] = '\0';
	if (con && (dup = coap_xfer_dup_find(srv->dups, peer, mid,
			mono_now())) != NULL) {
		log_info("coap: %s repeated message %u: answered again", peer,
		    mid);
		emit(resp, dup);
		return;
	}
	memset(&a, 0, sizeof(a));
	serve(s, rq, peer, &a);
	emit(resp, &a);
	if (con)
		coap_xfer_dup_put(srv->dups, peer, mid, &a, mono_now());
}

/* See coap_srv.h. */
int
coap_srv_listen_ok(const char *listen)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (coap_xfer_addr_parse(listen, &ss, &sl))
		return 1;
	log_err("coap_listen %s: not HOST:PORT with a numeric address",
	    listen);
	return 0;
}

/* See coap_srv.h. */
int
coap_srv_probe(const char *listen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, ok;

	if (!coap_srv_listen_ok(listen) ||
	    !coap_xfer_addr_parse(listen, &ss, &sl))
		return 0;
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		log_err("coap_listen %s: %s", listen, strerror(errno));
		return 0;
	}
	/* No SO_REUSEADDR: finds a port another server holds (libcoap's
	 * sockets set it, so they would share the port silently). */
	ok = bind(fd, (struct sockaddr *)&ss, sl) == 0;
	if (!ok)
		log_err("coap_listen %s: %s", listen, strerror(errno));
	close(fd);
	return ok;
}

/* The address of listen into *addr. Returns 1 or 0 (logged). */
static int
addr_of(const char *listen, coap_address_t *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!coap_xfer_addr_parse(listen, &ss, &sl)) {
		log_err("coap: %s: not HOST:PORT", listen);
		return 0;
	}
	coap_address_init(addr);
	addr->size = sl;
	memcpy(&addr->addr, &ss, sl);
	return 1;
}

/*
 * The DTLS endpoint on coaps_listen: the server certificate (chain) and
 * key from PEM files, read after the fork as the daemon's user; no client
 * certificate is asked for (the CMP message is what authenticates).
 * Returns 1 or 0 (logged).
 */
static int
dtls_up(coap_context_t *ctx, const struct cfg *cfg)
{
	coap_dtls_pki_t pki;
	coap_address_t addr;

	if (!coap_dtls_is_supported()) {
		log_err("coap: coaps_listen: libcoap has no DTLS");
		return 0;
	}
	memset(&pki, 0, sizeof(pki));
	pki.version = COAP_DTLS_PKI_SETUP_VERSION;
	pki.verify_peer_cert = 0;
	pki.pki_key.key_type = COAP_PKI_KEY_PEM;
	pki.pki_key.key.pem.public_cert = cfg->coaps_cert;
	pki.pki_key.key.pem.private_key = cfg->coaps_key;
	if (!addr_of(cfg->coaps_listen, &addr))
		return 0;
	if (!coap_context_set_pki(ctx, &pki)) {
		log_err("coap: coaps_cert %s, coaps_key %s: cannot be used",
		    cfg->coaps_cert, cfg->coaps_key);
		return 0;
	}
	if (coap_new_endpoint(ctx, &addr, COAP_PROTO_DTLS) == NULL) {
		log_err("coap: cannot listen on %s (DTLS)", cfg->coaps_listen);
		return 0;
	}
	log_info("coap: listening on dtls %s", cfg->coaps_listen);
	return 1;
}

/* See coap_srv.h. */
int
coap_srv_serve(struct worker *w, volatile sig_atomic_t *stop)
{
	const struct cfg *cfg = w->cfg;
	long timeout = cfg->coap_timeout;
	static const coap_request_t others[] = {
		COAP_REQUEST_GET, COAP_REQUEST_POST, COAP_REQUEST_DELETE,
		COAP_REQUEST_FETCH, COAP_REQUEST_PATCH, COAP_REQUEST_IPATCH,
	};
	struct coap_srv s = { w, NULL, NULL, (size_t)cfg->max_request,
		timeout };
	coap_context_t *ctx = NULL;
	coap_resource_t *res;
	coap_address_t addr;
	size_t i, n;
	int rc = -1;

	coap_startup();
	coap_set_log_handler(on_coap_log);
	coap_set_log_level(LOG_WARNING);
	if ((s.xf = coap_xfer_table_new(s.max_body, timeout)) == NULL ||
	    (s.dups = coap_xfer_dups_new()) == NULL ||
	    (ctx = coap_new_context(NULL)) == NULL) {
		log_err("coap: out of memory");
		goto out;
	}
	coap_context_set_block_mode(ctx, 0); /* coap_xfer.c does it */
	coap_context_set_max_idle_sessions(ctx, CA_COAP_MAX_SESSIONS);
	coap_context_set_session_timeout(ctx, (unsigned)timeout);
	if (cfg->coap_listen != NULL) {
		if (!addr_of(cfg->coap_listen, &addr))
			goto out;
		if (coap_new_endpoint(ctx, &addr, COAP_PROTO_UDP) == NULL) {
			log_err("coap: cannot listen on %s", cfg->coap_listen);
			goto out;
		}
		log_info("coap: listening on udp %s", cfg->coap_listen);
	}
	if (cfg->coaps_listen != NULL && !dtls_up(ctx, cfg))
		goto out;
	/* Every path and method reaches on_request, which answers 4.04 and
	 * 4.05 itself (in the order of the FastCGI front). */
	if ((res = coap_resource_unknown_init2(on_request, 0)) == NULL) {
		log_err("coap: out of memory");
		goto out;
	}
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		coap_register_request_handler(res, others[i], on_request);
	coap_add_resource(ctx, res);
	srv = &s;
	while (!*stop) {
		if (coap_io_process(ctx, 1000) < 0 && errno != EINTR)
			log_warn("coap: %s", strerror(errno));
		if ((n = coap_xfer_expire(s.xf, mono_now())) > 0)
			log_info("coap: dropped %zu unfinished block-wise "
				 "transfer(s) after %ld s",
			    n, timeout);
	}
	rc = 0;
out:
	srv = NULL;
	coap_free_context(ctx);
	coap_cleanup();
	coap_xfer_table_free(s.xf);
	coap_xfer_dups_free(s.dups);
	return rc;
}
