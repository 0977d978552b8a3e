/*
 * certlint - test tool: checks a certificate against its issuer for the
 * RFC 5280 rules a relying party relies on, and names every violation.
 * The end-to-end suites run it on every certificate in their inventory
 * (tests/e2e/lib.sh, e2e_lint) next to openssl verify, GnuTLS certtool,
 * NSS vfychain and Bouncy Castle's path builder, which validate paths but
 * accept much that RFC 5280 forbids a CA to emit.
 *
 * usage: certlint CERT ISSUER [CERT ISSUER]...
 *        certlint --shape CERT ISSUER [CERT ISSUER]...
 *
 * Files are PEM (the first certificate) or DER. A self-signed root is
 * checked with itself as ISSUER. Prints one line per violation,
 * "certlint: CERT: RULE: detail", and exits 0 when every certificate is
 * clean, 1 when one is not, 2 on usage or unreadable files. The rules,
 * by name (docs/hacking.md lists them with their RFC sections):
 *
 *   version                    v3
 *   serial                     positive, non-zero, at most 20 octets
 *   signature-algorithm        tbsCertificate.signature = signatureAlgorithm
 *   signature                  verifies with the issuer's key
 *   issuer-name                issuer = the issuer's subject, same DER
 *   validity                   notBefore <= notAfter, inside the issuer's
 *   subject-key-identifier     present, non-critical, non-empty
 *   authority-key-identifier   present (but in a self-signed root),
 *                              non-critical, keyIdentifier = issuer's SKI
 *   basic-constraints          critical when cA=TRUE; cA=TRUE only with
 *                              keyCertSign; pathLen only with cA=TRUE
 *   key-usage                  present, critical, a bit set; keyCertSign
 *                              only with cA=TRUE; no keyEncipherment or
 *                              dataEncipherment with an EC key (RFC 8813)
 *   extended-key-usage         not empty, no anyExtendedKeyUsage;
 *                              OCSPSigning alone and with ocsp-nocheck
 *   subject-alt-name           critical and present for an empty subject;
 *                              not empty, no empty name
 *   duplicate-extension        each extension at most once
 *   extension-decoding         every known extension decodes, as DER
 *   unknown-critical-extension no critical extension a validator skips
 *   public-key                 RSA >= 2048 bits, EC on P-256 or P-384
 *                              (named), Ed25519, Ed448
 *
 * --shape prints "CERT SHAPE" per pair instead, SHAPE naming what the
 * validators' verdict depends on besides names and values: the issuer
 * file, version, signature and key algorithm and size, each extension
 * with its criticality, the subject's attribute types, the SAN types, the
 * extendedKeyUsage purposes and cA (e2e_lint runs certtool and vfychain
 * once per shape on big inventories, and picks vfychain's usage by it).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* RFC 5280 §4.1.2.2: serial numbers of at most 20 octets. */
#define LINT_MAX_SERIAL 20
/* The smallest RSA modulus a relying party should accept. */
#define LINT_MIN_RSA_BITS 2048

struct lint {
	const char *file;
	X509 *cert;
	X509 *issuer;
	int root;		/* self-signed: issuer and key are its own */
	int nviol;
};

static void lint_report(struct lint *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
lint_report(struct lint *l, const char *rule, const char *fmt, ...)
{
	va_list ap;

	printf("certlint: %s: %s: ", l->file, rule);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	l->nviol++;
}

static X509 *
cert_load(const char *file)
{
	BIO *bio;
	X509 *x;

	if ((bio = BIO_new_file(file, "rb")) == NULL)
		return NULL;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (x == NULL) {
		ERR_clear_error();
		(void)BIO_reset(bio);
		x = d2i_X509_bio(bio, NULL);
	}
	BIO_free(bio);
	return x;
}

/* Hex of BYTES into BUF (truncated to fit), for messages. */
static const char *
hex(const unsigned char *p, int n, char *buf, size_t size)
{
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n && o + 3 <= size; i++, o += 2)
		snprintf(buf + o, size - o, "%02x", p[i]);
	return buf;
}

/* The short name of OBJ, or its dotted form. */
static const char *
obj_name(const ASN1_OBJECT *obj, char *buf, int size)
{
	int nid = OBJ_obj2nid(obj);

	if (nid != NID_undef)
		return OBJ_nid2sn(nid);
	OBJ_obj2txt(buf, size, obj, 1);
	return buf;
}

static void
check_version(struct lint *l)
{
	long v = X509_get_version(l->cert);

	if (v != X509_VERSION_3)
		lint_report(l, "version", "v%ld, not v3", v + 1);
}

static void
check_serial(struct lint *l)
{
	const ASN1_INTEGER *s = X509_get0_serialNumber(l->cert);
	const unsigned char *p = ASN1_STRING_get0_data(s);
	int n = ASN1_STRING_length(s), i, octets;

	if (ASN1_STRING_type(s) == V_ASN1_NEG_INTEGER) {
		lint_report(l, "serial", "negative");
		return;
	}
	for (i = 0; i < n && p[i] == 0; i++)
		continue;
	if (i == n) {
		lint_report(l, "serial", "zero");
		return;
	}
	/* DER content octets: the magnitude, and a 0x00 when the top bit is
	 * set, which RFC 5280's 20 octets count. */
	octets = n - i + ((p[i] & 0x80) ? 1 : 0);
	if (octets > LINT_MAX_SERIAL)
		lint_report(l, "serial", "%d octets, more than %d", octets,
		    LINT_MAX_SERIAL);
}

static void
check_signature(struct lint *l)
{
	const X509_ALGOR *outer, *inner = X509_get0_tbs_sigalg(l->cert);
	const ASN1_BIT_STRING *sig;
	EVP_PKEY *key = X509_get0_pubkey(l->issuer);
	char a[80], b[80];

	X509_get0_signature(&sig, &outer, l->cert);
	if (X509_ALGOR_cmp(inner, outer) != 0) {
		const ASN1_OBJECT *io, *oo;

		X509_ALGOR_get0(&io, NULL, NULL, inner);
		X509_ALGOR_get0(&oo, NULL, NULL, outer);
		lint_report(l, "signature-algorithm",
		    "tbsCertificate says %s, signatureAlgorithm %s",
		    obj_name(io, a, sizeof(a)), obj_name(oo, b, sizeof(b)));
	}
	if (key == NULL || X509_verify(l->cert, key) != 1)
		lint_report(l, "signature",
		    "does not verify with the issuer's key");
	ERR_clear_error();
}

static void
check_issuer_name(struct lint *l)
{
	const X509_NAME *in = X509_get_issuer_name(l->cert);
	const X509_NAME *sn = X509_get_subject_name(l->issuer);
	const unsigned char *a, *b;
	size_t alen, blen;
	char x[256], y[256];

	if (!X509_NAME_get0_der(in, &a, &alen) ||
	    !X509_NAME_get0_der(sn, &b, &blen)) {
		lint_report(l, "issuer-name", "cannot be encoded");
		return;
	}
	if (alen == blen && memcmp(a, b, alen) == 0)
		return;
	X509_NAME_oneline(in, x, sizeof(x));
	X509_NAME_oneline(sn, y, sizeof(y));
	if (X509_NAME_cmp(in, sn) == 0)
		lint_report(l, "issuer-name",
		    "%s matches the issuer's subject only after "
		    "normalisation (RFC 5280 §4.1.2.4: same encoding)", x);
	else
		lint_report(l, "issuer-name",
		    "%s is not the issuer's subject %s", x, y);
}

static void
time_text(const ASN1_TIME *t, char *buf, int size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = 0;

	buf[0] = '\0';
	if (b != NULL && ASN1_TIME_print(b, t))
		n = BIO_read(b, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	BIO_free(b);
}

static void
check_validity(struct lint *l)
{
	const ASN1_TIME *nb = X509_get0_notBefore(l->cert);
	const ASN1_TIME *na = X509_get0_notAfter(l->cert);
	char x[40], y[40];

	if (ASN1_TIME_compare(nb, na) > 0) {
		time_text(nb, x, sizeof(x));
		time_text(na, y, sizeof(y));
		lint_report(l, "validity", "notBefore %s after notAfter %s",
		    x, y);
	}
	if (l->root)
		return;
	if (ASN1_TIME_compare(nb, X509_get0_notBefore(l->issuer)) < 0) {
		time_text(nb, x, sizeof(x));
		time_text(X509_get0_notBefore(l->issuer), y, sizeof(y));
		lint_report(l, "validity",
		    "notBefore %s before the issuer's notBefore %s", x, y);
	}
	if (ASN1_TIME_compare(na, X509_get0_notAfter(l->issuer)) > 0) {
		time_text(na, x, sizeof(x));
		time_text(X509_get0_notAfter(l->issuer), y, sizeof(y));
		lint_report(l, "validity",
		    "notAfter %s after the issuer's notAfter %s", x, y);
	}
}

/*
 * One pass over the extensions: duplicates, decoding (a known extension
 * must decode and re-encode to the same bytes, which rejects trailing
 * data and non-DER forms) and critical extensions no validator processes.
 */
static void
check_extensions(struct lint *l)
{
	int i, j, n = X509_get_ext_count(l->cert);
	char buf[80];

	for (i = 0; i < n; i++) {
		X509_EXTENSION *ext = X509_get_ext(l->cert, i);
		const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
		const ASN1_OCTET_STRING *val = X509_EXTENSION_get_data(ext);
		const X509V3_EXT_METHOD *m = X509V3_EXT_get(ext);
		const char *nm = obj_name(obj, buf, sizeof(buf));
		unsigned char *der = NULL;
		void *dec;
		int len = -1;

		for (j = 0; j < i; j++) {
			if (OBJ_cmp(obj, X509_EXTENSION_get_object(
			    X509_get_ext(l->cert, j))) == 0) {
				lint_report(l, "duplicate-extension",
				    "%s appears more than once", nm);
				break;
			}
		}
		if (X509_EXTENSION_get_critical(ext) &&
		    !X509_supported_extension(ext))
			lint_report(l, "unknown-critical-extension",
			    "%s is critical and not processed by validators",
			    nm);
		if (m == NULL)
			continue;
		if ((dec = X509V3_EXT_d2i(ext)) == NULL) {
			lint_report(l, "extension-decoding",
			    "%s does not decode", nm);
			ERR_clear_error();
			continue;
		}
		if (m->it != NULL)
			len = ASN1_item_i2d(dec, &der, ASN1_ITEM_ptr(m->it));
		else if (m->i2d != NULL && (len = m->i2d(dec, NULL)) > 0 &&
		    (der = OPENSSL_malloc(len)) != NULL) {
			unsigned char *p = der;

			len = m->i2d(dec, &p);
		}
		if (len != ASN1_STRING_length(val) || der == NULL ||
		    memcmp(der, ASN1_STRING_get0_data(val), len) != 0)
			lint_report(l, "extension-decoding",
			    "%s is not DER or has trailing data", nm);
		OPENSSL_free(der);
		if (m->it != NULL)
			ASN1_item_free(dec, ASN1_ITEM_ptr(m->it));
		else
			m->ext_free(dec);
	}
}

/*
 * The decoded extension NID, or NULL when absent (*crit -1), duplicated
 * (-2, reported by check_extensions) or undecodable (reported too).
 */
static void *
ext_get(struct lint *l, int nid, int *crit)
{
	void *d = X509_get_ext_d2i(l->cert, nid, crit, NULL);

	ERR_clear_error();
	return d;
}

static ASN1_OCTET_STRING *
ski_get(X509 *x)
{
	ASN1_OCTET_STRING *o;

	o = X509_get_ext_d2i(x, NID_subject_key_identifier, NULL, NULL);
	ERR_clear_error();
	return o;
}

static void
check_key_ids(struct lint *l, int is_ca)
{
	ASN1_OCTET_STRING *ski, *iski = NULL;
	AUTHORITY_KEYID *aki;
	int crit;
	char x[100], y[100];

	ski = ext_get(l, NID_subject_key_identifier, &crit);
	if (ski == NULL && crit == -1)
		lint_report(l, "subject-key-identifier", "absent%s",
		    is_ca ? " (required for a CA, RFC 5280 §4.2.1.2)" : "");
	else if (crit == 1)
		lint_report(l, "subject-key-identifier", "critical");
	if (ski != NULL && ASN1_STRING_length(ski) == 0)
		lint_report(l, "subject-key-identifier", "empty");

	aki = ext_get(l, NID_authority_key_identifier, &crit);
	if (crit == 1)
		lint_report(l, "authority-key-identifier", "critical");
	if (aki == NULL) {
		if (crit == -1 && !l->root)
			lint_report(l, "authority-key-identifier", "absent");
		goto out;
	}
	if (aki->keyid == NULL) {
		lint_report(l, "authority-key-identifier",
		    "no keyIdentifier");
		goto out;
	}
	iski = l->root ? ASN1_OCTET_STRING_dup(ski) : ski_get(l->issuer);
	if (iski == NULL) {
		lint_report(l, "authority-key-identifier",
		    "the issuer has no subjectKeyIdentifier to match");
		goto out;
	}
	if (ASN1_OCTET_STRING_cmp(aki->keyid, iski) != 0)
		lint_report(l, "authority-key-identifier",
		    "keyIdentifier %s is not the issuer's "
		    "subjectKeyIdentifier %s",
		    hex(aki->keyid->data, aki->keyid->length, x, sizeof(x)),
		    hex(iski->data, iski->length, y, sizeof(y)));
 out:
	ASN1_OCTET_STRING_free(ski);
	ASN1_OCTET_STRING_free(iski);
	AUTHORITY_KEYID_free(aki);
}

/* basicConstraints and keyUsage, which must agree (RFC 5280 §4.2.1.3,
 * §4.2.1.9). Sets *is_ca for the rules that depend on it. */
static void
check_ca_usage(struct lint *l, int *is_ca)
{
	BASIC_CONSTRAINTS *bc;
	ASN1_BIT_STRING *ku;
	int bcrit, kcrit, certsign = 0, i, any = 0;

	bc = ext_get(l, NID_basic_constraints, &bcrit);
	*is_ca = bc != NULL && bc->ca;
	if (*is_ca && bcrit != 1)
		lint_report(l, "basic-constraints", "cA=TRUE but not critical");
	if (bc != NULL && bc->pathlen != NULL && !*is_ca)
		lint_report(l, "basic-constraints",
		    "pathLenConstraint without cA=TRUE");

	ku = ext_get(l, NID_key_usage, &kcrit);
	if (ku == NULL) {
		if (kcrit == -1)
			lint_report(l, "key-usage", "absent");
	} else {
		if (kcrit != 1)
			lint_report(l, "key-usage", "not critical");
		for (i = 0; i < 9; i++)
			any |= ASN1_BIT_STRING_get_bit(ku, i);
		if (!any)
			lint_report(l, "key-usage", "no bit set");
		certsign = ASN1_BIT_STRING_get_bit(ku, 5);
	}
	/* RFC 8813 §3 (updating RFC 5480): an EC key transports no key. */
	if (ku != NULL && X509_get0_pubkey(l->cert) != NULL &&
	    EVP_PKEY_get_base_id(X509_get0_pubkey(l->cert)) == EVP_PKEY_EC &&
	    (ASN1_BIT_STRING_get_bit(ku, 2) || ASN1_BIT_STRING_get_bit(ku, 3)))
		lint_report(l, "key-usage", "%s with an EC key (RFC 8813 §3)",
		    ASN1_BIT_STRING_get_bit(ku, 2) ? "keyEncipherment" :
		    "dataEncipherment");
	if (*is_ca && !certsign)
		lint_report(l, "basic-constraints",
		    "cA=TRUE without keyUsage keyCertSign");
	if (certsign && !*is_ca)
		lint_report(l, "key-usage",
		    "keyCertSign without basicConstraints cA=TRUE");
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
}

static void
check_eku(struct lint *l)
{
	EXTENDED_KEY_USAGE *eku;
	int crit, i, n, ocsp = 0, nocheck;

	if ((eku = ext_get(l, NID_ext_key_usage, &crit)) == NULL)
		return;
	n = sk_ASN1_OBJECT_num(eku);
	if (n == 0)
		lint_report(l, "extended-key-usage", "empty");
	for (i = 0; i < n; i++) {
		int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i));

		if (nid == NID_anyExtendedKeyUsage)
			lint_report(l, "extended-key-usage",
			    "anyExtendedKeyUsage");
		ocsp |= nid == NID_OCSP_sign;
	}
	/* A delegated OCSP signer (RFC 6960 §4.2.2.2) answers for the whole
	 * CA: ours carry that purpose alone, and ocsp-nocheck, since no
	 * one can check the signer's own status. */
	if (ocsp && n > 1)
		lint_report(l, "extended-key-usage",
		    "OCSPSigning together with %d other purpose(s)", n - 1);
	nocheck = X509_get_ext_by_NID(l->cert, NID_id_pkix_OCSP_noCheck, -1);
	if (ocsp && nocheck < 0)
		lint_report(l, "extended-key-usage",
		    "OCSPSigning without id-pkix-ocsp-nocheck");
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
}

static void
check_san(struct lint *l)
{
	GENERAL_NAMES *san;
	int crit, i, empty_subject;

	empty_subject = X509_NAME_entry_count(
	    X509_get_subject_name(l->cert)) == 0;
	san = ext_get(l, NID_subject_alt_name, &crit);
	if (empty_subject && crit == -1)
		lint_report(l, "subject-alt-name",
		    "absent while the subject is empty");
	else if (empty_subject && crit == 0)
		lint_report(l, "subject-alt-name",
		    "not critical while the subject is empty");
	if (san == NULL)
		return;
	if (sk_GENERAL_NAME_num(san) == 0)
		lint_report(l, "subject-alt-name", "no name");
	for (i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		int type;
		ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);

		if ((type == GEN_DNS || type == GEN_EMAIL || type == GEN_URI) &&
		    ASN1_STRING_length(s) == 0)
			lint_report(l, "subject-alt-name",
			    "empty name (entry %d)", i + 1);
	}
	GENERAL_NAMES_free(san);
}

static void
check_key(struct lint *l)
{
	X509_PUBKEY *pub = X509_get_X509_PUBKEY(l->cert);
	EVP_PKEY *key = X509_get0_pubkey(l->cert);
	const ASN1_OBJECT *alg, *curve;
	const void *pval;
	X509_ALGOR *pa;
	int ptype, nid, cnid;
	char name[80];

	if (key == NULL || !X509_PUBKEY_get0_param(NULL, NULL, NULL, &pa,
	    pub)) {
		lint_report(l, "public-key", "does not decode");
		ERR_clear_error();
		return;
	}
	X509_ALGOR_get0(&alg, &ptype, &pval, pa);
	switch ((nid = OBJ_obj2nid(alg))) {
	case NID_rsaEncryption:
	case NID_rsassaPss:
		if (EVP_PKEY_get_bits(key) < LINT_MIN_RSA_BITS)
			lint_report(l, "public-key",
			    "RSA %d bits, fewer than %d",
			    EVP_PKEY_get_bits(key), LINT_MIN_RSA_BITS);
		break;
	case NID_X9_62_id_ecPublicKey:
		if (ptype != V_ASN1_OBJECT) {
			lint_report(l, "public-key",
			    "EC with explicit parameters, not a named curve");
			break;
		}
		curve = pval;
		cnid = OBJ_obj2nid(curve);
		if (cnid != NID_X9_62_prime256v1 && cnid != NID_secp384r1)
			lint_report(l, "public-key",
			    "EC curve %s, not P-256 or P-384",
			    obj_name(curve, name, sizeof(name)));
		break;
	case NID_ED25519:
	case NID_ED448:
		break;
	default:
		lint_report(l, "public-key", "key type %s not allowed",
		    obj_name(alg, name, sizeof(name)));
	}
}

/* Prints the shape of X (see the top of the file), without spaces. */
static void
shape_print(const char *file, const char *issuer_file, X509 *x)
{
	const X509_NAME *subj = X509_get_subject_name(x);
	const ASN1_OBJECT *obj;
	const X509_ALGOR *alg;
	GENERAL_NAMES *san;
	EXTENDED_KEY_USAGE *eku;
	BASIC_CONSTRAINTS *bc;
	EVP_PKEY *key = X509_get0_pubkey(x);
	char buf[80];
	int i;

	X509_get0_signature(NULL, &alg, x);
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	printf("%s ca=%s;v=%ld;sig=%s;key=%s/%d;ext=", file, issuer_file,
	    X509_get_version(x), obj_name(obj, buf, sizeof(buf)),
	    key != NULL ? OBJ_nid2sn(EVP_PKEY_get_base_id(key)) : "-",
	    key != NULL ? EVP_PKEY_get_bits(key) : 0);
	for (i = 0; i < X509_get_ext_count(x); i++) {
		X509_EXTENSION *ext = X509_get_ext(x, i);

		printf("%s%s,", obj_name(X509_EXTENSION_get_object(ext), buf,
		    sizeof(buf)), X509_EXTENSION_get_critical(ext) ? "!" : "");
	}
	printf(";subj=");
	for (i = 0; i < X509_NAME_entry_count(subj); i++)
		printf("%s,", obj_name(X509_NAME_ENTRY_get_object(
		    X509_NAME_get_entry(subj, i)), buf, sizeof(buf)));
	printf(";san=");
	san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		int type;

		GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(san, i), &type);
		printf("%d,", type);
	}
	GENERAL_NAMES_free(san);
	printf(";eku=");
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		printf("%s,", obj_name(sk_ASN1_OBJECT_value(eku, i), buf,
		    sizeof(buf)));
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	printf(";cA=%d\n", bc != NULL && bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	ERR_clear_error();
}

/* Lints one pair; returns the number of violations, -1 if unreadable. */
static int
lint_one(const char *file, const char *issuer_file, int shape)
{
	struct lint l = { .file = file };
	EVP_PKEY *own;
	int is_ca, rc = -1;

	if ((l.cert = cert_load(file)) == NULL) {
		fprintf(stderr, "certlint: %s: cannot read a certificate\n",
		    file);
		goto out;
	}
	if ((l.issuer = cert_load(issuer_file)) == NULL) {
		fprintf(stderr, "certlint: %s: cannot read a certificate\n",
		    issuer_file);
		goto out;
	}
	if (shape) {
		shape_print(file, issuer_file, l.cert);
		rc = 0;
		goto out;
	}
	/* Self-signed: named as its own issuer and signed by its own key. */
	own = X509_get0_pubkey(l.cert);
	l.root = X509_NAME_cmp(X509_get_issuer_name(l.cert),
	    X509_get_subject_name(l.cert)) == 0 && own != NULL &&
	    X509_verify(l.cert, own) == 1 &&
	    X509_cmp(l.cert, l.issuer) == 0;
	ERR_clear_error();

	check_version(&l);
	check_serial(&l);
	check_signature(&l);
	check_issuer_name(&l);
	check_validity(&l);
	check_extensions(&l);
	check_ca_usage(&l, &is_ca);
	check_key_ids(&l, is_ca);
	check_eku(&l);
	check_san(&l);
	check_key(&l);
	rc = l.nviol;
 out:
	X509_free(l.cert);
	X509_free(l.issuer);
	return rc;
}

int
main(int argc, char **argv)
{
	int i, n, bad = 0, unreadable = 0, shape = 0, first = 1;

	if (argc > 1 && strcmp(argv[1], "--shape") == 0) {
		shape = 1;
		first = 2;
	}
	if (argc - first < 2 || (argc - first) % 2 != 0) {
		fprintf(stderr, "usage: certlint [--shape] CERT ISSUER "
		    "[CERT ISSUER]...\n");
		return 2;
	}
	for (i = first; i + 1 < argc; i += 2) {
		n = lint_one(argv[i], argv[i + 1], shape);
		if (n < 0)
			unreadable = 1;
		else if (n > 0)
			bad = 1;
	}
	fflush(stdout);
	return unreadable ? 2 : bad;
}
