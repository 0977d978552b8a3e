/*
 * issue.c - from a CRMF CertTemplate to a certificate: the template's
 * public key, template checks against the profile, proof of possession,
 * and the request to the builder (cert_build.c), which applies the
 * profile and signs with the CA key in the HSM.
 */
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"

/*
 * EC: named curve and point, through the EC key manager. The first key on
 * a curve is imported from parameters; later ones are a copy of it with
 * the new point set. Importing builds the curve's group afresh (its
 * Montgomery constants and all, ~25 us); the copy shares that work
 * (~7 us). Setting the point checks it is on the curve either way.
 */
static EVP_PKEY *
spki_ec(const CMP_SPKI *spki)
{
	static EVP_PKEY_CTX *ctx;
	static struct {
		int nid;
		EVP_PKEY *key;
	} curves[4];
	const ASN1_OBJECT *curve;
	const void *pval;
	OSSL_PARAM params[3];
	EVP_PKEY *k = NULL;
	size_t i;
	int ptype, nid;

	X509_ALGOR_get0(NULL, &ptype, &pval, spki->algor);
	if (ptype != V_ASN1_OBJECT)
		return NULL;
	curve = pval;
	if ((nid = OBJ_obj2nid(curve)) == NID_undef)
		return NULL;
	for (i = 0; i < sizeof(curves) / sizeof(curves[0]) &&
	     curves[i].key != NULL; i++)
		if (curves[i].nid == nid) {
			if ((k = EVP_PKEY_dup(curves[i].key)) != NULL &&
			    EVP_PKEY_set1_encoded_public_key(k,
				spki->public_key->data,
				(size_t)spki->public_key->length) != 1) {
				EVP_PKEY_free(k);
				k = NULL;
			}
			return k;
		}
	if (ctx == NULL && (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC",
				NULL)) == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string("group",
	    (char *)OBJ_nid2sn(nid), 0);
	params[1] = OSSL_PARAM_construct_octet_string("pub",
	    spki->public_key->data, (size_t)spki->public_key->length);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		return NULL;
	if (i < sizeof(curves) / sizeof(curves[0]) &&
	    (curves[i].key = EVP_PKEY_dup(k)) != NULL)
		curves[i].nid = nid;
	return k;
}

/* RSA: modulus and exponent from RSAPublicKey. */
static EVP_PKEY *
spki_rsa(const CMP_SPKI *spki)
{
	static EVP_PKEY_CTX *ctx;
	const unsigned char *p = spki->public_key->data;
	CMP_RSAPUB *rp = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	BIGNUM *n = NULL, *e = NULL;
	EVP_PKEY *k = NULL;

	rp = d2i_CMP_RSAPUB(NULL, &p, spki->public_key->length);
	if (rp == NULL ||
	    p != spki->public_key->data + spki->public_key->length)
		goto out;
	if (ctx == NULL && (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA",
				NULL)) == NULL)
		goto out;
	if ((n = ASN1_INTEGER_to_BN(rp->n, NULL)) == NULL ||
	    (e = ASN1_INTEGER_to_BN(rp->e, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, "n", n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, "e", e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	CMP_RSAPUB_free(rp);
	return k;
}

/* See ca.h. EC and RSA take a fast path; the rest the generic decoder. */
EVP_PKEY *
cmp_spki_pkey(const CMP_SPKI *spki)
{
	const ASN1_OBJECT *alg;
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *k = NULL;
	int len, nid;

	if (spki == NULL || spki->public_key == NULL)
		return NULL;
	X509_ALGOR_get0(&alg, NULL, NULL, spki->algor);
	nid = OBJ_obj2nid(alg);
	ERR_set_mark();
	if (nid == NID_X9_62_id_ecPublicKey)
		k = spki_ec(spki);
	else if (nid == NID_rsaEncryption)
		k = spki_rsa(spki);
	else if (nid == NID_ED25519 || nid == NID_ED448)
		k = EVP_PKEY_new_raw_public_key(nid == NID_ED25519
			? EVP_PKEY_ED25519 : EVP_PKEY_ED448, NULL,
		    spki->public_key->data, (size_t)spki->public_key->length);
	else if ((len = i2d_CMP_SPKI(spki, &der)) > 0) {
		p = der;
		k = d2i_PUBKEY(NULL, &p, len);
	}
	ERR_pop_to_mark();
	OPENSSL_free(der);
	return k;
}

/* See ca.h. */
int
cmp_spki_set(CMP_SPKI **out, EVP_PKEY *key)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len;

	CMP_SPKI_free(*out);
	*out = NULL;
	if ((len = i2d_PUBKEY(key, &der)) <= 0)
		return 0;
	p = der;
	*out = d2i_CMP_SPKI(NULL, &p, len);
	OPENSSL_free(der);
	return *out != NULL;
}

/* Public key types and sizes a CA should certify (RFC 9481 §2-3). */
static int
pubkey_check(EVP_PKEY *k, const char **why)
{
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		if (EVP_PKEY_get_bits(k) < 2048) {
			*why = "RSA key shorter than 2048 bits";
			return 0;
		}
		if (EVP_PKEY_get_bits(k) > 16384) {
			*why = "RSA key longer than 16384 bits";
			return 0;
		}
		return 1;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_bits(k) < 256) {
			*why = "EC key on a curve shorter than 256 bits";
			return 0;
		}
		return 1;
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
		return 1;
	default:
		*why = "unsupported public key algorithm";
		return 0;
	}
}

/* The profile's key type rule. */
static int
profile_key_ok(const struct cfg_profile *p, EVP_PKEY *k)
{
	char curve[64] = "";
	size_t len = 0;

	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		return (p->key_types & CFG_KT_RSA) &&
		    EVP_PKEY_get_bits(k) >= p->rsa_min_bits;
	case EVP_PKEY_ED25519:
		return (p->key_types & CFG_KT_ED25519) != 0;
	case EVP_PKEY_ED448:
		return (p->key_types & CFG_KT_ED448) != 0;
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_utf8_string_param(k, "group", curve,
			sizeof(curve), &len))
			return 0;
		if (strcmp(curve, "prime256v1") == 0)
			return (p->key_types & CFG_KT_P256) != 0;
		if (strcmp(curve, "secp384r1") == 0)
			return (p->key_types & CFG_KT_P384) != 0;
		if (strcmp(curve, "secp521r1") == 0)
			return (p->key_types & CFG_KT_P521) != 0;
		return 0;
	default:
		return 0;
	}
}

/* The profile's subject attribute rule. */
static int
profile_subject_ok(const struct cfg_profile *p, const CRMF_CERTTEMPLATE *t,
    const char **why)
{
	size_t k;
	int i;

	for (i = 0; p->nsubject_attrs > 0 && i < X509_NAME_entry_count(
						       t->subject); i++) {
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(
		    X509_NAME_get_entry(t->subject, i)));

		for (k = 0; k < p->nsubject_attrs; k++)
			if (p->subject_attrs[k] == nid)
				break;
		if (k == p->nsubject_attrs) {
			*why = "subject attribute not allowed by the profile";
			return 0;
		}
	}
	return 1;
}

/*
 * An end entity named like a CA this instance knows, in its subject or a
 * directoryName of its subjectAltName: its key could speak as that CA to
 * clients that know the CA by anchor and name. 1 if reserved (why set).
 */
static int
reserved_name(const struct issue_req *r, const char **why)
{
	const STACK_OF(X509_EXTENSION) *exts = r->tmpl->extensions;
	GENERAL_NAMES *sans = NULL;
	int i, hit;

	if (r->profile->is_ca)
		return 0; /* CA certificates are named by their profile */
	*why = "subject is the name of a CA this instance knows (reserved "
	       "names: CA identities, partners, trust anchors)";
	if (profile_name_reserved(r->reserved, r->ca_chain, r->tmpl->subject))
		return 1;
	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);

		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) ==
		    NID_subject_alt_name && sans == NULL)
			sans = X509V3_EXT_d2i(e);
	}
	ERR_clear_error();
	for (i = hit = 0; i < sk_GENERAL_NAME_num(sans) && !hit; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

		hit = gn->type == GEN_DIRNAME &&
		    profile_name_reserved(r->reserved, r->ca_chain,
			gn->d.directoryName);
	}
	GENERAL_NAMES_free(sans);
	*why = "subjectAltName directoryName is the name of a CA this "
	       "instance knows (reserved names: CA identities, partners, "
	       "trust anchors)";
	return hit;
}

/* See ca.h. */
int
cmp_template_check(const struct issue_req *r, int *fail, const char **why)
{
	const CRMF_CERTTEMPLATE *t = r->tmpl;
	char subj[CA_MAX_SUBJECT + 1];
	BIO *b;
	int len;

	*fail = CMP_FAIL_BAD_CERT_TEMPLATE;
	if (t->publicKey == NULL || r->pubkey == NULL) {
		*why = "certTemplate has no usable publicKey (RFC 4211 §5)";
		return 0;
	}
	if (!pubkey_check(r->pubkey, why))
		return 0;
	if (t->subject == NULL || X509_NAME_entry_count(t->subject) == 0) {
		*why = "certTemplate has no subject (RFC 9483 §4.1.1)";
		return 0;
	}
	if (reserved_name(r, why)) {
		*fail = CMP_FAIL_NOT_AUTHORIZED;
		return 0;
	}
	if (!profile_subject_syntax_ok(t->subject, r->why_buf, r->why_len)) {
		*why = r->why_buf;
		return 0;
	}
	if (!profile_key_ok(r->profile, r->pubkey)) {
		*why = "key type or size not allowed by the profile";
		return 0;
	}
	if (!profile_subject_ok(r->profile, t, why))
		return 0;
	if (!profile_exts_check(r, fail, r->why_buf, r->why_len)) {
		*why = r->why_buf;
		return 0;
	}
	if (!profile_cn_scope_ok(r, t->subject, r->why_buf, r->why_len)) {
		*fail = CMP_FAIL_NOT_AUTHORIZED;
		*why = r->why_buf;
		return 0;
	}
	*fail = CMP_FAIL_BAD_CERT_TEMPLATE;
	if (t->issuer != NULL && r->ca_name != NULL &&
	    X509_NAME_cmp(t->issuer, r->ca_name) != 0) {
		*fail = CMP_FAIL_WRONG_AUTHORITY;
		*why = "certTemplate issuer is not this CA";
		return 0;
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	if (X509_NAME_print_ex(b, t->subject, 0, XN_FLAG_RFC2253) < 0) {
		BIO_free(b);
		*why = "certTemplate subject cannot be printed";
		return 0;
	}
	len = BIO_read(b, subj, sizeof(subj) - 1);
	if (len < 0)
		len = 0;
	subj[len] = '\0';
	if (BIO_pending(b) > 0) {
		BIO_free(b);
		*why = "certTemplate subject too long";
		return 0;
	}
	BIO_free(b);
	if (r->allowed_subject != NULL && r->allowed_subject[0] != '\0' &&
	    strcasecmp(r->allowed_subject, subj) != 0) {
		*fail = CMP_FAIL_NOT_AUTHORIZED;
		*why = "subject not allowed for this enrollment secret";
		return 0;
	}
	return 1;
}

/* See ca.h. */
int
cmp_popo_verify(const CRMF_CERTREQMSG *m, EVP_PKEY *pubkey, int from_ra,
    const char **why)
{
	const CRMF_POPOSIGNINGKEY *sk;

	if (m->popo == NULL) {
		*why = "missing proof of possession (RFC 4211 §4)";
		return 0;
	}
	if (m->popo->type == CRMF_POPO_RAVERIFIED && from_ra)
		return 1; /* the RA verified it (RFC 9483 §5.2.3.2) */
	if (m->popo->type != CRMF_POPO_SIGNATURE) {
		*why = m->popo->type == CRMF_POPO_RAVERIFIED
		    ? "raVerified POP is only accepted from an RA"
		    : "only signature POP is supported (RFC 9483 §4.1.1)";
		return 0;
	}
	sk = m->popo->value.signature;
	if (sk->poposkInput != NULL) {
		*why = "poposkInput must be absent when the template carries "
		       "subject and publicKey (RFC 4211 §4.1)";
		return 0;
	}
	ERR_set_mark();
	if (ASN1_item_verify(ASN1_ITEM_rptr(CRMF_CERTREQUEST),
		sk->algorithmIdentifier, sk->signature, m->certReq,
		pubkey) != 1) {
		ERR_pop_to_mark();
		*why = "POP signature does not verify (RFC 4211 §4.1)";
		return 0;
	}
	ERR_clear_last_mark();
	return 1;
}

/* See issue.h. The profile is applied by the builder (cert_profile.c). */
X509 *
cmp_cert_issue(const struct issue_req *r, const struct ca_ident *ca,
    struct hsm *hsm)
{
	struct cert_req req = { .kind = CERT_EE, .ee = r };

	return cert_build(hsm, ca, &req);
}
