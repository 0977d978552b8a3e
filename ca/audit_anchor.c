/*
 * audit_anchor.c - the audit chain's checkpoints outside PostgreSQL.
 *
 * Every signed checkpoint is written as one line, to the daemon's log and
 * appended to audit_anchor_file (which the operator ships off the host):
 *
 *   cmpca-audit-anchor-1 <id> <seq> <chain hash, hex> <at> <key id> <sig, hex>
 *
 * `cmpca audit verify --anchor FILE` reads every line that holds the tag
 * (an anchor file, or a log with anything before it) and checks the
 * database against them (audit_verify.c). A superuser who recomputes the
 * chain and deletes the checkpoints after the change cannot change the
 * copies on another host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"

size_t
audit_anchor_format(const struct db_audit_ckpt *c, char *buf, size_t size)
{
	char hash[2 * DB_HASH_LEN + 1], sig[2 * CA_AUDIT_SIG_MAX + 1];
	int n;

	if (c->sig_len == 0 || c->sig_len > CA_AUDIT_SIG_MAX)
		return 0;
	log_hex(c->chain_hash, DB_HASH_LEN, hash, sizeof(hash));
	log_hex(c->sig, c->sig_len, sig, sizeof(sig));
	n = snprintf(buf, size, "%s %lld %lld %s %lld %lld %s", AUDIT_ANCHOR_TAG,
	    c->id, c->seq, hash, (long long)c->at, c->key_id, sig);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

int
audit_anchor_append(const char *path, const char *line, int create)
{
	char buf[CA_AUDIT_ANCHOR_LINE_MAX + 2];
	size_t len = strlen(line);
	ssize_t w;
	int fd, ok = 0;

	if (len == 0 || len > CA_AUDIT_ANCHOR_LINE_MAX)
		return 0;
	memcpy(buf, line, len);
	buf[len++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
		(create ? O_CREAT : 0), 0640);
	if (fd < 0 && !create && errno == ENOENT) {
		/* The CLI: cmpcad creates the file, as its user. */
		log_info("audit anchor file %s does not exist yet (cmpcad "
			 "creates it): the checkpoint is in the log only", path);
		return 0;
	}
	if (fd < 0) {
		log_err("audit anchor file %s: %s", path, strerror(errno));
		return 0;
	}
	/* One write of one line: O_APPEND keeps concurrent writers' lines
	 * whole. */
	w = write(fd, buf, len);
	if (w != (ssize_t)len)
		log_err("audit anchor file %s: %s", path,
		    w < 0 ? strerror(errno) : "short write");
	else if (fsync(fd) != 0)
		log_err("audit anchor file %s: fsync: %s", path,
		    strerror(errno));
	else
		ok = 1;
	close(fd);
	return ok;
}

/* Lowercase or uppercase hex into out (at most max bytes). Returns the
 * byte count, or -1 when s is not whole bytes of hex. */
static long
unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n % 2 != 0 || n / 2 > max)
		return -1;
	for (i = 0; i < n; i += 2) {
		int hi = OPENSSL_hexchar2int((unsigned char)s[i]);
		int lo = OPENSSL_hexchar2int((unsigned char)s[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

/* A decimal number > 0 (or >= 0 when zero_ok) that fits a long long. */
static int
num(const char *s, int zero_ok, long long *v)
{
	char *end;

	if (*s < '0' || *s > '9' || strlen(s) > 18)
		return 0;
	*v = strtoll(s, &end, 10);
	return *end == '\0' && (*v > 0 || (zero_ok && *v == 0));
}

/* Parses the fields after the tag into c. Returns 1 or 0. */
static int
anchor_parse(char *p, struct db_audit_ckpt *c)
{
	unsigned char sig[CA_AUDIT_SIG_MAX];
	char *f[6], *save = NULL;
	long long at;
	long len;
	int k;

	memset(c, 0, sizeof(*c));
	for (k = 0; k < 6; k++)
		if ((f[k] = strtok_r(k == 0 ? p : NULL, " ", &save)) == NULL)
			return 0;
	if (strtok_r(NULL, " ", &save) != NULL)
		return 0;
	if (!num(f[0], 0, &c->id) || !num(f[1], 0, &c->seq) ||
	    unhex(f[2], c->chain_hash, DB_HASH_LEN) != DB_HASH_LEN ||
	    !num(f[3], 1, &at) || !num(f[4], 0, &c->key_id) ||
	    (len = unhex(f[5], sig, sizeof(sig))) <= 0)
		return 0;
	c->at = (time_t)at;
	if ((c->sig = malloc((size_t)len)) == NULL)
		return 0;
	memcpy(c->sig, sig, (size_t)len);
	c->sig_len = (size_t)len;
	return 1;
}

int
audit_anchor_read(const char *path, struct db_audit_ckpt **out, size_t *n,
    FILE *err)
{
	char line[CA_AUDIT_ANCHOR_LINE_MAX + 2];
	struct db_audit_ckpt *a = NULL, *na;
	size_t cap = 0, lineno = 0;
	int rest = 0, rc = -1;
	FILE *f;

	*out = NULL;
	*n = 0;
	if ((f = fopen(path, "re")) == NULL) {
		fprintf(err, "audit verify: anchor file %s: %s\n", path,
		    strerror(errno));
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		int whole = len > 0 && line[len - 1] == '\n';
		char *p;

		if (rest) { /* the tail of a line longer than ours */
			rest = !whole;
			continue;
		}
		rest = !whole && !feof(f);
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if ((p = strstr(line, AUDIT_ANCHOR_TAG " ")) == NULL)
			continue;
		if (rest) {
			fprintf(err, "audit verify: %s line %zu: too long\n",
			    path, lineno);
			rc = 0;
			goto out;
		}
		if (*n == cap) {
			size_t ncap = cap == 0 ? 256 : cap * 2;

			if (ncap > CA_AUDIT_ANCHORS_MAX)
				ncap = CA_AUDIT_ANCHORS_MAX;
			if (*n == ncap) {
				fprintf(err, "audit verify: %s: more than %d "
					     "anchors (split the file)\n", path,
				    CA_AUDIT_ANCHORS_MAX);
				rc = 0;
				goto out;
			}
			if ((na = reallocarray(a, ncap, sizeof(*a))) == NULL) {
				log_err("audit verify: out of memory");
				goto out;
			}
			a = na;
			cap = ncap;
		}
		if (!anchor_parse(p + strlen(AUDIT_ANCHOR_TAG) + 1, &a[*n])) {
			fprintf(err, "audit verify: %s line %zu: not an "
				     "anchor line\n", path, lineno);
			rc = 0;
			goto out;
		}
		(*n)++;
	}
	if (ferror(f)) {
		fprintf(err, "audit verify: anchor file %s: read error\n",
		    path);
		rc = 0;
		goto out;
	}
	*out = a;
	a = NULL;
	rc = 1;
out:
	if (a != NULL) {
		db_audit_ckpt_array_free(a, *n);
		*n = 0;
	}
	fclose(f);
	return rc;
}
