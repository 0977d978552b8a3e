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
 * rr, genm and kgaimp (irimp asking the CA to generate the key: central
 * key generation, RFC 9483 §4.1.6, see cmpload_kga.c; --key-type picks
 * the algorithm asked for, the answer must carry a privateKey). rr revokes --oldcert (or --cert) every time; without
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
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/http.h>
#include <openssl/x509.h>

#include "cmpload.h"

const char *const kind_names[] = { "ir", "irimp", "cr", "rr", "genm",
	"kgaimp" };

static double
rusage_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	       ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
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
	    sh->o.kind == K_IRIMP || sh->o.kind == K_KGAIMP);
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
	/* kgaimp sends only the key's algorithm: one key will do. */
	sh->npool = sh->o.newkey != NULL || sh->o.kind == K_KGAIMP ? 1
	            : sh->o.pool > 0                              ? sh->o.pool
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
    "    [--kind ir|irimp|cr|rr|genm|kgaimp] [--ref REF --secret-env VAR]\n"
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
		X509_free(cl[i].kga_cert);
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
