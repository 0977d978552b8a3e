/*
 * client_int.h - private to the CMP client (ca/client/cmp_client.c, client_ccr.c): the client's
 * state and how its files record a failure.
 */
#ifndef CMPCA_CLIENT_INT_H
#define CMPCA_CLIENT_INT_H

#include <openssl/ssl.h>

#include "ca/client/client.h"

#define CLIENT_TXID_LEN 16
#define CLIENT_NONCE_LEN 16	/* our senderNonce */
#define CLIENT_PEER_NONCE_MAX 64 /* the longest senderNonce we keep */
#define CLIENT_ERR_MAX 1024
#define CLIENT_PBM_SALT_LEN 16	/* our PBM salt (RFC 9481 §6.1.1) */
#define CLIENT_PBM_ITER 10000	/* our PBM iterationCount */
#define CLIENT_PBM_MAX_ITER 100000 /* the most an answer's PBM may ask */

struct cmp_client {
	const struct ca_ident *ca; /* ours: signs, is the sender */
	X509 *peer;		   /* the server's pinned CA certificate */
	char *url;
	char *tls_trusted;	   /* anchors for an https:// server, or NULL */
	SSL_CTX *tls;		   /* set up on first use */
	char *host;		   /* of the URL, for SNI and name checks */
	unsigned char txid[CLIENT_TXID_LEN];
	unsigned char nonce[CLIENT_NONCE_LEN]; /* our last senderNonce */
	unsigned char peer_nonce[CLIENT_PEER_NONCE_MAX]; /* the peer's last */
	size_t peer_nonce_len;
	char err[CLIENT_ERR_MAX];
	/* MAC mode (ca NULL, an RA's upstream): our senderKID and the
	 * shared secret (wiped when freed); answers may be errors. */
	char *ref;
	unsigned char *secret;
	size_t secret_len;
	int errors_ok;	/* an RA's client: checked errors are answers */
};

/* Records why the current call fails (cmp_client_error). Returns 0. */
int client_fail(struct cmp_client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Records a rejection: "what: status N", with the statusString texts
 * (sanitised) when with_text, and the failInfo bits. Only an answer
 * whose signature and sender were checked may show its text: the peer
 * chooses those bytes and they reach the operator's terminal. Returns 0.
 */
int client_fail_pkisi(struct cmp_client *cl, const char *what,
    const CMP_PKISI *si, int with_text);

/* client_mac.c: MAC mode. A PBM protectionAlg (fresh salt) into h; the
 * request's MAC with cl's secret; the check of an answer's PBM with it.
 * Return 1 or 0 (the caller records why). */
int client_mac_alg_set(CMP_HEADER *h);
int client_mac_protect(const struct cmp_client *cl, CMP_MSG *m);
int client_mac_verify(const struct cmp_client *cl, const CMP_MSG *a);

#endif
