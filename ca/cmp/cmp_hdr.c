/*
 * cmp_hdr.c - PKIHeader checks for requests and headers for responses
 * (RFC 9810 §5.1.1, RFC 9483 §3.1).
 */
#include <string.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"

/* The pvno to answer with. */
int
cmp_hdr_pvno(const CMP_HEADER *h)
{
	long v;

	if (h == NULL || h->pvno == NULL)
		return 2;
	v = ASN1_INTEGER_get(h->pvno);
	return v == 3 ? 3 : 2;
}

static int
octets_in_range(const ASN1_OCTET_STRING *s, int min, int max)
{
	return s != NULL && s->length >= min && s->length <= max;
}

/* See ca.h. */
int
cmp_hdr_check(const CMP_HEADER *h, const X509_NAME *ca_name, long skew,
    int *fail, const char **why)
{
	long v = ASN1_INTEGER_get(h->pvno);

	if (v != 2 && v != 3) {
		*fail = CMP_FAIL_UNSUPPORTED_VERSION;
		*why = "pvno must be 2 (cmp2000) or 3 (cmp2021) "
		       "(RFC 9810 §7)";
		return 0;
	}
	if (!octets_in_range(h->transactionID, CA_MIN_TXID, CA_MAX_TXID)) {
		*fail = CMP_FAIL_BAD_REQUEST;
		*why = h->transactionID == NULL
		    ? "missing transactionID (RFC 9483 §3.1)"
		    : "transactionID length out of range";
		return 0;
	}
	if (!octets_in_range(h->senderNonce, CA_MIN_NONCE, CA_MAX_NONCE)) {
		*fail = CMP_FAIL_BAD_SENDER_NONCE;
		*why = h->senderNonce == NULL
		    ? "missing senderNonce (RFC 9483 §3.1)"
		    : "senderNonce length out of range";
		return 0;
	}
	if (h->recipNonce != NULL &&
	    !octets_in_range(h->recipNonce, CA_MIN_NONCE, CA_MAX_NONCE)) {
		*fail = CMP_FAIL_BAD_RECIPIENT_NONCE;
		*why = "recipNonce length out of range";
		return 0;
	}
	if (h->senderKID != NULL && h->senderKID->length > CA_MAX_KID) {
		*fail = CMP_FAIL_BAD_REQUEST;
		*why = "senderKID too long";
		return 0;
	}
	if (h->messageTime != NULL) {
		int day, sec;

		if (!ASN1_TIME_diff(&day, &sec, NULL, h->messageTime) ||
		    day != 0 || sec > skew || sec < -skew) {
			*fail = CMP_FAIL_BAD_TIME;
			*why = "messageTime too far from the CA's clock "
			       "(RFC 9810 §5.1.1)";
			return 0;
		}
	}
	if (h->recipient->type != GEN_DIRNAME) {
		*fail = CMP_FAIL_BAD_REQUEST;
		*why = "recipient must be a directoryName (RFC 9483 §3.1)";
		return 0;
	}
	if (X509_NAME_entry_count(h->recipient->d.directoryName) > 0 &&
	    ca_name != NULL &&
	    X509_NAME_cmp(h->recipient->d.directoryName, ca_name) != 0) {
		*fail = CMP_FAIL_WRONG_AUTHORITY;
		*why = "recipient does not name this CA (RFC 9483 §3.1)";
		return 0;
	}
	return 1;
}

/* See ca.h. */
int
cmp_hdr_implicit_confirm(const CMP_HEADER *h)
{
	int i;

	for (i = 0; i < sk_CMP_ITAV_num(h->generalInfo); i++) {
		const CMP_ITAV *itav = sk_CMP_ITAV_value(h->generalInfo, i);

		if (OBJ_obj2nid(itav->infoType) == NID_id_it_implicitConfirm)
			return 1;
	}
	return 0;
}

static int
hdr_add_implicit_confirm(CMP_HEADER *h)
{
	CMP_ITAV *itav = CMP_ITAV_new();

	if (itav == NULL)
		return 0;
	itav->infoType = OBJ_nid2obj(NID_id_it_implicitConfirm);
	if ((itav->infoValue = ASN1_TYPE_new()) == NULL)
		goto fail;
	ASN1_TYPE_set(itav->infoValue, V_ASN1_NULL, NULL);
	if (h->generalInfo == NULL &&
	    (h->generalInfo = sk_CMP_ITAV_new_null()) == NULL)
		goto fail;
	if (!sk_CMP_ITAV_push(h->generalInfo, itav))
		goto fail;
	return 1;
fail:
	CMP_ITAV_free(itav);
	return 0;
}

/* Replaces *gn with a directoryName holding a copy of name. */
static int
gn_set_dirname(GENERAL_NAME **gn, const X509_NAME *name)
{
	GENERAL_NAME *n = GENERAL_NAME_new();
	X509_NAME *dup = X509_NAME_dup(name);

	if (n == NULL || dup == NULL) {
		GENERAL_NAME_free(n);
		X509_NAME_free(dup);
		return 0;
	}
	GENERAL_NAME_set0_value(n, GEN_DIRNAME, dup);
	GENERAL_NAME_free(*gn);
	*gn = n;
	return 1;
}

static ASN1_OCTET_STRING *
octets_dup(const ASN1_OCTET_STRING *s)
{
	return s != NULL ? ASN1_OCTET_STRING_dup(s) : NULL;
}

/* See ca.h. */
CMP_HEADER *
cmp_hdr_response(const CMP_HEADER *req, const X509_NAME *ca_name, int pvno,
    int mac, int implicit_confirm, const unsigned char *nonce)
{
	CMP_HEADER *h = CMP_HEADER_new();
	X509_NAME *empty = NULL;

	if (h == NULL)
		return NULL;
	if (!ASN1_INTEGER_set(h->pvno, pvno))
		goto fail;
	/* sender: our CA name (a directoryName, RFC 9483 §3.1). */
	if (ca_name == NULL) {
		if ((empty = X509_NAME_new()) == NULL)
			goto fail;
		ca_name = empty;
	}
	if (!gn_set_dirname(&h->sender, ca_name))
		goto fail;
	GENERAL_NAME_free(h->recipient);
	h->recipient = NULL;
	if (req != NULL && req->sender != NULL)
		h->recipient = GENERAL_NAME_dup(req->sender);
	else {
		/* Unknown peer: the NULL-DN (RFC 9810 §5.1.1). */
		X509_NAME *null_dn = X509_NAME_new();

		if (null_dn == NULL || !gn_set_dirname(&h->recipient, null_dn)) {
			X509_NAME_free(null_dn);
			goto fail;
		}
		X509_NAME_free(null_dn);
	}
	if (h->recipient == NULL)
		goto fail;
	if ((h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL))) ==
	    NULL)
		goto fail;
	if ((h->senderNonce = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(h->senderNonce, nonce, CA_NONCE_LEN))
		goto fail;
	if (req != NULL) {
		if (req->transactionID != NULL &&
		    (h->transactionID = octets_dup(req->transactionID)) == NULL)
			goto fail;
		if (req->senderNonce != NULL &&
		    (h->recipNonce = octets_dup(req->senderNonce)) == NULL)
			goto fail;
		if (mac) {
			if ((h->protectionAlg = X509_ALGOR_dup(
				 req->protectionAlg)) == NULL)
				goto fail;
			if (req->senderKID != NULL &&
			    (h->senderKID = octets_dup(req->senderKID)) ==
				NULL)
				goto fail;
		}
	}
	if (implicit_confirm && !hdr_add_implicit_confirm(h))
		goto fail;
	X509_NAME_free(empty);
	return h;
fail:
	X509_NAME_free(empty);
	CMP_HEADER_free(h);
	return NULL;
}
