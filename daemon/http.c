/*
 * http.c - the reason phrases of the HTTP status codes cmpcad answers
 * with, one table for the CMP and OCSP front (fcgi.c) and the operators'
 * page (admin.c).
 */
#include "daemon/http.h"

/* See http.h. */
const char *
http_status_text(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}
