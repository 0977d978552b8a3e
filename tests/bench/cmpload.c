/*
 * cmpload - a CMP load generator on OpenSSL 3.0's public CMP client API.
 *
 * N client threads, each with its own OSSL_CMP_CTX, run CMP transactions
 * against one server for a duration or a count and print one result line:
 *
 *   kind=irimp clients=8 done=12345 errors=0 secs=10.00 tx/s=1234.5
 *   p50_ms=1.234 p90_ms=... p99_ms=... max_ms=... client_cpu_ms/tx=0.812
 *   conns=12345
 *
 * Kinds: ir (with certConf), irimp (ir asking for implicitConfirm), cr,
 * rr and genm. rr revokes --oldcert (or --cert) every time; without
 * either, each client first enrolls its share of --count certificates with
 * PBM (before the clock) and then revokes each one with a request signed
 * by that very certificate (RFC 9483 §4.2). PBM protection uses --ref and
 * the secret read from the
 * environment variable named by --secret-env (never from argv); without
 * them, --cert and --key sign the requests. The new keys come from a pool
 * generated before the clock starts (or one fixed --newkey, for servers
 * such as OpenSSL's mock that answer with a fixed certificate). Every
 * response is checked: the enrolled certificate must carry the requested
 * public key and, with --cacert, verify against the CA. Failed
 * transactions are counted by reason; the first reasons go to stderr.
 *
 * With --record FILE, every enrollment's outcome is also written to FILE,
 * one line each, for tests that compare what clients received with the
 * CA's inventory:
 *
 *   ok TIME MS SERIAL SUBJECT           certificate received, transaction
 *                                       finished
 *   unconfirmed TIME MS SERIAL SUBJECT  certificate received, but the
 *                                       transaction failed after it (e.g.
 *                                       certConf unanswered)
 *   fail TIME MS CN REASON              no certificate
 *
 * TIME is when the transaction ended (Unix time, ms precision), MS how
 * long it took; SERIAL is lower-case hex without leading zeros, SUBJECT
 * RFC 2253. --pause-on-error MS makes a client wait that long after a
 * failed transaction (a client backing off, not spinning on an outage).
 *
 * Latencies are per transaction (ir + certConf for kind ir), successful
 * transactions only. Client CPU is getrusage() of this process over the
 * measured interval, divided by the completed transactions.
 *
 * Sockets get TCP_NODELAY (through the HTTP callback) unless --nagle is
 * given: OpenSSL 3.0 writes a request's header and body in two writes, and
 * on a kept-alive connection Nagle plus delayed ACK would add ~40 ms to
 * every follow-up message; the benchmark measures servers, not that.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/http.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define MAX_CLIENTS 256      /* threads */
#define MAX_REASONS 8        /* distinct error reasons kept */
#define REASON_LEN 240       /* one error reason */
#define PRINT_FIRST_ERRORS 5 /* errors printed as they happen */
#define MSG_TIMEOUT 10       /* seconds per message */

enum kind { K_IR, K_IRIMP, K_CR, K_RR, K_GENM };

static const char *const kind_names[] = { "ir", "irimp", "cr", "rr", "genm" };

struct opts {
	const char *url;
	int clients;
	double duration;
	long count;
	enum kind kind;
	const char *ref;
	const char *secret_env;
	const char *recipient;
	const char *key_type;
	const char *cert;
	const char *key;
	const char *oldcert;
	const char *cacert;
	const char *newkey;
	int pool;
	int keep_alive;
	int nodelay;
	const char *record; /* file for one line per enrollment */
	const char *prefix; /* CN prefix of enrolled subjects */
	long error_pause;   /* ms a client waits after a failure */
};

/* Everything the threads share; read-only while they run except noted. */
struct shared {
	struct opts o;
	char *host, *port, *path;
	unsigned char *secret;
	size_t secret_len;
	X509_NAME *recipient;
	X509 *cert, *oldcert, *cacert;
	EVP_PKEY *key;
	EVP_PKEY **pool;
	int npool;
	int rr_own; /* rr of certificates enrolled before the clock */
	pthread_barrier_t start;
	struct timespec end; /* duration mode */
	atomic_long left;    /* count mode: transactions not yet started */
	atomic_long nerr;
	pthread_mutex_t lock; /* guards the reasons and rec */
	FILE *rec;            /* --record */
	char reasons[MAX_REASONS][REASON_LEN];
	long reason_n[MAX_REASONS];
	long reason_other;
};

struct client {
	struct shared *sh;
	int id;
	double *lat; /* ms, successful transactions */
	size_t nlat, cap;
	long conns;
	int ok; /* set up without error */
	char err[REASON_LEN];
	X509 **own_cert; /* rr_own: what this client revokes */
	EVP_PKEY **own_key;
	long nown;
};

static _Thread_local char tl_log[REASON_LEN];

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double
rusage_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	       ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

/* Keeps the last error-level CMP log line of this thread as a reason. */
static int
log_cb(const char *func, const char *file, int line, OSSL_CMP_severity level,
    const char *msg)
{
	(void)func;
	(void)file;
	(void)line;
	if (level <= OSSL_CMP_LOG_ERR)
		snprintf(tl_log, sizeof(tl_log), "%s", msg);
	return 1;
}

/* Sets TCP_NODELAY on each new connection and counts connections. */
static BIO *
http_cb(BIO *bio, void *arg, int connect, int detail)
{
	struct client *c = arg;
	int fd = -1, one = 1;

	(void)detail;
	if (!connect)
		return bio;
	c->conns++;
	if (c->sh->o.nodelay && BIO_get_fd(bio, &fd) > 0 && fd >= 0)
		(void)setsockopt(
		    fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return bio;
}

/*
 * Parses "/O=x/CN=y" (OpenSSL's command-line form; "\/" escapes a slash).
 * Returns a new name or NULL.
 */
static X509_NAME *
dn_parse(const char *s)
{
	X509_NAME *n = NULL, *rc = NULL;
	char *buf = NULL, *p, *q, *field, *val;

	if (s == NULL || *s != '/')
		goto out;
	if ((n = X509_NAME_new()) == NULL || (buf = strdup(s + 1)) == NULL)
		goto out;
	for (p = buf; *p != '\0';) {
		field = p;
		if ((val = strchr(field, '=')) == NULL)
			goto out;
		*val++ = '\0';
		/* Copy the value in place, unescaping, up to an unescaped /. */
		for (p = q = val; *p != '\0' && *p != '/'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			*q++ = *p;
		}
		if (*p == '/')
			p++;
		*q = '\0';
		if (!X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8,
		        (const unsigned char *)val, -1, -1, 0))
			goto out;
	}
	rc = n;
	n = NULL;
out:
	X509_NAME_free(n);
	free(buf);
	return rc;
}

static X509 *
cert_load(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL) {
		fprintf(stderr, "cmpload: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		fprintf(stderr, "cmpload: %s: not a PEM certificate\n", path);
	return x;
}

static EVP_PKEY *
key_load(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL) {
		fprintf(stderr, "cmpload: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		fprintf(stderr, "cmpload: %s: not a PEM private key\n", path);
	return k;
}

/* Records a failed transaction's reason (counted by distinct text). */
static void
reason_add(struct shared *sh, const char *why)
{
	long n = atomic_fetch_add(&sh->nerr, 1) + 1;
	int i;

	if (n <= PRINT_FIRST_ERRORS)
		fprintf(stderr, "cmpload: error %ld: %s\n", n, why);
	pthread_mutex_lock(&sh->lock);
	for (i = 0; i < MAX_REASONS; i++) {
		if (sh->reasons[i][0] == '\0') {
			snprintf(sh->reasons[i], REASON_LEN, "%s", why);
			sh->reason_n[i] = 1;
			break;
		}
		if (strcmp(sh->reasons[i], why) == 0) {
			sh->reason_n[i]++;
			break;
		}
	}
	if (i == MAX_REASONS)
		sh->reason_other++;
	pthread_mutex_unlock(&sh->lock);
}

/* A reason for a failed transaction: the PKIStatus, else the error. */
static void
reason_of(OSSL_CMP_CTX *ctx, const char *what, char *buf, size_t len)
{
	char st[REASON_LEN];
	unsigned long e = ERR_peek_last_error(), e0;
	const char *data = NULL;
	char es[160] = "", e0s[120] = "";
	int flags = 0;

	if (e != 0)
		ERR_error_string_n(e, es, sizeof(es));
	/* The first error says more (e.g. the HTTP status of a 502). */
	e0 = ERR_peek_error_data(&data, &flags);
	if (e0 != 0 && e0 != e) {
		ERR_error_string_n(e0, e0s, sizeof(e0s));
		snprintf(es + strlen(es), sizeof(es) - strlen(es), " (%s%s%s)",
		    ERR_reason_error_string(e0) != NULL
		        ? ERR_reason_error_string(e0) : e0s,
		    (flags & ERR_TXT_STRING) && data != NULL ? ": " : "",
		    (flags & ERR_TXT_STRING) && data != NULL ? data : "");
	}
	if (OSSL_CMP_CTX_get_status(ctx) >= OSSL_CMP_PKISTATUS_accepted &&
	    OSSL_CMP_CTX_snprint_PKIStatus(ctx, st, sizeof(st)) != NULL &&
	    tl_log[0] != '\0')
		/* A status and our own complaint (e.g. we rejected the cert).
		 */
		snprintf(buf, len, "%.16s: %.110s (%.90s)", what, st, tl_log);
	else if (OSSL_CMP_CTX_get_status(ctx) >= OSSL_CMP_PKISTATUS_accepted &&
	         OSSL_CMP_CTX_snprint_PKIStatus(ctx, st, sizeof(st)) != NULL)
		snprintf(buf, len, "%.16s: %.200s", what, st);
	else if (tl_log[0] != '\0')
		snprintf(buf, len, "%.16s: %.200s", what, tl_log);
	else
		snprintf(
		    buf, len, "%.16s: %.200s", what, es[0] ? es : "failed");
}

/*
 * --record: one line for an enrollment (see the top of the file). cert
 * may be NULL (a failure). Safe without --record.
 */
static void
record(struct shared *sh, const char *what, double t0, X509 *cert,
    const char *cn, const char *why)
{
	struct timespec now;
	char serial[2 * 20 + 8] = "?", subj[512] = "?", *hex = NULL, *p;
	BIGNUM *bn = NULL;
	BIO *b = NULL;
	int n;

	if (sh->rec == NULL)
		return;
	if (cert != NULL) {
		bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
		if (bn != NULL && (hex = BN_bn2hex(bn)) != NULL) {
			for (p = hex; *p == '0' && p[1] != '\0'; p++)
				;
			snprintf(serial, sizeof(serial), "%s", p);
			for (p = serial; *p != '\0'; p++)
				if (*p >= 'A' && *p <= 'F')
					*p = (char)(*p - 'A' + 'a');
		}
		if ((b = BIO_new(BIO_s_mem())) != NULL &&
		    X509_NAME_print_ex(b, X509_get_subject_name(cert), 0,
		        XN_FLAG_RFC2253) >= 0 &&
		    (n = BIO_read(b, subj, sizeof(subj) - 1)) > 0)
			subj[n] = '\0';
	}
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&sh->lock);
	fprintf(sh->rec, "%s %lld.%03ld %.1f %s %s\n", what,
	    (long long)now.tv_sec, now.tv_nsec / 1000000L, now_ms() - t0,
	    cert != NULL ? serial : cn, cert != NULL ? subj : why);
	fflush(sh->rec);
	pthread_mutex_unlock(&sh->lock);
	BIO_free(b);
	OPENSSL_free(hex);
	BN_free(bn);
}

/*
 * Checks an enrolled certificate: it carries key's public key and, with a
 * CA, verifies against it. Returns NULL if fine, else a reason.
 */
static const char *
cert_check(X509 *cert, EVP_PKEY *key, X509_STORE *store)
{
	X509_STORE_CTX *vc;
	int ok;

	if (cert == NULL)
		return "no certificate in the response";
	if (X509_check_private_key(cert, key) != 1)
		return "enrolled certificate does not carry the requested key";
	if (store == NULL)
		return NULL;
	if ((vc = X509_STORE_CTX_new()) == NULL)
		return "out of memory";
	ok = X509_STORE_CTX_init(vc, store, cert, NULL) == 1 &&
	     X509_verify_cert(vc) == 1;
	X509_STORE_CTX_free(vc);
	return ok ? NULL
	          : "enrolled certificate does not verify against the CA";
}

/*
 * A CMP context for one client thread: PBM with the shared secret when pbm
 * is set, else signature with --cert/--key (when given). Returns NULL
 * (c->err set).
 */
static OSSL_CMP_CTX *
ctx_new(struct client *c, X509_STORE **storep, int pbm, int implicit)
{
	struct shared *sh = c->sh;
	OSSL_CMP_CTX *ctx = NULL, *rc = NULL;
	X509_STORE *store = NULL;

	*storep = NULL;
	if ((ctx = OSSL_CMP_CTX_new(NULL, NULL)) == NULL)
		goto out;
	OSSL_CMP_CTX_set_log_verbosity(ctx, OSSL_CMP_LOG_ERR);
	if (!OSSL_CMP_CTX_set_log_cb(ctx, log_cb) ||
	    !OSSL_CMP_CTX_set1_server(ctx, sh->host) ||
	    !OSSL_CMP_CTX_set_serverPort(ctx, atoi(sh->port)) ||
	    !OSSL_CMP_CTX_set1_serverPath(ctx, sh->path) ||
	    !OSSL_CMP_CTX_set_http_cb(ctx, http_cb) ||
	    !OSSL_CMP_CTX_set_http_cb_arg(ctx, c) ||
	    !OSSL_CMP_CTX_set_option(
	        ctx, OSSL_CMP_OPT_KEEP_ALIVE, sh->o.keep_alive) ||
	    !OSSL_CMP_CTX_set_option(
	        ctx, OSSL_CMP_OPT_MSG_TIMEOUT, MSG_TIMEOUT) ||
	    !OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_TOTAL_TIMEOUT, 0) ||
	    !OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_ERRORS, 1) ||
	    !OSSL_CMP_CTX_set_option(
	        ctx, OSSL_CMP_OPT_IMPLICIT_CONFIRM, implicit))
		goto out;
	if (sh->recipient != NULL &&
	    !OSSL_CMP_CTX_set1_recipient(ctx, sh->recipient))
		goto out;
	if (pbm) {
		if (!OSSL_CMP_CTX_set1_referenceValue(ctx,
		        (const unsigned char *)sh->o.ref,
		        (int)strlen(sh->o.ref)) ||
		    !OSSL_CMP_CTX_set1_secretValue(
		        ctx, sh->secret, (int)sh->secret_len))
			goto out;
	} else if (sh->cert != NULL &&
	           (!OSSL_CMP_CTX_set1_cert(ctx, sh->cert) ||
	               !OSSL_CMP_CTX_set1_pkey(ctx, sh->key)))
		goto out;
	if (sh->oldcert != NULL && !OSSL_CMP_CTX_set1_oldCert(ctx, sh->oldcert))
		goto out;
	if (sh->cacert != NULL) {
		/* Ours for checking enrolled certificates; the context's copy
		 * validates signature-protected responses. */
		if ((store = X509_STORE_new()) == NULL ||
		    !X509_STORE_add_cert(store, sh->cacert))
			goto out;
		if (!pbm) {
			X509_STORE *ts = X509_STORE_new();

			if (ts == NULL ||
			    !X509_STORE_add_cert(ts, sh->cacert) ||
			    !OSSL_CMP_CTX_set0_trustedStore(ctx, ts)) {
				X509_STORE_free(ts);
				goto out;
			}
		}
	}
	*storep = store;
	store = NULL;
	rc = ctx;
	ctx = NULL;
out:
	if (rc == NULL)
		snprintf(c->err, sizeof(c->err), "cannot set up a CMP context");
	X509_STORE_free(store);
	OSSL_CMP_CTX_free(ctx);
	return rc;
}

/*
 * Runs one transaction. Returns 1 if it succeeded and its response checks
 * out, else 0 with the reason recorded.
 */
static int
one_tx(struct client *c, OSSL_CMP_CTX *ctx, X509_STORE *store, long seq)
{
	struct shared *sh = c->sh;
	EVP_PKEY *key = NULL;
	X509_NAME *subj = NULL;
	STACK_OF(OSSL_CMP_ITAV) * itavs;
	char cn[64], why[REASON_LEN];
	const char *bad = NULL;
	X509 *cert;
	double t0 = now_ms();
	int rc = 0;

	ERR_clear_error();
	tl_log[0] = '\0';
	if (!OSSL_CMP_CTX_reinit(ctx)) {
		snprintf(why, sizeof(why), "cannot reinit the CMP context");
		goto fail;
	}
	if (sh->o.kind == K_IR || sh->o.kind == K_IRIMP || sh->o.kind == K_CR) {
		key = sh->pool[(c->id + seq * sh->o.clients) % sh->npool];
		snprintf(cn, sizeof(cn), "%s-%d-%ld", sh->o.prefix, c->id,
		    seq);
		/* cr with a certificate asks for that certificate's subject
		 * (OpenSSL's default), as an end entity may only. */
		if ((sh->o.kind != K_CR || sh->cert == NULL) &&
		    ((subj = X509_NAME_new()) == NULL ||
		        !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
		            (const unsigned char *)cn, -1, -1, 0) ||
		        !OSSL_CMP_CTX_set1_subjectName(ctx, subj))) {
			snprintf(why, sizeof(why), "cannot build the request");
			goto fail;
		}
		if (!EVP_PKEY_up_ref(key)) {
			snprintf(why, sizeof(why), "cannot build the request");
			goto fail;
		}
		if (!OSSL_CMP_CTX_set0_newPkey(ctx, 1, key)) {
			EVP_PKEY_free(key);
			snprintf(why, sizeof(why), "cannot set the new key");
			goto fail;
		}
	}
	switch (sh->o.kind) {
	case K_IR:
	case K_IRIMP:
	case K_CR:
		cert = sh->o.kind == K_CR ? OSSL_CMP_exec_CR_ses(ctx)
		                          : OSSL_CMP_exec_IR_ses(ctx);
		if (cert == NULL) {
			reason_of(
			    ctx, kind_names[sh->o.kind], why, sizeof(why));
			/* OpenSSL keeps the certificate of an ip whose
			 * certConf exchange then failed. */
			if (OSSL_CMP_CTX_get0_newCert(ctx) != NULL)
				record(sh, "unconfirmed", t0,
				    OSSL_CMP_CTX_get0_newCert(ctx), NULL, NULL);
			else
				record(sh, "fail", t0, NULL, cn, why);
			goto fail;
		}
		if ((bad = cert_check(cert, key, store)) != NULL) {
			snprintf(why, sizeof(why), "%s", bad);
			record(sh, "fail", t0, NULL, cn, why);
			goto fail;
		}
		record(sh, "ok", t0, cert, NULL, NULL);
		break;
	case K_RR:
		if (sh->rr_own &&
		    (!OSSL_CMP_CTX_set1_cert(ctx, c->own_cert[seq]) ||
		        !OSSL_CMP_CTX_set1_pkey(ctx, c->own_key[seq]) ||
		        !OSSL_CMP_CTX_set1_oldCert(ctx, c->own_cert[seq]))) {
			snprintf(why, sizeof(why), "cannot set the signer");
			goto fail;
		}
		if (OSSL_CMP_exec_RR_ses(ctx) != 1) {
			reason_of(ctx, "rr", why, sizeof(why));
			goto fail;
		}
		break;
	case K_GENM:
		itavs = OSSL_CMP_exec_GENM_ses(ctx);
		if (itavs == NULL) {
			reason_of(ctx, "genm", why, sizeof(why));
			goto fail;
		}
		sk_OSSL_CMP_ITAV_pop_free(itavs, OSSL_CMP_ITAV_free);
		break;
	}
	rc = 1;
	goto out;
fail:
	reason_add(sh, why);
	if (sh->o.error_pause > 0) {
		struct timespec ts = { sh->o.error_pause / 1000,
			(sh->o.error_pause % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
out:
	X509_NAME_free(subj);
	ERR_clear_error();
	return rc;
}

static int
lat_add(struct client *c, double ms)
{
	double *p;

	if (c->nlat == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 4096;
		if ((p = realloc(c->lat, c->cap * sizeof(*p))) == NULL)
			return 0;
		c->lat = p;
	}
	c->lat[c->nlat++] = ms;
	return 1;
}

static int
time_left(const struct shared *sh)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec < sh->end.tv_sec ||
	       (ts.tv_sec == sh->end.tv_sec && ts.tv_nsec < sh->end.tv_nsec);
}

/*
 * rr_own: enrolls this client's share of --count certificates (irimp,
 * PBM) to revoke later. Returns 1, or 0 with c->err set; c->nown counts
 * what was enrolled either way.
 */
static int
own_enroll(struct client *c)
{
	struct shared *sh = c->sh;
	OSSL_CMP_CTX *ctx;
	X509_STORE *store = NULL;
	X509_NAME *subj = NULL;
	EVP_PKEY *key;
	X509 *cert;
	char cn[64], why[REASON_LEN];
	long i, n = sh->o.count / sh->o.clients;
	int rc = 0;

	if (c->id < sh->o.count % sh->o.clients)
		n++;
	c->own_cert = calloc((size_t)n + 1, sizeof(*c->own_cert));
	c->own_key = calloc((size_t)n + 1, sizeof(*c->own_key));
	if (c->own_cert == NULL || c->own_key == NULL)
		return 0;
	if ((ctx = ctx_new(c, &store, 1, 1)) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		key = sh->pool[(c->id + i * sh->o.clients) % sh->npool];
		snprintf(cn, sizeof(cn), "bench-rr-%d-%ld", c->id, i);
		X509_NAME_free(subj);
		if (!OSSL_CMP_CTX_reinit(ctx) ||
		    (subj = X509_NAME_new()) == NULL ||
		    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
		        (const unsigned char *)cn, -1, -1, 0) ||
		    !OSSL_CMP_CTX_set1_subjectName(ctx, subj) ||
		    !EVP_PKEY_up_ref(key))
			goto out;
		if (!OSSL_CMP_CTX_set0_newPkey(ctx, 1, key)) {
			EVP_PKEY_free(key);
			goto out;
		}
		tl_log[0] = '\0';
		if ((cert = OSSL_CMP_exec_IR_ses(ctx)) == NULL) {
			reason_of(ctx, "rr enrollment", why, sizeof(why));
			snprintf(c->err, sizeof(c->err), "%s", why);
			goto out;
		}
		if (!X509_up_ref(cert) || !EVP_PKEY_up_ref(key))
			goto out;
		c->own_cert[i] = cert;
		c->own_key[i] = key;
		c->nown = i + 1;
	}
	rc = 1;
out:
	if (!rc && c->err[0] == '\0')
		snprintf(c->err, sizeof(c->err), "rr enrollment failed");
	ERR_clear_error();
	X509_NAME_free(subj);
	X509_STORE_free(store);
	OSSL_CMP_CTX_free(ctx);
	return rc;
}

/* A client thread: set up, wait for the start, loop until done. */
static void *
client_run(void *arg)
{
	struct client *c = arg;
	struct shared *sh = c->sh;
	OSSL_CMP_CTX *ctx;
	X509_STORE *store = NULL;
	double t0;
	long seq;

	c->ok = !sh->rr_own || own_enroll(c);
	if (!c->ok && c->err[0] == '\0')
		snprintf(c->err, sizeof(c->err), "rr enrollment failed");
	ctx = ctx_new(c, &store, sh->secret != NULL && !sh->rr_own,
	    sh->o.kind == K_IRIMP);
	if (ctx == NULL)
		c->ok = 0;
	pthread_barrier_wait(&sh->start);
	if (ctx == NULL)
		return NULL;
	for (seq = 0;; seq++) {
		if (sh->rr_own) {
			if (seq >= c->nown)
				break;
		} else if (sh->o.count > 0) {
			if (atomic_fetch_sub(&sh->left, 1) <= 0)
				break;
		} else if (!time_left(sh))
			break;
		if (sh->rr_own && seq > 0) {
			/*
			 * OpenSSL 3.0 keeps a context's extraCerts chain when
			 * the signer changes (and OSSL_CMP_CTX_build_cert_chain
			 * leaks the old one): a new context per signer.
			 */
			X509_STORE_free(store);
			OSSL_CMP_CTX_free(ctx);
			if ((ctx = ctx_new(c, &store, 0, 0)) == NULL) {
				c->ok = 0;
				break;
			}
		}
		t0 = now_ms();
		if (one_tx(c, ctx, store, seq) && !lat_add(c, now_ms() - t0)) {
			snprintf(c->err, sizeof(c->err), "out of memory");
			c->ok = 0;
			break;
		}
	}
	X509_STORE_free(store);
	OSSL_CMP_CTX_free(ctx);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array; 0 when empty. */
static double
pctl(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)ceil(p / 100.0 * (double)n);
	return v[i == 0 ? 0 : i - 1];
}

/* Generates the key pool (or loads --newkey). Returns 1 or 0. */
static int
pool_make(struct shared *sh)
{
	int i, rsa = strcmp(sh->o.key_type, "rsa") == 0;

	if (!rsa && strcmp(sh->o.key_type, "ec") != 0) {
		fprintf(stderr, "cmpload: --key-type must be ec or rsa\n");
		return 0;
	}
	sh->npool = sh->o.newkey != NULL ? 1
	            : sh->o.pool > 0     ? sh->o.pool
	            : rsa                ? 16
	                                 : 256;
	if ((sh->pool = calloc((size_t)sh->npool, sizeof(*sh->pool))) == NULL)
		return 0;
	if (sh->o.newkey != NULL)
		return (sh->pool[0] = key_load(sh->o.newkey)) != NULL;
	for (i = 0; i < sh->npool; i++) {
		sh->pool[i] =
		    rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
		        : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (sh->pool[i] == NULL) {
			fprintf(stderr, "cmpload: key generation failed\n");
			return 0;
		}
	}
	return 1;
}

/* Loads what the options name into sh. Returns 1 or 0 (message printed). */
static int
shared_setup(struct shared *sh)
{
	const char *s;
	int ssl = 0;

	if (!OSSL_HTTP_parse_url(sh->o.url, &ssl, NULL, &sh->host, &sh->port,
	        NULL, &sh->path, NULL, NULL) ||
	    ssl) {
		fprintf(
		    stderr, "cmpload: --url must be http://HOST[:PORT]/PATH\n");
		return 0;
	}
	if (sh->o.ref != NULL || sh->o.secret_env != NULL) {
		if (sh->o.ref == NULL || sh->o.secret_env == NULL ||
		    (s = getenv(sh->o.secret_env)) == NULL || *s == '\0') {
			fprintf(stderr, "cmpload: PBM needs --ref and "
			                "--secret-env naming a set variable\n");
			return 0;
		}
		sh->secret_len = strlen(s);
		if ((sh->secret = malloc(sh->secret_len)) == NULL)
			return 0;
		memcpy(sh->secret, s, sh->secret_len);
	} else if (sh->o.cert == NULL || sh->o.key == NULL) {
		fprintf(stderr, "cmpload: give --ref/--secret-env (PBM) or "
		                "--cert/--key (signature)\n");
		return 0;
	}
	if (sh->o.cert != NULL && (sh->cert = cert_load(sh->o.cert)) == NULL)
		return 0;
	if (sh->o.key != NULL && (sh->key = key_load(sh->o.key)) == NULL)
		return 0;
	if (sh->o.kind == K_RR) {
		s = sh->o.oldcert != NULL ? sh->o.oldcert : sh->o.cert;
		sh->rr_own = s == NULL;
		if (sh->rr_own && (sh->secret == NULL || sh->o.count == 0)) {
			fprintf(stderr,
			    "cmpload: rr needs --oldcert or --cert, "
			    "or PBM and --count to enroll what it "
			    "revokes\n");
			return 0;
		}
		if (s != NULL && (sh->oldcert = cert_load(s)) == NULL)
			return 0;
	}
	if (sh->o.cacert != NULL &&
	    (sh->cacert = cert_load(sh->o.cacert)) == NULL)
		return 0;
	if (sh->o.recipient != NULL &&
	    (sh->recipient = dn_parse(sh->o.recipient)) == NULL) {
		fprintf(stderr, "cmpload: --recipient: not a /A=b/C=d name\n");
		return 0;
	}
	return pool_make(sh);
}

static void
shared_free(struct shared *sh)
{
	int i;

	OPENSSL_free(sh->host);
	OPENSSL_free(sh->port);
	OPENSSL_free(sh->path);
	if (sh->secret != NULL)
		OPENSSL_cleanse(sh->secret, sh->secret_len);
	free(sh->secret);
	X509_NAME_free(sh->recipient);
	X509_free(sh->cert);
	X509_free(sh->oldcert);
	X509_free(sh->cacert);
	EVP_PKEY_free(sh->key);
	for (i = 0; sh->pool != NULL && i < sh->npool; i++)
		EVP_PKEY_free(sh->pool[i]);
	free(sh->pool);
}

static const char usage_text[] =
    "usage: cmpload --url URL [--clients N] [--duration S | --count N]\n"
    "    [--kind ir|irimp|cr|rr|genm] [--ref REF --secret-env VAR]\n"
    "    [--cert PEM --key PEM] [--oldcert PEM] [--recipient /DN]\n"
    "    [--key-type ec|rsa] [--pool N] [--newkey PEM] [--cacert PEM]\n"
    "    [--no-keepalive] [--nagle] [--record FILE] [--prefix CN]\n"
    "    [--pause-on-error MS]\n";

/* Parses argv into o. Returns 1, or 0 after printing the usage. */
static int
opts_parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "clients", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "kind", required_argument, NULL, 'k' },
		{ "ref", required_argument, NULL, 'r' },
		{ "secret-env", required_argument, NULL, 's' },
		{ "recipient", required_argument, NULL, 'R' },
		{ "key-type", required_argument, NULL, 't' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "oldcert", required_argument, NULL, 'O' },
		{ "cacert", required_argument, NULL, 'A' },
		{ "newkey", required_argument, NULL, 'N' },
		{ "pool", required_argument, NULL, 'p' },
		{ "no-keepalive", no_argument, NULL, 'a' },
		{ "nagle", no_argument, NULL, 'g' },
		{ "record", required_argument, NULL, 'w' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "pause-on-error", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t i;
	int ch;

	memset(o, 0, sizeof(*o));
	o->clients = 1;
	o->duration = 10;
	o->kind = K_IRIMP;
	o->key_type = "ec";
	o->keep_alive = 1;
	o->nodelay = 1;
	o->prefix = "bench";
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u':
			o->url = optarg;
			break;
		case 'c':
			o->clients = atoi(optarg);
			break;
		case 'd':
			o->duration = atof(optarg);
			break;
		case 'n':
			o->count = atol(optarg);
			break;
		case 'k':
			for (i = 0;
			     i < sizeof(kind_names) / sizeof(*kind_names); i++)
				if (strcmp(optarg, kind_names[i]) == 0)
					break;
			if (i == sizeof(kind_names) / sizeof(*kind_names))
				goto bad;
			o->kind = (enum kind)i;
			break;
		case 'r':
			o->ref = optarg;
			break;
		case 's':
			o->secret_env = optarg;
			break;
		case 'R':
			o->recipient = optarg;
			break;
		case 't':
			o->key_type = optarg;
			break;
		case 'C':
			o->cert = optarg;
			break;
		case 'K':
			o->key = optarg;
			break;
		case 'O':
			o->oldcert = optarg;
			break;
		case 'A':
			o->cacert = optarg;
			break;
		case 'N':
			o->newkey = optarg;
			break;
		case 'p':
			o->pool = atoi(optarg);
			break;
		case 'a':
			o->keep_alive = 0;
			break;
		case 'g':
			o->nodelay = 0;
			break;
		case 'w':
			o->record = optarg;
			break;
		case 'P':
			o->prefix = optarg;
			break;
		case 'E':
			o->error_pause = atol(optarg);
			break;
		default:
			goto bad;
		}
	}
	if (optind != argc || o->url == NULL || o->clients < 1 ||
	    o->clients > MAX_CLIENTS || o->duration <= 0 || o->count < 0)
		goto bad;
	return 1;
bad:
	fputs(usage_text, stderr);
	return 0;
}

int
main(int argc, char **argv)
{
	struct shared *sh = NULL;
	struct client *cl = NULL;
	pthread_t *th = NULL;
	double *all = NULL, t0, t1, cpu0, cpu1, secs;
	size_t n = 0, k;
	long conns = 0;
	int i, started = 0, rc = 1;

	if ((sh = calloc(1, sizeof(*sh))) == NULL)
		goto out;
	if (!opts_parse(argc, argv, &sh->o))
		goto out;
	if (!shared_setup(sh)) {
		ERR_print_errors_fp(stderr);
		goto out;
	}
	pthread_mutex_init(&sh->lock, NULL);
	if (sh->o.record != NULL &&
	    (sh->rec = fopen(sh->o.record, "w")) == NULL) {
		fprintf(stderr, "cmpload: %s: %s\n", sh->o.record,
		    strerror(errno));
		goto out;
	}
	atomic_init(&sh->left, sh->o.count);
	atomic_init(&sh->nerr, 0);
	cl = calloc((size_t)sh->o.clients, sizeof(*cl));
	th = calloc((size_t)sh->o.clients, sizeof(*th));
	if (cl == NULL || th == NULL)
		goto out;
	pthread_barrier_init(&sh->start, NULL, (unsigned)sh->o.clients + 1);
	for (i = 0; i < sh->o.clients; i++) {
		cl[i].sh = sh;
		cl[i].id = i;
		if (pthread_create(&th[i], NULL, client_run, &cl[i]) != 0) {
			fprintf(stderr, "cmpload: cannot start thread %d\n", i);
			exit(1); /* the barrier would never open */
		}
	}
	started = 1;
	/* The clock starts when every client has its context. */
	clock_gettime(CLOCK_MONOTONIC, &sh->end);
	sh->end.tv_sec += (time_t)sh->o.duration;
	sh->end.tv_nsec +=
	    (long)((sh->o.duration - floor(sh->o.duration)) * 1e9);
	if (sh->end.tv_nsec >= 1000000000L) {
		sh->end.tv_sec++;
		sh->end.tv_nsec -= 1000000000L;
	}
	t0 = now_ms();
	cpu0 = rusage_ms();
	pthread_barrier_wait(&sh->start);
	for (i = 0; i < sh->o.clients; i++)
		pthread_join(th[i], NULL);
	t1 = now_ms();
	cpu1 = rusage_ms();

	for (i = 0; i < sh->o.clients; i++) {
		if (!cl[i].ok)
			fprintf(
			    stderr, "cmpload: client %d: %s\n", i, cl[i].err);
		n += cl[i].nlat;
		conns += cl[i].conns;
	}
	if ((all = malloc((n ? n : 1) * sizeof(*all))) == NULL)
		goto out;
	for (i = 0, k = 0; i < sh->o.clients; i++) {
		if (cl[i].nlat == 0)
			continue;
		memcpy(all + k, cl[i].lat, cl[i].nlat * sizeof(*all));
		k += cl[i].nlat;
	}
	qsort(all, n, sizeof(*all), cmp_double);
	secs = (t1 - t0) / 1e3;
	printf("kind=%s clients=%d done=%zu errors=%ld secs=%.2f tx/s=%.1f "
	       "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f "
	       "client_cpu_ms/tx=%.3f conns=%ld\n",
	    kind_names[sh->o.kind], sh->o.clients, n, atomic_load(&sh->nerr),
	    secs, secs > 0 ? (double)n / secs : 0, pctl(all, n, 50),
	    pctl(all, n, 90), pctl(all, n, 99), n ? all[n - 1] : 0,
	    n ? (cpu1 - cpu0) / (double)n : 0, conns);
	for (i = 0; i < MAX_REASONS && sh->reasons[i][0] != '\0'; i++)
		fprintf(stderr, "cmpload: %ld x %s\n", sh->reason_n[i],
		    sh->reasons[i]);
	if (sh->reason_other > 0)
		fprintf(
		    stderr, "cmpload: %ld x other reasons\n", sh->reason_other);
	rc = 0;
out:
	for (i = 0; cl != NULL && sh != NULL && i < sh->o.clients; i++) {
		free(cl[i].lat);
		for (k = 0; k < (size_t)cl[i].nown; k++) {
			X509_free(cl[i].own_cert[k]);
			EVP_PKEY_free(cl[i].own_key[k]);
		}
		free(cl[i].own_cert);
		free(cl[i].own_key);
	}
	if (started) {
		pthread_barrier_destroy(&sh->start);
		pthread_mutex_destroy(&sh->lock);
	}
	if (sh != NULL && sh->rec != NULL && fclose(sh->rec) != 0)
		rc = 1;
	if (sh != NULL)
		shared_free(sh);
	free(all);
	free(cl);
	free(th);
	free(sh);
	return rc;
}
