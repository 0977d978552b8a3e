/*
 * test_store.c - what the CA store derives from a CA row without a token or
 * a database (ca/ca_store.c): the CRL name of a CA key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "tests/unit/unitlib.h"

/*
 * The CRL name of a CA key (ca_crl_name) is the key's object label, so
 * that it moves with the key when `ca rollover` gives the label a new
 * key: a regression test for issue 17, where the old key's certificates
 * named a URL that then served the new key's CRL.
 */
static void
test_crl_name(void **state)
{
	static const struct {
		const char *uri, *label, *want;
	} cases[] = {
		/* The first key: ca create names the object after the CA. */
		{ "pkcs11:token=cmpca;object=rr", "rr", "rr" },
		/* The old key after a rollover keeps the name of its CRLs. */
		{ "pkcs11:token=cmpca;object=rr", "rr.old1", "rr" },
		/* The rollover's key: a name of its own. */
		{ "pkcs11:token=cmpca;object=rr-k20261202085400", "rr",
		    "rr-k20261202085400" },
		{ "pkcs11:object=sub.1;token=cmpca;type=private", "sub.1",
		    "sub.1" },
		/* No usable object: the row's label. */
		{ "pkcs11:token=cmpca;id=%01%02", "rr", "rr" },
		{ "pkcs11:token=cmpca;object=a%2Fb", "rr", "rr" },
		{ "pkcs11:token=cmpca;object=", "rr", "rr" },
		{ "pkcs11:token=cmpca;object=-x", "rr", "rr" },
		{ NULL, "rr", "rr" },
	};
	char name[CA_CRL_NAME_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		ca_crl_name(cases[i].uri, cases[i].label, name, sizeof(name));
		if (strcmp(name, cases[i].want) != 0)
			fail_msg("%s: got %s, want %s",
			    cases[i].uri != NULL ? cases[i].uri : "(null)", name,
			    cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest store[] = {
		cmocka_unit_test(test_crl_name),
	};

	return cmocka_run_group_tests_name("store", store, NULL, NULL) != 0;
}
