/*
 * client_upstream.c - the RA mode's upstream transport (RFC 9483 §5.2.3:
 * a MAC credential, client_mac.c, or a signature with the key of one of
 * our CA identities): the exchange the engine calls through
 * cmp_srv_set_upstream(): the upstream
 * row read from the database, its secret unsealed in the HSM (AAD
 * "upstream:LABEL") or the signing identity loaded, one request and its
 * checked answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "ca/client/client_int.h"

/*
 * A signing RA vouches for the POP it checked (RFC 9483 §5.2.3.2): every
 * CertReqMsg of an ir or cr goes with raVerified. The engine verified
 * the device's POP before it forwarded anything. Returns 1 or 0.
 */
static int
ra_verified(CMP_BODY *b)
{
	CRMF_CERTREQMSG *m;
	CRMF_POPO *p;
	int i;

	if (b->type != CMP_BODY_IR && b->type != CMP_BODY_CR)
		return 1;
	for (i = 0; i < sk_CRMF_CERTREQMSG_num(b->value.ir); i++) {
		m = sk_CRMF_CERTREQMSG_value(b->value.ir, i);
		if ((p = CRMF_POPO_new()) == NULL ||
		    (p->value.raVerified = ASN1_NULL_new()) == NULL) {
			CRMF_POPO_free(p);
			return 0;
		}
		p->type = CRMF_POPO_RAVERIFIED;
		CRMF_POPO_free(m->popo);
		m->popo = p;
	}
	return 1;
}

/* The exchange of struct cmp_upstream_io (cmp.h). */
static int
up_exchange(struct db *db, struct hsm *hsm, const struct ca_ident *ca,
    struct db_up_state *st, int cont, CMP_BODY *body, int want,
    CMP_MSG **answer, char *err, size_t errlen)
{
	struct db_upstream u;
	struct db_ca row;
	struct ca_store store = { NULL, 0 };
	struct ca_ident *sign = NULL;
	struct cmp_client *cl = NULL;
	unsigned char *secret = NULL;
	size_t secret_len = 0;
	char aad[DB_LABEL_MAX + 16];
	int rc, ok = 0;

	*answer = NULL;
	memset(&u, 0, sizeof(u));
	memset(&row, 0, sizeof(row));
	err[0] = '\0';
	rc = db_upstream_get(db, ca->id, &u);
	if (rc != 1) {
		snprintf(err, errlen, "%s", rc < 0 ? db_error(db)
		    : "no upstream configured for this identity");
		goto out;
	}
	if (strcmp(u.mode, "sig") == 0) {
		/* Signed with one of our identities' keys (RFC 9483
		 * §5.2.3), read for this message. */
		if (db_ca_get(db, u.sign_ca_id, &row) != 1 ||
		    (sign = ca_store_get(&store, db, hsm, row.label, &rc)) ==
			NULL || sign->upstream || sign->retired) {
			snprintf(err, errlen, "cannot load the signing "
			    "identity (ca id %lld)", u.sign_ca_id);
			goto out;
		}
		if ((cl = cmp_client_new(sign, ca->cert, u.url,
			 u.tls_trusted)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		cl->errors_ok = 1;
		if (!ra_verified(body)) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	} else {
		snprintf(aad, sizeof(aad), "upstream:%s", ca->label);
		if (hsm_unseal(hsm, aad, u.sealed, u.sealed_len, &secret,
			&secret_len) != 1) {
			snprintf(err, errlen,
			    "cannot unseal the upstream secret: %s",
			    hsm_error());
			goto out;
		}
		if ((cl = cmp_client_new_mac(ca->cert, u.url, u.tls_trusted,
			 u.ref, secret, secret_len)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (cont)
		cmp_client_state_set(cl, st);
	ok = cmp_client_exchange(cl, body, want, answer);
	body = NULL;
	cmp_client_state_get(cl, st);
	if (!ok)
		snprintf(err, errlen, "%s", cmp_client_error(cl));
out:
	CMP_BODY_free(body);
	cmp_client_free(cl);
	ca_store_clear(&store);
	db_ca_clear(&row);
	if (secret != NULL)
		OPENSSL_cleanse(secret, secret_len);
	free(secret);
	db_upstream_clear(&u);
	return ok;
}

const struct cmp_upstream_io client_upstream_io = { up_exchange };

/* See client.h. */
void
client_upstream_resume(struct db *db, struct hsm *hsm)
{
	struct db_ra_owed *o = NULL;
	struct ca_store store = { NULL, 0 };
	size_t n = 0, i;

	if (db_ra_fwd_owed(db, CA_RA_OWED_AGE, CA_RA_OWED_BATCH, &o, &n) !=
	    1) {
		log_warn("upstream certConf resume: %s", db_error(db));
		return;
	}
	for (i = 0; i < n; i++) {
		const unsigned char *p = o[i].der;
		struct db_ca row;
		struct ca_ident *ca = NULL;
		CMP_MSG *a = NULL;
		X509 *x = NULL;
		char err[512];
		int rc = 0;

		memset(&row, 0, sizeof(row));
		if (db_ca_get(db, o[i].f.ca_id, &row) != 1 ||
		    (ca = ca_store_get(&store, db, hsm, row.label, &rc)) ==
			NULL ||
		    (x = d2i_X509(NULL, &p, (long)o[i].der_len)) == NULL) {
			log_warn("upstream certConf resume: cannot load ca id "
				 "%lld or its certificate", o[i].f.ca_id);
			goto next;
		}
		if (!up_exchange(db, hsm, ca, &o[i].f.up, 1,
			cmp_upstream_certconf_body(x, o[i].f.cert_req_id, NULL),
			CMP_BODY_PKICONF, &a, err, sizeof(err))) {
			log_warn("upstream %s: owed certConf not taken: %s "
				 "(next sweep)", ca->label, err);
			goto next;
		}
		if (a->body->type == CMP_BODY_PKICONF)
			log_info("upstream %s: owed certConf taken upstream",
			    ca->label);
		else {
			log_warn("upstream %s: owed certConf refused upstream "
				 "(answered %s)", ca->label,
			    cmp_body_name(a->body->type));
			if (db_audit_add(db, "upstream-confirm-refused", ca->id,
				"housekeeper", row.label) < 0)
				log_warn("%s", db_error(db));
		}
		if (db_ra_fwd_delete(db, &o[i].f) < 0)
			log_warn("upstream %s: %s", ca->label, db_error(db));
	next:
		ERR_clear_error();
		CMP_MSG_free(a);
		X509_free(x);
		db_ca_clear(&row);
	}
	ca_store_clear(&store);
	db_ra_owed_array_free(o, n);
}
