/*
 * fuzz_cfg - libFuzzer target: the configuration parser (ca/cfg.c,
 * cfg_load: NCONF syntax, every key's value check, the profiles with
 * their patterns and extension sections, profile_rules_load) on the
 * input as a configuration file. The file is a memfd read through
 * /proc/self/fd; log lines go to syslog (nowhere, in the fuzzer) so
 * that the rejections of bad values do not flood the output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/err.h>

#include "ca/ca.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_cfg", getenv("CMPCA_FUZZ_VERBOSE") == NULL,
	    LOG_LVL_ERR);
	if ((fd = memfd_create("fuzz_cfg", 0)) < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static int
one_input(const uint8_t *data, size_t size)
{
	struct cfg *c;

	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size)
		abort();
	if ((c = cfg_load(path)) != NULL) {
		for (size_t i = 0; i < c->nprofiles; i++)
			if (cfg_profile_get(c, c->profiles[i].name) == NULL)
				abort();
		cfg_free(c);
	}
	return 0;
}

/*
 * One input, then this thread's OpenSSL error queue emptied: OpenSSL 3.0
 * copies each queued error's file and function name to the heap and
 * frees them only when the entry is overwritten, by a later input. Left
 * queued, they made inputs end with more allocations than frees, and
 * libFuzzer answers that with a second run and a LeakSanitizer pass
 * over the whole heap (docs/hacking.md, "Fuzzing").
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)one_input(data, size);
	ERR_clear_error();
	return 0;
}
