-- 001_init.sql - the initial cmpca schema.
--
-- Applied by db_migrate() (cmpca db migrate) inside one transaction, which
-- also records it in schema_version; do not put BEGIN/COMMIT in migration
-- files. Timestamps are timestamptz; the C side reads them as epoch seconds.

-- CA identities: one row per CA this instance operates.
CREATE TABLE ca (
	id bigserial PRIMARY KEY,
	label text NOT NULL UNIQUE,
	key_uri text NOT NULL,		-- PKCS#11 URI of the CA key
	cert bytea NOT NULL,		-- DER
	status text NOT NULL DEFAULT 'active'
	    CHECK (status IN ('active', 'retired')),
	created timestamptz DEFAULT now()
);

-- Issued certificates. Serial uniqueness per CA is a constraint, and the
-- serial has one canonical form (lowercase hex, no leading zeros) so that
-- the constraint means what it says.
CREATE TABLE cert (
	id bigserial PRIMARY KEY,
	ca_id bigint NOT NULL REFERENCES ca,
	serial text NOT NULL CHECK (serial ~ '^(0|[1-9a-f][0-9a-f]*)$'),
	subject text NOT NULL,		-- RFC 2253
	issuer text NOT NULL,		-- RFC 2253
	spki_sha256 bytea NOT NULL CHECK (length(spki_sha256) = 32),
	not_before timestamptz,
	not_after timestamptz,
	status text NOT NULL
	    CHECK (status IN ('unconfirmed', 'valid', 'revoked', 'rejected')),
	der bytea NOT NULL,
	profile text,
	requester text,			-- e.g. 'secret:<ref>'
	txid bytea,			-- CMP transactionID
	cert_req_id int,
	revoked_at timestamptz,		-- also set when rejected
	reason int,			-- CRLReason
	created timestamptz DEFAULT now(),
	UNIQUE (ca_id, serial)
);
CREATE INDEX cert_txid_idx ON cert (txid);
CREATE INDEX cert_subject_idx ON cert (lower(subject));
CREATE INDEX cert_spki_idx ON cert (spki_sha256);
CREATE INDEX cert_status_idx ON cert (status);

-- CMP transactions (RFC 9810 transactionID), for certConf and polling.
CREATE TABLE cmp_txn (
	id bytea PRIMARY KEY,
	ca_id bigint REFERENCES ca,
	sender text,
	kind text,			-- request body type: ir, cr, kur, ...
	state text NOT NULL CHECK (state IN ('wait_conf', 'done', 'aborted')),
	last_nonce bytea,		-- our last senderNonce
	pvno int,
	expires timestamptz,
	created timestamptz DEFAULT now(),
	updated timestamptz
);
CREATE INDEX cmp_txn_state_idx ON cmp_txn (state, expires);

-- Replay protection: a recipient-side record of every senderNonce seen.
CREATE TABLE seen_nonce (
	nonce bytea PRIMARY KEY,
	seen_at timestamptz DEFAULT now()
);

-- Enrollment secrets for MAC-based protection (PBM, PBMAC1). The MAC
-- schemes need the secret itself, so it cannot be hashed.
-- For now the secret is stored as given; encrypting it under a key in the
-- HSM is planned and will come as a later migration.
CREATE TABLE enroll_secret (
	ref text PRIMARY KEY,		-- the senderKID
	secret bytea NOT NULL,
	allowed_subject text,		-- NULL: any subject
	profile text NOT NULL DEFAULT 'default',
	ca_id bigint NULL REFERENCES ca, -- NULL: any CA
	uses_left int NOT NULL DEFAULT 1	-- -1: unlimited
	    CHECK (uses_left >= -1),
	expires timestamptz NULL,	-- NULL: never
	created timestamptz DEFAULT now()
);

-- Audit log, append-only: rows can be inserted and read, never changed.
-- (The table owner can still drop the triggers; production should run
-- cmpcad as a role that does not own the schema.)
CREATE TABLE audit (
	id bigserial PRIMARY KEY,
	at timestamptz DEFAULT now(),
	event text NOT NULL,
	ca_id bigint,
	actor text,
	detail text
);

CREATE FUNCTION audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit log is append-only: % refused', TG_OP
	    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
