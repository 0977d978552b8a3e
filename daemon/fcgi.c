/*
 * fcgi.c - FastCGI request handling for cmpcad (RFC 9811 over nginx), and
 * OCSP over HTTP (RFC 6960 Appendix A.1) on /ocsp.
 *
 * Untrusted HTTP input is checked here, in layers, before the CMP engine
 * or the OCSP responder sees a byte: method, path, content type, and a
 * Content-Length that is a plain number no larger than the configured
 * maximum; exactly that many bytes are read. An OCSP GET request is
 * URL-decoded and base64-decoded here, within the same bound. GET
 * /metrics answers the counters of metrics.c (nginx limits it to local
 * scrapers).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "daemon/fcgi.h"
#include "lib/lib.h"
#include "daemon/admin.h"
#include "daemon/http.h"
#include "daemon/worker.h"

#define CMP_PATH "/.well-known/cmp"
#define CMP_PATH_P "/.well-known/cmp/p/"
#define OCSP_PATH "/ocsp"
#define METRICS_PATH "/metrics"

/* Content types accepted (RFC 9811 §3.3 and the legacy ones). */
static const char *const ctypes[] = {
	"application/pkixcmp",
	"application/pkixcmp-poll",
	"application/x-pkixcmp",
	"application/x-pkixcmp-poll",
	NULL,
};

/* Content type of OCSP requests (RFC 6960 Appendix A.1). */
static const char *const ocsp_ctypes[] = {
	"application/ocsp-request",
	NULL,
};

/* See fcgi.h. libfcgi's own rule: a colon makes the path HOST:PORT. */
int
fcgi_is_tcp(const char *path)
{
	return strchr(path, ':') != NULL;
}

/*
 * Opens the socket with a backlog that absorbs bursts. A unix socket is
 * created 0660 by bind() itself (umask around it: no moment at a wider
 * mode, no chmod that would follow a symlink put at the path), then given
 * to owner:group without following a symlink either. The listener is
 * non-blocking: fcgi_serve() waits in poll() and arms the I/O deadline
 * only once a connection is there.
 */
int
fcgi_listen(const char *path, uid_t owner, gid_t group)
{
	mode_t old;
	int fd, fl;

	if (FCGX_Init() != 0) {
		log_err("cannot listen on %s: libfcgi did not initialise", path);
		return -1;
	}
	if (fcgi_is_tcp(path))
		fd = FCGX_OpenSocket(path, 512);
	else {
		/* A socket left by an earlier run; unlink() removes a
		 * symlink itself, never what it points to. */
		if (unlink(path) != 0 && errno != ENOENT) {
			log_err("cannot remove %s: %s", path, strerror(errno));
			return -1;
		}
		old = umask(0117);
		fd = FCGX_OpenSocket(path, 512);
		umask(old);
		if (fd >= 0 && (owner != (uid_t)-1 || group != (gid_t)-1) &&
		    lchown(path, owner, group) != 0) {
			log_err("cannot give %s to uid %ld, gid %ld: %s", path,
			    owner == (uid_t)-1 ? -1L : (long)owner,
			    group == (gid_t)-1 ? -1L : (long)group,
			    strerror(errno));
			close(fd);
			unlink(path);
			return -1;
		}
	}
	if (fd < 0) {
		log_err("cannot listen on %s: %s", path, strerror(errno));
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		log_err("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 if ct is one of the types in table (NULL-terminated). */
static int
ctype_in(const char *ct, const char *const *table)
{
	const char *const *t;
	size_t n;

	if (ct == NULL)
		return 0;
	/* Ignore parameters such as "; charset=...". */
	n = strcspn(ct, ";");
	while (n > 0 && isspace((unsigned char)ct[n - 1]))
		n--;
	for (t = table; *t != NULL; t++)
		if (strlen(*t) == n && strncasecmp(ct, *t, n) == 0)
			return 1;
	return 0;
}

static int
ctype_ok(const char *ct)
{
	return ctype_in(ct, ctypes);
}

/*
 * CONTENT_LENGTH: present (else 411), all digits and non-zero (else 400),
 * at most max (else 413). Returns 0 and sets *len, or the HTTP status.
 */
static int
clen_check(const char *clen, long max, long *len)
{
	const char *p;
	char *end;
	long n;

	if (clen == NULL || *clen == '\0')
		return 411;
	for (p = clen; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return 400;
	errno = 0;
	n = strtol(clen, &end, 10);
	if (errno != 0 || n > max)
		return 413;
	if (n == 0)
		return 400;
	*len = n;
	return 0;
}

static int
label_ok(const char *s, size_t n)
{
	size_t i;

	/* Starts with a letter or digit: no ".", "..", hidden names. */
	if (n == 0 || n >= DB_LABEL_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* See fcgi.h. */
int
fcgi_request_check(const char *method, const char *uri, const char *ctype,
    const char *clen, long max, char *labelbuf, size_t labellen,
    const char **label, long *len)
{
	const char *p;
	size_t l;

	*label = NULL;
	*len = 0;
	if (uri == NULL)
		return 404;
	if (strcmp(uri, CMP_PATH) == 0 || strcmp(uri, CMP_PATH "/") == 0)
		;
	else if (strncmp(uri, CMP_PATH_P, strlen(CMP_PATH_P)) == 0) {
		/* /.well-known/cmp/p/<label>[/<operation>] */
		p = uri + strlen(CMP_PATH_P);
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
	if (method == NULL || strcmp(method, "POST") != 0)
		return 405;
	if (!ctype_ok(ctype))
		return 415;
	return clen_check(clen, max, len);
}

/* See fcgi.h. */
int
fcgi_is_ocsp(const char *uri)
{
	size_t n = strlen(OCSP_PATH);

	return uri != NULL && strncmp(uri, OCSP_PATH, n) == 0 &&
	    (uri[n] == '\0' || uri[n] == '/');
}

/* Value of a base64 character, standard or URL-safe alphabet, or -1. */
static int
b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/*
 * Decodes the path segment of a GET request: percent-decoding, then
 * base64 (standard or URL-safe alphabet, padding optional). n is bounded
 * by the caller. Returns a malloc'ed buffer and sets *len, or NULL if the
 * text does not decode.
 */
static unsigned char *
ocsp_get_decode(const char *s, size_t n, long *len)
{
	unsigned char *b64 = malloc(n + 1), *out = NULL;
	size_t i, m, pad = 0, o = 0;
	unsigned long acc = 0;
	int v, bits = 0;
	long dl;

	if (b64 == NULL)
		return NULL;
	if ((dl = lib_pct_decode(s, n, (char *)b64, n + 1, 0)) < 0)
		goto fail;
	m = (size_t)dl;
	while (m > 0 && b64[m - 1] == '=') {
		m--;
		pad++;
	}
	if (m == 0 || pad > 2 || (pad > 0 && (m + pad) % 4 != 0) ||
	    m % 4 == 1)
		goto fail;
	if ((out = malloc(m / 4 * 3 + 3)) == NULL)
		goto fail;
	for (i = 0; i < m; i++) {
		if ((v = b64_val(b64[i])) < 0)
			goto fail;
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	free(b64);
	*len = (long)o;
	return out;
fail:
	free(b64);
	free(out);
	return NULL;
}

/* See fcgi.h. */
int
fcgi_ocsp_check(const char *method, const char *uri, const char *raw_uri,
    const char *ctype, const char *clen, long max, unsigned char **der,
    long *len)
{
	const char *p;
	size_t n;

	*der = NULL;
	*len = 0;
	if (!fcgi_is_ocsp(uri))
		return 404;
	if (method != NULL && strcmp(method, "GET") == 0) {
		/* The raw request URI: nginx's decoded and normalised path
		 * would turn "%2F" into "/" and merge "//" in the base64. */
		p = raw_uri != NULL ? raw_uri : uri;
		n = strlen(OCSP_PATH);
		if (strncmp(p, OCSP_PATH "/", n + 1) != 0)
			return 0; /* nothing to decode: malformedRequest */
		p += n;
		/* "/ocsp//MEU..." when the configured URL ends with "/": a
		 * request's DER starts with 0x30, so its base64 with "M". */
		while (*p == '/')
			p++;
		n = strcspn(p, "?#");
		/* Percent-encoded base64 of max bytes, and a little more. */
		if (n > 3 * (4 * ((size_t)max / 3 + 1)) + 8)
			return 414;
		if (n > 0 && (*der = ocsp_get_decode(p, n, len)) != NULL &&
		    *len > max) {
			free(*der);
			*der = NULL;
			*len = 0;
			return 414;
		}
		if (*der == NULL)
			*len = 0;
		return 0;
	}
	if (method == NULL || strcmp(method, "POST") != 0)
		return 405;
	if (strcmp(uri, OCSP_PATH) != 0 && strcmp(uri, OCSP_PATH "/") != 0)
		return 404;
	if (!ctype_in(ctype, ocsp_ctypes))
		return 415;
	return clen_check(clen, max, len);
}

/* SIGALRMs since the loop last looked: connections dropped as stalled. */
static volatile sig_atomic_t io_alarms;

static void
on_alarm(int sig)
{
	(void)sig; /* the blocked read or write returns EINTR */
	io_alarms++;
}

/*
 * Arms (on) or disarms the I/O deadline. While armed, SIGALRM arrives
 * every CA_FCGI_IO_TIMEOUT seconds, and a read or write of libfcgi that
 * blocks that long fails with EINTR, so libfcgi drops the connection:
 * libfcgi has no timeout of its own, and a unix connection does not
 * inherit SO_RCVTIMEO from the listener. Disarmed around the work itself
 * (HSM, database), which must not see EINTR.
 */
static void
io_deadline(int on)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	if (on) {
		it.it_value.tv_sec = CA_FCGI_IO_TIMEOUT;
		it.it_interval.tv_sec = CA_FCGI_IO_TIMEOUT;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

/* A plain-text error; a 405 names the methods in allow. */
static void
reply_text(FCGX_Request *rq, int code, const char *allow)
{
	FCGX_FPrintF(rq->out,
	    "Status: %d %s\r\nContent-Type: text/plain\r\n%s%s%s\r\n%d %s\n",
	    code, http_status_text(code), code == 405 ? "Allow: " : "",
	    code == 405 ? allow : "", code == 405 ? "\r\n" : "", code,
	    http_status_text(code));
}

static void
reply_plain(FCGX_Request *rq, int code)
{
	reply_text(rq, code, "POST");
}

static void
log_http(int code, const char *uri)
{
	char u[CA_LOG_SAN_MAX];

	log_sanitize((const unsigned char *)(uri ? uri : "-"),
	    strlen(uri ? uri : "-"), u, sizeof(u));
	log_info("http %d for %s", code, u);
	metrics_http_rejected();
}

/* GET /metrics: the Prometheus text format, gauges read now. */
static void
serve_metrics(FCGX_Request *rq, struct worker *w)
{
	const char *m = FCGX_GetParam("REQUEST_METHOD", rq->envp);
	size_t len = 0;
	char *text;

	if (m == NULL || strcmp(m, "GET") != 0) {
		log_http(405, METRICS_PATH);
		reply_text(rq, 405, "GET");
		return;
	}
	io_deadline(0);
	text = metrics_render(worker_reader_db(w), w->cfg->workers, &len);
	io_deadline(1);
	if (text == NULL) {
		reply_plain(rq, 503);
		return;
	}
	FCGX_FPrintF(rq->out,
	    "Status: 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
	    "Cache-Control: no-cache\r\nContent-Length: %lu\r\n\r\n",
	    (unsigned long)len);
	FCGX_PutStr(text, (int)len, rq->out);
	free(text);
}

/*
 * Has the web server closed this connection? nginx (with its default
 * fastcgi_ignore_client_abort off) closes the FastCGI connection when the
 * client goes away, also while the request still waits in the listen
 * backlog; the request's bytes stay readable, the hang-up shows at once.
 * Checked before the work itself, so that requests whose clients have
 * gone (an attack that fills the backlog and leaves) cost no derivation,
 * signature or database statement. 1 or 0.
 */
static int
peer_gone(FCGX_Request *rq)
{
	struct pollfd p;

	p.fd = rq->ipcFd;
	p.events = POLLRDHUP;
	p.revents = 0;
	if (p.fd < 0 || poll(&p, 1, 0) != 1)
		return 0;
	if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0)
		return 0;
	log_info("http: client gone before the request was served, "
		 "not computed");
	metrics_client_gone();
	return 1;
}

/* OCSP: POST or GET /ocsp, answered by the responder (HTTP 200 with an
 * OCSPResponse, whatever its responseStatus). */
static void
serve_ocsp(FCGX_Request *rq, struct worker *w, const char *uri)
{
	const struct cfg *cfg = w->cfg;
	unsigned char *der = NULL, *resp = NULL;
	size_t resp_len = 0;
	long len, max;
	int code;

	max = cfg->max_request < CA_MAX_OCSP_REQUEST ? cfg->max_request
						       : CA_MAX_OCSP_REQUEST;
	code = fcgi_ocsp_check(FCGX_GetParam("REQUEST_METHOD", rq->envp), uri,
	    FCGX_GetParam("REQUEST_URI", rq->envp),
	    FCGX_GetParam("CONTENT_TYPE", rq->envp),
	    FCGX_GetParam("CONTENT_LENGTH", rq->envp), max, &der, &len);
	if (code != 0) {
		log_http(code, uri);
		reply_text(rq, code, "GET, POST");
		return;
	}
	if (w->ocsp == NULL) {
		free(der);
		reply_plain(rq, 503);
		return;
	}
	if (der == NULL && len > 0) { /* POST */
		if ((der = malloc((size_t)len)) == NULL) {
			reply_plain(rq, 503);
			return;
		}
		if (FCGX_GetStr((char *)der, (int)len, rq->in) != (int)len) {
			log_info("http 400: body shorter than Content-Length");
			reply_plain(rq, 400);
			free(der);
			return;
		}
	}
	if (peer_gone(rq)) {
		free(der);
		return;
	}
	io_deadline(0);
	code = ocsp_srv_process(w->ocsp, der, (size_t)len, &resp, &resp_len);
	io_deadline(1);
	free(der);
	if (resp == NULL) {
		reply_plain(rq, code >= 400 ? code : 500);
		return;
	}
	/* no-cache: revocations show at once, not after nextUpdate. */
	FCGX_FPrintF(rq->out,
	    "Status: %d %s\r\nContent-Type: application/ocsp-response\r\n"
	    "Cache-Control: no-cache\r\nContent-Length: %lu\r\n\r\n",
	    code, http_status_text(code), (unsigned long)resp_len);
	FCGX_PutStr((const char *)resp, (int)resp_len, rq->out);
	OPENSSL_free(resp);
}

/* The operators' read-only page under /admin/ (daemon/admin.c builds the
 * whole response, headers included). */
static void
serve_admin(FCGX_Request *rq, struct worker *w, const char *uri)
{
	struct admin_buf out = {0};
	struct admin_req ar;
	int code;

	ar.method = FCGX_GetParam("REQUEST_METHOD", rq->envp);
	ar.uri = uri;
	ar.query = FCGX_GetParam("QUERY_STRING", rq->envp);
	ar.admin_user = FCGX_GetParam("CMPCA_ADMIN_USER", rq->envp);
	ar.client_verify = FCGX_GetParam("SSL_CLIENT_VERIFY", rq->envp);
	ar.hsm = w->hsm != NULL && !hsm_lost(w->hsm);
	ar.crl_delay = w->cfg->crl_delay;
	io_deadline(0);
	code = admin_handle(worker_reader_db(w), &ar, &out);
	io_deadline(1);
	if (code != 200)
		log_http(code, uri);
	if (out.bad || out.p == NULL)
		reply_plain(rq, 503);
	else
		FCGX_PutStr(out.p, (int)out.len, rq->out);
	admin_buf_free(&out);
}

static void
serve_one(FCGX_Request *rq, struct worker *w)
{
	char labelbuf[DB_LABEL_MAX];
	const char *label, *uri;
	unsigned char *body = NULL, *resp = NULL;
	size_t resp_len = 0;
	long len;
	int code;

	uri = FCGX_GetParam("DOCUMENT_URI", rq->envp);
	if (uri == NULL)
		uri = FCGX_GetParam("SCRIPT_NAME", rq->envp);
	if (fcgi_is_ocsp(uri)) {
		serve_ocsp(rq, w, uri);
		return;
	}
	if (uri != NULL && strcmp(uri, METRICS_PATH) == 0) {
		serve_metrics(rq, w);
		return;
	}
	if (admin_is_path(uri)) {
		serve_admin(rq, w, uri);
		return;
	}
	code = fcgi_request_check(FCGX_GetParam("REQUEST_METHOD", rq->envp),
	    uri, FCGX_GetParam("CONTENT_TYPE", rq->envp),
	    FCGX_GetParam("CONTENT_LENGTH", rq->envp), w->cfg->max_request,
	    labelbuf, sizeof(labelbuf), &label, &len);
	if (code != 0) {
		log_http(code, uri);
		reply_plain(rq, code);
		return;
	}
	if ((body = malloc((size_t)len)) == NULL) {
		reply_plain(rq, 503);
		return;
	}
	if (FCGX_GetStr((char *)body, (int)len, rq->in) != (int)len) {
		log_info("http 400: body shorter than Content-Length");
		reply_plain(rq, 400);
		free(body);
		return;
	}
	if (peer_gone(rq)) {
		free(body);
		return;
	}
	io_deadline(0);
	code = cmp_srv_process(w->cmp, label, body, (size_t)len, &resp,
	    &resp_len);
	io_deadline(1);
	free(body);
	if (resp == NULL) {
		reply_plain(rq, code >= 400 ? code : 500);
		return;
	}
	FCGX_FPrintF(rq->out,
	    "Status: %d %s\r\nContent-Type: application/pkixcmp\r\n"
	    "Cache-Control: no-cache\r\nContent-Length: %lu\r\n\r\n",
	    code, http_status_text(code), (unsigned long)resp_len);
	FCGX_PutStr((const char *)resp, (int)resp_len, rq->out);
	OPENSSL_free(resp);
}

/* See fcgi.h: only sets libfcgi's shutdown flag. */
void
fcgi_shutdown(void)
{
	FCGX_ShutdownPending();
}

/*
 * Reads what is left of the request's FCGI_STDIN up to its end (the empty
 * record), so that a connection kept open starts at the next request's
 * first record: libfcgi does not drain it, and a leftover end record
 * would make the connection look readable while no request is there.
 * Reads at most max bytes (a body longer than Content-Length said, from
 * a peer that is not nginx). 1 if the stream ended, else 0 (close it).
 */
static int
stdin_drain(FCGX_Request *rq, long max)
{
	char buf[4096];
	long total = 0;
	int n;

	if (rq->in == NULL)
		return 0;
	while ((n = FCGX_GetStr(buf, (int)sizeof(buf), rq->in)) > 0)
		if ((total += n) > max)
			return 0;
	return FCGX_HasSeenEOF(rq->in) == EOF && FCGX_GetError(rq->in) == 0;
}

/*
 * One request on conn: accepted from the listener (a connection not yet
 * open) or read from a connection the web server kept open
 * (FCGI_KEEP_CONN), served, and finished. keep 0 closes the connection
 * after the answer whatever the web server asked. Returns 1 if a request
 * was served or nothing was there (try again), -1 on a fatal accept
 * error.
 */
static int
serve_conn(FCGX_Request *rq, struct worker *w, volatile sig_atomic_t *stop,
    int keep)
{
	int rc;

	io_deadline(1);
	rc = FCGX_Accept_r(rq);
	io_deadline(0);
	if (io_alarms > 0) {
		log_warn("fastcgi: dropped a connection that sent or "
			 "took nothing for %d s", CA_FCGI_IO_TIMEOUT);
		io_alarms = 0;
	}
	if (rc < 0) {
		if (*stop)
			return 1;
		/* Another worker took the connection, libfcgi dropped a
		 * stalled one, or the web server closed a kept one (libfcgi
		 * then tries the non-blocking listener): wait again. */
		if (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK || rc == -EAGAIN ||
		    rc == -EWOULDBLOCK || rc == -EINTR)
			return 1;
		log_err("fastcgi accept failed: %s", strerror(-rc));
		return -1;
	}
	/* The master's watchdog reads this (worker_timeout). */
	metrics_busy_set(w->slot, metrics_now_us());
	(void)worker_hsm_check(w);
	io_deadline(1);
	serve_one(rq, w);
	if (!keep || (rq->keepConnection &&
	    !stdin_drain(rq, w->cfg->max_request)))
		rq->keepConnection = 0;
	FCGX_Finish_r(rq);
	io_deadline(0);
	metrics_busy_set(w->slot, 0);
	return 1;
}

/*
 * See fcgi.h. Connections the web server keeps open (nginx's
 * fastcgi_keep_conn with an upstream keepalive pool) stay with the
 * worker that accepted them, up to CA_FCGI_KEEP_MAX at once: the worker
 * waits in one poll() for the listener and for the next request on any
 * of them, so an idle kept connection never holds it. A connection
 * beyond that many is served and closed (the overflow slot). What a
 * request may cost is unchanged: each one is read, served and answered
 * under the same I/O deadline as before.
 */
int
fcgi_serve(int fd, struct worker *w, volatile sig_atomic_t *stop)
{
	FCGX_Request conn[CA_FCGI_KEEP_MAX + 1];
	struct pollfd pfd[CA_FCGI_KEEP_MAX + 1];
	int map[CA_FCGI_KEEP_MAX + 1];
	struct sigaction sa;
	int i, n, np, slot, rc = 0;

	for (i = 0; i <= CA_FCGI_KEEP_MAX; i++)
		if (FCGX_InitRequest(&conn[i], fd, 0) != 0)
			return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART: reads must fail */
	while (!*stop && rc == 0) {
		/* The listener is non-blocking: wait here, so that the
		 * deadline starts when a connection or request is there. */
		pfd[0].fd = fd;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		np = 1;
		for (i = 0; i < CA_FCGI_KEEP_MAX; i++)
			if (conn[i].ipcFd >= 0) {
				pfd[np].fd = conn[i].ipcFd;
				pfd[np].events = POLLIN;
				pfd[np].revents = 0;
				map[np++] = i;
			}
		if ((n = poll(pfd, (nfds_t)np, -1)) < 0 && errno != EINTR) {
			log_err("fastcgi poll failed: %s", strerror(errno));
			break;
		}
		if (*stop || n <= 0)
			continue;
		/* The next request on kept connections first: nginx sent it
		 * there because the connection was idle in its pool. */
		for (i = 1; i < np && rc == 0 && !*stop; i++)
			if (pfd[i].revents != 0 &&
			    serve_conn(&conn[map[i]], w, stop, 1) < 0)
				rc = -1;
		if (rc != 0 || *stop || pfd[0].revents == 0)
			continue;
		for (slot = 0; slot < CA_FCGI_KEEP_MAX; slot++)
			if (conn[slot].ipcFd < 0)
				break;
		if (serve_conn(&conn[slot], w, stop,
		    slot < CA_FCGI_KEEP_MAX) < 0)
			rc = -1;
	}
	for (i = 0; i <= CA_FCGI_KEEP_MAX; i++)
		FCGX_Free(&conn[i], 1);
	return rc;
}
