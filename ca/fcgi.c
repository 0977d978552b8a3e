/*
 * fcgi.c - FastCGI request handling for cmpcad (RFC 9811 over nginx).
 *
 * Untrusted HTTP input is checked here, in layers, before the CMP engine
 * sees a byte: method, path, content type, and a Content-Length that is a
 * plain number no larger than the configured maximum; exactly that many
 * bytes are read.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "ca/fcgi.h"

#define CMP_PATH "/.well-known/cmp"
#define CMP_PATH_P "/.well-known/cmp/p/"

/* Content types accepted (RFC 9811 §3.3 and the legacy ones). */
static const char *const ctypes[] = {
	"application/pkixcmp",
	"application/pkixcmp-poll",
	"application/x-pkixcmp",
	"application/x-pkixcmp-poll",
	NULL,
};

/* Opens the socket with a backlog that absorbs bursts. */
int
fcgi_listen(const char *path)
{
	int fd;

	if (FCGX_Init() != 0)
		return -1;
	unlink(path);
	fd = FCGX_OpenSocket(path, 512);
	if (fd < 0)
		return -1;
	/* nginx workers run as another user; the socket directory guards
	 * access. */
	if (chmod(path, 0666) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
ctype_ok(const char *ct)
{
	const char *const *t;
	size_t n;

	if (ct == NULL)
		return 0;
	/* Ignore parameters such as "; charset=...". */
	n = strcspn(ct, ";");
	while (n > 0 && isspace((unsigned char)ct[n - 1]))
		n--;
	for (t = ctypes; *t != NULL; t++)
		if (strlen(*t) == n && strncasecmp(ct, *t, n) == 0)
			return 1;
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
	char *end;
	long n;
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

static const char *
status_text(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

static void
reply_plain(FCGX_Request *rq, int code)
{
	FCGX_FPrintF(rq->out,
	    "Status: %d %s\r\nContent-Type: text/plain\r\n%s\r\n%d %s\n", code,
	    status_text(code), code == 405 ? "Allow: POST\r\n" : "", code,
	    status_text(code));
}

static void
serve_one(FCGX_Request *rq, const struct cfg *cfg, struct cmp_srv *srv)
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
	code = fcgi_request_check(FCGX_GetParam("REQUEST_METHOD", rq->envp),
	    uri, FCGX_GetParam("CONTENT_TYPE", rq->envp),
	    FCGX_GetParam("CONTENT_LENGTH", rq->envp), cfg->max_request,
	    labelbuf, sizeof(labelbuf), &label, &len);
	if (code != 0) {
		char u[CA_MAX_LOG_STRING + 1];

		log_sanitize((const unsigned char *)(uri ? uri : "-"),
		    strlen(uri ? uri : "-"), u, sizeof(u));
		log_info("http %d for %s", code, u);
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
	code = cmp_srv_process(srv, label, body, (size_t)len, &resp,
	    &resp_len);
	free(body);
	if (resp == NULL) {
		reply_plain(rq, code >= 400 ? code : 500);
		return;
	}
	FCGX_FPrintF(rq->out,
	    "Status: %d %s\r\nContent-Type: application/pkixcmp\r\n"
	    "Cache-Control: no-cache\r\nContent-Length: %lu\r\n\r\n",
	    code, status_text(code), (unsigned long)resp_len);
	FCGX_PutStr((const char *)resp, (int)resp_len, rq->out);
	OPENSSL_free(resp);
}

/* See fcgi.h: only sets libfcgi's shutdown flag. */
void
fcgi_shutdown(void)
{
	FCGX_ShutdownPending();
}

/* See fcgi.h. */
int
fcgi_serve(int fd, const struct cfg *cfg, struct cmp_srv *srv,
    volatile sig_atomic_t *stop)
{
	FCGX_Request rq;

	if (FCGX_InitRequest(&rq, fd, 0) != 0)
		return -1;
	while (!*stop) {
		if (FCGX_Accept_r(&rq) < 0) {
			if (*stop)
				break;
			if (errno == EINTR)
				continue;
			log_err("fastcgi accept failed: %s", strerror(errno));
			FCGX_Free(&rq, 1);
			return -1;
		}
		serve_one(&rq, cfg, srv);
		FCGX_Finish_r(&rq);
	}
	FCGX_Free(&rq, 1);
	return 0;
}
