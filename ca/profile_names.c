/*
 * profile_names.c - names checked for what they are, whatever the
 * profile: a subjectAltName value in the syntax of its type (RFC 5280
 * §4.2.1.6: dNSName in the preferred name syntax of RFC 1034 §3.5 as
 * modified by RFC 1123 §2.1, iPAddress of 4 or 16 octets, rfc822Name a
 * Mailbox addr-spec of RFC 5321 §4.1.2, uniformResourceIdentifier an
 * absolute URI of RFC 3986 §3), and a subject's attribute values in the
 * string type RFC 5280 §4.1.2.4 and Appendix A prescribe, without control
 * characters. Below profile.c and profile_san.c, which call it; the
 * issuance checks (ca/issue/issue.c) call it for the subject.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"

/* RFC 1034 §3.1, RFC 5280 §4.2.1.6. */
#define DNS_NAME_MAX 253
#define DNS_LABEL_MAX 63
/* RFC 5321 §4.5.3.1.1 */
#define MAIL_LOCAL_MAX 64
/* RFC 5280 Appendix A ub-emailaddress-length */
#define MAIL_MAX 255

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_ldh(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '-';
}

/* See ca.h. */
int
profile_dns_ok(const unsigned char *s, size_t len, int wildcard,
    const char **why)
{
	size_t i, start = 0, labels = 0;

	if (len == 0 || len > DNS_NAME_MAX) {
		*why = "empty or longer than 253 characters";
		return 0;
	}
	if (wildcard && len >= 2 && s[0] == '*' && s[1] == '.')
		start = 2;
	if (memchr(s + start, '*', len - start) != NULL) {
		*why = wildcard ? "a wildcard only as the whole leftmost label"
				: "a wildcard the profile does not allow "
				  "(wildcards)";
		return 0;
	}
	for (i = start; i <= len; i++) {
		size_t l0 = i;

		while (i < len && s[i] != '.')
			i++;
		if (i == l0) {
			*why = "an empty label";
			return 0;
		}
		if (i - l0 > DNS_LABEL_MAX) {
			*why = "a label longer than 63 characters";
			return 0;
		}
		if (s[l0] == '-' || s[i - 1] == '-') {
			*why = "a label that starts or ends with a hyphen";
			return 0;
		}
		for (; l0 < i; l0++)
			if (!is_ldh(s[l0])) {
				*why = "a character other than letters, digits, "
				       "hyphens and dots";
				return 0;
			}
		labels++;
	}
	if (start > 0 && labels < 2) {
		*why = "a wildcard over fewer than two labels";
		return 0;
	}
	return 1;
}

/* atext of RFC 5322 §3.2.3. */
static int
is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) !=
	    NULL;
}

/* See ca.h. */
int
profile_email_ok(const unsigned char *s, size_t len, const char **why)
{
	const unsigned char *at;
	size_t i, local;

	if (len == 0 || len > MAIL_MAX ||
	    (at = memchr(s, '@', len)) == NULL ||
	    memchr(at + 1, '@', len - (size_t)(at + 1 - s)) != NULL) {
		*why = "not local-part@domain (RFC 5321 §4.1.2)";
		return 0;
	}
	local = (size_t)(at - s);
	if (local == 0 || local > MAIL_LOCAL_MAX || s[0] == '.' ||
	    s[local - 1] == '.') {
		*why = "a local part empty, longer than 64 or with a dot at "
		       "an end (RFC 5321 §4.1.2)";
		return 0;
	}
	for (i = 0; i < local; i++)
		if (!(is_atext(s[i]) || (s[i] == '.' && s[i + 1] != '.'))) {
			*why = "a local part other than a dot-atom "
			       "(RFC 5321 §4.1.2)";
			return 0;
		}
	if (!profile_dns_ok(at + 1, len - local - 1, 0, why)) {
		*why = "a domain that is not a host name (RFC 5321 §4.1.2)";
		return 0;
	}
	return 1;
}

static int
is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* See ca.h. */
int
profile_uri_ok(const unsigned char *s, size_t len, const char **why)
{
	size_t i;

	if (len == 0 || !is_alpha(s[0])) {
		*why = "no scheme (RFC 3986 §3.1)";
		return 0;
	}
	for (i = 1; i < len && s[i] != ':'; i++)
		if (!(is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' ||
		        s[i] == '-' || s[i] == '.')) {
			*why = "no scheme (RFC 3986 §3.1)";
			return 0;
		}
	if (i == len || i + 1 == len) {
		*why = "no scheme or nothing after it (RFC 5280 §4.2.1.6)";
		return 0;
	}
	for (i++; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len || !is_hex(s[i + 1]) ||
			    !is_hex(s[i + 2])) {
				*why = "a bad percent-encoding (RFC 3986 §2.1)";
				return 0;
			}
			i += 2;
			continue;
		}
		if (!(is_alpha(s[i]) || is_digit(s[i]) ||
		        strchr("-._~:/?#[]@!$&'()*+,;=", s[i]) != NULL) ||
		    s[i] == '\0') {
			*why = "a character RFC 3986 §2 does not allow (space, "
			       "control, quote, angle bracket ...)";
			return 0;
		}
	}
	return 1;
}

/* See ca.h. */
int
profile_gn_ok(const GENERAL_NAME *gn, int wildcard, const char **why)
{
	const ASN1_STRING *s;

	switch (gn->type) {
	case GEN_DNS:
		s = gn->d.dNSName;
		return profile_dns_ok(s->data, (size_t)s->length, wildcard, why);
	case GEN_EMAIL:
		s = gn->d.rfc822Name;
		return profile_email_ok(s->data, (size_t)s->length, why);
	case GEN_URI:
		s = gn->d.uniformResourceIdentifier;
		return profile_uri_ok(s->data, (size_t)s->length, why);
	case GEN_IPADD:
		s = gn->d.iPAddress;
		if (s->length == 4 || s->length == 16)
			return 1;
		*why = "not 4 or 16 octets";
		return 0;
	default:
		return 1; /* the profile's types decide */
	}
}

/* PrintableString's characters (X.680 §41.4). */
static int
printable_ok(const ASN1_STRING *s)
{
	int i;

	for (i = 0; i < s->length; i++)
		if (!(is_alpha(s->data[i]) || is_digit(s->data[i]) ||
		        strchr(" '()+,-./:=?", s->data[i]) != NULL) ||
		    s->data[i] == '\0')
			return 0;
	return 1;
}

/* No C0, DEL or C1 control character in UTF-8 text. */
static int
utf8_no_controls(const unsigned char *u, int len)
{
	int i;

	for (i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return 0;
		/* U+0080..U+009F are C2 80..C2 9F */
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 &&
		    u[i + 1] <= 0x9f)
			return 0;
	}
	return 1;
}

/* Characters in UTF-8 text (bytes that do not continue one). */
static int
utf8_chars(const unsigned char *u, int len)
{
	int i, n = 0;

	for (i = 0; i < len; i++)
		n += (u[i] & 0xc0) != 0x80;
	return n;
}

/* Upper bounds of RFC 5280 Appendix A, in characters (0: none kept). */
static int
attr_max(int nid)
{
	switch (nid) {
	case NID_commonName:
	case NID_organizationName:
	case NID_organizationalUnitName:
	case NID_title:
	case NID_serialNumber:
	case NID_pseudonym:
		return 64;
	case NID_localityName:
	case NID_stateOrProvinceName:
		return 128;
	case NID_pkcs9_emailAddress:
		return MAIL_MAX;
	default:
		return 0;
	}
}

/* One attribute value; 1, or 0 with why (static text). */
static int
attr_ok(int nid, const ASN1_STRING *v, const char **why)
{
	unsigned char *u = NULL;
	int type = ASN1_STRING_type(v), len, max, ok = 0;

	switch (nid) {
	case NID_countryName:
		if (type != V_ASN1_PRINTABLESTRING || v->length != 2 ||
		    !is_alpha(v->data[0]) || !is_alpha(v->data[1])) {
			*why = "countryName is not two letters in a "
			       "PrintableString (RFC 5280 Appendix A)";
			return 0;
		}
		return 1;
	case NID_serialNumber:
	case NID_dnQualifier:
		if (type != V_ASN1_PRINTABLESTRING) {
			*why = "serialNumber and dnQualifier are "
			       "PrintableString (RFC 5280 Appendix A)";
			return 0;
		}
		break;
	case NID_pkcs9_emailAddress:
		if (type != V_ASN1_IA5STRING ||
		    !profile_email_ok(v->data, (size_t)v->length, why)) {
			*why = "emailAddress is not an addr-spec in an "
			       "IA5String (RFC 5280 Appendix A)";
			return 0;
		}
		return 1;
	case NID_domainComponent:
		if (type != V_ASN1_IA5STRING || v->length > DNS_LABEL_MAX ||
		    memchr(v->data, '.', (size_t)v->length) != NULL ||
		    !profile_dns_ok(v->data, (size_t)v->length, 0, why)) {
			*why = "domainComponent is not one host name label "
			       "in an IA5String (RFC 4519 §2.4)";
			return 0;
		}
		return 1;
	default:
		if (type != V_ASN1_UTF8STRING &&
		    type != V_ASN1_PRINTABLESTRING) {
			*why = "a value neither UTF8String nor PrintableString "
			       "(RFC 5280 §4.1.2.4)";
			return 0;
		}
	}
	if (type == V_ASN1_PRINTABLESTRING && !printable_ok(v)) {
		*why = "a PrintableString with characters it cannot hold";
		return 0;
	}
	/* Decoding checks the UTF-8 too. */
	if ((len = ASN1_STRING_to_UTF8(&u, v)) <= 0) {
		*why = len == 0 ? "an empty value (RFC 5280 Appendix A)"
				: "a value that is not UTF-8";
		goto out;
	}
	if (!utf8_no_controls(u, len)) {
		*why = "a control character (NUL, ESC, CR, LF ...)";
		goto out;
	}
	if ((max = attr_max(nid)) > 0 && utf8_chars(u, len) > max) {
		*why = "a value longer than RFC 5280 Appendix A allows";
		goto out;
	}
	ok = 1;
out:
	OPENSSL_free(u);
	ERR_clear_error();
	return ok;
}

/* See ca.h. */
int
profile_subject_syntax_ok(const X509_NAME *n, char *why, size_t len)
{
	char oid[CFG_OID_MAX];
	const char *rule = NULL;
	int i;

	for (i = 0; i < X509_NAME_entry_count(n); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
		const ASN1_OBJECT *o = X509_NAME_ENTRY_get_object(e);
		int nid = OBJ_obj2nid(o);

		if (attr_ok(nid, X509_NAME_ENTRY_get_data(e), &rule))
			continue;
		if (nid == NID_undef || OBJ_nid2sn(nid) == NULL)
			OBJ_obj2txt(oid, sizeof(oid), o, 1);
		else
			snprintf(oid, sizeof(oid), "%s", OBJ_nid2sn(nid));
		snprintf(why, len, "subject attribute %s: %s", oid, rule);
		return 0;
	}
	return 1;
}
