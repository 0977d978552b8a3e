/*
 * hsm_token.c - token set-up: hsm_token_init() initialises a token in the
 * first free slot, with its security officer and user PINs. For tests and
 * the stack (SoftHSM); real HSMs are initialised with their vendor's
 * tools. It takes the same per-process claim on the module and the same
 * cross-process lock as hsm_open() (hsm.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "hsm/hsm_int.h"

/*
 * Returns the first slot holding a token that is not initialised, or
 * NULL.
 */
static PKCS11_SLOT *
hsm_slot_free(struct hsm *h)
{
	unsigned int i;

	for (i = 0; i < h->nslots; i++) {
		if (h->slots[i].token != NULL &&
		    !h->slots[i].token->initialized)
			return &h->slots[i];
	}
	return NULL;
}

int
hsm_token_init(const char *module, const char *token_label,
    const char *so_pin_file, const char *pin_file)
{
	return hsm_token_init_args(module, token_label, so_pin_file, pin_file,
	    NULL);
}

int
hsm_token_init_args(const char *module, const char *token_label,
    const char *so_pin_file, const char *pin_file, const char *init_args)
{
	struct hsm *h = NULL;
	PKCS11_SLOT *slot = NULL;
	char so_pin[HSM_PIN_MAX], pin[HSM_PIN_MAX], why[128], name[128];
	char padded[HSM_TOKEN_LABEL_MAX + 1];
	unsigned long rv;
	int lockfd = -1, rc = 0, claimed = 0, so_in = 0;

	memset(so_pin, 0, sizeof(so_pin));
	memset(pin, 0, sizeof(pin));
	if (module == NULL || token_label == NULL || so_pin_file == NULL ||
	    pin_file == NULL) {
		hsm_err_set("token init: missing argument");
		goto out;
	}
	if (*token_label == '\0' || strlen(token_label) > HSM_TOKEN_LABEL_MAX) {
		hsm_err_set(
		    "token label must have 1 to %d bytes", HSM_TOKEN_LABEL_MAX);
		goto out;
	}
	if (!hsm_pin_read(so_pin_file, so_pin, sizeof(so_pin)) ||
	    !hsm_pin_read(pin_file, pin, sizeof(pin)))
		goto out;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		hsm_err_set("token init: out of memory");
		goto out;
	}
	h->pid = getpid();
	/* Borrowed for hsm_p11_load(); never freed here. */
	h->init_args = init_args != NULL && *init_args != '\0' ?
	    (char *)(uintptr_t)init_args : NULL;
	hsm_sanitise(token_label, name, sizeof(name));
	if (realpath(module, h->module) == NULL) {
		hsm_err_set("module: %s", strerror(errno));
		goto out;
	}
	if (!hsm_reg_claim(h))
		goto out;
	claimed = 1;
	if ((lockfd = hsm_lock()) == -1)
		goto out;
	if (!hsm_p11_load(h))
		goto out;
	if (hsm_slot_by_label(h, token_label) != NULL) {
		hsm_err_set("token %s exists already", name);
		goto out;
	}
	if ((slot = hsm_slot_free(h)) == NULL) {
		hsm_err_set("no free slot for token %s", name);
		goto out;
	}
	/*
	 * libp11 passes the label straight to C_InitToken, which reads
	 * CK_UTF8CHAR[32], blank-padded: give it 32 bytes (ASan found
	 * SoftHSM reading past a shorter string).
	 */
	(void)snprintf(padded, sizeof(padded), "%-32s", token_label);
	if (PKCS11_init_token(slot->token, so_pin, padded) != 0) {
		hsm_err_set("cannot initialise token %s: %s", name,
		    hsm_ossl_str(why, sizeof(why), &rv));
		goto out;
	}
	/* libp11 does not refresh the slot list (SoftHSM adds a slot). */
	PKCS11_release_all_slots(h->ctx, h->slots, h->nslots);
	h->slots = NULL;
	h->nslots = 0;
	if (PKCS11_enumerate_slots(h->ctx, &h->slots, &h->nslots) != 0) {
		hsm_err_set("cannot list slots: %s",
		    hsm_ossl_str(why, sizeof(why), &rv));
		h->slots = NULL;
		goto out;
	}
	if ((slot = hsm_slot_by_label(h, token_label)) == NULL) {
		hsm_err_set("token %s not found after initialisation", name);
		goto out;
	}
	if (PKCS11_open_session(slot, 1) != 0 ||
	    PKCS11_login(slot, 1, so_pin) != 0) {
		hsm_err_set("security officer login failed: %s",
		    hsm_ossl_str(why, sizeof(why), &rv));
		goto out;
	}
	so_in = 1;
	if (PKCS11_init_pin(slot->token, pin) != 0) {
		hsm_err_set("cannot set the user PIN: %s",
		    hsm_ossl_str(why, sizeof(why), &rv));
		goto out;
	}
	rc = 1;
out:
	if (so_in)
		(void)PKCS11_logout(slot);
	OPENSSL_cleanse(so_pin, sizeof(so_pin));
	OPENSSL_cleanse(pin, sizeof(pin));
	if (h != NULL) {
		hsm_p11_release(h);
		if (claimed)
			hsm_reg_release(h);
		free(h);
	}
	hsm_unlock(lockfd);
	ERR_clear_error();
	return rc;
}
