/*
 * test_cfg.c - the configuration loader (ca/cfg.c): valid files, and every
 * error named with its file, line and reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"
#include "tests/unit/cfglog.h"
#include "tests/unit/unitlib.h"

/* Configuration. */

static char cfg_dir[64], cfg_path[128];

static int
cfg_setup(void **state)
{
	(void)state;
	snprintf(cfg_dir, sizeof(cfg_dir), "/tmp/cmpca-test-cfg.XXXXXX");
	if (mkdtemp(cfg_dir) == NULL)
		return -1;
	snprintf(cfg_path, sizeof(cfg_path), "%s/t.conf", cfg_dir);
	return 0;
}

static int
cfg_teardown(void **state)
{
	(void)state;
	unlink(cfg_path);
	return rmdir(cfg_dir);
}

/* Writes text to cfg_path and loads it. */
static struct cfg *
cfg_try(const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(cfg_path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	EQ(fclose(f), 0);
	return cfg_load_logged(cfg_path, err, errlen);
}

#define CFG_MAIN "[cmpca]\ntoken = tok\n"
#define CFG_PROFILE "[profile.default]\ndays = 42\n"

static void
test_cfg_valid(void **state)
{
	const struct cfg_profile *p;
	char err[4096];
	struct cfg *c;

	(void)state;
	c = cfg_try(CFG_MAIN "workers = 4\n" CFG_PROFILE
	                     "extensions = ext_ee\ncopy_san = no\n"
	                     "[profile.server]\ndays = 7\n"
	                     "crl_url = http://x/crl/%{crl}.crl\n"
	                     "[ext_ee]\nbasicConstraints = critical,CA:FALSE\n"
	                     "keyUsage = critical,digitalSignature\n",
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("cfg_load failed: %s", err);
	assert_string_equal(c->token_label, "tok");
	EQ(c->workers, 4);
	EQ(c->max_request, CA_MAX_REQUEST);
	EQ(c->pbm_max_iter, CA_DEFAULT_PBM_MAX_ITER);
	EQ(c->txn_timeout, CA_DEFAULT_TXN_TIMEOUT);
	EQ(c->implicit_confirm, 1);
	EQ(c->crl_delay, CA_DEFAULT_CRL_DELAY);
	EQ(c->ocsp_nonce, 0); /* nonces ignored, answers reused */
	EQ(c->ocsp_sign_max, 1);
	EQ(c->ocsp_validity, CA_DEFAULT_OCSP_VALIDITY);
	EQ(c->ocsp_refresh, CA_DEFAULT_OCSP_VALIDITY / 2);
	assert_null(c->pin_file);
	assert_non_null(p = cfg_profile_get(c, "default"));
	EQ(p->days, 42);
	assert_string_equal(p->ext_section, "ext_ee");
	EQ(p->copy_san, 0);
	EQ(p->copy_key_usage, 1);
	/* The allow-lists default to what the profile itself gives. */
	EQ(p->ku_allowed, KU_DIGITAL_SIGNATURE);
	EQ(p->neku_allowed, 0);
	EQ(p->ncopy_exts, 0);
	EQ(p->holder_san_any, 0);
	EQ(p->kur_same_key, 0);
	assert_null(p->crl_url);
	assert_non_null(p = cfg_profile_get(c, "server"));
	EQ(p->days, 7);
	assert_null(p->ext_section);
	assert_string_equal(p->crl_url, "http://x/crl/%{crl}.crl");
	assert_null(cfg_profile_get(c, "nosuch"));
	/* The audit anchors: none, and a day, by default (issue 23). */
	assert_null(c->audit_anchor_file);
	EQ(c->audit_ckpt_max_age, 86400);
	cfg_free(c);
	c = cfg_try(CFG_MAIN "audit_anchor_file = /var/lib/cmpca/a.log\n"
	                     "audit_checkpoint_max_age = 0\n" CFG_PROFILE,
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("cfg_load failed: %s", err);
	assert_string_equal(c->audit_anchor_file, "/var/lib/cmpca/a.log");
	EQ(c->audit_ckpt_max_age, 0);
	/* No delta CRLs by default (issue 23). */
	EQ(c->delta_crl_interval, 0);
	assert_null(c->delta_crl_url);
	cfg_free(c);
	c = cfg_try(CFG_MAIN "delta_crl_interval = 3600\n"
	                     "delta_crl_url = http://x/crl/delta/%{crl}.crl\n"
	                     CFG_PROFILE,
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("cfg_load failed: %s", err);
	EQ(c->delta_crl_interval, 3600);
	assert_string_equal(c->delta_crl_url, "http://x/crl/delta/%{crl}.crl");
	cfg_free(c);
	cfg_free(NULL);
}

/* The scope keys (issue 22): defaults and values. */
static void
test_cfg_scope(void **state)
{
	const struct cfg_profile *p;
	char err[4096];
	struct cfg *c;

	(void)state;
	c = cfg_try(CFG_MAIN CFG_PROFILE, err, sizeof(err));
	if (c == NULL)
		fail_msg("cfg_load failed: %s", err);
	EQ(c->txn_retention, CA_DEFAULT_TXN_RETENTION);
	EQ(c->ra_revoke_scope, CFG_RA_REVOKE_OWN);
	assert_null(c->identity_accepts);
	EQ(cfg_identity_accepts(c, "demo", "demo"), 1);
	EQ(cfg_identity_accepts(c, "demo", "r2"), 0);
	assert_null(cfg_profile_get(c, "default")->renew_profile);
	cfg_free(c);

	c = cfg_try(CFG_MAIN "txn_retention = 7200\nra_revoke_scope = profile\n"
	                     "identity_accepts = demo:r2, sub:demo\n"
	                     CFG_PROFILE "renew_profile = strict\n"
	                     "[profile.strict]\ndays = 90\n",
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("cfg_load failed: %s", err);
	EQ(c->txn_retention, 7200);
	EQ(c->ra_revoke_scope, CFG_RA_REVOKE_PROFILE);
	EQ(cfg_identity_accepts(c, "demo", "r2"), 1);
	EQ(cfg_identity_accepts(c, "sub", "demo"), 1);
	/* Pairs are directed and whole labels. */
	EQ(cfg_identity_accepts(c, "r2", "demo"), 0);
	EQ(cfg_identity_accepts(c, "demo", "r"), 0);
	EQ(cfg_identity_accepts(c, "dem", "r2"), 0);
	EQ(cfg_identity_accepts(c, "demo", "sub"), 0);
	assert_non_null(p = cfg_profile_get(c, "default"));
	assert_string_equal(p->renew_profile, "strict");
	cfg_free(c);

	c = cfg_try(CFG_MAIN "ra_revoke_scope = any\n" CFG_PROFILE, err,
	    sizeof(err));
	if (c == NULL)
		fail_msg("cfg_load failed: %s", err);
	EQ(c->ra_revoke_scope, CFG_RA_REVOKE_ANY);
	cfg_free(c);
}

/* central_keygen (issue 26): off by default; the types in their order,
 * a repeated one once. */
static void
test_cfg_central_keygen(void **state)
{
	const struct cfg_profile *p;
	char err[4096];
	struct cfg *c;

	(void)state;
	c = cfg_try(CFG_MAIN CFG_PROFILE, err, sizeof(err));
	if (c == NULL)
		fail_msg("cfg_load failed: %s", err);
	EQ(cfg_profile_get(c, "default")->nkga_types, 0);
	cfg_free(c);
	c = cfg_try(CFG_MAIN CFG_PROFILE
	    "central_keygen = RSA-2048, ec-p256 rsa-2048\n", err, sizeof(err));
	if (c == NULL)
		fail_msg("cfg_load failed: %s", err);
	assert_non_null(p = cfg_profile_get(c, "default"));
	EQ(p->nkga_types, 2);
	EQ(p->kga_types[0], HSM_KEY_RSA2048);
	EQ(p->kga_types[1], HSM_KEY_EC_P256);
	cfg_free(c);
	c = cfg_try(CFG_MAIN CFG_PROFILE "central_keygen = no\n", err,
	    sizeof(err));
	if (c == NULL)
		fail_msg("cfg_load failed: %s", err);
	EQ(cfg_profile_get(c, "default")->nkga_types, 0);
	cfg_free(c);
}

static void
test_cfg_errors(void **state)
{
	static const struct {
		const char *name, *text;
		int line; /* 0: the message names no line */
		const char *msg;
	} cases[] = {
		{ "unknown key", CFG_MAIN "tokn = x\n" CFG_PROFILE, 3,
		    "unknown setting \"tokn\"" },
		{ "unknown profile key", CFG_MAIN CFG_PROFILE "dayz = 1\n", 5,
		    "unknown setting \"dayz\"" },
		{ "bad number", CFG_MAIN "workers = abc\n" CFG_PROFILE, 3,
		    "workers must be a number" },
		{ "out of range", CFG_MAIN "workers = 65\n" CFG_PROFILE, 3,
		    "workers must be a number" },
		{ "crl_delay out of range", CFG_MAIN "crl_delay = 86401\n"
		    CFG_PROFILE, 3, "crl_delay must be a number" },
		{ "ocsp_sign_max 0", CFG_MAIN "ocsp_sign_max = 0\n" CFG_PROFILE,
		    3, "ocsp_sign_max must be a number" },
		{ "ocsp_validity too short", CFG_MAIN "ocsp_validity = 59\n"
		    CFG_PROFILE, 3, "ocsp_validity must be a number" },
		{ "ocsp_refresh not below ocsp_validity",
		    CFG_MAIN "ocsp_validity = 100\nocsp_refresh = 100\n"
		    CFG_PROFILE, 4, "ocsp_refresh must be less than ocsp_validity" },
		{ "delta_crl_interval below a minute",
		    CFG_MAIN "delta_crl_interval = 59\n" CFG_PROFILE, 3,
		    "delta_crl_interval must be 0 (no delta CRLs) or from 60" },
		{ "delta_crl_interval not below crl_validity",
		    CFG_MAIN "crl_validity = 1\ndelta_crl_interval = 3600\n"
		    CFG_PROFILE, 4,
		    "delta_crl_interval must be 0 (no delta CRLs) or from 60" },
		{ "delta_crl_url without delta_crl_interval",
		    CFG_MAIN "delta_crl_url = http://x/d.crl\n" CFG_PROFILE, 3,
		    "delta_crl_url needs delta_crl_interval" },
		{ "delta_crl_url not a URI",
		    CFG_MAIN "delta_crl_interval = 600\ndelta_crl_url = x y\n"
		    CFG_PROFILE, 4, "delta_crl_url must be a URI" },
		{ "ocsp_nonce not a boolean", CFG_MAIN "ocsp_nonce = echo\n"
		    CFG_PROFILE, 3, "ocsp_nonce must be yes or no" },
		{ "bad days", CFG_MAIN "[profile.default]\ndays = 0\n", 4,
		    "days must be a number" },
		{ "bad bool", CFG_MAIN "implicit_confirm = maybe\n" CFG_PROFILE,
		    3, "implicit_confirm must be yes or no" },
		{ "bad log level", CFG_MAIN "log_level = loud\n" CFG_PROFILE, 3,
		    "log_level must be" },
		{ "no extensions section",
		    CFG_MAIN CFG_PROFILE "extensions = nosuch\n", 5,
		    "extensions section \"nosuch\" does not exist" },
		{ "bad extension value",
		    CFG_MAIN CFG_PROFILE "extensions = ext\n"
		                         "[ext]\nkeyUsage = nonsense\n",
		    5, "bad extensions in section \"ext\"" },
		{ "syntax error", CFG_MAIN "[profile.default\ndays = 1\n", 3,
		    "syntax error" },
		{ "no equal sign", CFG_MAIN "workers\n" CFG_PROFILE, 3,
		    "syntax error" },
		{ "no token", "[cmpca]\nworkers = 2\n" CFG_PROFILE, 0,
		    "[cmpca]: token is required" },
		{ "no main section", CFG_PROFILE, 0,
		    "missing section [cmpca]" },
		{ "no default profile", CFG_MAIN "[profile.x]\ndays = 1\n", 0,
		    "missing section [profile.default]" },
		/* No profile hands out OCSP signing, every purpose, or CA
		 * key usages to end entities (issue 13). */
		{ "OCSPSigning listed",
		    CFG_MAIN CFG_PROFILE "ext_key_usage = clientAuth, "
		                         "OCSPSigning\n",
		    5, "OCSPSigning may not be in ext_key_usage" },
		{ "anyExtendedKeyUsage listed",
		    CFG_MAIN CFG_PROFILE "ext_key_usage = anyExtendedKeyUsage\n",
		    5, "anyExtendedKeyUsage may not be in ext_key_usage" },
		{ "keyCertSign for end entities",
		    CFG_MAIN CFG_PROFILE "key_usage = digitalSignature, "
		                         "keyCertSign\n",
		    5, "keyCertSign and cRLSign may not be in key_usage" },
		{ "unknown key usage",
		    CFG_MAIN CFG_PROFILE "key_usage = digitalSig\n", 5,
		    "unknown keyUsage \"digitalSig\" in key_usage" },
		{ "OCSPSigning in the section",
		    CFG_MAIN CFG_PROFILE "extensions = ext\n"
		                         "[ext]\nextendedKeyUsage = OCSPSigning\n",
		    5, "OCSPSigning in the extensions of a profile" },
		{ "keyCertSign in an end-entity section",
		    CFG_MAIN CFG_PROFILE "extensions = ext\n"
		                         "[ext]\nkeyUsage = keyCertSign\n",
		    5, "keyCertSign or cRLSign in the extensions of an "
		       "end-entity profile" },
		{ "basicConstraints copied",
		    CFG_MAIN CFG_PROFILE "copy_extensions = basicConstraints\n",
		    5, "basicConstraints may not be in copy_extensions" },
		{ "certificatePolicies copied",
		    CFG_MAIN CFG_PROFILE "copy_extensions = certificatePolicies\n",
		    5, "certificatePolicies may not be in copy_extensions" },
		{ "bad allowed_policies",
		    CFG_MAIN CFG_PROFILE "allowed_policies = 1.2.3.4, nopolicy\n",
		    5, "unknown object \"nopolicy\" in allowed_policies" },
		{ "bad other_extensions",
		    CFG_MAIN CFG_PROFILE "other_extensions = ignore\n", 5,
		    "other_extensions must be drop or refuse" },
		{ "bad wildcards", CFG_MAIN CFG_PROFILE "wildcards = maybe\n", 5,
		    "wildcards must be yes or no" },
		{ "bad holder_san", CFG_MAIN CFG_PROFILE "holder_san = all\n", 5,
		    "holder_san must be own or any" },
		{ "crl_url with a blank",
		    CFG_MAIN CFG_PROFILE "crl_url = http://x/a b.crl\n", 5,
		    "crl_url must be a URI" },
		{ "crl_url with another substitution",
		    CFG_MAIN CFG_PROFILE "crl_url = http://x/%{label}.crl\n", 5,
		    "crl_url must be a URI" },
		{ "crl_url and a section CDP",
		    CFG_MAIN CFG_PROFILE "crl_url = http://x/%{ca}.crl\n"
		                         "extensions = ext\n[ext]\n"
		                         "crlDistributionPoints = URI:http://y/\n",
		    6, "the extensions section sets crlDistributionPoints" },
		{ "bad kur_same_key", CFG_MAIN CFG_PROFILE "kur_same_key = 2\n",
		    5, "kur_same_key must be yes or no" },
		{ "relative audit_anchor_file",
		    CFG_MAIN "audit_anchor_file = anchor.log\n" CFG_PROFILE, 3,
		    "audit_anchor_file must be an absolute path" },
		{ "negative audit_checkpoint_max_age",
		    CFG_MAIN "audit_checkpoint_max_age = -1\n" CFG_PROFILE, 3,
		    "audit_checkpoint_max_age must be a number" },
		/* Scope (issue 22). */
		{ "bad ra_revoke_scope",
		    CFG_MAIN "ra_revoke_scope = all\n" CFG_PROFILE, 3,
		    "ra_revoke_scope must be own, profile or any" },
		{ "identity_accepts without issuer",
		    CFG_MAIN "identity_accepts = demo:r2 demo\n" CFG_PROFILE, 3,
		    "identity_accepts must list LABEL:ISSUER pairs" },
		{ "identity_accepts with two colons",
		    CFG_MAIN "identity_accepts = a:b:c\n" CFG_PROFILE, 3,
		    "identity_accepts must list LABEL:ISSUER pairs" },
		{ "txn_retention too short",
		    CFG_MAIN "txn_retention = 60\n" CFG_PROFILE, 3,
		    "txn_retention must be a number" },
		{ "renew_profile names nothing",
		    CFG_MAIN CFG_PROFILE "renew_profile = nosuch\n", 5,
		    "renew_profile names no [profile.NAME] section" },
		/* Central key generation (issue 26). */
		{ "central_keygen of an unknown type",
		    CFG_MAIN CFG_PROFILE "central_keygen = ed25519\n", 5,
		    "unknown key type \"ed25519\"" },
		{ "central_keygen of a type key_types refuses",
		    CFG_MAIN CFG_PROFILE "key_types = ec:P-256\n"
		    "central_keygen = ec-p256, rsa-2048\n", 6,
		    "rsa-2048 is a key type key_types or rsa_min_bits" },
		{ "central_keygen below rsa_min_bits",
		    CFG_MAIN CFG_PROFILE "rsa_min_bits = 3072\n"
		    "central_keygen = rsa-2048\n", 6,
		    "rsa-2048 is a key type key_types or rsa_min_bits" },
	};
	char err[4096], want[256], nosuch[160];
	struct cfg *c;
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		c = cfg_try(cases[i].text, err, sizeof(err));
		if (cases[i].line > 0)
			snprintf(want, sizeof(want), "%s:%d: %s", cfg_path,
			    cases[i].line, cases[i].msg);
		else
			snprintf(want, sizeof(want), "%s: %s", cfg_path,
			    cases[i].msg);
		if (c != NULL || strstr(err, want) == NULL) {
			print_error("%s: cfg %s, log \"%s\", want \"%s\"\n",
			    cases[i].name, c != NULL ? "loaded" : "NULL", err,
			    want);
			bad++;
		}
		cfg_free(c);
	}
	snprintf(nosuch, sizeof(nosuch), "%s/nosuch.conf", cfg_dir);
	c = cfg_load_logged(nosuch, err, sizeof(err));
	cfg_free(c);
	assert_null(c);
	assert_non_null(strstr(err, nosuch));
	EQ(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest cfg[] = {
		cmocka_unit_test(test_cfg_valid),
		cmocka_unit_test(test_cfg_errors),
		cmocka_unit_test(test_cfg_scope),
		cmocka_unit_test(test_cfg_central_keygen),
	};

	return cmocka_run_group_tests_name(
	    "cfg", cfg, cfg_setup, cfg_teardown) != 0;
}
