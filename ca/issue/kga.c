/*
 * kga.c - central key generation (RFC 9483 §4.1.6, RFC 9810 §5.2.8): is
 * the CA asked to make the key, which key type, and the private key
 * packaged for the requester.
 *
 * The package, from the inside out (RFC 9483 §4.1.6):
 *   AsymmetricKeyPackage (RFC 5958) holding the key as OneAsymmetricKey,
 *   in a SignedData (eContentType id-ct-KP-aKeyPackage) signed with the
 *   CA key in the HSM, the CA acting as key generation authority (its
 *   certificate and chain in the SignedData),
 *   in an EnvelopedData (encrypted content type id-signedData, AES-256-CBC)
 *   to the requester: PasswordRecipientInfo (PBKDF2 with HMAC-SHA256,
 *   id-alg-PWRI-KEK) under the enrollment secret of a MAC-protected
 *   request, KeyTransRecipientInfo (RSA-OAEP, SHA-256) or
 *   KeyAgreeRecipientInfo (ECDH, X9.63 KDF with SHA-256) to the key of the
 *   protection certificate of a signed one,
 * as EncryptedKey's [0] envelopedData in CertifiedKeyPair.privateKey
 * (kga_package: CMP's ip/cp/kup and krp), or as a CMS ContentInfo of its
 * own (kga_envelope: the file of `cmpca key recover`, cli/cli_key.c).
 * OpenSSL builds every layer (CMS); the DER is only re-tagged through
 * the ASN.1 items of cmp_asn.c.
 */
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"

/* PBKDF2 iterations of a password recipient (RFC 8018 §4.2). */
#define KGA_PBKDF2_ITER 10000
/* id-ct-KP-aKeyPackage (RFC 5958 §4). */
#define KGA_OID_AKP "2.16.840.1.101.2.1.2.78.5"

/* See issue.h. */
int
kga_requested(const CRMF_CERTTEMPLATE *t)
{
	return t->publicKey == NULL || t->publicKey->public_key == NULL ||
	    t->publicKey->public_key->length == 0;
}

/* See issue.h. */
int
kga_key_type(const struct cfg_profile *p, const CRMF_CERTTEMPLATE *t,
    enum hsm_keytype *type, int *fail, const char **why)
{
	const ASN1_OBJECT *alg = NULL;
	const void *pval = NULL;
	int ptype = V_ASN1_UNDEF, nid = NID_undef, curve = NID_undef;
	size_t i;

	*fail = CMP_FAIL_NOT_AUTHORIZED;
	if (p->nkga_types == 0) {
		*why = "the profile does not generate keys for its end "
		       "entities (central_keygen; RFC 9483 §4.1.6)";
		return 0;
	}
	if (t->publicKey == NULL) {
		*type = (enum hsm_keytype)p->kga_types[0];
		return 1;
	}
	X509_ALGOR_get0(&alg, &ptype, &pval, t->publicKey->algor);
	nid = OBJ_obj2nid(alg);
	if (nid == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT)
		curve = OBJ_obj2nid(pval);
	for (i = 0; i < p->nkga_types; i++) {
		enum hsm_keytype k = (enum hsm_keytype)p->kga_types[i];
		int rsa = k == HSM_KEY_RSA2048 || k == HSM_KEY_RSA3072 ||
		    k == HSM_KEY_RSA4096;

		if (nid == NID_rsaEncryption && rsa)
			break;
		if (nid == NID_X9_62_id_ecPublicKey && !rsa &&
		    (curve == NID_undef ||
			curve == (k == HSM_KEY_EC_P256 ? NID_X9_62_prime256v1
						       : NID_secp384r1)))
			break;
	}
	if (i == p->nkga_types) {
		*fail = CMP_FAIL_BAD_ALG;
		*why = "the profile does not generate keys of the algorithm "
		       "the template names (central_keygen; RFC 9483 §4.1.6)";
		return 0;
	}
	*type = (enum hsm_keytype)p->kga_types[i];
	return 1;
}

/* The DER of the content of a ContentInfo (cms), in *out (caller frees
 * with OPENSSL_free). Returns its length, or 0. */
static int
cinfo_content(CMS_ContentInfo *cms, unsigned char **out)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	CMP_CINFO *ci = NULL;
	int len, rc = 0;

	*out = NULL;
	if ((len = i2d_CMS_ContentInfo(cms, &der)) <= 0)
		goto out;
	p = der;
	if ((ci = d2i_CMP_CINFO(NULL, &p, len)) == NULL ||
	    ci->content->type != V_ASN1_SEQUENCE)
		goto out;
	if ((*out = OPENSSL_memdup(ci->content->value.sequence->data,
		 ci->content->value.sequence->length)) != NULL)
		rc = ci->content->value.sequence->length;
out:
	CMP_CINFO_free(ci);
	OPENSSL_free(der);
	return rc;
}

/* The key as AsymmetricKeyPackage, signed by ca: the DER of the
 * SignedData in *out (caller wipes and frees). Returns its length or 0. */
static int
kga_signed(EVP_PKEY *key, const struct ca_ident *ca, unsigned char **out)
{
	STACK_OF(PKCS8_PRIV_KEY_INFO) *akp = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	CMS_ContentInfo *cms = NULL;
	ASN1_OBJECT *akp_oid = NULL;
	unsigned char *der = NULL;
	BIO *in = NULL;
	int i, len = 0, rc = 0;

	*out = NULL;
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL ||
	    (akp = sk_PKCS8_PRIV_KEY_INFO_new_null()) == NULL ||
	    !sk_PKCS8_PRIV_KEY_INFO_push(akp, p8))
		goto out;
	p8 = NULL; /* in akp */
	if ((len = ASN1_item_i2d((ASN1_VALUE *)akp, &der,
		 ASN1_ITEM_rptr(CMP_AKP))) <= 0 ||
	    (in = BIO_new_mem_buf(der, len)) == NULL ||
	    (akp_oid = OBJ_txt2obj(KGA_OID_AKP, 1)) == NULL)
		goto out;
	/* The CA key in the HSM signs (through libp11, as for
	 * certificates); its chain goes along for the client to check. */
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY |
		 CMS_NOSMIMECAP)) == NULL ||
	    CMS_add1_signer(cms, ca->cert, ca->key, ca->md, CMS_BINARY |
		CMS_NOSMIMECAP) == NULL ||
	    !CMS_set1_eContentType(cms, akp_oid))
		goto out;
	for (i = 1; i < sk_X509_num(ca->chain); i++)
		if (!CMS_add1_cert(cms, sk_X509_value(ca->chain, i)))
			goto out;
	if (CMS_final(cms, in, NULL, CMS_BINARY) != 1)
		goto out;
	rc = cinfo_content(cms, out);
out:
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)len);
	BIO_free(in);
	ASN1_OBJECT_free(akp_oid);
	CMS_ContentInfo_free(cms);
	PKCS8_PRIV_KEY_INFO_free(p8);
	sk_PKCS8_PRIV_KEY_INFO_pop_free(akp, PKCS8_PRIV_KEY_INFO_free);
	return rc;
}

/* Adds the recipient: the password pw, or the key of rcpt. 1 or 0. */
static int
kga_recipient(CMS_ContentInfo *cms, const unsigned char *pw, size_t pwlen,
    X509 *rcpt)
{
	CMS_RecipientInfo *ri;
	EVP_PKEY_CTX *pctx;
	unsigned char *pass;

	if (pw != NULL) {
		/* The RecipientInfo owns (and wipes) its copy. */
		if ((pass = OPENSSL_memdup(pw, pwlen)) == NULL)
			return 0;
		if (CMS_add0_recipient_password(cms, KGA_PBKDF2_ITER,
			NID_id_alg_PWRI_KEK, NID_hmacWithSHA256, pass,
			(ossl_ssize_t)pwlen, EVP_aes_256_cbc()) == NULL) {
			OPENSSL_clear_free(pass, pwlen);
			return 0;
		}
		return 1;
	}
	if (rcpt == NULL || X509_get0_pubkey(rcpt) == NULL)
		return 0;
	if (EVP_PKEY_get_base_id(X509_get0_pubkey(rcpt)) == EVP_PKEY_EC) {
		/* ECDH with the X9.63 KDF over SHA-256 (RFC 9481 §4.1.1,
		 * dhSinglePass-stdDH-sha256kdf-scheme), not OpenSSL's
		 * default SHA-1. */
		if ((ri = CMS_add1_recipient_cert(cms, rcpt,
			 CMS_KEY_PARAM)) == NULL ||
		    (pctx = CMS_RecipientInfo_get0_pkey_ctx(ri)) == NULL)
			return 0;
		return EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) > 0;
	}
	if (EVP_PKEY_get_base_id(X509_get0_pubkey(rcpt)) != EVP_PKEY_RSA)
		return 0;
	/* RSA: OAEP with SHA-256 (RFC 9481 §4.2), not PKCS#1 v1.5. */
	if ((ri = CMS_add1_recipient_cert(cms, rcpt, CMS_KEY_PARAM)) == NULL ||
	    (pctx = CMS_RecipientInfo_get0_pkey_ctx(ri)) == NULL)
		return 0;
	return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) >
	    0 && EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) > 0 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
}

/* See issue.h. */
CMS_ContentInfo *
kga_envelope(EVP_PKEY *key, const struct ca_ident *ca,
    const unsigned char *pw, size_t pwlen, X509 *rcpt)
{
	CMS_ContentInfo *cms = NULL;
	unsigned char *sd = NULL;
	BIO *in = NULL;
	int sdlen = 0, ok = 0;

	if ((sdlen = kga_signed(key, ca, &sd)) <= 0 ||
	    (in = BIO_new_mem_buf(sd, sdlen)) == NULL ||
	    (cms = CMS_EnvelopedData_create(EVP_aes_256_cbc())) == NULL ||
	    !kga_recipient(cms, pw, pwlen, rcpt) ||
	    !CMS_set1_eContentType(cms, OBJ_nid2obj(NID_pkcs7_signed)) ||
	    /* The ciphertext in the structure (CMS_encrypt does the same):
	     * created, an EnvelopedData counts as detached. */
	    !CMS_set_detached(cms, 0) ||
	    CMS_final(cms, in, NULL, CMS_BINARY) != 1)
		goto out;
	ok = 1;
out:
	if (!ok) {
		CMS_ContentInfo_free(cms);
		cms = NULL;
		ERR_clear_error();
	}
	if (sd != NULL)
		OPENSSL_clear_free(sd, (size_t)sdlen);
	BIO_free(in);
	return cms;
}

/* See issue.h. */
ASN1_TYPE *
kga_package(EVP_PKEY *key, const struct ca_ident *ca, const unsigned char *pw,
    size_t pwlen, X509 *rcpt)
{
	STACK_OF(ASN1_TYPE) *env = NULL;
	CMS_ContentInfo *cms = NULL;
	unsigned char *ed = NULL, *ek = NULL;
	const unsigned char *p;
	ASN1_STRING *s = NULL;
	ASN1_TYPE *t = NULL;
	int edlen, eklen;

	if ((cms = kga_envelope(key, ca, pw, pwlen, rcpt)) == NULL ||
	    (edlen = cinfo_content(cms, &ed)) <= 0)
		goto out;
	/* EnvelopedData's fields under EncryptedKey's [0] IMPLICIT tag. */
	p = ed;
	if ((env = d2i_ASN1_SEQUENCE_ANY(NULL, &p, edlen)) == NULL ||
	    p != ed + edlen ||
	    (eklen = ASN1_item_i2d((ASN1_VALUE *)env, &ek,
		 ASN1_ITEM_rptr(CMP_ENVKEY))) <= 0 ||
	    (s = ASN1_STRING_type_new(V_ASN1_OTHER)) == NULL)
		goto out;
	ASN1_STRING_set0(s, ek, eklen);
	ek = NULL;
	if ((t = ASN1_TYPE_new()) == NULL)
		goto out;
	ASN1_TYPE_set(t, V_ASN1_OTHER, s);
	s = NULL;
out:
	if (t == NULL)
		ERR_clear_error();
	OPENSSL_free(ed);
	OPENSSL_free(ek);
	ASN1_STRING_free(s);
	sk_ASN1_TYPE_pop_free(env, ASN1_TYPE_free);
	CMS_ContentInfo_free(cms);
	return t;
}

/* See issue.h. */
int
kga_archive_aad(const char *ca_label, EVP_PKEY *pub, char *buf, size_t len)
{
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	int n, dlen, i, rc = 0;

	if (ca_label == NULL || pub == NULL ||
	    (dlen = i2d_PUBKEY(pub, &der)) <= 0)
		goto out;
	if (EVP_Digest(der, (size_t)dlen, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		goto out;
	n = snprintf(buf, len, "cmpca-archive/%s/", ca_label);
	if (n <= 0 || (size_t)n + 2 * sizeof(md) >= len)
		goto out;
	for (i = 0; i < (int)sizeof(md); i++)
		(void)snprintf(buf + n + 2 * i, 3, "%02x", md[i]);
	rc = 1;
out:
	OPENSSL_free(der);
	ERR_clear_error();
	return rc;
}
