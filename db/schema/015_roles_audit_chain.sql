-- Least privilege and a tamper-evident audit log (issue 16).
--
-- Roles. The tables belong to the role that runs `cmpca db migrate` (the
-- owner, used by nothing else). Three roles get exactly what their
-- statements need, from cmpca_grants(), which `cmpca db migrate` calls
-- after every run (so a table a later migration adds is covered):
--   cmpca_daemon    cmpcad's workers and housekeeper
--   cmpca_operator  the CLI's operator commands
--   cmpca_reader    the operators' page and /metrics (read only)
-- None of them may delete or change audit rows, run DDL or own anything.
--
-- The audit chain. Every audit row is hashed (cmpca_audit_row_hash) and
-- linked to the previous one in audit_seal: chain_hash(n) =
-- sha256(chain_hash(n-1) || row_hash(n)), chain_hash(0) = 32 zero bytes.
-- Rows are linked by the housekeeper (and at every CRL), not by a trigger
-- at insert time: a link made at insert time needs the previous row's
-- hash, so it needs a lock held until commit, and that would serialise
-- every issuing transaction's commit (no more group commit). Instead
-- cmpca_audit_fence() reads the last id given out and waits (without a
-- lock) for the transactions writing audit rows at that moment: every row
-- up to that id is then final, so cmpca_audit_seal() links them in id
-- order. An unlinked row below the linked ones was inserted behind
-- the CA's back. `cmpca audit verify` recomputes everything in C.
--
-- Certificate status changes are audit rows too (cert-status, written by
-- a trigger whatever the statement), so a status rewritten in cert without
-- its audit row is found by comparing cert with the latest cert-status row.

-- Who wrote a row, as PostgreSQL saw it. Existing rows keep NULL.
ALTER TABLE audit ADD COLUMN db_role text;
ALTER TABLE audit ALTER COLUMN db_role SET DEFAULT current_user;

-- The content hash of an audit row. `cmpca audit verify` computes the same
-- bytes in C (ca/audit.c): fields joined by newlines, text as
-- "<octets>:<text>", a NULL as "-", the time in microseconds since 1970.
-- STABLE (concat_ws is), so that the planner inlines it: a function call
-- per row costs twice the hashing.
CREATE FUNCTION cmpca_audit_row_hash(p_id bigint, p_at timestamptz,
    p_event text, p_ca bigint, p_actor text, p_detail text, p_role text)
    RETURNS bytea
LANGUAGE sql STABLE AS $$
SELECT sha256(convert_to(concat_ws(E'\n', 'cmpca-audit-1', p_id::text,
    coalesce((extract(epoch FROM p_at) * 1000000)::bigint::text, '-'),
    coalesce(octet_length(p_event) || ':' || p_event, '-'),
    coalesce(p_ca::text, '-'),
    coalesce(octet_length(p_actor) || ':' || p_actor, '-'),
    coalesce(octet_length(p_detail) || ':' || p_detail, '-'),
    coalesce(octet_length(p_role) || ':' || p_role, '-')), 'UTF8'))
$$;

-- The links, in chain order (seq 1, 2, ...).
CREATE TABLE audit_seal (
	seq bigint PRIMARY KEY CHECK (seq > 0),
	audit_id bigint NOT NULL,	-- no index: cmpca_audit_seal links
					-- each row once, in id order
	row_hash bytea NOT NULL CHECK (length(row_hash) = 32),
	chain_hash bytea NOT NULL CHECK (length(chain_hash) = 32),
	sealed_at timestamptz NOT NULL DEFAULT now()
);

-- Audit keys: their own keys in the HSM (`cmpca audit key`). The public
-- key here is a copy: `cmpca audit verify` reads the key from the token.
CREATE TABLE audit_key (
	id bigserial PRIMARY KEY,
	key_uri text NOT NULL UNIQUE,
	spki bytea NOT NULL,		-- DER SubjectPublicKeyInfo
	created timestamptz NOT NULL DEFAULT now()
);

-- Signed chain heads: the signature covers seq, chain_hash and at
-- (ca/audit.c, audit_ckpt_tbs).
CREATE TABLE audit_checkpoint (
	id bigserial PRIMARY KEY,
	seq bigint NOT NULL,
	chain_hash bytea NOT NULL CHECK (length(chain_hash) = 32),
	key_id bigint NOT NULL REFERENCES audit_key (id),
	at timestamptz NOT NULL,
	sig bytea NOT NULL
);
CREATE INDEX audit_checkpoint_at_idx ON audit_checkpoint (at);

CREATE TRIGGER audit_seal_no_change BEFORE UPDATE OR DELETE ON audit_seal
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_seal_no_truncate BEFORE TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_key_no_change BEFORE UPDATE OR DELETE ON audit_key
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_key_no_truncate BEFORE TRUNCATE ON audit_key
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoint_no_change BEFORE UPDATE OR DELETE
    ON audit_checkpoint FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE
    ON audit_checkpoint FOR EACH STATEMENT
    EXECUTE FUNCTION audit_append_only();

-- Returns an audit id at or below which no row can appear any more: the
-- last id the sequence gave out, once every transaction that was writing
-- audit rows at that moment has ended. Ids are drawn only by a statement
-- that holds ROW EXCLUSIVE on audit (taken before the id is drawn, kept to
-- the end of its transaction); so any id at or below the one read was
-- drawn by a transaction that held that lock when the locks are read next,
-- or had ended. Waiting polls pg_locks: unlike LOCK TABLE ... SHARE, it
-- never keeps a new audit row, hence an issuance, from going ahead.
-- SECURITY DEFINER: the callers may not read the sequence.
CREATE FUNCTION cmpca_audit_fence() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
	m bigint;
	w text[];
	t0 timestamptz := clock_timestamp();
BEGIN
	m := coalesce(pg_sequence_last_value(
	    pg_get_serial_sequence('audit', 'id')::regclass), 0);
	SELECT array_agg(virtualtransaction) INTO w FROM pg_locks
	    WHERE locktype = 'relation' AND relation = 'audit'::regclass
	    AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid();
	WHILE w IS NOT NULL LOOP
		IF clock_timestamp() - t0 > interval '10 s' THEN
			RAISE EXCEPTION 'audit fence: transactions writing audit '
			    'rows still open after 10 s: %', w
			    USING ERRCODE = 'lock_not_available';
		END IF;
		PERFORM pg_sleep(0.002);
		SELECT array_agg(virtualtransaction) INTO w FROM pg_locks
		    WHERE locktype = 'relation'
		    AND relation = 'audit'::regclass
		    AND virtualtransaction = ANY (w);
	END LOOP;
	RETURN m;
END
$$;

-- Links the audit rows after the last linked one, up to p_upto (from
-- cmpca_audit_fence), in id order. Returns the new head. One sealer at a
-- time (an advisory lock), so several hosts may call it. The row hashes
-- are computed in one query and the links written in one INSERT: only
-- the chaining itself, which is sequential, is a loop.
CREATE FUNCTION cmpca_audit_seal(p_upto bigint, OUT r_seq bigint,
    OUT r_hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
	last_id bigint;
	ids bigint[];
	rhs bytea[];
	chs bytea[] := '{}';
	i int;
BEGIN
	PERFORM pg_advisory_xact_lock(1635083380, 1);	-- 'audt', 1
	SELECT seq, chain_hash, audit_id INTO r_seq, r_hash, last_id
	    FROM audit_seal ORDER BY seq DESC LIMIT 1;
	IF NOT FOUND THEN
		r_seq := 0;
		r_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
		last_id := 0;
	END IF;
	SELECT array_agg(id ORDER BY id),
	    array_agg(cmpca_audit_row_hash(id, at, event, ca_id, actor, detail,
	    db_role) ORDER BY id) INTO ids, rhs
	    FROM audit WHERE id > last_id AND id <= p_upto;
	IF ids IS NULL THEN
		RETURN;
	END IF;
	FOR i IN 1 .. array_length(ids, 1) LOOP
		r_hash := sha256(r_hash || rhs[i]);
		chs[i] := r_hash;
	END LOOP;
	INSERT INTO audit_seal (seq, audit_id, row_hash, chain_hash)
	    SELECT r_seq + u.o, u.id, u.rh, u.ch
	    FROM unnest(ids, rhs, chs) WITH ORDINALITY AS u(id, rh, ch, o);
	r_seq := r_seq + array_length(ids, 1);
END
$$;

-- Every certificate status as it is written, by whatever statement:
-- "<cert id> <serial> <status> <reason or -> <revoked_at epoch or ->".
CREATE FUNCTION cmpca_cert_status_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO audit (event, ca_id, actor, detail)
	    VALUES ('cert-status', NEW.ca_id, current_user,
	    format('%s %s %s %s %s', NEW.id, NEW.serial, NEW.status,
	    coalesce(NEW.reason::text, '-'),
	    coalesce(floor(extract(epoch FROM NEW.revoked_at))::bigint::text,
	    '-')));
	RETURN NULL;
END
$$;

-- The state of every certificate issued before this migration, so that
-- each one has a cert-status row to compare with.
INSERT INTO audit (event, ca_id, actor, detail, db_role)
    SELECT 'cert-status', ca_id, 'migration 015',
    format('%s %s %s %s %s', id, serial, status, coalesce(reason::text, '-'),
    coalesce(floor(extract(epoch FROM revoked_at))::bigint::text, '-')),
    current_user
    FROM cert ORDER BY id;

CREATE TRIGGER cert_status_insert AFTER INSERT ON cert
    FOR EACH ROW EXECUTE FUNCTION cmpca_cert_status_audit();
CREATE TRIGGER cert_status_update AFTER UPDATE OF status, reason, revoked_at
    ON cert FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
	OR OLD.reason IS DISTINCT FROM NEW.reason
	OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION cmpca_cert_status_audit();

-- The grants. Idempotent: everything is revoked from the three roles and
-- granted again, in the migration's transaction, so a role ends with
-- exactly this whatever it had. Missing roles are created NOLOGIN when the
-- migrating role may (a superuser in tests); otherwise the DBA creates
-- them first (docs/operations.md, "Roles and grants").
CREATE FUNCTION cmpca_grants() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r text;
	f regprocedure;
	s text := quote_ident(current_schema());
BEGIN
	FOREACH r IN ARRAY ARRAY['cmpca_daemon', 'cmpca_operator',
	    'cmpca_reader'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
			IF NOT EXISTS (SELECT 1 FROM pg_roles
			    WHERE rolname = current_user
			    AND (rolsuper OR rolcreaterole)) THEN
				RAISE EXCEPTION 'role % does not exist', r
				    USING ERRCODE = 'undefined_object',
				    HINT = 'create it as docs/operations.md '
				    '(Roles and grants) says, then migrate again';
			END IF;
			EXECUTE format('CREATE ROLE %I NOLOGIN', r);
		END IF;
		IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r
		    AND (rolsuper OR rolcreaterole OR rolcreatedb
			OR rolbypassrls)) THEN
			RAISE EXCEPTION 'role % has superuser, createrole, '
			    'createdb or bypassrls', r
			    USING ERRCODE = 'insufficient_privilege';
		END IF;
		EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %s FROM %I',
		    s, r);
		EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %s '
		    'FROM %I', s, r);
		EXECUTE format('REVOKE ALL ON SCHEMA %s FROM %I', s, r);
		EXECUTE format('GRANT USAGE ON SCHEMA %s TO %I', s, r);
		EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I',
		    current_database(), r);
	END LOOP;
	-- No one but the owner creates objects here.
	EXECUTE format('REVOKE CREATE ON SCHEMA %s FROM PUBLIC', s);

	-- The reader: everything but the enrollment secrets themselves
	-- (every other column of enroll_secret, whatever a migration adds).
	EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %s '
	    'TO cmpca_reader', s);
	REVOKE SELECT ON enroll_secret FROM cmpca_reader;
	EXECUTE format('GRANT SELECT (%s) ON enroll_secret TO cmpca_reader',
	    (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
	    FROM pg_attribute WHERE attrelid = 'enroll_secret'::regclass
	    AND attnum > 0 AND NOT attisdropped
	    AND attname NOT IN ('secret', 'secret_enc')));

	-- The daemon: reads everything; inserts what a CMP transaction, a
	-- CRL or a checkpoint adds; updates only status columns.
	EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %s '
	    'TO cmpca_daemon, cmpca_operator', s);
	EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %s '
	    'TO cmpca_daemon, cmpca_operator', s);
	GRANT INSERT ON seen_nonce, cmp_txn, cert, audit, crl, pending_req,
	    audit_checkpoint TO cmpca_daemon, cmpca_operator;
	GRANT DELETE ON seen_nonce TO cmpca_daemon, cmpca_operator;
	GRANT UPDATE (state, last_nonce, updated, expires) ON cmp_txn
	    TO cmpca_daemon, cmpca_operator;
	GRANT UPDATE (status, revoked_at, reason, invalidity_date) ON cert
	    TO cmpca_daemon, cmpca_operator;
	GRANT UPDATE (uses_left) ON enroll_secret
	    TO cmpca_daemon, cmpca_operator;

	-- The operator, in addition: the configuration that lives in the
	-- database, and a CA rollover's moves (cert.ca_id, cert.kind).
	GRANT INSERT, UPDATE, DELETE ON ca, enroll_secret, ra, partner, ca_cert,
	    ocsp_signer, pending_req TO cmpca_operator;
	GRANT INSERT ON audit_key TO cmpca_operator;
	GRANT UPDATE (ca_id, kind) ON cert TO cmpca_operator;
	GRANT UPDATE (ca_id) ON crl TO cmpca_operator;

	-- Functions: the issuing ones (whatever their current signature)
	-- and the audit chain's.
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
	    WHERE p.pronamespace = current_schema()::regnamespace
	    AND p.proname IN ('cmpca_issue1', 'cmpca_finish',
		'cmpca_cert_store', 'cmpca_audit_fence', 'cmpca_audit_seal',
		'cmpca_audit_row_hash') LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
		EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO cmpca_daemon, '
		    'cmpca_operator', f);
	END LOOP;
END
$$;
