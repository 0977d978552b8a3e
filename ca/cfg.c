/*
 * cfg.c - the per-deployment configuration file, in OpenSSL NCONF syntax.
 *
 *   [cmpca]              main section; unknown keys are errors
 *   [profile.NAME]       a certificate profile (NCONF section names cannot
 *                        contain ':', hence the dot)
 *   [any other]          x509v3 extension sections named by profiles,
 *                        exactly as in openssl.cnf
 *
 * Secrets never live here: the HSM PIN comes from pin_file or the
 * environment, enrollment secrets from the database.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"

#define CFG_MAIN "cmpca"
#define CFG_PROFILE_PREFIX "profile."

/* Set by the Makefile from PREFIX, SCHEMADIR and SYSCONFDIR. */
#ifndef CMPCA_SCHEMADIR
#define CMPCA_SCHEMADIR "/usr/local/share/cmpca/schema"
#endif
#ifndef CMPCA_CONFFILE
#define CMPCA_CONFFILE "/etc/cmpca/cmpca.conf"
#endif

static const char *const cfg_keys[] = {
	"pkcs11_module", "token", "pin_file", "db", "socket", "workers",
	"default_ca", "schema_dir", "max_request", "pbm_max_iterations",
	"implicit_confirm", "txn_timeout", "log_level",
	"housekeeping_interval", "nonce_max_age", "trust_anchors",
	"poll_check_after", "clock_skew", "allow_unprotected", "crl_dir",
	"crl_validity", "crl_auto", "user", "socket_group", "syslog",
	"db_operator", "db_owner", "db_reader", "mac_fail_budget",
	"worker_timeout", "audit_anchor_file", "audit_checkpoint_max_age",
	"crl_delay", "ocsp_nonce", "ocsp_sign_max", "ocsp_validity",
	"ocsp_refresh", "txn_retention",
	"ra_revoke_scope", "identity_accepts", "coap_listen", "coap_timeout",
	"coaps_listen", "coaps_cert", "coaps_key", "pkcs11_init_args",
	"delta_crl_interval", "delta_crl_url", NULL,
};

static int cfg_scope(struct cfg *c);

static const char *const profile_keys[] = {
	"days", "extensions", "copy_san", "copy_key_usage",
	"copy_ext_key_usage", "kur_revokes_old", "approval", "implicit_confirm",
	"key_types", "rsa_min_bits", "san_types", "subject_attrs", "key_usage",
	"ext_key_usage", "copy_extensions", "holder_san", "kur_same_key",
	"crl_url", "ocsp_url", "ca_issuers_url", "ra_san", "external_subject",
	"external_san", "wildcards", "other_extensions", "allowed_policies",
	"renew_profile", "central_keygen", "archive_keys", NULL,
};

/* Line number of "key =" inside [section] of path, 0 if not found. */
static int
cfg_line_of(const char *path, const char *section, const char *key)
{
	FILE *f;
	char line[1024], cur[256] = "default";
	int n = 0, found = 0;
	size_t klen = strlen(key);

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *e;

		n++;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '[') {
			p++;
			while (isspace((unsigned char)*p))
				p++;
			e = strchr(p, ']');
			if (e != NULL) {
				while (e > p && isspace((unsigned char)e[-1]))
					e--;
				snprintf(cur, sizeof(cur), "%.*s", (int)(e - p),
				    p);
			}
			continue;
		}
		if (strcmp(cur, section) == 0 && strncmp(p, key, klen) == 0 &&
		    (isspace((unsigned char)p[klen]) || p[klen] == '=')) {
			found = n;
			break;
		}
	}
	fclose(f);
	return found;
}

static void cfg_error(const struct cfg *c, const char *section,
    const char *key, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Logs "file:line: reason" (or "file: [section]: reason"). */
static void
cfg_error(const struct cfg *c, const char *section, const char *key,
    const char *fmt, ...)
{
	char msg[512];
	int line = key != NULL ? cfg_line_of(c->path, section, key) : 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		log_err("%s:%d: %s", c->path, line, msg);
	else
		log_err("%s: [%s]: %s", c->path, section, msg);
}

static char *
cfg_str(const struct cfg *c, const char *section, const char *key,
    const char *def)
{
	const char *v = NCONF_get_string(c->conf, section, key);

	ERR_clear_error();
	if (v == NULL)
		v = def;
	return v != NULL ? strdup(v) : NULL;
}

/* "key =" with nothing after it means unset (NULL). */
static void
cfg_unset_empty(char **v)
{
	if (*v != NULL && **v == '\0') {
		free(*v);
		*v = NULL;
	}
}

/* Parses a non-negative number in [min, max]. Returns 1 or 0. */
static int
cfg_long(const struct cfg *c, const char *section, const char *key,
    long def, long min, long max, long *out)
{
	const char *v = NCONF_get_string(c->conf, section, key);
	char *end;
	long n;

	ERR_clear_error();
	if (v == NULL) {
		*out = def;
		return 1;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max) {
		char why[128];

		snprintf(why, sizeof(why), "%s must be a number from %ld to %ld",
		    key, min, max);
		cfg_error(c, section, key, "%s", why);
		return 0;
	}
	*out = n;
	return 1;
}

static int
cfg_bool(const struct cfg *c, const char *section, const char *key, int def,
    int *out)
{
	const char *v = NCONF_get_string(c->conf, section, key);

	ERR_clear_error();
	if (v == NULL) {
		*out = def;
		return 1;
	}
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0) {
		*out = 1;
		return 1;
	}
	if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0) {
		*out = 0;
		return 1;
	}
	cfg_error(c, section, key, "%s must be yes or no", key);
	return 0;
}

/* Rejects keys not in the allowed list (typos must not pass silently). */
static int
cfg_keys_check(const struct cfg *c, const char *section,
    const char *const *allowed)
{
	STACK_OF(CONF_VALUE) *sk = NCONF_get_section(c->conf, section);
	int i, ok = 1;

	for (i = 0; i < sk_CONF_VALUE_num(sk); i++) {
		const CONF_VALUE *v = sk_CONF_VALUE_value(sk, i);
		const char *const *k;

		for (k = allowed; *k != NULL; k++)
			if (strcmp(*k, v->name) == 0)
				break;
		if (*k == NULL) {
			cfg_error(c, section, v->name, "unknown setting \"%s\"",
			    v->name);
			ok = 0;
		}
	}
	return ok;
}

/* Applies an extensions section to a throwaway certificate, which it
 * returns (the caller frees it), or NULL. */
static X509 *
cfg_ext_check(struct cfg *c, const char *section, const char *ext)
{
	X509V3_CTX ctx;
	X509 *x = X509_new();
	int ok;

	if (x == NULL)
		return NULL;
	if (NCONF_get_section(c->conf, ext) == NULL) {
		ERR_clear_error();
		cfg_error(c, section, "extensions",
		    "extensions section \"%s\" does not exist", ext);
		X509_free(x);
		return NULL;
	}
	X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, X509V3_CTX_TEST);
	X509V3_set_nconf(&ctx, c->conf);
	ok = X509V3_EXT_add_nconf(c->conf, &ctx, ext, x);
	if (!ok) {
		unsigned long e = ERR_peek_last_error();
		char why[256];

		snprintf(why, sizeof(why), "bad extensions in section \"%s\": %s",
		    ext, ERR_reason_error_string(e) ? ERR_reason_error_string(e)
						    : "unknown");
		cfg_error(c, section, "extensions", "%s", why);
		ERR_clear_error();
		X509_free(x);
		return NULL;
	}
	return x;
}

/* A per-CA URL of a profile: printable ASCII, no blanks, at most
 * CFG_URL_MAX bytes, "%{ca}" and "%{crl}" the only substitutions.
 * Returns 1 or 0. */
static int
cfg_url(struct cfg *c, const char *sec, const char *key, char **out)
{
	const char *v = NCONF_get_string(c->conf, sec, key), *q;

	ERR_clear_error();
	if (v == NULL)
		return 1;
	for (q = v; *q != '\0'; q++)
		if (*q <= ' ' || *q > '~' ||
		    (*q == '%' && strncmp(q, "%{ca}", 5) != 0 &&
			strncmp(q, "%{crl}", 6) != 0))
			break;
	if (*q != '\0' || q == v || strlen(v) >= CFG_URL_MAX ||
	    strchr(v, ':') == NULL) {
		cfg_error(c, sec, key, "%s must be a URI (printable, no "
		    "blanks, %%{ca} for the CA's label, %%{crl} for its "
		    "key's CRL name)", key);
		return 0;
	}
	return (*out = strdup(v)) != NULL;
}

/* What requests may ask for under the profile (profile.c), and the
 * extensions the profile's URLs make. */
static int
cfg_profile_policy(struct cfg *c, const char *sec, struct cfg_profile *p)
{
	X509 *probe = NULL;
	char err[256];
	const char *key = NULL, *v;
	int ok;

	v = NCONF_get_string(c->conf, sec, "holder_san");
	ERR_clear_error();
	if (v != NULL && strcmp(v, "any") != 0 && strcmp(v, "own") != 0) {
		cfg_error(c, sec, "holder_san", "%s",
		    "holder_san must be own or any");
		return 0;
	}
	p->holder_san_any = v != NULL && strcmp(v, "any") == 0;
	if ((p->ra_san = cfg_str(c, sec, "ra_san", NULL)) != NULL &&
	    !profile_san_patterns_ok(p->ra_san)) {
		cfg_error(c, sec, "ra_san", "%s", "ra_san must be a list of "
		    "DNS:name, DNS:*.domain, email:addr, email:*@domain, "
		    "IP:addr[/bits], URI:uri[*]");
		return 0;
	}
	/* A certificate under an external anchor (an IDevID): own subject,
	 * or the operator's patterns (RFC 9483 §4.1.1). */
	p->external_subject = cfg_str(c, sec, "external_subject", NULL);
	if (p->external_subject != NULL &&
	    strcmp(p->external_subject, "own") == 0) {
		free(p->external_subject);
		p->external_subject = NULL;
	} else if (p->external_subject != NULL &&
	    !profile_subject_patterns_ok(p->external_subject)) {
		cfg_error(c, sec, "external_subject", "%s", "external_subject "
		    "must be own or subject patterns separated by ';' "
		    "(/O=Example/CN=*)");
		return 0;
	}
	if ((p->external_san = cfg_str(c, sec, "external_san", NULL)) !=
	    NULL && !profile_san_patterns_ok(p->external_san)) {
		cfg_error(c, sec, "external_san", "%s", "external_san must be "
		    "a list of DNS:name, DNS:*.domain, email:addr, "
		    "email:*@domain, IP:addr[/bits], URI:uri[*]");
		return 0;
	}
	p->renew_profile = cfg_str(c, sec, "renew_profile", NULL);
	if (!cfg_bool(c, sec, "kur_same_key", 0, &p->kur_same_key) ||
	    !cfg_url(c, sec, "crl_url", &p->crl_url) ||
	    !cfg_url(c, sec, "ocsp_url", &p->ocsp_url) ||
	    !cfg_url(c, sec, "ca_issuers_url", &p->ca_issuers_url))
		return 0;
	if (p->ext_section != NULL &&
	    (probe = cfg_ext_check(c, sec, p->ext_section)) == NULL)
		return 0;
	/* One place decides each: the URL keys, or the section. */
	if (probe != NULL && ((p->crl_url != NULL &&
	    X509_get_ext_by_NID(probe, NID_crl_distribution_points, -1) >= 0) ||
	    ((p->ocsp_url != NULL || p->ca_issuers_url != NULL) &&
	    X509_get_ext_by_NID(probe, NID_info_access, -1) >= 0))) {
		cfg_error(c, sec, "extensions", "%s", "the extensions section "
		    "sets crlDistributionPoints or authorityInfoAccess that "
		    "crl_url, ocsp_url or ca_issuers_url set");
		X509_free(probe);
		return 0;
	}
	ok = profile_rules_load(c->conf, sec, p, probe, err, sizeof(err),
	    &key);
	if (!ok)
		cfg_error(c, sec, key, "%s", err);
	X509_free(probe);
	return ok;
}

/* Parses a comma-separated list into a bit mask from a table. */
static int
cfg_mask(const struct cfg *c, const char *sec, const char *key,
    const char *const *names, const unsigned *bits, unsigned def,
    unsigned *out)
{
	const char *v = NCONF_get_string(c->conf, sec, key);
	char buf[512], *tok, *save = NULL;
	size_t i;

	ERR_clear_error();
	*out = def;
	if (v == NULL)
		return 1;
	snprintf(buf, sizeof(buf), "%s", v);
	*out = 0;
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		if (strcmp(tok, "none") == 0)
			continue;
		for (i = 0; names[i] != NULL; i++)
			if (strcasecmp(tok, names[i]) == 0)
				break;
		if (names[i] == NULL) {
			cfg_error(c, sec, key, "unknown value \"%s\" in %s",
			    tok, key);
			return 0;
		}
		*out |= bits[i];
	}
	return 1;
}

/*
 * central_keygen: the key types the CA generates for the profile's end
 * entities, in order of preference (the first is the default for a
 * template without a key). Each must be one key_types allows.
 */
static int
cfg_kga_types(const struct cfg *c, const char *sec, struct cfg_profile *p)
{
	static const struct {
		const char *name;
		enum hsm_keytype t;
		unsigned kt;
		long bits;
	} kga[] = {
		{ "ec-p256", HSM_KEY_EC_P256, CFG_KT_P256, 0 },
		{ "ec-p384", HSM_KEY_EC_P384, CFG_KT_P384, 0 },
		{ "rsa-2048", HSM_KEY_RSA2048, CFG_KT_RSA, 2048 },
		{ "rsa-3072", HSM_KEY_RSA3072, CFG_KT_RSA, 3072 },
		{ "rsa-4096", HSM_KEY_RSA4096, CFG_KT_RSA, 4096 },
	};
	const char *v = NCONF_get_string(c->conf, sec, "central_keygen");
	char buf[256], *tok, *save = NULL;
	size_t i, k;

	ERR_clear_error();
	p->nkga_types = 0;
	if (v == NULL || strcasecmp(v, "no") == 0 || strcmp(v, "") == 0)
		return 1;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		for (i = 0; i < sizeof(kga) / sizeof(kga[0]); i++)
			if (strcasecmp(tok, kga[i].name) == 0)
				break;
		if (i == sizeof(kga) / sizeof(kga[0])) {
			cfg_error(c, sec, "central_keygen", "unknown key type "
			    "\"%s\" (ec-p256, ec-p384, rsa-2048, rsa-3072, "
			    "rsa-4096)", tok);
			return 0;
		}
		if (!(p->key_types & kga[i].kt) ||
		    kga[i].bits < (kga[i].kt == CFG_KT_RSA ? p->rsa_min_bits
			: 0)) {
			cfg_error(c, sec, "central_keygen", "%s is a key type "
			    "key_types or rsa_min_bits of the profile refuses",
			    kga[i].name);
			return 0;
		}
		for (k = 0; k < p->nkga_types; k++)
			if (p->kga_types[k] == (int)kga[i].t)
				break;
		if (k < p->nkga_types)
			continue;
		if (p->nkga_types == CFG_MAX_KGA_TYPES) {
			cfg_error(c, sec, "central_keygen", "too many key types");
			return 0;
		}
		p->kga_types[p->nkga_types++] = (int)kga[i].t;
	}
	return 1;
}

/* Key types, SAN types and subject attributes a profile accepts. */
static int
cfg_profile_rules(const struct cfg *c, const char *sec, struct cfg_profile *p)
{
	static const char *const kt_names[] = { "rsa", "ec:P-256", "ec:P-384",
		"ec:P-521", "ed25519", "ed448", NULL };
	static const unsigned kt_bits[] = { CFG_KT_RSA, CFG_KT_P256,
		CFG_KT_P384, CFG_KT_P521, CFG_KT_ED25519, CFG_KT_ED448 };
	static const char *const san_names[] = { "dns", "ip", "email", "uri",
		NULL };
	static const unsigned san_bits[] = { CFG_SAN_DNS, CFG_SAN_IP,
		CFG_SAN_EMAIL, CFG_SAN_URI };
	const char *v;
	char buf[512], *tok, *save = NULL;

	if (!cfg_mask(c, sec, "key_types", kt_names, kt_bits, CFG_KT_ALL,
		&p->key_types) ||
	    !cfg_mask(c, sec, "san_types", san_names, san_bits, CFG_SAN_ALL,
		&p->san_types) ||
	    !cfg_long(c, sec, "rsa_min_bits", 2048, 2048, 16384,
		&p->rsa_min_bits) ||
	    !cfg_bool(c, sec, "implicit_confirm", 1, &p->implicit_confirm) ||
	    !cfg_bool(c, sec, "wildcards", 0, &p->wildcards) ||
	    !cfg_kga_types(c, sec, p) ||
	    !cfg_bool(c, sec, "archive_keys", 0, &p->archive_keys))
		return 0;
	if (p->archive_keys && p->nkga_types == 0) {
		cfg_error(c, sec, "archive_keys", "archives keys the CA "
		    "generates: set central_keygen too");
		return 0;
	}
	v = NCONF_get_string(c->conf, sec, "subject_attrs");
	ERR_clear_error();
	if (v == NULL)
		return 1;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		int nid = OBJ_txt2nid(tok);

		if (nid == NID_undef ||
		    p->nsubject_attrs == CFG_MAX_SUBJECT_ATTRS) {
			cfg_error(c, sec, "subject_attrs",
			    "unknown or too many attributes at \"%s\"", tok);
			return 0;
		}
		p->subject_attrs[p->nsubject_attrs++] = nid;
	}
	return 1;
}

static int
cfg_profiles_load(struct cfg *c)
{
	STACK_OF(OPENSSL_CSTRING) *names = NCONF_get_section_names(c->conf);
	size_t plen = strlen(CFG_PROFILE_PREFIX);
	int i, ok = 0;

	if (names == NULL)
		return 1;
	c->profiles = calloc((size_t)sk_OPENSSL_CSTRING_num(names) + 1,
	    sizeof(*c->profiles));
	if (c->profiles == NULL)
		goto out;
	for (i = 0; i < sk_OPENSSL_CSTRING_num(names); i++) {
		const char *sec = sk_OPENSSL_CSTRING_value(names, i);
		struct cfg_profile *p;

		if (strncmp(sec, CFG_PROFILE_PREFIX, plen) != 0)
			continue;
		if (!cfg_keys_check(c, sec, profile_keys))
			goto out;
		if (strlen(sec + plen) == 0 ||
		    strlen(sec + plen) >= sizeof(p->name)) {
			cfg_error(c, sec, NULL, "%s", "bad profile name");
			goto out;
		}
		p = &c->profiles[c->nprofiles++];
		snprintf(p->name, sizeof(p->name), "%s", sec + plen);
		if (!cfg_long(c, sec, "days", 365, 1, 36500, &p->days) ||
		    !cfg_bool(c, sec, "copy_san", 1, &p->copy_san) ||
		    !cfg_bool(c, sec, "copy_key_usage", 1, &p->copy_key_usage) ||
		    !cfg_bool(c, sec, "copy_ext_key_usage", 1,
			&p->copy_ext_key_usage) ||
		    !cfg_bool(c, sec, "kur_revokes_old", 1,
			&p->kur_revokes_old) ||
		    !cfg_bool(c, sec, "approval", 0, &p->approval) ||
		    !cfg_profile_rules(c, sec, p))
			goto out;
		p->ext_section = cfg_str(c, sec, "extensions", NULL);
		if (!cfg_profile_policy(c, sec, p))
			goto out;
	}
	ok = 1;
out:
	sk_OPENSSL_CSTRING_free(names);
	return ok;
}

/* allow_unprotected = genm, ir, ...: request bodies accepted without
 * protection (default none). */
static int
cfg_unprotected(struct cfg *c)
{
	const char *v = NCONF_get_string(c->conf, CFG_MAIN, "allow_unprotected");
	char buf[256], *tok, *save = NULL;
	int t;

	ERR_clear_error();
	if (v == NULL)
		return 1;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		for (t = 0; t <= CMP_BODY_MAX; t++)
			if (strcmp(tok, cmp_body_name(t)) == 0)
				break;
		if (t > CMP_BODY_MAX) {
			cfg_error(c, CFG_MAIN, "allow_unprotected",
			    "unknown body type \"%s\"", tok);
			return 0;
		}
		c->unprotected_ok |= 1ul << t;
	}
	return 1;
}

/* Loads and checks the configuration; see ca.h. */
struct cfg *
cfg_load(const char *path)
{
	struct cfg *c;
	long eline = 0, n;

	if (path == NULL)
		path = getenv("CMPCA_CONF");
	if (path == NULL || *path == '\0')
		path = CMPCA_CONFFILE;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->path = strdup(path);
	c->conf = NCONF_new(NULL);
	if (c->path == NULL || c->conf == NULL)
		goto fail;
	if (!NCONF_load(c->conf, path, &eline)) {
		unsigned long e = ERR_peek_last_error();

		if (eline > 0)
			log_err("%s:%ld: syntax error: %s", path, eline,
			    ERR_reason_error_string(e) ? ERR_reason_error_string(e)
						       : "unknown");
		else
			log_err("%s: cannot read: %s", path,
			    ERR_reason_error_string(e) ? ERR_reason_error_string(e)
						       : "unknown");
		ERR_clear_error();
		goto fail;
	}
	if (NCONF_get_section(c->conf, CFG_MAIN) == NULL) {
		ERR_clear_error();
		log_err("%s: missing section [%s]", path, CFG_MAIN);
		goto fail;
	}
	if (!cfg_keys_check(c, CFG_MAIN, cfg_keys))
		goto fail;
	c->pkcs11_module = cfg_str(c, CFG_MAIN, "pkcs11_module",
	    "/usr/lib/softhsm/libsofthsm2.so");
	c->token_label = cfg_str(c, CFG_MAIN, "token", NULL);
	c->pin_file = cfg_str(c, CFG_MAIN, "pin_file", NULL);
	c->pkcs11_init_args = cfg_str(c, CFG_MAIN, "pkcs11_init_args", NULL);
	cfg_unset_empty(&c->pkcs11_init_args);
	c->db_conninfo = cfg_str(c, CFG_MAIN, "db", "");
	/* Each component its database role; unset: the daemon's conninfo. */
	c->db_operator = cfg_str(c, CFG_MAIN, "db_operator", NULL);
	c->db_owner = cfg_str(c, CFG_MAIN, "db_owner", NULL);
	c->db_reader = cfg_str(c, CFG_MAIN, "db_reader", NULL);
	cfg_unset_empty(&c->db_operator);
	cfg_unset_empty(&c->db_owner);
	cfg_unset_empty(&c->db_reader);
	c->socket_path = cfg_str(c, CFG_MAIN, "socket", NULL);
	c->coap_listen = cfg_str(c, CFG_MAIN, "coap_listen", NULL);
	cfg_unset_empty(&c->coap_listen);
	c->coaps_listen = cfg_str(c, CFG_MAIN, "coaps_listen", NULL);
	c->coaps_cert = cfg_str(c, CFG_MAIN, "coaps_cert", NULL);
	c->coaps_key = cfg_str(c, CFG_MAIN, "coaps_key", NULL);
	cfg_unset_empty(&c->coaps_listen);
	cfg_unset_empty(&c->coaps_cert);
	cfg_unset_empty(&c->coaps_key);
	if (c->coaps_listen != NULL &&
	    (c->coaps_cert == NULL || c->coaps_key == NULL)) {
		cfg_error(c, CFG_MAIN, "coaps_listen", "%s",
		    "coaps_listen needs coaps_cert and coaps_key");
		goto fail;
	}
	c->user = cfg_str(c, CFG_MAIN, "user", NULL);
	if (c->user != NULL && c->user[0] == '\0') {
		free(c->user); /* "user =": none */
		c->user = NULL;
	}
	c->socket_group = cfg_str(c, CFG_MAIN, "socket_group", NULL);
	if (c->socket_group != NULL && c->socket_group[0] == '\0') {
		free(c->socket_group); /* "socket_group =": none */
		c->socket_group = NULL;
	}
	c->default_ca = cfg_str(c, CFG_MAIN, "default_ca", NULL);
	c->schema_dir = cfg_str(c, CFG_MAIN, "schema_dir", CMPCA_SCHEMADIR);
	c->log_level = cfg_str(c, CFG_MAIN, "log_level", "info");
	c->crl_dir = cfg_str(c, CFG_MAIN, "crl_dir", NULL);
	c->audit_anchor_file = cfg_str(c, CFG_MAIN, "audit_anchor_file", NULL);
	if (c->audit_anchor_file != NULL && c->audit_anchor_file[0] == '\0') {
		free(c->audit_anchor_file); /* "audit_anchor_file =": none */
		c->audit_anchor_file = NULL;
	}
	if (c->audit_anchor_file != NULL && c->audit_anchor_file[0] != '/') {
		cfg_error(c, CFG_MAIN, "audit_anchor_file", "%s",
		    "audit_anchor_file must be an absolute path");
		goto fail;
	}
	c->trust_anchors = cfg_str(c, CFG_MAIN, "trust_anchors", NULL);
	if (c->trust_anchors != NULL && c->trust_anchors[0] == '\0') {
		free(c->trust_anchors); /* "trust_anchors =": none */
		c->trust_anchors = NULL;
	}
	if (c->token_label == NULL) {
		log_err("%s: [%s]: token is required (the HSM token label)",
		    path, CFG_MAIN);
		goto fail;
	}
	if (!cfg_long(c, CFG_MAIN, "workers", 2, 1, CA_MAX_WORKERS, &n))
		goto fail;
	c->workers = (int)n;
	if (!cfg_long(c, CFG_MAIN, "max_request", CA_MAX_REQUEST, 1024,
		CA_MAX_REQUEST, &c->max_request) ||
	    !cfg_long(c, CFG_MAIN, "pbm_max_iterations",
		CA_DEFAULT_PBM_MAX_ITER, CA_MIN_PBM_ITER, 10000000,
		&c->pbm_max_iter) ||
	    !cfg_long(c, CFG_MAIN, "mac_fail_budget",
		CA_DEFAULT_MAC_FAIL_BUDGET, 0, 1000, &c->mac_fail_budget) ||
	    !cfg_long(c, CFG_MAIN, "worker_timeout",
		CA_DEFAULT_WORKER_TIMEOUT, 0, 86400, &c->worker_timeout) ||
	    !cfg_long(c, CFG_MAIN, "txn_timeout", CA_DEFAULT_TXN_TIMEOUT, 1,
		86400 * 30, &c->txn_timeout) ||
	    !cfg_long(c, CFG_MAIN, "housekeeping_interval", 10, 1, 3600,
		&c->housekeeping_interval) ||
	    !cfg_long(c, CFG_MAIN, "nonce_max_age", 86400, 60, 86400 * 365,
		&c->nonce_max_age) ||
	    !cfg_long(c, CFG_MAIN, "poll_check_after", 5, 1, 86400,
		&c->poll_check_after) ||
	    !cfg_long(c, CFG_MAIN, "clock_skew", CA_MAX_CLOCK_SKEW, 1, 86399,
		&c->clock_skew) ||
	    !cfg_long(c, CFG_MAIN, "crl_validity", 24, 1, 24 * 366,
		&c->crl_validity) ||
	    !cfg_long(c, CFG_MAIN, "coap_timeout", CA_COAP_TIMEOUT, 1, 3600,
		&c->coap_timeout) ||
	    !cfg_long(c, CFG_MAIN, "audit_checkpoint_max_age", 86400, 0,
		86400L * 3660, &c->audit_ckpt_max_age) ||
	    !cfg_bool(c, CFG_MAIN, "crl_auto", 1, &c->crl_auto) ||
	    !cfg_long(c, CFG_MAIN, "crl_delay", CA_DEFAULT_CRL_DELAY, 0,
		86400, &c->crl_delay) ||
	    !cfg_long(c, CFG_MAIN, "delta_crl_interval", 0, 0, 86400L * 7,
		&c->delta_crl_interval) ||
	    !cfg_url(c, CFG_MAIN, "delta_crl_url", &c->delta_crl_url) ||
	    !cfg_bool(c, CFG_MAIN, "ocsp_nonce", 0, &c->ocsp_nonce) ||
	    !cfg_long(c, CFG_MAIN, "ocsp_sign_max", 1, 1, CA_MAX_WORKERS,
		&c->ocsp_sign_max) ||
	    !cfg_long(c, CFG_MAIN, "ocsp_validity", CA_DEFAULT_OCSP_VALIDITY,
		60, 86400L * 7, &c->ocsp_validity) ||
	    !cfg_long(c, CFG_MAIN, "ocsp_refresh", CA_DEFAULT_OCSP_VALIDITY / 2,
		10, 86400L * 7, &c->ocsp_refresh) ||
	    !cfg_bool(c, CFG_MAIN, "syslog", 0, &c->syslog) ||
	    !cfg_bool(c, CFG_MAIN, "implicit_confirm", 1,
		&c->implicit_confirm) ||
	    !cfg_long(c, CFG_MAIN, "txn_retention", CA_DEFAULT_TXN_RETENTION,
		3600, 86400L * 3660, &c->txn_retention) ||
	    !cfg_scope(c))
		goto fail;
	if (c->delta_crl_interval > 0 && (c->delta_crl_interval < 60 ||
	    c->delta_crl_interval >= c->crl_validity * 3600L)) {
		cfg_error(c, CFG_MAIN, "delta_crl_interval", "%s",
		    "delta_crl_interval must be 0 (no delta CRLs) or from 60 "
		    "seconds to less than crl_validity (RFC 5280 §5.2.4: a "
		    "delta is issued more often than its complete CRL)");
		goto fail;
	}
	if (c->delta_crl_url != NULL && c->delta_crl_interval == 0) {
		cfg_error(c, CFG_MAIN, "delta_crl_url", "%s",
		    "delta_crl_url needs delta_crl_interval (no delta CRL "
		    "would be there)");
		goto fail;
	}
	if (c->ocsp_refresh >= c->ocsp_validity) {
		cfg_error(c, CFG_MAIN, "ocsp_refresh", "%s",
		    "ocsp_refresh must be less than ocsp_validity (an answer "
		    "would be produced again as soon as it is signed)");
		goto fail;
	}
	if (strcmp(c->log_level, "error") != 0 &&
	    strcmp(c->log_level, "warning") != 0 &&
	    strcmp(c->log_level, "info") != 0 &&
	    strcmp(c->log_level, "debug") != 0) {
		cfg_error(c, CFG_MAIN, "log_level",
		    "%s", "log_level must be error, warning, info or debug");
		goto fail;
	}
	if (!cfg_unprotected(c))
		goto fail;
	if (!cfg_profiles_load(c))
		goto fail;
	if (cfg_profile_get(c, "default") == NULL) {
		log_err("%s: missing section [profile.default]", path);
		goto fail;
	}
	for (n = 0; n < (long)c->nprofiles; n++) {
		const struct cfg_profile *p = &c->profiles[n];
		char sec[DB_LABEL_MAX + 16];

		snprintf(sec, sizeof(sec), "profile.%s", p->name);
		if (p->renew_profile != NULL &&
		    cfg_profile_get(c, p->renew_profile) == NULL) {
			cfg_error(c, sec, "renew_profile", "%s",
			    "renew_profile names no [profile.NAME] section");
			goto fail;
		}
	}
	return c;
fail:
	cfg_free(c);
	return NULL;
}

/* The scope keys: ra_revoke_scope and identity_accepts. 1 or 0. */
static int
cfg_scope(struct cfg *c)
{
	const char *v = NCONF_get_string(c->conf, CFG_MAIN, "ra_revoke_scope");
	const char *p;
	size_t n;

	ERR_clear_error();
	if (v == NULL || strcmp(v, "own") == 0)
		c->ra_revoke_scope = CFG_RA_REVOKE_OWN;
	else if (strcmp(v, "profile") == 0)
		c->ra_revoke_scope = CFG_RA_REVOKE_PROFILE;
	else if (strcmp(v, "any") == 0)
		c->ra_revoke_scope = CFG_RA_REVOKE_ANY;
	else {
		cfg_error(c, CFG_MAIN, "ra_revoke_scope", "%s",
		    "ra_revoke_scope must be own, profile or any");
		return 0;
	}
	c->identity_accepts = cfg_str(c, CFG_MAIN, "identity_accepts", NULL);
	for (p = c->identity_accepts; p != NULL && *p != '\0'; p += n) {
		const char *colon;

		p += strspn(p, " \t,");
		if ((n = strcspn(p, " \t,")) == 0)
			break;
		colon = memchr(p, ':', n);
		if (colon == NULL || colon == p || colon == p + n - 1 ||
		    memchr(colon + 1, ':', (size_t)(p + n - colon - 1)) !=
			NULL) {
			cfg_error(c, CFG_MAIN, "identity_accepts", "%s",
			    "identity_accepts must list LABEL:ISSUER pairs "
			    "(CA labels)");
			return 0;
		}
	}
	return 1;
}

/* Safe to call with NULL. */
void
cfg_free(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nprofiles; i++) {
		free(c->profiles[i].ext_section);
		free(c->profiles[i].crl_url);
		free(c->profiles[i].ocsp_url);
		free(c->profiles[i].ca_issuers_url);
		free(c->profiles[i].ra_san);
		free(c->profiles[i].external_subject);
		free(c->profiles[i].external_san);
		free(c->profiles[i].renew_profile);
	}
	free(c->profiles);
	NCONF_free(c->conf);
	free(c->path);
	free(c->pkcs11_module);
	free(c->token_label);
	free(c->pin_file);
	free(c->pkcs11_init_args);
	free(c->db_conninfo);
	free(c->db_operator);
	free(c->db_owner);
	free(c->db_reader);
	free(c->socket_path);
	free(c->coap_listen);
	free(c->coaps_listen);
	free(c->coaps_cert);
	free(c->coaps_key);
	free(c->user);
	free(c->socket_group);
	free(c->default_ca);
	free(c->schema_dir);
	free(c->log_level);
	free(c->trust_anchors);
	free(c->identity_accepts);
	free(c->crl_dir);
	free(c->delta_crl_url);
	free(c->audit_anchor_file);
	free(c);
}

/* Returns the profile named name, or NULL. */
const struct cfg_profile *
cfg_profile_get(const struct cfg *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nprofiles; i++)
		if (strcmp(c->profiles[i].name, name) == 0)
			return &c->profiles[i];
	return NULL;
}

/*
 * Does identity_accepts let CA label serve end entities issued by CA
 * issuer? Its own always. The key lists LABEL:ISSUER pairs separated by
 * spaces or commas (cfg_scope checked them). 1 or 0.
 */
int
cfg_identity_accepts(const struct cfg *c, const char *label,
    const char *issuer)
{
	const char *p = c->identity_accepts;
	size_t ll = strlen(label), il = strlen(issuer), n;

	if (strcmp(label, issuer) == 0)
		return 1;
	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == ll + 1 + il && strncmp(p, label, ll) == 0 &&
		    p[ll] == ':' && strncmp(p + ll + 1, issuer, il) == 0)
			return 1;
		p += n;
	}
	return 0;
}
