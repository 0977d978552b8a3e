/*
 * profile_subject.c - the subjects a profile lets a certificate under an
 * external trust anchor ask for (external_subject): an IDevID enrolling
 * for an LDevID in the operator's own naming (RFC 9483 §4.1.1).
 *
 * A pattern is written like `openssl -subj`: "/O=Example/CN=*". It names
 * the attributes of the subject, one per RDN, in order; a value is
 * compared case-insensitively, and one '*' in it stands for one or more
 * characters. Several patterns are separated by ';' (subject values hold
 * commas and blanks, the separators of the other lists).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "ca/ca.h"

/* Longest pattern list; a longer value is refused at start-up. */
#define SUBJ_PATTERNS_MAX 1024

/* Calls f for each attribute "TYPE=VALUE" of one pattern; 1, or 0 if
 * the pattern is malformed or f says no. Modifies pat. */
static int
pattern_each(char *pat, int (*f)(const ASN1_OBJECT *type, const char *value,
			     void *arg),
    void *arg)
{
	char *p, *next, *eq;
	ASN1_OBJECT *obj;
	int ok;

	if (pat[0] != '/' || pat[1] == '\0')
		return 0;
	for (p = pat + 1; p != NULL; p = next) {
		if ((next = strchr(p, '/')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(p, '=')) == NULL || eq == p ||
		    eq[1] == '\0' || strchr(eq + 1, '*') !=
		    strrchr(eq + 1, '*'))
			return 0;
		*eq = '\0';
		/* A name OpenSSL knows (CN, O, serialNumber, ...) or an
		 * OID in dotted form. */
		obj = OBJ_txt2obj(p, 0);
		ERR_clear_error();
		ok = obj != NULL && f(obj, eq + 1, arg);
		ASN1_OBJECT_free(obj);
		if (!ok)
			return 0;
	}
	return 1;
}

/* Calls f with each pattern of the list (trimmed, in a copy); 1, or 0
 * if the list is empty, too long or f says no. */
static int
list_each_pattern(const char *list, int (*f)(char *pat, void *arg),
    void *arg)
{
	char buf[SUBJ_PATTERNS_MAX], *pat, *save = NULL, *end;
	int n = 0;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", list) >= sizeof(buf))
		return 0;
	for (pat = strtok_r(buf, ";", &save); pat != NULL;
	     pat = strtok_r(NULL, ";", &save)) {
		pat += strspn(pat, " \t");
		end = pat + strlen(pat);
		while (end > pat && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*pat == '\0')
			continue;
		n++;
		if (!f(pat, arg))
			return 0;
	}
	return n > 0;
}

static int
attr_ok(const ASN1_OBJECT *type, const char *value, void *arg)
{
	(void)type;
	(void)value;
	(void)arg;
	return 1;
}

static int
pattern_ok(char *pat, void *arg)
{
	(void)arg;
	return pattern_each(pat, attr_ok, NULL);
}

/* See ca.h. */
int
profile_subject_patterns_ok(const char *patterns)
{
	return list_each_pattern(patterns, pattern_ok, NULL);
}

/* Does value match pat (one optional '*': one or more characters)? */
static int
value_match(const char *pat, const char *v)
{
	const char *star = strchr(pat, '*');
	size_t vl = strlen(v), pre, post;

	if (star == NULL)
		return strcasecmp(pat, v) == 0;
	pre = (size_t)(star - pat);
	post = strlen(star + 1);
	return vl > pre + post && strncasecmp(v, pat, pre) == 0 &&
	       strcasecmp(v + vl - post, star + 1) == 0;
}

/* The state of one match: the name, the next entry to compare, and
 * whether a pattern matched so far. */
struct match {
	const X509_NAME *name;
	int i;
	int matched;
};

static int
attr_match(const ASN1_OBJECT *type, const char *value, void *arg)
{
	struct match *m = arg;
	const X509_NAME_ENTRY *e;
	unsigned char *utf8 = NULL;
	int len, ok;

	if (m->i >= X509_NAME_entry_count(m->name))
		return 0;
	e = X509_NAME_get_entry(m->name, m->i);
	/* One attribute per RDN: a multi-valued RDN matches nothing. */
	if (X509_NAME_ENTRY_set(e) != m->i ||
	    OBJ_cmp(X509_NAME_ENTRY_get_object(e), type) != 0)
		return 0;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	ok = len > 0 && memchr(utf8, '\0', (size_t)len) == NULL &&
	     value_match(value, (const char *)utf8);
	OPENSSL_free(utf8);
	ERR_clear_error();
	m->i++;
	return ok;
}

static int
pattern_match(char *pat, void *arg)
{
	struct match *m = arg;

	m->i = 0;
	if (pattern_each(pat, attr_match, m) &&
	    m->i == X509_NAME_entry_count(m->name))
		m->matched = 1;
	return 1;
}

/* See ca.h. */
int
profile_subject_match(const char *patterns, const X509_NAME *name)
{
	struct match m = { name, 0, 0 };

	if (name == NULL || X509_NAME_entry_count(name) == 0)
		return 0;
	(void)list_each_pattern(patterns, pattern_match, &m);
	return m.matched;
}

/* See ca.h. */
int
profile_other_subject_ok(const struct cfg_profile *prof, int external,
    const X509_NAME *subj, char *why, size_t len)
{
	char name[80]; /* cut: the text fits a why_buf of 256 */

	if (external && prof->external_subject != NULL &&
	    profile_subject_match(prof->external_subject, subj))
		return 1;
	if (subj != NULL)
		X509_NAME_oneline(subj, name, sizeof(name));
	else
		snprintf(name, sizeof(name), "(none)");
	if (!external)
		snprintf(why, len,
		    "subject %s differs from the protection certificate's: "
		    "a certificate of ours asks for its own subject only",
		    name);
	else if (prof->external_subject == NULL)
		snprintf(why, len,
		    "subject %s differs from the protection certificate's "
		    "and profile %s allows only its own (external_subject)",
		    name, prof->name);
	else
		snprintf(why, len,
		    "subject %s differs from the protection certificate's "
		    "and matches no external_subject of profile %s",
		    name, prof->name);
	return 0;
}
