/*
 * cmp_protect.c - MAC-based protection with the password-based MAC of
 * RFC 4211 §4.4 (PBM), as RFC 9810 §5.1.3.1 and RFC 9481 §6.1.1 use it.
 *
 * The base key is derived once per message and reused for the response
 * (same salt, owf and iteration count): derivation dominates the cost of a
 * MAC-protected message, and the response is protected with the same
 * shared secret anyway.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init(): pbm_sha256() */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"

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

/* Key derivations run by this process (cmp_pbm_derivations). */
static unsigned long derivations;

/* One-way functions accepted as PBM "owf" (RFC 9481 §2). */
static const int pbm_owfs[] = {
	NID_sha1, NID_sha224, NID_sha256, NID_sha384, NID_sha512,
};

/* HMAC (RFC 2104) with a fetched digest. Returns 1 or 0. */
static int
hmac_md(const EVP_MD *md, const unsigned char *key, size_t keylen,
    const unsigned char *data, size_t len, unsigned char *out,
    unsigned int *outlen)
{
	unsigned char k[EVP_MAX_MD_SIZE * 2], pad[EVP_MAX_MD_SIZE * 2];
	unsigned char inner[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t bs = (size_t)EVP_MD_get_block_size(md), i;
	unsigned int ilen = 0;
	int ok = 0;

	if (ctx == NULL || bs > sizeof(k))
		goto out;
	memset(k, 0, sizeof(k));
	if (keylen > bs) {
		if (!EVP_Digest(key, keylen, k, &ilen, md, NULL))
			goto out;
	} else
		memcpy(k, key, keylen);
	for (i = 0; i < bs; i++)
		pad[i] = k[i] ^ 0x36;
	if (!EVP_DigestInit_ex(ctx, md, NULL) ||
	    !EVP_DigestUpdate(ctx, pad, bs) ||
	    !EVP_DigestUpdate(ctx, data, len) ||
	    !EVP_DigestFinal_ex(ctx, inner, &ilen))
		goto out;
	for (i = 0; i < bs; i++)
		pad[i] = k[i] ^ 0x5c;
	ok = EVP_DigestInit_ex(ctx, md, NULL) &&
	    EVP_DigestUpdate(ctx, pad, bs) &&
	    EVP_DigestUpdate(ctx, inner, ilen) &&
	    EVP_DigestFinal_ex(ctx, out, outlen);
out:
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	EVP_MD_CTX_free(ctx);
	return ok;
}

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
	/* Each further prf output block costs iterationCount more HMACs:
	 * a longer key would multiply the iteration budget, unauthenticated
	 * (RFC 8018 §5.2). */
	if (keylen > EVP_MD_get_size(prf)) {
		*fail = CMP_FAIL_BAD_ALG;
		*why = "PBKDF2 keyLength longer than its prf's output "
		       "(RFC 9481 §6.1.3)";
		goto out;
	}
	derivations++;
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

/* See ca.h. */
unsigned long
cmp_pbm_derivations(void)
{
	return derivations;
}

/* Wipes a derived key. */
void
cmp_mac_clear(struct cmp_mac *mac)
{
	OPENSSL_cleanse(mac, sizeof(*mac));
}

/*
 * PBM's key with SHA-256 as owf (RFC 9481 §6.1.1: the one to support),
 * through the SHA-256 functions OpenSSL 3.0 marks deprecated: an EVP
 * digest costs twice as much per call as the hash of 32 bytes itself, and
 * a PBM costs iterationCount calls (500 from OpenSSL's client). The result
 * is the same as the EVP path below, which other owfs take (unit test).
 */
static void
pbm_sha256(const unsigned char *secret, size_t secret_len,
    const unsigned char *salt, size_t salt_len, long iter,
    unsigned char key[SHA256_DIGEST_LENGTH])
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, secret, secret_len);
	SHA256_Update(&c, salt, salt_len);
	SHA256_Final(key, &c);
	for (iter--; iter > 0; iter--) {
		SHA256_Init(&c);
		SHA256_Update(&c, key, SHA256_DIGEST_LENGTH);
		SHA256_Final(key, &c);
	}
	OPENSSL_cleanse(&c, sizeof(c));
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
	derivations++;
	if (owf_nid == NID_sha256) {
		pbm_sha256(secret, secret_len, pbm->salt->data,
		    (size_t)pbm->salt->length, iter, mac->key);
		mac->key_len = SHA256_DIGEST_LENGTH;
		rc = 1;
		goto out;
	}
	owf = ca_md_fetch(owf_nid);
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

/*
 * HMAC over DER(ProtectedPart). With keep set, *keep gets that DER (caller
 * frees). Returns 1 or 0.
 */
static int
pbm_compute(const CMP_MSG *msg, const struct cmp_mac *mac,
    unsigned char *out, unsigned int *outlen, unsigned char **keep,
    int *keep_len)
{
	CMP_PROTECTEDPART pp;
	unsigned char *der = NULL;
	int len, ok;

	pp.header = msg->header;
	pp.body = msg->body;
	len = i2d_CMP_PROTECTEDPART(&pp, &der);
	if (len <= 0)
		return 0;
	ok = hmac_md(ca_md_fetch(mac->mac_nid), mac->key, mac->key_len, der,
	    (size_t)len, out, outlen);
	if (ok && keep != NULL) {
		*keep = der;
		*keep_len = len;
		der = NULL;
	}
	OPENSSL_free(der);
	return ok;
}

/*
 * HMAC over the ProtectedPart as received (RFC 9810 §5.1.3: the DER of
 * header and body, which a DER message carries as they are): no encoding
 * of the parsed message. Returns 1 or 0.
 */
static int
pbm_compute_raw(const unsigned char *raw, size_t raw_len,
    const struct cmp_mac *mac, unsigned char *out, unsigned int *outlen)
{
	unsigned char *buf;
	size_t n;
	int ok;

	if ((buf = OPENSSL_malloc(raw_len + 8)) == NULL)
		return 0;
	n = cmp_pp_prefix(raw_len, buf);
	memcpy(buf + n, raw, raw_len);
	ok = hmac_md(ca_md_fetch(mac->mac_nid), mac->key, mac->key_len, buf,
	    n + raw_len, out, outlen);
	OPENSSL_free(buf);
	return ok;
}

/* Verifies the protection; 1 good, 0 bad, -1 internal. */
int
cmp_pbm_verify(const CMP_MSG *msg, const struct cmp_mac *mac,
    const unsigned char *raw, size_t raw_len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	int rc;

	if (msg->protection == NULL)
		return 0;
	/* The bytes received first; a sender that encoded header or body
	 * in BER still MACed their DER (RFC 9810 §5.1.3), which only the
	 * re-encoding gives. */
	if (raw != NULL && pbm_compute_raw(raw, raw_len, mac, md, &len) &&
	    (size_t)msg->protection->length == len &&
	    CRYPTO_memcmp(md, msg->protection->data, len) == 0) {
		OPENSSL_cleanse(md, sizeof(md));
		return 1;
	}
	if (!pbm_compute(msg, mac, md, &len, NULL, NULL))
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
	unsigned char md[EVP_MAX_MD_SIZE], *pp = NULL;
	unsigned int len = 0;
	int pp_len = 0, ok = 0;

	if (!pbm_compute(msg, mac, md, &len, &pp, &pp_len))
		return 0;
	ASN1_BIT_STRING_free(msg->protection);
	if ((msg->protection = ASN1_BIT_STRING_new()) == NULL)
		goto out;
	if (!ASN1_BIT_STRING_set(msg->protection, md, (int)len))
		goto out;
	/* No unused bits in the last octet. */
	msg->protection->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	msg->protection->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	/* The encoding of the whole message follows from pp: kept for
	 * cmp_msg_encode_protected() (a failure there only costs the time
	 * saved). */
	(void)cmp_msg_keep_encoding(msg, pp, (size_t)pp_len);
	ok = 1;
out:
	OPENSSL_free(pp);
	OPENSSL_cleanse(md, sizeof(md));
	return ok;
}
