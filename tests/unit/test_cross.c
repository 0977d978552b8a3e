/*
 * test_cross.c - the partner constraints a cross certificate carries
 * (ca/issue/cross.c, cross_constraints_check): what `cmpca partner add`
 * accepts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "ca/issue/issue.h"
#include "tests/unit/unitlib.h"

/* Partner constraints (cross.c): what `cmpca partner add` accepts. */
static void
test_cross_constraints(void **state)
{
	static const struct {
		const char *permit, *exclude, *policies, *map, *eku;
		int days, want;
	} c[] = {
		{ "", "", "", "", "", 365, 1 },
		{ "dns:beta.example\ndns:.beta.example", "", "", "", "", 1, 1 },
		{ "email:beta.example\nuri:.beta.example", "", "", "", "", 1, 1 },
		{ "ip:10.0.0.0/8\nip:2001:db8::/32", "", "", "", "", 1, 1 },
		{ "dirname:/O=Beta/OU=Unit", "dirname:/O=Beta/OU=Bad", "", "", "",
		    1, 1 },
		{ "DNS:upper.example", "", "", "", "", 1, 1 },
		{ "host:x", "", "", "", "", 1, 0 },
		{ "dns:", "", "", "", "", 1, 0 },
		{ "nocolon", "", "", "", "", 1, 0 },
		{ "ip:10.0.0.1", "", "", "", "", 1, 0 },	   /* no mask */
		{ "ip:10.0.0.0/99", "", "", "", "", 1, 0 },
		{ "dirname:O=Beta", "", "", "", "", 1, 0 },	   /* not /DN */
		{ "", "email:", "", "", "", 1, 0 },
		{ "", "", "1.3.6.1.4.1.99999.1\n2.5.29.32.0", "", "", 1, 1 },
		{ "", "", "notanoid", "", "", 1, 0 },
		{ "", "", "", "1.2.3.4:1.2.3.5", "", 1, 1 },
		{ "", "", "", "1.2.3.4", "", 1, 0 },
		{ "", "", "", "2.5.29.32.0:1.2.3.5", "", 1, 0 }, /* anyPolicy */
		{ "", "", "", "1.2.3.4:2.5.29.32.0", "", 1, 0 },
		{ "", "", "", "", "clientAuth\n1.3.6.1.5.5.7.3.1", 1, 1 },
		{ "", "", "", "", "no-such-usage", 1, 0 },
		{ "", "", "", "", "", 0, 0 },
		{ "", "", "", "", "", 36501, 0 },
	};
	struct db_partner p;
	const char *why;
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < NELEM(c); i++) {
		memset(&p, 0, sizeof(p));
		p.permitted = (char *)c[i].permit;
		p.excluded = (char *)c[i].exclude;
		p.policies = (char *)c[i].policies;
		p.policy_map = (char *)c[i].map;
		p.eku = (char *)c[i].eku;
		p.days = c[i].days;
		why = NULL;
		got = cross_constraints_check(&p, &why);
		if (got != c[i].want || (got == 0 && why == NULL)) {
			print_error("case %zu (%s|%s|%s|%s|%s|%d): got %d\n", i,
			    c[i].permit, c[i].exclude, c[i].policies, c[i].map,
			    c[i].eku, c[i].days, got);
			fail();
		}
	}
}

int
main(void)
{
	const struct CMUnitTest cross[] = {
		cmocka_unit_test(test_cross_constraints),
	};

	return cmocka_run_group_tests_name("cross", cross, NULL, NULL) != 0;
}
