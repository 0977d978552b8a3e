/*
 * log.c - log lines to stderr (foreground) or syslog (daemon), in
 * PostgreSQL's message style: short, lower case, no period, the fact first
 * and details after a colon.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/err.h>

#include "ca/ca.h"

static const char *log_ident = "cmpca";
static int log_syslog;
static enum log_level log_max = LOG_LVL_INFO;

/* Sets where lines go and the most verbose level written. */
void
log_init(const char *ident, int to_syslog, enum log_level level)
{
	log_ident = ident;
	log_syslog = to_syslog;
	log_max = level;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void
log_vwrite(enum log_level lvl, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const tag[] = { "error", "warning", "info",
		"debug" };
	char line[2048];

	if (lvl > log_max)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_syslog)
		syslog(prio[lvl], "%s", line);
	else
		fprintf(stderr, "%s[%d]: %s: %s\n", log_ident, (int)getpid(),
		    tag[lvl], line);
}

#define LOG_FN(name, lvl)                                                    \
	void name(const char *fmt, ...)                                      \
	{                                                                    \
		va_list ap;                                                  \
		va_start(ap, fmt);                                           \
		log_vwrite(lvl, fmt, ap);                                    \
		va_end(ap);                                                  \
	}
LOG_FN(log_err, LOG_LVL_ERR)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

/* Drains the OpenSSL error queue; each entry becomes one line. */
void
log_openssl_errors(int loud)
{
	unsigned long e;
	const char *file, *data;
	int line, flags;
	char buf[256], san[CA_LOG_SAN_MAX];

	while ((e = ERR_get_error_all(&file, &line, NULL, &data, &flags)) != 0) {
		/* A lost token shows here first: signing runs in OpenSSL. */
		(void)hsm_err_note(e);
		ERR_error_string_n(e, buf, sizeof(buf));
		/* The data may be a peer's: OSSL_HTTP_transfer puts a
		 * partner's HTTP reason phrase and Content-Type there. */
		san[0] = '\0';
		if ((flags & ERR_TXT_STRING) && data != NULL)
			log_sanitize((const unsigned char *)data, strlen(data),
			    san, sizeof(san));
		if (loud)
			log_err("openssl: %s%s%s", buf, san[0] ? ": " : "", san);
		else
			log_debug("openssl: %s%s%s", buf, san[0] ? ": " : "",
			    san);
	}
}

/*
 * Copies a peer string for a log line (cryptlib's sanitiseString):
 * printable ASCII as is, '\\' and '"' escaped with a backslash, every
 * other byte as \xHH, so control characters and terminal escape sequences
 * reach neither the terminal nor the log parser. At most CA_MAX_LOG_STRING
 * input bytes are used; a cut string (input or output too long) ends in
 * "..." and an escape is never split.
 */
static size_t
san_escape(unsigned char ch, char e[4])
{
	static const char hex[] = "0123456789abcdef";

	if (ch == '\\' || ch == '"') {
		e[0] = '\\';
		e[1] = (char)ch;
		return 2;
	}
	if (ch >= 0x20 && ch < 0x7f) {
		e[0] = (char)ch;
		return 1;
	}
	e[0] = '\\';
	e[1] = 'x';
	e[2] = hex[ch >> 4];
	e[3] = hex[ch & 0xf];
	return 4;
}

void
log_sanitize(const unsigned char *in, size_t inlen, char *out, size_t outlen)
{
	size_t i, el, o = 0, lim, n, need = 0;
	int cut;
	char e[4];

	if (outlen == 0)
		return;
	lim = outlen - 1;
	n = inlen > CA_MAX_LOG_STRING ? CA_MAX_LOG_STRING : inlen;
	for (i = 0; i < n; i++)
		need += san_escape(in[i], e);
	/* When it does not all fit, keep room for "...". */
	cut = n < inlen || need > lim;
	for (i = 0; i < n; i++) {
		el = san_escape(in[i], e);
		if (o + el + (cut ? 3 : 0) > lim)
			break;
		memcpy(out + o, e, el);
		o += el;
	}
	if (cut && o + 3 <= lim) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Hex of a byte string, truncated with ".." when out is too small. */
void
log_hex(const unsigned char *in, size_t inlen, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (outlen == 0)
		return;
	for (i = 0; i < inlen; i++) {
		if (o + 2 > outlen - 1) {
			if (outlen >= 3) {
				out[outlen - 3] = '.';
				out[outlen - 2] = '.';
				o = outlen - 1;
			}
			break;
		}
		out[o++] = hex[in[i] >> 4];
		out[o++] = hex[in[i] & 0xf];
	}
	out[o] = '\0';
}
