/*
 * ca_store.c - the CA identities a process serves, loaded once per process
 * (after fork): the certificate decoded once, the key handle from the HSM.
 * Decoding public keys is a third of a CMP message's CPU in OpenSSL 3.0, so
 * nothing here is re-parsed per request.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/sha.h>

#include "ca/ca.h"

/* SHA-384 for P-384 keys, SHA-256 for everything else we generate. */
const EVP_MD *
ca_sign_md(EVP_PKEY *key)
{
	if (EVP_PKEY_get_bits(key) >= 384 && EVP_PKEY_get_base_id(key) ==
	    EVP_PKEY_EC)
		return EVP_sha384();
	return EVP_sha256();
}

/* Signs x with key (in the HSM); returns 1 or 0. */
int
ca_x509_sign(X509 *x, EVP_PKEY *key, const EVP_MD *md)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	long long t0 = metrics_now_us();
	int ok = 0;

	if (mctx == NULL)
		return 0;
	if (EVP_DigestSignInit(mctx, NULL, md, NULL, key) != 1)
		goto out;
	ok = X509_sign_ctx(x, mctx) > 0;
	metrics_hsm(metrics_now_us() - t0);
out:
	EVP_MD_CTX_free(mctx);
	return ok;
}

/* Parses "/C=DE/O=Org/CN=name" (openssl -subj syntax). NULL on error. */
X509_NAME *
ca_name_parse(const char *s)
{
	X509_NAME *n = X509_NAME_new();
	char *buf = strdup(s), *p, *next, *eq;

	if (n == NULL || buf == NULL || buf[0] != '/')
		goto fail;
	for (p = buf + 1; p != NULL && *p != '\0'; p = next) {
		next = strchr(p, '/');
		if (next != NULL)
			*next++ = '\0';
		if ((eq = strchr(p, '=')) == NULL)
			goto fail;
		*eq = '\0';
		if (!X509_NAME_add_entry_by_txt(n, p, MBSTRING_UTF8,
			(unsigned char *)eq + 1, -1, -1, 0))
			goto fail;
	}
	if (X509_NAME_entry_count(n) == 0)
		goto fail;
	free(buf);
	return n;
fail:
	ERR_clear_error();
	free(buf);
	X509_NAME_free(n);
	return NULL;
}

/* See ca.h. */
STACK_OF(X509) *
ca_chain_copy(const struct ca_ident *ca)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	int i;

	if (sk == NULL)
		return NULL;
	for (i = 0; i < sk_X509_num(ca->chain); i++) {
		X509 *c = sk_X509_value(ca->chain, i);

		if (!X509_up_ref(c))
			goto fail;
		if (!sk_X509_push(sk, c)) {
			X509_free(c);
			goto fail;
		}
	}
	return sk;
fail:
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

/* Lowercase hex, no leading zeros; returns 1 or 0. */
int
ca_serial_hex(const ASN1_INTEGER *serial, char *out, size_t outlen)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = NULL, *p;
	int ok = 0;

	if (bn == NULL || (hex = BN_bn2hex(bn)) == NULL)
		goto out;
	for (p = hex; *p == '0' && p[1] != '\0'; p++)
		;
	if (strlen(p) + 1 > outlen)
		goto out;
	for (size_t i = 0; p[i] != '\0'; i++)
		out[i] = (char)(p[i] >= 'A' && p[i] <= 'F' ? p[i] + 32 : p[i]);
	out[strlen(p)] = '\0';
	ok = 1;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	return ok;
}

static char *
name_text(const X509_NAME *n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL, *data;
	long len;

	if (b == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_get_mem_data(b, &data);
		if ((s = malloc((size_t)len + 1)) != NULL) {
			memcpy(s, data, (size_t)len);
			s[len] = '\0';
		}
	}
	BIO_free(b);
	return s;
}

/* See ca.h. */
time_t
ca_time_of(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

/* Fills a db_cert row from a certificate; see ca.h. */
int
ca_cert_to_row(X509 *x, struct db_cert *row)
{
	unsigned char *spki = NULL;
	int len;

	if (!ca_serial_hex(X509_get0_serialNumber(x), row->serial,
		sizeof(row->serial)))
		return 0;
	row->subject = name_text(X509_get_subject_name(x));
	row->issuer = name_text(X509_get_issuer_name(x));
	if (row->subject == NULL || row->issuer == NULL)
		return 0;
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	if (len <= 0)
		return 0;
	SHA256(spki, (size_t)len, row->spki_sha256);
	OPENSSL_free(spki);
	row->not_before = ca_time_of(X509_get0_notBefore(x));
	row->not_after = ca_time_of(X509_get0_notAfter(x));
	row->der = NULL;
	len = i2d_X509(x, &row->der);
	if (len <= 0)
		return 0;
	row->der_len = (size_t)len;
	return 1;
}

static void
ca_ident_clear(struct ca_ident *ca)
{
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	sk_X509_pop_free(ca->chain, X509_free);
	memset(ca, 0, sizeof(*ca));
}

/* See ca.h. */
int
ca_chain_parse(const unsigned char *der, size_t len, STACK_OF(X509) *sk)
{
	const unsigned char *p = der, *end = der + len;
	X509 *x;

	while (p != NULL && p < end) {
		if ((x = d2i_X509(NULL, &p, (long)(end - p))) == NULL)
			return 0;
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			return 0;
		}
	}
	return 1;
}

/* See ca.h. */
int
ca_chain_encode(STACK_OF(X509) *sk, int from, unsigned char **out,
    size_t *len)
{
	unsigned char *buf = NULL, *p, *nb;
	size_t total = 0;
	int i, n;

	*out = NULL;
	*len = 0;
	for (i = from; i < sk_X509_num(sk); i++) {
		if ((n = i2d_X509(sk_X509_value(sk, i), NULL)) <= 0 ||
		    (nb = realloc(buf, total + (size_t)n)) == NULL) {
			free(buf);
			return 0;
		}
		buf = nb;
		p = buf + total;
		if (i2d_X509(sk_X509_value(sk, i), &p) != n) {
			free(buf);
			return 0;
		}
		total += (size_t)n;
	}
	*out = buf;
	*len = total;
	return 1;
}

/* Loads one CA from its database row; returns 1 or 0. */
static int
ca_ident_load(struct ca_ident *ca, const struct db_ca *row, struct hsm *hsm)
{
	const unsigned char *p = row->cert;

	memset(ca, 0, sizeof(*ca));
	ca->id = row->id;
	snprintf(ca->label, sizeof(ca->label), "%s", row->label);
	ca_crl_name(row->key_uri, row->label, ca->crl_name,
	    sizeof(ca->crl_name));
	ca->cert = d2i_X509(NULL, &p, (long)row->cert_len);
	/* Issuance stores under this CA only while the row still holds
	 * this certificate (db_issue1, db_ca_cert_current). */
	SHA256(row->cert, row->cert_len, ca->cert_sha256);
	if (ca->cert == NULL) {
		log_err("ca %s: stored certificate does not decode", row->label);
		goto fail;
	}
	/* An RA's upstream CA: its certificate, no key of ours. */
	ca->upstream = strcmp(row->status, "upstream") == 0;
	if (!ca->upstream &&
	    (ca->key = hsm_key_load(hsm, row->key_uri)) == NULL) {
		log_err("ca %s: cannot load key %s: %s", row->label,
		    row->key_uri, hsm_error());
		goto fail;
	}
	/* The upstream CA's digest is not ours to know: SHA-256 where a
	 * digest is needed without a certificate to name one. */
	ca->md = ca->key != NULL ? ca_sign_md(ca->key) : EVP_sha256();
	ca->retired = strcmp(row->status, "retired") == 0;
	ca->loaded = time(NULL);
	if ((ca->chain = sk_X509_new_null()) == NULL ||
	    !X509_up_ref(ca->cert) || !sk_X509_push(ca->chain, ca->cert))
		goto fail;
	if (row->chain != NULL &&
	    !ca_chain_parse(row->chain, row->chain_len, ca->chain)) {
		log_err("ca %s: stored chain does not decode", row->label);
		goto fail;
	}
	return 1;
fail:
	ca_ident_clear(ca);
	return 0;
}

static struct ca_ident *
ca_store_add(struct ca_store *st, struct hsm *hsm, const struct db_ca *row,
    int *err)
{
	struct ca_ident **n, *ca;

	/* Retired CAs are loaded for their CRLs; callers that issue check
	 * ca->retired. A pending CA has no certificate yet. */
	if (strcmp(row->status, "pending") == 0)
		return NULL;
	n = realloc(st->ca, (st->n + 1) * sizeof(*st->ca));
	if (n == NULL || (ca = calloc(1, sizeof(*ca))) == NULL) {
		if (n != NULL)
			st->ca = n;
		*err = 1;
		return NULL;
	}
	st->ca = n;
	if (!ca_ident_load(ca, row, hsm)) {
		free(ca);
		*err = 1;
		return NULL;
	}
	st->ca[st->n++] = ca;
	return ca;
}

/*
 * Brings a loaded CA up to date with its row (retired, or a new key and
 * certificate after a rollover). The struct stays where it is, so
 * pointers into the store remain valid. Keeps the old state when the row
 * cannot be read or the new state cannot be loaded.
 */
static void
ca_ident_refresh(struct ca_ident *ca, struct db *db, struct hsm *hsm)
{
	struct db_ca row;
	struct ca_ident fresh;
	unsigned char *der = NULL;
	int len;

	ca->loaded = time(NULL);
	if (db_ca_get(db, ca->id, &row) != 1 || row.cert == NULL)
		goto out;
	len = i2d_X509(ca->cert, &der);
	if (len > 0 && (size_t)len == row.cert_len &&
	    memcmp(der, row.cert, row.cert_len) == 0 &&
	    ca->retired == (strcmp(row.status, "retired") == 0))
		goto out;
	if (!ca_ident_load(&fresh, &row, hsm))
		goto out;
	log_info("ca %s: reloaded (%s)", ca->label, row.status);
	ca_ident_clear(ca);
	*ca = fresh;
out:
	OPENSSL_free(der);
	db_ca_clear(&row);
}

/* See ca.h. */
struct ca_ident *
ca_store_get(struct ca_store *st, struct db *db, struct hsm *hsm,
    const char *label, int *err)
{
	struct db_ca row;
	struct ca_ident *ca = NULL;
	size_t i;
	int rc;

	*err = 0;
	if (label == NULL)
		return NULL;
	for (i = 0; i < st->n; i++)
		if (strcmp(st->ca[i]->label, label) == 0) {
			if (time(NULL) - st->ca[i]->loaded >= CA_STORE_REFRESH)
				ca_ident_refresh(st->ca[i], db, hsm);
			return st->ca[i];
		}
	memset(&row, 0, sizeof(row));
	rc = db_ca_get_by_label(db, label, &row);
	if (rc < 0) {
		log_err("ca lookup failed: %s", db_error(db));
		*err = 1;
	} else if (rc == 1)
		ca = ca_store_add(st, hsm, &row, err);
	db_ca_clear(&row);
	return ca;
}

/* Frees every loaded CA; the store can be reused. */
void
ca_store_clear(struct ca_store *st)
{
	size_t i;

	for (i = 0; i < st->n; i++) {
		ca_ident_clear(st->ca[i]);
		free(st->ca[i]);
	}
	free(st->ca);
	st->ca = NULL;
	st->n = 0;
}

/* Characters of a CA label (cli_ca.c label_ok), safe in a URL path. */
#define CRL_NAME_CHARS \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

/* See ca.h. */
void
ca_crl_name(const char *key_uri, const char *label, char *out, size_t outlen)
{
	const char *o = key_uri != NULL ? strstr(key_uri, ";object=") : NULL;
	size_t n = 0;

	if (o == NULL && key_uri != NULL &&
	    strncmp(key_uri, "pkcs11:object=", 14) == 0)
		o = key_uri + 6;
	if (o != NULL) {
		o = strchr(o, '=') + 1;
		n = strspn(o, CRL_NAME_CHARS);
		/* Escaped or other characters: not a name we can publish. */
		if (o[n] != '\0' && o[n] != ';')
			n = 0;
	}
	if (n == 0 || n >= outlen || n >= CA_CRL_NAME_MAX ||
	    !isalnum((unsigned char)o[0]))
		snprintf(out, outlen, "%s", label);
	else
		snprintf(out, outlen, "%.*s", (int)n, o);
}

/*
 * Digests fetched once per process: OpenSSL 3.0 re-fetches the
 * implementation on every EVP_DigestInit_ex with a legacy EVP_MD, which
 * made the PBM iteration loop several times slower.
 */
const EVP_MD *
ca_md_fetch(int nid)
{
	static struct {
		int nid;
		EVP_MD *md;
	} cache[8];
	size_t i;

	for (i = 0; i < sizeof(cache) / sizeof(cache[0]); i++) {
		if (cache[i].md != NULL && cache[i].nid == nid)
			return cache[i].md;
		if (cache[i].md == NULL) {
			cache[i].md = EVP_MD_fetch(NULL, OBJ_nid2sn(nid), NULL);
			cache[i].nid = nid;
			return cache[i].md;
		}
	}
	return EVP_get_digestbynid(nid);
}
