/*
 * profile_san.c - the subjectAltName side of a profile: the patterns an
 * enrollment secret (`secret add --san`) or an RA (`ra_san`) may be bound
 * to, their syntax check, and a requested subjectAltName checked against
 * the profile's types and the credential's names (patterns, or a holder's
 * own names). Below profile.c, which calls it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/profile_int.h"

/* GeneralName types by the names openssl.cnf uses for them. */
static const char *const gen_names[] = { "otherName", "email", "DNS",
	"X400Name", "dirName", "EdiPartyName", "URI", "IP", "RID" };

/* See profile_int.h. */
const char *
gen_name(int type)
{
	return type >= 0 && type <= GEN_RID ? gen_names[type] : "unknown";
}

/* See profile_int.h. */
int
list_each(const char *v, int (*f)(const char *tok, void *arg), void *arg)
{
	char buf[1024], *tok, *save = NULL;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", v) >= sizeof(buf))
		return 0;
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save))
		if (strcmp(tok, "none") != 0 && !f(tok, arg))
			return 0;
	return 1;
}

/* A GeneralName's string value (DNS, email, URI), NULL if it holds NUL. */
static const char *
gn_text(const GENERAL_NAME *gn, char *buf, size_t len)
{
	const ASN1_IA5STRING *s = gn->d.ia5;

	if (s->length <= 0 || (size_t)s->length >= len ||
	    memchr(s->data, '\0', (size_t)s->length) != NULL)
		return NULL;
	memcpy(buf, s->data, (size_t)s->length);
	buf[s->length] = '\0';
	return buf;
}

/* "addr" or "addr/bits" (v4 or v6) into ip (*n bytes), *bits. 1 or 0. */
static int
ip_pattern(const char *pat, unsigned char ip[16], int *n, int *bits)
{
	char buf[INET6_ADDRSTRLEN + 4], *slash, *end;
	long b;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", pat) >= sizeof(buf))
		return 0;
	*n = strchr(buf, ':') != NULL ? 16 : 4;
	*bits = *n * 8;
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash++ = '\0';
		b = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || b < 0 || b > *n * 8)
			return 0;
		*bits = (int)b;
	}
	return inet_pton(*n == 4 ? AF_INET : AF_INET6, buf, ip) == 1;
}

/* Does value match one pattern of type (see profile_san_pattern_ok)? */
static int
pattern_match(int type, const char *pat, const GENERAL_NAME *gn)
{
	char buf[256];
	const char *v;
	unsigned char ip[16];
	size_t vl, pl;
	int n, bits, i;

	if (type == GEN_IPADD) {
		const unsigned char *a = gn->d.iPAddress->data;

		if (!ip_pattern(pat, ip, &n, &bits) ||
		    gn->d.iPAddress->length != n)
			return 0;
		for (i = 0; i < bits; i++)
			if (((a[i / 8] ^ ip[i / 8]) >> (7 - i % 8)) & 1)
				return 0;
		return 1;
	}
	if ((v = gn_text(gn, buf, sizeof(buf))) == NULL)
		return 0;
	vl = strlen(v);
	pl = strlen(pat);
	if (type == GEN_DNS && strncmp(pat, "*.", 2) == 0)
		/* exactly one label before the rest (RFC 6125 §6.4.3) */
		return vl > pl - 1 &&
		       strcasecmp(v + vl - (pl - 1), pat + 1) == 0 &&
		       memchr(v, '.', vl - (pl - 1)) == NULL;
	if (type == GEN_EMAIL && strncmp(pat, "*@", 2) == 0)
		return vl > pl - 1 && strchr(v, '@') == v + vl - (pl - 1) &&
		       strcasecmp(v + vl - (pl - 1), pat + 1) == 0;
	if (type == GEN_URI && pl > 0 && pat[pl - 1] == '*')
		return strncmp(v, pat, pl - 1) == 0;
	return type == GEN_URI ? strcmp(v, pat) == 0 : strcasecmp(v, pat) == 0;
}

/* The GeneralName type of a pattern's "TYPE:" prefix, or -1. */
static int
pattern_type(const char *tok, const char **value)
{
	static const struct {
		const char *prefix;
		int type;
	} t[] = { { "DNS:", GEN_DNS }, { "email:", GEN_EMAIL },
		{ "IP:", GEN_IPADD }, { "URI:", GEN_URI } };
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strncasecmp(tok, t[i].prefix, strlen(t[i].prefix)) == 0 &&
		    tok[strlen(t[i].prefix)] != '\0') {
			*value = tok + strlen(t[i].prefix);
			return t[i].type;
		}
	return -1;
}

struct san_ctx {
	const GENERAL_NAME *gn;
	int matched;
};

static int
san_tok(const char *tok, void *arg)
{
	struct san_ctx *s = arg;
	const char *v;
	int type = pattern_type(tok, &v);

	if (type == s->gn->type && pattern_match(type, v, s->gn))
		s->matched = 1;
	return 1;
}

static int
pattern_tok_ok(const char *tok, void *arg)
{
	const char *v;
	unsigned char ip[16];
	int type = pattern_type(tok, &v), n, bits;

	(void)arg;
	if (type == GEN_IPADD)
		return ip_pattern(v, ip, &n, &bits);
	if (type < 0 || strlen(v) > 253)
		return 0;
	return strchr(v + 1, '*') == NULL &&
	       (v[0] != '*' ||
	           (type == GEN_DNS && v[1] == '.' && v[2] != '\0') ||
	           (type == GEN_EMAIL && v[1] == '@' && v[2] != '\0'));
}

/* See ca.h. */
int
profile_san_patterns_ok(const char *patterns)
{
	return list_each(patterns, pattern_tok_ok, NULL);
}

/* See profile_int.h. */
const char *
gn_print(const GENERAL_NAME *gn, char *out, size_t len)
{
	char v[CA_LOG_SAN_MAX];
	char addr[INET6_ADDRSTRLEN] = "?";

	if (gn->type == GEN_DNS || gn->type == GEN_EMAIL || gn->type == GEN_URI)
		log_sanitize(
		    gn->d.ia5->data, (size_t)gn->d.ia5->length, v, sizeof(v));
	else if (gn->type == GEN_IPADD && (gn->d.iPAddress->length == 4 ||
	                                      gn->d.iPAddress->length == 16)) {
		inet_ntop(gn->d.iPAddress->length == 4 ? AF_INET : AF_INET6,
		    gn->d.iPAddress->data, addr, sizeof(addr));
		snprintf(v, sizeof(v), "%s", addr);
	} else
		snprintf(v, sizeof(v), "...");
	snprintf(out, len, "%s:%s", gen_name(gn->type), v);
	return out;
}

/* Is gn among the holder's names? */
static int
holder_has(X509 *holder, const GENERAL_NAME *gn)
{
	GENERAL_NAMES *own =
	    X509_get_ext_d2i(holder, NID_subject_alt_name, NULL, NULL);
	int i, found = 0;

	for (i = 0; i < sk_GENERAL_NAME_num(own) && !found; i++)
		found = GENERAL_NAME_cmp(sk_GENERAL_NAME_value(own, i),
		            (GENERAL_NAME *)gn) == 0;
	GENERAL_NAMES_free(own);
	ERR_clear_error();
	return found;
}

/* See profile_int.h. */
int
names_syntax_check(const struct issue_req *r, const GENERAL_NAMES *names,
    const char *ext, char *why, size_t len)
{
	char name[CA_LOG_SAN_MAX + 16];
	const char *rule = NULL;
	int i;

	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (profile_gn_ok(gn, r->profile->wildcards, &rule))
			continue;
		snprintf(why, len, "%s %s: %s (RFC 5280 §4.2.1.6)", ext,
		    gn_print(gn, name, sizeof(name)), rule);
		return 0;
	}
	return 1;
}

/* See ca.h. */
int
profile_cn_scope_ok(const struct issue_req *r, const X509_NAME *subj,
    char *why, size_t len)
{
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *s = NULL;
	unsigned char *u = NULL;
	const char *rule = NULL;
	struct san_ctx m = { NULL, 0 };
	int i = -1, n, ok = 1;

	if (!r->san_bound || r->subject_fixed || r->allowed_san == NULL ||
	    r->allowed_san[0] == '\0' ||
	    (r->allowed_subject != NULL && r->allowed_subject[0] != '\0'))
		return 1;
	while (ok && (i = X509_NAME_get_index_by_NID(subj, NID_commonName,
	                  i)) >= 0) {
		ok = 0;
		n = ASN1_STRING_to_UTF8(&u,
		    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
		if (n > 0 && profile_dns_ok(u, (size_t)n,
		                 r->profile->wildcards, &rule) &&
		    (s = ASN1_IA5STRING_new()) != NULL &&
		    ASN1_STRING_set(s, u, n) &&
		    (gn = GENERAL_NAME_new()) != NULL) {
			GENERAL_NAME_set0_value(gn, GEN_DNS, s);
			s = NULL;
			m.gn = gn;
			m.matched = 0;
			(void)list_each(r->allowed_san, san_tok, &m);
			ok = m.matched;
		}
		GENERAL_NAME_free(gn);
		gn = NULL;
		ASN1_IA5STRING_free(s);
		s = NULL;
		OPENSSL_free(u);
		u = NULL;
	}
	ERR_clear_error();
	if (!ok)
		snprintf(why, len, "subject commonName is not a dNSName "
		    "granted to this %s (absent, or one of its names)",
		    r->san_who != NULL ? r->san_who : "enrollment secret");
	return ok;
}

/* subjectAltName: types by the profile, values by the credential. */
int
san_check(const struct issue_req *r, const GENERAL_NAMES *sans, int *fail,
    char *why, size_t len)
{
	const struct cfg_profile *p = r->profile;
	char name[CA_LOG_SAN_MAX + 16];
	int i;

	if (sk_GENERAL_NAME_num(sans) == 0) {
		snprintf(why, len,
		    "subjectAltName is empty (RFC 5280 "
		    "§4.2.1.6)");
		return 0;
	}
	if (!names_syntax_check(r, sans, "subjectAltName", why, len))
		return 0;
	for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		int t = gn->type;
		struct san_ctx s = { gn, 0 };

		if (!((t == GEN_DNS && (p->san_types & CFG_SAN_DNS)) ||
		        (t == GEN_IPADD && (p->san_types & CFG_SAN_IP)) ||
		        (t == GEN_EMAIL && (p->san_types & CFG_SAN_EMAIL)) ||
		        (t == GEN_URI && (p->san_types & CFG_SAN_URI)))) {
			snprintf(why, len,
			    "subjectAltName %s not allowed by "
			    "profile %s",
			    gen_name(t), p->name);
			return 0;
		}
		if (r->san_bound) {
			if (r->allowed_san != NULL)
				(void)list_each(r->allowed_san, san_tok, &s);
			if (!s.matched) {
				*fail = CMP_FAIL_NOT_AUTHORIZED;
				snprintf(why, len,
				    "subjectAltName %s not allowed "
				    "for this %s",
				    gn_print(gn, name, sizeof(name)),
				    r->san_who != NULL ? r->san_who
				                       : "enrollment secret");
				return 0;
			}
		}
		if (r->holder != NULL && !p->holder_san_any &&
		    !holder_has(r->holder, gn)) {
			*fail = CMP_FAIL_NOT_AUTHORIZED;
			snprintf(why, len,
			    "subjectAltName %s is not a name of "
			    "the protection certificate (profile %s)",
			    gn_print(gn, name, sizeof(name)), p->name);
			return 0;
		}
	}
	return 1;
}

/* See ca.h. */
int
profile_san_within(const char *patterns, const GENERAL_NAMES *sans)
{
	int i, n = sk_GENERAL_NAME_num(sans);

	if (patterns == NULL || n <= 0)
		return 0;
	for (i = 0; i < n; i++) {
		struct san_ctx s = { sk_GENERAL_NAME_value(sans, i), 0 };

		if (!list_each(patterns, san_tok, &s) || !s.matched)
			return 0;
	}
	return 1;
}
