/*
 * cfglog.c - cfg_load() with what it logs captured, for the tests that
 * assert the configuration's error messages (test_cfg, test_engine).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/cfglog.h"

/* See cfglog.h. */
struct cfg *
cfg_load_logged(const char *path, char *err, size_t errlen)
{
	FILE *tmp = tmpfile();
	struct cfg *c;
	size_t n;
	int saved;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0 && dup2(fileno(tmp), STDERR_FILENO) >= 0);
	c = cfg_load(path);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, errlen - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return c;
}
