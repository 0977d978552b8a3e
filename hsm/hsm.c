/*
 * hsm.c - PKCS#11 through libp11: module, token, session and login, the
 * handles of the process, PIN files, random. The error text and losing
 * the token are in hsm_err.c, token set-up in hsm_token.c, URIs and key
 * loading in hsm_uri.c, key generation in hsm_keygen.c (hsm_int.h).
 *
 * Facts this file is built on (libp11 0.4.12, SoftHSM 2.6.1, see the
 * "HSM" section of DESIGN.md):
 * - the session is opened read-write before the login: switching a libp11
 *   slot to read-write later logs it out and invalidates its keys;
 * - libp11's PKCS11_CTX_unload() calls C_Finalize, which ends every
 *   session of the process on that module, and its PKCS11_login()
 *   succeeds without checking the PIN when the process is already logged
 *   in. So a process holds at most one handle (or one hsm_token_init())
 *   per module at a time; a second hsm_open() of the same module fails;
 * - SoftHSM rewrites its token file on every login, and processes that
 *   load the module or log in at the same instant sometimes fail. Module
 *   load and login are serialised across processes with flock(2), and a
 *   failed token lookup or session open is retried with back-off. A failed
 *   login never is: real HSMs lock the PIN after a few wrong attempts.
 *
 * Losing the token (removed, module failing, session closed under us):
 * every later operation on the old session and key handles fails, even
 * once the token is back (SoftHSM 2.6 answers CKR_OBJECT_HANDLE_INVALID
 * for ever after its token directory went away, and sees the token again
 * only after C_Finalize and C_Initialize). So hsm_err_note() marks the
 * handles of the process lost when a PKCS#11 error of that kind passes
 * by, and hsm_reopen() unloads the module and does the whole open again
 * (at most once per HSM_REOPEN_MS), with the PIN read again from where
 * hsm_open() read it.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "hsm/hsm_int.h"

/* How often hsm_open() tries the token lookup and session open. */
#define HSM_OPEN_TRIES 5
/* Back-off before the first retry, doubled for each further one. */
#define HSM_BACKOFF_MS 50
/* Least time between two reconnection attempts of a lost handle. */
#define HSM_REOPEN_MS 1000
/* Lock file serialising module load and login across processes. */
#define HSM_LOCK_DEFAULT "/tmp/cmpca-hsm.lock"
/* How long hsm_open() waits for that lock: a load and login take 4-18 ms,
 * so a holder this long is stuck or hostile, and the caller fails (a
 * worker is respawned with back-off) rather than hang for ever. */
#define HSM_LOCK_WAIT_MS 10000
/* Poll interval while waiting for the lock. */
#define HSM_LOCK_POLL_MS 20

/* The handles of this process, by module; see the comment at the top. */
static pthread_mutex_t hsm_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hsm *hsm_reg;

int
hsm_lost(const struct hsm *h)
{
	if (h == NULL)
		return 0;
	return h->lost || h->gen != hsm_lost_gen();
}

int
hsm_pin_read(const char *path, char *buf, size_t len)
{
	struct stat st;
	char name[128], c = 0;
	size_t n = 0;
	ssize_t r;
	int fd = -1, rc = 0;

	if (buf == NULL || len < 2 || path == NULL) {
		hsm_err_set("pin file: missing argument");
		return 0;
	}
	hsm_sanitise(path, name, sizeof(name));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		hsm_err_set("pin file %s: %s", name, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		hsm_err_set("pin file %s: %s", name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		hsm_err_set("pin file %s: not a regular file", name);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		hsm_err_set("pin file %s: readable or writable by group or "
		            "others (mode %03o, want 0600 or 0400)",
		    name, (unsigned int)(st.st_mode & 0777));
		goto out;
	}
	/* Byte by byte: the first line is all we may keep. */
	for (;;) {
		r = read(fd, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			hsm_err_set("pin file %s: %s", name, strerror(errno));
			goto out;
		}
		if (r == 0 || c == '\n')
			break;
		if (n + 1 >= len) {
			hsm_err_set("pin file %s: PIN longer than %zu bytes",
			    name, len - 1);
			goto out;
		}
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (n == 0) {
		hsm_err_set("pin file %s: empty", name);
		goto out;
	}
	if (memchr(buf, '\0', n) != NULL) {
		hsm_err_set("pin file %s: PIN contains a NUL byte", name);
		goto out;
	}
	rc = 1;
out:
	OPENSSL_cleanse(&c, sizeof(c));
	if (!rc)
		OPENSSL_cleanse(buf, len);
	if (fd != -1)
		(void)close(fd);
	return rc;
}

/*
 * Reads the PIN from pin_file or, when it is NULL, from CMPCA_HSM_PIN.
 * Returns 1 or 0 (reason set).
 */
static int
hsm_pin_get(const char *pin_file, char *buf, size_t len)
{
	const char *env;
	size_t n;

	if (pin_file != NULL)
		return hsm_pin_read(pin_file, buf, len);
	env = getenv("CMPCA_HSM_PIN");
	if (env == NULL || *env == '\0') {
		hsm_err_set("no PIN: no pin file given and CMPCA_HSM_PIN "
		            "is not set");
		return 0;
	}
	n = strlen(env);
	if (n + 1 > len) {
		hsm_err_set(
		    "CMPCA_HSM_PIN: PIN longer than %zu bytes", len - 1);
		return 0;
	}
	memcpy(buf, env, n + 1);
	return 1;
}

static void
hsm_sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Takes the cross-process lock around module load and login. The file is
 * ours (or we are root) and 0600 (created so, or made so): another user
 * who could open it could hold the lock and block every later hsm_open(). Waits at most
 * HSM_LOCK_WAIT_MS. Returns the locked descriptor, or -1 (reason set).
 */
int
hsm_lock(void)
{
	const char *path;
	char name[128];
	struct stat st;
	long waited = 0;
	int fd;

	path = getenv("CMPCA_HSM_LOCK");
	if (path == NULL || *path == '\0')
		path = HSM_LOCK_DEFAULT;
	hsm_sanitise(path, name, sizeof(name));
	/* O_NOFOLLOW: the default lives in a shared, sticky /tmp. */
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		hsm_err_set("lock file %s: %s (set CMPCA_HSM_LOCK)", name,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		hsm_err_set("lock file %s: %s", name, strerror(errno));
		goto fail;
	}
	/* root may share the daemon's lock (the CLI run as root); the
	 * wait is bounded all the same. */
	if (!S_ISREG(st.st_mode) ||
	    (st.st_uid != geteuid() && geteuid() != 0)) {
		hsm_err_set("lock file %s: owned by uid %u, not by uid %u that "
			    "opens the HSM, or not a regular file: another user "
			    "could hold the lock (remove it or set "
			    "CMPCA_HSM_LOCK)", name, (unsigned)st.st_uid,
		    (unsigned)geteuid());
		goto fail;
	}
	/* A file an earlier version created 0644. */
	if ((st.st_mode & 077) != 0 && fchmod(fd, 0600) != 0) {
		hsm_err_set("lock file %s: chmod 0600: %s", name,
		    strerror(errno));
		goto fail;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			hsm_err_set(
			    "lock file %s: flock: %s", name, strerror(errno));
			goto fail;
		}
		if (waited >= HSM_LOCK_WAIT_MS) {
			hsm_err_set("lock file %s: still held by another "
				    "process after %d s", name,
			    HSM_LOCK_WAIT_MS / 1000);
			goto fail;
		}
		hsm_sleep_ms(HSM_LOCK_POLL_MS);
		waited += HSM_LOCK_POLL_MS;
	}
	return fd;
fail:
	(void)close(fd);
	return -1;
}

/* Releases the lock taken by hsm_lock(). Safe to call with -1. */
void
hsm_unlock(int fd)
{
	if (fd == -1)
		return;
	(void)flock(fd, LOCK_UN);
	(void)close(fd);
}

/*
 * Claims module (a realpath) for a handle of this process. Returns 1, or 0
 * when the process already has a handle on that module (reason set).
 */
int
hsm_reg_claim(struct hsm *h)
{
	struct hsm *p;
	int rc = 1;

	(void)pthread_mutex_lock(&hsm_reg_lock);
	for (p = hsm_reg; p != NULL; p = p->next) {
		if (strcmp(p->module, h->module) == 0 && p->pid == getpid()) {
			rc = 0;
			break;
		}
	}
	if (rc) {
		h->next = hsm_reg;
		hsm_reg = h;
	}
	(void)pthread_mutex_unlock(&hsm_reg_lock);
	if (!rc)
		hsm_err_set("module already open in this process: close the "
		            "other handle first");
	return rc;
}

/* Drops h from the handles of this process. Safe if h is not there. */
void
hsm_reg_release(struct hsm *h)
{
	struct hsm **pp;

	(void)pthread_mutex_lock(&hsm_reg_lock);
	for (pp = &hsm_reg; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	(void)pthread_mutex_unlock(&hsm_reg_lock);
	h->next = NULL;
}

/*
 * Releases the libp11 state of h (slots, module). Never touches PKCS#11
 * in a process other than the one that opened h. Safe on a partial h.
 */
void
hsm_p11_release(struct hsm *h)
{
	if (h->pid != getpid()) {
		/* After fork: the child may not use the parent's state. */
		return;
	}
	if (h->own && h->fl != NULL)
		(void)h->fl->C_CloseSession(h->own_session);
	h->own = 0;
	if (h->dl != NULL)
		(void)dlclose(h->dl);
	h->dl = NULL;
	h->fl = NULL;
	if (h->slots != NULL)
		PKCS11_release_all_slots(h->ctx, h->slots, h->nslots);
	h->slots = NULL;
	h->nslots = 0;
	h->slot = NULL;
	if (h->ctx != NULL) {
		PKCS11_CTX_unload(h->ctx);
		PKCS11_CTX_free(h->ctx);
	}
	h->ctx = NULL;
}

/* dl_iterate_phdr() callback: pins one loaded object (see below). */
static int
hsm_pin_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	void *dl;

	(void)size;
	(void)arg;
	if (info->dlpi_name == NULL || info->dlpi_name[0] != '/')
		return 0;
	dl = dlopen(info->dlpi_name, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
	if (dl != NULL)
		(void)dlclose(dl); /* the object stays: RTLD_NODELETE */
	return 0;
}

/*
 * Keeps every object loaded now mapped until the process exits. A module
 * that loads further libraries (openCryptoki's API library loads its
 * token library) and leaves state in OpenSSL through them crashes
 * OpenSSL's exit handlers once C_Finalize has unloaded them (measured
 * with openCryptoki 3.8: OPENSSL_cleanup faults in OPENSSL_LH_flush
 * after C_InitToken). Unloading saves nothing we need.
 */
static void
hsm_pin_modules(void)
{
	(void)dl_iterate_phdr(hsm_pin_one, NULL);
}

/*
 * Loads h->module into a new libp11 context and enumerates its slots.
 * Returns 1 or 0 (reason set).
 */
int
hsm_p11_load(struct hsm *h)
{
	char why[128], name[128];
	unsigned long rv;

	h->ctx = PKCS11_CTX_new();
	if (h->ctx == NULL) {
		hsm_err_set("libp11 context: out of memory");
		return 0;
	}
	/* libp11 hands them to C_Initialize as pReserved (NSS needs it). */
	if (h->init_args != NULL)
		PKCS11_CTX_init_args(h->ctx, h->init_args);
	if (PKCS11_CTX_load(h->ctx, h->module) != 0) {
		hsm_err_set("cannot load module %s: %s",
		    hsm_sanitise(h->module, name, sizeof(name)),
		    hsm_ossl_str(why, sizeof(why), &rv));
		PKCS11_CTX_free(h->ctx);
		h->ctx = NULL;
		return 0;
	}
	hsm_pin_modules();
	if (PKCS11_enumerate_slots(h->ctx, &h->slots, &h->nslots) != 0) {
		hsm_err_set("cannot list slots: %s",
		    hsm_ossl_str(why, sizeof(why), &rv));
		h->slots = NULL;
		h->nslots = 0;
		return 0;
	}
	return 1;
}

/* Returns the slot whose initialised token is labelled label, or NULL. */
PKCS11_SLOT *
hsm_slot_by_label(struct hsm *h, const char *label)
{
	unsigned int i;

	for (i = 0; i < h->nslots; i++) {
		if (h->slots[i].token == NULL ||
		    !h->slots[i].token->initialized ||
		    h->slots[i].token->label == NULL)
			continue;
		if (strcmp(h->slots[i].token->label, label) == 0)
			return &h->slots[i];
	}
	return NULL;
}

/*
 * One try at loading the module, finding the token and opening a
 * read-write session. Returns 1, or 0 (reason set, h released).
 */
static int
hsm_open_try(struct hsm *h)
{
	char why[128], name[64];
	unsigned long rv;

	if (!hsm_p11_load(h))
		goto fail;
	h->slot = hsm_slot_by_label(h, h->label);
	if (h->slot == NULL) {
		hsm_err_set("token not found: %s",
		    hsm_sanitise(h->label, name, sizeof(name)));
		goto fail;
	}
	/* Read-write before the login; see the top of the file. */
	if (PKCS11_open_session(h->slot, 1) != 0) {
		hsm_err_set("cannot open session on token %s: %s",
		    hsm_sanitise(h->label, name, sizeof(name)),
		    hsm_ossl_str(why, sizeof(why), &rv));
		goto fail;
	}
	return 1;
fail:
	hsm_p11_release(h);
	return 0;
}

/*
 * Finds the module's function list in the instance libp11 loaded
 * (RTLD_NOLOAD: the same copy, already initialised), for key generation
 * and sealing. pin logs in a separate instance (below). Returns 1 or 0
 * (reason set).
 */
static int
hsm_funcs_get(struct hsm *h, const char *pin)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	void *sym;
	char name[128], why[64];
	CK_RV rv;

	h->dl = dlopen(h->module, RTLD_NOW | RTLD_NOLOAD);
	if (h->dl == NULL) {
		hsm_err_set("module %s not resident after load",
		    hsm_sanitise(h->module, name, sizeof(name)));
		return 0;
	}
	sym = dlsym(h->dl, "C_GetFunctionList");
	if (sym == NULL) {
		hsm_err_set("module %s has no C_GetFunctionList",
		    hsm_sanitise(h->module, name, sizeof(name)));
		return 0;
	}
	*(void **)&get = sym;
	rv = get(&h->fl);
	if (rv != CKR_OK || h->fl == NULL) {
		hsm_err_set(
		    "C_GetFunctionList: %s", hsm_ckr_str(rv, why, sizeof(why)));
		h->fl = NULL;
		return 0;
	}
	/*
	 * A module that is one instance per process (SoftHSM, most vendor
	 * modules) answers CKR_CRYPTOKI_ALREADY_INITIALIZED: libp11 did it.
	 * p11-kit's client module (a network HSM through `p11-kit server`)
	 * hands every C_GetFunctionList caller an instance of its own, which
	 * must be initialised before use (CKR_CRYPTOKI_NOT_INITIALIZED
	 * otherwise); it then shares the server's login. Never finalised
	 * here: the process exits, or libp11 finalises its own.
	 */
	{
		CK_C_INITIALIZE_ARGS args;

		memset(&args, 0, sizeof(args));
		args.flags = CKF_OS_LOCKING_OK;
		args.pReserved = h->init_args;
		rv = h->fl->C_Initialize(&args);
		if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			hsm_err_set("C_Initialize: %s",
			    hsm_ckr_str(rv, why, sizeof(why)));
			h->fl = NULL;
			return 0;
		}
		if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
			return 1;
	}
	/*
	 * An instance of our own is its own application to the token: it
	 * shares no login with libp11's. A session held open for the
	 * handle's life keeps the user logged in for the sessions that
	 * keygen and sealing open on it.
	 */
	rv = h->fl->C_OpenSession(h->slot_id, CKF_SERIAL_SESSION |
	    CKF_RW_SESSION, NULL, NULL, &h->own_session);
	if (rv != CKR_OK) {
		hsm_err_set("module functions: cannot open a session: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		h->fl = NULL;
		return 0;
	}
	h->own = 1;
	rv = h->fl->C_Login(h->own_session, CKU_USER, (CK_UTF8CHAR_PTR)pin,
	    (CK_ULONG)strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		hsm_err_set("module functions: login failed: %s",
		    hsm_ckr_str(rv, why, sizeof(why)));
		(void)h->fl->C_CloseSession(h->own_session);
		h->own = 0;
		h->fl = NULL;
		return 0;
	}
	return 1;
}

/* Login refusals that a second try with the same PIN cannot cure. */
static int
hsm_ckr_pin(unsigned long rv)
{
	return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED ||
	       rv == CKR_PIN_EXPIRED || rv == CKR_PIN_LEN_RANGE ||
	       rv == CKR_USER_PIN_NOT_INITIALIZED;
}

/*
 * Under the cross-process lock: loads the module, finds the token and
 * opens a session (up to tries times, with back-off), logs in with the PIN
 * read from h->pin_file (or the environment), which is wiped. On success
 * h is usable and no longer lost. Returns 1 or 0 (reason set, libp11 state
 * of h released).
 */
static int
hsm_connect(struct hsm *h, int tries)
{
	char pin[HSM_PIN_MAX], why[128];
	unsigned long rv, gen = hsm_lost_gen();
	long backoff = HSM_BACKOFF_MS;
	int lockfd = -1, n, rc = 0, logged_in = 0;

	if (!hsm_pin_get(h->pin_file, pin, sizeof(pin)))
		goto out;
	if ((lockfd = hsm_lock()) == -1)
		goto out;
	for (n = 1;; n++) {
		if (hsm_open_try(h))
			break;
		if (n >= tries)
			goto out;
		hsm_sleep_ms(backoff);
		backoff *= 2;
	}
	/* Never retried: real tokens lock the PIN after wrong attempts. */
	if (PKCS11_login(h->slot, 0, pin) != 0) {
		hsm_err_set(
		    "login failed: %s", hsm_ossl_str(why, sizeof(why), &rv));
		if (hsm_ckr_pin(rv))
			h->no_login = 1;
		goto out;
	}
	if (PKCS11_is_logged_in(h->slot, 0, &logged_in) != 0 || !logged_in) {
		hsm_err_set("login failed: token reports no user session");
		goto out;
	}
	h->slot_id = PKCS11_get_slotid_from_slot(h->slot);
	if (!hsm_funcs_get(h, pin))
		goto out;
	OPENSSL_cleanse(pin, sizeof(pin));
	/* What the token can do, for the other files (hsm_caps.c). */
	if (!hsm_caps_probe(h))
		goto out;
	h->gen = gen;
	h->lost = 0;
	rc = 1;
out:
	OPENSSL_cleanse(pin, sizeof(pin));
	if (!rc)
		hsm_p11_release(h);
	hsm_unlock(lockfd);
	return rc;
}

struct hsm *
hsm_open(const char *module, const char *token_label, const char *pin_file)
{
	return hsm_open_args(module, token_label, pin_file, NULL);
}

struct hsm *
hsm_open_args(const char *module, const char *token_label,
    const char *pin_file, const char *init_args)
{
	struct hsm *h = NULL;
	char name[128];
	int rc = 0, claimed = 0;

	if (module == NULL || token_label == NULL) {
		hsm_err_set("hsm open: missing module or token label");
		return NULL;
	}
	if (*token_label == '\0' || strlen(token_label) > HSM_TOKEN_LABEL_MAX) {
		hsm_err_set(
		    "token label must have 1 to %d bytes", HSM_TOKEN_LABEL_MAX);
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		hsm_err_set("hsm open: out of memory");
		goto out;
	}
	h->pid = getpid();
	(void)snprintf(h->label, sizeof(h->label), "%s", token_label);
	if (pin_file != NULL && (h->pin_file = strdup(pin_file)) == NULL) {
		hsm_err_set("hsm open: out of memory");
		goto out;
	}
	if (init_args != NULL && *init_args != '\0' &&
	    (h->init_args = strdup(init_args)) == NULL) {
		hsm_err_set("hsm open: out of memory");
		goto out;
	}
	if (realpath(module, h->module) == NULL) {
		hsm_err_set("module %s: %s",
		    hsm_sanitise(module, name, sizeof(name)), strerror(errno));
		goto out;
	}
	if (!hsm_reg_claim(h))
		goto out;
	claimed = 1;
	if (!hsm_connect(h, HSM_OPEN_TRIES))
		goto out;
	rc = 1;
out:
	if (!rc && h != NULL) {
		hsm_p11_release(h);
		if (claimed)
			hsm_reg_release(h);
		free(h->pin_file);
		free(h->init_args);
		free(h);
		h = NULL;
	}
	ERR_clear_error();
	return h;
}

int
hsm_reopen(struct hsm *h)
{
	struct timespec now;
	long ms;
	int rc;

	if (h == NULL || h->pid != getpid()) {
		hsm_err_set("hsm handle not open in this process");
		return 0;
	}
	if (!hsm_lost(h))
		return 1;
	if (h->no_login) {
		hsm_err_set("login was refused: not tried again");
		return 0;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - h->tried.tv_sec) * 1000L +
	     (now.tv_nsec - h->tried.tv_nsec) / 1000000L;
	if (h->tried.tv_sec != 0 && ms < HSM_REOPEN_MS) {
		hsm_err_set("token unavailable, next attempt in under %d ms",
		    HSM_REOPEN_MS);
		return 0;
	}
	h->tried = now;
	/* The old session is gone: no logout; C_Finalize ends it all. The
	 * sealing session (hsm_aes.c) goes with it. */
	h->lost = 1;
	hsm_aes_forget(h);
	hsm_p11_release(h);
	rc = hsm_connect(h, 1);
	ERR_clear_error();
	return rc;
}

void
hsm_close(struct hsm *h)
{
	if (h == NULL)
		return;
	hsm_aes_forget(h);
	hsm_reg_release(h);
	if (h->pid == getpid() && h->slot != NULL && !hsm_lost(h))
		(void)PKCS11_logout(h->slot);
	hsm_p11_release(h);
	ERR_clear_error();
	free(h->pin_file);
	free(h->init_args);
	free(h);
}

int
hsm_random(struct hsm *h, unsigned char *buf, size_t len)
{
	unsigned int chunk;
	unsigned long rv;
	char why[128];

	if (!hsm_usable(h))
		return 0;
	if (buf == NULL && len > 0) {
		hsm_err_set("random: no buffer");
		return 0;
	}
	while (len > 0) {
		chunk = len > 4096 ? 4096 : (unsigned int)len;
		if (PKCS11_generate_random(h->slot, buf, chunk) != 0) {
			hsm_err_set(
			    "random: %s", hsm_ossl_str(why, sizeof(why), &rv));
			return 0;
		}
		buf += chunk;
		len -= chunk;
	}
	return 1;
}
