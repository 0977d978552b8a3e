/*
 * cmpload: what the client threads (cmpload.c) and one transaction
 * (cmpload_tx.c) share. See cmpload.c for what the program does.
 */
#ifndef CMPLOAD_H
#define CMPLOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <openssl/cmp.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define MAX_CLIENTS 256      /* threads */
#define MAX_REASONS 8        /* distinct error reasons kept */
#define REASON_LEN 240       /* one error reason */
#define PRINT_FIRST_ERRORS 5 /* errors printed as they happen */
#define MSG_TIMEOUT 10       /* seconds per message */

enum kind { K_IR, K_IRIMP, K_CR, K_RR, K_GENM, K_KGAIMP };

extern const char *const kind_names[];

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
	char kga_why[REASON_LEN]; /* kgaimp: what went wrong, or "" */
	X509 *kga_cert;           /* kgaimp: the certificate received */
};

/* cmpload_tx.c */
BIO *http_cb(BIO *bio, void *arg, int connect, int detail);
double now_ms(void);
X509_NAME *dn_parse(const char *s);
X509 *cert_load(const char *path);
EVP_PKEY *key_load(const char *path);
OSSL_CMP_CTX *ctx_new(
    struct client *c, X509_STORE **storep, int pbm, int implicit);
int one_tx(struct client *c, OSSL_CMP_CTX *ctx, X509_STORE *store, long seq);
int own_enroll(struct client *c);

/* cmpload_kga.c: makes ctx ask for central key generation (kgaimp). */
int kga_ctx_setup(struct client *c, OSSL_CMP_CTX *ctx);

#endif
