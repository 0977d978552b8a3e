/*
 * test_lib.c - the bottom folder (lib/): percent-decoding with each flag,
 * and atomic file replacement (the file is replaced whole, with the mode
 * fopen() would give it; a failed write leaves no temporary file and the
 * old file as it was).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/lib.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct pct_case {
	const char *in;
	unsigned int flags;
	size_t size;
	long want;	  /* length, or -1 */
	const char *out;  /* when want >= 0 */
} pct_cases[] = {
	/* Escapes, either case of hex digit. */
	{ "a%41b%7e", 0, 16, 4, "aAb~" },
	{ "%2f%2F", 0, 16, 2, "//" },
	{ "", 0, 1, 0, "" },
	/* A cut or bad escape. */
	{ "%", 0, 16, -1, NULL },
	{ "%4", 0, 16, -1, NULL },
	{ "a%4", 0, 16, -1, NULL },
	{ "%g1", 0, 16, -1, NULL },
	{ "%1g", 0, 16, -1, NULL },
	/* '+' is a space only in a query string. */
	{ "a+b", LIB_PCT_PLUS, 16, 3, "a b" },
	{ "a+b", 0, 16, 3, "a+b" },
	{ "a%2Bb", LIB_PCT_PLUS, 16, 3, "a+b" },
	/* RFC 7512: these bytes only escaped. */
	{ "a/b", LIB_PCT_URI, 16, -1, NULL },
	{ "a b", LIB_PCT_URI, 16, -1, NULL },
	{ "a#b", LIB_PCT_URI, 16, -1, NULL },
	{ "a\"b", LIB_PCT_URI, 16, -1, NULL },
	{ "a<b", LIB_PCT_URI, 16, -1, NULL },
	{ "a>b", LIB_PCT_URI, 16, -1, NULL },
	{ "a\\b", LIB_PCT_URI, 16, -1, NULL },
	{ "a\x7f" "b", LIB_PCT_URI, 16, -1, NULL },
	{ "a\xc3\xa9", LIB_PCT_URI, 16, -1, NULL },
	{ "a%2Fb%20c", LIB_PCT_URI, 16, 5, "a/b c" },
	{ "a/b c", 0, 16, 5, "a/b c" },
	{ "a+b:@", LIB_PCT_URI, 16, 5, "a+b:@" },
	/* A decoded NUL in text. */
	{ "a%00b", LIB_PCT_NO_NUL, 16, -1, NULL },
	{ "a%00b", LIB_PCT_NO_CTRL, 16, -1, NULL },
	{ "a%01b", LIB_PCT_NO_NUL, 16, 3, "a\x01" "b" },
	/* Control characters, escaped or not. */
	{ "a%01b", LIB_PCT_NO_CTRL, 16, -1, NULL },
	{ "a%1Fb", LIB_PCT_NO_CTRL, 16, -1, NULL },
	{ "a%7Fb", LIB_PCT_NO_CTRL, 16, -1, NULL },
	{ "a\tb", LIB_PCT_NO_CTRL, 16, -1, NULL },
	{ "a%20b%80", LIB_PCT_NO_CTRL, 16, 4, "a b\x80" },
	/* size counts the NUL: 3 bytes need 4. */
	{ "abc", 0, 4, 3, "abc" },
	{ "abc", 0, 3, -1, NULL },
	{ "%41%42%43", 0, 3, -1, NULL },
	{ "a", 0, 0, -1, NULL },
};

static void
test_pct_decode(void **state)
{
	char out[16];
	size_t i, bad = 0;
	long got;

	(void)state;
	for (i = 0; i < NELEM(pct_cases); i++) {
		const struct pct_case *c = &pct_cases[i];

		memset(out, 'X', sizeof(out));
		got = lib_pct_decode(c->in, strlen(c->in), out, c->size,
		    c->flags);
		if (got != c->want || (got >= 0 &&
		    (memcmp(out, c->out, (size_t)got + 1) != 0))) {
			print_error("case %zu \"%s\" flags %#x: got %ld, want "
			    "%ld\n", i, c->in, c->flags, got, c->want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Only n bytes of s are read: what follows is not decoded. */
static void
test_pct_decode_bounded(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(lib_pct_decode("ab%41", 2, out, sizeof(out), 0), 2);
	assert_string_equal(out, "ab");
	/* An escape cut by n is a cut escape. */
	assert_int_equal(lib_pct_decode("a%41", 3, out, sizeof(out), 0), -1);
	/* A binary value keeps a NUL inside. */
	assert_int_equal(lib_pct_decode("%00%01", 6, out, sizeof(out), 0), 2);
	assert_true(out[0] == 0 && out[1] == 1 && out[2] == 0);
}

static char dir[64];

static int
dir_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cmpca-test-lib.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
dir_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The names in dir, but "." and "..", joined by spaces. */
static void
dir_list(char *buf, size_t len)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	size_t o = 0;

	assert_non_null(d);
	buf[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " " : "",
		    e->d_name);
		assert_true(o < len);
	}
	closedir(d);
}

static void
file_expect(const char *path, const char *want)
{
	char buf[64];
	size_t n;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void
test_file_write_replaces(void **state)
{
	char path[128], names[256];
	struct stat st;
	mode_t old;

	(void)state;
	snprintf(path, sizeof(path), "%s/x.crl", dir);
	old = umask(027);
	assert_int_equal(lib_file_write(path, "first", 5), 1);
	umask(old);
	file_expect(path, "first");
	/* The mode fopen() would give: 0666 less the umask. */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(lib_file_write(path, "second, longer", 14), 1);
	file_expect(path, "second, longer");
	assert_int_equal(lib_file_write(path, "3", 1), 1);
	file_expect(path, "3");
	/* No temporary file left beside it. */
	dir_list(names, sizeof(names));
	assert_string_equal(names, "x.crl");
	/* An empty file is a file too. */
	assert_int_equal(lib_file_write(path, "", 0), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(unlink(path), 0);
}

static void
test_file_write_failure_cleans_up(void **state)
{
	char path[256], sub[128], names[256];

	(void)state;
	/* No such directory: nothing to clean, errno says why. */
	snprintf(path, sizeof(path), "%s/missing/x.crl", dir);
	errno = 0;
	assert_int_equal(lib_file_write(path, "x", 1), 0);
	assert_int_equal(errno, ENOENT);
	/* The rename fails (a directory is in the way): the temporary
	 * file, already written, goes, and the directory stays. */
	snprintf(sub, sizeof(sub), "%s/x.crl", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(path, sizeof(path), "%s/inner", sub);
	assert_int_equal(mkdir(path, 0755), 0);
	errno = 0;
	assert_int_equal(lib_file_write(sub, "data", 4), 0);
	assert_true(errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST);
	dir_list(names, sizeof(names));
	assert_string_equal(names, "x.crl");
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(sub), 0);
}

int
main(void)
{
	const struct CMUnitTest pct[] = {
		cmocka_unit_test(test_pct_decode),
		cmocka_unit_test(test_pct_decode_bounded),
	};
	const struct CMUnitTest file[] = {
		cmocka_unit_test(test_file_write_replaces),
		cmocka_unit_test(test_file_write_failure_cleans_up),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("pct", pct, NULL, NULL);
	failed += cmocka_run_group_tests_name(
	    "file", file, dir_setup, dir_teardown);
	return failed != 0;
}
