/*
 * cert_build.c - the frame every certificate this CA signs shares, so
 * that end entities (cmp_issue.c), CA certificates and rollover links
 * (cli_ca.c), cross certificates (cross.c) and OCSP signers
 * (ocsp_signer.c) get one serial policy and one validity rule: version
 * 3, a serial number from the HSM's RNG, the issuer's name, notBefore
 * now and notAfter never past the issuer's. Extensions and the
 * signature (ca_x509_sign, in the HSM) stay with each builder.
 */
#include <openssl/bn.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"

/* Octets of a serial number: 126 random bits (RFC 5280 §4.1.2.2 allows
 * up to 20 octets; CA/Browser Forum asks for at least 64 random bits). */
#define CERT_SERIAL_LEN 16

/* See ca.h. */
int
cert_serial_set(X509 *x, struct hsm *hsm)
{
	unsigned char rnd[CERT_SERIAL_LEN];
	BIGNUM *bn;
	int ok;

	if (!hsm_random(hsm, rnd, sizeof(rnd))) {
		log_err("serial number: %s", hsm_error());
		return 0;
	}
	/* Positive (top bit clear), never zero and always of full length
	 * (next bit set), so every serial encodes in 16 octets. */
	rnd[0] = (unsigned char)((rnd[0] & 0x7f) | 0x40);
	if ((bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL)
		return 0;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

/* See ca.h. */
int
cert_frame(X509 *x, struct hsm *hsm, X509 *issuer, const X509_NAME *subject,
    long days, time_t cap)
{
	time_t now = time(NULL), end = now + days * 86400L;

	if (cap != 0 && cap < end)
		end = cap;
	if (!X509_set_version(x, X509_VERSION_3) || !cert_serial_set(x, hsm) ||
	    !X509_set_issuer_name(
	        x, issuer != NULL ? X509_get_subject_name(issuer) : subject) ||
	    !X509_set_subject_name(x, subject) ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &end) == NULL)
		return 0;
	/* Never beyond the issuer: a relying party would refuse it. */
	if (issuer != NULL &&
	    ASN1_TIME_compare(
	        X509_get0_notAfter(x), X509_get0_notAfter(issuer)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(issuer)))
		return 0;
	return 1;
}
