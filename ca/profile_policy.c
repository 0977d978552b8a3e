/*
 * profile_policy.c - what a profile does with a requested extension it
 * does not take (other_extensions: refuse, or drop and say so), and the
 * values of requested extensions beyond the usage and name rules of
 * profile.c: certificatePolicies by the
 * profile's allow-list (allowed_policies plus the section's own
 * policies; identifiers only, qualifiers are the CA's to state), and
 * extensions listed in copy_extensions that OpenSSL does not know, which
 * must at least be one well-formed DER value. Below profile.c.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/profile_int.h"

/* Nesting of constructed values in an unknown extension. */
#define DER_DEPTH_MAX 16

/* See profile_int.h. */
int
ext_not_taken(const struct issue_req *r, const char *what, char *why,
    size_t len)
{
	size_t used;

	if (!r->profile->drop_exts) {
		snprintf(why, len, "%s not allowed by profile %s", what,
		    r->profile->name);
		return 0;
	}
	if (r->mods_buf != NULL && r->mods_len > 0) {
		used = strlen(r->mods_buf);
		if (used == 0)
			snprintf(r->mods_buf, r->mods_len,
			    "profile %s dropped: %s", r->profile->name, what);
		else if (used < r->mods_len)
			snprintf(r->mods_buf + used, r->mods_len - used, ", %s",
			    what);
	}
	return 2;
}

/* Is the dotted form of o in the profile's policies? */
static int
policy_listed(const struct cfg_profile *p, const ASN1_OBJECT *o)
{
	char dotted[CFG_OID_MAX];
	size_t i;
	int n = OBJ_obj2txt(dotted, sizeof(dotted), o, 1);

	if (n <= 0 || (size_t)n >= sizeof(dotted))
		return 0;
	for (i = 0; i < p->npolicies; i++)
		if (strcmp(p->policies[i], dotted) == 0)
			return 1;
	return 0;
}

/* See profile_int.h. */
int
policies_check(const struct issue_req *r, const CERTIFICATEPOLICIES *pol,
    char *why, size_t len)
{
	char oid[CFG_OID_MAX], what[CFG_OID_MAX + 32];
	int i, j, n = sk_POLICYINFO_num(pol), quals = 0;

	if (n == 0) {
		snprintf(why, len, "certificatePolicies is empty (RFC 5280 "
		    "§4.2.1.4)");
		return 0;
	}
	for (i = 0; i < n; i++) {
		const POLICYINFO *pi = sk_POLICYINFO_value(pol, i);

		for (j = 0; j < i; j++)
			if (OBJ_cmp(pi->policyid,
			        sk_POLICYINFO_value(pol, j)->policyid) == 0) {
				snprintf(why, len, "certificatePolicies names "
				    "a policy twice (RFC 5280 §4.2.1.4)");
				return 0;
			}
		quals |= sk_POLICYQUALINFO_num(pi->qualifiers) > 0;
		if (policy_listed(r->profile, pi->policyid))
			continue;
		OBJ_obj2txt(oid, sizeof(oid), pi->policyid, 1);
		snprintf(what, sizeof(what), "certificatePolicies %s", oid);
		if (ext_not_taken(r, what, why, len) == 0)
			return 0;
	}
	if (quals && ext_not_taken(r, "certificatePolicies qualifiers", why,
	                 len) == 0)
		return 0;
	return 1;
}

/* See profile_int.h. */
int
policies_merge(const struct issue_req *r, X509_EXTENSION *e, X509 *x,
    int crit, X509_EXTENSION **out)
{
	CERTIFICATEPOLICIES *want = X509V3_EXT_d2i(e);
	CERTIFICATEPOLICIES *own = X509_get_ext_d2i(x,
	    NID_certificate_policies, NULL, NULL);
	CERTIFICATEPOLICIES *all = NULL;
	POLICYINFO *pi = NULL;
	int i, j, added = 0, ok = 0;

	*out = NULL;
	if (want == NULL)
		goto out;
	if ((all = own != NULL ? own : sk_POLICYINFO_new_null()) == NULL)
		goto out;
	own = NULL;
	for (i = 0; i < sk_POLICYINFO_num(want); i++) {
		const ASN1_OBJECT *o = sk_POLICYINFO_value(want, i)->policyid;

		if (!policy_listed(r->profile, o))
			continue; /* dropped (other_extensions = drop) */
		for (j = 0; j < sk_POLICYINFO_num(all); j++)
			if (OBJ_cmp(sk_POLICYINFO_value(all, j)->policyid,
			        o) == 0)
				break;
		if (j < sk_POLICYINFO_num(all))
			continue;
		if ((pi = POLICYINFO_new()) == NULL)
			goto out;
		ASN1_OBJECT_free(pi->policyid);
		if ((pi->policyid = OBJ_dup(o)) == NULL ||
		    !sk_POLICYINFO_push(all, pi))
			goto out;
		pi = NULL;
		added = 1;
	}
	if (added &&
	    (*out = X509V3_EXT_i2d(NID_certificate_policies, crit, all)) ==
	        NULL)
		goto out;
	ok = 1;
out:
	POLICYINFO_free(pi);
	CERTIFICATEPOLICIES_free(want);
	CERTIFICATEPOLICIES_free(own);
	CERTIFICATEPOLICIES_free(all);
	ERR_clear_error();
	return ok;
}

/* Walks DER values in [p, end) to depth; 1 if each is well formed and
 * they fill the range exactly. */
static int
der_walk(const unsigned char *p, const unsigned char *end, int depth)
{
	const unsigned char *q;
	long len;
	int tag, cls, r;

	while (p < end) {
		q = p;
		r = ASN1_get_object(&q, &len, &tag, &cls, (long)(end - p));
		if ((r & 0x80) || r == 0x21) /* error, or indefinite length */
			return 0;
		if ((r & V_ASN1_CONSTRUCTED) &&
		    (depth >= DER_DEPTH_MAX ||
		        !der_walk(q, q + len, depth + 1)))
			return 0;
		p = q + len;
	}
	return p == end;
}

/* See profile_int.h. */
int
der_one_ok(const ASN1_OCTET_STRING *os)
{
	const unsigned char *q = os->data;
	long len;
	int tag, cls, r;

	if (os->length <= 0)
		return 0;
	r = ASN1_get_object(&q, &len, &tag, &cls, os->length);
	ERR_clear_error();
	if ((r & 0x80) || r == 0x21 || q + len != os->data + os->length)
		return 0;
	r = !(r & V_ASN1_CONSTRUCTED) || der_walk(q, q + len, 1);
	ERR_clear_error();
	return r;
}
