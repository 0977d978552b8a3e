/*
 * lib_file.c - atomic file replacement, the one copy: the CRL files
 * (ca/status/crl.c) and the published CA bundles (ca/issue/cross.c),
 * which nginx serves while they change.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lib.h"

/* Names tried for the temporary file before giving up (EEXIST). */
#define LIB_TMP_TRIES 100

/* Makes each temporary name of this process differ. */
static atomic_uint lib_tmp_seq;

/* Writes all len bytes to fd. Returns 1, or 0 (errno set). */
static int
lib_write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return 0;
		p += w;
		len -= (size_t)w;
	}
	return 1;
}

/* fsync(2) of the directory holding path. Returns 1, or 0 (errno set). */
static int
lib_dir_sync(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	int fd, rc, e;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd == -1)
		return 0;
	rc = fsync(fd) == 0;
	e = errno;
	(void)close(fd);
	errno = e;
	return rc;
}

/* See lib.h. */
int
lib_file_write(const char *path, const void *data, size_t len)
{
	char *tmp = NULL;
	size_t tlen;
	int fd = -1, tries, rc = 0, e = 0;

	tlen = strlen(path) + 48;
	if ((tmp = malloc(tlen)) == NULL)
		return 0;
	/* O_EXCL: never write through a file or link already there. */
	for (tries = 0; fd == -1 && tries < LIB_TMP_TRIES; tries++) {
		(void)snprintf(tmp, tlen, "%s.%ld.%u.tmp", path,
		    (long)getpid(), atomic_fetch_add(&lib_tmp_seq, 1));
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd == -1 && errno != EEXIST) {
			e = errno;
			free(tmp);
			errno = e;
			return 0;
		}
	}
	if (fd == -1) {
		free(tmp);
		errno = EEXIST;
		return 0;
	}
	if (!lib_write_all(fd, data, len) || fsync(fd) != 0) {
		e = errno;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		e = errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		e = errno;
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if (!lib_dir_sync(path)) {
		e = errno;
		goto out;
	}
	rc = 1;
out:
	if (fd != -1)
		(void)close(fd);
	if (tmp != NULL) {
		(void)unlink(tmp);
		free(tmp);
	}
	if (!rc)
		errno = e;
	return rc;
}
