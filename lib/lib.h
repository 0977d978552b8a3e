/*
 * lib.h - the bottom of the tree: small helpers that hsm/, db/, ca/ and
 * the programs share, one copy each. lib/ includes nothing of the project
 * (only libc), so every folder may include it.
 */
#ifndef CMPCA_LIB_H
#define CMPCA_LIB_H

#include <stddef.h>

/* A result the caller must look at (1/0, 1/0/-1, a pointer or NULL). */
#define CA_MUST_CHECK __attribute__((warn_unused_result))

/*
 * Percent-decoding (RFC 3986 §2.1), lib_pct.c. The flags say what the
 * caller's grammar refuses besides a bad escape:
 * - LIB_PCT_PLUS: "+" is a space (HTML form query strings);
 * - LIB_PCT_URI: a byte that RFC 7512 never allows unescaped in a
 *   pkcs11: path (controls, space, non-ASCII, '#', '/', '"', '<', '>',
 *   '\\') is refused;
 * - LIB_PCT_NO_NUL: a decoded NUL byte is refused (text);
 * - LIB_PCT_NO_CTRL: a decoded control character (below 0x20, 0x7f) is
 *   refused, NUL included.
 */
#define LIB_PCT_PLUS 0x01u
#define LIB_PCT_URI 0x02u
#define LIB_PCT_NO_NUL 0x04u
#define LIB_PCT_NO_CTRL 0x08u

/*
 * Decodes the n bytes at s into out (size bytes) and NUL-terminates it.
 * Returns the decoded length (without the NUL), or -1 on a bad escape,
 * a byte the flags refuse, or a result that does not fit in size - 1
 * bytes.
 */
long lib_pct_decode(const char *s, size_t n, char *out, size_t size,
    unsigned int flags) CA_MUST_CHECK;

/*
 * Replaces the file path with len bytes of data so that a reader sees
 * the old file or the new one, never a part (lib_file.c): a temporary
 * file in the same directory (created with mode 0666 less the umask, as
 * fopen() would), every byte written, fsync(2), rename(2) over path,
 * then fsync(2) of the directory, so the rename survives a crash. On
 * any failure the temporary file is removed and path is untouched (but
 * for a failed directory fsync, after which path may be either).
 * Returns 1, or 0 with errno set by the step that failed.
 */
int lib_file_write(const char *path, const void *data, size_t len)
    CA_MUST_CHECK;

#endif
