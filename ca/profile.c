/*
 * profile.c - what a certificate profile lets a request decide: the
 * extensions a template or CSR may carry (keyUsage bits, extendedKeyUsage
 * OIDs, subjectAltName types, other extensions the operator lists), and
 * the names bound to the credential that asks (an enrollment secret's
 * subjectAltName patterns, a certificate holder's own names).
 *
 * Every requested extension is decoded (as DER, exactly), checked and
 * either copied or refused: nothing is silently dropped, nothing is
 * copied unchecked. The profile's own extensions section is what the CA
 * states; a request can narrow keyUsage and extendedKeyUsage within the
 * allow-lists, never widen them.
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

/* keyUsage bits by name (RFC 5280 §4.2.1.3), as X509_get_key_usage(). */
static const struct {
	const char *name;
	unsigned bit;
} ku_names[] = {
	{ "digitalSignature", KU_DIGITAL_SIGNATURE },
	{ "nonRepudiation", KU_NON_REPUDIATION },
	{ "contentCommitment", KU_NON_REPUDIATION },
	{ "keyEncipherment", KU_KEY_ENCIPHERMENT },
	{ "dataEncipherment", KU_DATA_ENCIPHERMENT },
	{ "keyAgreement", KU_KEY_AGREEMENT },
	{ "keyCertSign", KU_KEY_CERT_SIGN },
	{ "cRLSign", KU_CRL_SIGN },
	{ "encipherOnly", KU_ENCIPHER_ONLY },
	{ "decipherOnly", KU_DECIPHER_ONLY },
};
#define KU_CA_BITS (KU_KEY_CERT_SIGN | KU_CRL_SIGN)
#define KU_ALL_BITS 0x80ffu

/* The short name of obj (or its dotted form) into buf. */
static const char *
obj_name(const ASN1_OBJECT *obj, char *buf, size_t len)
{
	int nid = OBJ_obj2nid(obj);

	if (nid != NID_undef && OBJ_nid2sn(nid) != NULL)
		return OBJ_nid2sn(nid);
	if (OBJ_obj2txt(buf, (int)len, obj, 1) <= 0)
		snprintf(buf, len, "?");
	return buf;
}

/* The dotted OID of obj into buf; 1 or 0. */
static int
obj_dotted(const ASN1_OBJECT *obj, char *buf, size_t len)
{
	int n = OBJ_obj2txt(buf, (int)len, obj, 1);

	return n > 0 && (size_t)n < len;
}

/* Is obj in a profile list of dotted OIDs? */
static int
oid_listed(const char (*list)[CFG_OID_MAX], size_t n, const ASN1_OBJECT *obj)
{
	char dotted[CFG_OID_MAX];
	size_t i;

	if (!obj_dotted(obj, dotted, sizeof(dotted)))
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(list[i], dotted) == 0)
			return 1;
	return 0;
}

/* EKUs no request gets, whatever the profile: a delegated OCSP signer
 * answers for every certificate of the CA (RFC 6960 §4.2.2.2) and comes
 * from `cmpca ocsp signer` only; anyExtendedKeyUsage is every purpose. */
static int
eku_never(int nid)
{
	return nid == NID_OCSP_sign || nid == NID_anyExtendedKeyUsage;
}

/* Extensions the profile (or the CA) decides alone: never copied. */
static int
ext_never_copied(int nid)
{
	switch (nid) {
	case NID_basic_constraints:
	case NID_name_constraints:
	case NID_policy_constraints:
	case NID_policy_mappings:
	case NID_inhibit_any_policy:
	case NID_authority_key_identifier:
	case NID_subject_key_identifier:
	case NID_crl_distribution_points:
	case NID_freshest_crl:
	case NID_info_access:
	case NID_id_pkix_OCSP_noCheck:
	case NID_subject_alt_name:
	case NID_key_usage:
	case NID_ext_key_usage:
		return 1;
	default:
		return 0;
	}
}

struct load_ctx {
	struct cfg_profile *p;
	char *err;
	size_t errlen;
	const char **key;
};

static int
ku_tok(const char *tok, void *arg)
{
	struct load_ctx *l = arg;
	size_t i;

	for (i = 0; i < sizeof(ku_names) / sizeof(ku_names[0]); i++)
		if (strcasecmp(tok, ku_names[i].name) == 0) {
			l->p->ku_allowed |= ku_names[i].bit;
			return 1;
		}
	snprintf(
	    l->err, l->errlen, "unknown keyUsage \"%s\" in key_usage", tok);
	return 0;
}

/* Adds a dotted OID to a profile list; 1 or 0 (l->err). */
static int
oid_add(struct load_ctx *l, char (*list)[CFG_OID_MAX], size_t *n,
    const char *tok, const char *key)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(tok, 0);
	int ok = 0;

	ERR_clear_error();
	if (obj == NULL)
		snprintf(
		    l->err, l->errlen, "unknown object \"%s\" in %s", tok, key);
	else if (*n == CFG_MAX_OIDS)
		snprintf(l->err, l->errlen, "too many entries in %s", key);
	else if (!obj_dotted(obj, list[*n], CFG_OID_MAX))
		snprintf(l->err, l->errlen, "object \"%s\" too long", tok);
	else {
		(*n)++;
		ok = 1;
	}
	ASN1_OBJECT_free(obj);
	return ok;
}

static int
eku_tok(const char *tok, void *arg)
{
	struct load_ctx *l = arg;
	ASN1_OBJECT *obj = OBJ_txt2obj(tok, 0);
	int nid = obj != NULL ? OBJ_obj2nid(obj) : NID_undef;

	ASN1_OBJECT_free(obj);
	ERR_clear_error();
	if (eku_never(nid)) {
		snprintf(l->err, l->errlen,
		    "%s may not be in ext_key_usage "
		    "(OCSP signers come from cmpca ocsp signer)",
		    tok);
		return 0;
	}
	return oid_add(
	    l, l->p->eku_allowed, &l->p->neku_allowed, tok, "ext_key_usage");
}

static int
copy_tok(const char *tok, void *arg)
{
	struct load_ctx *l = arg;
	ASN1_OBJECT *obj = OBJ_txt2obj(tok, 0);
	int nid = obj != NULL ? OBJ_obj2nid(obj) : NID_undef;

	ASN1_OBJECT_free(obj);
	ERR_clear_error();
	if (nid == NID_certificate_policies) {
		snprintf(l->err, l->errlen,
		    "certificatePolicies may not be in copy_extensions "
		    "(allowed_policies lists the policies a request may ask "
		    "for)");
		return 0;
	}
	if (ext_never_copied(nid)) {
		snprintf(l->err, l->errlen,
		    "%s may not be in copy_extensions "
		    "(the profile decides it%s)",
		    tok,
		    nid == NID_subject_alt_name || nid == NID_key_usage ||
		            nid == NID_ext_key_usage
		        ? "; see copy_san, key_usage, ext_key_usage"
		        : "");
		return 0;
	}
	return oid_add(
	    l, l->p->copy_exts, &l->p->ncopy_exts, tok, "copy_extensions");
}

static int
policy_tok(const char *tok, void *arg)
{
	struct load_ctx *l = arg;

	return oid_add(l, l->p->policies, &l->p->npolicies, tok,
	    "allowed_policies");
}

/* Checks the profile's own extensions (probe: the section applied to a
 * throwaway certificate) and takes the defaults of the allow-lists. */
static int
probe_rules(struct load_ctx *l, X509 *probe, int ku_set, int eku_set)
{
	struct cfg_profile *p = l->p;
	BASIC_CONSTRAINTS *bc = NULL;
	ASN1_BIT_STRING *ku = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	CERTIFICATEPOLICIES *pol = NULL;
	char name[CFG_OID_MAX];
	int i, ok = 0;
	unsigned own = 0;

	if (probe != NULL) {
		bc = X509_get_ext_d2i(probe, NID_basic_constraints, NULL, NULL);
		ku = X509_get_ext_d2i(probe, NID_key_usage, NULL, NULL);
		eku = X509_get_ext_d2i(probe, NID_ext_key_usage, NULL, NULL);
		pol = X509_get_ext_d2i(probe, NID_certificate_policies, NULL,
		    NULL);
	}
	/* The profile's own policies may be asked for too. */
	for (i = 0; i < sk_POLICYINFO_num(pol); i++) {
		const ASN1_OBJECT *o = sk_POLICYINFO_value(pol, i)->policyid;

		if (!oid_listed(p->policies, p->npolicies, o) &&
		    !oid_add(l, p->policies, &p->npolicies,
		        obj_dotted(o, name, sizeof(name)) ? name : "?",
		        "allowed_policies"))
			goto out;
	}
	p->is_ca = bc != NULL && bc->ca;
	for (i = 0; ku != NULL && i <= 8; i++)
		if (ASN1_BIT_STRING_get_bit(ku, i))
			own |= i < 8 ? 0x80u >> i : 0x8000u;
	if (!p->is_ca && (own & KU_CA_BITS)) {
		snprintf(l->err, l->errlen,
		    "keyCertSign or cRLSign in the "
		    "extensions of an end-entity profile (no CA:TRUE)");
		goto out;
	}
	if (!ku_set)
		p->ku_allowed = own;
	if (!p->is_ca && (p->ku_allowed & KU_CA_BITS)) {
		*l->key = "key_usage";
		snprintf(l->err, l->errlen,
		    "keyCertSign and cRLSign may not "
		    "be in key_usage of an end-entity profile");
		goto out;
	}
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);

		if (eku_never(OBJ_obj2nid(o))) {
			snprintf(l->err, l->errlen,
			    "%s in the extensions of a "
			    "profile (OCSP signers come from cmpca ocsp "
			    "signer)",
			    obj_name(o, name, sizeof(name)));
			goto out;
		}
		if (!eku_set &&
		    !oid_add(l, p->eku_allowed, &p->neku_allowed,
		        obj_dotted(o, name, sizeof(name)) ? name : "?",
		        "ext_key_usage"))
			goto out;
	}
	ok = 1;
out:
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	CERTIFICATEPOLICIES_free(pol);
	ERR_clear_error();
	return ok;
}

/* A key of [sec] with one of two words: *out 1 for yes, 0 for no (or
 * absent: def). 1, or 0 with l->err. */
static int
word_key(struct load_ctx *l, CONF *conf, const char *sec, const char *key,
    const char *yes, const char *no, int def, int *out)
{
	const char *v = NCONF_get_string(conf, sec, key);

	ERR_clear_error();
	*l->key = key;
	*out = def;
	if (v == NULL)
		return 1;
	if (strcasecmp(v, yes) == 0)
		*out = 1;
	else if (strcasecmp(v, no) == 0)
		*out = 0;
	else {
		snprintf(l->err, l->errlen, "%s must be %s or %s", key, yes,
		    no);
		return 0;
	}
	return 1;
}

/* See ca.h. */
int
profile_rules_load(CONF *conf, const char *sec, struct cfg_profile *p,
    X509 *probe, char *err, size_t errlen, const char **key)
{
	struct load_ctx l = { p, err, errlen, key };
	const char *ku = NCONF_get_string(conf, sec, "key_usage");
	const char *eku, *copy, *pol;

	ERR_clear_error();
	eku = NCONF_get_string(conf, sec, "ext_key_usage");
	ERR_clear_error();
	copy = NCONF_get_string(conf, sec, "copy_extensions");
	ERR_clear_error();
	pol = NCONF_get_string(conf, sec, "allowed_policies");
	ERR_clear_error();
	if (!word_key(&l, conf, sec, "other_extensions", "drop", "refuse", 0,
	        &p->drop_exts))
		return 0;
	*key = "allowed_policies";
	if (pol != NULL && !list_each(pol, policy_tok, &l))
		return 0;
	*key = "key_usage";
	if (ku != NULL && !list_each(ku, ku_tok, &l))
		return 0;
	*key = "ext_key_usage";
	if (eku != NULL && !list_each(eku, eku_tok, &l))
		return 0;
	*key = "copy_extensions";
	if (copy != NULL && !list_each(copy, copy_tok, &l))
		return 0;
	*key = "extensions";
	return probe_rules(&l, probe, ku != NULL, eku != NULL);
}

/*
 * The value of e decoded with its method, if that is DER exactly (no
 * trailing bytes, no BER); NULL otherwise or without a method.
 */
static void *
ext_decode(X509_EXTENSION *e, const ASN1_ITEM **itp)
{
	const X509V3_EXT_METHOD *m = X509V3_EXT_get(e);
	const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(e);
	const unsigned char *p = os->data;
	unsigned char *der = NULL;
	void *v;
	int len;

	if (m == NULL || m->it == NULL)
		return NULL;
	*itp = ASN1_ITEM_ptr(m->it);
	v = ASN1_item_d2i(NULL, &p, os->length, *itp);
	if (v != NULL && p == os->data + os->length &&
	    (len = ASN1_item_i2d(v, &der, *itp)) == os->length &&
	    memcmp(der, os->data, (size_t)len) == 0) {
		OPENSSL_free(der);
		return v;
	}
	OPENSSL_free(der);
	ASN1_item_free(v, *itp);
	ERR_clear_error();
	return NULL;
}

/* See ca.h. */
long
profile_ku_fit(const EVP_PKEY *key)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		/* RFC 4055 §1.2: no key agreement with an RSA key. */
		return ~(long)(KU_KEY_AGREEMENT | KU_ENCIPHER_ONLY |
		    KU_DECIPHER_ONLY);
	case EVP_PKEY_EC:
		/* RFC 8813 §3 (updating RFC 5480): an EC key does not
		 * encipher keys or data. */
		return ~(long)(KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT);
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
		/* RFC 8410 §5: signatures only. */
		return KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION |
		    KU_KEY_CERT_SIGN | KU_CRL_SIGN;
	default:
		return ~0L;
	}
}

/* " RSA", "n EC", ... for "does not fit a%s key". */
static const char *
key_kind(const EVP_PKEY *key)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		return "n RSA";
	case EVP_PKEY_EC:
		return "n EC";
	case EVP_PKEY_ED25519:
		return "n Ed25519";
	case EVP_PKEY_ED448:
		return "n Ed448";
	default:
		return " public";
	}
}

/* keyUsage bits of a decoded value; -1 if it sets unknown bits. */
static long
ku_bits(const ASN1_BIT_STRING *ku)
{
	long bits = 0;
	int i;

	for (i = 0; i < ku->length * 8; i++)
		if (ASN1_BIT_STRING_get_bit(ku, i)) {
			if (i > 8)
				return -1;
			bits |= i < 8 ? 0x80 >> i : 0x8000;
		}
	return bits;
}

/* One decoded extension against the profile: 1 taken, 2 dropped, 0
 * refused (*fail, why). */
static int
ext_value_check(const struct issue_req *r, int nid, void *v, int *fail,
    char *why, size_t len)
{
	const struct cfg_profile *p = r->profile;
	char name[CFG_OID_MAX];
	size_t k;
	long bits;
	int i;

	switch (nid) {
	case NID_subject_alt_name:
		if (!p->copy_san)
			break;
		return san_check(r, v, fail, why, len);
	case NID_key_usage:
		if (!p->copy_key_usage)
			break;
		if ((bits = ku_bits(v)) <= 0) {
			snprintf(why, len, "keyUsage with no or unknown bits");
			return 0;
		}
		for (k = 0; k < sizeof(ku_names) / sizeof(ku_names[0]); k++) {
			if (!(bits & ku_names[k].bit))
				continue;
			if (!(p->ku_allowed & ku_names[k].bit)) {
				snprintf(why, len,
				    "keyUsage %s not allowed by "
				    "profile %s",
				    ku_names[k].name, p->name);
				return 0;
			}
			if (r->pubkey != NULL &&
			    !(profile_ku_fit(r->pubkey) & ku_names[k].bit)) {
				snprintf(why, len,
				    "keyUsage %s does not fit a%s key "
				    "(RFC 8813, RFC 4055)", ku_names[k].name,
				    key_kind(r->pubkey));
				return 0;
			}
		}
		return 1;
	case NID_ext_key_usage:
		if (!p->copy_ext_key_usage)
			break;
		for (i = 0; i < sk_ASN1_OBJECT_num(v); i++) {
			const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(v, i);

			if (eku_never(OBJ_obj2nid(o)) ||
			    !oid_listed(p->eku_allowed, p->neku_allowed, o)) {
				snprintf(why, len,
				    "extendedKeyUsage %s not "
				    "allowed by profile %s",
				    obj_name(o, name, sizeof(name)), p->name);
				return 0;
			}
		}
		if (i == 0) {
			snprintf(why, len, "extendedKeyUsage is empty");
			return 0;
		}
		return 1;
	case NID_certificate_policies:
		if (p->npolicies == 0)
			break;
		return policies_check(r, v, why, len);
	case NID_basic_constraints: {
		const BASIC_CONSTRAINTS *bc = v;

		/* Asks for what the certificate says anyway: not copied. */
		if (!bc->ca && bc->pathlen == NULL && !p->is_ca)
			return 1;
		snprintf(why, len,
		    "basicConstraints %s not allowed by profile "
		    "%s",
		    bc->ca ? "CA:TRUE" : "pathLenConstraint", p->name);
		return 0;
	}
	case NID_issuer_alt_name:
		/* Listed in copy_extensions: names in their syntax. */
		return names_syntax_check(r, v, "issuerAltName", why, len);
	default:
		return 1; /* listed in copy_extensions */
	}
	snprintf(name, sizeof(name), "extension %s", OBJ_nid2sn(nid));
	return ext_not_taken(r, name, why, len);
}

/* Decided by ext_value_check, whatever copy_extensions says. */
static int
ext_own_rule(int nid)
{
	return nid == NID_subject_alt_name || nid == NID_key_usage ||
	    nid == NID_ext_key_usage || nid == NID_basic_constraints ||
	    nid == NID_certificate_policies;
}

/* See ca.h. */
int
profile_exts_check(const struct issue_req *r, int *fail, char *why, size_t len)
{
	const STACK_OF(X509_EXTENSION) *exts = r->tmpl->extensions;
	char name[CFG_OID_MAX], what[CFG_OID_MAX + 16];
	int i, j, n = sk_X509_EXTENSION_num(exts);

	*fail = CMP_FAIL_BAD_CERT_TEMPLATE;
	if (r->mods_buf != NULL && r->mods_len > 0)
		r->mods_buf[0] = '\0';
	if (n > CA_MAX_REQ_EXTS) {
		snprintf(why, len, "more than %d extensions requested",
		    CA_MAX_REQ_EXTS);
		return 0;
	}
	/* Duplicates first: which copy would count is anyone's guess. */
	for (i = 0; i < n; i++) {
		const ASN1_OBJECT *obj =
		    X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i));

		for (j = 0; j < i; j++)
			if (OBJ_cmp(obj,
			        X509_EXTENSION_get_object(
			            sk_X509_EXTENSION_value(exts, j))) == 0) {
				snprintf(why, len,
				    "duplicate extension %s "
				    "(RFC 5280 §4.2)",
				    obj_name(obj, name, sizeof(name)));
				return 0;
			}
	}
	for (i = 0; i < n; i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		const ASN1_OBJECT *obj = X509_EXTENSION_get_object(e);
		const ASN1_ITEM *it = NULL;
		int nid = OBJ_obj2nid(obj), ok;
		void *v;

		if (!ext_own_rule(nid) &&
		    !oid_listed(r->profile->copy_exts, r->profile->ncopy_exts,
		        obj)) {
			snprintf(what, sizeof(what), "extension %s",
			    obj_name(obj, name, sizeof(name)));
			if (ext_not_taken(r, what, why, len) == 0)
				return 0;
			continue;
		}
		if ((v = ext_decode(e, &it)) == NULL) {
			/* Listed, unknown to OpenSSL: one DER value. */
			if (X509V3_EXT_get(e) == NULL && !ext_own_rule(nid) &&
			    der_one_ok(X509_EXTENSION_get_data(e)))
				continue;
			snprintf(why, len,
			    "extension %s does not decode (DER, "
			    "RFC 5280 §4.2)",
			    obj_name(obj, name, sizeof(name)));
			return 0;
		}
		ok = ext_value_check(r, nid, v, fail, why, len);
		ASN1_item_free(v, it);
		if (!ok)
			return 0;
	}
	return 1;
}

/* Is this requested extension copied at all (checked: allowed)? */
static int
ext_copied(const struct issue_req *r, X509_EXTENSION *e)
{
	const struct cfg_profile *p = r->profile;
	const ASN1_OBJECT *obj = X509_EXTENSION_get_object(e);

	switch (OBJ_obj2nid(obj)) {
	case NID_subject_alt_name:
		return p->copy_san;
	case NID_key_usage:
		return p->copy_key_usage;
	case NID_ext_key_usage:
		return p->copy_ext_key_usage;
	case NID_certificate_policies:
		return p->npolicies > 0;
	case NID_basic_constraints:
		return 0;
	default:
		return oid_listed(p->copy_exts, p->ncopy_exts, obj);
	}
}

/* See ca.h. */
int
profile_ext_copy(const struct issue_req *r, X509_EXTENSION *e, X509 *x,
    X509_EXTENSION **out)
{
	const ASN1_OBJECT *obj = X509_EXTENSION_get_object(e);
	int nid = OBJ_obj2nid(obj), idx, crit = 0;

	*out = NULL;
	if (!ext_copied(r, e))
		return 1;
	/* Criticality from the profile: its own extension's, else not
	 * critical (RFC 5280 §4.2: a subjectAltName next to a subject is
	 * not; keyUsage SHOULD be). */
	if ((idx = X509_get_ext_by_OBJ(x, obj, -1)) >= 0)
		crit = X509_EXTENSION_get_critical(X509_get_ext(x, idx));
	else if (nid == NID_key_usage)
		crit = 1;
	if (nid == NID_subject_alt_name)
		crit = 0;
	if (nid == NID_certificate_policies)
		return policies_merge(r, e, x, crit, out);
	if ((*out = X509_EXTENSION_dup(e)) == NULL ||
	    !X509_EXTENSION_set_critical(*out, crit)) {
		X509_EXTENSION_free(*out);
		*out = NULL;
		return 0;
	}
	return 1;
}
