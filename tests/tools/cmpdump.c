/*
 * cmpdump - prints the parts of a CMP response that tests assert on:
 *   body=<type> pvno=<n> protected=<0|1> [status=<n> failinfo=<names>
 *   text="<statusString>"] for an error body and for each CertResponse,
 *   then tx=<transactionID hex> snonce=<senderNonce hex>.
 * Reads DER from the file named on the command line (or stdin). For a
 * nested message, the inner messages are written as inner-N.der into the
 * directory given as second argument (nothing is written without one).
 * Exit 0 if the message decodes, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"

/* Lower-case hex of an OCTET STRING, "-" when absent. */
static void
hex_print(const ASN1_OCTET_STRING *o)
{
	int i;

	if (o == NULL || o->length == 0) {
		printf("-");
		return;
	}
	for (i = 0; i < o->length; i++)
		printf("%02x", o->data[i]);
}

static void
print_si(const CMP_PKISI *si)
{
	const char *name;
	int i, first = 1;

	printf(" status=%ld failinfo=", ASN1_INTEGER_get(si->status));
	for (i = 0; (name = cmp_fail_name(i)) != NULL; i++)
		if (si->failInfo != NULL &&
		    ASN1_BIT_STRING_get_bit(si->failInfo, i)) {
			printf("%s%s", first ? "" : ",", name);
			first = 0;
		}
	if (first)
		printf("-");
	for (i = 0; i < sk_ASN1_UTF8STRING_num(si->statusString); i++)
		printf(" text=\"%s\"", (const char *)ASN1_STRING_get0_data(
		    sk_ASN1_UTF8STRING_value(si->statusString, i)));
}

int
main(int argc, char **argv)
{
	static unsigned char buf[CA_MAX_RESPONSE];
	FILE *f = argc > 1 ? fopen(argv[1], "rb") : stdin;
	const char *why;
	CMP_MSG *m;
	size_t n;
	int i;

	if (f == NULL)
		return 1;
	n = fread(buf, 1, sizeof(buf), f);
	if ((m = cmp_msg_parse(buf, n, &why)) == NULL) {
		printf("undecodable: %s\n", why);
		return 1;
	}
	printf("body=%s pvno=%ld protected=%d", cmp_body_name(m->body->type),
	    ASN1_INTEGER_get(m->header->pvno), m->protection != NULL);
	if (m->body->type == CMP_BODY_ERROR)
		print_si(m->body->value.error->pKIStatusInfo);
	if (m->body->type == CMP_BODY_IP || m->body->type == CMP_BODY_CP ||
	    m->body->type == CMP_BODY_KUP || m->body->type == CMP_BODY_CCP) {
		STACK_OF(CMP_CERTRESPONSE) *r = m->body->value.ip->response;

		for (i = 0; i < sk_CMP_CERTRESPONSE_num(r); i++)
			print_si(sk_CMP_CERTRESPONSE_value(r, i)->status);
	}
	if (m->body->type == CMP_BODY_RP) {
		STACK_OF(CMP_PKISI) *st = m->body->value.rp->status;

		for (i = 0; i < sk_CMP_PKISI_num(st); i++)
			print_si(sk_CMP_PKISI_value(st, i));
	}
	if (m->body->type == CMP_BODY_GENP) {
		for (i = 0; i < sk_CMP_ITAV_num(m->body->value.genp); i++) {
			const CMP_ITAV *v = sk_CMP_ITAV_value(
			    m->body->value.genp, i);
			char oid[80];

			OBJ_obj2txt(oid, sizeof(oid), v->infoType, 0);
			printf(" itav=%s:%s", oid,
			    v->infoValue != NULL ? "value" : "absent");
		}
	}
	/* Last, so that tests matching the fields before it keep working. */
	printf(" tx=");
	hex_print(m->header->transactionID);
	printf(" snonce=");
	hex_print(m->header->senderNonce);
	printf("\n");
	if (m->body->type == CMP_BODY_NESTED && argc > 2 &&
	    m->body->value.other->type == V_ASN1_SEQUENCE) {
		const unsigned char *p = m->body->value.other->value.sequence->data;
		STACK_OF(CMP_MSG) *in = (STACK_OF(CMP_MSG) *)ASN1_item_d2i(NULL,
		    &p, m->body->value.other->value.sequence->length,
		    ASN1_ITEM_rptr(CMP_MSGS));

		for (i = 0; i < sk_CMP_MSG_num(in); i++) {
			unsigned char *der = NULL;
			int len = i2d_CMP_MSG(sk_CMP_MSG_value(in, i), &der);
			FILE *o;
			char name[4096];

			snprintf(name, sizeof(name), "%s/inner-%d.der", argv[2],
			    i);
			if (len > 0 && (o = fopen(name, "wb")) != NULL) {
				fwrite(der, 1, (size_t)len, o);
				fclose(o);
			}
			OPENSSL_free(der);
			printf("inner[%d] written to %s\n", i, name);
		}
		sk_CMP_MSG_pop_free(in, CMP_MSG_free);
	}
	CMP_MSG_free(m);
	return 0;
}
