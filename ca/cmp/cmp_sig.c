/*
 * cmp_sig.c - signature-based protection (RFC 9810 §5.1.3.3, RFC 9483
 * §3.2): verifying a request signed by an end entity's or an RA's
 * certificate, and the trust store it is verified against. Signing our
 * own messages is cmp_sign.c.
 *
 * A protecting certificate is accepted when it is the first of extraCerts
 * (RFC 9483 §3.3), names the header sender, matches senderKID, verifies
 * the signature over ProtectedPart, chains to a trust anchor (our CAs and
 * the configured external anchors), is within validity, allows
 * digitalSignature, and, when one of our CAs issued it, is valid in our
 * inventory (not revoked, rejected or unconfirmed). The issuing statement
 * checks the path's CA rows and certificates once more (db_issue), so a
 * CA retired or a certificate revoked since takes effect at once, whatever
 * the trust store of this worker still holds.
 *
 * Who trusts whom (docs/architecture.md, "What is trusted by whom"): a
 * CA identity accepts, for ir/cr/p10cr/kur/rr, end entities of its own
 * issuance only (its current key and, for kur and rr, its earlier keys
 * after a rollover), unless identity_accepts lists the issuing identity.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"

/* Adds the external trust anchors of the configuration. Returns 1 or 0. */
static int
anchors_add_file(X509_STORE *st, const char *path)
{
	STACK_OF(X509_INFO) *infos = NULL;
	BIO *b = BIO_new_file(path, "r");
	int i, ok = 0;

	if (b == NULL) {
		log_err("trust_anchors %s: cannot open", path);
		return 0;
	}
	if ((infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL)) == NULL)
		goto out;
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (xi->x509 != NULL && !X509_STORE_add_cert(st, xi->x509))
			goto out;
	}
	ok = 1;
out:
	if (!ok)
		log_err("trust_anchors %s: cannot load certificates", path);
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(b);
	return ok;
}

/* See cmp_srv.h. */
void
cmp_sig_trust_free(struct cmp_srv *s)
{
	size_t i;

	X509_STORE_free(s->trust);
	s->trust = NULL;
	for (i = 0; i < s->ntca; i++)
		X509_free(s->tca[i].cert);
	free(s->tca);
	s->tca = NULL;
	s->ntca = 0;
}

/*
 * Builds the trust store (active CAs and the external anchors) and the
 * list of every CA row with a certificate from cas, and replaces the
 * worker's. Returns 1, or 0 with the old ones kept.
 */
static int
trust_build(struct cmp_srv *s, const struct db_ca *cas, size_t n)
{
	struct trust_ca *tca = NULL;
	X509_STORE *st = NULL;
	size_t i, nt = 0;

	if ((st = X509_STORE_new()) == NULL ||
	    (n > 0 && (tca = calloc(n, sizeof(*tca))) == NULL))
		goto fail;
	for (i = 0; i < n; i++) {
		const unsigned char *p = cas[i].cert;
		X509 *x;

		if (cas[i].cert == NULL)
			continue; /* pending: no certificate yet */
		if ((x = d2i_X509(NULL, &p, (long)cas[i].cert_len)) == NULL ||
		    X509_get0_pubkey(x) == NULL) {
			X509_free(x);
			goto fail;
		}
		tca[nt].id = cas[i].id;
		snprintf(tca[nt].label, sizeof(tca[nt].label), "%s",
		    cas[i].label);
		tca[nt].active = strcmp(cas[i].status, "active") == 0;
		tca[nt].key_of = cas[i].key_of;
		tca[nt].cert = x;
		/* Retired CAs anchor nothing. */
		if (tca[nt++].active && !X509_STORE_add_cert(st, x))
			goto fail;
	}
	/* An earlier key of an active identity (a rollover) still chains
	 * its end entities, which may renew (kur) and revoke (rr) only
	 * (path_check, cmp_sig_verify). */
	for (i = 0; i < nt; i++) {
		size_t j;

		if (tca[i].active || tca[i].key_of == 0)
			continue;
		for (j = 0; j < nt; j++)
			if (tca[j].id == tca[i].key_of && tca[j].active)
				tca[i].old_key = 1;
		if (tca[i].old_key && !X509_STORE_add_cert(st, tca[i].cert))
			goto fail;
	}
	if (s->cfg->trust_anchors != NULL &&
	    !anchors_add_file(st, s->cfg->trust_anchors))
		goto fail;
	cmp_sig_trust_free(s);
	s->trust = st;
	s->tca = tca;
	s->ntca = nt;
	return 1;
fail:
	X509_STORE_free(st);
	for (i = 0; i < nt; i++)
		X509_free(tca[i].cert);
	free(tca);
	return 0;
}

/*
 * The trust store of this process: every active CA of the database plus
 * the external anchors, with every CA row beside it. Built on first use;
 * after CA_CACHE_CHECK seconds the next request compares db_ca_version()
 * with the one it was built from and rebuilds it when any CA's id, status
 * or certificate changed (so `ca retire` takes effect within
 * CA_CACHE_CHECK seconds). Returns the store or NULL.
 */
static X509_STORE *
trust_store(struct req *r)
{
	struct cmp_srv *s = r->srv;
	unsigned char version[DB_CA_VERSION_LEN];
	struct db_ca *cas = NULL;
	size_t n = 0;
	int built;

	if (s->trust != NULL && time(NULL) - s->trust_checked < CA_CACHE_CHECK)
		return s->trust;
	if (db_ca_version(s->db, version) != 1) {
		log_err("ca version failed: %s", db_error(s->db));
		return NULL;
	}
	if (s->trust != NULL &&
	    memcmp(version, s->trust_version, sizeof(version)) == 0) {
		s->trust_checked = time(NULL);
		return s->trust;
	}
	/* Read after the version: a change in between rebuilds once more. */
	if (db_ca_list(s->db, &cas, &n) < 0) {
		log_err("ca list failed: %s", db_error(s->db));
		return NULL;
	}
	built = trust_build(s, cas, n);
	db_ca_array_free(cas, n);
	if (!built) {
		/* Not the old one either: it may trust a CA retired since. */
		log_err("trust store cannot be built");
		return NULL;
	}
	memcpy(s->trust_version, version, sizeof(version));
	s->trust_checked = time(NULL);
	log_debug("trust store built: %zu CAs", s->ntca);
	return s->trust;
}

/* The row of ours whose key is pk, or NULL. */
static const struct trust_ca *
tca_by_key(const struct cmp_srv *s, const EVP_PKEY *pk)
{
	size_t i;

	for (i = 0; pk != NULL && i < s->ntca; i++)
		if (EVP_PKEY_eq(X509_get0_pubkey(s->tca[i].cert), pk) == 1)
			return &s->tca[i];
	return NULL;
}

/* A row of ours whose subject is name, or NULL. */
static const struct trust_ca *
tca_by_name(const struct cmp_srv *s, const X509_NAME *name)
{
	size_t i;

	for (i = 0; i < s->ntca; i++)
		if (X509_NAME_cmp(X509_get_subject_name(s->tca[i].cert),
			name) == 0)
			return &s->tca[i];
	return NULL;
}

/* The row of ours with id, or NULL. */
static const struct trust_ca *
tca_by_id(const struct cmp_srv *s, long long id)
{
	size_t i;

	for (i = 0; i < s->ntca; i++)
		if (s->tca[i].id == id)
			return &s->tca[i];
	return NULL;
}

/* Refuses r with a text naming the certificate at depth d of the path
 * and the rule; returns 0. */
static int
path_refuse(struct req *r, int fail, int d, const char *serial,
    const char *what)
{
	snprintf(r->why_buf, sizeof(r->why_buf),
	    "certificate %d of the protection path (serial %s) %s", d,
	    serial, what);
	cmp_reject(r, fail, r->why_buf);
	return 0;
}

/* Is c the certificate of row (the same DER)? 1, 0, -1. */
static int
same_der(X509 *c, const struct db_cert *row)
{
	unsigned char md[32], rmd[32];
	unsigned int len = 0;

	if (!X509_digest(c, EVP_sha256(), md, &len) || len != sizeof(md) ||
	    !EVP_Digest(row->der, row->der_len, rmd, NULL, EVP_sha256(),
		NULL))
		return -1;
	return memcmp(md, rmd, sizeof(md)) == 0;
}

/*
 * Every certificate of the verified path that one of our keys signed,
 * whichever CA row holds that key (retired ones included: the issuer is
 * found by key, not by name), must be in that CA's inventory with the
 * same DER, valid, and its CA must not be retired; a certificate naming
 * one of our CAs as issuer but signed by a key that is none of ours is
 * refused. The trust anchor ends the path and is trusted as such. Notes
 * a path through a cross certificate we issued for a partner
 * (r->via_cross), fills r->prot_row and r->prot_issuer when the
 * protection certificate is ours, and r->prot_external when nothing of
 * the path is. Returns 1, 0 (rejected), -1.
 */
static int
path_check(struct req *r, STACK_OF(X509) *chain)
{
	struct cmp_srv *s = r->srv;
	const struct trust_ca *k;
	struct db_cert row;
	char serial[DB_SERIAL_MAX];
	int d, n = sk_X509_num(chain), rc, err = 0;

	/* External: no certificate of the path is signed by a key of ours,
	 * and the anchor is not ours (a path one of our CAs ends is ours,
	 * whoever issued its end entity). */
	r->prot_external = n > 0 &&
	    tca_by_key(s, X509_get0_pubkey(sk_X509_value(chain, n - 1))) ==
		NULL;
	for (d = 0; d + 1 < n; d++) {
		X509 *c = sk_X509_value(chain, d);

		if (!ca_serial_hex(X509_get0_serialNumber(c), serial,
			sizeof(serial)))
			return -1;
		k = tca_by_key(s,
		    X509_get0_pubkey(sk_X509_value(chain, d + 1)));
		if (k == NULL) {
			if (tca_by_name(s, X509_get_issuer_name(c)) == NULL)
				continue; /* not ours */
			return path_refuse(r, CMP_FAIL_SIGNER_NOT_TRUSTED, d,
			    serial, "names one of our CAs as issuer but is "
				    "signed by a key that is not ours");
		}
		r->prot_external = 0;
		if (r->npath_ca >= DB_ISSUE_PATH_MAX)
			return path_refuse(r, CMP_FAIL_SIGNER_NOT_TRUSTED, d,
			    serial, "is too deep in the protection path");
		r->path_ca[r->npath_ca++] = k->id;
		rc = db_cert_get_by_serial(s->db, k->id, serial, &row);
		if (rc < 0) {
			cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    db_error(s->db));
			return -1;
		}
		if (rc == 1 && (rc = same_der(c, &row)) < 0) {
			db_cert_clear(&row);
			return -1;
		}
		if (rc == 0)
			rc = path_refuse(r, CMP_FAIL_SIGNER_NOT_TRUSTED, d,
			    serial, "is not the certificate of that serial "
				    "in our inventory");
		else if (row.status != DB_CERT_VALID)
			rc = path_refuse(r, CMP_FAIL_CERT_REVOKED, d, serial,
			    "is revoked or was never confirmed");
		else if (!k->active && !(k->old_key && d == 0))
			rc = path_refuse(r, CMP_FAIL_SIGNER_NOT_TRUSTED, d,
			    serial, "was signed by the key of a retired CA "
				    "(retired CAs vouch for nothing)");
		if (rc != 1) {
			db_cert_clear(&row);
			return rc;
		}
		r->path_cert[r->npath_cert++] = row.id;
		/* A cross certificate we issued for a key not ours: a
		 * partner's path (local cross certificates certify keys
		 * of ours). */
		if (strcmp(row.kind, "cross") == 0 &&
		    tca_by_key(s, X509_get0_pubkey(c)) == NULL)
			r->via_cross = 1;
		if (d > 0) {
			db_cert_clear(&row);
			continue;
		}
		r->prot_row = row; /* r owns it from here */
		if (!k->active) {
			/* An earlier key: the identity that holds the name
			 * now issued it, as far as scope goes. */
			r->via_old_key = 1;
			k = tca_by_id(s, k->key_of);
		}
		r->prot_issuer = k == NULL ? NULL : ca_store_get(&s->store,
		    s->db, s->hsm, k->label, &err);
		if (err) {
			cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL,
			    "ca lookup failed");
			return -1;
		}
	}
	return 1;
}

/* Is x the pinned certificate of a registered RA? 1, 0, -1. */
static int
ra_lookup(struct req *r, X509 *x)
{
	unsigned char md[32];
	unsigned int len = 0;
	int rc;

	if (!X509_digest(x, EVP_sha256(), md, &len) || len != sizeof(md))
		return -1;
	rc = db_ra_get_by_hash(r->srv->db, md, &r->ra);
	if (rc < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
		return -1;
	}
	if (rc == 1) {
		r->is_ra = 1;
		snprintf(r->sender, sizeof(r->sender), "ra:%s", r->ra.name);
		snprintf(r->credential, sizeof(r->credential), "ra:%s",
		    r->ra.name);
		r->sender_id[0] = '\0'; /* the name is pinned to the hash */
	}
	return rc;
}

/*
 * Is x the pinned certificate of a registered partner CA? A partner's
 * certificate is trusted by the pin alone (it need not chain to any of
 * our anchors). Returns 1 (accepted: r is authenticated as the partner),
 * 0 not a partner, -1 (internal, or the pinned certificate expired: r
 * set).
 */
static int
partner_lookup(struct req *r, X509 *x)
{
	unsigned char md[32];
	unsigned int len = 0;
	int rc;

	if (!X509_digest(x, EVP_sha256(), md, &len) || len != sizeof(md)) {
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "certificate digest");
		return -1;
	}
	rc = db_partner_get_by_hash(r->srv->db, md, &r->partner);
	if (rc < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
		return -1;
	}
	if (rc == 0)
		return 0;
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0 ||
	    X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		cmp_reject(r, CMP_FAIL_SIGNER_NOT_TRUSTED,
		    "the partner CA certificate is not valid now");
		return -1;
	}
	if (!X509_up_ref(x)) {
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "no memory");
		return -1;
	}
	r->prot_cert = x;
	r->is_partner = 1;
	r->have_sig = 1;
	snprintf(r->sender, sizeof(r->sender), "partner:%s", r->partner.name);
	snprintf(r->credential, sizeof(r->credential), "partner:%s",
	    r->partner.name);
	return 1;
}

/* Body types that a path through a partner's cross certificate does not
 * authenticate: they enroll, revoke or recover a key. */
static int
enrolls(int type)
{
	return type == CMP_BODY_IR || type == CMP_BODY_CR ||
	    type == CMP_BODY_KUR || type == CMP_BODY_P10CR ||
	    type == CMP_BODY_RR || type == CMP_BODY_KRR;
}

/*
 * r->sender ("cert:" and the one-line subject, for requester and audit
 * rows) and r->sender_id, whose transactions r may continue: the
 * certificate's SHA-256 first, so that no two certificates share it,
 * whatever their subjects. Returns 1 or 0.
 */
static int
sender_set(struct req *r, X509 *x)
{
	unsigned char md[32];
	unsigned int len = 0;
	char name[DB_SENDER_MAX - 8], hex[2 * sizeof(md) + 1];
	size_t i;

	if (!X509_digest(x, EVP_sha256(), md, &len) || len != sizeof(md))
		return 0;
	for (i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
	snprintf(r->sender, sizeof(r->sender), "cert:%s", name);
	snprintf(r->credential, sizeof(r->credential), "cert:sha256:%s", hex);
	/* Cut at the end of the buffer: the hash comes first. */
	return snprintf(r->sender_id, sizeof(r->sender_id),
	    "cert:sha256:%s %s", hex, name) > 0;
}

/*
 * Whose end entities an identity serves (issue 22): for a request that
 * enrolls or revokes, a certificate of ours (not an RA's) must be of
 * r->ca's own issuance, or of an identity identity_accepts lists for it;
 * one signed by an earlier key of r->ca (a rollover) only renews (kur)
 * and revokes (rr). Returns 1 or 0 (rejected).
 */
static int
scope_check(struct req *r)
{
	int type = r->msg->body->type;

	if (r->is_ra || r->prot_external || !enrolls(type))
		return 1;
	if (r->prot_issuer == NULL) {
		/* The path ends at one of ours, but none of our identities
		 * (as this worker knows them) signed the certificate. */
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "the protection certificate was not issued by one of "
		    "our CA identities; a CA accepts certificates of its own "
		    "issuance only (identity_accepts)");
		return 0;
	}
	if (r->prot_issuer != r->ca &&
	    !cfg_identity_accepts(r->srv->cfg, r->ca->label,
		r->prot_issuer->label)) {
		snprintf(r->why_buf, sizeof(r->why_buf),
		    "the protection certificate was issued by CA %s; CA %s "
		    "accepts certificates of its own issuance only "
		    "(identity_accepts)", r->prot_issuer->label, r->ca->label);
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED, r->why_buf);
		return 0;
	}
	if (r->via_old_key && type != CMP_BODY_KUR && type != CMP_BODY_RR) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "a certificate of an earlier CA key (before a rollover) "
		    "renews with kur and revokes itself with rr only "
		    "(RFC 9810 §4.4)");
		return 0;
	}
	return 1;
}

#define RA_HOLDER_RULE "; an RA takes signatures by certificates it " \
		       "brokered under this label only (RFC 9483 §5.2.2.1)"

/*
 * An RA's upstream identity (cmp_upstream.c) anchors nothing: a request
 * signed by x (whose signature over the message verified) is taken when
 * x is a certificate this RA obtained from its upstream CA under r->ca,
 * by x's issuer (the upstream CA's name) and serial, the same DER (so
 * the same key that verified the signature), valid in the inventory and
 * now, allowing digitalSignature. Its inventory row is the protection
 * path the issuing statement checks again. Returns 1, 0 (rejected), -1.
 */
static int
holder_check(struct req *r, X509 *x)
{
	char serial[DB_SERIAL_MAX];
	struct db_cert row;
	int rc;

	memset(&row, 0, sizeof(row));
	if (X509_NAME_cmp(X509_get_issuer_name(x),
		X509_get_subject_name(r->ca->cert)) != 0 ||
	    !ca_serial_hex(X509_get0_serialNumber(x), serial,
		sizeof(serial))) {
		snprintf(r->why_buf, sizeof(r->why_buf), "the protection "
		    "certificate was not issued by the upstream CA of RA %.40s%s",
		    r->ca->label, RA_HOLDER_RULE);
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED, r->why_buf);
		return 0;
	}
	rc = db_cert_get_by_serial(r->srv->db, r->ca->id, serial, &row);
	if (rc < 0) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, db_error(r->srv->db));
		return -1;
	}
	if (rc == 1 && (rc = same_der(x, &row)) < 0) {
		db_cert_clear(&row);
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE, "certificate digest");
		return -1;
	}
	if (rc == 0) {
		snprintf(r->why_buf, sizeof(r->why_buf), "the protection "
		    "certificate (serial %.42s) was not obtained through RA "
		    "%.40s%s",
		    serial, r->ca->label, RA_HOLDER_RULE);
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED, r->why_buf);
		db_cert_clear(&row);
		return 0;
	}
	rc = 0;
	if (row.status != DB_CERT_VALID)
		cmp_reject(r, CMP_FAIL_CERT_REVOKED, "the protection "
		    "certificate is revoked or was never confirmed here");
	else if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
		cmp_reject(r, CMP_FAIL_SIGNER_NOT_TRUSTED,
		    "protection certificate has expired");
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		cmp_reject(r, CMP_FAIL_SIGNER_NOT_TRUSTED,
		    "protection certificate is not yet valid");
	else if ((X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE) == 0)
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "protection certificate does not allow digitalSignature");
	else if (!X509_up_ref(x))
		rc = -1;
	else {
		r->prot_cert = x;
		rc = sender_set(r, x) ? 1 : -1;
	}
	if (rc != 1) {
		if (rc < 0)
			cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
			    "signature verification failed");
		db_cert_clear(&row);
		return rc;
	}
	r->have_sig = 1;
	r->path_cert[r->npath_cert++] = row.id;
	r->prot_row = row; /* r owns it from here */
	r->prot_issuer = r->ca; /* as far as kur and scope go */
	return 1;
}

/* See cmp_srv.h. */
int
cmp_sig_verify(struct req *r)
{
	const CMP_HEADER *h = r->msg->header;
	CMP_PROTECTEDPART pp;
	X509_STORE *st;
	X509_STORE_CTX *vctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	const ASN1_OCTET_STRING *ski;
	X509 *x;
	EVP_PKEY *pk;
	int i, rc = -1, verr;

	if (sk_X509_num(r->msg->extraCerts) < 1) {
		cmp_reject(r, CMP_FAIL_SIGNER_NOT_TRUSTED,
		    "signature protection needs the protection certificate "
		    "first in extraCerts (RFC 9483 §3.3)");
		return 0;
	}
	x = sk_X509_value(r->msg->extraCerts, 0);
	if (h->sender->type != GEN_DIRNAME ||
	    X509_NAME_cmp(h->sender->d.directoryName,
		X509_get_subject_name(x)) != 0) {
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "sender does not name the protection certificate's "
		    "subject (RFC 9483 §3.1)");
		return 0;
	}
	ski = X509_get0_subject_key_id(x);
	if (h->senderKID != NULL && ski != NULL &&
	    ASN1_OCTET_STRING_cmp(h->senderKID, ski) != 0) {
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "senderKID does not match the protection certificate "
		    "(RFC 9483 §3.1)");
		return 0;
	}
	if ((pk = X509_get0_pubkey(x)) == NULL) {
		cmp_reject(r, CMP_FAIL_BAD_ALG,
		    "protection certificate key cannot be used");
		return 0;
	}
	pp.header = r->msg->header;
	pp.body = r->msg->body;
	ERR_set_mark();
	if (ASN1_item_verify(ASN1_ITEM_rptr(CMP_PROTECTEDPART),
		h->protectionAlg, r->msg->protection, &pp, pk) != 1) {
		ERR_pop_to_mark();
		cmp_reject(r, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "signature protection does not verify");
		return 0;
	}
	ERR_pop_to_mark();
	/* cmpca as an RA: only certificates this RA brokered. */
	if (r->ca->upstream)
		return holder_check(r, x);
	/* A cross-certification request comes from a registered partner
	 * CA, protected with the key of its pinned certificate. */
	if (r->msg->body->type == CMP_BODY_CCR) {
		rc = partner_lookup(r, x);
		if (rc == 0)
			cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
			    "ccr must be protected by a registered partner CA "
			    "(RFC 9810 §5.3.11)");
		return rc < 0 ? 0 : rc;
	}
	if ((st = trust_store(r)) == NULL) {
		cmp_internal(r, CMP_FAIL_SYSTEM_UNAVAIL, "no trust store");
		return -1;
	}
	if ((untrusted = sk_X509_new_null()) == NULL ||
	    (vctx = X509_STORE_CTX_new()) == NULL)
		goto out;
	for (i = 1; i < sk_X509_num(r->msg->extraCerts); i++)
		if (!sk_X509_push(untrusted,
			sk_X509_value(r->msg->extraCerts, i)))
			goto out;
	if (!X509_STORE_CTX_init(vctx, st, x, untrusted))
		goto out;
	ERR_set_mark();
	if (X509_verify_cert(vctx) != 1) {
		verr = X509_STORE_CTX_get_error(vctx);
		ERR_pop_to_mark();
		/* A partner continuing its ccr transaction (certConf). */
		if ((rc = partner_lookup(r, x)) != 0) {
			rc = rc < 0 ? 0 : rc;
			goto out;
		}
		rc = -1;
		log_info("req %lu: protection certificate rejected: %s", r->id,
		    X509_verify_cert_error_string(verr));
		cmp_reject(r, CMP_FAIL_SIGNER_NOT_TRUSTED,
		    verr == X509_V_ERR_CERT_HAS_EXPIRED
			? "protection certificate has expired"
			: verr == X509_V_ERR_CERT_NOT_YET_VALID
			? "protection certificate is not yet valid"
			: "protection certificate does not chain to a trust "
			  "anchor of this CA");
		rc = 0;
		goto out;
	}
	ERR_pop_to_mark();
	if ((X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE) == 0) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "protection certificate does not allow digitalSignature");
		rc = 0;
		goto out;
	}
	/* Authenticated from here on: answers, errors included, are signed. */
	if (!X509_up_ref(x))
		goto out;
	r->prot_cert = x;
	if (!sender_set(r, x))
		goto out;
	r->have_sig = 1;
	if (ra_lookup(r, x) < 0)
		goto out;
	/* Issued under one of our keys: the inventory has the last word on
	 * every certificate of the path we signed. */
	if ((rc = path_check(r, X509_STORE_CTX_get0_chain(vctx))) != 1)
		goto out;
	if (r->via_cross && enrolls(r->msg->body->type)) {
		cmp_reject(r, CMP_FAIL_NOT_AUTHORIZED,
		    "a path through a cross certificate we issued for a "
		    "partner CA authenticates no enrollment or revocation "
		    "(no profile allows it)");
		rc = 0;
		goto out;
	}
	if ((rc = scope_check(r)) != 1)
		goto out;
	rc = 1;
out:
	if (rc < 0 && r->fail == CMP_FAIL_NONE)
		cmp_internal(r, CMP_FAIL_SYSTEM_FAILURE,
		    "signature verification failed");
	X509_STORE_CTX_free(vctx);
	sk_X509_free(untrusted);
	return rc;
}
