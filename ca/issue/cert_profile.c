/*
 * cert_profile.c - the part of cert_build() an end-entity profile
 * decides: its x509v3 extensions section (evaluated once per profile
 * and CA certificate), the per-CA URLs (crlDistributionPoints and
 * authorityInfoAccess with "%{ca}" and "%{crl}"), and the requested
 * extensions the profile copies, checked against it once more. Below
 * cert_build.c: it also makes the SHA-1 key identifier both use.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"

/* See issue.h. */
X509_EXTENSION *
cert_ski_ext(const unsigned char *bits, int len, int crit)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *e = NULL;
	const EVP_MD *sha1 = ca_md_fetch(NID_sha1);

	if (sha1 != NULL &&
	    EVP_Digest(bits, (size_t)len, md, &mdlen, sha1, NULL) == 1 &&
	    (os = ASN1_OCTET_STRING_new()) != NULL &&
	    ASN1_OCTET_STRING_set(os, md, (int)mdlen))
		e = X509V3_EXT_i2d(NID_subject_key_identifier, crit, os);
	ASN1_OCTET_STRING_free(os);
	return e;
}

/* Replaces or adds one requested extension, as profile_ext_copy() made
 * it (value and criticality decided). Returns 1 or 0. */
static int
ext_put(X509 *x, X509_EXTENSION *e)
{
	int idx = X509_get_ext_by_OBJ(x, X509_EXTENSION_get_object(e), -1);

	if (idx >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, idx));
	return X509_add_ext(x, e, -1);
}

/*
 * The profile's extensions, evaluated once per (profile, CA certificate)
 * instead of once per certificate: OpenSSL parses the configuration
 * values, builds and encodes every extension again on each
 * X509V3_EXT_add_nconf() (~45 us a certificate with the demo profile).
 *
 * An entry is made by evaluating the section for two probe certificates
 * that differ in subject (names, e-mail) and key. Extensions that come out
 * the same are the profile's own and are copied as they are; a
 * subjectKeyIdentifier that differs is the key's hash ("hash") and is
 * computed per certificate, checked at build time to encode exactly as
 * OpenSSL's; anything else that differs depends on the subject (say
 * "email:copy") and the profile keeps the per-certificate evaluation.
 * The entry holds a reference on the CA certificate, so a rolled-over CA
 * gets a new entry. The configuration is never reloaded in a process.
 */
struct ext_set {
	const struct cfg_profile *profile;
	X509 *ca_cert;			 /* referenced */
	STACK_OF(X509_EXTENSION) *exts; /* the first probe's, in order */
	int ski_at;			 /* per-certificate SKI at, or -1 */
	int usable;			 /* 0: evaluate per certificate */
};
#define EXT_SETS 32
static struct ext_set ext_sets[EXT_SETS];
static int ext_cache_off;

/* See issue.h. */
void
cmp_issue_ext_cache(int on)
{
	ext_cache_off = !on;
}

/* DER of two extensions equal? */
static int
ext_same(X509_EXTENSION *a, X509_EXTENSION *b)
{
	unsigned char *da = NULL, *db = NULL;
	int la = i2d_X509_EXTENSION(a, &da), lb = i2d_X509_EXTENSION(b, &db);
	int same = la > 0 && la == lb && memcmp(da, db, (size_t)la) == 0;

	OPENSSL_free(da);
	OPENSSL_free(db);
	return same;
}

/* The section's extensions for a probe certificate with subject cn/mail
 * and key k, or NULL. */
static X509 *
ext_probe(const struct issue_req *r, X509 *ca, const char *cn,
    const char *mail, EVP_PKEY *k)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;

	if (x == NULL || n == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
		(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "emailAddress", MBSTRING_ASC,
		(const unsigned char *)mail, -1, -1, 0) ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
	    !X509_set_subject_name(x, n) || !X509_set_pubkey(x, k))
		goto fail;
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	X509V3_set_nconf(&ctx, r->conf);
	if (!X509V3_EXT_add_nconf(r->conf, &ctx, r->profile->ext_section, x))
		goto fail;
	X509_NAME_free(n);
	return x;
fail:
	X509_NAME_free(n);
	X509_free(x);
	return NULL;
}

/* Classifies the probes' extensions into es. Returns 1 or 0. */
static int
ext_classify(struct ext_set *es, X509 *p1, X509 *p2)
{
	int i, n = X509_get_ext_count(p1);

	es->usable = n == X509_get_ext_count(p2);
	for (i = 0; i < n && es->usable; i++) {
		X509_EXTENSION *a = X509_get_ext(p1, i), *b = X509_get_ext(p2, i);
		X509_EXTENSION *mine;
		const unsigned char *bits;
		int len;

		if (OBJ_cmp(X509_EXTENSION_get_object(a),
			X509_EXTENSION_get_object(b)) != 0) {
			es->usable = 0;
			break;
		}
		if (ext_same(a, b))
			continue;
		es->usable = OBJ_obj2nid(X509_EXTENSION_get_object(a)) ==
		    NID_subject_key_identifier && es->ski_at < 0;
		if (!es->usable)
			break;
		/* Our hash must encode exactly as OpenSSL's did. */
		X509_PUBKEY_get0_param(NULL, &bits, &len, NULL,
		    X509_get_X509_PUBKEY(p1));
		mine = cert_ski_ext(bits, len, X509_EXTENSION_get_critical(a));
		es->usable = mine != NULL && ext_same(mine, a);
		X509_EXTENSION_free(mine);
		es->ski_at = i;
	}
	if ((es->exts = sk_X509_EXTENSION_deep_copy(X509_get0_extensions(p1),
		 X509_EXTENSION_dup, X509_EXTENSION_free)) == NULL &&
	    n > 0)
		return 0;
	return 1;
}

/*
 * The entry for (r->profile, ca), made on first use; NULL when the cache
 * is off or full or the probes fail (the caller evaluates the section
 * itself and reports what fails).
 */
static const struct ext_set *
ext_set_get(const struct issue_req *r, const struct ca_ident *ca)
{
	static EVP_PKEY *k1, *k2;
	struct ext_set *es = NULL;
	X509 *p1 = NULL, *p2 = NULL;
	size_t i;

	if (ext_cache_off)
		return NULL;
	for (i = 0; i < EXT_SETS && ext_sets[i].profile != NULL; i++)
		if (ext_sets[i].profile == r->profile &&
		    ext_sets[i].ca_cert == ca->cert)
			return &ext_sets[i];
	if (i == EXT_SETS)
		return NULL;
	es = &ext_sets[i];
	es->ski_at = -1;
	es->usable = 1;
	if (r->profile->ext_section == NULL)
		goto done;
	if (k1 == NULL)
		k1 = EVP_EC_gen("P-256");
	if (k2 == NULL)
		k2 = EVP_EC_gen("P-256");
	if (k1 == NULL || k2 == NULL ||
	    (p1 = ext_probe(r, ca->cert, "cmpca probe one",
		 "one@probe.invalid", k1)) == NULL ||
	    (p2 = ext_probe(r, ca->cert, "cmpca probe two",
		 "two@probe.invalid", k2)) == NULL ||
	    !ext_classify(es, p1, p2)) {
		X509_free(p1);
		X509_free(p2);
		ERR_clear_error();
		sk_X509_EXTENSION_pop_free(es->exts, X509_EXTENSION_free);
		memset(es, 0, sizeof(*es));
		return NULL;
	}
	X509_free(p1);
	X509_free(p2);
done:
	if (!X509_up_ref(ca->cert)) {
		sk_X509_EXTENSION_pop_free(es->exts, X509_EXTENSION_free);
		memset(es, 0, sizeof(*es));
		return NULL;
	}
	es->ca_cert = ca->cert;
	es->profile = r->profile;
	return es;
}

/* The profile's extensions into x from the cache. Returns 1 or 0. */
static int
ext_add_cached(X509 *x, const struct ext_set *es, const CMP_SPKI *spki)
{
	int i, ok = 1;

	for (i = 0; i < sk_X509_EXTENSION_num(es->exts) && ok; i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(es->exts, i);

		if (i == es->ski_at) {
			X509_EXTENSION *ski = cert_ski_ext(spki->public_key->data,
			    spki->public_key->length,
			    X509_EXTENSION_get_critical(e));

			ok = ski != NULL && X509_add_ext(x, ski, -1);
			X509_EXTENSION_free(ski);
		} else
			ok = X509_add_ext(x, e, -1);
	}
	return ok;
}

/* See issue.h. */
GENERAL_NAME *
cert_url_gn(const char *url, const struct ca_ident *ca)
{
	char buf[CFG_URL_MAX + CA_CRL_NAME_MAX];
	size_t o = 0, ll;
	const char *sub;
	ASN1_IA5STRING *s = NULL;
	GENERAL_NAME *gn = NULL;

	while (*url != '\0') {
		sub = strncmp(url, "%{ca}", 5) == 0 ? ca->label
		    : strncmp(url, "%{crl}", 6) == 0 ? ca->crl_name
						      : NULL;
		if (sub != NULL) {
			ll = strlen(sub);
			if (o + ll >= sizeof(buf))
				return NULL;
			memcpy(buf + o, sub, ll);
			o += ll;
			url = strchr(url, '}') + 1;
		} else {
			if (o + 1 >= sizeof(buf))
				return NULL;
			buf[o++] = *url++;
		}
	}
	if ((s = ASN1_IA5STRING_new()) == NULL ||
	    !ASN1_STRING_set(s, buf, (int)o) ||
	    (gn = GENERAL_NAME_new()) == NULL) {
		ASN1_IA5STRING_free(s);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_URI, s);
	return gn;
}

/* Appends an AccessDescription (method nid, location url) to aia. */
static int
aia_add(AUTHORITY_INFO_ACCESS *aia, int nid, const char *url,
    const struct ca_ident *ca)
{
	ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
	GENERAL_NAME *gn = cert_url_gn(url, ca);

	if (ad == NULL || gn == NULL) {
		ACCESS_DESCRIPTION_free(ad);
		GENERAL_NAME_free(gn);
		return 0;
	}
	ASN1_OBJECT_free(ad->method);
	ad->method = OBJ_nid2obj(nid);
	GENERAL_NAME_free(ad->location);
	ad->location = gn;
	if (!sk_ACCESS_DESCRIPTION_push(aia, ad)) {
		ACCESS_DESCRIPTION_free(ad);
		return 0;
	}
	return 1;
}

/*
 * The profile's per-CA URLs (crl_url, ocsp_url, ca_issuers_url; "%{ca}"
 * the issuing CA's label, "%{crl}" its key's CRL name, kept across a
 * rollover): crlDistributionPoints and authorityInfoAccess naming the CA
 * (and key) that signs. Returns 1 or 0.
 */
static int
url_exts_add(X509 *x, const struct cfg_profile *p, const struct ca_ident *ca)
{
	CRL_DIST_POINTS *cdp = NULL;
	DIST_POINT *dp = NULL;
	AUTHORITY_INFO_ACCESS *aia = NULL;
	GENERAL_NAME *gn = NULL;
	int ok = 0;

	if (p->crl_url != NULL) {
		if ((cdp = sk_DIST_POINT_new_null()) == NULL ||
		    (dp = DIST_POINT_new()) == NULL ||
		    !sk_DIST_POINT_push(cdp, dp)) {
			DIST_POINT_free(dp);
			goto out;
		}
		if ((dp->distpoint = DIST_POINT_NAME_new()) == NULL)
			goto out;
		dp->distpoint->type = 0; /* fullName */
		if ((dp->distpoint->name.fullname = GENERAL_NAMES_new()) ==
			NULL ||
		    (gn = cert_url_gn(p->crl_url, ca)) == NULL ||
		    !sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn))
			goto out;
		gn = NULL;
		if (X509_add1_ext_i2d(x, NID_crl_distribution_points, cdp, 0,
			X509V3_ADD_REPLACE) != 1)
			goto out;
	}
	if (p->ocsp_url != NULL || p->ca_issuers_url != NULL) {
		if ((aia = sk_ACCESS_DESCRIPTION_new_null()) == NULL ||
		    (p->ocsp_url != NULL &&
			!aia_add(aia, NID_ad_OCSP, p->ocsp_url, ca)) ||
		    (p->ca_issuers_url != NULL &&
			!aia_add(aia, NID_ad_ca_issuers, p->ca_issuers_url,
			    ca)) ||
		    X509_add1_ext_i2d(x, NID_info_access, aia, 0,
			X509V3_ADD_REPLACE) != 1)
			goto out;
	}
	ok = 1;
out:
	GENERAL_NAME_free(gn);
	CRL_DIST_POINTS_free(cdp);
	AUTHORITY_INFO_ACCESS_free(aia);
	return ok;
}

/*
 * Every end entity names its key and its issuer's (RFC 5280 §4.2.1.1,
 * §4.2.1.2), whatever the profile's section says: a section without
 * subjectKeyIdentifier or authorityKeyIdentifier gets them here, the SKI
 * as the SHA-1 of the key and the AKI as the issuer's SKI.
 */
static int
key_ids(X509 *x, const struct issue_req *r, const struct ca_ident *ca)
{
	const ASN1_BIT_STRING *bits = r->tmpl->publicKey->public_key;
	X509_EXTENSION *e = NULL;
	X509V3_CTX ctx;

	if (X509_get_ext_by_NID(x, NID_subject_key_identifier, -1) < 0 &&
	    ((e = cert_ski_ext(bits->data, bits->length, 0)) == NULL ||
	    !X509_add_ext(x, e, -1)))
		goto fail;
	X509_EXTENSION_free(e);
	e = NULL;
	if (X509_get_ext_by_NID(x, NID_authority_key_identifier, -1) >= 0)
		return 1;
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid:always")) == NULL || !X509_add_ext(x, e, -1))
		goto fail;
	X509_EXTENSION_free(e);
	return 1;
fail:
	X509_EXTENSION_free(e);
	return 0;
}

/*
 * Cuts the keyUsage the profile's section gave to the bits the subject
 * key can carry (profile_ku_fit: no keyEncipherment for an EC key, RFC
 * 8813): one shipped profile serves RSA and EC keys. A requested keyUsage
 * was refused already when it asked for such a bit. Returns 1, or 0 when
 * nothing the key can carry is left.
 */
static int
ku_fit(X509 *x, const struct issue_req *r, const struct ca_ident *ca)
{
	ASN1_BIT_STRING *ku;
	EVP_PKEY *key, *own = NULL;
	long fit, bit;
	int crit = 0, i, left = 0, cut = 0, ok = 0;

	if ((ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL)) == NULL)
		return 1;
	/* The engine decoded the key once (r->pubkey); other callers get it
	 * from the certificate's SubjectPublicKeyInfo. */
	if ((key = r->pubkey) == NULL) {
		unsigned char *der = NULL;
		const unsigned char *p;
		int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);

		p = der;
		if (n > 0)
			key = own = d2i_PUBKEY(NULL, &p, n);
		OPENSSL_free(der);
		if (key == NULL)
			goto out;
	}
	fit = profile_ku_fit(key);
	for (i = 0; i < 9; i++) {
		if (!ASN1_BIT_STRING_get_bit(ku, i))
			continue;
		bit = i < 8 ? 0x80 >> i : 0x8000;
		if (fit & bit)
			left = 1;
		else if (!ASN1_BIT_STRING_set_bit(ku, i, 0))
			goto out;
		else
			cut = 1;
	}
	if (!left) {
		log_err("ca %s: profile %s: its keyUsage leaves nothing a key "
		    "of this type can carry", ca->label, r->profile->name);
		goto out;
	}
	ok = !cut ||
	    X509_add1_ext_i2d(x, NID_key_usage, ku, crit, X509V3_ADD_REPLACE);
out:
	ASN1_BIT_STRING_free(ku);
	EVP_PKEY_free(own);
	return ok;
}

/* See issue.h. */
int
cert_profile_exts(X509 *x, const struct issue_req *r,
    const struct ca_ident *ca)
{
	const struct ext_set *es;
	X509V3_CTX ctx;
	char why[256];
	int i;

	if ((es = ext_set_get(r, ca)) != NULL && es->usable) {
		if (!ext_add_cached(x, es, r->tmpl->publicKey))
			return 0;
	} else if (r->profile->ext_section != NULL) {
		X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
		X509V3_set_nconf(&ctx, r->conf);
		if (!X509V3_EXT_add_nconf(r->conf, &ctx,
			r->profile->ext_section, x))
			return 0;
	}
	if (!url_exts_add(x, r->profile, ca))
		return 0;
	/* Checked again here: a delayed request is signed under the
	 * profile as configured when the operator approved it. */
	if (sk_X509_EXTENSION_num(r->tmpl->extensions) > 0 &&
	    !profile_exts_check(r, &i, why, sizeof(why))) {
		log_err("ca %s: template refused by profile %s: %s", ca->label,
		    r->profile->name, why);
		return 0;
	}
	for (i = 0; i < sk_X509_EXTENSION_num(r->tmpl->extensions); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(
		    r->tmpl->extensions, i), *put = NULL;
		int ok;

		if (!profile_ext_copy(r, e, x, &put))
			return 0;
		ok = put == NULL || ext_put(x, put);
		X509_EXTENSION_free(put);
		if (!ok)
			return 0;
	}
	return key_ids(x, r, ca) && ku_fit(x, r, ca);
}
