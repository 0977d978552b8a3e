/*
 * crl_reason.c - CRLReason codes (RFC 5280 §5.3.1): their names, and which
 * of them a revocation here may carry. The codes are OpenSSL's
 * CRL_REASON_* (x509v3.h). The names are a table of our own because
 * OpenSSL 3.0's OCSP_crl_reason_str() knows no privilegeWithdrawn and no
 * aACompromise.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "ca/ca.h"

static const char *const reason_names[] = {
	[CRL_REASON_UNSPECIFIED] = "unspecified",
	[CRL_REASON_KEY_COMPROMISE] = "keyCompromise",
	[CRL_REASON_CA_COMPROMISE] = "cACompromise",
	[CRL_REASON_AFFILIATION_CHANGED] = "affiliationChanged",
	[CRL_REASON_SUPERSEDED] = "superseded",
	[CRL_REASON_CESSATION_OF_OPERATION] = "cessationOfOperation",
	[CRL_REASON_CERTIFICATE_HOLD] = "certificateHold",
	/* 7 is not used */
	[CRL_REASON_REMOVE_FROM_CRL] = "removeFromCRL",
	[CRL_REASON_PRIVILEGE_WITHDRAWN] = "privilegeWithdrawn",
	[CRL_REASON_AA_COMPROMISE] = "aACompromise",
};

/* See ca.h. */
const char *
ca_crl_reason_name(long r)
{
	if (r < 0 ||
	    (size_t)r >= sizeof(reason_names) / sizeof(reason_names[0]))
		return NULL;
	return reason_names[r];
}

/* See ca.h. */
int
ca_crl_reason_ok(long r)
{
	/* removeFromCRL ends a hold (cmpca cert release, an RA's rr); it
	 * is no reason to revoke for. A hold (certificateHold) is one. */
	return ca_crl_reason_name(r) != NULL &&
	    r != CRL_REASON_REMOVE_FROM_CRL;
}

/* See ca.h. */
int
ca_crl_reason_parse(const char *s, long *r)
{
	const char *p;
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || !ca_crl_reason_ok(v))
		return 0;
	*r = v;
	return 1;
}
