/*
 * hsmsign - the raw signing rate through hsm/ (libp11 over the PKCS#11
 * module): the bound for any CA operation that signs in the token.
 *
 * usage: hsmsign --module SO --token LABEL --pin-file F --key TYPE
 *                --label NEWLABEL [--seconds S] [--procs N]
 *                [--init-args STRING]   (C_Initialize: NSS's soft token)
 *        hsmsign --module SO --token LABEL --pin-file F --key TYPE
 *                --keygen N [--init-args STRING]
 *
 * A first child process generates a key pair under NEWLABEL with
 * hsm_keygen(); then N child processes (each opening the module and
 * logging in after the fork, as cmpcad's workers do) load it and sign a
 * 512-byte message with SHA-256 (ECDSA or RSA PKCS#1 v1.5, the CA's
 * certificate signature) as fast as they can for S seconds, all starting
 * together. Prints one line:
 *
 *   key=ec:P-256 procs=1 sigs=12345 secs=2.00 sig/s=6172.5
 *   cpu_ms/sig=0.162 verify=ok
 *
 * cpu_ms/sig is the signing processes' CPU (SoftHSM runs in-process) per
 * signature.
 *
 * With --keygen N, one child process instead generates N end-entity key
 * pairs of TYPE with hsm_keygen_ee(), as cmpcad does for central key
 * generation (issue 26: keypair in the token, private key wrapped out),
 * one after the other, and prints:
 *
 *   key=rsa:2048 keygens=20 mean_ms=812.3 p50_ms=650.1 max_ms=2400.0
 *   cpu_ms/keygen=805.2
 * The parent never touches PKCS#11. SOFTHSM2_CONF and
 * CMPCA_HSM_LOCK come from the environment, like the stack's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hsm/hsm.h"

#define MAX_PROCS 16
#define TBS_LEN 512 /* about a TBSCertificate */
#define URI_LEN 256

struct opts {
	const char *module, *token, *pin_file, *key, *label, *init_args;
	double seconds;
	int procs;
	int keygen; /* --keygen N: time hsm_keygen_ee() instead */
};

/* What one signing child reports through its pipe. */
struct result {
	long sigs;
	double secs;
	double cpu_ms;
	int verified; /* the first signature verified */
	int ok;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	       ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

/* Writes all of buf. Returns 1 or 0. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

/* Reads exactly len bytes. Returns 1, or 0 on EOF or error. */
static int
read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = read(fd, p, len)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

/* Child: generates the key and writes its URI to fd. Exit status. */
static int
keygen_child(const struct opts *o, int fd)
{
	struct hsm *h = NULL;
	enum hsm_keytype type;
	EVP_PKEY *pub = NULL;
	char uri[URI_LEN];
	int rc = 1;

	if (!hsm_keytype_parse(o->key, &type)) {
		fprintf(stderr, "hsmsign: unknown key type %s\n", o->key);
		goto out;
	}
	if ((h = hsm_open_args(o->module, o->token, o->pin_file,
		 o->init_args)) == NULL ||
	    !hsm_keygen(h, o->label, type, &pub, uri, sizeof(uri))) {
		fprintf(stderr, "hsmsign: %s\n", hsm_error());
		goto out;
	}
	if (!write_all(fd, uri, sizeof(uri)))
		goto out;
	rc = 0;
out:
	EVP_PKEY_free(pub);
	hsm_close(h);
	return rc;
}

/* One signature over tbs into sig (size *siglen). Returns 1 or 0. */
static int
sign_once(
    EVP_PKEY *key, const unsigned char *tbs, unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int ok;

	ok = m != NULL &&
	     EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestSign(m, sig, siglen, tbs, TBS_LEN) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

static int
verify_once(EVP_PKEY *key, const unsigned char *tbs, const unsigned char *sig,
    size_t siglen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int ok;

	ok = m != NULL &&
	     EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestVerify(m, sig, siglen, tbs, TBS_LEN) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

/*
 * Child: opens the HSM, loads uri, says ready on ready_fd, waits for EOF
 * on go_fd, signs for the duration and writes a struct result to out_fd.
 */
static int
sign_child(
    const struct opts *o, const char *uri, int ready_fd, int go_fd, int out_fd)
{
	struct result r;
	struct hsm *h = NULL;
	EVP_PKEY *key = NULL;
	unsigned char tbs[TBS_LEN], sig[1024];
	size_t siglen;
	double t0, c0, end;
	char b = 'r';
	int rc = 1;

	memset(&r, 0, sizeof(r));
	memset(tbs, 0xa5, sizeof(tbs));
	if ((h = hsm_open_args(o->module, o->token, o->pin_file,
		 o->init_args)) == NULL ||
	    (key = hsm_key_load(h, uri)) == NULL)
		fprintf(stderr, "hsmsign: %s\n", hsm_error());
	if (!write_all(ready_fd, &b, 1))
		goto out;
	while (read(go_fd, &b, 1) < 0 && errno == EINTR)
		; /* EOF: go */
	if (key == NULL)
		goto report;
	t0 = now_s();
	c0 = cpu_ms();
	end = t0 + o->seconds;
	do {
		siglen = sizeof(sig);
		if (!sign_once(key, tbs, sig, &siglen)) {
			fprintf(stderr, "hsmsign: signing failed\n");
			goto report;
		}
		if (r.sigs++ == 0)
			r.verified = verify_once(key, tbs, sig, siglen);
	} while (now_s() < end);
	r.secs = now_s() - t0;
	r.cpu_ms = cpu_ms() - c0;
	r.ok = 1;
report:
	if (write_all(out_fd, &r, sizeof(r)))
		rc = 0;
out:
	EVP_PKEY_free(key);
	hsm_close(h);
	return rc;
}

static const char usage_text[] =
    "usage: hsmsign --module SO --token LABEL --pin-file F --key TYPE\n"
    "               --label NEWLABEL [--seconds S] [--procs N]\n"
    "               [--init-args STRING]\n"
    "       hsmsign --module SO --token LABEL --pin-file F --key TYPE\n"
    "               --keygen N [--init-args STRING]\n";

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Child for --keygen: times o->keygen hsm_keygen_ee(). Exit status. */
static int
keygen_ee_child(const struct opts *o)
{
	struct hsm *h = NULL;
	enum hsm_keytype type;
	EVP_PKEY *key = NULL;
	double *ms, t0, c0, sum = 0;
	int i, rc = 1;

	if ((ms = calloc((size_t)o->keygen, sizeof(*ms))) == NULL)
		return 1;
	if (!hsm_keytype_parse(o->key, &type)) {
		fprintf(stderr, "hsmsign: unknown key type %s\n", o->key);
		goto out;
	}
	if ((h = hsm_open_args(o->module, o->token, o->pin_file,
		 o->init_args)) == NULL) {
		fprintf(stderr, "hsmsign: %s\n", hsm_error());
		goto out;
	}
	c0 = cpu_ms();
	for (i = 0; i < o->keygen; i++) {
		t0 = now_s();
		if (!hsm_keygen_ee(h, type, &key)) {
			fprintf(stderr, "hsmsign: %s\n", hsm_error());
			goto out;
		}
		ms[i] = (now_s() - t0) * 1e3;
		sum += ms[i];
		EVP_PKEY_free(key);
		key = NULL;
	}
	c0 = cpu_ms() - c0;
	qsort(ms, (size_t)o->keygen, sizeof(*ms), dbl_cmp);
	printf("key=%s keygens=%d mean_ms=%.1f p50_ms=%.1f max_ms=%.1f "
	       "cpu_ms/keygen=%.1f\n",
	    o->key, o->keygen, sum / o->keygen, ms[o->keygen / 2],
	    ms[o->keygen - 1], c0 / o->keygen);
	rc = fflush(stdout) == 0 ? 0 : 1; /* the caller _exit()s */
out:
	hsm_close(h);
	free(ms);
	return rc;
}

static int
opts_parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "token", required_argument, NULL, 't' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "label", required_argument, NULL, 'l' },
		{ "seconds", required_argument, NULL, 's' },
		{ "procs", required_argument, NULL, 'n' },
		{ "init-args", required_argument, NULL, 'i' },
		{ "keygen", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->seconds = 2;
	o->procs = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'm':
			o->module = optarg;
			break;
		case 't':
			o->token = optarg;
			break;
		case 'p':
			o->pin_file = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'l':
			o->label = optarg;
			break;
		case 's':
			o->seconds = atof(optarg);
			break;
		case 'n':
			o->procs = atoi(optarg);
			break;
		case 'i':
			o->init_args = optarg;
			break;
		case 'g':
			o->keygen = atoi(optarg);
			if (o->keygen < 1)
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	if (optind != argc || o->module == NULL || o->token == NULL ||
	    o->pin_file == NULL || o->key == NULL ||
	    (o->label == NULL && o->keygen == 0) ||
	    o->seconds <= 0 || o->procs < 1 || o->procs > MAX_PROCS)
		goto bad;
	return 1;
bad:
	fputs(usage_text, stderr);
	return 0;
}

/* Waits for pid; returns 1 if it exited with status 0. */
static int
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct result r;
	pid_t pids[MAX_PROCS], pid;
	char uri[URI_LEN], b;
	int kp[2] = { -1, -1 }, rp[2] = { -1, -1 }, gp[2] = { -1, -1 };
	int op[2] = { -1, -1 };
	int i, n = 0, verified = 1, rc = 1;
	long sigs = 0;
	double secs = 0, cpu = 0;

	if (!opts_parse(argc, argv, &o))
		return 2;
	fflush(NULL);
	if (o.keygen > 0) {
		if ((pid = fork()) == 0)
			_exit(keygen_ee_child(&o));
		return pid > 0 && reap(pid) ? 0 : 1;
	}
	if (pipe(kp) != 0)
		goto out;
	if ((pid = fork()) == 0) {
		close(kp[0]);
		_exit(keygen_child(&o, kp[1]));
	}
	close(kp[1]);
	kp[1] = -1;
	if (pid < 0 || !read_all(kp[0], uri, sizeof(uri)) || !reap(pid)) {
		fprintf(stderr, "hsmsign: key generation failed\n");
		goto out;
	}
	uri[sizeof(uri) - 1] = '\0';
	if (pipe(rp) != 0 || pipe(gp) != 0 || pipe(op) != 0)
		goto out;
	for (n = 0; n < o.procs; n++) {
		if ((pids[n] = fork()) == 0) {
			close(rp[0]);
			close(gp[1]);
			close(op[0]);
			_exit(sign_child(&o, uri, rp[1], gp[0], op[1]));
		}
		if (pids[n] < 0)
			goto out;
	}
	close(rp[1]);
	rp[1] = -1;
	close(op[1]);
	op[1] = -1;
	close(gp[0]);
	gp[0] = -1;
	for (i = 0; i < n; i++)
		if (!read_all(rp[0], &b, 1))
			goto out;
	close(gp[1]); /* go */
	gp[1] = -1;
	for (i = 0; i < n; i++) {
		if (!read_all(op[0], &r, sizeof(r)) || !r.ok) {
			fprintf(stderr, "hsmsign: a signing process failed\n");
			goto out;
		}
		sigs += r.sigs;
		cpu += r.cpu_ms;
		if (r.secs > secs)
			secs = r.secs;
		verified &= r.verified;
	}
	printf("key=%s procs=%d sigs=%ld secs=%.2f sig/s=%.1f cpu_ms/sig=%.3f "
	       "verify=%s\n",
	    o.key, o.procs, sigs, secs, secs > 0 ? (double)sigs / secs : 0,
	    sigs > 0 ? cpu / (double)sigs : 0, verified ? "ok" : "FAILED");
	rc = 0;
out:
	for (i = 0; i < 2; i++) {
		if (kp[i] >= 0)
			close(kp[i]);
		if (rp[i] >= 0)
			close(rp[i]);
		if (gp[i] >= 0)
			close(gp[i]);
		if (op[i] >= 0)
			close(op[i]);
	}
	for (i = 0; i < n; i++)
		(void)reap(pids[i]);
	return rc;
}
