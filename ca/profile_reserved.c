/*
 * profile_reserved.c - the names no end entity may carry: the subject of
 * every CA this instance knows. Those are its CA identities (active,
 * retired, pending with a certificate, and the rows of earlier keys after
 * a rollover) with the issuers of their chains, its cross-certification
 * partners, and the external trust anchors of trust_anchors. A client
 * that authenticates its CA by trust anchor and name (RFC 9483 §3.5,
 * RFC 9810 §5.1.1) must never meet an end entity certificate with the
 * CA's name: its key could then speak as the CA.
 *
 * Names compare as X509_NAME_cmp() does, on the canonical encoding (RFC
 * 5280 §7.1: case and inner whitespace folded), so variants are caught.
 * The list is read per process and read again after CA_CACHE_CHECK
 * seconds (or for another database); the issuing CA's chain is checked
 * from the request itself, at once.
 */
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/ca.h"

static STACK_OF(X509_NAME) *names;
static const struct db *names_db;
static time_t names_at;

/* Adds the subject of DER certificate(s) (concatenated) to sk. 1 or 0. */
static int
add_der(STACK_OF(X509_NAME) *sk, const unsigned char *der, size_t len)
{
	const unsigned char *p = der, *end;
	X509_NAME *n;
	X509 *x;

	if (der == NULL || len == 0)
		return 1; /* a pending CA, a root without chain */
	end = der + len;
	while (p < end) {
		if ((x = d2i_X509(NULL, &p, (long)(end - p))) == NULL)
			return 0;
		n = X509_NAME_dup(X509_get_subject_name(x));
		X509_free(x);
		if (n == NULL || !sk_X509_NAME_push(sk, n)) {
			X509_NAME_free(n);
			return 0;
		}
	}
	return 1;
}

/* Adds the subjects of the certificates of a PEM file. 1 or 0. */
static int
add_pem(STACK_OF(X509_NAME) *sk, const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x;
	X509_NAME *n;
	int ok = b != NULL;

	while (ok && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		n = X509_NAME_dup(X509_get_subject_name(x));
		X509_free(x);
		if (n == NULL || !sk_X509_NAME_push(sk, n)) {
			X509_NAME_free(n);
			ok = 0;
		}
	}
	BIO_free(b);
	ERR_clear_error(); /* the end of the file */
	return ok;
}

/* The names read now from db and cfg, or NULL (logged). */
static STACK_OF(X509_NAME) *
names_read(struct db *db, const struct cfg *cfg)
{
	STACK_OF(X509_NAME) *sk = sk_X509_NAME_new_null();
	struct db_ca *cas = NULL;
	struct db_partner *ps = NULL;
	size_t nca = 0, np = 0, i;
	int ok = 0;

	if (sk == NULL)
		goto out;
	if (db_ca_list(db, &cas, &nca) < 0 ||
	    db_partner_list(db, &ps, &np) < 0) {
		log_err("reserved names: %s", db_error(db));
		goto out;
	}
	for (i = 0; i < nca; i++)
		if (!add_der(sk, cas[i].cert, cas[i].cert_len) ||
		    !add_der(sk, cas[i].chain, cas[i].chain_len))
			goto bad;
	for (i = 0; i < np; i++)
		if (!add_der(sk, ps[i].cert, ps[i].cert_len))
			goto bad;
	if (cfg->trust_anchors != NULL && !add_pem(sk, cfg->trust_anchors))
		goto bad;
	ok = 1;
	goto out;
bad:
	log_err("reserved names: a CA certificate does not decode");
out:
	db_ca_array_free(cas, nca);
	db_partner_array_free(ps, np);
	if (!ok) {
		sk_X509_NAME_pop_free(sk, X509_NAME_free);
		sk = NULL;
	}
	ERR_clear_error();
	return sk;
}

/* See ca.h. */
const STACK_OF(X509_NAME) *
profile_reserved_get(struct db *db, const struct cfg *cfg)
{
	STACK_OF(X509_NAME) *sk;

	if (names != NULL && names_db == db &&
	    time(NULL) - names_at < CA_CACHE_CHECK)
		return names;
	if ((sk = names_read(db, cfg)) == NULL)
		return NULL;
	sk_X509_NAME_pop_free(names, X509_NAME_free);
	names = sk;
	names_db = db;
	names_at = time(NULL);
	return names;
}

/* Is n one of sk's names (canonical comparison)? */
static int
listed(const STACK_OF(X509_NAME) *sk, const X509_NAME *n)
{
	int i;

	for (i = 0; i < sk_X509_NAME_num(sk); i++)
		if (X509_NAME_cmp(sk_X509_NAME_value(sk, i), n) == 0)
			return 1;
	return 0;
}

/* Is n the subject of a certificate of chain? */
static int
in_chain(STACK_OF(X509) *chain, const X509_NAME *n)
{
	int i;

	for (i = 0; i < sk_X509_num(chain); i++)
		if (X509_NAME_cmp(X509_get_subject_name(sk_X509_value(chain,
			i)), n) == 0)
			return 1;
	return 0;
}

/* See ca.h. */
int
profile_name_reserved(const STACK_OF(X509_NAME) *reserved,
    STACK_OF(X509) *chain, const X509_NAME *n)
{
	if (n == NULL || X509_NAME_entry_count(n) == 0)
		return 0;
	return in_chain(chain, n) || listed(reserved, n);
}
