/*
 * fcgipost - test tool: posts CMP requests straight to cmpcad's FastCGI
 * socket, many times and fast, for the memory check of the hostile-input
 * suite (100,000 rejected messages). curl through nginx costs a process
 * and a TCP connection per request; this speaks FastCGI (one connection
 * per request on the unix socket, as nginx does with fastcgi_keep_conn
 * off) from a few parallel client processes.
 *
 * usage: fcgipost SOCKET COUNT CLIENTS FILE...
 *
 * With FCGIPOST_OCSP=1 in the environment the files are OCSPRequests,
 * posted to /ocsp (the flood of tests/e2e/revoke.sh, past nginx's
 * per-address rate limit as a distributed flood would be).
 *
 * Request i carries FILE[i % nfiles]. Every answer must be a FastCGI
 * response with an HTTP status; prints "sent=N status200=N status400=N
 * other=N failed=N" and exits 0 if no request failed at the transport
 * level (a status other than 200/400 counts as other, not failed).
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILES 64
#define MAX_BODY (256 * 1024)
#define FCGI_BEGIN 1
#define FCGI_END 3
#define FCGI_PARAMS 4
#define FCGI_STDIN 5
#define FCGI_STDOUT 6

struct file {
	unsigned char *data;
	size_t len;
};

static struct file files[MAX_FILES];
static int nfiles;
static int ocsp; /* FCGIPOST_OCSP=1: POST /ocsp */

static int
write_all(int fd, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		p += w;
		n -= (size_t)w;
	}
	return 1;
}

static int
read_all(int fd, void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		p += r;
		n -= (size_t)r;
	}
	return 1;
}

/* One record: header, content (at most 65535 bytes), no padding. */
static int
record(int fd, int type, const void *data, size_t len)
{
	unsigned char h[8] = { 1, (unsigned char)type, 0, 1,
		(unsigned char)(len >> 8), (unsigned char)len, 0, 0 };

	return write_all(fd, h, 8) && (len == 0 || write_all(fd, data, len));
}

static size_t
param(unsigned char *p, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);

	p[0] = (unsigned char)n;
	p[1] = (unsigned char)v;
	memcpy(p + 2, name, n);
	memcpy(p + 2 + n, value, v);
	return 2 + n + v;
}

/* Posts one body; returns the HTTP status, or -1 on a transport error. */
static int
post(const char *sock, const struct file *f)
{
	static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	struct sockaddr_un sa;
	unsigned char params[512], h[8], buf[65536 + 256];
	char clen[32];
	size_t n = 0, off;
	int fd, status = -1, first = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	snprintf(clen, sizeof(clen), "%zu", f->len);
	n += param(params + n, "REQUEST_METHOD", "POST");
	n += param(params + n, "DOCUMENT_URI", ocsp ? "/ocsp"
						   : "/.well-known/cmp");
	n += param(params + n, "CONTENT_TYPE", ocsp ? "application/ocsp-request"
						   : "application/pkixcmp");
	n += param(params + n, "CONTENT_LENGTH", clen);
	if (!record(fd, FCGI_BEGIN, begin, 8) ||
	    !record(fd, FCGI_PARAMS, params, n) ||
	    !record(fd, FCGI_PARAMS, NULL, 0))
		goto out;
	for (off = 0; off < f->len; off += 65535) {
		size_t l = f->len - off > 65535 ? 65535 : f->len - off;

		if (!record(fd, FCGI_STDIN, f->data + off, l))
			goto out;
	}
	if (!record(fd, FCGI_STDIN, NULL, 0))
		goto out;
	for (;;) {
		size_t len;

		if (!read_all(fd, h, 8))
			break;
		len = ((size_t)h[4] << 8 | h[5]) + h[6];
		if (!read_all(fd, buf, len))
			break;
		if (h[1] == FCGI_STDOUT && first && len > 8) {
			buf[len] = '\0';
			if (strncmp((char *)buf, "Status: ", 8) == 0)
				status = atoi((char *)buf + 8);
			first = 0;
		}
		if (h[1] == FCGI_END)
			goto out;
	}
	status = -1;
out:
	close(fd);
	return status;
}

static void
load(const char *path)
{
	FILE *fp = fopen(path, "rb");
	struct file *f = &files[nfiles];

	if (fp == NULL || nfiles == MAX_FILES ||
	    (f->data = malloc(MAX_BODY)) == NULL) {
		fprintf(stderr, "fcgipost: cannot load %s\n", path);
		exit(2);
	}
	f->len = fread(f->data, 1, MAX_BODY, fp);
	fclose(fp);
	nfiles++;
}

int
main(int argc, char **argv)
{
	long count, i, tot[4] = { 0, 0, 0, 0 };
	int clients, c, fds[64][2];

	if (argc < 5) {
		fprintf(stderr, "usage: fcgipost SOCKET COUNT CLIENTS FILE...\n");
		return 2;
	}
	count = atol(argv[2]);
	clients = atoi(argv[3]);
	ocsp = getenv("FCGIPOST_OCSP") != NULL &&
	    strcmp(getenv("FCGIPOST_OCSP"), "1") == 0;
	if (clients < 1 || clients > 64 || count < 1)
		return 2;
	for (i = 4; i < argc; i++)
		load(argv[i]);
	for (c = 0; c < clients; c++) {
		if (pipe(fds[c]) != 0)
			return 1;
		if (fork() == 0) {
			long n[4] = { 0, 0, 0, 0 };

			close(fds[c][0]);
			for (i = c; i < count; i += clients) {
				int s = post(argv[1], &files[i % nfiles]);

				n[s == 200 ? 0 : s == 400 ? 1 : s < 0 ? 3 : 2]++;
			}
			if (!write_all(fds[c][1], n, sizeof(n)))
				_exit(1);
			_exit(0);
		}
		close(fds[c][1]);
	}
	for (c = 0; c < clients; c++) {
		long n[4];

		if (!read_all(fds[c][0], n, sizeof(n)))
			n[3] = count / clients, n[0] = n[1] = n[2] = 0;
		for (i = 0; i < 4; i++)
			tot[i] += n[i];
		close(fds[c][0]);
	}
	while (wait(NULL) > 0)
		;
	printf("sent=%ld status200=%ld status400=%ld other=%ld failed=%ld\n",
	    count, tot[0], tot[1], tot[2], tot[3]);
	return tot[3] == 0 ? 0 : 1;
}
