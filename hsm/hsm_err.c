/*
 * hsm_err.c - the state every hsm/ file checks: whether a handle may be
 * used in this process (and its module functions and token for the files
 * that call PKCS#11 directly), the error text of hsm/ (per thread, never a
 * PIN), the names of PKCS#11 return values, and losing the token: a PKCS#11 error that
 * means the session, the login or the key handles are gone marks every
 * handle of the process lost (see hsm.h and the top of hsm.c), which
 * hsm_reopen() then cures.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "hsm/hsm_int.h"

/* Size of the per-thread error text. */
#define HSM_ERR_MAX 512

static _Thread_local char hsm_errbuf[HSM_ERR_MAX];

/*
 * Bumped by hsm_mark_lost() for every PKCS#11 error that means the
 * session or the token is gone; a handle opened at an older value is
 * lost. hsm_lost_why (under hsm_lost_lock) says what happened last.
 */
static _Atomic unsigned long hsm_lost_seq;
static pthread_mutex_t hsm_lost_lock = PTHREAD_MUTEX_INITIALIZER;
static char hsm_lost_why[128];

/* See hsm_int.h. Callers never pass a PIN. */
void
hsm_err_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(hsm_errbuf, sizeof(hsm_errbuf), fmt, ap);
	va_end(ap);
}

const char *
hsm_error(void)
{
	return hsm_errbuf;
}

/*
 * Copies s into buf (size len), replacing bytes that are not printable
 * ASCII with '?' and truncating with "...". For names that come from
 * callers or tokens and go into error text. Returns buf.
 */
const char *
hsm_sanitise(const char *s, char *buf, size_t len)
{
	size_t i;

	if (len == 0)
		return "";
	if (s == NULL)
		s = "(null)";
	for (i = 0; s[i] != '\0' && i + 1 < len; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f)
			buf[i] = s[i];
		else
			buf[i] = '?';
	}
	buf[i] = '\0';
	if (s[i] != '\0' && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}

/* Names of the PKCS#11 return values a CA operator may meet. */
static const struct {
	unsigned long rv;
	const char *name;
} hsm_ckr_names[] = {
	{ CKR_HOST_MEMORY, "out of memory in the module" },
	{ CKR_GENERAL_ERROR, "general error" },
	{ CKR_FUNCTION_FAILED, "function failed" },
	{ CKR_ATTRIBUTE_TYPE_INVALID, "attribute type invalid" },
	{ CKR_ATTRIBUTE_VALUE_INVALID, "attribute value invalid" },
	{ CKR_DEVICE_ERROR, "device error" },
	{ CKR_DEVICE_MEMORY, "token memory full" },
	{ CKR_FUNCTION_NOT_SUPPORTED, "function not supported" },
	{ CKR_KEY_FUNCTION_NOT_PERMITTED, "key function not permitted" },
	{ CKR_MECHANISM_INVALID, "mechanism not supported" },
	{ CKR_OBJECT_HANDLE_INVALID, "object handle invalid" },
	{ CKR_PIN_INCORRECT, "wrong PIN" },
	{ CKR_PIN_LEN_RANGE, "PIN length out of range" },
	{ CKR_PIN_LOCKED, "PIN locked" },
	{ CKR_SESSION_COUNT, "too many sessions" },
	{ CKR_SESSION_HANDLE_INVALID, "session handle invalid" },
	{ CKR_SESSION_READ_ONLY, "session read-only" },
	{ CKR_TEMPLATE_INCOMPLETE, "template incomplete" },
	{ CKR_TEMPLATE_INCONSISTENT, "template inconsistent" },
	{ CKR_TOKEN_NOT_PRESENT, "token not present" },
	{ CKR_TOKEN_WRITE_PROTECTED, "token write-protected" },
	{ CKR_USER_ALREADY_LOGGED_IN, "user already logged in" },
	{ CKR_USER_NOT_LOGGED_IN, "user not logged in" },
	{ CKR_USER_PIN_NOT_INITIALIZED, "user PIN not initialised" },
	{ CKR_RANDOM_NO_RNG, "token has no RNG" },
	{ CKR_CRYPTOKI_NOT_INITIALIZED, "module not initialised" },
};

/*
 * Writes a description of PKCS#11 return value rv ("wrong PIN (CKR
 * 0xa0)") into buf (size len). Returns buf.
 */
const char *
hsm_ckr_str(unsigned long rv, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(hsm_ckr_names) / sizeof(hsm_ckr_names[0]); i++) {
		if (hsm_ckr_names[i].rv == rv) {
			(void)snprintf(buf, len, "%s (CKR 0x%lx)",
			    hsm_ckr_names[i].name, rv);
			return buf;
		}
	}
	(void)snprintf(buf, len, "CKR 0x%lx", rv);
	return buf;
}

/*
 * Drains the OpenSSL error queue and describes its first PKCS#11 error
 * (libp11 pushes the CK_RV as the reason of its "CKR" library), or else
 * its first error, into buf. Sets *rv to the CK_RV found, or to
 * CKR_GENERAL_ERROR. Returns buf.
 */
const char *
hsm_ossl_str(char *buf, size_t len, unsigned long *rv)
{
	unsigned long e, first = 0, ckr = 0;
	const char *r;

	*rv = CKR_GENERAL_ERROR;
	while ((e = ERR_get_error()) != 0) {
		if (first == 0)
			first = e;
		if (ckr == 0 && ERR_GET_LIB(e) == ERR_get_CKR_code())
			ckr = e;
	}
	if (ckr != 0) {
		(void)hsm_err_note(ckr);
		*rv = (unsigned long)ERR_GET_REASON(ckr);
		return hsm_ckr_str(*rv, buf, len);
	}
	if (first == 0) {
		(void)snprintf(buf, len, "no details");
		return buf;
	}
	r = ERR_reason_error_string(first);
	if (r != NULL)
		(void)snprintf(buf, len, "%s", r);
	else
		ERR_error_string_n(first, buf, len);
	return buf;
}

/*
 * PKCS#11 return values after which the session, the login or the key
 * handles of a process cannot be trusted any more; reopening is the
 * remedy. CKR_GENERAL_ERROR and CKR_DEVICE_ERROR are what modules answer
 * when their device or storage fails under them.
 */
static int
hsm_ckr_lost(unsigned long rv)
{
	switch (rv) {
	case CKR_GENERAL_ERROR:
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_SESSION_CLOSED:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_KEY_HANDLE_INVALID:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return 1;
	default:
		return 0;
	}
}

/* See hsm_int.h: every open handle of this process is lost. */
void
hsm_mark_lost(const char *why)
{
	(void)pthread_mutex_lock(&hsm_lost_lock);
	(void)snprintf(hsm_lost_why, sizeof(hsm_lost_why), "%s", why);
	hsm_lost_seq++;
	(void)pthread_mutex_unlock(&hsm_lost_lock);
}

int
hsm_err_note(unsigned long e)
{
	char why[sizeof(hsm_lost_why)];
	unsigned long rv;

	if (ERR_GET_LIB(e) != ERR_get_CKR_code())
		return 0;
	rv = (unsigned long)ERR_GET_REASON(e);
	if (!hsm_ckr_lost(rv))
		return 0;
	hsm_mark_lost(hsm_ckr_str(rv, why, sizeof(why)));
	return 1;
}

const char *
hsm_lost_reason(char *buf, size_t len)
{
	(void)pthread_mutex_lock(&hsm_lost_lock);
	(void)snprintf(buf, len, "%s",
	    hsm_lost_why[0] != '\0' ? hsm_lost_why : "unknown");
	(void)pthread_mutex_unlock(&hsm_lost_lock);
	return buf;
}

/* See hsm_int.h. */
unsigned long
hsm_lost_gen(void)
{
	return hsm_lost_seq;
}

/*
 * Checks that h may be used in this process. Returns 1 or 0 (reason set).
 */
int
hsm_usable(const struct hsm *h)
{
	if (h == NULL || h->ctx == NULL || h->slot == NULL) {
		hsm_err_set("hsm handle not open");
		return 0;
	}
	if (h->pid != getpid()) {
		hsm_err_set("hsm handle used after fork: open it in the "
		            "process that uses it");
		return 0;
	}
	return 1;
}

/*
 * Returns the module's function list of an open handle and sets *slot_id
 * to the token's slot, or returns NULL (reason set). See hsm_int.h.
 */
void *
hsm_p11_funcs(struct hsm *h, unsigned long *slot_id)
{
	if (!hsm_usable(h))
		return NULL;
	if (h->fl == NULL) {
		hsm_err_set("module functions not available");
		return NULL;
	}
	*slot_id = h->slot_id;
	return h->fl;
}

/*
 * Returns the libp11 token of an open handle, or NULL (reason set). See
 * hsm_int.h.
 */
PKCS11_TOKEN *
hsm_p11_token(struct hsm *h)
{
	if (!hsm_usable(h))
		return NULL;
	return h->slot->token;
}

/* The token label of an open handle (hsm.h); here, with the handle's
 * other accessors, so that the files that need it call no file that
 * calls them back. */
const char *
hsm_token_label(const struct hsm *h)
{
	return h == NULL ? "" : h->label;
}
