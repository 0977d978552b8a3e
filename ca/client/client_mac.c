/*
 * client_mac.c - the CMP client's MAC protection (an RA towards its
 * upstream CA with a MAC credential, RFC 9483 §5.2.3): PBM parameters
 * with a fresh salt for each request, the request's MAC, and the check
 * of an answer's MAC (RFC 4211 §4.4, RFC 9481 §6.1.1). Below
 * cmp_client.c, which records the failures.
 */
#include <openssl/asn1t.h>
#include <openssl/rand.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "ca/client/client_int.h"

/* See client_int.h. */
int
client_mac_alg_set(CMP_HEADER *h)
{
	CMP_PBMPARAM *pbm = CMP_PBMPARAM_new();
	unsigned char salt[CLIENT_PBM_SALT_LEN];
	ASN1_STRING *seq = NULL;
	int ok = 0;

	if (pbm == NULL || RAND_bytes(salt, sizeof(salt)) != 1 ||
	    !ASN1_OCTET_STRING_set(pbm->salt, salt, sizeof(salt)) ||
	    !X509_ALGOR_set0(pbm->owf, OBJ_nid2obj(NID_sha256), V_ASN1_UNDEF,
		NULL) ||
	    !ASN1_INTEGER_set(pbm->iterationCount, CLIENT_PBM_ITER) ||
	    !X509_ALGOR_set0(pbm->mac, OBJ_nid2obj(NID_hmacWithSHA256),
		V_ASN1_UNDEF, NULL) ||
	    (seq = ASN1_item_pack(pbm, ASN1_ITEM_rptr(CMP_PBMPARAM), NULL)) ==
		NULL)
		goto out;
	X509_ALGOR_free(h->protectionAlg);
	if ((h->protectionAlg = X509_ALGOR_new()) == NULL ||
	    !X509_ALGOR_set0(h->protectionAlg, OBJ_nid2obj(NID_id_PasswordBasedMAC),
		V_ASN1_SEQUENCE, seq))
		goto out;
	seq = NULL;
	ok = 1;
out:
	ASN1_STRING_free(seq);
	CMP_PBMPARAM_free(pbm);
	return ok;
}

/* See client_int.h. */
int
client_mac_protect(const struct cmp_client *cl, CMP_MSG *m)
{
	struct cmp_mac mac;
	const char *why = NULL;
	int fail, ok;

	if (cmp_pbm_derive(m->header->protectionAlg, cl->secret,
		cl->secret_len, CLIENT_PBM_MAX_ITER, &mac, &fail, &why) != 1)
		return 0;
	ok = cmp_pbm_protect(m, &mac);
	cmp_mac_clear(&mac);
	return ok;
}

/* See client_int.h. */
int
client_mac_verify(const struct cmp_client *cl, const CMP_MSG *a)
{
	struct cmp_mac mac;
	const char *why = NULL;
	int fail, ok;

	if (cmp_pbm_derive(a->header->protectionAlg, cl->secret,
		cl->secret_len, CLIENT_PBM_MAX_ITER, &mac, &fail, &why) != 1)
		return 0;
	ok = cmp_pbm_verify(a, &mac, NULL, 0) == 1;
	cmp_mac_clear(&mac);
	return ok;
}
