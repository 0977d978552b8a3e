/*
 * serial.c - a certificate serial number as an operator writes it (the
 * CLI's argument, the operators' page's search field), read into the
 * form the inventory stores. One rule for every place that reads one.
 */
#include <stddef.h>

#include <openssl/crypto.h>

#include "ca/ca.h"

/* See ca.h. */
int
ca_serial_parse(const char *in, char *out, size_t outlen,
    const char **why)
{
	size_t o = 0, digits = 0;
	int v, prev_digit = 0;

	*why = NULL;
	if (outlen > 0)
		out[0] = '\0';
	if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
		in += 2;
	for (; *in != '\0'; in++) {
		if (*in == ':') {
			/* Only between two digits, as openssl x509 -text
			 * prints them: "0a:1b", not ":0a", "0a:" or "0a::1b". */
			if (!prev_digit || in[1] == '\0' || in[1] == ':') {
				*why = "a colon only between two hex digits";
				return 0;
			}
			prev_digit = 0;
			continue;
		}
		if ((v = OPENSSL_hexchar2int((unsigned char)*in)) < 0) {
			*why = *in == '-' || *in == '+'
			    ? "no sign: a serial number is positive"
			    : "hex digits only (0-9, a-f), an optional 0x "
			      "and colons";
			return 0;
		}
		prev_digit = 1;
		digits++;
		if (o == 0 && v == 0)
			continue; /* leading zero */
		if (o >= CA_SERIAL_MAX_OCTETS * 2) {
			*why = "longer than 20 octets (RFC 5280 §4.1.2.2)";
			return 0;
		}
		if (o + 1 >= outlen) {
			*why = "longer than the buffer";
			return 0;
		}
		out[o++] = "0123456789abcdef"[v];
	}
	if (digits == 0) {
		*why = "no hex digits";
		return 0;
	}
	if (o == 0)
		out[o++] = '0'; /* "00:00" is serial 0 */
	out[o] = '\0';
	return 1;
}
