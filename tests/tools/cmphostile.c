/*
 * cmphostile - test tool: builds the malformed and adversarial CMP requests
 * of the hostile-input corpus (tests/data/hostile/manifest) that need the
 * stack's CA, enrollment secret or a live transaction, so they cannot be
 * static files. Writes the DER to stdout.
 *
 * usage: cmphostile [-c CA.pem] [-r REF] [-s SECRET-FILE] [-i RESP.der]
 *            [-C CERT.pem -K KEY.pem] [-n SUBJECT-CN] CASE [N]
 *
 * The secret is read from a file (never argv). Requests are ir with one
 * CertReqMsg for a fresh P-256 key, PBM-protected (sha256, 500 iterations,
 * hmac-sha1), unless the case says otherwise. CASE is one of:
 *   ir                 a valid request (the control)
 *   irimp              a valid ir asking for implicitConfirm
 *   pvno N             header pvno N
 *   noprotalg          protection present, protectionAlg absent
 *   flipmac            one bit of the MAC flipped
 *   pbm-iter N         PBM iterationCount N (the MAC is right)
 *   pbm-owf-unknown    PBM owf an unknown OID
 *   pbm-mac-unknown    PBM mac an unknown OID
 *   pbmac1             a valid ir under PBMAC1 (PBKDF2, hmacWithSHA256)
 *   pbmac1-iter N      PBKDF2 iterationCount N
 *   pbmac1-max N       PBKDF2 iterationCount N, prf and MAC HMAC-SHA512:
 *                      the costliest derivation at N (abuse.sh, bench)
 *   pbmac1-prf-unknown PBKDF2 prf an unknown OID
 *   pbmac1-mac-unknown PBMAC1 messageAuthScheme an unknown OID
 *   pop-mismatch       template key A, POP signed with key B
 *   bigname N          subject with an N-byte attribute value
 *   exts N             template with N extensions of distinct unknown OIDs
 *   dupsan             template with two subjectAltName extensions
 *   badsan             template whose subjectAltName is a BOOLEAN
 *   eku-ocsp           template asking for extendedKeyUsage OCSPSigning
 *   recipient          recipient is a CA we are not
 *   certreqs N         N CertReqMsgs
 *   extracerts N       N copies of the CA certificate in extraCerts
 *   rr N               rr with N RevDetails (serials of no certificate)
 *   nested N           nested body N levels deep, PBM on the outside
 *   body N             body of CHOICE tag N (content NULL; 19 pkiconf,
 *                      else one the engine keeps as ANY)
 *   body-tag N         a valid ir whose body tag is rewritten to [N]
 *   certconf           certConf for the ip in -i (fresh senderNonce)
 *   certconf-unknown   certConf for a transaction nobody started
 *   sig-flip           cr signed with -C/-K, one signature bit flipped
 *   deep N             N nested indefinite-length SEQUENCEs (no CA needed)
 *   hugelen            a SEQUENCE claiming 2 GiB with 4 bytes of content
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"

#define UNKNOWN_OID "1.3.6.1.4.1.99999.7"

static struct {
	X509 *ca;
	char ref[128];
	unsigned char secret[256];
	size_t secret_len;
	CMP_MSG *resp; /* -i */
	X509 *cert;    /* -C */
	EVP_PKEY *key; /* -K */
	const char *cn;
	long pbm_iter;
	int pbm_owf, pbm_mac;
	int pbmac1;
	long pbmac1_iter;
	int pbmac1_prf, pbmac1_mac;
	const char *unknown_owf, *unknown_mac, *unknown_prf;
	STACK_OF(X509_EXTENSION) *exts; /* template extensions, or NULL */
} g = { .cn = "hostile", .pbm_iter = 500, .pbm_owf = NID_sha256,
	.pbm_mac = NID_hmac_sha1, .pbmac1_iter = 1000,
	.pbmac1_prf = NID_hmacWithSHA256, .pbmac1_mac = NID_hmacWithSHA256 };

static void
die(const char *what)
{
	fprintf(stderr, "cmphostile: %s\n", what);
	exit(1);
}

#define NEED(x) \
	do { \
		if (!(x)) \
			die(#x); \
	} while (0)

static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL)
		die(path);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	NEED(x != NULL);
	return x;
}

static void
read_secret(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		die(path);
	n = fread(g.secret, 1, sizeof(g.secret) - 1, f);
	fclose(f);
	while (n > 0 && (g.secret[n - 1] == '\n' || g.secret[n - 1] == '\r'))
		n--;
	g.secret_len = n;
}

static CMP_MSG *
read_msg(const char *path)
{
	static unsigned char buf[CA_MAX_RESPONSE];
	FILE *f = fopen(path, "rb");
	const char *why;
	CMP_MSG *m;
	size_t n;

	if (f == NULL)
		die(path);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if ((m = cmp_msg_parse(buf, n, &why)) == NULL)
		die(why);
	return m;
}

static ASN1_OCTET_STRING *
random_octets(int n)
{
	unsigned char b[64];
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();

	NEED(s != NULL && n <= (int)sizeof(b) && RAND_bytes(b, n) == 1 &&
	    ASN1_OCTET_STRING_set(s, b, n));
	return s;
}

static X509_ALGOR *
algor(int nid, const char *unknown)
{
	X509_ALGOR *a = X509_ALGOR_new();
	ASN1_OBJECT *o = unknown != NULL ? OBJ_txt2obj(unknown, 1)
					 : OBJ_nid2obj(nid);

	NEED(a != NULL && o != NULL &&
	    X509_ALGOR_set0(a, o, V_ASN1_UNDEF, NULL));
	return a;
}

/* protectionAlg: PBM (RFC 4211 §4.4) or PBMAC1 (RFC 9481 §6.1.3). */
static X509_ALGOR *
mac_alg(void)
{
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_STRING *seq = ASN1_STRING_new();
	unsigned char salt[16];

	NEED(alg != NULL && seq != NULL && RAND_bytes(salt, 16) == 1);
	if (!g.pbmac1) {
		CMP_PBMPARAM *p = CMP_PBMPARAM_new();

		NEED(p != NULL && ASN1_OCTET_STRING_set(p->salt, salt, 16));
		X509_ALGOR_free(p->owf);
		p->owf = algor(g.pbm_owf, g.unknown_owf);
		X509_ALGOR_free(p->mac);
		p->mac = algor(g.pbm_mac, g.unknown_mac);
		NEED(ASN1_INTEGER_set(p->iterationCount, g.pbm_iter));
		NEED((seq->length = i2d_CMP_PBMPARAM(p, &seq->data)) > 0);
		NEED(X509_ALGOR_set0(alg, OBJ_nid2obj(NID_id_PasswordBasedMAC),
		    V_ASN1_SEQUENCE, seq));
		CMP_PBMPARAM_free(p);
	} else {
		PBE2PARAM *pb = PBE2PARAM_new();
		PBKDF2PARAM *kdf = PBKDF2PARAM_new();
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();

		NEED(pb != NULL && kdf != NULL && os != NULL &&
		    ASN1_OCTET_STRING_set(os, salt, 16));
		ASN1_TYPE_set(kdf->salt, V_ASN1_OCTET_STRING, os);
		NEED(ASN1_INTEGER_set(kdf->iter, g.pbmac1_iter));
		NEED((kdf->keylength = ASN1_INTEGER_new()) != NULL &&
		    ASN1_INTEGER_set(kdf->keylength, 32));
		kdf->prf = algor(g.pbmac1_prf, g.unknown_prf);
		NEED(X509_ALGOR_set0(pb->keyfunc, OBJ_nid2obj(NID_id_pbkdf2),
		    V_ASN1_UNDEF, NULL));
		NEED(ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), kdf,
		    &pb->keyfunc->parameter) != NULL);
		X509_ALGOR_free(pb->encryption);
		pb->encryption = algor(g.pbmac1_mac, g.unknown_mac);
		NEED((seq->length = i2d_PBE2PARAM(pb, &seq->data)) > 0);
		NEED(X509_ALGOR_set0(alg, OBJ_nid2obj(NID_pbmac1),
		    V_ASN1_SEQUENCE, seq));
		PBKDF2PARAM_free(kdf);
		PBE2PARAM_free(pb);
	}
	return alg;
}

/* Sets *gn to a directoryName holding name (owned). */
static void
gn_set(GENERAL_NAME **gn, X509_NAME *name)
{
	GENERAL_NAME_free(*gn);
	NEED(name != NULL && (*gn = GENERAL_NAME_new()) != NULL);
	GENERAL_NAME_set0_value(*gn, GEN_DIRNAME, name);
}

static CMP_MSG *
msg_new(int body)
{
	CMP_MSG *m = CMP_MSG_new();
	CMP_HEADER *h;

	NEED(m != NULL && g.ca != NULL);
	h = m->header;
	NEED(ASN1_INTEGER_set(h->pvno, 2));
	gn_set(&h->sender, X509_NAME_new());
	gn_set(&h->recipient, X509_NAME_dup(X509_get_subject_name(g.ca)));
	h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL));
	h->transactionID = random_octets(16);
	h->senderNonce = random_octets(16);
	if (g.cert == NULL) {
		h->senderKID = ASN1_OCTET_STRING_new();
		NEED(h->senderKID != NULL && ASN1_OCTET_STRING_set(h->senderKID,
		    (const unsigned char *)g.ref, (int)strlen(g.ref)));
		h->protectionAlg = mac_alg();
	}
	m->body->type = body;
	return m;
}

/*
 * Protects m: PBM/PBMAC1 with the secret (the engine's own code), or a
 * signature with -C/-K. Where the engine's code refuses the parameters
 * (unknown algorithms, absurd counts), the MAC is a dummy: the server must
 * refuse before it looks at the value.
 */
static void
protect(CMP_MSG *m)
{
	static unsigned char dummy[32];
	CMP_PROTECTEDPART pp;
	struct cmp_mac mac;
	const char *why;
	int fail, nid;

	if (g.cert != NULL) {
		NEED(OBJ_find_sigid_by_algs(&nid, NID_sha256,
		    EVP_PKEY_get_base_id(g.key)));
		X509_ALGOR_free(m->header->protectionAlg);
		m->header->protectionAlg = algor(nid, NULL);
		m->header->senderKID = ASN1_OCTET_STRING_dup(
		    X509_get0_subject_key_id(g.cert));
		gn_set(&m->header->sender,
		    X509_NAME_dup(X509_get_subject_name(g.cert)));
		pp.header = m->header;
		pp.body = m->body;
		m->protection = ASN1_BIT_STRING_new();
		NEED(ASN1_item_sign(ASN1_ITEM_rptr(CMP_PROTECTEDPART), NULL,
		    NULL, m->protection, &pp, g.key, EVP_sha256()) > 0);
		NEED((m->extraCerts = sk_X509_new_null()) != NULL &&
		    X509_up_ref(g.cert) && sk_X509_push(m->extraCerts, g.cert));
		return;
	}
	if (g.pbm_iter <= 10000000L && g.pbmac1_iter <= 10000000L &&
	    cmp_pbm_derive(m->header->protectionAlg, g.secret, g.secret_len,
		10000000L, &mac, &fail, &why) == 1) {
		NEED(cmp_pbm_protect(m, &mac));
		cmp_mac_clear(&mac);
		return;
	}
	cmp_mac_clear(&mac);
	NEED((m->protection = ASN1_BIT_STRING_new()) != NULL &&
	    ASN1_BIT_STRING_set(m->protection, dummy, sizeof(dummy)));
}

/* A CertReqMsg for a fresh key; the POP is signed with popkey if given. */
static CRMF_CERTREQMSG *
certreqmsg_new(int rid, X509_NAME *subject, EVP_PKEY *popkey)
{
	CRMF_CERTREQMSG *m = CRMF_CERTREQMSG_new();
	EVP_PKEY *key = EVP_EC_gen("P-256");
	CRMF_POPOSIGNINGKEY *sk;

	NEED(m != NULL && key != NULL);
	m->certReq->certTemplate->subject = subject;
	NEED(cmp_spki_set(&m->certReq->certTemplate->publicKey, key));
	if (g.exts != NULL)
		NEED((m->certReq->certTemplate->extensions =
			 sk_X509_EXTENSION_deep_copy(g.exts, X509_EXTENSION_dup,
			     X509_EXTENSION_free)) != NULL);
	NEED(ASN1_INTEGER_set(m->certReq->certReqId, rid));
	NEED((m->popo = CRMF_POPO_new()) != NULL);
	m->popo->type = CRMF_POPO_SIGNATURE;
	NEED((sk = m->popo->value.signature = CRMF_POPOSIGNINGKEY_new()) !=
	    NULL);
	NEED(ASN1_item_sign(ASN1_ITEM_rptr(CRMF_CERTREQUEST),
	    sk->algorithmIdentifier, NULL, sk->signature, m->certReq,
	    popkey != NULL ? popkey : key, EVP_sha256()) > 0);
	EVP_PKEY_free(key);
	return m;
}

static X509_NAME *
name_cn(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	NEED(n != NULL && X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0));
	return n;
}

/* Adds an extension: by name and openssl.cnf value, or by OID and DER in
 * hex (der non-NULL). */
static void
ext_push(const char *name, const char *value, const char *der)
{
	X509_EXTENSION *e = NULL;

	if (g.exts == NULL)
		NEED((g.exts = sk_X509_EXTENSION_new_null()) != NULL);
	if (der == NULL)
		e = X509V3_EXT_nconf(NULL, NULL, name, value);
	else {
		ASN1_OBJECT *o = OBJ_txt2obj(name, 1);
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		long len = 0;
		unsigned char *b = OPENSSL_hexstr2buf(der, &len);

		NEED(o != NULL && os != NULL && b != NULL &&
		    ASN1_OCTET_STRING_set(os, b, (int)len));
		e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os);
		ASN1_OBJECT_free(o);
		ASN1_OCTET_STRING_free(os);
		OPENSSL_free(b);
	}
	NEED(e != NULL && sk_X509_EXTENSION_push(g.exts, e));
}

/* A subject whose one attribute (an unknown type, so no upper bound
 * applies while building it) holds len bytes. */
static X509_NAME *
name_big(long len)
{
	X509_NAME *n = name_cn(g.cn);
	unsigned char *v = malloc((size_t)len);
	ASN1_OBJECT *o = OBJ_txt2obj(UNKNOWN_OID, 1);

	NEED(v != NULL && o != NULL);
	memset(v, 'A', (size_t)len);
	NEED(X509_NAME_add_entry_by_OBJ(n, o, V_ASN1_UTF8STRING, v, (int)len,
	    -1, 0));
	ASN1_OBJECT_free(o);
	free(v);
	return n;
}

static CMP_MSG *
ir_new(int body, long n, X509_NAME *subject, EVP_PKEY *popkey)
{
	CMP_MSG *m = msg_new(body);
	long i;

	NEED((m->body->value.ir = sk_CRMF_CERTREQMSG_new_null()) != NULL);
	for (i = 0; i < n; i++)
		NEED(sk_CRMF_CERTREQMSG_push(m->body->value.ir, certreqmsg_new(
		    (int)i, i == 0 && subject != NULL ? subject : name_cn(g.cn),
		    popkey)));
	return m;
}

static void
implicit_confirm(CMP_MSG *m)
{
	CMP_ITAV *itav = CMP_ITAV_new();

	NEED(itav != NULL && (itav->infoValue = ASN1_TYPE_new()) != NULL);
	itav->infoType = OBJ_nid2obj(NID_id_it_implicitConfirm);
	ASN1_TYPE_set(itav->infoValue, V_ASN1_NULL, NULL);
	NEED((m->header->generalInfo = sk_CMP_ITAV_new_null()) != NULL &&
	    sk_CMP_ITAV_push(m->header->generalInfo, itav));
}

static CMP_MSG *
rr_new(long n)
{
	CMP_MSG *m = msg_new(CMP_BODY_RR);
	long i;

	NEED((m->body->value.rr = sk_CMP_REVDETAILS_new_null()) != NULL);
	for (i = 0; i < n; i++) {
		CMP_REVDETAILS *d = CMP_REVDETAILS_new();
		CRMF_CERTTEMPLATE *t = d != NULL ? d->certDetails : NULL;

		NEED(t != NULL && (t->serialNumber = ASN1_INTEGER_new()) &&
		    ASN1_INTEGER_set(t->serialNumber, 0x7fff0000L + i));
		t->issuer = X509_NAME_dup(X509_get_subject_name(g.ca));
		NEED(sk_CMP_REVDETAILS_push(m->body->value.rr, d));
	}
	return m;
}

/* Wraps der into a nested body (SEQUENCE OF PKIMessage). */
static void
nested_set(CMP_MSG *m, const CMP_MSG *inner)
{
	STACK_OF(CMP_MSG) *in = sk_CMP_MSG_new_null();
	ASN1_STRING *seq = ASN1_STRING_new();
	unsigned char *der = NULL;
	int len;

	NEED(in != NULL && seq != NULL &&
	    sk_CMP_MSG_push(in, (CMP_MSG *)inner));
	NEED((len = ASN1_item_i2d((const ASN1_VALUE *)in, &der,
	    ASN1_ITEM_rptr(CMP_MSGS))) > 0);
	sk_CMP_MSG_free(in);
	ASN1_STRING_set0(seq, der, len);
	m->body->type = CMP_BODY_NESTED;
	NEED((m->body->value.other = ASN1_TYPE_new()) != NULL);
	ASN1_TYPE_set(m->body->value.other, V_ASN1_SEQUENCE, seq);
}

static CMP_MSG *
nested_new(long depth)
{
	CMP_MSG *m = ir_new(CMP_BODY_IR, 1, NULL, NULL);
	long i;

	protect(m);
	for (i = 0; i < depth; i++) {
		CMP_MSG *outer = msg_new(CMP_BODY_NESTED);

		nested_set(outer, m);
		CMP_MSG_free(m);
		protect(outer);
		m = outer;
	}
	return m;
}

static CMP_MSG *
certconf_new(const CMP_MSG *ip)
{
	CMP_MSG *m = msg_new(CMP_BODY_CERTCONF);
	CMP_CERTSTATUS *cs = CMP_CERTSTATUS_new();
	const CMP_CERTRESPONSE *cr;
	X509 *x;

	NEED(cs != NULL);
	NEED((m->body->value.certConf = sk_CMP_CERTSTATUS_new_null()) != NULL &&
	    sk_CMP_CERTSTATUS_push(m->body->value.certConf, cs));
	if (ip == NULL) {
		ASN1_OCTET_STRING_free(cs->certHash);
		cs->certHash = random_octets(32);
		return m;
	}
	NEED(ip->body->type == CMP_BODY_IP &&
	    sk_CMP_CERTRESPONSE_num(ip->body->value.ip->response) > 0);
	cr = sk_CMP_CERTRESPONSE_value(ip->body->value.ip->response, 0);
	NEED(cr->certifiedKeyPair != NULL);
	x = cr->certifiedKeyPair->certOrEncCert->value.certificate;
	ASN1_OCTET_STRING_free(cs->certHash);
	NEED((cs->certHash = X509_digest_sig(x, NULL, NULL)) != NULL);
	NEED(ASN1_INTEGER_set(cs->certReqId, ASN1_INTEGER_get(cr->certReqId)));
	ASN1_OCTET_STRING_free(m->header->transactionID);
	m->header->transactionID =
	    ASN1_OCTET_STRING_dup(ip->header->transactionID);
	m->header->recipNonce = ASN1_OCTET_STRING_dup(ip->header->senderNonce);
	return m;
}

/* Raw DER that no template builds. */
static void
raw(const char *c, long n)
{
	long i;

	if (strcmp(c, "deep") == 0) {
		for (i = 0; i < n; i++)
			fwrite("\x30\x80", 1, 2, stdout);
		for (i = 0; i < n; i++)
			fwrite("\x00\x00", 1, 2, stdout);
	} else
		fwrite("\x30\x84\x7f\xff\xff\xff\x02\x01\x02\x00", 1, 10, stdout);
}

static void
write_msg(const CMP_MSG *m, int tag)
{
	unsigned char *der = NULL;
	int len, i;

	NEED((len = cmp_msg_encode(m, &der)) > 0);
	if (tag >= 0) {
		/* The body is the second element of the outer SEQUENCE: skip
		 * the outer and the header's tag and length. */
		const unsigned char *p = der, *q;
		long l;
		int t, cl;

		NEED(!(ASN1_get_object(&p, &l, &t, &cl, len) & 0x80));
		q = p;
		NEED(!(ASN1_get_object(&q, &l, &t, &cl, len) & 0x80));
		i = (int)((q - der) + l);
		NEED(tag < 31);
		der[i] = (unsigned char)(0xa0 | tag);
	}
	fwrite(der, 1, (size_t)len, stdout);
	OPENSSL_free(der);
}

int
main(int argc, char **argv)
{
	CMP_MSG *m = NULL;
	const char *c;
	long n = 1;
	int opt, tag = -1;
	EVP_PKEY *other = NULL;

	snprintf(g.ref, sizeof(g.ref), "demo");
	while ((opt = getopt(argc, argv, "c:r:s:i:C:K:n:")) != -1) {
		FILE *f;

		switch (opt) {
		case 'c':
			g.ca = read_cert(optarg);
			break;
		case 'r':
			snprintf(g.ref, sizeof(g.ref), "%s", optarg);
			break;
		case 's':
			read_secret(optarg);
			break;
		case 'i':
			g.resp = read_msg(optarg);
			break;
		case 'C':
			g.cert = read_cert(optarg);
			break;
		case 'K':
			if ((f = fopen(optarg, "r")) == NULL)
				die(optarg);
			g.key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
			fclose(f);
			NEED(g.key != NULL);
			break;
		case 'n':
			g.cn = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc)
		goto usage;
	c = argv[optind];
	if (optind + 1 < argc)
		n = strtol(argv[optind + 1], NULL, 0);
	if (strcmp(c, "deep") == 0 || strcmp(c, "hugelen") == 0) {
		raw(c, n);
		return 0;
	}
	if (strcmp(c, "pbm-iter") == 0)
		g.pbm_iter = n;
	else if (strcmp(c, "pbm-owf-unknown") == 0)
		g.unknown_owf = UNKNOWN_OID;
	else if (strcmp(c, "pbm-mac-unknown") == 0)
		g.unknown_mac = UNKNOWN_OID;
	else if (strncmp(c, "pbmac1", 6) == 0) {
		g.pbmac1 = 1;
		if (strcmp(c, "pbmac1-iter") == 0)
			g.pbmac1_iter = n;
		else if (strcmp(c, "pbmac1-max") == 0) {
			g.pbmac1_iter = n;
			g.pbmac1_prf = NID_hmacWithSHA512;
			g.pbmac1_mac = NID_hmacWithSHA512;
		}
		else if (strcmp(c, "pbmac1-prf-unknown") == 0)
			g.unknown_prf = UNKNOWN_OID;
		else if (strcmp(c, "pbmac1-mac-unknown") == 0)
			g.unknown_mac = UNKNOWN_OID;
		c = "ir";
	}
	if (strcmp(c, "nested") == 0) {
		write_msg(m = nested_new(n), -1);
		CMP_MSG_free(m);
		return 0;
	}
	if (strcmp(c, "ir") == 0 || strcmp(c, "irimp") == 0 ||
	    strcmp(c, "pvno") == 0 || strcmp(c, "noprotalg") == 0 ||
	    strcmp(c, "flipmac") == 0 || strncmp(c, "pbm-", 4) == 0 ||
	    strcmp(c, "recipient") == 0 || strcmp(c, "extracerts") == 0 ||
	    strcmp(c, "body-tag") == 0)
		m = ir_new(CMP_BODY_IR, 1, NULL, NULL);
	else if (strcmp(c, "pop-mismatch") == 0) {
		NEED((other = EVP_EC_gen("P-256")) != NULL);
		m = ir_new(CMP_BODY_IR, 1, NULL, other);
	} else if (strcmp(c, "bigname") == 0)
		m = ir_new(CMP_BODY_IR, 1, name_big(n), NULL);
	else if (strcmp(c, "certreqs") == 0)
		m = ir_new(CMP_BODY_IR, n, NULL, NULL);
	else if (strcmp(c, "exts") == 0 || strcmp(c, "dupsan") == 0 ||
	    strcmp(c, "badsan") == 0 || strcmp(c, "eku-ocsp") == 0) {
		char oid[64];
		long i;

		for (i = 0; strcmp(c, "exts") == 0 && i < n; i++) {
			snprintf(oid, sizeof(oid), "%s.%ld", UNKNOWN_OID, i);
			ext_push(oid, NULL, "0500");
		}
		if (strcmp(c, "dupsan") == 0) {
			ext_push("subjectAltName", "DNS:ok.example.org", NULL);
			ext_push("2.5.29.17", NULL, "300687040a000001");
		} else if (strcmp(c, "badsan") == 0)
			ext_push("2.5.29.17", NULL, "0101ff");
		else if (strcmp(c, "eku-ocsp") == 0)
			ext_push("extendedKeyUsage", "OCSPSigning", NULL);
		m = ir_new(CMP_BODY_IR, 1, NULL, NULL);
	}
	else if (strcmp(c, "rr") == 0)
		m = rr_new(n);
	else if (strcmp(c, "body") == 0) {
		m = msg_new((int)n);
		if (n == CMP_BODY_PKICONF)
			NEED((m->body->value.pkiconf = ASN1_NULL_new()) != NULL);
		else {
			NEED((m->body->value.other = ASN1_TYPE_new()) != NULL);
			ASN1_TYPE_set(m->body->value.other, V_ASN1_NULL, NULL);
		}
	} else if (strcmp(c, "certconf") == 0 && g.resp != NULL)
		m = certconf_new(g.resp);
	else if (strcmp(c, "certconf-unknown") == 0)
		m = certconf_new(NULL);
	else if (strcmp(c, "sig-flip") == 0 && g.cert != NULL && g.key != NULL)
		m = ir_new(CMP_BODY_CR, 1, X509_NAME_dup(
		    X509_get_subject_name(g.cert)), NULL);
	else
		goto usage;

	if (strcmp(c, "irimp") == 0)
		implicit_confirm(m);
	if (strcmp(c, "pvno") == 0)
		NEED(ASN1_INTEGER_set(m->header->pvno, n));
	if (strcmp(c, "recipient") == 0)
		gn_set(&m->header->recipient, name_cn("Some Other CA"));
	if (strcmp(c, "extracerts") == 0) {
		long i;

		NEED((m->extraCerts = sk_X509_new_null()) != NULL);
		for (i = 0; i < n; i++)
			NEED(X509_up_ref(g.ca) &&
			    sk_X509_push(m->extraCerts, g.ca));
	}
	protect(m);
	if (strcmp(c, "noprotalg") == 0) {
		X509_ALGOR_free(m->header->protectionAlg);
		m->header->protectionAlg = NULL;
	}
	if (strcmp(c, "flipmac") == 0 || strcmp(c, "sig-flip") == 0)
		m->protection->data[m->protection->length / 2] ^= 0x01;
	if (strcmp(c, "body-tag") == 0)
		tag = (int)n;
	write_msg(m, tag);
	CMP_MSG_free(m);
	CMP_MSG_free(g.resp);
	sk_X509_EXTENSION_pop_free(g.exts, X509_EXTENSION_free);
	X509_free(g.ca);
	X509_free(g.cert);
	EVP_PKEY_free(g.key);
	EVP_PKEY_free(other);
	OPENSSL_cleanse(g.secret, sizeof(g.secret));
	return 0;
usage:
	fprintf(stderr, "usage: cmphostile [-c CA.pem] [-r REF] "
			"[-s SECRET-FILE] [-i RESP.der] [-C CERT -K KEY] "
			"[-n CN] CASE [N]\n");
	return 2;
}
