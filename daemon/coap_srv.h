/*
 * coap_srv.h - the CoAP front of cmpcad (RFC 9482): CMP over CoAP on UDP,
 * with block-wise transfer (RFC 7959), feeding the same engine as the
 * FastCGI workers. coap_srv.c is the only file that includes libcoap's
 * headers; coap_xfer.c holds its decisions that need no libcoap.
 *
 * It runs in its own process, forked by the master like a worker: after
 * the fork that process opens its HSM and database (cmpcad.c) and then
 * serves CoAP through its struct worker, single-threaded, until stopped.
 */
#ifndef CMPCA_COAP_SRV_H
#define CMPCA_COAP_SRV_H

#include <signal.h>

struct worker;

/* 1 if listen parses (coap_xfer_addr_parse), else 0 with the reason
 * logged; binds nothing (cmpcad -t). */
int coap_srv_listen_ok(const char *listen);

/*
 * Before any fork: checks that listen ("HOST:PORT", coap_xfer_addr_parse)
 * parses and that a UDP socket can be bound there now (then closes it),
 * so that a wrong or taken address fails at start. Touches no HSM.
 * Returns 1, or 0 with the reason logged.
 */
int coap_srv_probe(const char *listen);

/*
 * Serves CoAP on the worker's coap_listen (UDP) and coaps_listen (DTLS,
 * with coaps_cert and coaps_key) until *stop becomes non-zero: POST to
 * /.well-known/cmp[/p/<label>] with Content-Format 259, any body size up
 * to max_request in Block1 blocks, the response in Block2 blocks when
 * larger than one. Checks the worker's HSM before each request. Returns
 * 0 when stopped, -1 when it cannot listen.
 */
int coap_srv_serve(struct worker *w, volatile sig_atomic_t *stop);

#endif
