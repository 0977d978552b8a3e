/*
 * test_hsm.c - hsm/ against a throwaway SoftHSM token, through hsm.h only
 * (no PKCS#11 here).
 *
 * Group set-up: a temporary directory with a softhsm2.conf, PIN files
 * (0600), a token made with hsm_token_init() and an open handle that the
 * tests share. The module is $CMPCA_PKCS11_MODULE or SoftHSM's default
 * path. Tests that need the module closed (wrong PIN, token init, ...)
 * close the shared handle and open it again.
 *
 * This file: the fixture, main() (the order matters: later tests use the
 * keys the keygen tests leave), and opening, PINs, locking, losing the
 * token; keys are in test_hsm_keys.c, sealing in test_hsm_seal.c.
 */
#include "tests/unit/test_hsm.h"

struct hsm_fx fx;

void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Opens the shared handle again after a test closed it. */
void
reopen(void)
{
	if (fx.h == NULL)
		fx.h = hsm_open(fx.module, TOKEN, fx.pin);
	if (fx.h == NULL)
		fail_msg("hsm_open: %s", hsm_error());
}

void
close_shared(void)
{
	hsm_close(fx.h);
	fx.h = NULL;
}

/* Milliseconds since t0. */
double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int
group_setup(void **state)
{
	char dir[192], text[512];
	struct timespec t0;

	(void)state;
	fx.module = getenv("CMPCA_PKCS11_MODULE");
	if (fx.module == NULL || *fx.module == '\0')
		fx.module = DEFAULT_MODULE;
	(void)snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_hsm.XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	(void)snprintf(dir, sizeof(dir), "%s/tokens", fx.dir);
	if (mkdir(dir, 0700) != 0)
		return -1;
	(void)snprintf(fx.conf, sizeof(fx.conf), "%s/softhsm2.conf", fx.dir);
	(void)snprintf(text, sizeof(text),
	    "directories.tokendir = %s\n"
	    "objectstore.backend = file\n"
	    "log.level = ERROR\n"
	    "slots.removable = false\n"
	    "library.reset_on_fork = true\n",
	    dir);
	write_file(fx.conf, text, 0600);
	setenv("SOFTHSM2_CONF", fx.conf, 1);
	/* A private lock file: the test does not touch the shared one. */
	(void)snprintf(fx.lock, sizeof(fx.lock), "%s/hsm.lock", fx.dir);
	setenv("CMPCA_HSM_LOCK", fx.lock, 1);
	unsetenv("CMPCA_HSM_PIN");

	(void)snprintf(fx.pin, sizeof(fx.pin), "%s/pin", fx.dir);
	(void)snprintf(fx.so_pin, sizeof(fx.so_pin), "%s/so-pin", fx.dir);
	(void)snprintf(
	    fx.wrong_pin, sizeof(fx.wrong_pin), "%s/wrong-pin", fx.dir);
	(void)snprintf(
	    fx.loose_pin, sizeof(fx.loose_pin), "%s/loose-pin", fx.dir);
	write_file(fx.pin, USER_PIN "\n", 0600);
	write_file(fx.so_pin, SO_PIN "\n", 0600);
	write_file(fx.wrong_pin, WRONG_PIN "\n", 0600);
	write_file(fx.loose_pin, USER_PIN "\n", 0644);

	if (!hsm_token_init(fx.module, TOKEN, fx.so_pin, fx.pin)) {
		print_error("hsm_token_init: %s\n", hsm_error());
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fx.h = hsm_open(fx.module, TOKEN, fx.pin);
	if (fx.h == NULL) {
		print_error("hsm_open: %s\n", hsm_error());
		return -1;
	}
	print_message("hsm_open took %.1f ms\n", ms_since(&t0));
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	hsm_close(fx.h);
	fx.h = NULL;
	if (fx.dir[0] != '\0')
		(void)nftw(fx.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void
test_keytype_parse(void **state)
{
	enum hsm_keytype t;

	(void)state;
	assert_true(hsm_keytype_parse("rsa:2048", &t));
	assert_int_equal(t, HSM_KEY_RSA2048);
	assert_true(hsm_keytype_parse("rsa2048", &t));
	assert_int_equal(t, HSM_KEY_RSA2048);
	assert_true(hsm_keytype_parse("rsa:3072", &t));
	assert_int_equal(t, HSM_KEY_RSA3072);
	assert_true(hsm_keytype_parse("rsa4096", &t));
	assert_int_equal(t, HSM_KEY_RSA4096);
	assert_true(hsm_keytype_parse("ec:P-256", &t));
	assert_int_equal(t, HSM_KEY_EC_P256);
	assert_true(hsm_keytype_parse("p256", &t));
	assert_int_equal(t, HSM_KEY_EC_P256);
	assert_true(hsm_keytype_parse("ec:P-384", &t));
	assert_int_equal(t, HSM_KEY_EC_P384);
	assert_true(hsm_keytype_parse("p384", &t));
	assert_int_equal(t, HSM_KEY_EC_P384);
	assert_false(hsm_keytype_parse("rsa:1024", &t));
	assert_non_null(strstr(hsm_error(), "unknown key type"));
	assert_false(hsm_keytype_parse("ec:P-521", &t));
	assert_false(hsm_keytype_parse("ed25519", &t));
	assert_false(hsm_keytype_parse("", &t));
	assert_false(hsm_keytype_parse("rsa:2048 ", &t));
	assert_false(hsm_keytype_parse(NULL, &t));
}

static void
test_pin_read(void **state)
{
	char buf[64], path[192];

	(void)state;
	assert_true(hsm_pin_read(fx.pin, buf, sizeof(buf)));
	assert_string_equal(buf, USER_PIN);

	/* CRLF, and only the first line counts. */
	(void)snprintf(path, sizeof(path), "%s/crlf-pin", fx.dir);
	write_file(path, "abc123\r\nsecond line\n", 0400);
	assert_true(hsm_pin_read(path, buf, sizeof(buf)));
	assert_string_equal(buf, "abc123");

	/* No trailing newline. */
	(void)snprintf(path, sizeof(path), "%s/bare-pin", fx.dir);
	write_file(path, "abc", 0600);
	assert_true(hsm_pin_read(path, buf, sizeof(buf)));
	assert_string_equal(buf, "abc");

	/* Group or other may not read it. */
	assert_false(hsm_pin_read(fx.loose_pin, buf, sizeof(buf)));
	assert_non_null(strstr(hsm_error(), "group or others"));
	assert_null(strstr(hsm_error(), USER_PIN));
	assert_string_equal(buf, "");

	/* Too long for the buffer. */
	assert_false(hsm_pin_read(fx.pin, buf, 5));
	assert_non_null(strstr(hsm_error(), "longer than"));
	assert_null(strstr(hsm_error(), USER_PIN));

	/* Empty, missing, a directory. */
	(void)snprintf(path, sizeof(path), "%s/empty-pin", fx.dir);
	write_file(path, "\n", 0600);
	assert_false(hsm_pin_read(path, buf, sizeof(buf)));
	assert_non_null(strstr(hsm_error(), "empty"));
	(void)snprintf(path, sizeof(path), "%s/no-such-pin", fx.dir);
	assert_false(hsm_pin_read(path, buf, sizeof(buf)));
	assert_false(hsm_pin_read(fx.dir, buf, sizeof(buf)));
}

static void
test_open_wrong_pin(void **state)
{
	struct hsm *h;
	struct timespec t0;

	(void)state;
	close_shared();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	h = hsm_open(fx.module, TOKEN, fx.wrong_pin);
	assert_null(h);
	/* No retries of a failed login: fast. */
	assert_true(ms_since(&t0) < 2000.0);
	assert_non_null(strstr(hsm_error(), "login failed"));
	assert_non_null(strstr(hsm_error(), "wrong PIN"));
	assert_null(strstr(hsm_error(), WRONG_PIN));
	assert_null(strstr(hsm_error(), USER_PIN));

	/* A PIN file group or others may read is refused before login. */
	assert_null(hsm_open(fx.module, TOKEN, fx.loose_pin));
	assert_non_null(strstr(hsm_error(), "group or others"));
	assert_null(strstr(hsm_error(), USER_PIN));

	/* The right PIN still works, and the keys are still there. */
	reopen();
	{
		EVP_PKEY *k = hsm_key_load(fx.h, "pkcs11:object=p256-key");

		if (k == NULL)
			fail_msg("hsm_key_load after reopen: %s", hsm_error());
		EVP_PKEY_free(k);
	}
}

static void
test_open_env_pin(void **state)
{
	struct hsm *h;

	(void)state;
	close_shared();
	unsetenv("CMPCA_HSM_PIN");
	assert_null(hsm_open(fx.module, TOKEN, NULL));
	assert_non_null(strstr(hsm_error(), "CMPCA_HSM_PIN"));
	setenv("CMPCA_HSM_PIN", WRONG_PIN, 1);
	assert_null(hsm_open(fx.module, TOKEN, NULL));
	assert_non_null(strstr(hsm_error(), "wrong PIN"));
	assert_null(strstr(hsm_error(), WRONG_PIN));
	setenv("CMPCA_HSM_PIN", USER_PIN, 1);
	h = hsm_open(fx.module, TOKEN, NULL);
	unsetenv("CMPCA_HSM_PIN");
	if (h == NULL)
		fail_msg("hsm_open with CMPCA_HSM_PIN: %s", hsm_error());
	assert_string_equal(hsm_token_label(h), TOKEN);
	hsm_close(h);
	reopen();
}

/* Signs a few bytes with k; returns 1 or 0. */
static int
sign_ok(EVP_PKEY *k)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t len = sizeof(sig);
	int ok;

	ok = m != NULL && EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k) == 1 &&
	     EVP_DigestSign(m, sig, &len, (const unsigned char *)"abc", 3) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

/* The token's directory under fx.dir/tokens, into path. */
static void
token_dir(char *path, size_t len)
{
	char dir[192];
	struct dirent *e;
	DIR *d;

	(void)snprintf(dir, sizeof(dir), "%s/tokens", fx.dir);
	assert_non_null(d = opendir(dir));
	path[0] = '\0';
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			(void)snprintf(path, len, "%s/%s", dir, e->d_name);
	(void)closedir(d);
	assert_true(path[0] != '\0');
}

/*
 * Regression: a token that went away (here its SoftHSM directory, as a
 * token pulled from its reader) left the handle's session and key handles
 * dead for ever: SoftHSM answers CKR_OBJECT_HANDLE_INVALID even after the
 * token is back, and sees it again only after C_Finalize/C_Initialize.
 * cmpcad then failed every request until restarted. Now the error marks
 * the handle lost and hsm_reopen() loads the module and logs in again.
 */
static void
test_token_lost(void **state)
{
	char tok[512], away[256];
	unsigned long e;
	unsigned char r[8];
	EVP_PKEY *k;
	int noted = 0;

	(void)state;
	reopen();
	assert_false(hsm_lost(fx.h));
	assert_true(hsm_reopen(fx.h)); /* not lost: nothing to do */
	if ((k = hsm_key_load(fx.h, "pkcs11:object=p256-key")) == NULL)
		fail_msg("hsm_key_load: %s", hsm_error());
	assert_true(sign_ok(k));
	token_dir(tok, sizeof(tok));
	(void)snprintf(away, sizeof(away), "%s/away", fx.dir);
	assert_int_equal(rename(tok, away), 0);
	assert_false(sign_ok(k));
	while ((e = ERR_get_error()) != 0)
		noted |= hsm_err_note(e);
	assert_true(noted);
	assert_true(hsm_lost(fx.h));
	EVP_PKEY_free(k); /* before the reopen: keys die with the module */
	/* Still away: the reopen fails, and so does everything else. */
	assert_false(hsm_reopen(fx.h));
	assert_non_null(strstr(hsm_error(), "token not found"));
	assert_true(hsm_lost(fx.h));
	assert_false(hsm_random(fx.h, r, sizeof(r)));
	assert_null(hsm_key_load(fx.h, "pkcs11:object=p256-key"));
	/* Back: after the one-second pause, a reopen brings it all back. */
	assert_int_equal(rename(away, tok), 0);
	assert_false(hsm_reopen(fx.h));
	assert_non_null(strstr(hsm_error(), "next attempt"));
	(void)usleep(1100 * 1000);
	if (!hsm_reopen(fx.h))
		fail_msg("hsm_reopen: %s", hsm_error());
	assert_false(hsm_lost(fx.h));
	if ((k = hsm_key_load(fx.h, "pkcs11:object=p256-key")) == NULL)
		fail_msg("hsm_key_load after reopen: %s", hsm_error());
	assert_true(sign_ok(k));
	EVP_PKEY_free(k);
	assert_true(hsm_random(fx.h, r, sizeof(r)));
}

static void
test_open_twice(void **state)
{
	(void)state;
	reopen();
	/* A second handle on the module would share (and end) the login. */
	assert_null(hsm_open(fx.module, TOKEN, fx.wrong_pin));
	assert_non_null(strstr(hsm_error(), "already open"));
	assert_false(hsm_token_init(fx.module, "other", fx.so_pin, fx.pin));
	assert_non_null(strstr(hsm_error(), "already open"));
	/* The first handle is unharmed. */
	{
		unsigned char r[8];

		assert_true(hsm_random(fx.h, r, sizeof(r)));
	}
}

/* The lock file is 0600, made so if an earlier version left it 0644. */
static void
test_lock_mode(void **state)
{
	struct stat st;

	(void)state;
	close_shared();
	assert_int_equal(chmod(fx.lock, 0644), 0);
	reopen();
	assert_int_equal(stat(fx.lock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* A process holding the lock delays hsm_open() by a bounded time only. */
static void
test_lock_deadline(void **state)
{
	struct timespec t0;
	double ms;
	int fd;

	(void)state;
	close_shared();
	fd = open(fx.lock, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	/* Without a deadline hsm_open() would never return: end the test
	 * binary instead of hanging the suite. */
	alarm(60);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fx.h = hsm_open(fx.module, TOKEN, fx.pin);
	ms = ms_since(&t0);
	alarm(0);
	(void)close(fd);
	assert_null(fx.h);
	print_message("held lock: gave up after %.0f ms\n", ms);
	assert_non_null(strstr(hsm_error(), "still held by another process"));
	assert_true(ms >= 9000 && ms < 15000);
	reopen();
}

/* Another user's lock file (which that user could hold) is refused. */
static void
test_lock_foreign(void **state)
{
	char dir[64], lock[96];
	pid_t pid;
	int status, fd;

	(void)state;
	(void)snprintf(dir, sizeof(dir), "/tmp/test_hsm_lock.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	(void)snprintf(lock, sizeof(lock), "%s/lock", dir);
	fd = open(lock, O_RDONLY | O_CREAT, 0644); /* root's, 0644 */
	assert_true(fd >= 0);
	(void)close(fd);
	close_shared();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hsm *h;

		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		setenv("CMPCA_HSM_LOCK", lock, 1);
		setenv("CMPCA_HSM_PIN", USER_PIN, 1);
		h = hsm_open(fx.module, TOKEN, NULL);
		_exit(h == NULL && strstr(hsm_error(), "owned by uid 0") != NULL
			  ? 0
			  : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	(void)unlink(lock);
	(void)rmdir(dir);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	reopen();
}

static void
test_open_bad(void **state)
{
	struct timespec t0;

	(void)state;
	close_shared();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_null(hsm_open(fx.module, "no-such-token", fx.pin));
	print_message("unknown token gave up after %.0f ms\n", ms_since(&t0));
	assert_non_null(strstr(hsm_error(), "token not found"));
	assert_null(hsm_open("/nonexistent/module.so", TOKEN, fx.pin));
	assert_non_null(strstr(hsm_error(), "module"));
	assert_null(hsm_open(fx.module, "", fx.pin));
	assert_null(hsm_open(
	    fx.module, "a-label-longer-than-thirty-two-bytes", fx.pin));
	assert_null(hsm_open(NULL, TOKEN, fx.pin));
	hsm_close(NULL);
	assert_string_equal(hsm_token_label(NULL), "");
	reopen();
}

static void
test_token_init_exists(void **state)
{
	(void)state;
	close_shared();
	assert_false(hsm_token_init(fx.module, TOKEN, fx.so_pin, fx.pin));
	assert_non_null(strstr(hsm_error(), "exists"));
	assert_false(
	    hsm_token_init(fx.module, "second", fx.so_pin, fx.loose_pin));
	assert_non_null(strstr(hsm_error(), "group or others"));
	/* A second token on the same module, usable by label. */
	if (!hsm_token_init(fx.module, "second", fx.so_pin, fx.pin))
		fail_msg("hsm_token_init second: %s", hsm_error());
	{
		struct hsm *h = hsm_open(fx.module, "second", fx.pin);

		if (h == NULL)
			fail_msg("hsm_open second: %s", hsm_error());
		assert_null(hsm_key_load(h, "pkcs11:object=p256-key"));
		assert_null(
		    hsm_key_load(h, "pkcs11:token=" TOKEN ";object=p256-key"));
		hsm_close(h);
	}
	reopen();
}

/*
 * Enrollment secrets sealed in the token: round trip, a fresh IV each
 * time, the reference (AAD) bound to the value, tampering detected, the
 * key not extractable, and the cost of one unseal (printed, not asserted:
 * the daemon pays it on every MAC-protected request).
 */
int
main(void)
{
	/* In order: later tests use the keys the keygen tests leave. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keytype_parse),
		cmocka_unit_test(test_pin_read),
		cmocka_unit_test(test_keygen_rsa2048),
		cmocka_unit_test(test_keygen_rsa3072),
		cmocka_unit_test(test_keygen_rsa4096),
		cmocka_unit_test(test_keygen_p256),
		cmocka_unit_test(test_keygen_p384),
		cmocka_unit_test(test_keygen_mechanisms),
		cmocka_unit_test(test_keygen_ee),
		cmocka_unit_test(test_archive),
		cmocka_unit_test(test_keygen_label_escaped),
		cmocka_unit_test(test_keygen_duplicate),
		cmocka_unit_test(test_keygen_bad_args),
		cmocka_unit_test(test_key_load_unknown),
		cmocka_unit_test(test_key_load_bad_uri),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_seal_rotate),
		cmocka_unit_test(test_seal_mechanisms),
		cmocka_unit_test(test_seal_caps),
		cmocka_unit_test(test_open_wrong_pin),
		cmocka_unit_test(test_open_env_pin),
		cmocka_unit_test(test_open_twice),
		cmocka_unit_test(test_token_lost),
		cmocka_unit_test(test_open_bad),
		cmocka_unit_test(test_lock_mode),
		cmocka_unit_test(test_lock_deadline),
		cmocka_unit_test(test_lock_foreign),
		cmocka_unit_test(test_token_init_exists),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
