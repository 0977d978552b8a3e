/*
 * ocsp.c - the OCSP responder (RFC 6960): one OCSPRequest's DER in, one
 * OCSPResponse's DER out, from the PostgreSQL inventory, signed in the
 * HSM by the CA's delegated signer (ocsp_signer.c), or produced ahead of
 * time and read from the database (ocsp_answer.c).
 *
 * This file reads the request: decode (every byte consumed, 1..16 single
 * requests, nonce at most 32 octets); find each CertID's CA by
 * issuerNameHash and issuerKeyHash (SHA-1, SHA-256, SHA-384, SHA-512,
 * ocsp_ca.c); decide which CA answers; then ocsp_answer.c answers.
 *
 * Decisions:
 * - One answer, one signer: a request whose CertIDs name two or more of
 *   our CAs gets unauthorized (a delegated signer speaks for its own CA
 *   only, RFC 6960 §4.2.2.2). CertIDs of issuers we do not serve next to
 *   ones we do are answered unknown (§2.2; OpenSSL then refuses to verify
 *   the response, as it does any response about two issuers); a request
 *   naming none of our CAs gets unauthorized (RFC 5019 §2.2.3).
 * - A CA without signer: unauthorized and a log line; a signer whose key
 *   cannot be loaded: internalError; the database unreachable, or the
 *   newest signer past its notAfter: tryLater.
 * - A request nonce is ignored by default (ocsp_nonce = no) and counted
 *   (cmpca_ocsp_total{event="nonce_ignored"}): the request is answered
 *   as one without nonce, from the stored answer.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/status/ocsp_int.h"

static const char *
status_name(int s)
{
	switch (s) {
	case OCSP_RESPONSE_STATUS_SUCCESSFUL: return "successful";
	case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST: return "malformedRequest";
	case OCSP_RESPONSE_STATUS_INTERNALERROR: return "internalError";
	case OCSP_RESPONSE_STATUS_TRYLATER: return "tryLater";
	case OCSP_RESPONSE_STATUS_SIGREQUIRED: return "sigRequired";
	case OCSP_RESPONSE_STATUS_UNAUTHORIZED: return "unauthorized";
	default: return "-";
	}
}


/*
 * Decides which of our CAs answers: the one every known CertID names.
 * Sets r->ca, r->cas, and *miss when a CertID names an issuer we do not
 * know or the CA has no usable signer. Returns 1, or 0 with r->status and
 * r->why.
 */
static int
choose_ca(struct ocsp_srv *s, struct oreq *r, int *miss)
{
	struct ocsp_ca *c;
	int i, mdi = 0;

	r->ca = NULL;
	r->status = OCSP_RESPONSE_STATUS_SUCCESSFUL;
	r->why = NULL;
	r->no_signer = 0;
	*miss = 0;
	for (i = 0; i < r->n; i++) {
		c = ocsp_ca_find(s,
		    OCSP_onereq_get0_id(OCSP_request_onereq_get0(r->req, i)),
		    &mdi);
		r->cas[i] = c;
		if (i == 0)
			r->mdi = mdi;
		if (c == NULL) {
			*miss = 1;
			continue;
		}
		if (r->ca != NULL && r->ca != c) {
			r->status = OCSP_RESPONSE_STATUS_UNAUTHORIZED;
			r->why = "certificates of several CAs in one request";
			return 0;
		}
		r->ca = c;
	}
	if (r->ca == NULL) {
		r->status = OCSP_RESPONSE_STATUS_UNAUTHORIZED;
		r->why = "no certificate of a CA served here (RFC 5019 §2.2.3)";
		return 0;
	}
	if (r->ca->key == NULL) {
		*miss = 1;
		r->status = r->ca->key_err
		    ? OCSP_RESPONSE_STATUS_INTERNALERROR
		    : OCSP_RESPONSE_STATUS_UNAUTHORIZED;
		r->why = r->ca->key_err ? "the OCSP signer cannot be used"
					: "no OCSP signer for this CA";
		r->no_signer = !r->ca->key_err;
		return 0;
	}
	return 1;
}

/* Checks the decoded request's shape. Returns 1, or 0 with r->why. */
static int
request_check(struct oreq *r)
{
	X509_EXTENSION *e;
	int i;

	r->n = OCSP_request_onereq_count(r->req);
	if (r->n < 1 || r->n > CA_MAX_OCSP_CERTS) {
		r->why = "requestList must hold 1 to 16 requests";
		return 0;
	}
	i = OCSP_REQUEST_get_ext_by_NID(r->req, NID_id_pkix_OCSP_Nonce, -1);
	if (i >= 0) {
		e = OCSP_REQUEST_get_ext(r->req, i);
		/* extnValue: OCTET STRING (2 header bytes) of 1..32 octets. */
		if (e == NULL || X509_EXTENSION_get_data(e)->length >
		    CA_MAX_OCSP_NONCE + 2) {
			r->why = "nonce longer than 32 octets (RFC 8954 §2.1)";
			return 0;
		}
		if (OCSP_REQUEST_get_ext_by_NID(r->req, NID_id_pkix_OCSP_Nonce,
			i) >= 0) {
			r->why = "more than one nonce";
			return 0;
		}
	}
	return 1;
}


/*
 * The key of an answer in the cache: SHA-256 over the DER of the CertIDs
 * asked, in order (issuer hashes with their algorithm, and serial), so
 * that requests differing only in a nonce, a requestorName or a
 * signature share one answer. Returns 1 or 0 (then not reused).
 */
static int
certids_md(struct oreq *r)
{
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	int i, len, ok = mc != NULL &&
	    EVP_DigestInit_ex(mc, EVP_sha256(), NULL) == 1;

	for (i = 0; ok && i < r->n; i++) {
		len = i2d_OCSP_CERTID(OCSP_onereq_get0_id(
		    OCSP_request_onereq_get0(r->req, i)), &der);
		ok = len > 0 && EVP_DigestUpdate(mc, der, (size_t)len) == 1;
		OPENSSL_free(der);
		der = NULL;
	}
	ok = ok && EVP_DigestFinal_ex(mc, r->req_md, NULL) == 1;
	EVP_MD_CTX_free(mc);
	return ok;
}

/* Runs one request; sets r->status (and r->bs when successful). */
static void
process(struct ocsp_srv *s, struct oreq *r, const unsigned char *der,
    size_t len)
{
	const unsigned char *p = der;
	time_t now = time(NULL);
	int miss, ok;

	r->status = OCSP_RESPONSE_STATUS_MALFORMEDREQUEST;
	if (der == NULL || len == 0 || len > CA_MAX_OCSP_REQUEST) {
		r->why = "no request, or not base64 (RFC 6960 Appendix A.1)";
		return;
	}
	r->req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	if (r->req == NULL || p != der + len) {
		r->why = "not an OCSPRequest, or trailing bytes (RFC 6960 §4.1)";
		return;
	}
	if (!request_check(r))
		return;
	if (OCSP_REQUEST_get_ext_by_NID(r->req, NID_id_pkix_OCSP_Nonce,
		-1) >= 0) {
		if (s->cfg != NULL && s->cfg->ocsp_nonce)
			r->echo_nonce = 1;
		else
			metrics_ocsp(METRICS_OCSP_NONCE_IGNORED);
	}
	r->reusable = !r->echo_nonce && certids_md(r);
	if (now - s->checked >= CA_CACHE_CHECK)
		(void)ocsp_cas_check(s); /* logged; the old cache stays */
	if (s->loaded == 0) {
		r->status = OCSP_RESPONSE_STATUS_TRYLATER;
		r->why = "database unavailable";
		return;
	}
	ok = choose_ca(s, r, &miss);
	/* Something we do not know yet: read again, if not too soon. */
	if (miss && now - s->loaded >= CA_OCSP_MISS_REFRESH &&
	    ocsp_cas_refresh(s))
		ok = choose_ca(s, r, &miss);
	if (!ok) {
		if (r->no_signer && now - r->ca->warned >= 60) {
			r->ca->warned = now;
			log_warn("ocsp: ca %s has no OCSP signer: run cmpca "
				 "ocsp signer --ca %s",
			    r->ca->label, r->ca->label);
		}
		return;
	}
	if (ocsp_answer(s, r) < 0) {
		log_openssl_errors(1);
		r->status = OCSP_RESPONSE_STATUS_INTERNALERROR;
		r->why = "response construction failed";
	}
}

static void
oreq_clear(struct oreq *r)
{
	OCSP_REQUEST_free(r->req);
	OCSP_BASICRESP_free(r->bs);
	ASN1_TIME_free(r->this_upd);
	ASN1_TIME_free(r->next_upd);
	EVP_MD_CTX_free(r->mctx);
	db_ocsp_answer_clear(&r->stored);
	memset(r, 0, sizeof(*r));
}

/* See ca.h. */
int
ocsp_srv_process(struct ocsp_srv *s, const unsigned char *req,
    size_t req_len, unsigned char **resp, size_t *resp_len)
{
	OCSP_RESPONSE *out = NULL;
	struct oreq r;
	int len, http = 200;

	*resp = NULL;
	*resp_len = 0;
	ERR_clear_error();
	memset(&r, 0, sizeof(r));
	r.id = ++s->reqno;
	process(s, &r, req, req_len);
	if (r.status == OCSP_RESPONSE_STATUS_SUCCESSFUL && r.cached != NULL) {
		if ((*resp = OPENSSL_memdup(r.cached, r.cached_len)) == NULL)
			http = 503;
		else
			*resp_len = r.cached_len;
		goto logged;
	}
	out = OCSP_response_create(r.status,
	    r.status == OCSP_RESPONSE_STATUS_SUCCESSFUL ? r.bs : NULL);
	if (out == NULL || (len = i2d_OCSP_RESPONSE(out, resp)) <= 0) {
		log_err("ocsp req %lu: cannot encode the response", r.id);
		OPENSSL_free(*resp);
		*resp = NULL;
		http = 500;
	} else {
		*resp_len = (size_t)len;
		/* Stored for every worker and host (one certificate of the
		 * inventory), or reused by this worker until half its
		 * validity has passed. */
		ocsp_answer_keep(s, &r, *resp, *resp_len);
		if (r.reusable && !r.store_after &&
		    r.status == OCSP_RESPONSE_STATUS_SUCCESSFUL)
			ocsp_cache_put(s->answers, r.req_md, r.st_md,
			    r.ca->signer, r.t_this + (r.t_next - r.t_this) / 2,
			    *resp, *resp_len);
	}
logged:
	log_info("ocsp req %lu ca=%s certs=%d good=%d revoked=%d unknown=%d "
		 "status=%s%s%s%s%s",
	    r.id, r.ca != NULL ? r.ca->label : "-", r.n, r.good, r.revoked,
	    r.unknown, status_name(r.status), r.from_store ? " stored" : r.cached != NULL ? " reused" : "",
	    r.why != NULL ? ": \"" : "", r.why != NULL ? r.why : "",
	    r.why != NULL ? "\"" : "");
	OCSP_RESPONSE_free(out);
	oreq_clear(&r);
	log_openssl_errors(0);
	return http;
}

/* See ca.h. */
struct ocsp_srv *
ocsp_srv_new(const struct cfg *cfg, struct db *db, struct hsm *hsm)
{
	struct ocsp_srv *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	s->db = db;
	s->hsm = hsm;
	/* Without it every answer is signed: slower, not wrong. */
	s->answers = ocsp_cache_new();
	return s;
}

/* Safe to call with NULL. */
void
ocsp_srv_keys_drop(struct ocsp_srv *s)
{
	if (s == NULL)
		return;
	ocsp_cas_clear(s);
	ocsp_cache_clear(s->answers);
	s->loaded = s->checked = 0;
}

/* See ca.h. */
void
ocsp_srv_free(struct ocsp_srv *s)
{
	if (s == NULL)
		return;
	ocsp_cas_clear(s);
	ocsp_cache_free(s->answers);
	free(s);
}
