/*
 * test_engine.c - the CMP engine (cmp_srv_process) in process: requests
 * built from the ASN.1 of ca/cmp_asn.h go in as DER, responses come out as
 * DER, and the database is checked after each exchange through a second
 * connection (committed rows only).
 *
 * Group set-up: a SoftHSM token in a temporary directory; the database
 * named by CMPCA_TEST_DB, its public schema dropped and migrated again
 * (unset: the set-up fails, never skips); a configuration file; a CA "test"
 * (EC P-256 key in the token, self-signed); three enrollment secrets.
 *
 *	scripts/pgtmp start /tmp/cmpca-engtest 5432
 *	CMPCA_TEST_DB="$(scripts/pgtmp conninfo /tmp/cmpca-engtest 5432)" \
 *	    ./build/rel/test_engine
 *
 * Each request has a fresh transactionID and senderNonce. Messages are
 * freed by the per-test teardown, even after a failed assertion. Single
 * rejections are rows of cases[], one cmocka test each.
 * CMPCA_TEST_VERBOSE=1 shows the engine's log lines.
 *
 * This file holds main(), the fixture and its group set-up; the tests
 * are in test_engine_txn.c (transactions, certConf, replay, polling,
 * single rejections), test_engine_secret.c (enrollment secrets),
 * test_engine_ext.c (extensions against the profile),
 * test_engine_ca.c (CA certificate changes), test_engine_ocsp.c (the
 * OCSP responder, the worker) and test_engine_sig.c (signature-protected
 * requests), built with test_engine_msg.c and sharing test_engine.h.
 */
#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "tests/unit/test_engine.h"
#include "tests/unit/test_build.h"

#define USER_PIN "user-pin-4711"
#define SO_PIN "so-pin-0815"
#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define SCHEMA_DIR "db/schema"

struct engine_fx fx;

/* Per-test messages, freed by gc_run() even after a failed assertion. */
static CMP_MSG *gc[32];
static int ngc;

CMP_MSG *
keep(CMP_MSG *m)
{
	assert_non_null(m);
	OK(ngc < (int)(sizeof(gc) / sizeof(gc[0])));
	return gc[ngc++] = m;
}

int
gc_run(void **state)
{
	(void)state;
	while (ngc > 0)
		CMP_MSG_free(gc[--ngc]);
	ERR_clear_error();
	return 0;
}

/* Fixture: assertions work in cmocka's group set-up too. */

static void write_file(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes a file, mode 0600. */
static void
write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;
	int n;

	assert_non_null(f);
	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	OK(fclose(f) == 0 && n >= 0 && chmod(path, 0600) == 0);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The CA "test" as `cmpca ca create` makes it: key generated in the
 * token, self-signed certificate by the builder. */
static void
setup_ca(void)
{
	X509_NAME *subj = X509_NAME_new();
	struct cert_req req = { .kind = CERT_CA_ROOT, .days = 3650,
		.pathlen = -1 };
	struct ca_ident issuer;
	EVP_PKEY *pub = NULL, *key;
	struct db_ca row;
	unsigned char *der = NULL;
	char uri[256];
	X509 *x;
	int len;

	assert_non_null(subj);
	OK(X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC,
	    (const unsigned char *)"cmpca tests", -1, -1, 0));
	OK(X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Engine Test CA", -1, -1, 0));
	memset(&row, 0, sizeof(row));
	if (!hsm_keygen(
	        fx.hsm, "test", HSM_KEY_EC_P256, &pub, uri, sizeof(uri)) ||
	    (key = hsm_key_load(fx.hsm, uri)) == NULL)
		fail_msg("ca key: %s", hsm_error());
	row.key_uri = uri; /* borrowed, like row.cert: no db_ca_clear */
	req.subject = subj;
	req.pubkey = pub;
	cert_issuer_init(&issuer, "test", NULL, key);
	assert_non_null(x = cert_build(fx.hsm, &issuer, &req));
	OK((len = i2d_X509(x, &der)) > 0);
	snprintf(row.label, sizeof(row.label), "test");
	snprintf(row.status, sizeof(row.status), "active");
	row.cert = der;
	row.cert_len = (size_t)len;
	if (db_ca_insert(fx.db, &row) != 1)
		fail_msg("db_ca_insert: %s", db_error(fx.db));
	fx.ca_id = row.id;
	fx.ca_cert = x;
	OPENSSL_free(der);
	X509_NAME_free(subj);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(key);
}

static void
secret_add(const char *ref, int uses, const char *subject, const char *san)
{
	struct db_secret s;

	memset(&s, 0, sizeof(s));
	snprintf(s.ref, sizeof(s.ref), "%s", ref);
	s.secret = (unsigned char *)SECRET; /* borrowed: no db_secret_clear */
	s.secret_len = strlen(SECRET);
	s.allowed_subject = (char *)subject;
	s.allowed_san = (char *)san;
	snprintf(s.profile, sizeof(s.profile), "default");
	s.uses_left = uses;
	if (db_secret_insert(fx.db, &s) != 1)
		fail_msg("secret %s: %s", ref, db_error(fx.db));
}

/* The engine's configuration file, with lines added to [cmpca] (from
 * line 10) and to [profile.default] (from line 17 after one line in
 * [cmpca]). */
void
conf_write(const char *path, const char *main_extra,
    const char *default_extra)
{
	write_file(path,
	    "[cmpca]\npkcs11_module = %s\ntoken = %s\npin_file = %s\n"
	    "db = \"%s\"\ndefault_ca = test\npbm_max_iterations = 100000\n"
	    "implicit_confirm = yes\ntxn_timeout = 300\n%s\n"
	    "[profile.default]\ndays = 30\nextensions = ext_default\n"
	    "crl_url = http://crl.example/%%{ca}.crl\n"
	    "ocsp_url = http://ocsp.example/\n%s\n"
	    "[profile.approval]\ndays = 30\nextensions = ext_default\n"
	    "approval = yes\n\n"
	    "[profile.kga]\ndays = 30\nextensions = ext_default\n"
	    "central_keygen = ec-p256, rsa-2048\n\n"
	    "[profile.karch]\ndays = 30\nextensions = ext_default\n"
	    "central_keygen = ec-p256\narchive_keys = yes\n\n"
	    "[ext_default]\nbasicConstraints = critical,CA:FALSE\n"
	    "keyUsage = critical,digitalSignature\n"
	    "subjectKeyIdentifier = hash\n"
	    "authorityKeyIdentifier = keyid:always\n",
	    fx.module, TOKEN, fx.pin, fx.conninfo, main_extra, default_extra);
}

static int
group_setup(void **state)
{
	const char *conninfo = getenv("CMPCA_TEST_DB");
	char path[192], conf[192], pin[160], so_pin[160];
	int n = -1;

	(void)state;
	log_init("test_engine", 0,
	    getenv("CMPCA_TEST_VERBOSE") != NULL ? LOG_LVL_DEBUG : LOG_LVL_ERR);
	if (conninfo == NULL || *conninfo == '\0')
		fail_msg("CMPCA_TEST_DB is not set; start a cluster with "
		         "scripts/pgtmp start DIR PORT and set it to the "
		         "conninfo printed");
	fx.module = getenv("CMPCA_PKCS11_MODULE");
	if (fx.module == NULL || *fx.module == '\0')
		fx.module = DEFAULT_MODULE;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_engine.XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	snprintf(path, sizeof(path), "%s/tokens", fx.dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", fx.dir);
	write_file(conf,
	    "directories.tokendir = %s\n"
	    "objectstore.backend = file\nlog.level = ERROR\n"
	    "slots.removable = false\nlibrary.reset_on_fork = true\n",
	    path);
	setenv("SOFTHSM2_CONF", conf, 1);
	snprintf(path, sizeof(path), "%s/hsm.lock", fx.dir);
	setenv("CMPCA_HSM_LOCK", path, 1);
	unsetenv("CMPCA_HSM_PIN");
	snprintf(pin, sizeof(pin), "%s/pin", fx.dir);
	snprintf(so_pin, sizeof(so_pin), "%s/so-pin", fx.dir);
	write_file(pin, "%s\n", USER_PIN);
	write_file(so_pin, "%s\n", SO_PIN);
	if (!hsm_token_init(fx.module, TOKEN, so_pin, pin) ||
	    (fx.hsm = hsm_open(fx.module, TOKEN, pin)) == NULL)
		fail_msg("hsm: %s", hsm_error());
	test_build_hsm = fx.hsm;

	assert_non_null(fx.db = db_open(conninfo));
	if (!db_ensure(fx.db) ||
	    db_exec_unsafe(fx.db, "DROP SCHEMA public "
	                          "CASCADE; CREATE SCHEMA public") != 1 ||
	    !db_migrate(fx.db, SCHEMA_DIR, &n) || n < 1)
		fail_msg("database: %s", db_error(fx.db));
	assert_non_null(fx.chk = db_open(conninfo));
	OK(db_ensure(fx.chk));

	snprintf(path, sizeof(path), "%s/cmpca.conf", fx.dir);
	snprintf(fx.pin, sizeof(fx.pin), "%s", pin);
	fx.conninfo = conninfo;
	conf_write(path, "", "");
	assert_non_null(fx.cfg = cfg_load(path));
	setup_ca();
	secret_add("ref1", -1, NULL, NULL);
	secret_add("once", 1, NULL, NULL);
	secret_add("subj", -1, "CN=allowed", NULL);
	secret_add("sanpat", -1, NULL, "DNS:*.dev.example, IP:10.0.0.1");
	secret_add("sancidr", -1, NULL, "IP:192.0.2.0/24, IP:2001:db8::/32");
	secret_add("ap", -1, NULL, NULL);
	secret_add("kga", -1, NULL, NULL);
	if (db_exec_unsafe(fx.db, "UPDATE enroll_secret SET profile = "
	                          "'kga' WHERE ref = 'kga'") != 1)
		fail_msg("secret kga: %s", db_error(fx.db));
	secret_add("karch", -1, NULL, NULL);
	secret_add("karch2", -1, NULL, NULL);
	if (db_exec_unsafe(fx.db, "UPDATE enroll_secret SET profile = "
	                          "'karch' WHERE ref LIKE 'karch%'") != 1)
		fail_msg("secret karch: %s", db_error(fx.db));
	if (db_exec_unsafe(fx.db, "UPDATE enroll_secret SET profile = "
	                          "'approval' WHERE ref = 'ap'") != 1)
		fail_msg("secret ap: %s", db_error(fx.db));
	assert_non_null(fx.key = EVP_EC_gen("P-256"));
	assert_non_null(fx.rsa1024 = EVP_RSA_gen(1024));
	fx.client = name_cn("client");
	fx.other_ca = name_cn("Some Other CA");
	assert_non_null(fx.srv = cmp_srv_new(fx.cfg, fx.db, fx.hsm));
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	cmp_srv_free(fx.srv);
	cfg_free(fx.cfg);
	X509_free(fx.ca_cert);
	X509_NAME_free(fx.client);
	X509_NAME_free(fx.other_ca);
	EVP_PKEY_free(fx.key);
	EVP_PKEY_free(fx.rsa1024);
	db_close(fx.chk);
	db_close(fx.db);
	hsm_close(fx.hsm);
	if (fx.dir[0] != '\0')
		(void)nftw(fx.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

#define T(f)                                                                   \
	{                                                                      \
#f, f, NULL, gc_run, NULL                                      \
	}
/* The tests that take no table row, counted by the compiler. */
static const struct CMUnitTest fixed[] = {
	T(test_ir_accepted),
	T(test_implicit_confirm),
	T(test_replay),
	T(test_secret_once),
	T(test_multi),
	T(test_garbage),
	T(test_ocsp),
	T(test_ocsp_signer_expired),
	T(test_ocsp_reuse),
	T(test_ocsp_store),
	T(test_ext_cache),
	T(test_secret_cache_stale),
	T(test_secret_rotate),
	T(test_unknown_ref_derives),
	T(test_unknown_ref_same_calls),
	T(test_mac_budget),
	T(test_genm_no_txn),
	T(test_ca_changed),
	T(test_crl_stale_key),
	T(test_crl_delta),
	T(test_delayed_refused),
	T(test_idevid),
	T(test_central_keygen),
	T(test_key_recovery),
	T(test_worker_hsm_lost),
};
#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))
/* The rows of the tables, counted where the tables are. */
#define NCC test_engine_ncc
#define NCASES test_engine_ncases
#define NX test_engine_nx

int
main(void)
{
	struct CMUnitTest tests[NFIXED + 128];
	size_t i;

	if (NCC + NCASES + NX + test_build_ncases > 128)
		return 1; /* grow the room above */

	for (i = 0; i < NFIXED; i++)
		tests[i] = fixed[i];
	test_engine_cc_rows(tests + NFIXED);
	test_engine_case_rows(tests + NFIXED + NCC);
	test_engine_ext_rows(tests + NFIXED + NCC + NCASES);
	for (i = 0; i < test_build_ncases; i++)
		tests[NFIXED + NCC + NCASES + NX + i] = test_build_cases[i];
	return _cmocka_run_group_tests("test_engine", tests,
	    NFIXED + NCC + NCASES + NX + test_build_ncases, group_setup,
	    group_teardown);
}
