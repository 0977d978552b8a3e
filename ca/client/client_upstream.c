/*
 * client_upstream.c - the RA mode's upstream transport (RFC 9483 §5.2.3
 * with a MAC credential): PBM protection of the client's requests and
 * verification of the answers (RFC 4211 §4.4, RFC 9481 §6.1.1), and the
 * exchange the engine calls through cmp_srv_set_upstream(): the upstream
 * row read from the database, its secret unsealed in the HSM (AAD
 * "upstream:LABEL"), one request and its checked answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "ca/ca.h"
#include "ca/cmp/cmp.h"
#include "ca/client/client_int.h"

/* See client_int.h. */
int
client_mac_alg_set(CMP_HEADER *h)
{
	CMP_PBMPARAM *pbm = CMP_PBMPARAM_new();
	unsigned char salt[CLIENT_PBM_SALT_LEN];
	ASN1_STRING *seq = NULL;
	int ok = 0;

	if (pbm == NULL || RAND_bytes(salt, sizeof(salt)) != 1 ||
	    !ASN1_OCTET_STRING_set(pbm->salt, salt, sizeof(salt)) ||
	    !X509_ALGOR_set0(pbm->owf, OBJ_nid2obj(NID_sha256), V_ASN1_UNDEF,
		NULL) ||
	    !ASN1_INTEGER_set(pbm->iterationCount, CLIENT_PBM_ITER) ||
	    !X509_ALGOR_set0(pbm->mac, OBJ_nid2obj(NID_hmacWithSHA256),
		V_ASN1_UNDEF, NULL) ||
	    (seq = ASN1_item_pack(pbm, ASN1_ITEM_rptr(CMP_PBMPARAM), NULL)) ==
		NULL)
		goto out;
	X509_ALGOR_free(h->protectionAlg);
	if ((h->protectionAlg = X509_ALGOR_new()) == NULL ||
	    !X509_ALGOR_set0(h->protectionAlg, OBJ_nid2obj(NID_id_PasswordBasedMAC),
		V_ASN1_SEQUENCE, seq))
		goto out;
	seq = NULL;
	ok = 1;
out:
	ASN1_STRING_free(seq);
	CMP_PBMPARAM_free(pbm);
	return ok;
}

/* See client_int.h. */
int
client_mac_protect(struct cmp_client *cl, CMP_MSG *m)
{
	struct cmp_mac mac;
	const char *why = NULL;
	int fail, ok;

	if (cmp_pbm_derive(m->header->protectionAlg, cl->secret,
		cl->secret_len, CLIENT_PBM_MAX_ITER, &mac, &fail, &why) != 1)
		return client_fail(cl, "cannot derive our MAC key: %s",
		    why != NULL ? why : "internal error");
	ok = cmp_pbm_protect(m, &mac);
	cmp_mac_clear(&mac);
	return ok ? 1 : client_fail(cl, "cannot MAC the request");
}

/* See client_int.h. */
int
client_mac_verify(struct cmp_client *cl, const CMP_MSG *a)
{
	struct cmp_mac mac;
	const char *why = NULL;
	int fail, ok;

	if (cmp_pbm_derive(a->header->protectionAlg, cl->secret,
		cl->secret_len, CLIENT_PBM_MAX_ITER, &mac, &fail, &why) != 1)
		return 0;
	ok = cmp_pbm_verify(a, &mac, NULL, 0) == 1;
	cmp_mac_clear(&mac);
	return ok;
}

/* The exchange of struct cmp_upstream_io (cmp.h). */
static int
up_exchange(struct db *db, struct hsm *hsm, const struct ca_ident *ca,
    struct db_up_state *st, int cont, CMP_BODY *body, int want,
    CMP_MSG **answer, char *err, size_t errlen)
{
	struct db_upstream u;
	struct cmp_client *cl = NULL;
	unsigned char *secret = NULL;
	size_t secret_len = 0;
	char aad[DB_LABEL_MAX + 16];
	int rc, ok = 0;

	*answer = NULL;
	memset(&u, 0, sizeof(u));
	err[0] = '\0';
	rc = db_upstream_get(db, ca->id, &u);
	if (rc != 1) {
		snprintf(err, errlen, "%s", rc < 0 ? db_error(db)
		    : "no upstream configured for this identity");
		goto out;
	}
	snprintf(aad, sizeof(aad), "upstream:%s", ca->label);
	if (hsm_unseal(hsm, aad, u.sealed, u.sealed_len, &secret,
		&secret_len) != 1) {
		snprintf(err, errlen, "cannot unseal the upstream secret: %s",
		    hsm_error());
		goto out;
	}
	if ((cl = cmp_client_new_mac(ca->cert, u.url, u.tls_trusted, u.ref,
		 secret, secret_len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
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
	if (secret != NULL)
		OPENSSL_cleanse(secret, secret_len);
	free(secret);
	db_upstream_clear(&u);
	return ok;
}

const struct cmp_upstream_io client_upstream_io = { up_exchange };
