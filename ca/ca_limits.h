/*
 * ca_limits.h - named maxima for everything cmpca reads from the network or
 * a peer. Each bound is a denial-of-service guard; the comment says why the
 * value is what it is.
 */
#ifndef CMPCA_CA_LIMITS_H
#define CMPCA_CA_LIMITS_H

/* Largest CMP request body (bytes). An ir with a 4096-bit key, a few
 * extraCerts and names is under 16 KiB; 256 KiB leaves room for chains. */
#define CA_MAX_REQUEST (256 * 1024)

/* transactionID: RFC 9810 §5.1.1 asks for 128 bits; allow 1..64 bytes. */
#define CA_MIN_TXID 1
#define CA_MAX_TXID 64

/* senderNonce/recipNonce: RFC 9810 §5.1.1 asks for 128 bits. We accept
 * 8..64 bytes and send 16. */
#define CA_MIN_NONCE 8
#define CA_MAX_NONCE 64
#define CA_NONCE_LEN 16

/* senderKID (an enrollment secret reference or a key id). */
#define CA_MAX_KID 128

/* CertReqMsgs in one ir/cr/kur (RFC 9483 allows one; RFC 9810 many). */
#define CA_MAX_CERTREQS 16

/* extraCerts in one request. */
#define CA_MAX_EXTRACERTS 16

/* CertStatus entries in one certConf. */
#define CA_MAX_CERTSTATUS CA_MAX_CERTREQS

/* generalInfo entries in one header. */
#define CA_MAX_GENERALINFO 16

/* Length of the RFC 2253 text of a requested subject DN. */
#define CA_MAX_SUBJECT 1024

/* Extensions in one certTemplate or CSR (each is checked against the
 * others for duplicates). */
#define CA_MAX_REQ_EXTS 32

/* PBM (RFC 4211 §4.4) iteration count: default cap, configurable. The
 * derivation is paid before the sender is known: 10000 iterations cost
 * about 0.5 ms (PBM, SHA-256) to 5.5 ms (PBMAC1, HMAC-SHA512) here;
 * OpenSSL's client sends 500. */
#define CA_DEFAULT_PBM_MAX_ITER 10000
#define CA_MIN_PBM_ITER 100
#define CA_MAX_PBM_SALT 64

/* messageTime may differ from our clock by this many seconds (default of
 * the clock_skew setting). */
#define CA_MAX_CLOCK_SKEW 600

/* Length of peer-supplied strings copied into a log line. */
#define CA_MAX_LOG_STRING 128
/* Buffer for one sanitised string: every byte escaped as \xHH, "...". */
#define CA_LOG_SAN_MAX (4 * CA_MAX_LOG_STRING + 4)

/* Transaction lifetime waiting for certConf, seconds (default). */
#define CA_DEFAULT_TXN_TIMEOUT 300
/* Seconds a finished CMP transaction row is kept (txn_retention): 30
 * days; the audit chain keeps the history. */
#define CA_DEFAULT_TXN_RETENTION (30L * 86400)

/* Seconds a worker waits for the next bytes of a FastCGI request, or
 * for the web server to take its answer, before it drops the connection:
 * nginx sends a buffered request at once, so only a stalled peer waits
 * this long, and it cannot hold a worker for longer. */
#define CA_FCGI_IO_TIMEOUT 5

/* FastCGI connections a worker keeps open for the web server at once
 * (nginx: fastcgi_keep_conn on, upstream keepalive): more than nginx's
 * keepalive pool gives one worker (keepalive x nginx workers); a
 * connection beyond them is served and closed. */
#define CA_FCGI_KEEP_MAX 32

/* Default mac_fail_budget: milliseconds a second a worker may spend on
 * key derivations whose MAC then fails (cmp_guard.c). */
#define CA_DEFAULT_MAC_FAIL_BUDGET 250

/* Default worker_timeout: seconds one request may hold a worker before
 * the master's watchdog kills it (0 turns the watchdog off). */
#define CA_DEFAULT_WORKER_TIMEOUT 60

/* The master's respawn back-off for a slot whose process died within
 * CA_RESPAWN_EARLY seconds of its start: 1, 2, 4 ... CA_RESPAWN_MAX. */
#define CA_RESPAWN_EARLY 5
#define CA_RESPAWN_MAX 30
/* Seconds from a revocation to the CRL that lists it (crl_delay's
 * default): the housekeeper batches the revocations of these seconds into
 * one CRL signature; a compromise is published at its next tick. */
#define CA_DEFAULT_CRL_DELAY 5
/* nextUpdate - thisUpdate of OCSP answers (ocsp_validity's default;
 * ocsp_refresh's is half of it). */
#define CA_DEFAULT_OCSP_VALIDITY 3600
/* OCSP answers the housekeeper produces at most per tick: a batch costs
 * one HSM signature each, taken one at a time under ocsp_sign_max. */
#define CA_OCSP_PRODUCE_BATCH 200
/* Answers produced ahead of time committed together (one WAL flush). */
#define CA_OCSP_PRODUCE_COMMIT 32
/* Seconds between two looks of the housekeeper for CRLs due. */
#define CA_CRL_DUE_TICK 1
/* Seconds before a CRL that could not be issued after a status change is
 * tried again (and its warning logged again). */
#define CA_CRL_DUE_RETRY 60
/* A status change still not in a CRL this many seconds after crl_delay
 * needs attention (cmpca status, the operators' page): no housekeeper
 * with crl_auto runs, or it cannot sign. */
#define CA_CRL_DUE_LATE 120

/* Workers forked by cmpcad (upper bound of the configuration). */
#define CA_MAX_WORKERS 64

/*
 * The one invalidation rule of per-worker caches (docs/architecture.md,
 * "Per-worker caches"): a worker acts on cached state for at most this
 * many seconds after it last compared that state with the database; a
 * difference found rebuilds the cache before the request is served. So a
 * change made with cmpca (retire, rollover, import-cert, a new CA or OCSP
 * signer) reaches every worker within CA_CACHE_CHECK seconds.
 */
#define CA_CACHE_CHECK 5
/* The CA store re-reads the row of a loaded CA at that interval: one
 * primary-key lookup per CA and worker. */
#define CA_STORE_REFRESH CA_CACHE_CHECK

/*
 * CoAP front end (daemon/coap.c, RFC 9482 with RFC 7959 block-wise
 * transfer). A request body arrives in blocks that the CoAP process holds
 * until the last one; a response larger than one block waits until the
 * client has fetched it. Each such transfer costs at most max_request
 * bytes, so the table costs at most CA_COAP_MAX_XFERS * max_request.
 */
/* Transfers held at once, all peers together: a new request body beyond
 * this is answered 5.03 (a response to hold evicts the oldest). */
#define CA_COAP_MAX_XFERS 64
/* Transfers one peer (address and port) holds at once: its next new one
 * replaces its oldest, so one peer cannot fill the table. */
#define CA_COAP_MAX_XFERS_PEER 4
/* Default seconds a transfer lives without a block (coap_timeout):
 * MAX_TRANSMIT_WAIT of RFC 7252 is 93 s; a client retries a block for
 * at most that long. */
#define CA_COAP_TIMEOUT 93
/* CoAP sessions (one per peer address and port) libcoap keeps while idle;
 * the oldest idle one goes first. */
#define CA_COAP_MAX_SESSIONS 256
/* Largest block we send (SZX 6, 1024 bytes: fits a 1152-byte datagram). */
#define CA_COAP_SZX 6
/* Answers kept to repeat to a retransmitted Confirmable request instead
 * of serving it twice (RFC 7252 §4.5): one per peer, its last, each at
 * most one block, for EXCHANGE_LIFETIME (RFC 7252 §4.8.2, 247 s). */
#define CA_COAP_MAX_DUPS CA_COAP_MAX_SESSIONS
#define CA_COAP_EXCHANGE_LIFETIME 247
/* A peer's address as text ("[v6]:port"), the key of its transfers. */
#define CA_COAP_PEER_MAX 64
/* Request-Tag option (RFC 9175): 0..8 bytes. */
#define CA_COAP_RTAG_MAX 8

/* Response body we are willing to build. */
#define CA_MAX_RESPONSE (1024 * 1024)

/* The operators' page (/admin/): its query string, and the subject text
 * searched for after percent-decoding. Longer input is refused (414, 400)
 * before the database sees it. */
#define CA_MAX_ADMIN_QUERY 512
#define CA_MAX_ADMIN_SEARCH 128

/* Audit keys `cmpca audit verify` holds at once (one per key rotation). */
#define CA_AUDIT_KEYS_MAX 64
/* One line of an audit anchor file: tag, ids, hex hash and a hex
 * signature (RSA-4096: 1024 hex digits). */
#define CA_AUDIT_ANCHOR_LINE_MAX 2048
/* Anchor lines `cmpca audit verify --anchor` reads from one file (a busy
 * CA signs one every housekeeping_interval: about 3 million a year at
 * 10 s; rotate the file yearly). */
#define CA_AUDIT_ANCHORS_MAX 4000000
/* Signature bytes in a checkpoint (RSA-4096: 512). */
#define CA_AUDIT_SIG_MAX 1024

/* RA mode: a certConf owed upstream (committed under implicitConfirm,
 * not taken) is sent again by the housekeeper once this many seconds
 * old (a worker still sending it is not raced), at most
 * CA_RA_OWED_BATCH per sweep. */
#define CA_RA_OWED_AGE 3
#define CA_RA_OWED_BATCH 32

#endif
