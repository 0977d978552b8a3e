/*
 * fuzz_fcgiserve - libFuzzer target: cmpcad's FastCGI front as nginx
 * reaches it (daemon/fcgi.c fcgi_serve: libfcgi's record parsing, the
 * routing of serve_one to CMP, /ocsp, /metrics and /admin/, the checks,
 * reading the body, the answers), with a worker on the database and token
 * of a borrowed stack. fcgi_serve runs for good in a thread on a unix
 * socket (fcgi_listen); each input is one connection from the target.
 *
 * Input: FastCGI parameters as NAME=VALUE lines, an empty line, then the
 * body (sent as FCGI_STDIN records of at most 4096 bytes); a CMP body is
 * protected again as fuzz_engine does when it decodes. An input starting
 * with byte 1 (the FastCGI version) is sent as raw records instead (with
 * request id 1, see raw_ids). The
 * answer must start with a CGI Status header, unless libfcgi dropped a
 * connection whose records were broken.
 *
 * The worker shares the target's database connection: the target only
 * uses it (to enroll its signing identities, fuzz_ids.c) while the
 * server thread waits for the next connection.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>

#include "ca/ca.h"
#include "daemon/fcgi.h"
#include "daemon/worker.h"
#include "tests/fuzz/fuzz_env.h"

#define REC_MAX 4096 /* content bytes per record we send */
#define ANSWER_MAX (256 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[108];
static struct worker *wk;
static volatile sig_atomic_t never;

static void
sock_unlink(void)
{
	unlink(path);
}

static void *
server(void *arg)
{
	int fd = *(int *)arg;

	if (fcgi_serve(fd, wk, &never) != 0)
		abort(); /* the front must keep serving */
	return NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static int fd;
	pthread_t th;
	sigset_t set;

	(void)argc;
	(void)argv;
	fuzz_env_init("fuzz_fcgiserve", FUZZ_ENV_SRV);
	if ((wk = worker_new(fz.cfg, fz.db, fz.hsm)) == NULL)
		abort();
	/* In the stack's directory (purged by scripts/fuzz), else /tmp. */
	if (getenv("CMPCA_VAR") == NULL ||
	    snprintf(path, sizeof(path), "%s/fuzz-fcgi.%ld.sock",
		getenv("CMPCA_VAR"), (long)getpid()) >= (int)sizeof(path))
		snprintf(path, sizeof(path), "/tmp/cmpca-fuzz-fcgi.%ld.sock",
		    (long)getpid());
	unlink(path);
	atexit(sock_unlink);
	if ((fd = fcgi_listen(path, (uid_t)-1, (gid_t)-1)) < 0 ||
	    pthread_create(&th, NULL, server, &fd) != 0)
		abort();
	/* fcgi.c's I/O deadline (SIGALRM) is for the server thread. */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return 0;
}

/* Appends one record of type with content c (n bytes) to out. */
static size_t
rec(unsigned char *out, int type, const unsigned char *c, size_t n)
{
	out[0] = 1;
	out[1] = (unsigned char)type;
	out[2] = 0;
	out[3] = 1; /* request id 1 */
	out[4] = (unsigned char)(n >> 8);
	out[5] = (unsigned char)n;
	out[6] = 0;
	out[7] = 0;
	if (n > 0)
		memcpy(out + 8, c, n);
	return 8 + n;
}

/* A FastCGI name-value pair into p; returns its length. */
static size_t
nv(unsigned char *p, const char *name, size_t nl, const char *val,
    size_t vl)
{
	size_t k = 0;

	if (nl < 128) {
		p[k++] = (unsigned char)nl;
	} else {
		p[k++] = (unsigned char)(0x80 | (nl >> 24));
		p[k++] = (unsigned char)(nl >> 16);
		p[k++] = (unsigned char)(nl >> 8);
		p[k++] = (unsigned char)nl;
	}
	if (vl < 128) {
		p[k++] = (unsigned char)vl;
	} else {
		p[k++] = (unsigned char)(0x80 | (vl >> 24));
		p[k++] = (unsigned char)(vl >> 16);
		p[k++] = (unsigned char)(vl >> 8);
		p[k++] = (unsigned char)vl;
	}
	memcpy(p + k, name, nl);
	memcpy(p + k + nl, val, vl);
	return k + nl + vl;
}

/*
 * The records of a request from the text form of the input; returns
 * their length. A CMP body that decodes is protected again (as
 * fuzz_engine does), and a CONTENT_LENGTH parameter that gave its old
 * length gives the new one.
 */
static size_t
records(const uint8_t *data, size_t size, unsigned char *out)
{
	static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	const uint8_t *p = data, *end = data + size, *eol, *eq, *body;
	unsigned char *params = malloc(4 * size + 64), *der = NULL;
	char oldlen[24], newlen[24];
	size_t o = 0, pl = 0, bl, n;
	const char *why;
	CMP_MSG *m;
	int dl;

	if (params == NULL)
		abort();
	/* The body: after the first empty line. */
	for (body = data; body < end; body++)
		if (*body == '\n' && (body == data || body[-1] == '\n'))
			break;
	body = body < end ? body + 1 : end;
	bl = (size_t)(end - body);
	snprintf(oldlen, sizeof(oldlen), "%zu", bl);
	if ((m = cmp_msg_parse(body, bl, &why)) != NULL) {
		if (fuzz_protect_again(m) &&
		    (dl = cmp_msg_encode(m, &der)) > 0 &&
		    (size_t)dl <= bl + 4096) {
			body = der;
			bl = (size_t)dl;
		}
		CMP_MSG_free(m);
	}
	snprintf(newlen, sizeof(newlen), "%zu", bl);
	o += rec(out + o, 1, begin, sizeof(begin)); /* BEGIN_REQUEST */
	while (p < end && *p != '\n') {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		if ((eq = memchr(p, '=', (size_t)(eol - p))) != NULL) {
			const char *v = (const char *)eq + 1;
			size_t vl = (size_t)(eol - eq - 1);

			if ((size_t)(eq - p) == 14 &&
			    memcmp(p, "CONTENT_LENGTH", 14) == 0 &&
			    vl == strlen(oldlen) && memcmp(v, oldlen, vl) == 0) {
				v = newlen;
				vl = strlen(newlen);
			}
			pl += nv(params + pl, (const char *)p,
			    (size_t)(eq - p), v, vl);
		}
		p = eol < end ? eol + 1 : end;
	}
	for (size_t k = 0; k < pl; k += n) {
		n = pl - k < REC_MAX ? pl - k : REC_MAX;
		o += rec(out + o, 4, params + k, n); /* PARAMS */
	}
	o += rec(out + o, 4, NULL, 0);
	for (size_t k = 0; k < bl; k += n) {
		n = bl - k < REC_MAX ? bl - k : REC_MAX;
		o += rec(out + o, 5, body + k, n); /* STDIN */
	}
	o += rec(out + o, 5, NULL, 0);
	OPENSSL_free(der);
	free(params);
	return o;
}

/*
 * Raw records all get request id 1, as nginx sends them: libfcgi 2.4
 * leaks 48 bytes on a management record (request id 0) of an unknown
 * type (FCGX_Accept_r), which only a peer on the socket itself could
 * send; cmpcad's socket is nginx's alone (docs/hacking.md).
 */
static void
raw_ids(unsigned char *p, size_t n)
{
	size_t k = 0;

	while (k + 8 <= n) {
		p[k + 2] = 0;
		p[k + 3] = 1;
		k += 8 + (((size_t)p[k + 4] << 8) | p[k + 5]) + p[k + 6];
	}
}

static int
one_input(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned char *out, *ans;
	size_t n, got = 0;
	ssize_t r;
	int fd;

	if (size == 0)
		return 0;
	/* Parameters grow at most fourfold, a protected body by 4 kB. */
	if ((out = malloc(6 * size + 16384)) == NULL ||
	    (ans = malloc(ANSWER_MAX)) == NULL)
		abort();
	if (data[0] == 1) {
		memcpy(out, data, size);
		n = size;
		raw_ids(out, n);
	} else {
		n = records(data, size, out);
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		abort();
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		if (errno != EINTR)
			abort();
	/* The server reads while we write: a short write is its drop. */
	for (size_t k = 0; k < n; k += (size_t)r)
		if ((r = write(fd, out + k, n - k)) <= 0)
			break;
	shutdown(fd, SHUT_WR);
	while (got < ANSWER_MAX &&
	    ((r = read(fd, ans + got, ANSWER_MAX - got)) > 0 ||
		(r < 0 && errno == EINTR)))
		if (r > 0)
			got += (size_t)r;
	close(fd);
	/* STDOUT record content starts with the CGI headers. An empty STDOUT
	 * record (the stream's end, nothing written) is a request the server
	 * dropped: since the connection check (fcgi.c peer_gone), our
	 * shutdown(SHUT_WR) reads as a client that has gone. */
	if (data[0] != 1 && got >= 8 && ans[1] == 6 &&
	    ((ans[4] << 8) | ans[5]) > 0 &&
	    (got < 16 || memcmp(ans + 8, "Status: ", 8) != 0))
		abort();
	free(ans);
	free(out);
	return 0;
}

/*
 * One input, then this thread's OpenSSL error queue emptied: OpenSSL 3.0
 * copies each queued error's file and function name to the heap and
 * frees them only when the entry is overwritten, by a later input. Left
 * queued, they made inputs end with more allocations than frees, and
 * libFuzzer answers that with a second run and a LeakSanitizer pass
 * over the whole heap (docs/hacking.md, "Fuzzing").
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)one_input(data, size);
	ERR_clear_error();
	return 0;
}
