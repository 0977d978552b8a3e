/*
 * fuzz_ocsp - libFuzzer target: the OCSP responder (ca/status/ocsp.c,
 * RFC 6960) behind the HTTP front's checks (daemon/fcgi.c), over POST and
 * GET, with the database and token of a borrowed stack (its demo CA and
 * the certificates issued there are what CertIDs can name).
 *
 * Input: one byte choosing the transport, then the OCSPRequest DER.
 * Its low bits: 0: POST with Content-Length; 1: GET with the DER in
 * standard base64, '+', '/' and '=' percent-encoded; 2: GET in the
 * URL-safe alphabet without padding; 3: GET with the rest of the input as
 * the path text (the base64 decoder's own input). Unless bit 0x04 is
 * set, the CertIDs are rebuilt for this stack's CA (same hash algorithm,
 * issuer name and key hashes of the CA: the CA is new on every run);
 * with bit 0x10 every other one names the stack's second CA,
 * fuzz-second, which has no OCSP signer (scripts/fuzz makes it), with
 * 0x30 but not 0x08 all of them do. With bit 0x08 the serials become
 * that of a certificate the target enrolls (fuzz_ids.c), with bit 0x20
 * one revoked first (reason by bits 0xc0: unspecified, keyCompromise,
 * certificateHold, superseded); the signature of a signed request is
 * dropped then, its nonce and other extensions kept. Bit 0x40 also turns
 * ocsp_nonce on (nonces echoed, answers not shared). With 0x04, bit 0x80
 * drops the responder's keys first (HSM loss) and 0xc0 makes the
 * responder anew. Every answer must be HTTP 200 with a decodable
 * OCSPResponse, or 500 with none.
 *
 * The mutator decodes the request and changes CertIDs (hash algorithm,
 * issuer hashes, serial), the number of single requests, the nonce
 * (RFC 8954 lengths) and other extensions, or mutates bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>

#include "ca/ca.h"
#include "ca/status/status.h"
#include "daemon/fcgi.h"
#include "db/db.h"
#include "tests/fuzz/cmp_mutate.h"
#include "tests/fuzz/fuzz_env.h"
#include "tests/fuzz/mut_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed);

static struct ocsp_srv *srv;
static X509 *ca; /* the stack's default CA */
static X509 *ca2; /* its second, without OCSP signer (or NULL) */

/* The certificate of the CA label, or NULL. */
static X509 *
ca_cert(const char *label)
{
	const unsigned char *p;
	struct db_ca row;
	X509 *x = NULL;

	memset(&row, 0, sizeof(row));
	if (db_ca_get_by_label(fz.db, label, &row) == 1) {
		p = row.cert;
		x = d2i_X509(NULL, &p, (long)row.cert_len);
	}
	db_ca_clear(&row);
	return x;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_env_init("fuzz_ocsp", FUZZ_ENV_SRV);
	if ((srv = ocsp_srv_new(fz.cfg, fz.db, fz.hsm)) == NULL ||
	    (ca = ca_cert(fz.cfg->default_ca != NULL ? fz.cfg->default_ca
						     : "demo")) == NULL)
		abort();
	ca2 = ca_cert("fuzz-second");
	return 0;
}

/* One structural change of an OCSPRequest. */
static void
req_mutate(OCSP_REQUEST *q)
{
	static const int lens[] = { 0, 1, 16, 32, 33, 128 };
	unsigned char buf[128];
	OCSP_ONEREQ *one;
	OCSP_CERTID *id;
	int n = OCSP_request_onereq_count(q), k;

	switch (mut_rnd(n > 0 ? 7 : 2)) {
	case 0:
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (unsigned char)mut_rnd(256);
		while ((k = OCSP_REQUEST_get_ext_by_NID(q,
		    NID_id_pkix_OCSP_Nonce, -1)) >= 0)
			X509_EXTENSION_free(OCSP_REQUEST_delete_ext(q, k));
		(void)OCSP_request_add1_nonce(q, buf,
		    lens[mut_rnd(sizeof(lens) / sizeof(lens[0]))]);
		break;
	case 1: {
		X509_EXTENSION *e = mut_ext();

		if (e != NULL)
			(void)OCSP_REQUEST_add_ext(q, e, -1);
		X509_EXTENSION_free(e);
		break;
	}
	case 2:
		one = OCSP_request_onereq_get0(q, (int)mut_rnd((unsigned)n));
		id = OCSP_CERTID_dup(OCSP_onereq_get0_id(one));
		if (id != NULL && OCSP_request_add0_id(q, id) == NULL)
			OCSP_CERTID_free(id);
		break;
	default:
		one = OCSP_request_onereq_get0(q, (int)mut_rnd((unsigned)n));
		id = OCSP_onereq_get0_id(one);
		{
			ASN1_OCTET_STRING *nh, *kh;
			ASN1_OBJECT *md;
			ASN1_INTEGER *serial;

			(void)OCSP_id_get0_info(&nh, &md, &kh, &serial, id);
			switch (mut_rnd(4)) {
			case 0:
				mut_string_bytes(nh);
				break;
			case 1:
				mut_string_bytes(kh);
				break;
			case 2:
				(void)mut_int_set(&serial);
				break;
			default:
				id = NULL;
				break;
			}
		}
		if (id == NULL) {
			/* A CertID of another hash and issuer. */
			const EVP_MD *mds[] = { EVP_sha1(), EVP_sha256(),
				EVP_sha384(), EVP_sha512(), EVP_md5() };
			ASN1_BIT_STRING *key = ASN1_BIT_STRING_new();
			ASN1_INTEGER *serial = NULL;
			X509_NAME *nm = mut_name();

			if (key != NULL && nm != NULL && mut_int_set(&serial)) {
				mut_string_bytes(key);
				id = OCSP_cert_id_new(mds[mut_rnd(5)], nm, key,
				    serial);
				if (id != NULL &&
				    OCSP_request_add0_id(q, id) == NULL)
					OCSP_CERTID_free(id);
			}
			ASN1_INTEGER_free(serial);
			ASN1_BIT_STRING_free(key);
			X509_NAME_free(nm);
		}
		break;
	}
}

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
    unsigned int seed)
{
	const unsigned char *p;
	unsigned char *der = NULL;
	OCSP_REQUEST *q;
	int len;

	if (size < 2 || max < 2)
		return LLVMFuzzerMutate(data, size, max);
	mut_seed(seed);
	if (mut_rnd(16) == 0)
		data[0] = (uint8_t)mut_rnd(4);
	p = data + 1;
	if (mut_rnd(6) == 0 ||
	    (q = d2i_OCSP_REQUEST(NULL, &p, (long)size - 1)) == NULL)
		return 1 + LLVMFuzzerMutate(data + 1, size - 1, max - 1);
	for (unsigned k = 1 + mut_rnd(2); k > 0; k--)
		req_mutate(q);
	len = i2d_OCSP_REQUEST(q, &der);
	OCSP_REQUEST_free(q);
	if (len <= 0 || (size_t)len > max - 1) {
		OPENSSL_free(der);
		return 1 + LLVMFuzzerMutate(data + 1, size - 1, max - 1);
	}
	memcpy(data + 1, der, (size_t)len);
	OPENSSL_free(der);
	return 1 + (size_t)len;
}

/* "/ocsp/" and the base64 of der in the given alphabet, or NULL. */
static char *
get_uri(const uint8_t *der, size_t len, int urlsafe)
{
	unsigned char *b64 = malloc(4 * (len / 3 + 1) + 1);
	char *uri = malloc(6 + 12 * (len / 3 + 1) + 1), *o;
	int n;

	if (b64 == NULL || uri == NULL)
		goto fail;
	n = EVP_EncodeBlock(b64, der, (int)len);
	o = uri + sprintf(uri, "/ocsp/");
	for (int i = 0; i < n; i++) {
		unsigned char c = b64[i];

		if (urlsafe && c == '=')
			break;
		if (urlsafe)
			*o++ = c == '+' ? '-' : c == '/' ? '_' : (char)c;
		else if (c == '+' || c == '/' || c == '=')
			o += sprintf(o, "%%%02X", c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
	free(b64);
	return uri;
fail:
	free(b64);
	free(uri);
	return NULL;
}

/*
 * der with its CertIDs rebuilt for the stack's CA (and, with own, the
 * serial of the target's enrolled certificate, revoked first with
 * revoke); by mode (the input's first byte, see the file comment). Into
 * *out, its length, or 0 if der is no OCSPRequest.
 */
static size_t
rebind(const unsigned char *der, size_t len, unsigned mode,
    unsigned char **out)
{
	static const int reasons[] = { 0, 1, 6, 4 };
	const unsigned char *p = der;
	OCSP_REQUEST *q, *n = NULL;
	OCSP_CERTID *id;
	ASN1_OBJECT *alg;
	ASN1_INTEGER *serial;
	X509 *x, *ee = !(mode & 0x08) ? NULL : (mode & 0x20)
	    ? fuzz_id_revoked(FUZZ_EE, reasons[(mode >> 6) & 3])
	    : fuzz_id_cert(FUZZ_EE);
	const EVP_MD *md;
	int i, l = 0;

	*out = NULL;
	if ((q = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL ||
	    (n = OCSP_REQUEST_new()) == NULL)
		goto out;
	for (i = 0; i < OCSP_request_onereq_count(q); i++) {
		x = (mode & 0x30) == 0x30 && !(mode & 0x08) ? ca2
		    : (mode & 0x10) && i % 2 == 1 ? ca2 : ca;
		if (x == NULL) {
			/* No second CA: as it came (an unknown issuer). */
			id = OCSP_CERTID_dup(OCSP_onereq_get0_id(
			    OCSP_request_onereq_get0(q, i)));
			if (id == NULL || OCSP_request_add0_id(n, id) == NULL) {
				OCSP_CERTID_free(id);
				goto out;
			}
			continue;
		}
		if (!OCSP_id_get0_info(NULL, &alg, NULL, &serial,
			OCSP_onereq_get0_id(OCSP_request_onereq_get0(q, i))) ||
		    (md = EVP_get_digestbyobj(alg)) == NULL)
			md = EVP_sha1();
		if (ee != NULL)
			serial = (ASN1_INTEGER *)X509_get0_serialNumber(ee);
		if ((id = OCSP_cert_id_new(md, X509_get_subject_name(x),
			 X509_get0_pubkey_bitstr(x), serial)) == NULL ||
		    OCSP_request_add0_id(n, id) == NULL) {
			OCSP_CERTID_free(id);
			goto out;
		}
	}
	for (i = 0; i < OCSP_REQUEST_get_ext_count(q); i++)
		if (!OCSP_REQUEST_add_ext(n, OCSP_REQUEST_get_ext(q, i), -1))
			goto out;
	l = i2d_OCSP_REQUEST(n, out);
out:
	OCSP_REQUEST_free(n);
	OCSP_REQUEST_free(q);
	return l > 0 ? (size_t)l : 0;
}

static void
answer(const unsigned char *der, size_t len)
{
	unsigned char *resp = NULL;
	const unsigned char *p;
	size_t resp_len = 0;
	OCSP_RESPONSE *o;
	int code;

	code = ocsp_srv_process(srv, der, len, &resp, &resp_len);
	if (code == 500 && resp == NULL)
		return;
	if (code != 200 || resp == NULL)
		abort();
	p = resp;
	if ((o = d2i_OCSP_RESPONSE(NULL, &p, (long)resp_len)) == NULL ||
	    p != resp + resp_len)
		abort();
	OCSP_RESPONSE_free(o);
	OPENSSL_free(resp);
}

static int
one_input(const uint8_t *data, size_t size)
{
	unsigned char *der = NULL, *re = NULL, *buf = NULL;
	char clen[32], *uri = NULL;
	size_t rlen;
	long len = 0;
	int code;

	if (size < 1)
		return 0;
	fz.cfg->ocsp_nonce = (data[0] & 0x40) != 0;
	/* With the CertIDs as they came (0x04), 0x80 drops the signer keys
	 * first, as after an HSM loss (loaded again at the next answer),
	 * and 0xc0 makes the responder anew, as a restarted worker. */
	if ((data[0] & 0x84) == 0x84) {
		ocsp_srv_keys_drop(srv);
		if ((data[0] & 0x40) != 0) {
			ocsp_srv_free(srv);
			if ((srv = ocsp_srv_new(fz.cfg, fz.db, fz.hsm)) == NULL)
				abort();
		}
	}
	if (!(data[0] & 0x04) &&
	    (rlen = rebind(data + 1, size - 1, data[0], &re)) > 0) {
		/* The mode byte, then the rebuilt request. */
		if ((buf = malloc(rlen + 1)) == NULL)
			abort();
		buf[0] = data[0];
		memcpy(buf + 1, re, rlen);
		OPENSSL_free(re);
		data = buf;
		size = rlen + 1;
	}
	switch (data[0] % 4) {
	case 0:
		snprintf(clen, sizeof(clen), "%zu", size - 1);
		code = fcgi_ocsp_check("POST", "/ocsp", NULL,
		    "application/ocsp-request", clen, CA_MAX_OCSP_REQUEST,
		    &der, &len);
		if (code == 0)
			answer(data + 1, size - 1);
		free(buf);
		return 0;
	case 1:
	case 2:
		uri = get_uri(data + 1, size - 1, data[0] % 4 == 2);
		break;
	default:
		if ((uri = malloc(size + 6)) != NULL) {
			memcpy(uri, "/ocsp/", 6);
			memcpy(uri + 6, data + 1, size - 1);
			uri[size + 5] = '\0';
		}
		break;
	}
	if (uri == NULL) {
		free(buf);
		return 0;
	}
	code = fcgi_ocsp_check("GET", uri, uri, NULL, NULL, CA_MAX_OCSP_REQUEST,
	    &der, &len);
	if (code == 0)
		answer(der, (size_t)len);
	free(der);
	free(uri);
	free(buf);
	return 0;
}

/*
 * One input, then this thread's OpenSSL error queue emptied: OpenSSL 3.0
 * copies each queued error's file and function name to the heap and
 * frees them only when the entry is overwritten, by a later input. Left
 * queued, they made inputs end with more allocations than frees, and
 * libFuzzer answers that with a second run and a LeakSanitizer pass
 * over the whole heap (docs/hacking.md, "Fuzzing").
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)one_input(data, size);
	ERR_clear_error();
	return 0;
}
