/*
 * cmp_asn.c - ASN.1 templates for the CMP and CRMF structures in
 * cmp_asn.h, and the bounded decoder.
 *
 * The templates follow RFC 9810 Appendix F (PKIXCMP-2023, EXPLICIT TAGS)
 * and RFC 4211 Appendix B (PKIXCRMF-2005, IMPLICIT TAGS, so CHOICE and ANY
 * typed fields are explicitly tagged). Every PKIBody alternative is
 * present, so a message with a body this engine does not handle still
 * decodes and can be answered with a proper CMP error.
 */
#include <limits.h>
#include <string.h>

#include "ca/ca_limits.h"
#include "ca/cmp_asn.h"

ASN1_SEQUENCE(CMP_ITAV) = {
	ASN1_SIMPLE(CMP_ITAV, infoType, ASN1_OBJECT),
	ASN1_OPT(CMP_ITAV, infoValue, ASN1_ANY),
} ASN1_SEQUENCE_END(CMP_ITAV)
IMPLEMENT_ASN1_FUNCTIONS(CMP_ITAV)

ASN1_SEQUENCE(CMP_ROOTCAKEYUPDATE) = {
	ASN1_SIMPLE(CMP_ROOTCAKEYUPDATE, newWithNew, X509),
	ASN1_EXP_OPT(CMP_ROOTCAKEYUPDATE, newWithOld, X509, 0),
	ASN1_EXP_OPT(CMP_ROOTCAKEYUPDATE, oldWithNew, X509, 1),
} ASN1_SEQUENCE_END(CMP_ROOTCAKEYUPDATE)
IMPLEMENT_ASN1_FUNCTIONS(CMP_ROOTCAKEYUPDATE)

ASN1_SEQUENCE(CMP_HEADER) = {
	ASN1_SIMPLE(CMP_HEADER, pvno, ASN1_INTEGER),
	ASN1_SIMPLE(CMP_HEADER, sender, GENERAL_NAME),
	ASN1_SIMPLE(CMP_HEADER, recipient, GENERAL_NAME),
	ASN1_EXP_OPT(CMP_HEADER, messageTime, ASN1_GENERALIZEDTIME, 0),
	ASN1_EXP_OPT(CMP_HEADER, protectionAlg, X509_ALGOR, 1),
	ASN1_EXP_OPT(CMP_HEADER, senderKID, ASN1_OCTET_STRING, 2),
	ASN1_EXP_OPT(CMP_HEADER, recipKID, ASN1_OCTET_STRING, 3),
	ASN1_EXP_OPT(CMP_HEADER, transactionID, ASN1_OCTET_STRING, 4),
	ASN1_EXP_OPT(CMP_HEADER, senderNonce, ASN1_OCTET_STRING, 5),
	ASN1_EXP_OPT(CMP_HEADER, recipNonce, ASN1_OCTET_STRING, 6),
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_HEADER, freeText, ASN1_UTF8STRING, 7),
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_HEADER, generalInfo, CMP_ITAV, 8),
} ASN1_SEQUENCE_END(CMP_HEADER)
IMPLEMENT_ASN1_FUNCTIONS(CMP_HEADER)

ASN1_SEQUENCE(CMP_PKISI) = {
	ASN1_SIMPLE(CMP_PKISI, status, ASN1_INTEGER),
	ASN1_SEQUENCE_OF_OPT(CMP_PKISI, statusString, ASN1_UTF8STRING),
	ASN1_OPT(CMP_PKISI, failInfo, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CMP_PKISI)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PKISI)

ASN1_SEQUENCE(CRMF_ATTR) = {
	ASN1_SIMPLE(CRMF_ATTR, type, ASN1_OBJECT),
	ASN1_SIMPLE(CRMF_ATTR, value, ASN1_ANY),
} ASN1_SEQUENCE_END(CRMF_ATTR)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_ATTR)

ASN1_SEQUENCE(CRMF_OPTVALIDITY) = {
	ASN1_EXP_OPT(CRMF_OPTVALIDITY, notBefore, ASN1_TIME, 0),
	ASN1_EXP_OPT(CRMF_OPTVALIDITY, notAfter, ASN1_TIME, 1),
} ASN1_SEQUENCE_END(CRMF_OPTVALIDITY)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_OPTVALIDITY)

ASN1_SEQUENCE(CMP_SPKI) = {
	ASN1_SIMPLE(CMP_SPKI, algor, X509_ALGOR),
	ASN1_SIMPLE(CMP_SPKI, public_key, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CMP_SPKI)
IMPLEMENT_ASN1_FUNCTIONS(CMP_SPKI)

ASN1_SEQUENCE(CMP_RSAPUB) = {
	ASN1_SIMPLE(CMP_RSAPUB, n, ASN1_INTEGER),
	ASN1_SIMPLE(CMP_RSAPUB, e, ASN1_INTEGER),
} ASN1_SEQUENCE_END(CMP_RSAPUB)
IMPLEMENT_ASN1_FUNCTIONS(CMP_RSAPUB)

ASN1_SEQUENCE(CRMF_CERTTEMPLATE) = {
	ASN1_IMP_OPT(CRMF_CERTTEMPLATE, version, ASN1_INTEGER, 0),
	ASN1_IMP_OPT(CRMF_CERTTEMPLATE, serialNumber, ASN1_INTEGER, 1),
	ASN1_IMP_OPT(CRMF_CERTTEMPLATE, signingAlg, X509_ALGOR, 2),
	ASN1_EXP_OPT(CRMF_CERTTEMPLATE, issuer, X509_NAME, 3),
	ASN1_IMP_OPT(CRMF_CERTTEMPLATE, validity, CRMF_OPTVALIDITY, 4),
	ASN1_EXP_OPT(CRMF_CERTTEMPLATE, subject, X509_NAME, 5),
	ASN1_IMP_OPT(CRMF_CERTTEMPLATE, publicKey, CMP_SPKI, 6),
	ASN1_IMP_OPT(CRMF_CERTTEMPLATE, issuerUID, ASN1_BIT_STRING, 7),
	ASN1_IMP_OPT(CRMF_CERTTEMPLATE, subjectUID, ASN1_BIT_STRING, 8),
	ASN1_IMP_SEQUENCE_OF_OPT(CRMF_CERTTEMPLATE, extensions, X509_EXTENSION,
	    9),
} ASN1_SEQUENCE_END(CRMF_CERTTEMPLATE)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_CERTTEMPLATE)

ASN1_SEQUENCE(CRMF_CERTREQUEST) = {
	ASN1_SIMPLE(CRMF_CERTREQUEST, certReqId, ASN1_INTEGER),
	ASN1_SIMPLE(CRMF_CERTREQUEST, certTemplate, CRMF_CERTTEMPLATE),
	ASN1_SEQUENCE_OF_OPT(CRMF_CERTREQUEST, controls, CRMF_ATTR),
} ASN1_SEQUENCE_END(CRMF_CERTREQUEST)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_CERTREQUEST)

/*
 * POPOSigningKeyInput (RFC 4211 §4.1): only used when the template lacks
 * subject or public key; decoded so such requests can be refused cleanly.
 */
ASN1_SEQUENCE(CRMF_PKMACVALUE) = {
	ASN1_SIMPLE(CRMF_PKMACVALUE, algId, X509_ALGOR),
	ASN1_SIMPLE(CRMF_PKMACVALUE, value, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CRMF_PKMACVALUE)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_PKMACVALUE)

ASN1_CHOICE(CRMF_AUTHINFO) = {
	ASN1_EXP(CRMF_AUTHINFO, value.sender, GENERAL_NAME, 0),
	ASN1_SIMPLE(CRMF_AUTHINFO, value.publicKeyMAC, CRMF_PKMACVALUE),
} ASN1_CHOICE_END(CRMF_AUTHINFO)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_AUTHINFO)

ASN1_SEQUENCE(CRMF_POPOSKINPUT) = {
	ASN1_SIMPLE(CRMF_POPOSKINPUT, authInfo, CRMF_AUTHINFO),
	ASN1_SIMPLE(CRMF_POPOSKINPUT, publicKey, X509_PUBKEY),
} ASN1_SEQUENCE_END(CRMF_POPOSKINPUT)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_POPOSKINPUT)

ASN1_SEQUENCE(CRMF_POPOSIGNINGKEY) = {
	ASN1_IMP_OPT(CRMF_POPOSIGNINGKEY, poposkInput, CRMF_POPOSKINPUT, 0),
	ASN1_SIMPLE(CRMF_POPOSIGNINGKEY, algorithmIdentifier, X509_ALGOR),
	ASN1_SIMPLE(CRMF_POPOSIGNINGKEY, signature, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(CRMF_POPOSIGNINGKEY)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_POPOSIGNINGKEY)

ASN1_CHOICE(CRMF_POPO) = {
	ASN1_IMP(CRMF_POPO, value.raVerified, ASN1_NULL, 0),
	ASN1_IMP(CRMF_POPO, value.signature, CRMF_POPOSIGNINGKEY, 1),
	ASN1_EXP(CRMF_POPO, value.keyEncipherment, ASN1_ANY, 2),
	ASN1_EXP(CRMF_POPO, value.keyAgreement, ASN1_ANY, 3),
} ASN1_CHOICE_END(CRMF_POPO)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_POPO)

ASN1_SEQUENCE(CRMF_CERTREQMSG) = {
	ASN1_SIMPLE(CRMF_CERTREQMSG, certReq, CRMF_CERTREQUEST),
	ASN1_OPT(CRMF_CERTREQMSG, popo, CRMF_POPO),
	ASN1_SEQUENCE_OF_OPT(CRMF_CERTREQMSG, regInfo, CRMF_ATTR),
} ASN1_SEQUENCE_END(CRMF_CERTREQMSG)
IMPLEMENT_ASN1_FUNCTIONS(CRMF_CERTREQMSG)

ASN1_CHOICE(CMP_CERTORENCCERT) = {
	ASN1_EXP(CMP_CERTORENCCERT, value.certificate, X509, 0),
	ASN1_EXP(CMP_CERTORENCCERT, value.encryptedCert, ASN1_ANY, 1),
} ASN1_CHOICE_END(CMP_CERTORENCCERT)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTORENCCERT)

ASN1_SEQUENCE(CMP_CERTIFIEDKEYPAIR) = {
	ASN1_SIMPLE(CMP_CERTIFIEDKEYPAIR, certOrEncCert, CMP_CERTORENCCERT),
	ASN1_EXP_OPT(CMP_CERTIFIEDKEYPAIR, privateKey, ASN1_ANY, 0),
	ASN1_EXP_OPT(CMP_CERTIFIEDKEYPAIR, publicationInfo, ASN1_ANY, 1),
} ASN1_SEQUENCE_END(CMP_CERTIFIEDKEYPAIR)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTIFIEDKEYPAIR)

ASN1_SEQUENCE(CMP_CERTRESPONSE) = {
	ASN1_SIMPLE(CMP_CERTRESPONSE, certReqId, ASN1_INTEGER),
	ASN1_SIMPLE(CMP_CERTRESPONSE, status, CMP_PKISI),
	ASN1_OPT(CMP_CERTRESPONSE, certifiedKeyPair, CMP_CERTIFIEDKEYPAIR),
	ASN1_OPT(CMP_CERTRESPONSE, rspInfo, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(CMP_CERTRESPONSE)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTRESPONSE)

ASN1_SEQUENCE(CMP_CERTREPMESSAGE) = {
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_CERTREPMESSAGE, caPubs, X509, 1),
	ASN1_SEQUENCE_OF(CMP_CERTREPMESSAGE, response, CMP_CERTRESPONSE),
} ASN1_SEQUENCE_END(CMP_CERTREPMESSAGE)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTREPMESSAGE)

ASN1_SEQUENCE(CMP_CERTSTATUS) = {
	ASN1_SIMPLE(CMP_CERTSTATUS, certHash, ASN1_OCTET_STRING),
	ASN1_SIMPLE(CMP_CERTSTATUS, certReqId, ASN1_INTEGER),
	ASN1_OPT(CMP_CERTSTATUS, statusInfo, CMP_PKISI),
	ASN1_EXP_OPT(CMP_CERTSTATUS, hashAlg, X509_ALGOR, 0),
} ASN1_SEQUENCE_END(CMP_CERTSTATUS)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTSTATUS)

ASN1_SEQUENCE(CMP_ERRORMSG) = {
	ASN1_SIMPLE(CMP_ERRORMSG, pKIStatusInfo, CMP_PKISI),
	ASN1_OPT(CMP_ERRORMSG, errorCode, ASN1_INTEGER),
	ASN1_SEQUENCE_OF_OPT(CMP_ERRORMSG, errorDetails, ASN1_UTF8STRING),
} ASN1_SEQUENCE_END(CMP_ERRORMSG)
IMPLEMENT_ASN1_FUNCTIONS(CMP_ERRORMSG)

ASN1_SEQUENCE(CMP_REVDETAILS) = {
	ASN1_SIMPLE(CMP_REVDETAILS, certDetails, CRMF_CERTTEMPLATE),
	ASN1_SEQUENCE_OF_OPT(CMP_REVDETAILS, crlEntryDetails, X509_EXTENSION),
} ASN1_SEQUENCE_END(CMP_REVDETAILS)
IMPLEMENT_ASN1_FUNCTIONS(CMP_REVDETAILS)

ASN1_SEQUENCE(CMP_REVREP) = {
	ASN1_SEQUENCE_OF(CMP_REVREP, status, CMP_PKISI),
	ASN1_EXP_OPT(CMP_REVREP, revCerts, ASN1_ANY, 0),
	ASN1_EXP_OPT(CMP_REVREP, crls, ASN1_ANY, 1),
} ASN1_SEQUENCE_END(CMP_REVREP)
IMPLEMENT_ASN1_FUNCTIONS(CMP_REVREP)

ASN1_SEQUENCE(CMP_POLLREQ) = {
	ASN1_SIMPLE(CMP_POLLREQ, certReqId, ASN1_INTEGER),
} ASN1_SEQUENCE_END(CMP_POLLREQ)
IMPLEMENT_ASN1_FUNCTIONS(CMP_POLLREQ)

ASN1_SEQUENCE(CMP_POLLREP) = {
	ASN1_SIMPLE(CMP_POLLREP, certReqId, ASN1_INTEGER),
	ASN1_SIMPLE(CMP_POLLREP, checkAfter, ASN1_INTEGER),
	ASN1_SEQUENCE_OF_OPT(CMP_POLLREP, reason, ASN1_UTF8STRING),
} ASN1_SEQUENCE_END(CMP_POLLREP)
IMPLEMENT_ASN1_FUNCTIONS(CMP_POLLREP)

ASN1_CHOICE(CMP_BODY) = {
	ASN1_EXP_SEQUENCE_OF(CMP_BODY, value.ir, CRMF_CERTREQMSG, 0),
	ASN1_EXP(CMP_BODY, value.ip, CMP_CERTREPMESSAGE, 1),
	ASN1_EXP_SEQUENCE_OF(CMP_BODY, value.cr, CRMF_CERTREQMSG, 2),
	ASN1_EXP(CMP_BODY, value.cp, CMP_CERTREPMESSAGE, 3),
	ASN1_EXP(CMP_BODY, value.p10cr, X509_REQ, 4),
	ASN1_EXP(CMP_BODY, value.other, ASN1_ANY, 5),
	ASN1_EXP(CMP_BODY, value.other, ASN1_ANY, 6),
	ASN1_EXP_SEQUENCE_OF(CMP_BODY, value.kur, CRMF_CERTREQMSG, 7),
	ASN1_EXP(CMP_BODY, value.kup, CMP_CERTREPMESSAGE, 8),
	ASN1_EXP(CMP_BODY, value.other, ASN1_ANY, 9),
	ASN1_EXP(CMP_BODY, value.other, ASN1_ANY, 10),
	ASN1_EXP_SEQUENCE_OF(CMP_BODY, value.rr, CMP_REVDETAILS, 11),
	ASN1_EXP(CMP_BODY, value.rp, CMP_REVREP, 12),
	ASN1_EXP_SEQUENCE_OF(CMP_BODY, value.ccr, CRMF_CERTREQMSG, 13),
	ASN1_EXP(CMP_BODY, value.ccp, CMP_CERTREPMESSAGE, 14),
	ASN1_EXP(CMP_BODY, value.other, ASN1_ANY, 15),
	ASN1_EXP(CMP_BODY, value.other, ASN1_ANY, 16),
	ASN1_EXP(CMP_BODY, value.other, ASN1_ANY, 17),
	ASN1_EXP(CMP_BODY, value.other, ASN1_ANY, 18),
	ASN1_EXP(CMP_BODY, value.pkiconf, ASN1_NULL, 19),
	ASN1_EXP(CMP_BODY, value.other, ASN1_ANY, 20),
	ASN1_EXP_SEQUENCE_OF(CMP_BODY, value.genm, CMP_ITAV, 21),
	ASN1_EXP_SEQUENCE_OF(CMP_BODY, value.genp, CMP_ITAV, 22),
	ASN1_EXP(CMP_BODY, value.error, CMP_ERRORMSG, 23),
	ASN1_EXP_SEQUENCE_OF(CMP_BODY, value.certConf, CMP_CERTSTATUS, 24),
	ASN1_EXP_SEQUENCE_OF(CMP_BODY, value.pollReq, CMP_POLLREQ, 25),
	ASN1_EXP_SEQUENCE_OF(CMP_BODY, value.pollRep, CMP_POLLREP, 26),
} ASN1_CHOICE_END(CMP_BODY)
IMPLEMENT_ASN1_FUNCTIONS(CMP_BODY)

ASN1_SEQUENCE(CMP_MSG) = {
	ASN1_SIMPLE(CMP_MSG, header, CMP_HEADER),
	ASN1_SIMPLE(CMP_MSG, body, CMP_BODY),
	ASN1_EXP_OPT(CMP_MSG, protection, ASN1_BIT_STRING, 0),
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_MSG, extraCerts, X509, 1),
} ASN1_SEQUENCE_END(CMP_MSG)
IMPLEMENT_ASN1_FUNCTIONS(CMP_MSG)

ASN1_SEQUENCE(CMP_PROTECTEDPART) = {
	ASN1_SIMPLE(CMP_PROTECTEDPART, header, CMP_HEADER),
	ASN1_SIMPLE(CMP_PROTECTEDPART, body, CMP_BODY),
} ASN1_SEQUENCE_END(CMP_PROTECTEDPART)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PROTECTEDPART)

ASN1_SEQUENCE(CMP_PBMPARAM) = {
	ASN1_SIMPLE(CMP_PBMPARAM, salt, ASN1_OCTET_STRING),
	ASN1_SIMPLE(CMP_PBMPARAM, owf, X509_ALGOR),
	ASN1_SIMPLE(CMP_PBMPARAM, iterationCount, ASN1_INTEGER),
	ASN1_SIMPLE(CMP_PBMPARAM, mac, X509_ALGOR),
} ASN1_SEQUENCE_END(CMP_PBMPARAM)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PBMPARAM)

ASN1_ITEM_TEMPLATE(CMP_AKP) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CMP_AKP,
	    PKCS8_PRIV_KEY_INFO)
ASN1_ITEM_TEMPLATE_END(CMP_AKP)

ASN1_SEQUENCE(CMP_CINFO) = {
	ASN1_SIMPLE(CMP_CINFO, type, ASN1_OBJECT),
	ASN1_EXP(CMP_CINFO, content, ASN1_ANY, 0),
} ASN1_SEQUENCE_END(CMP_CINFO)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CINFO)

ASN1_ITEM_TEMPLATE(CMP_ENVKEY) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF | ASN1_TFLG_IMPTAG |
	    ASN1_TFLG_CONTEXT, 0, CMP_ENVKEY, ASN1_ANY)
ASN1_ITEM_TEMPLATE_END(CMP_ENVKEY)

ASN1_ITEM_TEMPLATE(CMP_CERTREQMSGS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CMP_CERTREQMSGS,
	    CRMF_CERTREQMSG)
ASN1_ITEM_TEMPLATE_END(CMP_CERTREQMSGS)

ASN1_SEQUENCE(CMP_KRP) = {
	ASN1_SIMPLE(CMP_KRP, status, CMP_PKISI),
	ASN1_EXP_OPT(CMP_KRP, newSigCert, X509, 0),
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_KRP, caCerts, X509, 1),
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_KRP, keyPairHist, CMP_CERTIFIEDKEYPAIR, 2),
} ASN1_SEQUENCE_END(CMP_KRP)
IMPLEMENT_ASN1_FUNCTIONS(CMP_KRP)

ASN1_ITEM_TEMPLATE(CMP_CERTS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CMP_CERTS, X509)
ASN1_ITEM_TEMPLATE_END(CMP_CERTS)

ASN1_ITEM_TEMPLATE(CMP_FREETEXT) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CMP_FREETEXT,
	    ASN1_UTF8STRING)
ASN1_ITEM_TEMPLATE_END(CMP_FREETEXT)

ASN1_ITEM_TEMPLATE(CMP_CRLS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CMP_CRLS, X509_CRL)
ASN1_ITEM_TEMPLATE_END(CMP_CRLS)

ASN1_ITEM_TEMPLATE(CMP_MSGS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CMP_MSGS, CMP_MSG)
ASN1_ITEM_TEMPLATE_END(CMP_MSGS)

static const char *const body_names[CMP_BODY_MAX + 1] = {
	"ir", "ip", "cr", "cp", "p10cr", "popdecc", "popdecr", "kur", "kup",
	"krr", "krp", "rr", "rp", "ccr", "ccp", "ckuann", "cann", "rann",
	"crlann", "pkiconf", "nested", "genm", "genp", "error", "certConf",
	"pollReq", "pollRep",
};

/* Returns the short RFC name of a PKIBody type. */
const char *
cmp_body_name(int type)
{
	if (type < 0 || type > CMP_BODY_MAX)
		return "unknown";
	return body_names[type];
}

/* Number of CertReqMsgs in a request body, -1 if not a request body. */
static int
count_certreqs(const CMP_BODY *b)
{
	switch (b->type) {
	case CMP_BODY_IR:
	case CMP_BODY_CR:
	case CMP_BODY_KUR:
	case CMP_BODY_CCR:
		/* Same union slot for all four. */
		return sk_CRMF_CERTREQMSG_num(b->value.ir);
	default:
		return -1;
	}
}

/*
 * Decodes a PKIMessage; see cmp_asn.h. Counts are checked after decoding:
 * the total size is already bounded by CA_MAX_REQUEST, so the decoder's
 * work is bounded too; the caps keep later per-element work (signature
 * checks, database rows) small.
 */
CMP_MSG *
cmp_msg_parse(const unsigned char *der, size_t len, const char **why)
{
	const unsigned char *p = der;
	CMP_MSG *msg = NULL;

	*why = NULL;
	if (len == 0 || len > CA_MAX_REQUEST) {
		*why = "message size out of range";
		return NULL;
	}
	msg = d2i_CMP_MSG(NULL, &p, (long)len);
	if (msg == NULL) {
		*why = "malformed PKIMessage (RFC 9810 §5.1)";
		goto fail;
	}
	if ((size_t)(p - der) != len) {
		*why = "trailing bytes after PKIMessage";
		goto fail;
	}
	if (count_certreqs(msg->body) > CA_MAX_CERTREQS) {
		*why = "too many CertReqMsgs in one message";
		goto fail;
	}
	if (count_certreqs(msg->body) == 0) {
		*why = "empty CertReqMessages (RFC 4211 §3)";
		goto fail;
	}
	if (msg->body->type == CMP_BODY_RR &&
	    (sk_CMP_REVDETAILS_num(msg->body->value.rr) < 1 ||
		sk_CMP_REVDETAILS_num(msg->body->value.rr) > CA_MAX_CERTREQS)) {
		*why = "RevReqContent must hold 1 to 16 RevDetails";
		goto fail;
	}
	if (msg->body->type == CMP_BODY_GENM &&
	    sk_CMP_ITAV_num(msg->body->value.genm) > CA_MAX_GENERALINFO) {
		*why = "too many InfoTypeAndValue in genm";
		goto fail;
	}
	if (msg->body->type == CMP_BODY_POLLREQ &&
	    (sk_CMP_POLLREQ_num(msg->body->value.pollReq) < 1 ||
		sk_CMP_POLLREQ_num(msg->body->value.pollReq) >
		    CA_MAX_CERTREQS)) {
		*why = "PollReqContent must hold 1 to 16 entries";
		goto fail;
	}
	if (sk_X509_num(msg->extraCerts) > CA_MAX_EXTRACERTS) {
		*why = "too many extraCerts";
		goto fail;
	}
	if (sk_CMP_ITAV_num(msg->header->generalInfo) > CA_MAX_GENERALINFO) {
		*why = "too many generalInfo entries";
		goto fail;
	}
	if (msg->body->type == CMP_BODY_CERTCONF &&
	    sk_CMP_CERTSTATUS_num(msg->body->value.certConf) >
		CA_MAX_CERTSTATUS) {
		*why = "too many CertStatus entries";
		goto fail;
	}
	return msg;
fail:
	CMP_MSG_free(msg);
	return NULL;
}

/* What cmp_msg_keep_encoding() kept, for one message. */
static struct {
	const CMP_MSG *msg;
	unsigned char *prot; /* msg's protection bits when kept */
	int prot_len;
	unsigned char *pp; /* header and body, DER */
	size_t pp_len;
} kept;

static void
kept_clear(void)
{
	OPENSSL_free(kept.prot);
	OPENSSL_free(kept.pp);
	memset(&kept, 0, sizeof(kept));
}

static int msg_encode_kept(const CMP_MSG *msg, unsigned char **der);

/* Encodes a message; returns the DER length and sets *der, or -1. */
int
cmp_msg_encode(const CMP_MSG *msg, unsigned char **der)
{
	*der = NULL;
	return i2d_CMP_MSG(msg, der);
}

/* See cmp_asn.h. */
int
cmp_msg_encode_protected(const CMP_MSG *msg, unsigned char **der)
{
	int len;

	*der = NULL;
	/* The pointer alone could be a new message at a freed one's
	 * address: the protection bits (a MAC or signature over this
	 * message's nonces) must match too. */
	if (kept.msg != NULL && kept.msg == msg && msg->protection != NULL &&
	    msg->protection->length == kept.prot_len &&
	    memcmp(msg->protection->data, kept.prot,
		(size_t)kept.prot_len) == 0) {
		len = msg_encode_kept(msg, der);
		kept_clear();
		if (len > 0)
			return len;
	}
	return i2d_CMP_MSG(msg, der);
}

/* DER length octets of n into p (if not NULL); returns their count. */
static size_t
der_len(size_t n, unsigned char *p)
{
	size_t k = 0, i;

	if (n < 0x80) {
		if (p != NULL)
			p[0] = (unsigned char)n;
		return 1;
	}
	for (i = n; i > 0; i >>= 8)
		k++;
	if (p != NULL) {
		p[0] = (unsigned char)(0x80 | k);
		for (i = 0; i < k; i++)
			p[1 + i] = (unsigned char)(n >> (8 * (k - 1 - i)));
	}
	return 1 + k;
}

/* See cmp_asn.h. */
size_t
cmp_pp_prefix(size_t content_len, unsigned char *p)
{
	p[0] = V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED;
	return 1 + der_len(content_len, p + 1);
}

/* The content of the TLV at *p (end bounds it): sets *c and *clen, moves
 * *p past it. Returns 1, or 0 if it is not one definite-length TLV. */
static int
tlv_next(const unsigned char **p, const unsigned char *end,
    const unsigned char **c, long *clen)
{
	const unsigned char *q = *p;
	int tag, cls, r;

	r = ASN1_get_object(&q, clen, &tag, &cls, end - *p);
	if ((r & 0x80) || r == 0x21 || *clen > end - q)
		return 0;
	*c = q;
	*p = q + *clen;
	return 1;
}

/* See cmp_asn.h. */
int
cmp_pp_slice(const unsigned char *der, size_t len,
    const unsigned char **pp, size_t *pp_len)
{
	const unsigned char *p = der, *end = der + len, *c, *start;
	long clen;

	if (len > CA_MAX_REQUEST || !tlv_next(&p, end, &c, &clen))
		return 0;
	p = c;
	end = c + clen;
	start = p;
	if (!tlv_next(&p, end, &c, &clen) || !tlv_next(&p, end, &c, &clen))
		return 0;
	*pp = start;
	*pp_len = (size_t)(p - start);
	return 1;
}

/* See cmp_asn.h. */
int
cmp_msg_keep_encoding(const CMP_MSG *msg, const unsigned char *pp_der,
    size_t pp_len)
{
	const unsigned char *p = pp_der, *c;
	long clen;

	kept_clear();
	if (msg->protection == NULL ||
	    !tlv_next(&p, pp_der + pp_len, &c, &clen) ||
	    p != pp_der + pp_len)
		return 0;
	if (msg->protection->length <= 0 || clen <= 0 ||
	    (kept.pp = OPENSSL_memdup(c, (size_t)clen)) == NULL ||
	    (kept.prot = OPENSSL_memdup(msg->protection->data,
		 (size_t)msg->protection->length)) == NULL) {
		kept_clear();
		return 0;
	}
	kept.pp_len = (size_t)clen;
	kept.prot_len = msg->protection->length;
	kept.msg = msg;
	return 1;
}

/*
 * The message from the kept header and body, its protection and its
 * extraCerts as they are now (responses get extraCerts after they are
 * protected: they are outside the protection). Returns the length, -1.
 */
static int
msg_encode_kept(const CMP_MSG *msg, unsigned char **der)
{
	unsigned char *prot = NULL, *out = NULL, *o;
	int plen, i, n, len = -1;
	size_t total, certs_len = 0, x1 = 0, inner = 0, outlen;

	/* [0] EXPLICIT BIT STRING; [1] EXPLICIT SEQUENCE OF Certificate. */
	if ((plen = i2d_ASN1_BIT_STRING(msg->protection, &prot)) <= 0)
		goto out;
	n = sk_X509_num(msg->extraCerts);
	for (i = 0; i < n; i++) {
		int l = i2d_X509(sk_X509_value(msg->extraCerts, i), NULL);

		if (l <= 0)
			goto out;
		certs_len += (size_t)l;
	}
	if (n > 0) {
		inner = 1 + der_len(certs_len, NULL) + certs_len;
		x1 = 1 + der_len(inner, NULL) + inner;
	}
	total = kept.pp_len + 1 + der_len((size_t)plen, NULL) +
	    (size_t)plen + x1;
	outlen = 1 + der_len(total, NULL) + total;
	if (total > INT_MAX / 2 || (out = OPENSSL_malloc(outlen)) == NULL)
		goto out;
	o = out;
	*o++ = V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED;
	o += der_len(total, o);
	memcpy(o, kept.pp, kept.pp_len);
	o += kept.pp_len;
	*o++ = V_ASN1_CONTEXT_SPECIFIC | V_ASN1_CONSTRUCTED | 0;
	o += der_len((size_t)plen, o);
	memcpy(o, prot, (size_t)plen);
	o += plen;
	if (n > 0) {
		*o++ = V_ASN1_CONTEXT_SPECIFIC | V_ASN1_CONSTRUCTED | 1;
		o += der_len(inner, o);
		*o++ = V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED;
		o += der_len(certs_len, o);
		for (i = 0; i < n; i++) {
			unsigned char *w = o;

			if (i2d_X509(sk_X509_value(msg->extraCerts, i), &w) <= 0)
				goto out;
			o = w;
		}
	}
	if ((size_t)(o - out) != outlen)
		goto out;
	*der = out;
	out = NULL;
	len = (int)outlen;
out:
	OPENSSL_free(prot);
	OPENSSL_free(out);
	return len;
}
