/*
 * cmp_kga.c - central key generation in a certificate request (RFC 9483
 * §4.1.6, RFC 9810 §5.2.8): who may have the CA make the key, making it
 * in the HSM, and returning it to the requester alone.
 *
 * The key exists in this worker's memory from its generation
 * (hsm_keygen_ee) until the response that carries it, wrapped for the
 * requester, is built, and is freed (OpenSSL clears private key material
 * on free) with the request. Under a profile with archive_keys it is
 * also kept, encrypted in the HSM under the CA's archival key
 * (hsm_archive.c), in the row key_archive stores with the certificate;
 * a certificate the client rejects in certConf (or never confirms)
 * takes that row with it (027_key_archive.sql). Without archive_keys no
 * copy of the key is left anywhere.
 */
#include <string.h>

#include <openssl/err.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"

/* See cmp_srv.h. */
int
cmp_kga_prepare(struct req *r, CRMF_CERTREQMSG *m,
    const struct cfg_profile *prof, EVP_PKEY **key, int *fail,
    const char **why)
{
	CRMF_CERTTEMPLATE *t = m->certReq->certTemplate;
	enum hsm_keytype type;
	int base;

	*key = NULL;
	if (!kga_key_type(prof, t, &type, fail, why))
		return 0;
	*fail = CMP_FAIL_NOT_AUTHORIZED;
	if (r->ca->upstream) {
		*why = "an upstream identity does not generate keys (central "
		       "key generation is the upstream CA's)";
		return 0;
	}
	if (prof->approval) {
		*why = "central key generation does not wait for the operator "
		       "(approval of the profile)";
		return 0;
	}
	if (r->have_mac && (r->secret.secret == NULL ||
		r->secret.secret_len == 0))
		return -1;
	if (!r->have_mac) {
		base = r->have_sig && r->prot_cert != NULL &&
			X509_get0_pubkey(r->prot_cert) != NULL
		    ? EVP_PKEY_get_base_id(X509_get0_pubkey(r->prot_cert))
		    : EVP_PKEY_NONE;
		if (base != EVP_PKEY_RSA && base != EVP_PKEY_EC) {
			*why = "the generated key needs a recipient: MAC "
			       "protection, or a signature by an RSA or EC key "
			       "(RFC 9483 §4.1.6)";
			return 0;
		}
	}
	*fail = CMP_FAIL_BAD_POP;
	if (m->popo != NULL) {
		*why = "proof of possession must be absent when the CA "
		       "generates the key (RFC 9483 §4.1.6)";
		return 0;
	}
	if (!hsm_keygen_ee(r->srv->hsm, type, key)) {
		log_err("req %lu: central key generation failed: %s", r->id,
		    hsm_error());
		return -1;
	}
	/* The certificate certifies the generated key: the template now
	 * names it, and everything after checks and copies it as usual. */
	if (!cmp_spki_set(&t->publicKey, *key)) {
		EVP_PKEY_free(*key);
		*key = NULL;
		return -1;
	}
	return 1;
}

/* See cmp_srv.h. */
int
cmp_kga_attach(struct req *r, CMP_CERTRESPONSE *resp, EVP_PKEY *key)
{
	ASN1_TYPE *pk;

	if (resp->certifiedKeyPair == NULL)
		return 0;
	pk = kga_package(key, r->ca, r->have_mac ? r->secret.secret : NULL,
	    r->have_mac ? r->secret.secret_len : 0,
	    r->have_mac ? NULL : r->prot_cert);
	if (pk == NULL) {
		log_err("req %lu: cannot package the generated key for the "
		    "requester", r->id);
		return 0;
	}
	ASN1_TYPE_free(resp->certifiedKeyPair->privateKey);
	resp->certifiedKeyPair->privateKey = pk;
	return 1;
}

/* See cmp_srv.h. */
int
cmp_kga_archive(struct req *r, EVP_PKEY *key, unsigned char **out,
    size_t *outlen, int *fail, const char **why)
{
	char aad[KGA_AAD_MAX];
	int rc;

	*out = NULL;
	*outlen = 0;
	if (!kga_archive_aad(r->ca->label, key, aad, sizeof(aad)))
		return -1;
	rc = hsm_archive_wrap(r->srv->hsm, r->ca->label, aad, key, out, outlen);
	if (rc == 0) {
		log_err("req %lu: cannot archive the generated key: %s", r->id,
		    hsm_error());
		*fail = CMP_FAIL_SYSTEM_UNAVAIL;
		*why = "the profile archives generated keys and this CA has no "
		       "archival key in the HSM (archive_keys; the operator "
		       "creates it: cmpca ca archival-key)";
		return 0;
	}
	if (rc < 0)
		log_err("req %lu: cannot archive the generated key: %s", r->id,
		    hsm_error());
	return rc;
}
