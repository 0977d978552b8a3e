/*
 * ca.h - the CA core: logging, metrics, configuration, the per-process CA
 * store, the audit chain and CRLReason codes.
 *
 * Dependencies point one way (docs/architecture.md): the programs
 * (daemon/, cli/) use ca/cmp, ca/status and ca/issue, which use this
 * core; everything in ca/ uses hsm/ and db/ through their headers only.
 */
#ifndef CMPCA_CA_H
#define CMPCA_CA_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <openssl/conf.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca_limits.h"
#include "ca/cmp_asn.h"
#include "db/db.h"
#include "hsm/hsm.h"
#include "lib/lib.h"

/* log.c */
enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
/* to_syslog 0: stderr. ident names the program. */
void log_init(const char *ident, int to_syslog, enum log_level level);
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Drains the OpenSSL error queue into log_debug (or log_err if loud). */
void log_openssl_errors(int loud);
/*
 * Copies at most CA_MAX_LOG_STRING bytes of a peer-supplied string into
 * out (size outlen): printable ASCII kept, '\\' and '"' escaped, any other
 * byte as \xHH; a cut string ends in "...". Up to 4 * CA_MAX_LOG_STRING +
 * 4 bytes of output (CA_LOG_SAN_MAX).
 */
void log_sanitize(const unsigned char *in, size_t inlen, char *out,
    size_t outlen);
/* Lowercase hex of a byte string into out; truncated with "..". */
void log_hex(const unsigned char *in, size_t inlen, char *out,
    size_t outlen);

/* metrics.c - counters shared by cmpcad's processes (Prometheus text). */
/* Maps the shared counters; the master calls it once before forking.
 * Until then every metrics_ call is a no-op. Returns 1 or 0. */
int metrics_init(void) CA_MUST_CHECK;
/* A monotonic clock in microseconds, for durations. */
long long metrics_now_us(void);
/* One CMP request: its body type (-1: undecodable), the engine's outcome
 * name and how long it took. A few relaxed atomic adds. */
void metrics_request(int body, const char *outcome, long long us);
/* One signing operation with a key in the HSM. */
void metrics_hsm(long long us);
/* A request refused with HTTP 4xx before the engine. */
void metrics_http_rejected(void);
/* A failed database statement (for db_error_hook_set). */
void metrics_db_error(const char *sqlstate);
/* The master respawned the process of slot (0: the housekeeper). */
void metrics_worker_restart(int slot);
/* A MAC-protected request refused because its worker's mac_fail_budget
 * was spent (cmp_guard.c). */
void metrics_mac_refused(void);
/* A request not served because nginx had closed its connection (the
 * client had gone). */
void metrics_client_gone(void);
/* A worker killed by the master's watchdog (worker_timeout). */
void metrics_watchdog(int slot);
/* Worker slot's request start (monotonic microseconds, 0: idle), shared
 * with the master for the watchdog. Slot 0 is the housekeeper. */
void metrics_busy_set(int slot, long long since_us);
long long metrics_busy_get(int slot);
/* OCSP answers (cmpca_ocsp_total). */
enum metrics_ocsp_event {
	METRICS_OCSP_SIGNED,
	METRICS_OCSP_REUSED,
	METRICS_OCSP_BUSY,
	METRICS_OCSP_NONCE_IGNORED,
	METRICS_OCSP_STORED,	/* served from the database's answers */
	METRICS_OCSP_PRODUCED,	/* signed ahead of time (housekeeper) */
	METRICS_OCSP_N
};
void metrics_ocsp(enum metrics_ocsp_event e);
/* Takes one of max slots for an OCSP signature, shared by every worker
 * (ocsp_sign_max): 1 taken (metrics_ocsp_sign_leave after signing), 0
 * all busy. Always 1 before metrics_init(). */
int metrics_ocsp_sign_enter(long max);
void metrics_ocsp_sign_leave(void);
/*
 * The whole set in the Prometheus text format 0.0.4, with gauges read from
 * db (may be NULL) at this moment. Returns a malloc'ed text of *len bytes,
 * or NULL (metrics not initialised, out of memory).
 */
char *metrics_render(struct db *db, int workers, size_t *len);

/* cfg.c - the per-deployment configuration file (NCONF syntax). */
/* Key types a profile accepts (bit mask). */
#define CFG_KT_RSA 0x01u
#define CFG_KT_P256 0x02u
#define CFG_KT_P384 0x04u
#define CFG_KT_P521 0x08u
#define CFG_KT_ED25519 0x10u
#define CFG_KT_ED448 0x20u
#define CFG_KT_ALL 0x3fu
/* Key types central_keygen may list (enum hsm_keytype has five). */
#define CFG_MAX_KGA_TYPES 5
/* subjectAltName types a profile accepts (bit mask). */
#define CFG_SAN_DNS 0x01u
#define CFG_SAN_IP 0x02u
#define CFG_SAN_EMAIL 0x04u
#define CFG_SAN_URI 0x08u
#define CFG_SAN_ALL 0x0fu
#define CFG_MAX_SUBJECT_ATTRS 16
/* Dotted OIDs in a profile's ext_key_usage and copy_extensions. */
#define CFG_MAX_OIDS 16
#define CFG_OID_MAX 64
/* Longest crl_url, ocsp_url or ca_issuers_url. */
#define CFG_URL_MAX 512

struct cfg_profile {
	char name[DB_LABEL_MAX];
	long days;		/* validity */
	char *ext_section;	/* x509v3 extensions section, may be NULL */
	int copy_san;		/* take subjectAltName from the template */
	int copy_key_usage;	/* take keyUsage from the template */
	int copy_ext_key_usage; /* take extendedKeyUsage from the template */
	int kur_revokes_old;	/* revoke (superseded) what a kur replaced */
	int approval;		/* requests wait for the operator */
	int implicit_confirm;	/* may grant implicitConfirm */
	unsigned key_types;	/* CFG_KT_* */
	long rsa_min_bits;
	unsigned san_types;	/* CFG_SAN_* */
	int subject_attrs[CFG_MAX_SUBJECT_ATTRS]; /* NIDs; none: any */
	size_t nsubject_attrs;
	int is_ca;		/* the extensions make CA:TRUE certificates */
	unsigned ku_allowed;	/* keyUsage bits (KU_*) requests may ask */
	char eku_allowed[CFG_MAX_OIDS][CFG_OID_MAX]; /* EKUs it may ask for */
	size_t neku_allowed;
	char copy_exts[CFG_MAX_OIDS][CFG_OID_MAX]; /* other copied types */
	size_t ncopy_exts;
	int holder_san_any;	/* a holder may ask for names it lacks */
	int kur_same_key;	/* kur may keep the old key (renewal) */
	char *crl_url;		/* or NULL; "%{ca}": the CA's label, "%{crl}":
				 * the CRL name of the signing key */
	char *ocsp_url;
	char *ca_issuers_url;
	char *ra_san;		/* names (patterns) its RAs may ask for */
	char *external_subject; /* subject patterns a certificate under an
				 * external anchor may ask for; NULL: own */
	char *external_san;	/* its subjectAltName patterns; NULL:
				 * holder_san decides */
	int wildcards;		/* a dNSName may start with a "*" label */
	int drop_exts;		/* other_extensions = drop: a requested
				 * extension it does not take is dropped
				 * (grantedWithMods), not refused */
	char policies[CFG_MAX_OIDS][CFG_OID_MAX]; /* allowed_policies and
				 * the section's own certificatePolicies */
	size_t npolicies;
	char *renew_profile;	/* the profile its holders' cr/kur/p10cr
				 * are served under; NULL: this one */
	/* central_keygen: the key types (enum hsm_keytype) the CA generates
	 * for a template without a key, first the default; none: off. */
	int kga_types[CFG_MAX_KGA_TYPES];
	size_t nkga_types;
	/* archive_keys: keys generated under the profile are archived,
	 * encrypted under the CA's archival key (issue 26). */
	int archive_keys;
};

/* ra_revoke_scope: which certificates a registered RA may revoke. */
enum cfg_ra_revoke {
	CFG_RA_REVOKE_OWN,     /* those obtained through it (the default) */
	CFG_RA_REVOKE_PROFILE, /* and those under its profile and ra_san */
	CFG_RA_REVOKE_ANY,     /* every end entity of the CA (before 018) */
};

struct cfg {
	char *path;
	CONF *conf;
	char *pkcs11_module;
	char *token_label;
	char *pin_file; /* NULL: CMPCA_HSM_PIN from the environment */
	/* For the module's C_Initialize (NSS's soft token), or NULL. */
	char *pkcs11_init_args;
	char *db_conninfo; /* cmpcad: role cmpca_daemon */
	char *db_operator; /* the CLI (cmpca_operator); NULL: db_conninfo */
	char *db_owner;	   /* cmpca db migrate (the owner); NULL: db_operator */
	char *db_reader;   /* /admin/, /metrics (cmpca_reader); NULL: db */
	char *socket_path;
	char *coap_listen;   /* CoAP "HOST:PORT" (RFC 9482), or NULL: none */
	long coap_timeout;   /* seconds an unfinished block-wise transfer
			      * is kept (daemon/coap_xfer.c) */
	char *coaps_listen;  /* CoAP over DTLS "HOST:PORT", or NULL */
	char *coaps_cert;    /* its server certificate chain (PEM file) */
	char *coaps_key;     /* its private key (PEM file) */
	char *user;	     /* cmpcad's user when started as root, or NULL */
	char *socket_group;  /* group of the unix socket (nginx's), or NULL */
	char *default_ca;
	char *schema_dir;
	char *log_level;
	char *trust_anchors; /* PEM file of external anchors (RAs, EEs) */
	int workers;
	long max_request;
	long pbm_max_iter;
	long mac_fail_budget; /* ms/s of failed MAC derivations; 0: none */
	long worker_timeout;  /* s one request may take; 0: no watchdog */
	int implicit_confirm; /* grant implicitConfirm when asked */
	long txn_timeout;     /* seconds to wait for certConf */
	long housekeeping_interval; /* seconds between expiry sweeps */
	long nonce_max_age;   /* seconds a replay nonce is remembered */
	long poll_check_after; /* checkAfter of pollRep, seconds */
	long clock_skew;      /* accepted messageTime difference, seconds */
	unsigned long unprotected_ok; /* bit per body type allowed unprotected */
	char *crl_dir;	      /* where <name>.crl files are written, or NULL */
	long crl_validity;    /* hours between thisUpdate and nextUpdate */
	int crl_auto;	      /* the housekeeper re-issues CRLs */
	long crl_delay;	      /* seconds from a revocation to its CRL */
	long delta_crl_interval; /* s thisUpdate to nextUpdate of delta
				  * CRLs (RFC 5280 §5.2.4); 0: none */
	char *delta_crl_url;  /* freshestCRL of complete CRLs ("%{crl}"), or
			       * NULL */
	int ocsp_nonce;	      /* echo OCSP request nonces (else ignored) */
	long ocsp_sign_max;   /* OCSP signatures at once, all workers */
	long ocsp_validity;   /* nextUpdate - thisUpdate of answers, s */
	long ocsp_refresh;    /* produce again this long before nextUpdate */
	int syslog;	      /* cmpcad logs to syslog (as with -s) */
	char *audit_anchor_file; /* checkpoints appended here too, or NULL */
	long audit_ckpt_max_age; /* seconds; verify fails past it; 0: off */
	long txn_retention;   /* seconds a finished cmp_txn row is kept */
	enum cfg_ra_revoke ra_revoke_scope;
	char *identity_accepts; /* LABEL:ISSUER pairs, or NULL */
	struct cfg_profile *profiles;
	size_t nprofiles;
};

/*
 * Loads path (or $CMPCA_CONF when path is NULL, or the compiled-in
 * CMPCA_CONFFILE when that is unset too). Errors name the file, line and
 * reason on stderr/log. Returns NULL on failure.
 */
struct cfg *cfg_load(const char *path) CA_MUST_CHECK;
void cfg_free(struct cfg *c);
const struct cfg_profile *cfg_profile_get(const struct cfg *c,
    const char *name);
/* Does identity_accepts let CA label serve end entities of CA issuer (its
 * own always)? 1 or 0. */
int cfg_identity_accepts(const struct cfg *c, const char *label,
    const char *issuer);

/* A CRL name: a key object label, LABEL-kYYYYMMDDHHMMSS after rollovers. */
#define CA_CRL_NAME_MAX (DB_LABEL_MAX + 24)

/* ca_store.c - the CA identities of this process, loaded once. */
struct ca_ident {
	long long id;
	char label[DB_LABEL_MAX];
	char crl_name[CA_CRL_NAME_MAX]; /* ca_crl_name() of the row */
	X509 *cert;	 /* decoded once per process */
	EVP_PKEY *key;	 /* in the HSM */
	const EVP_MD *md; /* digest for signatures by this CA */
	STACK_OF(X509) *chain; /* cert, then issuers up to the root */
	int retired;	 /* issues nothing; its certificates stay revocable */
	int upstream;	 /* an RA's upstream CA: key NULL (cmp_upstream.c) */
	time_t loaded;	 /* when the row was last read (CA_STORE_REFRESH) */
	unsigned char cert_sha256[32]; /* of the DER: what the store checks */
};

struct ca_store {
	struct ca_ident **ca; /* pointers stay valid while the store lives */
	size_t n;
};

/*
 * Finds a CA by label (NULL: the configured default), loading it from the
 * database and the HSM on first use. Returns NULL if unknown (*err 0) or on
 * an internal failure (*err 1).
 */
struct ca_ident *ca_store_get(struct ca_store *st, struct db *db,
    struct hsm *hsm, const char *label, int *err);
void ca_store_clear(struct ca_store *st);
/* Appends the certificates of concatenated DER (ca.chain) to sk. Returns
 * 1, or 0 if a certificate does not decode. */
int ca_chain_parse(const unsigned char *der, size_t len, STACK_OF(X509) *sk)
    CA_MUST_CHECK;
/* Concatenated DER of sk[from..]; *out NULL and *len 0 when empty. Caller
 * frees *out with free(). Returns 1 or 0. */
int ca_chain_encode(STACK_OF(X509) *sk, int from, unsigned char **out,
    size_t *len) CA_MUST_CHECK;
/* A new stack holding (up-ref'ed) ca's chain: extraCerts. NULL on error. */
STACK_OF(X509) *ca_chain_copy(const struct ca_ident *ca);
/* Digest to sign with for a CA key: SHA-384 for P-384, else SHA-256. */
const EVP_MD *ca_sign_md(EVP_PKEY *key);
/* A digest fetched once per process by NID (NULL if unknown). */
const EVP_MD *ca_md_fetch(int nid);
/* Signs an X509 with a CA key (PKCS#1 v1.5 or ECDSA). Returns 1 or 0. */
int ca_x509_sign(X509 *x, EVP_PKEY *key, const EVP_MD *md) CA_MUST_CHECK;
/* Parses "/C=DE/O=Org/CN=name" (openssl -subj syntax); NULL on error. */
X509_NAME *ca_name_parse(const char *s);
/* Epoch seconds of an ASN1_TIME; 0 if it does not convert. */
time_t ca_time_of(const ASN1_TIME *t);
/* Lowercase hex of a serial number without leading zeros. */
int ca_serial_hex(const ASN1_INTEGER *serial, char *out, size_t outlen);
/*
 * serial.c - a serial number as an operator writes it, in the inventory's
 * form (lowercase hex without leading zeros, "0" for zero) into out. One
 * rule for the CLI and the operators' page: hex digits in either case, an
 * optional "0x", colons only between two digits (as `openssl x509 -text`
 * prints them), no sign, no spaces, and a value of at most
 * CA_SERIAL_MAX_OCTETS octets (40 hex digits after leading zeros). Returns
 * 1, or 0 with *why naming the rule broken.
 */
#define CA_SERIAL_MAX_OCTETS 20 /* RFC 5280 §4.1.2.2 */
int ca_serial_parse(const char *in, char *out, size_t outlen,
    const char **why) CA_MUST_CHECK;
/* Fills a db_cert row (subject, issuer, serial, SPKI hash, validity, DER)
 * from a certificate. Returns 1 or 0. */
int ca_cert_to_row(X509 *x, struct db_cert *row) CA_MUST_CHECK;

/*
 * The name under which the CRLs of one CA key are published
 * (crl_dir/<name>.crl, "%{crl}" in crl_url): the key's object label in
 * the token, which stays with the key when `ca rollover` moves it to
 * LABEL.oldN, so every certificate names the CRL of the key that signed
 * it for its whole life. The first key of a CA is the CA's label, later
 * ones LABEL-kYYYYMMDDHHMMSS. label when key_uri names no object of
 * letters, digits, '-', '_', '.'. Always fills out (size
 * CA_CRL_NAME_MAX).
 */
void ca_crl_name(const char *key_uri, const char *label, char *out,
    size_t outlen);

/* profile.c - what a profile lets a request decide. */
/* One certificate request as issuance and the profile checks see it. */
struct issue_req {
	const CRMF_CERTTEMPLATE *tmpl;
	EVP_PKEY *pubkey; /* decoded once from the template */
	const struct cfg_profile *profile;
	const char *allowed_subject; /* NULL: any */
	const X509_NAME *ca_name;    /* the issuing CA subject */
	CONF *conf;                  /* for the profile extensions section */
	int san_bound;		     /* SANs only from allowed_san */
	const char *allowed_san;     /* the secret's or RA's patterns */
	const char *san_who;	     /* whose patterns, for messages */
	int subject_fixed;	     /* the operator's subject patterns
					(external_subject) decide the CN */
	X509 *holder;		     /* SANs only from its own, or NULL */
	char *why_buf;		     /* room for a refusal's text */
	size_t why_len;
	/* End entities only: no subject of a CA (profile_reserved.c). */
	const STACK_OF(X509_NAME) *reserved; /* or NULL */
	STACK_OF(X509) *ca_chain;	     /* the issuing CA's, or NULL */
	char *mods_buf;		/* what was dropped (grantedWithMods), or
				 * NULL; "" when nothing */
	size_t mods_len;
};
/*
 * Reads key_usage, ext_key_usage and copy_extensions of [sec] into p and
 * checks them and the profile's own extensions (probe: the section
 * applied to a throwaway certificate, may be NULL) against the rules no
 * profile may break. Returns 1, or 0 with err and the offending *key.
 */
int profile_rules_load(CONF *conf, const char *sec, struct cfg_profile *p,
    X509 *probe, char *err, size_t errlen, const char **key);
/*
 * Checks every extension of r->tmpl: none twice, each DER that decodes,
 * each allowed by r->profile (and subjectAltName values by the
 * credential: r->san_bound, r->holder). Returns 1, or 0 with *fail and
 * the reason in why.
 */
int profile_exts_check(const struct issue_req *r, int *fail, char *why,
    size_t len);
/*
 * What a requested extension (checked) puts into x, which holds the
 * profile's own extensions: *out a new extension with the value the
 * request may have and the criticality the profile gives (its own
 * extension's, else non-critical), or NULL when nothing is copied
 * (dropped, or asks for what the certificate says anyway). A
 * certificatePolicies is the profile's own policies with the allowed
 * requested ones added, without qualifiers. Returns 1, or 0 on error.
 */
int profile_ext_copy(const struct issue_req *r, X509_EXTENSION *e,
    X509 *x, X509_EXTENSION **out) CA_MUST_CHECK;
/*
 * Are these subjectAltName patterns (of a secret, or ra_san) well formed?
 * DNS:name, DNS:*.domain, email:addr, email:*@domain, IP:addr[/bits],
 * URI:uri, and URI:prefix followed by a star.
 */
int profile_san_patterns_ok(const char *patterns);
/* Does every name of sans (at least one) match one of these patterns
 * (ra_san of an RA's profile: ra_revoke_scope = profile)? 1 or 0. */
int profile_san_within(const char *patterns, const GENERAL_NAMES *sans);
/*
 * A credential scoped by subjectAltName patterns (r->san_bound with
 * r->allowed_san, no fixed subject): each commonName of subj must be a
 * dNSName those patterns grant, so that a verifier falling back to the CN
 * (RFC 6125 §6.4.4) sees no name outside the scope. 1, or 0 with why.
 */
int profile_cn_scope_ok(const struct issue_req *r, const X509_NAME *subj,
    char *why, size_t len);
/*
 * The keyUsage bits a subject key of this type can carry (as
 * X509_get_key_usage()): no keyEncipherment or dataEncipherment for EC
 * (RFC 8813 §3), no keyAgreement for RSA (RFC 4055), signatures only for
 * EdDSA (RFC 8410). A request asking for another bit is refused; the
 * profile's own keyUsage is cut to these bits when the certificate is
 * built.
 */
long profile_ku_fit(const EVP_PKEY *key);

/* profile_names.c - names checked for what they are. */
/*
 * A dNSName in the preferred name syntax (RFC 5280 §4.2.1.6, RFC 1034
 * §3.5, RFC 1123 §2.1): letters, digits and hyphens in labels of 1 to 63,
 * at most 253 in all; with wildcard, a leftmost label "*" over two labels
 * or more. 1, or 0 with why (static text).
 */
int profile_dns_ok(const unsigned char *s, size_t len, int wildcard,
    const char **why);
/* An rfc822Name: dot-atom@host (RFC 5321 §4.1.2). 1 or 0 (why). */
int profile_email_ok(const unsigned char *s, size_t len, const char **why);
/* A URI: scheme ":" and RFC 3986 characters after it. 1 or 0 (why). */
int profile_uri_ok(const unsigned char *s, size_t len, const char **why);
/* A GeneralName in the syntax of its type (iPAddress: 4 or 16 octets;
 * other types pass). 1 or 0 (why). */
int profile_gn_ok(const GENERAL_NAME *gn, int wildcard, const char **why);
/*
 * Every attribute value of a subject in its RFC 5280 string type
 * (countryName two letters, PrintableString; serialNumber, dnQualifier
 * PrintableString; emailAddress, domainComponent IA5String; others
 * UTF8String or PrintableString), valid, non-empty, within the upper
 * bounds, without control characters. 1, or 0 with why naming the
 * attribute and the rule.
 */
int profile_subject_syntax_ok(const X509_NAME *n, char *why, size_t len);

/* profile_reserved.c - the names of every CA this instance knows. */
/* The subjects of every CA row (all keys and states, with their chains),
 * partner and external anchor; read again after CA_CACHE_CHECK seconds.
 * NULL on error (logged). */
const STACK_OF(X509_NAME) *profile_reserved_get(struct db *db,
    const struct cfg *cfg);
/* Is n (canonically) a subject of reserved or of chain (either may be
 * NULL)? 1 or 0. */
int profile_name_reserved(const STACK_OF(X509_NAME) *reserved,
    STACK_OF(X509) *chain, const X509_NAME *n);

/* profile_subject.c - subject patterns (external_subject). */
/* Is this a list of subject patterns ("/O=Example/CN=*", ';' between
 * patterns)? 1 or 0. */
int profile_subject_patterns_ok(const char *patterns);
/* Does name match one pattern of the (checked) list? 1 or 0. */
int profile_subject_match(const char *patterns, const X509_NAME *name);
/*
 * A certificate holder asks for subj, not its certificate's subject: only
 * a certificate under an external anchor (external: an IDevID asking for
 * an LDevID, RFC 9483 §4.1.1), and only a subject matching the profile's
 * external_subject. Returns 1, or 0 with why naming the subject, the rule
 * and the profile.
 */
int profile_other_subject_ok(const struct cfg_profile *prof, int external,
    const X509_NAME *subj, char *why, size_t len);

/* audit.c - the audit chain's checkpoints. */
/* The hash of one audit row as migration 015 defines it. 1 or 0. */
int audit_row_hash(const struct db_audit_link *l,
    unsigned char out[DB_HASH_LEN]) CA_MUST_CHECK;
#define AUDIT_TBS_MAX 160 /* tag, seq, hex hash, time */
/* The bytes a checkpoint's signature covers. Returns their length. */
size_t audit_ckpt_tbs(const struct db_audit_ckpt *c, char *buf, size_t size);
/*
 * Links the final audit rows into the chain and, when an audit key exists
 * and the head moved (or the last checkpoint is older than half of
 * cfg->audit_ckpt_max_age), signs the head with it in the HSM. A signed
 * checkpoint is also logged as an anchor line and appended to
 * cfg->audit_anchor_file (created when create is set: cmpcad; the CLI
 * only appends). why: "interval", "crl", "cli" for the log. Returns 1
 * signed, 0 nothing to sign, -1 (logged).
 */
int audit_checkpoint(struct db *db, struct hsm *hsm, const struct cfg *cfg,
    int create, const char *why);

/* audit_verify.c - the verifier. */
struct audit_vopts {
	time_t since;	    /* from the last good checkpoint before; 0: all */
	const char *anchor; /* anchor file (or log) to check against, NULL */
	long max_age;	    /* the last checkpoint's age, seconds; 0: any */
};
/*
 * Recomputes the chain (from the last good checkpoint at or before
 * o->since, 0: from the start), checks every checkpoint's signature with
 * the key in the HSM, the checkpoint ids for gaps, the last checkpoint's
 * age, the anchors of o->anchor, the database's safeguards
 * (db_schema_check), each certificate's status against the audit rows
 * and the status transitions in them. Writes each problem and a summary
 * to out. Returns 1 clean, 0 problems, -1 error (logged).
 */
int audit_verify(struct db *db, struct hsm *hsm, const struct audit_vopts *o,
    FILE *out);

/* audit_anchor.c - checkpoints outside the database. */
#define AUDIT_ANCHOR_TAG "cmpca-audit-anchor-1"
/* c as an anchor line (no newline) into buf. Returns its length, or 0. */
size_t audit_anchor_format(const struct db_audit_ckpt *c, char *buf,
    size_t size);
/* Appends line and a newline to path in one write (created 0640 when
 * create is set). Returns 1, or 0 (logged). */
int audit_anchor_append(const char *path, const char *line, int create);
/*
 * Every anchor line of path (a line holding AUDIT_ANCHOR_TAG: an anchor
 * file, or a log) into a new array (key_uri, spki unset; free with
 * db_audit_ckpt_array_free). Returns 1, 0 (a problem, written to err) or
 * -1 (out of memory, logged).
 */
int audit_anchor_read(const char *path, struct db_audit_ckpt **out,
    size_t *n, FILE *err) CA_MUST_CHECK;

/*
 * Least privilege: 1 if the connection's database role is neither a
 * superuser nor a member of the role owning the tables; else 0 (logged:
 * who refuses to run so) or -1 (error, logged).
 */
int ca_role_check(struct db *db, const char *who) CA_MUST_CHECK;

/* crl_reason.c - CRLReason codes (RFC 5280 §5.3.1), OpenSSL's CRL_REASON_*. */
/* The name of reason r ("keyCompromise"), or NULL when r is no CRLReason
 * (negative, 7, above 10). */
const char *ca_crl_reason_name(long r);
/* 1 if a revocation here may carry reason r: a CRLReason other than
 * removeFromCRL (which releases a hold: cert release, an RA's rr), else 0.
 * The one rule for operators (cert revoke) and clients (rr). */
int ca_crl_reason_ok(long r);
/* Reads s, a CRLReason as a decimal number, into *r. Returns 1 when it is
 * one ca_crl_reason_ok() accepts, else 0 (*r unchanged). */
int ca_crl_reason_parse(const char *s, long *r) CA_MUST_CHECK;


#endif
