/*
 * cmpload: one CMP transaction and what it needs - the per-thread CMP
 * context, loading of PEM files, the check of an enrolled certificate,
 * the reasons of failed transactions and the --record file (format at the
 * top of cmpload.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cmpload.h"

static _Thread_local char tl_log[REASON_LEN];

double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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
BIO *
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
X509_NAME *
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

X509 *
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

EVP_PKEY *
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
 * --record: one line for an enrollment (see the top of cmpload.c). cert
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
	if (key != NULL && X509_check_private_key(cert, key) != 1)
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

/* kgaimp: a and b are keys of the same algorithm and size. */
static int
same_type(EVP_PKEY *a, EVP_PKEY *b)
{
	return a != NULL && b != NULL &&
	       EVP_PKEY_get_base_id(a) == EVP_PKEY_get_base_id(b) &&
	       EVP_PKEY_get_bits(a) == EVP_PKEY_get_bits(b);
}

/*
 * A CMP context for one client thread: PBM with the shared secret when pbm
 * is set, else signature with --cert/--key (when given). Returns NULL
 * (c->err set).
 */
OSSL_CMP_CTX *
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
	if (sh->o.kind == K_KGAIMP && !kga_ctx_setup(c, ctx))
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
int
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
	if (sh->o.kind == K_IR || sh->o.kind == K_IRIMP || sh->o.kind == K_CR ||
	    sh->o.kind == K_KGAIMP) {
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
	case K_KGAIMP:
		/* The transfer callback does the exchange and then ends
		 * OpenSSL's session (cmpload_kga.c): its outcome is in c. */
		snprintf(c->kga_why, sizeof(c->kga_why), "no exchange");
		X509_free(c->kga_cert);
		c->kga_cert = NULL;
		(void)OSSL_CMP_exec_IR_ses(ctx);
		if (c->kga_why[0] != '\0') {
			snprintf(why, sizeof(why), "kgaimp: %.200s", c->kga_why);
			record(sh, "fail", t0, NULL, cn, why);
			goto fail;
		}
		if ((bad = cert_check(c->kga_cert, NULL, store)) == NULL &&
		    !same_type(X509_get0_pubkey(c->kga_cert), key))
			bad = "the CA generated another key type than asked";
		if (bad != NULL) {
			snprintf(why, sizeof(why), "%s", bad);
			record(sh, "fail", t0, NULL, cn, why);
			goto fail;
		}
		record(sh, "ok", t0, c->kga_cert, NULL, NULL);
		break;
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

/*
 * rr_own: enrolls this client's share of --count certificates (irimp,
 * PBM) to revoke later. Returns 1, or 0 with c->err set; c->nown counts
 * what was enrolled either way.
 */
int
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
