/*
 * cmp_upstream_check.c - cmpca as an RA (RFC 9483 §5): what the RA checks
 * in the upstream CA's answer, for requests it re-protects
 * (cmp_upstream.c) and for those it forwards in nested
 * (cmp_upstream_nest.c): the certificate's public key is the one
 * requested, its subject the template's, its subjectAltNames among those
 * asked for, and it chains to the upstream CA's certificate; and the
 * refusals the device gets, naming the upstream's text.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"

/* See cmp_srv.h. */
int
cmp_upstream_refuse(int rid, int fail, const char *why, CMP_CERTRESPONSE **resp,
    int *failp, const char **whyp)
{
	*failp = fail;
	*whyp = why;
	*resp = cmp_certresp_new(rid, CMP_STATUS_REJECTION, fail, why, NULL);
	return *resp != NULL ? 0 : -1;
}

/* See cmp_srv.h. */
const char *
cmp_upstream_text(struct req *r, const CMP_PKISI *si)
{
	char one[CA_LOG_SAN_MAX] = "";

	if (si != NULL && sk_ASN1_UTF8STRING_num(si->statusString) > 0) {
		const ASN1_UTF8STRING *s =
		    sk_ASN1_UTF8STRING_value(si->statusString, 0);

		log_sanitize(s->data, (size_t)s->length, one, sizeof(one));
	}
	snprintf(r->why_buf, sizeof(r->why_buf), "the upstream CA refused%s%.200s",
	    one[0] != '\0' ? ": " : "", one);
	return r->why_buf;
}

/* Is every subjectAltName of x one the template asked for? 1 or 0. */
static int
sans_asked(X509 *x, const CRMF_CERTTEMPLATE *t)
{
	GENERAL_NAMES *got = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL);
	GENERAL_NAMES *want = NULL;
	X509_EXTENSION *e;
	int i, j, ok = 1;

	if (got == NULL)
		return 1;
	for (i = 0; i < sk_X509_EXTENSION_num(t->extensions); i++) {
		e = sk_X509_EXTENSION_value(t->extensions, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) ==
		    NID_subject_alt_name) {
			want = X509V3_EXT_d2i(e);
			break;
		}
	}
	for (i = 0; ok && i < sk_GENERAL_NAME_num(got); i++) {
		for (j = 0; j < sk_GENERAL_NAME_num(want); j++)
			if (GENERAL_NAME_cmp(sk_GENERAL_NAME_value(got, i),
				sk_GENERAL_NAME_value(want, j)) == 0)
				break;
		ok = want != NULL && j < sk_GENERAL_NAME_num(want);
	}
	GENERAL_NAMES_free(got);
	GENERAL_NAMES_free(want);
	return ok;
}

/* Does x chain to the upstream CA's certificate (the identity's chain)
 * with the answer's extraCerts as intermediates? 1 or 0. */
static int
chains_upstream(const struct req *r, X509 *x, STACK_OF(X509) *extra)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int i, ok = 0;

	if (st == NULL || ctx == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(r->ca->chain); i++)
		if (!X509_STORE_add_cert(st, sk_X509_value(r->ca->chain, i)))
			goto out;
	/* The upstream CA's certificate is the anchor, root or not. */
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	if (!X509_STORE_CTX_init(ctx, st, x, extra))
		goto out;
	ok = X509_verify_cert(ctx) == 1;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ok;
}

/* See cmp_srv.h. */
const char *
cmp_upstream_cert_check(const struct req *r, X509 *x, const CRMF_CERTTEMPLATE *t,
    EVP_PKEY *pub, STACK_OF(X509) *extra)
{
	/* A p10cr's template is made from its CSR (cmp_certreq.c). */
	const X509_NAME *subj = t->subject;

	if (pub == NULL || EVP_PKEY_eq(X509_get0_pubkey(x), pub) != 1) {
		ERR_clear_error();
		return "its public key is not the one requested";
	}
	if (subj != NULL && X509_NAME_entry_count(subj) > 0 &&
	    X509_NAME_cmp(X509_get_subject_name(x), subj) != 0)
		return "its subject is not the one requested";
	if (!sans_asked(x, t))
		return "it carries subjectAltNames not requested";
	if (!chains_upstream(r, x, extra))
		return "it does not chain to the upstream CA certificate";
	return NULL;
}

/* See cmp_srv.h. */
CMP_CERTRESPONSE *
cmp_upstream_find_resp(const CMP_CERTREPMESSAGE *rep, int rid)
{
	int i, n = sk_CMP_CERTRESPONSE_num(rep->response);

	for (i = 0; i < n; i++) {
		CMP_CERTRESPONSE *cr = sk_CMP_CERTRESPONSE_value(rep->response,
		    i);

		if (n == 1 || ASN1_INTEGER_get(cr->certReqId) == rid)
			return cr;
	}
	return NULL;
}

/* See cmp_srv.h. */
X509 *
cmp_upstream_issued(const CMP_CERTRESPONSE *cr)
{
	long status = ASN1_INTEGER_get(cr->status->status);

	if ((status != CMP_STATUS_ACCEPTED &&
		status != CMP_STATUS_GRANTED_WITH_MODS) ||
	    cr->certifiedKeyPair == NULL ||
	    cr->certifiedKeyPair->certOrEncCert == NULL ||
	    cr->certifiedKeyPair->certOrEncCert->type != 0)
		return NULL;
	return cr->certifiedKeyPair->certOrEncCert->value.certificate;
}
