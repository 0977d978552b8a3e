/*
 * cmp_protect.c - MAC-based protection with the password-based MAC of
 * RFC 4211 §4.4 (PBM), as RFC 9810 §5.1.3.1 and RFC 9481 §6.1.1 use it.
 *
 * The base key is derived once per message and reused for the response
 * (same salt, owf and iteration count): derivation dominates the cost of a
 * MAC-protected message, and the response is protected with the same
 * shared secret anyway.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "ca/ca.h"

/* HMAC algorithms accepted as PBM "mac" (RFC 9481 §6.2.1) and their
 * digests. */
static const struct {
	int mac_nid;
	int md_nid;
} pbm_macs[] = {
	{ NID_hmac_sha1, NID_sha1 },
	{ NID_hmacWithSHA1, NID_sha1 },
	{ NID_hmacWithSHA224, NID_sha224 },
	{ NID_hmacWithSHA256, NID_sha256 },
	{ NID_hmacWithSHA384, NID_sha384 },
	{ NID_hmacWithSHA512, NID_sha512 },
};

/* One-way functions accepted as PBM "owf" (RFC 9481 §2). */
static const int pbm_owfs[] = {
	NID_sha1, NID_sha224, NID_sha256, NID_sha384, NID_sha512,
};

/* Returns 1 if alg is a password-based MAC: PBM or PBMAC1. */
int
cmp_alg_is_pbm(const X509_ALGOR *alg)
{
	return alg != NULL &&
	    (OBJ_obj2nid(alg->algorithm) == NID_id_PasswordBasedMAC ||
		OBJ_obj2nid(alg->algorithm) == NID_pbmac1);
}

/* Digest of an HMAC AlgorithmIdentifier we accept, or NID_undef. */
static int
hmac_md_nid(const ASN1_OBJECT *alg)
{
	int nid = OBJ_obj2nid(alg);
	size_t i;

	for (i = 0; i < sizeof(pbm_macs) / sizeof(pbm_macs[0]); i++)
		if (pbm_macs[i].mac_nid == nid)
			return pbm_macs[i].md_nid;
	return NID_undef;
}

/*
 * PBMAC1 (RFC 8018 §7.1, RFC 9481 §6.1.3): the HMAC key is PBKDF2(secret,
 * salt, iterationCount, keyLength, prf). Its parameters have the shape of
 * PBES2-params (two AlgorithmIdentifiers), so PBE2PARAM decodes them.
 */
static int
pbmac1_derive(const ASN1_STRING *seq, const unsigned char *secret,
    size_t secret_len, long max_iter, struct cmp_mac *mac, int *fail,
    const char **why)
{
	const unsigned char *p = seq->data;
	PBE2PARAM *pb = NULL;
	PBKDF2PARAM *kdf = NULL;
	const EVP_MD *prf;
	int prf_nid = NID_hmacWithSHA1, rc = 0;
	long iter, keylen;

	*fail = CMP_FAIL_BAD_MESSAGE_CHECK;
	pb = d2i_PBE2PARAM(NULL, &p, seq->length);
	if (pb == NULL || p != seq->data + seq->length ||
	    OBJ_obj2nid(pb->keyfunc->algorithm) != NID_id_pbkdf2 ||
	    pb->keyfunc->parameter == NULL ||
	    pb->keyfunc->parameter->type != V_ASN1_SEQUENCE) {
		*why = "malformed PBMAC1 parameters (RFC 9481 §6.1.3)";
		goto out;
	}
	kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
	    pb->keyfunc->parameter);
	if (kdf == NULL || kdf->salt == NULL ||
	    kdf->salt->type != V_ASN1_OCTET_STRING) {
		*why = "malformed PBKDF2 parameters (RFC 8018 §5.2)";
		goto out;
	}
	*fail = CMP_FAIL_BAD_ALG;
	if ((mac->mac_nid = hmac_md_nid(pb->encryption->algorithm)) ==
	    NID_undef) {
		*why = "unsupported PBMAC1 messageAuthScheme (RFC 9481 §6.2)";
		goto out;
	}
	if (kdf->prf != NULL)
		prf_nid = OBJ_obj2nid(kdf->prf->algorithm);
	if (prf_nid == NID_hmac_sha1 ||
	    (prf = EVP_get_digestbynid(hmac_md_nid(
		 OBJ_nid2obj(prf_nid)))) == NULL) {
		*why = "unsupported PBKDF2 prf (RFC 9481 §4.4)";
		goto out;
	}
	*fail = CMP_FAIL_BAD_REQUEST;
	iter = ASN1_INTEGER_get(kdf->iter);
	keylen = kdf->keylength != NULL ? ASN1_INTEGER_get(kdf->keylength)
					: EVP_MD_get_size(
					      EVP_get_digestbynid(mac->mac_nid));
	if (iter < CA_MIN_PBM_ITER || iter > max_iter) {
		*why = "PBKDF2 iterationCount out of the accepted range";
		goto out;
	}
	if (keylen < 16 || keylen > (long)sizeof(mac->key) ||
	    kdf->salt->value.octet_string->length > CA_MAX_PBM_SALT) {
		*why = "PBKDF2 keyLength or salt out of range";
		goto out;
	}
	if (PKCS5_PBKDF2_HMAC((const char *)secret, (int)secret_len,
		kdf->salt->value.octet_string->data,
		kdf->salt->value.octet_string->length, (int)iter, prf,
		(int)keylen, mac->key) != 1) {
		rc = -1;
		goto out;
	}
	mac->key_len = (size_t)keylen;
	rc = 1;
out:
	PBKDF2PARAM_free(kdf);
	PBE2PARAM_free(pb);
	return rc;
}

/* Wipes a derived key. */
void
cmp_mac_clear(struct cmp_mac *mac)
{
	OPENSSL_cleanse(mac, sizeof(*mac));
}

/* Derives the PBM base key; see ca.h for the contract. */
int
cmp_pbm_derive(const X509_ALGOR *alg, const unsigned char *secret,
    size_t secret_len, long max_iter, struct cmp_mac *mac, int *fail,
    const char **why)
{
	const ASN1_STRING *seq;
	const unsigned char *p;
	CMP_PBMPARAM *pbm = NULL;
	const EVP_MD *owf;
	EVP_MD_CTX *ctx = NULL;
	unsigned int len;
	long iter;
	size_t i;
	int owf_nid, mac_nid, rc = -1;

	memset(mac, 0, sizeof(*mac));
	*fail = CMP_FAIL_BAD_ALG;
	if (!cmp_alg_is_pbm(alg) || alg->parameter == NULL ||
	    alg->parameter->type != V_ASN1_SEQUENCE) {
		*why = "protectionAlg is not PBM or PBMAC1 with parameters "
		       "(RFC 4211 §4.4, RFC 9481 §6.1)";
		return 0;
	}
	seq = alg->parameter->value.sequence;
	if (OBJ_obj2nid(alg->algorithm) == NID_pbmac1) {
		rc = pbmac1_derive(seq, secret, secret_len, max_iter, mac, fail,
		    why);
		if (rc != 1)
			cmp_mac_clear(mac);
		return rc;
	}
	p = seq->data;
	pbm = d2i_CMP_PBMPARAM(NULL, &p, seq->length);
	if (pbm == NULL || p != seq->data + seq->length) {
		*fail = CMP_FAIL_BAD_MESSAGE_CHECK;
		*why = "malformed PBMParameter (RFC 4211 §4.4)";
		rc = 0;
		goto out;
	}
	owf_nid = OBJ_obj2nid(pbm->owf->algorithm);
	for (i = 0; i < sizeof(pbm_owfs) / sizeof(pbm_owfs[0]); i++)
		if (pbm_owfs[i] == owf_nid)
			break;
	if (i == sizeof(pbm_owfs) / sizeof(pbm_owfs[0])) {
		*why = "unsupported PBM owf (RFC 9481 §6.1.1)";
		rc = 0;
		goto out;
	}
	mac_nid = OBJ_obj2nid(pbm->mac->algorithm);
	for (i = 0; i < sizeof(pbm_macs) / sizeof(pbm_macs[0]); i++)
		if (pbm_macs[i].mac_nid == mac_nid)
			break;
	if (i == sizeof(pbm_macs) / sizeof(pbm_macs[0])) {
		*why = "unsupported PBM mac (RFC 9481 §6.2.1)";
		rc = 0;
		goto out;
	}
	mac->mac_nid = pbm_macs[i].md_nid;
	iter = ASN1_INTEGER_get(pbm->iterationCount);
	/* RFC 4211 §4.4: "The iterationCount MUST be a minimum of 100". */
	if (iter < CA_MIN_PBM_ITER || iter > max_iter) {
		*fail = CMP_FAIL_BAD_REQUEST;
		*why = "PBM iterationCount out of the accepted range "
		       "(RFC 4211 §4.4)";
		rc = 0;
		goto out;
	}
	if (pbm->salt->length > CA_MAX_PBM_SALT) {
		*fail = CMP_FAIL_BAD_REQUEST;
		*why = "PBM salt too long";
		rc = 0;
		goto out;
	}
	owf = EVP_get_digestbynid(owf_nid);
	if (owf == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	/* basekey = owf(secret || salt), then iterationCount - 1 more. */
	if (!EVP_DigestInit_ex(ctx, owf, NULL) ||
	    !EVP_DigestUpdate(ctx, secret, secret_len) ||
	    !EVP_DigestUpdate(ctx, pbm->salt->data, (size_t)pbm->salt->length) ||
	    !EVP_DigestFinal_ex(ctx, mac->key, &len))
		goto out;
	for (iter--; iter > 0; iter--) {
		if (!EVP_DigestInit_ex(ctx, owf, NULL) ||
		    !EVP_DigestUpdate(ctx, mac->key, len) ||
		    !EVP_DigestFinal_ex(ctx, mac->key, &len))
			goto out;
	}
	mac->key_len = len;
	rc = 1;
out:
	if (rc != 1)
		cmp_mac_clear(mac);
	EVP_MD_CTX_free(ctx);
	CMP_PBMPARAM_free(pbm);
	return rc;
}

/* HMAC over DER(ProtectedPart). Returns 1 or 0. */
static int
pbm_compute(const CMP_MSG *msg, const struct cmp_mac *mac,
    unsigned char *out, unsigned int *outlen)
{
	CMP_PROTECTEDPART pp;
	unsigned char *der = NULL;
	int len, ok;

	pp.header = msg->header;
	pp.body = msg->body;
	len = i2d_CMP_PROTECTEDPART(&pp, &der);
	if (len <= 0)
		return 0;
	ok = HMAC(EVP_get_digestbynid(mac->mac_nid), mac->key,
		 (int)mac->key_len, der, (size_t)len, out, outlen) != NULL;
	OPENSSL_free(der);
	return ok;
}

/* Verifies the protection; 1 good, 0 bad, -1 internal. */
int
cmp_pbm_verify(const CMP_MSG *msg, const struct cmp_mac *mac)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	int rc;

	if (msg->protection == NULL)
		return 0;
	if (!pbm_compute(msg, mac, md, &len))
		return -1;
	rc = (size_t)msg->protection->length == len &&
	    CRYPTO_memcmp(md, msg->protection->data, len) == 0;
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

/* Sets the protection of a message; protectionAlg must already be set. */
int
cmp_pbm_protect(CMP_MSG *msg, const struct cmp_mac *mac)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	int ok = 0;

	if (!pbm_compute(msg, mac, md, &len))
		return 0;
	ASN1_BIT_STRING_free(msg->protection);
	if ((msg->protection = ASN1_BIT_STRING_new()) == NULL)
		goto out;
	if (!ASN1_BIT_STRING_set(msg->protection, md, (int)len))
		goto out;
	/* No unused bits in the last octet. */
	msg->protection->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	msg->protection->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	ok = 1;
out:
	OPENSSL_cleanse(md, sizeof(md));
	return ok;
}
