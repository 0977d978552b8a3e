/*
 * db_param.c - values between C and SQL: bound parameters (text, bytea,
 * integers, times, and one-dimensional arrays in PostgreSQL's binary array
 * format), the column readers of binary results, and the enum-name tables.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"

/* Helpers: enum names. */

/* See db_int.h. */
const char *
db_name_of(const struct db_names *t, int v)
{
	return v > 0 && v < t->n ? t->name[v] : NULL;
}

/* See db_int.h. */
int
db_name_parse(const struct db_names *t, const char *s)
{
	int v;

	for (v = 1; s != NULL && v < t->n; v++)
		if (t->name[v] != NULL && strcmp(s, t->name[v]) == 0)
			return v;
	return 0;
}

/* Helpers: parameters. */

/* Appends one parameter; fmt 1 is binary. */
static void
db_param_add(struct db_params *p, const char *val, size_t len, int fmt)
{
	if (p->n >= DB_MAXPARAM || len > INT_MAX) {
		p->bad = 1;
		return;
	}
	p->val[p->n] = val;
	p->len[p->n] = (int)len;
	p->fmt[p->n] = fmt;
	p->n++;
}

void
db_param_text(struct db_params *p, const char *s)
{
	db_param_add(p, s, 0, 0);
}

void
db_param_bytea(struct db_params *p, const void *b, size_t len)
{
	/* Non-NULL even when empty: a NULL pointer binds SQL NULL. */
	db_param_add(p, b == NULL ? NULL : len == 0 ? "" : (const char *)b,
	    len, 1);
}

void
db_param_int8(struct db_params *p, long long v)
{
	if (p->n >= DB_MAXPARAM) {
		p->bad = 1;
		return;
	}
	(void)snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", v);
	db_param_add(p, p->num[p->n], 0, 0);
}

void
db_param_id(struct db_params *p, long long v)
{
	if (v == 0)
		db_param_text(p, NULL);
	else
		db_param_int8(p, v);
}

void
db_param_time(struct db_params *p, time_t t)
{
	if (t == 0)
		db_param_text(p, NULL);
	else
		db_param_int8(p, (long long)t);
}

/* Arrays in binary format: a header (ndim, has-null flag, element type,
 * then length and lower bound per dimension), then each element as a
 * 4-byte length (-1 for NULL) and its bytes; integers big-endian. */
#define DB_ARRAY_HDR 20 /* one dimension */

static void
db_put32(unsigned char *b, unsigned long v)
{
	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

/* Makes room for more bytes. Returns the place for them, or NULL. */
static unsigned char *
db_array_grow(struct db_array *a, size_t more)
{
	unsigned char *nb;
	size_t cap;

	if (a->bad || more > INT_MAX || a->len > INT_MAX - more) {
		a->bad = 1;
		return NULL;
	}
	if (a->len + more > a->cap) {
		cap = a->cap > 0 ? a->cap : 256;
		while (cap < a->len + more)
			cap *= 2;
		if ((nb = realloc(a->buf, cap)) == NULL) {
			a->bad = 1;
			return NULL;
		}
		a->buf = nb;
		a->cap = cap;
	}
	a->len += more;
	return a->buf + a->len - more;
}

void
db_array_init(struct db_array *a, unsigned int elem_oid)
{
	memset(a, 0, sizeof(*a));
	a->oid = elem_oid;
	(void)db_array_grow(a, DB_ARRAY_HDR); /* filled by db_param_array */
}

void
db_array_bytes(struct db_array *a, const void *v, size_t len)
{
	unsigned char *b;

	if (v == NULL) {
		if ((b = db_array_grow(a, 4)) != NULL)
			db_put32(b, 0xffffffffUL); /* -1: NULL */
		a->hasnull = 1;
	} else if ((b = db_array_grow(a, 4 + len)) != NULL) {
		db_put32(b, (unsigned long)len);
		memcpy(b + 4, v, len);
	}
	a->n++;
}

void
db_array_text(struct db_array *a, const char *s)
{
	db_array_bytes(a, s, s != NULL ? strlen(s) : 0);
}

void
db_array_int8(struct db_array *a, long long v)
{
	unsigned long long u = (unsigned long long)v;
	unsigned char b[8];

	db_put32(b, (unsigned long)(u >> 32));
	db_put32(b + 4, (unsigned long)(u & 0xffffffffULL));
	db_array_bytes(a, b, sizeof(b));
}

void
db_array_int4(struct db_array *a, int v)
{
	unsigned char b[4];

	db_put32(b, (unsigned long)(unsigned int)v);
	db_array_bytes(a, b, sizeof(b));
}

void
db_array_bool(struct db_array *a, int v)
{
	unsigned char b = v ? 1 : 0;

	db_array_bytes(a, &b, 1);
}

void
db_param_array(struct db_params *p, struct db_array *a)
{
	size_t len = a->len;

	if (a->bad || a->buf == NULL) {
		p->bad = 1;
		return;
	}
	if (a->n == 0) {
		/* ndim 0, no dimensions: the empty array. */
		db_put32(a->buf, 0);
		db_put32(a->buf + 4, 0);
		db_put32(a->buf + 8, a->oid);
		len = 12;
	} else {
		db_put32(a->buf, 1);
		db_put32(a->buf + 4, (unsigned long)a->hasnull);
		db_put32(a->buf + 8, a->oid);
		db_put32(a->buf + 12, (unsigned long)a->n);
		db_put32(a->buf + 16, 1); /* lower bound */
	}
	db_param_add(p, (const char *)a->buf, len, 1);
}

void
db_array_free(struct db_array *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

/* Helpers: columns of a binary result. */

static const unsigned char *
db_col(struct db_row *r, int col, unsigned int oid, int *len)
{
	col += r->off;
	if (r->bad || col >= PQnfields(r->res) ||
	    PQftype(r->res, col) != oid) {
		r->bad = 1;
		return NULL;
	}
	if (PQgetisnull(r->res, r->row, col))
		return NULL;
	*len = PQgetlength(r->res, r->row, col);
	return (const unsigned char *)PQgetvalue(r->res, r->row, col);
}

/* A big-endian integer column of `size` bytes; 0 when NULL or bad. */
static unsigned long long
db_col_be(struct db_row *r, int col, unsigned int oid, int size, int *isnull)
{
	const unsigned char *v;
	unsigned long long u = 0;
	int len = 0, i;

	*isnull = 0;
	if ((v = db_col(r, col, oid, &len)) == NULL) {
		*isnull = !r->bad;
		return 0;
	}
	if (len != size) {
		r->bad = 1;
		return 0;
	}
	for (i = 0; i < size; i++)
		u = u << 8 | v[i];
	return u;
}

long long
db_col_int8(struct db_row *r, int col)
{
	int isnull;

	/* Two's complement as sent; the conversion is what GCC defines. */
	return (long long)db_col_be(r, col, DB_OID_INT8, 8, &isnull);
}

int
db_col_int4(struct db_row *r, int col, int if_null)
{
	unsigned int u;
	int isnull;

	u = (unsigned int)db_col_be(r, col, DB_OID_INT4, 4, &isnull);
	return isnull ? if_null : (int)u;
}

time_t
db_col_time(struct db_row *r, int col)
{
	return (time_t)db_col_int8(r, col);
}

void
db_col_text(struct db_row *r, int col, char *buf, size_t size)
{
	const unsigned char *v;
	int len = 0;

	buf[0] = '\0';
	if ((v = db_col(r, col, DB_OID_TEXT, &len)) == NULL)
		return;
	if (len < 0 || (size_t)len >= size || memchr(v, '\0', len) != NULL) {
		r->bad = 1;
		return;
	}
	memcpy(buf, v, len);
	buf[len] = '\0';
}

char *
db_col_strdup(struct db_row *r, int col)
{
	const unsigned char *v;
	char *s;
	int len = 0;

	if ((v = db_col(r, col, DB_OID_TEXT, &len)) == NULL)
		return NULL;
	if (len < 0 || memchr(v, '\0', len) != NULL ||
	    (s = malloc((size_t)len + 1)) == NULL) {
		r->bad = 1;
		return NULL;
	}
	memcpy(s, v, len);
	s[len] = '\0';
	return s;
}

void
db_col_bytes(struct db_row *r, int col, unsigned char *buf, size_t size,
    size_t *len)
{
	const unsigned char *v;
	int n = 0;

	*len = 0;
	if ((v = db_col(r, col, DB_OID_BYTEA, &n)) == NULL)
		return;
	if (n < 0 || (size_t)n > size) {
		r->bad = 1;
		return;
	}
	memcpy(buf, v, n);
	*len = (size_t)n;
}

unsigned char *
db_col_memdup(struct db_row *r, int col, size_t *len)
{
	const unsigned char *v;
	unsigned char *b;
	int n = 0;

	*len = 0;
	if ((v = db_col(r, col, DB_OID_BYTEA, &n)) == NULL)
		return NULL;
	/* malloc(0) may return NULL: allocate one byte for empty values. */
	if (n < 0 || (b = malloc(n > 0 ? (size_t)n : 1)) == NULL) {
		r->bad = 1;
		return NULL;
	}
	memcpy(b, v, n);
	*len = (size_t)n;
	return b;
}
