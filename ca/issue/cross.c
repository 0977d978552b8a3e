/*
 * cross.c - cross certificates (RFC 5280 §3.2, RFC 9810 §5.3.11): a CA
 * certificate one of our CAs issues for another CA's name and key, with
 * the constraints registered for that partner, and what a CA publishes
 * with them.
 *
 * Name constraints are written "type:value", one per list member:
 *   dns:example.com  dns:.example.com  email:example.com
 *   uri:.example.com ip:10.0.0.0/8  ip:2001:db8::/32  dirname:/O=Partner
 * (ip: address and prefix length).
 * Policy mappings "issuerDomainOID:subjectDomainOID".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"

/* Calls fn for every member of a newline-separated list; stops at the
 * first member fn refuses. Returns 1 or 0. */
static int
list_each(const char *list, int (*fn)(const char *, void *), void *arg)
{
	char *copy, *p, *next;
	int ok = 1;

	if (list == NULL || *list == '\0')
		return 1;
	if ((copy = strdup(list)) == NULL)
		return 0;
	for (p = copy; ok && p != NULL; p = next) {
		if ((next = strchr(p, '\n')) != NULL)
			*next++ = '\0';
		if (*p != '\0')
			ok = fn(p, arg);
	}
	free(copy);
	return ok;
}

/*
 * "ADDR/PREFIXLEN" as the address-and-mask octets of an iPAddress name
 * constraint (RFC 5280 §4.2.1.10: 8 octets for IPv4, 32 for IPv6).
 * NULL if malformed.
 */
static ASN1_OCTET_STRING *
ip_constraint(const char *v)
{
	unsigned char buf[32];
	ASN1_OCTET_STRING *addr = NULL, *out = NULL;
	char host[64], *end;
	const char *slash = strchr(v, '/');
	long bits;
	int len, i;

	if (slash == NULL || (size_t)(slash - v) >= sizeof(host))
		return NULL;
	memcpy(host, v, (size_t)(slash - v));
	host[slash - v] = '\0';
	bits = strtol(slash + 1, &end, 10);
	if (slash[1] == '\0' || *end != '\0' || bits < 0 ||
	    (addr = a2i_IPADDRESS(host)) == NULL)
		goto out;
	len = ASN1_STRING_length(addr);
	if ((len != 4 && len != 16) || bits > len * 8)
		goto out;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, ASN1_STRING_get0_data(addr), (size_t)len);
	for (i = 0; i < len; i++) {
		long b = bits - i * 8;

		buf[len + i] = b >= 8 ? 0xff : b <= 0 ? 0
		    : (unsigned char)(0xff << (8 - b));
		buf[i] &= buf[len + i]; /* the address is the network */
	}
	if ((out = ASN1_OCTET_STRING_new()) != NULL &&
	    !ASN1_OCTET_STRING_set(out, buf, 2 * len)) {
		ASN1_OCTET_STRING_free(out);
		out = NULL;
	}
out:
	ERR_clear_error();
	ASN1_OCTET_STRING_free(addr);
	return out;
}

/* One constraint member as a GeneralName; NULL if malformed. */
static GENERAL_NAME *
constraint_name(const char *s)
{
	GENERAL_NAME *gn = NULL;
	const char *v = strchr(s, ':');
	size_t tlen;
	int type;

	if (v == NULL || v[1] == '\0')
		return NULL;
	tlen = (size_t)(v - s);
	v++;
	if (tlen == 3 && strncasecmp(s, "dns", 3) == 0)
		type = GEN_DNS;
	else if (tlen == 5 && strncasecmp(s, "email", 5) == 0)
		type = GEN_EMAIL;
	else if (tlen == 3 && strncasecmp(s, "uri", 3) == 0)
		type = GEN_URI;
	else if (tlen == 2 && strncasecmp(s, "ip", 2) == 0)
		type = GEN_IPADD;
	else if (tlen == 7 && strncasecmp(s, "dirname", 7) == 0)
		type = GEN_DIRNAME;
	else
		return NULL;
	if ((gn = GENERAL_NAME_new()) == NULL)
		return NULL;
	switch (type) {
	case GEN_IPADD:
		if ((gn->d.iPAddress = ip_constraint(v)) == NULL)
			goto fail;
		break;
	case GEN_DIRNAME:
		if ((gn->d.directoryName = ca_name_parse(v)) == NULL)
			goto fail;
		break;
	default:
		if ((gn->d.ia5 = ASN1_IA5STRING_new()) == NULL ||
		    !ASN1_STRING_set(gn->d.ia5, v, -1))
			goto fail;
		break;
	}
	gn->type = type;
	return gn;
fail:
	ERR_clear_error();
	/* the union member set so far matches no type yet: free it by hand */
	if (type == GEN_IPADD)
		ASN1_OCTET_STRING_free(gn->d.iPAddress);
	else if (type == GEN_DIRNAME)
		X509_NAME_free(gn->d.directoryName);
	else
		ASN1_IA5STRING_free(gn->d.ia5);
	gn->d.ptr = NULL;
	GENERAL_NAME_free(gn);
	return NULL;
}

static int
subtree_add(const char *s, void *arg)
{
	STACK_OF(GENERAL_SUBTREE) *sk = arg;
	GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();

	if (st == NULL)
		return 0;
	GENERAL_NAME_free(st->base);
	if ((st->base = constraint_name(s)) == NULL ||
	    !sk_GENERAL_SUBTREE_push(sk, st)) {
		GENERAL_SUBTREE_free(st);
		return 0;
	}
	return 1;
}

/* The nameConstraints extension, or NULL with *none set when the partner
 * has no constraints. */
static X509_EXTENSION *
name_constraints_ext(const struct db_partner *p, int *none)
{
	NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
	X509_EXTENSION *e = NULL;

	*none = 0;
	if (nc == NULL)
		return NULL;
	if ((nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null()) == NULL ||
	    (nc->excludedSubtrees = sk_GENERAL_SUBTREE_new_null()) == NULL ||
	    !list_each(p->permitted, subtree_add, nc->permittedSubtrees) ||
	    !list_each(p->excluded, subtree_add, nc->excludedSubtrees))
		goto out;
	if (sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) == 0 &&
	    sk_GENERAL_SUBTREE_num(nc->excludedSubtrees) == 0) {
		*none = 1;
		goto out;
	}
	/* Absent, not empty, when one kind has no members (RFC 5280). */
	if (sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) == 0) {
		sk_GENERAL_SUBTREE_free(nc->permittedSubtrees);
		nc->permittedSubtrees = NULL;
	}
	if (sk_GENERAL_SUBTREE_num(nc->excludedSubtrees) == 0) {
		sk_GENERAL_SUBTREE_free(nc->excludedSubtrees);
		nc->excludedSubtrees = NULL;
	}
	e = X509V3_EXT_i2d(NID_name_constraints, 1, nc);
out:
	NAME_CONSTRAINTS_free(nc);
	return e;
}

/* A list joined with commas (for the OpenSSL extension syntax). */
static char *
list_commas(const char *list)
{
	char *s = strdup(list != NULL ? list : ""), *p;

	for (p = s; p != NULL && *p != '\0'; p++)
		if (*p == '\n')
			*p = ',';
	return s;
}

/* Appends e (consumed; NULL: failure) to sk. Returns 1 or 0. */
static int
ext_push(STACK_OF(X509_EXTENSION) *sk, X509_EXTENSION *e)
{
	if (e == NULL || !sk_X509_EXTENSION_push(sk, e)) {
		X509_EXTENSION_free(e);
		return 0;
	}
	return 1;
}

/* Appends the extension nid built from the OpenSSL text value (with
 * "critical," prefix when crit) to sk. Returns 1 or 0. */
static int
ext_text(STACK_OF(X509_EXTENSION) *sk, int nid, int crit, const char *value)
{
	char buf[1024];

	if (snprintf(buf, sizeof(buf), "%s%s", crit ? "critical," : "",
		value) >= (int)sizeof(buf))
		return 0;
	return ext_push(sk, X509V3_EXT_conf_nid(NULL, NULL, nid, buf));
}

static int
policy_add(const char *s, void *arg)
{
	CERTIFICATEPOLICIES *cp = arg;
	POLICYINFO *pi = POLICYINFO_new();

	if (pi == NULL)
		return 0;
	ASN1_OBJECT_free(pi->policyid);
	if ((pi->policyid = OBJ_txt2obj(s, 1)) == NULL ||
	    !sk_POLICYINFO_push(cp, pi)) {
		POLICYINFO_free(pi);
		return 0;
	}
	return 1;
}

/* certificatePolicies with bare policy OIDs (no qualifiers), appended
 * to sk; the OpenSSL text syntax needs a config database for this
 * extension. Returns 1 or 0. */
static int
policies_add(STACK_OF(X509_EXTENSION) *sk, const char *list)
{
	CERTIFICATEPOLICIES *cp = sk_POLICYINFO_new_null();
	int ok = 0;

	if (cp != NULL && list_each(list, policy_add, cp))
		ok = ext_push(sk,
		    X509V3_EXT_i2d(NID_certificate_policies, 0, cp));
	CERTIFICATEPOLICIES_free(cp);
	return ok;
}

/* Policy OIDs, mappings and EKU OIDs must parse. */
static int
oid_ok(const char *s, void *arg)
{
	ASN1_OBJECT *o = OBJ_txt2obj(s, arg != NULL);

	(void)arg;
	ASN1_OBJECT_free(o);
	return o != NULL;
}

static int
mapping_ok(const char *s, void *arg)
{
	char buf[256];
	char *colon;

	(void)arg;
	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf) ||
	    (colon = strchr(buf, ':')) == NULL)
		return 0;
	*colon = '\0';
	/* anyPolicy may not be mapped (RFC 5280 §4.2.1.5) */
	if (strcmp(buf, "2.5.29.32.0") == 0 || strcmp(colon + 1,
		"2.5.29.32.0") == 0)
		return 0;
	return oid_ok(buf, NULL) && oid_ok(colon + 1, NULL);
}

static int
constraint_ok(const char *s, void *arg)
{
	GENERAL_NAME *gn = constraint_name(s);

	(void)arg;
	GENERAL_NAME_free(gn);
	return gn != NULL;
}

/* See ca.h. */
int
cross_constraints_check(const struct db_partner *p, const char **why)
{
	if (!list_each(p->permitted, constraint_ok, NULL) ||
	    !list_each(p->excluded, constraint_ok, NULL)) {
		*why = "a name constraint is not dns:, email:, uri:, "
		       "ip:ADDR/MASK or dirname:/DN";
		return 0;
	}
	int numeric = 1;

	if (!list_each(p->policies, oid_ok, &numeric) ||
	    !list_each(p->eku, oid_ok, NULL)) {
		*why = "a policy or extended key usage is not an OID";
		return 0;
	}
	if (!list_each(p->policy_map, mapping_ok, NULL)) {
		*why = "a policy mapping is not issuerOID:subjectOID (and "
		       "anyPolicy cannot be mapped)";
		return 0;
	}
	if (p->days <= 0 || p->days > 36500) {
		*why = "validity must be 1 to 36500 days";
		return 0;
	}
	return 1;
}

/*
 * The partner's constraints (RFC 5280 §4.2.1): name constraints,
 * policies, policy mappings, policy constraints and extended key usage,
 * in that order, as cert_build() appends them to a cross certificate
 * after the extensions every CA certificate gets. NULL on error.
 */
static STACK_OF(X509_EXTENSION) *
cross_constraints(const struct db_partner *p)
{
	STACK_OF(X509_EXTENSION) *sk = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *e;
	char buf[512];
	char *s = NULL;
	int none, ok = 0;

	if (sk == NULL)
		return NULL;
	e = name_constraints_ext(p, &none);
	if (!none && !ext_push(sk, e))
		goto out;
	if (p->policies != NULL && *p->policies != '\0' &&
	    !policies_add(sk, p->policies))
		goto out;
	if (p->policy_map != NULL && *p->policy_map != '\0' &&
	    ((s = list_commas(p->policy_map)) == NULL ||
		!ext_text(sk, NID_policy_mappings, 1, s)))
		goto out;
	free(s);
	s = NULL;
	if (p->require_explicit >= 0 || p->inhibit_mapping >= 0) {
		buf[0] = '\0';
		if (p->require_explicit >= 0)
			snprintf(buf, sizeof(buf), "requireExplicitPolicy:%d",
			    p->require_explicit);
		if (p->inhibit_mapping >= 0)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
			    "%sinhibitPolicyMapping:%d", buf[0] ? "," : "",
			    p->inhibit_mapping);
		if (!ext_text(sk, NID_policy_constraints, 1, buf))
			goto out;
	}
	if (p->eku != NULL && *p->eku != '\0' &&
	    ((s = list_commas(p->eku)) == NULL ||
		!ext_text(sk, NID_ext_key_usage, 0, s)))
		goto out;
	ok = 1;
out:
	free(s);
	if (!ok) {
		sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free);
		return NULL;
	}
	return sk;
}

/* See issue.h. */
X509 *
cross_cert_issue(const struct ca_ident *ca, struct hsm *hsm,
    X509 *subject_ca, const struct db_partner *p, const ASN1_TIME *req_end)
{
	/* The subject CA's own key identifier, so that its certificates'
	 * AKI matches this certificate too; else the RFC 5280 hash. */
	struct cert_req req = { .kind = CERT_CROSS,
		.subject = X509_get_subject_name(subject_ca),
		.pubkey = X509_get0_pubkey(subject_ca),
		.ski = X509_get0_subject_key_id(subject_ca),
		.days = p->days,
		.not_after = req_end,
		.pathlen = p->path_len };
	X509 *x;

	if ((req.exts = cross_constraints(p)) == NULL) {
		log_openssl_errors(1);
		return NULL;
	}
	x = cert_build(hsm, ca, &req);
	sk_X509_EXTENSION_pop_free(req.exts, X509_EXTENSION_free);
	return x;
}

/* See ca.h. */
STACK_OF(X509) *
ca_published(struct db *db, const struct ca_ident *ca)
{
	STACK_OF(X509) *sk = ca_chain_copy(ca);
	struct db_blob *b = NULL;
	size_t i, n = 0;

	if (sk == NULL)
		return NULL;
	if (db_ca_published(db, ca->id, &b, &n) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		const unsigned char *q = b[i].der;
		X509 *c = d2i_X509(NULL, &q, (long)b[i].len);

		if (c == NULL || !sk_X509_push(sk, c)) {
			X509_free(c);
			goto fail;
		}
	}
	db_blob_array_free(b, n);
	return sk;
fail:
	db_blob_array_free(b, n);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

/* See ca.h. */
int
ca_publish_bundle(struct db *db, const struct ca_ident *ca, const char *dir)
{
	STACK_OF(X509) *sk;
	char path[512];
	BIO *mem = NULL;
	char *pem;
	long len;
	int i, ok = 0;

	if (dir == NULL || *dir == '\0')
		return 1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.pem", dir, ca->label) >=
		sizeof(path))
		return 0;
	if ((sk = ca_published(db, ca)) == NULL) {
		log_err("ca %s: published certificates: %s", ca->label,
		    db_error(db));
		return 0;
	}
	if ((mem = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(sk); i++)
		if (PEM_write_bio_X509(mem, sk_X509_value(sk, i)) != 1)
			goto out;
	if ((len = BIO_get_mem_data(mem, &pem)) < 0)
		goto out;
	/* readers (nginx) see the old or the new file, never half of one */
	if (!lib_file_write(path, pem, (size_t)len)) {
		log_err("ca %s: cannot write %s: %s", ca->label, path,
		    strerror(errno));
		goto out;
	}
	ok = 1;
out:
	BIO_free(mem);
	sk_X509_pop_free(sk, X509_free);
	return ok;
}
