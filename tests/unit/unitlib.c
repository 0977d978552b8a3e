/*
 * unitlib.c - what several unit programs build their inputs from: names,
 * octet strings and a valid request header (see unitlib.h).
 */
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/objects.h>

#include "tests/unit/unitlib.h"

/* See unitlib.h. */
X509_NAME *
name_new(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	if (cn != NULL)
		EQ(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
		       (const unsigned char *)cn, -1, -1, 0),
		    1);
	return n;
}

GENERAL_NAME *
gn_dir(const char *cn)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();

	assert_non_null(gn);
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, name_new(cn));
	return gn;
}

ASN1_OCTET_STRING *
octets_new(int len, int fill)
{
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
	unsigned char buf[256];

	assert_true(s != NULL && len >= 0 && (size_t)len <= sizeof(buf));
	memset(buf, fill, sizeof(buf));
	EQ(ASN1_OCTET_STRING_set(s, buf, len), 1);
	return s;
}

/* A valid request header: pvno 2, EE to CA_CN, 16-byte txid and nonce. */
CMP_HEADER *
hdr_new(void)
{
	CMP_HEADER *h = CMP_HEADER_new();

	assert_non_null(h);
	EQ(ASN1_INTEGER_set(h->pvno, 2), 1);
	GENERAL_NAME_free(h->sender);
	h->sender = gn_dir("EE");
	GENERAL_NAME_free(h->recipient);
	h->recipient = gn_dir(CA_CN);
	h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL));
	assert_non_null(h->messageTime);
	h->transactionID = octets_new(16, 0x11);
	h->senderNonce = octets_new(16, 0x22);
	return h;
}

/* See unitlib.h. */
X509_ALGOR *
pbm_alg_raw(const unsigned char *der, int len)
{
	ASN1_STRING *seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	X509_ALGOR *alg = X509_ALGOR_new();

	assert_true(alg != NULL && seq != NULL);
	EQ(ASN1_STRING_set(seq, der, len), 1);
	EQ(X509_ALGOR_set0(
	       alg, OBJ_nid2obj(NID_id_PasswordBasedMAC), V_ASN1_SEQUENCE, seq),
	    1);
	return alg;
}

/* See unitlib.h. */
X509_ALGOR *
pbm_alg_new(int owf, int mac, long iter, int saltlen)
{
	CMP_PBMPARAM *p = CMP_PBMPARAM_new();
	unsigned char salt[128], *der = NULL;
	X509_ALGOR *alg;
	int i, len;

	assert_true(p != NULL && saltlen <= (int)sizeof(salt));
	for (i = 0; i < saltlen; i++)
		salt[i] = (unsigned char)(0xa0 + i);
	EQ(ASN1_OCTET_STRING_set(p->salt, salt, saltlen), 1);
	EQ(X509_ALGOR_set0(p->owf, OBJ_nid2obj(owf), V_ASN1_UNDEF, NULL), 1);
	EQ(ASN1_INTEGER_set(p->iterationCount, iter), 1);
	EQ(X509_ALGOR_set0(p->mac, OBJ_nid2obj(mac), V_ASN1_UNDEF, NULL), 1);
	assert_true((len = i2d_CMP_PBMPARAM(p, &der)) > 0);
	alg = pbm_alg_raw(der, len);
	OPENSSL_free(der);
	CMP_PBMPARAM_free(p);
	return alg;
}
