/*
 * cli_cross.c - `cmpca partner` and `cmpca cross-certify`: partner CAs
 * and cross certificates (RFC 9810 §5.3.11).
 *
 *   partner add|list|remove        who may send us a ccr, and what the
 *                                  cross certificate for them carries
 *   cross-certify local            one of our CAs certifies another
 *   cross-certify request          a ccr to a partner's CMP endpoint,
 *                                  protected with our CA key in the HSM;
 *                                  the ccp verified against the partner's
 *                                  certificate, confirmed, and stored
 *   cross-certify list             cross certificates issued and received
 *
 * The client side is written with the engine's own ASN.1 templates:
 * OpenSSL 3.0's CMP client has no ccr.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "cli/cli.h"
#include "ca/cmp/cmp_srv.h"
#include "ca/cmp/cmp.h"
#include "ca/issue/issue.h"

#define CROSS_MAX_RESPONSE (1024 * 1024)
#define CROSS_HTTP_TIMEOUT 30 /* seconds per message */
#define CROSS_NONCE_LEN 16

/* ---- options shared by partner add and cross-certify local ---- */

/* Appends v to a newline-separated list. Returns 1 or 0. */
static int
list_append(char **list, const char *v)
{
	size_t a = *list != NULL ? strlen(*list) : 0, b = strlen(v);
	char *n;

	if (strchr(v, '\n') != NULL || b == 0)
		return 0;
	if ((n = realloc(*list, a + b + 2)) == NULL)
		return 0;
	if (a > 0)
		n[a++] = '\n';
	memcpy(n + a, v, b + 1);
	*list = n;
	return 1;
}

static int
num_arg(const char *s, int min, int max, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > max)
		return 0;
	*out = (int)v;
	return 1;
}

enum {
	OPT_PATHLEN = 1000,
	OPT_PERMIT,
	OPT_EXCLUDE,
	OPT_POLICY,
	OPT_MAP,
	OPT_REQUIRE,
	OPT_INHIBIT,
	OPT_EKU,
	OPT_DAYS,
};

#define CONSTRAINT_OPTIONS                                             \
	{ "pathlen", required_argument, NULL, OPT_PATHLEN },           \
	{ "permit", required_argument, NULL, OPT_PERMIT },             \
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },           \
	{ "policy", required_argument, NULL, OPT_POLICY },             \
	{ "map", required_argument, NULL, OPT_MAP },                   \
	{ "require-explicit", required_argument, NULL, OPT_REQUIRE },  \
	{ "inhibit-mapping", required_argument, NULL, OPT_INHIBIT },   \
	{ "eku", required_argument, NULL, OPT_EKU },                   \
	{ "days", required_argument, NULL, OPT_DAYS }

/* Takes one constraint option into p. Returns 1 taken, 0 bad value, -1
 * not a constraint option. */
static int
constraint_opt(int o, const char *arg, struct db_partner *p)
{
	switch (o) {
	case OPT_PATHLEN:
		return num_arg(arg, 0, 64, &p->path_len);
	case OPT_PERMIT:
		return list_append(&p->permitted, arg);
	case OPT_EXCLUDE:
		return list_append(&p->excluded, arg);
	case OPT_POLICY:
		return list_append(&p->policies, arg);
	case OPT_MAP:
		return list_append(&p->policy_map, arg);
	case OPT_REQUIRE:
		return num_arg(arg, 0, 64, &p->require_explicit);
	case OPT_INHIBIT:
		return num_arg(arg, 0, 64, &p->inhibit_mapping);
	case OPT_EKU:
		return list_append(&p->eku, arg);
	case OPT_DAYS:
		return num_arg(arg, 1, 36500, &p->days);
	default:
		return -1;
	}
}

static void
constraints_init(struct db_partner *p)
{
	memset(p, 0, sizeof(*p));
	p->path_len = -1;
	p->require_explicit = -1;
	p->inhibit_mapping = -1;
	p->days = 365;
}

/* A certificate from a PEM (or DER) file; NULL with a message. */
static X509 *
cert_read(const char *path)
{
	BIO *b = BIO_new_file(path, "rb");
	X509 *x = NULL;

	if (b == NULL) {
		log_err("cannot read %s", path);
		return NULL;
	}
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x == NULL) {
		ERR_clear_error();
		(void)BIO_reset(b);
		x = d2i_X509_bio(b, NULL);
	}
	BIO_free(b);
	if (x == NULL) {
		ERR_clear_error();
		log_err("%s: not a certificate (PEM or DER)", path);
	}
	return x;
}

/* Loads one of our CAs with its key. NULL with a message. */
static struct ca_ident *
ca_load(struct ctx *c, struct ca_store *st, const char *label)
{
	struct ca_ident *ca;
	int err = 0;

	if (!cli_need_db(c) || !cli_need_hsm(c))
		return NULL;
	ca = ca_store_get(st, c->db, c->hsm, label, &err);
	if (ca == NULL)
		log_err("%s: %s", label, err ? "cannot load this CA"
					      : "no such active CA");
	return ca;
}

/* Rewrites the published PEM bundle of each CA given. */
static void
publish(struct ctx *c, struct ca_ident *a, struct ca_ident *b)
{
	if (a != NULL && !ca_publish_bundle(c->db, a, c->cfg->crl_dir))
		log_warn("ca %s: published bundle not written", a->label);
	if (b != NULL && !ca_publish_bundle(c->db, b, c->cfg->crl_dir))
		log_warn("ca %s: published bundle not written", b->label);
}

/* ---- partner ---- */

static int
partner_add(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "ca", required_argument, NULL, 'a' },
		CONSTRAINT_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct db_partner p;
	struct db_ca ca;
	struct db_cert row;
	const char *name, *certfile = NULL, *label = NULL, *why = NULL;
	X509 *x = NULL;
	unsigned int len = 0;
	int o, rc = 1;

	constraints_init(&p);
	memset(&ca, 0, sizeof(ca));
	memset(&row, 0, sizeof(row));
	if (argc < 3 || argv[2][0] == '-')
		goto usage;
	name = argv[2];
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'c')
			certfile = optarg;
		else if (o == 'a')
			label = optarg;
		else if (constraint_opt(o, optarg, &p) != 1) {
			log_err("bad value for an option: %s", argv[optind - 1]);
			goto usage;
		}
	}
	if (certfile == NULL || label == NULL || optind != argc)
		goto usage;
	if (strlen(name) >= sizeof(p.name)) {
		log_err("partner name too long");
		goto out;
	}
	snprintf(p.name, sizeof(p.name), "%s", name);
	if (!cross_constraints_check(&p, &why)) {
		log_err("%s", why);
		goto out;
	}
	if ((x = cert_read(certfile)) == NULL)
		goto out;
	if (X509_check_ca(x) < 1 ||
	    (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) == 0) {
		log_err("%s is not a CA certificate (basicConstraints cA, "
			"keyCertSign)", certfile);
		goto out;
	}
	if (!cli_need_db(c))
		goto out;
	if (db_ca_get_by_label(c->db, label, &ca) != 1 ||
	    strcmp(ca.status, "active") != 0) {
		log_err("%s: no such active CA", label);
		goto out;
	}
	if (!ca_cert_to_row(x, &row) ||
	    !X509_digest(x, EVP_sha256(), p.cert_sha256, &len)) {
		log_err("cannot encode %s", certfile);
		goto out;
	}
	p.ca_id = ca.id;
	p.cert = row.der;
	p.cert_len = row.der_len;
	p.subject = row.subject;
	row.der = NULL;
	row.subject = NULL;
	switch (db_partner_insert(c->db, &p)) {
	case 1:
		break;
	case 0:
		log_err("partner %s or this certificate is registered already",
		    name);
		goto out;
	default:
		log_err("database: %s", db_error(c->db));
		goto out;
	}
	if (db_audit_add(c->db, "partner-add", ca.id, "cli", p.name) < 0)
		log_warn("audit: %s", db_error(c->db));
	printf("partner %s: %s, cross certificates signed by %s\n", p.name,
	    p.subject, label);
	rc = 0;
out:
	X509_free(x);
	db_cert_clear(&row);
	db_ca_clear(&ca);
	db_partner_clear(&p);
	return rc;
usage:
	rc = 2;
	fputs("usage: cmpca partner add NAME --cert FILE --ca LABEL "
	      "[--pathlen N] [--permit C]... [--exclude C]... [--policy OID]... "
	      "[--map OID:OID]... [--require-explicit N] [--inhibit-mapping N] "
	      "[--eku OID]... [--days N]\n",
	    stderr);
	goto out;
}

/* Newline-separated list printed comma-separated, "-" when empty. */
static void
print_list(const char *tag, const char *list)
{
	const char *p;

	if (list == NULL || *list == '\0')
		return;
	printf(" %s=", tag);
	for (p = list; *p != '\0'; p++)
		putchar(*p == '\n' ? ',' : *p);
}

static int
partner_list(struct ctx *c)
{
	struct db_partner *a = NULL;
	struct db_ca ca;
	size_t i, n = 0;

	if (!cli_need_db(c))
		return 1;
	if (db_partner_list(c->db, &a, &n) < 0) {
		log_err("database: %s", db_error(c->db));
		return 1;
	}
	for (i = 0; i < n; i++) {
		memset(&ca, 0, sizeof(ca));
		if (db_ca_get(c->db, a[i].ca_id, &ca) != 1)
			snprintf(ca.label, sizeof(ca.label), "?");
		printf("%s\tca=%s\tdays=%d\t%s\t", a[i].name, ca.label,
		    a[i].days, a[i].subject);
		if (a[i].path_len >= 0)
			printf(" pathlen=%d", a[i].path_len);
		print_list("permit", a[i].permitted);
		print_list("exclude", a[i].excluded);
		print_list("policy", a[i].policies);
		print_list("map", a[i].policy_map);
		if (a[i].require_explicit >= 0)
			printf(" require-explicit=%d", a[i].require_explicit);
		if (a[i].inhibit_mapping >= 0)
			printf(" inhibit-mapping=%d", a[i].inhibit_mapping);
		print_list("eku", a[i].eku);
		putchar('\n');
		db_ca_clear(&ca);
	}
	db_partner_array_free(a, n);
	return 0;
}

int
cli_partner(struct ctx *c, int argc, char **argv)
{
	int rc;

	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return partner_add(c, argc, argv);
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return partner_list(c);
	if (argc == 3 && strcmp(argv[1], "remove") == 0) {
		if (!cli_need_db(c))
			return 1;
		rc = db_partner_delete(c->db, argv[2]);
		if (rc < 0) {
			log_err("database: %s", db_error(c->db));
			return 1;
		}
		if (rc == 0) {
			log_err("no partner %s", argv[2]);
			return 1;
		}
		if (db_audit_add(c->db, "partner-remove", 0, "cli", argv[2]) < 0)
			log_warn("audit: %s", db_error(c->db));
		return 0;
	}
	fputs("usage: cmpca partner add NAME --cert FILE --ca LABEL [...] | "
	      "partner list | partner remove NAME\n",
	    stderr);
	return 2;
}

/* ---- cross-certify local ---- */

/* A ca_cert row (kind cross) for our CA ca_id borrowing row's strings and
 * DER: the cross certificate it received. */
static void
received_fill(struct db_ca_cert *cc, long long ca_id, const struct db_cert *row)
{
	cc->ca_id = ca_id;
	snprintf(cc->kind, sizeof(cc->kind), "cross");
	cc->subject = row->subject;
	cc->issuer = row->issuer;
	cc->not_after = row->not_after;
	cc->der = row->der;
	cc->der_len = row->der_len;
}

/* Stores a cross certificate issuer -> subject issued here. */
static int
local_store(struct ctx *c, struct ca_ident *issuer, struct ca_ident *subject,
    X509 *x)
{
	struct db_cert row;
	struct db_ca_cert cc;
	int ok = 0;

	memset(&row, 0, sizeof(row));
	memset(&cc, 0, sizeof(cc));
	if (!ca_cert_to_row(x, &row))
		goto out;
	row.ca_id = issuer->id;
	row.status = DB_CERT_VALID;
	row.reason = -1;
	snprintf(row.kind, sizeof(row.kind), "cross");
	if ((row.profile = strdup("cross")) == NULL ||
	    (row.requester = strdup("cli")) == NULL)
		goto out;
	received_fill(&cc, subject->id, &row);
	if (db_begin(c->db) != 1 || db_cert_insert(c->db, &row) != 1 ||
	    db_ca_cert_insert(c->db, &cc) != 1 ||
	    db_audit_add(c->db, "cross-certify", issuer->id, "cli",
		row.serial) < 0 ||
	    db_commit(c->db) != 1) {
		log_err("database: %s", db_error(c->db));
		db_rollback(c->db);
		goto out;
	}
	ok = 1;
out:
	/* cc borrowed row's strings */
	db_cert_clear(&row);
	return ok;
}

static int
cross_local(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "issuer", required_argument, NULL, 'i' },
		{ "subject", required_argument, NULL, 's' },
		CONSTRAINT_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct ca_store st = { NULL, 0 };
	struct db_partner p;
	struct ca_ident *issuer, *subject;
	const char *il = NULL, *sl = NULL, *why = NULL;
	X509 *x = NULL;
	int o, rc = 1;

	constraints_init(&p);
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'i')
			il = optarg;
		else if (o == 's')
			sl = optarg;
		else if (constraint_opt(o, optarg, &p) != 1) {
			rc = 2;
			goto out;
		}
	}
	if (il == NULL || sl == NULL || optind != argc) {
		rc = 2;
		goto out;
	}
	if (strcmp(il, sl) == 0) {
		log_err("a CA does not cross-certify itself");
		goto out;
	}
	if (!cross_constraints_check(&p, &why)) {
		log_err("%s", why);
		goto out;
	}
	if ((issuer = ca_load(c, &st, il)) == NULL ||
	    (subject = ca_load(c, &st, sl)) == NULL)
		goto out;
	if ((x = cross_cert_issue(issuer, c->hsm, subject->cert, &p, NULL)) ==
		NULL) {
		log_err("cross certificate issuance failed");
		goto out;
	}
	if (!local_store(c, issuer, subject, x))
		goto out;
	publish(c, issuer, subject);
	PEM_write_X509(stdout, x);
	rc = 0;
out:
	if (rc == 2)
		fputs("usage: cmpca cross-certify local --issuer LABEL "
		      "--subject LABEL [--pathlen N] [--permit C]... "
		      "[--exclude C]... [--policy OID]... [--map OID:OID]... "
		      "[--require-explicit N] [--inhibit-mapping N] "
		      "[--eku OID]... [--days N]\n",
		    stderr);
	X509_free(x);
	ca_store_clear(&st);
	db_partner_clear(&p);
	return rc;
}

/* ---- cross-certify request: the CMP client ---- */

struct client {
	struct ca_ident *ca;
	X509 *partner;
	const char *url;
	const char *tls_trusted; /* CA file for an https:// server, or NULL */
	SSL_CTX *tls;		 /* set up on first use */
	char *host;		 /* of the URL, for SNI and name checks */
	unsigned char txid[16];
	unsigned char last_nonce[CROSS_NONCE_LEN]; /* the partner's */
	size_t last_nonce_len;
};

static ASN1_OCTET_STRING *
octets(const unsigned char *p, size_t n)
{
	ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();

	if (o != NULL && !ASN1_OCTET_STRING_set(o, p, (int)n)) {
		ASN1_OCTET_STRING_free(o);
		return NULL;
	}
	return o;
}

static GENERAL_NAME *
dirname(const X509_NAME *n)
{
	GENERAL_NAME *g = GENERAL_NAME_new();

	if (g == NULL)
		return NULL;
	if ((g->d.directoryName = X509_NAME_dup(n)) == NULL) {
		GENERAL_NAME_free(g);
		return NULL;
	}
	g->type = GEN_DIRNAME;
	return g;
}

/* A request header from our CA to the partner; sets *nonce. */
static CMP_HEADER *
req_header(struct client *cl, unsigned char *nonce)
{
	CMP_HEADER *h = CMP_HEADER_new();
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cl->ca->cert);

	if (h == NULL || RAND_bytes(nonce, CROSS_NONCE_LEN) != 1)
		goto fail;
	GENERAL_NAME_free(h->sender);
	GENERAL_NAME_free(h->recipient);
	if (!ASN1_INTEGER_set(h->pvno, 2) ||
	    (h->sender = dirname(X509_get_subject_name(cl->ca->cert))) ==
		NULL ||
	    (h->recipient = dirname(X509_get_subject_name(cl->partner))) ==
		NULL ||
	    (h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL))) ==
		NULL ||
	    (h->transactionID = octets(cl->txid, sizeof(cl->txid))) == NULL ||
	    (h->senderNonce = octets(nonce, CROSS_NONCE_LEN)) == NULL ||
	    (ski != NULL && (h->senderKID = ASN1_OCTET_STRING_dup(ski)) ==
		NULL) ||
	    (cl->last_nonce_len > 0 &&
		(h->recipNonce = octets(cl->last_nonce, cl->last_nonce_len)) ==
		    NULL) ||
	    !cmp_sig_alg_set(h, cl->ca))
		goto fail;
	return h;
fail:
	CMP_HEADER_free(h);
	return NULL;
}

/* A signed request carrying body; our chain in extraCerts. */
static CMP_MSG *
req_new(struct client *cl, CMP_BODY *body, unsigned char *nonce)
{
	CMP_MSG *m = CMP_MSG_new();

	if (m == NULL) {
		CMP_BODY_free(body);
		return NULL;
	}
	CMP_BODY_free(m->body);
	m->body = body;
	CMP_HEADER_free(m->header);
	if ((m->header = req_header(cl, nonce)) == NULL ||
	    !cmp_sig_protect(m, cl->ca) ||
	    (m->extraCerts = ca_chain_copy(cl->ca)) == NULL)
		goto fail;
	return m;
fail:
	CMP_MSG_free(m);
	return NULL;
}

/* The ccr body: our CA's subject and key, POP by signature over the
 * CertRequest (RFC 4211 §4.1, poposkInput absent). */
static CMP_BODY *
ccr_body(struct client *cl, int days)
{
	CMP_BODY *b = CMP_BODY_new();
	CRMF_CERTREQMSG *m = CRMF_CERTREQMSG_new();
	CRMF_CERTTEMPLATE *t;
	CRMF_POPOSIGNINGKEY *sk;
	EVP_MD_CTX *mctx = NULL;
	unsigned char *der = NULL, *sig = NULL;
	size_t siglen = 0;
	int len, nid;

	if (b == NULL || m == NULL)
		goto fail;
	t = m->certReq->certTemplate;
	if (!ASN1_INTEGER_set(m->certReq->certReqId, 0) ||
	    (t->subject = X509_NAME_dup(X509_get_subject_name(cl->ca->cert))) ==
		NULL ||
	    !cmp_spki_set(&t->publicKey, X509_get0_pubkey(cl->ca->cert)))
		goto fail;
	if (days > 0) {
		time_t end = time(NULL) + (time_t)days * 86400;

		if ((t->validity = CRMF_OPTVALIDITY_new()) == NULL ||
		    (t->validity->notAfter = ASN1_TIME_set(NULL, end)) == NULL)
			goto fail;
	}
	if ((len = i2d_CRMF_CERTREQUEST(m->certReq, &der)) <= 0 ||
	    (mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, NULL, cl->ca->md, NULL, cl->ca->key) != 1 ||
	    EVP_DigestSign(mctx, NULL, &siglen, der, (size_t)len) != 1 ||
	    (sig = OPENSSL_malloc(siglen)) == NULL ||
	    EVP_DigestSign(mctx, sig, &siglen, der, (size_t)len) != 1)
		goto fail;
	if ((m->popo = CRMF_POPO_new()) == NULL ||
	    (sk = CRMF_POPOSIGNINGKEY_new()) == NULL)
		goto fail;
	m->popo->type = CRMF_POPO_SIGNATURE;
	m->popo->value.signature = sk;
	if (!OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(cl->ca->md),
		EVP_PKEY_get_base_id(cl->ca->key)) ||
	    !X509_ALGOR_set0(sk->algorithmIdentifier, OBJ_nid2obj(nid),
		EVP_PKEY_get_base_id(cl->ca->key) == EVP_PKEY_RSA ? V_ASN1_NULL
								  : V_ASN1_UNDEF,
		NULL))
		goto fail;
	ASN1_STRING_set0(sk->signature, sig, (int)siglen);
	sig = NULL;
	sk->signature->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	sk->signature->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	b->type = CMP_BODY_CCR;
	if ((b->value.ccr = sk_CRMF_CERTREQMSG_new_null()) == NULL ||
	    !sk_CRMF_CERTREQMSG_push(b->value.ccr, m))
		goto fail;
	m = NULL;
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	return b;
fail:
	OPENSSL_free(sig);
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	CRMF_CERTREQMSG_free(m);
	CMP_BODY_free(b);
	return NULL;
}

/*
 * OSSL_HTTP_transfer's hook: puts TLS on the connected socket BIO for an
 * https:// URL, with SNI and the server name checked against its
 * certificate (RFC 9811 §3.6 leaves TLS to the transport; RFC 9110).
 */
static BIO *
tls_hook(BIO *bio, void *arg, int connect, int detail)
{
	struct client *cl = arg;
	ASN1_OCTET_STRING *ip;
	BIO *sbio;
	SSL *ssl;

	if (!connect)
		return bio; /* the caller frees the BIO chain */
	if (!detail)
		return bio; /* plain http */
	if ((sbio = BIO_new_ssl(cl->tls, 1)) == NULL)
		return NULL;
	BIO_get_ssl(sbio, &ssl);
	if (ssl == NULL)
		goto fail;
	if ((ip = a2i_IPADDRESS(cl->host)) != NULL) {
		/* an address: checked against iPAddress, no SNI (RFC 6066) */
		ASN1_OCTET_STRING_free(ip);
		if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			cl->host))
			goto fail;
	} else if (!SSL_set_tlsext_host_name(ssl, cl->host) ||
	    !SSL_set1_host(ssl, cl->host))
		goto fail;
	return BIO_push(sbio, bio);
fail:
	ERR_clear_error();
	BIO_free(sbio);
	return NULL;
}

/* The TLS client context: TLS 1.2 or newer, the server certificate
 * verified against --tls-trusted or the system store. Returns 1 or 0. */
static int
tls_setup(struct client *cl)
{
	if (cl->tls != NULL)
		return 1;
	if ((cl->tls = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !SSL_CTX_set_min_proto_version(cl->tls, TLS1_2_VERSION))
		return 0;
	SSL_CTX_set_verify(cl->tls, SSL_VERIFY_PEER, NULL);
	if (cl->tls_trusted != NULL
		? SSL_CTX_load_verify_locations(cl->tls, cl->tls_trusted, NULL)
		: SSL_CTX_set_default_verify_paths(cl->tls)) {
		return 1;
	}
	log_err("cannot load the TLS trust anchors %s",
	    cl->tls_trusted != NULL ? cl->tls_trusted : "(system)");
	return 0;
}

/* POSTs m to the partner and returns the decoded answer, or NULL. */
static CMP_MSG *
transfer(struct client *cl, const CMP_MSG *m)
{
	char *host = NULL, *port = NULL, *path = NULL;
	unsigned char *der = NULL, *buf = NULL;
	BIO *req = NULL, *resp = NULL;
	CMP_MSG *out = NULL;
	const char *why = NULL;
	int ssl = 0, len, n;
	size_t total = 0;

	if (!OSSL_HTTP_parse_url(cl->url, &ssl, NULL, &host, &port, NULL,
		&path, NULL, NULL)) {
		log_err("%s: not a URL", cl->url);
		goto out;
	}
	free(cl->host);
	if ((cl->host = strdup(host)) == NULL)
		goto out;
	if (ssl && !tls_setup(cl)) {
		log_openssl_errors(1);
		goto out;
	}
	if ((len = cmp_msg_encode(m, &der)) <= 0 ||
	    (req = BIO_new_mem_buf(der, len)) == NULL)
		goto out;
	resp = OSSL_HTTP_transfer(NULL, host, port, path, ssl, NULL, NULL, NULL,
	    NULL, ssl ? tls_hook : NULL, cl, 0, NULL, "application/pkixcmp", req,
	    "application/pkixcmp", 1, CROSS_MAX_RESPONSE, CROSS_HTTP_TIMEOUT,
	    0);
	if (resp == NULL) {
		log_openssl_errors(1);
		log_err("%s: no CMP answer", cl->url);
		goto out;
	}
	if ((buf = malloc(CROSS_MAX_RESPONSE)) == NULL)
		goto out;
	while (total < CROSS_MAX_RESPONSE &&
	    (n = BIO_read(resp, buf + total,
		 (int)(CROSS_MAX_RESPONSE - total))) > 0)
		total += (size_t)n;
	if ((out = cmp_msg_parse(buf, total, &why)) == NULL)
		log_err("%s: %s", cl->url, why != NULL ? why : "bad answer");
out:
	free(buf);
	BIO_free(resp);
	BIO_free(req);
	OPENSSL_free(der);
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	return out;
}

/*
 * Logs the status and failure bits of a rejection, and its text when
 * with_text: only for an answer whose signature was checked, and even
 * then through log_sanitize (the partner chooses the bytes, and they go
 * to the operator's terminal).
 */
static void
log_pkisi(const char *what, const CMP_PKISI *si, int with_text)
{
	char text[512] = "", one[CA_LOG_SAN_MAX];
	int i;

	for (i = 0; with_text && si != NULL &&
	    i < sk_ASN1_UTF8STRING_num(si->statusString); i++) {
		const ASN1_UTF8STRING *s =
		    sk_ASN1_UTF8STRING_value(si->statusString, i);

		size_t used = strlen(text);
		int n;

		log_sanitize(s->data, (size_t)s->length, one, sizeof(one));
		n = snprintf(text + used, sizeof(text) - used, "%s%s",
		    i > 0 ? "; " : "", one);
		if (n < 0 || (size_t)n >= sizeof(text) - used)
			break; /* the rest does not fit: cut */
	}
	log_err("%s: status %ld%s%s", what,
	    si != NULL ? ASN1_INTEGER_get(si->status) : -1L,
	    text[0] != '\0' ? ": " : "", text);
	for (i = 0; si != NULL && si->failInfo != NULL && i <= CMP_FAIL_DUPLICATE_CERT_REQ;
	    i++)
		if (ASN1_BIT_STRING_get_bit(si->failInfo, i))
			log_err("%s: failInfo bit %d", what, i);
}

/*
 * Checks an answer: signed by the partner's pinned key, same
 * transaction, recipNonce our senderNonce, the expected body. An error
 * is logged with its text only once its signature and sender are
 * checked; an unsigned one with its status and bits alone. Records the
 * partner's nonce. Returns 1 or 0.
 */
static int
answer_check(struct client *cl, const CMP_MSG *a, const unsigned char *nonce,
    int want)
{
	const CMP_HEADER *h = a->header;
	CMP_PROTECTEDPART pp;
	int ok, err = a->body->type == CMP_BODY_ERROR;

	if (h->protectionAlg == NULL || a->protection == NULL)
		ok = 0;
	else {
		pp.header = a->header;
		pp.body = a->body;
		ERR_set_mark();
		ok = ASN1_item_verify(ASN1_ITEM_rptr(CMP_PROTECTEDPART),
		    h->protectionAlg, a->protection, &pp,
		    X509_get0_pubkey(cl->partner)) == 1;
		ERR_pop_to_mark();
	}
	if (ok && (h->sender == NULL || h->sender->type != GEN_DIRNAME ||
	    X509_NAME_cmp(h->sender->d.directoryName,
		X509_get_subject_name(cl->partner)) != 0)) {
		log_err("the answer's sender is not the partner CA");
		return 0;
	}
	if (err) {
		log_pkisi(ok ? "partner answered with an error"
			     : "partner answered with an error not signed by "
			       "its CA key (text not shown)",
		    a->body->value.error->pKIStatusInfo, ok);
		return 0;
	}
	if (!ok) {
		log_err(h->protectionAlg == NULL || a->protection == NULL
			? "the answer is not protected"
			: "the answer is not signed by the partner CA key");
		return 0;
	}
	if (h->transactionID == NULL ||
	    h->transactionID->length != (int)sizeof(cl->txid) ||
	    memcmp(h->transactionID->data, cl->txid, sizeof(cl->txid)) != 0 ||
	    h->recipNonce == NULL || h->recipNonce->length != CROSS_NONCE_LEN ||
	    memcmp(h->recipNonce->data, nonce, CROSS_NONCE_LEN) != 0) {
		log_err("the answer belongs to another transaction");
		return 0;
	}
	if (a->body->type != want) {
		log_err("expected %s, got %s", cmp_body_name(want),
		    cmp_body_name(a->body->type));
		return 0;
	}
	if (h->senderNonce == NULL || h->senderNonce->length < 1 ||
	    (size_t)h->senderNonce->length > sizeof(cl->last_nonce)) {
		log_err("the answer has no usable senderNonce");
		return 0;
	}
	memcpy(cl->last_nonce, h->senderNonce->data,
	    (size_t)h->senderNonce->length);
	cl->last_nonce_len = (size_t)h->senderNonce->length;
	return 1;
}

/* The cross certificate of a ccp, checked: issued by the partner for our
 * name and key. Returns it (up-ref'ed) or NULL. */
static X509 *
ccp_cert(struct client *cl, const CMP_MSG *a)
{
	const CMP_CERTREPMESSAGE *rep = a->body->value.ccp;
	const CMP_CERTRESPONSE *r;
	X509 *x;
	long st;

	if (sk_CMP_CERTRESPONSE_num(rep->response) != 1) {
		log_err("ccp must carry exactly one response");
		return NULL;
	}
	r = sk_CMP_CERTRESPONSE_value(rep->response, 0);
	st = ASN1_INTEGER_get(r->status->status);
	if (st != CMP_STATUS_ACCEPTED && st != CMP_STATUS_GRANTED_WITH_MODS) {
		log_pkisi("cross-certification refused", r->status, 1);
		return NULL;
	}
	if (ASN1_INTEGER_get(r->certReqId) != 0 || r->certifiedKeyPair == NULL ||
	    r->certifiedKeyPair->certOrEncCert->type != 0) {
		log_err("ccp carries no plain certificate for request 0");
		return NULL;
	}
	x = r->certifiedKeyPair->certOrEncCert->value.certificate;
	if (X509_NAME_cmp(X509_get_issuer_name(x),
		X509_get_subject_name(cl->partner)) != 0 ||
	    X509_NAME_cmp(X509_get_subject_name(x),
		X509_get_subject_name(cl->ca->cert)) != 0 ||
	    EVP_PKEY_eq(X509_get0_pubkey(x), cl->ca->key) != 1 ||
	    X509_verify(x, X509_get0_pubkey(cl->partner)) != 1 ||
	    X509_check_ca(x) < 1) {
		ERR_clear_error();
		log_err("the certificate received is not a CA certificate for "
			"our name and key signed by the partner");
		return NULL;
	}
	return X509_up_ref(x) ? x : NULL;
}

/* certConf for request 0 with the certificate's hash (RFC 9810 §5.3.18:
 * the digest of the certificate's signature algorithm). */
static CMP_BODY *
certconf_body(X509 *x)
{
	CMP_BODY *b = CMP_BODY_new();
	CMP_CERTSTATUS *cs = CMP_CERTSTATUS_new();
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mdlen = 0;
	int mdnid = NID_undef, len;
	const EVP_MD *h;

	if (b == NULL || cs == NULL ||
	    !OBJ_find_sigid_algs(X509_get_signature_nid(x), &mdnid, NULL) ||
	    (h = ca_md_fetch(mdnid)) == NULL ||
	    (len = i2d_X509(x, &der)) <= 0 ||
	    !EVP_Digest(der, (size_t)len, md, &mdlen, h, NULL) ||
	    !ASN1_OCTET_STRING_set(cs->certHash, md, (int)mdlen) ||
	    !ASN1_INTEGER_set(cs->certReqId, 0))
		goto fail;
	OPENSSL_free(der);
	b->type = CMP_BODY_CERTCONF;
	if ((b->value.certConf = sk_CMP_CERTSTATUS_new_null()) == NULL ||
	    !sk_CMP_CERTSTATUS_push(b->value.certConf, cs))
		goto fail;
	return b;
fail:
	OPENSSL_free(der);
	CMP_CERTSTATUS_free(cs);
	CMP_BODY_free(b);
	return NULL;
}

/* Stores the cross certificate our CA received. */
static int
received_store(struct ctx *c, struct client *cl, X509 *x)
{
	struct db_cert row;
	struct db_ca_cert cc;
	int rc, ok = 0;

	memset(&row, 0, sizeof(row));
	memset(&cc, 0, sizeof(cc));
	if (!ca_cert_to_row(x, &row))
		goto out;
	received_fill(&cc, cl->ca->id, &row);
	rc = db_ca_cert_insert(c->db, &cc);
	if (rc < 0) {
		log_err("database: %s", db_error(c->db));
		goto out;
	}
	if (db_audit_add(c->db, "cross-certified", cl->ca->id, "cli",
		row.issuer) < 0)
		log_warn("audit: %s", db_error(c->db));
	ok = 1;
out:
	db_cert_clear(&row);
	return ok;
}

static int
cross_request(struct ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "url", required_argument, NULL, 'u' },
		{ "partner-cert", required_argument, NULL, 'p' },
		{ "days", required_argument, NULL, 'd' },
		{ "tls-trusted", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_store st = { NULL, 0 };
	struct client cl;
	unsigned char nonce[CROSS_NONCE_LEN];
	const char *label = NULL, *pfile = NULL;
	CMP_MSG *m = NULL, *a = NULL;
	CMP_BODY *b;
	X509 *x = NULL;
	int o, days = 0, rc = 1;

	memset(&cl, 0, sizeof(cl));
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			label = optarg;
			break;
		case 'u':
			cl.url = optarg;
			break;
		case 'p':
			pfile = optarg;
			break;
		case 't':
			cl.tls_trusted = optarg;
			break;
		case 'd':
			if (!num_arg(optarg, 1, 36500, &days))
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (label == NULL || cl.url == NULL || pfile == NULL || optind != argc)
		goto usage;
	if ((cl.partner = cert_read(pfile)) == NULL ||
	    (cl.ca = ca_load(c, &st, label)) == NULL)
		goto out;
	if (RAND_bytes(cl.txid, sizeof(cl.txid)) != 1 ||
	    (b = ccr_body(&cl, days)) == NULL ||
	    (m = req_new(&cl, b, nonce)) == NULL) {
		log_openssl_errors(1);
		log_err("cannot build the ccr");
		goto out;
	}
	if ((a = transfer(&cl, m)) == NULL ||
	    !answer_check(&cl, a, nonce, CMP_BODY_CCP) ||
	    (x = ccp_cert(&cl, a)) == NULL)
		goto out;
	CMP_MSG_free(m);
	CMP_MSG_free(a);
	a = NULL;
	if ((b = certconf_body(x)) == NULL ||
	    (m = req_new(&cl, b, nonce)) == NULL) {
		log_err("cannot build the certConf");
		goto out;
	}
	if ((a = transfer(&cl, m)) == NULL ||
	    !answer_check(&cl, a, nonce, CMP_BODY_PKICONF))
		goto out;
	if (!received_store(c, &cl, x))
		goto out;
	publish(c, cl.ca, NULL);
	PEM_write_X509(stdout, x);
	rc = 0;
	goto out;
usage:
	rc = 2;
	fputs("usage: cmpca cross-certify request --ca LABEL --url URL "
	      "--partner-cert FILE [--days N] [--tls-trusted FILE]\n",
	    stderr);
out:
	CMP_MSG_free(m);
	CMP_MSG_free(a);
	X509_free(x);
	X509_free(cl.partner);
	SSL_CTX_free(cl.tls);
	free(cl.host);
	ca_store_clear(&st);
	return rc;
}

/* ---- cross-certify list ---- */

static int
cross_list(struct ctx *c, int argc, char **argv)
{
	struct db_ca *cas = NULL;
	struct db_cert *certs = NULL;
	struct db_ca_cert *got = NULL;
	size_t i, j, n = 0, nc = 0, ng = 0;
	const char *only = argc == 4 && strcmp(argv[2], "--ca") == 0 ? argv[3]
								       : NULL;
	int rc = 1;

	if ((argc != 2 && only == NULL) || !cli_need_db(c)) {
		if (argc != 2 && only == NULL) {
			fputs("usage: cmpca cross-certify list [--ca LABEL]\n",
			    stderr);
			return 2;
		}
		return 1;
	}
	if (db_ca_list(c->db, &cas, &n) < 0)
		goto dberr;
	for (i = 0; i < n; i++) {
		if (only != NULL && strcmp(cas[i].label, only) != 0)
			continue;
		if (db_cert_list_kind(c->db, cas[i].id, "cross", &certs,
			&nc) < 0 ||
		    db_ca_cert_list(c->db, cas[i].id, NULL, &got, &ng) < 0)
			goto dberr;
		for (j = 0; j < nc; j++)
			printf("%s\tissued\t%s\t%s\t%s\n", cas[i].label,
			    certs[j].serial,
			    db_cert_status_name(certs[j].status),
			    certs[j].subject);
		for (j = 0; j < ng; j++)
			printf("%s\treceived\t%s\t%s\n", cas[i].label,
			    got[j].kind, got[j].issuer);
		db_cert_array_free(certs, nc);
		db_ca_cert_array_free(got, ng);
		certs = NULL;
		got = NULL;
	}
	rc = 0;
	goto out;
dberr:
	log_err("database: %s", db_error(c->db));
out:
	db_cert_array_free(certs, nc);
	db_ca_cert_array_free(got, ng);
	db_ca_array_free(cas, n);
	return rc;
}

int
cli_cross_certify(struct ctx *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "local") == 0)
		return cross_local(c, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "request") == 0)
		return cross_request(c, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return cross_list(c, argc, argv);
	fputs("usage: cmpca cross-certify local|request|list ...\n", stderr);
	return 2;
}
