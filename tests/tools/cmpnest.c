/*
 * cmpnest - test tool: wraps CMP requests into a nested message (RFC 9810
 * §5.1.3.4) protected by an RA's signature, as an RA forwarding requests
 * would (RFC 9483 §5.2.2). Writes the DER to stdout.
 *
 * usage: cmpnest RA-CERT.pem RA-KEY.pem RECIPIENT-CA.pem INNER.der...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include "ca/ca.h"

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(CA_MAX_REQUEST);

	if (f == NULL || buf == NULL) {
		free(buf);
		if (f != NULL)
			fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, CA_MAX_REQUEST, f);
	fclose(f);
	return buf;
}

static ASN1_OCTET_STRING *
random_octets(int n)
{
	unsigned char b[16];
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();

	if (s == NULL || n > 16 || RAND_bytes(b, n) != 1 ||
	    !ASN1_OCTET_STRING_set(s, b, n)) {
		ASN1_OCTET_STRING_free(s);
		return NULL;
	}
	return s;
}

int
main(int argc, char **argv)
{
	STACK_OF(CMP_MSG) *in = sk_CMP_MSG_new_null();
	CMP_MSG *m = CMP_MSG_new();
	CMP_PROTECTEDPART pp;
	X509 *ra = NULL, *ca = NULL;
	EVP_PKEY *key = NULL;
	FILE *f;
	unsigned char *der = NULL;
	int i, len, nid;

	if (argc < 5 || in == NULL || m == NULL) {
		fprintf(stderr, "usage: cmpnest RA-CERT RA-KEY CA-CERT INNER...\n");
		return 2;
	}
	if ((f = fopen(argv[1], "r")) != NULL) {
		ra = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(argv[2], "r")) != NULL) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(argv[3], "r")) != NULL) {
		ca = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (ra == NULL || key == NULL || ca == NULL)
		return 1;
	for (i = 4; i < argc; i++) {
		size_t n = 0;
		unsigned char *buf = slurp(argv[i], &n);
		const char *why;
		CMP_MSG *x = buf != NULL ? cmp_msg_parse(buf, n, &why) : NULL;

		free(buf);
		if (x == NULL || !sk_CMP_MSG_push(in, x))
			return 1;
	}
	ASN1_INTEGER_set(m->header->pvno, 2);
	GENERAL_NAME_set0_value(m->header->sender, GEN_DIRNAME,
	    X509_NAME_dup(X509_get_subject_name(ra)));
	GENERAL_NAME_set0_value(m->header->recipient, GEN_DIRNAME,
	    X509_NAME_dup(X509_get_subject_name(ca)));
	m->header->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL));
	m->header->transactionID = random_octets(16);
	m->header->senderNonce = random_octets(16);
	if (X509_get0_subject_key_id(ra) != NULL)
		m->header->senderKID =
		    ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(ra));
	if (!OBJ_find_sigid_by_algs(&nid, NID_sha256, EVP_PKEY_get_base_id(key)))
		return 1;
	m->header->protectionAlg = X509_ALGOR_new();
	X509_ALGOR_set0(m->header->protectionAlg, OBJ_nid2obj(nid),
	    V_ASN1_UNDEF, NULL);
	m->body->type = CMP_BODY_NESTED;
	len = ASN1_item_i2d((const ASN1_VALUE *)in, &der,
	    ASN1_ITEM_rptr(CMP_MSGS));
	m->body->value.other = ASN1_TYPE_new();
	{
		ASN1_STRING *seq = ASN1_STRING_new();

		ASN1_STRING_set0(seq, der, len);
		ASN1_TYPE_set(m->body->value.other, V_ASN1_SEQUENCE, seq);
	}
	pp.header = m->header;
	pp.body = m->body;
	m->protection = ASN1_BIT_STRING_new();
	if (ASN1_item_sign(ASN1_ITEM_rptr(CMP_PROTECTEDPART), NULL, NULL,
		m->protection, &pp, key, EVP_sha256()) <= 0)
		return 1;
	m->extraCerts = sk_X509_new_null();
	X509_up_ref(ra);
	sk_X509_push(m->extraCerts, ra);
	der = NULL;
	if ((len = i2d_CMP_MSG(m, &der)) <= 0)
		return 1;
	fwrite(der, 1, (size_t)len, stdout);
	OPENSSL_free(der);
	CMP_MSG_free(m);
	sk_CMP_MSG_pop_free(in, CMP_MSG_free);
	X509_free(ra);
	X509_free(ca);
	EVP_PKEY_free(key);
	return 0;
}
